using System.Runtime.CompilerServices;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Datapath.Tunnels;

namespace Softswitch.Datapath.Forwarding;

/// <summary>
/// One forwarding context: a poll thread's (or the control path's) packet pool, exact-match cache, burst
/// arrays, per-port transmit queues and counters.
/// </summary>
/// <remarks>
/// A burst of up to 32 packets goes receive, parse, classify, act (once per flow-batch), output (one Send per port per
/// burst); nothing allocates per packet. All state is owned by one thread; <see cref="Counters"/> are read racily
/// (monotonic longs). A burst goes down the steps once: a tunnel's decapsulated packets come back from the tunnel path
/// as sub-bursts the forwarder runs itself. The pipeline re-enters itself only for a packet-out to TABLE, sharing the
/// burst arrays. The packet path takes only leaf locks (docs/locking.md).
/// Design: docs/datapath.md, "The hot path".
/// </remarks>
public sealed partial class Forwarder
{
    private readonly SwitchDatapath _dp;
    internal SwitchDatapath Owner => _dp;
    /// <summary>This thread's packet buffers: over <see cref="DatapathOptions.Arena"/> when the datapath has one, or from
    /// the poll after <see cref="UseArena"/> once one is made (a daemon whose first AF_XDP port came after its bridges).</summary>
    public PacketPool Pool { get; private set; }
    public readonly ExactMatchCache? Cache;
    public readonly FlowTableThreadStats TableStats;
    /// <summary>This thread's per-stage lookup counters (multi-stage classification).</summary>
    public readonly PipelineStageStats StageStats;
    /// <summary>This thread's slots of the switch's counter registry (no atomics; summed by <see cref="SwitchDatapath.Counters"/>).</summary>
    public readonly CounterSet Counters;
    public readonly ParseCounters ParseErrors;
    public readonly DropCounters Drops;
    public readonly UpcallRing Upcalls;
    public readonly ActionExecutor Executor;
    /// <summary>This thread's 1-in-N packet sampling (sFlow, IPFIX: one ring each); a countdown that never runs out while
    /// sampling is off. Replaced whole when a rate changes (<see cref="SwitchDatapath.SetSamplingRate(SampleChannel, int)"/>).</summary>
    public PacketSampler Sampler => _sampler;
    private PacketSampler _sampler;

    internal void SetSampler(PacketSampler sampler) => Volatile.Write(ref _sampler, sampler);

    /// <summary>The sample action's chooser and ring for this thread (<see cref="ActionKind.Sample"/>; never replaced).</summary>
    public FlowSampler FlowSampler { get; }
    /// <summary>
    /// Tunnel id set by the running action list (set_tunnel), used by tunnel ports on output and by its packet-ins; 0
    /// outside a list's run (a flow-batch's, a verdict batch's with its miss, a packet-out's), so a list run with no batch
    /// (<see cref="FlowActions.SoleOutput"/>, <see cref="FlowActions.RewriteOutput"/>: no set_tunnel) to a tunnel port and
    /// a table miss's packet-in find 0.
    /// </summary>
    internal ulong TunnelId;
    /// <summary>The port mirrors as this burst read them (<see cref="SwitchDatapath.Mirrors"/>), or null: none.</summary>
    internal MirrorSet? BurstMirrors;
    /// <summary>True while this forwarder runs a tunnel's inner packets: <see cref="PacketPool.TunId"/> holds their tunnel ids.</summary>
    internal bool TunnelRx;
    /// <summary>Tunnel encapsulation on output and decapsulation on underlay receive.</summary>
    private readonly TunnelPath _tunnels;
    /// <summary>This forwarder's tunnel path (virtual tunnel ports encapsulate through it).</summary>
    internal TunnelPath TunnelPath => _tunnels;
    public long Packets, Bursts, Misses;

    // Stalls of the poll loop (written by the owning thread only, read racily by dp/show and the metrics): the longest
    // gap between the starts of two poll rounds of which the first had packets, and how many such gaps passed 1 ms
    // and 10 ms. A garbage collection, a preempted thread or a slow burst all show here.
    private static readonly long s_ticks1ms = System.Diagnostics.Stopwatch.Frequency / 1000;
    private long _maxBusyGapTicks, _busyGapsOver1ms, _busyGapsOver10ms;

    /// <summary>Longest gap, in microseconds, between two poll rounds while the thread had packets.</summary>
    public long MaxBusyGapMicros => Volatile.Read(ref _maxBusyGapTicks) * 1_000_000 / System.Diagnostics.Stopwatch.Frequency;
    /// <summary>Gaps between two poll rounds while the thread had packets that were longer than 1 ms.</summary>
    public long BusyGapsOver1ms => Volatile.Read(ref _busyGapsOver1ms);
    /// <summary>Gaps between two poll rounds while the thread had packets that were longer than 10 ms.</summary>
    public long BusyGapsOver10ms => Volatile.Read(ref _busyGapsOver10ms);

    /// <summary>Records one gap between poll rounds (the owning poll loop only).</summary>
    internal void RecordBusyGap(long ticks)
    {
        if (ticks > _maxBusyGapTicks) Volatile.Write(ref _maxBusyGapTicks, ticks);
        if (ticks > s_ticks1ms)
        {
            Volatile.Write(ref _busyGapsOver1ms, _busyGapsOver1ms + 1);
            if (ticks > 10 * s_ticks1ms) Volatile.Write(ref _busyGapsOver10ms, _busyGapsOver10ms + 1);
        }
    }

