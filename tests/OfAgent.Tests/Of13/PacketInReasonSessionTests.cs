using System.Buffers.Binary;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.OfWire;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of14;
using Controller = Softswitch.OfAgent.Tests.Of13.Of14SessionTests.Controller;

namespace Softswitch.OfAgent.Tests.Of13;

/// <summary>
/// OpenFlow 1.4's packet-in reasons over real sockets, as Open vSwitch sends them: an output to the controller in an
/// action set is OFPR_ACTION_SET (3), in a group's bucket OFPR_GROUP (4), in a packet-out OFPR_PACKET_OUT (5), each its
/// own bit in a 1.4 connection's masks; a 1.3 connection is sent OFPR_ACTION (1) for all three, and its SET_ASYNC, whose
/// masks are 1.3's three bits, turns them off (Open vSwitch's decode_async_mask, OFPR10_BITS).
/// </summary>
public sealed class PacketInReasonSessionTests
{
    private const uint V13 = 1u << 4, V14 = 1u << 5;
    private const byte ActionSet = 3, Group = 4, PacketOut = 5, Action = 1;

    private static readonly byte[] s_frame = FrameBuilder.Udp(MacAddress.Parse("00:00:00:00:00:01"), MacAddress.Parse("00:00:00:00:00:02"),
                                                             0x0a000001, 0x0a000002, 1, 2, 10);

    private static byte[] Empty(Ofp13Type type) => Ofp13Messages.Empty(Ofp13.Version, type, 0);

    private static byte[] FlowMod(uint inPort, ulong cookie, Ofp13Instruction instruction)
    {
        var fm = new Ofp13FlowMod { Command = 0, Priority = 9, BufferId = Ofp13.NoBuffer, OutPort = Ofp13.PortAny, OutGroup = 0xffffffff, Cookie = cookie };
        fm.Match.Add(Ofp13Oxm.Exact(0, inPort));
        fm.Instructions.Add(instruction);
        return fm.Encode();
    }

    private static byte[] PacketOutToController()
    {
        var po = new Ofp13PacketOut { Version = Ofp13.Version14, BufferId = Ofp13.NoBuffer, InPort = Ofp13.PortController, Data = s_frame };
        po.Actions.Add(Ofp13Action.Output(Ofp13.PortController, 0xffff));
        return po.Encode();
    }

    /// <summary>The next PACKET_IN <paramref name="c"/> receives: its reason and cookie (and its frame, whole).</summary>
    private static async Task<(byte Reason, ulong Cookie)> PacketIn(Controller c)
    {
        byte[]? m;
        do m = await c.NextAsync(); while (m is not null && m[1] != (byte)Ofp13Type.PacketIn);
        Assert.NotNull(m);
        Assert.Equal(c.Version, m![0]);
        Assert.Equal(s_frame, m.AsSpan(m.Length - s_frame.Length).ToArray());
        return (m[14], BinaryPrimitives.ReadUInt64BigEndian(m.AsSpan(16)));
    }

    /// <summary>The PACKET_INs <paramref name="c"/> received before a barrier's reply: their reasons.</summary>
    private static async Task<List<byte>> PacketInsBeforeBarrier(Controller c)
    {
        var before = new List<byte[]>();
        await c.ReplyAsync(c.Send(Empty(Ofp13Type.BarrierRequest)), before);
        return [.. before.Where(m => m[1] == (byte)Ofp13Type.PacketIn).Select(m => m[14])];
    }

    /// <summary>The 1.4 connection's packet-in mask becomes the group's bit alone, the 1.3 connection's NO_MATCH and ACTION (which leaves the three 1.4 reasons out); each is applied once a barrier's reply is in.</summary>
    private static async Task GroupOnlyIn14_NoneOfTheThreeIn13(Controller of14, Controller of13)
    {
        var set14 = new Ofp14AsyncConfig { Version = Ofp13.Version14 };
        set14.Set(Ofp14AsyncProp.PacketInMaster, 1u << Group);
        of14.Send(set14.Encode());
        of13.Send(new Ofp13SetAsync { Version = Ofp13.Version, PacketInMaster = 3, PortStatusMaster = 7, FlowRemovedMaster = 0xf }.Encode());
        Assert.Empty(await PacketInsBeforeBarrier(of14));
        Assert.Empty(await PacketInsBeforeBarrier(of13));
    }

