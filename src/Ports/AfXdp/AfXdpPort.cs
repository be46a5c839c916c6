using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
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
    /// <summary>UMEM frames for receive per queue (a power of two; the fill and RX rings have this size). 8192 holds
    /// about 6 ms of traffic at 1.3 Mpps, enough to ride out a descheduled forwarding thread on a busy machine. Each
    /// queue's UMEM takes (RxFrames + TxFrames) x FrameSize bytes (19 MiB by default).</summary>
    public int RxFrames { get; init; } = 8192;
    /// <summary>UMEM frames for transmit (a power of two; the TX and completion rings have this size).</summary>
    public int TxFrames { get; init; } = 1024;
    /// <summary>UMEM chunk size (2048 or 4096). The kernel puts 256 B of XDP headroom in front of received frames, so
    /// 2048 takes frames up to 1792 B (a 1500-byte MTU with a VLAN tag) in one descriptor; larger ones (jumbo frames)
    /// come and go as descriptor chains when <see cref="MultiBuffer"/> is on, and are dropped and counted otherwise.</summary>
    public int FrameSize { get; init; } = 2048;
    /// <summary>Ask for multi-buffer sockets (XDP_USE_SG) and a frags-aware XDP program, so frames larger than a UMEM
    /// frame pass (into the pool's large buffers); kernels or drivers without it bind without, and such frames are
    /// dropped and counted as before.</summary>
    public bool MultiBuffer { get; init; } = true;
    /// <summary>The one RX queue to serve; null (the default) serves every RX queue of the interface, one socket each.</summary>
    public int? QueueId { get; init; }
    /// <summary>Without <see cref="QueueId"/>: serve RX queues 0 to this minus one (Open vSwitch's n_rxq), one socket each;
    /// more than the interface has fails the open. Null (the default) serves every RX queue.</summary>
    public int? QueueCount { get; init; }
    /// <summary>Bind zero-copy when the driver offers it (copy mode otherwise); false: always copy mode.</summary>
    public bool ZeroCopy { get; init; } = true;
    /// <summary>Fail the open unless every socket binds zero-copy (Open vSwitch's xdp-mode native-with-zerocopy).</summary>
    public bool RequireZeroCopy { get; init; }
    /// <summary>Bind with XDP_USE_NEED_WAKEUP (the default): transmit calls into the kernel only when the TX ring asks
    /// for it. False: every transmit batch is kicked with a sendto (Open vSwitch's use-need-wakeup=false).</summary>
    public bool NeedWakeup { get; init; } = true;
    /// <summary>Non-zero: SO_PREFER_BUSY_POLL with SO_BUSY_POLL of this many microseconds on each socket, so our send and
    /// receive calls run the queue's NAPI work on the forwarding thread instead of the softirq (0, the default: off;
    /// on veth that work then moves from the sender's CPU to the forwarding CPU).</summary>
    public int KernelBusyPollMicros { get; init; }
    /// <summary>Frames per busy-poll of the NAPI context (SO_BUSY_POLL_BUDGET).</summary>
    public int KernelBusyPollBudget { get; init; } = 64;
    /// <summary>How long an empty <see cref="AfXdpPort.Receive"/> waits in poll() (0, the default: never waits; the
    /// forwarding thread blocks on <see cref="AfXdpPort.WaitFd"/> instead).</summary>
    public int IdleWaitMs { get; init; }
    /// <summary>The forwarding threads' packet memory, registered whole as every socket's UMEM instead of memory of
    /// each socket's own (frame size 2048 only): each socket takes RxFrames + TxFrames free slots of it at open (rounded
    /// up to whole batches) and gives them back at close, and receives into buffers of a pool carved from it without a
    /// copy (docs/ports.md, "The packet pool as the UMEM"). An arena with too few free slots for the port's queues is
    /// not used: the port opens with UMEMs of its own, and says so.</summary>
    public PacketArena? Arena { get; init; }
    /// <summary>Over an arena: whether a frame goes out from its own slot (no copy) instead of being copied into a TX
    /// frame. Null (the default): only on sockets bound zero-copy, where the NIC reads the slot itself; in copy mode
    /// the kernel's own copy of a slot the receiving CPU wrote cost more than the user copy it saves (veth, 1518 B:
    /// user time -150 ns a frame, kernel time +230; docs/benchmarks.md).</summary>
    public bool? SendInPlace { get; init; }
    public ILogger? Logger { get; init; }
}

