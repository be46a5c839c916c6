using System.Buffers.Binary;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Tunnels;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests.Tunnels;

/// <summary>
/// Geneve (RFC 8926): the encapsulation byte for byte, the outer UDP checksum and DF options, and decapsulation of
/// headers with option TLVs of every length: well-formed ones are skipped, critical ones and ones that do not fill the
/// option length are counted drops, and no header, however cut, makes the receive path throw.
/// </summary>
public sealed class GeneveTests
{
    private const uint Vni = 0xABCDEF;
    private static readonly uint IpA = TunnelRig.IpA, IpB = TunnelRig.IpB;

    private static TunnelPort Sender(Func<TunnelConfig, TunnelConfig>? change = null)
    {
        var c = TestTunnels.Geneve("g", IpA, IpB, Vni) with { RemoteMac = TunnelGoldenTests.UnderB };
        return new TunnelPort(change is null ? c : change(c), new MemoryPort("u", TunnelGoldenTests.UnderA) { CaptureSent = true });
    }

    private static TunnelPort Receiver(uint vni = Vni) => new(TestTunnels.Geneve("g", IpB, IpA, vni), new MemoryPort("u", TunnelGoldenTests.UnderB));

    private static byte[] EncapOne(TunnelPort t, byte[] inner)
    {
        var pool = new PacketPool(4);
        int p = pool.Alloc();
        Assert.True(pool.Write(p, inner));
        t.Send(pool, [p], 0);
        pool.Release(p);
        return Assert.Single(((MemoryPort)t.Underlay).TakeSent());
    }

    private static (RxVerdict Verdict, TunnelPort? Port, ulong Id, byte[] Frame) Decap(UnderlayBinding b, byte[] outer)
    {
        var pool = new PacketPool(2, 2048 + PacketPool.Headroom);
        int p = pool.Alloc();
        Assert.True(pool.Write(p, outer));
        var v = b.Classify(pool, p, out var port, out var id);
        return (v, port, id, pool.Frame(p).ToArray());
    }

