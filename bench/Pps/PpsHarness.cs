using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Datapath.Tunnels;
using Softswitch.Bench.Plots;
using Softswitch.Ofproto;

namespace Softswitch.Bench.Pps;

/// <summary>Options of the pps harness.</summary>
public sealed class PpsOptions
{
    public int Flows = 100_000;
    public int Rules;
    public int Masks = 16;
    public bool Emc = true;
    public int EmcEntries = 1 << 16;
    public double Churn;          // flow-mods per second; double.PositiveInfinity = as fast as possible
    public double Seconds = 10;
    public bool Json;
    public int Ports = 4;
    public int FrameSize = 64;
    public int Seed = 1;
    /// <summary>Forwarding threads: thread i forwards what in-memory port i+1 generates (its own flows, its own EMC).</summary>
    public int Threads = 1;
    /// <summary>vxlan, gre or ipip: traffic goes through a tunnel port over an in-memory underlay (null: plain forwarding).</summary>
    public string? Tunnel;
    /// <summary>With <see cref="Tunnel"/>: measure decapsulation (encapsulated frames arrive on the underlay) instead of encapsulation.</summary>
    public bool TunnelRx;
    /// <summary>Replay this capture's frames on port 1 (from memory, cycling) instead of synthetic traffic; needs <see cref="FlowFile"/>.</summary>
    public string? Pcap;
    /// <summary>Install the flows of this ovs-ofctl add-flows file instead of synthetic flows.</summary>
    public string? FlowFile;
    /// <summary>With <see cref="FlowFile"/>: MAC PORT lines the learning table (OFPP_NORMAL) knows before traffic starts.</summary>
    public string? Fdb;
    /// <summary>An OpenFlow listener (ptcp:PORT[:IP]) so a controller can send flow-mods while traffic runs.</summary>
    public string? Listen;
    /// <summary>Pin the forwarding thread to this CPU (-1: let the scheduler place it).</summary>
    public int PinCpu = -1;
    /// <summary>After warm-up, keep forwarding until this file exists, then measure (another process's cue, e.g. churn started).</summary>
    public string? StartFile;
    /// <summary>--rewarm S: after --start-file appears, forward S seconds more before measuring (flows a controller installed get their caches warm).</summary>
    public double Rewarm;
    /// <summary>Reuse removed flows' entries (as the daemon does): the polling threads are readers of the pipeline's reclamation domain.</summary>
    public bool Recycle = true;
    /// <summary>Write the result file (DIR/pps.json) and its plots (SVG, PNG) here after measuring (null: none).</summary>
    public string? PlotDir;
    /// <summary>With <see cref="Churn"/>: churn begins this many seconds into the measured window (0: with it).</summary>
    public double ChurnAfter;
    /// <summary>With <see cref="Churn"/> and a <see cref="Pipeline"/>: each flow-mod published on its own instead of in runs.</summary>
    public bool ChurnEach;
    /// <summary>Length of one forwarding-rate sample of the timeline (seconds).</summary>
    public double SampleInterval = 0.1;
    /// <summary>Measure 1, 2, ... this many forwarding threads one after the other (0: one run of <see cref="Threads"/>).</summary>
    public int ScaleTo;
    /// <summary>
    /// --shared catchall|rules|normal|split: every forwarding thread hits the same rules and sends to the same output
    /// port (the last one): one catch-all flow (output), --rules wildcard rules that do not match in_port, one catch-all
    /// NORMAL flow with the destination learned behind the output port; or split: one generating port whose receiving
    /// the threads share, split by flow hash, with its --flows exact flows (null: each thread its own port, flows and
    /// output ports, sharing nothing).
    /// </summary>
    public string? Shared;
    /// <summary>--per-cpu (with --pin-cpu N and --threads 2): after a run not counted (the code tiered up), one thread alone
    /// on CPU N, alone on N+1, then both; reports the rate of both against the sum of each alone on its CPU, and the same
    /// per second each thread ran on its CPU (its scheduler run time: what a loaded machine's time slices leave).</summary>
    public bool PerCpu;

    /// <summary>These options with another --pipeline (the other side of --paired --versus).</summary>
    public PpsOptions WithPipeline(string pipeline)
    {
        var c = (PpsOptions)MemberwiseClone();
        c.Pipeline = pipeline;
        c.Versus = null;
        return c;
    }

    /// <summary>These options for one run of a --scale-to sweep.</summary>
    public PpsOptions ForThreads(int threads)
    {
        var c = (PpsOptions)MemberwiseClone();
        c.Threads = threads;
        c.ScaleTo = 0;
        return c;
    }
    /// <summary>Sample 1 in N packets as sFlow export does (0: off), with a thread draining the samples ten times a second.</summary>
    public int Sampling;
    /// <summary>--pipeline faucet: a four-table OpenFlow 1.3 pipeline shaped like Faucet's (see <see cref="Traffic.BuildFaucet"/>); null: one table of --flows exact flows.</summary>
    public string? Pipeline;
    /// <summary>--paired (with --pipeline): the pipeline and the one-table row with the same --flows, measured in one process in alternating windows.</summary>
    public bool Paired;
    /// <summary>--versus P (with --pipeline and --paired): the other side is pipeline P over the same --flows instead of one table.</summary>
    public string? Versus;
    /// <summary>
    /// The --flows flows as an OpenFlow 1.3 controller installs them (an os-ken or Faucet app): in_port, eth_type,
    /// ip_proto, the IPv4 addresses and UDP ports at one priority, under OpenFlow 1.3's rules (priority decides, no
    /// exact-match ranking), instead of OpenFlow 1.0 exact 12-tuple flows.
    /// </summary>
    public bool OpenFlow13;
    /// <summary>
    /// --meter KBPS: every --flows flow (as --openflow13 installs them) runs through one meter, a drop band of KBPS kbit/s
    /// (0: no meter). A rate above the offered load measures what metering costs; a lower one, how exactly the band holds.
    /// </summary>
    public long MeterKbps;
    /// <summary>
    /// --group all|select|indirect|ff: every --flows flow (as --openflow13 installs them) applies one group instead of
    /// outputting: select over the output ports (weights equal), all to two ports, indirect to one, fast failover over
    /// two watched ports (the first live). Null: no group.
    /// </summary>
    public string? Group;