/// <summary>
/// A port through AF_XDP sockets (zero-copy where the driver offers it, else copy mode), one per RX queue of the interface (or the one queue
/// <see cref="AfXdpOptions.QueueId"/> names): our own XDP program redirects each queue's frames into its socket's
/// UMEM, and we copy them into pool buffers; transmit copies frames into a UMEM and kicks the kernel.
/// </summary>
/// <remarks>
/// One <see cref="XskSocket"/> per served queue, all in one XSKMAP behind the redirect program, attached through a BPF
/// link (native mode, else generic), so a crashed switch leaves no program behind. Transmit goes through the sockets'
/// TX rings only, as Open vSwitch's static tx queue ids: forwarding thread t (<see cref="TransmitThread"/>) of the
/// N the datapath announced (<see cref="SetTransmitThreads"/>) sends on queue t mod Q, every other thread (packet-outs,
/// maintenance) on queue N mod Q; a queue with one such lane sends unlocked, one with more under its spinlock, and the
/// other threads' lane always locks (<see cref="TransmitLanes"/>). AF_XDP carries no checksum or GSO metadata; the port says so once at open. Frames larger than a UMEM frame travel
/// as descriptor chains on multi-buffer sockets (<see cref="MultiBuffer"/>), and are dropped and counted without.
/// Thread safety: Receive/PrepareWait of the port and of each receiver from one thread at a time; Send from any
/// number of threads; Dispose after the datapath stopped using the port. Design: docs/ports.md, "AF_XDP".
/// </remarks>
[SkipLocalsInit]
public sealed unsafe class AfXdpPort : IPort
{
    private readonly NetInterface _if;
    private readonly AfXdpOptions _opt;
    private readonly PortCounters _counters = new();
    private readonly XskSocket[] _sockets;
    private volatile XskSocket[] _served;      // what this port's own Receive polls: all sockets, or the first once split
    private int _next;                         // round-robin start among _served
    private int _epollFd = -1;                 // over _served when it holds more than one socket
    private int _mapFd = -1, _progFd = -1, _linkFd = -1, _flowProgFd = -1;
    private volatile TxLayout _tx;             // which queue each transmitting thread uses, and whether it locks
    private volatile bool _disposed;

    /// <summary>One thread's transmit queue: the socket, whether it sends under the queue's lock, and its queue id.</summary>
    private readonly record struct TxLane(XskSocket Socket, bool Locked, int Queue);

    /// <summary>The lanes of <c>N</c> forwarding threads (0..N-1) and of every other thread (N), with each lane's frame
    /// count (one cache line apart: written by its lane's thread, or under its queue's lock for the last lane).</summary>
    private sealed class TxLayout(TxLane[] lanes)
    {
        public const int Stride = 8;
        public readonly TxLane[] Lanes = lanes;
        public readonly long[] Frames = new long[(lanes.Length + 1) * Stride];
    }

