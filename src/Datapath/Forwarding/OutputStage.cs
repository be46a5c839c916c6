using System.Runtime.CompilerServices;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Forwarding;

/// <summary>
/// Step 5 of a <see cref="Forwarder"/>: where action outputs go. Per-port transmit queues (flushed with one
/// <see cref="IPort.Send"/> per port per burst), FLOOD/ALL, NORMAL (the L2 learning switch), packets for the controller,
/// virtual ports (<see cref="IEncapsulatingPort"/>, through an <see cref="OutputContext"/>), and the action <see cref="Sink"/> that turns output actions into all
/// of these.
/// </summary>
/// <remarks>
/// Owned by its forwarder's thread, like everything of the forwarder: no allocation per packet (queues grow when a port
/// is added, once). Its only locks are shared leaves: a shaped queue's per packet enqueued, the controller meter's per
/// packet to the controller, MAC learning's on a new address (docs/locking.md). Three verbs stage output: stage one
/// packet to a port the caller chose (<see cref="Stage(PortSlot, int, bool, uint, bool)"/>), stage many to an OpenFlow
/// port number (<see cref="Stage(ushort, ReadOnlySpan{int}, bool, uint)"/>), and <see cref="Flush"/>. A queued packet
/// holds a reference (or is a copy when a later action rewrites it) until the flush sends and releases it. Virtual ports
/// (through their <see cref="OutputContext"/>) and the tunnel receive path's ARP replies stage on these same queues.
/// </remarks>
public sealed partial class OutputStage
{
    private readonly Forwarder _f;
    private PacketPool _pool;

    // Transmit queues, one per port slot index (grown when ports are added).
    private int[][] _txq = [];
    private int[] _txCount = [];
    private PortSlot?[] _txSlot = [];
    private bool _txPending;

    internal OutputStage(Forwarder f)
    {
        _f = f;
        _pool = f.Pool;
    }

    internal void ToController(int p, UpcallReason reason, ushort maxLen, ulong userData = 0, uint userTag = 0, ulong metadata = 0)
    {
        if (_pool.OwesOffload(p))
        {
            // Each segment meets the controller meter as the packet-in it becomes.
            SegmentToController(p, reason, maxLen, userData, userTag, metadata);
            return;
        }
        if (_f.Owner.Meters.Controller is { } meter && !AdmitToController(meter, p)) return;
        if (reason == UpcallReason.Action && _f.InPacketOut) reason = UpcallReason.PacketOut;
        // The packet's tunnel id (OpenFlow 1.3.5 section 7.4.1 lists it with the metadata as the packet-in's context):
        // a set_tunnel's before this output, else the one it was received with.
        ulong tunnel = _f.TunnelId;
        if (tunnel == 0 && _f.TunnelRx) tunnel = _pool.TunId[p];
        var r = _f.Upcalls.TryEnqueue(_pool.Frame(p), _pool.InPort[p], reason, maxLen, _f.Now, _f.Owner.PacketInRatePerForwarder, _f.Owner.PacketInBurst,
                                      userData, userTag, metadata, tunnel);
        if (r is { } drop) _f.Drops.Add(drop);
    }

    /// <summary>
    /// The meter for packets to the controller (OFPM_CONTROLLER): false when its drop band takes the packet (counted);
    /// a DSCP-remark band remarks it.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool AdmitToController(Meters.Meter meter, int p)
    {
        int band = meter.MeasureOne(_pool.Length[p], _f.Owner.Meters.Clock.NowNanos);
        if (band < 0) return true;
        if (meter.Bands[band].Type == Meters.MeterBandType.Drop)
        {
            _f.Drops.Add(DropReason.ControllerMeter);
            return false;
        }
        PacketParser.Parse(_pool.Frame(p), _pool.InPort[p], out _, out var layers);
        ActionExecutor.RemarkDscp(_pool.Frame(p), layers, meter.Bands[band].PrecLevel);
        return true;
    }