    [Fact]
    public async Task ActionSetGroupAndPacketOut_AreTheirOwnReasonsIn14_ActionIn13_AndEachVersionsMasksSelectThem()
    {
        await using var rig = new AgentRig(options: new AgentOptions { Versions = AgentOptions.AllVersions });
        using var of14 = await Controller.ConnectAsync(rig.ListenPort, V14);
        using var of13 = await Controller.ConnectAsync(rig.ListenPort, V13);
        using var witness = await Controller.ConnectAsync(rig.ListenPort, V14);

        // Group 5 sends to the controller; in_port 1's action set does, in_port 2 goes to the group.
        var group = new Ofp13GroupMod { Version = Ofp13.Version14, Command = 0, GroupType = 0, GroupId = 5 };
        group.Buckets.Add(new Ofp13Bucket(0, 0xffffffff, 0xffffffff, [Ofp13Action.Output(Ofp13.PortController, 0xffff)]));
        var errors = new List<byte[]>();
        of14.Send(group.Encode());
        of14.Send(FlowMod(1, 0x33, new Ofp13Instruction(Ofp13InstructionType.WriteActions, Actions: [Ofp13Action.Output(Ofp13.PortController, 0xffff)])));
        of14.Send(FlowMod(2, 0x44, new Ofp13Instruction(Ofp13InstructionType.ApplyActions, Actions: [new Ofp13Action(Ofp13ActionType.Group, 5)])));
        await of14.ReplyAsync(of14.Send(Empty(Ofp13Type.BarrierRequest)), errors);
        Assert.DoesNotContain(errors, m => m[1] == (byte)Ofp13Type.Error);

        // The defaults: every connection takes all three, each in its version's words; the action set's carries its flow's cookie.
        rig.Ports[0].Inject(s_frame);
        rig.Poll();
        Assert.Equal((ActionSet, 0x33ul), await PacketIn(of14));
        Assert.Equal((Action, 0x33ul), await PacketIn(of13));
        Assert.Equal(ActionSet, (await PacketIn(witness)).Reason);
        rig.Ports[1].Inject(s_frame);
        rig.Poll();
        Assert.Equal(Group, (await PacketIn(of14)).Reason);
        Assert.Equal(Action, (await PacketIn(of13)).Reason);
        Assert.Equal(Group, (await PacketIn(witness)).Reason);
        of14.Send(PacketOutToController());
        Assert.Equal((PacketOut, ulong.MaxValue), await PacketIn(of14));
        Assert.Equal((Action, ulong.MaxValue), await PacketIn(of13));
        Assert.Equal(PacketOut, (await PacketIn(witness)).Reason);

        // 1.4: the group's bit alone. 1.3: NO_MATCH and ACTION, which leaves the three out, as Open vSwitch.
        await GroupOnlyIn14_NoneOfTheThreeIn13(of14, of13);
        rig.Ports[0].Inject(s_frame);
        rig.Poll();
        Assert.Equal(ActionSet, (await PacketIn(witness)).Reason);
        of14.Send(PacketOutToController());
        Assert.Equal(PacketOut, (await PacketIn(witness)).Reason);
        rig.Ports[1].Inject(s_frame);
        rig.Poll();
        Assert.Equal(Group, (await PacketIn(witness)).Reason);
        // of14's own copy may still be on its way when the witness has its copy (each connection is sent from its own
        // queue), so wait for it rather than fence it with a barrier: the action set's and the packet-out's were sent
        // first, so one of them let through would be the first packet-in here.
        Assert.Equal(Group, (await PacketIn(of14)).Reason);
        Assert.Empty(await PacketInsBeforeBarrier(of14));
        Assert.Empty(await PacketInsBeforeBarrier(of13));
    }

    /// <summary>
    /// Open vSwitch's controller action naming 1.4's reasons (controller(reason=action_set|group|packet_out),
    /// NXAST_CONTROLLER in a flow's apply-actions): a 1.4 connection is sent that reason, a 1.3 connection OFPR_ACTION,
    /// whatever the action's place; each version's masks select them as they select the implicit ones.
    /// </summary>
    [Fact]
    public async Task AControllerActionsExplicitReason_Is14sOwn_Action13s_AndMasked()
    {
        await using var rig = new AgentRig(ports: 5, options: new AgentOptions { Versions = AgentOptions.AllVersions });
        using var of14 = await Controller.ConnectAsync(rig.ListenPort, V14);
        using var of13 = await Controller.ConnectAsync(rig.ListenPort, V13);
        using var witness = await Controller.ConnectAsync(rig.ListenPort, V14);

        var errors = new List<byte[]>();
        foreach (byte reason in new[] { ActionSet, Group, PacketOut })
        {
            var controller = Ofp13Action.Nicira(new NxAction(NxActionSubtype.Controller, MaxLen: 0xffff, Table: reason));
            of14.Send(FlowMod(reason, 0x50u + reason, new Ofp13Instruction(Ofp13InstructionType.ApplyActions, Actions: [controller])));
        }
        await of14.ReplyAsync(of14.Send(Empty(Ofp13Type.BarrierRequest)), errors);
        Assert.DoesNotContain(errors, m => m[1] == (byte)Ofp13Type.Error);

        foreach (byte reason in new[] { ActionSet, Group, PacketOut })
        {
            rig.Ports[reason - 1].Inject(s_frame);
            rig.Poll();
            Assert.Equal((reason, 0x50ul + reason), await PacketIn(of14));
            Assert.Equal((Action, 0x50ul + reason), await PacketIn(of13));
            Assert.Equal(reason, (await PacketIn(witness)).Reason);
        }

        // 1.4: the group's bit alone. 1.3: NO_MATCH and ACTION, which leaves the three out, as Open vSwitch.
        await GroupOnlyIn14_NoneOfTheThreeIn13(of14, of13);
        foreach (byte reason in new[] { ActionSet, Group, PacketOut })
        {
            rig.Ports[reason - 1].Inject(s_frame);
            rig.Poll();
            Assert.Equal(reason, (await PacketIn(witness)).Reason); // sent: the others have had theirs
        }
        // The first 1.4 packet-in is the group's (the action set's, injected before it, was not sent), and none after it.
        Assert.Equal(Group, (await PacketIn(of14)).Reason);
        Assert.Empty(await PacketInsBeforeBarrier(of14));
        Assert.Empty(await PacketInsBeforeBarrier(of13));
    }
}
