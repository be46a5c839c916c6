using System.Globalization;
using System.Text;
using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Meters;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Flows;
using Softswitch.Ofproto;

namespace Softswitch.Control;

/// <summary>
/// <c>ofproto/trace</c>, as Open vSwitch's <c>ovs-appctl ofproto/trace</c>: which flow a packet would hit, found
/// by which classifier stage, what its actions do to the packet and where it would go.
/// </summary>
/// <remarks>
/// Two forms, each after an optional name of this switch (its datapath id or control socket name, as <c>ovs-appctl
/// ofproto/trace br0 ...</c> names the bridge): <c>ofproto/trace FLOW</c> (a flow in ovs-ofctl syntax with <c>in_port</c>; fields not given are zero,
/// <c>dl_vlan</c> not given means untagged) and <c>ofproto/trace IN_PORT HEXFRAME</c> (a frame, parsed as the datapath
/// parses it). Read-only: the lookup is <see cref="OfFlowTables.Trace"/> (no exact-match cache, no counters), the
/// actions run on a private one-buffer pool through a sink that only records, so nothing is sent, learned or
/// counted. The table-miss behaviour is the datapath's current <see cref="SwitchDatapath.MissBehavior"/>.
/// With several tables (<see cref="Pipeline.IsMultiStage"/>), the run is the datapath's table-by-table one
/// (<see cref="PipelineTrace"/>, which follows re-parse points on the frame as the forwarder does): every table visited is shown (its id, the key it looked up, the rule found and its
/// actions and instructions, or its miss mode), then the action set at the end and the composed actions, which run on
/// the frame as the datapath would run them.
/// Management-plane code: it allocates freely. Thread safety: as the classifier's readers (lock-free).
/// </remarks>
internal static class OfprotoTrace
{
    public const string Usage = "[SWITCH] FLOW | [SWITCH] IN_PORT HEXFRAME [--format json]";

    public static ControlReply Run(SwitchDatapath dp, OfFlowTables tables, string[] args) => Run(dp, tables, args, null);

    /// <param name="isThisSwitch">
    /// Whether a word names this switch (its datapath id, its control socket's name): a first argument so named is
    /// skipped, as ovs-appctl users type <c>ofproto/trace br0 FLOW</c>; null when the switch has no names.
    /// </param>
    public static ControlReply Run(SwitchDatapath dp, OfFlowTables tables, string[] args, Func<string, bool>? isThisSwitch)
    {
        string[] format = [];
        if (args.Length >= 2 && args[^2] == "--format") { format = args[^2..]; args = args[..^2]; }
        else if (args.Length >= 1 && args[^1].StartsWith("--format=", StringComparison.Ordinal)) { format = args[^1..]; args = args[..^1]; }
        if (args.Length >= 2 && LooksLikeSwitch(args))
        {
            if (isThisSwitch is null || !isThisSwitch(args[0]))
                return ControlReply.Error($"ofproto/trace: '{Shorten(args[0])}' is not this switch (name it by its datapath id or its control socket's name, or leave it out)");
            args = args[1..];
        }
        if (args.Length == 0) return ControlReply.Error($"ofproto/trace needs {Usage}");
        if (!TryBuild(dp, args, out var key, out var frame, out var note, out var words, out var error)) return ControlReply.Error(error);
        return Report(dp, tables, key, frame, note, format, words);
    }

