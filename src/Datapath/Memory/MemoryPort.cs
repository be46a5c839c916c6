using System.Collections.Concurrent;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Memory;

/// <summary>Receives a frame a memory port sent (the simulated host or wire on the far side).</summary>
public delegate void FrameHandler(ReadOnlySpan<byte> frame);

/// <summary>
/// The datapath's in-memory port, for tests, benchmarks, the demo and a LOCAL port that has no tap device (ovs
/// lib/netdev-dummy.c in spirit: the datapath library ships its own test double of a port).
/// </summary>
/// <remarks>
/// Design: three ways to feed it. <see cref="Inject"/> queues copies of frames (tests, simulated hosts);
/// <see cref="SetGenerator"/> makes <see cref="Receive"/> produce frames from a fixed set forever, copying
/// each into a pool buffer as a NIC's DMA would (the pps harness: no allocation); and <see cref="Link"/>
/// wires two memory ports back to back. On send the port counts, then hands each frame to
/// <see cref="OnSend"/> (if set) and keeps a copy when <see cref="CaptureSent"/> is on.
/// Wake-up: <see cref="WaitFd"/> is an eventfd. <see cref="PrepareWait"/> drains it and arms the port; the next
/// <see cref="Inject"/> after arming disarms it and signals the eventfd (one write per sleep, not per frame). Inject
/// enqueues before it looks at the arm flag and PrepareWait arms before it looks at the queue, both with full
/// fences, so a frame injected while the receiver goes to sleep is either seen by PrepareWait or signalled.
/// Thread safety: Receive has one caller at a time; Send, Inject and the capture may be used from any thread.
/// </remarks>
public sealed class MemoryPort : IPort
{
    private readonly ConcurrentQueue<byte[]> _rx = new();
    private readonly List<byte[]> _captured = new();
    private byte[]? _gen;        // generator frames, back to back at a fixed stride
    private ushort[]? _genLength;
    private int _genStride, _genCount;
    private int _genNext;
    private long _genRemaining = long.MaxValue;
    private bool _linkUp = true;
    private int _eventFd = -1;
    private int _armed;

    public MemoryPort(string name, MacAddress mac, int mtu = 1500)
    {
        Info = new PortInfo(name, mac, Mtu: mtu);
        _eventFd = PortWaiter.NewEventFd();
    }

    /// <summary>Another receiver of <paramref name="parent"/> (see <see cref="SplitByFlowHash"/>): counts into its counters.</summary>
    private MemoryPort(MemoryPort parent, int index)
    {
        Info = parent.Info with { Name = $"{parent.Info.Name}.rx{index}" };
        Counters = parent.Counters;
        _eventFd = PortWaiter.NewEventFd();
    }

    /// <summary>
    /// With several forwarding threads, the datapath splits this port's receiving by flow hash (as AF_PACKET's fanout
    /// does): <see cref="OpenReceivers"/> gives one receiver per thread, and <see cref="SetGenerator"/> deals each
    /// receiver the generated frames whose flow hash falls to it. Set before the port is added.
    /// </summary>
    public bool SplitByFlowHash { get; init; }

    private MemoryPort[] _receivers = [];

    public IRxQueue[] OpenReceivers(int count)
    {
        if (!SplitByFlowHash || count < 2) return [this];
        var all = new MemoryPort[count];
        all[0] = this;
        for (int i = 1; i < count; i++) all[i] = new MemoryPort(this, i);
        _receivers = all;
        return [.. all];
    }

    public int WaitFd => _eventFd >= 0 ? _eventFd : PortWait.Unavailable;

    public bool PrepareWait()
    {
        if (_eventFd < 0) return true;
        PortWaiter.DrainEventFd(_eventFd);
        Interlocked.Exchange(ref _armed, 1);
        return !HasWork;
    }

    private bool HasWork => LinkUp && ((_gen is not null && _genRemaining > 0) || !_rx.IsEmpty);

    /// <summary>Wakes a receiver that armed this port (after frames were queued or generation was enabled).</summary>
    private void Signal()
    {
        if (Volatile.Read(ref _armed) != 0 && Interlocked.Exchange(ref _armed, 0) == 1 && _eventFd >= 0)
            PortWaiter.SignalEventFd(_eventFd);
    }

    public PortInfo Info { get; }
    public PortCounters Counters { get; } = new() { RxErrors = 0 }; // the one error counter this port keeps
    public bool LinkUp => Volatile.Read(ref _linkUp);
    public void SetLink(bool up)
    {
        Volatile.Write(ref _linkUp, up);
        if (up) Signal();
    }

    /// <summary>Called for every frame sent through this port (from the sending thread).</summary>
    public FrameHandler? OnSend { get; set; }
    /// <summary>Keep a copy of every sent frame (see <see cref="TakeSent"/>).</summary>
    public bool CaptureSent { get; set; }
    /// <summary>Frames sent through the far end of a <see cref="Link"/> arrive here.</summary>
    public MemoryPort? Peer { get; private set; }

    /// <summary>Queues a copy of <paramref name="frame"/> to be received.</summary>
    public void Inject(ReadOnlySpan<byte> frame)
    {
        _rx.Enqueue(frame.ToArray());
        Interlocked.MemoryBarrier();
        Signal();
    }