    public PortInfo Info { get; }
    public PortCounters Counters => _counters;
    public bool LinkUp => _if.IsUp;
    public NetInterface Interface => _if;
    /// <summary>The XDP mode the redirect program got attached in (Native or Generic).</summary>
    public XdpAttachMode AttachedMode { get; }
    /// <summary>The RX queues served, one AF_XDP socket each.</summary>
    public IReadOnlyList<int> Queues { get; }
    /// <summary>UMEM frames for receive per queue: the depth of each queue's fill and RX rings (<see cref="AfXdpOptions.RxFrames"/>).</summary>
    public int RxFrames => _opt.RxFrames;
    public long RxTooBig => Sum(static s => Volatile.Read(ref s.RxTooBigCount));
    public long RxNoBuffers => Sum(static s => Volatile.Read(ref s.RxNoBuffersCount));
    /// <summary>Frames received as the arena slot they arrived in, and sent from their own slot (no copy).</summary>
    public long RxInPlace => Sum(static s => Volatile.Read(ref s.RxInPlaceCount));
    public long TxInPlace => Sum(static s => Volatile.Read(ref s.TxInPlaceCount));
    public long TxKickErrors => Sum(static s => Volatile.Read(ref s.TxKickErrorCount));
    /// <summary>sendto calls made to transmit, and those need_wakeup made unnecessary.</summary>
    public long TxKicks => Sum(static s => Volatile.Read(ref s.TxKickCount));
    public long TxKicksSkipped => Sum(static s => Volatile.Read(ref s.TxKickSkippedCount));
    /// <summary>sendto calls a socket's receiving thread made, idle, for frames left on the TX ring.</summary>
    public long TxIdleKicks => Sum(static s => Volatile.Read(ref s.TxIdleKickCount));
    /// <summary>Whether every socket of the port runs zero-copy (false: copy mode).</summary>
    public bool ZeroCopy => Array.TrueForAll(_sockets, static s => s is not null && s.ZeroCopy);
    /// <summary>Each socket's mode, in <see cref="Queues"/> order: zero-copy, or copy mode and why (<see cref="XskSocket.CopyReason"/>).</summary>
    public IReadOnlyList<(int Queue, bool ZeroCopy, string? CopyReason)> SocketModes
        => Array.ConvertAll(_sockets, static s => (s.QueueId, s.ZeroCopy, s.CopyReason));
    /// <summary>Whether the sockets' UMEM is the packet arena (<see cref="AfXdpOptions.Arena"/>): frames are received in
    /// place into the buffers of forwarding threads whose pools are carved from it.</summary>
    public bool InArena => _opt.Arena is not null;
    /// <summary>Why an arena given was not used (too few free slots, or an MTU whose frames do not fit a slot), or null.</summary>
    public string? ArenaRefusal { get; private set; }
    /// <summary>Whether every socket of the port takes frames larger than a UMEM frame (XDP_USE_SG).</summary>
    public bool MultiBuffer => Array.TrueForAll(_sockets, static s => s is not null && s.MultiBuffer);
    /// <summary>Whether the kernel busy-polls the sockets' NAPI contexts (<see cref="AfXdpOptions.KernelBusyPollMicros"/>).</summary>
    public bool KernelBusyPoll => Array.TrueForAll(_sockets, static s => s is not null && s.KernelBusyPoll);
    /// <summary>Times a sender found its queue's TX lock held (queues shared by several lanes).</summary>
    public long TxLockWaits => Sum(static s => Volatile.Read(ref s.TxLockWaitCount));
    /// <summary>TX descriptors posted per served queue (same order as <see cref="Queues"/>).</summary>
    public long[] TxPostedPerQueue => Array.ConvertAll(_sockets, static s => s.TxPosted);
    /// <summary>TX descriptors the kernel completed per served queue: equal to <see cref="TxPostedPerQueue"/> once the
    /// queues drained (nothing lost between the TX and completion rings).</summary>
    public long[] TxCompletedPerQueue => Array.ConvertAll(_sockets, static s => s.TxCompleted);

    /// <summary>What each transmitting thread uses: "fwd-T" for forwarding thread T, "other" for every other thread;
    /// the queue it sends on, whether under the queue's lock, and the frames it sent.</summary>
    public IReadOnlyList<(string Thread, int Queue, bool Locked, long Frames)> TransmitLanes
    {
        get
        {
            var layout = _tx;
            var list = new List<(string, int, bool, long)>(layout.Lanes.Length);
            for (int i = 0; i < layout.Lanes.Length; i++)
            {
                var l = layout.Lanes[i];
                string who = i == layout.Lanes.Length - 1 ? "other" : $"fwd-{i}";
                list.Add((who, l.Queue, l.Locked, Volatile.Read(ref layout.Frames[i * TxLayout.Stride])));
            }
            return list;
        }
    }
    /// <summary>Frames received per served queue (same order as <see cref="Queues"/>).</summary>
    public long[] RxPacketsPerQueue => Array.ConvertAll(_sockets, static s => s.RxPackets);

