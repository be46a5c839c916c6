using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Cs = Softswitch.Datapath.Packets.Checksum;

namespace Softswitch.Datapath.Tests.Actions;

/// <summary>What to put in a test frame. Defaults: untagged IPv4/TCP, no options, 16 bytes of payload.</summary>
internal sealed record FrameSpec
{
    public ulong DlDst { get; init; } = 0x0200_0000_0002;
    public ulong DlSrc { get; init; } = 0x0200_0000_0001;
    /// <summary>802.1Q TCI, or null for untagged.</summary>
    public ushort? VlanTci { get; init; }
    public ushort EthType { get; init; } = PacketParser.EthTypeIpv4;
    public byte Proto { get; init; } = PacketParser.ProtoTcp;
    public uint NwSrc { get; init; } = 0x0A00_0001;
    public uint NwDst { get; init; } = 0x0A00_0002;
    public byte Tos { get; init; }
    public byte Ttl { get; init; } = 64;
    public ushort IpId { get; init; } = 0x1234;
    /// <summary>IPv4 options length in 4-byte words (IHL = 5 + this).</summary>
    public int OptionWords { get; init; }
    /// <summary>The flags/fragment-offset word (0x2000 = MF, low 13 bits = offset in 8-byte units).</summary>
    public ushort FragWord { get; init; }
    public ushort TpSrc { get; init; } = 1234;
    public ushort TpDst { get; init; } = 80;
    public byte IcmpType { get; init; } = 8;
    public byte IcmpCode { get; init; }
    public int PayloadSize { get; init; } = 16;
    /// <summary>UDP sent without a checksum (field 0).</summary>
    public bool UdpNoChecksum { get; init; }
    /// <summary>Bytes of Ethernet padding after the IP datagram.</summary>
    public int Padding { get; init; }
    /// <summary>Seed for option and payload bytes.</summary>
    public int Seed { get; init; } = 1;
}

/// <summary>Builds Ethernet frames with correct checksums, computed independently of the code under test.</summary>
internal static class Frames
{
    public static byte[] Build(FrameSpec s)
    {
        var rnd = new Random(s.Seed);
        byte[] l4 = BuildL4(s, rnd);
        int ihl = 20 + 4 * s.OptionWords;
        var ip = new byte[ihl + l4.Length];
        ip[0] = (byte)(0x40 | (ihl / 4));
        ip[1] = s.Tos;
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), (ushort)ip.Length);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(4), s.IpId);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(6), s.FragWord);
        ip[8] = s.Ttl;
        ip[9] = s.Proto;
        BinaryPrimitives.WriteUInt32BigEndian(ip.AsSpan(12), s.NwSrc);
        BinaryPrimitives.WriteUInt32BigEndian(ip.AsSpan(16), s.NwDst);
        for (int i = 20; i < ihl; i++) ip[i] = (byte)rnd.Next(256);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), Ref.Checksum(ip.AsSpan(0, ihl)));
        l4.CopyTo(ip, ihl);
        var pad = new byte[s.Padding];
        rnd.NextBytes(pad);
        return Eth(s.DlDst, s.DlSrc, s.VlanTci, s.EthType, [.. ip, .. pad]);
    }

    private static byte[] BuildL4(FrameSpec s, Random rnd)
    {
        var payload = new byte[s.PayloadSize];
        rnd.NextBytes(payload);
        bool later = (s.FragWord & 0x1FFF) != 0;
        if (later) return payload; // a later fragment carries only data
        switch (s.Proto)
        {
            case PacketParser.ProtoTcp:
            {
                var t = new byte[20 + payload.Length];
                BinaryPrimitives.WriteUInt16BigEndian(t, s.TpSrc);
                BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(2), s.TpDst);
                BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(4), (uint)rnd.Next());
                BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(8), (uint)rnd.Next());
                t[12] = 0x50; t[13] = 0x18;
                BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(14), 0xFFFF);
                payload.CopyTo(t, 20);
                BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(16), Ref.L4Checksum(s.NwSrc, s.NwDst, s.Proto, t));
                return t;
            }
            case PacketParser.ProtoUdp:
            {
                var u = new byte[8 + payload.Length];
                BinaryPrimitives.WriteUInt16BigEndian(u, s.TpSrc);
                BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(2), s.TpDst);
                BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(4), (ushort)u.Length);
                payload.CopyTo(u, 8);
                if (!s.UdpNoChecksum)
                {
                    ushort c = Ref.L4Checksum(s.NwSrc, s.NwDst, s.Proto, u);
                    BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(6), c == 0 ? (ushort)0xFFFF : c);
                }
                return u;
            }
            case PacketParser.ProtoIcmp:
            {
                var c = new byte[8 + payload.Length];
                c[0] = s.IcmpType; c[1] = s.IcmpCode;
                BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(4), 0xBEEF0001);
                payload.CopyTo(c, 8);
                BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(2), Ref.Checksum(c));
                return c;
            }
            default:
                return payload;
        }
    }

    public static byte[] Eth(ulong dst, ulong src, ushort? vlanTci, ushort type, ReadOnlySpan<byte> payload)
    {
        int hdr = vlanTci is null ? 14 : 18;
        var f = new byte[hdr + payload.Length];
        new MacAddress(dst).Write(f);
        new MacAddress(src).Write(f.AsSpan(6));
        int off = 12;
        if (vlanTci is ushort tci)
        {
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x8100);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), tci);
            off = 16;
        }
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(off), type);
        payload.CopyTo(f.AsSpan(hdr));
        return f;
    }

    public static byte[] Arp(ushort op, ulong sha, uint spa, ulong tha, uint tpa, ushort? vlanTci = null, int padding = 18)
    {
        var a = new byte[28 + padding];
        BinaryPrimitives.WriteUInt16BigEndian(a, 1);
        BinaryPrimitives.WriteUInt16BigEndian(a.AsSpan(2), 0x0800);
        a[4] = 6; a[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(a.AsSpan(6), op);
        new MacAddress(sha).Write(a.AsSpan(8));
        BinaryPrimitives.WriteUInt32BigEndian(a.AsSpan(14), spa);
        new MacAddress(tha).Write(a.AsSpan(18));
        BinaryPrimitives.WriteUInt32BigEndian(a.AsSpan(24), tpa);
        return Eth(op == 1 ? 0xFFFF_FFFF_FFFF : tha, sha, vlanTci, PacketParser.EthTypeArp, a);
    }

    public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "").Replace("\n", ""));
}

