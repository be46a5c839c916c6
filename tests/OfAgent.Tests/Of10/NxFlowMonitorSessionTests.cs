using System.Buffers.Binary;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Of10;

/// <summary>
/// Open vSwitch's flow monitors on an OpenFlow 1.0 connection, byte by byte: NXST_FLOW_MONITOR answered with the
/// flows in place, then an update per flow another connection adds, modifies or deletes, an ABBREV for the
/// connection's own flow-mod, NXT_FLOW_MONITOR_CANCEL, the refusals as Open vSwitch's Nicira errors; and the flow
/// control: a connection that stops reading is sent NXT_FLOW_MONITOR_PAUSED, and once it has read its queue, every flow
/// added meanwhile, then NXT_FLOW_MONITOR_RESUMED.
/// </summary>
public sealed class NxFlowMonitorSessionTests
{
    private const ushort Watch = NxFlowMonitor.FlagInitial | NxFlowMonitor.FlagAdd | NxFlowMonitor.FlagDelete | NxFlowMonitor.FlagModify
                                 | NxFlowMonitor.FlagActions;

    private static Ofp13Oxm Reg0(uint v) => Ofp13Oxm.Exact(Ofp13Match.NxReg0, v);

    private static byte[] FlowMod(uint xid, ushort command, uint reg0, ulong cookie, ushort outPort)
        => Nx10.EncodeFlowMod(xid, new NxFlowModFields(cookie, command, 0, 0, 100, 0xffffffff, 0xffff, 0, 0), [Reg0(reg0)],
                              command is 0 or 1 or 2 ? [OfpAction.Output(outPort)] : []);

    private static byte[] Monitor(uint xid, uint id, ushort flags, byte table = 0xff, params Ofp13Oxm[] match)
        => NxFlowMonitor.EncodeRequest(xid, [new NxFlowMonitorRequest(id, flags, 0xffff, table, match)]);

    private static async Task<byte[]> Next(TestController c)
        => await c.ReceiveRawAsync() ?? throw new InvalidOperationException("nothing from the switch");

    /// <summary>The next message, an NXST_FLOW_MONITOR reply of <paramref name="xid"/>: its updates.</summary>
    private static async Task<List<NxFlowUpdate>> Updates(TestController c, uint xid)
    {
        byte[] m = await Next(c);
        Assert.Equal((byte)OfpType.StatsReply, m[1]);
        Assert.Equal(xid, BinaryPrimitives.ReadUInt32BigEndian(m.AsSpan(4)));
        var list = new List<NxFlowUpdate>();
        Assert.True(NxFlowMonitor.TryDecodeReply(m, list, out var e), e.ToString());
        return list;
    }

    private static async Task ExpectNxError(TestController c, uint xid, Nx10Error error)
    {
        byte[] e = await Next(c);
        Assert.Equal((byte)OfpType.Error, e[1]);
        Assert.Equal(xid, BinaryPrimitives.ReadUInt32BigEndian(e.AsSpan(4)));
        Assert.Equal(Nx10Error.VendorErrorType, BinaryPrimitives.ReadUInt16BigEndian(e.AsSpan(8)));
        Assert.Equal((error.Type, error.Code), (BinaryPrimitives.ReadUInt16BigEndian(e.AsSpan(16)), BinaryPrimitives.ReadUInt16BigEndian(e.AsSpan(18))));
    }

