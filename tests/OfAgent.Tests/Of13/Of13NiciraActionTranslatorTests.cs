using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;
using Of10Actions = Softswitch.OfAgent.Of10.Translate.ActionTranslator;
using Of13Actions = Softswitch.OfAgent.Of13.Translate.ActionTranslator;
using Of13FlowMods = Softswitch.OfAgent.Of13.Translate.FlowModTranslator;
using MatchTranslatorFields = Softswitch.OfAgent.Of13.Translate.MatchTranslator;

namespace Softswitch.OfAgent.Tests.Of13;

/// <summary>
/// Nicira's experimenter actions in OpenFlow 1.3 flow-mods: the same model actions OpenFlow 1.0's vendor actions give,
/// resubmits, exits and the register actions wherever they stand in a flow's apply-actions, and what the switch cannot
/// run refused with the error Open vSwitch would give.
/// </summary>
public sealed class Of13NiciraActionTranslatorTests
{
    private static Ofp13Action Nx(NxAction nx) => Ofp13Action.Nicira(nx);

    public static TheoryData<string, NxAction, OfAction> Served => new()
    {
        { "set_tunnel", new(NxActionSubtype.SetTunnel, Arg: 0x99), OfAction.SetTunnel(0x99) },
        { "set_tunnel64", new(NxActionSubtype.SetTunnel64, Arg: 0x1_2345_6789), OfAction.SetTunnel(0x1_2345_6789) },
        { "set_queue", new(NxActionSubtype.SetQueue, Arg: 3), OfAction.SetQueue(3) },
        { "dec_ttl", new(NxActionSubtype.DecTtl), OfAction.DecNwTtl() },
        { "dec_ttl(7,9)", NxAction.DecTtlIds([7, 9]), OfAction.DecNwTtl([7, 9]) },
        { "push_mpls", new(NxActionSubtype.PushMpls, Arg: 0x8847), OfAction.PushMpls(0x8847) },
        { "pop_mpls", new(NxActionSubtype.PopMpls, Arg: 0x0800), OfAction.PopMpls(0x0800) },
        { "set_mpls_ttl", new(NxActionSubtype.SetMplsTtl, Arg: 9), OfAction.SetMplsTtl(9) },
        { "dec_mpls_ttl", new(NxActionSubtype.DecMplsTtl), OfAction.DecMplsTtl() },
        { "load:0x3f->NXM_NX_IP_TTL[]", new(NxActionSubtype.RegLoad, FieldHeader: 0x00013a01, Value: 0x3f, Mask: 0xff), OfAction.SetNwTtl(0x3f).WrittenAs(OfAction.LoadFormRegLoad) },
        { "set_field:0x5->tun_id (REG_LOAD2)", new(NxActionSubtype.RegLoad2, FieldHeader: 0x00012008, Value: 5, Mask: ulong.MaxValue), OfAction.SetTunnel(5).WrittenAs(OfAction.LoadFormRegLoad2) },
    };

    [Theory]
    [MemberData(nameof(Served))]
    public void ANiciraAction_IsTheModelActionOneZeroMakesOfIt_InApplyAndWriteActions(string text, NxAction nx, OfAction expected)
    {
        Assert.True(Of13Actions.TryToOf([Nx(nx), Ofp13Action.Output(2)], out var actions, out var error), $"{text}: {error}");
        Assert.Equal([expected, OfAction.Output(2)], actions);
        var fm = new Ofp13FlowMod { BufferId = Ofp13.NoBuffer, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny };
        fm.Instructions.Add(new Ofp13Instruction(Ofp13InstructionType.WriteActions, Actions: [Nx(nx)]));
        Assert.True(Of13FlowMods.TryInstructions(fm, out var ins, out error), $"{text}: {error}");
        Assert.Equal([expected], ins.WriteActions!.Value.ToArray());
    }

    [Fact]
    public void TwoRegLoadsOfAnIpv6AddressHalves_AreOneSetField_AndAHalfAloneIsALoadOfThoseBits()
    {
        var low = new NxAction(NxActionSubtype.RegLoad, FieldHeader: 0x00012610, Value: 1, Mask: ulong.MaxValue);
        var high = new NxAction(NxActionSubtype.RegLoad, FieldHeader: 0x00012610, Value: (UInt128)0x2001_0db8UL << 96, Mask: (UInt128)ulong.MaxValue << 64);
        Assert.True(Of13Actions.TryToOf([Nx(low), Nx(high)], out var actions, out var error), error.ToString());
        Assert.Equal([OfAction.SetIpv6Src(((UInt128)0x2001_0db8UL << 96) | 1).WrittenAs(OfAction.LoadFormRegLoad)], actions);
        // Open vSwitch takes each REG_LOAD as a masked set_field: half an address alone is a load of that half.
        var half = OfAction.FieldLoad(Field(OfField.Ipv6Src, 0, 64), 1, OfAction.LoadFormRegLoad);
        Assert.True(Of13Actions.TryToOf([Nx(low), Ofp13Action.Output(1)], out actions, out error), error.ToString());
        Assert.Equal([half, OfAction.Output(1)], actions);
        Assert.True(Of13Actions.TryToOf([Nx(low)], out actions, out error), error.ToString());
        Assert.Equal([half], actions);
    }