/// <summary>Reference checksums: the textbook byte-pair loop, sharing no code with <see cref="Checksum"/>.</summary>
internal static class Ref
{
    public static uint RawSum(ReadOnlySpan<byte> d, uint acc = 0)
    {
        int i = 0;
        for (; i + 1 < d.Length; i += 2) acc += (uint)(d[i] << 8 | d[i + 1]);
        if (i < d.Length) acc += (uint)(d[i] << 8);
        return acc;
    }

    public static ushort FoldSum(uint acc)
    {
        while (acc > 0xFFFF) acc = (acc & 0xFFFF) + (acc >> 16);
        return (ushort)acc;
    }

    public static ushort Checksum(ReadOnlySpan<byte> d) => (ushort)~FoldSum(RawSum(d));

    public static ushort L4Checksum(uint src, uint dst, byte proto, ReadOnlySpan<byte> seg)
    {
        uint acc = (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) + proto + (uint)seg.Length;
        return (ushort)~FoldSum(RawSum(seg, acc));
    }

    /// <summary>The IPv4 header checksum recomputed from scratch (field zeroed) with <see cref="Checksum.Compute"/>.</summary>
    public static ushort IpHeaderFromScratch(ReadOnlySpan<byte> frame, int l3)
    {
        int ihl = (frame[l3] & 0x0F) * 4;
        byte[] h = frame.Slice(l3, ihl).ToArray();
        h[10] = h[11] = 0;
        return Cs.Compute(h);
    }

