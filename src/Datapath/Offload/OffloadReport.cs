using System.Globalization;
using System.Text;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Offload;

/// <summary>
/// Offload state as text for people: the summary of `softswitch ctl offload/show`, the per-flow lines of
/// `offload/dump-flows`, and the one-line log summaries. Reasons print in kebab case (<c>unsupported-action</c>).
/// </summary>
public static class OffloadReport
{
    /// <summary><paramref name="r"/> in kebab case: <see cref="OffloadReason.OverlapsSoftwareRule"/> is "overlaps-software-rule".</summary>
    public static string ReasonName(OffloadReason r)
    {
        string name = r.ToString();
        var sb = new StringBuilder(name.Length + 4);
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (char.IsUpper(c) && i > 0) sb.Append('-');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    /// <summary>The multi-line summary: flow counts, software flows by reason, register writes, hardware counts.</summary>
    public static string Summary(OffloadStats st, string target)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(inv, $"offload target: {target}\n");
        sb.Append(inv, $"flows: {st.HardwareFlows + st.SoftwareFlows} ({st.HardwareFlows} in hardware using {st.HardwareRows} rows, {st.SoftwareFlows} in software)\n");
        if (st.SoftwareReasons.Count > 0)
        {
            sb.Append("software flows by reason:\n");
            foreach (var (reason, n) in st.SoftwareReasons.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key))
                sb.Append(inv, $"  {ReasonName(reason)}: {n}\n");
        }
        sb.Append(inv, $"register writes: {st.FlowModRegisterWrites} for {st.FlowModEvents} flow-table changes ({st.RegisterWritesPerFlowMod:0.0} per change), {st.MaintenanceRegisterWrites} by maintenance ({st.Polls} polls)\n");
        sb.Append(inv, $"placements: {st.Installs} installs, {st.Evictions} evictions, {st.Promotions} promotions\n");
        sb.Append(inv, $"hardware counted: {st.HardwarePackets} packets, {st.HardwareBytes} bytes\n");
        return sb.ToString();
    }

    /// <summary>One line for the log: <c>3 flows in hardware (6 rows), 2 in software (unsupported-action=1, ...), 4.5 register writes per flow-mod</c>.</summary>
    public static string OneLine(OffloadStats st)
    {
        var inv = CultureInfo.InvariantCulture;
        string reasons = st.SoftwareReasons.Count == 0 ? "" :
            " (" + string.Join(", ", st.SoftwareReasons.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key).Select(kv => $"{ReasonName(kv.Key)}={kv.Value}")) + ")";
        return string.Create(inv, $"{st.HardwareFlows} flows in hardware ({st.HardwareRows} rows), {st.SoftwareFlows} in software{reasons}, {st.RegisterWritesPerFlowMod:0.0} register writes per flow-mod");
    }

    /// <summary>Where a flow lives: <c>placement=hw rows=1</c> or <c>placement=sw reason=unsupported-action (output:controller:65535)</c>.</summary>
    public static string Placement(in FlowPlacement p)
    {
        string kind = p.Entry.Match.IsExact ? "exact" : "wildcard";
        if (p.InHardware) return $"placement=hw table={kind} rows={p.Rows}";
        string detail = p.Detail is { Length: > 0 } d ? $" ({d})" : "";
        return $"placement=sw table={kind} reason={ReasonName(p.Reason)}{detail}";
    }

    /// <summary>One line per flow, highest priority first (exact flows first, as they are looked up), in ovs-ofctl syntax.</summary>
    public static string DumpFlows(IEnumerable<FlowPlacement> placements)
    {
        var sb = new StringBuilder();
        foreach (var p in placements.OrderBy(p => p.Entry.Match.IsExact ? 0 : 1).ThenByDescending(p => p.Entry.Priority).ThenBy(p => p.Entry.Serial))
        {
            var e = p.Entry;
            sb.Append(CultureInfo.InvariantCulture, $"n_packets={e.Packets}, n_bytes={e.Bytes}, {FlowFormat.Flow(e)} {Placement(p)} last_register_writes={p.LastRegisterWrites}\n");
        }
        return sb.ToString();
    }
}
