using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Softswitch.Datapath.Packets;

/// <summary>Why a GSO super-frame could not be segmented (the frame is dropped and counted).</summary>
public enum GsoRefusal : byte
{
    None,
    /// <summary>UFO (GSO_UDP) or a type this code does not know.</summary>
    UnsupportedType,
    /// <summary>Not Ethernet + (VLAN) + IPv4/IPv6 + TCP/UDP as the GSO type says, IPv6 extension headers, or lengths that disagree.</summary>
    BadHeaders,
    /// <summary>gso_size 0, or a segment that would not fit the destination buffer.</summary>
    BadSize,
}

/// <summary>
/// Software versions of the two offloads a kernel sender may leave to "hardware": completing a partial L4 checksum and
/// segmenting a TCP/UDP GSO super-frame into MSS-sized frames (what the kernel's skb_checksum_help and
/// skb_segment do for a device without those features).
/// </summary>
/// <remarks>
/// Segmentation keeps the super-frame's headers (Ethernet, up to two VLAN tags, IPv4 or IPv6 without extension
/// headers, TCP or UDP) and, per segment: IPv4 total length, ID (the first segment keeps the super-frame's ID, each
/// next one adds one) and header checksum; IPv6 payload length; TCP sequence number (advanced by the payload before
/// it), FIN and PSH on the last segment only, CWR on the first only; UDP length; and a full TCP/UDP checksum.
/// Stateless apart from the caller's <see cref="Cursor"/>; allocation-free; thread-safe.
/// </remarks>
public static class SoftwareOffload
{
    /// <summary>
    /// Completes a CHECKSUM_PARTIAL frame: the 16-bit field at <paramref name="csumStart"/> + <paramref name="csumOffset"/>
    /// holds the pseudo-header sum; the checksum covers everything from <paramref name="csumStart"/> to the end.
    /// False (frame untouched) when the offsets do not fit the frame.
    /// </summary>
    public static bool CompleteChecksum(Span<byte> frame, int csumStart, int csumOffset)
    {
        int field = csumStart + csumOffset;
        if ((uint)csumStart >= (uint)frame.Length || csumOffset < 0 || field + 2 > frame.Length) return false;
        ushort c = (ushort)~Checksum.Sum(frame[csumStart..]);
        if (c == 0) c = 0xFFFF;   // as the kernel's skb_checksum_help (CSUM_MANGLED_0)
        BinaryPrimitives.WriteUInt16BigEndian(frame[field..], c);
        return true;
    }

    /// <summary>
    /// Fills the TCP or UDP checksum of a frame that arrived without the kernel's checksum state (an AF_XDP socket
    /// gets none) when its field holds what Linux leaves there for the device in a CHECKSUM_PARTIAL frame: the folded
    /// pseudo-header sum of the addresses, protocol and L4 length, not complemented. This is the XDP flow program's
    /// test (docs/xdp-offload.md, "Unfilled checksums"), so a flow forwarded in software delivers what the same flow
    /// forwarded in the kernel does. A frame whose intact checksum happens to equal that sum gets the same value
    /// computed again; a UDP checksum of 0 never equals it. Frames: Ethernet, up to two VLAN tags, IPv4 (options
    /// allowed, not a fragment) or IPv6 with TCP or UDP right after its fixed header, lengths within the frame (any
    /// Ethernet padding after the IP length is left out of the sum). True when the field was filled.
    /// </summary>
    public static bool FillIfPartial(Span<byte> frame)
    {
        if (!L3Of(frame, out int l3, out ushort ethType)) return false;
        int l4, l4Length;
        byte proto;
        ushort pseudo;
        if (ethType == 0x0800)
        {
            if (frame.Length < l3 + 20 || (frame[l3] >> 4) != 4) return false;
            int ihl = (frame[l3] & 0x0F) * 4;
            int total = BinaryPrimitives.ReadUInt16BigEndian(frame[(l3 + 2)..]);
            if (ihl < 20 || total < ihl || l3 + total > frame.Length) return false;
            if ((BinaryPrimitives.ReadUInt16BigEndian(frame[(l3 + 6)..]) & 0x3FFF) != 0) return false;   // MF or an offset: a fragment
            proto = frame[l3 + 9];
            l4 = l3 + ihl;
            l4Length = total - ihl;
            if (proto is not (6 or 17)) return false;
            pseudo = Checksum.PseudoHeaderSum(BinaryPrimitives.ReadUInt32BigEndian(frame[(l3 + 12)..]),
                BinaryPrimitives.ReadUInt32BigEndian(frame[(l3 + 16)..]), proto, (ushort)l4Length);
        }
        else if (ethType == 0x86DD)
        {
            if (frame.Length < l3 + 40 || (frame[l3] >> 4) != 6) return false;
            proto = frame[l3 + 6];
            l4 = l3 + 40;
            l4Length = BinaryPrimitives.ReadUInt16BigEndian(frame[(l3 + 4)..]);
            if (proto is not (6 or 17) || l4 + l4Length > frame.Length) return false;
            pseudo = PseudoHeaderSumV6(frame.Slice(l3 + 8, 32), proto, l4Length);
        }
        else
        {
            return false;
        }
        int field = proto == 6 ? 16 : 6;
        if (l4Length < (proto == 6 ? 20 : 8) || BinaryPrimitives.ReadUInt16BigEndian(frame[(l4 + field)..]) != pseudo) return false;
        return CompleteChecksum(frame[..(l4 + l4Length)], l4, field);
    }