    /// <summary>The TCP/UDP checksum recomputed from scratch with <see cref="Checksum.ComputeL4"/> (UDP's 0 written as 0xFFFF).</summary>
    public static ushort L4FromScratch(ReadOnlySpan<byte> frame, in PacketLayers layers)
    {
        int l3 = layers.L3, l4 = layers.L4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(frame[(l3 + 2)..]);
        byte[] seg = frame[l4..(l3 + total)].ToArray();
        bool udp = layers.Has(LayerFlags.Udp);
        int co = udp ? 6 : 16;
        seg[co] = seg[co + 1] = 0;
        uint src = BinaryPrimitives.ReadUInt32BigEndian(frame[(l3 + 12)..]);
        uint dst = BinaryPrimitives.ReadUInt32BigEndian(frame[(l3 + 16)..]);
        ushort c = Cs.ComputeL4(src, dst, frame[l3 + 9], seg);
        return udp && c == 0 ? (ushort)0xFFFF : c;
    }

    public static ushort StoredL4(ReadOnlySpan<byte> frame, in PacketLayers layers)
        => BinaryPrimitives.ReadUInt16BigEndian(frame[(layers.L4 + (layers.Has(LayerFlags.Udp) ? 6 : 16))..]);

    public static ushort StoredIp(ReadOnlySpan<byte> frame, int l3) => BinaryPrimitives.ReadUInt16BigEndian(frame[(l3 + 10)..]);

    /// <summary>
    /// Parses <paramref name="frame"/> afresh and asserts every checksum it carries equals a from-scratch
    /// recomputation: the IPv4 header, the TCP/UDP checksum (unless a fragment, or UDP without checksum), ICMP.
    /// </summary>
    public static void AssertChecksums(ReadOnlySpan<byte> frame, string? context = null)
    {
        PacketParser.Parse(frame, 0, out _, out var l);
        if (!l.Has(LayerFlags.Ipv4)) return;
        Assert.True(StoredIp(frame, l.L3) == IpHeaderFromScratch(frame, l.L3), $"IPv4 header checksum {context}");
        if (l.L4 == PacketLayers.Absent || l.Has(LayerFlags.Fragment)) return;
        if (l.Has(LayerFlags.Tcp) || (l.Has(LayerFlags.Udp) && StoredL4(frame, l) != 0))
        {
            Assert.True(StoredL4(frame, l) == L4FromScratch(frame, l),
                $"L4 checksum stored 0x{StoredL4(frame, l):x4} scratch 0x{L4FromScratch(frame, l):x4} {context}");
        }

        if (l.Has(LayerFlags.Icmp))
        {
            int total = BinaryPrimitives.ReadUInt16BigEndian(frame[(l.L3 + 2)..]);
            Assert.True(Cs.IsValid(frame[l.L4..(l.L3 + total)]), $"ICMP checksum {context}");
        }
    }
}

/// <summary>A sink that records what the executor asked for (copies of the index lists, for assertions).</summary>
internal struct RecordingSink : IActionSink
{
    public List<(ushort Port, ushort MaxLen, uint Queue, bool ModifiedAfter, ulong Tunnel, int[] Pkts)> Outputs;
    public ulong Tunnel;

    public List<int[]> InvalidTtls;

    public RecordingSink()
    {
        Outputs = [];
        InvalidTtls = [];
    }

    public void Output(ushort port, ushort maxLen, uint queueId, bool modifiedAfter, ReadOnlySpan<int> pkts)
        => Outputs.Add((port, maxLen, queueId, modifiedAfter, Tunnel, pkts.ToArray()));

    public void SetTunnel(ulong tunnelId) => Tunnel = tunnelId;

    public void InvalidTtl(ReadOnlySpan<int> pkts, ushort controllerId)
    {
        InvalidTtls.Add(pkts.ToArray());
        InvalidTtlIds.Add(controllerId);
    }

    /// <summary>The controller id of each <see cref="InvalidTtls"/> entry.</summary>
    public List<ushort> InvalidTtlIds { get; } = [];

    public void ToController(ushort maxLen, uint queueId, bool modifiedAfter, ulong userData, uint userTag, ReadOnlySpan<int> pkts)
        => Output(Softswitch.Datapath.Ports.PortNumber.Controller, maxLen, queueId, modifiedAfter, pkts);
}

/// <summary>A sink that only counts (no allocation).</summary>
internal struct CountingSink : IActionSink
{
    public long Outputs, Packets;
    public ulong Tunnel;

    public void Output(ushort port, ushort maxLen, uint queueId, bool modifiedAfter, ReadOnlySpan<int> pkts)
    {
        Outputs++;
        Packets += pkts.Length;
    }

