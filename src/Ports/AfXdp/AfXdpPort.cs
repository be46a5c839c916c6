using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Forwarding;
using Softswitch.Ports.Linux;

namespace Softswitch.Ports.AfXdp;

/// <summary>Where the XDP redirect program runs.</summary>
public enum XdpAttachMode
{
    /// <summary>Try native (driver) mode, fall back to generic.</summary>
    Auto,
    /// <summary>In the driver's receive path (XDP_FLAGS_DRV_MODE).</summary>
    Native,
    /// <summary>In the generic skb path (XDP_FLAGS_SKB_MODE): works on any interface, slower.</summary>
    Generic,
}

/// <summary>struct xdp_statistics: RxDropped (no UMEM frame or too big), RxRingFull (we did not consume fast enough),
/// FillRingEmptyDescs (times the fill ring was found empty), and the invalid-descriptor counts.</summary>
public readonly record struct XdpSocketStatistics(ulong RxDropped, ulong RxInvalidDescs, ulong TxInvalidDescs, ulong RxRingFull,
    ulong FillRingEmptyDescs, ulong TxRingEmptyDescs);

/// <summary>Tuning of an <see cref="AfXdpPort"/>.</summary>
public sealed record AfXdpOptions
{
    public XdpAttachMode Mode { get; init; } = XdpAttachMode.Auto;
    /// <summary>UMEM frames for receive (a power of two; the fill and RX rings have this size). 8192 holds about 6 ms
    /// of traffic at 1.3 Mpps, enough to ride out a descheduled forwarding thread on a busy machine.</summary>
    public int RxFrames { get; init; } = 8192;
    /// <summary>UMEM frames for transmit (a power of two; the TX and completion rings have this size).</summary>
    public int TxFrames { get; init; } = 1024;
    /// <summary>UMEM chunk size (2048 or 4096). The kernel puts 256 B of XDP headroom in front of received frames, so
    /// 2048 takes frames up to 1792 B (a 1500-byte MTU with a VLAN tag); larger frames are dropped by the kernel and
    /// counted in RxDropped. Packet buffers hold 2048 B anyway.</summary>
    public int FrameSize { get; init; } = 2048;
    public int QueueId { get; init; }
    /// <summary>How long an empty <see cref="AfXdpPort.Receive"/> waits in poll() (0, the default: never waits; the
    /// forwarding thread blocks on <see cref="AfXdpPort.WaitFd"/> instead).</summary>
    public int IdleWaitMs { get; init; }
    public ILogger? Logger { get; init; }
}

/// <summary>
/// A port through an AF_XDP socket in copy mode (XDP_COPY): our own XDP program redirects the interface's frames into
/// the socket's UMEM, and we copy them into pool buffers; transmit copies frames into UMEM and kicks the kernel.
/// </summary>
/// <remarks>
/// Setup (all raw syscalls, no libxdp): an anonymous mmap as UMEM (XDP_UMEM_REG), fill/completion/RX/TX rings sized by
/// setsockopt and mmapped at the offsets XDP_MMAP_OFFSETS reports, bind to (ifindex, queue) with XDP_COPY |
/// XDP_USE_NEED_WAKEUP, then an XSKMAP holding our socket at the queue index and the redirect program
/// (<see cref="Bpf"/>), attached through a BPF link: native mode first, generic (skb) mode if the driver refuses.
/// The link dies with its fd, so a crashed switch leaves no XDP program behind.
/// UMEM frames [0, RxFrames) circulate fill → RX → (copied out) → fill; frames [RxFrames, RxFrames+TxFrames) sit on a
/// free stack, go out through the TX ring and come back through the completion ring.
/// Receive: peek the RX ring, allocate that many pool buffers (at most the burst), copy, return the UMEM frames to the
/// fill ring. An empty ring folds the kernel's drop counters into RxDropped once a second. An idle forwarding thread
/// blocks in epoll on the socket (<see cref="WaitFd"/>: readable while the RX ring holds descriptors); the kernel's
/// poll also serves the need_wakeup protocol (it drives copy-mode transmit and refills), and Receive kicks the kernel
/// with recvfrom when the fill ring asks for a wakeup.
/// Transmit (under a lock: the TX ring has one producer): reclaim completions, copy up to 32 frames into free UMEM
/// frames, publish them, and sendto() (copy mode transmits inside that call, 32 descriptors per call).
/// Only the bound queue is served; on a multi-queue NIC set `ethtool -L IF combined 1` or steer traffic to it.
/// Kernel offloads: AF_XDP carries no checksum or GSO metadata, so frames a local sender left to "hardware" cannot be
/// completed here; the port says so once at open, with the fix (turn the sender's offloads off, or use AF_PACKET).
/// Frames are seen before the kernel's VLAN untagging, so tags arrive in place.
/// Thread safety: Receive from one thread at a time; Send from any number of threads.
/// </remarks>
[SkipLocalsInit]
public sealed unsafe class AfXdpPort : IPort
{
    private const int XDP_MMAP_OFFSETS = 1;
    private const int XDP_RX_RING = 2;
    private const int XDP_TX_RING = 3;
    private const int XDP_UMEM_REG = 4;
    private const int XDP_UMEM_FILL_RING = 5;
    private const int XDP_UMEM_COMPLETION_RING = 6;
    private const int XDP_STATISTICS = 7;
    private const ushort XDP_COPY = 1 << 1;
    private const ushort XDP_USE_NEED_WAKEUP = 1 << 3;
    private const long XDP_PGOFF_RX_RING = 0;
    private const long XDP_PGOFF_TX_RING = 0x80000000;
    private const long XDP_UMEM_PGOFF_FILL_RING = 0x100000000;
    private const long XDP_UMEM_PGOFF_COMPLETION_RING = 0x180000000;
    private const int TxBatch = 32; // the kernel's copy-mode transmit budget per sendto

