using System.Globalization;
using System.Text;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Offload;

/// <summary>
/// The text of offload observability: reason names, a flow's placement, the dump-flows line, the offload/show summary
/// and the one-line log summary. One formatter for the control socket and the logs, so they never disagree.
/// </summary>
/// <remarks>
/// Reason names are stable, lower-case, hyphenated (<c>unsupported-action</c>); scripts may match on them. A placement is
/// <c>hw(LOCATION)</c> (the target's <see cref="IOffloadTarget.Location"/>, e.g. <c>hw(exact,row=17)</c>) or
/// <c>sw(reason=NAME)</c>, with <c>,detail="..."</c> when the refusal says what refused it (quotes and backslashes
/// escaped, control characters dropped). Management-plane only: allocates.
/// </remarks>
public static class OffloadReport
{
    /// <summary>The name of <paramref name="reason"/> in CLI output and logs.</summary>
    public static string ReasonName(OffloadReason reason) => reason switch
    {
        OffloadReason.None => "none",
        OffloadReason.UnsupportedAction => "unsupported-action",
        OffloadReason.UnsupportedOutputPort => "unsupported-output-port",
        OffloadReason.UnsupportedActionOrder => "unsupported-action-order",
        OffloadReason.OutputToInPort => "output-to-in-port",
        OffloadReason.UnsupportedMatch => "unsupported-match",
        OffloadReason.InPortNotOffloadable => "in-port-not-offloadable",
        OffloadReason.ExactCollision => "exact-collision",
        OffloadReason.WildcardRowsFull => "wildcard-rows-full",
        OffloadReason.OverlapsSoftwareRule => "overlaps-software-rule",
        OffloadReason.OverlapsOffloadedRule => "overlaps-offloaded-rule",
        OffloadReason.Evicted => "evicted",
        OffloadReason.Emergency => "emergency",
        OffloadReason.DatapathState => "datapath-state",
        OffloadReason.TargetError => "target-error",
        _ => "reason-" + ((int)reason).ToString(CultureInfo.InvariantCulture),
    };

    /// <summary><c>hw(LOCATION)</c> or <c>sw(reason=NAME[,detail="..."])</c>.</summary>
    public static string Placement(in FlowPlacement p, string? location)
    {
        if (p.InHardware)
            return location is null ? $"hw(rows={p.Rows})" : $"hw({location})";
        if (p.Detail is null) return $"sw(reason={ReasonName(p.Reason)})";
        return $"sw(reason={ReasonName(p.Reason)},detail=\"{Escape(p.Detail)}\")";
    }

    /// <summary>
    /// One dump-flows line, ovs-ofctl style:
    /// <c> cookie=0x0, duration=1.5s, n_packets=3, n_bytes=180, placement=hw(exact,row=17), priority=100,ip,... actions=output:2</c>.
    /// </summary>
    public static string FlowLine(in FlowPlacement p, string? location, long nowNanos)
    {
        var e = p.Entry;
        var sb = new StringBuilder(192);
        sb.Append(" cookie=0x").Append(e.Cookie.ToString("x", CultureInfo.InvariantCulture));
        double seconds = Math.Max(0, nowNanos - e.CreatedNanos) / 1e9;
        sb.Append(", duration=").Append(seconds.ToString("0.###", CultureInfo.InvariantCulture)).Append('s');
        sb.Append(", n_packets=").Append(e.Packets.ToString(CultureInfo.InvariantCulture));
        sb.Append(", n_bytes=").Append(e.Bytes.ToString(CultureInfo.InvariantCulture));
        if (e.IdleTimeout != 0) sb.Append(", idle_timeout=").Append(e.IdleTimeout.ToString(CultureInfo.InvariantCulture));
        if (e.HardTimeout != 0) sb.Append(", hard_timeout=").Append(e.HardTimeout.ToString(CultureInfo.InvariantCulture));
        sb.Append(", placement=").Append(Placement(p, location));
        sb.Append(", ").Append(FlowFormat.Rule(e.Priority, e.Match));
        sb.Append(" actions=").Append(FlowFormat.Actions(e.Actions));
        return sb.ToString();
    }

