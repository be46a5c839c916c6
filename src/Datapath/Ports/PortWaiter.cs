using System.Runtime.InteropServices;

namespace Softswitch.Datapath.Ports;

/// <summary>Special values of <see cref="IRxQueue.WaitFd"/>.</summary>
public static class PortWait
{
    /// <summary>The port cannot signal arrivals: a thread that owns it naps in timed waits of <see cref="PortWaiter.UnwaitableNapMs"/>.</summary>
    public const int Unavailable = -1;
    /// <summary>The port never receives on its own (tunnels: their frames arrive through the underlay port).</summary>
    public const int NeverReceives = -2;

    private static int s_waitFdChanges;

    /// <summary>A port whose <see cref="IRxQueue.WaitFd"/> changed calls this (an AF_PACKET port that moved to a new
    /// socket); every <see cref="PortWaiter"/> reads its ports' descriptors again before its next wait.</summary>
    public static void NoteWaitFdChanged() => Interlocked.Increment(ref s_waitFdChanges);

    internal static int WaitFdChanges => Volatile.Read(ref s_waitFdChanges);
}

/// <summary>
/// Where one forwarding thread blocks when it has nothing to do: an epoll set over its ports' wait descriptors
/// (<see cref="IRxQueue.WaitFd"/>: AF_PACKET and AF_XDP sockets, tap and pcap fds, in-memory ports' eventfds) plus an
/// eventfd for control work (port changes, stop).
/// </summary>
/// <remarks>
/// Design: the set is rebuilt on the owning thread when its port array (an immutable snapshot) changed; descriptors
/// are level-triggered, so a frame that arrived after the last poll and before epoll_wait makes the wait return at
/// once: there is no lost wake-up as long as each port's <see cref="IRxQueue.PrepareWait"/> arms its signal before
/// re-checking for work (in-memory ports) or its fd is readable while frames wait (sockets).
/// The ports' descriptors are in the set only around sleeps: added when the thread is about to block, taken out
/// again once it has been busy for <see cref="DisarmAfterBusyRounds"/> rounds (<see cref="NoteWork"/>). A socket with
/// an epoll entry on its wait queue runs the entry's callback, under the queue's lock with interrupts off, on every
/// wake-up the kernel gives it: every transmitted frame's completion (sock_wfree) and every receive batch. That was
/// 7% of a busy AF_XDP forwarding thread; a spinning thread needs none of it. Adding a descriptor polls it, so a frame
/// that came while it was out of the set still ends the wait at once. A port whose descriptor changed
/// (<see cref="PortWait.NoteWaitFdChanged"/>) has every armed set read its ports' descriptors again before its next wait.
/// <see cref="Wake"/> writes the eventfd from any thread; the owner drains it after each wait.
/// Without epoll (a non-Linux host) the waiter degrades to a timed nap, so the switch still runs.
/// Thread safety: everything but <see cref="Wake"/> belongs to the owning forwarding thread.
/// </remarks>
public sealed unsafe partial class PortWaiter : IDisposable
{
    /// <summary>Longest blocking wait when some port cannot signal (it is polled at least this often).</summary>
    public const int UnwaitableNapMs = 1;

    private const int EPOLL_CLOEXEC = 0x80000;
    private const int EPOLL_CTL_ADD = 1;
    private const int EPOLL_CTL_DEL = 2;
    private const uint EPOLLIN = 0x1;
    private const int EFD_CLOEXEC = 0x80000;
    private const int EFD_NONBLOCK = 0x800;

    private int _epfd = -1;
    private int _efd = -1;
    private RxQueue[]? _ports;
    private bool _hasUnwaitable;
    private long _sleeps, _wakeups, _disarms;
    // The port descriptors in the set while armed (each once: two ports may share one).
    private readonly List<int> _armedFds = [];
    private bool _armed;
    private int _armedChanges;   // PortWait.WaitFdChanges when the set was armed
    private int _busyRounds;

    /// <summary>Rounds with work after a wait before the ports' descriptors leave the set.</summary>
    public const int DisarmAfterBusyRounds = 8;

    public PortWaiter()
    {
        if (!OperatingSystem.IsLinux()) return;
        _epfd = epoll_create1(EPOLL_CLOEXEC);
        _efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (_epfd < 0 || _efd < 0)
        {
            Dispose();
            return;
        }
        Add(_efd);
    }

    /// <summary>Times the thread blocked in the kernel.</summary>
    public long Sleeps => Volatile.Read(ref _sleeps);
    /// <summary>Times a control request (<see cref="Wake"/>) woke it.</summary>
    public long ControlWakeups => Volatile.Read(ref _wakeups);
    /// <summary>Whether the waiter blocks in epoll (false: timed naps only).</summary>
    public bool Blocking => _epfd >= 0;
    /// <summary>Times the ports' descriptors were taken out of the set because the thread stayed busy.</summary>
    public long Disarms => Volatile.Read(ref _disarms);
    /// <summary>Whether the ports' descriptors are in the set now (owning thread).</summary>
    public bool Armed => _armed;

    /// <summary>
    /// The owning thread's round found work: after <see cref="DisarmAfterBusyRounds"/> such rounds since the last
    /// wait, the ports' descriptors leave the set until the next <see cref="Wait"/>.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public void NoteWork()
    {
        if (_armed && ++_busyRounds >= DisarmAfterBusyRounds) Disarm();
    }

    /// <summary>Wakes the owning thread if it is blocked, or makes its next wait return at once (any thread).</summary>
    public void Wake()
    {
        if (_efd < 0) return;
        ulong one = 1;
        write(_efd, &one, 8);
    }