    private readonly NetInterface _if;
    private readonly AfXdpOptions _opt;
    private readonly PortCounters _counters = new();
    private readonly Lock _txLock = new();
    private int _fd = -1, _mapFd = -1, _progFd = -1, _linkFd = -1;
    private byte* _umem;
    private nuint _umemSize;
    private readonly int _frameSize;
    private readonly ulong _frameMask;
    private XskRing _rx, _tx, _fill, _comp;
    private readonly ulong[] _txFree;
    private int _txFreeCount;
    private long _nextStatsTick;
    private ulong _lastKernelDrops;
    private long _rxTooBig;
    private long _rxNoBuffers;
    private long _txKickErrors;

    public PortInfo Info { get; }
    public PortCounters Counters => _counters;
    public bool LinkUp => _if.IsUp;
    public ushort PortNo { get; set; }
    public NetInterface Interface => _if;
    /// <summary>The XDP mode the redirect program got attached in (Native or Generic).</summary>
    public XdpAttachMode AttachedMode { get; }
    public long RxTooBig => Volatile.Read(ref _rxTooBig);
    public long RxNoBuffers => Volatile.Read(ref _rxNoBuffers);
    public long TxKickErrors => Volatile.Read(ref _txKickErrors);
    public int WaitFd => _fd >= 0 ? _fd : PortWait.Unavailable;

    public bool PrepareWait()
    {
        if (_fd < 0) return true;
        if (!_tx.Drained) Idle();   // frames a busy device refused: push them out before sleeping
        return _rx.Available == 0;
    }

    public AfXdpPort(string ifname, AfXdpOptions? options = null)
    {
        _opt = options ?? new AfXdpOptions();
        _if = NetInterface.Open(ifname);
        _frameSize = _opt.FrameSize;
        if (_frameSize is not (2048 or 4096) || !IsPow2(_opt.RxFrames) || !IsPow2(_opt.TxFrames))
            throw new PortOpenException(PortOpenError.InvalidSpec, ifname, $"afxdp:{ifname}: frame size must be 2048 or 4096 and frame counts powers of two.");
        _frameMask = ~(ulong)(_frameSize - 1);
        _txFree = new ulong[_opt.TxFrames];
        try
        {
            _fd = LibC.socket(LibC.AF_XDP, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC, 0);
            if (_fd < 0)
            {
                int e = LibC.LastErrno;
                if (e == LibC.EAFNOSUPPORT)
                    throw new PortOpenException(PortOpenError.Unsupported, ifname,
                        $"afxdp:{ifname}: this kernel has no AF_XDP sockets (built without CONFIG_XDP_SOCKETS); use afpacket:{ifname}.", e);
                throw PortOpenException.FromErrno(ifname, "Opening an AF_XDP socket", e, "CAP_NET_RAW, CAP_NET_ADMIN and CAP_BPF", "cap_net_raw,cap_net_admin,cap_bpf");
            }
            SetupUmem();
            SetupRings();
            Bind();
            AttachedMode = AttachProgram();
            Info = _if.ToPortInfo();
        }
        catch
        {
            Dispose();
            throw;
        }
        int queues = _if.RxQueueCount;
        if (queues > 1)
            _opt.Logger?.LogWarning("{If}: {Queues} RX queues but AF_XDP serves queue {Queue} only; frames on other queues go to the kernel stack (ethtool -L {If} combined 1)",
                ifname, queues, _opt.QueueId, ifname);
        // XDP sees frames before the kernel's checksum and GSO metadata could travel with them (no virtio-net header
        // here), so partial checksums and super-frames from local senders cannot be fixed: say so once, with the fix.
        _opt.Logger?.LogWarning("{If}: AF_XDP receives frames without the kernel's offload metadata: a local sender with tx checksum offload or TSO " +
            "(a veth peer's default) sends frames this port forwards with unfilled checksums or drops as too big. Turn them off on the sending side " +
            "(`ethtool -K PEER tx off tso off gso off`) or use afpacket:{If}, which completes checksums and segments in software.", ifname, ifname);
        _opt.Logger?.LogInformation("{If}: AF_XDP port open, queue {Queue}, copy mode, XDP program attached in {Mode} mode",
            ifname, _opt.QueueId, AttachedMode == XdpAttachMode.Native ? "native (driver)" : "generic (skb)");
    }

