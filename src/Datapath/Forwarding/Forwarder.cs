using System.Runtime.CompilerServices;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Tunnels;

namespace Softswitch.Datapath.Forwarding;

/// <summary>
/// One forwarding context: a poll thread's (or the control path's) packet pool, exact-match cache, burst
/// arrays, per-port transmit queues and counters.
/// </summary>
/// <remarks>
/// <para><b>Pipeline</b> (ovs dp_netdev_pmd_thread): a burst of up to 32 packets goes (1) receive, (2) parse into
/// flow keys, (3) classify (EMC, exact, tuple space), (4) group by flow and run each flow-batch's actions once,
/// (5) output: per-port transmit queues, flushed with one Send per port per burst. Nothing here takes a lock or
/// allocates per packet. Output shares the buffer (refcount) unless a later action rewrites it, in which case it
/// sends a copy. All state is owned by one thread; counters (<see cref="Counters"/>) are read racily (monotonic
/// longs) by the statistics code. Virtual ports (tunnels) plug in through <see cref="IEncapsulatingPort"/> on the
/// port slot: the output step hands them each packet instead of queueing it.</para>
/// <para><b>Re-entrancy</b> (the pipeline calls itself on one thread, in two places; the burst arrays, batch arrays
/// and transmit queues are shared by the nested calls):</para>
/// <list type="bullet">
/// <item>Tunnel sub-bursts: a burst from an underlay port is decapsulated in step 1 (<c>TunnelPath.Receive</c>), and
/// each tunnel's inner packets run the whole pipeline through <c>Process(slot, pkts, tunIds)</c> before the outer call
/// parses anything: the outer call touches the burst arrays only after the nested calls have returned, and the packets
/// it keeps are in the span <c>Receive</c> hands back. Nested calls stage output on the shared queues and flush them;
/// decapsulated packets never reach an underlay's decapsulation again in the same call (they arrive on the tunnel
/// port's slot).</item>
/// <item>Packet-out with OFPP_TABLE (control forwarder, under <c>SwitchDatapath</c>'s control lock): the action run of
/// <see cref="ExecutePacketOut"/> calls back into <c>Process</c> (or classification, for in_port NONE/CONTROLLER) from
/// inside the executor; the packet-out keeps its own one-packet layer array and span, so the nested pipeline may use
/// every burst array. A flow's actions may not use TABLE (counted as <c>drop-table-in-flow</c>), so this nests once.</item>
/// <item>Tunnel output: the output step calls the virtual port, which stages the encapsulated copy on its underlay's
/// queue (<c>StageTxSlot</c> again, one level: an underlay is never itself virtual).</item>
/// </list>
/// <para><b>Lock order of the whole switch</b> (a thread holding one may take only those after it):
/// agent connection list → <c>SwitchDatapath</c> control lock (packet-out; the control forwarder runs under it) →
/// flow table writer lock (flow-mods, expiry, queries) → offload manager's queue gate (its observer only appends). The
/// offload manager's placement lock (worker and maintenance) → its queue gate, and → the target's own lock (driver,
/// board emulator, dummy); it is never held while taking the flow table's writer lock. <c>SwitchDatapath</c>'s port
/// lock → tunnel registry lock; a tunnel port's lock (ARP and hold queue) is a leaf taken from forwarding threads.
/// The counter registry's locks (definitions, group membership) are leaves. Forwarding threads take none of these on
/// the packet path except the tunnel port's, on a next-hop miss.</para>
/// </remarks>
public sealed class Forwarder
{
    private readonly SwitchDatapath _dp;
    internal SwitchDatapath Owner => _dp;
    public readonly PacketPool Pool;
    public readonly ExactMatchCache? Cache;
    public readonly FlowTableThreadStats TableStats;
    /// <summary>This thread's slots of the switch's counter registry (no atomics; summed by <see cref="SwitchDatapath.Counters"/>).</summary>
    public readonly CounterSet Counters;
    public readonly ParseCounters ParseErrors;
    public readonly DropCounters Drops;
    public readonly UpcallRing Upcalls;
    public readonly ActionExecutor Executor;
    /// <summary>Tunnel id set by the running action list (set_tunnel), used by tunnel ports on output.</summary>
    internal ulong TunnelId;
    /// <summary>Tunnel encapsulation on output and decapsulation on underlay receive.</summary>
    private readonly TunnelPath _tunnels;
    /// <summary>This forwarder's tunnel path (virtual tunnel ports encapsulate through it).</summary>
    internal TunnelPath TunnelPath => _tunnels;
    public long Packets, Bursts, Misses;

