using System.Buffers.Binary;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;

namespace Softswitch.OfAgent.Tests.Of10;

/// <summary>
/// Open vSwitch's NXM flow format on an OpenFlow 1.0 connection, byte by byte: the connection's format and
/// flow_mod_table_id, NXT_FLOW_MOD's errors as Open vSwitch gives them (Nicira errors in OpenFlow 1.0), and
/// NXT_FLOW_REMOVED on a connection in the NXM format only.
/// </summary>
public sealed class NxmSessionTests
{
    private const byte TcpDst = 14, EthType = 5, IpProto = 10;

    private static NxFlowModFields Mod(ushort command, ushort flags = 0, ulong cookie = 0)
        => new(cookie, command, 0, 0, 100, 0xffffffff, 0xffff, (OfpFlowModFlags)flags, 0);

    private static byte[] FlowMod(uint xid, ushort command, Ofp13Oxm[] match, ushort flags = 0, ulong cookie = 0, params OfpAction[] actions)
        => Nx10.EncodeFlowMod(xid, Mod(command, flags, cookie), match, actions);

    private static async Task<byte[]> Reply(TestController c)
        => await c.ReceiveRawAsync() ?? throw new InvalidOperationException("no reply");

    /// <summary>Expects the NX1.0 error (type, code) for xid: OFPT_ERROR of type NXET_VENDOR, code 0, vendor 0x2320.</summary>
    private static async Task ExpectNxError(TestController c, uint xid, ushort type, ushort code)
    {
        byte[] e = await Reply(c);
        Assert.Equal((byte)OfpType.Error, e[1]);
        Assert.Equal(xid, BinaryPrimitives.ReadUInt32BigEndian(e.AsSpan(4)));
        Assert.Equal(Nx10Error.VendorErrorType, BinaryPrimitives.ReadUInt16BigEndian(e.AsSpan(8)));
        Assert.Equal(OfpConstants.NiciraVendorId, BinaryPrimitives.ReadUInt32BigEndian(e.AsSpan(12)));
        Assert.Equal((type, code), (BinaryPrimitives.ReadUInt16BigEndian(e.AsSpan(16)), BinaryPrimitives.ReadUInt16BigEndian(e.AsSpan(18))));
    }

    private static async Task ExpectError(TestController c, uint xid, OfpError error)
    {
        var e = await c.ReceiveAsync<OfpErrorMsg>();
        Assert.Equal(xid, e.Xid);
        Assert.Equal(error, e.Error);
    }

    private static Ofp13Oxm Exact(byte field, UInt128 value) => Ofp13Oxm.Exact(field, value);