    // Burst state (parallel arrays indexed by position in the burst).
    private readonly int[] _pkts = new int[Burst.Size];
    private readonly FlowKey[] _keys = new FlowKey[Burst.Size];
    private readonly uint[] _hashes = new uint[Burst.Size];
    private readonly PacketLayers[] _layers = new PacketLayers[Burst.Size];
    private readonly FlowEntry?[] _entries = new FlowEntry?[Burst.Size];
    // A burst's hash-stage hits answered from the records: each one's slot (see FlowTable's record lookup).
    private readonly int[] _recordSlots = new int[Burst.Size];

    private readonly int[] _missPkts = new int[Burst.Size];
    private readonly PacketLayers[] _missLayers = new PacketLayers[Burst.Size];

    /// <summary>Step 5: transmit queues, flood, NORMAL, packets for the controller, virtual ports.</summary>
    internal readonly OutputStage Output;
    private readonly PacketLayers[] _packetOutLayers = new PacketLayers[1];
    private long _now;

    internal Forwarder(SwitchDatapath dp, int poolSize, int emcEntries, int upcallSlots, int largeBuffers, int sampleRate,
                       FlowCounting counting, int index = -1)
    {
        _counting = counting;
        // A rule's counting owner is a forwarding thread's index + 1 (0: unclaimed); past 254 threads, never an owner.
        _countingId = counting == FlowCounting.SoleWriter ? FlowEntry.SoleWriter : index is >= 0 and < 254 ? (byte)(index + 1) : (byte)0;
        _countingSlots = Math.Min(254, dp.SharedThreads?.Count ?? Math.Max(1, dp.Options.Threads));
        // This thread's slot of every port's counters (0: the control path's, which adds atomically).
        _portSlot = counting == FlowCounting.Control || index < 0 ? 0 : index + 1;
        _sampler = new PacketSampler(sampleRate, dp.Options.SampleRingSlots);
        _dp = dp;
        Counters = dp.Counters.CreateSet();
        ParseErrors = new ParseCounters(Counters);
        Drops = new DropCounters(Counters);
        Executor = new ActionExecutor(Counters) { Groups = dp.Groups, Meters = dp.Meters };
        FlowSampler = new FlowSampler(dp.Options.SampleRingSlots, Counters, dp.Options.FlowSampleSeed == 0 ? 0 : dp.Options.FlowSampleSeed + (ulong)(index + 2),
                                      shared: counting == FlowCounting.Control);
        // A forwarding thread's pool over the arena when there is one (its AF_XDP ports receive into it in place); the
        // control path's (packet-outs) stays its own.
        _poolSize = poolSize;
        _largeBuffers = largeBuffers;
        Pool = dp.Options.Arena is { } arena && counting != FlowCounting.Control
            ? new PacketPool(arena, poolSize, largeBuffers)
            : new PacketPool(poolSize, Math.Max(PacketPool.DefaultDataSize, dp.Options.FrameSize), largeBuffers);
        // A forwarder of shared threads takes a view of its thread's one cache (every switch the thread serves does).
        Cache = emcEntries <= 0 ? null
              : dp.SharedThreads is { } shared && index >= 0 ? shared.ShareCache(index)
              : new ExactMatchCache(emcEntries);
        TableStats = dp.Pipeline.CreateThreadStats();
        StageStats = dp.Pipeline.CreateStageStats();
        _cachedTable = dp.Pipeline.LookupTable;
        Upcalls = new UpcallRing(upcallSlots, Pool.MaxFrameSize, dp.UpcallSignal);
        _tunnels = new TunnelPath(this, dp.Tunnels);
        Output = new OutputStage(this);
    }

    internal long Now => _now;

    private readonly int _poolSize, _largeBuffers;
    // The arena this thread's pool moves to at its next poll (UseArena), read by the thread itself.
    private volatile PacketArena? _nextArena;

    /// <summary>
    /// Carves this forwarding thread's pool from <paramref name="arena"/> from its next poll on (a no-op for the control
    /// path's forwarder, or when its pool is already over an arena). The thread swaps the pools itself, at the top of a
    /// poll, where it holds no buffer of the old one: every burst is flushed (sent and released) before a poll returns,
    /// and what outlives a burst (the upcall ring, shaped queues, samples) holds copies of its own. Until then its ports
    /// copy frames into the old pool, as before. The old pool's buffers are then garbage.
    /// </summary>
    public void UseArena(PacketArena arena)
    {
        ArgumentNullException.ThrowIfNull(arena);
        if (_counting == FlowCounting.Control || Pool.Arena is not null) return;
        _nextArena = arena;
    }

    /// <summary>True while <see cref="UseArena"/>'s arena waits for this thread's next poll (tests).</summary>
    internal bool ArenaPending => _nextArena is not null;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void TakeArena()
    {
        var arena = _nextArena;
        _nextArena = null;
        if (arena is null || Pool.Arena is not null) return;
        Pool = new PacketPool(arena, _poolSize, _largeBuffers);
        Output.UsePool(Pool);
    }

    private readonly FlowCounting _counting;
    /// <summary>This thread's id as a rule's counting owner (see <see cref="FlowEntry.Forwarded"/>).</summary>
    private readonly byte _countingId;
    /// <summary>The slots a rule several threads count keeps (one per forwarding thread).</summary>
    private readonly int _countingSlots;
    /// <summary>This thread's slot in its ports' counters (<see cref="PortCounters.EnterThread"/>).</summary>
    private readonly int _portSlot;
    internal byte CountingId => _countingId;
    /// <summary>How this thread writes its rules' counters.</summary>
    internal FlowCounting Counting => _counting;