    public AfXdpPort(string ifname, AfXdpOptions? options = null)
    {
        _opt = options ?? new AfXdpOptions();
        _if = NetInterface.Open(ifname);
        if (_opt.FrameSize is not (2048 or 4096) || !IsPow2(_opt.RxFrames) || !IsPow2(_opt.TxFrames))
            throw new PortOpenException(PortOpenError.InvalidSpec, ifname, $"afxdp:{ifname}: frame size must be 2048 or 4096 and frame counts powers of two.");
        int queueCount = _if.RxQueueCount;
        if (_opt.Arena is not null && _opt.FrameSize != PacketArena.SlotSize)
            throw new PortOpenException(PortOpenError.InvalidSpec, ifname, $"afxdp:{ifname}: an arena UMEM takes frames of {PacketArena.SlotSize} bytes.");
        if (_opt.QueueId is { } q && (q < 0 || q >= queueCount))
            throw new PortOpenException(PortOpenError.InvalidSpec, ifname, $"afxdp:{ifname}: queue={q} does not exist; the interface has {queueCount} RX queue(s) (0 to {queueCount - 1}).");
        if (_opt.QueueId is null && _opt.QueueCount is { } n && (n < 1 || n > queueCount))
            throw new PortOpenException(PortOpenError.InvalidSpec, ifname, $"afxdp:{ifname}: {n} RX queue(s) asked for; the interface has {queueCount} (queues 0 to {queueCount - 1}).");
        int[] queues = _opt.QueueId is { } one ? [one] : Enumerable.Range(0, _opt.QueueCount ?? queueCount).ToArray();
        Queues = queues;
        _sockets = new XskSocket[queues.Length];
        _served = _sockets;
        try
        {
            int perSocket = (_opt.RxFrames + _opt.TxFrames + PacketArena.Batch - 1) / PacketArena.Batch * PacketArena.Batch;
            // A frame of the interface's MTU with two VLAN tags must fit a slot behind the kernel's headroom.
            int slotFrame = PacketArena.SlotSize - PacketArena.KernelHeadroom;
            if (_opt.Arena is not null && _if.Mtu + 14 + 8 > slotFrame)
            {
                ArenaRefusal = $"mtu {_if.Mtu}: a frame of {_if.Mtu + 14 + 8} bytes with two VLAN tags does not fit the {slotFrame} a packet arena slot receives";
                _opt.Logger?.LogWarning("{If}: {Why}: its sockets get UMEMs of their own, and frames are copied", ifname, ArenaRefusal);
                _opt = _opt with { Arena = null };
            }
            if (_opt.Arena is { } a && (long)perSocket * queues.Length > a.SharedFreeCount)
            {
                ArenaRefusal = $"the packet arena has {a.SharedFreeCount} free slots, {queues.Length} queue(s) of {perSocket} frames need more";
                _opt.Logger?.LogWarning("{If}: {Why}: its sockets get UMEMs of their own, and frames are copied", ifname, ArenaRefusal);
                _opt = _opt with { Arena = null };
            }
            for (int i = 0; i < queues.Length; i++) _sockets[i] = new XskSocket(_if, _opt, queues[i], _counters);
            if (_opt.RequireZeroCopy && !ZeroCopy)
                throw new PortOpenException(PortOpenError.Unsupported, ifname, $"afxdp:{ifname}: zero-copy was asked for, but the driver bound the socket(s) in copy mode ({Array.Find(_sockets, static s => !s.ZeroCopy)!.CopyReason}).");
            if (_sockets.Length > 1) _epollFd = EpollOver(_sockets);
            _tx = Layout(1);
            AttachedMode = AttachProgram(queueCount);
            Info = _if.ToPortInfo();
        }
        catch
        {
            Dispose();
            throw;
        }
        // XDP sees frames before the kernel's checksum and GSO metadata could travel with them (no virtio-net header
        // here). A local sender's unfilled checksums are recognised and filled (XskSocket.Receive); its TSO super-frames
        // are not segmented. In native mode a veth turns its peer's TSO off while the program runs, so none come; in
        // generic mode they do: say so once, with the fix.
        if (AttachedMode != XdpAttachMode.Native)
        {
            _opt.Logger?.LogWarning("{If}: AF_XDP in generic mode receives a local sender's TSO super-frames (a veth peer's default) without the kernel's " +
                "offload metadata and drops them as too big. Turn TSO off on the sending side (`ethtool -K PEER tso off gso off`), attach in native mode " +
                "(afxdp:{If}:xdp-mode=native), or use afpacket:{If}, which segments in software.", ifname, ifname, ifname);
        }
        _opt.Logger?.LogInformation("{If}: AF_XDP port open, {Queues}, {Copy} mode{Sg}, XDP program attached in {Mode} mode",
            ifname, queues.Length == 1 ? $"queue {queues[0]}" + (queueCount > 1 ? $" of {queueCount} (frames on the others go to the kernel stack)" : "")
                : $"queues 0-{queues.Length - 1}, one socket each",
            ZeroCopy ? "zero-copy" : "copy",
            MultiBuffer ? " with multi-buffer frames" : "",
            AttachedMode == XdpAttachMode.Native ? "native (driver)" : "generic (skb)");
    }

