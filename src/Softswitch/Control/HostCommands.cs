using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Groups;
using Softswitch.Datapath.Meters;
using Softswitch.Datapath.Ports;
using Softswitch.Flows;
using Softswitch.Logging;
using Softswitch.Metrics;
using Softswitch.OfAgent;
using Softswitch.Ofproto;
using Softswitch.Ports;
using Softswitch.Ports.Linux;

namespace Softswitch.Control;

/// <summary>
/// The daemon's own control commands, as OVS users know them from ovs-appctl: <c>version</c>, <c>exit</c>,
/// <c>list-commands</c>, <c>vlog/set|list|reopen</c>, <c>fdb/show|flush</c>, <c>memory/show|allocators|collect</c>, <c>dump-flows</c>,
/// <c>ofproto/trace</c> (see <see cref="OfprotoTrace"/>),
/// <c>port/add</c>, <c>port/del</c>. Show commands take <c>--format json</c> (sent by <c>softswitch ctl --format json</c>).
/// </summary>
/// <remarks>
/// Handlers read snapshots (the learning table, the flow table through its query lock, counters) and never block the
/// datapath. port/add and port/del change the port table through <see cref="SwitchDatapath.AddPort"/> and
/// <see cref="SwitchDatapath.RemovePort"/>, which tell the controller (PORT_STATUS); the datapath disposes a removed port
/// once no forwarding thread can still be inside a burst on it.
/// </remarks>
internal static class HostCommands
{
    /// <summary>What the handlers reach: the datapath, the agent, the logs, how to end the daemon and open a port.</summary>
    public sealed record Context(SwitchDatapath Dp, OfSwitchAgent Agent, Vlog Vlog, Action Exit)
    {
        public PortFactoryOptions? PortFactory { get; init; }

        /// <summary>The switch's egress shaping (queue/add, queue/del, qos/set, queue/show), or null.</summary>
        public QosConfig? Qos { get; init; }

        /// <summary>The names a command may call this switch by (its datapath id, its control socket's name), or null.</summary>
        public Func<string, bool>? IsThisSwitch { get; init; }
    }