    /// <summary>Credits a flow-batch to its rule as this thread's <see cref="FlowCounting"/> says.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Count(FlowEntry flow, int packets, long bytes)
    {
        if (_counting == FlowCounting.Control) flow.Hit(packets, bytes, _now);
        else flow.Forwarded(packets, bytes, _now, _countingId, _countingSlots);
    }

    private FlowTable _cachedTable;
    private bool _cachedMultiStage;

    // Multi-stage classification: the table-by-table run of a miss, the verdicts by chain, and a burst's verdicts.
    private readonly PipelineWalk _walk = new();
    private readonly VerdictInterner _verdicts = new();
    private readonly PipelineVerdict?[] _burstVerdicts = new PipelineVerdict?[Burst.Size];
    // Bursts through ClassifyStages (each verdict records the one it last got a batch in).
    private long _verdictBursts;
    // A burst's rule credits, one per distinct rule (rules shared by many verdicts, e.g. a catch-all, are credited once).
    private const int CreditSlots = 256;
    private readonly FlowEntry?[] _creditEntry = new FlowEntry?[CreditSlots];
    private readonly int[] _creditPackets = new int[CreditSlots];
    private readonly long[] _creditBytes = new long[CreditSlots];
    private readonly byte[] _creditUsed = new byte[CreditSlots];
    private int _creditCount;
    // Verdicts with packets not yet credited to their rules (see FlushVerdictCredits).
    // Sized for the verdicts a busy thread uses between two flushes (one per active chain): a flush is paid per verdict,
    // so a larger list and a longer interval make fewer flushes of the same verdicts.
    // Allocated at the first verdict credited (a switch whose pipeline has one table never has one): 64 KiB that a
    // hundred idle bridges would otherwise each keep resident.
    private PipelineVerdict[] _dirty = [];
    private const int DirtySlots = 8192, FirstDirtySlots = 256;
    private int _dirtyCount;
    private long _lastCreditFlush;
    private PortSlot? _lastActiveSlot;

    /// <summary>
    /// Table-by-table runs of the pipeline this thread made because no current verdict was cached for the packet's key
    /// (a new key, an evicted one, a verdict a flow-mod made stale, or every packet while the caches are bypassed; see
    /// <see cref="PipelineWalk"/>). Each costs a lookup per stage visited and the verdict's interning: under churn, most
    /// of the rate lost goes to them.
    /// </summary>
    public long PipelineWalks { get; private set; }

    /// <summary>
    /// Stale verdicts repaired instead of a pipeline run (<see cref="PipelineVerdict.FindRepair"/>: each stage that failed
    /// its check found a rule that does the same; in place, or as a new chain for a verdict other keys share), the churn
    /// of rules deleted and added back.
    /// </summary>
    public long VerdictRepairs { get; private set; }

    /// <summary>
    /// Tests' reference: a multi-stage pipeline classifies every packet table by table with a verdict of its own,
    /// consulting neither the exact-match cache nor the verdict table (allocates per packet).
    /// </summary>
    internal bool BypassVerdictCaches { get; set; }

    /// <summary>Whether bursts consult the exact-match cache (see <see cref="EmcGovernor"/>).</summary>
    public readonly EmcGovernor EmcGovernor = new();

    /// <summary>Whether this burst consults the EMC (present and not bypassed, see <see cref="EmcGovernor"/>).</summary>
    public bool EmcActive => Cache is not null && EmcGovernor.Active;
    /// <summary>Times the EMC was bypassed (<c>emc-bypass</c>, see <see cref="EmcGovernor"/>).</summary>
    public long EmcBypassCount => Counters[DatapathCounters.EmcBypass];

    /// <summary>The pipeline now classifies in another table: this thread's cache holds the old table's results.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void SwitchTable(FlowTable table, bool multiStage)
    {
        Cache?.Clear();
        _verdicts.Clear();
        _cachedTable = table;
        _cachedMultiStage = multiStage;
    }

    /// <summary>Receives one burst from <paramref name="slot"/> and forwards it; returns how many packets it took.</summary>
    public int Poll(PortSlot slot) => Poll(slot, slot.Port);

    /// <summary>Receives one burst through <paramref name="receiver"/> (the port or one of its receive queues) for <paramref name="slot"/>.</summary>
    public int Poll(PortSlot slot, IRxQueue receiver)
    {
        // What this round counts on ports goes to this thread's slots (see PortCounters).
        PortCounters.EnterThread(_dp, _portSlot);
        if (_nextArena is not null) TakeArena();
        int n = receiver.Receive(Pool, _pkts);
        if (n <= 0)
        {
            // The port that last had packets ran dry: credit what the verdicts hold now (exact counters when idle).
            if (_dirtyCount != 0 && ReferenceEquals(slot, _lastActiveSlot)) FlushVerdictCredits();
            return 0;
        }
        _lastActiveSlot = slot;
        if (_dp.Tap is { } tap) tap.Received(this, slot, _pkts.AsSpan(0, n));
        Process(slot, _pkts.AsSpan(0, n));
        return n;
    }

    /// <summary>
    /// Forwards packets already in <see cref="Pool"/> that arrived on <paramref name="slot"/>; releases them. A burst from
    /// an underlay port first gives up its tunnels' packets (<see cref="TunnelPath.Receive"/>), which then go through
    /// the pipeline as bursts received on their tunnel ports, before what stays of it.
    /// </summary>
    public void Process(PortSlot slot, Span<int> pkts)
    {
        _now = _dp.Clock.NowNanos;
        Executor.BurstNanos = _now;
        Bursts++;
        Packets += pkts.Length;
        pkts = Admit(slot, pkts);
        if (!pkts.IsEmpty && _tunnels.UnderlayOf(slot) is { } underlay)
        {
            pkts = _tunnels.Receive(underlay, slot, pkts);
            while (_tunnels.NextSubBurst(out var tunnelSlot, out var inner))
            {
                inner = Admit(tunnelSlot, inner);
                if (!inner.IsEmpty) Forward(tunnelSlot, inner, tunnel: true);
            }
        }
        if (!pkts.IsEmpty) Forward(slot, pkts, tunnel: false);
        Output.Flush();
    }