    public int PendingReceive => _rx.Count;

    /// <summary>Receive cycles through <paramref name="frames"/> (copied per packet into pool buffers), <paramref name="count"/> frames in all.</summary>
    public void SetGenerator(byte[][]? frames, long count = long.MaxValue)
    {
        var receivers = _receivers;
        if (receivers.Length > 1 && frames is not null)
        {
            // Split by flow hash: receiver i generates the frames whose key hashes to i (each its share of count).
            var parts = new List<byte[]>[receivers.Length];
            for (int i = 0; i < parts.Length; i++) parts[i] = [];
            foreach (var f in frames)
            {
                PacketParser.Parse(f, 0, out var key, out _);
                parts[(int)(key.Hash() % (uint)parts.Length)].Add(f);
            }
            for (int i = 1; i < receivers.Length; i++) receivers[i].SetGeneratorOne([.. parts[i]], count == long.MaxValue ? count : count / receivers.Length);
            SetGeneratorOne([.. parts[0]], count == long.MaxValue ? count : count - count / receivers.Length * (receivers.Length - 1));
            return;
        }
        SetGeneratorOne(frames, count);
    }

    private void SetGeneratorOne(byte[][]? frames, long count)
    {
        _gen = null;
        _genNext = 0;
        _genRemaining = count;
        if (frames is null || frames.Length == 0) return;
        // Lay the frames out back to back (like a NIC's descriptor ring) so generation streams through memory.
        int stride = 64;
        foreach (var f in frames) while (stride < f.Length) stride *= 2;
        var all = GC.AllocateUninitializedArray<byte>(stride * frames.Length);
        var len = new ushort[frames.Length];
        for (int i = 0; i < frames.Length; i++)
        {
            frames[i].CopyTo(all, i * stride);
            len[i] = (ushort)frames[i].Length;
        }
        _genStride = stride;
        _genCount = frames.Length;
        _genLength = len;
        _gen = all;
        Interlocked.MemoryBarrier();
        Signal();
    }

    /// <summary>Lets the generator produce <paramref name="count"/> more frames (no allocation).</summary>
    public void SetGeneratorCount(long count)
    {
        _genRemaining = count;
        Interlocked.MemoryBarrier();
        Signal();
    }

    /// <summary>Connects two memory ports like a cable: what one sends, the other receives.</summary>
    public static void Link(MemoryPort a, MemoryPort b)
    {
        a.Peer = b;
        b.Peer = a;
    }

    public int Receive(PacketPool pool, Span<int> pkts)
    {
        if (!LinkUp) return 0;
        var gen = _gen;
        if (gen is not null) return ReceiveGenerated(pool, pkts, gen);
        if (_rx.IsEmpty) return 0;
        int n = 0;
        while (n < pkts.Length && _rx.TryPeek(out var frame))
        {
            if (pool.Alloc(pkts.Slice(n, 1)) == 0) break;
            _rx.TryDequeue(out _);
            int p = pkts[n];
            if (!pool.Write(p, frame))
            {
                pool.Release(p);
                Counters.RxErrors++;
                continue;
            }
            Counters.AddRx(1, frame.Length);
            n++;
        }
        return n;
    }

    private int ReceiveGenerated(PacketPool pool, Span<int> pkts, byte[] gen)
    {
        int want = (int)Math.Min(pkts.Length, _genRemaining);
        if (want <= 0) return 0;
        int n = pool.Alloc(pkts[..want]);
        int next = _genNext, count = _genCount, stride = _genStride;
        var lengths = _genLength!;
        long bytes = 0;
        for (int i = 0; i < n; i++)
        {
            int len = lengths[next];
            int p = pkts[i];
            new ReadOnlySpan<byte>(gen, next * stride, len).CopyTo(new Span<byte>(pool.Slab, pool.FrameOffset(p), len));
            pool.Length[p] = (ushort)len;
            bytes += len;
            if (++next == count) next = 0;
        }
        _genNext = next;
        _genRemaining -= n;
        Counters.AddRx(n, bytes);
        return n;
    }

    public void Send(PacketPool pool, ReadOnlySpan<int> pkts)
    {
        if (!LinkUp)
        {
            Counters.AddTxDropped(pkts.Length);
            return;
        }
        long bytes = 0;
        var handler = OnSend;
        var peer = Peer;
        foreach (int p in pkts)
        {
            var frame = pool.Frame(p);
            bytes += frame.Length;
            if (handler is not null) handler(frame);
            if (peer is not null) peer.Inject(frame);
            if (CaptureSent)
            {
                var copy = frame.ToArray();
                lock (_captured) _captured.Add(copy);
            }
        }
        Counters.AddTx(pkts.Length, bytes);
    }

    /// <summary>Returns and clears the frames captured so far.</summary>
    public List<byte[]> TakeSent()
    {
        lock (_captured)
        {
            var list = new List<byte[]>(_captured);
            _captured.Clear();
            return list;
        }
    }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _eventFd, -1);
        if (fd >= 0) PortWaiter.CloseFd(fd);
    }

    public override string ToString() => $"mem:{Info.Name}";
}
