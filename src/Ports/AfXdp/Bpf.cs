using System.Text;
using Softswitch.Ports.Linux;

namespace Softswitch.Ports.AfXdp;

/// <summary>
/// The few bpf(2) commands an AF_XDP port needs, issued directly (no libbpf/libxdp): an XSKMAP, a five-instruction
/// XDP program that redirects every frame to the socket registered for its RX queue, and a BPF link that attaches
/// the program to the interface (the link detaches it when its fd closes, also when the process dies).
/// </summary>
/// <remarks>
/// The program, as C: <c>return bpf_redirect_map(&amp;xsks, ctx->rx_queue_index, XDP_PASS);</c> (the same logic as
/// libxdp's default xsk program): frames of queues without a socket go to the kernel stack.
/// Attribute layouts follow union bpf_attr in linux/bpf.h; unused bytes stay zero, which the kernel requires.
/// </remarks>
internal static unsafe class Bpf
{
    private const int BPF_MAP_CREATE = 0;
    private const int BPF_MAP_LOOKUP_ELEM = 1;
    private const int BPF_MAP_UPDATE_ELEM = 2;
    private const int BPF_MAP_DELETE_ELEM = 3;
    private const int BPF_LINK_UPDATE = 29;
    public const uint BPF_MAP_TYPE_HASH = 1;
    public const uint BPF_MAP_TYPE_ARRAY = 2;
    /// <summary>map_flags: an ARRAY whose values user space can mmap (5.5).</summary>
    public const uint BPF_F_MMAPABLE = 1 << 10;
    public const uint BPF_MAP_TYPE_PERCPU_ARRAY = 6;
    public const uint BPF_MAP_TYPE_DEVMAP_HASH = 25;
    public const int BPF_FUNC_map_lookup_elem = 1;
    public const int BPF_FUNC_xdp_adjust_head = 44;
    /// <summary>bpf_xdp_get_buff_len (5.18): the frame's length over every buffer of a multi-buffer frame.</summary>
    public const int BPF_FUNC_xdp_get_buff_len = 188;
    private const int BPF_PROG_LOAD = 5;
    private const uint BPF_F_XDP_HAS_FRAGS = 1 << 5;
    private const int BPF_LINK_CREATE = 28;
    private const uint BPF_MAP_TYPE_XSKMAP = 17;
    private const uint BPF_PROG_TYPE_XDP = 6;
    private const uint BPF_XDP = 37;          // enum bpf_attach_type
    public const int BPF_FUNC_redirect_map = 51;
    public const int XDP_DROP = 1, XDP_PASS = 2, XDP_TX = 3;
    public const uint XDP_FLAGS_SKB_MODE = 1 << 1;
    public const uint XDP_FLAGS_DRV_MODE = 1 << 2;
    private const int AttrSize = 128;

    private static int Sys(int cmd, byte* attr)
    {
        long r = LibC.syscall3(LibC.SYS_bpf, cmd, (long)attr, AttrSize);
        return r < 0 ? -LibC.LastErrno : (int)r;
    }

    /// <summary>Creates an XSKMAP (u32 queue index → AF_XDP socket); returns the fd or -errno.</summary>
    public static int CreateXskMap(int maxEntries)
    {
        byte* a = stackalloc byte[AttrSize];
        new Span<byte>(a, AttrSize).Clear();
        *(uint*)(a + 0) = BPF_MAP_TYPE_XSKMAP;
        *(uint*)(a + 4) = 4;                 // key_size
        *(uint*)(a + 8) = 4;                 // value_size (socket fd)
        *(uint*)(a + 12) = (uint)maxEntries; // max_entries
        WriteName(a + 28, "ssw_xsks");       // map_name (after map_flags, inner_map_fd, numa_node)
        return Sys(BPF_MAP_CREATE, a);
    }

    /// <summary>Loads the redirect program for <paramref name="mapFd"/>; returns the fd or -errno, with the verifier log in <paramref name="log"/>.</summary>
    public static int LoadRedirectProgram(int mapFd, out string log, bool frags = false)
    {
        ReadOnlySpan<ulong> insns =
        [
            Insn(0x61, dst: 2, src: 1, off: 16, imm: 0),          // r2 = *(u32 *)(r1 + 16)  ctx->rx_queue_index
            Insn(0x18, dst: 1, src: 1, off: 0, imm: mapFd),       // r1 = map (ld_imm64, BPF_PSEUDO_MAP_FD)
            Insn(0x00, dst: 0, src: 0, off: 0, imm: 0),           //      (upper 32 bits of the imm64)
            Insn(0xb7, dst: 3, src: 0, off: 0, imm: XDP_PASS),    // r3 = XDP_PASS (action when no socket)
            Insn(0x85, dst: 0, src: 0, off: 0, imm: BPF_FUNC_redirect_map), // call bpf_redirect_map
            Insn(0x95, dst: 0, src: 0, off: 0, imm: 0),           // exit
        ];
        return LoadXdpProgram(insns, "ssw_xsk_redir", out log, frags: frags);
    }