    private static bool IsPow2(int v) => v > 0 && (v & (v - 1)) == 0;

    private void SetupUmem()
    {
        int frames = _opt.RxFrames + _opt.TxFrames;
        _umemSize = (nuint)frames * (nuint)_frameSize;
        nint m = LibC.mmap(null, _umemSize, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS | LibC.MAP_POPULATE, -1, 0);
        if (m == LibC.MAP_FAILED) throw PortOpenException.FromErrno(_if.Name, "Allocating the AF_XDP UMEM", LibC.LastErrno);
        _umem = (byte*)m;

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

        // All RX frames start in the fill ring; all TX frames on the free stack.
        for (uint i = 0; i < (uint)_opt.RxFrames; i++) _fill.Addr(_fill.Local + i) = (ulong)i * (ulong)_frameSize;
        _fill.Submit((uint)_opt.RxFrames);
        for (int i = 0; i < _opt.TxFrames; i++) _txFree[i] = (ulong)(_opt.RxFrames + i) * (ulong)_frameSize;
        _txFreeCount = _opt.TxFrames;
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
        *(ushort*)(sa + 2) = XDP_COPY | XDP_USE_NEED_WAKEUP;
        *(uint*)(sa + 4) = (uint)_if.Index;
        *(uint*)(sa + 8) = (uint)_opt.QueueId;
        if (LibC.bind(_fd, sa, 16) != 0)
        {
            int e = LibC.LastErrno;
            if (e == LibC.EBUSY)
                throw new PortOpenException(PortOpenError.Failed, _if.Name,
                    $"afxdp:{_if.Name}: queue {_opt.QueueId} already has an AF_XDP socket (another afxdp port on this interface, or another AF_XDP program).", e);
            if (e == LibC.EINVAL)
                throw new PortOpenException(PortOpenError.Failed, _if.Name,
                    $"afxdp:{_if.Name}: binding the AF_XDP socket to queue {_opt.QueueId} failed ({LibC.StrError(e)}); the interface has {_if.RxQueueCount} RX queue(s).", e);
            throw PortOpenException.FromErrno(_if.Name, "Binding the AF_XDP socket", e);
        }
    }

    private XdpAttachMode AttachProgram()
    {
        int maxEntries = Math.Max(_opt.QueueId + 1, _if.RxQueueCount);
        _mapFd = Bpf.CreateXskMap(maxEntries);
        if (_mapFd < 0) throw BpfError("Creating the XSKMAP", -_mapFd);
        int rc = Bpf.UpdateElem(_mapFd, (uint)_opt.QueueId, (uint)_fd);
        if (rc < 0) throw BpfError("Registering the socket in the XSKMAP", -rc);
        _progFd = Bpf.LoadRedirectProgram(_mapFd, out string log);
        if (_progFd < 0)
        {
            var e = BpfError("Loading the XDP redirect program", -_progFd);
            throw new PortOpenException(e.Error, _if.Name, e.Message + (log.Length > 0 ? " Verifier: " + log : ""), e.Errno);
        }

        int nativeErr = 0;
        if (_opt.Mode is XdpAttachMode.Auto or XdpAttachMode.Native)
        {
            _linkFd = Bpf.AttachXdp(_progFd, _if.Index, Bpf.XDP_FLAGS_DRV_MODE);
            if (_linkFd >= 0) return XdpAttachMode.Native;
            nativeErr = -_linkFd;
            if (_opt.Mode == XdpAttachMode.Native) throw AttachError("native", nativeErr);
            _opt.Logger?.LogInformation("{If}: native XDP refused ({Error}); falling back to generic XDP", _if.Name, LibC.StrError(nativeErr));
        }
        _linkFd = Bpf.AttachXdp(_progFd, _if.Index, Bpf.XDP_FLAGS_SKB_MODE);
        if (_linkFd >= 0) return XdpAttachMode.Generic;
        throw AttachError(nativeErr != 0 ? $"native ({LibC.StrError(nativeErr)}) nor generic" : "generic", -_linkFd);
    }

