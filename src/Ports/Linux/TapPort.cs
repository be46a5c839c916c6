using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ports.Linux;

/// <summary>
/// A port that is a TAP device: frames the kernel sends out of the tap interface are received here, and frames we
/// send appear as received on it (so the host stack, or a namespace the tap is moved into, is the peer).
/// </summary>
/// <remarks>
/// Opens /dev/net/tun with TUNSETIFF (IFF_TAP | IFF_NO_PI), creating the interface if it does not exist, non-blocking,
/// and sets it up (unless asked to leave it administratively down, as the LOCAL port is). The tap has no batch
/// syscall: one read() per received frame (until the burst is full or read says EAGAIN) and one write() per sent
/// frame (under a lock). Receive never waits: an idle forwarding thread blocks on the tap's fd (<see cref="WaitFd"/>).
/// The interface disappears when the port is disposed unless it was made persistent beforehand (ip tuntap add).
/// Thread safety: Receive from one thread at a time; Send from any number of threads.
/// </remarks>
[SkipLocalsInit]
public sealed unsafe partial class TapPort : IPort
{
    private const ulong TUNSETIFF = 0x400454ca;
    private const short IFF_TAP = 0x0002;
    private const short IFF_NO_PI = 0x1000;
    private const int O_RDWR = 2;
    private const int O_NONBLOCK = 0x800;
    private const int O_CLOEXEC = 0x80000;
    private const ulong SIOCSIFFLAGS = 0x8914;

    private readonly PortCounters _counters = new() { RxErrors = 0 }; // the one error counter this port keeps
    private readonly Lock _txLock = new();
    private readonly NetInterface _if;
    private int _fd;
    private long _rxTooBig;
    private int _skipReads;

    /// <summary>
    /// Receive calls skipped after a read that found nothing. A busy forwarding thread polls every port each round;
    /// the rings' poll is a memory load, this port's is a read() syscall, which on a thread forwarding small bursts
    /// from other ports cost a quarter of its time. <see cref="PrepareWait"/> re-arms the read, so the thread never
    /// sleeps on a tap it has not read (the fd is level-triggered in its epoll set).
    /// </summary>
    internal const int EmptyReadSkips = 15;

    public PortInfo Info { get; }
    public PortCounters Counters => _counters;
    public bool LinkUp => _if.IsUp;
    public NetInterface Interface => _if;
    public long RxTooBig => Volatile.Read(ref _rxTooBig);
    public int WaitFd => _fd >= 0 ? _fd : PortWait.Unavailable;

    /// <summary>The next Receive reads (the thread is about to wait on <see cref="WaitFd"/>); never vetoes the wait.</summary>
    public bool PrepareWait()
    {
        _skipReads = 0;
        return true;
    }