    /// <summary>
    /// Blocks until a port's descriptor is readable, <see cref="Wake"/> is called, or <paramref name="timeoutMs"/>
    /// passes (-1: no limit). The caller has called <see cref="IRxQueue.PrepareWait"/> on every port and found no work.
    /// </summary>
    public void Wait(RxQueue[] ports, int timeoutMs)
    {
        Watch(ports);
        _busyRounds = 0;
        if (_hasUnwaitable && (timeoutMs < 0 || timeoutMs > UnwaitableNapMs)) timeoutMs = UnwaitableNapMs;
        _sleeps++;
        if (_epfd < 0)
        {
            Thread.Sleep(timeoutMs < 0 ? UnwaitableNapMs : Math.Min(timeoutMs, UnwaitableNapMs));
            return;
        }
        const int Max = 16;
        EpollEvent* events = stackalloc EpollEvent[Max];
        int n = epoll_wait(_epfd, events, Max, timeoutMs);
        for (int i = 0; i < n; i++)
        {
            if (events[i].Data != (ulong)_efd) continue;
            ulong v;
            read(_efd, &v, 8);
            _wakeups++;
        }
    }

    /// <summary>Makes the epoll set follow <paramref name="ports"/> and puts their descriptors in it (reads their
    /// <see cref="IRxQueue.WaitFd"/>). <see cref="Wait"/> does it too; a thread calls it first while it may still touch
    /// its ports.</summary>
    public void Watch(RxQueue[] ports)
    {
        if (!ReferenceEquals(ports, _ports)) Rebuild(ports);
        else if (_armed && _armedChanges != PortWait.WaitFdChanges) Unarm();   // a port's descriptor changed
        if (!_armed) Arm();
    }

    private void Rebuild(RxQueue[] ports)
    {
        _ports = ports;
        _hasUnwaitable = false;
        _armed = false;
        _armedFds.Clear();
        if (_epfd < 0) return;
        // A fresh set holding the control eventfd; the ports' descriptors join it when the thread is about to block.
        close(_epfd);
        _epfd = epoll_create1(EPOLL_CLOEXEC);
        if (_epfd < 0) return;
        Add(_efd);
    }

    /// <summary>Adds the ports' descriptors to the set (before a wait).</summary>
    private void Arm()
    {
        _armed = true;
        _armedChanges = PortWait.WaitFdChanges;
        if (_epfd < 0 || _ports is null) return;
        foreach (var q in _ports)
        {
            int fd = q.Receiver.WaitFd;
            if (fd == PortWait.NeverReceives) continue;
            if (fd < 0) { _hasUnwaitable = true; continue; }
            if (_armedFds.Contains(fd)) continue;   // two ports share a descriptor (a wrapper and its inner port)
            if (Add(fd)) _armedFds.Add(fd);
            else _hasUnwaitable = true;
        }
    }

    /// <summary>Takes the ports' descriptors out of the set, to be read again (a closed one has left it already).</summary>
    private void Unarm()
    {
        _armed = false;
        foreach (int fd in _armedFds) epoll_ctl(_epfd, EPOLL_CTL_DEL, fd, null);
        _armedFds.Clear();
    }

    /// <summary>Takes the ports' descriptors out of the set (the thread is busy and polls them itself).</summary>
    private void Disarm()
    {
        _armed = false;
        _disarms++;
        foreach (int fd in _armedFds) epoll_ctl(_epfd, EPOLL_CTL_DEL, fd, null);
        _armedFds.Clear();
    }

    /// <summary>The descriptors in the epoll set now, as the kernel lists them (/proc/self/fdinfo).</summary>
    internal IReadOnlyList<int> RegisteredDescriptors()
    {
        var fds = new List<int>();
        if (_epfd < 0) return fds;
        foreach (var line in File.ReadLines($"/proc/self/fdinfo/{_epfd}"))
        {
            if (!line.StartsWith("tfd:", StringComparison.Ordinal)) continue;
            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            fds.Add(int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
        }
        return fds;
    }

    private bool Add(int fd)
    {
        EpollEvent ev;
        ev.Events = EPOLLIN;
        ev.Data = (ulong)fd;
        return epoll_ctl(_epfd, EPOLL_CTL_ADD, fd, &ev) == 0;
    }

    public void Dispose()
    {
        if (_epfd >= 0) { close(_epfd); _epfd = -1; }
        if (_efd >= 0) { close(_efd); _efd = -1; }
    }

    /// <summary>struct epoll_event as x86-64 lays it out (packed, 12 bytes).</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    private struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    /// <summary>A non-blocking eventfd for a port that wakes its waiter itself (the in-memory port); -1 off Linux or on failure.</summary>
    public static int NewEventFd() => OperatingSystem.IsLinux() ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : -1;

    /// <summary>Adds one to an eventfd's counter (wakes whoever polls it).</summary>
    public static void SignalEventFd(int fd)
    {
        ulong one = 1;
        write(fd, &one, 8);
    }

    /// <summary>Resets a non-blocking eventfd's counter to zero.</summary>
    public static void DrainEventFd(int fd)
    {
        ulong v;
        read(fd, &v, 8);
    }

    /// <summary>Closes a descriptor from <see cref="NewEventFd"/>.</summary>
    public static void CloseFd(int fd) => close(fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_create1(int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_ctl(int epfd, int op, int fd, EpollEvent* ev);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_wait(int epfd, EpollEvent* events, int maxEvents, int timeoutMs);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int eventfd(uint initval, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint read(int fd, void* buf, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, void* buf, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
