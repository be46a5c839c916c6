using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ofproto.Tests;

/// <summary>Open vSwitch's Nicira actions that keep data of their own (a note's bytes) through <see cref="OfActionCompiler"/>.</summary>
public class OfActionCompilerNiciraTests
{
    private static readonly PortTable NoPorts = new([], null);

    private static FlowActions Compile(params OfAction[] actions)
    {
        Assert.Equal(OfError.None, OfActionCompiler.TryCompile(actions, NoPorts, ActionContext.FlowMod, 8, out var result));
        return result;
    }

    private static OfAction[] Back(FlowActions list)
    {
        var back = new OfAction[list.Count];
        Assert.Equal(list.Count, OfActionCompiler.ToOfActions(list, back));
        return back;
    }

    [Fact]
    public void NotesComeBackWithTheirBytes_InTheirPlaces()
    {
        OfAction[] actions = [OfAction.Note([0x11, 0xe9, 0x9a, 0xad, 0x67, 0xf3]), OfAction.Output(OfPort.Controller), OfAction.Note([1, 2, 0, 0, 0, 0])];
        var list = Compile(actions);
        Assert.Equal([ActionKind.Note, ActionKind.Output, ActionKind.Note], list.Items.Select(a => a.Kind));
        Assert.Equal(2, list.Data.Length);
        Assert.Equal(actions, Back(list));
        // A note changes no packet: the output before the second one shares the buffer.
        Assert.False(list.ModifiedAfter[1]);
        Assert.False(list.NeedsWalk);
    }

    [Fact]
    public void ListsThatDifferOnlyInANotesBytesAreNotShared()
    {
        var a = Compile(OfAction.Note([1, 2, 3, 4, 5, 6]), OfAction.Output(OfPort.Flood));
        var b = Compile(OfAction.Note([1, 2, 3, 4, 5, 7]), OfAction.Output(OfPort.Flood));
        var a2 = Compile(OfAction.Note([1, 2, 3, 4, 5, 6]), OfAction.Output(OfPort.Flood));
        Assert.NotSame(a, b);
        Assert.Same(a, a2); // the compiler's recent lists: equal bytes, one list
        Assert.Equal([1, 2, 3, 4, 5, 7], Back(b)[0].Data);

        var interner = new ActionInterner();
        Assert.Same(a, interner.Intern(a));
        Assert.Same(b, interner.Intern(b));
        Assert.Same(a, interner.Intern(new FlowActions([.. a.Items], [[1, 2, 3, 4, 5, 6]])));
        // A bare span of items keeps no data: it never finds a list with a note.
        Assert.NotSame(a, interner.Intern(a.Items.AsSpan()));
    }

    [Fact]
    public void AControllerAction_ComesBackWithItsReasonMaxLenAndId_AReasonPastPacketOutIsRefused()
    {
        // 1.4's reasons too (action_set 3, group 4, packet_out 5), as Open vSwitch takes them in any version.
        OfAction[] actions = [OfAction.Controller(1234, 2, 5678), OfAction.Controller(0xffff, 0, 0), OfAction.Output(OfPort.Controller, 64),
                              OfAction.Controller(64, 3, 0), OfAction.Controller(64, 4, 1), OfAction.Controller(0xffff, 5, 0)];
        var list = Compile(actions);
        Assert.All(list.Items, a => Assert.Equal(PortNumber.Controller, a.Port));
        Assert.Equal(actions, Back(list));
        Assert.Equal(OfError.BadArgument, OfActionCompiler.TryCompile([OfAction.Controller(64, 6, 0)], NoPorts, ActionContext.FlowMod, 8, out _));
    }

    /// <summary>
    /// A controller action with userdata (NXAST_CONTROLLER2) comes back with its bytes and form; its output carries an
    /// interned entry's id, from which the upcall gets the flow's cookie and the bytes back (equal userdata, one entry).
    /// </summary>
    [Fact]
    public void AControllerActionsUserdata_IsInterned_AndComesBackWithTheCookie()
    {
        OfAction[] actions = [OfAction.Controller(0xffff, 1, 0, [1, 2, 3, 4, 5], controller2: false), OfAction.Controller(64, 0, 7, null, controller2: true)];
        var origin = new PacketInOrigin(0x5eed, 3, false);
        Assert.Equal(OfError.None, OfActionCompiler.TryCompile(actions, NoPorts, ActionContext.FlowMod, 8, origin, out var list));
        Assert.Equal(actions, Back(list));
        Assert.True(actions[0].IsController2); // userdata is always CONTROLLER2's
        foreach (var a in list.Items)
        {
            Assert.True(PacketInOrigin.HasRecord((uint)a.Value2));
            Assert.True(PacketInOrigin.IsControllerAction((uint)a.Value2, out _, out _));
            Assert.Equal(origin, PacketInOrigin.FromUpcall(a.Value, (uint)a.Value2));
        }
        Assert.Equal([1, 2, 3, 4, 5], ControllerUserData.Get(list.Items[0].Value)!.UserData);
        Assert.Empty(ControllerUserData.Get(list.Items[1].Value)!.UserData);
        Assert.Equal(ControllerUserData.Intern(0x5eed, [1, 2, 3, 4, 5], true), (int)list.Items[0].Value);
        Assert.NotEqual(ControllerUserData.Intern(0x5eee, [1, 2, 3, 4, 5], true), (int)list.Items[0].Value);
        // Without userdata or the CONTROLLER2 form, the cookie rides as before.
        Assert.Equal(OfError.None, OfActionCompiler.TryCompile([OfAction.Controller(64, 0, 7)], NoPorts, ActionContext.FlowMod, 8, origin, out var plain));
        Assert.False(PacketInOrigin.HasRecord((uint)plain.Items[0].Value2));
        Assert.Equal(0x5eedUL, plain.Items[0].Value);
    }

    /// <summary>An exit in a packet-out's or a group bucket's list ends the list there; a flow's keeps it for the walk.</summary>
    [Fact]
    public void AnExit_EndsAPacketOutsOrABucketsList()
    {
        OfAction[] actions = [OfAction.Output(OfPort.Flood), OfAction.Exit(), OfAction.Output(OfPort.Controller)];
        foreach (var context in new[] { ActionContext.PacketOut, ActionContext.GroupBucket })
        {
            Assert.Equal(OfError.None, OfActionCompiler.TryCompile(actions, NoPorts, context, 8, out var list));
            Assert.Equal([FlowAction.Output(PortNumber.Flood)], list.Items);
            Assert.Equal(OfError.None, OfActionCompiler.TryCompile([OfAction.Exit(), OfAction.Output(OfPort.Flood)], NoPorts, context, 8, out list));
            Assert.Same(FlowActions.Drop, list);
        }
        var flow = Compile(actions);
        Assert.Equal(3, flow.Count);
        Assert.True(flow.NeedsWalk);
    }

    [Fact]
    public void NoteEqualityIsByBytes()
    {
        Assert.Equal(OfAction.Note([1, 2]), OfAction.Note([1, 2]));
        Assert.Equal(OfAction.Note([1, 2]).GetHashCode(), OfAction.Note([1, 2]).GetHashCode());
        Assert.NotEqual(OfAction.Note([1, 2]), OfAction.Note([1, 3]));
        Assert.NotEqual(OfAction.Note([]), OfAction.Exit());
    }
}