    /// <summary>
    /// OFPP_NORMAL: an L2 learning switch over all ports, the local port included (flood unknown and multicast destinations). With
    /// <paramref name="copy"/> (a later action rewrites the packet) every output is a copy, so NORMAL sends the
    /// packet as it was. Addresses are learned only on ports that exist (never on CONTROLLER, NONE, or LOCAL
    /// without a LOCAL port): a packet-out from the controller must not move a host. Addresses are learned per VLAN;
    /// while a port has a VLAN membership (<see cref="PortVlan"/>) or is a bond member, or there are port mirrors,
    /// <see cref="NormalVlan"/> does the work.
    /// </summary>
    internal void Normal(ReadOnlySpan<int> pkts, bool copy)
    {
        if (_f.Owner.NormalSlowPath || _f.BurstMirrors is not null)
        {
            NormalVlan(pkts, copy);
            return;
        }
        var mac = _f.Owner.MacTable;
        var ports = _f.Owner.Ports;
        foreach (int p in pkts)
        {
            var f = _pool.Frame(p);
            if (f.Length < 14)
            {
                _f.Drops.Add(DropReason.NormalRunt);
                continue;
            }
            ushort vlan = 0;
            if (f.Length >= 18 && f[12] == 0x81 && f[13] == 0x00) vlan = (ushort)(((f[14] << 8) | f[15]) & 0x0FFF);
            ushort inPort = _pool.InPort[p];
            if (ports.Get(inPort) is not null && !mac.Learn(MacAddress.Read(f[6..]), vlan, inPort, _f.Now)) _f.Counters.Add(DatapathCounters.MacTableFull);
            ushort outPort = mac.Lookup(MacAddress.Read(f), vlan, _f.Now);
            if (outPort == PortNumber.None)
            {
                Flood(p, inPort, true, copy);
                continue;
            }
            if (outPort == inPort)
            {
                _f.Drops.Add(DropReason.NormalToInPort);
                continue;
            }
            Stage(outPort, new ReadOnlySpan<int>(in p), copy);
        }
    }

    /// <summary>FLOOD (<paramref name="respectNoFlood"/>) and ALL: every port of the switch, the local port included, but the
    /// input port.</summary>
    private void Flood(int p, ushort inPort, bool respectNoFlood, bool copy)
    {
        var ports = _f.Owner.Ports.WithLocal;
        foreach (var s in ports)
        {
            if (s.No == inPort) continue;
            // A port the spanning tree keeps from forwarding is left out of FLOOD and ALL alike.
            if ((s.Config & (respectNoFlood ? PortConfig.NoFlood | PortConfig.StpNoForward : PortConfig.StpNoForward)) != 0) continue;
            Stage(s, p, copy);
        }
    }

    /// <summary>
    /// Stage many: queues <paramref name="pkts"/> for OpenFlow port number <paramref name="port"/> (a packet that came in
    /// on it is dropped, output-to-in-port; a number without a port, no-such-port). To a plain port (see
    /// <see cref="PlainSlot"/>) with nothing to copy or count per queue, a packet goes straight into its transmit queue
    /// (a flow's <see cref="FlowActions.SoleOutput"/>, NORMAL's learned port) and a batch as a block; otherwise each
    /// packet takes <see cref="Stage(PortSlot, int, bool, uint, bool)"/>'s checks, with what is the same for the whole batch
    /// decided once.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Stage(ushort port, ReadOnlySpan<int> pkts, bool copy = false, uint queueId = ActionExecutor.NoQueue)
    {
        var slot = copy || queueId != ActionExecutor.NoQueue ? null : PlainSlot(port);
        if (slot is not null && pkts.Length == 1)
        {
            int p = pkts[0];
            if (!_pool.IsLarge(p) && _pool.InPort[p] != port)
            {
                _pool.AddRef(p);
                Enqueue(slot.Index, slot, p);
                return;
            }
        }
        ToNumberedPort(port, slot, pkts, copy, queueId);
    }

    /// <summary><see cref="Stage(ushort, ReadOnlySpan{int}, bool, uint)"/> past its one-packet case; <paramref name="plain"/>
    /// is the port's slot when it is plain and nothing is copied or counted per queue, else null.</summary>
    private void ToNumberedPort(ushort port, PortSlot? plain, ReadOnlySpan<int> pkts, bool copy, uint queueId)
    {
        var inPorts = _pool.InPort;
        if (plain is null)
        {
            var slot = _f.Owner.Ports.Get(port);
            foreach (int p in pkts)
            {
                if (inPorts[p] == port) _f.Drops.Add(DropReason.OutputToInPort);
                else if (slot is null) _f.Drops.Add(DropReason.NoSuchPort);
                else Stage(slot, p, copy, queueId);
            }
            return;
        }
        // The usual batch (no packet from this port, none a super-frame): referenced, then copied into the queue whole.
        int q = plain.Index;
        bool whole = true;
        foreach (int p in pkts)
        {
            if (inPorts[p] == port || _pool.IsLarge(p))
            {
                whole = false;
                break;
            }
        }
        if (whole)
        {
            foreach (int p in pkts) _pool.AddRef(p);
            EnqueueAll(q, plain, pkts);
            return;
        }
        foreach (int p in pkts)
        {
            if (inPorts[p] == port)
            {
                _f.Drops.Add(DropReason.OutputToInPort);
                continue;
            }
            if (_pool.IsLarge(p))
            {
                Stage(plain, p);
                continue;
            }
            _pool.AddRef(p);
            Enqueue(q, plain, p);
        }
    }

