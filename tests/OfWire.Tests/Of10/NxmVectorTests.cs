using System.Buffers.Binary;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire.Tests.Of10;

/// <summary>
/// The NXM flow format's codec (<see cref="NxMatch"/>, <see cref="Nx10"/>) against Open vSwitch's own bytes: the
/// vectors of openvswitch/ovs tests/ofp-print.at and tests/ofp-errors.at (commit d6a632a9), decoded to what ovs-ofctl
/// prints for them and encoded back to the same bytes.
/// </summary>
public sealed class NxmVectorTests
{
    private static byte[] Hex(string s) => Convert.FromHexString(s.Replace(" ", "", StringComparison.Ordinal));

    // ofp-print.at "NXT_FLOW_MOD, low verbosity": ADD reg0=0x7b,tun_id=0x1c8 out_port:16 actions=load:0x5->NXM_NX_REG0[].
    private const string FlowMod =
        "01 04 00 60 00 00 00 02 00 00 23 20 00 00 00 0d 00 00 00 00 00 00 00 00 00 00 00 00 00 00 80 00 " +
        "ff ff ff ff 00 10 00 00 00 14 00 00 00 00 00 00 00 01 20 08 00 00 00 00 00 00 01 c8 00 01 00 04 " +
        "00 00 00 7b 00 00 00 00 ff ff 00 18 00 00 23 20 00 07 00 1f 00 01 00 04 00 00 00 00 00 00 00 05";

    [Fact]
    public void NxtFlowMod_DecodesAsOvsPrintsIt_AndEncodesBackToItsBytes()
    {
        byte[] msg = Hex(FlowMod);
        var actions = new List<OfpAction>();
        Assert.True(Nx10.TryReadSubtype(msg, out uint subtype, out _));
        Assert.Equal(Nx10.FlowMod, subtype);
        Assert.True(Nx10.TryDecodeFlowMod(msg, actions, out var f, out var error), error.ToString());
        Assert.Equal((ushort)0, f.Command);
        Assert.Equal((ushort)0x8000, f.Priority);
        Assert.Equal((ushort)16, f.OutPort);
        Assert.Equal(0xffffffffu, f.BufferId);
        Assert.Equal(20, f.MatchLength);
        var match = new List<Ofp13Oxm>();
        Assert.True(NxMatch.TryDecode(msg.AsSpan(Nx10.FlowModMatchOffset, f.MatchLength), match, out _));
        Assert.Equal([Ofp13Oxm.Exact(38, 0x1c8), Ofp13Oxm.Exact(Ofp13Match.NxReg0, 0x7b)], match);
        Assert.Equal((ushort)7, Assert.Single(actions).NxSubtype);   // NXAST_REG_LOAD
        Assert.Equal(msg, Nx10.EncodeFlowMod(2, f, [.. match], [.. actions]));
    }

    [Fact]
    public void SetFlowFormat_FlowModTableId_AndNxstRequests()
    {
        Assert.True(Nx10.TryDecodeSetFlowFormat(Hex("01 04 00 14 00 00 00 02 00 00 23 20 00 00 00 0c 00 00 00 02"), out uint format, out _));
        Assert.Equal(Nx10.FormatNxm, format);
        Assert.Equal(OfpError.BadLen, Nx10.TryDecodeSetFlowFormat(Hex("01 04 00 10 00 00 00 02 00 00 23 20 00 00 00 0c"), out _, out var e) ? default : e);
        Assert.True(Nx10.TryDecodeFlowModTableId(Hex("01 04 00 18 01 02 03 04 00 00 23 20 00 00 00 0f 01 00 00 00 00 00 00 00"), out bool set, out _));
        Assert.True(set);

        // ofp-print.at "NXST_FLOW request" and "NXST_AGGREGATE request": every table, any out_port, an empty match.
        foreach (var (hex, sub) in new[] { ("01 10 00 20 00 00 00 04 ff ff 00 00 00 00 23 20 00 00 00 00 00 00 00 00 ff ff 00 00 ff 00 00 00", Nx10.StatsFlow),
                                          ("01 10 00 20 00 00 00 04 ff ff 00 00 00 00 23 20 00 00 00 01 00 00 00 00 ff ff 00 00 ff 00 00 00", Nx10.StatsAggregate) })
        {
            byte[] msg = Hex(hex);
            Assert.True(Nx10.TryDecodeStatsRequest(msg, out var f, out var error), error.ToString());
            Assert.Equal(new NxFlowStatsRequestFields(sub, 0xffff, 0xff, 0), f);
            Assert.Equal(msg, Nx10.EncodeStatsRequest(4, sub, 0xffff, 0xff, []));
        }
    }