    /// <summary>Loads an XDP program of <paramref name="insns"/> (struct bpf_insn each); returns the fd or -errno, with
    /// the verifier log in <paramref name="log"/> when it failed (with <paramref name="logLevel"/> 4, BPF_LOG_STATS,
    /// also when it loaded: the verifier's totals). <paramref name="frags"/>: the program takes multi-buffer frames
    /// (BPF_F_XDP_HAS_FRAGS: its direct packet access covers the first buffer), so a driver with a large MTU runs it
    /// natively; a kernel without the flag (before 5.18) loads the program without it.</summary>
    public static int LoadXdpProgram(ReadOnlySpan<ulong> insns, string name, out string log, uint logLevel = 1, bool frags = false)
    {
        byte* license = stackalloc byte[16];
        new Span<byte>(license, 16).Clear();
        Encoding.ASCII.GetBytes("Dual MIT/GPL", new Span<byte>(license, 16));
        const int LogSize = 1 << 16;
        byte* logBuf = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(LogSize);
        try
        {
            fixed (ulong* code = insns)
            {
                byte* a = stackalloc byte[AttrSize];
                new Span<byte>(a, AttrSize).Clear();
                *(uint*)(a + 0) = BPF_PROG_TYPE_XDP;
                *(uint*)(a + 4) = (uint)insns.Length;   // insn_cnt
                *(ulong*)(a + 8) = (ulong)code;
                *(ulong*)(a + 16) = (ulong)license;
                *(uint*)(a + 24) = logLevel;            // log_level
                *(uint*)(a + 28) = LogSize;
                *(ulong*)(a + 32) = (ulong)logBuf;
                WriteName(a + 48, name);                // prog_name
                *(uint*)(a + 68) = BPF_XDP;             // expected_attach_type
                if (frags) *(uint*)(a + 44) = BPF_F_XDP_HAS_FRAGS;   // prog_flags
                int fd = Sys(BPF_PROG_LOAD, a);
                if (fd == -LibC.EINVAL && frags)
                {
                    *(uint*)(a + 44) = 0;
                    fd = Sys(BPF_PROG_LOAD, a);
                }
                log = fd < 0 || logLevel == 4 ? Encoding.ASCII.GetString(System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpanFromNullTerminated(logBuf)).Trim() : "";
                if (fd == -LibC.ENOSPC)
                {
                    // The verifier log overflowed; retry without a log to get the real result.
                    *(uint*)(a + 24) = 0; *(uint*)(a + 28) = 0; *(ulong*)(a + 32) = 0;
                    fd = Sys(BPF_PROG_LOAD, a);
                }
                return fd;
            }
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.Free(logBuf);
        }
    }

    /// <summary>Attaches <paramref name="progFd"/> to <paramref name="ifindex"/> as XDP in the given mode; returns the link fd or -errno.</summary>
    public static int AttachXdp(int progFd, int ifindex, uint xdpFlags)
    {
        byte* a = stackalloc byte[AttrSize];
        new Span<byte>(a, AttrSize).Clear();
        *(uint*)(a + 0) = (uint)progFd;
        *(uint*)(a + 4) = (uint)ifindex;     // target_ifindex
        *(uint*)(a + 8) = BPF_XDP;           // attach_type
        *(uint*)(a + 12) = xdpFlags;         // flags: XDP_FLAGS_SKB_MODE / XDP_FLAGS_DRV_MODE
        return Sys(BPF_LINK_CREATE, a);
    }

    /// <summary>Sets map[key] = value (u32 → u32); returns 0 or -errno.</summary>
    public static int UpdateElem(int mapFd, uint key, uint value)
    {
        byte* a = stackalloc byte[AttrSize];
        new Span<byte>(a, AttrSize).Clear();
        *(uint*)(a + 0) = (uint)mapFd;
        *(ulong*)(a + 8) = (ulong)&key;
        *(ulong*)(a + 16) = (ulong)&value;
        *(ulong*)(a + 24) = 0;               // BPF_ANY
        return Sys(BPF_MAP_UPDATE_ELEM, a);
    }

