using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.OfAgent.Of13.Translate;
using Softswitch.OfWire;
using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// OpenFlow 1.5's copy-field (OFPAT_COPY_FIELD): <c>ovs-ofctl -O OpenFlow15</c> writes every <c>move:</c> as one, and
/// the switch takes it as the move it means (a register and a packet field moved, the frame forwarded by the result),
/// dumps it back as a copy-field that ovs-ofctl prints as the same move, and re-adds from the dump; under 1.3 the same
/// text is Nicira's move, and OFPAT_COPY_FIELD itself is BAD_TYPE there.
/// </summary>
public sealed class OvsOfctlCopyFieldTests
{
    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01"), H2 = MacAddress.Parse("00:00:00:00:00:02");

    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow15")]
    [InlineData("OpenFlow13")]
    public async Task Move_AddDumpReAdd_AndForwardsByWhatItMoved(string version)
    {
        await using var rig = OvsOfctl.Rig();
        // reg1 = 3, reg0 = reg1, out by reg0; and the Ethernet source copied into the destination before it goes.
        OvsOfctl.Ok(rig, version, "add-flow",
            "in_port=1,actions=load:3->NXM_NX_REG1[],move:NXM_NX_REG1[]->NXM_NX_REG0[],move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],output:NXM_NX_REG0[0..15]");
        var lines = OvsOfctl.Flows(OvsOfctl.Ok(rig, version, "dump-flows", "--no-stats"));
        string line = Assert.Single(lines);
        Assert.Contains("move:NXM_NX_REG1[]->NXM_NX_REG0[],move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],output:NXM_NX_REG0[0..15]", line);

        Assert.Equal(lines, OvsOfctl.Flows(OvsOfctl.ReAdd(rig, version, lines)));

        rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1000, 2000));
        rig.Poll();
        Assert.Empty(rig.Ports[1].TakeSent());
        var sent = Assert.Single(rig.Ports[2].TakeSent());
        Assert.Equal(H1, MacAddress.Read(sent.AsSpan(0, 6)));
        Assert.Empty(rig.Ports[3].TakeSent());
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    /// <summary>OFPAT_COPY_FIELD is 1.5's: in a 1.3 or 1.4 flow-mod it is BAD_ACTION/BAD_TYPE; in 1.5 it is the move.</summary>
    [Theory]
    [InlineData(4, false)]
    [InlineData(5, false)]
    [InlineData(6, true)]
    public void CopyField_IsTakenIn15Only(byte version, bool taken)
    {
        var move = new NxAction(NxActionSubtype.RegMove, FieldHeader: 0x00010004, SrcHeader: 0x00010204, Bits: 32);   // reg1 -> reg0
        var fm = new Ofp13FlowMod { Version = version };
        fm.Instructions.Add(new Ofp13Instruction(Ofp13InstructionType.ApplyActions, Actions: [Ofp13Action.CopyField(move)]));
        bool ok = FlowModTranslator.TryInstructions(fm, out var ins, out var error);
        Assert.Equal(taken, ok);
        if (!taken)
        {
            Assert.Equal(Ofp13Error.BadAction(Ofp13Codes.ActionBadType), error);
            return;
        }
        var a = Assert.Single(ins.ApplyActions.ToArray());
        Assert.Equal(OfActionType.FieldMove, a.Type);
        // And a 1.5 dump writes the move back as a copy-field.
        var wire = new List<Ofp13Action>();
        ActionTranslator.ToWire([a], false, wire);
        ActionTranslator.MovesAsCopyFields(wire);
        Assert.Equal(Ofp13Action.CopyField(move), Assert.Single(wire));
    }
}
