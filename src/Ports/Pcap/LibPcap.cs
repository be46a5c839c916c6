using System.Runtime.InteropServices;

namespace Softswitch.Ports.Pcap;

/// <summary>The libpcap calls <see cref="PcapPort"/> uses (Debian's libpcap0.8 package ships libpcap.so.0.8).</summary>
internal static unsafe partial class LibPcap
{
    public const string Lib = "libpcap.so.0.8";
    public const int ErrbufSize = 256;
    public const int PCAP_D_IN = 1;

    public const int PCAP_ERROR = -1;
    public const int PCAP_ERROR_NO_SUCH_DEVICE = -5;
    public const int PCAP_ERROR_PERM_DENIED = -8;
    public const int PCAP_ERROR_IFACE_NOT_UP = -9;
    public const int PCAP_ERROR_PROMISC_PERM_DENIED = -11;

    /// <summary>struct pcap_pkthdr: struct timeval ts (16 bytes on 64-bit), caplen, len.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PktHdr
    {
        public long TsSec;
        public long TsUsec;
        public uint CapLen;
        public uint Len;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Stat
    {
        public uint Recv;
        public uint Drop;
        public uint IfDrop;
    }

    private static readonly Lazy<bool> s_available = new(() => NativeLibrary.TryLoad(Lib, out _));

    /// <summary>Whether libpcap can be loaded.</summary>
    public static bool Available => s_available.Value;

    [LibraryImport(Lib)] public static partial nint pcap_create(byte* source, byte* errbuf);
    [LibraryImport(Lib)] public static partial int pcap_set_snaplen(nint p, int snaplen);
    [LibraryImport(Lib)] public static partial int pcap_set_promisc(nint p, int promisc);
    [LibraryImport(Lib)] public static partial int pcap_set_immediate_mode(nint p, int immediate);
    [LibraryImport(Lib)] public static partial int pcap_set_timeout(nint p, int ms);
    [LibraryImport(Lib)] public static partial int pcap_set_buffer_size(nint p, int bytes);
    [LibraryImport(Lib)] public static partial int pcap_activate(nint p);
    [LibraryImport(Lib)] public static partial int pcap_setnonblock(nint p, int nonblock, byte* errbuf);
    [LibraryImport(Lib)] public static partial int pcap_setdirection(nint p, int direction);
    [LibraryImport(Lib)] public static partial int pcap_get_selectable_fd(nint p);
    [LibraryImport(Lib)] public static partial int pcap_next_ex(nint p, PktHdr** header, byte** data);
    [LibraryImport(Lib)] public static partial int pcap_inject(nint p, void* buf, nuint size);
    [LibraryImport(Lib)] public static partial int pcap_stats(nint p, Stat* stats);
    [LibraryImport(Lib)] public static partial byte* pcap_geterr(nint p);
    [LibraryImport(Lib)] public static partial byte* pcap_statustostr(int error);
    [LibraryImport(Lib)] public static partial byte* pcap_lib_version();
    [LibraryImport(Lib)] public static partial void pcap_close(nint p);

    public static string Str(byte* s) => s == null ? "" : Marshal.PtrToStringUTF8((nint)s) ?? "";
}