    private static bool IsPow2(int v) => v > 0 && (v & (v - 1)) == 0;

    private long Sum(Func<XskSocket, long> read)
    {
        long n = 0;
        foreach (var s in _sockets) if (s is not null) n += read(s);
        return n;
    }

    private int EpollOver(XskSocket[] sockets)
    {
        int ep = LibC.epoll_create1(LibC.EPOLL_CLOEXEC);
        if (ep < 0) throw PortOpenException.FromErrno(_if.Name, "Creating an epoll set over the AF_XDP sockets", LibC.LastErrno);
        foreach (var s in sockets)
        {
            LibC.EpollEvent ev;
            ev.Events = LibC.EPOLLIN;
            ev.Data = (ulong)s.Fd;
            if (LibC.epoll_ctl(ep, LibC.EPOLL_CTL_ADD, s.Fd, &ev) != 0)
            {
                int e = LibC.LastErrno;
                LibC.close(ep);
                throw PortOpenException.FromErrno(_if.Name, "Adding an AF_XDP socket to the epoll set", e);
            }
        }
        return ep;
    }

    private XdpAttachMode AttachProgram(int queueCount)
    {
        int maxEntries = queueCount;
        foreach (var s in _sockets) maxEntries = Math.Max(maxEntries, s.QueueId + 1);
        _mapFd = Bpf.CreateXskMap(maxEntries);
        if (_mapFd < 0) throw BpfError("Creating the XSKMAP", -_mapFd);
        foreach (var s in _sockets)
        {
            int rc = Bpf.UpdateElem(_mapFd, (uint)s.QueueId, (uint)s.Fd);
            if (rc < 0) throw BpfError($"Registering the socket of queue {s.QueueId} in the XSKMAP", -rc);
        }
        _progFd = Bpf.LoadRedirectProgram(_mapFd, out string log, frags: MultiBuffer);
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
        {
            return new PortOpenException(PortOpenError.PermissionDenied, _if.Name,
                $"afxdp:{_if.Name}: {what} was refused ({LibC.StrError(errno)}): AF_XDP needs root or CAP_BPF + CAP_NET_ADMIN + CAP_NET_RAW.", errno);
        }

        if (errno == LibC.ENOSYS || errno == LibC.EINVAL)
        {
            return new PortOpenException(PortOpenError.Unsupported, _if.Name,
                $"afxdp:{_if.Name}: {what} failed ({LibC.StrError(errno)}): the kernel lacks the BPF features AF_XDP needs (XSKMAP, BPF links: Linux 5.9+).", errno);
        }

        return new PortOpenException(PortOpenError.Failed, _if.Name, $"afxdp:{_if.Name}: {what} failed: {LibC.StrError(errno)} (errno {errno}).", errno);
    }

    public int WaitFd
    {
        get
        {
            if (_disposed) return PortWait.Unavailable;
            var served = _served;
            return served.Length == 1 ? served[0].Fd : _epollFd;
        }
    }

    public bool PrepareWait()
    {
        bool idle = true;
        foreach (var s in _served)
            if (!s.PrepareWait()) idle = false;
        return idle;
    }