    /// <param name="name">The interface name (created if it does not exist).</param>
    /// <param name="logger">Where the port logs that it opened.</param>
    /// <param name="adminUp">Bring the interface up (a tap port between hosts); false leaves it as the kernel made
    /// it, administratively down (the switch's LOCAL port: the host decides when it carries traffic).</param>
    /// <param name="mac">The interface's Ethernet address (null: the kernel's random one).</param>
    /// <param name="mtu">The interface's MTU (0: the kernel's default).</param>
    public TapPort(string name, ILogger? logger = null, bool adminUp = true, MacAddress? mac = null, int mtu = 0)
    {
        NetInterface.ValidateName(name);
        Span<byte> path = stackalloc byte[16];
        path.Clear();
        "/dev/net/tun"u8.CopyTo(path);
        fixed (byte* p = path) _fd = open(p, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (_fd < 0)
        {
            int e = LibC.LastErrno;
            if (e is LibC.ENOENT or LibC.ENODEV or LibC.ENXIO)
                throw new PortOpenException(PortOpenError.Unsupported, name, $"tap:{name}: /dev/net/tun is missing (no TUN/TAP support in this kernel or container).", e);
            throw PortOpenException.FromErrno(name, "Opening /dev/net/tun", e);
        }
        try
        {
            byte* ifr = stackalloc byte[LibC.IfReqSize];
            new Span<byte>(ifr, LibC.IfReqSize).Clear();
            Encoding.ASCII.GetBytes(name, new Span<byte>(ifr, LibC.IFNAMSIZ));
            *(short*)(ifr + 16) = IFF_TAP | IFF_NO_PI;
            if (LibC.ioctl(_fd, TUNSETIFF, ifr) != 0)
                throw PortOpenException.FromErrno(name, "Creating the TAP interface (TUNSETIFF)", LibC.LastErrno);
            _if = NetInterface.Open(name);
            // Set before the port's description is read, so it tells the address and MTU the device has.
            if (mac is { } m && NetInterface.TrySetMac(name, m) is { } macError)
                throw new PortOpenException(PortOpenError.InvalidSpec, name, $"tap:{name}: cannot set its MAC to {m}: {macError}");
            if (mtu > 0 && NetInterface.TrySetMtu(name, mtu) is { } mtuError)
                throw new PortOpenException(PortOpenError.InvalidSpec, name, $"tap:{name}: cannot set its MTU to {mtu}: {mtuError}");
            if (adminUp) SetUp(ifr);
            Info = _if.ToPortInfo();
        }
        catch
        {
            Dispose();
            throw;
        }
        logger?.LogInformation("{If}: TAP port open", name);
    }

    private static void SetUp(byte* ifr)
    {
        int s = LibC.socket(LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
        if (s < 0) return;
        if (LibC.ioctl(s, LibC.SIOCGIFFLAGS, ifr) == 0)
        {
            *(short*)(ifr + 16) |= LibC.IFF_UP;
            LibC.ioctl(s, SIOCSIFFLAGS, ifr);
        }
        LibC.close(s);
    }

    public int Receive(PacketPool pool, Span<int> pkts)
    {
        if (_fd < 0 || pkts.IsEmpty) return 0;
        if (_skipReads > 0)
        {
            _skipReads--;
            return 0;
        }
        int p = pool.Alloc();
        if (p < 0) return 0;
        int n = 0;
        long bytes = 0;
        while (true)
        {
            int room = pool.Room(p);
            nint r;
            fixed (byte* dst = &pool.Slab[pool.FrameOffset(p)]) r = LibC.read(_fd, dst, (nuint)room);
            if (r > 0)
            {
                if (r >= room) { _rxTooBig++; _counters.AddRxDropped(1); continue; } // possibly truncated
                pool.Length[p] = (ushort)r;
                pkts[n++] = p;
                bytes += r;
                if (n == pkts.Length) { p = -1; break; }
                p = pool.Alloc();
                if (p < 0) break;
                continue;
            }
            if (r < 0 && LibC.LastErrno == LibC.EINTR) continue;
            if (r < 0 && LibC.LastErrno != LibC.EAGAIN) _counters.RxErrors++;
            break;
        }
        if (p >= 0) pool.Release(p);
        if (n == 0) _skipReads = EmptyReadSkips;
        _counters.AddRx(n, bytes);
        return n;
    }

    public void Send(PacketPool pool, ReadOnlySpan<int> pkts)
    {
        long sent = 0, bytes = 0, dropped = 0;
        fixed (byte* slab = pool.Slab)
        {
            lock (_txLock)
            {
                if (_fd < 0) return;
                foreach (int p in pkts)
                {
                    int len = pool.Length[p];
                    if (LibC.write(_fd, slab + (nint)pool.FrameOffset(p), (nuint)len) == len) { sent++; bytes += len; }
                    else
                    {
                        dropped++;
                    }
                }
            }
        }
        if (sent > 0)
        {
            _counters.AddTx(sent, bytes);
        }
        if (dropped > 0) _counters.AddTxDropped(dropped);
    }

    public void Dispose()
    {
        lock (_txLock)
        {
            if (_fd >= 0) { LibC.close(_fd); _fd = -1; }
        }
    }

    [System.Runtime.InteropServices.LibraryImport("libc", SetLastError = true)]
    private static partial int open(byte* path, int flags);

    public override string ToString() => $"tap:{_if?.Name}";
}
