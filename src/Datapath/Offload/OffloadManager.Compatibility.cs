using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Offload;

// Compatibility: what may share the hardware, and when the datapath lets the hardware answer at all.
//
// The classifier's order (Outranks): the higher priority wins; at equal priority an exact rule (all-ones mask) beats a
// wildcard rule; equal-priority wildcard rules tie. Two exact rules overlap only when their keys are equal (the
// classifier then holds them at different priorities). The target's order is its declared lookup model, and
// ConflictInHardware says when it could differ for two overlapping flows both in hardware:
//   ExactFirst  the exact table answers before any wildcard row, and wildcard rows have no priority: two wildcard flows
//               conflict, and so do an exact flow and a wildcard flow that outranks it (the target would still answer
//               with the exact one: refused with the target's OrderRefusal, whichever side the wildcard flow lives);
//               two exact flows of one key conflict (one row per key);
//   Priority    the target honours priorities and ties at equal ones: flows of equal priority conflict;
//   RowOrder    the first row wins and the target picks the rows: any two overlapping flows conflict.
// Nothing here assumes how the layer above sets priorities.
//
// The datapath's state must match what the hardware assumes: every target port is a datapath port, FLOOD/ALL go to
// exactly the target's ports, port config bits (PORT_DOWN, NO_RECV, NO_FWD, NO_FLOOD) do not change the answer, no
// target port carries a tunnel (software decapsulates what arrives there), the pipeline classifies in table 0 first
// (not redirected), no fragment dropping; and the per-port and per-packet software features the target does not do
// itself (IOffloadTarget.Features) apply to none of the flow's packets: no live capture (the packet tap sees every
// packet), no sFlow sampling, no port mirror, no output to a shaped port; each keeps the flows it applies to in
// software under its own reason (port-shaped, sflow-sampling, port-mirror, packet-capture). Env is that state, computed each Poll and when a port's config changes
// (RecheckDatapathState: before the PORT_MOD returns, so before any barrier after it); a change of its signature
// re-places every flow. Every method here runs under _lock.
public sealed partial class OffloadManager
{
    private readonly HashSet<ushort> _targetPorts;
    private readonly List<FlowState> _overlapScratch = new();
    private long _envSignature = long.MinValue;
    private Env _env = Env.Permissive;

    /// <summary>The classifier's order: whether <paramref name="x"/> wins over <paramref name="r"/> (they overlap).</summary>
    private static bool Outranks(FlowState x, FlowState r)
        => x.Entry.Priority > r.Entry.Priority || (x.Entry.Priority == r.Entry.Priority && x.IsExact && !r.IsExact);

    /// <summary>Whether <paramref name="x"/> wins over <paramref name="r"/> or ties with it in the classifier's order.</summary>
    private static bool OutranksOrTies(FlowState x, FlowState r) => !Outranks(r, x);

    /// <summary>Whether the target could order two overlapping hardware flows differently from the classifier.</summary>
    private bool ConflictInHardware(FlowState a, FlowState b) => _model switch
    {
        OffloadLookupModel.ExactFirst => a.IsExact == b.IsExact || (a.IsExact ? Outranks(b, a) : Outranks(a, b)),
        OffloadLookupModel.Priority => a.Entry.Priority == b.Entry.Priority,
        _ => true,
    };

    /// <summary>
    /// Why <paramref name="s"/> stays in software behind <paramref name="blocker"/> (which outranks or ties it, in
    /// hardware or software): the target's <see cref="IOffloadTarget.OrderRefusal"/> when its model could never order
    /// the two as the classifier does, else the overlap.
    /// </summary>
    private OffloadReason RefusalBehind(FlowState blocker, FlowState s, bool inHardware)
    {
        if (_model == OffloadLookupModel.ExactFirst && s.IsExact && !blocker.IsExact && Outranks(blocker, s)) return _orderRefusal;
        return inHardware ? OffloadReason.OverlapsOffloadedRule : OffloadReason.OverlapsSoftwareRule;
    }

    /// <summary>Whether <paramref name="a"/> and <paramref name="b"/> could both match some packet.</summary>
    private static bool Overlaps(FlowState a, FlowState b)
    {
        if (a.IsExact) return OverlapsExact(b.Entry.Match, a.Entry.Match);
        if (b.IsExact) return OverlapsExact(a.Entry.Match, b.Entry.Match);
        return a.Entry.Match.Overlaps(b.Entry.Match);
    }

