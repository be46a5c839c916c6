using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.Json;
using Softswitch.Ports.AfXdp;
using Softswitch.Ports.Linux;

namespace Softswitch.Bench.Agent;

/// <summary>
/// A running switch's XDP flow table and its per-CPU counters, opened from outside the switch: the program attached to
/// an interface (its id from <c>ip -j -d link show</c>), then the maps that program uses, by name (the table's
/// <c>ssw_flow_bkt</c> and <c>ssw_flow_ent</c>, <c>ssw_flow_cnt</c>, as <see cref="XdpFlowMaps"/> names them), the
/// table looked up as the program does (<see cref="XdpFlowTable.BucketOf(ReadOnlySpan{byte}, int, ulong)"/>, with the seed the
/// table keeps in its entry 0). Read-only use: lookups, never writes. Needs root.
/// <see cref="Slot"/> may be called from several threads; <see cref="Packets"/> from one.
/// </summary>
public sealed unsafe class SwitchFlowMaps : IDisposable
{
    private const int BPF_PROG_GET_FD_BY_ID = 13, BPF_MAP_GET_FD_BY_ID = 14, BPF_OBJ_GET_INFO_BY_FD = 15;
    private const int AttrSize = 128, InfoSize = 256, MaxMaps = 32;
    private readonly int _cpus;
    private readonly byte[] _counters;
    private readonly int _bucketBits;
    private readonly ulong _seed;
    private int _bucketsFd, _entriesFd, _countersFd;

    private SwitchFlowMaps(int bucketsFd, int bucketCount, int entriesFd, int countersFd)
    {
        _bucketsFd = bucketsFd;
        _bucketBits = System.Numerics.BitOperations.Log2((uint)bucketCount);
        _entriesFd = entriesFd;
        // The table's hash seed, in entry 0 (never an entry): see XdpFlowTable.Seed.
        Span<byte> zero = stackalloc byte[4];
        zero.Clear();
        Span<byte> entry = stackalloc byte[XdpFlowTable.EntrySize];
        if (Bpf.LookupElem(entriesFd, zero, entry) != 0) throw new IOException("reading the flow table's seed (entry 0)");
        _seed = BinaryPrimitives.ReadUInt64LittleEndian(entry);
        _countersFd = countersFd;
        _cpus = Bpf.PossibleCpus();
        _counters = new byte[_cpus * XdpFlowProgram.CounterSize];
    }

    /// <summary>The maps of the flow program on <paramref name="dev"/>; throws <see cref="IOException"/> when there is none.</summary>
    public static SwitchFlowMaps Open(string dev)
    {
        int progId = XdpProgramId(IpLinkJson(dev)) ?? throw new IOException($"no XDP program on {dev}");
        int prog = Check(GetFdById(BPF_PROG_GET_FD_BY_ID, progId), $"opening program {progId}");
        int buckets = -1, entries = -1, counters = -1, bucketCount = 0;
        try
        {
            uint* ids = stackalloc uint[MaxMaps];
            byte* info = stackalloc byte[InfoSize];
            new Span<byte>(info, InfoSize).Clear();
            *(uint*)(info + 52) = MaxMaps;           // bpf_prog_info.nr_map_ids
            *(ulong*)(info + 56) = (ulong)ids;       // bpf_prog_info.map_ids
            Check(GetInfo(prog, info, InfoSize), "reading the program's maps");
            int n = (int)Math.Min(*(uint*)(info + 52), MaxMaps);
            for (int i = 0; i < n; i++)
            {
                int fd = GetFdById(BPF_MAP_GET_FD_BY_ID, (int)ids[i]);
                if (fd < 0) continue;
                new Span<byte>(info, InfoSize).Clear();
                string name = GetInfo(fd, info, InfoSize) == 0 ? CString(info + 24, 16) : "";   // bpf_map_info.name
                if (name == "ssw_flow_bkt" && buckets < 0) (buckets, bucketCount) = (fd, (int)*(uint*)(info + 16));   // .max_entries
                else if (name == "ssw_flow_ent" && entries < 0) entries = fd;
                else if (name == "ssw_flow_cnt" && counters < 0) counters = fd;
                else LibC.close(fd);
            }
            if (buckets < 0 || entries < 0 || counters < 0)
                throw new IOException($"the program on {dev} is not a flow program (no ssw_flow_bkt, ssw_flow_ent and ssw_flow_cnt maps)");
            return new SwitchFlowMaps(buckets, bucketCount, entries, counters);
        }
        catch
        {
            if (buckets >= 0) LibC.close(buckets);
            if (entries >= 0) LibC.close(entries);
            if (counters >= 0) LibC.close(counters);
            throw;
        }
        finally
        {
            LibC.close(prog);
        }
    }

