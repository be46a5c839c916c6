using System.Globalization;
using System.Text;
using Softswitch.Datapath;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Ports;
using Softswitch.OfAgent;
using Softswitch.Offload;
using Softswitch.Ofproto;
using Softswitch.Ports.AfXdp;

namespace Softswitch.Control;

/// <summary>
/// The commands of a running `softswitch run`: <c>dp/show</c> (ports, tables, the non-zero counters),
/// <c>coverage/show</c> (every counter of the registry with its description), <c>offload/show</c> (where the flows
/// live and what it cost), <c>offload/dump-flows [hw|sw]</c> (every flow with its placement), and the receive queues'
/// <c>dpif-netdev/pmd-rxq-show</c> and <c>dpif-netdev/pmd-rxq-rebalance</c> (<see cref="PmdCommands"/>).
/// </summary>
/// <remarks>
/// Each reads snapshots: port counters, table stats, <see cref="OffloadManager.Stats"/> and
/// <see cref="OffloadManager.Placements"/> (taken under the manager's lock, formatted outside it). Nothing here touches
/// the board's registers: occupancy and rows come from the driver's own bookkeeping. Placement is asynchronous: the
/// offload commands first wait (at most <see cref="SettleTimeout"/>) for the flow-mods already applied to be placed, so
/// a script that adds flows and then asks sees where they went; what is still queued after that shows as pending.
/// </remarks>
internal static class DaemonCommands
{
    public const string OffloadOff = "offload is not enabled (run with --offload xdp, netfpga or netfpga-emulated)";

    /// <summary>How long the offload commands wait for queued flow-mods to be placed before answering.</summary>
    public static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(2);

    /// <param name="board">The offload target's own lines for offload/show (which board, register accesses, errors), or null.</param>
    public static void Register(ControlCommands commands, SwitchDatapath dp, OfSwitchAgent agent, OffloadManager? offload, Func<string>? board = null)
    {
        commands.Register("dp/show", "", "ports with counters, tables, controller, non-zero counters", 0, 0, _ => ControlReply.Success(DpShow(dp, agent, offload)));
        commands.Register("coverage/show", "", "every registered counter: name, value, description", 0, 0, _ => ControlReply.Success(CoverageShow(dp)));
        commands.Register("offload/show", "", "flows in hardware and software, reasons, register writes, table occupancy", 0, 0, _ => OffloadShow(offload, board));
        commands.Register("offload/dump-flows", "[hw|sw]", "every flow with its placement (hardware row, or why software)", 0, 1,
            args => OffloadDumpFlows(offload, args.Length > 0 ? args[0] : null, dp.Clock.NowNanos));
        PmdCommands.Register(commands, () => dp.Balancer);
    }

    public static ControlReply OffloadShow(OffloadManager? offload, Func<string>? board = null)
    {
        if (offload is null) return ControlReply.Error(OffloadOff);
        offload.WaitForPlacement(SettleTimeout);
        return ControlReply.Success(OffloadReport.Show(offload.Target.Name, offload.Stats, offload.Target.Occupancy) + board?.Invoke());
    }

    /// <summary>One line per flow (<see cref="OffloadReport.FlowLine"/>), hardware first; <paramref name="filter"/> hw or sw keeps one side.</summary>
    public static ControlReply OffloadDumpFlows(OffloadManager? offload, string? filter, long nowNanos)
    {
        if (offload is null) return ControlReply.Error(OffloadOff);
        if (filter is not (null or "hw" or "sw")) return ControlReply.Error($"'{filter}' is not hw or sw; usage: offload/dump-flows [hw|sw]");
        offload.WaitForPlacement(SettleTimeout);
        var placements = offload.Placements();
        if (filter is not null) placements.RemoveAll(p => p.InHardware != (filter == "hw"));
        OffloadReport.SortForDump(placements);
        var sb = new StringBuilder(placements.Count * 160);
        foreach (var p in placements)
        {
            string? location = p.InHardware ? offload.Target.Location(p.Entry) : null;
            sb.Append(OffloadReport.FlowLine(p, location, nowNanos, OfFlowRule.CookieOf(p.Entry))).Append('\n');
        }
        return ControlReply.Success(sb.ToString());
    }

