using System.Runtime.CompilerServices;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Ports.Linux;

namespace Softswitch.Ports.AfXdp;

/// <summary>
/// One AF_XDP socket (zero-copy where the driver offers it, else copy mode) bound to one RX queue of an interface, with its own UMEM and its four rings
/// (fill, RX, TX, completion). An <see cref="AfXdpPort"/> holds one per queue it serves.
/// </summary>
/// <remarks>
/// Setup (raw syscalls, no libxdp): an anonymous mmap as UMEM (XDP_UMEM_REG), the rings sized by setsockopt and
/// mmapped at the offsets XDP_MMAP_OFFSETS reports, bind to (ifindex, queue) with XDP_USE_NEED_WAKEUP (unless <see cref="AfXdpOptions.NeedWakeup"/> is off), with XDP_ZEROCOPY first and XDP_COPY when the driver
/// refuses it (or copy mode was asked for, or generic XDP); XDP_OPTIONS says which mode the kernel chose, <see cref="CopyReason"/> why copy mode.
/// UMEM frames [0, RxFrames) circulate fill → RX → (copied out) → fill; frames [RxFrames, RxFrames+TxFrames) sit on a
/// free stack, go out through the TX ring and come back through the completion ring.
/// Own UMEM per socket rather than one shared UMEM: sockets on different queues need their own fill and completion
/// rings anyway, and with separate UMEMs no frame allocator is shared between threads, so nothing here takes a lock.
/// Receive: peek the RX ring, allocate that many pool buffers (at most the burst), copy, return the UMEM frames to the
/// fill ring, and kick the kernel with recvfrom when the fill ring asks for a wakeup. An empty ring folds the kernel's
/// drop counters into the port's RxDropped once a second.
/// Transmit: copy up to 32 frames into free UMEM frames, publish them, sendto() when the TX ring asks for a wakeup
/// (copy mode always does, and transmits inside that call; without need_wakeup, after every batch), reclaim every completion waiting.
/// Thread safety: the RX side (RX and fill rings: Receive, PrepareWait, statistics) belongs to the one thread polling
/// the socket, its rx owner. The TX side (TX and completion rings, the free stack) belongs to the threads the port gives
/// this queue to transmit on (<see cref="AfXdpPort"/>'s lanes, thread t on queue t mod Q): one of them calls
/// <see cref="Send"/> unlocked, several call it with <c>locked</c> and serialise on a spinlock. The rx owner only kicks
/// the TX ring when it goes idle (a sendto touches none of our ring state, and the kernel serialises its transmit), so
/// frames a busy device refused still go out; completions are reaped by the senders, as ring reads, no system call.
/// Port counters are shared by the port's sockets and updated atomically, once per burst.
/// </remarks>
[SkipLocalsInit]
internal sealed unsafe class XskSocket : IDisposable
{
    private const int XDP_MMAP_OFFSETS = 1;
    private const int XDP_RX_RING = 2;
    private const int XDP_TX_RING = 3;
    private const int XDP_UMEM_REG = 4;
    private const int XDP_UMEM_FILL_RING = 5;
    private const int XDP_UMEM_COMPLETION_RING = 6;
    private const int XDP_STATISTICS = 7;
    private const int XDP_OPTIONS = 8;
    private const uint XDP_OPTIONS_ZEROCOPY = 1;
    private const ushort XDP_COPY = 1 << 1;
    private const ushort XDP_ZEROCOPY = 1 << 2;
    private const int XDP_PACKET_HEADROOM = 256;   // the kernel's headroom in front of a received frame
    private const ushort XDP_USE_NEED_WAKEUP = 1 << 3;
    private const ushort XDP_USE_SG = 1 << 4;
    private const uint XDP_PKT_CONTD = 1;   // xdp_desc.options: the frame goes on in the next descriptor
    private const long XDP_PGOFF_RX_RING = 0;
    private const long XDP_PGOFF_TX_RING = 0x80000000;
    private const long XDP_UMEM_PGOFF_FILL_RING = 0x100000000;
    private const long XDP_UMEM_PGOFF_COMPLETION_RING = 0x180000000;
    private const int TxBatch = 32; // the kernel's copy-mode transmit budget per sendto
    private const int SO_BUSY_POLL = 46;
    private const int SO_PREFER_BUSY_POLL = 69;
    private const int SO_BUSY_POLL_BUDGET = 70;