    private PortOpenException AttachError(string mode, int errno)
    {
        string hint = errno == LibC.EBUSY || errno == LibC.EEXIST
            ? $" Another XDP program is attached to {_if.Name} (`ip link show {_if.Name}`; detach it with `ip link set {_if.Name} xdp off` if it is stale; one attached through a BPF link goes away when the process holding it exits)."
            : "";
        return new PortOpenException(errno == LibC.EPERM ? PortOpenError.PermissionDenied : PortOpenError.Unsupported, _if.Name,
            $"afxdp:{_if.Name}: attaching the XDP program in {mode} mode failed: {LibC.StrError(errno)}.{hint}", errno);
    }

    private PortOpenException BpfError(string what, int errno)
    {
        if (errno == LibC.EPERM || errno == LibC.EACCES)
            return new PortOpenException(PortOpenError.PermissionDenied, _if.Name,
                $"afxdp:{_if.Name}: {what} was refused ({LibC.StrError(errno)}): AF_XDP needs root or CAP_BPF + CAP_NET_ADMIN + CAP_NET_RAW.", errno);
        if (errno == LibC.ENOSYS || errno == LibC.EINVAL)
            return new PortOpenException(PortOpenError.Unsupported, _if.Name,
                $"afxdp:{_if.Name}: {what} failed ({LibC.StrError(errno)}): the kernel lacks the BPF features AF_XDP needs (XSKMAP, BPF links: Linux 5.9+).", errno);
        return new PortOpenException(PortOpenError.Failed, _if.Name, $"afxdp:{_if.Name}: {what} failed: {LibC.StrError(errno)} (errno {errno}).", errno);
    }

    public int Receive(PacketPool pool, Span<int> pkts)
    {
        if (_fd < 0 || pkts.IsEmpty) return 0;
        uint avail = _rx.Available;
        if (avail == 0)
        {
            Idle();
            if (_opt.IdleWaitMs <= 0) return 0;
            avail = _rx.Available;
            if (avail == 0) return 0;
        }
        int want = (int)Math.Min(avail, (uint)pkts.Length);
        int got = pool.Alloc(pkts[..want]);
        if (got == 0)
        {
            _rxNoBuffers++;
            return 0;
        }

        int n = 0;
        long bytes = 0;
        uint rxIdx = _rx.Local;
        uint fillIdx = _fill.Local;
        byte* umem = _umem;
        for (int i = 0; i < got; i++)
        {
            ref XdpDesc d = ref _rx.Desc(rxIdx + (uint)i);
            ulong addr = d.Addr;
            int len = (int)d.Len;
            int p = pkts[n];
            if ((uint)len <= (uint)(pool.Room(p)) && len <= ushort.MaxValue)
            {
                new ReadOnlySpan<byte>(umem + addr, len).CopyTo(new Span<byte>(pool.Slab, pool.FrameOffset(p), len));
                pool.Length[p] = (ushort)len;
                pool.InPort[p] = PortNo;
                bytes += len;
                n++;
            }
            else
            {
                _rxTooBig++;
                _counters.RxDropped++;
            }
            _fill.Addr(fillIdx + (uint)i) = addr & _frameMask;
        }
        _rx.Release((uint)got);
        _fill.Submit((uint)got);   // the fill ring holds every RX frame, so it always has room for these
        if (_fill.NeedsWakeup) LibC.recvfrom(_fd, null, 0, LibC.MSG_DONTWAIT, null, null);
        if (n < got) pool.Release(pkts.Slice(n, got - n));
        _counters.RxPackets += n;
        _counters.RxBytes += bytes;
        return n;
    }