    /// <summary>
    /// coverage/show: one line per registered counter, <c>NAME VALUE  DESCRIPTION</c>, in registration order (families
    /// together), zeros included.
    /// </summary>
    public static string CoverageShow(SwitchDatapath dp)
    {
        var all = dp.Counters.Snapshot();
        int width = 0;
        foreach (var (info, _) in all) width = Math.Max(width, info.Name.Length);
        var sb = new StringBuilder(all.Count * 96);
        foreach (var (info, value) in all)
        {
            sb.Append(info.Name.PadRight(width)).Append(' ').Append(value.ToString(CultureInfo.InvariantCulture).PadLeft(12))
              .Append("  ").Append(info.Description).Append('\n');
        }

        return sb.ToString();
    }

    /// <summary>A counter, or n/a for −1 (not counted by the port, as in OpenFlow 1.0 port stats).</summary>
    private static OrNa N(long v) => new(v);

    /// <summary>A counter formatted in place as <see cref="N"/> shows it (no string per counter in dp/show).</summary>
    private readonly struct OrNa(long value) : ISpanFormattable
    {
        public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider)
        {
            if (value >= 0) return value.TryFormat(destination, out charsWritten, format, CultureInfo.InvariantCulture);
            charsWritten = "n/a".AsSpan().TryCopyTo(destination) ? 3 : 0;
            return charsWritten == 3;
        }

        public string ToString(string? format, IFormatProvider? formatProvider) => value < 0 ? "n/a" : value.ToString(CultureInfo.InvariantCulture);