    [Fact]
    public void NxstAggregateReply_IsOvsBytes()
        => Assert.Equal(Hex("01 11 00 30 00 00 00 04 ff ff 00 00 00 00 23 20 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 07 " +
                            "00 00 00 00 00 00 01 a4 00 00 00 07 00 00 00 00"), Nx10.AggregateReply(4, 7, 420, 7));

    [Fact]
    public void NxstFlowReplyEntries_AreOvsBytes()
    {
        // The last two entries of ofp-print.at "NXST_FLOW reply": reg0=0x7b,tun_id=0x1c8 with a register load (duration
        // 228.780s), and table 1's flow without actions (3600.0005s, 100 packets, 6400 bytes).
        byte[] want = Hex(
            "01 11 00 a8 00 00 00 04 ff ff 00 00 00 00 23 20 00 00 00 00 00 00 00 00 " +
            "00 60 00 00 00 00 00 e4 2e 7d db 00 80 00 00 00 00 00 00 14 00 00 00 00 00 00 00 00 00 00 00 00 " +
            "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 20 08 00 00 00 00 00 00 01 c8 00 01 00 04 " +
            "00 00 00 7b 00 00 00 00 ff ff 00 18 00 00 23 20 00 07 00 1f 00 01 00 04 00 00 00 00 00 00 00 05 " +
            "00 30 01 00 00 00 0e 10 00 07 a1 20 80 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 " +
            "00 00 00 00 00 00 00 64 00 00 00 00 00 00 19 00");
        var actions = new List<OfpAction>();
        Assert.True(OfpActions.TryDecode(Hex("ff ff 00 18 00 00 23 20 00 07 00 1f 00 01 00 04 00 00 00 00 00 00 00 05"), actions, out _));
        var w = new NxFlowStatsReplyWriter();
        w.Begin(4);
        Assert.True(w.TryAdd(0, 228, 780_000_000, 0x8000, 0, 0, 0, 0, 0, [Ofp13Oxm.Exact(38, 0x1c8), Ofp13Oxm.Exact(Ofp13Match.NxReg0, 0x7b)], [.. actions]));
        Assert.True(w.TryAdd(1, 3600, 500_000, 0x8000, 0, 0, 0, 100, 6400, [], []));
        byte[] reply = w.Finish(more: false, out int count);
        Assert.Equal(want, reply.AsSpan(0, count).ToArray());
    }

    [Fact]
    public void NxtFlowRemoved_MatchDecodes_AndTheMessageEncodesBackToOvsBytes()
    {
        // ofp-print.at "NXT_FLOW_REMOVED": priority=65535,arp,in_port=3,vlan_tci=0x0000,dl_src=50:54:00:00:00:05,
        // dl_dst=50:54:00:00:00:06,arp_spa=192.168.0.1,arp_tpa=192.168.0.2,arp_op=2 reason=idle table_id=1 duration6.024s idle5 pkts1 bytes60
        byte[] msg = Hex(
            "01 04 00 78 00 00 00 00 00 00 23 20 00 00 00 0e 00 00 00 00 00 00 00 00 ff ff 00 02 00 00 00 06 " +
            "01 6e 36 00 00 05 00 3c 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 3c 00 00 00 02 00 03 00 00 " +
            "02 06 50 54 00 00 00 06 00 00 04 06 50 54 00 00 00 05 00 00 06 02 08 06 00 00 08 02 00 00 00 00 " +
            "1e 02 00 02 00 00 20 04 c0 a8 00 01 00 00 22 04 c0 a8 00 02 00 00 00 00");
        int matchLen = BinaryPrimitives.ReadUInt16BigEndian(msg.AsSpan(38));
        var match = new List<Ofp13Oxm>();
        Assert.True(NxMatch.TryDecode(msg.AsSpan(Nx10.FlowRemovedSize, matchLen), match, out _));
        Assert.Equal(
        [
            Ofp13Oxm.Exact(0, 3),                       // NXM_OF_IN_PORT
            Ofp13Oxm.Exact(3, 0x505400000006),          // NXM_OF_ETH_DST
            Ofp13Oxm.Exact(4, 0x505400000005),          // NXM_OF_ETH_SRC
            Ofp13Oxm.Exact(5, 0x0806),                  // NXM_OF_ETH_TYPE
            new Ofp13Oxm(NxMatch.VlanTci, false, 0, 0xffff),
            Ofp13Oxm.Exact(21, 2),                      // NXM_OF_ARP_OP
            Ofp13Oxm.Exact(22, 0xc0a80001),             // NXM_OF_ARP_SPA
            Ofp13Oxm.Exact(23, 0xc0a80002),             // NXM_OF_ARP_TPA
        ], match);
        Assert.Equal(msg, Nx10.EncodeFlowRemoved(0, 0xffff, 0, 1, 6, 24_000_000, 5, 1, 60, [.. match]));
    }