    private static bool UdpChecksumValid(byte[] f)
    {
        int udpLen = BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(38));
        uint src = BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(26)), dst = BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(30));
        return Checksum.Add(Checksum.PseudoHeaderSum(src, dst, 17, (ushort)udpLen), Checksum.Sum(f.AsSpan(34, udpLen))) == 0xFFFF;
    }

    [Fact]
    public void EncapGolden()
    {
        var t = Sender();
        var inner = TunnelGoldenTests.Inner();
        var f = EncapOne(t, inner);
        ushort sport = TunnelHeader.SourcePort(inner);
        // Same outer IPv4 header as VXLAN's golden frame (length 0x64, UDP); UDP to 6081 (0x17c1) with checksum 0;
        // Geneve: version 0, no options, O and C clear, protocol 0x6558, VNI abcdef.
        var expect = TunnelGoldenTests.Hex("020000000002 020000000001 0800" + "4500 0064 0000 4000 4011 2687 0a000001 0a000002"
                                           + $"{sport:x4} 17c1 0050 0000" + "0000 6558 abcdef00");
        Assert.Equal(expect, f[..50]);
        Assert.Equal(inner, f[50..]);
        TunnelGoldenTests.AssertIpv4Valid(f, 100);
        Assert.Equal(50, t.Header.Size);
        Assert.Equal(1500 - 50, t.Info.Mtu);
    }

    [Fact]
    public void DecapGivesBackTheInnerFrameAndVni()
    {
        var inner = TunnelGoldenTests.Inner();
        var rx = Receiver();
        var (v, port, id, frame) = Decap(new UnderlayBinding(null, [rx], new TunnelDropCounters()), EncapOne(Sender(), inner));
        Assert.Equal(RxVerdict.Decapsulated, v);
        Assert.Same(rx, port);
        Assert.Equal((ulong)Vni, id);
        Assert.Equal(inner, frame);
    }

    [Fact]
    public void CsumTrue_SendsAValidUdpChecksum_AndTheReceiverChecksIt()
    {
        var t = Sender(c => c with { UdpChecksum = true });
        var drops = new TunnelDropCounters();
        var bind = new UnderlayBinding(null, [Receiver()], drops);
        for (int size = 64; size < 200; size += 7)
        {
            var f = EncapOne(t, TunnelGoldenTests.Inner(size, (ushort)size));
            Assert.NotEqual(0, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(40)));
            Assert.True(UdpChecksumValid(f), $"UDP checksum of a {size}-byte inner frame");
            Assert.Equal(RxVerdict.Decapsulated, Decap(bind, f).Verdict);
            f[^1] ^= 0x5A;   // corrupt the inner frame's last byte
            Assert.Equal(RxVerdict.Dropped, Decap(bind, f).Verdict);
        }
        Assert.Equal(20, drops[TunnelDropReason.BadChecksum]);
        // Default (csum=false): zero.
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(EncapOne(Sender(), TunnelGoldenTests.Inner()).AsSpan(40)));
    }

    [Fact]
    public void DfDefaultFalse_ClearsTheOuterDontFragmentBit()
    {
        var f = EncapOne(Sender(c => c with { DontFragment = false }), TunnelGoldenTests.Inner());
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(20)));
        TunnelGoldenTests.AssertIpv4Valid(f, 100);
        Assert.Equal(0x4000, BinaryPrimitives.ReadUInt16BigEndian(EncapOne(Sender(), TunnelGoldenTests.Inner()).AsSpan(20)));
    }

    /// <summary>
    /// A Geneve frame from A to B around <paramref name="inner"/> with option bytes <paramref name="opts"/>, the
    /// option-length field <paramref name="optLenWords"/> and flag byte <paramref name="flags"/>; the IPv4 and UDP
    /// lengths cover everything (or, with <paramref name="cut"/>, that many bytes fewer of the frame), UDP checksum 0.
    /// </summary>
    private static byte[] Frame(byte[] opts, int optLenWords, byte flags, byte[] inner, int version = 0, ushort proto = 0x6558, int cut = 0)
    {
        int udpLen = 8 + 8 + opts.Length + inner.Length - cut;
        var f = new byte[14 + 20 + udpLen];
        TunnelGoldenTests.UnderB.Write(f);
        TunnelGoldenTests.UnderA.Write(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        var ip = f.AsSpan(14, 20);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + udpLen));
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000);
        ip[8] = 64;
        ip[9] = 17;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], IpA);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], IpB);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Compute(ip));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(34), 50000);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(36), 6081);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(38), (ushort)udpLen);
        f[42] = (byte)((version << 6) | (optLenWords & 0x3F));
        f[43] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(44), proto);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(46), Vni << 8);
        var rest = new byte[opts.Length + inner.Length];
        opts.CopyTo(rest, 0);
        inner.CopyTo(rest, opts.Length);
        rest.AsSpan(0, rest.Length - cut).CopyTo(f.AsSpan(50));
        return f;
    }

    /// <summary>Random option TLVs filling at most <paramref name="maxBytes"/>: each 4 bytes of header and 0 to 31 words
    /// of data, the type's critical bit clear. Returns the bytes and where each option starts.</summary>
    private static (byte[] Bytes, List<int> Starts) Options(Random rnd, int maxBytes)
    {
        var bytes = new List<byte>();
        var starts = new List<int>();
        while (true)
        {
            int words = rnd.Next(0, 32);
            if (bytes.Count + 4 + words * 4 > maxBytes) break;
            starts.Add(bytes.Count);
            var o = new byte[4 + words * 4];
            rnd.NextBytes(o);
            o[2] &= 0x7F;                                      // not critical
            o[3] = (byte)((o[3] & 0xE0) | words);             // reserved bits as they come, length in words
            bytes.AddRange(o);
            if (rnd.Next(4) == 0) break;
        }
        return ([.. bytes], starts);
    }

    [Fact]
    public void OptionsOfEveryLength_AreSkipped_OrCountedAsDrops()
    {
        var rnd = new Random(8926);
        var drops = new TunnelDropCounters();
        var rx = Receiver();
        var bind = new UnderlayBinding(null, [rx], drops);
        var inner = TunnelGoldenTests.Inner();
        long malformed = 0, critical = 0;
        for (int i = 0; i < 3000; i++)
        {
            var (opts, starts) = Options(rnd, 252);   // the 6-bit field's most: 63 words
            int words = opts.Length / 4;
            switch (i % 5)
            {
                case 0:
                {
                    // Well-formed, not critical: the inner frame comes out whole, with the VNI.
                    var (v, port, id, frame) = Decap(bind, Frame(opts, words, rnd.Next(2) == 0 ? (byte)0 : (byte)0x80, inner));
                    Assert.True(v == RxVerdict.Decapsulated, $"case {i}: {opts.Length} option bytes in {starts.Count} options: {v}");
                    Assert.Same(rx, port);
                    Assert.Equal((ulong)Vni, id);
                    Assert.Equal(inner, frame);
                    break;
                }
                case 1:
                {
                    // A critical option somewhere (or the C bit): dropped, as RFC 8926 has an endpoint that does not process it do.
                    bool cBit = starts.Count == 0 || rnd.Next(2) == 0;
                    if (!cBit) opts[starts[rnd.Next(starts.Count)] + 2] |= 0x80;
                    Assert.Equal(RxVerdict.Dropped, Decap(bind, Frame(opts, words, cBit ? (byte)0x40 : (byte)0, inner)).Verdict);
                    critical++;
                    break;
                }
                case 2:
                {
                    // The option length says fewer words than the options take: the last option runs past it.
                    if (starts.Count == 0 || opts.Length == 0) goto case 4;
                    int last = starts[^1];
                    int lastWords = opts[last + 3] & 0x1F;
                    if (lastWords == 31) goto case 4;
                    opts[last + 3] = (byte)((opts[last + 3] & 0xE0) | (lastWords + 1));
                    Assert.Equal(RxVerdict.Dropped, Decap(bind, Frame(opts, words, 0, inner)).Verdict);
                    malformed++;
                    break;
                }
                case 3:
                {
                    // An option length beyond the datagram (the header, options and an Ethernet header do not fit).
                    // Dropped when claim * 4 > option bytes + inner bytes - 14.
                    int claim = ((opts.Length + inner.Length - 14) / 4) + 1 + rnd.Next(0, 3);
                    if (claim > 63) goto case 4;
                    Assert.Equal(RxVerdict.Dropped, Decap(bind, Frame(opts, claim, 0, inner)).Verdict);
                    malformed++;
                    break;
                }
                case 4:
                {
                    // Anything at all: random option bytes and length field, version, flags, a datagram cut short.
                    var junk = new byte[rnd.Next(0, 64) * 4];
                    rnd.NextBytes(junk);
                    int cut = rnd.Next(3) == 0 ? rnd.Next(0, inner.Length) : 0;
                    int version = rnd.Next(8) == 0 ? rnd.Next(1, 4) : 0;
                    long before = drops.Total;
                    var (v, _, _, frame) = Decap(bind, Frame(junk, rnd.Next(0, 64), (byte)rnd.Next(256), inner, version, cut: cut));
                    Assert.True(v is RxVerdict.Decapsulated or RxVerdict.Dropped, $"case {i}: {v}");
                    Assert.Equal(v == RxVerdict.Dropped ? before + 1 : before, drops.Total);
                    if (v == RxVerdict.Decapsulated) Assert.True(frame.Length >= 14, "an inner frame shorter than Ethernet");
                    malformed = drops[TunnelDropReason.Malformed];
                    critical = drops[TunnelDropReason.CriticalOption];
                    break;
                }
            }
            Assert.Equal(malformed, drops[TunnelDropReason.Malformed]);
            Assert.Equal(critical, drops[TunnelDropReason.CriticalOption]);
        }
        Assert.True(drops[TunnelDropReason.Malformed] > 500 && drops[TunnelDropReason.CriticalOption] > 500, $"malformed {drops[TunnelDropReason.Malformed]}, critical {drops[TunnelDropReason.CriticalOption]}");
        Assert.Equal(0, drops[TunnelDropReason.UnknownKey] + drops[TunnelDropReason.BadChecksum]);
    }

    [Fact]
    public void OptionWalk_FindsEveryProblem()
    {
        Assert.Null(UnderlayBinding.GeneveOptions([]));
        Assert.Null(UnderlayBinding.GeneveOptions([0, 1, 2, 0]));                                  // one empty option
        Assert.Null(UnderlayBinding.GeneveOptions([0, 1, 2, 1, 9, 9, 9, 9, 0, 1, 3, 0]));          // 8 + 4 bytes
        Assert.Equal(TunnelDropReason.Malformed, UnderlayBinding.GeneveOptions([0, 1, 2, 1]));        // data past the end
        Assert.Equal(TunnelDropReason.Malformed, UnderlayBinding.GeneveOptions([0, 1, 2, 0, 0, 1])); // a partial header
        Assert.Equal(TunnelDropReason.CriticalOption, UnderlayBinding.GeneveOptions([0, 1, 0x82, 0]));
    }

    [Fact]
    public void VersionAndProtocolOtherThanOursAreMalformed_UnknownVniIsUnknownKey()
    {
        var drops = new TunnelDropCounters();
        var bind = new UnderlayBinding(null, [Receiver()], drops);
        var inner = TunnelGoldenTests.Inner();
        Assert.Equal(RxVerdict.Dropped, Decap(bind, Frame([], 0, 0, inner, version: 1)).Verdict);
        Assert.Equal(RxVerdict.Dropped, Decap(bind, Frame([], 0, 0, inner, proto: 0x0800)).Verdict);
        Assert.Equal(2, drops[TunnelDropReason.Malformed]);
        var other = new UnderlayBinding(null, [Receiver(vni: 7)], drops);
        Assert.Equal(RxVerdict.Dropped, Decap(other, Frame([], 0, 0, inner)).Verdict);
        Assert.Equal(1, drops[TunnelDropReason.UnknownKey]);
    }

    [Fact]
    public void VxlanAndGeneveShareAnUnderlayOnTheirOwnPorts_NotOnOne()
    {
        var vx = new TunnelPort(TestTunnels.Vxlan("vx", IpB, IpA, Vni), new MemoryPort("u", TunnelGoldenTests.UnderB));
        var ge = Receiver();
        var bind = new UnderlayBinding(null, [vx, ge], new TunnelDropCounters());
        var inner = TunnelGoldenTests.Inner();
        Assert.Same(ge, Decap(bind, EncapOne(Sender(), inner)).Port);
        var vxTx = new TunnelPort(TestTunnels.Vxlan("vx", IpA, IpB, Vni) with { RemoteMac = TunnelGoldenTests.UnderB },
            new MemoryPort("u", TunnelGoldenTests.UnderA) { CaptureSent = true });
        Assert.Same(vx, Decap(bind, EncapOne(vxTx, inner)).Port);

        var onVxlanPort = new TunnelPort(TestTunnels.Geneve("g2", IpB, IpA, 5) with { DstPort = 4789 }, new MemoryPort("u", TunnelGoldenTests.UnderB));
        var e = Assert.Throws<ArgumentException>(() => new UnderlayBinding(null, [vx, onVxlanPort], new TunnelDropCounters()));
        Assert.Contains("UDP port 4789", e.Message);
    }

    [Fact]
    public void EncapWithChecksumAndDecapWithOptions_AllocateNothing()
    {
        var t = Sender(c => c with { UdpChecksum = true });
        var bind = new UnderlayBinding(null, [Receiver()], new TunnelDropCounters());
        var (opts, _) = Options(new Random(6081), 64);
        var withOptions = Frame(opts, opts.Length / 4, 0, TunnelGoldenTests.Inner());
        var pool = new PacketPool(8, 2048 + PacketPool.Headroom);
        int src = pool.Alloc(), dst = pool.Alloc(), rx = pool.Alloc();
        Assert.True(pool.Write(src, TunnelGoldenTests.Inner()));
        // The smallest of a few rounds: the runtime may allocate on this thread while the loop tiers up.
        Assert.Equal(0, AllocationMeter.SteadyState(() =>
        {
            for (int i = 0; i < 1000; i++)
            {
                if (t.Header.Encapsulate(pool.Frame(src), pool, dst, Vni) != EncapStatus.Ok) throw new InvalidOperationException("not encapsulated");
                pool.Head[rx] = (ushort)PacketPool.Headroom;   // where the last decapsulation moved it from
                pool.Write(rx, withOptions);
                if (bind.Classify(pool, rx, out _, out _) != RxVerdict.Decapsulated) throw new InvalidOperationException("not decapsulated");
            }
        }, rounds: 8));
    }
}