    /// <summary>Creates a map of <paramref name="type"/>; returns the fd or -errno.</summary>
    public static int CreateMap(uint type, int keySize, int valueSize, int maxEntries, string name, uint flags = 0)
    {
        byte* a = stackalloc byte[AttrSize];
        new Span<byte>(a, AttrSize).Clear();
        *(uint*)(a + 0) = type;
        *(uint*)(a + 4) = (uint)keySize;
        *(uint*)(a + 8) = (uint)valueSize;
        *(uint*)(a + 12) = (uint)maxEntries;
        *(uint*)(a + 16) = flags;            // map_flags
        WriteName(a + 28, name);
        return Sys(BPF_MAP_CREATE, a);
    }

    /// <summary>Sets map[key] = value (BPF_ANY); key and value are the map's sizes (a per-CPU map's value: one per possible CPU, each rounded up to 8 bytes); returns 0 or -errno.</summary>
    public static int UpdateElem(int mapFd, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value) => Elem(BPF_MAP_UPDATE_ELEM, mapFd, key, value);

    /// <summary>Reads map[key] into <paramref name="value"/>; returns 0 or -errno (-ENOENT when absent).</summary>
    public static int LookupElem(int mapFd, ReadOnlySpan<byte> key, Span<byte> value) => Elem(BPF_MAP_LOOKUP_ELEM, mapFd, key, value);

    /// <summary>Deletes map[key]; returns 0 or -errno (-ENOENT when absent).</summary>
    public static int DeleteElem(int mapFd, ReadOnlySpan<byte> key) => Elem(BPF_MAP_DELETE_ELEM, mapFd, key, default);

    private static int Elem(int cmd, int mapFd, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        byte* a = stackalloc byte[AttrSize];
        new Span<byte>(a, AttrSize).Clear();
        fixed (byte* k = key)
        fixed (byte* v = value)
        {
            *(uint*)(a + 0) = (uint)mapFd;
            *(ulong*)(a + 8) = (ulong)k;
            *(ulong*)(a + 16) = (ulong)v;
            return Sys(cmd, a);
        }
    }

    /// <summary>Replaces the program of XDP link <paramref name="linkFd"/> with <paramref name="progFd"/> atomically (no frame sees neither); returns 0 or -errno.</summary>
    public static int UpdateLink(int linkFd, int progFd)
    {
        byte* a = stackalloc byte[AttrSize];
        new Span<byte>(a, AttrSize).Clear();
        *(uint*)(a + 0) = (uint)linkFd;
        *(uint*)(a + 4) = (uint)progFd;      // new_prog_fd
        return Sys(BPF_LINK_UPDATE, a);
    }

    /// <summary>
    /// Returns once every BPF program run that started before the call has ended: membarrier(2)'s
    /// MEMBARRIER_CMD_GLOBAL waits for an RCU grace period, and XDP programs run inside RCU read-side sections. Where
    /// the kernel refuses it (nohz_full CPUs), sleeps 100 ms, far longer than a program run.
    /// </summary>
    public static void WaitForProgramsInFlight()
    {
        if (LibC.syscall3(LibC.SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) < 0) Thread.Sleep(100);
    }

    private const int MEMBARRIER_CMD_GLOBAL = 1;

    /// <summary>Possible CPUs (the count of values a per-CPU map's lookup returns), from /sys/devices/system/cpu/possible.</summary>
    public static int PossibleCpus()
    {
        try
        {
            int max = 0;
            foreach (var part in File.ReadAllText("/sys/devices/system/cpu/possible").Trim().Split(','))
            {
                var ends = part.Split('-');
                max = Math.Max(max, int.Parse(ends[^1], System.Globalization.CultureInfo.InvariantCulture) + 1);
            }
            return Math.Max(max, 1);
        }
        catch (IOException)
        {
            return Environment.ProcessorCount;
        }
    }

    /// <summary>One struct bpf_insn: { u8 code; u8 dst:4, src:4; s16 off; s32 imm; }.</summary>
    internal static ulong Insn(byte code, int dst, int src, short off, int imm)
        => code | ((ulong)(byte)((src << 4) | (dst & 0xF)) << 8) | ((ulong)(ushort)off << 16) | ((ulong)(uint)imm << 32);

    private static void WriteName(byte* dst, string name)
    {
        var span = new Span<byte>(dst, 16);
        span.Clear();
        Encoding.ASCII.GetBytes(name.AsSpan(0, Math.Min(name.Length, 15)), span);
    }
}
