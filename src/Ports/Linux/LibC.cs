using System.Runtime.InteropServices;

namespace Softswitch.Ports.Linux;

/// <summary>
/// The libc calls the Linux ports use, as source-generated P/Invokes (blittable arguments only, so a call
/// allocates nothing). Errors come back as -1 with errno in <see cref="Marshal.GetLastPInvokeError"/>.
/// Constants are the x86-64/aarch64 Linux values (checked against the kernel UAPI headers).
/// </summary>
internal static unsafe partial class LibC
{
    private const string Lib = "libc";

    // Address families, socket types, levels.
    public const int AF_INET = 2;
    public const int AF_PACKET = 17;
    public const int AF_XDP = 44;
    public const int SOCK_DGRAM = 2;
    public const int SOCK_RAW = 3;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1;
    public const int SOL_PACKET = 263;
    public const int SOL_XDP = 283;
    public const int SO_RCVBUF = 8;
    public const int SO_SNDBUF = 7;

    public const ushort ETH_P_ALL = 0x0003;

    // errno values.
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int ENXIO = 6;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EBUSY = 16;
    public const int ENODEV = 19;
    public const int EINVAL = 22;
    public const int ENOSPC = 28;
    public const int EEXIST = 17;
    public const int ENOSYS = 38;
    public const int ENOBUFS = 105;
    public const int ENETDOWN = 100;
    public const int EAFNOSUPPORT = 97;
    public const int EOPNOTSUPP = 95;
    public const int EPROTONOSUPPORT = 93;
    public const int ENOPROTOOPT = 92;

    public const int MSG_DONTWAIT = 0x40;

    public const short POLLIN = 0x1;
    public const short POLLOUT = 0x4;

    public const int PROT_READ = 0x1;
    public const int PROT_WRITE = 0x2;
    public const int MAP_SHARED = 0x01;
    public const int MAP_PRIVATE = 0x02;
    public const int MAP_ANONYMOUS = 0x20;
    public const int MAP_POPULATE = 0x8000;
    public static readonly nint MAP_FAILED = -1;

    public const ulong SIOCGIFFLAGS = 0x8913;
    public const ulong SIOCGIFMTU = 0x8921;
    public const ulong SIOCSIFMTU = 0x8922;
    public const ulong SIOCSIFHWADDR = 0x8924;
    public const ulong SIOCGIFHWADDR = 0x8927;
    public const ulong SIOCGIFINDEX = 0x8933;
    public const ulong SIOCETHTOOL = 0x8946;
    public const short IFF_UP = 0x1;
    public const short IFF_RUNNING = 0x40;
    public const int IFNAMSIZ = 16;
    public const int IfReqSize = 40;

    public const long SYS_bpf = 321, SYS_membarrier = 324;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Len;
    }

    /// <summary>struct msghdr (56 bytes on 64-bit Linux).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLen;
        public IoVec* Iov;
        public nuint IovLen;
        public void* Control;
        public nuint ControlLen;
        public int Flags;
    }

    /// <summary>struct mmsghdr (64 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MMsgHdr
    {
        public MsgHdr Hdr;
        public uint Len;
    }

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int bind(int fd, void* addr, uint addrlen);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int setsockopt(int fd, int level, int optname, void* optval, uint optlen);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int getsockopt(int fd, int level, int optname, void* optval, uint* optlen);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint mmap(void* addr, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int munmap(void* addr, nuint length);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int poll(PollFd* fds, ulong nfds, int timeoutMs);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int sendmmsg(int fd, MMsgHdr* msgvec, uint vlen, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint sendto(int fd, void* buf, nuint len, int flags, void* destAddr, uint addrlen);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint recvfrom(int fd, void* buf, nuint len, int flags, void* srcAddr, uint* addrlen);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint read(int fd, void* buf, nuint count);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint write(int fd, void* buf, nuint count);

    public const int EPOLL_CLOEXEC = 0x80000;
    public const int EPOLL_CTL_ADD = 1;
    public const uint EPOLLIN = 0x1;

    /// <summary>struct epoll_event as x86-64 lays it out (packed, 12 bytes).</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    public struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int epoll_create1(int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int epoll_ctl(int epfd, int op, int fd, EpollEvent* ev);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int ioctl(int fd, ulong request, void* arg);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial uint if_nametoindex(byte* ifname);

    [LibraryImport(Lib)]
    public static partial uint geteuid();

    [LibraryImport(Lib)]
    public static partial byte* strerror(int errnum);

    /// <summary>The raw syscall(2) entry, used for bpf(2) (glibc has no wrapper). Arguments are all integers,
    /// so calling the variadic function through a fixed signature is sound on x86-64 and aarch64.</summary>
    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
    public static partial long syscall3(long number, long a1, long a2, long a3);

    public static string StrError(int errno)
    {
        byte* s = strerror(errno);
        return s == null ? $"errno {errno}" : Marshal.PtrToStringUTF8((nint)s) ?? $"errno {errno}";
    }

    public static int LastErrno => Marshal.GetLastPInvokeError();
}
