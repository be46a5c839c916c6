using System.Runtime.InteropServices;
using Softswitch.Ports.Linux;

namespace Softswitch.Ports.AfXdp;

/// <summary>
/// The flow program's exact-match table of 36-byte keys (<see cref="XdpFlowProgram.KeySize"/>): two mmapped BPF arrays
/// the program looks up inline (an ARRAY lookup is inlined by the verifier: no helper call, no jhash). A bucket holds
/// <see cref="Ways"/> entry indices (0: empty); an entry holds the key and, at <see cref="RecordOffset"/>, the
/// flow's action record. The bucket of a key is <see cref="BucketOf(ReadOnlySpan{byte}, int, ulong)"/>, which the program computes the same way.
/// </summary>
/// <remarks>
/// Publication: an entry is written whole at an index no program can reach, then published with one aligned 4-byte
/// release store of its index into a way; a modify writes a new entry and swaps the index, a delete stores 0. A program
/// loads the index, then the entry at that index (an address dependency: ordered on x86 and arm64), so it sees the
/// old entry or the new, never a mix. A replaced or deleted index is retired and written again only after an RCU grace
/// period (XDP programs run inside RCU read-side sections: <see cref="Bpf.WaitForProgramsInFlight"/>): either when the
/// free indices run out (<see cref="GracePeriods"/> counts those waits) or when the owner, after a wait of its own,
/// returns the indices retired before it (<see cref="Reclaim"/>). A key whose bucket has no free way is refused
/// (<see cref="Put"/> false). There are twice as many entries as flows, so the free indices outlast many retirements.
/// Single writer: not thread safe.
/// </remarks>
internal sealed unsafe class XdpFlowTable : IDisposable
{
    public const int Ways = 4, BucketSize = 4 * Ways, EntrySize = 128, RecordOffset = 48;

    /// <summary>The multiplier of <see cref="BucketOf(ReadOnlySpan{byte}, int, ulong)"/> (2^64 / the golden ratio, odd).</summary>
    public const ulong HashMultiplier = 0x9E3779B97F4A7C15;