    /// <summary>Where a frame's L3 header starts, past Ethernet and up to two VLAN tags, and its ethertype (false: the frame
    /// ends before them).</summary>
    private static bool L3Of(ReadOnlySpan<byte> frame, out int l3, out ushort ethType)
    {
        l3 = 0;
        ethType = 0;
        int off = 12;
        if (frame.Length < 14) return false;
        ethType = BinaryPrimitives.ReadUInt16BigEndian(frame[off..]);
        for (int tags = 0; (ethType == 0x8100 || ethType == 0x88A8) && tags < 2; tags++)
        {
            off += 4;
            if (frame.Length < off + 2) return false;
            ethType = BinaryPrimitives.ReadUInt16BigEndian(frame[off..]);
        }
        l3 = off + 2;
        return true;
    }

    /// <summary>
    /// Makes a frame that keeps its partial checksum coherent again after header rewrites, before it is handed on
    /// whole: writes the pseudo-header sum of the current addresses and L4 length into the checksum field (rewrites
    /// adjusted it incrementally, as for a complete checksum, which a partial one is not) and sets
    /// <see cref="OffloadInfo.HdrLen"/>. False when the frame no longer matches its offload request (the L4 header moved,
    /// a protocol or IP version the GSO type does not allow, lengths that disagree): the caller segments it instead.
    /// </summary>
    public static bool RefreshPartial(Span<byte> frame, ref OffloadInfo o)
    {
        int start = o.CsumStart;
        if (start == 0 || !L3Of(frame, out int l3, out ushort ethType)) return false;
        bool tcp = o.CsumOffset == 16;
        if (!tcp && o.CsumOffset != 6) return false;
        byte type = (byte)(o.GsoType & ~OffloadInfo.GsoEcn);
        int l4Length = frame.Length - start;
        int hdr = start + (tcp ? 20 : 8);
        if (l4Length < hdr - start) return false;
        if (tcp)
        {
            int doff = (frame[start + 12] >> 4) * 4;
            if (doff < 20 || l4Length < doff) return false;
            hdr = start + doff;
        }
        ushort pseudo;
        if (ethType == 0x0800)
        {
            if (type == OffloadInfo.GsoTcpV6 || frame.Length < l3 + 20 || (frame[l3] >> 4) != 4) return false;
            int ihl = (frame[l3] & 0x0F) * 4;
            if (l3 + ihl != start || BinaryPrimitives.ReadUInt16BigEndian(frame[(l3 + 2)..]) != frame.Length - l3) return false;
            if (frame[l3 + 9] != (tcp ? 6 : 17)) return false;
            pseudo = Checksum.PseudoHeaderSum(BinaryPrimitives.ReadUInt32BigEndian(frame[(l3 + 12)..]),
                BinaryPrimitives.ReadUInt32BigEndian(frame[(l3 + 16)..]), tcp ? (byte)6 : (byte)17, (ushort)l4Length);
        }
        else if (ethType == 0x86DD)
        {
            if (type == OffloadInfo.GsoTcpV4 || l3 + 40 != start || (frame[l3] >> 4) != 6) return false;
            if (BinaryPrimitives.ReadUInt16BigEndian(frame[(l3 + 4)..]) != l4Length || frame[l3 + 6] != (tcp ? 6 : 17)) return false;
            pseudo = PseudoHeaderSumV6(frame.Slice(l3 + 8, 32), tcp ? (byte)6 : (byte)17, l4Length);
        }
        else
        {
            return false;
        }

        if (type is OffloadInfo.GsoTcpV4 or OffloadInfo.GsoTcpV6 ? !tcp : type == OffloadInfo.GsoUdpL4 && tcp) return false;
        BinaryPrimitives.WriteUInt16BigEndian(frame[(start + o.CsumOffset)..], pseudo);
        o.HdrLen = (ushort)hdr;
        return true;
    }

