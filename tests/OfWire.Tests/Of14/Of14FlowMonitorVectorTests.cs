using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of14;

namespace Softswitch.OfWire.Tests.Of14;

/// <summary>
/// The flow monitor codec (<see cref="Ofp14FlowMonitor"/>) against Open vSwitch's byte vectors (tests/ofp-print.at:
/// FLOW_MONITOR request, FLOW_MONITOR reply, FLOW_MONITOR_CANCEL, _PAUSED, _RESUMED; the text ovs-ofctl ofp-print prints
/// is quoted beside each), read and written back, in 1.4's form and the ONF form of 1.3.
/// </summary>
public sealed class Of14FlowMonitorVectorTests
{
    private static byte[] Hex(string s) => Convert.FromHexString(s.Replace(" ", "").Replace("\n", ""));

    [Fact]
    public void Request14_ThreeMonitors_ReadAndWrittenBack()
    {
        // OFPST_FLOW_MONITOR request (OF1.4) (xid=0x6):
        //  id=4096 flags=initial,add,delete,modify,actions,own out_port=LOCAL table=0
        //  id=8192 flags=initial,add,delete,modify,actions,own out_port=1 out_group=64 table=1
        //  id=16384 command=delete
        var msg = Hex("05 12 00 58 00 00 00 06 00 10 00 00 00 00 00 00 " +
                      "00 00 10 00 ff ff ff fe ff ff ff ff 00 5f 00 00 00 01 00 04 00 00 00 00 " +
                      "00 00 20 00 00 00 00 01 00 00 00 40 00 5f 01 01 00 01 00 04 00 00 00 00 " +
                      "00 00 40 00 00 00 00 02 00 00 00 40 00 5f 02 02 00 01 00 04 00 00 00 00");
        var list = new List<Ofp14FlowMonitorRequest>();
        Assert.True(Ofp14FlowMonitor.TryDecodeRequests(msg.AsSpan(16), onf: false, list, out _));
        Assert.Equal(3, list.Count);
        Assert.Equal((4096u, 0xfffffffeu, 0xffffffffu, (ushort)0x5f, (byte)0, (byte)0),
                     (list[0].MonitorId, list[0].OutPort, list[0].OutGroup, list[0].Flags, list[0].TableId, list[0].Command));
        Assert.Equal((8192u, 1u, 64u, (byte)1, (byte)1), (list[1].MonitorId, list[1].OutPort, list[1].OutGroup, list[1].TableId, list[1].Command));
        Assert.Equal((16384u, (byte)2), (list[2].MonitorId, list[2].Command));
        Assert.All(list, r => Assert.Empty(r.Match));
        var w = new Ofp13Writer();
        foreach (var r in list) r.Write(w);
        Assert.Equal(msg.AsSpan(16).ToArray(), w.ToArray());
    }

    [Fact]
    public void RequestOnf13_NiciraFlagsBecomeOpenFlowFlags()
    {
        // ONFST_FLOW_MONITOR request (OF1.3) (xid=0x6):
        //  id=4096 flags=initial,add,delete,modify,actions,own out_port=LOCAL table=1
        //  id=8192 flags=delete out_port=2 table=1
        var msg = Hex("04 12 00 48 00 00 00 06 ff ff 00 00 00 00 00 00 4f 4e 46 00 00 00 07 4e " +
                      "00 00 10 00 00 3f 00 04 ff ff ff fe 01 00 00 00 00 01 00 04 00 00 00 00 " +
                      "00 00 20 00 00 04 ff ff 00 00 00 02 01 00 00 00 00 01 00 04 00 00 00 00");
        Assert.True(Ofp14FlowMonitor.IsOnfMonitorBody(msg.AsSpan(16), out var body));
        var list = new List<Ofp14FlowMonitorRequest>();
        Assert.True(Ofp14FlowMonitor.TryDecodeRequests(body, onf: true, list, out _));
        Assert.Equal(2, list.Count);
        // NXFMF_ACTIONS and NXFMF_OWN are OFPFMF_INSTRUCTIONS (16) and OFPFMF_ONLY_OWN (64).
        Assert.Equal((4096u, (ushort)0x5f, 0xfffffffeu, (byte)1), (list[0].MonitorId, list[0].Flags, list[0].OutPort, list[0].TableId));
        Assert.Equal((8192u, (ushort)0x04, 2u, (byte)1), (list[1].MonitorId, list[1].Flags, list[1].OutPort, list[1].TableId));
        Assert.All(list, r => Assert.Equal(0xffffffffu, r.OutGroup));
        // Written back: the first as it came (the second's match_len, 0xffff in the vector, is not read and is written true).
        var w = new Ofp13Writer();
        list[0].WriteOnf(w);
        Assert.Equal(body[..24].ToArray(), w.ToArray());
    }

