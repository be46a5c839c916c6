using System.Globalization;
using System.Text;
using Softswitch.Datapath.Offload;
using Softswitch.Flows;

namespace Softswitch.Offload;

/// <summary>
/// The text of offload observability: a flow's placement and what refused it, the dump-flows line, the offload/show summary
/// and the one-line log summary. One formatter for the control socket and the logs, so they never disagree.
/// </summary>
/// <remarks>
/// Reason names are the counter registry's (<see cref="OffloadReason.Name"/>: stable, lower-case, hyphenated,
/// <c>unsupported-action</c>); scripts may match on them. A placement is <c>hw(LOCATION)</c> (the target's
/// <see cref="IOffloadTarget.Location"/>, e.g. <c>hw(exact,row=17)</c>) or <c>sw(reason=NAME)</c>, with
/// <c>,detail="..."</c> when the refusal says what refused it (<see cref="Detail"/>: quotes and backslashes escaped,
/// control characters dropped). Flows, actions and rules print through <see cref="FlowFormat"/>, the one text form.
/// Management-plane only: allocates; stateless, thread safe.
/// </remarks>
public static class OffloadReport
{
    /// <summary><c>hw(LOCATION)</c> or <c>sw(reason=NAME[,detail="..."])</c>.</summary>
    public static string Placement(in FlowPlacement p, string? location)
    {
        if (p.InHardware)
            return location is null ? $"hw(rows={p.Rows})" : $"hw({location})";
        if (Detail(p.Detail) is not { } detail) return $"sw(reason={p.Reason.Name})";
        return $"sw(reason={p.Reason.Name},detail=\"{Escape(detail)}\")";
    }

    /// <summary>
    /// A refusal's detail in words: the rule in the way as ovs-ofctl prints a rule, the refused action as ovs-ofctl
    /// prints it followed by the note (<c>IN_PORT (the board may not ...)</c>, <c>mod_nw_tos:4 after an output</c>), or
    /// the note alone; null when there is none.
    /// </summary>
    public static string? Detail(in OffloadDetail d)
    {
        if (d.Rule is { } rule) return FlowFormat.Rule(rule.Priority, rule.Match);
        if (d.Action is { } action) return d.Note is null ? FlowFormat.Action(action) : $"{FlowFormat.Action(action)} {d.Note}";
        return d.Note;
    }

    /// <summary>
    /// One dump-flows line, ovs-ofctl style:
    /// <c> cookie=0x0, duration=1.5s, n_packets=3, n_bytes=180, placement=hw(exact,row=17), priority=100,ip,... actions=output:2</c>.
    /// </summary>
    /// <param name="cookie">The rule's cookie, as the OpenFlow layer keeps it (the datapath does not).</param>
    public static string FlowLine(in FlowPlacement p, string? location, long nowNanos, ulong cookie)
    {
        var sb = FlowFormat.AppendHead(new StringBuilder(192), p.Entry, cookie, nowNanos, FlowHead.Counters | FlowHead.TrimmedDuration);
        sb.Append("placement=").Append(Placement(p, location)).Append(", ").Append(FlowFormat.Flow(p.Entry));
        return sb.ToString();
    }

    /// <summary>
    /// The offload/show text: one <c>name: value</c> per line, software flows broken down by reason (every reason with
    /// at least one flow, most frequent first, with the description its definer gave it: the target's own words for its
    /// own reasons), register writes in total and per flow-mod, table occupancy.
    /// </summary>
    public static string Show(string target, in OffloadStats s, IReadOnlyList<OffloadTableUsage> occupancy)
    {
        var sb = new StringBuilder(512);
        sb.Append("offload target: ").Append(target).Append('\n');
        sb.Append("flows: ").Append(s.HardwareFlows + s.SoftwareFlows).Append('\n');
        sb.Append("hardware flows: ").Append(s.HardwareFlows).Append(" (").Append(s.HardwareRows).Append(" rows)\n");
        sb.Append("software flows: ").Append(s.SoftwareFlows).Append('\n');
        foreach (var (reason, n) in SortedReasons(s))
            sb.Append("  ").Append(reason.Name).Append(": ").Append(n).Append(" (").Append(reason.Description).Append(")\n");
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
        if (s.HotSwaps > 0) sb.Append("hot swaps (a busier flow took a colder one's room): ").Append(s.HotSwaps).Append('\n');
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
                sb.Append(reasons[i].Reason.Name).Append('=').Append(reasons[i].Count);
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
        list.Sort(static (a, b) => a.Count != b.Count ? b.Count.CompareTo(a.Count) : string.CompareOrdinal(a.Reason.Name, b.Reason.Name));
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