    /// <summary>
    /// The offload/show text: one <c>name: value</c> per line, software flows broken down by reason (every reason with
    /// at least one flow, most frequent first), register writes in total and per flow-mod, table occupancy.
    /// </summary>
    public static string Show(string target, in OffloadStats s, IReadOnlyList<OffloadTableUsage> occupancy)
    {
        var sb = new StringBuilder(512);
        sb.Append("offload target: ").Append(target).Append('\n');
        sb.Append("flows: ").Append(s.HardwareFlows + s.SoftwareFlows).Append('\n');
        sb.Append("hardware flows: ").Append(s.HardwareFlows).Append(" (").Append(s.HardwareRows).Append(" rows)\n");
        sb.Append("software flows: ").Append(s.SoftwareFlows).Append('\n');
        foreach (var (reason, n) in SortedReasons(s)) sb.Append("  ").Append(ReasonName(reason)).Append(": ").Append(n).Append('\n');
        if (s.PendingEvents > 0) sb.Append("pending flow-mods: ").Append(s.PendingEvents).Append('\n');
        foreach (var t in occupancy)
            sb.Append("table ").Append(t.Name).Append(": ").Append(t.Used).Append('/').Append(t.Capacity).Append(" rows used\n");
        sb.Append("register writes: ").Append(s.FlowModRegisterWrites + s.MaintenanceRegisterWrites).Append('\n');
        sb.Append("  flow-mods: ").Append(s.FlowModEvents).Append('\n');
        sb.Append("  writes for flow-mods: ").Append(s.FlowModRegisterWrites).Append('\n');
        sb.Append("  writes per flow-mod: ").Append(s.RegisterWritesPerFlowMod.ToString("0.0", CultureInfo.InvariantCulture)).Append('\n');
        sb.Append("  writes for maintenance: ").Append(s.MaintenanceRegisterWrites).Append('\n');
        sb.Append("hardware packets: ").Append(s.HardwarePackets).Append('\n');
        sb.Append("hardware bytes: ").Append(s.HardwareBytes).Append('\n');
        sb.Append("installs: ").Append(s.Installs).Append('\n');
        sb.Append("evictions: ").Append(s.Evictions).Append('\n');
        sb.Append("promotions: ").Append(s.Promotions).Append('\n');
        sb.Append("placement latency: mean ").Append(s.PlacementLatencyMeanMicros.ToString("0", CultureInfo.InvariantCulture))
          .Append(" us, max ").Append(s.PlacementLatencyMaxMicros.ToString("0", CultureInfo.InvariantCulture)).Append(" us over ")
          .Append(s.PlacedEvents).Append(" changes\n");
        sb.Append("polls: ").Append(s.Polls).Append('\n');
        sb.Append("target errors: ").Append(s.TargetErrors).Append('\n');
        return sb.ToString();
    }

    /// <summary>
    /// The one-line summary for logs: <c>3 flows in hardware (3 rows), 2 in software (unsupported-action=1,
    /// output-to-in-port=1); 60 register writes for 5 flow-mods (12.0 per flow-mod), 8 for maintenance; exact 2/32768, wildcard 1/24</c>.
    /// </summary>
    public static string SummaryLine(in OffloadStats s, IReadOnlyList<OffloadTableUsage> occupancy)
    {
        var sb = new StringBuilder(192);
        sb.Append(s.HardwareFlows).Append(" flows in hardware (").Append(s.HardwareRows).Append(" rows), ");
        sb.Append(s.SoftwareFlows).Append(" in software");
        var reasons = SortedReasons(s);
        if (reasons.Count > 0)
        {
            sb.Append(" (");
            for (int i = 0; i < reasons.Count; i++)
            {
                if (i > 0) sb.Append(", ");
                sb.Append(ReasonName(reasons[i].Reason)).Append('=').Append(reasons[i].Count);
            }
            sb.Append(')');
        }
        sb.Append("; ").Append(s.FlowModRegisterWrites).Append(" register writes for ").Append(s.FlowModEvents).Append(" flow-mods (")
          .Append(s.RegisterWritesPerFlowMod.ToString("0.0", CultureInfo.InvariantCulture)).Append(" per flow-mod), ")
          .Append(s.MaintenanceRegisterWrites).Append(" for maintenance");
        for (int i = 0; i < occupancy.Count; i++)
        {
            sb.Append(i == 0 ? "; " : ", ").Append(occupancy[i].Name).Append(' ').Append(occupancy[i].Used).Append('/').Append(occupancy[i].Capacity);
        }
        if (s.TargetErrors > 0) sb.Append("; ").Append(s.TargetErrors).Append(" target errors");
        return sb.ToString();
    }

    /// <summary>Reasons with at least one software flow, most flows first, then by name.</summary>
    public static List<(OffloadReason Reason, int Count)> SortedReasons(in OffloadStats s)
    {
        var list = new List<(OffloadReason Reason, int Count)>();
        foreach (var (r, n) in s.SoftwareReasons)
            if (n > 0 && r != OffloadReason.None) list.Add((r, n));
        list.Sort(static (a, b) => a.Count != b.Count ? b.Count.CompareTo(a.Count) : string.CompareOrdinal(ReasonName(a.Reason), ReasonName(b.Reason)));
        return list;
    }

    /// <summary>Placements in dump-flows order: hardware first, exact before wildcard, then by priority (highest first).</summary>
    public static void SortForDump(List<FlowPlacement> placements)
        => placements.Sort(static (a, b) =>
        {
            if (a.InHardware != b.InHardware) return a.InHardware ? -1 : 1;
            bool ae = a.Entry.Match.IsExact, be = b.Entry.Match.IsExact;
            if (ae != be) return ae ? -1 : 1;
            int c = b.Entry.Priority.CompareTo(a.Entry.Priority);
            return c != 0 ? c : a.Entry.CreatedNanos.CompareTo(b.Entry.CreatedNanos);
        });

    private static string Escape(string detail)
    {
        var sb = new StringBuilder(detail.Length + 4);
        foreach (char c in detail)
        {
            if (c is '"' or '\\') sb.Append('\\').Append(c);
            else if (!char.IsControl(c)) sb.Append(c);
        }
        return sb.ToString();
    }
}