    private readonly NetInterface _if;
    private readonly AfXdpOptions _opt;
    private readonly PortCounters _counters;
    private int _fd = -1;
    private byte* _umem;
    private nuint _umemSize;
    private readonly PacketArena? _arena;       // the UMEM when the port was given one (not ours to unmap)
    private readonly int _holder;               // our tag on the arena slots lent to us (PacketArena.Holder)
    private readonly int[]? _held;              // the arena slots taken at open: RxFrames for the fill ring, the rest TX frames
    private readonly bool _sendInPlace;                // over the arena: frames go out from their own slot (AfXdpOptions.SendInPlace)
    private int _heldReturned;                  // 1 once Dispose gave the lent slots back to the arena
    private readonly int _frameSize;
    private readonly ulong _frameMask;
    private XskRing _rx, _tx, _fill, _comp;
    private readonly ulong[] _txFree;
    private int _txFreeCount;
    private readonly ulong[] _txWaiting;         // completed slots lent by a sender that has not released them yet
    private int _txWaitingCount;
    private long _nextStatsTick;
    private ulong _lastKernelDrops;
    private long _rxPackets;
    private int _txLock;                        // 0 free, 1 held: taken by Send(locked: true) around the TX side
    private long _txPosted, _txCompleted;       // TX descriptors put on the TX ring / taken back from the completion ring
    private readonly object _disposeLock = new(); // the rings' unmap against a reader of TxCompleted (dp/show), not the hot path
    internal long RxTooBigCount, RxNoBuffersCount, TxKickErrorCount, TxKickCount, TxKickSkippedCount, TxLockWaitCount;
    internal long TxIdleKickCount;              // the rx owner's kicks (its own counter: it kicks beside the senders)
    internal long RxInPlaceCount;               // frames received as the arena slot they arrived in (rx owner)
    internal long TxInPlaceCount;               // frames posted by their own arena slot (no copy), under the TX side

    public int QueueId { get; }
    public int Fd => _fd;
    /// <summary>TX descriptors put on the TX ring (one per frame, more for a frame chained over UMEM frames).</summary>
    public long TxPosted => Volatile.Read(ref _txPosted);

    /// <summary>TX descriptors the kernel has completed: those reaped from the completion ring and those waiting there
    /// (racy while frames flow; equal to <see cref="TxPosted"/> once the TX ring drained and the kernel freed them).</summary>
    public long TxCompleted
    {
        get
        {
            lock (_disposeLock)
            {
                long reaped = Volatile.Read(ref _txCompleted);
                return _comp.Map == null ? reaped : reaped + _comp.Available;
            }
        }
    }
    /// <summary>Frames received on this queue.</summary>
    public long RxPackets => Volatile.Read(ref _rxPackets);
    /// <summary>Whether the socket runs in zero-copy mode (the driver fills our UMEM itself); false: copy mode.</summary>
    public bool ZeroCopy { get; private set; }
    /// <summary>Why the socket runs in copy mode ("asked for", "generic XDP", "driver offers no zero-copy", or the
    /// zero-copy bind's error); null in zero-copy mode.</summary>
    public string? CopyReason { get; private set; }
    /// <summary>Whether the kernel took SO_PREFER_BUSY_POLL, SO_BUSY_POLL and SO_BUSY_POLL_BUDGET (only asked for
    /// when <see cref="AfXdpOptions.KernelBusyPollMicros"/> is set).</summary>
    public bool KernelBusyPoll { get; private set; }
    /// <summary>Whether the socket takes frames larger than one UMEM frame as descriptor chains (XDP_USE_SG, Linux 6.6+
    /// in copy mode; zero-copy where the driver supports it); false: such frames are dropped and counted.</summary>
    public bool MultiBuffer { get; private set; }