    public static string Version
        => typeof(HostCommands).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public static void Register(ControlCommands commands, Context c)
    {
        commands.Register("version", "", "the program's version", 0, 0, _ => ControlReply.Success($"softswitch {Version} (OpenFlow 1.0; .NET {Environment.Version})\n"));
        commands.Register("exit", "", "stop the switch cleanly", 0, 0, _ =>
        {
            c.Exit();
            return ControlReply.Success("");
        });
        commands.Register("list-commands", "", "this list (as ovs-appctl spells it)", 0, 0, _ => commands.Execute(new ControlRequest("help", [])));
        commands.Register("vlog/set", "SPEC", "log levels: LEVEL or MODULE:LEVEL[,...] (off emer err warn info dbg)", 1, 8, args =>
            c.Vlog.TrySet(string.Join(',', args), out var error) ? ControlReply.Success("") : ControlReply.Error(error));
        commands.Register("vlog/list", "[--format json]", "modules and their log levels", 0, 2, args => Show(args, "vlog/list", () => c.Vlog.Describe(), w =>
        {
            w.WriteStartObject();
            foreach (var (module, level) in c.Vlog.List()) w.WriteString(module, Vlog.LevelName(level).ToLowerInvariant());
            w.WriteEndObject();
        }));
        commands.Register("vlog/reopen", "", "reopen the log file (after logrotate)", 0, 0, _ =>
            c.Vlog.Reopen(out var error) ? ControlReply.Success("") : ControlReply.Error(error));
        commands.Register("fdb/show", "[--format json]", "the learned MAC addresses (NORMAL and fail-standalone)", 0, 2, args => FdbShow(c.Dp, args));
        commands.Register("fdb/flush", "", "forget every learned MAC address", 0, 0, _ =>
        {
            c.Dp.MacTable.Clear();
            return ControlReply.Success("table successfully flushed\n");
        });
        commands.Register("memory/show", "[--format json]", "flows, ports, learned addresses, managed heap", 0, 2, args => MemoryShow(c.Dp, c.Agent.Switch.Flows, args));
        commands.Register("memory/allocators", "[--reset] [--format json]",
            "who allocates: bytes and collections per second since the sampler started (or --reset), top types and threads", 0, 3,
            MemoryAllocators);
        commands.Register("memory/collect", "[0|1|2] [--format json]",
            "run one blocking garbage collection of that generation (default 0) and show what its pause was made of", 0, 3, MemoryCollect);
        commands.Register("dump-flows", "[--format json]", "every flow in ovs-ofctl syntax with counters and durations", 0, 2, args => DumpFlows(c.Dp, c.Agent.Switch.Flows, args));
        commands.Register("dump-groups", "[--format json]", "every group with its buckets and counters, in ovs-ofctl syntax", 0, 2, args => DumpGroups(c.Dp, args));
        if (c.Qos is { } qos)
        {
            commands.Register("queue/add", "PORT QUEUE [min-rate=RATE][,max-rate=RATE]", "adds or replaces an egress queue of PORT (RATE: bits/s with k, M or G)", 2, 3,
                args => qos.TryAddQueue(args[0], args[1], args.Length > 2 ? args[2] : "", out var e) ? ControlReply.Success(qos.Show()) : ControlReply.Error($"queue/add: {e}"));
            commands.Register("queue/del", "PORT QUEUE", "removes an egress queue of PORT (what waits in it is dropped)", 2, 2,
                args => qos.TryDeleteQueue(args[0], args[1], out var e) ? ControlReply.Success(qos.Show()) : ControlReply.Error($"queue/del: {e}"));
            commands.Register("qos/set", "PORT max-rate=RATE", "sets PORT's shaping ceiling (max-rate=0: none)", 2, 2,
                args => qos.TrySetPort(args[0], args[1], out var e) ? ControlReply.Success(qos.Show()) : ControlReply.Error($"qos/set: {e}"));
            commands.Register("queue/show", "", "the shaped ports and their queues: rates, backlog, counters", 0, 0, _ => ControlReply.Success(qos.Show()));
        }
        commands.Register("dump-meters", "[--format json]", "every meter with its bands, buckets and counters, in ovs-ofctl syntax", 0, 2, args => DumpMeters(c.Dp, args));
        commands.Register("ofproto/trace", OfprotoTrace.Usage, "which flow a packet hits, by which stage, and what its actions do (read-only)", 1, ControlProtocol.MaxArgs,
            args => OfprotoTrace.Run(c.Dp, c.Agent.Switch.Flows, args, c.IsThisSwitch));
        commands.Register("port/add", "SPEC [N]", "open a port (afpacket:IF, afxdp:IF, pcap:IF, tap:NAME) as OpenFlow port N", 1, 2, args => PortAdd(c, args));
        commands.Register("port/del", "NAME|N", "remove a port", 1, 1, args => PortDel(c.Dp, args[0]));
    }

    /// <summary>Text, or JSON when the arguments are <c>--format json</c>; anything else is an error naming the usage.</summary>
    internal static ControlReply Show(string[] args, string name, Func<string> text, Action<Utf8JsonWriter> json)
    {
        if (args.Length == 0 || args is ["--format", "text"] or ["--format=text"]) return ControlReply.Success(text());
        if (args is ["--format", "json"] or ["--format=json"])
        {
            // The thread's buffer and writer, reused (monitors poll memory/show every few seconds).
            return ControlReply.Success(ReplyBuilders.Json(json));
        }
        return ControlReply.Error($"'{string.Join(' ', args)}': {name} takes only --format text|json");
    }