    [Fact]
    public void BadRequests_RefusedAsOpenVSwitchRefusesThem()
    {
        var list = new List<Ofp14FlowMonitorRequest>();
        // No event asked for (flags=initial only): BAD_FLAGS.
        var noEvent = Hex("00 00 10 00 ff ff ff fe ff ff ff ff 00 01 00 00 00 01 00 04 00 00 00 00");
        Assert.False(Ofp14FlowMonitor.TryDecodeRequests(noEvent, onf: false, list, out var err));
        Assert.Equal(Ofp14FlowMonitor.Failed(Ofp14FlowMonitor.BadFlags), err);
        // A flag past ONLY_OWN: BAD_FLAGS.
        var unknownFlag = Hex("00 00 10 00 ff ff ff fe ff ff ff ff 00 82 00 00 00 01 00 04 00 00 00 00");
        Assert.False(Ofp14FlowMonitor.TryDecodeRequests(unknownFlag, onf: false, list, out err));
        Assert.Equal(Ofp14FlowMonitor.Failed(Ofp14FlowMonitor.BadFlags), err);
        // Command 3: BAD_COMMAND.
        var badCommand = Hex("00 00 10 00 ff ff ff fe ff ff ff ff 00 02 00 03 00 01 00 04 00 00 00 00");
        Assert.False(Ofp14FlowMonitor.TryDecodeRequests(badCommand, onf: false, list, out err));
        Assert.Equal(Ofp14FlowMonitor.Failed(Ofp14FlowMonitor.BadCommand), err);
        // Cut short, and a match that overruns: BAD_LEN.
        Assert.False(Ofp14FlowMonitor.TryDecodeRequests(noEvent.AsSpan(0, 20), onf: false, list, out err));
        Assert.Equal(Ofp13Error.BadLength, err);
        var overrun = Hex("00 00 10 00 ff ff ff fe ff ff ff ff 00 02 00 00 00 01 00 10 00 00 00 00");
        Assert.False(Ofp14FlowMonitor.TryDecodeRequests(overrun, onf: false, list, out _));
        // The ONF form's zeros not zero: NXBRC_MUST_BE_ZERO, Nicira's experimenter error 4 under 1.3.
        var notZero = Hex("00 00 10 00 00 3f 00 04 ff ff ff fe 01 00 01 00 00 01 00 04 00 00 00 00");
        Assert.False(Ofp14FlowMonitor.TryDecodeRequests(notZero, onf: true, list, out err));
        var request = Hex("04 12 00 30 00 00 00 09 ff ff 00 00 00 00 00 00 4f 4e 46 00 00 00 07 4e") ;
        var error = Ofp14FlowMonitor.Error(Ofp13.Version, err, request);
        Assert.Equal(Hex("04 01 00 28 00 00 00 09 ff ff 00 04 00 00 23 20"), error[..16]);
        // Under 1.4 the same refusals are OFPET_FLOW_MONITOR_FAILED (16).
        var exists = Ofp14FlowMonitor.Error(Ofp13.Version14, Ofp14FlowMonitor.Failed(Ofp14FlowMonitor.MonitorExists), request);
        Assert.Equal(Hex("05 01 00 24 00 00 00 09 00 10 00 01"), exists[..12]);
        // And under 1.3 as Nicira's codes: MONITOR_EXISTS 6, BAD_FLAGS 7, UNKNOWN_MONITOR 8.
        var unknown = Ofp14FlowMonitor.Error(Ofp13.Version, Ofp14FlowMonitor.Failed(Ofp14FlowMonitor.UnknownMonitor), request);
        Assert.Equal(Hex("04 01 00 28 00 00 00 09 ff ff 00 08 00 00 23 20"), unknown[..16]);
    }

    [Fact]
    public void Reply14_DeletedAndAbbrev_ReadAndWrittenBack()
    {
        // OFPST_FLOW_MONITOR reply (OF1.4) (xid=0x0):
        //  event=DELETED reason=eviction table=0 cookie=0x123456789abcdef0 in_port=1
        //  event=ABBREV xid=0x186a0
        var msg = Hex("05 13 00 40 00 00 00 00 00 10 00 00 00 00 00 00 " +
                      "00 28 00 02 00 05 00 00 00 00 80 00 00 00 00 00 " +
                      "12 34 56 78 9a bc de f0 00 01 00 0c 80 00 00 04 " +
                      "00 00 00 01 00 00 00 00 " +
                      "00 08 00 04 00 01 86 a0");
        var list = new List<Ofp14FlowUpdate>();
        Assert.True(Ofp13Entries.TryReadAll(msg.AsSpan(16), list));
        Assert.Equal(2, list.Count);
        var del = list[0];
        Assert.Equal((Ofp14FlowUpdate.Removed, (byte)5, (byte)0, (ushort)0x8000, 0x123456789abcdef0UL),
                     (del.Event, del.Reason, del.TableId, del.Priority, del.Cookie));
        Assert.Equal(Ofp13Oxm.Exact(0, 1), Assert.Single(del.Match));
        Assert.Empty(del.Instructions);
        Assert.Equal((Ofp14FlowUpdate.Abbrev, 100000u), (list[1].Event, list[1].Xid));
        byte[]? sent = null;
        var reply = new Ofp13ReplyWriter(Ofp13.Version14, Ofp14FlowMonitor.MultipartType, 0, p => sent = p);
        foreach (var u in list) reply.Add(u);
        reply.Finish();
        Assert.Equal(msg, sent);
    }