    /// <summary>
    /// Step 1 past the port's receive, for a burst that arrived on <paramref name="slot"/>: stamps each packet's in_port
    /// (<see cref="PacketPool.InPort"/>: the one place a received packet gets it; a decapsulated packet gets its tunnel
    /// port's here too), then applies the receive gates and the ingress policer. Returns the packets that stay
    /// (compacted at the front of <paramref name="pkts"/>); the others are released, counted.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Span<int> Admit(PortSlot slot, Span<int> pkts)
    {
        ushort inPort = slot.No;
        var inPorts = Pool.InPort;
        foreach (int p in pkts) inPorts[p] = inPort;
        var config = slot.Config;
        // One test for every receive gate (an administrator's, or a spanning tree's): none set costs nothing more.
        if ((config & (PortConfig.PortDown | PortConfig.NoRecv | PortConfig.NoRecvStp | PortConfig.StpBpdu | PortConfig.StpNoForward | PortConfig.Lacp)) != 0)
        {
            if ((config & PortConfig.PortDown) != 0)
            {
                Drops.Add(DropReason.PortDown, pkts.Length);
                Pool.Release(pkts);
                return default;
            }
            pkts = FilterNoRecv(slot, pkts, config);
        }
        if (_dp.PortQos.PolicerOf(slot) is { } policer && !pkts.IsEmpty) pkts = Police(policer, pkts);
        return pkts;
    }

    /// <summary>
    /// Steps 2 to 5 for admitted packets that arrived on <paramref name="slot"/> (<paramref name="tunnel"/>: decapsulated,
    /// their <see cref="PacketPool.TunId"/> their tunnel ids); releases them. Output stays staged for the caller's flush.
    /// </summary>
    [SkipLocalsInit]
    private void Forward(PortSlot slot, Span<int> pkts, bool tunnel)
    {
        int n = pkts.Length;
        ushort inPort = slot.No;
        bool dropFrags = _dp.FragmentMode == FragmentMode.Drop;
        bool outerRx = TunnelRx;
        TunnelRx = tunnel;
        var keys = _keys.AsSpan(0, n);
        var hashes = _hashes.AsSpan(0, n);
        var layers = _layers.AsSpan(0, n);
        int kept = 0;
        for (int i = 0; i < n; i++)
        {
            int p = pkts[i];
            var err = PacketParser.Parse(Pool.Frame(p), inPort, out keys[kept], out layers[kept], tunnel ? Pool.TunId[p] : 0);
            if (err != ParseError.None) ParseErrors.Count(err);
            if (dropFrags && (layers[kept].Flags & LayerFlags.Fragment) != 0)
            {
                Drops.Add(DropReason.Fragment);
                Pool.Release(p);
                continue;
            }
            pkts[kept] = p;
            kept++;
        }
        if (kept == 0)
        {
            TunnelRx = outerRx;
            return;
        }
        pkts = pkts[..kept];
        if (_dp.Tap is { } tap) tap.Parsed(this, slot, pkts, keys[..kept]);
        // Port mirrors: read once per burst (the output stage's egress selection uses the same set); none is one test.
        if ((BurstMirrors = _dp.Mirrors) is { } mirrors) Output.MirrorIngress(mirrors, slot, pkts);
        // The EMC's hashes are computed here, in one loop over the burst before classification (computed inside
        // ClassifyAndExecute, when that method still had a stackalloc and so no profile, they cost about 10% at
        // 100,000 exact flows).
        if (EmcActive)
            for (int i = 0; i < kept; i++) hashes[i] = keys[i].Hash();
        ClassifyAndExecute(pkts, keys[..kept], hashes[..kept], layers[..kept], slot);
        TunnelRx = outerRx;
        Pool.Release(pkts);
    }

    /// <summary>
    /// Drops the packets the port's ingress policer's band applies to (counted drop-ingress-policing), a burst at a
    /// time; returns those kept. A GSO super-frame the band cuts passes whole when some of its segments fit.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private Span<int> Police(Meters.Meter policer, Span<int> pkts)
    {
        int kept = 0;
        for (int start = 0; start < pkts.Length; start += Burst.Size)
        {
            var chunk = pkts.Slice(start, Math.Min(Burst.Size, pkts.Length - start));
            var applied = _policed.AsSpan(0, chunk.Length);
            var passed = _policedSegments.AsSpan(0, chunk.Length);
            bool any = policer.Measure(Pool, chunk, _now, applied, passed) > 0;
            for (int i = 0; i < chunk.Length; i++)
            {
                int p = chunk[i];
                if (any && applied[i] >= 0 && passed[i] == 0)
                {
                    Drops.Add(DropReason.IngressPolicing);
                    Pool.Release(p);
                    continue;
                }
                pkts[kept++] = p;
            }
        }
        return pkts[..kept];
    }

    private readonly sbyte[] _policed = new sbyte[Burst.Size];
    private readonly ushort[] _policedSegments = new ushort[Burst.Size];

