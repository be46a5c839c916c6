using System.Buffers.Binary;

namespace Softswitch.Bench.Gen;

/// <summary>
/// The generator's frames: Ethernet + IPv4 + UDP of one size, one per flow. Flow i differs from flow 0 in its UDP
/// source port (first + i) and in the host part of its IPv4 source address (base + i), so a switch's exact-match
/// caches and a hash over the 5-tuple see <see cref="Flows"/> distinct flows; the IPv4 checksum is computed per
/// flow, the UDP checksum left 0 (none, as IPv4 allows).
/// </summary>
/// <remarks>
/// A flow differs from the template in 8 bytes only (source address, IPv4 checksum, source port), so a sender keeps
/// full frames in its ring slots and patches those bytes per frame (<see cref="Patch"/>).
/// </remarks>
public sealed class GenFrames
{
    /// <summary>Bytes on the wire without the FCS the NIC adds: 64 B frames are 60 B here, 1518 B frames 1514 B.</summary>
    public int Length { get; }
    public int Flows { get; }
    private readonly byte[] _template;
    private readonly ulong[] _patches;   // per flow: source address (4), IPv4 checksum (2), UDP source port (2), in wire order

    public const int SrcIpOffset = 26;
    public const int IpChecksumOffset = 24;
    public const int UdpSrcPortOffset = 34;

    /// <summary>Frames of <paramref name="frameSize"/> bytes with the FCS (64 to 1518) for <paramref name="flows"/> flows.</summary>
    public GenFrames(int frameSize, int flows, ReadOnlySpan<byte> dstMac, ReadOnlySpan<byte> srcMac, uint srcIp, uint dstIp,
        ushort firstSrcPort = 1024, ushort dstPort = 9)
    {
        if (frameSize is < 64 or > 1518) throw new ArgumentOutOfRangeException(nameof(frameSize), "64 to 1518 bytes");
        if (flows < 1 || flows > 65536 - firstSrcPort) throw new ArgumentOutOfRangeException(nameof(flows));
        if (dstMac.Length != 6 || srcMac.Length != 6) throw new ArgumentException("MAC addresses are 6 bytes");
        Length = frameSize - 4;
        Flows = flows;
        var f = new byte[Length];
        dstMac.CopyTo(f);
        srcMac.CopyTo(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        int ipLen = Length - 14;
        f[14] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), (ushort)ipLen);
        f[22] = 64;   // TTL
        f[23] = 17;   // UDP
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(SrcIpOffset), srcIp);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(30), dstIp);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(UdpSrcPortOffset), firstSrcPort);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(36), dstPort);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(38), (ushort)(ipLen - 20));
        for (int i = 42; i < Length; i++) f[i] = (byte)i;   // a payload that is not all zeros
        _template = f;
        _patches = new ulong[flows];
        Span<byte> hdr = stackalloc byte[20];
        Span<byte> p = stackalloc byte[8];
        for (int i = 0; i < flows; i++)
        {
            f.AsSpan(14, 20).CopyTo(hdr);
            BinaryPrimitives.WriteUInt32BigEndian(hdr[12..], srcIp + (uint)i);
            BinaryPrimitives.WriteUInt16BigEndian(hdr[10..], 0);
            ushort sum = Ipv4Checksum(hdr);
            BinaryPrimitives.WriteUInt32BigEndian(p, srcIp + (uint)i);
            BinaryPrimitives.WriteUInt16BigEndian(p[4..], sum);
            BinaryPrimitives.WriteUInt16BigEndian(p[6..], (ushort)(firstSrcPort + i));
            _patches[i] = BinaryPrimitives.ReadUInt64LittleEndian(p);
        }
        Patch(f, 0);
    }

    /// <summary>The frame of flow 0.</summary>
    public ReadOnlySpan<byte> Template => _template;

    /// <summary>Flow <paramref name="flow"/>'s 8 bytes as <see cref="Patch"/> writes them: source address, IPv4
    /// checksum and UDP source port in wire order, read as a little-endian u64.</summary>
    public ulong PatchValue(int flow) => _patches[flow];

    /// <summary>Turns a copy of the template (in <paramref name="frame"/>) into flow <paramref name="flow"/>'s frame.</summary>
    public void Patch(Span<byte> frame, int flow)
    {
        ulong p = _patches[flow];
        BinaryPrimitives.WriteUInt32LittleEndian(frame[SrcIpOffset..], (uint)p);
        BinaryPrimitives.WriteUInt16LittleEndian(frame[IpChecksumOffset..], (ushort)(p >> 32));
        BinaryPrimitives.WriteUInt16LittleEndian(frame[UdpSrcPortOffset..], (ushort)(p >> 48));
    }

    /// <summary>The one's-complement checksum of an IPv4 header whose checksum field is zero.</summary>
    public static ushort Ipv4Checksum(ReadOnlySpan<byte> header)
    {
        uint sum = 0;
        for (int i = 0; i + 1 < header.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(header[i..]);
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }

    /// <summary>Parses "aa:bb:cc:dd:ee:ff".</summary>
    public static byte[] ParseMac(string text)
    {
        var parts = text.Split(':');
        if (parts.Length != 6) throw new FormatException($"not a MAC address: {text}");
        return Array.ConvertAll(parts, p => Convert.ToByte(p, 16));
    }

    /// <summary>Parses a dotted IPv4 address into a host-order integer.</summary>
    public static uint ParseIp(string text)
    {
        var a = System.Net.IPAddress.Parse(text).GetAddressBytes();
        if (a.Length != 4) throw new FormatException($"not an IPv4 address: {text}");
        return BinaryPrimitives.ReadUInt32BigEndian(a);
    }
}
