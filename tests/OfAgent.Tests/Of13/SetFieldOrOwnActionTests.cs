using System.Buffers.Binary;
using Softswitch.Datapath.Ports;
using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;
using Softswitch.OfAgent.Of13.Translate;
using Softswitch.Ofproto;
using static Softswitch.OfAgent.Of13.Translate.MatchTranslator;
using Of10Actions = Softswitch.OfAgent.Of10.Translate.ActionTranslator;
using Of13Actions = Softswitch.OfAgent.Of13.Translate.ActionTranslator;

namespace Softswitch.OfAgent.Tests.Of13;

/// <summary>
/// The MPLS label and TC and the tunnel id have an action of their own (set_mpls_label, set_mpls_tc, set_tunnel) beside
/// the set-field. Open vSwitch keeps them apart (OFPACT_SET_MPLS_LABEL beside its set_field): both are the set-field from
/// OpenFlow 1.2 on, and in 1.0 the action is its Nicira form, the set-field the NXAST_REG_LOAD of the field
/// (set_field_to_nxast: <c>load:0x7-&gt;OXM_OF_MPLS_LABEL[]</c>). So the switch reads them back, through the datapath's
/// compiled actions.
/// </summary>
public sealed class SetFieldOrOwnActionTests
{
    private const uint OxmMplsLabel = 0x8000_4404, OxmMplsTc = 0x8000_4601, NxTunId = 0x0001_2008;

    /// <summary>The field, a value, the NXM/OXM header of the load 1.0 shows for the set-field, its bits, and the Nicira action of its own.</summary>
    public static TheoryData<byte, ulong, uint, int, string> Fields => new()
    {
        { MplsLabel, 7, OxmMplsLabel, 20, "set_mpls_label" },
        { MplsTc, 3, OxmMplsTc, 3, "set_mpls_tc" },
        { TunnelId, 0x99, NxTunId, 64, "set_tunnel" },
        { TunnelId, 0x1_0000_0001, NxTunId, 64, "set_tunnel64" },
    };

    [Theory]
    [MemberData(nameof(Fields))]
    public void AOneThreeSetField_ReadsBackOverOneZeroAsTheLoad_TheOwnActionAsItself(byte field, ulong value, uint header, int bits, string own)
    {
        var setField = Ofp13Action.SetField(Ofp13Oxm.Exact(field, value));
        Assert.True(Of13Actions.TryToOf([setField], out var model, out var error), error.ToString());
        var back = ReadBack(model);
        Assert.Equal(Hex(RegLoad(header, bits, value)), Hex(Of10Actions.ToOfp(back)));
        Assert.Equal(Hex13(setField), Hex13(Of13Wire(back)));

        // The action of its own (Nicira's, read over 1.0 or 1.3) goes to 1.0 as itself, to 1.3 as the set-field.
        var nx = OwnAction(own, value);
        var of10 = new List<OfpAction> { Vendor(nx) };
        Assert.True(Of10Actions.TryDecode(of10, 0, out var fromOneZero, out var error10), error10.ToString());
        var ownBack = ReadBack(fromOneZero.Span);
        Assert.Equal(Hex(Vendor(nx)), Hex(Of10Actions.ToOfp(ownBack)));
        Assert.Equal(Hex13(setField), Hex13(Of13Wire(ownBack)));
        Assert.True(Of13Actions.TryToOf([Ofp13Action.Nicira(nx)], out var fromOneThree, out error), error.ToString());
        Assert.Equal(Hex(Vendor(nx)), Hex(Of10Actions.ToOfp(ReadBack(fromOneThree))));
        // Not the same action (a modify from one to the other changes the flow), as in Open vSwitch.
        Assert.NotEqual(model[0], fromOneZero.Span[0]);
    }

