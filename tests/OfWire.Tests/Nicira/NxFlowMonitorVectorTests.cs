using System.Buffers.Binary;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire.Tests.Nicira;

/// <summary>
/// Open vSwitch's flow monitors of OpenFlow 1.0 (<see cref="NxFlowMonitor"/>) against its byte vectors
/// (openvswitch/ovs tests/ofp-print.at, commit d6a632a9: "FLOW_MONITOR request", "FLOW_MONITOR reply",
/// "FLOW_MONITOR_CANCEL", "FLOW_MONITOR_PAUSED", "FLOW_MONITOR_RESUMED", their OpenFlow 1.0-1.2 cases; the text
/// ovs-ofctl ofp-print prints is quoted beside each), read and written back byte for byte; and the refusals as Open
/// vSwitch's ofputil_decode_flow_monitor_request gives them.
/// </summary>
public sealed class NxFlowMonitorVectorTests
{
    private static byte[] Hex(string s) => Convert.FromHexString(s.Replace(" ", "", StringComparison.Ordinal));

    // NXST_FLOW_MONITOR request (xid=0x4):
    //  id=16384 flags=initial,add,delete,modify,actions,own out_port=LOCAL table=1
    //  id=8192 flags=delete table=2 in_port=1
    internal const string Request =
        "01 10 00 40 00 00 00 04 ff ff 00 00 00 00 23 20 00 00 00 02 00 00 00 00 " +
        "00 00 40 00 00 3f ff fe 00 00 01 00 00 00 00 00 " +
        "00 00 20 00 00 04 ff ff 00 06 02 00 00 00 00 00 00 00 00 02 00 01 00 00";

    // NXST_FLOW_MONITOR reply (xid=0x4):
    //  event=DELETED reason=eviction table=1 idle_timeout=5 hard_timeout=16 cookie=0x123456789abcdef0 in_port=1
    //  event=ABBREV xid=0x186a0
    internal const string Reply =
        "01 11 00 40 00 00 00 04 ff ff 00 00 00 00 23 20 00 00 00 02 00 00 00 00 " +
        "00 20 00 01 00 05 80 00 00 05 00 10 00 06 01 00 12 34 56 78 9a bc de f0 " +
        "00 00 00 02 00 01 00 00 " +
        "00 08 00 03 00 01 86 a0";

    // NXT_FLOW_MONITOR_CANCEL (xid=0x3): id=16920640
    internal const string Cancel = "01 04 00 14 00 00 00 03 00 00 23 20 00 00 00 15 01 02 30 40";
    // NXT_FLOW_MONITOR_PAUSED (xid=0x3):, NXT_FLOW_MONITOR_RESUMED (xid=0x3):
    internal const string Paused = "01 04 00 10 00 00 00 03 00 00 23 20 00 00 00 16";
    internal const string Resumed = "01 04 00 10 00 00 00 03 00 00 23 20 00 00 00 17";

    private static bool IsInPort(Ofp13Oxm e, ushort port) => NxMatch.WireOf(e.Field) == (0x0000, 0) && !e.HasMask && e.Value == port;

    [Fact]
    public void Request_TwoMonitors_ReadAsOvsPrintsThem_AndWrittenBack()
    {
        byte[] msg = Hex(Request);
        Assert.True(Nx10.TryDecodeStatsRequest(msg, out var head, out var error), error.ToString());
        Assert.Equal(NxFlowMonitor.StatsFlowMonitor, head.Subtype);
        var list = new List<NxFlowMonitorRequestFields>();
        Assert.True(NxFlowMonitor.TryDecodeRequests(msg, list, out error), error.ToString());
        Assert.Equal(2, list.Count);
        Assert.Equal(new NxFlowMonitorRequestFields(16384, NxFlowMonitor.FlagsAll, 0xfffe, 1, 40, 0), list[0]);
        Assert.Equal(new NxFlowMonitorRequestFields(8192, NxFlowMonitor.FlagDelete, 0xffff, 2, 56, 6), list[1]);
        var match = new List<Ofp13Oxm>();
        Assert.True(NxMatch.TryDecode(msg.AsSpan(list[1].MatchOffset, list[1].MatchLength), match, out _));
        Assert.True(IsInPort(Assert.Single(match), 1));
        var back = NxFlowMonitor.EncodeRequest(4, [new NxFlowMonitorRequest(16384, NxFlowMonitor.FlagsAll, 0xfffe, 1, []),
                                                   new NxFlowMonitorRequest(8192, NxFlowMonitor.FlagDelete, 0xffff, 2, [.. match])]);
        Assert.Equal(Convert.ToHexString(msg), Convert.ToHexString(back));
    }

    [Fact]
    public void Reply_DeletedAndAbbrev_ReadAsOvsPrintsThem_AndWrittenBack()
    {
        byte[] msg = Hex(Reply);
        var list = new List<NxFlowUpdate>();
        Assert.True(NxFlowMonitor.TryDecodeReply(msg, list, out var error), error.ToString());
        Assert.Equal(2, list.Count);
        var del = list[0];
        // reason=eviction (OFPRR_EVICTION 5, as Open vSwitch numbers it), table=1, priority 0x8000 (not printed: the default).
        Assert.Equal((NxFlowMonitor.EventDeleted, (ushort)5, (ushort)0x8000, (ushort)5, (ushort)16, (byte)1, 0x123456789abcdef0UL),
                     (del.Event, del.Reason, del.Priority, del.IdleTimeout, del.HardTimeout, del.TableId, del.Cookie));
        Assert.True(IsInPort(Assert.Single(del.Match), 1));
        Assert.Empty(del.Actions);
        Assert.Equal(NxFlowUpdate.Abbrev(100000), list[1]);
        var back = Assert.Single(NxFlowMonitor.EncodeReplies(4, list));
        Assert.Equal(Convert.ToHexString(msg), Convert.ToHexString(back));
    }