    public int Receive(PacketPool pool, Span<int> pkts)
    {
        var served = _served;
        int n = ReceiveFrom(served, pool, pkts);
        if (n > 0 || _opt.IdleWaitMs <= 0 || _disposed) return n;
        LibC.PollFd pfd;
        pfd.Fd = served.Length == 1 ? served[0].Fd : _epollFd;
        pfd.Events = LibC.POLLIN;
        pfd.Revents = 0;
        LibC.poll(&pfd, 1, _opt.IdleWaitMs);
        return ReceiveFrom(served, pool, pkts);
    }

    private int ReceiveFrom(XskSocket[] served, PacketPool pool, Span<int> pkts)
    {
        if (served.Length == 1) return served[0].Receive(pool, pkts);
        int n = 0;
        int start = _next;
        _next = start + 1 < served.Length ? start + 1 : 0;
        for (int k = 0; k < served.Length && n < pkts.Length; k++)
        {
            int i = start + k;
            if (i >= served.Length) i -= served.Length;
            n += served[i].Receive(pool, pkts[n..]);
        }
        return n;
    }

    /// <summary>
    /// Gives each served queue its own receiver (this port keeps the first): the datapath deals them round-robin (then by load) to its
    /// <paramref name="count"/> forwarding threads, so each thread polls, and transmits on, a share of the queues.
    /// One queue: just this port.
    /// </summary>
    public IRxQueue[] OpenReceivers(int count)
    {
        if (count <= 1 || _sockets.Length <= 1 || _served.Length <= 1) return [this];
        var list = new IRxQueue[_sockets.Length];
        list[0] = this;
        for (int i = 1; i < _sockets.Length; i++) list[i] = new QueueReceiver(this, _sockets[i]);
        _served = [_sockets[0]];
        _opt.Logger?.LogInformation("{If}: {Queues} AF_XDP queues split across {Count} forwarding threads (queue i received by thread i mod N until a rebalance moves it by load, thread t transmits on queue t mod Q)",
            _if.Name, _sockets.Length, count);
        return list;
    }

    /// <summary>The kernel counters (XDP_STATISTICS) summed over the sockets, cumulative since open.</summary>
    public XdpSocketStatistics KernelStatistics
    {
        get
        {
            ulong a = 0, b = 0, c = 0, d = 0, e = 0, f = 0;
            foreach (var s in _sockets)
            {
                if (s is null) continue;
                var st = s.KernelStatistics;
                a += st.RxDropped; b += st.RxInvalidDescs; c += st.TxInvalidDescs; d += st.RxRingFull; e += st.FillRingEmptyDescs; f += st.TxRingEmptyDescs;
            }
            return new XdpSocketStatistics(a, b, c, d, e, f);
        }
    }

    /// <summary>Folds the sockets' kernel drops into RxDropped. Call only from the thread(s) receiving from them.</summary>
    public void RefreshStatistics()
    {
        foreach (var s in _served) s.RefreshStatistics();
    }

    public void Send(PacketPool pool, ReadOnlySpan<int> pkts)
    {
        if (pkts.IsEmpty || _disposed) return;
        var layout = _tx;
        var lanes = layout.Lanes;
        int t = TransmitThread.Current;
        int i = (uint)t < (uint)(lanes.Length - 1) ? t : lanes.Length - 1;   // a thread beyond the N announced: the other lane
        ref readonly TxLane lane = ref lanes[i];
        lane.Socket.Send(pool, pkts, lane.Locked, ref layout.Frames[i * TxLayout.Stride]);
    }

    /// <summary>
    /// Lays out transmit for <paramref name="count"/> forwarding threads (<see cref="IPort.SetTransmitThreads"/>): thread t
    /// on queue t mod Q, every other thread on queue count mod Q (the next in turn, so with more queues than threads it has
    /// one to itself). Called by the datapath before the port is published to its threads; not while frames are sent.
    /// </summary>
    public void SetTransmitThreads(int count) => _tx = Layout(Math.Max(1, count));