    internal static ControlReply FdbShow(SwitchDatapath dp, string[] args)
    {
        long now = dp.Clock.NowNanos;
        var entries = dp.MacTable.Snapshot();
        entries.Sort((a, b) => a.Port != b.Port ? a.Port.CompareTo(b.Port) : a.Vlan != b.Vlan ? a.Vlan.CompareTo(b.Vlan) : a.Mac.Value.CompareTo(b.Mac.Value));
        static long Age(long now, long seen) => Math.Max(0, now - seen) / 1_000_000_000;
        return Show(args, "fdb/show", () =>
        {
            var sb = new StringBuilder(" port  VLAN  MAC                Age\n");
            foreach (var e in entries)
                sb.Append(CultureInfo.InvariantCulture, $"{e.Port,5}  {e.Vlan,4}  {e.Mac}  {Age(now, e.SeenNanos),3}\n");
            return sb.ToString();
        }, w =>
        {
            w.WriteStartArray();
            foreach (var e in entries)
            {
                w.WriteStartObject();
                w.WriteNumber("port", e.Port);
                w.WriteNumber("vlan", e.Vlan);
                w.WriteString("mac", e.Mac.ToString());
                w.WriteNumber("age", Age(now, e.SeenNanos));
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
    }

    // memory/show's counter names, made once (a monitoring script asks every few seconds).
    private static readonly string[] s_histogramNames = [.. GcPauseMonitor.BucketUpperMicros.Select(b => $"gc-pauses-le-{b}us"), "gc-pauses-over"];
    private static readonly string[] s_phaseSumNames = [.. GcPauseMonitor.PhaseNames.Select(n => $"gc-phase-{n}-sum-us")];
    private static readonly string[] s_phaseOfMaxNames = [.. GcPauseMonitor.PhaseNames.Select(n => $"gc-phase-{n}-of-max-us")];
    private static readonly string[] s_markedNames = [.. GcPauseMonitor.RootKindNames.Select(n => $"gc-marked-{n}-bytes")];
    private static readonly string[] s_genNames = ["gc-pauses-gen0", "gc-pauses-gen1", "gc-pauses-gen2"];

    [ThreadStatic] private static List<(string Name, long Value)>? s_memoryItems;

    internal static ControlReply MemoryShow(SwitchDatapath dp, OfFlowTables tables, string[] args)
    {
        var gc = GC.GetGCMemoryInfo();
        var pauses = GcPauseMonitor.Start();
        Span<long> hist = stackalloc long[pauses.BucketCount];
        pauses.Histogram(hist);
        // The thread's list of items and text builder, reused: monitors poll this every few seconds.
        var items = s_memoryItems ?? new List<(string Name, long Value)>(128);
        s_memoryItems = null;
        items.Clear();
        items.Add(("flows", tables.ActiveExact + tables.ActiveWildcard));
        items.Add(("exact-flows", tables.ActiveExact));
        items.Add(("wildcard-flows", tables.ActiveWildcard));
        items.Add(("ports", dp.Ports.List.Length));
        items.Add(("mac-entries", dp.MacTable.Count));
        items.Add(("managed-heap-bytes", GC.GetTotalMemory(false)));
        items.Add(("gc-committed-bytes", gc.TotalCommittedBytes));
        items.Add(("rss-bytes", ResidentMemory.Bytes()));
        items.Add(("gc-allocated-bytes", GC.GetTotalAllocatedBytes()));
        items.Add(("gc-collections", GC.CollectionCount(0)));
        items.Add(("gc-gen2-collections", GC.CollectionCount(2)));
        items.Add(("gc-pause-total-us", (long)GC.GetTotalPauseDuration().TotalMicroseconds));
        items.Add(("gc-last-pause-us", LastPauseMicros()));
        items.Add(("gc-pauses", pauses.GcPauses));
        items.Add(("gc-pause-max-us", pauses.MaxMicros));
        items.Add(("gc-pause-p50-us", pauses.Quantile(0.50)));
        items.Add(("gc-pause-p99-us", pauses.Quantile(0.99)));
        items.Add(("gc-pause-sum-us", pauses.TotalMicros));
        items.Add(("gc-suspend-max-us", pauses.MaxSuspendMicros));
        items.Add(("gc-suspend-sum-us", pauses.SuspendTotalMicros));
        items.Add(("runtime-suspensions", pauses.Pauses));
        items.Add(("other-suspension-max-us", pauses.OtherMaxMicros));
        for (int i = 0; i < hist.Length; i++) items.Add((s_histogramNames[i], hist[i]));
        long stallMax = 0, stalls1 = 0, stalls10 = 0;
        foreach (var f in dp.Forwarders)
        {
            stallMax = Math.Max(stallMax, f.MaxBusyGapMicros);
            stalls1 += f.BusyGapsOver1ms;
            stalls10 += f.BusyGapsOver10ms;
        }
        items.Add(("forwarding-stall-max-us", stallMax));
        items.Add(("forwarding-stalls-over-1ms", stalls1));
        items.Add(("forwarding-stalls-over-10ms", stalls10));
        // What the collections' pauses were made of: each phase summed over every pause, and in the longest one; the
        // bytes each kind of root kept alive; the pauses by condemned generation.
        for (int i = 0; i < GcPauseMonitor.PhaseNames.Length; i++)
        {
            items.Add((s_phaseSumNames[i], pauses.PhaseMicros((GcPauseMonitor.Phase)i)));
            items.Add((s_phaseOfMaxNames[i], pauses.PhaseOfMaxMicros((GcPauseMonitor.Phase)i)));
        }
        for (int i = 0; i < GcPauseMonitor.RootKindNames.Length; i++) items.Add((s_markedNames[i], pauses.MarkedBytes((GcPauseMonitor.RootKind)i)));
        for (int g = 0; g <= 2; g++) items.Add((s_genNames[g], pauses.GcPausesOfGen(g)));
        var reply = Show(args, "memory/show", () =>
        {
            var sb = ReplyBuilders.RentText();
            foreach (var (name, value) in items) sb.Append(name).Append(':').Append(value).Append(' ');
            sb.Append("gc-pause-source:").Append(pauses.Source).Append('\n');
            return ReplyBuilders.ToStringAndReturn(sb);
        }, w =>
        {
            w.WriteStartObject();
            foreach (var (name, value) in items) w.WriteNumber(name, value);
            w.WriteString("gc-pause-source", pauses.Source);
            w.WriteEndObject();
        });
        s_memoryItems = items;
        return reply;
    }

    /// <summary>
    /// One blocking collection of the generation asked (a diagnostic: it pauses the switch as any collection does), then
    /// its pause as the monitor measured it, phase by phase (see <see cref="GcPauseMonitor.Phase"/>), with the bytes
    /// each kind of root kept alive: what a collection costs now, idle or under load.
    /// </summary>
    internal static ControlReply MemoryCollect(string[] args)
    {
        int gen = 0;
        if (args.Length > 0 && args[0] is "0" or "1" or "2")
        {
            gen = args[0][0] - '0';
            args = args[1..];
        }
        var m = GcPauseMonitor.Start();
        if (m.Source != "events") return ControlReply.Error("collection phases need the runtime's events, which this build does not raise");
        long before = m.GcPauses;
        GC.Collect(gen, GCCollectionMode.Forced, blocking: true, compacting: false);
        // The events reach the monitor on the runtime's dispatch thread, a little after the fact.
        var deadline = Environment.TickCount64 + 2000;
        while (m.GcPauses == before && Environment.TickCount64 < deadline) Thread.Sleep(5);
        if (m.GcPauses == before) return ControlReply.Error("the collection's events did not arrive within 2 s");
        var items = new List<(string Name, long Value)> { ("generation", m.LastGeneration), ("pause-us", m.LastMicros) };
        for (int i = 0; i < GcPauseMonitor.PhaseNames.Length; i++)
            items.Add(($"{GcPauseMonitor.PhaseNames[i]}-us", m.PhaseOfLastMicros((GcPauseMonitor.Phase)i)));
        for (int i = 0; i < GcPauseMonitor.RootKindNames.Length; i++)
            items.Add(($"marked-{GcPauseMonitor.RootKindNames[i]}-bytes", m.MarkedOfLastBytes((GcPauseMonitor.RootKind)i)));
        return Show(args, "memory/collect", () =>
        {
            var sb = new StringBuilder();
            foreach (var (name, value) in items) sb.Append(CultureInfo.InvariantCulture, $"{(sb.Length == 0 ? "" : " ")}{name}:{value}");
            return sb.Append('\n').ToString();
        }, w =>
        {
            w.WriteStartObject();
            foreach (var (name, value) in items) w.WriteNumber(name, value);
            w.WriteEndObject();
        });
    }

    /// <summary>
    /// The allocation sampler's view (started by the first call); <c>--reset</c> starts counting again (and shows the
    /// empty view, so a caller resets, waits, then asks again).
    /// </summary>
    internal static ControlReply MemoryAllocators(string[] args)
    {
        var sampler = Metrics.AllocationSampler.Start();
        if (args.Length > 0 && args[0] == "--reset")
        {
            sampler.Reset();
            args = args[1..];
        }
        var r = sampler.Snapshot();
        return Show(args, "memory/allocators", r.ToText, w =>
        {
            w.WriteStartObject();
            w.WriteNumber("seconds", r.Seconds);
            w.WriteNumber("allocated-bytes", r.AllocatedBytes);
            w.WriteNumber("bytes-per-second", r.BytesPerSecond);
            w.WriteNumber("collections", r.Collections);
            w.WriteNumber("collections-per-minute", r.CollectionsPerMinute);
            w.WriteNumber("samples", r.Samples);
            foreach (var (name, rows) in new[] { ("types", r.Types), ("threads", r.Threads) })
            {
                w.WriteStartArray(name);
                foreach (var row in rows)
                {
                    w.WriteStartObject();
                    w.WriteString("name", row.Name);
                    w.WriteNumber("sampled-bytes", row.SampledBytes);
                    w.WriteNumber("bytes-per-second", r.RowBytesPerSecond(row));
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
        });
    }

    /// <summary>The longest pause of the most recent collection of each kind (ephemeral, full blocking, background), in
    /// microseconds: sampled periodically, it bounds the pauses a soak saw without a per-collection callback.</summary>
    static long LastPauseMicros()
    {
        long max = 0;
        foreach (var kind in (ReadOnlySpan<GCKind>)[GCKind.Ephemeral, GCKind.FullBlocking, GCKind.Background])
        {
            var info = GC.GetGCMemoryInfo(kind);
            foreach (var p in info.PauseDurations) max = Math.Max(max, (long)p.TotalMicroseconds);
        }
        return max;
    }

    /// <summary>Every flow (normal, then emergency), highest priority first, as <c>ovs-ofctl dump-flows</c> prints it.</summary>
    internal static ControlReply DumpFlows(SwitchDatapath dp, OfFlowTables tables, string[] args)
    {
        // The flows are read until the reply is made: a hold keeps them from being recycled meanwhile.
        using var hold = tables.Reclamation.Enter();
        var flows = new List<FlowEntry>();
        tables.Collect(FlowMatch.All, PortNumber.None, strict: false, flows);
        int normal = flows.Count;
        tables.Collect(FlowMatch.All, PortNumber.None, strict: false, flows, emergency: true);
        flows.Sort(0, normal, Comparer<FlowEntry>.Create(Order));
        flows.Sort(normal, flows.Count - normal, Comparer<FlowEntry>.Create(Order));
        long now = dp.Clock.NowNanos;
        return Show(args, "dump-flows", () =>
        {
            var sb = new StringBuilder(flows.Count * 128);
            foreach (var e in flows) sb.Append(FlowLine(e, now)).Append('\n');
            return sb.ToString();
        }, w =>
        {
            w.WriteStartArray();
            foreach (var e in flows)
            {
                w.WriteStartObject();
                w.WriteString("cookie", $"0x{OfFlowRule.CookieOf(e):x}");
                w.WriteNumber("duration", Math.Round(Math.Max(0, now - e.CreatedNanos) / 1e9, 3));
                w.WriteNumber("n_packets", e.Packets);
                w.WriteNumber("n_bytes", e.Bytes);
                w.WriteNumber("idle_timeout", e.IdleTimeout);
                w.WriteNumber("hard_timeout", e.HardTimeout);
                w.WriteNumber("priority", e.RequestedPriority);
                w.WriteString("match", FlowFormat.Match(e.Match));
                w.WriteString("actions", FlowFormat.Actions(e.Actions));
                w.WriteBoolean("emergency", (OfFlowRule.Of(e)?.IsEmergency ?? false));
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
    }

    /// <summary>
    /// Every group by id, as <c>ovs-ofctl dump-groups</c> and <c>dump-group-stats</c> print them together:
    /// <c>group_id=1,type=select,packet_count=..,byte_count=..,bucket=weight:1,watch_port:2,actions=output:2,packet_count=..</c>;
    /// a select group's selection method after its type when it picks by one (<c>selection_method=dp_hash</c>).
    /// </summary>
    internal static ControlReply DumpGroups(SwitchDatapath dp, string[] args)
    {
        var groups = dp.Groups.All.ToList();
        groups.Sort((a, b) => a.Id.CompareTo(b.Id));
        static string Type(GroupType t) => t switch
        {
            GroupType.All => "all",
            GroupType.Select => "select",
            GroupType.Indirect => "indirect",
            _ => "ff",
        };
        // The method the group picks by (Open vSwitch's names), when not the default: a dp_hash table too big, or hash
        // without fields, shows none.
        static string? Method(Group g) => g.Method switch
        {
            SelectMethod.Hash => "hash",
            SelectMethod.DpHash => "dp_hash",
            _ => null,
        };
        static string Watch(GroupBucket b)
            => (b.WatchPort != PortNumber.None ? $"watch_port:{b.WatchPort}," : "") + (b.WatchGroup != GroupBucket.NoWatchGroup ? $"watch_group:{b.WatchGroup}," : "");
        return Show(args, "dump-groups", () =>
        {
            var sb = new StringBuilder();
            foreach (var g in groups)
            {
                sb.Append($"group_id={g.Id},type={Type(g.Type)}");
                if (Method(g) is { } method) sb.Append(",selection_method=").Append(method);
                sb.Append($",packet_count={g.Packets},byte_count={g.Bytes}");
                foreach (var b in g.Buckets)
                {
                    sb.Append(",bucket=");
                    if (g.Type == GroupType.Select) sb.Append($"weight:{b.Weight},");
                    sb.Append(Watch(b)).Append("actions=").Append(FlowFormat.Actions(b.Actions));
                    sb.Append($",live={(dp.Groups.IsLive(b) ? "yes" : "no")},packet_count={b.Packets},byte_count={b.Bytes}");
                }
                sb.Append('\n');
            }
            return sb.ToString();
        }, w =>
        {
            w.WriteStartArray();
            foreach (var g in groups)
            {
                w.WriteStartObject();
                w.WriteNumber("group_id", g.Id);
                w.WriteString("type", Type(g.Type));
                if (Method(g) is { } method) w.WriteString("selection_method", method);
                w.WriteNumber("packet_count", g.Packets);
                w.WriteNumber("byte_count", g.Bytes);
                w.WriteStartArray("buckets");
                foreach (var b in g.Buckets)
                {
                    w.WriteStartObject();
                    w.WriteNumber("weight", b.Weight);
                    if (b.WatchPort != PortNumber.None) w.WriteNumber("watch_port", b.WatchPort);
                    if (b.WatchGroup != GroupBucket.NoWatchGroup) w.WriteNumber("watch_group", b.WatchGroup);
                    w.WriteString("actions", FlowFormat.Actions(b.Actions));
                    w.WriteBoolean("live", dp.Groups.IsLive(b));
                    w.WriteNumber("packet_count", b.Packets);
                    w.WriteNumber("byte_count", b.Bytes);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
    }

    /// <summary>
    /// Every meter by id, as <c>ovs-ofctl dump-meters</c> and <c>meter-stats</c> print them together, with each band's
    /// bucket: <c>meter=1 kbps packet_in_count=..,byte_in_count=..,bands=type=drop rate=10000 burst_size=3000 tokens=..,packet_count=..</c>.
    /// </summary>
    internal static ControlReply DumpMeters(SwitchDatapath dp, string[] args)
    {
        var meters = dp.Meters.All.ToList();
        meters.Sort((a, b) => a.Id.CompareTo(b.Id));
        long now = dp.Meters.Clock.NowNanos;
        static string Id(uint id) => id == MeterModRequest.Controller ? "controller" : id.ToString(CultureInfo.InvariantCulture);
        static string Unit(Meter m) => m.Unit == MeterUnit.Kbps ? "kbps" : "pktps";
        return Show(args, "dump-meters", () =>
        {
            var sb = new StringBuilder();
            foreach (var m in meters)
            {
                sb.Append($"meter={Id(m.Id)} {Unit(m)}{(m.Burst ? " burst" : "")}{(m.Stats ? " stats" : "")} packet_in_count={m.Packets},byte_in_count={m.Bytes},bands=");
                for (int i = 0; i < m.Bands.Length; i++)
                {
                    var b = m.Bands[i];
                    if (i > 0) sb.Append(' ');
                    sb.Append(OfprotoTrace.BandText(b)).Append($" tokens={m.TokensOf(i, now)},packet_count={b.Packets},byte_count={b.Bytes}");
                }
                sb.Append('\n');
            }
            return sb.ToString();
        }, w =>
        {
            w.WriteStartArray();
            foreach (var m in meters)
            {
                w.WriteStartObject();
                w.WriteString("meter", Id(m.Id));
                w.WriteString("unit", Unit(m));
                w.WriteBoolean("burst", m.Burst);
                w.WriteBoolean("stats", m.Stats);
                w.WriteNumber("packet_in_count", m.Packets);
                w.WriteNumber("byte_in_count", m.Bytes);
                w.WriteStartArray("bands");
                for (int i = 0; i < m.Bands.Length; i++)
                {
                    var b = m.Bands[i];
                    w.WriteStartObject();
                    w.WriteString("type", b.Type == MeterBandType.Drop ? "drop" : "dscp_remark");
                    w.WriteNumber("rate", b.Rate);
                    w.WriteNumber("burst_size", b.BucketSize);
                    if (b.Type == MeterBandType.DscpRemark) w.WriteNumber("prec_level", b.PrecLevel);
                    w.WriteNumber("tokens", m.TokensOf(i, now));
                    w.WriteNumber("packet_count", b.Packets);
                    w.WriteNumber("byte_count", b.Bytes);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
    }

    private static int Order(FlowEntry a, FlowEntry b)
        => a.Priority != b.Priority ? b.Priority.CompareTo(a.Priority) : a.Serial.CompareTo(b.Serial);

    /// <summary><c> cookie=0x0, duration=1.500s, table=0, n_packets=3, n_bytes=294, idle_timeout=60, priority=..., actions=...</c></summary>
    internal static string FlowLine(FlowEntry e, long nowNanos) => RuleText(e, nowNanos, withCounters: true);

    /// <summary>
    /// The one text form of an installed flow, as ovs-ofctl dump-flows prints it to an OpenFlow 1.0 controller: table 0
    /// (the only table a controller addresses) and the priority the controller asked for (an exact flow's normalised
    /// priority is an implementation detail). With <paramref name="withCounters"/> (dump-flows) the line has duration,
    /// packet and byte counts and idle age; without (ofproto/trace, which prints its lookup stage apart) the rule alone:
    /// <c>cookie=0x0, table=0, idle_timeout=60, priority=...,match actions=...</c>.
    /// </summary>
    internal static string RuleText(FlowEntry e, long nowNanos, bool withCounters)
    {
        var ic = CultureInfo.InvariantCulture;
        var sb = FlowFormat.AppendHead(new StringBuilder(160), e, OfFlowRule.CookieOf(e), nowNanos, withCounters ? FlowHead.Counters | FlowHead.Table : FlowHead.Table);
        if (OfFlowRule.Of(e)?.IsEmergency ?? false) sb.Append("emergency, ");
        if (withCounters && e.IdleTimeout != 0) sb.Append(ic, $"idle_age={Math.Max(0, nowNanos - e.LastUsedNanos) / 1_000_000_000}, ");
        sb.Append(FlowFormat.Rule(e.RequestedPriority, e.Match)).Append(" actions=").Append(FlowFormat.Actions(e.Actions));
        return sb.ToString();
    }

    private static ControlReply PortAdd(Context c, string[] args)
    {
        if (c.PortFactory is null) return ControlReply.Error("this switch cannot open ports at run time");
        ushort no = 0;
        if (args.Length > 1 && (!ushort.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out no) || no is 0 or > PortSpec.MaxPorts))
            return ControlReply.Error($"'{args[1]}' is not an OpenFlow port number (1 to {PortSpec.MaxPorts})");
        if (!PortSpec.TryParse(args[0], out var specs, out var error)) return ControlReply.Error(error);
        if (specs.Count != 1 || specs[0].Count != 1) return ControlReply.Error($"'{args[0]}': port/add opens one port at a time");
        if (specs[0].Kind == PortKind.AfPacket || specs[0].Kind == PortKind.AfXdp || specs[0].Kind == PortKind.Pcap || specs[0].Kind == PortKind.Tap)
        {
            foreach (var p in c.Dp.Ports.List)
                if (p.Port.Info.Name == specs[0].Name) return ControlReply.Error($"'{specs[0].Name}' is already port {p.No}");
        }
        if (no != 0 && c.Dp.Ports.Get(no) is { } taken) return ControlReply.Error($"port number {no} is taken by '{taken.Port.Info.Name}'");
        if (no == 0)
        {
            no = 1;
            while (c.Dp.Ports.Get(no) is not null) no++;
        }
        var spec = specs[0] with { FirstPortNo = no };
        IReadOnlyList<OpenedPort> opened;
        try
        {
            opened = PortSpec.Open([spec], c.PortFactory);
        }
        catch (PortOpenException e)
        {
            return ControlReply.Error(e.Message);
        }
        try
        {
            c.Dp.AddPort(opened[0].Port, no);
        }
        catch (DatapathConfigurationException e)
        {
            opened[0].Port.Dispose();
            return ControlReply.Error(e.Message);
        }
        return ControlReply.Success($"port {no}: {spec}\n");
    }

    private static ControlReply PortDel(SwitchDatapath dp, string which)
    {
        PortSlot? slot = ushort.TryParse(which, NumberStyles.None, CultureInfo.InvariantCulture, out ushort no)
            ? dp.Ports.Get(no)
            : dp.Ports.List.FirstOrDefault(p => p.Port.Info.Name == which);
        if (slot is null) return ControlReply.Error($"no port '{which}' (dp/show lists the ports)");
        if (!dp.RemovePort(slot.No)) return ControlReply.Error($"port {slot.No} is already gone");
        return ControlReply.Success($"port {slot.No} ({slot.Port.Info.Name}) removed\n");
    }
}