    [Fact]
    public async Task Monitor_SeesTheFlowsInPlace_ThenEachChange_AndItsOwnAsAbbrev_UntilCancelled()
    {
        await using var rig = new AgentRig();
        using var other = await rig.ConnectAsync();
        using var mon = await rig.ConnectAsync();
        other.SendRaw(FlowMod(1, 0, 1, 0x11, 2));
        Assert.Empty(await other.BarrierAsync());

        mon.SendRaw(Monitor(5, 1, Watch));
        var initial = Assert.Single(await Updates(mon, 5));
        // The flow in place, as NXFME_ADDED (Open vSwitch's form of INITIAL), with its NXM match and 1.0 actions.
        Assert.Equal(new NxFlowUpdate(NxFlowMonitor.EventAdded, 0, 100, 0, 0, 0, 0x11, [Reg0(1)], [OfpAction.Output(2)]), initial);

        // Refusals, each Open vSwitch's NX1.0 error: the id again, an unknown cancel, no event asked, a table past the
        // last, a cookie in the match.
        mon.SendRaw(Monitor(6, 1, Watch));
        await ExpectNxError(mon, 6, NxFlowMonitor.MonitorExists);
        mon.SendRaw(NxFlowMonitor.EncodeCancel(7, 99));
        await ExpectNxError(mon, 7, NxFlowMonitor.UnknownMonitor);
        mon.SendRaw(Monitor(8, 2, NxFlowMonitor.FlagInitial));
        await ExpectNxError(mon, 8, NxFlowMonitor.BadFlags);
        mon.SendRaw(Monitor(9, 2, Watch, table: 254));
        await ExpectNxError(mon, 9, Nx10Error.BadTableId);
        mon.SendRaw(Monitor(10, 2, Watch, 0xff, new Ofp13Oxm(NxMatch.Cookie, false, 1, 0)));
        await ExpectNxError(mon, 10, Nx10Error.Of(NxmError.BadField));
        Assert.Equal(1, rig.Agent.Switch.FlowMonitors.Count);

        // Another connection's add, modify and delete, each as it happens (xid 0).
        other.SendRaw(FlowMod(11, 0, 2, 0x22, 3));
        Assert.Empty(await other.BarrierAsync());
        Assert.Equal(new NxFlowUpdate(NxFlowMonitor.EventAdded, 0, 100, 0, 0, 0, 0x22, [Reg0(2)], [OfpAction.Output(3)]), Assert.Single(await Updates(mon, 0)));
        other.SendRaw(FlowMod(12, 1, 2, 0x22, 4));
        Assert.Empty(await other.BarrierAsync());
        Assert.Equal(new NxFlowUpdate(NxFlowMonitor.EventModified, 0, 100, 0, 0, 0, 0x22, [Reg0(2)], [OfpAction.Output(4)]), Assert.Single(await Updates(mon, 0)));
        other.SendRaw(FlowMod(13, 3, 2, 0, 0));
        Assert.Empty(await other.BarrierAsync());
        var deleted = Assert.Single(await Updates(mon, 0));
        // OFPRR_DELETE (2), the actions still shown (the monitor asked for them).
        Assert.Equal((NxFlowMonitor.EventDeleted, (ushort)2, 0x22UL), (deleted.Event, deleted.Reason, deleted.Cookie));

        // Its own flow-mod: one ABBREV with the flow-mod's xid.
        mon.SendRaw(FlowMod(0x77, 0, 3, 0x33, 2));
        Assert.Equal(NxFlowUpdate.Abbrev(0x77), Assert.Single(await Updates(mon, 0)));

        // Cancelled: nothing more comes.
        mon.SendRaw(NxFlowMonitor.EncodeCancel(14, 1));
        Assert.Empty(await mon.BarrierAsync());
        other.SendRaw(FlowMod(15, 0, 4, 0x44, 2));
        Assert.Empty(await other.BarrierAsync());
        Assert.Empty(await mon.BarrierAsync());
        Assert.Equal(0, rig.Agent.Switch.FlowMonitors.Count);
    }

    [Fact]
    public async Task AConnectionThatStopsReading_IsPaused_ThenGetsWhatWasAddedMeanwhile_AndResumed()
    {
        // The connections' clock stands still: the keepalive never closes the monitor that does not read.
        await using var rig = new AgentRig(options: new AgentOptions { Time = new ManualTimeProvider() });
        using var other = await rig.ConnectAsync();
        using var mon = await rig.ConnectAsync(receiveBufferSize: 4096);
        mon.SendRaw(Monitor(1, 1, NxFlowMonitor.FlagAdd | NxFlowMonitor.FlagActions));
        Assert.Empty(await Updates(mon, 1));

        // Flows added in batches while the monitor reads nothing, until its queue passed the pause mark; then more.
        var monitors = rig.Agent.Switch.FlowMonitors;
        uint added = 0;
        while (monitors.Pauses == 0 && added < 200_000)
        {
            for (int i = 0; i < 1000; i++, added++) other.SendRaw(FlowMod(added, 0, added, added, 2));
            Assert.Empty(await other.BarrierAsync());
        }
        Assert.Equal(1, monitors.Pauses);
        uint beforeMore = added;
        for (int i = 0; i < 500; i++, added++) other.SendRaw(FlowMod(added, 0, added, added, 2));
        Assert.Empty(await other.BarrierAsync());

        // Read: updates, one PAUSED, then (once the queue is read) the rest as ADDED, then RESUMED.
        var seen = new List<ulong>();
        int pausedAt = -1;
        while (true)
        {
            byte[] m = await Next(mon);
            if (m[1] == (byte)OfpType.Vendor)
            {
                Assert.True(Nx10.TryReadSubtype(m, out uint sub, out _));
                if (sub == NxFlowMonitor.Resumed) break;
                Assert.Equal(NxFlowMonitor.Paused, sub);
                Assert.Equal(-1, pausedAt);
                pausedAt = seen.Count;
                continue;
            }
            var list = new List<NxFlowUpdate>();
            Assert.True(NxFlowMonitor.TryDecodeReply(m, list, out var e), e.ToString());
            foreach (var u in list)
            {
                Assert.Equal(NxFlowMonitor.EventAdded, u.Event);
                Assert.Equal([OfpAction.Output(2)], u.Actions);
                seen.Add(u.Cookie);
            }
        }
        Assert.True(pausedAt > 0 && pausedAt < beforeMore, $"paused after {pausedAt} updates of {beforeMore}");
        // Every flow exactly once, the ones added after the pause among those sent at the resume.
        Assert.Equal(Enumerable.Range(0, (int)added).Select(i => (ulong)i), seen.Order());
        Assert.Contains(seen.Skip(pausedAt), c => c >= beforeMore);
        // Resumed: the next flow is reported as it is added.
        other.SendRaw(FlowMod(added, 0, added, 0xabc, 2));
        Assert.Empty(await other.BarrierAsync());
        Assert.Equal(0xabcUL, Assert.Single(await Updates(mon, 0)).Cookie);
    }
}