    public static PpsOptions Parse(string[] args)
    {
        var o = new PpsOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{a} needs a value");
            switch (a)
            {
                case "--flows": o.Flows = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--rules": o.Rules = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--masks": o.Masks = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--emc": o.Emc = Next() is "on" or "true" or "1"; break;
                case "--emc-entries": o.EmcEntries = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--churn": { var v = Next(); o.Churn = v == "max" ? double.PositiveInfinity : double.Parse(v, CultureInfo.InvariantCulture); break; }
                case "--seconds": o.Seconds = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--json": o.Json = true; break;
                case "--ports": o.Ports = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--frame-size": o.FrameSize = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--seed": o.Seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--threads": o.Threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--tunnel":
                    o.Tunnel = Next().ToLowerInvariant();
                    if (o.Tunnel is not ("vxlan" or "gre" or "ipip")) throw new ArgumentException("--tunnel takes vxlan, gre or ipip");
                    break;
                case "--tunnel-rx": o.TunnelRx = true; break;
                case "--pcap": o.Pcap = Next(); break;
                case "--flow-file": o.FlowFile = Next(); break;
                case "--fdb": o.Fdb = Next(); break;
                case "--listen": o.Listen = Next(); break;
                case "--recycle": o.Recycle = Next() switch { "on" => true, "off" => false, var v => throw new ArgumentException($"--recycle on|off, not {v}") }; break;
                case "--sampling": o.Sampling = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--pin-cpu": o.PinCpu = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--start-file": o.StartFile = Next(); break;
                case "--rewarm": o.Rewarm = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--plot": o.PlotDir = Next(); break;
                case "--churn-after": o.ChurnAfter = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--churn-each": o.ChurnEach = true; break;
                case "--sample-interval": o.SampleInterval = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--scale-to": o.ScaleTo = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--shared":
                    o.Shared = Next();
                    if (o.Shared is not ("catchall" or "rules" or "normal" or "split")) throw new ArgumentException("--shared takes catchall, rules, normal or split");
                    break;
                case "--per-cpu": o.PerCpu = true; break;
                case "--paired": o.Paired = true; break;
                case "--openflow13": o.OpenFlow13 = true; break;
                case "--group":
                    o.Group = Next();
                    if (o.Group is not ("all" or "select" or "indirect" or "ff")) throw new ArgumentException("--group takes all, select, indirect or ff");
                    o.OpenFlow13 = true;
                    break;
                case "--meter":
                    o.MeterKbps = long.Parse(Next(), CultureInfo.InvariantCulture);
                    if (o.MeterKbps is <= 0 or > uint.MaxValue) throw new ArgumentException("--meter takes a rate in kbit/s, 1 to 4294967295");
                    o.OpenFlow13 = true;
                    break;
                case "--pipeline":
                    o.Pipeline = Next();
                    if (o.Pipeline is not ("faucet" or "faucet-resubmit" or "mpls")) throw new ArgumentException("--pipeline takes faucet, faucet-resubmit or mpls");
                    break;
                case "--versus":
                    o.Versus = Next();
                    if (o.Versus is not ("faucet" or "faucet-resubmit" or "mpls")) throw new ArgumentException("--versus takes faucet, faucet-resubmit or mpls");
                    break;
                case "--help": case "-h":
                    Console.WriteLine("pps options: --flows N (exact flows, default 100000) --rules N (wildcard rules) --masks N (distinct masks, default 16)");
                    Console.WriteLine("             --emc on|off --emc-entries N --churn R|max (flow-mods/s by a second thread) --seconds S");
                    Console.WriteLine("             --recycle on|off (reuse removed flows' entries, default on)");
                    Console.WriteLine("             --sampling N (sFlow's 1-in-N packet sampling, drained by a second thread; default 0, off)");
                    Console.WriteLine("             --ports N (default 4) --frame-size B (default 64) --seed N --json");
                    Console.WriteLine("             --threads N (N forwarding threads, each fed by its own generating port; per-thread rates reported)");
                    Console.WriteLine("             --tunnel vxlan|gre|ipip (every flow outputs to a tunnel port over an in-memory underlay)");
                    Console.WriteLine("             --tunnel-rx (with --tunnel: encapsulated frames arrive on the underlay, are decapsulated and forwarded)");
                    Console.WriteLine("             --pcap FILE --flow-file FILE (replay a capture's frames on port 1, install an ovs-ofctl add-flows file)");
                    Console.WriteLine("             --fdb FILE (MAC PORT lines learned before traffic, for NORMAL) --listen ptcp:PORT (OpenFlow listener)");
                    Console.WriteLine("             --plot DIR (after measuring: DIR/pps.json and its plots, SVG and PNG: the forwarding rate over time,");
                    Console.WriteLine("             per --sample-interval S (default 0.1); with --scale-to, Mpps per thread count)");
                    Console.WriteLine("             --churn-after S (with --churn: churn begins S seconds into the measured window, so the plot shows before and after)");
                    Console.WriteLine("             --scale-to N (measure 1..N forwarding threads one after the other; one table row and one scaling point each)");
                    Console.WriteLine("             --shared catchall|rules|normal|split (every thread hits the same rules and output port, the last:");
                    Console.WriteLine("             one catch-all flow; --rules wildcard rules without in_port; a catch-all NORMAL flow, the destination");
                    Console.WriteLine("             learned behind the output port; split: port 1's receiving split by flow hash over the threads)");
                    Console.WriteLine("             --per-cpu (with --pin-cpu N --threads 2: one thread alone on CPU N, alone on N+1, then both;");
                    Console.WriteLine("             the per-CPU ratio is both's rate over the sum of each alone)");
                    Console.WriteLine("             --pipeline faucet (four OpenFlow 1.3 tables, vlan -> eth_src -> eth_dst -> output, over --flows MACs;");
                    Console.WriteLine("             faucet-resubmit: the same tables chained by Nicira resubmit(,N) instead of goto_table;");
                    Console.WriteLine("             mpls: MPLS termination, table 0 pops the label, table 1 matches the inner ipv4_dst, over --flows hosts;");
                    Console.WriteLine("             compare with the same --flows in one table; --paired measures both in one process, alternating");
                    Console.WriteLine("             0.5 s windows for --seconds each, and reports the ratio; without --paired, --churn R deletes and");
                    Console.WriteLine("             re-adds R flows a second picked from every table's, each 10 ms's flow-mods in one run as the agent");
                    Console.WriteLine("             applies a read's flow-mods; --churn-each publishes each flow-mod on its own;");
                    Console.WriteLine("             --paired --versus P: the other side is pipeline P instead of one table, e.g. --pipeline faucet-resubmit --versus faucet)");
                    Console.WriteLine("             --openflow13 (the --flows flows as a 1.3 controller installs them: in_port + 5-tuple at one priority, 1.3's rules)");
                    Console.WriteLine("             --group all|select|indirect|ff (with --openflow13's flows: each applies one group: select over the output");
                    Console.WriteLine("             ports, all to two ports, indirect to one, ff over two watched ports; select reports how the buckets shared)");
                    Console.WriteLine("             --meter KBPS (with --openflow13's flows: each runs through one meter, a drop band of KBPS kbit/s; the rate");
                    Console.WriteLine("             delivered is reported against it)");
                    Console.WriteLine("             --pin-cpu N (the forwarding thread owns CPU N: pinned there, every other thread kept off it; with --threads T, thread t owns CPU N+t) --start-file F (measure once F exists)");
                    Console.WriteLine("             --rewarm S (with --start-file: forward S seconds after F appears, then measure)");
                    Environment.Exit(0);
                    break;
                default: throw new ArgumentException($"unknown option {a}");
            }
        }
        if ((o.Pcap is null) != (o.FlowFile is null)) throw new ArgumentException("--pcap and --flow-file go together");
        if (o.Fdb is not null && o.Pcap is null) throw new ArgumentException("--fdb needs --pcap and --flow-file");
        if (o.Pcap is not null && o.Tunnel is not null) throw new ArgumentException("--pcap does not combine with --tunnel");
        if (o.Pcap is null && (o.Flows < 0 || o.Rules < 0 || o.Flows + o.Rules == 0)) throw new ArgumentException("need --flows or --rules > 0");
        if (o.Ports < 2) throw new ArgumentException("--ports must be at least 2");
        if (o.TunnelRx && o.Tunnel is null) throw new ArgumentException("--tunnel-rx needs --tunnel");
        if (o.Threads < 1 || o.Threads > o.Ports) throw new ArgumentException("--threads must be 1..ports");
        if (o.Threads > 1 && (o.Tunnel is not null || o.Churn > 0)) throw new ArgumentException("--threads > 1 runs without --tunnel and --churn");
        if (o.Threads > 1 && (o.Pcap is not null || o.Listen is not null)) throw new ArgumentException("--threads > 1 runs without --pcap and --listen");
        if (o.ChurnAfter < 0 || (o.ChurnAfter > 0 && !(o.Churn > 0))) throw new ArgumentException("--churn-after needs --churn and is at least 0");
        if (o.ChurnEach && (!(o.Churn > 0) || o.Pipeline is null)) throw new ArgumentException("--churn-each needs --churn and --pipeline");
        if (!(o.SampleInterval > 0)) throw new ArgumentException("--sample-interval must be above 0");
        if (o.ScaleTo < 0 || o.ScaleTo > o.Ports) throw new ArgumentException("--scale-to must be 1..ports");
        if (o.ScaleTo > 1 && (o.Tunnel is not null || o.Churn > 0 || o.Pcap is not null || o.Listen is not null))
            throw new ArgumentException("--scale-to runs without --tunnel, --churn, --pcap and --listen");
        if (o.Shared is not null && (o.Pcap is not null || o.Tunnel is not null || o.Pipeline is not null || o.Churn > 0 || o.Group is not null || o.OpenFlow13))
            throw new ArgumentException("--shared runs without --pcap, --tunnel, --pipeline, --churn, --group and --openflow13");
        if (o.Shared is not null && Math.Max(o.Threads, o.ScaleTo) >= o.Ports) throw new ArgumentException("--shared needs more --ports than threads (the last port is the output)");
        if (o.PerCpu && (o.PinCpu < 0 || o.Threads != 2 || o.ScaleTo > 0)) throw new ArgumentException("--per-cpu needs --pin-cpu N and --threads 2 (and no --scale-to)");
        if (o.Sampling < 0 || (o.Sampling > 0 && o.Threads > 1)) throw new ArgumentException("--sampling N runs with one thread, N >= 0");
        if (o.Paired && o.Pipeline is null && !(o.Churn > 0)) throw new ArgumentException("--paired needs --pipeline or --churn");
        if (o.Versus is not null && (!o.Paired || o.Pipeline is null || o.Churn > 0)) throw new ArgumentException("--versus needs --paired and --pipeline, without --churn");
        if (o.Pipeline is not null && (o.Rules > 0 || o.Pcap is not null || o.Tunnel is not null || o.Threads > 1 || o.ScaleTo > 0))
            throw new ArgumentException("--pipeline runs without --rules, --pcap, --tunnel, --threads and --scale-to");
        if (o.Paired && o.Churn > 0 && (double.IsPositiveInfinity(o.Churn) || o.ChurnAfter > 0 || o.Rules > 0 || o.Pcap is not null || o.Tunnel is not null || o.Threads > 1 || o.Listen is not null))
            throw new ArgumentException("--paired --churn R takes a finite R and runs without --churn-after, --rules, --pcap, --tunnel, --threads and --listen");
        return o;
    }
}

/// <summary>
/// Drives the real datapath through in-memory ports on one forwarding thread with synthetic traffic, and
/// optionally a second thread applying flow-mods (churn). Reports Mpps, ns/packet, bytes allocated per
/// packet on the forwarding thread, flow-mods/s and the EMC hit rate.
/// </summary>
public static class PpsHarness
{
    public static int Run(string[] args)
    {
        PpsOptions o;
        try { o = PpsOptions.Parse(args); }
        catch (Exception e) when (e is ArgumentException or FormatException or IOException)
        {
            Console.Error.WriteLine($"pps: {e.Message}");
            return 2;
        }
        if (o.ScaleTo > 0) return RunScaling(o);
        if (o.PerCpu) return RunPerCpu(o);
        if (o.Paired) return o.Churn > 0 ? RunPairedChurn(o) : RunPaired(o);
        Result r;
        try { r = Measure(o, o.Json ? null : Console.Out); }
        catch (Exception e) when (e is FormatException or IOException or InvalidDataException or ArgumentException)
        {
            Console.Error.WriteLine($"pps: {e.Message}");
            return 2;
        }
        string json = JsonSerializer.Serialize(r, s_json);
        if (o.Json) Console.WriteLine(json);
        else PrintSummary(o, r);
        if (o.PlotDir is not null && r.Timeline is not null)
        {
            string churn = o.Churn > 0 ? $", {(double.IsPositiveInfinity(o.Churn) ? "max" : o.Churn.ToString("N0", CultureInfo.InvariantCulture))} flow-mods/s of churn" : "";
            var title = $"bench pps: {r.Flows:N0} exact flows, {r.Rules:N0} rules{churn}";
            WritePlots(o, "pps", json, new PlotData { Title = title, Timeline = r.Timeline });
        }
        return 0;
    }

    /// <summary>
    /// --pipeline P --paired: the pipeline and the one-table row (or, with --versus Q, pipeline Q) with the same --flows side by side in one process,
    /// each on its own datapath, measured in alternating 0.5 s windows (after a warm-up of each), so that a machine
    /// whose load drifts slows both alike; reports each one's Mpps over its windows and their ratio.
    /// </summary>
    private static int RunPaired(PpsOptions o)
    {
        if (o.Pipeline is null) { Console.Error.WriteLine("pps: --paired needs --pipeline"); return 2; }
        var one = o.Versus is null ? PairedSide.Create(o, pipeline: false) : PairedSide.Create(o.WithPipeline(o.Versus), pipeline: true);
        var many = PairedSide.Create(o, pipeline: true);
        one.Run(1.0);
        many.Run(1.0);
        one.Reset();
        many.Reset();
        double elapsed = 0;
        while (elapsed < o.Seconds)
        {
            one.Run(0.5);
            many.Run(0.5);
            elapsed += 0.5;
        }
        double a = one.Mpps, b = many.Mpps;
        string other = o.Versus is null ? $"one table ({o.Flows:N0} exact flows)" : $"{o.Versus} pipeline";
        if (o.Json) Console.WriteLine(JsonSerializer.Serialize(new { one_table_mpps = a, pipeline_mpps = b, ratio = b / a, pipeline = o.Pipeline, versus = o.Versus, flows = o.Flows }, s_json));
        else Console.WriteLine($"{other}: {a:F2} Mpps; {o.Pipeline} pipeline: {b:F2} Mpps; ratio {b / a:P1} ({o.Seconds:F0} s each, alternating 0.5 s windows)");
        one.Dispose();
        many.Dispose();
        return 0;
    }