    /// <summary>
    /// Whether <paramref name="m"/> overlaps the exact rule <paramref name="exact"/>: it matches the exact value, or,
    /// when it also tests fields the exact mask leaves open (IPv6 addresses, flow label, ECN, tunnel id...), agrees
    /// with it on the bits both test.
    /// </summary>
    private static bool OverlapsExact(in FlowMatch m, in FlowMatch exact)
        => m.Shape.WithinExactNoTun ? m.Matches(exact.Value) : m.Overlaps(exact);

    /// <summary>
    /// Appends to <paramref name="into"/> the hardware flows overlapping <paramref name="s"/> that matter to it: every
    /// one, except hardware exact flows that outrank a wildcard <paramref name="s"/> when the target orders those as
    /// the classifier does (skipped without a scan when none has a priority that low).
    /// </summary>
    private void CollectHardwareOverlapping(FlowState s, List<FlowState> into)
    {
        foreach (var h in _hwWildcard)
            if (!ReferenceEquals(h, s) && Overlaps(h, s)) into.Add(h);
        if (s.IsExact)
        {
            if (!SharesExactKey(s)) return;
            foreach (var h in _hwExact)
                if (!ReferenceEquals(h, s) && h.Entry.Match.Value.Equals(s.Entry.Match.Value)) into.Add(h);
            return;
        }
        if (_hwExact.Count == 0) return;
        if (_model != OffloadLookupModel.RowOrder && LowestHardwareExactPriority() > s.Entry.Priority) return;
        var m = s.Entry.Match;
        foreach (var h in _hwExact)
            if (OverlapsExact(m, h.Entry.Match)) into.Add(h);
    }

    /// <summary>
    /// Appends to <paramref name="outranked"/> the hardware flows overlapping <paramref name="s"/> that it outranks or
    /// ties in the classifier's order; sets <paramref name="blocker"/> to one that outranks it which the target would
    /// order differently next to it.
    /// </summary>
    private void CollectHardwareOverlaps(FlowState s, List<FlowState> outranked, ref FlowState? blocker)
    {
        var overlapping = _overlapScratch;
        overlapping.Clear();
        CollectHardwareOverlapping(s, overlapping);
        foreach (var h in overlapping)
        {
            if (OutranksOrTies(s, h)) outranked.Add(h);
            else if (blocker is null && ConflictInHardware(h, s)) blocker = h;
        }
        overlapping.Clear();
    }

    /// <summary>A software flow of the first table that overlaps <paramref name="s"/> and outranks or ties it, or null.</summary>
    private FlowState? SoftwareBlocker(FlowState s)
    {
        var m = s.Entry.Match;
        ushort prio = s.Entry.Priority;
        if (s.IsExact)
        {
            if (SharesExactKey(s))
            {
                foreach (var x in _swExact)
                    if (!ReferenceEquals(x, s) && x.Entry.Match.Value.Equals(m.Value) && OutranksOrTies(x, s)) return x;
            }
            // A wildcard flow outranks an exact one only with a higher priority.
            if (prio == ushort.MaxValue) return null;
            foreach (var x in _swWildcard)
                if (x.Entry.Priority > prio && OverlapsExact(x.Entry.Match, m)) return x;
            return null;
        }
        foreach (var x in _swExact)
            if (x.Entry.Priority >= prio && OverlapsExact(m, x.Entry.Match)) return x;
        foreach (var x in _swWildcard)
        {
            if (ReferenceEquals(x, s) || x.Entry.Priority < prio) continue;
            if (x.Entry.Match.Overlaps(m)) return x;
        }
        return null;
    }

