using System.Globalization;
using System.Text;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ports.Linux;

/// <summary>
/// A Linux network interface by name: its ifindex, MAC, MTU, link state and speed.
/// </summary>
/// <remarks>
/// Design: the ifindex is resolved once, at <see cref="Open"/>; MAC, MTU and flags are read on demand with
/// SIOCGIF* ioctls on one shared AF_INET datagram socket (no privileges needed), so <see cref="IsUp"/> (and
/// <see cref="CurrentIndex"/>, an interface's ifindex now) costs one syscall and no allocation and may be polled. Link modes come from the
/// ethtool ioctl (sysfs speed and duplex when the driver answers none), once, when a port is opened.
/// Thread safety: immutable after Open; every method may be called from any thread.
/// </remarks>
public sealed unsafe class NetInterface
{
    private static int s_ctlFd = -1;
    private readonly byte[] _ifrName = new byte[LibC.IFNAMSIZ];

    public string Name { get; }
    public int Index { get; }

    private NetInterface(string name, int index)
    {
        Name = name;
        Index = index;
        Encoding.ASCII.GetBytes(name, _ifrName);
    }

    /// <summary>Resolves <paramref name="name"/>; throws <see cref="PortOpenException"/> when it is not a valid, existing interface.</summary>
    public static NetInterface Open(string name)
    {
        ValidateName(name);
        Span<byte> z = stackalloc byte[LibC.IFNAMSIZ];
        z.Clear();
        Encoding.ASCII.GetBytes(name, z);
        uint index;
        fixed (byte* p = z) index = LibC.if_nametoindex(p);
        if (index == 0)
        {
            throw new PortOpenException(PortOpenError.InterfaceMissing, name,
                $"No network interface named '{name}' in this network namespace (existing: {string.Join(", ", ListNames())}); see `ip link`.",
                LibC.LastErrno);
        }
        return new NetInterface(name, (int)index);
    }