    // Burst state (parallel arrays indexed by position in the burst).
    private readonly int[] _pkts = new int[Burst.Size];
    private readonly FlowKey[] _keys = new FlowKey[Burst.Size];
    private readonly uint[] _hashes = new uint[Burst.Size];
    private readonly PacketLayers[] _layers = new PacketLayers[Burst.Size];
    private readonly FlowEntry?[] _entries = new FlowEntry?[Burst.Size];
    private readonly byte[] _valid = new byte[Burst.Size];

    // Flow batches: packets grouped by the flow they matched.
    private readonly FlowEntry[] _batchFlow = new FlowEntry[Burst.Size];
    private readonly int[] _batchCount = new int[Burst.Size];
    private readonly int[] _batchPkts = new int[Burst.Size * Burst.Size];
    private readonly PacketLayers[] _batchLayers = new PacketLayers[Burst.Size * Burst.Size];
    private readonly int[] _missPkts = new int[Burst.Size];
    private readonly PacketLayers[] _missLayers = new PacketLayers[Burst.Size];

    // Transmit queues, one per port slot index (grown when ports are added).
    private int[][] _txq = [];
    private int[] _txCount = [];
    private PortSlot?[] _txSlot = [];
    private bool _txPending;
    private readonly PacketLayers[] _packetOutLayers = new PacketLayers[1];
    private long _now;

    internal Forwarder(SwitchDatapath dp, int poolSize, int emcEntries, int upcallSlots)
    {
        _dp = dp;
        Counters = dp.Counters.CreateSet();
        ParseErrors = new ParseCounters(Counters);
        Drops = new DropCounters(Counters);
        Executor = new ActionExecutor(Counters);
        Pool = new PacketPool(poolSize);
        Cache = emcEntries > 0 ? new ExactMatchCache(emcEntries) : null;
        TableStats = dp.Flows.CreateThreadStats();
        Upcalls = new UpcallRing(upcallSlots, Pool.MaxFrameSize, dp.UpcallSignal);
        _tunnels = new TunnelPath(this, dp.Tunnels);
    }

    internal long Now => _now;

    // Adaptive EMC: when the working set is much larger than the cache, probing it costs more than it saves
    // (every miss pays for the probe and an insertion attempt). The hit rate is sampled over windows and the
    // EMC is bypassed for EmcBypassPackets packets, then sampled again, when it falls below EmcMinHitRate, or
    // below EmcMinHitRateExact while nearly all packets are won by exact rules (whose table lookup costs about
    // what an EMC lookup does, so only a high hit rate pays for the cache).
    private const int EmcWindowPackets = 16_384, EmcBypassPackets = 262_144;
    private const double EmcMinHitRate = 0.5, EmcMinHitRateExact = 0.8, ExactDominated = 0.9;
    private long _emcBypass, _emcWindow, _emcWindowHits0, _emcWindowLookups0, _windowWildcardWins;

    /// <summary>Whether this burst consults the EMC (present and not bypassed for a low hit rate).</summary>
    public bool EmcActive => Cache is not null && _emcBypass == 0;
    /// <summary>Times the EMC was bypassed for a low hit rate (<c>emc-bypass</c>).</summary>
    public long EmcBypassCount => Counters[DatapathCounters.EmcBypass];