    /// <summary>Whether the datapath state lets <paramref name="e"/> be answered by hardware (see the note atop this file).</summary>
    private (OffloadReason Reason, OffloadDetail Detail) Eligibility(FlowEntry e)
    {
        // Every target runs apply-actions alone: a goto, the action set, metadata or a meter would be skipped.
        if (e.Instructions is { } ins)
            return (OffloadReason.Instructions, ins.Meter != 0 ? $"meter {ins.Meter}" : "goto-table, write-actions or metadata");
        // Registers live in the pipeline walk: no target holds them, so a rule on them would match every packet there.
        if (e.Match.UsesRegisters) return (OffloadReason.Instructions, "a match on registers");
        // So do conjunctive matches: a target would run a clause as a rule of its own (and a conj_id rule never).
        if (e.Actions.IsConjunctive || e.Match.UsesConjId) return (OffloadReason.Instructions, "a conjunctive match's clause or conj_id rule");
        var env = _env;
        if (env.Suspended is { } why) return (OffloadReason.DatapathState, why);
        if (env.IsPermissive) return (OffloadReason.None, default);
        var features = _target.Features;
        if (env.Capture && (features & OffloadFeatures.Capture) == 0) return (OffloadReason.Capture, "a live capture is running");
        if (env.SamplingRate > 0 && (features & OffloadFeatures.Sampling) == 0) return (OffloadReason.Sampling, $"1 in {env.SamplingRate} packets");
        if (env.Mirrors > 0 && (features & OffloadFeatures.Mirroring) == 0) return (OffloadReason.Mirrored, $"{env.Mirrors} mirror(s) set");
        bool shapingOk = (features & OffloadFeatures.Shaping) != 0;
        var m = e.Match;
        bool inPortWild = m.Mask.InPort == 0;
        ushort inPort = m.Value.InPort;
        if (inPortWild)
        {
            if (!env.AllRecvOk) return (OffloadReason.DatapathState, "a board port has PORT_DOWN or NO_RECV");
        }
        else if (_targetPorts.Contains(inPort) && !env.RecvOk(inPort))
        {
            return (OffloadReason.DatapathState, $"in_port {inPort} has PORT_DOWN or NO_RECV");
        }
        foreach (var a in e.Actions.Items)
        {
            if (!a.IsOutput) continue;
            switch (a.Port)
            {
                case PortNumber.Flood:
                    if (!env.FloodOk) return (OffloadReason.DatapathState, "FLOOD would not reach exactly the board ports");
                    if (!shapingOk && env.AnyShaped) return (OffloadReason.PortShaped, "FLOOD reaches a shaped port");
                    break;
                case PortNumber.All:
                    if (!env.AllOk) return (OffloadReason.DatapathState, "ALL would not reach exactly the board ports");
                    if (!shapingOk && env.AnyShaped) return (OffloadReason.PortShaped, "ALL reaches a shaped port");
                    break;
                case PortNumber.InPort:
                    if (inPortWild ? !env.AllFwdOk : _targetPorts.Contains(inPort) && !env.FwdOk(inPort))
                        return (OffloadReason.DatapathState, "IN_PORT output to a port with PORT_DOWN or NO_FWD");
                    if (!shapingOk && (inPortWild ? env.AnyShaped : env.Shaped(inPort)))
                        return (OffloadReason.PortShaped, inPortWild ? "IN_PORT output, a port shaped" : $"IN_PORT output to port {inPort}");
                    break;
                default:
                    if (_targetPorts.Contains(a.Port) && !env.FwdOk(a.Port))
                        return (OffloadReason.DatapathState, $"port {a.Port} has PORT_DOWN or NO_FWD");
                    if (!shapingOk && env.Shaped(a.Port)) return (OffloadReason.PortShaped, $"port {a.Port}");
                    break;
            }
        }
        return (OffloadReason.None, default);
    }