    public void SetTunnel(ulong tunnelId) => Tunnel = tunnelId;

    public long InvalidTtls;

    public void InvalidTtl(ReadOnlySpan<int> pkts, ushort controllerId) => InvalidTtls += pkts.Length;

    public void ToController(ushort maxLen, uint queueId, bool modifiedAfter, ulong userData, uint userTag, ReadOnlySpan<int> pkts)
        => Output(Softswitch.Datapath.Ports.PortNumber.Controller, maxLen, queueId, modifiedAfter, pkts);
}

/// <summary>Loads frames into a pool and parses them, as the pipeline would.</summary>
internal sealed class Batch
{
    public readonly PacketPool Pool;
    public readonly int[] Pkts;
    public readonly PacketLayers[] Layers;

    public Batch(params byte[][] frames) : this(new PacketPool(Math.Max(frames.Length, 1) + 4), frames) { }

    public Batch(PacketPool pool, byte[][] frames)
    {
        Pool = pool;
        Pkts = new int[frames.Length];
        Layers = new PacketLayers[frames.Length];
        for (int i = 0; i < frames.Length; i++)
        {
            Pkts[i] = pool.Alloc();
            Assert.True(pool.Write(Pkts[i], frames[i]));
            PacketParser.Parse(frames[i], 1, out _, out Layers[i]);
        }
    }

    public byte[] Frame(int i) => Pool.Frame(Pkts[i]).ToArray();

    public void Run(FlowActions actions, ref RecordingSink sink) => new ActionExecutor().Execute(actions, Pool, Pkts, Layers, ref sink);

    public void Run(params FlowAction[] actions)
    {
        var sink = new RecordingSink();
        Run(new FlowActions(actions), ref sink);
    }
}

/// <summary>
/// A minimal libpcap file reader/writer (classic format, microsecond timestamps, either byte order on read).
/// </summary>
internal static class Pcap
{
    public const uint Magic = 0xA1B2C3D4;
    public const uint LinkTypeEthernet = 1;

    public static void Write(string path, IEnumerable<byte[]> frames)
    {
        using var fs = File.Create(path);
        Span<byte> gh = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(gh, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(gh[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(gh[6..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(gh[16..], 65535);
        BinaryPrimitives.WriteUInt32LittleEndian(gh[20..], LinkTypeEthernet);
        fs.Write(gh);
        uint t = 0;
        Span<byte> rh = stackalloc byte[16];
        foreach (var f in frames)
        {
            rh.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(rh, 1_700_000_000 + t++);
            BinaryPrimitives.WriteUInt32LittleEndian(rh[8..], (uint)f.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(rh[12..], (uint)f.Length);
            fs.Write(rh);
            fs.Write(f);
        }
    }

    public static List<byte[]> Read(string path) => Read(File.ReadAllBytes(path));

    public static List<byte[]> Read(ReadOnlySpan<byte> file)
    {
        if (file.Length < 24) throw new InvalidDataException("pcap: short global header");
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(file);
        bool le = magic is 0xA1B2C3D4 or 0xA1B23C4D;
        if (!le && BinaryPrimitives.ReadUInt32BigEndian(file) is not (0xA1B2C3D4 or 0xA1B23C4D))
            throw new InvalidDataException($"pcap: bad magic 0x{magic:x8}");
        uint U32(ReadOnlySpan<byte> b) => le ? BinaryPrimitives.ReadUInt32LittleEndian(b) : BinaryPrimitives.ReadUInt32BigEndian(b);
        if (U32(file[20..]) != LinkTypeEthernet) throw new InvalidDataException("pcap: not Ethernet");
        var frames = new List<byte[]>();
        int off = 24;
        while (off < file.Length)
        {
            if (file.Length - off < 16) throw new InvalidDataException("pcap: short record header");
            int incl = checked((int)U32(file[(off + 8)..]));
            off += 16;
            if (incl > file.Length - off) throw new InvalidDataException("pcap: short record");
            frames.Add(file.Slice(off, incl).ToArray());
            off += incl;
        }
        return frames;
    }

    /// <summary>The corpus directory in the source tree (tests read the committed files in place).</summary>
    public static string CorpusDir([CallerFilePath] string thisFile = "")
        => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "Corpus"));
}
