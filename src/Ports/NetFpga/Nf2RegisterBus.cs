using System.Runtime.InteropServices;
using System.Text;
using Softswitch.Ports.Linux;

namespace Softswitch.Ports.NetFpga;

/// <summary>
/// The real board's registers through the nf2 kernel driver: one ioctl per 32-bit register on an AF_INET datagram
/// socket, naming the board's first interface (nf2util.c readRegNet/writeRegNet).
/// </summary>
/// <remarks>
/// <code>
/// ioctl(fd, SIOCREGREAD  = SIOCDEVPRIVATE     (0x89F0), struct ifreq *)
/// ioctl(fd, SIOCREGWRITE = SIOCDEVPRIVATE + 1 (0x89F1), struct ifreq *)
///   struct ifreq { char ifr_name[16]; union { void *ifr_data; ... } }   (40 bytes on 64-bit Linux)
///   ifr_data -&gt; struct nf2reg { unsigned reg; unsigned val; }
/// </code>
/// The ioctl names the device, so the socket needs no binding. Thread safety: none (the driver serialises).
/// </remarks>
public sealed unsafe class Nf2RegisterBus : IRegisterBus
{
    public const string DefaultInterface = "nf2c0";
    public const ulong SiocRegRead = 0x89F0;
    public const ulong SiocRegWrite = 0x89F1;

    [StructLayout(LayoutKind.Sequential)]
    private struct Nf2Reg
    {
        public uint Reg;
        public uint Val;
    }

    private readonly byte[] _name = new byte[LibC.IFNAMSIZ];
    private int _fd;

    public string Name { get; }

    private Nf2RegisterBus(string iface, int fd)
    {
        Name = iface;
        _fd = fd;
        Encoding.ASCII.GetBytes(iface, _name);
    }

    /// <summary>
    /// Opens the board behind <paramref name="iface"/>. Throws <see cref="NetFpgaUnavailableException"/> with a
    /// user-facing message when there is no such interface (no board, or the nf2 driver is not loaded).
    /// </summary>
    public static Nf2RegisterBus Open(string iface = DefaultInterface)
    {
        if (string.IsNullOrEmpty(iface) || iface.Length >= LibC.IFNAMSIZ || !Ascii.IsValid(iface))
            throw new NetFpgaUnavailableException(iface ?? "", $"no NetFPGA board: '{iface}' is not a valid interface name");
        if (!OperatingSystem.IsLinux())
            throw new NetFpgaUnavailableException(iface, $"no NetFPGA board: interface {iface} not found (the nf2 driver is Linux-only)");
        Span<byte> z = stackalloc byte[LibC.IFNAMSIZ];
        z.Clear();
        Encoding.ASCII.GetBytes(iface, z);
        uint index;
        fixed (byte* p = z) index = LibC.if_nametoindex(p);
        if (index == 0)
            throw new NetFpgaUnavailableException(iface, $"no NetFPGA board: interface {iface} not found (load the nf2 driver and the openflow_switch bitfile: nf2_download openflow_switch.bit)", LibC.LastErrno);
        int fd = LibC.socket(LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            int errno = LibC.LastErrno;
            throw new NetFpgaUnavailableException(iface, $"NetFPGA board on {iface}: cannot open a socket for register access ({LibC.StrError(errno)})", errno);
        }
        var bus = new Nf2RegisterBus(iface, fd);
        try
        {
            // One read proves the interface is an nf2 device (other drivers refuse SIOCDEVPRIVATE).
            bus.Read(NetFpgaRegisters.CpciRegCtrl);
        }
        catch (NetFpgaRegisterException e)
        {
            bus.Dispose();
            throw new NetFpgaUnavailableException(iface, $"no NetFPGA board: interface {iface} does not answer register reads ({LibC.StrError(e.Errno)}); is it an nf2 interface?", e.Errno);
        }
        return bus;
    }

    public uint Read(uint address)
    {
        var reg = new Nf2Reg { Reg = address };
        Ioctl(SiocRegRead, &reg, "read", address);
        return reg.Val;
    }

    public void Write(uint address, uint value)
    {
        var reg = new Nf2Reg { Reg = address, Val = value };
        Ioctl(SiocRegWrite, &reg, "write", address);
    }

    private void Ioctl(ulong request, Nf2Reg* reg, string what, uint address)
    {
        ObjectDisposedException.ThrowIf(_fd < 0, this);
        byte* ifr = stackalloc byte[LibC.IfReqSize];
        new Span<byte>(ifr, LibC.IfReqSize).Clear();
        _name.AsSpan().CopyTo(new Span<byte>(ifr, LibC.IFNAMSIZ));
        *(void**)(ifr + LibC.IFNAMSIZ) = reg;
        if (LibC.ioctl(_fd, request, ifr) != 0)
        {
            int errno = LibC.LastErrno;
            throw new NetFpgaRegisterException($"NetFPGA {Name}: register {what} of 0x{address:x7} failed ({LibC.StrError(errno)})", errno);
        }
    }

    public void Dispose()
    {
        int fd = _fd;
        _fd = -1;
        if (fd >= 0) LibC.close(fd);
    }
}