    /// <summary>Throws <see cref="PortOpenException"/> unless <paramref name="name"/> could name a Linux interface.</summary>
    public static void ValidateName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Length >= LibC.IFNAMSIZ || name == "." || name == "..")
            throw new PortOpenException(PortOpenError.InvalidSpec, name, $"'{name}' is not a valid interface name (1 to 15 characters).");
        foreach (char c in name)
        {
            if (c <= ' ' || c >= 0x7F || c == '/' || c == ':')
                throw new PortOpenException(PortOpenError.InvalidSpec, name, $"'{name}' is not a valid interface name (no spaces, '/' or ':').");
        }
    }

    /// <summary>Names under /sys/class/net (for error messages).</summary>
    public static IReadOnlyList<string> ListNames()
    {
        try
        {
            var names = Directory.GetFileSystemEntries("/sys/class/net").Select(Path.GetFileName).OfType<string>().ToList();
            names.Sort(StringComparer.Ordinal);
            return names;
        }
        catch (IOException) { return []; }
        catch (UnauthorizedAccessException) { return []; }
    }

    /// <summary>
    /// <paramref name="name"/> as the kernel's ifr_name field (IFNAMSIZ bytes, NUL-padded), for <see cref="CurrentIndex"/>;
    /// throws <see cref="PortOpenException"/> unless it could name an interface.
    /// </summary>
    public static byte[] IfrName(string name)
    {
        ValidateName(name);
        var b = new byte[LibC.IFNAMSIZ];
        Encoding.ASCII.GetBytes(name, b);
        return b;
    }

    /// <summary>
    /// The ifindex the interface named by <paramref name="ifrName"/> (from <see cref="IfrName"/>) has now, 0 when no
    /// interface has that name, -1 when the kernel could not be asked (no control socket): one ioctl (SIOCGIFINDEX)
    /// and no allocation, so a watcher may poll it.
    /// </summary>
    public static int CurrentIndex(byte[] ifrName)
    {
        byte* ifr = stackalloc byte[LibC.IfReqSize];
        return AskByName(ifrName, LibC.SIOCGIFINDEX, ifr) switch
        {
            0 => *(int*)(ifr + 16),
            LibC.ENODEV => 0,
            _ => -1,
        };
    }

    /// <summary>
    /// The interface flags (IFF_UP, IFF_RUNNING ..) the interface named by <paramref name="ifrName"/> (from
    /// <see cref="IfrName"/>) has now, or -1 when no interface has that name or the kernel could not be asked: one ioctl
    /// (SIOCGIFFLAGS) and no allocation, so a watcher may poll it.
    /// </summary>
    public static int CurrentFlags(byte[] ifrName)
    {
        byte* ifr = stackalloc byte[LibC.IfReqSize];
        return AskByName(ifrName, LibC.SIOCGIFFLAGS, ifr) == 0 ? *(ushort*)(ifr + 16) : -1;
    }

    /// <summary>One ioctl on the control socket with an ifreq (at <paramref name="ifr"/>, IfReqSize bytes) naming
    /// <paramref name="ifrName"/>: 0, the errno it failed with, or -1 when there is no control socket.</summary>
    private static int AskByName(byte[] ifrName, ulong request, byte* ifr)
    {
        int fd = ControlFd();
        if (fd < 0) return -1;
        var span = new Span<byte>(ifr, LibC.IfReqSize);
        span.Clear();
        ifrName.AsSpan(0, Math.Min(ifrName.Length, LibC.IFNAMSIZ - 1)).CopyTo(span);
        return LibC.ioctl(fd, request, ifr) == 0 ? 0 : LibC.LastErrno;
    }

    /// <summary>IFF_UP and IFF_RUNNING both set (administratively up with carrier). False if the interface vanished.</summary>
    public bool IsUp
    {
        get
        {
            byte* ifr = stackalloc byte[LibC.IfReqSize];
            if (!Ioctl(LibC.SIOCGIFFLAGS, ifr)) return false;
            short flags = *(short*)(ifr + 16);
            return (flags & (LibC.IFF_UP | LibC.IFF_RUNNING)) == (LibC.IFF_UP | LibC.IFF_RUNNING);
        }
    }

    public MacAddress Mac
    {
        get
        {
            byte* ifr = stackalloc byte[LibC.IfReqSize];
            if (!Ioctl(LibC.SIOCGIFHWADDR, ifr)) return default;
            return MacAddress.Read(new ReadOnlySpan<byte>(ifr + 18, 6)); // ifr_hwaddr: sa_family (2 bytes), then sa_data
        }
    }

    public int Mtu
    {
        get
        {
            byte* ifr = stackalloc byte[LibC.IfReqSize];
            return Ioctl(LibC.SIOCGIFMTU, ifr) ? *(int*)(ifr + 16) : 1500;
        }
    }

    /// <summary>Sets the MTU of the interface named <paramref name="name"/> (SIOCSIFMTU, CAP_NET_ADMIN); null, or why not in the kernel's words.</summary>
    public static string? TrySetMtu(string name, int mtu) => Set(name, LibC.SIOCSIFMTU, ifr => *(int*)(ifr + 16) = mtu);

    /// <summary>Sets the Ethernet address of the interface named <paramref name="name"/> (SIOCSIFHWADDR, CAP_NET_ADMIN); null, or why not.</summary>
    public static string? TrySetMac(string name, MacAddress mac) => Set(name, LibC.SIOCSIFHWADDR, ifr =>
    {
        *(ushort*)(ifr + 16) = 1;   // ARPHRD_ETHER, then the address in sa_data
        mac.Write(new Span<byte>((byte*)ifr + 18, 6));
    });

    private static string? Set(string name, ulong request, Action<nint> fill)
    {
        if (name.Length == 0 || name.Length >= LibC.IFNAMSIZ) return $"'{name}' is not a valid interface name";
        byte* ifr = stackalloc byte[LibC.IfReqSize];
        new Span<byte>(ifr, LibC.IfReqSize).Clear();
        Encoding.ASCII.GetBytes(name, new Span<byte>(ifr, LibC.IFNAMSIZ - 1));
        fill((nint)ifr);
        int fd = ControlFd();
        if (fd < 0) return "no control socket";
        return LibC.ioctl(fd, request, ifr) == 0 ? null : System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(LibC.LastErrno);
    }

    /// <summary>Number of RX queues (sysfs queues/rx-*), at least 1.</summary>
    public int RxQueueCount
    {
        get
        {
            try { return Math.Max(1, Directory.GetDirectories($"/sys/class/net/{Name}/queues", "rx-*").Length); }
            catch (IOException) { return 1; }
        }
    }

    /// <summary>Current speed as OpenFlow 1.0 feature bits; <paramref name="fallback"/> when the driver reports none.</summary>
    public PortFeatures SpeedFeatures(PortFeatures fallback = PortFeatures.Rate1GbFd | PortFeatures.Copper)
    {
        int speed = ReadSysInt("speed");
        if (speed <= 0) return fallback;
        bool full = !string.Equals(ReadSys("duplex"), "half", StringComparison.Ordinal);
        PortFeatures rate = speed switch
        {
            >= 10_000 => PortFeatures.Rate10GbFd,
            >= 1_000 => full ? PortFeatures.Rate1GbFd : PortFeatures.Rate1GbHd,
            >= 100 => full ? PortFeatures.Rate100MbFd : PortFeatures.Rate100MbHd,
            _ => full ? PortFeatures.Rate10MbFd : PortFeatures.Rate10MbHd,
        };
        return rate | PortFeatures.Copper;
    }

    /// <summary>The ofp_phy_port view of this interface: the driver's link modes (<see cref="LinkModes"/>), else its sysfs speed.</summary>
    public PortInfo ToPortInfo(string? portName = null)
    {
        if (LinkModes() is var (current, advertised, supported))
            return new PortInfo(portName ?? Name, Mac, Current: current, Advertised: advertised, Supported: supported, Mtu: Mtu);
        var cur = SpeedFeatures();
        return new PortInfo(portName ?? Name, Mac, Current: cur, Supported: cur, Mtu: Mtu);
    }

    // struct ethtool_cmd (ETHTOOL_GSET), as <linux/ethtool.h> lays it out:
    //   0 cmd u32 | 4 supported u32 | 8 advertising u32 | 12 speed u16 | 14 duplex u8 | 15 port u8 | 16 phy_address u8
    //   17 transceiver u8 | 18 autoneg u8 | 19 mdio_support u8 | 20 maxtxpkt u32 | 24 maxrxpkt u32 | 28 speed_hi u16
    //   30 eth_tp_mdix u8 | 31 eth_tp_mdix_ctrl u8 | 32 lp_advertising u32 | 36 reserved u32[2]
    private const int EthtoolCmdSize = 44;
    private const uint EthtoolGset = 0x1;
    private const byte DuplexFull = 1, PortTp = 0x00, PortFibre = 0x03;

    /// <summary>ethtool's SUPPORTED_*/ADVERTISED_* bits (the same numbering) and ours.</summary>
    private static readonly (uint Ethtool, PortFeatures Ours)[] s_ethtoolModes =
    [
        (1u << 0, PortFeatures.Rate10MbHd), (1u << 1, PortFeatures.Rate10MbFd), (1u << 2, PortFeatures.Rate100MbHd),
        (1u << 3, PortFeatures.Rate100MbFd), (1u << 4, PortFeatures.Rate1GbHd), (1u << 5, PortFeatures.Rate1GbFd),
        (1u << 12, PortFeatures.Rate10GbFd), (1u << 7, PortFeatures.Copper), (1u << 10, PortFeatures.Fiber),
        (1u << 6, PortFeatures.Autoneg), (1u << 13, PortFeatures.Pause), (1u << 14, PortFeatures.PauseAsym),
    ];

    /// <summary>
    /// The link modes the driver reports through the ethtool ioctl (ETHTOOL_GSET), read as Open vSwitch's netdev-linux
    /// reads them, also while the link is down (sysfs then refuses the speed): current from the speed and duplex (an
    /// exact 10, 100, 1000 or 10000 Mbit/s, else no rate), the port type (COPPER for twisted pair, FIBER) and
    /// autonegotiation; advertised and supported from their masks. Null when the driver answers no ethtool request.
    /// </summary>
    public (PortFeatures Current, PortFeatures Advertised, PortFeatures Supported)? LinkModes()
    {
        int fd = ControlFd();
        if (fd < 0) return null;
        byte* cmd = stackalloc byte[EthtoolCmdSize];
        new Span<byte>(cmd, EthtoolCmdSize).Clear();
        *(uint*)cmd = EthtoolGset;
        byte* ifr = stackalloc byte[LibC.IfReqSize];
        new Span<byte>(ifr, LibC.IfReqSize).Clear();
        _ifrName.CopyTo(new Span<byte>(ifr, LibC.IFNAMSIZ));
        *(byte**)(ifr + 16) = cmd;                       // ifr_data
        if (LibC.ioctl(fd, LibC.SIOCETHTOOL, ifr) != 0) return null;
        uint speed = *(ushort*)(cmd + 12) | (uint)*(ushort*)(cmd + 28) << 16;
        bool full = cmd[14] == DuplexFull;
        var current = speed switch
        {
            10 => full ? PortFeatures.Rate10MbFd : PortFeatures.Rate10MbHd,
            100 => full ? PortFeatures.Rate100MbFd : PortFeatures.Rate100MbHd,
            1000 => full ? PortFeatures.Rate1GbFd : PortFeatures.Rate1GbHd,
            10000 => PortFeatures.Rate10GbFd,
            _ => PortFeatures.None,
        };
        current |= cmd[15] switch { PortTp => PortFeatures.Copper, PortFibre => PortFeatures.Fiber, _ => PortFeatures.None };
        if (cmd[18] != 0) current |= PortFeatures.Autoneg;
        return (current, Modes(*(uint*)(cmd + 8)), Modes(*(uint*)(cmd + 4)));
    }

    private static PortFeatures Modes(uint mask)
    {
        var f = PortFeatures.None;
        foreach (var (bit, ours) in s_ethtoolModes)
            if ((mask & bit) != 0) f |= ours;
        return f;
    }

    private string? ReadSys(string attr)
    {
        try { return File.ReadAllText($"/sys/class/net/{Name}/{attr}").Trim(); }
        catch (IOException) { return null; }          // e.g. EINVAL reading speed of a down link
        catch (UnauthorizedAccessException) { return null; }
    }

    private int ReadSysInt(string attr)
        => int.TryParse(ReadSys(attr), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : -1;

    private bool Ioctl(ulong request, byte* ifr)
    {
        new Span<byte>(ifr, LibC.IfReqSize).Clear();
        _ifrName.CopyTo(new Span<byte>(ifr, LibC.IFNAMSIZ));
        return LibC.ioctl(ControlFd(), request, ifr) == 0;
    }

    private static int ControlFd()
    {
        int fd = Volatile.Read(ref s_ctlFd);
        if (fd >= 0) return fd;
        fd = LibC.socket(LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
        if (fd < 0) return -1;
        int prev = Interlocked.CompareExchange(ref s_ctlFd, fd, -1);
        if (prev >= 0) { LibC.close(fd); return prev; }
        return fd;
    }

    public override string ToString() => $"{Name}(ifindex {Index})";
}