    public XskSocket(NetInterface nif, AfXdpOptions opt, int queueId, PortCounters counters)
    {
        _arena = opt.Arena;
        if (_arena is not null)
        {
            _holder = _arena.NewHolder();
            var held = new List<int>(opt.RxFrames + opt.TxFrames + PacketArena.Batch);
            if (_arena.TakeHeld(opt.RxFrames + opt.TxFrames, _holder, held) == 0)
            {
                throw new PortOpenException(PortOpenError.Failed, nif.Name,
                    $"afxdp:{nif.Name}: the packet arena has {_arena.SharedFreeCount} free slots; queue {queueId} needs {opt.RxFrames + opt.TxFrames}.");
            }
            _held = held.ToArray();
        }
        _if = nif;
        _opt = opt;
        _counters = counters;
        QueueId = queueId;
        _frameSize = opt.FrameSize;
        _frameMask = ~(ulong)(_frameSize - 1);
        _txFree = new ulong[_held is null ? opt.TxFrames : _held.Length - opt.RxFrames];
        _txWaiting = _held is null ? [] : new ulong[_txFree.Length];
        try
        {
            _fd = LibC.socket(LibC.AF_XDP, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC, 0);
            if (_fd < 0)
            {
                int e = LibC.LastErrno;
                if (e == LibC.EAFNOSUPPORT)
                {
                    throw new PortOpenException(PortOpenError.Unsupported, nif.Name,
                        $"afxdp:{nif.Name}: this kernel has no AF_XDP sockets (built without CONFIG_XDP_SOCKETS); use afpacket:{nif.Name}.", e);
                }

                throw PortOpenException.FromErrno(nif.Name, "Opening an AF_XDP socket", e, "CAP_NET_RAW, CAP_NET_ADMIN and CAP_BPF", "cap_net_raw,cap_net_admin,cap_bpf");
            }
            SetupUmem();
            SetupRings();
            Bind();
            ZeroCopy = ReadZeroCopy();
            if (ZeroCopy) CopyReason = null;
            else CopyReason ??= "kernel chose copy mode";
            _sendInPlace = _arena is not null && (opt.SendInPlace ?? ZeroCopy);
            if (opt.KernelBusyPollMicros > 0) KernelBusyPoll = SetBusyPoll(opt.KernelBusyPollMicros, opt.KernelBusyPollBudget);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private void SetupUmem()
    {
        if (_arena is not null)
        {
            // The whole arena is the UMEM (every socket registers it); this socket's frames are its own slots of it.
            _umem = _arena.Base;
            _umemSize = (nuint)_arena.Length;
        }
        else
        {
            int frames = _opt.RxFrames + _opt.TxFrames;
            _umemSize = (nuint)frames * (nuint)_frameSize;
            nint m = LibC.mmap(null, _umemSize, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS | LibC.MAP_POPULATE, -1, 0);
            if (m == LibC.MAP_FAILED) throw PortOpenException.FromErrno(_if.Name, "Allocating the AF_XDP UMEM", LibC.LastErrno);
            _umem = (byte*)m;
        }

        // struct xdp_umem_reg { u64 addr; u64 len; u32 chunk_size; u32 headroom; u32 flags; u32 tx_metadata_len; }
        byte* reg = stackalloc byte[32];
        new Span<byte>(reg, 32).Clear();
        *(ulong*)reg = (ulong)_umem;
        *(ulong*)(reg + 8) = _umemSize;
        *(uint*)(reg + 16) = (uint)_frameSize;
        if (LibC.setsockopt(_fd, LibC.SOL_XDP, XDP_UMEM_REG, reg, 32) != 0)
            throw PortOpenException.FromErrno(_if.Name, "Registering the AF_XDP UMEM (XDP_UMEM_REG)", LibC.LastErrno);
    }

    private void SetupRings()
    {
        SetRingSize(XDP_UMEM_FILL_RING, _opt.RxFrames, "fill");
        SetRingSize(XDP_UMEM_COMPLETION_RING, _opt.TxFrames, "completion");
        SetRingSize(XDP_RX_RING, _opt.RxFrames, "RX");
        SetRingSize(XDP_TX_RING, _opt.TxFrames, "TX");

        // struct xdp_mmap_offsets { struct xdp_ring_offset rx, tx, fr, cr; } with { u64 producer, consumer, desc, flags; }
        ulong* off = stackalloc ulong[16];
        new Span<ulong>(off, 16).Clear();
        uint len = 128;
        if (LibC.getsockopt(_fd, LibC.SOL_XDP, XDP_MMAP_OFFSETS, off, &len) != 0)
            throw PortOpenException.FromErrno(_if.Name, "Reading AF_XDP ring offsets (XDP_MMAP_OFFSETS)", LibC.LastErrno);
        if (len != 128)
            throw new PortOpenException(PortOpenError.Unsupported, _if.Name, $"afxdp:{_if.Name}: kernel too old (AF_XDP rings without flags, Linux < 5.4).");

        _rx = MapRing(off + 0, _opt.RxFrames, sizeof(XdpDesc), XDP_PGOFF_RX_RING, "RX");
        _tx = MapRing(off + 4, _opt.TxFrames, sizeof(XdpDesc), XDP_PGOFF_TX_RING, "TX");
        _fill = MapRing(off + 8, _opt.RxFrames, sizeof(ulong), XDP_UMEM_PGOFF_FILL_RING, "fill");
        _comp = MapRing(off + 12, _opt.TxFrames, sizeof(ulong), XDP_UMEM_PGOFF_COMPLETION_RING, "completion");

        // All RX frames start in the fill ring; all TX frames on the free stack (over an arena: the slots taken at open,
        // the TX frames with what rounding to whole batches added).
        for (uint i = 0; i < (uint)_opt.RxFrames; i++)
            _fill.Addr(_fill.Local + i) = _held is null ? (ulong)i * (ulong)_frameSize : PacketArena.UmemAddress(_held[i]);
        _fill.Submit((uint)_opt.RxFrames);
        for (int i = 0; i < _txFree.Length; i++)
            _txFree[i] = _held is null ? (ulong)(_opt.RxFrames + i) * (ulong)_frameSize : PacketArena.UmemAddress(_held[_opt.RxFrames + i]);
        _txFreeCount = _txFree.Length;
    }

    private void SetRingSize(int opt, int entries, string what)
    {
        if (LibC.setsockopt(_fd, LibC.SOL_XDP, opt, &entries, 4) != 0)
            throw PortOpenException.FromErrno(_if.Name, $"Sizing the AF_XDP {what} ring", LibC.LastErrno);
    }

    private XskRing MapRing(ulong* off, int entries, int descSize, long pgoff, string what)
    {
        nuint size = (nuint)(off[2] + (ulong)(entries * descSize));
        nint m = LibC.mmap(null, size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED | LibC.MAP_POPULATE, _fd, pgoff);
        if (m == LibC.MAP_FAILED) throw PortOpenException.FromErrno(_if.Name, $"Mapping the AF_XDP {what} ring", LibC.LastErrno);
        byte* b = (byte*)m;
        var r = new XskRing
        {
            Producer = (uint*)(b + off[0]),
            Consumer = (uint*)(b + off[1]),
            Ring = b + off[2],
            Flags = (uint*)(b + off[3]),
            Mask = (uint)entries - 1,
            Size = (uint)entries,
            Map = b,
            MapSize = size,
        };
        r.Local = pgoff is XDP_PGOFF_TX_RING or XDP_UMEM_PGOFF_FILL_RING ? *r.Producer : *r.Consumer;
        return r;
    }

    private void Bind()
    {
        // struct sockaddr_xdp { u16 family; u16 flags; u32 ifindex; u32 queue_id; u32 shared_umem_fd; }
        byte* sa = stackalloc byte[16];
        new Span<byte>(sa, 16).Clear();
        *(ushort*)sa = LibC.AF_XDP;
        *(uint*)(sa + 4) = (uint)_if.Index;
        *(uint*)(sa + 8) = (uint)QueueId;
        ushort wake = _opt.NeedWakeup ? XDP_USE_NEED_WAKEUP : (ushort)0;
        bool sg = _opt.MultiBuffer;
        // Zero-copy asked for outright (XDP_ZEROCOPY) unless copy mode was asked for or the program runs in generic
        // XDP: the order is zero-copy with chains, zero-copy alone (when the MTU fits one UMEM frame, so no frame that
        // fits today is dropped), then copy mode with chains and alone. Without either flag the kernel would fall back
        // to copy mode by itself, also where only the chains (XDP_USE_SG) were refused.
        bool bound = false;
        int zcErr = 0;
        if (!_opt.ZeroCopy || _opt.Mode == XdpAttachMode.Generic)
        {
            CopyReason = _opt.ZeroCopy ? "generic XDP" : "asked for";
        }
        else
        {
            bound = TryBind(sa, (ushort)(wake | XDP_ZEROCOPY | (sg ? XDP_USE_SG : 0)));
            if (!bound) zcErr = LibC.LastErrno;
            if (!bound && sg && zcErr != LibC.EBUSY && _if.Mtu + 18 <= _frameSize - XDP_PACKET_HEADROOM)
            {
                bound = TryBind(sa, (ushort)(wake | XDP_ZEROCOPY));
                if (bound) sg = false;
            }
            if (!bound)
            {
                CopyReason = zcErr == LibC.EOPNOTSUPP ? "driver offers no zero-copy" : $"zero-copy bind refused: {LibC.StrError(zcErr)}";
            }
        }
        if (!bound)
        {
            // Multi-buffer where the kernel (EINVAL: an unknown flag, before 6.6) takes it; a socket bound without it
            // drops frames larger than a UMEM frame, as before.
            sg = _opt.MultiBuffer;
            bound = sg && TryBind(sa, (ushort)(wake | XDP_COPY | XDP_USE_SG));
            if (!bound && (!sg || LibC.LastErrno is LibC.EINVAL or LibC.EOPNOTSUPP))
            {
                sg = false;
                bound = TryBind(sa, (ushort)(wake | XDP_COPY));
            }
        }
        MultiBuffer = bound && sg;
        if (!bound)
        {
            int e = LibC.LastErrno;
            if (e == LibC.EBUSY)
            {
                throw new PortOpenException(PortOpenError.Failed, _if.Name,
                    $"afxdp:{_if.Name}: queue {QueueId} already has an AF_XDP socket (another afxdp port on this interface, or another AF_XDP program).", e);
            }

            if (e == LibC.EINVAL)
            {
                throw new PortOpenException(PortOpenError.Failed, _if.Name,
                    $"afxdp:{_if.Name}: binding the AF_XDP socket to queue {QueueId} failed ({LibC.StrError(e)}); the interface has {_if.RxQueueCount} RX queue(s).", e);
            }

            throw PortOpenException.FromErrno(_if.Name, "Binding the AF_XDP socket", e);
        }
    }

    private bool TryBind(byte* sa, ushort flags)
    {
        *(ushort*)(sa + 2) = flags;
        return LibC.bind(_fd, sa, 16) == 0;
    }

    private bool ReadZeroCopy()
    {
        uint flags = 0, len = 4;
        return LibC.getsockopt(_fd, LibC.SOL_XDP, XDP_OPTIONS, &flags, &len) == 0 && (flags & XDP_OPTIONS_ZEROCOPY) != 0;
    }

    /// <summary>Asks the kernel to busy-poll the queue's NAPI context from our send and receive calls (instead of its
    /// softirq) for <paramref name="micros"/> us, <paramref name="budget"/> frames at a time; false if it refused any.</summary>
    private bool SetBusyPoll(int micros, int budget)
    {
        int one = 1;
        return LibC.setsockopt(_fd, LibC.SOL_SOCKET, SO_PREFER_BUSY_POLL, &one, 4) == 0
            & LibC.setsockopt(_fd, LibC.SOL_SOCKET, SO_BUSY_POLL, &micros, 4) == 0
            & LibC.setsockopt(_fd, LibC.SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget, 4) == 0;
    }

    /// <summary>Whether the RX ring holds frames (read by the polling thread).</summary>
    public bool HasFrames => _fd >= 0 && _rx.Available != 0;

    /// <summary>
    /// Takes up to <paramref name="pkts"/>.Length waiting frames: the arena slots they arrived in when
    /// <paramref name="pool"/> is carved from the socket's arena (<see cref="ReceiveInPlace"/>), else copies of them in
    /// pool buffers; 0 when none wait. A frame whose TCP or UDP checksum a local sender left for the device to fill
    /// (the socket gets no checksum state with it) is filled here, as the XDP flow program fills it for a flow
    /// forwarded in the kernel (<see cref="SoftwareOffload.FillIfPartial"/>), and counted as a completed checksum.
    /// </summary>
    public int Receive(PacketPool pool, Span<int> pkts)
    {
        int n = ReceiveFrames(pool, pkts);
        if (n > 0) FillPartial(pool, pkts[..n]);
        return n;
    }

    private void FillPartial(PacketPool pool, ReadOnlySpan<int> pkts)
    {
        long filled = 0;
        foreach (int p in pkts)
            if (SoftwareOffload.FillIfPartial(pool.Frame(p))) filled++;
        if (filled > 0) Interlocked.Add(ref _counters.RxChecksumCompleted, filled);
    }

    private int ReceiveFrames(PacketPool pool, Span<int> pkts)
    {
        if (_fd < 0 || pkts.IsEmpty) return 0;
        uint avail = _rx.Available;
        if (avail == 0)
        {
            Idle();
            return 0;
        }
        if (_arena is not null && ReferenceEquals(pool.Arena, _arena)) return ReceiveInPlace(pool, pkts, avail);
        int want = (int)Math.Min(avail, (uint)pkts.Length);
        int got = pool.Alloc(pkts[..want]);
        if (got == 0)
        {
            RxNoBuffersCount++;
            return 0;
        }

        int n = 0;
        long bytes = 0, tooBig = 0;
        uint used = 0;   // descriptors consumed: one per frame, more for a frame chained over UMEM frames
        uint rxIdx = _rx.Local;
        uint fillIdx = _fill.Local;
        byte* umem = _umem;
        for (int k = 0; k < got && used < avail; k++)
        {
            ref XdpDesc d = ref _rx.Desc(rxIdx + used);
            if ((d.Options & XDP_PKT_CONTD) != 0)
            {
                int r = ReceiveChain(pool, pkts, n, rxIdx, fillIdx, used, avail, ref bytes);
                if (r == 0) break;   // the chain's end is not in the ring yet (the kernel publishes chains whole)
                used += (uint)Math.Abs(r);
                if (r > 0) n++;
                else tooBig++;
                continue;
            }
            ulong addr = d.Addr;
            int len = (int)d.Len;
            int p = pkts[n];
            if ((uint)len <= (uint)(pool.Room(p)) && len <= ushort.MaxValue)
            {
                new ReadOnlySpan<byte>(umem + addr, len).CopyTo(new Span<byte>(pool.Slab, pool.FrameOffset(p), len));
                pool.Length[p] = (ushort)len;
                bytes += len;
                n++;
            }
            else
            {
                tooBig++;
            }
            _fill.Addr(fillIdx + used) = addr & _frameMask;
            used++;
        }
        _rx.Release(used);
        _fill.Submit(used);   // the fill ring holds every RX frame, so it always has room for these
        if (_fill.NeedsWakeup) LibC.recvfrom(_fd, null, 0, LibC.MSG_DONTWAIT, null, null);
        if (n < got) pool.Release(pkts.Slice(n, got - n));
        return Received(n, bytes, tooBig);
    }

    /// <summary>A receive's counts: <paramref name="n"/> frames of <paramref name="bytes"/> taken, <paramref name="tooBig"/> dropped
    /// as larger than a buffer; returns <paramref name="n"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Received(int n, long bytes, long tooBig)
    {
        if (tooBig > 0)
        {
            RxTooBigCount += tooBig;
            Interlocked.Add(ref _counters.RxOversize, tooBig);
            _counters.AddRxDropped(tooBig);
        }
        if (n > 0)
        {
            _rxPackets += n;
            _counters.AddRx(n, bytes);
        }
        return n;
    }

    /// <summary>Most frames <see cref="ReceiveInPlace"/> takes in one call.</summary>
    private const int MaxInPlace = 64;

    /// <summary>
    /// Receive without a copy: each frame's arena slot becomes the packet (its Head at the kernel's headroom), and a
    /// fresh buffer of <paramref name="pool"/> takes its place in the fill ring, so the socket keeps lent exactly the
    /// slots it took at open. A frame chained over descriptors is gathered into a buffer (copied), its slots going back
    /// to the fill ring. Without fresh buffers (the pool and the arena's shared stack empty) frames wait in the RX
    /// ring and the shortfall is counted (RxNoBuffers); nothing waits for a buffer.
    /// </summary>
    private int ReceiveInPlace(PacketPool pool, Span<int> pkts, uint avail)
    {
        Span<int> fresh = stackalloc int[MaxInPlace];
        int want = (int)Math.Min(avail, (uint)Math.Min(pkts.Length, MaxInPlace));
        int got = pool.Alloc(fresh[..want]);
        if (got < want) RxNoBuffersCount++;
        if (got == 0) return 0;

        var arena = _arena!;
        int[] holder = arena.Holder;
        int tag = _holder;
        int n = 0, f = 0;
        long bytes = 0, tooBig = 0;
        uint used = 0;
        uint rxIdx = _rx.Local;
        uint fillIdx = _fill.Local;
        while (f < got && used < avail)
        {
            ref XdpDesc d = ref _rx.Desc(rxIdx + used);
            if ((d.Options & XDP_PKT_CONTD) != 0)
            {
                pkts[n] = fresh[f];
                int r = ReceiveChain(pool, pkts, n, rxIdx, fillIdx, used, avail, ref bytes);
                if (r == 0) break;
                used += (uint)Math.Abs(r);
                if (r > 0)
                {
                    n++;
                    f++;   // the gathering buffer is the packet (or went back to the pool for a large one)
                }
                else
                {
                    tooBig++;
                }
                continue;
            }
            ulong addr = d.Addr;
            int slot = arena.SlotOf(addr);
            if (slot < 0)
            {
                tooBig++;   // not an address of ours (the kernel gives back only what the fill ring held): refill anyway
                holder[fresh[f]] = tag;
                _fill.Addr(fillIdx + used++) = PacketArena.UmemAddress(fresh[f++]);
                continue;
            }
            pool.Adopt(slot, (int)(addr - PacketArena.UmemAddress(slot)), (int)d.Len);
            RxInPlaceCount++;
            holder[slot] = 0;
            pkts[n++] = slot;
            bytes += d.Len;
            int b = fresh[f++];
            holder[b] = tag;
            _fill.Addr(fillIdx + used) = PacketArena.UmemAddress(b);
            used++;
        }
        _rx.Release(used);
        _fill.Submit(used);   // one fill entry per descriptor taken: the ring keeps every slot lent to us
        if (_fill.NeedsWakeup) LibC.recvfrom(_fd, null, 0, LibC.MSG_DONTWAIT, null, null);
        if (f < got) pool.Release(fresh[f..got]);
        return Received(n, bytes, tooBig);
    }

    /// <summary>
    /// Gathers the frame chained over descriptors <paramref name="first"/>.. (XDP_USE_SG) into <c>pkts[n]</c>, a large
    /// buffer when it does not fit a small one, and returns their frames to the fill ring. Returns the descriptors
    /// taken (negative: the frame was dropped, no buffer could hold it), or 0 when the chain's last descriptor is not
    /// in the ring.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int ReceiveChain(PacketPool pool, Span<int> pkts, int n, uint rxIdx, uint fillIdx, uint first, uint avail, ref long bytes)
    {
        uint last = first;
        int total = 0;
        while (true)
        {
            if (last >= avail) return 0;
            ref XdpDesc d = ref _rx.Desc(rxIdx + last);
            total += (int)d.Len;
            if ((d.Options & XDP_PKT_CONTD) == 0) break;
            last++;
        }
        int count = (int)(last - first + 1);
        int p = pkts[n];
        bool fits = total <= ushort.MaxValue && total <= pool.Room(p);
        if (!fits && total <= ushort.MaxValue && pool.AllocLarge() is >= 0 and int large)
        {
            // A large buffer's room (64 KiB) holds every chain the kernel builds.
            pool.Release(p);
            pkts[n] = p = large;
            fits = true;
        }
        int at = fits ? pool.FrameOffset(p) : 0;
        for (uint i = first; i <= last; i++)
        {
            ref XdpDesc d = ref _rx.Desc(rxIdx + i);
            if (fits)
            {
                new ReadOnlySpan<byte>(_umem + d.Addr, (int)d.Len).CopyTo(new Span<byte>(pool.Slab, at, (int)d.Len));
                at += (int)d.Len;
            }
            _fill.Addr(fillIdx + i) = d.Addr & _frameMask;
        }
        if (!fits) return -count;
        pool.Length[p] = (ushort)total;
        bytes += total;
        return count;
    }

    /// <summary>The polling thread is about to block: push out what the TX ring holds, and say whether frames wait.</summary>
    public bool PrepareWait()
    {
        if (_fd < 0) return true;
        if (!_tx.Drained) IdleKick();   // frames a busy device refused: push them out before sleeping
        return _rx.Available == 0;
    }

    /// <summary>
    /// The RX ring is empty: fold the kernel's drop counters in once a second, and push out frames a busy device
    /// refused.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Idle()
    {
        long now = Environment.TickCount64;
        if (now >= _nextStatsTick)
        {
            _nextStatsTick = now + 1000;
            RefreshStatistics();
        }
        if (!_tx.Drained) IdleKick();
    }

    /// <summary>
    /// The rx owner's kick of frames left on the TX ring (a sender's kick gave up on a busy device): a sendto only, when
    /// the ring asks for it. It reads the senders' producer index racily (a stale one costs a kick or defers one to the
    /// next idle round) and writes nothing of the TX side; the senders reap the completions.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void IdleKick()
    {
        if (_fd < 0 || (_opt.NeedWakeup && !_tx.NeedsWakeup)) return;
        Interlocked.Increment(ref TxIdleKickCount);
        LibC.sendto(_fd, null, 0, LibC.MSG_DONTWAIT, null, 0);
    }

    /// <summary>The socket's kernel counters (XDP_STATISTICS), cumulative since open; default when unavailable.</summary>
    public XdpSocketStatistics KernelStatistics
    {
        get
        {
            ulong* st = stackalloc ulong[6];
            new Span<ulong>(st, 6).Clear();
            uint len = 48;
            if (_fd < 0 || LibC.getsockopt(_fd, LibC.SOL_XDP, XDP_STATISTICS, st, &len) != 0) return default;
            return new XdpSocketStatistics(st[0], st[1], st[2], st[3], st[4], st[5]);
        }
    }

    /// <summary>Folds the socket's cumulative kernel drops (XDP_STATISTICS rx_dropped + rx_ring_full) into RxDropped.
    /// Call only from the receiving thread.</summary>
    public void RefreshStatistics()
    {
        // struct xdp_statistics { rx_dropped, rx_invalid_descs, tx_invalid_descs, rx_ring_full, rx_fill_ring_empty_descs, tx_ring_empty_descs }
        ulong* st = stackalloc ulong[6];
        uint len = 48;
        if (_fd < 0 || LibC.getsockopt(_fd, LibC.SOL_XDP, XDP_STATISTICS, st, &len) != 0) return;
        ulong drops = st[0] + (len >= 32 ? st[3] : 0);
        if (drops > _lastKernelDrops) _counters.AddRxDropped((long)(drops - _lastKernelDrops));
        _lastKernelDrops = drops;
    }

    /// <summary>Most descriptors one frame may be chained over: the kernel builds a chain's skb from one linear part and
    /// at most MAX_SKB_FRAGS - 1 more (32 KiB with 2 KiB frames, a 9000-byte jumbo frame takes 5).</summary>
    private const int MaxChain = 16;

    /// <summary>Descriptors a frame of <paramref name="len"/> bytes takes on the TX ring; 0 when it cannot be sent.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int DescriptorsFor(int len)
    {
        if (len <= _frameSize) return len == 0 ? 0 : 1;
        int n = (len + _frameSize - 1) / _frameSize;
        return MultiBuffer && n <= MaxChain ? n : 0;
    }

    /// <summary>
    /// Transmits <paramref name="pkts"/> through the TX ring (a frame larger than a UMEM frame as a descriptor chain,
    /// XDP_PKT_CONTD on all but the last), under the TX spinlock when <paramref name="locked"/> (the queue has several
    /// senders); adds the frames sent to <paramref name="laneFrames"/> (the caller's lane count) while it holds the TX
    /// side. Returns the frames sent.
    /// </summary>
    public long Send(PacketPool pool, ReadOnlySpan<int> pkts, bool locked, ref long laneFrames)
    {
        if (_fd < 0) return 0;
        if (!locked) return SendHeld(pool, pkts, ref laneFrames);
        if (Interlocked.CompareExchange(ref _txLock, 1, 0) != 0) LockContended();
        try
        {
            return SendHeld(pool, pkts, ref laneFrames);
        }
        finally
        {
            Volatile.Write(ref _txLock, 0);
        }
    }

    /// <summary>Spins (yielding, never sleeping) until the TX lock is free, and counts the wait once it holds it.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void LockContended()
    {
        var spin = new SpinWait();
        do spin.SpinOnce(sleep1Threshold: -1);
        while (Volatile.Read(ref _txLock) != 0 || Interlocked.CompareExchange(ref _txLock, 1, 0) != 0);
        TxLockWaitCount++;   // under the lock
    }

    private long SendHeld(PacketPool pool, ReadOnlySpan<int> pkts, ref long laneFrames)
    {
        if (_fd < 0) return 0;
        long sent = 0, bytes = 0, dropped = 0;
        ReclaimCompletions();
        // Frames of a pool over our arena go out from their own slot when the sender holds the only reference.
        bool inPlace = _sendInPlace && ReferenceEquals(pool.Arena, _arena);
        int i = 0;
        while (i < pkts.Length)
        {
            int first = DescriptorsFor(pool.Length[pkts[i]]);
            if (first == 0)
            {
                dropped++;
                i++;
                continue;
            }
            int room = (int)Math.Min(_tx.Free, (uint)_txFreeCount);
            if (room < first)
            {
                Kick();
                ReclaimCompletions();
                room = (int)Math.Min(_tx.Free, (uint)_txFreeCount);
                if (room < first)
                {
                    dropped += pkts.Length - i;
                    break;
                }
            }
            int budget = Math.Min(room, TxBatch);   // at least `first`: a chain is shorter than a batch
            uint idx = _tx.Local;
            int k = 0;
            for (; i < pkts.Length; i++)
            {
                int p = pkts[i];
                int len = pool.Length[p];
                int need = DescriptorsFor(len);
                if (need == 0)
                {
                    dropped++;
                    continue;
                }
                if (need > budget - k) break;
                if (inPlace && need == 1 && pool.TryLend(p))
                {
                    // The slot itself goes on the TX ring; one of our free TX frames takes its place in the
                    // sender's pool, so we hold as many slots as before.
                    ulong spare = _txFree[--_txFreeCount];
                    int spareSlot = (int)(spare / PacketArena.SlotSize);
                    _arena!.Holder[p] = _holder;
                    _arena.Holder[spareSlot] = 0;
                    pool.Recycle(spareSlot);
                    ref XdpDesc z = ref _tx.Desc(idx + (uint)k);
                    z.Addr = PacketArena.UmemAddress(p) + pool.Head[p];
                    z.Len = (uint)len;
                    z.Options = 0;
                    k++;
                    TxInPlaceCount++;
                    bytes += len;
                    sent++;
                    continue;
                }
                int from = pool.FrameOffset(p);
                for (int f = 0; f < need; f++)
                {
                    int chunk = Math.Min(_frameSize, len - f * _frameSize);
                    ulong addr = _txFree[--_txFreeCount];
                    new ReadOnlySpan<byte>(pool.Slab, from + f * _frameSize, chunk).CopyTo(new Span<byte>(_umem + addr, chunk));
                    ref XdpDesc d = ref _tx.Desc(idx + (uint)k);
                    d.Addr = addr;
                    d.Len = (uint)chunk;
                    d.Options = f < need - 1 ? XDP_PKT_CONTD : 0;
                    k++;
                }
                bytes += len;
                sent++;
            }
            _tx.Submit((uint)k);
            Volatile.Write(ref _txPosted, _txPosted + k);
            Kick();
            ReclaimCompletions();
        }
        if (sent > 0)
        {
            laneFrames += sent;
            _counters.AddTx(sent, bytes);
        }
        if (dropped > 0) _counters.AddTxDropped(dropped);
        return sent;
    }

    /// <summary>Asks the kernel to transmit what the TX ring holds (copy mode sends within this call, 32 at a time),
    /// only when the TX ring asks for it (need_wakeup: a zero-copy driver already draining it needs no syscall).</summary>
    private void Kick()
    {
        for (int attempt = 0; attempt < 8 && !_tx.Drained; attempt++)
        {
            if (_opt.NeedWakeup && !_tx.NeedsWakeup)
            {
                TxKickSkippedCount++;
                return;
            }
            TxKickCount++;
            if (LibC.sendto(_fd, null, 0, LibC.MSG_DONTWAIT, null, 0) >= 0) continue;
            int e = LibC.LastErrno;
            if (e is LibC.EAGAIN or LibC.EINTR) continue;   // more than one batch queued, or interrupted
            if (e is not (LibC.EBUSY or LibC.ENOBUFS)) TxKickErrorCount++;
            break;
        }
    }

    /// <summary>
    /// Takes the completed TX frames back as free TX frames. Over an arena, a slot a sender lent (sent in place) joins
    /// them only once that sender released its reference (it does so right after its Send returns, but a reaper on
    /// another thread may get here first): until then it waits aside, and is looked at again at the next reap.
    /// </summary>
    private void ReclaimCompletions()
    {
        if (_txWaitingCount > 0) ReclaimWaiting();
        uint avail = _comp.Available;
        if (avail == 0) return;
        uint idx = _comp.Local;
        if (_arena is null)
        {
            for (uint i = 0; i < avail; i++) _txFree[_txFreeCount++] = _comp.Addr(idx + i) & _frameMask;
        }
        else
        {
            var arena = _arena;
            for (uint i = 0; i < avail; i++)
            {
                ulong a = _comp.Addr(idx + i) & _frameMask;
                if (arena.Released((int)(a / PacketArena.SlotSize))) _txFree[_txFreeCount++] = a;
                else _txWaiting[_txWaitingCount++] = a;
            }
        }
        Volatile.Write(ref _txCompleted, _txCompleted + avail);
        _comp.Release(avail);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReclaimWaiting()
    {
        var arena = _arena!;
        int kept = 0;
        for (int i = 0; i < _txWaitingCount; i++)
        {
            ulong a = _txWaiting[i];
            if (arena.Released((int)(a / PacketArena.SlotSize))) _txFree[_txFreeCount++] = a;
            else _txWaiting[kept++] = a;
        }
        _txWaitingCount = kept;
    }

    public void Dispose()
    {
        int fd = _fd;
        _fd = -1;
        lock (_disposeLock)
        {
            Unmap(ref _rx);
            Unmap(ref _tx);
            Unmap(ref _fill);
            Unmap(ref _comp);
        }
        if (fd >= 0) LibC.close(fd);
        if (_umem != null && _arena is null) LibC.munmap(_umem, _umemSize);
        if (_arena is not null && Interlocked.Exchange(ref _heldReturned, 1) == 0) _arena.ReturnHeld(_holder);   // the kernel holds none now
        _umem = null;
    }

    private static void Unmap(ref XskRing r)
    {
        if (r.Map != null) LibC.munmap(r.Map, r.MapSize);
        r = default;
    }
}
