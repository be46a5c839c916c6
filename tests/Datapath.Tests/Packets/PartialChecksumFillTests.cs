using System.Buffers.Binary;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;
using Cs = Softswitch.Datapath.Packets.Checksum;

namespace Softswitch.Datapath.Tests.Packets;

/// <summary>
/// <see cref="SoftwareOffload.FillIfPartial"/>: a frame whose TCP or UDP checksum field holds the folded pseudo-header
/// sum (what a local Linux sender leaves for the device) leaves with its full checksum; a frame with a valid, a corrupt
/// or a zero UDP checksum, a fragment, an IPv6 frame with an extension header and anything truncated are left exactly
/// as they came.
/// </summary>
public sealed class PartialChecksumFillTests
{
    private static readonly MacAddress Src = MacAddress.Parse("02:00:00:00:00:01"), Dst = MacAddress.Parse("02:00:00:00:00:02");
    private static readonly uint SrcIp = Ipv4.Parse("10.6.0.1"), DstIp = Ipv4.Parse("10.6.0.2");

    /// <summary>Where a frame's IP header and L4 segment are, and whether its L4 checksum verifies.</summary>
    private static (int L3, int L4, int L4Length, byte Proto, bool V6) Layout(byte[] f)
    {
        int off = 12;
        while (BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(off)) is 0x8100 or 0x88A8) off += 4;
        int l3 = off + 2;
        if (BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(off)) == 0x86DD)
            return (l3, l3 + 40, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(l3 + 4)), f[l3 + 6], true);
        int ihl = (f[l3] & 0x0F) * 4;
        return (l3, l3 + ihl, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(l3 + 2)) - ihl, f[l3 + 9], false);
    }

    private static ushort Pseudo(byte[] f)
    {
        var (l3, _, len, proto, v6) = Layout(f);
        return v6
            ? SoftwareOffload.PseudoHeaderSumV6(f.AsSpan(l3 + 8, 32), proto, len)
            : Cs.PseudoHeaderSum(BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(l3 + 12)), BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(l3 + 16)), proto, (ushort)len);
    }

    private static int Field(byte[] f)
    {
        var (_, l4, _, proto, _) = Layout(f);
        return l4 + (proto == 6 ? 16 : 6);
    }

    private static bool Verifies(byte[] f)
    {
        var (_, l4, len, _, _) = Layout(f);
        return Cs.Add(Pseudo(f), Cs.Sum(f.AsSpan(l4, len))) == 0xFFFF;
    }

    /// <summary>The frame as a CHECKSUM_PARTIAL sender leaves it: the field holds the pseudo-header's folded sum.</summary>
    private static byte[] AsPartial(byte[] f)
    {
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(Field(f)), Pseudo(f));
        return f;
    }

    /// <summary>The frame with a complete, valid L4 checksum.</summary>
    private static byte[] AsComplete(byte[] f)
    {
        AsPartial(f);
        var (_, l4, len, proto, _) = Layout(f);
        Assert.True(SoftwareOffload.CompleteChecksum(f.AsSpan(0, l4 + len), l4, proto == 6 ? 16 : 6));
        Assert.True(Verifies(f));
        return f;
    }

    /// <summary>An IPv4 frame with <paramref name="optionWords"/> 4-byte option words (NOPs) after its fixed header.</summary>
    private static byte[] WithIpv4Options(byte[] f, int optionWords)
    {
        const int l3 = 14;
        int extra = optionWords * 4;
        var g = new byte[f.Length + extra];
        f.AsSpan(0, l3 + 20).CopyTo(g);
        g.AsSpan(l3 + 20, extra).Fill(0x01);
        f.AsSpan(l3 + 20).CopyTo(g.AsSpan(l3 + 20 + extra));
        g[l3] = (byte)(0x40 | (5 + optionWords));
        BinaryPrimitives.WriteUInt16BigEndian(g.AsSpan(l3 + 2), (ushort)(BinaryPrimitives.ReadUInt16BigEndian(g.AsSpan(l3 + 2)) + extra));
        return g;
    }

    private static byte[] DoubleTagged(byte[] f)
    {
        var g = new byte[f.Length + 8];
        f.AsSpan(0, 12).CopyTo(g);
        g[12] = 0x88; g[13] = 0xA8; g[14] = 0x00; g[15] = 0x64;
        g[16] = 0x81; g[17] = 0x00; g[18] = 0x00; g[19] = 0x0A;
        f.AsSpan(12).CopyTo(g.AsSpan(20));
        return g;
    }

    private static readonly string[] ShapeNames =
    [
        "udp", "tcp", "udp-odd", "tcp-odd", "udp-vlan", "tcp-qinq", "udp-options", "tcp-full", "udp-padded",
        "udp6", "tcp6", "udp6-vlan", "tcp6-odd",
    ];

    public static TheoryData<string> Shapes() => new(ShapeNames);

    private static byte[] Shape(string name) => name switch
    {
        "udp" => FrameBuilder.Udp(Src, Dst, SrcIp, DstIp, 1000, 2000, frameSize: 200),
        "tcp" => FrameBuilder.Tcp(Src, Dst, SrcIp, DstIp, 45678, 5201, frameSize: 200),
        "udp-odd" => FrameBuilder.Udp(Src, Dst, SrcIp, DstIp, 1000, 2000, frameSize: 201),
        "tcp-odd" => FrameBuilder.Tcp(Src, Dst, SrcIp, DstIp, 45678, 5201, frameSize: 77),
        "udp-vlan" => FrameBuilder.Udp(Src, Dst, SrcIp, DstIp, 1000, 2000, frameSize: 300, vlan: 10),
        "tcp-qinq" => DoubleTagged(FrameBuilder.Tcp(Src, Dst, SrcIp, DstIp, 45678, 5201, frameSize: 300)),
        "udp-options" => WithIpv4Options(FrameBuilder.Udp(Src, Dst, SrcIp, DstIp, 1000, 2000, frameSize: 150), 3),
        "tcp-full" => FrameBuilder.Tcp(Src, Dst, SrcIp, DstIp, 45678, 5201, frameSize: 1514),
        "udp-padded" => Padded(FrameBuilder.Udp(Src, Dst, SrcIp, DstIp, 1000, 2000, frameSize: 60, payloadSize: 3)),
        "udp6" => FlowFrames.Ipv6Frame(17, 1000, 2000),
        "tcp6" => FlowFrames.Ipv6Frame(6, 45678, 5201),
        "udp6-vlan" => FlowFrames.Ipv6Frame(17, 1000, 2000, vlan: 7),
        "tcp6-odd" => OddIpv6Tcp(),
        _ => throw new ArgumentException(name),
    };

    /// <summary>A frame whose Ethernet padding (after the IP total length) is not zero: it must stay out of the sum.</summary>
    private static byte[] Padded(byte[] f)
    {
        var (_, l4, len, _, _) = Layout(f);
        Assert.True(l4 + len < f.Length, "no padding in the frame");
        f.AsSpan(l4 + len).Fill(0xEE);
        return f;
    }

    private static byte[] OddIpv6Tcp()
    {
        var f = FlowFrames.Ipv6Frame(6, 45678, 5201);
        var g = f[..^1];   // one payload byte less: an odd segment
        BinaryPrimitives.WriteUInt16BigEndian(g.AsSpan(18), (ushort)(BinaryPrimitives.ReadUInt16BigEndian(g.AsSpan(18)) - 1));
        return g;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void APartialChecksum_IsFilledWhole(string shape)
    {
        var f = AsPartial(Shape(shape));
        Assert.False(Verifies(f));
        var before = (byte[])f.Clone();

        Assert.True(SoftwareOffload.FillIfPartial(f));

        Assert.True(Verifies(f), shape);
        int field = Field(f);
        Assert.Equal(before.AsSpan(0, field).ToArray(), f.AsSpan(0, field).ToArray());          // only the field moved
        Assert.Equal(before.AsSpan(field + 2).ToArray(), f.AsSpan(field + 2).ToArray());
        Assert.NotEqual(0, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(field)));
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void AValidOrCorruptChecksum_IsLeftAlone(string shape)
    {
        var valid = AsComplete(Shape(shape));
        var copy = (byte[])valid.Clone();
        Assert.False(SoftwareOffload.FillIfPartial(valid));
        Assert.Equal(copy, valid);

        var corrupt = AsComplete(Shape(shape));
        corrupt[Field(corrupt) + 1] ^= 0x5A;
        copy = (byte[])corrupt.Clone();
        Assert.False(SoftwareOffload.FillIfPartial(corrupt));
        Assert.Equal(copy, corrupt);
    }

    [Fact]
    public void AZeroUdpChecksum_StaysZero()
    {
        var f = FrameBuilder.Udp(Src, Dst, SrcIp, DstIp, 1000, 2000, frameSize: 200);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(Field(f)), 0);
        var copy = (byte[])f.Clone();
        Assert.False(SoftwareOffload.FillIfPartial(f));
        Assert.Equal(copy, f);
    }

    [Theory]
    [InlineData(0x2000)]   // more fragments, offset 0: the checksum covers the whole datagram, not this piece
    [InlineData(0x00B9)]   // a later fragment
    public void AFragment_IsLeftAlone(int flagsAndOffset)
    {
        var f = FrameBuilder.Udp(Src, Dst, SrcIp, DstIp, 1000, 2000, frameSize: 200);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14 + 6), (ushort)flagsAndOffset);
        AsPartial(f);
        var copy = (byte[])f.Clone();
        Assert.False(SoftwareOffload.FillIfPartial(f));
        Assert.Equal(copy, f);
    }

    [Fact]
    public void AnIpv6ExtensionHeader_IsLeftAlone()
    {
        var f = FlowFrames.Ipv6Frame(17, 1000, 2000, hopByHop: true);
        var copy = (byte[])f.Clone();
        Assert.False(SoftwareOffload.FillIfPartial(f));
        Assert.Equal(copy, f);
    }

    /// <summary>Every cut of a partial frame (an IP length past the frame's end) and random bytes: refused, never read past the end.</summary>
    [Fact]
    public void TruncatedAndRandomFrames_AreRefused_WithoutReadingPastTheEnd()
    {
        foreach (var shape in ShapeNames)
        {
            var f = AsPartial(Shape(shape));
            var (_, l4, len, _, _) = Layout(f);
            for (int cut = 0; cut < l4 + len; cut++)
            {
                var piece = f.AsSpan(0, cut).ToArray();
                Assert.False(SoftwareOffload.FillIfPartial(piece), $"{shape} cut at {cut}");
            }
        }
        var rng = new Random(59);
        for (int i = 0; i < 20_000; i++)
        {
            var junk = new byte[rng.Next(0, 120)];
            rng.NextBytes(junk);
            if (junk.Length > 13 && rng.Next(2) == 0) { junk[12] = 0x08; junk[13] = 0x00; }
            SoftwareOffload.FillIfPartial(junk);   // any answer, no exception
        }
    }
}