    /// <summary>
    /// The receive gates, per packet. 802.1D spanning-tree frames (to 01:80:c2:00:00:00) are the bridge's own while a
    /// spanning tree runs on it (<see cref="PortConfig.StpBpdu"/>): handed to <see cref="SwitchDatapath.BpduSink"/>,
    /// never forwarded. Otherwise OFPPC_NO_RECV drops everything except them, which OFPPC_NO_RECV_STP drops (OF1.0
    /// 5.2.1; as the reference switch), so a controller running spanning tree through PORT_MOD still hears BPDUs on
    /// blocked ports. A port the spanning tree keeps from forwarding (<see cref="PortConfig.StpNoForward"/>) drops the
    /// rest, after NORMAL's table learned their source in the learning state. Slow-protocol frames (ethertype 0x8809,
    /// untagged) received while LACP runs on the port (<see cref="PortConfig.Lacp"/>) are LACP's: handed to
    /// <see cref="SwitchDatapath.LacpSink"/>, never forwarded. Returns the packets that stay.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private Span<int> FilterNoRecv(PortSlot slot, Span<int> pkts, PortConfig config)
    {
        int kept = 0;
        foreach (int p in pkts)
        {
            var f = Pool.Frame(p);
            if ((config & PortConfig.Lacp) != 0 && f.Length >= 14 && f[12] == 0x88 && f[13] == 0x09)
            {
                if (_dp.LacpSink is { } lacp) lacp.Received(slot, f);
                else Counters.Add(DatapathCounters.LacpPduUnheard);
                Counters.Add(DatapathCounters.LacpPdu);
                Pool.Release(p);
                continue;
            }
            bool bpdu = f.Length >= 6 && f[0] == 0x01 && f[1] == 0x80 && f[2] == 0xC2 && f[3] == 0 && f[4] == 0 && f[5] == 0;
            if (bpdu && (config & PortConfig.StpBpdu) != 0)
            {
                if (_dp.BpduSink is { } sink) sink.Received(slot, f);
                else Counters.Add(DatapathCounters.StpBpduUnheard);
                Counters.Add(DatapathCounters.StpBpdu);
                Pool.Release(p);
                continue;
            }
            var bit = bpdu ? PortConfig.NoRecvStp : PortConfig.NoRecv;
            if ((config & bit) != 0)
            {
                Drops.Add(bpdu ? DropReason.NoRecvStp : DropReason.NoRecv);
                Pool.Release(p);
                continue;
            }
            if ((config & PortConfig.StpNoForward) != 0)
            {
                if ((config & PortConfig.StpNoLearn) == 0 && f.Length >= 14) LearnOnly(slot, f);
                Drops.Add(DropReason.StpNotForwarding);
                Pool.Release(p);
                continue;
            }
            pkts[kept++] = p;
        }
        return pkts[..kept];
    }

    /// <summary>NORMAL's learning of frame <paramref name="f"/>'s source on <paramref name="slot"/> (in the VLAN NORMAL
    /// would give it), for a port in the spanning tree's learning state.</summary>
    private void LearnOnly(PortSlot slot, ReadOnlySpan<byte> f)
    {
        ushort vlan = f.Length >= 18 && f[12] == 0x81 && f[13] == 0x00 ? (ushort)(((f[14] << 8) | f[15]) & 0x0FFF) : (ushort)0;
        if (_dp.NormalSlowPath && slot.Vlan is { IsAccess: true } access) vlan = access.Tag;
        if (!_dp.MacTable.Learn(MacAddress.Read(f[6..]), vlan, slot.No, _now)) Counters.Add(DatapathCounters.MacTableFull);
    }