    private void SampleEmc(int n)
    {
        if ((_emcWindow += n) < EmcWindowPackets) return;
        var emc = Cache!;
        long hits = emc.Hits, lookups = emc.Hits + emc.Misses;
        long dh = hits - _emcWindowHits0, dl = lookups - _emcWindowLookups0;
        _emcWindowHits0 = hits;
        _emcWindowLookups0 = lookups;
        _emcWindow = 0;
        long wild = _windowWildcardWins;
        _windowWildcardWins = 0;
        double minRate = wild < dl * (1 - ExactDominated) ? EmcMinHitRateExact : EmcMinHitRate;
        if (dl > 0 && dh < dl * minRate)
        {
            _emcBypass = EmcBypassPackets;
            Counters.Add(DatapathCounters.EmcBypass);
        }
    }

    /// <summary>Receives one burst from <paramref name="slot"/> and forwards it; returns how many packets it took.</summary>
    public int Poll(PortSlot slot)
    {
        int n = slot.Port.Receive(Pool, _pkts);
        if (n <= 0) return 0;
        Process(slot, _pkts.AsSpan(0, n));
        return n;
    }

    /// <summary>Forwards packets already in <see cref="Pool"/> that arrived on <paramref name="slot"/>; releases them.</summary>
    public void Process(PortSlot slot, Span<int> pkts) => Process(slot, pkts, default);