    /// <summary>
    /// Loads of the fields Open vSwitch does not write are refused with its errors (decode_NXAST_RAW_REG_LOAD and
    /// _REG_LOAD2): OXM_OF_PBB_ISID names no field it knows (BAD_SET_TYPE), OXM_OF_MPLS_BOS is read-only there
    /// (BAD_SET_ARGUMENT), whole or in part, REG_LOAD or REG_LOAD2. The set-fields of both, OpenFlow's own, are taken.
    /// </summary>
    [Fact]
    public void LoadsOfPbbIsidAndMplsBos_AreRefusedAsOpenVswitchRefusesThem_TheSetFieldsAreTaken()
    {
        (NxAction Load, ushort Code)[] refused =
        [
            (new(NxActionSubtype.RegLoad, FieldHeader: 0x80004a03, Value: 0x123456, Mask: 0xffffff), Ofp13Codes.ActionBadSetType),
            (new(NxActionSubtype.RegLoad, FieldHeader: 0x80004a03, Value: 0x56, Mask: 0xff), Ofp13Codes.ActionBadSetType),
            (new(NxActionSubtype.RegLoad2, FieldHeader: 0x80004a03, Value: 0x123456, Mask: 0xffffff), Ofp13Codes.ActionBadSetType),
            (new(NxActionSubtype.RegLoad, FieldHeader: 0x80004801, Value: 1, Mask: 1), Ofp13Codes.ActionBadSetArgument),
            (new(NxActionSubtype.RegLoad2, FieldHeader: 0x80004801, Value: 1, Mask: 1), Ofp13Codes.ActionBadSetArgument),
        ];
        foreach (var (load, code) in refused)
        {
            Assert.False(Of13Actions.TryToOf([Nx(load), Ofp13Action.Output(2)], out _, out var error), load.ToString());
            Assert.Equal(Ofp13Error.BadAction(code), error);
            Assert.False(Of10Actions.TryDecode([Vendor10(load)], 0, out _, out var error10), load.ToString());
            Assert.Equal(OfpError.Nx(OfpErrorType.BadRequest, code == Ofp13Codes.ActionBadSetType ? (ushort)523 : (ushort)525), error10);
        }
        Assert.True(Of13Actions.TryToOf([Ofp13Action.SetField(Ofp13Oxm.Exact(MatchTranslatorFields.PbbIsid, 0x123456)),
                                         Ofp13Action.SetField(Ofp13Oxm.Exact(MatchTranslatorFields.MplsBos, 1))], out var actions, out var e), e.ToString());
        Assert.Equal([OfAction.SetPbbIsid(0x123456), OfAction.SetMplsBos(1)], actions);
    }

    /// <summary>
    /// A REG_LOAD2 whose value has 1-bits outside its mask is the match error Open vSwitch's nx_pull_entry gives:
    /// OFPBMC_BAD_WILDCARDS, in 1.0 its NX1.0(1,262) inside NXET_VENDOR.
    /// </summary>
    [Fact]
    public void ARegLoad2WithValueBitsOutsideItsMask_IsBadWildcards()
    {
        // set_field:0x6/0x3->reg0 on the wire as NXAST_REG_LOAD2 (NXM_NX_REG0_W, value 6, mask 3).
        byte[] body = Convert.FromHexString("0021" + "00010108" + "00000006" + "00000003" + "0000");
        Assert.False(NxAction.TryDecodeBody(body, out _, out var nxError));
        Assert.Equal(NxActionError.BadWildcards, nxError);
        var w = new Ofp13Writer();
        w.U16(0xffff);
        w.U16((ushort)(8 + body.Length));
        w.U32(0x00002320);
        w.Bytes(body);
        Assert.False(Ofp13Actions.TryDecode(w.ToArray(), new List<Ofp13Action>(), out var error));
        Assert.Equal(Ofp13Error.BadMatch(Ofp13Codes.MatchBadWildcards), error);
        Assert.False(NxAction.TryDecode(OfpAction.VendorAction(OfpConstants.NiciraVendorId, body), out _, out var error10));
        Assert.Equal(OfpError.Nx(OfpErrorType.BadRequest, 262), error10);
        Assert.Equal(new Nx10Error(1, 262, true), (Nx10Error)error10);
    }