    /// <summary>This table's hash seed, random for each table (and so for each switch and each load of the program): a
    /// sender who does not know it cannot aim many keys at one bucket by computing the hash. Entry 0, which no bucket
    /// ever names, holds it (little-endian, its first 8 bytes) for tools that read the table from outside.</summary>
    public ulong Seed { get; } = BitConverter.ToUInt64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));

    private byte* _buckets, _entries;
    private readonly nuint _bucketsLength, _entriesLength;
    private readonly Stack<uint> _free = new();
    private readonly Queue<uint> _retired = new();

    /// <summary>
    /// A table for <paramref name="capacity"/> flows: twice as many buckets (a power of two) of <see cref="Ways"/> ways,
    /// so that a full table holds half a key per bucket on average and few buckets overflow (a bucket of five or more
    /// keys: about one in 5,800 at 0.5 keys a bucket, Poisson); throws <see cref="IOException"/> when the kernel refuses.
    /// </summary>
    public XdpFlowTable(int capacity)
    {
        BucketBits = Math.Max(1, 64 - (int)ulong.LeadingZeroCount((ulong)(2 * capacity) - 1));
        BucketCount = 1 << BucketBits;
        EntryCount = (2 * capacity) + 1;
        try
        {
            BucketsFd = Check(Bpf.CreateMap(Bpf.BPF_MAP_TYPE_ARRAY, 4, BucketSize, BucketCount, "ssw_flow_bkt", Bpf.BPF_F_MMAPABLE), "the flow table's buckets");
            EntriesFd = Check(Bpf.CreateMap(Bpf.BPF_MAP_TYPE_ARRAY, 4, EntrySize, EntryCount, "ssw_flow_ent", Bpf.BPF_F_MMAPABLE), "the flow table's entries");
            _bucketsLength = (nuint)BucketCount * BucketSize;
            _entriesLength = (nuint)EntryCount * EntrySize;
            _buckets = Map(BucketsFd, _bucketsLength, "buckets");
            _entries = Map(EntriesFd, _entriesLength, "entries");
        }
        catch
        {
            Dispose();
            throw;
        }
        for (uint i = (uint)EntryCount - 1; i >= 1; i--) _free.Push(i);
        MemoryMarshal.Write(Entry(0), Seed);   // entry 0 is never published: it tells the seed to readers outside the switch
    }

    public int BucketsFd { get; private set; } = -1;
    public int EntriesFd { get; private set; } = -1;

    /// <summary>log2 of <see cref="BucketCount"/> (at least 1).</summary>
    public int BucketBits { get; }
    public int BucketCount { get; }

    /// <summary>Entry indices, index 0 (never used) included.</summary>
    public int EntryCount { get; }

    /// <summary>Times a write waited for a grace period because no free index was left.</summary>
    public long GracePeriods { get; private set; }

    /// <summary>Indices retired and not yet free again.</summary>
    public int RetiredCount => _retired.Count;

    /// <summary>
    /// The bucket of a key, as the program computes it: the key's four little-endian u64 words and last u32, each
    /// xored into a running value, starting from <paramref name="seed"/>, that is then multiplied by
    /// <see cref="HashMultiplier"/>; the high half folded into the low, one more multiply, and the top
    /// <paramref name="bits"/> bits. Not a cryptographic keyed hash: it keeps a blind sender from filling a bucket by
    /// arithmetic, at the cost of one more xor than an unseeded one.
    /// </summary>
    public static uint BucketOf(ReadOnlySpan<byte> key, int bits, ulong seed)
    {
        ulong h = seed;
        for (int off = 0; off < 32; off += 8) h = (h ^ MemoryMarshal.Read<ulong>(key[off..])) * HashMultiplier;
        h ^= MemoryMarshal.Read<uint>(key[32..]);
        h = (h ^ (h >> 32)) * HashMultiplier;
        return (uint)(h >> (64 - bits));
    }

    /// <summary>The bucket of <paramref name="key"/> in this table (its bits and seed).</summary>
    public uint BucketOf(ReadOnlySpan<byte> key) => BucketOf(key, BucketBits, Seed);

    private Span<uint> WaysOf(ReadOnlySpan<byte> key) => new(_buckets + ((nuint)BucketOf(key) * BucketSize), Ways);

    private Span<byte> Entry(uint index) => new(_entries + ((nuint)index * EntrySize), EntrySize);

    /// <summary>The way of <paramref name="key"/> in its bucket (its entry index in <paramref name="index"/>), else -1.</summary>
    private int Find(ReadOnlySpan<byte> key, Span<uint> ways, out uint index)
    {
        for (int w = 0; w < Ways; w++)
        {
            index = ways[w];
            if (index != 0 && Entry(index)[..XdpFlowProgram.KeySize].SequenceEqual(key)) return w;
        }
        index = 0;
        return -1;
    }

    /// <summary>Whether <see cref="Put"/> of <paramref name="key"/> would find a way (its own or a free one).</summary>
    public bool HasRoom(ReadOnlySpan<byte> key)
    {
        var ways = WaysOf(key);
        return Find(key, ways, out _) >= 0 || ways.Contains(0u);
    }

    /// <summary>The entry index holding <paramref name="key"/>, or 0.</summary>
    public uint IndexOf(ReadOnlySpan<byte> key)
    {
        Find(key, WaysOf(key), out uint index);
        return index;
    }

    /// <summary>Adds or replaces the flow of <paramref name="key"/> (its action record: <paramref name="record"/>); false when its bucket has no free way.</summary>
    public bool Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> record)
    {
        var ways = WaysOf(key);
        int w = Find(key, ways, out uint old);
        if (w < 0) w = ways.IndexOf(0u);
        if (w < 0) return false;
        uint index = TakeFree();
        var e = Entry(index);
        e.Clear();
        key[..XdpFlowProgram.KeySize].CopyTo(e);
        record.CopyTo(e[RecordOffset..]);
        Volatile.Write(ref ways[w], index);
        if (old != 0) _retired.Enqueue(old);
        return true;
    }

    /// <summary>Removes the flow of <paramref name="key"/>; true when it was there.</summary>
    public bool Delete(ReadOnlySpan<byte> key)
    {
        var ways = WaysOf(key);
        int w = Find(key, ways, out uint old);
        if (w < 0) return false;
        Volatile.Write(ref ways[w], 0u);
        _retired.Enqueue(old);
        return true;
    }

    /// <summary>Frees the first <paramref name="count"/> retired indices: the caller waited for a grace period after they were retired.</summary>
    public void Reclaim(int count)
    {
        for (int i = 0; i < count && _retired.Count > 0; i++) _free.Push(_retired.Dequeue());
    }

    private uint TakeFree()
    {
        if (_free.Count == 0 && _retired.Count > 0)
        {
            int n = _retired.Count;
            Bpf.WaitForProgramsInFlight();
            GracePeriods++;
            Reclaim(n);
        }
        return _free.Count > 0 ? _free.Pop() : throw new IOException($"the flow table's {EntryCount - 1} entries are all in use");
    }

    private static int Check(int fd, string what)
        => fd >= 0 ? fd : throw new IOException($"creating {what} (BPF map) failed: {LibC.StrError(-fd)} (errno {-fd})");

    private static byte* Map(int fd, nuint length, string what)
    {
        nint p = LibC.mmap(null, length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0);
        return p == LibC.MAP_FAILED ? throw new IOException($"mapping the flow table's {what} failed: {LibC.StrError(LibC.LastErrno)}") : (byte*)p;
    }

    public void Dispose()
    {
        if (_buckets != null) { LibC.munmap(_buckets, _bucketsLength); _buckets = null; }
        if (_entries != null) { LibC.munmap(_entries, _entriesLength); _entries = null; }
        if (BucketsFd >= 0) { LibC.close(BucketsFd); BucketsFd = -1; }
        if (EntriesFd >= 0) { LibC.close(EntriesFd); EntriesFd = -1; }
    }
}