    /// <summary>As <see cref="Process(PortSlot, Span{int})"/>; <paramref name="tunIds"/>[i] is the tun_id of pkts[i] (empty: all 0).</summary>
    [SkipLocalsInit]
    internal void Process(PortSlot slot, Span<int> pkts, ReadOnlySpan<ulong> tunIds)
    {
        int n = pkts.Length;
        _now = _dp.Clock.NowNanos;
        if (tunIds.IsEmpty) // decapsulated sub-bursts were counted with their underlay burst
        {
            Bursts++;
            Packets += n;
        }
        var config = slot.Config;
        if ((config & (PortConfig.PortDown | PortConfig.NoRecv | PortConfig.NoRecvStp)) != 0)
        {
            if ((config & PortConfig.PortDown) != 0)
            {
                Drops.Add(DropReason.PortDown, n);
                Pool.Release(pkts);
                return;
            }
            pkts = FilterNoRecv(pkts, config);
            n = pkts.Length;
            if (n == 0) return;
        }

        if (_tunnels.UnderlayOf(slot) is { } underlay)
        {
            pkts = _tunnels.Receive(underlay, slot, pkts);
            n = pkts.Length;
            if (n == 0)
            {
                FlushTx();
                return;
            }
        }

        ushort inPort = slot.No;
        bool dropFrags = _dp.FragmentMode == FragmentMode.Drop;
        var keys = _keys.AsSpan(0, n);
        var hashes = _hashes.AsSpan(0, n);
        var layers = _layers.AsSpan(0, n);
        int kept = 0;
        for (int i = 0; i < n; i++)
        {
            int p = pkts[i];
            Pool.InPort[p] = inPort;
            var err = PacketParser.Parse(Pool.Frame(p), inPort, out keys[kept], out layers[kept], tunIds.IsEmpty ? 0 : tunIds[i]);
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
        if (kept == 0) return;
        pkts = pkts[..kept];
        if (EmcActive)
            for (int i = 0; i < kept; i++) hashes[i] = keys[i].Hash();
        ClassifyAndExecute(pkts, keys[..kept], hashes[..kept], layers[..kept], slot);
        Pool.Release(pkts);
        FlushTx();
    }

    /// <summary>
    /// OFPPC_NO_RECV drops everything except 802.1D spanning-tree frames (to 01:80:c2:00:00:00), which
    /// OFPPC_NO_RECV_STP drops (OF1.0 5.2.1; as the reference switch), so a controller running spanning tree
    /// through PORT_MOD still hears BPDUs on blocked ports. Returns the packets that stay.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private Span<int> FilterNoRecv(Span<int> pkts, PortConfig config)
    {
        int kept = 0;
        foreach (int p in pkts)
        {
            var f = Pool.Frame(p);
            bool bpdu = f.Length >= 6 && f[0] == 0x01 && f[1] == 0x80 && f[2] == 0xC2 && f[3] == 0 && f[4] == 0 && f[5] == 0;
            var bit = bpdu ? PortConfig.NoRecvStp : PortConfig.NoRecv;
            if ((config & bit) != 0)
            {
                Drops.Add(bpdu ? DropReason.NoRecvStp : DropReason.NoRecv);
                Pool.Release(p);
                continue;
            }
            pkts[kept++] = p;
        }
        return pkts[..kept];
    }

    private void ClassifyAndExecute(Span<int> pkts, Span<FlowKey> keys, Span<uint> hashes, Span<PacketLayers> layers, PortSlot inSlot)
    {
        int n = pkts.Length;
        var entries = _entries.AsSpan(0, n);
        if (EmcActive)
        {
            _dp.Flows.LookupBurst(keys, hashes, entries, Cache, TableStats);
            SampleEmc(n);
        }
        else
        {
            _dp.Flows.LookupBurst(keys, hashes, entries, null, TableStats);
            if (Cache is not null && (_emcBypass -= n) <= 0) _emcBypass = 0;
        }

        // Group by flow (ovs packet_batch_per_flow) through a 64-slot open-addressing index keyed by the
        // entry's serial number: O(1) per packet however many flows the burst holds.
        Span<byte> index = stackalloc byte[64];
        index.Fill(0xFF);
        int batches = 0, misses = 0;
        for (int i = 0; i < n; i++)
        {
            var e = entries[i];
            if (e is null)
            {
                _missPkts[misses] = pkts[i];
                _missLayers[misses] = layers[i];
                misses++;
                continue;
            }
            _windowWildcardWins += e.TableId;
            int h = e.Serial & 63;
            int b;
            while (true)
            {
                b = index[h];
                if (b == 0xFF)
                {
                    b = batches++;
                    index[h] = (byte)b;
                    _batchFlow[b] = e;
                    _batchCount[b] = 0;
                    break;
                }
                if (ReferenceEquals(_batchFlow[b], e)) break;
                h = (h + 1) & 63;
            }
            int slotIdx = b * Burst.Size + _batchCount[b]++;
            _batchPkts[slotIdx] = pkts[i];
            _batchLayers[slotIdx] = layers[i];
        }

        // A burst spread over many flows (a large working set) would otherwise pay, per flow and one after the
        // other, a cache miss for the entry's counters, one for its action list and one for the list's items:
        // prefetch them for every batch first, one level per pass, so the misses overlap.
        if (batches > 2)
        {
            for (int b = 0; b < batches; b++) Prefetch.Object(_batchFlow[b], 3);
            for (int b = 0; b < batches; b++) Prefetch.Object(_batchFlow[b].Actions, 1);
            for (int b = 0; b < batches; b++) Prefetch.Object(_batchFlow[b].Actions.Items, 1);
        }

        for (int b = 0; b < batches; b++)
        {
            var e = _batchFlow[b];
            int count = _batchCount[b];
            var bp = _batchPkts.AsSpan(b * Burst.Size, count);
            long bytes = 0;
            foreach (int p in bp) bytes += Pool.Length[p];
            e.Hit(count, bytes, _now);
            var actions = e.Actions;
            if (actions.Items.Length == 0)
            {
                Drops.Add(DropReason.FlowDrop, count);
                continue;
            }
            TunnelId = 0;
            var sink = new Sink(this, false);
            Executor.Execute(actions, Pool, bp, _batchLayers.AsSpan(b * Burst.Size, count), ref sink);
        }
        for (int b = 0; b < batches; b++) _batchFlow[b] = null!;

        if (misses > 0)
        {
            Misses += misses;
            HandleMisses(_missPkts.AsSpan(0, misses), _missLayers.AsSpan(0, misses), inSlot);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void HandleMisses(Span<int> pkts, Span<PacketLayers> layers, PortSlot inSlot)
    {
        switch (_dp.MissBehavior)
        {
            case MissBehavior.Controller:
                if ((inSlot.Config & PortConfig.NoPacketIn) != 0)
                {
                    Drops.Add(DropReason.MissNoPacketIn, pkts.Length);
                    return;
                }
                foreach (int p in pkts) ToController(p, PacketInReason.NoMatch, 0xFFFF);
                return;
            case MissBehavior.Normal:
                Normal(pkts, false);
                return;
            default:
                Drops.Add(DropReason.MissSecure, pkts.Length);
                return;
        }
    }

    internal void ToController(int p, PacketInReason reason, ushort maxLen)
    {
        var r = Upcalls.TryEnqueue(Pool.Frame(p), Pool.InPort[p], reason, maxLen, _now, _dp.PacketInRatePerForwarder, _dp.PacketInBurst);
        if (r is { } drop) Drops.Add(drop);
    }

    /// <summary>
    /// OFPP_NORMAL: an L2 learning switch over all ports (flood unknown and multicast destinations). With
    /// <paramref name="copy"/> (a later action rewrites the packet) every output is a copy, so NORMAL sends the
    /// packet as it was. Addresses are learned only on ports that exist (never on CONTROLLER, NONE, or LOCAL
    /// without a LOCAL port): a packet-out from the controller must not move a host.
    /// </summary>
    internal void Normal(ReadOnlySpan<int> pkts, bool copy)
    {
        var mac = _dp.MacTable;
        var ports = _dp.Ports;
        foreach (int p in pkts)
        {
            var f = Pool.Frame(p);
            if (f.Length < 14)
            {
                Drops.Add(DropReason.NormalRunt);
                continue;
            }
            ushort vlan = 0;
            if (f.Length >= 18 && f[12] == 0x81 && f[13] == 0x00) vlan = (ushort)(((f[14] << 8) | f[15]) & 0x0FFF);
            ushort inPort = Pool.InPort[p];
            if (ports.Get(inPort) is not null && !mac.Learn(MacAddress.Read(f[6..]), vlan, inPort, _now)) Counters.Add(DatapathCounters.MacTableFull);
            ushort outPort = mac.Lookup(MacAddress.Read(f), vlan, _now);
            if (outPort == OfPort.None) Flood(p, inPort, true, copy);
            else if (outPort != inPort) StageTx(outPort, p, copy, inPort, uint.MaxValue);
        }
    }

    private void Flood(int p, ushort inPort, bool respectNoFlood, bool copy)
    {
        var ports = _dp.Ports.List;
        foreach (var s in ports)
        {
            if (s.No == inPort) continue;
            if (respectNoFlood && (s.Config & PortConfig.NoFlood) != 0) continue;
            StageTxSlot(s, p, copy, uint.MaxValue);
        }
    }

    /// <summary>Queues packet <paramref name="p"/> for port number <paramref name="port"/>.</summary>
    internal void StageTx(ushort port, int p, bool copy, ushort inPort, uint queueId)
    {
        if (port == inPort)
        {
            Drops.Add(DropReason.OutputToInPort);
            return;
        }
        var slot = _dp.Ports.Get(port);
        if (slot is null)
        {
            Drops.Add(DropReason.NoSuchPort);
            return;
        }
        StageTxSlot(slot, p, copy, queueId);
    }

    internal void StageTxSlot(PortSlot slot, int p, bool copy, uint queueId)
    {
        var config = slot.Config;
        if ((config & (PortConfig.PortDown | PortConfig.NoFwd)) != 0)
        {
            Drops.Add((config & PortConfig.PortDown) != 0 ? DropReason.PortDown : DropReason.NoFwd);
            return;
        }
        if (slot.Encapsulating is { } virtualPort)
        {
            virtualPort.Output(this, p);
            return;
        }
        int q = slot.Index;
        if ((uint)q >= (uint)_txq.Length) GrowTx(q);
        if (queueId != uint.MaxValue)
        {
            var queues = slot.Queues;
            if (queueId < (uint)queues.Length)
            {
                Interlocked.Increment(ref queues[queueId].TxPackets);
                Interlocked.Add(ref queues[queueId].TxBytes, Pool.Length[p]);
            }
        }
        int buf;
        if (copy)
        {
            buf = Pool.Clone(p);
            if (buf < 0)
            {
                Drops.Add(DropReason.PoolExhausted);
                return;
            }
        }
        else
        {
            Pool.AddRef(p);
            buf = p;
        }
        _txSlot[q] = slot;
        var queue = _txq[q];
        queue[_txCount[q]++] = buf;
        _txPending = true;
        if (_txCount[q] == queue.Length) FlushQueue(q);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void GrowTx(int index)
    {
        int need = Math.Max(index + 1, _dp.PortIndexCount);
        var q = new int[need][];
        var c = new int[need];
        var s = new PortSlot?[need];
        for (int i = 0; i < need; i++) q[i] = i < _txq.Length ? _txq[i] : new int[Burst.Size];
        Array.Copy(_txCount, c, _txCount.Length);
        Array.Copy(_txSlot, s, _txSlot.Length);
        _txq = q;
        _txCount = c;
        _txSlot = s;
    }

    internal void FlushTx()
    {
        _tunnels.FlushCounters();
        if (!_txPending) return;
        for (int q = 0; q < _txq.Length; q++)
            if (_txCount[q] > 0) FlushQueue(q);
        _txPending = false;
    }

    private void FlushQueue(int q)
    {
        var slot = _txSlot[q]!;
        var pkts = _txq[q].AsSpan(0, _txCount[q]);
        if (!slot.LinkUp) Drops.Add(DropReason.LinkDown, pkts.Length);
        else slot.Port.Send(Pool, pkts);
        Pool.Release(pkts);
        _txCount[q] = 0;
    }

    /// <summary>The action sink: turns output actions into transmit-queue entries, upcalls and NORMAL.</summary>
    internal struct Sink : IActionSink
    {
        private readonly Forwarder _f;
        private readonly bool _packetOut;

        public Sink(Forwarder f, bool packetOut)
        {
            _f = f;
            _packetOut = packetOut;
        }

        public readonly void SetTunnel(ulong tunnelId) => _f.TunnelId = tunnelId;

        public readonly void Output(ushort port, ushort maxLen, uint queueId, bool modifiedAfter, ReadOnlySpan<int> pkts)
        {
            var f = _f;
            switch (port)
            {
                case OfPort.InPort:
                    foreach (int p in pkts)
                    {
                        var slot = f._dp.Ports.Get(f.Pool.InPort[p]);
                        if (slot is null) f.Drops.Add(DropReason.NoSuchPort);
                        else f.StageTxSlot(slot, p, modifiedAfter, queueId);
                    }
                    return;
                case OfPort.Flood:
                case OfPort.All:
                    foreach (int p in pkts) f.Flood(p, f.Pool.InPort[p], port == OfPort.Flood, modifiedAfter);
                    return;
                case OfPort.Controller:
                    foreach (int p in pkts) f.ToController(p, PacketInReason.Action, maxLen);
                    return;
                case OfPort.Normal:
                    f.Normal(pkts, modifiedAfter);
                    return;
                case OfPort.Table:
                    if (!_packetOut) f.Drops.Add(DropReason.TableInFlow, pkts.Length);
                    else foreach (int p in pkts) f.ResubmitToTable(p);
                    return;
                case OfPort.None:
                    return;
                default:
                    foreach (int p in pkts) f.StageTx(port, p, modifiedAfter, f.Pool.InPort[p], queueId);
                    return;
            }
        }
    }

    /// <summary>OFPP_TABLE in a packet-out: run the packet through the flow table as if received on its in_port.</summary>
    private void ResubmitToTable(int p)
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
            ClassifyAndExecute(one, key, hashes, layers, _dp.ControlSlot);
            Pool.Release(copy);
            return;
        }
        Process(slot, one);
    }

    /// <summary>Control path: executes <paramref name="actions"/> on one frame (packet-out). Caller serialises.</summary>
    internal void ExecutePacketOut(ReadOnlySpan<byte> frame, ushort inPort, FlowActions actions)
    {
        _now = _dp.Clock.NowNanos;
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
        TunnelId = 0;
        PacketParser.Parse(Pool.Frame(p), inPort, out _, out _packetOutLayers[0]);
        var sink = new Sink(this, true);
        var one = new Span<int>(ref p);
        Executor.Execute(actions, Pool, one, _packetOutLayers, ref sink);
        Pool.Release(p);
        FlushTx();
    }
}
