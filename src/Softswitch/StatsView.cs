using System.Globalization;
using Softswitch.Datapath;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Ports;
using Softswitch.Logging;
using Softswitch.OfAgent;
using Spectre.Console;

namespace Softswitch;

/// <summary>
/// `run --stats`: once a second, per port the packet and bit rates and drops, the busiest flows, learned addresses.
/// On a terminal it is a live table (logs on stderr are held back while it is up and written after); off a terminal
/// it prints plain lines without escapes, one block per second.
/// </summary>
internal static class StatsView
{
    internal sealed class Rates
    {
        public readonly Dictionary<PortSlot, PortCountersSnapshot> Ports = new();
        /// <summary>Packets per flow, keyed by the entry's incarnation (a recycled entry is another flow).</summary>
        public readonly Dictionary<(Datapath.Flow.FlowEntry Entry, int Serial), long> Flows = new();
    }

    public static void Run(SwitchDatapath dp, OfSwitchAgent agent, OffloadManager? offload, Vlog vlog, ManualResetEventSlim done)
    {
        var prev = new Rates();
        Sample(dp, prev);
        if (Console.IsOutputRedirected)
        {
            while (!done.Wait(1000))
            {
                var rows = Compute(dp, ref prev);
                foreach (var line in Lines(dp, agent, rows)) Console.Out.WriteLine(line);
                Console.Out.Flush();
            }
            return;
        }
        var held = new StringWriter();
        vlog.RedirectConsole(held);
        try
        {
            AnsiConsole.Live(new Table()).Start(ctx =>
            {
                while (!done.Wait(1000))
                {
                    var rows = Compute(dp, ref prev);
                    var t = new Table().Title(Markup.Escape($"softswitch  flows {agent.Switch.Flows.ActiveExact} exact, {agent.Switch.Flows.ActiveWildcard} wildcard{RunCommand.OffloadTitle(offload)}  " +
                                              $"controller {(agent.ControllerConnected ? "connected" : "not connected")}  macs {dp.MacTable.Count}"));
                    t.AddColumns("port", "name", "rx pps", "rx Mbit/s", "tx pps", "tx Mbit/s", "drops/s", "link");
                    foreach (var r in rows.Ports) t.AddRow(r.No.ToString(CultureInfo.InvariantCulture), Markup.Escape(r.Name), F(r.RxPps), F(r.RxMbps, "0.0"), F(r.TxPps), F(r.TxMbps, "0.0"), F(r.DropsPerSecond), r.Link);
                    t.Caption(Markup.Escape(rows.TopFlows.Count == 0 ? "no flow traffic" : "top flows: " + string.Join("  ", rows.TopFlows.Select(f => $"{f.Pps:0} pps {f.Rule}"))));
                    ctx.UpdateTarget(t);
                }
            });
        }
        finally
        {
            vlog.RedirectConsole(Console.Error);
            Console.Error.Write(held.ToString());
        }
    }

    internal readonly record struct PortRow(ushort No, string Name, double RxPps, double RxMbps, double TxPps, double TxMbps, double DropsPerSecond, string Link);
    internal readonly record struct FlowRow(string Rule, double Pps);
    internal sealed record Rows(List<PortRow> Ports, List<FlowRow> TopFlows);

    private static void Sample(SwitchDatapath dp, Rates into)
    {
        foreach (var p in dp.Ports.List) into.Ports[p] = p.Port.Counters.Snapshot();
        var flows = new List<Datapath.Flow.FlowEntry>();
        dp.Pipeline.Table(0).Snapshot(flows);
        foreach (var f in flows) into.Flows[(f, f.Serial)] = f.Packets;
    }

    /// <summary>Rates over the last second; <paramref name="prev"/> becomes this sample.</summary>
    internal static Rows Compute(SwitchDatapath dp, ref Rates prev)
    {
        // The flows sampled are read until the rows are made: a hold keeps them from being recycled meanwhile.
        using var hold = dp.Pipeline.Reclamation.Enter();
        var now = new Rates();
        Sample(dp, now);
        var ports = new List<PortRow>();
        foreach (var p in dp.Ports.List)
        {
            var c = now.Ports[p];
            var o = prev.Ports.TryGetValue(p, out var before) ? before : c;
            static double D(long a, long b) => a < 0 || b < 0 ? 0 : Math.Max(0, a - b);
            ports.Add(new PortRow(p.No, p.Port.Info.Name, D(c.RxPackets, o.RxPackets), D(c.RxBytes, o.RxBytes) * 8 / 1e6, D(c.TxPackets, o.TxPackets),
                D(c.TxBytes, o.TxBytes) * 8 / 1e6, D(c.RxDropped, o.RxDropped) + D(c.TxDropped, o.TxDropped), p.Port.LinkUp ? "up" : "down"));
        }
        var last = prev;
        var top = now.Flows.Select(kv => (kv.Key, Pps: (double)(kv.Value - (last.Flows.TryGetValue(kv.Key, out long b) ? b : 0))))
            .Where(f => f.Pps > 0).OrderByDescending(f => f.Pps).Take(5)
            .Select(f => new FlowRow(Flows.FlowFormat.Rule(f.Key.Entry.Priority, f.Key.Entry.Match), f.Pps)).ToList();
        prev = now;
        return new Rows(ports, top);
    }

    /// <summary>The plain form: one line per port, one per busy flow, then a blank line (fits 80 columns for short names).</summary>
    internal static IEnumerable<string> Lines(SwitchDatapath dp, OfSwitchAgent agent, Rows rows)
    {
        var ic = CultureInfo.InvariantCulture;
        yield return string.Create(ic, $"{DateTime.UtcNow:HH:mm:ss} flows={agent.Switch.Flows.ActiveExact + agent.Switch.Flows.ActiveWildcard} macs={dp.MacTable.Count} controller={(agent.ControllerConnected ? "connected" : "none")}");
        foreach (var r in rows.Ports)
            yield return string.Create(ic, $"  port {r.No} {r.Name}: rx {r.RxPps:0} pps {r.RxMbps:0.0} Mbit/s, tx {r.TxPps:0} pps {r.TxMbps:0.0} Mbit/s, drops {r.DropsPerSecond:0}/s, link {r.Link}");
        foreach (var f in rows.TopFlows) yield return string.Create(ic, $"  flow {f.Pps:0} pps {f.Rule}");
    }

    private static string F(double v, string format = "N0") => v.ToString(format, CultureInfo.InvariantCulture);
}