    /// <summary>
    /// The packets a frame owing <paramref name="o"/> makes on the wire: for a GSO super-frame its segment count, with
    /// <paramref name="length"/> (its length on entry) made the segments' bytes (each repeats the headers); 1 and the
    /// length unchanged for anything else, a super-frame whose headers segmentation would refuse included.
    /// </summary>
    public static int WireSize(ReadOnlySpan<byte> frame, in OffloadInfo o, ref int length)
    {
        if (!o.IsGso || Start(frame, o.GsoType, o.GsoSize, out var c) != GsoRefusal.None) return 1;
        int segments = c.SegmentCount;
        length += (segments - 1) * c.HeaderLength;
        return segments;
    }

    /// <summary>
    /// Cuts a super-frame after its first <paramref name="segments"/> segments (fewer than it has), as if the rest had
    /// been dropped one by one: the IPv4 total length and header checksum, the IPv6 payload length or the UDP length
    /// follow, and TCP's FIN and PSH go with the tail (they belong to the last segment). Returns the new length, or -1
    /// (frame untouched) when segmentation would refuse the frame or it has no more than <paramref name="segments"/>.
    /// The partial checksum is refreshed when the frame is handed on (<see cref="RefreshPartial"/>); a segmented one gets
    /// full checksums.
    /// </summary>
    public static int Cut(Span<byte> frame, in OffloadInfo o, int segments)
    {
        if (segments <= 0 || !o.IsGso || Start(frame, o.GsoType, o.GsoSize, out var c) != GsoRefusal.None || segments >= c.SegmentCount) return -1;
        int len = c.HeaderLength + segments * c.Mss;
        int l3 = c.L3Offset, l4 = c.L4Offset;
        if (c.V6)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame[(l3 + 4)..], (ushort)(len - l3 - 40));
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame[(l3 + 2)..], (ushort)(len - l3));
            frame[l3 + 10] = 0;
            frame[l3 + 11] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(frame[(l3 + 10)..], Checksum.Compute(frame.Slice(l3, l4 - l3)));
        }
        if (c.Tcp) frame[l4 + 13] &= unchecked((byte)~0x09);
        else BinaryPrimitives.WriteUInt16BigEndian(frame[(l4 + 4)..], (ushort)(len - l4));
        return len;
    }

    /// <summary>
    /// The segment count of a frame owing <paramref name="o"/> with its header and segment sizes (see
    /// <see cref="WireSize"/>): 1, <paramref name="headerLength"/> 0 and <paramref name="mss"/> the frame's length for
    /// anything segmentation would refuse.
    /// </summary>
    public static int Segments(ReadOnlySpan<byte> frame, in OffloadInfo o, out int headerLength, out int mss)
    {
        if (!o.IsGso || Start(frame, o.GsoType, o.GsoSize, out var c) != GsoRefusal.None)
        {
            headerLength = 0;
            mss = frame.Length;
            return 1;
        }
        headerLength = c.HeaderLength;
        mss = c.Mss;
        return c.SegmentCount;
    }

    /// <summary>Where segmentation of one super-frame stands.</summary>
    public struct Cursor
    {
        internal int FrameLength, HeaderLength, L3Offset, L4Offset, Mss, NextOffset, Index;
        internal bool V6, Tcp;
        internal ushort IpId;
        internal uint Seq;
        internal byte TcpFlags;

        /// <summary>True while segments remain.</summary>
        public readonly bool Active => NextOffset < FrameLength && Mss > 0;
        /// <summary>Segments this super-frame makes.</summary>
        public readonly int SegmentCount => Mss <= 0 ? 0 : (FrameLength - HeaderLength + Mss - 1) / Mss;
        /// <summary>Bytes of the largest segment.</summary>
        public readonly int MaxSegmentLength => HeaderLength + Mss;
        public void Clear() => this = default;
    }

    /// <summary>Parses a super-frame and prepares <paramref name="c"/> to cut it into <paramref name="gsoSize"/>-byte payloads.</summary>
    public static GsoRefusal Start(ReadOnlySpan<byte> frame, byte gsoType, int gsoSize, out Cursor c)
    {
        c = default;
        byte type = (byte)(gsoType & ~OffloadInfo.GsoEcn);
        bool tcp;
        bool v6;
        switch (type)
        {
            case OffloadInfo.GsoTcpV4: tcp = true; v6 = false; break;
            case OffloadInfo.GsoTcpV6: tcp = true; v6 = true; break;
            case OffloadInfo.GsoUdpL4: tcp = false; v6 = false; break;   // the IP version comes from the frame
            default: return GsoRefusal.UnsupportedType;
        }
        if (gsoSize <= 0) return GsoRefusal.BadSize;
        if (frame.Length < 14) return GsoRefusal.BadHeaders;
        int off = 12;
        ushort ethType = BinaryPrimitives.ReadUInt16BigEndian(frame[off..]);
        for (int tags = 0; (ethType == 0x8100 || ethType == 0x88A8) && tags < 2; tags++)
        {
            off += 4;
            if (frame.Length < off + 2) return GsoRefusal.BadHeaders;
            ethType = BinaryPrimitives.ReadUInt16BigEndian(frame[off..]);
        }
        int l3 = off + 2;
        int l4;
        byte proto;
        if (ethType == 0x0800)
        {
            if (v6 && tcp) return GsoRefusal.BadHeaders;
            if (frame.Length < l3 + 20 || (frame[l3] >> 4) != 4) return GsoRefusal.BadHeaders;
            int ihl = (frame[l3] & 0x0F) * 4;
            if (ihl < 20 || frame.Length < l3 + ihl) return GsoRefusal.BadHeaders;
            int total = BinaryPrimitives.ReadUInt16BigEndian(frame[(l3 + 2)..]);
            if (l3 + total != frame.Length) return GsoRefusal.BadHeaders;
            if ((BinaryPrimitives.ReadUInt16BigEndian(frame[(l3 + 6)..]) & 0x3FFF) != 0) return GsoRefusal.BadHeaders; // a fragment
            proto = frame[l3 + 9];
            l4 = l3 + ihl;
            v6 = false;
            c.IpId = BinaryPrimitives.ReadUInt16BigEndian(frame[(l3 + 4)..]);
        }
        else if (ethType == 0x86DD)
        {
            if (!v6 && tcp) return GsoRefusal.BadHeaders;
            if (frame.Length < l3 + 40 || (frame[l3] >> 4) != 6) return GsoRefusal.BadHeaders;
            int payload = BinaryPrimitives.ReadUInt16BigEndian(frame[(l3 + 4)..]);
            if (l3 + 40 + payload != frame.Length) return GsoRefusal.BadHeaders;
            proto = frame[l3 + 6];   // extension headers are not segmented here
            l4 = l3 + 40;
            v6 = true;
        }
        else
        {
            return GsoRefusal.BadHeaders;
        }

        int hdr;
        if (tcp)
        {
            if (proto != 6 || frame.Length < l4 + 20) return GsoRefusal.BadHeaders;
            int doff = (frame[l4 + 12] >> 4) * 4;
            if (doff < 20 || frame.Length < l4 + doff) return GsoRefusal.BadHeaders;
            hdr = l4 + doff;
            c.Seq = BinaryPrimitives.ReadUInt32BigEndian(frame[(l4 + 4)..]);
            c.TcpFlags = frame[l4 + 13];
        }
        else
        {
            if (proto != 17 || frame.Length < l4 + 8) return GsoRefusal.BadHeaders;
            hdr = l4 + 8;
        }
        if (hdr >= frame.Length) return GsoRefusal.BadHeaders;
        c.FrameLength = frame.Length;
        c.HeaderLength = hdr;
        c.L3Offset = l3;
        c.L4Offset = l4;
        c.Mss = gsoSize;
        c.NextOffset = hdr;
        c.V6 = v6;
        c.Tcp = tcp;
        return GsoRefusal.None;
    }

    /// <summary>
    /// Writes the next segment of <paramref name="frame"/> into <paramref name="dst"/> and returns its length (0 when
    /// none remain, -1 when <paramref name="dst"/> is too small).
    /// </summary>
    [SkipLocalsInit]
    public static int Next(ReadOnlySpan<byte> frame, ref Cursor c, Span<byte> dst)
    {
        if (!c.Active) return 0;
        int hdr = c.HeaderLength;
        int chunk = Math.Min(c.Mss, c.FrameLength - c.NextOffset);
        int len = hdr + chunk;
        if (len > dst.Length) return -1;
        frame[..hdr].CopyTo(dst);
        frame.Slice(c.NextOffset, chunk).CopyTo(dst[hdr..]);
        bool first = c.Index == 0;
        bool last = c.NextOffset + chunk >= c.FrameLength;
        int l3 = c.L3Offset, l4 = c.L4Offset;
        int l4Length = len - l4;

        if (c.V6)
        {
            BinaryPrimitives.WriteUInt16BigEndian(dst[(l3 + 4)..], (ushort)(len - l3 - 40));
        }
        else
        {
            int ihl = l4 - l3;
            BinaryPrimitives.WriteUInt16BigEndian(dst[(l3 + 2)..], (ushort)(len - l3));
            BinaryPrimitives.WriteUInt16BigEndian(dst[(l3 + 4)..], (ushort)(c.IpId + c.Index));
            dst[l3 + 10] = 0;
            dst[l3 + 11] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(dst[(l3 + 10)..], Checksum.Compute(dst.Slice(l3, ihl)));
        }

        int csumField;
        if (c.Tcp)
        {
            BinaryPrimitives.WriteUInt32BigEndian(dst[(l4 + 4)..], c.Seq + (uint)(c.NextOffset - hdr));
            byte flags = c.TcpFlags;
            if (!last) flags &= unchecked((byte)~0x09);   // FIN, PSH only on the last segment
            if (!first) flags &= unchecked((byte)~0x80);  // CWR only on the first
            dst[l4 + 13] = flags;
            csumField = l4 + 16;
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(dst[(l4 + 4)..], (ushort)l4Length);
            csumField = l4 + 6;
        }
        dst[csumField] = 0;
        dst[csumField + 1] = 0;
        ushort pseudo = c.V6
            ? PseudoHeaderSumV6(dst.Slice(l3 + 8, 32), c.Tcp ? (byte)6 : (byte)17, l4Length)
            : Checksum.PseudoHeaderSum(BinaryPrimitives.ReadUInt32BigEndian(dst[(l3 + 12)..]), BinaryPrimitives.ReadUInt32BigEndian(dst[(l3 + 16)..]),
                c.Tcp ? (byte)6 : (byte)17, (ushort)l4Length);
        ushort l4csum = (ushort)~Checksum.Add(pseudo, Checksum.Sum(dst.Slice(l4, l4Length)));
        if (!c.Tcp && l4csum == 0) l4csum = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(dst[csumField..], l4csum);

        c.NextOffset += chunk;
        c.Index++;
        return len;
    }

    /// <summary>Sum of the IPv6 pseudo-header (RFC 8200 8.1): addresses (32 bytes), upper-layer length, next header.</summary>
    public static ushort PseudoHeaderSumV6(ReadOnlySpan<byte> addresses, byte nextHeader, int length)
        => Checksum.Add(Checksum.Sum(addresses), Checksum.Fold((ulong)(uint)length + nextHeader));
}