    [Fact]
    public void OfpbmcBadPrereq_InOpenFlow10_IsANiciraVendorError()
    {
        // ofp-errors.at "OFPT_ERROR with code OFPBMC_BAD_PREREQ - OF1.0", for the request 01 02 00 08 11 11 11 11.
        byte[] want = Hex("01 01 00 1c 11 11 11 11 b0 c2 00 00 00 00 23 20 00 01 01 04 01 02 00 08 11 11 11 11");
        Assert.Equal(want, Nx10Error.Of(NxmError.BadPrereq).ForRequest(Hex("01 02 00 08 11 11 11 11")));
        // Standard errors stay standard.
        Assert.Equal(Hex("01 01 00 14 11 11 11 11 00 01 00 04 01 02 00 08 11 11 11 11"),
                     ((Nx10Error)OfpError.BadRequest(OfpBadRequestCode.BadSubtype)).ForRequest(Hex("01 02 00 08 11 11 11 11")));
    }

    [Theory]
    // An entry past the match's end; an unknown field (NXM_NX_CT_MARK); value bits outside the mask (NXM_OF_IP_SRC_W);
    // a mask on in_port; NXM_OF_IP_TOS with ECN bits; NXM_OF_IN_PORT of 4 bytes (its length is 2).
    [InlineData("00 00 0e 04 c0 a8", NxmError.BadLen)]
    [InlineData("00 01 d6 04 00 00 00 05", NxmError.BadField)]
    [InlineData("00 00 0f 08 c0 a8 00 01 ff ff ff 00", NxmError.BadWildcards)]
    [InlineData("00 00 01 04 00 03 00 ff", NxmError.BadMask)]
    [InlineData("00 00 0a 01 09", NxmError.BadValue)]
    [InlineData("00 00 00 04 00 00 00 03", NxmError.BadField)]
    public void BadEntries_GetOvsErrors(string hex, NxmError error)
    {
        Assert.False(NxMatch.TryDecode(Hex(hex), [], out var got));
        Assert.Equal(error, got);
    }

    [Fact]
    public void OxmEntries_InAnNxMatch_AreTheOxmCodecs()
    {
        // OXM_OF_IN_PORT (32 bits), OXM_OF_METADATA masked, OXM_OF_PKT_REG0 (xreg0), NXM_NX_XXREG1, NXM_NX_CONJ_ID.
        var entries = new List<Ofp13Oxm>();
        byte[] nxm = Hex("80 00 00 04 ff ff ff fe 80 00 05 10 00 00 00 00 00 00 00 05 00 00 00 00 00 00 00 0f " +
                         "80 01 00 08 00 00 00 01 00 00 00 02 00 01 e0 10 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 09 " +
                         "00 01 4a 04 00 00 00 07");
        Assert.True(NxMatch.TryDecode(nxm, entries, out _));
        Assert.Equal(
        [
            Ofp13Oxm.Exact(0, 0xfffffffe),
            new Ofp13Oxm(2, true, 5, 0xf),
            Ofp13Oxm.Exact(Ofp13Match.PktReg0, 0x0000000100000002),
            Ofp13Oxm.Exact((byte)(Ofp13Match.NxXxReg0 + 1), 9),
            Ofp13Oxm.Exact(Ofp13Match.NxConjId, 7),
        ], entries);
    }
}
