using System.Runtime.InteropServices;

namespace Softswitch.Ports.Linux;

/// <summary>
/// Listens to the kernel's link notifications (an rtnetlink socket joined to RTMGRP_LINK) and calls back when any
/// interface's link changes, so carrier and administrative changes reach the datapath (port status, fast-failover and
/// select-group liveness) within a millisecond of the kernel's event rather than at the next maintenance round.
/// </summary>
/// <remarks>
/// Any RTM_NEWLINK/RTM_DELLINK wakes the callback: it re-reads the ports' link states, which is cheap and keeps this
/// class free of interface bookkeeping. Bursts are coalesced (one callback per receive round). One thread
/// (<c>link-monitor</c>), blocked in poll(2) with a short timeout so <see cref="Dispose"/> ends it promptly; it also
/// runs the owner's periodic check, when given one (<see cref="TryStart"/>'s <c>tick</c>), so that check needs no
/// thread of its own.
/// </remarks>
public sealed unsafe class LinkMonitor : IDisposable
{
    private const int AF_NETLINK = 16, NETLINK_ROUTE = 0, RTMGRP_LINK = 1;

    [StructLayout(LayoutKind.Sequential)]
    private struct SockaddrNl
    {
        public ushort Family;
        public ushort Pad;
        public uint Pid;
        public uint Groups;
    }

    private readonly int _fd;
    private readonly Action _onChange;
    private readonly Action? _tick;
    private readonly long _tickMs;
    private readonly Thread _thread;
    private volatile bool _running = true;
    private long _events;

    private LinkMonitor(int fd, Action onChange, Action? tick, TimeSpan tickPeriod)
    {
        _fd = fd;
        _onChange = onChange;
        _tick = tick;
        _tickMs = Math.Max(1, (long)tickPeriod.TotalMilliseconds);
        _thread = new Thread(Run) { IsBackground = true, Name = "link-monitor" };
        _thread.Start();
    }

    /// <summary>Link notifications received.</summary>
    public long Events => Interlocked.Read(ref _events);

    /// <summary>
    /// Starts listening; null with the reason when the kernel refuses the socket. <paramref name="tick"/>, when given,
    /// runs on the same thread every <paramref name="tickPeriod"/> (default 1 s), between notifications.
    /// </summary>
    public static LinkMonitor? TryStart(Action onChange, out string? error, Action? tick = null, TimeSpan? tickPeriod = null)
    {
        int fd = LibC.socket(AF_NETLINK, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC | LibC.SOCK_NONBLOCK, NETLINK_ROUTE);
        if (fd < 0)
        {
            error = $"rtnetlink socket: {LibC.StrError(Marshal.GetLastPInvokeError())}";
            return null;
        }
        var addr = new SockaddrNl { Family = AF_NETLINK, Groups = RTMGRP_LINK };
        if (LibC.bind(fd, &addr, (uint)sizeof(SockaddrNl)) != 0)
        {
            error = $"rtnetlink bind: {LibC.StrError(Marshal.GetLastPInvokeError())}";
            LibC.close(fd);
            return null;
        }
        error = null;
        return new LinkMonitor(fd, onChange, tick, tickPeriod ?? TimeSpan.FromSeconds(1));
    }

    private void Run()
    {
        var buffer = new byte[16384];
        var pfd = new LibC.PollFd { Fd = _fd, Events = LibC.POLLIN };
        long nextTick = Environment.TickCount64 + _tickMs;
        while (_running)
        {
            int r = LibC.poll(&pfd, 1, 200);
            if (_tick is not null && _running && Environment.TickCount64 >= nextTick)
            {
                nextTick = Environment.TickCount64 + _tickMs;
                _tick();
            }
            if (r <= 0 || !_running) continue;
            bool any = false;
            fixed (byte* b = buffer)
            {
                // Drain what is queued (a burst of changes is one callback); ENOBUFS (overrun) also means "re-read".
                while (true)
                {
                    nint n = LibC.recvfrom(_fd, b, (nuint)buffer.Length, LibC.MSG_DONTWAIT, null, null);
                    if (n > 0)
                    {
                        any = true;
                        continue;
                    }
                    if (n < 0 && Marshal.GetLastPInvokeError() == LibC.ENOBUFS)
                    {
                        any = true;
                        continue;
                    }
                    break;
                }
            }
            if (!any) continue;
            Interlocked.Increment(ref _events);
            _onChange();
        }
    }

    public void Dispose()
    {
        if (!_running) return;
        _running = false;
        _thread.Join(1000);
        LibC.close(_fd);
    }
}