    /// <summary>
    /// OpenFlow 1.1's OFPAT_SET_MPLS_LABEL and OFPAT_SET_MPLS_TC (types 13 and 14), which Open vSwitch still takes under
    /// 1.3 (deprecated), are its set_mpls_label and set_mpls_tc: they read back over 1.3 as the set-field Open vSwitch
    /// writes for them, over 1.0 as the Nicira actions; a wrong length is BAD_LEN; without an MPLS match, MATCH_INCONSISTENT.
    /// </summary>
    [Fact]
    public void OneOneSetMplsLabelAndTc_AreTheOwnActions()
    {
        var wire = new List<Ofp13Action>();
        Assert.True(Ofp13Actions.TryDecode(Convert.FromHexString("000d000800000007" + "000e000805000000"), wire, out var error), error.ToString());
        Assert.Equal([new Ofp13Action(Ofp13ActionType.SetMplsLabel, 7), new Ofp13Action(Ofp13ActionType.SetMplsTc, 5)], wire);
        Assert.Equal("000D000800000007000E000805000000", Hex13(wire));
        Assert.True(Of13Actions.TryToOf([.. wire], out var model, out error), error.ToString());
        Assert.Equal([OfAction.SetMplsLabel(7), OfAction.SetMplsTc(5)], model);
        var back = ReadBack(model);
        Assert.Equal(Hex13(Ofp13Action.SetField(Ofp13Oxm.Exact(MplsLabel, 7)), Ofp13Action.SetField(Ofp13Oxm.Exact(MplsTc, 5))),
                     Hex13(Of13Wire(back)));
        Assert.Equal(Hex(Vendor(OwnAction("set_mpls_label", 7)), Vendor(OwnAction("set_mpls_tc", 5))), Hex(Of10Actions.ToOfp(back)));

        Assert.False(Ofp13Actions.TryDecode(Convert.FromHexString("000d0010" + "000000070000000000000000"), [], out error));
        Assert.Equal(Ofp13Error.BadAction(Ofp13Codes.ActionBadLen), error);
        Ofp13Instruction[] apply = [new(Ofp13InstructionType.ApplyActions, Actions: wire)];
        Assert.False(ActionPrerequisites.Consistent([Ofp13Oxm.Exact(EthType, 0x0800)], apply));
        Assert.True(ActionPrerequisites.Consistent([Ofp13Oxm.Exact(EthType, 0x8847)], apply));
    }

    private static NxAction OwnAction(string name, ulong value) => name switch
    {
        "set_mpls_label" => new NxAction(NxActionSubtype.SetMplsLabel, Arg: value),
        "set_mpls_tc" => new NxAction(NxActionSubtype.SetMplsTc, Arg: value),
        "set_tunnel" => new NxAction(NxActionSubtype.SetTunnel, Arg: value),
        _ => new NxAction(NxActionSubtype.SetTunnel64, Arg: value),
    };

    private static OfpAction Vendor(NxAction nx)
    {
        byte[] body = new byte[nx.BodySize];
        nx.WriteBody(body);
        return OfpAction.VendorAction(OfpConstants.NiciraVendorId, body);
    }

    /// <summary>NXAST_REG_LOAD of bits 0..<paramref name="bits"/>-1 of the field under <paramref name="header"/>.</summary>
    private static OfpAction RegLoad(uint header, int bits, ulong value)
    {
        byte[] body = new byte[16];
        BinaryPrimitives.WriteUInt16BigEndian(body, (ushort)NxActionSubtype.RegLoad);
        BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(2), (ushort)(bits - 1));
        BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(4), header);
        BinaryPrimitives.WriteUInt64BigEndian(body.AsSpan(8), value);
        return OfpAction.VendorAction(OfpConstants.NiciraVendorId, body);
    }

    /// <summary>The model's actions compiled for the datapath and read back from there, as flow statistics do.</summary>
    private static OfAction[] ReadBack(ReadOnlySpan<OfAction> model)
    {
        Assert.Equal(OfError.None, OfActionCompiler.TryCompile(model, PortTable.Empty, ActionContext.FlowMod, 8, out var compiled));
        var back = new OfAction[compiled.Items.Length];
        OfActionCompiler.ToOfActions(compiled, back);
        return back;
    }

    private static List<Ofp13Action> Of13Wire(ReadOnlySpan<OfAction> actions)
    {
        var written = new List<Ofp13Action>();
        Of13Actions.ToWire(actions, false, written);
        return written;
    }

    private static string Hex(params OfpAction[] actions) => Hex(actions.ToList());

    private static string Hex(List<OfpAction> actions)
    {
        byte[] bytes = new byte[OfpActions.GetEncodedSize(actions)];
        OfpActions.Encode(actions, bytes);
        return Convert.ToHexString(bytes);
    }

    private static string Hex13(params Ofp13Action[] actions) => Hex13(actions.ToList());

    private static string Hex13(List<Ofp13Action> actions)
    {
        var w = new Ofp13Writer();
        Ofp13Actions.Encode(w, [.. actions]);
        return Convert.ToHexString(w.Written);
    }
}
