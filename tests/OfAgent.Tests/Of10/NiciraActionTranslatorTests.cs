using System.Buffers.Binary;
using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;
using Of10Actions = Softswitch.OfAgent.Of10.Translate.ActionTranslator;
using Of13Actions = Softswitch.OfAgent.Of13.Translate.ActionTranslator;

namespace Softswitch.OfAgent.Tests.Of10;

/// <summary>
/// The Nicira actions an OpenFlow 1.0 flow-mod carries: each one the switch writes for a flow added over 1.3 reads back,
/// from its bytes, as the model action it was written for (the one the 1.3 path makes of the same action); ovs-ofctl's
/// REG_LOADs as the same set-field; a trailing resubmit as the goto-table; the rest refused with an OpenFlow 1.0 error.
/// </summary>
public sealed class NiciraActionTranslatorTests
{
    private static readonly UInt128 Ip6 = UInt128.Parse("42540766411282592856903984951653826561"); // 2001:db8::1

    /// <summary>An action of each type (a value the switch accepts for it).</summary>
    private static OfAction Sample(OfActionType t) => t switch
    {
        OfActionType.Output => OfAction.Output(1),
        OfActionType.Enqueue => OfAction.Enqueue(1, 1),
        OfActionType.SetVlanVid => OfAction.SetVlanVid(10),
        OfActionType.SetVlanPcp => OfAction.SetVlanPcp(5),
        OfActionType.PopVlan => OfAction.PopVlan(),
        OfActionType.SetEthSrc => OfAction.SetEthSrc(0x0200_0000_0001),
        OfActionType.SetEthDst => OfAction.SetEthDst(0x0200_0000_0002),
        OfActionType.SetNwSrc => OfAction.SetNwSrc(0x0a00_0001),
        OfActionType.SetNwDst => OfAction.SetNwDst(0x0a00_0002),
        OfActionType.SetNwTos => OfAction.SetNwTos(0xb8),
        OfActionType.SetTpSrc => OfAction.SetTpSrc(1234, 6),
        OfActionType.SetTpDst => OfAction.SetTpDst(80, 6),
        OfActionType.SetTunnel => OfAction.SetTunnel(0x1_2345_6789),
        OfActionType.SetIpEcn => OfAction.SetIpEcn(2),
        OfActionType.SetIpv6Src => OfAction.SetIpv6Src(Ip6),
        OfActionType.SetIpv6Dst => OfAction.SetIpv6Dst(Ip6 + 1),
        OfActionType.SetIpv6Flabel => OfAction.SetIpv6Flabel(0x12345),
        OfActionType.SetIcmpType => OfAction.SetIcmpType(8),
        OfActionType.SetIcmpCode => OfAction.SetIcmpCode(1),
        OfActionType.SetArpOp => OfAction.SetArpOp(2),
        OfActionType.SetArpSpa => OfAction.SetArpSpa(0x0a00_0003),
        OfActionType.SetArpTpa => OfAction.SetArpTpa(0x0a00_0004),
        OfActionType.SetArpSha => OfAction.SetArpSha(0x0200_0000_0005),
        OfActionType.SetArpTha => OfAction.SetArpTha(0x0200_0000_0006),
        OfActionType.SetNdTarget => OfAction.SetNdTarget(Ip6 + 2),
        OfActionType.SetNdSll => OfAction.SetNdSll(0x0200_0000_0007),
        OfActionType.SetNdTll => OfAction.SetNdTll(0x0200_0000_0008),
        OfActionType.SetMplsLabel => OfAction.SetMplsLabel(1000),
        OfActionType.SetMplsTc => OfAction.SetMplsTc(3),
        OfActionType.SetMplsBos => OfAction.SetMplsBos(1),
        OfActionType.SetPbbIsid => OfAction.SetPbbIsid(0x123456),
        OfActionType.SetEthType => OfAction.SetEthType(0x86dd),
        OfActionType.SetIpProto => OfAction.SetIpProto(17),
        OfActionType.PushVlan => OfAction.PushVlan(0x8100),
        OfActionType.PushMpls => OfAction.PushMpls(0x8847),
        OfActionType.PopMpls => OfAction.PopMpls(0x0800),
        OfActionType.PushPbb => OfAction.PushPbb(),
        OfActionType.PopPbb => OfAction.PopPbb(),
        OfActionType.SetMplsTtl => OfAction.SetMplsTtl(9),
        OfActionType.DecMplsTtl => OfAction.DecMplsTtl(),
        OfActionType.SetNwTtl => OfAction.SetNwTtl(5),
        OfActionType.DecNwTtl => OfAction.DecNwTtl(),
        OfActionType.CopyTtlOut => OfAction.CopyTtlOut(),
        OfActionType.CopyTtlIn => OfAction.CopyTtlIn(),
        OfActionType.SetQueue => OfAction.SetQueue(1),
        OfActionType.Group => OfAction.Group(2),
        OfActionType.FieldLoad => OfAction.FieldLoad(new OfSubfield(OfField.Reg0, 0, 16), 3, OfAction.LoadFormRegLoad),
        OfActionType.FieldMove => OfAction.FieldMove(new OfSubfield(OfField.InPort, 0, 16), new OfSubfield((OfField)1, 8, 16)),
        OfActionType.OutputField => OfAction.OutputField(new OfSubfield(OfField.Reg0, 0, 16), 0xffff),
        OfActionType.Conjunction => OfAction.Conjunction(7, 1, 2),
        OfActionType.Learn => OfAction.Learn(new OfLearn(10, 30, 0, 0x8000, 0x5, false, true, 0, 0,
        [
            new OfLearnSpec(OfLearnDst.Match, false, new OfSubfield(OfField.VlanTci, 0, 12), 0, new OfSubfield(OfField.VlanTci, 0, 12), 12),
            new OfLearnSpec(OfLearnDst.Load, false, new OfSubfield(OfField.InPort, 0, 16), 0, new OfSubfield(OfField.Reg0, 0, 16), 16),
            new OfLearnSpec(OfLearnDst.Load, true, default, 0xa, new OfSubfield((OfField)1, 5, 6), 6),
        ])),
        OfActionType.Note => OfAction.Note([1, 2, 3, 4, 5, 6]),
        OfActionType.Controller => OfAction.Controller(1234, 2, 5678),
        OfActionType.Clone => OfAction.CloneOf([OfAction.SetVlanVid(5), OfAction.Output(10)]),
        OfActionType.Multipath => OfAction.Multipath(2, 7, 2, 3, 0, new OfSubfield(OfField.Reg0, 0, 2)),
        OfActionType.Bundle => OfAction.Bundle(1, 60, 1, [1, 2, 3, 4, 5]),
        OfActionType.FinTimeout => OfAction.FinTimeout(10, 20),
        OfActionType.Sample => OfAction.Sample(65535, 1, 2, 3),
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "no sample"),
    };

    /// <summary>Every model action the OpenFlow 1.0 encoder writes as a Nicira action, with the extra forms a type has.</summary>
    private static OfAction[] NiciraWritten()
    {
        var rows = new List<OfAction>();
        foreach (var t in Enum.GetValues<OfActionType>())
        {
            // A resubmit reads back as the model's resubmit, or as the flow's goto-table when last (both checked in
            // AnyOtherResubmitAndAnExit_InAFlowMod_AreTheModels_AsIn13), an exit only in a flow-mod's list's decode.
            if (t is OfActionType.Resubmit or OfActionType.Exit) continue;
            var a = Sample(t);
            if (Of10Actions.ToOfp(a, out var wire, out _) > 0 && wire.Type == OfpActionType.Vendor) rows.Add(a);
        }
        rows.Add(OfAction.SetTunnel(0x99));                  // NXAST_SET_TUNNEL (32 bits)
        rows.Add(OfAction.DecNwTtl([7, 9]));                 // NXAST_DEC_TTL_CNT_IDS
        rows.Add(OfAction.SetIcmpType(135, icmpv6: true));   // ICMPv6's fields
        rows.Add(OfAction.SetIcmpCode(2, icmpv6: true));
        rows.Add(OfAction.Bundle(3, 0, 0, [0xfffe, 7], new OfSubfield(OfField.Reg0 + 2, 0, 16))); // NXAST_BUNDLE_LOAD
        rows.Add(OfAction.Sample(1, 7, 0xffff_fffe, 9, 0xfffe, 0, form: 1));                 // NXAST_SAMPLE2
        rows.Add(OfAction.Sample(100, 7, 8, 9, 3, 2, form: 2));                             // NXAST_SAMPLE3, egress
        return [.. rows];
    }

    public static TheoryData<OfAction> WrittenAsNicira() => [.. NiciraWritten()];

    [Fact]
    public void TheRowsHoldEveryNiciraActionTheEncoderWrites()
    {
        var subtypes = NiciraWritten().Select(a => Of10Actions.ToOfp(a, out var w, out _) > 0 ? w.NxSubtype : (ushort)0)
                                        .Where(s => s != 0).Distinct().Order();
        NxActionSubtype[] written =
        [
            NxActionSubtype.SetTunnel, NxActionSubtype.SetQueue, NxActionSubtype.SetTunnel64, NxActionSubtype.DecTtl,
            NxActionSubtype.PushMpls, NxActionSubtype.PopMpls, NxActionSubtype.SetMplsTtl, NxActionSubtype.DecMplsTtl,
            NxActionSubtype.SetMplsLabel, NxActionSubtype.SetMplsTc, NxActionSubtype.RegLoad, NxActionSubtype.Group,
            NxActionSubtype.RegMove, NxActionSubtype.OutputReg, NxActionSubtype.Conjunction, NxActionSubtype.Learn, NxActionSubtype.Note,
            NxActionSubtype.Controller, NxActionSubtype.DecTtlCntIds, NxActionSubtype.Clone,
            NxActionSubtype.Multipath, NxActionSubtype.Bundle, NxActionSubtype.BundleLoad, NxActionSubtype.FinTimeout,
            NxActionSubtype.Sample, NxActionSubtype.Sample2, NxActionSubtype.Sample3,
        ];
        Assert.Equal(written.Select(s => (ushort)s).Order(), subtypes);
    }

    private static List<OfpAction> WireOf(params OfpAction[] actions)
    {
        byte[] bytes = new byte[OfpActions.GetEncodedSize([.. actions])];
        OfpActions.Encode(actions, bytes);
        Assert.True(OfpActions.TryDecode(bytes, out List<OfpAction> decoded, out var error), error.ToString());
        return decoded;
    }

    private static OfAction[] Decode10(List<OfpAction> wire)
    {
        Assert.True(Of10Actions.TryDecode(wire, 0, out var model, out var error), error.ToString());
        return model.ToArray();
    }

    private static OfAction[] Decode10(List<OfpAction> wire, out byte? gotoTable)
    {
        Assert.True(Of10Actions.TryDecode(wire, 0, out var model, out gotoTable, out var error), error.ToString());
        return model.ToArray();
    }

    [Theory]
    [MemberData(nameof(WrittenAsNicira))]
    public void WhatOneZeroIsShown_ReadsBackAsTheSameModelAction_AsOneThreeReadsIt(OfAction action)
    {
        int count = Of10Actions.ToOfp(action, out var first, out var second);
        if (action.Type is OfActionType.SetMplsBos or OfActionType.SetPbbIsid)
        {
            // Their loads, which Open vSwitch refuses (mpls_bos read-only, no PBB field), and so does 1.0 here.
            Assert.False(Of10Actions.TryDecode(WireOf(first), 0, out _, out var refusal));
            Assert.Equal(OfpError.Nx(OfpErrorType.BadRequest, action.Type == OfActionType.SetMplsBos ? (ushort)525 : (ushort)523), refusal);
            return;
        }
        var model = Decode10(count == 2 ? WireOf(first, second) : WireOf(first));
        // A set-field 1.0 shows as NXAST_REG_LOADs reads back as those loads, as Open vSwitch keeps the raw action.
        bool asLoad = action.IsFieldSet && first.Type == OfpActionType.Vendor && first.NxSubtype == (ushort)NxActionSubtype.RegLoad
                      && action.Type is not (OfActionType.SetEthType or OfActionType.SetIpProto or OfActionType.SetVlanVid);
        Assert.Equal([asLoad ? action.WrittenAs(OfAction.LoadFormRegLoad) : action], model);

        // The 1.3 path makes the same action of the same thing, so a flow re-added over 1.0 equals the one added over 1.3;
        // but a set of the MPLS label or TC or of tun_id 1.3 writes as the set-field, which is not the field's own action
        // (as Open vSwitch's set_field is not its set_mpls_label): 1.0 reads it back as the load.
        var of13 = new List<Ofp13Action>();
        Of13Actions.ToWire([action], ipv6: false, of13);
        // A register action, a learn, a multipath, a bundle or a fin_timeout is a flow's apply-action (elsewhere 1.3 refuses it).
        bool flowApply = action.Type is OfActionType.FieldLoad or OfActionType.FieldMove or OfActionType.OutputField or OfActionType.Learn
            or OfActionType.Multipath or OfActionType.Bundle or OfActionType.FinTimeout;
        Assert.True(Of13Actions.TryToOf([.. of13], flowApply, out var via13, out var error13), error13.ToString());
        bool ownAction = action.Type is OfActionType.SetMplsLabel or OfActionType.SetMplsTc or OfActionType.SetTunnel;
        Assert.Equal([ownAction ? action.WrittenAs(OfAction.LoadFormOfpSetField) : action], via13.ToArray());
        // The loads 1.0 read back go to 1.3 as the same loads, and read back there as 1.0 read them.
        of13.Clear();
        Of13Actions.ToWire(model, ipv6: false, of13);
        Assert.True(Of13Actions.TryToOf([.. of13], flowApply, out via13, out error13), error13.ToString());
        Assert.Equal(via13, model.Select(m => ownAction ? m.WrittenAs(OfAction.LoadFormOfpSetField) : m).ToArray());
    }

    private static OfpAction RegLoad(uint header, int ofs, int bits, ulong value)
    {
        byte[] body = new byte[16];
        BinaryPrimitives.WriteUInt16BigEndian(body, (ushort)NxActionSubtype.RegLoad);
        BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(2), (ushort)(ofs << 6 | (bits - 1)));
        BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(4), header);
        BinaryPrimitives.WriteUInt64BigEndian(body.AsSpan(8), value);
        return OfpAction.VendorAction(OfpConstants.NiciraVendorId, body);
    }

    private const uint NxIpEcn = 0x0001_3801, NxIpTtl = 0x0001_3a01, NxIpv6Src = 0x0001_2610, NxTunId = 0x0001_2008, NxIpTos = 0x0000_0a01;
    private const uint NxReg0 = 0x0001_0004, OxmInPort = 0x8000_0004, NxEthSrc = 0x0000_0406;

    [Fact]
    public void RegisterLoadsMovesAndOutputs_AreTheModelsRegisterActions_AndGoBackAsTheyCame()
    {
        var reg0 = new OfSubfield(OfField.Reg0, 0, 16);
        var move = new NxAction(NxActionSubtype.RegMove, FieldHeader: NxReg0, SrcHeader: 0x0000_0002, Bits: 16); // in_port -> reg0[0..15]
        var output = new NxAction(NxActionSubtype.OutputReg, SrcHeader: NxReg0, Bits: 16, MaxLen: 0xffff);
        var wire = WireOf(RegLoad(NxReg0, 0, 16, 3), Vendor(move), Vendor(output));
        var model = Decode10(wire);
        Assert.Equal([OfAction.FieldLoad(reg0, 3, OfAction.LoadFormRegLoad),
                      OfAction.FieldMove(new OfSubfield(OfField.InPort, 0, 16), reg0),
                      OfAction.OutputField(reg0, 0xffff)], model);
        Assert.Equal(Bytes(wire), Bytes(Of10Actions.ToOfp(model)));
        // A move of a field past its width, or of one the switch does not know (Open vSwitch's OFPBMC_BAD_FIELD, which
        // OpenFlow 1.0 carries as NX1.0(0,263) inside NXET_VENDOR).
        Assert.False(Of10Actions.TryDecode(WireOf(Vendor(move with { SrcOfs = 8 })), 0, out _, out var error));
        Assert.Equal(OfpError.Nx(OfpErrorType.BadRequest, 524), error); // OFPBAC_BAD_SET_LEN, NX1.0(1,524)
        Assert.False(Of10Actions.TryDecode(WireOf(Vendor(move with { SrcHeader = 0x0001_3e04 })), 0, out _, out error));
        Assert.Equal(OfpError.Nx(OfpErrorType.HelloFailed, 263), error);
    }

    /// <summary>
    /// A REG_LOAD or REG_LOAD2 of part of a packet field (Open vSwitch's load:0x5->NXM_OF_ETH_SRC[0..7], a masked
    /// set_field) is a load of those bits, and a load of vlan_tci, part or whole, too; each goes back as it came.
    /// </summary>
    [Fact]
    public void ALoadOfPartOfAPacketField_IsALoadOfThoseBits_AndGoesBackAsItCame()
    {
        const uint NxVlanTci = 0x0000_0802, NxTcpSrc = 0x0000_1202;
        var wire = WireOf(RegLoad(NxEthSrc, 0, 8, 5), RegLoad(NxIpTos, 2, 2, 1), RegLoad(NxTcpSrc, 0, 1, 1), RegLoad(NxVlanTci, 0, 16, 0x1001),
                          RegLoad(NxVlanTci, 0, 12, 0x123));
        var model = Decode10(wire);
        Assert.Equal([OfAction.FieldLoad(new OfSubfield(OfField.EthSrc, 0, 8), 5, OfAction.LoadFormRegLoad),
                      OfAction.FieldLoad(new OfSubfield(OfField.IpTos, 2, 2), 1, OfAction.LoadFormRegLoad),
                      OfAction.FieldLoad(new OfSubfield(OfField.TcpSrc, 0, 1), 1, OfAction.LoadFormRegLoad),
                      OfAction.FieldLoad(new OfSubfield(OfField.VlanTci, 0, 16), 0x1001, OfAction.LoadFormRegLoad),
                      OfAction.FieldLoad(new OfSubfield(OfField.VlanTci, 0, 12), 0x123, OfAction.LoadFormRegLoad)], model);
        Assert.Equal(Bytes(wire), Bytes(Of10Actions.ToOfp(model)));
        // REG_LOAD2 of eth_src under 00:00:00:ff:ff:ff (set_field:0x123456/0xffffff->eth_src).
        var load2 = WireOf(OfpAction.NxRegLoad2([0x80, 0x00, 0x09, 0x0c, 0, 0, 0, 0x12, 0x34, 0x56, 0, 0, 0, 0xff, 0xff, 0xff]));
        model = Decode10(load2);
        Assert.Equal([OfAction.FieldLoad(new OfSubfield(OfField.EthSrc, 0, 24), 0x123456, OfAction.LoadFormRegLoad2)], model);
        // Written back as REG_LOAD2 of the field's NXM header (as Open vSwitch's nx_put_mff_header), read back the same.
        Assert.Equal(model, Decode10(WireOf([.. Of10Actions.ToOfp(model)])));
    }

    [Fact]
    public void ALoadOfPartOfTtlEcnLabelOrAnIpv6Address_IsALoadOfThoseBits_AndGoesBackAsItCame()
    {
        // ovs-ofctl's load:0x5->NXM_NX_IP_TTL[0..3], load:0x1->NXM_NX_IP_ECN[0], load:0xab->NXM_NX_IPV6_LABEL[0..7],
        // load:0x1234->NXM_NX_IPV6_SRC[0..15] and set_field:2001:db8::/ffff:ffff::->ipv6_dst (ipv6_dst[96..127]).
        const uint NxIpv6Label = 0x0001_3604, NxIpv6Dst = 0x0001_2810;
        var wire = WireOf(RegLoad(NxIpTtl, 0, 4, 5), RegLoad(NxIpEcn, 0, 1, 1), RegLoad(NxIpv6Label, 0, 8, 0xab), RegLoad(NxIpv6Src, 0, 16, 0x1234),
                          RegLoad(NxIpv6Dst, 96, 32, 0x20010db8), OfpAction.Output(1));
        var model = Decode10(wire);
        Assert.Equal([OfAction.FieldLoad(new OfSubfield(OfField.NwTtl, 0, 4), 5, OfAction.LoadFormRegLoad),
                      OfAction.FieldLoad(new OfSubfield(OfField.IpEcn, 0, 1), 1, OfAction.LoadFormRegLoad),
                      OfAction.FieldLoad(new OfSubfield(OfField.Ipv6Label, 0, 8), 0xab, OfAction.LoadFormRegLoad),
                      OfAction.FieldLoad(new OfSubfield(OfField.Ipv6Src, 0, 16), 0x1234, OfAction.LoadFormRegLoad),
                      OfAction.FieldLoad(new OfSubfield(OfField.Ipv6Dst, 96, 32), 0x20010db8, OfAction.LoadFormRegLoad),
                      OfAction.Output(1)], model);
        Assert.Equal(Bytes(wire), Bytes(Of10Actions.ToOfp(model)));
        // Last in the list too; and the two halves of an address still set it whole, marked as the loads they came as.
        Assert.Equal([OfAction.FieldLoad(new OfSubfield(OfField.Ipv6Src, 0, 16), 0x1234, OfAction.LoadFormRegLoad)], Decode10(WireOf(RegLoad(NxIpv6Src, 0, 16, 0x1234))));
        Assert.Equal([Loaded(OfAction.SetIpv6Src(5))], Decode10(WireOf(RegLoad(NxIpv6Src, 0, 64, 5), RegLoad(NxIpv6Src, 64, 64, 0))));
    }

    private static byte[] Bytes(List<OfpAction> actions)
    {
        byte[] bytes = new byte[OfpActions.GetEncodedSize(actions)];
        OfpActions.Encode(actions, bytes);
        return bytes;
    }

    private static OfpAction Vendor(NxAction nx)
    {
        byte[] body = new byte[nx.BodySize];
        nx.WriteBody(body);
        return OfpAction.VendorAction(OfpConstants.NiciraVendorId, body);
    }

    private static OfAction Loaded(OfAction a) => a.WrittenAs(OfAction.LoadFormRegLoad);

    /// <summary>
    /// ovs-ofctl's whole-field loads are the same set-fields, marked as loads (Open vSwitch's ofpact_set_field keeps its
    /// raw NXAST_RAW_REG_LOAD), and go back as they came: the same REG_LOADs, a 128-bit field's two halves included.
    /// </summary>
    [Fact]
    public void OvsOfctlsRegLoads_AreTheSameSetFields_ATwoHalfFieldGatheredWhole_AndGoBackAsTheyCame()
    {
        Assert.Equal([Loaded(OfAction.SetIpEcn(2))], Decode10(WireOf(RegLoad(NxIpEcn, 0, 2, 2))));
        Assert.Equal([Loaded(OfAction.SetNwTtl(5))], Decode10(WireOf(RegLoad(NxIpTtl, 0, 8, 5))));
        Assert.Equal([Loaded(OfAction.SetNwTos(0xb8))], Decode10(WireOf(RegLoad(NxIpTos, 0, 8, 0xb8))));
        Assert.Equal([Loaded(OfAction.SetTunnel(ulong.MaxValue))], Decode10(WireOf(RegLoad(NxTunId, 0, 64, ulong.MaxValue))));
        Assert.Equal([Loaded(OfAction.SetEthSrc(0x0200_0000_0001))], Decode10(WireOf(RegLoad(NxEthSrc, 0, 48, 0x0200_0000_0001))));
        // Fields without an NXM header by their OXM one (Open vSwitch's load:0x7->OXM_OF_MPLS_LABEL[]): the set-fields,
        // marked as loads, which go back as they came too.
        var mpls = WireOf(RegLoad(0x8000_4404, 0, 20, 7), RegLoad(0x8000_4601, 0, 3, 3));
        Assert.Equal([Loaded(OfAction.SetMplsLabel(7)), Loaded(OfAction.SetMplsTc(3))], Decode10(mpls));
        Assert.Equal(Bytes(mpls), Bytes(Of10Actions.ToOfp(Decode10(mpls))));
        // ovs-ofctl's load of a whole ipv6_src in OpenFlow 1.0: the low 64 bits, then the high.
        var ipv6 = WireOf(RegLoad(NxIpv6Src, 0, 64, (ulong)Ip6), RegLoad(NxIpv6Src, 64, 64, (ulong)(Ip6 >> 64)), OfpAction.Output(2));
        Assert.Equal([Loaded(OfAction.SetIpv6Src(Ip6)), OfAction.Output(2)], Decode10(ipv6));
        Assert.Equal(Bytes(ipv6), Bytes(Of10Actions.ToOfp(Decode10(ipv6))));
        var loads = WireOf(RegLoad(NxIpEcn, 0, 2, 2), RegLoad(NxIpTtl, 0, 8, 5), RegLoad(NxIpTos, 0, 8, 0xb8), RegLoad(NxTunId, 0, 64, 7),
                           RegLoad(NxEthSrc, 0, 48, 0x0200_0000_0001), RegLoad(0x0000_0e04, 0, 32, 0x0a000001), RegLoad(0x0000_1402, 0, 16, 80));
        Assert.Equal(Bytes(loads), Bytes(Of10Actions.ToOfp(Decode10(loads))));
        // A load is not the set-field of the same value (Open vSwitch's ofpacts_equal compares the raw action).
        Assert.NotEqual(OfAction.SetNwDst(0x0a000001), Assert.Single(Decode10(WireOf(RegLoad(0x0000_1004, 0, 32, 0x0a000001)))));
        // The set-field itself goes to 1.0 as its own action, as before.
        Assert.Equal(OfpActionType.SetNwDst, Assert.Single(Of10Actions.ToOfp([OfAction.SetNwDst(0x0a000001)])).Type);
    }

    /// <summary>
    /// A whole-field load in OpenFlow 1.3 and 1.4 goes back as it came (NXAST_REG_LOAD, REG_LOAD2 for one that came as
    /// REG_LOAD2), in 1.5 as the set-field, which is all 1.5 has (Open vSwitch's encode_SET_FIELD).
    /// </summary>
    [Fact]
    public void AWholeFieldLoad_GoesBackAsItCameUpTo14_AndAsTheSetFieldIn15()
    {
        var loaded = Decode10(WireOf(RegLoad(0x0000_1004, 0, 32, 0x0a000001)));
        Assert.Equal([Loaded(OfAction.SetNwDst(0x0a000001))], loaded);
        var wire = new List<Ofp13Action>();
        Of13Actions.ToWire(loaded, false, wire);
        var nx = Assert.Single(wire).Nx;
        Assert.Equal(NxActionSubtype.RegLoad, nx.Subtype);
        Assert.Equal(0x0000_1004u, nx.FieldHeader);
        Assert.Equal((UInt128)0x0a000001, nx.Value);
        wire.Clear();
        Of13Actions.ToWire(loaded, false, wire, of15: true);
        Assert.Equal(Ofp13ActionType.SetField, Assert.Single(wire).Type);
        // REG_LOAD2 of the whole eth_dst: marked as it came, written back as REG_LOAD2 (ovs-ofctl prints it as set_field).
        var load2 = WireOf(OfpAction.NxRegLoad2([0x00, 0x00, 0x02, 0x06, 2, 0, 0, 0, 0, 9]));
        var model = Decode10(load2);
        Assert.Equal([OfAction.SetEthDst(0x0200_0000_0009).WrittenAs(OfAction.LoadFormRegLoad2)], model);
        Assert.Equal(Bytes(load2), Bytes(Of10Actions.ToOfp(model)));
    }

    /// <summary>
    /// A REG_LOAD2 under a mask of several runs of bits (Open vSwitch's decode_NXAST_RAW_REG_LOAD2 takes any mask: one
    /// masked set_field) is a load per run, the low run first, the later ones marked as joined to it, in the form it came
    /// in; it goes back as the one REG_LOAD2 it was (a load of the same field after it stays a load of its own), and in
    /// 1.5 as one masked set-field; in 1.3 the same REG_LOAD2.
    /// </summary>
    [Fact]
    public void ARegLoad2UnderAMaskOfSeveralRuns_IsALoadPerRun_AndGoesBackAsTheOneRegLoad2()
    {
        const byte Load2 = OfAction.LoadFormRegLoad2, Joined = OfAction.LoadFormRegLoad2 | OfAction.LoadJoined;
        // set_field:0x5/0x5->reg0; ip_dst 0.0.16.0/0.0.240.15, then load:0x1->NXM_OF_IP_DST[4..7]; eth_src under
        // 00:00:ff:00:ff:00 (two runs of 8 bits: 0x12, 0x34); ipv6_src 2001::1/ffff::ffff (its first and last 16 bits).
        var reg0 = OfpAction.NxRegLoad2([0x00, 0x01, 0x01, 0x08, 0, 0, 0, 5, 0, 0, 0, 5]);
        var ipDst = OfpAction.NxRegLoad2([0x00, 0x00, 0x11, 0x08, 0, 0, 0x10, 0, 0, 0, 0xf0, 0x0f]);
        var ethSrc = OfpAction.NxRegLoad2([0x00, 0x00, 0x05, 0x0c, 0, 0, 0x12, 0, 0x34, 0, 0, 0, 0xff, 0, 0xff, 0]);
        byte[] ipv6 = [0x00, 0x01, 0x27, 0x20, .. new byte[32]];
        ipv6[4] = 0x20; ipv6[5] = 0x01; ipv6[19] = 0x01; ipv6[20] = 0xff; ipv6[21] = 0xff; ipv6[34] = 0xff; ipv6[35] = 0xff;
        var wire = WireOf(reg0, ipDst, RegLoad(0x0000_1004, 4, 4, 1), ethSrc, OfpAction.NxRegLoad2(ipv6), OfpAction.Output(2));
        var model = Decode10(wire);
        Assert.Equal([OfAction.FieldLoad(new OfSubfield(OfField.Reg0, 0, 1), 1, Load2), OfAction.FieldLoad(new OfSubfield(OfField.Reg0, 2, 1), 1, Joined),
                      OfAction.FieldLoad(new OfSubfield(OfField.Ipv4Dst, 0, 4), 0, Load2), OfAction.FieldLoad(new OfSubfield(OfField.Ipv4Dst, 12, 4), 1, Joined),
                      OfAction.FieldLoad(new OfSubfield(OfField.Ipv4Dst, 4, 4), 1, OfAction.LoadFormRegLoad),
                      OfAction.FieldLoad(new OfSubfield(OfField.EthSrc, 8, 8), 0x34, Load2), OfAction.FieldLoad(new OfSubfield(OfField.EthSrc, 24, 8), 0x12, Joined),
                      OfAction.FieldLoad(new OfSubfield(OfField.Ipv6Src, 0, 16), 1, Load2), OfAction.FieldLoad(new OfSubfield(OfField.Ipv6Src, 112, 16), 0x2001, Joined),
                      OfAction.Output(2)], model);
        Assert.True(model[1].JoinsPrevious);
        Assert.False(model[4].JoinsPrevious);
        // Back as it came, byte for byte, and the size a flow's statistics entry gives it agrees.
        Assert.Equal(Bytes(wire), Bytes(Of10Actions.ToOfp(model)));
        Assert.Equal(OfpFlowStats.MinSize + Bytes(wire).Length, OfAgent.Of10.Translate.ReportTranslator.FlowStatsSize(OfInstructions.Apply(model)));
        // 1.3: the same REG_LOAD2s; 1.5: one masked set-field each.
        var back = new List<Ofp13Action>();
        Of13Actions.ToWire(model, false, back);
        Assert.Equal(6, back.Count);
        Assert.Equal(new NxAction(NxActionSubtype.RegLoad2, FieldHeader: 0x0001_0004, Value: 5, Mask: 5), back[0].Nx);
        Assert.Equal(new NxAction(NxActionSubtype.RegLoad2, FieldHeader: 0x0000_1004, Value: 0x1000, Mask: 0xf00f), back[1].Nx);
        Assert.Equal(NxActionSubtype.RegLoad, back[2].Nx.Subtype);
        back.Clear();
        Of13Actions.ToWire(model, false, back, of15: true);
        Of13Actions.As15(back);
        Assert.Equal([Ofp13Action.SetField(new Ofp13Oxm(Ofp13Match.NxReg0, true, 5, 5)),
                      Ofp13Action.SetField(new Ofp13Oxm(12 /* ipv4_dst */, true, 0x1000, 0xf00f)),
                      Ofp13Action.SetField(new Ofp13Oxm(12, true, 0x10, 0xf0)),
                      Ofp13Action.SetField(new Ofp13Oxm(4 /* eth_src */, true, 0x12_0034_00, 0xff_00ff_00)),
                      Ofp13Action.SetField(new Ofp13Oxm(26 /* ipv6_src */, true, ((UInt128)0x2001 << 112) | 1, ((UInt128)0xffff << 112) | 0xffff)),
                      Ofp13Action.Output(2)], back);
    }

    public static TheoryData<string, OfpAction[]> Refused => new()
    {
        { "part of icmp_type, which no move writes", [RegLoad(0x0000_1a01, 0, 4, 5)] },
        { "part of icmp_type, then an output", [RegLoad(0x0000_1a01, 0, 4, 5), OfpAction.Output(1)] },
        { "ECN past its 2 bits", [RegLoad(NxIpEcn, 0, 8, 4)] },
        { "the ToS byte's ECN bits", [RegLoad(NxIpTos, 0, 8, 0xb9)] },
        { "in_port", [RegLoad(OxmInPort, 0, 32, 1)] },
        { "reg_load2 of in_port", [OfpAction.NxRegLoad2([0x80, 0x00, 0x00, 0x04, 0, 0, 0, 1])] },
        { "reg_load2 of vlan_tci under a mask of two runs (each run would tag or strip)", [OfpAction.NxRegLoad2([0x00, 0x00, 0x09, 0x04, 0x10, 0x01, 0x1f, 0x0f])] },
        { "part of ip_tos's ECN bits", [RegLoad(NxIpTos, 0, 2, 1)] },
        { "reg_load2 of ECN 4", [OfpAction.NxRegLoad2([0x80, 0x00, 0x12, 0x01, 4])] },
        { "resubmit(,): neither a port nor a table", [OfpAction.NxResubmitTable(255)] },
        { "resubmit(,), then an output", [OfpAction.NxResubmitTable(255), OfpAction.Output(1)] },
    };

    /// <summary>
    /// REG_LOAD2s of no field the switch sets (as it reads their headers), OFPBAC_BAD_SET_TYPE, or past their field's bits,
    /// OFPBAC_BAD_SET_LEN: in 1.0 Open vSwitch's NX1.0(1,523) and (1,524).
    /// </summary>
    public static TheoryData<string, OfpAction[], ushort> UnknownFields => new()
    {
        { "reg_load2 of ip_ecn under a mask past its 2 bits", [OfpAction.NxRegLoad2([0x00, 0x01, 0x39, 0x02, 0x01, 0x05])], 524 },
        { "reg_load2 of eth_src with a 5-byte value", [OfpAction.NxRegLoad2([0x80, 0x00, 0x08, 0x05, 2, 0, 0, 0, 1])], 523 },
        // Geneve options are not carried into metadata: NXM_NX_TUN_METADATA0 (class 1, field 40) is not a field here.
        { "reg_load2 of tun_metadata0", [OfpAction.NxRegLoad2([0x00, 0x01, 0x50, 0x04, 0, 0, 0, 1])], 523 },
    };

    [Theory]
    [MemberData(nameof(UnknownFields))]
    public void ALoadOfNoFieldTheSwitchSets_IsBadSetTypeOrLen(string what, OfpAction[] actions, ushort code)
    {
        Assert.False(Of10Actions.TryDecode(WireOf(actions), 0, out _, out _, out var error), what);
        Assert.Equal(OfpError.Nx(OfpErrorType.BadRequest, code), error);
    }

    private static OfpAction Resubmit(ushort inPort, byte table)
    {
        byte[] body = new byte[8];
        BinaryPrimitives.WriteUInt16BigEndian(body, (ushort)NxActionSubtype.ResubmitTable);
        BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(2), inPort);
        body[4] = table;
        return OfpAction.VendorAction(OfpConstants.NiciraVendorId, body);
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public void WhatTheModelCannotHold_IsBadArgument(string what, OfpAction[] actions)
    {
        Assert.False(Of10Actions.TryDecode(WireOf(actions), 0, out _, out _, out var error), what);
        Assert.Equal(OfpError.BadAction(OfpBadActionCode.BadArgument), error);
    }

    [Fact]
    public void ATrailingResubmit_IsTheFlowsGotoTable_OnlyInAFlowMod()
    {
        var model = Decode10(WireOf(OfpAction.Nicira(NxActionSubtype.DecTtl), OfpAction.Output(2), OfpAction.NxResubmitTable(3)), out var gotoTable);
        Assert.Equal([OfAction.DecNwTtl(), OfAction.Output(2)], model);
        Assert.Equal((byte)3, gotoTable);
        Assert.Empty(Decode10(WireOf(OfpAction.NxResubmitTable(253)), out gotoTable));
        Assert.Equal((byte)253, gotoTable);

        // A bucket's actions stand for no flow: no goto-table, and no resubmit.
        Assert.False(Of10Actions.TryDecode(WireOf(OfpAction.NxResubmitTable(3)), out _, out var error));
        Assert.Equal(OfpError.BadAction(OfpBadActionCode.BadArgument), error);
        // A packet-out's run through the pipeline (Open vSwitch's): a resubmit in either form, anywhere, is the model's.
        Assert.True(Of10Actions.TryDecodePacketOut(WireOf(OfpAction.NxResubmitTable(3), OfpAction.Output(2), Resubmit(4, 0),
                                                          OfpAction.VendorAction(OfpConstants.NiciraVendorId, new byte[] { 0x00, 0x01, 0x00, 0x05, 0, 0, 0, 0 })),
                                                   out var po, out error), error.ToString());
        Assert.Equal([OfAction.Resubmit(3), OfAction.Output(2), OfAction.Resubmit(0, 4), OfAction.Resubmit(0xff, 5)], po.ToArray());
        Assert.False(Of10Actions.TryDecodePacketOut(WireOf(OfpAction.NxResubmitTable(0xff)), out _, out error)); // resubmit(,)
        Assert.Equal(OfpError.BadAction(OfpBadActionCode.BadArgument), error);
    }

    [Fact]
    public void AnyOtherResubmitAndAnExit_InAFlowMod_AreTheModels_AsIn13()
    {
        var nxResubmit = OfpAction.VendorAction(OfpConstants.NiciraVendorId, new byte[] { 0x00, 0x01, 0x00, 0x05, 0, 0, 0, 0 });
        var exit = OfpAction.VendorAction(OfpConstants.NiciraVendorId, new byte[] { 0x00, 0x11, 0, 0, 0, 0, 0, 0 });
        var model = Decode10(WireOf(OfpAction.NxResubmitTable(0), OfpAction.Output(1), Resubmit(1, 2), nxResubmit, exit,
                                    OfpAction.NxResubmitTable(1), OfpAction.NxResubmitTable(3)), out var gotoTable);
        // The last, to a later table with the packet's own in_port, is still the flow's goto-table.
        Assert.Equal([OfAction.Resubmit(0), OfAction.Output(1), OfAction.Resubmit(2, 1), OfAction.Resubmit(0xff, 5), OfAction.Exit(),
                      OfAction.Resubmit(1)], model);
        Assert.Equal((byte)3, gotoTable);
        // A bucket's list looks nothing up (NXAST_RESUBMIT stays an action it does not take); it takes an exit.
        Assert.False(Of10Actions.TryDecode(WireOf(nxResubmit), out _, out var error));
        Assert.Equal(OfpError.BadAction(OfpBadActionCode.BadVendorType), error);
        Assert.True(Of10Actions.TryDecode(WireOf(OfpAction.Output(1), exit), out var bucket, out error), error.ToString());
        Assert.Equal([OfAction.Output(1), OfAction.Exit()], bucket.ToArray());
    }

    /// <summary>A note (ofp-actions.at's note:11.e9.9a.ad.67.f3) is kept as it came and written back byte for byte.</summary>
    [Fact]
    public void ANote_IsKept_AndWrittenBackAsItCame()
    {
        var wire = OfpAction.VendorAction(OfpConstants.NiciraVendorId, Convert.FromHexString("000811e99aad67f3"));
        Assert.True(Of10Actions.TryDecode([wire], out var actions, out var error), error.ToString());
        Assert.Equal([OfAction.Note([0x11, 0xe9, 0x9a, 0xad, 0x67, 0xf3])], actions.ToArray());
        Assert.Equal(1, Of10Actions.ToOfp(actions.Span[0], out var back, out _));
        byte[] a = new byte[wire.EncodedSize], b = new byte[back.EncodedSize];
        wire.Encode(a);
        back.Encode(b);
        Assert.Equal(Convert.ToHexString(a), Convert.ToHexString(b));
        Assert.Equal("FFFF001000002320000811E99AAD67F3", Convert.ToHexString(b));
    }

    /// <summary>
    /// ofp-actions.at's controller(reason=invalid_ttl,max_len=1234,id=5678) is NXAST_CONTROLLER, read into the model's
    /// controller action and written back byte for byte; 1.4's reasons (3, action_set) are kept as they came, and a byte
    /// past packet_out (6), which names no reason, is BAD_ARGUMENT.
    /// </summary>
    [Fact]
    public void AControllerAction_IsKept_AndWrittenBackAsItCame()
    {
        var wire = OfpAction.VendorAction(OfpConstants.NiciraVendorId, Convert.FromHexString("001404d2162e0200"));
        Assert.True(Of10Actions.TryDecode([wire], out var actions, out var error), error.ToString());
        Assert.Equal([OfAction.Controller(1234, 2, 5678)], actions.ToArray());
        Assert.Equal(1, Of10Actions.ToOfp(actions.Span[0], out var back, out _));
        byte[] b = new byte[back.EncodedSize];
        back.Encode(b);
        Assert.Equal("FFFF001000002320001404D2162E0200", Convert.ToHexString(b));
        var actionSet = OfpAction.VendorAction(OfpConstants.NiciraVendorId, Convert.FromHexString("001404d2162e0300"));
        Assert.True(Of10Actions.TryDecode([actionSet], out actions, out error), error.ToString());
        Assert.Equal([OfAction.Controller(1234, 3, 5678)], actions.ToArray());
        var past = OfpAction.VendorAction(OfpConstants.NiciraVendorId, Convert.FromHexString("001404d2162e0600"));
        Assert.False(Of10Actions.TryDecode([past], out _, out error));
        Assert.Equal(OfpError.BadAction(OfpBadActionCode.BadArgument), error);
    }

    [Fact]
    public void UnknownAndMalformedNiciraActions_GetTheirErrors()
    {
        static OfpError Error(byte[] body)
        {
            Assert.False(Of10Actions.TryDecode([OfpAction.VendorAction(OfpConstants.NiciraVendorId, body)], 0, out _, out _, out var error));
            return error;
        }
        Assert.Equal(OfpError.BadAction(OfpBadActionCode.BadVendorType), Error([0x7f, 0x00, 0, 0, 0, 0, 0, 0]));       // no such subtype
        Assert.Equal(OfpError.BadAction(OfpBadActionCode.BadLen), Error([]));
        Assert.Equal(OfpError.BadAction(OfpBadActionCode.BadLen), Error([0x00, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
        Assert.Equal(OfpError.BadAction(OfpBadActionCode.BadLen), Error([0x00, 0x09, 0, 0, 0, 0, 0, 0]));
        Assert.False(Of10Actions.TryDecode([OfpAction.VendorAction(0x005c16c7, new byte[8])], 0, out _, out _, out var other));
        Assert.Equal(OfpError.BadAction(OfpBadActionCode.BadVendor), other);
    }

    /// <summary>
    /// NXAST_SAMPLE, SAMPLE2 and SAMPLE3 as Open vSwitch's decode_NXAST_RAW_SAMPLE* take them: the fields read, the form
    /// kept (written back byte for byte); probability 0 BAD_ARGUMENT; SAMPLE3's zeros not zero NXBRC_MUST_BE_ZERO
    /// (OpenFlow 1.0: BAD_ARGUMENT), its direction past egress BAD_ARGUMENT; a wrong length BAD_LEN.
    /// </summary>
    [Fact]
    public void SampleActions_DecodeAndEncodeAsOpenVswitch()
    {
        static OfpError Error(string hex)
        {
            Assert.False(Of10Actions.TryDecode([OfpAction.VendorAction(OfpConstants.NiciraVendorId, Convert.FromHexString(hex))], 0, out _, out _, out var error));
            return error;
        }
        static OfAction Decode(string hex, string? writtenBack = null)
        {
            var wire = OfpAction.VendorAction(OfpConstants.NiciraVendorId, Convert.FromHexString(hex));
            Assert.True(Of10Actions.TryDecode([wire], out var actions, out var error), error.ToString());
            var a = Assert.Single(actions.ToArray());
            // written back as it came
            Assert.Equal(1, Of10Actions.ToOfp(a, out var back, out _));
            byte[] b = new byte[back.EncodedSize];
            back.Encode(b);
            Assert.Equal("FFFF" + (8 + hex.Length / 2).ToString("X4") + "00002320" + (writtenBack ?? hex).ToUpperInvariant(), Convert.ToHexString(b));
            return a;
        }
        var s1 = Decode("001dffff00000001000000020000000" + "3");
        Assert.Equal(OfAction.Sample(65535, 1, 2, 3), s1);
        var s2 = Decode("0026000a0000000100000002000000030005000000000000");
        Assert.Equal(OfAction.Sample(10, 1, 2, 3, 5, 0, form: 1), s2);
        // SAMPLE2's direction byte is not read (written back 0, as encode_SAMPLE2 writes the default direction)
        var s2dir = Decode("0026000a000000010000000200000003ffff010000000000", "0026000a000000010000000200000003ffff000000000000");
        Assert.Equal(0, s2dir.SampleDirection);
        var s3 = Decode("0029000a000000010000000200000003ffff010000000000");
        Assert.Equal(OfAction.Sample(10, 1, 2, 3, 0xffff, 1, form: 2), s3);
        Assert.Equal(OfpError.BadAction(OfpBadActionCode.BadArgument), Error("001d0000000000010000000200000003"));
        Assert.Equal(OfpError.BadAction(OfpBadActionCode.BadArgument), Error("00290001000000010000000200000003ffff030000000000"));
        Assert.Equal(OfpError.BadAction(OfpBadActionCode.BadLen), Error("001d000100000001"));
        Assert.Equal(OfpError.BadAction(OfpBadActionCode.BadLen), Error("00260001000000010000000200000003"));
        Error("00290001000000010000000200000003ffff000000000001"); // zeros not zero: refused
        // The model's form: a direction or a sampling port given to a plain sample writes the least form that carries it.
        Assert.Equal(NxActionSubtype.Sample3, Of10Actions.SampleNx(OfAction.Sample(1, 2, 3, 4, 0xffff, 2)).Subtype);
        Assert.Equal(NxActionSubtype.Sample2, Of10Actions.SampleNx(OfAction.Sample(1, 2, 3, 4, 7, 0)).Subtype);
        Assert.Equal(NxActionSubtype.Sample, Of10Actions.SampleNx(OfAction.Sample(1, 2, 3, 4)).Subtype);
    }

    /// <summary>
    /// Seeded random lists of Nicira actions, the switch's and ovs-ofctl's with bytes and lengths mutated: each list
    /// translates or is refused with a bad-action error, and none throws.
    /// </summary>
    [Fact]
    public void MutatedNiciraActionLists_TranslateOrGetAnError_NeverThrow()
    {
        const int seed = 1127;
        var rng = new Random(seed);
        var pool = NiciraWritten().Select(a => Of10Actions.ToOfp(a, out var w, out _) > 0 ? w : default)
            .Append(RegLoad(NxIpv6Src, 64, 64, 2)).Append(OfpAction.NxResubmitTable(2)).Append(OfpAction.NxRegLoad2([0x00, 0x01, 0x3a, 0x01, 5]))
            .Where(a => a.Type == OfpActionType.Vendor).ToArray();
        int translated = 0, refused = 0;
        for (int i = 0; i < 5_000; i++)
        {
            var list = new List<OfpAction>();
            for (int k = rng.Next(1, 5); k > 0; k--)
            {
                byte[] body = pool[rng.Next(pool.Length)].VendorBody.ToArray();
                if (rng.Next(3) == 0) Array.Resize(ref body, Math.Max(0, body.Length + 8 * rng.Next(-1, 2)));
                for (int m = rng.Next(0, 3); m > 0 && body.Length > 0; m--) body[rng.Next(body.Length)] = (byte)rng.Next(256);
                list.Add(OfpAction.VendorAction(OfpConstants.NiciraVendorId, body));
            }
            if (Of10Actions.TryDecode(list, 0, out _, out _, out var error))
            {
                translated++;
            }
            else
            {
                // Bad actions and Open vSwitch's NX1.0 errors: OFPBMC_BAD_FIELD (0,263), NXBRC_MUST_BE_ZERO (1,515), BAD_WILDCARDS
                // (1,262), BAD_SET_TYPE, _LEN, _ARGUMENT (1,523-525), NXBAC_BAD_CONJUNCTION (2,526), CONTROLLER2's property errors.
                Assert.True((error.Type == OfpErrorType.BadAction && !error.Nicira) || error == OfpError.Nx(OfpErrorType.HelloFailed, 263)
                            || (error.Nicira && error.Type == OfpErrorType.BadRequest && error.Code is 262 or 515 or 523 or 524 or 525)
                            || (error.Nicira && error.Type == OfpErrorType.BadAction && error.Code == 526)
                            || (error.Nicira && (ushort)error.Type is 13 or 14),
                            $"seed {seed} round {i}: {error}");
                refused++;
            }
        }
        Assert.True(translated > 200 && refused > 500, $"translated {translated}, refused {refused}");
    }
}