    /// <summary>
    /// --churn R --paired: one datapath (one table of --flows exact flows, or --pipeline's tables) measured in
    /// alternating 0.5 s windows with and without churn (the churn thread applies R flow-mods/s in the windows with,
    /// and waits in the others), after a warm-up of each, so that a machine whose load drifts slows both alike;
    /// reports each kind's Mpps, their ratio and the bytes allocated per packet on the forwarding thread in each.
    /// </summary>
    private static int RunPairedChurn(PpsOptions o)
    {
        var r = MeasurePairedChurn(o);
        string what = o.Pipeline is null ? $"one table of {o.Flows:N0} exact flows" : $"{o.Pipeline} pipeline over {o.Flows:N0} MACs";
        if (o.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(r, s_json));
        }
        else
        {
            Console.WriteLine($"{what}: {r.NoChurnMpps:F2} Mpps without churn, {r.ChurnMpps:F2} Mpps with {r.ChurnPerS:N0} flow-mods/s; ratio {r.Ratio:P1} " +
                              $"({o.Seconds:F0} s each, alternating 0.5 s windows); bytes allocated per packet {r.NoChurnAllocBytesPerPacket:F4} and {r.ChurnAllocBytesPerPacket:F4}" +
                              (o.Pipeline is null ? "" : $"; pipeline walks {r.QuietWalksPerS:N0}/s and {r.WalksPerS:N0}/s, verdicts repaired {r.QuietRepairsPerS:N0}/s and {r.RepairsPerS:N0}/s"));
        }
        return 0;
    }

    /// <summary>What <see cref="MeasurePairedChurn"/> measured (see <c>--churn R --paired</c>).</summary>
    public sealed record PairedChurnResult(double NoChurnMpps, double ChurnMpps, double Ratio, double ChurnPerS,
                                           double NoChurnAllocBytesPerPacket, double ChurnAllocBytesPerPacket, string? Pipeline, int Flows,
                                           long VerdictsBuilt, long VerdictsReused, double WalksPerS, double QuietWalksPerS,
                                           double RepairsPerS, double QuietRepairsPerS, long VerdictsBuiltMeasured);

    /// <summary>The measurement of <c>--churn R --paired</c> (see <see cref="RunPairedChurn"/>).</summary>
    public static PairedChurnResult MeasurePairedChurn(PpsOptions o)
    {
        using var side = PairedSide.Create(o, pipeline: o.Pipeline is not null);
        using var go = new SemaphoreSlim(0);
        using var done = new SemaphoreSlim(0);
        CancellationTokenSource? window = null;
        bool quit = false;
        long applied = 0;
        var churn = new Thread(() =>
        {
            int round = 0;
            while (true)
            {
                go.Wait();
                if (Volatile.Read(ref quit)) return;
                applied += ChurnLoop(side.Flows, side.Traffic, o.Churn, window!.Token, o.Seed + round++, multiTable: o.Pipeline is not null, each: o.ChurnEach);
                done.Release();
            }
        }) { IsBackground = true, Name = "churn" };
        churn.Start();
        long churnPackets = 0, churnTicks = 0, churnAlloc = 0, quietPackets = 0, quietTicks = 0, quietAlloc = 0, churnWalks = 0, quietWalks = 0;
        long churnRepairs = 0, quietRepairs = 0;
        void Window(bool withChurn, double seconds, bool counted)
        {
            if (withChurn)
            {
                window = new CancellationTokenSource();
                go.Release();
            }
            long w0 = side.Forwarder.PipelineWalks, r0 = side.Forwarder.VerdictRepairs;
            var (p, t, a) = side.Run(seconds);
            long w = side.Forwarder.PipelineWalks - w0, rep = side.Forwarder.VerdictRepairs - r0;
            if (withChurn)
            {
                window!.Cancel();
                done.Wait();
                window.Dispose();
            }
            if (!counted) return;
            if (withChurn) { churnPackets += p; churnTicks += t; churnAlloc += a; churnWalks += w; churnRepairs += rep; }
            else { quietPackets += p; quietTicks += t; quietAlloc += a; quietWalks += w; quietRepairs += rep; }
        }
        Window(false, 1.0, counted: false);
        Window(true, 1.0, counted: false);
        long applied0 = applied, built0 = side.Forwarder.VerdictsBuilt;
        double elapsed = 0;
        while (elapsed < o.Seconds)
        {
            Window(false, 0.5, counted: true);
            Window(true, 0.5, counted: true);
            elapsed += 0.5;
        }
        Volatile.Write(ref quit, true);
        go.Release();
        churn.Join();
        static double Mpps(long packets, long ticks) => packets / (ticks / (double)Stopwatch.Frequency) / 1e6;
        double quiet = Mpps(quietPackets, quietTicks), busy = Mpps(churnPackets, churnTicks);
        double churnRate = (applied - applied0) / (churnTicks / (double)Stopwatch.Frequency);
        double quietAllocPerPacket = quietAlloc / (double)Math.Max(1, quietPackets), churnAllocPerPacket = churnAlloc / (double)Math.Max(1, churnPackets);
        var fwd = side.Forwarder;
        return new PairedChurnResult(quiet, busy, busy / quiet, churnRate, quietAllocPerPacket, churnAllocPerPacket, o.Pipeline, o.Flows,
                                     fwd.VerdictsBuilt, fwd.VerdictsReused,
                                     churnWalks / (churnTicks / (double)Stopwatch.Frequency), quietWalks / (quietTicks / (double)Stopwatch.Frequency),
                                     churnRepairs / (churnTicks / (double)Stopwatch.Frequency), quietRepairs / (quietTicks / (double)Stopwatch.Frequency),
                                     fwd.VerdictsBuilt - built0);
    }

    /// <summary>One side of <see cref="RunPaired"/> and <see cref="RunPairedChurn"/>: a datapath with its flows and generating port, polled on the calling thread.</summary>
    private sealed class PairedSide : IDisposable
    {
        private SwitchDatapath _dp = null!;
        private MemoryPort[] _ports = null!;
        private Softswitch.Datapath.Classifier.QuiescentDomain.Reader? _reader;
        private long _packets, _ticks;

        public OfFlowTables Flows { get; private set; } = null!;
        public Forwarder Forwarder => _dp.Forwarders[0];
        public Traffic Traffic { get; private set; } = null!;

        public static PairedSide Create(PpsOptions o, bool pipeline)
        {
            var side = new PairedSide();
            var dp = new SwitchDatapath(new DatapathOptions { EmcEntries = o.Emc ? o.EmcEntries : 0, PoolSize = 4096 });
            dp.MissBehavior = MissBehavior.Drop;
            Traffic.InstallMeter(o, dp);
            var flows = new OfFlowTables(dp, new FlowTableOptions { RecycleEntries = o.Recycle });
            var ports = new MemoryPort[o.Ports];
            for (int i = 0; i < o.Ports; i++)
            {
                ports[i] = new MemoryPort($"p{i + 1}", new MacAddress(0x0200_0000_0000UL | (uint)(i + 1)));
                dp.AddPort(ports[i]);
            }
            Traffic.InstallGroup(o, dp);
            var traffic = pipeline ? Traffic.BuildPipeline(o, new Random(o.Seed)) : Traffic.Build(o, new Random(o.Seed));
            foreach (var m in traffic.Mods)
                if (flows.Apply(m) != FlowModStatus.Ok) throw new InvalidOperationException("flow install failed");
            ports[0].SetGenerator(traffic.Frames);
            side._dp = dp;
            side._ports = ports;
            side.Flows = flows;
            side.Traffic = traffic;
            return side;
        }

        public double Mpps => _packets / (_ticks / (double)Stopwatch.Frequency) / 1e6;

        public void Reset() => _packets = _ticks = 0;

        /// <summary>Polls for <paramref name="seconds"/> as a forwarding thread does (a reader of the reclamation domain, quiescent between rounds); returns the packets sent, the ticks and the bytes this thread allocated.</summary>
        public (long Packets, long Ticks, long Allocated) Run(double seconds)
        {
            _reader ??= _dp.Pipeline.Reclamation.Register();
            long sent0 = SentTotal(_ports), alloc0 = GC.GetAllocatedBytesForCurrentThread();
            long start = Stopwatch.GetTimestamp(), end = start + (long)(seconds * Stopwatch.Frequency);
            while (Stopwatch.GetTimestamp() < end)
            {
                _reader.Quiesce();
                for (int i = 0; i < 64; i++) _dp.PollOnce();
            }
            _reader.Offline(); // between windows this thread holds no rule: reclamation need not wait for it
            long ticks = Stopwatch.GetTimestamp() - start, packets = SentTotal(_ports) - sent0;
            _ticks += ticks;
            _packets += packets;
            return (packets, ticks, GC.GetAllocatedBytesForCurrentThread() - alloc0);
        }

        public void Dispose()
        {
            if (_reader is not null) _dp.Pipeline.Reclamation.Unregister(_reader);
            _dp.Dispose();
        }
    }

    private static readonly JsonSerializerOptions s_json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Plots go to stdout's reader only as file names; with --json they are reported on stderr so stdout stays one JSON line.</summary>
    private static void WritePlots(PpsOptions o, string name, string json, PlotData data)
    {
        var stdout = Console.Out;
        if (o.Json) Console.SetOut(Console.Error);
        try { PlotCommand.WriteBeside(o.PlotDir!, name, json, data); }
        finally { Console.SetOut(stdout); }
    }

    /// <summary>
    /// --per-cpu: one forwarding thread alone on CPU N, alone on CPU N+1, then two on N and N+1, in one process; the
    /// per-CPU ratio is the two threads' rate over the sum of each one's alone on its CPU (1.0: two CPUs do twice one's
    /// work; what falls short is what the threads cost each other, shared lines and the memory they share).
    /// </summary>
    private static int RunPerCpu(PpsOptions o)
    {
        Result a, b, both;
        try
        {
            // A run not counted first: the code the three measure is tiered up (on a loaded machine the warm-up of the
            // first run alone gets too few CPU seconds for that).
            var warm = o.ForThreads(1);
            warm.Seconds = Math.Min(3, o.Seconds);
            Measure(warm, null);
            a = Measure(o.ForThreads(1), null);
            var second = o.ForThreads(1);
            second.PinCpu = o.PinCpu + 1;
            b = Measure(second, null);
            both = Measure(o.ForThreads(2), null);
        }
        catch (Exception e) when (e is FormatException or IOException or InvalidDataException or ArgumentException)
        {
            Console.Error.WriteLine($"pps: {e.Message}");
            return 2;
        }
        double ratio = both.Mpps / (a.Mpps + b.Mpps);
        // The same per CPU second each thread ran (a loaded machine gives pinned threads time slices, not CPUs).
        double cpuRatio = both.MppsPerCpuSecond / ((a.MppsPerCpuSecond + b.MppsPerCpuSecond) / 2);
        var per = both.MppsPerThread ?? [];
        if (o.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new { shared = o.Shared ?? "none", alone_mpps = new[] { a.Mpps, b.Mpps }, both_mpps = both.Mpps, both_per_thread_mpps = per,
                                                             per_cpu = ratio, alone_mpps_per_cpu_second = new[] { a.MppsPerCpuSecond, b.MppsPerCpuSecond },
                                                             both_mpps_per_cpu_second = both.MppsPerCpuSecond, per_cpu_second = cpuRatio,
                                                             alloc_bytes_per_packet = both.AllocBytesPerPacket }, s_json));
        }
        else
        {
            Console.WriteLine($"{o.Shared ?? "share-nothing"}: alone on CPU {o.PinCpu} {a.Mpps:F2} Mpps, alone on CPU {o.PinCpu + 1} {b.Mpps:F2} Mpps; " +
                              $"both {both.Mpps:F2} Mpps ({string.Join(" + ", per.Select(x => x.ToString("F2", CultureInfo.InvariantCulture)))}); " +
                              $"per CPU {ratio:F3}; per CPU second run: alone {a.MppsPerCpuSecond:F2} and {b.MppsPerCpuSecond:F2}, both {both.MppsPerCpuSecond:F2} Mpps each, " +
                              $"ratio {cpuRatio:F3} (CPU seconds {a.CpuSeconds:F2}, {b.CpuSeconds:F2}, {both.CpuSeconds:F2}); bytes allocated per packet {both.AllocBytesPerPacket:F4}");
        }
        return 0;
    }

    /// <summary>--scale-to N: one measurement per thread count 1..N, one table, and the scaling plot's section.</summary>
    private static int RunScaling(PpsOptions o)
    {
        var runs = new List<Result>();
        try
        {
            for (int t = 1; t <= o.ScaleTo; t++)
            {
                if (!o.Json) Console.WriteLine($"== {t} forwarding thread{(t == 1 ? "" : "s")}");
                runs.Add(Measure(o.ForThreads(t), o.Json ? null : Console.Out));
            }
        }
        catch (Exception e) when (e is FormatException or IOException or InvalidDataException or ArgumentException)
        {
            Console.Error.WriteLine($"pps: {e.Message}");
            return 2;
        }
        var scaling = new ScalingSection
        {
            Series = [new ScalingSeries { Name = Charts.SoftswitchName, Threads = [.. runs.Select(r => r.Threads)], Mpps = [.. runs.Select(r => r.Mpps)] }],
        };
        string json = JsonSerializer.Serialize(new { scaling, runs }, s_json);
        if (o.Json)
        {
            Console.WriteLine(json);
        }
        else
        {
            Console.WriteLine();
            Console.WriteLine($"{"threads",-9}{"Mpps",9}{"per thread",12}{"vs 1 thread",13}  per-thread Mpps");
            foreach (var r in runs)
            {
                var per = r.MppsPerThread ?? [r.Mpps];
                Console.WriteLine($"{r.Threads,-9}{r.Mpps,9:F2}{r.Mpps / r.Threads,12:F2}{r.Mpps / runs[0].Mpps,12:F2}x  {string.Join(" ", per.Select(x => x.ToString("F2", CultureInfo.InvariantCulture)))}");
            }
        }
        if (o.PlotDir is not null)
            WritePlots(o, "pps-threads", json, new PlotData { Title = $"bench pps: {o.Flows:N0} exact flows per thread, {o.Rules:N0} rules", Scaling = scaling });
        return 0;
    }

    public sealed record Result(double Mpps, double NsPerPacket, double AllocBytesPerPacket, double ChurnPerS, double EmcHitRate,
        long Packets, long Forwarded, long Misses, double Seconds, int Flows, int Rules, int Masks, double BytesPerFlow, long FlowModsApplied, int Gen0Collections, int Gen2Collections, double GcPauseMs, long EmcBypasses,
        string? Tunnel = null, double DeliveredMpps = 0, long Drops = 0, string? Pcap = null, long FlowModsOverOpenFlow = 0,
        int Threads = 1, double[]? MppsPerThread = null, double EmcUsedShare = 0, TimelineSection? Timeline = null,
        int Sampling = 0, long Samples = 0, long SampleDrops = 0, double CpuSeconds = 0)
    {
        /// <summary>Mpps per second the forwarding threads were on a CPU (their scheduler run time): the rate as if each
        /// had its CPU to itself, which a loaded machine's time slices do not change.</summary>
        public double MppsPerCpuSecond => CpuSeconds > 0 ? Packets / CpuSeconds / 1e6 : 0;
    }

    /// <summary>Where the calling thread's scheduler statistics are (/proc/PID/task/TID/schedstat), or null off Linux.</summary>
    private static string? ThreadSchedstat()
        => OperatingSystem.IsLinux() && new FileInfo("/proc/thread-self").LinkTarget is { } t ? $"/proc/{t}/schedstat" : null;

    /// <summary>Nanoseconds the thread of <paramref name="schedstat"/> has run on a CPU (schedstat's first field), or 0.</summary>
    private static long RunNanos(string? schedstat)
    {
        if (schedstat is null) return 0;
        try
        {
            string text = File.ReadAllText(schedstat);
            int sp = text.IndexOf(' ');
            return long.Parse(sp < 0 ? text : text[..sp], CultureInfo.InvariantCulture);
        }
        catch (IOException) { return 0; }
    }

    public static Result Measure(PpsOptions o, TextWriter? progress)
    {
        // --pin-cpu N: the forwarding thread owns CPU N, and every other thread (the runtime's, and those made later:
        // the OpenFlow listener's and connections', the churn thread, the thread pool's) stays off it, as the daemon's
        // --forwarding-cpus places them.
        // With --threads T, forwarding thread t owns CPU N+t.
        if (o.PinCpu >= 0)
        {
            int[] own = [.. Enumerable.Range(o.PinCpu, Math.Max(1, o.Threads))];
            if (!CpuPlacement.IsSupported || own.Any(c => !s_cpusAtStart.Contains(c)))
                throw new ArgumentException($"--pin-cpu {o.PinCpu}: CPUs {CpuPlacement.Format(own)} are not all CPUs this process may use ({CpuPlacement.Format(s_cpusAtStart)}; Linux only)");
            CpuPlacement.KeepEveryThreadOff(own);
        }
        var rng = new Random(o.Seed);
        var dp = new SwitchDatapath(new DatapathOptions
        {
            Threads = o.Threads,
            EmcEntries = o.Emc ? o.EmcEntries : 0,
            PoolSize = 4096,
            SamplingRate = o.Sampling,
        });
        dp.MissBehavior = MissBehavior.Drop;
        Traffic.InstallMeter(o, dp);
        var flows = new OfFlowTables(dp, new FlowTableOptions { RecycleEntries = o.Recycle });
        // --sampling: the samples are read as the sFlow exporter reads them (ten times a second), so the rings do not fill.
        long sflowSamples = 0;
        using var samplingDone = new ManualResetEvent(false);
        var drainer = o.Sampling == 0 ? null : new Thread(() =>
        {
            var header = new byte[PacketSampler.HeaderSize];
            do
            {
                foreach (var f in dp.Forwarders)
                    while (f.Sampler.TryRead(header, out _)) sflowSamples++;
            } while (!samplingDone.WaitOne(100));
        }) { IsBackground = true, Name = "sampling-drain" };
        drainer?.Start();
        var ports = new MemoryPort[o.Ports + (o.Tunnel is null ? 0 : 1)];
        for (int i = 0; i < o.Ports; i++)
        {
            ports[i] = new MemoryPort($"p{i + 1}", new MacAddress(0x0200_0000_0000UL | (uint)(i + 1))) { SplitByFlowHash = i == 0 && o.Shared == "split" };
            dp.AddPort(ports[i]);
        }
        Traffic.InstallGroup(o, dp);
        // --tunnel: port N+1 is the underlay, N+2 the tunnel; flows output to the tunnel (tx) or match in_port = tunnel (rx).
        ushort tunnelNo = 0;
        TunnelPort? peer = null;
        if (o.Tunnel is { } kind)
        {
            var underlay = ports[o.Ports] = new MemoryPort("underlay", new MacAddress(0x0200_0000_00FEUL));
            ushort underlayNo = (ushort)(o.Ports + 1);
            tunnelNo = (ushort)(o.Ports + 2);
            dp.AddPort(underlay, underlayNo);
            var tunnelKind = kind switch { "vxlan" => TunnelKind.Vxlan, "gre" => TunnelKind.Gre, _ => TunnelKind.Ipip };
            const uint local = 0x0AFF_0001, remote = 0x0AFF_0002;   // 10.255.0.1, 10.255.0.2
            var ours = new TunnelConfig
            {
                Name = "tun", Kind = tunnelKind, LocalIp = local, RemoteIp = remote,
                Key = tunnelKind == TunnelKind.Ipip ? 0u : 100u, HasKey = tunnelKind != TunnelKind.Ipip,
                PortNo = tunnelNo, Underlay = underlayNo, RemoteMac = new MacAddress(0x0200_0000_00FFUL),
            };
            // IP-in-IP: decapsulated packets get the traffic's own Ethernet addresses, so they hit the exact flows.
            dp.Tunnels.Add(tunnelKind == TunnelKind.Ipip ? ours with { InnerSrcMac = Traffic.SrcMac, InnerDstMac = Traffic.DstMac } : ours);
            // The far end, to build what arrives in --tunnel-rx.
            var far = ours with { Name = "peer", LocalIp = remote, RemoteIp = local, PortNo = 0, Underlay = 0, RemoteMac = new MacAddress(0x0200_0000_00FEUL) };
            peer = new TunnelPort(far, new MemoryPort("peer", new MacAddress(0x0200_0000_00FFUL)));
        }

        // Traffic and flows.
        var traffic = o.Pcap is not null ? PcapTraffic.Load(o)
            : o.Pipeline is not null ? Traffic.BuildPipeline(o, rng)
            : o.Shared is not null ? Traffic.BuildShared(o, 0)
            : Traffic.Build(o, rng, o.TunnelRx ? tunnelNo : (ushort)1, o.Tunnel is not null && !o.TunnelRx ? tunnelNo : (ushort)0);
        var mods = traffic.Mods;
        var status = new FlowModStatus[mods.Length];
        long memBefore = GC.GetTotalMemory(true);
        if (o.Pipeline is null)
        {
            flows.ApplyBatch(mods, status, null);
        }
        else
        {
            // Several tables: one flow-mod at a time (a batch is table 0's).
            for (int i = 0; i < mods.Length; i++) status[i] = flows.Apply(mods[i]);
        }
        foreach (var s in status) if (s != FlowModStatus.Ok) throw new InvalidOperationException($"flow install failed: {s}");
        long memAfter = GC.GetTotalMemory(true);
        double bytesPerFlow = mods.Length == 0 ? 0 : (double)(memAfter - memBefore) / mods.Length;
        if (o.Fdb is not null) PcapTraffic.Learn(dp, o.Fdb);
        // --shared normal: the destination is known behind the output port (each thread's source is learned on its port).
        if (o.Shared == "normal") dp.MacTable.Learn(Traffic.DstMac, 0, (ushort)o.Ports, dp.Clock.NowNanos);
        if (o.Pipeline is not null)
            progress?.WriteLine($"pipeline {o.Pipeline}: tables {string.Join(", ", flows.Pipeline.StageIds().Select(t => $"{t} ({flows.Pipeline.Stage(t)!.Count:N0} flows)"))}");
        progress?.WriteLine($"installed {flows.ActiveExact:N0} exact flows and {flows.ActiveWildcard:N0} wildcard rules over {flows.WildcardSubtableCount} masks " +
                            $"({bytesPerFlow:F0} B of table memory per flow); {traffic.Frames.Length:N0} distinct frames");

        if (o.TunnelRx)
        {
            var wrap = new PacketPool(1);
            int b = wrap.Alloc();
            var wire = new byte[traffic.Frames.Length][];
            for (int i = 0; i < wire.Length; i++)
            {
                peer!.Header.Encapsulate(traffic.Frames[i], wrap, b, peer.Header.DefaultKey);
                wire[i] = wrap.Frame(b).ToArray();
            }
            ports[o.Ports].SetGenerator(wire);
        }
        else
        {
            ports[0].SetGenerator(traffic.Frames);
        }

        if (o.Threads > 1) return MeasureThreads(o, dp, flows, ports, traffic, rng, bytesPerFlow, progress);
        var fwd = dp.Forwarders[0];
        Softswitch.OfAgent.OfSwitchAgent? agent = null;
        if (o.Listen is not null)
        {
            agent = new Softswitch.OfAgent.OfSwitchAgent(new Softswitch.Ofproto.OfSwitch(dp, new Softswitch.Ofproto.OfSwitchOptions { DatapathId = 1 }, flows), new Softswitch.OfAgent.AgentOptions { Listeners = { o.Listen }, ReplyQueueLimit = 16 << 20, PacketInQueueLimit = 16 << 20 });
            agent.Start();
            progress?.WriteLine($"OpenFlow listener on {agent.ListenEndpoints[0]}");
        }

        // Churn thread: its OS thread is made here, unpinned, and it waits until the forwarding loop is warm.
        using var stop = new CancellationTokenSource();
        using var warmedUp = new ManualResetEventSlim();
        using var measuring = new ManualResetEventSlim();
        long churnApplied = 0, churnStartTs = 0, measureStartTs = 0;
        Thread? churn = null;
        if (o.Churn > 0)
        {
            churn = new Thread(() =>
            {
                try
                {
                    warmedUp.Wait(stop.Token);
                    if (o.ChurnAfter > 0)
                    {
                        measuring.Wait(stop.Token);
                        if (stop.Token.WaitHandle.WaitOne(TimeSpan.FromSeconds(o.ChurnAfter))) return;
                    }
                }
                catch (OperationCanceledException) { return; }
                Volatile.Write(ref churnStartTs, Stopwatch.GetTimestamp());
                churnApplied = ChurnLoop(flows, traffic, o.Churn, stop.Token, o.Seed, multiTable: o.Pipeline is not null, each: o.ChurnEach);
            }) { IsBackground = true, Name = "churn" };
            churn.Start();
        }

        int exactFlows = flows.ActiveExact, wildcardRules = flows.ActiveWildcard;
        long ofMods0 = 0, p0 = 0, m0 = 0, emcH0 = 0, emcM0 = 0, emcC0 = 0, emcB0 = 0, sent0 = 0, drops0 = 0, alloc = 0, packets = 0, meter0 = 0;
        int gen0 = 0, gen2 = 0;
        double secs = 0, pauseMs = 0;
        string? cpuStat = null;
        long cpu0 = 0, cpuNanos = 0;
        // The timeline: the packet count at the end of each sampling interval, read where the progress line is (after
        // every 64 polls), into arrays sized before the window opens.
        int sampleCap = (int)Math.Min(1_000_000, Math.Ceiling(o.Seconds / o.SampleInterval) + 2), samples = 0;
        var sampleT = new double[sampleCap];
        var sampleP = new long[sampleCap];
        Exception? failure = null;
        // The forwarding loop runs on a thread of its own, the only one on the --pin-cpu CPU, which starts no thread:
        // a thread inherits its creator's CPU mask, so no other thread lands on the forwarding CPU.
        var forwarding = new Thread(() =>
        {
            try { Forward(); }
            catch (Exception e) { failure = e; }
        }) { Name = "fwd-bench" };
        forwarding.Start();
        forwarding.Join();
        if (failure is not null)
        {
            // The churn thread leaves its cancelled wait before the event it waits on is disposed with this scope.
            stop.Cancel();
            churn?.Join();
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }

        void Forward()
        {
            if (o.PinCpu >= 0 && !CpuPlacement.PinCurrentThread(o.PinCpu, out string pinError)) throw new ArgumentException($"--pin-cpu {o.PinCpu}: {pinError}");
            // This thread polls as a forwarding thread does: a reader of the reclamation domain, quiescent between rounds.
            var reader = dp.Pipeline.Reclamation.Register();
            // Warm-up (JIT tiering, caches), then measure.
            var warm = Stopwatch.StartNew();
            while (warm.Elapsed.TotalSeconds < Math.Min(2, o.Seconds / 4))
            {
                reader.Quiesce();
                dp.PollOnce();
            }
            warmedUp.Set();
            if (o.StartFile is not null)
            {
                var wait = Stopwatch.StartNew();
                while (!File.Exists(o.StartFile))
                {
                    if (wait.Elapsed.TotalSeconds > 300) throw new IOException($"--start-file {o.StartFile} did not appear in 300 s");
                    for (int i = 0; i < 1024; i++)
                    {
                        reader.Quiesce();
                        dp.PollOnce();
                    }
                }
                var rewarm = Stopwatch.StartNew();
                while (rewarm.Elapsed.TotalSeconds < o.Rewarm)
                {
                    reader.Quiesce();
                    dp.PollOnce();
                }
            }
            ofMods0 = agent is null ? 0 : agent.FlowModsApplied;
            p0 = fwd.Packets;
            m0 = fwd.Misses;
            emcH0 = fwd.Cache?.Hits ?? 0;
            emcM0 = fwd.Cache?.Misses ?? 0;
            emcC0 = fwd.EmcGovernor.ConsultedPackets;
            emcB0 = fwd.EmcGovernor.BypassedPackets;
            sent0 = SentTotal(ports);
            meter0 = MeterPassed(dp);
            drops0 = DropTotal(fwd);
            cpuStat = ThreadSchedstat();
            cpu0 = RunNanos(cpuStat);
            long alloc0 = GC.GetAllocatedBytesForCurrentThread();
            int gc0 = GC.CollectionCount(0), gc20 = GC.CollectionCount(2);
            var pause0 = GC.GetTotalPauseDuration();
            measureStartTs = Stopwatch.GetTimestamp();
            var sw = Stopwatch.StartNew();
            measuring.Set();
            double nextReport = 1, nextSample = o.SampleInterval;
            long lastP = p0;
            double lastT = 0;
            while (true)
            {
                for (int i = 0; i < 64; i++)
                {
                    reader.Quiesce();
                    dp.PollOnce();
                }
                double t = sw.Elapsed.TotalSeconds;
                if (t >= o.Seconds) break;
                if (t >= nextSample && samples < sampleCap)
                {
                    sampleT[samples] = t;
                    sampleP[samples++] = fwd.Packets;
                    while (nextSample <= t) nextSample += o.SampleInterval;
                }
                if (t >= nextReport)
                {
                    long p = fwd.Packets;
                    progress?.WriteLine($"  t={t,5:F1}s  {(p - lastP) / (t - lastT) / 1e6,7:F2} Mpps  flows-mods applied {Interlocked.Read(ref churnApplied),10:N0}  misses {fwd.Misses - m0:N0}");
                    lastP = p;
                    lastT = t;
                    nextReport += 1;
                }
            }
            secs = sw.Elapsed.TotalSeconds;
            alloc = GC.GetAllocatedBytesForCurrentThread() - alloc0;
            cpuNanos = RunNanos(cpuStat) - cpu0;
            packets = fwd.Packets - p0;
            if (samples < sampleCap)
            {
                sampleT[samples] = secs;
                sampleP[samples++] = p0 + packets;
            }
            gen0 = GC.CollectionCount(0) - gc0;
            gen2 = GC.CollectionCount(2) - gc20;
            pauseMs = (GC.GetTotalPauseDuration() - pause0).TotalMilliseconds;
            dp.Pipeline.Reclamation.Unregister(reader);
        }
        stop.Cancel();
        churn?.Join();
        samplingDone.Set();
        drainer?.Join();
        long emcH = (fwd.Cache?.Hits ?? 0) - emcH0, emcM = (fwd.Cache?.Misses ?? 0) - emcM0;
        long emcC = fwd.EmcGovernor.ConsultedPackets - emcC0, emcB = fwd.EmcGovernor.BypassedPackets - emcB0;
        long forwarded = SentTotal(ports) - sent0, drops = DropTotal(fwd) - drops0;
        long flowModsOverOpenFlow = agent is null ? 0 : agent.FlowModsApplied - ofMods0;
        ReportMeter(o, dp, MeterPassed(dp) - meter0, secs, progress);
        ReportGroup(o, dp, progress);
        agent?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        dp.Dispose();
        var timeline = Timeline(sampleT, sampleP, samples, p0, churnStartTs == 0 ? null : Math.Max(0, Stopwatch.GetElapsedTime(measureStartTs, churnStartTs).TotalSeconds),
            o.Churn > 0 ? "Softswitch, churn " + (double.IsPositiveInfinity(o.Churn) ? "max" : o.Churn.ToString("N0", CultureInfo.InvariantCulture) + "/s") : Charts.SoftswitchName);
        return new Result(
            Mpps: packets / secs / 1e6,
            NsPerPacket: packets == 0 ? 0 : secs * 1e9 / packets,
            AllocBytesPerPacket: packets == 0 ? 0 : (double)alloc / packets,
            ChurnPerS: churnApplied / secs,
            EmcHitRate: emcH + emcM == 0 ? 0 : (double)emcH / (emcH + emcM),
            Packets: packets, Forwarded: forwarded, Misses: fwd.Misses - m0, Seconds: secs,
            Flows: o.Pcap is null ? o.Flows : exactFlows, Rules: o.Pcap is null ? o.Rules : wildcardRules, Masks: traffic.MaskCount, BytesPerFlow: bytesPerFlow, FlowModsApplied: churnApplied,
            Gen0Collections: gen0, Gen2Collections: gen2, GcPauseMs: pauseMs, EmcBypasses: fwd.EmcBypassCount,
            Tunnel: o.Tunnel is null ? null : o.Tunnel + (o.TunnelRx ? " rx" : " tx"),
            DeliveredMpps: forwarded / secs / 1e6, Drops: drops, Pcap: o.Pcap is null ? null : Path.GetFileName(o.Pcap),
            FlowModsOverOpenFlow: flowModsOverOpenFlow, EmcUsedShare: emcC + emcB == 0 ? 0 : (double)emcC / (emcC + emcB), Timeline: timeline,
            Sampling: o.Sampling, Samples: sflowSamples, SampleDrops: fwd.Sampler.DropCount, CpuSeconds: cpuNanos / 1e9);
    }

    /// <summary>Mpps over each sampling interval, from the packet counts at the interval ends.</summary>
    private static TimelineSection Timeline(double[] t, long[] packets, int n, long p0, double? churnStartS, string name)
    {
        var ts = new double[n];
        var mpps = new double[n];
        double prevT = 0;
        long prevP = p0;
        for (int i = 0; i < n; i++)
        {
            ts[i] = t[i];
            mpps[i] = t[i] > prevT ? (packets[i] - prevP) / (t[i] - prevT) / 1e6 : 0;
            prevT = t[i];
            prevP = packets[i];
        }
        return new TimelineSection { ChurnStartS = churnStartS, Series = [new TimeSeries { Name = name, TimeS = ts, Mpps = mpps }] };
    }

    /// <summary>Packets received and not delivered: table misses, parse errors and every named drop reason.</summary>
    private static long DropTotal(Forwarder fwd)
    {
        Span<long> totals = stackalloc long[(int)DropReason.Count];
        totals.Clear();
        fwd.Drops.AddTo(totals);
        long n = 0;
        foreach (long v in totals) n += v;
        return n;
    }

    /// <summary>
    /// The CPUs the process could use before any run placed its threads (a --scale-to run measures again after the
    /// one before kept the main thread off its forwarding CPU).
    /// </summary>
    private static readonly int[] s_cpusAtStart = CpuPlacement.IsSupported ? CpuPlacement.Allowed() : [];

    /// <summary>
    /// --threads N: port i+1 (dealt to forwarding thread i) generates the same traffic with flows of its own in_port;
    /// each thread polls its ports in a loop, as the datapath's threads do under load. Reports the total and per-thread rate.
    /// </summary>
    private static Result MeasureThreads(PpsOptions o, SwitchDatapath dp, OfFlowTables flows, MemoryPort[] ports, Traffic traffic, Random rng, double bytesPerFlow, TextWriter? progress)
    {
        int n = o.Threads;
        for (int t = 1; t < n && o.Shared != "split"; t++)
        {
            if (o.Shared is not null)
            {
                // The same rules (installed once) for frames from thread t's port.
                ports[t].SetGenerator(Traffic.BuildShared(o, t).Frames);
                continue;
            }
            var more = Traffic.Build(o, new Random(o.Seed), (ushort)(t + 1));
            var status = new FlowModStatus[more.Mods.Length];
            flows.ApplyBatch(more.Mods, status, null);
            ports[t].SetGenerator(more.Frames);
        }
        var stop = false;
        string? pinFailure = null;
        var threads = new Thread[n];
        var schedstat = new string?[n];
        for (int t = 0; t < n; t++)
        {
            int idx = t;
            threads[t] = new Thread(() =>
            {
                if (o.PinCpu >= 0 && !CpuPlacement.PinCurrentThread(o.PinCpu + idx, out string pinError))
                {
                    Volatile.Write(ref pinFailure, $"--pin-cpu {o.PinCpu}: thread {idx}: {pinError}");
                    return;
                }
                schedstat[idx] = ThreadSchedstat();
                var reader = dp.Pipeline.Reclamation.Register();
                while (!Volatile.Read(ref stop))
                {
                    for (int i = 0; i < 64; i++)
                    {
                        reader.Quiesce();
                        dp.PollOnce(idx);
                    }
                }
                dp.Pipeline.Reclamation.Unregister(reader);
            }) { IsBackground = true, Name = $"pps-{t}" };
        }
        foreach (var t in threads) t.Start();
        Thread.Sleep(TimeSpan.FromSeconds(Math.Min(2, o.Seconds / 4)));
        var p0 = new long[n];
        for (int t = 0; t < n; t++) p0[t] = dp.Forwarders[t].Packets;
        long sent0 = SentTotal(ports), alloc0 = GC.GetTotalAllocatedBytes(true), meter0 = MeterPassed(dp);
        int gc0 = GC.CollectionCount(0), gc2 = GC.CollectionCount(2);
        long cpu0 = 0;
        foreach (var st in schedstat) cpu0 += RunNanos(st);
        var sw = Stopwatch.StartNew();
        Thread.Sleep(TimeSpan.FromSeconds(o.Seconds));
        double secs = sw.Elapsed.TotalSeconds;
        long cpuNanos = -cpu0;
        foreach (var st in schedstat) cpuNanos += RunNanos(st);
        var per = new double[n];
        long packets = 0;
        for (int t = 0; t < n; t++)
        {
            long d = dp.Forwarders[t].Packets - p0[t];
            per[t] = d / secs / 1e6;
            packets += d;
        }
        long alloc = GC.GetTotalAllocatedBytes(true) - alloc0;
        long forwarded = SentTotal(ports) - sent0;
        Volatile.Write(ref stop, true);
        foreach (var t in threads) t.Join();
        if (pinFailure is not null)
        {
            dp.Dispose();
            throw new ArgumentException(pinFailure);
        }
        progress?.WriteLine($"  per thread: {string.Join(", ", per.Select(x => x.ToString("F2", CultureInfo.InvariantCulture) + " Mpps"))}");
        ReportMeter(o, dp, MeterPassed(dp) - meter0, secs, progress);
        ReportGroup(o, dp, progress);
        long misses = 0;
        foreach (var f in dp.Forwarders) misses += f.Misses;
        dp.Dispose();
        return new Result(packets / secs / 1e6, packets == 0 ? 0 : secs * 1e9 / packets, packets == 0 ? 0 : (double)alloc / packets, 0, 0,
            packets, forwarded, misses, secs, o.Flows, o.Rules, traffic.MaskCount, bytesPerFlow, 0,
            GC.CollectionCount(0) - gc0, GC.CollectionCount(2) - gc2, 0, 0, Threads: n, MppsPerThread: per, CpuSeconds: cpuNanos / 1e9);
    }

    /// <summary>
    /// The output ports of thread <paramref name="thread"/> (its input is port thread + 1): the ports no thread reads
    /// (threads + 1 .. Ports) dealt round robin, so threads share none; with fewer such ports than threads, every port
    /// but its own input.
    /// </summary>
    public static ushort[] ThreadOutputs(PpsOptions o, int thread)
    {
        var free = Enumerable.Range(o.Threads + 1, Math.Max(0, o.Ports - o.Threads)).Where((_, i) => i % o.Threads == thread).Select(p => (ushort)p).ToArray();
        return free.Length > 0 ? free : Enumerable.Range(1, o.Ports).Where(p => p != thread + 1).Select(p => (ushort)p).ToArray();
    }

    /// <summary>--group: the packets each bucket ran (for select: how evenly the flows spread).</summary>
    private static void ReportGroup(PpsOptions o, SwitchDatapath dp, TextWriter? progress)
    {
        if (o.Group is null || !dp.Groups.TryGet(Traffic.BenchGroupId, out var g)) return;
        long total = Math.Max(1, g.Buckets.Sum(b => b.Packets));
        progress?.WriteLine($"group {o.Group}: {g.Packets:N0} packets; buckets " +
                            string.Join(", ", g.Buckets.Select((b, i) => $"{i}: {b.Packets:N0} ({(double)b.Packets / total:P1})")));
    }

    /// <summary>--meter: packets the bench meter let through so far (every packet that entered it but those its band dropped).</summary>
    private static long MeterPassed(SwitchDatapath dp)
        => dp.Meters.TryGet(Traffic.BenchMeterId, out var m) ? m.Packets - m.Bands[0].Packets : 0;

    /// <summary>--meter: the rate the meter passed in the window, in frames (the generator's are all --frame-size long), against the band's.</summary>
    private static void ReportMeter(PpsOptions o, SwitchDatapath dp, long passed, double secs, TextWriter? progress)
    {
        if (o.MeterKbps <= 0 || !dp.Meters.TryGet(Traffic.BenchMeterId, out var meter)) return;
        double passedBps = passed * (double)Math.Max(60, o.FrameSize) * 8 / secs;
        progress?.WriteLine($"meter: {passedBps / 1e6:F3} Mbit/s of frames passed against a drop band of {o.MeterKbps / 1000.0:F3} Mbit/s " +
                            $"({passedBps / (o.MeterKbps * 1000.0) - 1:+0.00%;-0.00%}); {meter.Packets:N0} packets metered, {meter.Bands[0].Packets:N0} dropped");
    }

    private static long SentTotal(MemoryPort[] ports)
    {
        long n = 0;
        foreach (var p in ports) n += p.Counters.Snapshot().TxPackets;   // (binds to builds before and after the counters became sums)
        return n;
    }

    /// <summary>
    /// Applies <paramref name="rate"/> flow-mods a second, half deletes, half adds of flows the traffic hits (delete flow
    /// i, then add it back), about every 10 ms a batch. One table's batch is one <see cref="OfFlowTables.ApplyBatch"/>
    /// (one publication); a pipeline's (<paramref name="multiTable"/>: flows picked at random from every table's, so
    /// spread over the tables as their flows are) is applied one flow-mod at a time in one run
    /// (<see cref="OfFlowTables.BeginRun"/>), as a connection applies the flow-mods of one read, or with
    /// <paramref name="each"/> each published on its own, so each delete leaves its flow's packets a table miss until
    /// the add that follows it.
    /// </summary>
    private static long ChurnLoop(OfFlowTables flows, Traffic traffic, double rate, CancellationToken stop, int seed, bool multiTable = false, bool each = false)
    {
        var rng = new Random(seed ^ 0x5eed);
        var pool = traffic.Mods;
        // Apply in batches about every 10 ms (fewer wake-ups), at least 64 mods a batch.
        int batch = double.IsPositiveInfinity(rate) ? 1024 : (int)Math.Clamp(rate / 100, 64, 65536) & ~1;
        var mods = new FlowMod[batch];
        var status = new FlowModStatus[batch];
        long applied = 0;
        var sw = Stopwatch.StartNew();
        while (!stop.IsCancellationRequested)
        {
            if (!double.IsPositiveInfinity(rate))
            {
                double due = sw.Elapsed.TotalSeconds * rate;
                if (applied + batch > due)
                {
                    Thread.Sleep(2);
                    continue;
                }
            }
            for (int i = 0; i < batch; i += 2)
            {
                var add = pool[rng.Next(pool.Length)];
                mods[i] = add with { Command = FlowModCommand.DeleteStrict };
                mods[i + 1] = add;
            }
            if (!multiTable)
            {
                flows.ApplyBatch(mods, status, null);
            }
            else
            {
                if (!each) flows.BeginRun();
                try
                {
                    for (int i = 0; i < batch; i++) status[i] = flows.Apply(mods[i]);
                }
                finally
                {
                    flows.EndRun();
                }
            }
            applied += batch;
        }
        return applied;
    }

    private static void PrintSummary(PpsOptions o, Result r)
    {
        Console.WriteLine();
        if (r.Tunnel is not null) Console.WriteLine($"through a {r.Tunnel} tunnel port ({(o.TunnelRx ? "decapsulating frames from the underlay" : "encapsulating onto the underlay")})");
        Console.WriteLine($"{"flows",-8}{"rules",-8}{"masks",-7}{"emc",-5}{"churn/s",12}{"Mpps",9}{"ns/pkt",9}{"alloc B/pkt",13}{"emc hit",9}{"emc used",10}{"fwd",14}{"misses",12}{"GCs",6}{"GC ms",8}");
        Console.WriteLine($"{o.Flows,-8}{o.Rules,-8}{r.Masks,-7}{(o.Emc ? "on" : "off"),-5}{r.ChurnPerS,12:N0}{r.Mpps,9:F2}{r.NsPerPacket,9:F1}{r.AllocBytesPerPacket,13:F4}{r.EmcHitRate,9:P1}{r.EmcUsedShare,10:P1}{r.Forwarded,14:N0}{r.Misses,12:N0}{r.Gen0Collections,6}{r.GcPauseMs,8:F1}");
    }
}