    /// <summary><see cref="Enqueue"/> for every packet of <paramref name="pkts"/> (referenced already), a block copy per queue fill.</summary>
    private void EnqueueAll(int q, PortSlot slot, ReadOnlySpan<int> pkts)
    {
        if (!ReferenceEquals(_txSlot[q], slot)) _txSlot[q] = slot;
        var queue = _txq[q];
        _txPending = true;
        while (!pkts.IsEmpty)
        {
            int count = _txCount[q];
            int take = Math.Min(queue.Length - count, pkts.Length);
            pkts[..take].CopyTo(queue.AsSpan(count));
            pkts = pkts[take..];
            if ((_txCount[q] = count + take) == queue.Length) FlushQueue(q);
        }
    }

    // The ports PlainSlot resolved (direct-mapped by number; an entry holds while no port's state changed since, see
    // PortSlot.StateVersion): a plain port's slot, checked once per change instead of once per batch or packet.
    private const int PlainWays = 8;
    private readonly PortSlot?[] _plainSlot = new PortSlot?[PlainWays];
    private readonly ushort[] _plainPort = new ushort[PlainWays];
    private readonly long[] _plainStamp = new long[PlainWays];

    /// <summary>
    /// The slot of port <paramref name="port"/> when it is a plain port (up, forwarding, not shaped, not virtual, no
    /// mirror selects what it sends; its transmit queue exists), or null: its packets take <see cref="Stage(PortSlot, int, bool, uint, bool)"/>'s checks.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private PortSlot? PlainSlot(ushort port)
    {
        int w = port & (PlainWays - 1);
        long version = PortSlot.StateVersion;
        return _plainPort[w] == port && _plainStamp[w] == version ? _plainSlot[w] : ResolvePlain(port, w, version);
    }

    /// <summary>Resolves <paramref name="port"/> for <see cref="PlainSlot"/> as of <paramref name="version"/> (read before the slot's state).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private PortSlot? ResolvePlain(ushort port, int w, long version)
    {
        var slot = _f.Owner.Ports.Get(port);
        if (slot is null || (slot.Config & (PortConfig.PortDown | PortConfig.NoFwd | PortConfig.StpNoForward)) != 0 || _f.Owner.PortQos.ShaperOf(slot) is not null || slot.Encapsulating is not null
            || slot.MirrorDst != 0)
        {
            slot = null;
        }
        else if ((uint)slot.Index >= (uint)_txq.Length)
        {
            GrowTx(slot.Index);
        }
        _plainSlot[w] = slot;
        _plainPort[w] = port;
        _plainStamp[w] = version;
        return slot;
    }

    /// <summary>A port the spanning tree keeps from forwarding still sends the bridge's own BPDUs (to
    /// 01:80:c2:00:00:00) while it listens or learns (a designated port's, a root port's TCN), as Open vSwitch's
    /// stp_should_forward_bpdu; only the gate is waived, never PORT_DOWN or NO_FWD.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool SpanningTreeMayPass(PortSlot slot, PortConfig config, int p)
    {
        if ((config & (PortConfig.PortDown | PortConfig.NoFwd)) != 0 || slot.Stp is not (PortStpState.Listening or PortStpState.Learning)) return false;
        var f = _pool.Frame(p);
        return f.Length >= 6 && f[0] == 0x01 && f[1] == 0x80 && f[2] == 0xC2 && f[3] == 0 && f[4] == 0 && f[5] == 0;
    }