    /// <summary>Steps 3 to 5 for parsed packets; <paramref name="hashes"/> holds each key's <see cref="FlowKey.Hash"/>
    /// when the EMC is active (the caller computes them).</summary>
    private void ClassifyAndExecute(Span<int> pkts, Span<FlowKey> keys, Span<uint> hashes, Span<PacketLayers> layers, PortSlot inSlot)
    {
        int n = pkts.Length;
        var entries = _entries.AsSpan(0, n);
        var pipeline = _dp.Pipeline;
        var table = pipeline.LookupTable;
        bool multiStage = pipeline.IsMultiStage && table.StageId == 0;
        if (!ReferenceEquals(table, _cachedTable) || multiStage != _cachedMultiStage) SwitchTable(table, multiStage);
        if (multiStage)
        {
            ClassifyStages(pipeline, pkts, keys, hashes, layers, inSlot);
            return;
        }
        if (table.Shape == LookupShape.InPortOnly && TryClassifyByInPort(table, pkts, keys, layers, inSlot)) return;
        var emc = Cache;
        bool consulted = emc is not null && EmcGovernor.Active;
        // Before the cache's checks: the commits up to it have moved the cache version and the rules' removed flags.
        long committed = pipeline.Versions.Committed;
        // A forwarding thread counts a hash-stage hit in its record (the control path, which adds atomically, in the entry).
        ulong recordHits = 0;
        ExactRecordTable.Records? records = null;
        if (_counting != FlowCounting.Control)
            records = table.LookupBurstRecords(keys, hashes, entries, _recordSlots, consulted ? emc : null, TableStats, out recordHits);
        else
            table.LookupBurst(keys, hashes, entries, consulted ? emc : null, TableStats);
        // The burst's groups are those of the tables version its rules were found at (GroupTable's versions). When the
        // version after the lookups is the last commit done before them, every rule is of that version (a cached one
        // was checked after that commit moved its words, a lookup or a record hit read the version itself); otherwise a
        // commit ran meanwhile, and an entry checked before it moved the words may be a rule before it: the burst is
        // looked up again, without the cache or the records, at one version.
        long version = pipeline.Versions.Current;
        if (version != committed)
        {
            version = LookUpAgain(table, keys, hashes, entries, pipeline.Versions);
            recordHits = 0;
        }
        Executor.GroupsVersion = version;

        // A burst spread over many flows (a large working set) would otherwise pay, per packet and one after the
        // other, a cache miss for the entry's counters, one for its action list and one for the list's plan: prefetch
        // them first, one level per pass, so the misses of a level overlap.
        if (n > 2) PrefetchVerdicts(entries, recordHits, records, table);

        // Group by flow (ovs packet_batch_per_flow, through Group's index by the entry's serial number: O(1) per packet
        // however many flows the burst holds). A flow whose whole list is one output to a port (FlowActions.SoleOutput,
        // most flows of a forwarding table), or rewrites then one (FlowActions.RewriteOutput), needs no batch: its packet
        // is counted, rewritten and queued for the port here, in the order the packets came. While recent bursts showed
        // almost every packet a flow of its own (batches would hold one packet each), runs of consecutive packets of one
        // flow are run as they end instead (see BatchByRuns).
        Span<byte> rest = _batchRest;
        bool byRuns = BatchByRuns();
        int grouped = 0, misses = 0, wildcardWins = 0, runStart = 0, runEnd = 0;
        FlowEntry? run = null;
        uint nowMillis = recordHits != 0 ? (uint)(_now / 1_000_000) : 0; // read by record hits alone
        for (int i = 0; i < n; i++)
        {
            var e = entries[i];
            if (e is null && (recordHits >> i & 1) != 0)
            {
                // A hash-stage hit answered from its record: the list by id, the count in the record; the entry only
                // when the list needs a flow-batch or another thread counts the record.
                int slot = _recordSlots[i];
                ref var record = ref records!.Record(slot);
                var listed = table.ActionsOfRecord(Volatile.Read(ref record.Word));
                if (listed is not null && (listed.SoleOutput | listed.RewriteOutput) != 0)
                {
                    int p = pkts[i];
                    if (!ExactRecordTable.Forwarded(ref record, 1, Pool.Length[p], nowMillis, _countingId) && records.Entry(slot) is { } counted)
                        Count(counted, 1, Pool.Length[p]);
                    QueueDirect(listed, p, ref layers[i]);
                    continue;
                }
                entries[i] = e = records.Entry(slot);
            }
            if (e is null)
            {
                _missPkts[misses] = pkts[i];
                _missLayers[misses] = layers[i];
                misses++;
                continue;
            }
            wildcardWins += e.InExactStage ? 0 : 1;
            var actions = e.Actions;
            if ((actions.SoleOutput | actions.RewriteOutput) != 0)
            {
                int p = pkts[i];
                Count(e, 1, Pool.Length[p]);
                QueueDirect(actions, p, ref layers[i]);
                continue;
            }
            if (byRuns)
            {
                if (ReferenceEquals(e, run) && runEnd == i)
                {
                    runEnd++;
                    continue;
                }
                if (run is not null) RunFlowBatch(run, pkts[runStart..runEnd], layers[runStart..runEnd]);
                run = e;
                runStart = i;
                runEnd = i + 1;
                continue;
            }
            rest[grouped++] = (byte)i;
        }
        if (run is not null) RunFlowBatch(run, pkts[runStart..runEnd], layers[runStart..runEnd]);
        int batches = 0;
        if (!byRuns)
        {
            batches = Group(new ByFlow(_entries, _batchIndex, _batchFirst), rest[..grouped], pkts, layers);
            Batched(grouped, batches);
        }

        if (emc is not null)
        {
            if (!consulted) EmcGovernor.Bypassed(n, emc.Hits, emc.Hits + emc.Misses, table, table.Count);
            else if (EmcGovernor.Consulted(n, emc.Hits, emc.Hits + emc.Misses, wildcardWins, table, table.Count, table.ExactAnswersAlone))
                Counters.Add(DatapathCounters.EmcBypass);
        }

        // The batches' action items, prefetched together (their entries and lists were, above).
        if (batches > 2)
            for (int b = 0; b < batches; b++) Prefetch.Object(entries[_batchFirst[b]]!.Actions.Items, 1);

        for (int b = 0; b < batches; b++) RunFlowBatch(entries[_batchFirst[b]]!, BatchPackets(b), BatchLayers(b));

        if (misses > 0)
        {
            Misses += misses;
            HandleMisses(_missPkts.AsSpan(0, misses), _missLayers.AsSpan(0, misses), inSlot);
        }
    }

    /// <summary>
    /// The prefetches of a burst's verdicts (<see cref="ClassifyAndExecute"/>), one dependent level per pass: the
    /// entries' first lines; then each verdict's action list, by its entry or, for a hash-stage hit answered from its
    /// record, by the record's id (both of the list's lines: its direct-output fields lie past the first); then the
    /// plan that a list of rewrites runs (<see cref="FlowActions.RewriteOutput"/>). A list that the burst shares (most
    /// forwarding tables intern a few) is prefetched once per packet, which is free once it is in L1.
    /// </summary>
    private void PrefetchVerdicts(Span<FlowEntry?> entries, ulong recordHits, ExactRecordTable.Records? records, FlowTable table)
    {
        int n = entries.Length;
        for (int i = 0; i < n; i++) Prefetch.Object(entries[i], 1);
        for (int i = 0; i < n; i++) Prefetch.Object(VerdictList(entries[i], recordHits, i, records, table), 2);
        for (int i = 0; i < n; i++)
        {
            if (VerdictList(entries[i], recordHits, i, records, table) is { SoleOutput: 0, RewriteOutput: not 0 } rewrites)
                Prefetch.Object(rewrites.Plan, 2);
        }
    }