    [Fact]
    public void CancelPausedAndResumed_ReadAndWrittenBack()
    {
        Assert.True(NxFlowMonitor.TryDecodeCancel(Hex(Cancel), out uint id, out _));
        Assert.Equal(16920640u, id);
        Assert.Equal(Hex(Cancel), NxFlowMonitor.EncodeCancel(3, id));
        Assert.False(NxFlowMonitor.TryDecodeCancel(Hex(Cancel)[..16], out _, out var e));
        Assert.Equal(OfpError.BadLen, e);
        // The switch sends PAUSED and RESUMED unasked: xid 0, otherwise the vectors' bytes.
        foreach (var (paused, hex) in new[] { (true, Paused), (false, Resumed) })
        {
            byte[] vector = Hex(hex);
            BinaryPrimitives.WriteUInt32BigEndian(vector.AsSpan(4), 0);
            Assert.Equal(vector, NxFlowMonitor.FlowControl(paused));
            Assert.True(Nx10.TryReadSubtype(vector, out uint sub, out _));
            Assert.Equal(paused ? NxFlowMonitor.Paused : NxFlowMonitor.Resumed, sub);
        }
    }

    [Fact]
    public void BadRequests_RefusedAsOpenVSwitchRefusesThem()
    {
        var list = new List<NxFlowMonitorRequestFields>();
        static byte[] One(string entry)
        {
            var m = Hex("01 10 00 00 00 00 00 09 ff ff 00 00 00 00 23 20 00 00 00 02 00 00 00 00 " + entry);
            BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(2), (ushort)m.Length);
            return m;
        }
        // Initial only (no event): OFPMOFC_BAD_FLAGS, NX1.0(1,518); a bit past OWN too.
        Assert.False(NxFlowMonitor.TryDecodeRequests(One("00 00 00 01 00 01 ff ff 00 00 ff 00 00 00 00 00"), list, out var e));
        Assert.Equal(NxFlowMonitor.BadFlags, e);
        Assert.False(NxFlowMonitor.TryDecodeRequests(One("00 00 00 01 00 42 ff ff 00 00 ff 00 00 00 00 00"), list, out e));
        Assert.Equal(NxFlowMonitor.BadFlags, e);
        // A reserved byte not zero: NXBRC_MUST_BE_ZERO, NX1.0(1,515).
        Assert.False(NxFlowMonitor.TryDecodeRequests(One("00 00 00 01 00 02 ff ff 00 00 ff 00 00 00 01 00"), list, out e));
        Assert.Equal(NxFlowMonitor.MustBeZero, e);
        // A match past the message: OFPBMC_BAD_LEN, NXBRC_UNENCODABLE_ERROR in 1.0; an entry cut short: BAD_LEN.
        Assert.False(NxFlowMonitor.TryDecodeRequests(One("00 00 00 01 00 02 ff ff 00 08 ff 00 00 00 00 00"), list, out e));
        Assert.Equal(Nx10Error.Unencodable, e);
        Assert.False(NxFlowMonitor.TryDecodeRequests(One("00 00 00 01 00 02 ff ff 00 00 ff 00"), list, out e));
        Assert.Equal((Nx10Error)OfpError.BadLen, e);
        // As the errors go on the wire: NXET_VENDOR, vendor 0x2320, type 1, code 518.
        Assert.Equal(Hex("01 01 00 2c 00 00 00 09 b0 c2 00 00 00 00 23 20 00 01 02 06"), NxFlowMonitor.BadFlags.ForRequest(One(""))[..20]);
        // A reply entry of event 4: NXBRC_FM_BAD_EVENT; an ABBREV of 16 bytes: BAD_LEN.
        var updates = new List<NxFlowUpdate>();
        byte[] reply = Hex(Reply);
        reply[24 + 32 + 3] = 4;
        Assert.False(NxFlowMonitor.TryDecodeReply(reply, updates, out e));
        Assert.Equal(NxFlowMonitor.BadEvent, e);
        reply[24 + 32 + 3] = 3;
        reply[24 + 32 + 1] = 16;
        Assert.False(NxFlowMonitor.TryDecodeReply(reply, updates, out e));
        Assert.Equal((Nx10Error)OfpError.BadLen, e);
    }

    [Fact]
    public void ALongReply_IsSplitWithMore_EveryPartUnderTheLimit()
    {
        var updates = Enumerable.Range(0, 3000).Select(i => new NxFlowUpdate(NxFlowMonitor.EventAdded, 0, 7, 0, 0, 0, (ulong)i,
                                                        [Ofp13Oxm.Exact(NxMatch.FieldOf(0x0001, 0), (uint)i)], [OfpAction.Output(2)])).ToList();
        var parts = NxFlowMonitor.EncodeReplies(0, updates);
        Assert.True(parts.Count > 1);
        var back = new List<NxFlowUpdate>();
        var all = new List<NxFlowUpdate>();
        for (int i = 0; i < parts.Count; i++)
        {
            Assert.True(parts[i].Length <= ushort.MaxValue);
            Assert.Equal(i < parts.Count - 1 ? 1 : 0, BinaryPrimitives.ReadUInt16BigEndian(parts[i].AsSpan(10)));
            Assert.True(NxFlowMonitor.TryDecodeReply(parts[i], back, out var e), e.ToString());
            all.AddRange(back);
        }
        Assert.Equal(updates, all);
    }
}