    private TxLayout Layout(int count)
    {
        int q = _sockets.Length;
        var users = new int[q];
        for (int t = 0; t <= count; t++) users[t % q]++;
        var lanes = new TxLane[count + 1];
        for (int t = 0; t < count; t++) lanes[t] = new TxLane(_sockets[t % q], users[t % q] > 1, _sockets[t % q].QueueId);
        lanes[count] = new TxLane(_sockets[count % q], true, _sockets[count % q].QueueId);   // any number of threads: always locked
        return new TxLayout(lanes);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_linkFd >= 0) { LibC.close(_linkFd); _linkFd = -1; }   // detaches the XDP program
        if (_progFd >= 0) { LibC.close(_progFd); _progFd = -1; }
        if (_flowProgFd >= 0) { LibC.close(_flowProgFd); _flowProgFd = -1; }
        if (_mapFd >= 0) { LibC.close(_mapFd); _mapFd = -1; }
        if (_epollFd >= 0) { LibC.close(_epollFd); _epollFd = -1; }
        foreach (var s in _sockets) s?.Dispose();
    }

    public override string ToString() => $"afxdp:{_if.Name}";

    /// <summary>Whether the flow program (<see cref="UseFlowProgram"/>) runs on the port instead of the plain redirect.</summary>
    public bool FlowProgramAttached => _flowProgFd >= 0;

    /// <summary>
    /// Runs the flow program over <paramref name="maps"/> on this port (frames of offloaded flows are forwarded in the
    /// kernel, the others reach this port's sockets as before), or with null the plain redirect again. The program is
    /// swapped in the port's BPF link atomically: every frame meets one program or the other. Throws
    /// <see cref="PortOpenException"/> when the kernel refuses it (the verifier's log in the message).
    /// </summary>
    public void UseFlowProgram(XdpFlowMaps? maps)
    {
        if (maps is null)
        {
            if (_flowProgFd < 0) return;
            int r = Bpf.UpdateLink(_linkFd, _progFd);
            if (r < 0) throw BpfError("Restoring the XDP redirect program", -r);
            LibC.close(_flowProgFd);
            _flowProgFd = -1;
            return;
        }
        // Unfilled checksums are filled in native mode only: a generic-mode skb keeps its checksum state (see Build).
        bool fill = AttachedMode == XdpAttachMode.Native;
        var insns = XdpFlowProgram.Build(_mapFd, maps, multiBuffer: MultiBuffer, fillPartial: fill);
        int fd = Bpf.LoadXdpProgram(insns, "ssw_xdp_flows", out string log, frags: MultiBuffer);
        if (fd < 0 && MultiBuffer)
        {
            // A kernel without bpf_xdp_get_buff_len: the program for single-buffer frames (a longer frame is then a miss).
            insns = XdpFlowProgram.Build(_mapFd, maps, multiBuffer: false, fillPartial: fill);
            fd = Bpf.LoadXdpProgram(insns, "ssw_xdp_flows", out log, frags: false);
        }
        if (fd < 0)
        {
            var e = BpfError("Loading the XDP flow program", -fd);
            throw new PortOpenException(e.Error, _if.Name, e.Message + (log.Length > 0 ? " Verifier: " + log : ""), e.Errno);
        }
        int rc = Bpf.UpdateLink(_linkFd, fd);
        if (rc < 0)
        {
            LibC.close(fd);
            throw BpfError("Attaching the XDP flow program", -rc);
        }
        if (_flowProgFd >= 0) LibC.close(_flowProgFd);
        _flowProgFd = fd;
    }

    /// <summary>
    /// A split-off receive queue: receives from its socket on its forwarding thread; sending, counters and disposal
    /// (of the socket too) stay with the port.
    /// </summary>
    private sealed class QueueReceiver(AfXdpPort port, XskSocket socket) : IRxQueue
    {
        public int WaitFd => port._disposed ? PortWait.Unavailable : socket.Fd;
        public bool PrepareWait() => socket.PrepareWait();
        public int Receive(PacketPool pool, Span<int> pkts) => socket.Receive(pool, pkts);
        public void Dispose() { }
        public override string ToString() => $"{port} queue {socket.QueueId}";
    }
}