    /// <summary>The action list of a burst's verdict <paramref name="i"/> as the prefetches see it (null: a miss, or a
    /// record removed since its lookup).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private FlowActions? VerdictList(FlowEntry? e, ulong recordHits, int i, ExactRecordTable.Records? records, FlowTable table)
        => e is not null ? e.Actions
         : (recordHits >> i & 1) != 0 ? table.ActionsOfRecord(Volatile.Read(ref records!.Record(_recordSlots[i]).Word)) : null;

    /// <summary>
    /// The lookups of a burst a commit ran inside (see <see cref="ClassifyAndExecute"/>), again without the cache or
    /// counting, until the tables version holds still around them (at most <see cref="FlowTable.MaxVersionRetries"/>
    /// times); returns the version they were made at.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long LookUpAgain(FlowTable table, Span<FlowKey> keys, Span<uint> hashes, Span<FlowEntry?> entries, TablesVersion versions)
    {
        for (int tries = 0; ; tries++)
        {
            long before = versions.Current;
            table.LookupBurst(keys, hashes, entries, null);
            long after = versions.Current;
            if (after == before || tries == FlowTable.MaxVersionRetries) return after;
        }
    }

    /// <summary>Whether every key has the first one's in_port (true for any burst from one port).</summary>
    private static bool SameInPort(ReadOnlySpan<FlowKey> keys)
    {
        ushort first = keys[0].InPort;
        for (int i = 1; i < keys.Length; i++)
            if (keys[i].InPort != first) return false;
        return true;
    }

    /// <summary>
    /// Steps 3 and 4 for an <see cref="LookupShape.InPortOnly"/> table: one lookup for a burst from one port, run as
    /// one flow-batch. False when the burst or the table does not allow it (the caller classifies packet by packet).
    /// Out of line, so the general path's code stays as compact as without it.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TryClassifyByInPort(FlowTable table, Span<int> pkts, Span<FlowKey> keys, Span<PacketLayers> layers, PortSlot inSlot)
    {
        // Before the lookup: it found the rule of this version (a batch that links or hides a rule after it sets the
        // flag the lookup reads after itself, and a commit stores its version after that).
        long version = table.Versions.Current;
        if (!SameInPort(keys) || !table.TryLookupByInPort(keys[0], pkts.Length, out var winner, TableStats)) return false;
        Executor.GroupsVersion = version;
        ExecuteOneFlow(pkts, layers, winner, inSlot);
        return true;
    }

    /// <summary>
    /// The in_port-shaped table's step 4: every packet of the burst has the same winner, so the burst is one
    /// flow-batch (or all misses) with no cache, hashing or grouping.
    /// </summary>
    private void ExecuteOneFlow(Span<int> pkts, Span<PacketLayers> layers, FlowEntry? winner, PortSlot inSlot)
    {
        int n = pkts.Length;
        if (winner is null)
        {
            Misses += n;
            HandleMisses(pkts, layers, inSlot);
            return;
        }
        RunFlowBatch(winner, pkts, layers);
    }

    /// <summary>
    /// Step 4 for one packet of a flow (or verdict) whose list needs no flow-batch, counted by the caller: samples it if
    /// its turn came, runs the list's rewrites on it when it has some (<see cref="FlowActions.RewriteOutput"/>) and
    /// queues it for the list's one output (<see cref="FlowActions.SoleOutput"/>, or that one's).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void QueueDirect(FlowActions actions, int p, ref PacketLayers layers)
    {
        if (Sampler.Skip(Pool, new ReadOnlySpan<int>(in p))) Sampler.Take(Pool, new ReadOnlySpan<int>(in p), actions);
        ushort port = actions.SoleOutput;
        if (port == 0)
        {
            Executor.RewriteOne(actions, Pool, p, ref layers);
            port = actions.RewriteOutput;
        }
        Output.Stage(port, new ReadOnlySpan<int>(in p));
    }