    private static OfpAction Vendor10(NxAction nx)
    {
        byte[] body = new byte[nx.BodySize];
        nx.WriteBody(body);
        return OfpAction.VendorAction(OfpConstants.NiciraVendorId, body);
    }

    public static TheoryData<string, NxAction, ushort> Refused => new()
    {
        // A field the switch does not know (OFPXMC_PKT_REGS field 38), a vlan_tci load2 under a mask of two runs, a move
        // past its field's width, a move into in_port (Open vSwitch writes it; this switch does not), output_reg past its width.
        { "REG_LOAD2 of class 0x8001 field 38", new(NxActionSubtype.RegLoad2, FieldHeader: 0x80014c08, Value: 1, Mask: ulong.MaxValue), Ofp13Codes.ActionBadSetType },
        { "set_field:0x1001/0x1f0f->vlan_tci", new(NxActionSubtype.RegLoad2, FieldHeader: 0x00000802, Value: 0x1001, Mask: 0x1f0f), Ofp13Codes.ActionBadArgument },
        { "move:NXM_NX_REG0[24..39]->NXM_NX_REG1[0..15]", new(NxActionSubtype.RegMove, FieldHeader: 0x00010204, SrcHeader: 0x00010004, Bits: 16, SrcOfs: 24), Ofp13Codes.ActionBadSetLen },
        { "move:NXM_NX_REG0[0..15]->NXM_OF_IN_PORT[]", new(NxActionSubtype.RegMove, FieldHeader: 0x00000002, SrcHeader: 0x00010004, Bits: 16), Ofp13Codes.ActionBadSetArgument },
        { "output:NXM_NX_REG0[30..33]", new(NxActionSubtype.OutputReg, SrcHeader: 0x00010004, Bits: 4, SrcOfs: 30, MaxLen: 0xffff), Ofp13Codes.ActionBadSetLen },
        { "load of part of ip_tos's ECN bits", new(NxActionSubtype.RegLoad, FieldHeader: 0x00000a01, Value: 1, Mask: 0x3), Ofp13Codes.ActionBadArgument },
    };