    /// <summary>
    /// The RX ring is empty: fold the kernel's drop counters in once a second, push out frames a busy device refused,
    /// and, when this port has its thread to itself (<see cref="AfXdpOptions.IdleWaitMs"/> &gt; 0), wait in poll().
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
        // Frames a busy device refused (NETDEV_TX_BUSY) stay in the TX ring; push them out while idle.
        if (!_tx.Drained && _txLock.TryEnter())
        {
            try
            {
                if (_fd >= 0) { Kick(); ReclaimCompletions(); }
            }
            finally { _txLock.Exit(); }
        }
        if (_opt.IdleWaitMs <= 0) return;
        LibC.PollFd pfd;
        pfd.Fd = _fd;
        pfd.Events = LibC.POLLIN;
        pfd.Revents = 0;
        LibC.poll(&pfd, 1, _opt.IdleWaitMs);
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
        if (drops > _lastKernelDrops) _counters.RxDropped += (long)(drops - _lastKernelDrops);
        _lastKernelDrops = drops;
    }

    public void Send(PacketPool pool, ReadOnlySpan<int> pkts)
    {
        if (pkts.IsEmpty) return;
        long sent = 0, bytes = 0, dropped = 0;
        lock (_txLock)
        {
            if (_fd < 0) return;
            ReclaimCompletions();
            int i = 0;
            while (i < pkts.Length)
            {
                int room = (int)Math.Min(_tx.Free, (uint)_txFreeCount);
                if (room == 0)
                {
                    Kick();
                    ReclaimCompletions();
                    room = (int)Math.Min(_tx.Free, (uint)_txFreeCount);
                    if (room == 0)
                    {
                        dropped += pkts.Length - i;
                        break;
                    }
                }
                int cnt = Math.Min(Math.Min(room, TxBatch), pkts.Length - i);
                uint idx = _tx.Local;
                uint k = 0;
                for (int j = 0; j < cnt; j++)
                {
                    int p = pkts[i + j];
                    int len = pool.Length[p];
                    if (len == 0 || len > _frameSize)
                    {
                        dropped++;
                        continue;
                    }
                    ulong addr = _txFree[--_txFreeCount];
                    new ReadOnlySpan<byte>(pool.Slab, pool.FrameOffset(p), len).CopyTo(new Span<byte>(_umem + addr, len));
                    ref XdpDesc d = ref _tx.Desc(idx + k);
                    d.Addr = addr;
                    d.Len = (uint)len;
                    d.Options = 0;
                    k++;
                    bytes += len;
                }
                _tx.Submit(k);
                sent += k;
                i += cnt;
                Kick();
                ReclaimCompletions();
            }
        }
        if (sent > 0)
        {
            Interlocked.Add(ref _counters.TxPackets, sent);
            Interlocked.Add(ref _counters.TxBytes, bytes);
        }
        if (dropped > 0) Interlocked.Add(ref _counters.TxDropped, dropped);
    }

    /// <summary>Asks the kernel to transmit what the TX ring holds (copy mode sends within this call, 32 at a time).</summary>
    private void Kick()
    {
        for (int attempt = 0; attempt < 8 && !_tx.Drained; attempt++)
        {
            if (LibC.sendto(_fd, null, 0, LibC.MSG_DONTWAIT, null, 0) >= 0) continue;
            int e = LibC.LastErrno;
            if (e is LibC.EAGAIN or LibC.EINTR) continue;   // more than one batch queued, or interrupted
            if (e is not (LibC.EBUSY or LibC.ENOBUFS)) _txKickErrors++;
            break;
        }
    }

    private void ReclaimCompletions()
    {
        uint avail = _comp.Available;
        if (avail == 0) return;
        uint idx = _comp.Local;
        for (uint i = 0; i < avail; i++) _txFree[_txFreeCount++] = _comp.Addr(idx + i) & _frameMask;
        _comp.Release(avail);
    }

    public void Dispose()
    {
        lock (_txLock)
        {
            if (_linkFd >= 0) { LibC.close(_linkFd); _linkFd = -1; }   // detaches the XDP program
            if (_progFd >= 0) { LibC.close(_progFd); _progFd = -1; }
            if (_mapFd >= 0) { LibC.close(_mapFd); _mapFd = -1; }
            Unmap(ref _rx);
            Unmap(ref _tx);
            Unmap(ref _fill);
            Unmap(ref _comp);
            if (_fd >= 0) { LibC.close(_fd); _fd = -1; }
            if (_umem != null) { LibC.munmap(_umem, _umemSize); _umem = null; }
        }
    }

    private static void Unmap(ref XskRing r)
    {
        if (r.Map != null) LibC.munmap(r.Map, r.MapSize);
        r = default;
    }

    public override string ToString() => $"afxdp:{_if.Name}";
}