    /// <summary>Step 4 for one flow-batch: counts it on its flow and runs the flow's actions once over it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void RunFlowBatch(FlowEntry flow, ReadOnlySpan<int> pkts, Span<PacketLayers> layers)
    {
        long bytes = 0;
        foreach (int p in pkts) bytes += Pool.Length[p];
        Count(flow, pkts.Length, bytes);
        var actions = flow.Actions;
        if (Sampler.Skip(Pool, pkts)) Sampler.Take(Pool, pkts, actions);
        if (actions.Items.Length == 0)
        {
            Drops.Add(DropReason.FlowDrop, pkts.Length);
            return;
        }
        var sink = new OutputStage.Sink(Output, false);
        Executor.Execute(actions, Pool, pkts, layers, ref sink);
        TunnelId = 0;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void HandleMisses(Span<int> pkts, Span<PacketLayers> layers, PortSlot inSlot)
    {
        if (Sampler.Skip(Pool, pkts)) Sampler.Take(Pool, pkts, null);
        switch (_dp.MissBehavior)
        {
            case MissBehavior.Controller:
                if ((inSlot.Config & PortConfig.NoPacketIn) != 0)
                {
                    Drops.Add(DropReason.MissNoPacketIn, pkts.Length);
                    return;
                }
                foreach (int p in pkts) Output.ToController(p, UpcallReason.Miss, 0xFFFF);
                return;
            case MissBehavior.Normal:
                Output.Normal(pkts, false);
                return;
            default:
                Drops.Add(DropReason.MissSecure, pkts.Length);
                return;
        }
    }

    /// <summary>OFPP_TABLE in a packet-out: run the packet through the flow table as if received on its in_port.</summary>
    internal void ResubmitToTable(int p)
    {
        int copy = Pool.Clone(p);
        if (copy < 0)
        {
            Drops.Add(DropReason.PoolExhausted);
            return;
        }
        ushort inPort = Pool.InPort[copy];
        var slot = _dp.Ports.Get(inPort);
        var one = new Span<int>(ref copy);
        if (slot is null)
        {
            // in_port NONE/CONTROLLER: classify anyway with that in_port.
            var key = _keys.AsSpan(0, 1);
            var layers = _layers.AsSpan(0, 1);
            PacketParser.Parse(Pool.Frame(copy), inPort, out key[0], out layers[0]);
            var hashes = _hashes.AsSpan(0, 1);
            hashes[0] = key[0].Hash();
            ulong outerTunnel = TunnelId;
            ClassifyAndExecute(one, key, hashes, layers, _dp.ControlSlot);
            TunnelId = outerTunnel;
            Pool.Release(copy);
            if (_dirtyCount != 0) FlushVerdictCredits();
            return;
        }
        // The packet-out's own list goes on after this with the tunnel id it set (the nested run leaves 0).
        ulong tunnelId = TunnelId;
        Process(slot, one);
        TunnelId = tunnelId;
        if (_dirtyCount != 0) FlushVerdictCredits(); // the control forwarder never polls: credit at once
    }

    /// <summary>
    /// A packet-out is running on this (the control) forwarder: its outputs to the controller, and those of the flows its
    /// output to the table reaches, are <see cref="UpcallReason.PacketOut"/>'s.
    /// </summary>
    internal bool InPacketOut;

    /// <summary>Control path: executes <paramref name="actions"/> on one frame (packet-out). Caller serialises.</summary>
    internal void ExecutePacketOut(ReadOnlySpan<byte> frame, ushort inPort, FlowActions actions)
    {
        PortCounters.EnterThread(_dp, _portSlot);   // the control path's: the ports' shared slots, atomically
        _now = _dp.Clock.NowNanos;
        Executor.BurstNanos = _now;
        int p = Pool.Alloc();
        if (p < 0)
        {
            Drops.Add(DropReason.PoolExhausted);
            return;
        }
        if (!Pool.Write(p, frame))
        {
            Pool.Release(p);
            Drops.Add(DropReason.TooBig);
            return;
        }
        Pool.InPort[p] = inPort;
        if ((BurstMirrors = _dp.Mirrors) is not null) Output.MirrorFresh(p);
        PacketParser.Parse(Pool.Frame(p), inPort, out var key, out _packetOutLayers[0]);
        var sink = new OutputStage.Sink(Output, true);
        var one = new Span<int>(ref p);
        Executor.GroupsVersion = _dp.Pipeline.Versions.Current;
        InPacketOut = true;
        try
        {
            if (NeedsWalk(actions)) ExecutePacketOutWalk(key, actions, one, ref sink);
            else Executor.Execute(actions, Pool, one, _packetOutLayers, ref sink);
        }
        finally
        {
            InPacketOut = false;
            RunningVerdict = null;
        }
        TunnelId = 0;
        Pool.Release(p);
        Output.Flush();
    }

    /// <summary>Whether the list holds a resubmit or a load into a packet field (the walk composes them), or applies a group
    /// whose buckets hold one.</summary>
    private bool NeedsWalk(FlowActions actions)
    {
        var groups = _dp.Pipeline.Groups;
        foreach (ref readonly var a in actions.Items.AsSpan())
        {
            if (a.Kind is ActionKind.Resubmit or ActionKind.FieldLoad) return true;
            if (a.Kind == ActionKind.Group && groups is { AnyResubmit: true } && groups.TryGet(a.QueueId, out var g) && groups.ReachesResubmit(g)) return true;
        }
        return false;
    }

    /// <summary>
    /// A packet-out whose list holds a resubmit (Open vSwitch runs a packet-out's actions through the pipeline): the
    /// walk composes the list, each resubmit's lookup a visit (<see cref="PipelineWalk.RunPacketOut"/>), the composed
    /// list runs on the packet, and the rules the resubmits found are credited with it at once.
    /// </summary>
    private void ExecutePacketOutWalk(in FlowKey key, FlowActions actions, Span<int> one, ref OutputStage.Sink sink)
    {
        int p = one[0];
        _walk.RunPacketOut(_dp.Pipeline, key, actions, null, 0, PacketWords.Fields(Pool.Frame(p), _packetOutLayers[0]));
        var v = VerdictInterner.Build(_walk);
        Executor.GroupsVersion = _walk.Version; // the version the walk looked every stage up at
        long bytes = Pool.Length[p];
        RunningVerdict = v;
        bool cut = false;
        if (v.Actions.Items.Length != 0)
        {
            Executor.Execute(v.Actions, Pool, one, _packetOutLayers, ref sink);
            cut = Executor.CutDropped;
        }
        if (cut) PayStaged(v, 1, bytes);
        else Pend(v, 1, bytes);
        if (v.End == PipelineEnd.ResubmitDrop) Drops.Add(DropReason.Resubmit);
        if (_dirtyCount != 0) FlushVerdictCredits();
    }
}

/// <summary>How a <see cref="Forwarder"/> writes the counters of the rules its packets hit.</summary>
internal enum FlowCounting : byte
{
    /// <summary>The datapath's only forwarding thread: plain adds (no other thread writes those words).</summary>
    SoleWriter,
    /// <summary>
    /// One of several forwarding threads: plain adds to the rules this thread counted first (it owns their words),
    /// atomic adds to a side object for the others.
    /// </summary>
    Shared,
    /// <summary>The control path (packet-outs): through the rule's side counts, never the forwarding threads' words.</summary>
    Control,
}