    /// <summary>The counter slot of the flow under <paramref name="key"/> (<see cref="XdpFlowProgram.KeySize"/> bytes, as the program builds it), or null when the map does not hold it.</summary>
    public uint? Slot(ReadOnlySpan<byte> key)
    {
        Span<byte> k = stackalloc byte[4];
        Span<byte> ways = stackalloc byte[XdpFlowTable.BucketSize];
        Span<byte> entry = stackalloc byte[XdpFlowTable.EntrySize];
        BinaryPrimitives.WriteUInt32LittleEndian(k, XdpFlowTable.BucketOf(key, _bucketBits, _seed));
        if (Bpf.LookupElem(_bucketsFd, k, ways) != 0) return null;
        for (int w = 0; w < XdpFlowTable.Ways; w++)
        {
            ways.Slice(4 * w, 4).CopyTo(k);
            if (BinaryPrimitives.ReadUInt32LittleEndian(k) == 0 || Bpf.LookupElem(_entriesFd, k, entry) != 0) continue;
            if (entry[..XdpFlowProgram.KeySize].SequenceEqual(key[..XdpFlowProgram.KeySize]))
                return BinaryPrimitives.ReadUInt32LittleEndian(entry[(XdpFlowTable.RecordOffset + 40)..]);
        }
        return null;
    }

    /// <summary>The frames counted in <paramref name="slot"/>, summed over the CPUs.</summary>
    public long Packets(uint slot)
    {
        Span<byte> k = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(k, slot);
        if (Bpf.LookupElem(_countersFd, k, _counters) != 0) return 0;
        long p = 0;
        for (int c = 0; c < _cpus; c++) p += BinaryPrimitives.ReadInt64LittleEndian(_counters.AsSpan(c * XdpFlowProgram.CounterSize));
        return p;
    }

    /// <summary>The id of the XDP program in <c>ip -j -d link show</c> output (<c>xdp.prog.id</c>, or the first of
    /// <c>xdp.attached</c>), or null when the interface has none.</summary>
    public static int? XdpProgramId(string ipJson)
    {
        using var doc = JsonDocument.Parse(ipJson);
        if (doc.RootElement.ValueKind != JsonValueKind.Array) return null;
        foreach (var link in doc.RootElement.EnumerateArray())
        {
            if (!link.TryGetProperty("xdp", out var xdp)) continue;
            if (xdp.TryGetProperty("prog", out var prog) && prog.TryGetProperty("id", out var id)) return id.GetInt32();
            if (xdp.TryGetProperty("attached", out var attached) && attached.ValueKind == JsonValueKind.Array)
            {
                foreach (var a in attached.EnumerateArray())
                {
                    if (a.TryGetProperty("prog", out prog) && prog.TryGetProperty("id", out id)) return id.GetInt32();
                }
            }
        }
        return null;
    }

    private static string IpLinkJson(string dev)
    {
        using var p = Process.Start(new ProcessStartInfo("ip", ["-j", "-d", "link", "show", "dev", dev]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })
                      ?? throw new IOException("cannot run ip");
        string text = p.StandardOutput.ReadToEnd();
        p.StandardError.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode == 0 ? text : throw new IOException($"ip link show dev {dev} failed");
    }

    private static int GetFdById(int cmd, int id)
    {
        byte* a = stackalloc byte[AttrSize];
        new Span<byte>(a, AttrSize).Clear();
        *(uint*)a = (uint)id;
        long r = LibC.syscall3(LibC.SYS_bpf, cmd, (long)a, AttrSize);
        return r < 0 ? -LibC.LastErrno : (int)r;
    }

    private static int GetInfo(int fd, byte* info, int size)
    {
        byte* a = stackalloc byte[AttrSize];
        new Span<byte>(a, AttrSize).Clear();
        *(uint*)a = (uint)fd;
        *(uint*)(a + 4) = (uint)size;
        *(ulong*)(a + 8) = (ulong)info;
        long r = LibC.syscall3(LibC.SYS_bpf, BPF_OBJ_GET_INFO_BY_FD, (long)a, AttrSize);
        return r < 0 ? -LibC.LastErrno : 0;
    }

    private static string CString(byte* p, int max)
    {
        int n = 0;
        while (n < max && p[n] != 0) n++;
        return System.Text.Encoding.ASCII.GetString(p, n);
    }

    private static int Check(int r, string what) => r >= 0 ? r : throw new IOException($"{what}: {LibC.StrError(-r)}");

    public void Dispose()
    {
        if (_bucketsFd >= 0) { LibC.close(_bucketsFd); _bucketsFd = -1; }
        if (_entriesFd >= 0) { LibC.close(_entriesFd); _entriesFd = -1; }
        if (_countersFd >= 0) { LibC.close(_countersFd); _countersFd = -1; }
    }
}