    [Fact]
    public async Task NxtFlowMod_ErrorsAreOvss()
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        // tcp_dst before the ethertype and protocol it needs (NXM's ordering rule): OFPBMC_BAD_PREREQ, NX1.0(1,260).
        c.SendRaw(FlowMod(1, 0, [Exact(TcpDst, 80), Exact(EthType, 0x0800), Exact(IpProto, 6)]));
        await ExpectNxError(c, 1, 1, 260);
        // reg0, then xreg0 (reg0 and reg1): OFPBMC_DUP_FIELD, NX1.0(1,261).
        c.SendRaw(FlowMod(2, 0, [Exact(Ofp13Match.NxReg0, 5), Exact(Ofp13Match.PktReg0, 5)]));
        await ExpectNxError(c, 2, 1, 261);
        // NXM_NX_CT_MARK (not matched here): OFPBMC_BAD_FIELD, NX1.0(0,263).
        byte[] ctMark = FlowMod(3, 0, [Exact(Ofp13Match.NxReg0, 1)]);
        ctMark[Nx10.FlowModMatchOffset + 2] = 107 << 1;
        c.SendRaw(ctMark);
        await ExpectNxError(c, 3, 0, 263);
        // A cookie match in an addition: NXBRC_NXM_INVALID, NX1.0(1,256).
        c.SendRaw(FlowMod(4, 0, [new Ofp13Oxm(NxMatch.Cookie, true, 1, 0xff)]));
        await ExpectNxError(c, 4, 1, 256);
        // A match longer than the message: OFPBMC_BAD_LEN, which OpenFlow 1.0 cannot say: NXBRC_UNENCODABLE_ERROR, NX1.0(1,521).
        byte[] longMatch = FlowMod(5, 0, []);
        BinaryPrimitives.WriteUInt16BigEndian(longMatch.AsSpan(Nx10.HeaderSize + 24), 64);
        c.SendRaw(longMatch);
        await ExpectNxError(c, 5, 1, 521);
        // Command 7, an NXT subtype and a flow format nobody defined, a short NXT_SET_FLOW_FORMAT: standard errors.
        c.SendRaw(FlowMod(6, 7, []));
        await ExpectError(c, 6, OfpError.FlowModFailed(OfpFlowModFailedCode.BadCommand));
        c.SendRaw(Nx10.Message(99, 7, new byte[8]));
        await ExpectError(c, 7, OfpError.BadRequest(OfpBadRequestCode.BadSubtype));
        c.SendRaw(Nx10.Message(Nx10.SetFlowFormat, 8, [0, 0, 0, 1]));
        await ExpectError(c, 8, OfpError.BadRequest(OfpBadRequestCode.Eperm));
        c.SendRaw(Nx10.Message(Nx10.SetFlowFormat, 9, [0, 0]));
        await ExpectError(c, 9, OfpError.BadRequest(OfpBadRequestCode.BadLen));
        // A table past the last (flow_mod_table_id on): OFPBRC_BAD_TABLE_ID, NX1.0(1,512).
        c.SendRaw(Nx10.Message(Nx10.FlowModTableId, 10, [1, 0, 0, 0, 0, 0, 0, 0]));
        c.SendRaw(FlowMod(11, 254 << 8, []));
        await ExpectNxError(c, 11, 1, 512);
        Assert.Empty(await c.BarrierAsync());
        Assert.Equal(0, rig.Agent.Switch.Flows.ActiveWildcard);
    }

    /// <summary>
    /// Action errors OpenFlow 1.0 has no code for, as Open vSwitch sends them there (its NX1.0 errors inside NXET_VENDOR),
    /// for an NXT_FLOW_MOD and an OFPT_FLOW_MOD alike: a REG_LOAD2 whose value has bits outside its mask OFPBMC_BAD_WILDCARDS
    /// NX1.0(1,262); a load of OXM_OF_PBB_ISID, a field Open vSwitch lacks, OFPBAC_BAD_SET_TYPE NX1.0(1,523); a load of
    /// OXM_OF_MPLS_BOS or NXM_NX_DP_HASH, read-only fields, OFPBAC_BAD_SET_ARGUMENT NX1.0(1,525).
    /// </summary>
    [Fact]
    public async Task ActionErrorsOneZeroHasNoCodeFor_AreOvssNxErrors()
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        (OfpAction Action, ushort Code)[] refused =
        [
            (OfpAction.NxRegLoad2([0x00, 0x01, 0x01, 0x08, 0, 0, 0, 6, 0, 0, 0, 3]), 262), // set_field:0x6/0x3->reg0
            (OfpAction.NxRegLoad(0x8000_4a03, 0, 24, 0x123456), 523),
            (OfpAction.NxRegLoad2([0x80, 0x00, 0x4a, 0x03, 0x12, 0x34, 0x56]), 523),
            (OfpAction.NxRegLoad(0x8000_4801, 0, 1, 1), 525),
            (OfpAction.NxRegLoad2([0x80, 0x00, 0x48, 0x01, 0x01]), 525),
            (OfpAction.NxRegLoad(0x0001_4604, 0, 32, 1), 525), // NXM_NX_DP_HASH
        ];
        uint xid = 1000;
        foreach (var (action, code) in refused)
        {
            c.SendRaw(FlowMod(xid, 0, [], actions: [action]));
            await ExpectNxError(c, xid++, 1, code);
            uint x = c.Send(new OfpFlowMod { Match = OfpMatch.All, Command = OfpFlowModCommand.Add, Priority = 1, Actions = [action] });
            await ExpectNxError(c, x, 1, code);
        }
        Assert.Empty(await c.BarrierAsync());
        Assert.Equal(0, rig.Agent.Switch.Flows.ActiveWildcard);
    }

    /// <summary>
    /// A flow-mod with a flag bit OpenFlow 1.0 does not define (1.3's RESET_COUNTS 0x4 is 1.0's EMERG, so from 0x8 up)
    /// is refused, as Open vSwitch refuses it: OFPFMFC_BAD_FLAGS, NX1.0(3,258) inside NXET_VENDOR; an OFPT_FLOW_MOD and
    /// an NXT_FLOW_MOD alike, and nothing is added.
    /// </summary>
    [Fact]
    public async Task FlowModWithAFlagOneZeroDoesNotDefine_IsOvssBadFlags()
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        uint xid = 2000;
        foreach (ushort flags in new ushort[] { 0x8, 0x10, 0x8001 })
        {
            c.SendRaw(FlowMod(xid, 0, [], flags, actions: [OfpAction.Output(1)]));
            await ExpectNxError(c, xid++, 3, 258);
            uint x = c.Send(new OfpFlowMod { Match = OfpMatch.All, Command = OfpFlowModCommand.Add, Priority = 1, Flags = (OfpFlowModFlags)flags });
            await ExpectNxError(c, x, 3, 258);
        }
        Assert.Empty(await c.BarrierAsync());
        Assert.Equal(0, rig.Agent.Switch.Flows.ActiveWildcard);
        c.Send(new OfpFlowMod { Match = OfpMatch.All, Command = OfpFlowModCommand.Add, Priority = 1,
                                Flags = OfpFlowModFlags.SendFlowRem | OfpFlowModFlags.CheckOverlap });
        Assert.Empty(await c.BarrierAsync());
        Assert.Equal(1, rig.Agent.Switch.Flows.ActiveWildcard);
    }

    [Fact]
    public async Task TableIdExtension_PutsFlowsInLaterTables_AndFlowRemovedIsNxmOnlyWhereAsked()
    {
        await using var rig = new AgentRig();
        using var nxm = await rig.ConnectAsync();
        using var std = await rig.ConnectAsync();
        nxm.SendRaw(Nx10.Message(Nx10.SetFlowFormat, 1, [0, 0, 0, (byte)Nx10.FormatNxm]));
        nxm.SendRaw(Nx10.Message(Nx10.FlowModTableId, 2, [1, 0, 0, 0, 0, 0, 0, 0]));
        // Table 3, reg2=7 (tcp, masked port), sending FLOW_REMOVED; and an OFPT_FLOW_MOD in table 2 through the same extension.
        Ofp13Oxm[] match = [Exact(EthType, 0x0800), Exact(IpProto, 6), new Ofp13Oxm(TcpDst, true, 0x400, 0xff00), Exact((byte)(Ofp13Match.NxReg0 + 2), 7)];
        nxm.SendRaw(FlowMod(3, 3 << 8, match, flags: (ushort)OfpFlowModFlags.SendFlowRem, cookie: 0x1234));
        var std10 = new OfpFlowMod { Xid = 4, Command = (OfpFlowModCommand)(2 << 8), Priority = 9 };
        nxm.Send(std10);
        Assert.Empty(await nxm.BarrierAsync());
        var sw = rig.Agent.Switch;
        Assert.Equal((0, 1, 1), (sw.TableStats(0).ActiveCount, sw.TableStats(2).ActiveCount, sw.TableStats(3).ActiveCount));

        // NXST_FLOW of table 3 reads the flow back in NXM, the match as it was sent.
        nxm.SendRaw(Nx10.EncodeStatsRequest(5, Nx10.StatsFlow, 0xffff, 3, []));
        byte[] reply = await Reply(nxm);
        Assert.Equal((byte)OfpType.StatsReply, reply[1]);
        Assert.Equal(Nx10.StatsFlow, BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(16)));
        var entry = reply.AsSpan(Nx10.StatsHeaderSize);
        Assert.Equal(3, entry[2]);
        int matchLen = BinaryPrimitives.ReadUInt16BigEndian(entry[18..]);
        var back = new List<Ofp13Oxm>();
        Assert.True(NxMatch.TryDecode(entry.Slice(Nx10.FlowStatsEntrySize, matchLen), back, out _));
        Assert.Equal(match, back);
        Assert.Equal(0x1234ul, BinaryPrimitives.ReadUInt64BigEndian(entry[24..]));

        // A delete by cookie (NXM_NX_COOKIE) in every table: the flow goes, NXT_FLOW_REMOVED to the NXM connection,
        // OFPT_FLOW_REMOVED to the other (the controller connections, each in its format).
        nxm.SendRaw(FlowMod(6, 3 | (0xff << 8), [new Ofp13Oxm(NxMatch.Cookie, false, 0x1234, ulong.MaxValue)]));
        byte[] removed = await Reply(nxm);
        Assert.Equal((byte)OfpType.Vendor, removed[1]);
        Assert.Equal(Nx10.FlowRemoved, BinaryPrimitives.ReadUInt32BigEndian(removed.AsSpan(12)));
        Assert.Equal(4, removed[Nx10.HeaderSize + 11]);   // table 3, plus one
        var rm = new List<Ofp13Oxm>();
        Assert.True(NxMatch.TryDecode(removed.AsSpan(Nx10.FlowRemovedSize, BinaryPrimitives.ReadUInt16BigEndian(removed.AsSpan(38))), rm, out _));
        Assert.Equal(match, rm);
        var plain = await std.ReceiveAsync<OfpFlowRemoved>();
        Assert.Equal(0x1234ul, plain.Cookie);
        Assert.Equal((1, 0), (sw.TableStats(2).ActiveCount, sw.TableStats(3).ActiveCount));

        // NXST_AGGREGATE of every table: the table-2 flow left.
        nxm.SendRaw(Nx10.EncodeStatsRequest(7, Nx10.StatsAggregate, 0xffff, 0xff, []));
        byte[] agg = await Reply(nxm);
        Assert.Equal(Nx10.AggregateReplySize, agg.Length);
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32BigEndian(agg.AsSpan(40)));
    }
}