    [Fact]
    public void ReplyOnf13_DeletedAndAbbrev_ReadAndWrittenBack()
    {
        // ONFST_FLOW_MONITOR reply (OF1.3) (xid=0x6):
        //  event=DELETED reason=eviction table=0 cookie=0x123456789abcdef0 in_port=1
        //  event=ABBREV xid=0x186a0
        var body = Hex("00 28 00 01 00 05 80 00 00 00 00 00 00 0c 00 00 " +
                       "12 34 56 78 9a bc de f0 00 01 00 0c 80 00 00 04 " +
                       "00 00 00 01 00 00 00 00 " +
                       "00 08 00 03 00 01 86 a0");
        Assert.True(Ofp14FlowUpdate.TryRead(body, onf: true, out var del, out int size));
        Assert.Equal(40, size);
        Assert.Equal((Ofp14FlowUpdate.Removed, (byte)5, (ushort)0x8000, 0x123456789abcdef0UL), (del.Event, del.Reason, del.Priority, del.Cookie));
        Assert.True(Ofp14FlowUpdate.TryRead(body.AsSpan(40), onf: true, out var abbrev, out _));
        Assert.Equal((Ofp14FlowUpdate.Abbrev, 100000u), (abbrev.Event, abbrev.Xid));
        var w = new Ofp13Writer();
        del.Write(w);
        abbrev.Write(w);
        Assert.Equal(body, w.ToArray());
    }

    [Fact]
    public void PausedResumedAndCancel_InEachForm()
    {
        // OFPST_FLOW_MONITOR reply (OF1.4) (xid=0x0): event=PAUSED, and event=RESUMED.
        foreach (var (ev, hex) in new[] { (Ofp14FlowUpdate.Paused, "05"), (Ofp14FlowUpdate.Resumed, "06") })
        {
            var msg = Hex($"05 13 00 18 00 00 00 00 00 10 00 00 00 00 00 00 00 08 00 {hex} 00 00 00 00");
            byte[]? sent = null;
            var reply = new Ofp13ReplyWriter(Ofp13.Version14, Ofp14FlowMonitor.MultipartType, 0, p => sent = p);
            reply.Add(new Ofp14FlowUpdate { Event = ev });
            reply.Finish();
            Assert.Equal(msg, sent);
            Assert.True(Ofp14FlowUpdate.TryRead(msg.AsSpan(16), out var read, out _));
            Assert.Equal(ev, read.Event);
        }
        // ONFT_FLOW_MONITOR_PAUSED (OF1.3) (xid=0x3): and ONFT_FLOW_MONITOR_RESUMED (OF1.3) (xid=0x3):
        Assert.Equal(Hex("04 04 00 10 00 00 00 03 4f 4e 46 00 00 00 07 4F"), Ofp14FlowMonitor.OnfMessage(Ofp13.Version, 3, Ofp14FlowMonitor.OnfPaused));
        Assert.Equal(Hex("04 04 00 10 00 00 00 03 4f 4e 46 00 00 00 07 50"), Ofp14FlowMonitor.OnfMessage(Ofp13.Version, 3, Ofp14FlowMonitor.OnfResumed));
        // ONFT_FLOW_MONITOR_CANCEL (OF1.3) (xid=0x6): id=16920640
        var cancel = Hex("04 04 00 14 00 00 00 06 4f 4e 46 00 00 00 07 4e 01 02 30 40");
        Assert.True(Ofp14FlowMonitor.TryDecodeOnfCancel(cancel, out uint id, out _));
        Assert.Equal(16920640u, id);
        Assert.False(Ofp14FlowMonitor.TryDecodeOnfCancel(cancel.AsSpan(0, 16), out _, out var err));
        Assert.Equal(Ofp13Error.BadLength, err);
        // OFPST_FLOW_MONITOR request (OF1.4) (xid=0x4): id=16920640 command=delete (the 1.4 form of a cancel)
        var delete = Hex("05 12 00 28 00 00 00 04 00 10 00 00 00 00 00 00 01 02 30 40 00 00 00 00 00 00 00 00 00 00 00 02 00 01 00 04 00 00 00 00");
        var list = new List<Ofp14FlowMonitorRequest>();
        Assert.True(Ofp14FlowMonitor.TryDecodeRequests(delete.AsSpan(16), onf: false, list, out _));
        Assert.Equal((16920640u, (byte)2), (list[0].MonitorId, list[0].Command));
    }
}