    /// <summary>
    /// The trace of a flow key (and, when given, of the frame it was parsed from: the actions then run on a copy of it),
    /// in text or as <paramref name="format"/> asks; also what <c>trace/watch</c> prints for each packet it samples.
    /// </summary>
    /// <param name="words">The packet's words the key has no room for, when traced from a flow (<c>tun_src</c>,
    /// <c>tun_dst</c>, <c>nw_ttl</c>, <c>tcp_flags</c>); a frame's own TTL and TCP flags are read from it. With them the
    /// dp_hash the flow starts with (<c>dp_hash=N</c>; 0: none), which a dp_hash select group picks by.</param>
    internal static ControlReply Report(SwitchDatapath dp, OfFlowTables tables, FlowKey key, byte[]? frame, string? note, string[] format,
                                        (ulong Tunnel, ulong Packet, uint DpHash) words = default)
    {
        // The rule found is read until the reply is made: a hold keeps it from being recycled meanwhile.
        using var hold = tables.Reclamation.Enter();
        if (tables.Pipeline.IsMultiStage && !tables.UseEmergencyTable) return ReportStages(dp, tables, key, frame, note, format, words);
        var trace = tables.Trace(key);
        var inConfig = dp.Ports.Get(key.InPort)?.Config ?? 0;
        var outputs = new List<TraceOutput>();
        byte[]? final = null;
        FlowKey finalKey = default;
        string? missText = null;
        var bucketTexts = new List<string>();
        if (trace.Entry is { } entry)
        {
            if (frame is not null)
            {
                final = Execute(dp, entry.Actions, frame, key.InPort, outputs, bucketTexts);
                PacketParser.Parse(final, key.InPort, out finalKey, out _);
            }
            else
            {
                foreach (var a in entry.Actions.Items)
                {
                    if (a.Kind is ActionKind.Output or ActionKind.Enqueue)
                        outputs.Add(new TraceOutput(a.Port, a.Kind == ActionKind.Enqueue ? a.QueueId : ActionExecutor.NoQueue, null));
                }
            }
        }
        else
        {
            missText = dp.MissBehavior switch
            {
                MissBehavior.Controller when (inConfig & PortConfig.NoPacketIn) != 0 => "drop (no flow matched; in_port has no-packet-in)",
                MissBehavior.Controller => "packet-in to the controller (reason no_match)",
                MissBehavior.Normal => "NORMAL (no controller, fail mode standalone: MAC learning switch)",
                _ => "drop (no controller, fail mode secure)",
            };
            if (dp.MissBehavior == MissBehavior.Normal) outputs.Add(new TraceOutput(PortNumber.Normal, ActionExecutor.NoQueue, frame));
            else if (dp.MissBehavior == MissBehavior.Controller && (inConfig & PortConfig.NoPacketIn) == 0)
                outputs.Add(new TraceOutput(PortNumber.Controller, ActionExecutor.NoQueue, frame));
        }

        string table = tables.UseEmergencyTable ? "emergency flows" : "flows";
        string stage = trace.Stage switch
        {
            LookupStage.Hash => "hash stage (exact match, one probe)",
            LookupStage.TupleSpace => $"tuple space subtable {MaskText(key, trace.Mask)} ({trace.SubtablesProbed} subtable(s) probed)",
            _ => $"none ({trace.SubtablesProbed} tuple space subtable(s) probed)",
        };
        return HostCommands.Show(format, "ofproto/trace", () =>
        {
            var sb = new StringBuilder();
            if (note is not null) sb.Append(note).Append('\n');
            sb.Append("Flow: ").Append(FlowText(key, words.DpHash)).Append('\n');
            sb.Append("Table: ").Append(table).Append('\n');
            sb.Append("Stage: ").Append(stage).Append('\n');
            if (trace.Entry is { } e)
            {
                sb.Append("Rule: ").Append(HostCommands.RuleText(e, 0, withCounters: false)).Append('\n');
                sb.Append("Actions: ").Append(FlowFormat.Actions(e.Actions)).Append('\n');
                foreach (var b in bucketTexts) sb.Append("Bucket: ").Append(b).Append('\n');
            }
            else
            {
                sb.Append("Rule: no match\n");
                sb.Append("Miss: ").Append(missText).Append('\n');
            }
            if (final is not null)
            {
                sb.Append("Final flow: ").Append(FlowFormat.Key(finalKey)).Append('\n');
                sb.Append("Final packet: ").Append(Hex(final)).Append('\n');
            }
            sb.Append("Output: ").Append(outputs.Count > 0 ? string.Join(", ", outputs.Select(o => OutputText(dp, key.InPort, o)))
                                         : trace.Entry is not null ? "drop (the rule's actions output nothing)" : "drop").Append('\n');
            return sb.ToString();
        }, w =>
        {
            w.WriteStartObject();
            if (note is not null) w.WriteString("note", note);
            w.WriteString("flow", FlowText(key, words.DpHash));
            w.WriteString("table", table);
            w.WriteString("stage", trace.Stage switch { LookupStage.Hash => "hash", LookupStage.TupleSpace => "tuple-space", _ => "none" });
            if (trace.Stage == LookupStage.TupleSpace) w.WriteString("mask", MaskText(key, trace.Mask));
            w.WriteNumber("subtables_probed", trace.SubtablesProbed);
            if (trace.Entry is { } e)
            {
                w.WriteStartObject("rule");
                w.WriteNumber("table", OfFlowRule.Of(e)?.TableId ?? OfFlowTables.MainTableId);
                w.WriteString("cookie", $"0x{OfFlowRule.CookieOf(e):x}");
                w.WriteNumber("priority", e.RequestedPriority);
                w.WriteString("match", FlowFormat.Match(e.Match));
                w.WriteString("actions", FlowFormat.Actions(e.Actions));
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("rule");
                w.WriteString("miss", missText);
            }
            if (final is not null)
            {
                w.WriteString("final_flow", FlowFormat.Key(finalKey));
                w.WriteString("final_packet", Hex(final));
            }
            w.WriteStartArray("output");
            foreach (var o in outputs) w.WriteStringValue(OutputText(dp, key.InPort, o));
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    /// <summary>The multi-table trace (see the type remarks); the caller holds the reclamation domain.</summary>
    private static ControlReply ReportStages(SwitchDatapath dp, OfFlowTables tables, FlowKey key, byte[]? frame, string? note, string[] format,
                                             (ulong Tunnel, ulong Packet, uint DpHash) words)
    {
        var inConfig = dp.Ports.Get(key.InPort)?.Config ?? 0;
        var outputs = new List<TraceOutput>();
        var bucketTexts = new List<string>();
        // The datapath's trace follows the re-parse points: each pass's actions run on the frame, which is parsed anew
        // and goes on from the continuation, as the forwarder runs the packet.
        var trace = PipelineTrace.Follow(tables.Pipeline, key, frame, (actions, f) => Execute(dp, actions, f, key.InPort, outputs, bucketTexts),
                                         words.Tunnel, words.Packet, words.DpHash);
        var steps = trace.Steps;
        var walk = trace.Last;
        byte[]? current = trace.Frame;
        var last = trace.Passes[^1];
        var composed = new FlowActions([.. trace.Passes.SelectMany(p => p.Items)]);
        var setList = new List<FlowAction>();
        if (walk.End == PipelineEnd.Actions)
        {
            // The action set's part of the composed list is its tail (what the set held at the end of the run); a set
            // whose final action was a resubmit is shown as it ran, its lookups among the steps.
            setList.AddRange(walk.ActionSetRun);
            for (int i = last.Count - CountSet(walk); i < last.Count; i++) setList.Add(last.Items[i]);
        }
        byte[]? final = null;
        FlowKey finalKey = default;
        if (current is not null)
        {
            final = Execute(dp, last, current, key.InPort, outputs, bucketTexts);
            PacketParser.Parse(final, key.InPort, out finalKey, out _);
        }
        else
        {
            foreach (var a in composed.Items)
            {
                if (a.Kind is ActionKind.Output or ActionKind.Enqueue)
                    outputs.Add(new TraceOutput(a.Port, a.Kind == ActionKind.Enqueue ? a.QueueId : ActionExecutor.NoQueue, null));
            }
        }
        string? missText = null;
        if (walk.End == PipelineEnd.Recirculate)
        {
            missText = $"the packet is parsed anew and goes on in table {walk.Next!.Table} (trace a frame, IN_PORT HEXFRAME, to follow it)";
        }
        else if (walk.End == PipelineEnd.ResubmitDrop)
        {
            missText = "drop (past 64 nested resubmits or 4,096 resubmits, or a resubmit after a pop or push that changed the packet's headers)";
        }
        else if (walk.End == PipelineEnd.MissDrop)
        {
            missText = $"drop (table {steps[^1].TableId} has no matching flow and drops on a miss)";
        }
        else if (walk.End == PipelineEnd.MissController)
        {
            missText = dp.MissBehavior switch
            {
                MissBehavior.Controller when (inConfig & PortConfig.NoPacketIn) != 0 => "drop (no flow matched; in_port has no-packet-in)",
                MissBehavior.Controller => $"packet-in to the controller (reason no_match, table {steps[^1].TableId})",
                MissBehavior.Normal => "NORMAL (no controller, fail mode standalone: MAC learning switch)",
                _ => "drop (no controller, fail mode secure)",
            };
            if (dp.MissBehavior == MissBehavior.Normal) outputs.Add(new TraceOutput(PortNumber.Normal, ActionExecutor.NoQueue, final ?? frame));
            else if (dp.MissBehavior == MissBehavior.Controller && (inConfig & PortConfig.NoPacketIn) == 0)
                outputs.Add(new TraceOutput(PortNumber.Controller, ActionExecutor.NoQueue, final ?? frame));
        }

        var meterTexts = new List<string>();
        foreach (var a in composed.Items)
        {
            if (a.Kind == ActionKind.Meter) meterTexts.Add(MeterText(dp, a.QueueId, frame?.Length));
        }
        string regs = walk.FinalRegisters.ToString();

        string StepText(PipelineTraceStep st)
        {
            // A resubmit's lookup is indented by its depth, as Open vSwitch's trace nests them.
            string indent = new(' ', 4 * st.Depth);
            string head = st.Depth > 0 ? $"{indent}resubmit to table {st.TableId}: " : $"table {st.TableId}: ";
            if (st.Lookup.Entry is { } e)
            {
                string ins = e.Instructions is { } i ? InstructionText(i) : "";
                // The clauses that formed a conjunctive match, as Open vSwitch's "conj." lines under the table's.
                string conj = st.Lookup.Conjunctions is { } cs
                    ? string.Concat(cs.Select(c => $"\n{indent}    conj. {FlowFormat.Rule(c.RequestedPriority, c.Match)} actions: {FlowFormat.Actions(c.Actions)}"))
                    : "";
                return head + HostCommands.RuleText(e, 0, withCounters: false) + conj +
                       $"\n{indent}    actions: {FlowFormat.Actions(e.Actions)}" + (ins.Length > 0 ? $"\n{indent}    instructions: {ins}" : "");
            }
            if (st.Depth > 0) return head + "no match (a resubmit's miss does nothing)";
            string miss = st.Miss switch { TableMissMode.Continue => "continue to the next table", TableMissMode.Drop => "drop", _ => "table-miss (controller)" };
            return $"table {st.TableId}: no match ({miss})";
        }

        return HostCommands.Show(format, "ofproto/trace", () =>
        {
            var sb = new StringBuilder();
            if (note is not null) sb.Append(note).Append('\n');
            sb.Append("Flow: ").Append(FlowText(key, words.DpHash)).Append('\n');
            foreach (var st in steps) sb.Append(StepText(st)).Append('\n');
            if (walk.End == PipelineEnd.Actions)
                sb.Append("Action set: ").Append(setList.Count > 0 ? FlowFormat.Actions(new FlowActions([.. setList])) : "(empty)").Append('\n');
            sb.Append("Actions: ").Append(composed.Count > 0 ? FlowFormat.Actions(composed) : "(none)").Append('\n');
            // Open vSwitch's trace shows a learn step with the flow it adds.
            foreach (var l in FlowFormat.LearnSteps(composed)) sb.Append("Learn: ").Append(l).Append('\n');
            foreach (var m in meterTexts) sb.Append("Meter: ").Append(m).Append('\n');
            foreach (var b in bucketTexts) sb.Append("Bucket: ").Append(b).Append('\n');
            if (missText is not null) sb.Append("Miss: ").Append(missText).Append('\n');
            // The registers as Open vSwitch's trace shows them: leading the final flow (reg0=0x5,in_port=1,...).
            if (final is not null)
            {
                sb.Append("Final flow: ").Append(regs.Length > 0 ? regs + "," : "").Append(FlowFormat.Key(finalKey)).Append('\n');
                sb.Append("Final packet: ").Append(Hex(final)).Append('\n');
            }
            else if (regs.Length > 0)
            {
                sb.Append("Final registers: ").Append(regs).Append('\n');
            }
            sb.Append("Output: ").Append(outputs.Count > 0 ? string.Join(", ", outputs.Select(o => OutputText(dp, key.InPort, o))) : "drop").Append('\n');
            return sb.ToString();
        }, w =>
        {
            w.WriteStartObject();
            if (note is not null) w.WriteString("note", note);
            w.WriteString("flow", FlowText(key, words.DpHash));
            w.WriteStartArray("tables");
            foreach (var st in steps)
            {
                w.WriteStartObject();
                w.WriteNumber("table", st.TableId);
                if (st.Depth > 0) w.WriteNumber("resubmit_depth", st.Depth);
                w.WriteString("key", FlowFormat.Key(st.Key));
                if (!st.Registers.IsZero) w.WriteString("registers", st.Registers.ToString());
                if (st.Lookup.Entry is { } e)
                {
                    w.WriteString("cookie", $"0x{OfFlowRule.CookieOf(e):x}");
                    w.WriteNumber("priority", e.RequestedPriority);
                    w.WriteString("match", FlowFormat.Match(e.Match));
                    w.WriteString("actions", FlowFormat.Actions(e.Actions));
                    if (e.Instructions is { } i) w.WriteString("instructions", InstructionText(i));
                    if (st.Lookup.Conjunctions is { } cs)
                    {
                        w.WriteStartArray("conjunctions");
                        foreach (var c in cs) w.WriteStringValue($"{FlowFormat.Rule(c.RequestedPriority, c.Match)} actions: {FlowFormat.Actions(c.Actions)}");
                        w.WriteEndArray();
                    }
                }
                else
                {
                    w.WriteNull("rule");
                    w.WriteString("miss", st.Miss.ToString().ToLowerInvariant());
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (walk.End == PipelineEnd.Actions) w.WriteString("action_set", FlowFormat.Actions(new FlowActions([.. setList])));
            w.WriteString("actions", FlowFormat.Actions(composed));
            w.WriteStartArray("learn");
            foreach (var l in FlowFormat.LearnSteps(composed)) w.WriteStringValue(l);
            w.WriteEndArray();
            if (bucketTexts.Count > 0)
            {
                w.WriteStartArray("buckets");
                foreach (var b in bucketTexts) w.WriteStringValue(b);
                w.WriteEndArray();
            }
            if (meterTexts.Count > 0)
            {
                w.WriteStartArray("meters");
                foreach (var m in meterTexts) w.WriteStringValue(m);
                w.WriteEndArray();
            }
            if (missText is not null) w.WriteString("miss", missText);
            if (regs.Length > 0) w.WriteString("final_registers", regs);
            if (final is not null)
            {
                w.WriteString("final_flow", FlowFormat.Key(finalKey));
                w.WriteString("final_packet", Hex(final));
            }
            w.WriteStartArray("output");
            foreach (var o in outputs) w.WriteStringValue(OutputText(dp, key.InPort, o));
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    /// <summary>
    /// A meter as the trace meets it: its bands, and which of them a packet of the traced frame's length would meet now
    /// (read without taking tokens: <see cref="Meter.Peek"/>).
    /// </summary>
    private static string MeterText(SwitchDatapath dp, uint id, int? length)
    {
        if (!dp.Meters.TryGet(id, out var m)) return $"meter:{id} does not exist (the packet passes unmetered)";
        string unit = m.Unit == MeterUnit.Kbps ? "kbps" : "pktps";
        var bands = string.Join(", ", m.Bands.Select((b, i) => $"{i}: {BandText(b)}"));
        string head = $"meter:{id} {unit} bands {(bands.Length > 0 ? bands : "(none)")}";
        if (length is not { } len) return head;
        int band = m.Peek(len, dp.Meters.Clock.NowNanos);
        return band < 0
            ? $"{head}; a {len}-byte packet now: within every band, passes"
            : $"{head}; a {len}-byte packet now: band {band} applies ({(m.Bands[band].Type == MeterBandType.Drop ? "dropped" : "DSCP remarked")})";
    }

    /// <summary><c>group:5 bucket 1 (select; actions output:3)</c>: a bucket a traced packet took.</summary>
    private static string BucketText(SwitchDatapath dp, Softswitch.Datapath.Groups.GroupBucket b)
    {
        foreach (var g in dp.Groups.All)
        {
            int i = Array.IndexOf(g.Buckets, b);
            if (i >= 0) return $"group:{g.Id} bucket {i} ({g.Type.ToString().ToLowerInvariant()}; actions {FlowFormat.Actions(b.Actions)})";
        }
        return $"a bucket of a group since modified (actions {FlowFormat.Actions(b.Actions)})";
    }

    internal static string BandText(MeterBand b)
        => (b.Type == MeterBandType.Drop ? "type=drop" : $"type=dscp_remark") + $" rate={b.Rate} burst_size={b.BucketSize}"
           + (b.Type == MeterBandType.DscpRemark ? $" prec_level={b.PrecLevel}" : "");

    /// <summary>How many actions the walk's action set held at the end (the tail of its composed list).</summary>
    private static int CountSet(PipelineWalk walk)
    {
        var l = new List<FlowAction>();
        walk.ActionSet.AppendTo(l);
        return l.Count;
    }

    /// <summary>Instructions in ovs-ofctl's words: write_actions(...), clear_actions, write_metadata:V/M, goto_table:N, meter:N.</summary>
    private static string InstructionText(FlowInstructions i)
    {
        var parts = new List<string>();
        if (i.Meter != 0) parts.Add($"meter:{i.Meter}");
        if (i.ClearActions) parts.Add("clear_actions");
        if (i.WriteActions is { } w) parts.Add($"write_actions({FlowFormat.Actions(w)})");
        if (i.MetadataMask != 0) parts.Add($"write_metadata:0x{i.MetadataValue:x}/0x{i.MetadataMask:x}");
        if (i.GotoTable != FlowInstructions.NoGoto) parts.Add($"goto_table:{i.GotoTable}");
        return string.Join(",", parts);
    }

    private readonly record struct TraceOutput(ushort Port, uint Queue, byte[]? Packet);

    private static string Hex(byte[] b) => Convert.ToHexString(b).ToLowerInvariant();

    /// <summary>A port number, a reserved port resolved to the ports it means now, and the queue of an enqueue.</summary>
    private static string OutputText(SwitchDatapath dp, ushort inPort, TraceOutput o)
    {
        var slot = dp.Ports.Get(o.Port);
        string text = o.Port switch
        {
            PortNumber.InPort => $"{inPort} (IN_PORT)",
            PortNumber.Flood or PortNumber.All => $"{FlowFormat.Port(o.Port)} [{string.Join(' ', dp.Ports.WithLocal.Where(p => p.No != inPort && (o.Port == PortNumber.All || (p.Config & PortConfig.NoFlood) == 0)).Select(p => FlowFormat.Port(p.No)))}]",
            PortNumber.Normal => "NORMAL (MAC learning)",
            PortNumber.Controller => "CONTROLLER",
            PortNumber.Table => "TABLE (resubmit)",
            PortNumber.Local => "LOCAL",
            _ when o.Port == inPort => $"{o.Port} (is in_port: dropped, use IN_PORT)",
            _ when slot is null => $"{o.Port} (no such port: dropped)",
            _ when (slot.Config & PortConfig.PortDown) != 0 => $"{o.Port} (port down: dropped)",
            _ when (slot.Config & PortConfig.NoFwd) != 0 => $"{o.Port} (no_fwd: dropped)",
            _ when !slot.LinkUp => $"{o.Port} (link down: dropped)",
            _ => o.Port.ToString(CultureInfo.InvariantCulture),
        };
        return o.Queue == ActionExecutor.NoQueue ? text : $"{text} queue {o.Queue}";
    }

    /// <summary>
    /// Takes the fields of a traced flow that the key has no room for out of <paramref name="text"/> (Open vSwitch's trace
    /// reads them from the flow): <c>tun_src</c>, <c>tun_dst</c> (IPv4), <c>nw_ttl</c> and <c>tcp_flags</c> (a number, or
    /// flag names joined by <c>|</c>), as the walk's packet words, and <c>dp_hash</c> (a 32-bit number: the hash a dp_hash
    /// select group computed, as the packet would come back from Open vSwitch's recirculation); the rest goes to the
    /// flow parser.
    /// </summary>
    internal static bool TryTakePacketWords(ref string text, out (ulong Tunnel, ulong Packet, uint DpHash) words, out string error)
    {
        words = default;
        error = "";
        uint src = 0, dst = 0;
        byte ttl = 0;
        ushort flags = 0;
        uint dpHash = 0;
        var rest = new List<string>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            string name = eq < 0 ? part : part[..eq], value = eq < 0 ? "" : part[(eq + 1)..];
            bool ok = true;
            switch (name)
            {
                case "tun_src": ok = Ipv4.TryParse(value, out src); break;
                case "tun_dst": ok = Ipv4.TryParse(value, out dst); break;
                case "nw_ttl": ok = byte.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out ttl); break;
                case "tcp_flags": ok = TryParseTcpFlags(value, out flags); break;
                case "dp_hash": ok = TryParseUInt32(value, out dpHash); break;
                default: rest.Add(part); continue;
            }
            if (!ok)
            {
                error = $"ofproto/trace: bad {name}={Shorten(value)}";
                return false;
            }
        }
        text = string.Join(',', rest);
        words = (Registers.TunnelEndpointsOf(src, dst), Registers.PacketFieldsOf(ttl, flags), dpHash);
        return true;
    }

    /// <summary>A 32-bit number, decimal or 0x-prefixed hexadecimal (no mask: a traced flow is exact).</summary>
    private static bool TryParseUInt32(string s, out uint v)
    {
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return uint.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out v);
        return uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v);
    }

    /// <summary>The traced flow as Open vSwitch's trace prints it: its dp_hash first when it has one (<c>dp_hash=0x5,in_port=1,...</c>).</summary>
    private static string FlowText(in FlowKey key, uint dpHash)
        => dpHash == 0 ? FlowFormat.Key(key) : $"dp_hash=0x{dpHash:x},{FlowFormat.Key(key)}";

    private static readonly string[] s_tcpFlags = ["fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr", "ns"];

    private static bool TryParseTcpFlags(string s, out ushort flags)
    {
        flags = 0;
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return ushort.TryParse(s.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out flags) && flags <= Registers.TcpFlagsMask;
        if (s.Length > 0 && char.IsAsciiDigit(s[0])) return ushort.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out flags) && flags <= Registers.TcpFlagsMask;
        foreach (var name in s.Split('|'))
        {
            int bit = Array.IndexOf(s_tcpFlags, name.ToLowerInvariant());
            if (bit < 0) return false;
            flags |= (ushort)(1 << bit);
        }
        return true;
    }

    private static bool TryBuild(SwitchDatapath dp, string[] args, out FlowKey key, out byte[]? frame, out string? note,
                                 out (ulong Tunnel, ulong Packet, uint DpHash) words, out string error)
    {
        key = default;
        frame = null;
        note = null;
        words = default;
        if (args.Length >= 2 && args[0].All(char.IsAsciiDigit))
        {
            if (!ushort.TryParse(args[0], NumberStyles.None, CultureInfo.InvariantCulture, out ushort port) || dp.Ports.Get(port) is null)
            {
                error = $"ofproto/trace: no port {args[0]} (dp/show lists the ports)";
                return false;
            }
            string hex = string.Concat(args[1..]).Replace(":", "", StringComparison.Ordinal);
            if (hex.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) hex = hex[2..];
            try
            {
                frame = Convert.FromHexString(hex);
            }
            catch (FormatException)
            {
                error = $"ofproto/trace: '{Shorten(string.Concat(args[1..]))}' is not a frame in hexadecimal (an even number of hex digits)";
                return false;
            }
            int max = Math.Max(PacketPool.DefaultDataSize, dp.MaxFrameSize);
            if (frame.Length < 14 || frame.Length > max)
            {
                error = $"ofproto/trace: a frame of {frame.Length} bytes (an Ethernet frame is 14 to {max} bytes here)";
                return false;
            }
            var perr = PacketParser.Parse(frame, port, out key, out _);
            if (perr != ParseError.None) note = $"Parse: {perr} (parsed as far as valid, as the datapath does)";
            error = "";
            return true;
        }

        if (args.Length == 1 && args[0].All(char.IsAsciiDigit))
        {
            error = $"ofproto/trace: a frame in hexadecimal must follow the port ({Usage})";
            return false;
        }
        string text = string.Join(',', args);
        if (text.Contains("actions=", StringComparison.OrdinalIgnoreCase))
        {
            error = "ofproto/trace: a flow to trace has no actions= (give match fields only)";
            return false;
        }
        if (!TryTakePacketWords(ref text, out words, out error)) return false;
        if (!OfctlFlowParser.TryParse(text, FlowModCommand.Delete, out var mod, out var perror))
        {
            error = $"ofproto/trace: bad flow '{Shorten(text)}': {perror}";
            return false;
        }
        var wc = mod.Match.Wildcards;
        if ((wc & OfWildcards.InPort) != 0)
        {
            error = "ofproto/trace: the flow needs in_port=N";
            return false;
        }
        var b = new FlowKeyBuilder(mod.Match.Value);
        if ((wc & OfWildcards.DlVlan) != 0) b.DlVlan(PacketParser.VlanNone);
        key = b.Key;
        if (dp.Ports.Get(key.InPort) is null)
        {
            error = $"ofproto/trace: no port {key.InPort} (dp/show lists the ports)";
            return false;
        }
        error = "";
        return true;
    }

    /// <summary>
    /// Whether the first of several words is a switch name rather than the flow or the in_port: a flow has '=', and an
    /// in_port is followed by a frame, not by a flow.
    /// </summary>
    private static bool LooksLikeSwitch(string[] args)
        => !args[0].Contains('=') && !args[0].Contains(',') && !args[0].StartsWith("--", StringComparison.Ordinal)
           && args[0] is not ("ip" or "tcp" or "udp" or "icmp" or "arp" or "sctp" or "rarp" or "ipv6" or "tcp6" or "udp6" or "icmp6")
           && (!args[0].All(char.IsAsciiDigit) || args[1].Contains('='));

    /// <summary>The subtable's mask over the traced flow, in ovs-ofctl's syntax (<c>ip,in_port=1,nw_dst=10.0.0.0/24</c>), or "(all wildcards)".</summary>
    private static string MaskText(in FlowKey key, in FlowKey mask) => FlowFormat.Masked(key, mask) is { Length: > 0 } m ? m : "(all wildcards)";

    private static string Shorten(string s) => s.Length <= 64 ? s : s[..64] + "...";

    /// <summary>
    /// Runs the actions on a private copy of the frame; records each output with the packet as sent. Groups are the
    /// switch's (each bucket's outputs appear as they would be sent), their counters left alone.
    /// </summary>
    private static byte[] Execute(SwitchDatapath dp, FlowActions actions, byte[] frame, ushort inPort, List<TraceOutput> outputs, List<string>? buckets = null)
    {
        // Buffers as large as the frame (a jumbo frame from trace/watch or the command line), for it and the groups' copies.
        var pool = new PacketPool(64, Math.Max(PacketPool.DefaultDataSize, frame.Length));
        int p = pool.Alloc();
        bool copied = pool.Write(p, frame);
        System.Diagnostics.Debug.Assert(copied, "a buffer holds the frame it was sized for");
        pool.InPort[p] = inPort;
        PacketParser.Parse(pool.Frame(p), inPort, out _, out var layers);
        Span<int> pkts = [p];
        Span<PacketLayers> ls = [layers];
        var sink = new RecordingSink(pool, outputs);
        new ActionExecutor
        {
            Groups = dp.Groups, CountsGroups = false, Meters = dp.Meters, RunsMeters = false,
            BucketTrace = buckets is null ? null : b => buckets.Add(BucketText(dp, b)),
        }.Execute(actions, pool, pkts, ls, ref sink);
        return pool.Frame(p).ToArray();
    }

    private struct RecordingSink(PacketPool pool, List<TraceOutput> outputs) : IActionSink
    {
        public void Output(ushort port, ushort maxLen, uint queueId, bool modifiedAfter, ReadOnlySpan<int> pkts)
        {
            foreach (int p in pkts) outputs.Add(new TraceOutput(port, queueId, pool.Frame(p).ToArray()));
        }

        public void SetTunnel(ulong tunnelId) { }

        /// <summary>An invalid-TTL packet-in shows as a copy to the controller.</summary>
        public void InvalidTtl(ReadOnlySpan<int> pkts, ushort controllerId)
        {
            foreach (int p in pkts) outputs.Add(new TraceOutput(Softswitch.Datapath.Ports.PortNumber.Controller, ActionExecutor.NoQueue, pool.Frame(p).ToArray()));
        }

        public void ToController(ushort maxLen, uint queueId, bool modifiedAfter, ulong userData, uint userTag, ReadOnlySpan<int> pkts)
            => Output(Softswitch.Datapath.Ports.PortNumber.Controller, maxLen, queueId, modifiedAfter, pkts);
    }
}