    /// <summary>
    /// A note (ofp-actions.at's note:11.e9.9a.ad.67.f3) is kept as it came and written back the same, in apply-actions, a
    /// packet-out's or a bucket's list; write-actions holding one is OFPBAC_BAD_TYPE (Open vSwitch's action set takes none).
    /// </summary>
    [Fact]
    public void ANote_IsKept_WrittenBackTheSame_AndRefusedInWriteActions()
    {
        byte[] bytes = [0x11, 0xe9, 0x9a, 0xad, 0x67, 0xf3];
        var note = Nx(new(NxActionSubtype.Note, Note: bytes));
        foreach (bool apply in new[] { true, false })
        {
            Assert.True(Of13Actions.TryToOf([note, Ofp13Action.Output(2)], apply, out var actions, out var error), error.ToString());
            Assert.Equal([OfAction.Note(bytes), OfAction.Output(2)], actions);
            var back = new List<Ofp13Action>();
            Of13Actions.ToWire(actions, false, back);
            Assert.Equal(NxActionSubtype.Note, back[0].Nx.Subtype);
            Assert.Equal(bytes, back[0].Nx.Note);
        }
        Assert.True(Of13Actions.NotInActionSet([OfAction.Note(bytes)]));
        // controller(reason=invalid_ttl,max_len=1234,id=5678): in apply-actions, written back the same; not in an action set.
        var controller = new NxAction(NxActionSubtype.Controller, Arg: 5678, Table: 2, MaxLen: 1234);
        Assert.True(Of13Actions.TryToOf([Nx(controller)], true, out var served, out var err), err.ToString());
        Assert.Equal([OfAction.Controller(1234, 2, 5678)], served);
        var written = new List<Ofp13Action>();
        Of13Actions.ToWire(served, false, written);
        Assert.Equal(controller, Assert.Single(written).Nx);
        Assert.True(Of13Actions.NotInActionSet([OfAction.Controller(1234, 2, 5678)]));
        Assert.False(Of13Actions.NotInActionSet([OfAction.Output(2)]));
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public void WhatTheSwitchCannotRun_IsRefusedWithOpenVswitchsCode(string text, NxAction nx, ushort code)
    {
        Assert.False(Of13Actions.TryToOf([Nx(nx)], out _, out var error), text);
        Assert.Equal(Ofp13Error.BadAction(code), error);
    }

    [Fact]
    public void AMoveOfAFieldTheSwitchDoesNotKnow_IsBadField_AsOpenVswitchsNxPullHeader()
    {
        var move = new NxAction(NxActionSubtype.RegMove, FieldHeader: 0x00010004, SrcHeader: 0x00013e04, Bits: 16); // NXM_NX_TUN_IPV4_SRC
        Assert.False(Of13Actions.TryToOf([Nx(move)], true, out _, out var error));
        Assert.Equal(Ofp13Error.BadMatch(Ofp13Codes.MatchBadField), error);
    }

    private static OfSubfield Field(OfField f, int ofs, int bits) => new(f, ofs, bits);

    public static TheoryData<string, Ofp13Action, OfAction> Registers => new()
    {
        { "load:0x1->NXM_NX_REG0[]", Nx(new(NxActionSubtype.RegLoad, FieldHeader: 0x00010004, Value: 1, Mask: 0xffffffff)),
          OfAction.FieldLoad(Field(OfField.Reg0, 0, 32), 1, OfAction.LoadFormRegLoad) },
        { "load:0x1->NXM_NX_REG15[8..15]", Nx(new(NxActionSubtype.RegLoad, FieldHeader: 0x00011e04, Value: 0x100, Mask: 0xff00)),
          OfAction.FieldLoad(Field(OfField.Reg15, 8, 8), 1, OfAction.LoadFormRegLoad) },
        { "set_field:0x1->xreg0 (REG_LOAD2)", Nx(new(NxActionSubtype.RegLoad2, FieldHeader: 0x80010008, Value: 1, Mask: ulong.MaxValue)),
          OfAction.FieldLoad(Field(OfField.XReg0, 0, 64), 1, OfAction.LoadFormRegLoad2) },
        { "set_field:0x7->reg3", Ofp13Action.SetField(new Ofp13Oxm((byte)(Ofp13Match.NxReg0 + 3), false, 7, uint.MaxValue)),
          OfAction.FieldLoad(Field((OfField)3, 0, 32), 7) },
        { "set_field:0x9->xxreg1", Ofp13Action.SetField(new Ofp13Oxm((byte)(Ofp13Match.NxXxReg0 + 1), false, 9, UInt128.MaxValue)),
          OfAction.FieldLoad(Field(OfField.XXReg0 + 1, 0, 128), 9) },
        { "move:NXM_OF_ETH_SRC[]->NXM_NX_XXREG1[0..47]", Nx(new(NxActionSubtype.RegMove, FieldHeader: 0x0001e010, SrcHeader: 0x00000406, Bits: 48)),
          OfAction.FieldMove(Field(OfField.EthSrc, 0, 48), Field(OfField.XXReg0 + 1, 0, 48)) },
        { "output:NXM_NX_REG0[0..15]", Nx(new(NxActionSubtype.OutputReg, SrcHeader: 0x00010004, Bits: 16, MaxLen: 0xffff)),
          OfAction.OutputField(Field(OfField.Reg0, 0, 16), 0xffff) },
    };

    [Theory]
    [MemberData(nameof(Registers))]
    public void ARegisterAction_IsServedInApplyActions_WrittenBackAsItCame_InWriteActionsAsOpenVSwitchTakesIt(string text, Ofp13Action wire, OfAction expected)
    {
        Assert.True(Of13Actions.TryToOf([wire], true, out var actions, out var error), $"{text}: {error}");
        Assert.Equal([expected], actions);
        var back = new List<Ofp13Action>();
        Of13Actions.ToWire(actions, false, back);
        Assert.Equal([wire], back);
        // In write-actions a load or a move is taken (Open vSwitch's action set holds them); output:REG is not an action
        // set's (OFPBAC_BAD_TYPE, from the flow-mod's check).
        Assert.True(Of13Actions.TryToOf([wire], false, out actions, out error), $"{text}: {error}");
        Assert.Equal([expected], actions);
        Assert.Equal(expected.Type == OfActionType.OutputField, Of13Actions.NotInActionSet(actions));
        // In a packet-out only the pipeline walk of a flow runs them.
        Assert.False(Of13Actions.TryPacketOutToOf([wire], out _, out error), text);
        Assert.Equal(Ofp13Error.BadAction(Ofp13Codes.ActionBadArgument), error);
    }

    [Fact]
    public void AMaskedSetField_IsTakenUnderOpenFlow15Only_AsALoadOfOneRunOfBits()
    {
        // ovs-ofctl -O OpenFlow15 sends load:0x1->NXM_NX_REG0[2] as OFPAT_SET_FIELD reg0=0x4/0x4.
        var reg0Bit2 = Ofp13Action.SetField(new Ofp13Oxm(Ofp13Match.NxReg0, true, 0x4, 0x4));
        Assert.True(Of13Actions.TryToOf([reg0Bit2], true, out var actions, out var error, maskedSetField: true), error.ToString());
        Assert.Equal([OfAction.FieldLoad(Field(OfField.Reg0, 2, 1), 1)], actions);
        // Written back as Open vSwitch writes a load of part of a register (ovs-ofctl prints the same load:).
        var back = new List<Ofp13Action>();
        Of13Actions.ToWire(actions, false, back);
        Assert.Equal(Ofp13ActionType.Experimenter, Assert.Single(back).Type);
        // A whole-width mask is the plain set-field, of a register and of a packet field.
        Assert.True(Of13Actions.TryToOf([Ofp13Action.SetField(new Ofp13Oxm(Ofp13Match.NxReg0, true, 7, uint.MaxValue))], true, out actions, out _, maskedSetField: true));
        Assert.Equal([OfAction.FieldLoad(Field(OfField.Reg0, 0, 32), 7)], actions);
        var ipDst = new Ofp13Oxm(12 /* OFPXMT_OFB_IPV4_DST */, true, 0x0a000001, uint.MaxValue);
        Assert.True(Of13Actions.TryToOf([Ofp13Action.SetField(ipDst)], true, out actions, out _, maskedSetField: true));
        Assert.True(Of13Actions.TryToOf([Ofp13Action.SetField(ipDst with { HasMask = false })], true, out var plain, out _));
        Assert.Equal(plain, actions);
        // Part of a packet field under one run of bits: a load of those bits (Open vSwitch's masked set_field), which
        // 1.5 writes back as the same masked set-field.
        var tcpSrcBit0 = new Ofp13Oxm(13 /* OFPXMT_OFB_TCP_SRC */, true, 0x1, 0x1);
        Assert.True(Of13Actions.TryToOf([Ofp13Action.SetField(tcpSrcBit0)], true, out actions, out error, maskedSetField: true), error.ToString());
        Assert.Equal([OfAction.FieldLoad(Field(OfField.TcpSrc, 0, 1), 1)], actions);
        back.Clear();
        Of13Actions.ToWire(actions, false, back);
        Of13Actions.As15(back);
        Assert.Equal(Ofp13Action.SetField(tcpSrcBit0), Assert.Single(back));
        Assert.True(Of13Actions.TryToOf([Ofp13Action.SetField(ipDst with { Value = 0x63, Mask = 0xff })], true, out actions, out _, maskedSetField: true));
        Assert.Equal([OfAction.FieldLoad(Field(OfField.Ipv4Dst, 0, 8), 0x63)], actions);
        // Refused: vlan_vid under two runs of bits (each would tag or strip), and any mask before 1.5.
        var vid = Ofp13Action.SetField(new Ofp13Oxm(6 /* OFPXMT_OFB_VLAN_VID */, true, 0x1001, 0x1f0f));
        Assert.False(Of13Actions.TryToOf([vid], true, out _, out error, maskedSetField: true));
        Assert.Equal(Ofp13Error.BadAction(Ofp13Codes.ActionBadSetArgument), error);
        Assert.False(Of13Actions.TryToOf([reg0Bit2], true, out _, out error));
        Assert.Equal(Ofp13Error.BadAction(Ofp13Codes.ActionBadSetArgument), error);
        // The codec reads the mask and writes it back.
        var w = new Ofp13Writer();
        Ofp13Actions.Encode(w, [reg0Bit2]);
        Assert.True(Ofp13Actions.TryDecode(w.ToArray(), new List<Ofp13Action>(), out _));
    }

    /// <summary>
    /// OpenFlow 1.5's masked set-field under a mask of several runs of bits (Open vSwitch's decode_ofpat_set_field keeps
    /// any mask of a writable field): a load per run, the low run first, the later ones joined to it; written back as Open
    /// vSwitch's encode_SET_FIELD writes it: up to 1.4 a REG_LOAD per run (set_field_to_nxast), in 1.5 the one masked
    /// set-field it was. In a flow, a packet-out and a bucket; before 1.5 still BAD_SET_ARGUMENT.
    /// </summary>
    [Fact]
    public void AMaskedSetFieldOfSeveralRuns_IsALoadPerRun_AndGoesBackAsOpenVSwitchWritesIt()
    {
        const byte Joined = OfAction.LoadJoined;
        var reg0 = Ofp13Action.SetField(new Ofp13Oxm(Ofp13Match.NxReg0, true, 0x5, 0x5));
        var tcpSrc = Ofp13Action.SetField(new Ofp13Oxm(13 /* OFPXMT_OFB_TCP_SRC */, true, 0x0b0a, 0x0f0f));
        var label = Ofp13Action.SetField(new Ofp13Oxm(28 /* OFPXMT_OFB_IPV6_FLABEL */, true, 0x10001, 0xf000f));
        Ofp13Action[] wire = [reg0, tcpSrc, label, Ofp13Action.Output(2)];
        Assert.True(Of13Actions.TryToOf(wire, true, out var actions, out var error, maskedSetField: true), error.ToString());
        Assert.Equal([OfAction.FieldLoad(Field(OfField.Reg0, 0, 1), 1), OfAction.FieldLoad(Field(OfField.Reg0, 2, 1), 1, Joined),
                      OfAction.FieldLoad(Field(OfField.TcpSrc, 0, 4), 0xa), OfAction.FieldLoad(Field(OfField.TcpSrc, 8, 4), 0xb, Joined),
                      OfAction.FieldLoad(Field(OfField.Ipv6Label, 0, 4), 1), OfAction.FieldLoad(Field(OfField.Ipv6Label, 16, 4), 1, Joined),
                      OfAction.Output(2)], actions);
        // 1.3 and 1.4: load:0x1->NXM_NX_REG0[0],load:0x1->NXM_NX_REG0[2],load:0xa->NXM_OF_TCP_SRC[0..3],... (REG_LOADs).
        var back = new List<Ofp13Action>();
        Of13Actions.ToWire(actions, false, back);
        Assert.Equal([Nx(new(NxActionSubtype.RegLoad, FieldHeader: 0x0001_0004, Value: 1, Mask: 1)),
                      Nx(new(NxActionSubtype.RegLoad, FieldHeader: 0x0001_0004, Value: 4, Mask: 4)),
                      Nx(new(NxActionSubtype.RegLoad, FieldHeader: 0x0000_1202, Value: 0xa, Mask: 0xf)),
                      Nx(new(NxActionSubtype.RegLoad, FieldHeader: 0x0000_1202, Value: 0xb00, Mask: 0xf00)),
                      Nx(new(NxActionSubtype.RegLoad, FieldHeader: 0x0001_3604, Value: 1, Mask: 0xf)),
                      Nx(new(NxActionSubtype.RegLoad, FieldHeader: 0x0001_3604, Value: 0x10000, Mask: 0xf0000)),
                      Ofp13Action.Output(2)], back);
        // ...which a 1.3 flow-mod takes back as the same runs, each a load of its own (as Open vSwitch takes each REG_LOAD).
        Assert.True(Of13Actions.TryToOf([.. back], true, out var reloaded, out error), error.ToString());
        Assert.Equal([OfAction.FieldLoad(Field(OfField.Reg0, 0, 1), 1, OfAction.LoadFormRegLoad), OfAction.FieldLoad(Field(OfField.Reg0, 2, 1), 1, OfAction.LoadFormRegLoad),
                      OfAction.FieldLoad(Field(OfField.TcpSrc, 0, 4), 0xa, OfAction.LoadFormRegLoad), OfAction.FieldLoad(Field(OfField.TcpSrc, 8, 4), 0xb, OfAction.LoadFormRegLoad),
                      OfAction.FieldLoad(Field(OfField.Ipv6Label, 0, 4), 1, OfAction.LoadFormRegLoad), OfAction.FieldLoad(Field(OfField.Ipv6Label, 16, 4), 1, OfAction.LoadFormRegLoad),
                      OfAction.Output(2)], reloaded);
        // 1.5: the masked set-fields as they came.
        back.Clear();
        Of13Actions.ToWire(actions, false, back, of15: true);
        Of13Actions.As15(back);
        Assert.Equal(wire, back);
        // A packet-out's and a bucket's (1.5).
        Assert.True(Of13Actions.TryPacketOutToOf([tcpSrc, Ofp13Action.Output(2)], out actions, out error, maskedSetField: true), error.ToString());
        Assert.Equal([OfAction.FieldLoad(Field(OfField.TcpSrc, 0, 4), 0xa), OfAction.FieldLoad(Field(OfField.TcpSrc, 8, 4), 0xb, Joined), OfAction.Output(2)], actions);
        Assert.True(Of13Actions.TryToOf([tcpSrc], out actions, out error, maskedSetField: true), error.ToString());
        Assert.Equal(2, actions.Length);
        // Before 1.5 a mask is BAD_SET_ARGUMENT, as it was.
        Assert.False(Of13Actions.TryToOf([tcpSrc], true, out _, out error));
        Assert.Equal(Ofp13Error.BadAction(Ofp13Codes.ActionBadSetArgument), error);
        // A value bit outside the mask (set_field:0xb1a/0xf0f->tcp_src on the wire) is the match error Open vSwitch's
        // nx_pull_entry answers: BAD_MATCH BAD_WILDCARDS.
        var w = new Ofp13Writer();
        Ofp13Actions.Encode(w, [tcpSrc]);
        byte[] bytes = w.ToArray();
        Assert.Equal(0x0a, bytes[9]);
        bytes[9] = 0x1a;
        Assert.False(Ofp13Actions.TryDecode(bytes, new List<Ofp13Action>(), out error));
        Assert.Equal(Ofp13Error.BadMatch(Ofp13Codes.MatchBadWildcards), error);
    }

    [Fact]
    public void APartialLoadOfAPacketField_IsTakenInAPacketOutAndABucket_ARegistersIsNot()
    {
        // load:0x1->NXM_OF_TCP_SRC[0], load:0x5->NXM_NX_IP_TTL[0..3] (Open vSwitch runs a packet-out's and a bucket's
        // actions through the pipeline, as a flow's).
        var tcpSrc = Ofp13Action.Nicira(new NxAction(NxActionSubtype.RegLoad, FieldHeader: 0x00001202, Value: 1, Mask: 1));
        var ttl = Ofp13Action.Nicira(new NxAction(NxActionSubtype.RegLoad, FieldHeader: 0x00013a01, Value: 5, Mask: 0xf));
        OfAction[] expected = [OfAction.FieldLoad(Field(OfField.TcpSrc, 0, 1), 1, OfAction.LoadFormRegLoad),
                               OfAction.FieldLoad(Field(OfField.NwTtl, 0, 4), 5, OfAction.LoadFormRegLoad), OfAction.Output(2)];
        Assert.True(Of13Actions.TryPacketOutToOf([tcpSrc, ttl, Ofp13Action.Output(2)], out var actions, out var error), error.ToString());
        Assert.Equal(expected, actions);
        Assert.True(Of13Actions.TryToOf([tcpSrc, ttl, Ofp13Action.Output(2)], out actions, out error), error.ToString());
        Assert.Equal(expected, actions);
        // 1.5's masked set-field of part of one: in a 1.5 packet-out and bucket.
        var ecn = Ofp13Action.SetField(new Ofp13Oxm(9 /* OFPXMT_OFB_IP_ECN */, true, 0x1, 0x1));
        Assert.True(Of13Actions.TryPacketOutToOf([ecn], out actions, out error, maskedSetField: true), error.ToString());
        Assert.Equal([OfAction.FieldLoad(Field(OfField.IpEcn, 0, 1), 1)], actions);
        Assert.True(Of13Actions.TryToOf([ecn], out actions, out error, maskedSetField: true), error.ToString());
        // A register's load stays a flow's.
        var reg0 = Ofp13Action.Nicira(new NxAction(NxActionSubtype.RegLoad, FieldHeader: 0x00010004, Value: 1, Mask: 1));
        Assert.False(Of13Actions.TryPacketOutToOf([reg0], out _, out error));
        Assert.Equal(Ofp13Error.BadAction(Ofp13Codes.ActionBadArgument), error);
    }

    private static Ofp13FlowMod FlowMod(byte table, params Ofp13Instruction[] ins)
    {
        var fm = new Ofp13FlowMod { TableId = table, BufferId = Ofp13.NoBuffer, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny };
        fm.Instructions.AddRange(ins);
        return fm;
    }

    private static Ofp13Instruction Apply(params Ofp13Action[] a) => new(Ofp13InstructionType.ApplyActions, Actions: [.. a]);

    private static NxAction Resubmit(byte table, ushort inPort = NxAction.InPortOwn) => new(NxActionSubtype.ResubmitTable, InPort: inPort, Table: table);

    [Fact]
    public void AResubmitAndAnExit_AreServedAnywhereInAFlowsApplyActions_AResubmitInWriteActionsAndPacketOutsToo()
    {
        Assert.True(Of13FlowMods.TryInstructions(FlowMod(3, Apply(Nx(Resubmit(1)), Ofp13Action.Output(2), Nx(Resubmit(7, inPort: 4)),
                                                                  Nx(new NxAction(NxActionSubtype.Resubmit, InPort: 5, Table: 0xff)),
                                                                  Nx(new NxAction(NxActionSubtype.Exit)))),
                                                 out var ins, out var error), error.ToString());
        Assert.Null(ins.GotoTable);
        Assert.Equal([OfAction.Resubmit(1), OfAction.Output(2), OfAction.Resubmit(7, 4), OfAction.Resubmit(0xff, 5), OfAction.Exit()],
                     ins.ApplyActions.ToArray());
        // Written back as Open vSwitch writes them: table 255 as NXAST_RESUBMIT (resubmit:PORT), the others RESUBMIT_TABLE.
        var wire = new List<Ofp13Action>();
        Of13Actions.ToWire(ins.ApplyActions.Span, false, wire);
        Assert.Equal([Nx(Resubmit(1)), Ofp13Action.Output(2), Nx(Resubmit(7, inPort: 4)), Nx(new NxAction(NxActionSubtype.Resubmit, InPort: 5, Table: 0xff)),
                      Nx(new NxAction(NxActionSubtype.Exit))], wire);

        foreach (var (what, fm) in new (string, Ofp13FlowMod)[]
        {
            ("resubmit(,): neither a port nor a table", FlowMod(0, Apply(Nx(Resubmit(0xff))))),
            ("resubmit(,) in write-actions", FlowMod(0, new Ofp13Instruction(Ofp13InstructionType.WriteActions, Actions: [Nx(Resubmit(0xff))]))),
        })
        {
            Assert.False(Of13FlowMods.TryInstructions(fm, out _, out error), what);
            Assert.Equal(Ofp13Error.BadAction(Ofp13Codes.ActionBadArgument), error);
        }
        // Open vSwitch's action set holds a resubmit: write_actions(resubmit(,1)), and resubmit(2,3) beside an output.
        Assert.True(Of13FlowMods.TryInstructions(FlowMod(0, new Ofp13Instruction(Ofp13InstructionType.WriteActions,
                                                                                  Actions: [Nx(Resubmit(1)), Ofp13Action.Output(2), Nx(Resubmit(3, inPort: 2))])),
                                                 out ins, out error), error.ToString());
        Assert.Equal([OfAction.Resubmit(1), OfAction.Output(2), OfAction.Resubmit(3, 2)], ins.WriteActions!.Value.ToArray());
        // An exit in write-actions is BAD_TYPE, as Open vSwitch refuses what its action set does not take; a packet-out's
        // or a bucket's list takes one (it ends the list there).
        Assert.False(Of13FlowMods.TryInstructions(FlowMod(0, new Ofp13Instruction(Ofp13InstructionType.WriteActions,
                                                                                   Actions: [Nx(new NxAction(NxActionSubtype.Exit))])), out _, out error));
        Assert.Equal(Ofp13Error.BadAction(Ofp13Codes.ActionBadType), error);
        Assert.True(Of13Actions.TryToOf([Ofp13Action.Output(1), Nx(new NxAction(NxActionSubtype.Exit)), Ofp13Action.Output(2)], out var outList, out error));
        Assert.Equal([OfAction.Output(1), OfAction.Exit(), OfAction.Output(2)], outList);
        // A packet-out's list runs through the pipeline (Open vSwitch's packet-out): its resubmit is taken; a bucket's
        // too (Open vSwitch's xlate_group_bucket runs it); resubmit(,) in neither.
        Assert.True(Of13Actions.TryPacketOutToOf([Nx(Resubmit(1)), Nx(new NxAction(NxActionSubtype.Resubmit, InPort: 5, Table: 0xff))], out outList, out error));
        Assert.Equal([OfAction.Resubmit(1), OfAction.Resubmit(0xff, 5)], outList);
        Assert.False(Of13Actions.TryPacketOutToOf([Nx(Resubmit(0xff))], out _, out error));
        Assert.Equal(Ofp13Error.BadAction(Ofp13Codes.ActionBadArgument), error);
        Assert.True(Of13Actions.TryToOf([Ofp13Action.Output(2), Nx(Resubmit(1))], out outList, out error));
        Assert.Equal([OfAction.Output(2), OfAction.Resubmit(1)], outList);
        Assert.False(Of13Actions.TryToOf([Nx(Resubmit(0xff))], out _, out error));
        Assert.Equal(Ofp13Error.BadAction(Ofp13Codes.ActionBadArgument), error);
    }

    [Fact]
    public void AOneThreeResubmitOrExit_IsShownToOneZero_AsOpenVswitchWritesIt()
    {
        foreach (var (action, body) in new (OfAction, string)[]
        {
            (OfAction.Resubmit(3), "000efff803000000"),       // resubmit(,3)
            (OfAction.Resubmit(7, 4), "000e000407000000"),    // resubmit(4,7)
            (OfAction.Resubmit(0xff, 5), "0001000500000000"), // resubmit:5
            (OfAction.Exit(), "0011000000000000"),             // exit
        })
        {
            Assert.Equal(1, Softswitch.OfAgent.Of10.Translate.ActionTranslator.ToOfp(action, out var wire, out _));
            Assert.Equal(Softswitch.OfWire.Of10.OfpActionType.Vendor, wire.Type);
            Assert.Equal(NxAction.VendorId, wire.Vendor);
            Assert.Equal(body, Convert.ToHexString(wire.VendorBody.Span).ToLowerInvariant());
        }
    }
}