/// <summary>Synthetic traffic: distinct 64-byte UDP frames, each hitting one installed flow or rule.</summary>
internal sealed class Traffic
{
    public required byte[][] Frames;
    public required FlowMod[] Mods;
    public int MaskCount;
    public static readonly MacAddress SrcMac = new(0x0200_0000_1000UL), DstMac = new(0x0200_0000_2000UL);

    /// <summary>--pipeline's traffic and flows.</summary>
    public static Traffic BuildPipeline(PpsOptions o, Random rng) => o.Pipeline switch
    {
        "mpls" => BuildMpls(o, rng),
        "faucet-resubmit" => BuildFaucet(o, rng, resubmit: true),
        _ => BuildFaucet(o, rng),
    };

    /// <summary>
    /// MPLS termination over <c>o.Flows</c> hosts: table 0 pops label 100 (ethertype 0x0800) and goes to table 1, which
    /// outputs by the inner packet's ipv4_dst, one flow per host: every packet is parsed anew after the pop and its
    /// rest looked up as a second cached verdict. One frame per host (an MPLS-labelled UDP packet to host i).
    /// </summary>
    public static Traffic BuildMpls(PpsOptions o, Random rng)
    {
        int hosts = Math.Max(2, o.Flows);
        var mods = new List<FlowMod>();
        var label = new FlowMatch(new FlowKeyBuilder().DlType(0xFFFF).MplsLabel(0xFFFFF).Key, new FlowKeyBuilder().DlType(0x8847).MplsLabel(100).Key);
        mods.Add(new(FlowModCommand.Add, label, 100, new FlowActions([FlowAction.PopMpls(0x0800)]), Rules: MatchRules.OpenFlow13, TableId: 0,
                     Instructions: new FlowInstructions(gotoTable: 1)));
        var frames = new byte[hosts][];
        for (int i = 0; i < hosts; i++)
        {
            uint dst = 0x0B00_0000u | (uint)i;
            var m = new FlowMatch(new FlowKeyBuilder().DlType(0xFFFF).NwDst(0xFFFF_FFFF).Key, new FlowKeyBuilder().DlType(0x0800).NwDst(dst).Key);
            mods.Add(new(FlowModCommand.Add, m, 100, new FlowActions([FlowAction.Output((ushort)(2 + i % (o.Ports - 1)))]), Rules: MatchRules.OpenFlow13, TableId: 1));
            var inner = FrameBuilder.Udp(SrcMac, DstMac, 0x0A00_0001u, dst, (ushort)(1024 + (i & 0x7FFF)), 5001, Math.Max(60, o.FrameSize - 4));
            var f = new byte[inner.Length + 4];
            inner.AsSpan(0, 12).CopyTo(f);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x8847);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(14), (100u << 12) | 0x100 | 64);
            inner.AsSpan(14).CopyTo(f.AsSpan(18));
            frames[i] = f;
        }
        rng.Shuffle(frames);
        return new Traffic { Frames = frames, Mods = mods.ToArray(), MaskCount = 0 };
    }

    /// <summary>
    /// A Faucet-shaped OpenFlow 1.3 pipeline of four tables over <c>o.Flows</c> hosts (MACs), every packet visiting all
    /// four: table 0 (vlan) admits untagged frames from port 1; table 1 (eth_src) one flow per known source MAC; table
    /// 2 (eth_dst) one flow per destination MAC, writing the output to its port into the action set; table 3 (output)
    /// a catch-all that ends the pipeline, so the action set outputs. One frame per host (source host i to host
    /// i * 7 + 1), as many distinct frames as the one-table row with the same --flows has flows.
    /// </summary>
    /// <summary>
    /// Faucet's four tables; <paramref name="resubmit"/>: chained by resubmit(,N) in apply-actions instead of goto-table
    /// (table 2 outputs after its resubmit instead of writing the output to the action set), the same forwarding.
    /// </summary>
    public static Traffic BuildFaucet(PpsOptions o, Random rng, bool resubmit = false)
    {
        int hosts = Math.Max(2, o.Flows);
        static MacAddress Host(int i) => new(0x0200_0001_0000UL + (ulong)i);
        var mods = new List<FlowMod>();
        var none = FlowActions.Drop;
        FlowMod Mod(byte table, FlowMatch m, ushort prio, FlowInstructions? ins, FlowActions? apply = null)
            => new(FlowModCommand.Add, m, prio, apply ?? none, Rules: MatchRules.OpenFlow13, TableId: table, Instructions: ins);
        var vlan = FlowMatch.FromOpenFlow(OfWildcards.All & ~(OfWildcards.InPort | OfWildcards.DlVlan), new FlowKeyBuilder().InPort(1).DlVlan(FlowKey.VlanNone).Key);
        FlowActions To(byte t) => new([FlowAction.Resubmit(t)]);
        mods.Add(resubmit ? Mod(0, vlan, 100, null, To(1)) : Mod(0, vlan, 100, new FlowInstructions(gotoTable: 1)));
        for (int i = 0; i < hosts; i++)
        {
            var src = FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.DlSrc, new FlowKeyBuilder().DlSrc(Host(i)).Key);
            mods.Add(resubmit ? Mod(1, src, 100, null, To(2)) : Mod(1, src, 100, new FlowInstructions(gotoTable: 2)));
            var dst = FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.DlDst, new FlowKeyBuilder().DlDst(Host(i)).Key);
            var port = (ushort)(2 + i % (o.Ports - 1));
            var output = new FlowActions([FlowAction.Output(port)]);
            mods.Add(resubmit ? Mod(2, dst, 100, null, new FlowActions([FlowAction.Resubmit(3), FlowAction.Output(port)]))
                              : Mod(2, dst, 100, new FlowInstructions(writeActions: output, gotoTable: 3)));
        }
        mods.Add(Mod(3, FlowMatch.All, 0, null));
        var frames = new byte[hosts][];
        for (int i = 0; i < hosts; i++)
        {
            frames[i] = FrameBuilder.Udp(Host(i), Host((i * 7 + 1) % hosts), 0x0A00_0000u | (uint)i, 0x0B00_0000u | (uint)(i * 7 + 1),
                                         (ushort)(1024 + (i & 0x7FFF)), 5001, o.FrameSize);
        }
        rng.Shuffle(frames);
        return new Traffic { Frames = frames, Mods = mods.ToArray(), MaskCount = 0 };
    }

    /// <summary>
    /// --shared's frames for thread <paramref name="thread"/> (from its port, thread + 1; with split, all from port 1)
    /// and, for thread 0, the rules every thread hits: the same frames for every thread but each thread's own source MAC
    /// (so NORMAL learns each behind its port once), all to the last port.
    /// </summary>
    public static Traffic BuildShared(PpsOptions o, int thread)
    {
        ushort outPort = (ushort)o.Ports;
        var mine = new MacAddress(SrcMac.Value + (ulong)thread);
        if (o.Shared == "split") return Build(o, new Random(o.Seed), 1, outPort);
        var t = Build(o, new Random(o.Seed), (ushort)(thread + 1), outPort, anyInPort: true, srcMac: mine);
        FlowMod CatchAll(ushort port) => new(FlowModCommand.Add, FlowMatch.All, 0, new FlowActions([FlowAction.Output(port)]));
        return o.Shared switch
        {
            "catchall" => new Traffic { Frames = t.Frames, Mods = [CatchAll(outPort)] },
            "normal" => new Traffic { Frames = t.Frames, Mods = [CatchAll(PortNumber.Normal)] },
            _ => t,   // rules: the wildcard rules (none matches in_port)
        };
    }

    /// <summary>What an OpenFlow 1.3 learning or routing app matches: in_port, eth_type, ip_proto, both IPv4 addresses and both ports.</summary>
    private static readonly OfWildcards FiveTuple = OfWildcards.DlSrc | OfWildcards.DlDst | OfWildcards.DlVlan | OfWildcards.DlVlanPcp | OfWildcards.NwTos | OfWildcards.TunIdExt;

    private static readonly FlowInstructions s_meter = new(meter: BenchMeterId);
    private static readonly FlowActions s_group = new([FlowAction.Group(BenchGroupId)]);

    /// <summary>The group --group's flows apply.</summary>
    public const uint BenchGroupId = 1;

    /// <summary>--group: the datapath's group <see cref="BenchGroupId"/> of the type asked over the output ports 2..N.</summary>
    public static void InstallGroup(PpsOptions o, SwitchDatapath dp)
    {
        if (o.Group is null) return;
        static Softswitch.Datapath.Groups.GroupBucket Out(ushort port, ushort weight = 0, ushort watch = PortNumber.None)
            => new(new FlowActions([FlowAction.Output(port)]), weight, watch);
        var outs = Enumerable.Range(2, o.Ports - 1).Select(p => (ushort)p).ToArray();
        var (type, buckets) = o.Group switch
        {
            "select" => (Softswitch.Datapath.Groups.GroupType.Select, outs.Select(p => Out(p, 1)).ToArray()),
            "all" => (Softswitch.Datapath.Groups.GroupType.All, outs.Take(2).Select(p => Out(p)).ToArray()),
            "indirect" => (Softswitch.Datapath.Groups.GroupType.Indirect, [Out(outs[0])]),
            _ => (Softswitch.Datapath.Groups.GroupType.FastFailover, outs.Take(2).Select(p => Out(p, watch: p)).ToArray()),
        };
        dp.Groups.Set(new Softswitch.Datapath.Groups.Group(BenchGroupId, type, buckets, dp.Clock.NowNanos));
    }

    /// <summary>The meter --meter's flows run through.</summary>
    public const uint BenchMeterId = 1;

    /// <summary>--meter: the datapath's meter <see cref="BenchMeterId"/>, one drop band at the rate asked (its default bucket, 300 ms, starting empty).</summary>
    public static void InstallMeter(PpsOptions o, SwitchDatapath dp)
    {
        if (o.MeterKbps <= 0) return;
        dp.Meters.Set(new Softswitch.Datapath.Meters.Meter(BenchMeterId, Softswitch.Datapath.Meters.MeterUnit.Kbps, false, true,
            [new Softswitch.Datapath.Meters.MeterBand(Softswitch.Datapath.Meters.MeterBandType.Drop, (uint)o.MeterKbps)], dp.Clock.NowNanos));
    }

    /// <summary>
    /// Frames and flows; flows match <paramref name="inPort"/> and output to ports 2..N, or all to <paramref name="outputTo"/>
    /// when non-zero. With --threads N, each thread's flows (<paramref name="inPort"/> = thread + 1) output to the ports
    /// <see cref="PpsHarness.ThreadOutputs"/> gives it: never its own input, and none another thread sends to when there are
    /// enough ports, so no transmit counter is written by two threads.
    /// </summary>
    public static Traffic Build(PpsOptions o, Random rng, ushort inPort = 1, ushort outputTo = 0, bool anyInPort = false, MacAddress? srcMac = null)
    {
        var frames = new List<byte[]>();
        var mods = new List<FlowMod>();
        var outputs = new FlowActions[o.Ports + 1];
        for (ushort p = 2; p <= o.Ports; p++) outputs[p] = o.Group is not null ? s_group : new FlowActions([FlowAction.Output(outputTo != 0 ? outputTo : p)]);
        if (o.Threads > 1 && outputTo == 0 && o.Group is null)
        {
            // Slot 2 + i % (Ports - 1) of flow i takes the thread's output ports in turn.
            var mine = PpsHarness.ThreadOutputs(o, inPort - 1);
            for (int p = 2; p <= o.Ports; p++) outputs[p] = new FlowActions([FlowAction.Output(mine[(p - 2) % mine.Length])]);
        }
        var src = srcMac ?? SrcMac;
        var dstMac = DstMac;

        for (int i = 0; i < o.Flows; i++)
        {
            uint srcIp = 0x0A00_0000u | (uint)(i & 0xFFFFFF);
            uint dst = 0x0B00_0000u | (uint)(rng.Next() & 0xFFFF);
            var f = FrameBuilder.Udp(src, dstMac, srcIp, dst, (ushort)(1024 + (i & 0x7FFF)), 5001, o.FrameSize);
            PacketParser.Parse(f, inPort, out var key, out _);
            frames.Add(f);
            mods.Add(o.OpenFlow13
                ? new FlowMod(FlowModCommand.Add, FlowMatch.FromOpenFlow(FiveTuple, key), 0x8000, outputs[2 + i % (o.Ports - 1)], Rules: MatchRules.OpenFlow13,
                              Instructions: o.MeterKbps > 0 ? s_meter : null)
                : new FlowMod(FlowModCommand.Add, FlowMatch.Exact(key), 0xFFFF, outputs[2 + i % (o.Ports - 1)]));
        }

        int masks = 0;
        if (o.Rules > 0)
        {
            // Distinct masks: combinations of which L2-L4 fields are matched plus nw_dst prefix lengths.
            var maskList = new List<OfWildcards>();
            var bases = new[]
            {
                OfWildcards.All & ~(OfWildcards.DlType | OfWildcards.NwDstMask),
                OfWildcards.All & ~(OfWildcards.DlType | OfWildcards.NwDstMask | OfWildcards.NwProto),
                OfWildcards.All & ~(OfWildcards.DlType | OfWildcards.NwDstMask | OfWildcards.NwProto | OfWildcards.TpDst),
                OfWildcards.All & ~(OfWildcards.InPort | OfWildcards.DlType | OfWildcards.NwDstMask),
            };
            int[] prefixes = [32, 24, 16, 8];
            for (int i = 0; maskList.Count < Math.Max(1, o.Masks); i++)
            {
                var b = bases[i % bases.Length];
                int prefix = prefixes[(i / bases.Length) % prefixes.Length];
                int srcPrefix = i / (bases.Length * prefixes.Length); // more variety beyond 16 masks
                var w = (b & ~OfWildcards.NwDstMask) | (OfWildcards)((uint)(32 - prefix) << (int)OfWildcards.NwDstShift);
                if (srcPrefix > 0) w = (w & ~OfWildcards.NwSrcMask) | (OfWildcards)((uint)(32 - Math.Min(32, srcPrefix * 4)) << (int)OfWildcards.NwSrcShift);
                maskList.Add(w | OfWildcards.TunIdExt | (anyInPort ? OfWildcards.InPort : 0));
            }
            masks = maskList.Count;
            for (int i = 0; i < o.Rules; i++)
            {
                var w = maskList[i % masks];
                uint srcIp = 0x0C00_0000u | (uint)rng.Next(1 << 20);
                uint dst = 0x0D00_0000u | (uint)(i * 2654435761u >> 8);
                var f = FrameBuilder.Udp(src, dstMac, srcIp, dst, (ushort)(2000 + i % 20000), 5001, o.FrameSize);
                PacketParser.Parse(f, inPort, out var key, out _);
                frames.Add(f);
                ushort prio = (ushort)(100 + rng.Next(30000));
                mods.Add(new FlowMod(FlowModCommand.Add, FlowMatch.FromOpenFlow(w, key), prio, outputs[2 + i % (o.Ports - 1)]));
            }
        }
        // Shuffle the frame order so consecutive packets hit different flows (the hard case for caches).
        var arr = frames.ToArray();
        rng.Shuffle(arr);
        return new Traffic { Frames = arr, Mods = mods.ToArray(), MaskCount = masks };
    }
}