    /// <summary>
    /// Stage one: queues packet <paramref name="p"/> for <paramref name="slot"/>'s port, which the caller chose (no
    /// in_port check: IN_PORT, FLOOD, NORMAL and a virtual port's underlay pick their ports themselves). The mirrors that
    /// select what the port sends copy it first, unless <paramref name="mirrored"/> (a mirror's own copy, a segment of a
    /// super-frame they had). Then the port's gates (down, no-fwd, a spanning tree's) drop it, counted; a super-frame the
    /// port cannot take whole is cut into segments, each staged here; a virtual port encapsulates it; a shaped port's
    /// queue takes a copy; else the transmit queue takes a reference, or a copy when <paramref name="copy"/> (a later
    /// action rewrites the packet), counted on queue <paramref name="queueId"/> (ENQUEUE).
    /// </summary>
    internal void Stage(PortSlot slot, int p, bool copy = false, uint queueId = ActionExecutor.NoQueue, bool mirrored = false)
    {
        // A port that mirrors select for what it sends is never a plain port (PlainSlot): its packets all pass here.
        if (slot.MirrorDst != 0 && !mirrored && _f.BurstMirrors is { } mirrors) MirrorEgress(mirrors, slot, p);
        var config = slot.Config;
        if ((config & (PortConfig.PortDown | PortConfig.NoFwd | PortConfig.StpNoForward)) != 0 && !SpanningTreeMayPass(slot, config, p))
        {
            _f.Drops.Add((config & PortConfig.PortDown) != 0 ? DropReason.PortDown
                : (config & PortConfig.NoFwd) != 0 ? DropReason.NoFwd : DropReason.StpNotForwarding);
            return;
        }
        var shaper = _f.Owner.PortQos.ShaperOf(slot);
        if (_pool.IsLarge(p) && _pool.OwesOffload(p))
        {
            if (!slot.AcceptsOffload || shaper is not null)
            {
                SegmentTo(slot, p, queueId);
                return;
            }
            if (copy)
            {
                // A later action rewrites the frame: this output gets a copy, whole if a large buffer is free, else cut.
                int c = _pool.Clone(p);
                if (c < 0)
                {
                    SegmentTo(slot, p, queueId);
                    return;
                }
                p = c;
            }
            if (!SoftwareOffload.RefreshPartial(_pool.Frame(p), ref _pool.OffloadOf(p)))
            {
                // A rewrite left the frame unlike its offload request: finish it here instead.
                SegmentTo(slot, p, queueId);
                if (copy) _pool.Release(p);
                return;
            }
            _f.Counters.Add(DatapathCounters.GsoHandedOn);
            if (copy)
            {
                Queue(slot, p, queueId);   // the clone's reference goes to the queue
                return;
            }
        }
        if (slot.Encapsulating is { } virtualPort)
        {
            virtualPort.Encapsulate(new OutputContext(this, virtualPort, _f.TunnelId), p);
            return;
        }
        if (shaper is not null)
        {
            Shape(slot, shaper, p, queueId);
            return;
        }
        int buf;
        if (copy)
        {
            buf = _pool.Clone(p);
            if (buf < 0)
            {
                _f.Drops.Add(DropReason.PoolExhausted);
                return;
            }
        }
        else
        {
            _pool.AddRef(p);
            buf = p;
        }
        Queue(slot, buf, queueId);
    }

    /// <summary>
    /// A shaped port: a copy of the packet waits in its egress queue (queue 0 for none or one not configured) for the
    /// datapath's <see cref="Qos.QosScheduler"/>, which counts it when it leaves; a full queue drops it (counted as the
    /// queue's tx_errors).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Shape(PortSlot slot, Qos.PortShaper shaper, int p, uint queueId)
    {
        var q = shaper.QueueFor(queueId);
        if (q.TryEnqueue(_pool.Frame(p), out bool wasEmpty))
        {
            if (wasEmpty) _f.Owner.Qos.Kick();
            return;
        }
        _f.Drops.Add(DropReason.QueueFull);
        if (q.Id < (uint)slot.Queues.Length) Interlocked.Increment(ref slot.Queues[q.Id].TxErrors);
    }