        public override string ToString() => ToString(null, null);
    }

    /// <summary>
    /// A port's OpenFlow config bits as words, lower case as the rest of dp/show: <c>none</c>, <c>no_flood</c>,
    /// <c>port_down,no_packet_in</c> (ovs-ofctl's names for OFPPC_*). Made once for the 128 combinations: dp/show is polled.
    /// </summary>
    internal static string ConfigText(PortConfig config) => (uint)config < (uint)s_configText.Length ? s_configText[(int)config] : $"0x{(uint)config:x}";

    private static readonly string[] s_configText = Enumerable.Range(0, 128).Select(bits =>
    {
        var names = new List<string>();
        foreach (var (bit, name) in new[] { (PortConfig.PortDown, "port_down"), (PortConfig.NoStp, "no_stp"), (PortConfig.NoRecv, "no_recv"), (PortConfig.NoRecvStp, "no_recv_stp"),
                                             (PortConfig.NoFlood, "no_flood"), (PortConfig.NoFwd, "no_fwd"), (PortConfig.NoPacketIn, "no_packet_in") })
        {
            if ((bits & (int)bit) != 0) names.Add(name);
        }
        return names.Count == 0 ? "none" : string.Join(',', names);
    }).ToArray();

    /// <summary>The mode the port's sockets got: "zero-copy mode", "copy mode (why)" when they all agree, else
    /// "mixed mode: queue 0 zero-copy, queue 1 copy (why)".</summary>
    internal static string XdpModeText(IReadOnlyList<(int Queue, bool ZeroCopy, string? CopyReason)> modes)
    {
        static string One((int Queue, bool ZeroCopy, string? CopyReason) m) => m.ZeroCopy ? "zero-copy" : $"copy ({m.CopyReason})";
        bool same = true;
        for (int i = 1; i < modes.Count; i++) same &= modes[i].ZeroCopy == modes[0].ZeroCopy && modes[i].CopyReason == modes[0].CopyReason;
        if (modes.Count == 0) return "no sockets";
        if (same) return modes[0].ZeroCopy ? "zero-copy mode" : $"copy mode ({modes[0].CopyReason})";
        var sb = new StringBuilder("mixed mode:");
        for (int i = 0; i < modes.Count; i++) sb.Append(i == 0 ? " " : ", ").Append(CultureInfo.InvariantCulture, $"queue {modes[i].Queue} {One(modes[i])}");
        return sb.ToString();
    }

    /// <summary>An AF_XDP port's mode and its sockets' kernel counters (XDP_STATISTICS), as "name value" pairs.</summary>
    private static void AppendXdp(StringBuilder sb, AfXdpPort x)
    {
        var ic = CultureInfo.InvariantCulture;
        var st = x.KernelStatistics;
        sb.Append(ic, $"    afxdp: {XdpModeText(x.SocketModes)}, XDP {(x.AttachedMode == XdpAttachMode.Native ? "native" : "generic")}, ")
          .Append(ic, $"{x.Queues.Count} queue(s) of {x.RxFrames} rx frames, umem {(x.InArena ? "packet arena (received in place)" : x.ArenaRefusal is { } why ? $"own ({why})" : "own")}, multi-buffer {(x.MultiBuffer ? "on" : "off")}, kernel busy-poll {(x.KernelBusyPoll ? "on" : "off")}, rx_dropped {st.RxDropped} rx_ring_full {st.RxRingFull} ")
          .Append(ic, $"rx_fill_ring_empty_descs {st.FillRingEmptyDescs} tx_ring_empty_descs {st.TxRingEmptyDescs} rx_invalid_descs {st.RxInvalidDescs} ")
          .Append(ic, $"tx_invalid_descs {st.TxInvalidDescs} rx_no_buffers {x.RxNoBuffers} rx_in_place {x.RxInPlace} tx_in_place {x.TxInPlace} tx_kicks {x.TxKicks} tx_kicks_skipped {x.TxKicksSkipped} tx_idle_kicks {x.TxIdleKicks} tx_lock_waits {x.TxLockWaits}\n");
        // Which thread transmits on which queue (t mod Q; "other": packet-outs and the control path), locked or not,
        // and per queue the descriptors posted and completed (equal once the queue drained).
        sb.Append("    afxdp tx:");
        foreach (var (thread, queue, locked, frames) in x.TransmitLanes)
            sb.Append(ic, $" {thread} queue {queue} {(locked ? "locked" : "unlocked")} {frames} frames;");
        var posted = x.TxPostedPerQueue;
        var completed = x.TxCompletedPerQueue;
        for (int i = 0; i < posted.Length; i++) sb.Append(ic, $" queue {x.Queues[i]} posted {posted[i]} completed {completed[i]};");
        sb.Length--;
        sb.Append('\n');
    }

    public static string DpShow(SwitchDatapath dp, OfSwitchAgent agent, OffloadManager? offload)
    {
        // The thread's builder, reused; the counters read without a snapshot list (monitors poll this every few seconds).
        var sb = ReplyBuilders.RentText();
        var ic = CultureInfo.InvariantCulture;
        sb.Append(ic, $"datapath {agent.Switch.DatapathId:x16}: {dp.Ports.List.Length} port(s){(dp.Ports.Local is null ? "" : " and LOCAL")}, {dp.Forwarders.Count} forwarding thread(s), fail mode {agent.Switch.Options.FailMode.ToString().ToLowerInvariant()}\n");
        sb.Append(ic, $"controller: {(agent.ControllerConnected ? "connected" : "not connected")}, packet-ins {agent.PacketInsSent} sent, {agent.PacketInsDropped} dropped, async messages {agent.AsyncMessagesDropped} dropped, flow-mods {agent.FlowModsApplied} applied\n");
        // Each active controller, connected or why not (Mininet's switch class reads this while it waits).
        foreach (var c in agent.ActiveControllers) sb.Append(c.Describe()).Append('\n');
        foreach (var l in agent.Listeners)
        {
            sb.Append(ic, $"listener {l.Endpoint}: {l.Live} open, {Interlocked.Read(ref l.Accepted)} accepted, {Interlocked.Read(ref l.Established)} established, ")
              .Append(ic, $"{Interlocked.Read(ref l.OpeningFailed)} refused in opening (deadline, TLS, closed), {Interlocked.Read(ref l.Evicted)} dropped for room, ")
              .Append(ic, $"{Interlocked.Read(ref l.EvictedIdle)} idle closed for room, {Interlocked.Read(ref l.RefusedFull)} refused at the cap\n");
        }

        foreach (var table in agent.Switch.Flows.Tables)
        {
            var st = agent.Switch.Flows.GetTableStats(table.Id);
            sb.Append(ic, $"table {st.TableId} ({st.Name}): {st.ActiveCount} flows (max {st.MaxEntries}), {st.LookupCount} lookups, {st.MatchedCount} matched\n");
            if (table.Id != OfFlowTables.MainTableId) continue;
            for (int stage = 0; stage < OfFlowTables.StageCount; stage++)
            {
                var ss = agent.Switch.Flows.GetStageStats(stage);
                sb.Append(ic, $"  stage {ss.Name}: {ss.ActiveCount} flows (max {ss.MaxEntries}), {ss.LookupCount} lookups, {ss.MatchedCount} matched\n");
            }
        }
        sb.Append(ic, $"emergency flows: {agent.Switch.Flows.Emergency}\n");
        if (dp.MaintenanceErrorCount > 0)
            sb.Append(ic, $"maintenance errors: {dp.MaintenanceErrorCount} (last: {dp.LastMaintenanceError?.GetType().Name}: {dp.LastMaintenanceError?.Message}; the log has the stack trace)\n");
        sb.Append("ports:\n");
        foreach (var p in dp.Ports.WithLocal)
        {
            var c = p.Port.Counters.Snapshot();
            sb.Append(ic, $"  {Flows.FlowFormat.Port(p.No)} {p.Port.Info.Name}: link {(p.Port.LinkUp ? "up" : "down")}, config {ConfigText(p.Config)}, ")
              .Append(ic, $"rx {N(c.RxPackets)} packets {N(c.RxBytes)} bytes {N(c.RxDropped)} dropped, tx {N(c.TxPackets)} packets {N(c.TxBytes)} bytes {N(c.TxDropped)} dropped\n");
            var pc = p.Port.Counters;
            sb.Append(ic, $"    offloads: csum-completed {Volatile.Read(ref pc.RxChecksumCompleted)}, gso-whole {Volatile.Read(ref pc.RxGsoWhole)}, gso-segmented {Volatile.Read(ref pc.RxGsoFrames)} ")
              .Append(ic, $"({Volatile.Read(ref pc.RxGsoSegments)} segments), gso-refused {Volatile.Read(ref pc.RxGsoRefused)}, oversize {Volatile.Read(ref pc.RxOversize)}\n");
            if (p.Port is AfXdpPort x) AppendXdp(sb, x);
        }
        for (int t = 0; t < dp.Waiters.Count; t++)
        {
            var f = dp.Forwarders[t];
            sb.Append(ic, $"thread {t}: {f.Packets} packets, {dp.Waiters[t].Sleeps} sleeps in the kernel, {dp.Waiters[t].ControlWakeups} control wake-ups, "
                        + $"{dp.Waiters[t].Disarms} busy spells without port wake-ups, ")
              .Append(ic, $"longest stall {f.MaxBusyGapMicros} us, stalls over 1 ms {f.BusyGapsOver1ms}, over 10 ms {f.BusyGapsOver10ms}\n");
            if (f.Cache is { } emc)
            {
                long lookups = emc.Hits + emc.Misses, consulted = f.EmcGovernor.ConsultedPackets, bypassed = f.EmcGovernor.BypassedPackets;
                sb.Append(ic, $"  emc: hit rate {(lookups == 0 ? 0 : 100.0 * emc.Hits / lookups):F1}% of the {(consulted + bypassed == 0 ? 0 : 100.0 * consulted / (consulted + bypassed)):F1}% of classified packets that used it ")
                  .Append(ic, $"({consulted} used, {bypassed} bypassed)\n");
            }
        }
        var all = Coverage.All;
        Span<long> values = all.Count <= 1024 ? stackalloc long[all.Count] : new long[all.Count];
        dp.Counters.ReadAll(values);
        sb.Append("counters:");
        int nonZero = 0;
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i] == 0) continue;
            sb.Append(' ').Append(all[i].Name).Append('=').Append(values[i]);
            nonZero++;
        }
        sb.Append(nonZero == 0 ? " none\n" : "\n");
        if (offload is not null)
        {
            var s = offload.Stats;
            sb.Append(ic, $"offload ({offload.Target.Name}): {s.HardwareFlows} flows in hardware, {s.SoftwareFlows} in software\n");
        }
        return ReplyBuilders.ToStringAndReturn(sb);
    }
}