    private Env ComputeEnv(out long signature)
    {
        var dp = _dp!;
        var ports = dp.Ports.List;
        long sig = 17;
        sig = sig * 31 + (dp.Pipeline.IsRedirected ? 1 : 0);
        bool conjunctive = dp.Pipeline.Table(0).IsConjunctive;
        sig = sig * 31 + (conjunctive ? 1 : 0);
        sig = sig * 31 + (int)dp.FragmentMode;
        foreach (var p in ports) sig = sig * 31 + ((long)p.No << 32 | (uint)p.Config);
        // A port that carries tunnels has its frames decapsulated by software: the hardware must not answer them.
        var underlays = new HashSet<ushort>();
        foreach (var t in dp.Tunnels.List)
            if (t.UnderlaySlot is { } u) underlays.Add(u.No);
        foreach (var u in underlays) sig = sig * 31 + u + 0x10000;
        // The software features a target may not do: a live capture, sFlow or IPFIX sampling (the least rate on), port
        // mirrors, the shaped ports.
        bool capture = dp.Tap is not null;
        int samplingRate = 0;
        for (int c = 0; c < PacketSampler.ChannelCount; c++)
        {
            int rate = dp.SamplingRateOf((SampleChannel)c);
            sig = sig * 31 + rate;
            if (rate != 0 && (samplingRate == 0 || rate < samplingRate)) samplingRate = rate;
        }
        var mirrors = dp.Mirrors;
        var shaped = new HashSet<ushort>();
        foreach (var p in ports)
            if (dp.PortQos.ShaperOf(p) is not null) shaped.Add(p.No);
        sig = sig * 31 + (capture ? 1 : 0);
        sig = sig * 31 + samplingRate;
        sig = sig * 31 + (mirrors is null ? 0 : System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(mirrors));
        foreach (var p in shaped) sig = sig * 31 + p + 0x20000;
        signature = sig;

        if (dp.Pipeline.IsRedirected) return Env.Suspend("the pipeline classifies packets in another table first");
        // Clauses combine in the software lookup: a target answering any rule of the table could take a packet a
        // conjunctive match of higher priority should have.
        if (conjunctive) return Env.Suspend("table 0 combines conjunctive matches (conjunction clauses)");
        if (dp.FragmentMode != FragmentMode.Normal) return Env.Suspend("fragment mode drops IP fragments in software");
        var dpPorts = new HashSet<ushort>();
        foreach (var p in ports) dpPorts.Add(p.No);
        foreach (var t in _targetPorts)
            if (!dpPorts.Contains(t)) return Env.Suspend($"board port {t} is not a datapath port");
        foreach (var p in ports)
        {
            if ((p.Config & PortConfig.StpBpdu) != 0) return Env.Suspend("spanning tree runs on the bridge (its BPDUs and port states are software's)");
            if (p.Bond is not null) return Env.Suspend("a bond is on the bridge (its member choice and LACP are software's)");
        }
        const PortConfig recvBad = PortConfig.PortDown | PortConfig.NoRecv;
        const PortConfig fwdBad = PortConfig.PortDown | PortConfig.NoFwd;
        var recvOk = new Dictionary<ushort, bool>();
        var fwdOk = new Dictionary<ushort, bool>();
        bool allRecv = true, allFwd = true, anyNoFlood = false;
        foreach (var p in ports)
        {
            var c = p.Config;
            if (underlays.Contains(p.No)) c |= PortConfig.NoRecv;
            recvOk[p.No] = (c & recvBad) == 0;
            fwdOk[p.No] = (c & fwdBad) == 0;
            if (_targetPorts.Contains(p.No))
            {
                allRecv &= (c & recvBad) == 0;
                allFwd &= (c & fwdBad) == 0;
            }
            if ((c & PortConfig.NoFlood) != 0) anyNoFlood = true;
        }
        bool sameSet = dpPorts.SetEquals(_targetPorts);
        bool allPortsFwd = true;
        foreach (var p in ports) allPortsFwd &= (p.Config & fwdBad) == 0;
        return new Env(null, false, allRecv, allFwd, sameSet && allPortsFwd, sameSet && allPortsFwd && !anyNoFlood, recvOk, fwdOk)
        {
            Capture = capture,
            SamplingRate = samplingRate,
            Mirrors = mirrors?.Mirrors.Length ?? 0,
            ShapedPorts = shaped,
        };
    }

    private sealed class Env(string? suspended, bool permissive, bool allRecvOk, bool allFwdOk, bool allOk, bool floodOk,
                             Dictionary<ushort, bool>? recvOk, Dictionary<ushort, bool>? fwdOk)
    {
        public static readonly Env Permissive = new(null, true, true, true, true, true, null, null);
        public static Env Suspend(string why) => new(why, false, false, false, false, false, null, null);

        /// <summary>A live capture is running (the datapath has a packet tap).</summary>
        public bool Capture { get; init; }
        /// <summary>sFlow's sampling rate (1 in N packets; 0: off).</summary>
        public int SamplingRate { get; init; }
        /// <summary>The port mirrors set (0: none).</summary>
        public int Mirrors { get; init; }
        /// <summary>The ports whose egress software shapes.</summary>
        public HashSet<ushort>? ShapedPorts { get; init; }
        public bool AnyShaped => ShapedPorts is { Count: > 0 };
        public bool Shaped(ushort p) => ShapedPorts is { } s && s.Contains(p);

        public string? Suspended => suspended;
        public bool IsPermissive => permissive;
        public bool AllRecvOk => allRecvOk;
        public bool AllFwdOk => allFwdOk;
        public bool AllOk => allOk;
        public bool FloodOk => floodOk;
        public bool RecvOk(ushort p) => recvOk is null || (recvOk.TryGetValue(p, out bool ok) && ok);
        public bool FwdOk(ushort p) => fwdOk is null || (fwdOk.TryGetValue(p, out bool ok) && ok);
    }
}