    /// <summary>Queues <paramref name="buf"/> (its reference passes to the queue) on a port without virtual-port seam,
    /// counted on its queue <paramref name="queueId"/> (the packet counts a queue's statistics take when it is sent).</summary>
    private void Queue(PortSlot slot, int buf, uint queueId)
    {
        int q = slot.Index;
        if ((uint)q >= (uint)_txq.Length) GrowTx(q);
        if (queueId != ActionExecutor.NoQueue)
        {
            var queues = slot.Queues;
            if (queueId < (uint)queues.Length)
            {
                Interlocked.Increment(ref queues[queueId].TxPackets);
                Interlocked.Add(ref queues[queueId].TxBytes, _pool.Length[buf]);
            }
        }
        Enqueue(q, slot, buf);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Enqueue(int q, PortSlot slot, int buf)
    {
        if (!ReferenceEquals(_txSlot[q], slot)) _txSlot[q] = slot; // the same slot almost always: no write barrier per packet
        var queue = _txq[q];
        queue[_txCount[q]++] = buf;
        _txPending = true;
        if (_txCount[q] == queue.Length) FlushQueue(q);
    }

    /// <summary>
    /// Output of a super-frame to a port that cannot take it whole (or a virtual port): cuts it into small buffers,
    /// each staged as a packet of its own. The super-frame itself is left as it was (later actions may rewrite it).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void SegmentTo(PortSlot slot, int p, uint queueId)
    {
        if (!StartSegments(p, out var cursor)) return;
        var frame = _pool.Frame(p);
        while (cursor.Active)
        {
            int s = NextSegment(p, frame, ref cursor);
            if (s < 0) return;
            Stage(slot, s, false, queueId, mirrored: true);   // the egress mirrors had the super-frame already
            _pool.Release(s);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void SegmentToController(int p, UpcallReason reason, ushort maxLen, ulong userData, uint userTag, ulong metadata)
    {
        if (!StartSegments(p, out var cursor)) return;
        var frame = _pool.Frame(p);
        while (cursor.Active)
        {
            int s = NextSegment(p, frame, ref cursor);
            if (s < 0) return;
            _pool.TunId[s] = _pool.TunId[p];
            _pool.TunIp[s] = _pool.TunIp[p];
            ToController(s, reason, maxLen, userData, userTag, metadata);
            _pool.Release(s);
        }
    }

    private bool StartSegments(int p, out SoftwareOffload.Cursor cursor)
    {
        ref var o = ref _pool.OffloadOf(p);
        if (SoftwareOffload.Start(_pool.Frame(p), o.GsoType, o.GsoSize, out cursor) != GsoRefusal.None)
        {
            _f.Drops.Add(DropReason.GsoRefused);
            return false;
        }
        _f.Counters.Add(DatapathCounters.GsoSegmented);
        return true;
    }

    /// <summary>The next segment in a fresh small buffer (refcount 1), or -1 (counted) when the pool is dry or it does not fit.</summary>
    private int NextSegment(int p, ReadOnlySpan<byte> frame, ref SoftwareOffload.Cursor cursor)
    {
        int s = _pool.Alloc();
        if (s < 0)
        {
            _f.Drops.Add(DropReason.PoolExhausted);
            return -1;
        }
        int len = SoftwareOffload.Next(frame, ref cursor, _pool.Tail(s));
        if (len <= 0)
        {
            _pool.Release(s);
            _f.Drops.Add(DropReason.TooBig);
            return -1;
        }
        _pool.Length[s] = (ushort)len;
        _pool.InPort[s] = _pool.InPort[p];
        _f.Counters.Add(DatapathCounters.GsoSegments);
        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void GrowTx(int index)
    {
        int need = Math.Max(index + 1, _f.Owner.PortIndexCount);
        var q = new int[need][];
        var c = new int[need];
        var s = new PortSlot?[need];
        // Two bursts deep: a burst's packets to one port wait for the flush, after the burst dropped its own references,
        // so a port that sends from the buffer itself (AF_XDP over the packet arena) finds it unshared; a queue fills
        // mid-burst, and is sent while the burst still holds its packets, only when they go to one port more than twice.
        for (int i = 0; i < need; i++) q[i] = i < _txq.Length ? _txq[i] : new int[2 * Burst.Size];
        Array.Copy(_txCount, c, _txCount.Length);
        Array.Copy(_txSlot, s, _txSlot.Length);
        _txq = q;
        _txCount = c;
        _txSlot = s;
    }

    internal PacketPool Pool => _pool;

    /// <summary>The forwarder's pool from now on (<see cref="Forwarder.UseArena"/>; called by its thread between bursts,
    /// with no packet staged). The mirrors' marks, one per buffer index, are made anew at the next burst with mirrors.</summary>
    internal void UsePool(PacketPool pool)
    {
        _pool = pool;
        _mirrorSeen = [];
    }
    internal long NowNanos => _f.Owner.Clock.NowNanos;
    internal PortSlot? PortOf(ushort number) => number <= PortNumber.Highest ? _f.Owner.Ports.Get(number) : null;

    // A virtual port's transmit counts, summed per run of packets to one port and handed over when that run ends.
    private IEncapsulatingPort? _txVirtual;
    private long _txVirtualPackets, _txVirtualBytes;

    internal void CountVirtualTx(IEncapsulatingPort port, int bytes)
    {
        if (!ReferenceEquals(port, _txVirtual))
        {
            FlushVirtualTx();
            _txVirtual = port;
        }
        _txVirtualPackets++;
        _txVirtualBytes += bytes;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void FlushVirtualTx()
    {
        if (_txVirtual is not null) FlushVirtualTxSlow();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void FlushVirtualTxSlow()
    {
        _txVirtual!.CountTx(_txVirtualPackets, _txVirtualBytes);
        _txVirtual = null;
        _txVirtualPackets = 0;
        _txVirtualBytes = 0;
    }

    /// <summary>Flush: sends every transmit queue's packets (one <see cref="IPort.Send"/> per port) and releases them, and
    /// hands the virtual ports their transmit counts. The end of every burst, and of a packet-out.</summary>
    internal void Flush()
    {
        FlushVirtualTx();
        if (!_txPending) return;
        for (int q = 0; q < _txq.Length; q++)
            if (_txCount[q] > 0) FlushQueue(q);
        _txPending = false;
    }

    private void FlushQueue(int q)
    {
        var slot = _txSlot[q]!;
        var pkts = _txq[q].AsSpan(0, _txCount[q]);
        if (_f.Owner.Tap is { } tap && slot.LinkUp) tap.Sent(_f, slot, pkts);
        if (!slot.LinkUp) _f.Drops.Add(DropReason.LinkDown, pkts.Length);
        else slot.Port.Send(_pool, pkts);
        _pool.Release(pkts);
        _txCount[q] = 0;
    }

    /// <summary>The action sink: turns output actions into transmit-queue entries, upcalls and NORMAL.</summary>
    internal struct Sink : IActionSink
    {
        private readonly OutputStage _out;
        private readonly bool _packetOut;

        public Sink(OutputStage output, bool packetOut)
        {
            _out = output;
            _packetOut = packetOut;
        }

        public readonly void SetTunnel(ulong tunnelId) => _out._f.TunnelId = tunnelId;

        public readonly void Learn(int templateId, ReadOnlySpan<FlowAction> values, LearnState state) => _out._f.PostLearn(templateId, values, state);

        public readonly void FinTimeout(int visit, ushort idle, ushort hard) => _out._f.PostFinTimeout(visit, idle, hard);

        public readonly void Sample(in FlowAction sample, PacketPool pool, ReadOnlySpan<int> pkts)
        {
            if (_out._f.Owner.FlowSampling) _out._f.FlowSampler.Take(sample, pool, pkts);
        }

        public readonly void InvalidTtl(ReadOnlySpan<int> pkts, ushort controllerId)
        {
            ulong metadata = _out._f.Executor.PacketInMetadata;
            // The controller id rides in the upcall's user tag (an invalid-TTL upcall carries no other).
            foreach (int p in pkts) _out.ToController(p, UpcallReason.InvalidTtl, 0xFFFF, userTag: controllerId, metadata: metadata);
        }

        public readonly void ToController(ushort maxLen, uint queueId, bool modifiedAfter, ulong userData, uint userTag, ReadOnlySpan<int> pkts)
        {
            ulong metadata = _out._f.Executor.PacketInMetadata;
            foreach (int p in pkts) _out.ToController(p, UpcallReason.Action, maxLen, userData, userTag, metadata);
        }

        public readonly void Output(ushort port, ushort maxLen, uint queueId, bool modifiedAfter, ReadOnlySpan<int> pkts)
        {
            var f = _out;
            switch (port)
            {
                case PortNumber.InPort:
                    foreach (int p in pkts)
                    {
                        var slot = f._f.Owner.Ports.Get(f._pool.InPort[p]);
                        if (slot is null) f._f.Drops.Add(DropReason.NoSuchPort);
                        else f.Stage(slot, p, modifiedAfter, queueId);
                    }
                    return;
                case PortNumber.Flood:
                case PortNumber.All:
                    foreach (int p in pkts) f.Flood(p, f._pool.InPort[p], port == PortNumber.Flood, modifiedAfter);
                    return;
                case PortNumber.Controller:
                    foreach (int p in pkts) f.ToController(p, UpcallReason.Action, maxLen);
                    return;
                case PortNumber.Normal:
                    f.Normal(pkts, modifiedAfter);
                    return;
                case PortNumber.Table:
                    if (!_packetOut) f._f.Drops.Add(DropReason.TableInFlow, pkts.Length);
                    else foreach (int p in pkts) f._f.ResubmitToTable(p);
                    return;
                case PortNumber.None:
                    return;
                default:
                    f.Stage(port, pkts, modifiedAfter, queueId);
                    return;
            }
        }
    }
}
