using System.Buffers.Binary;

namespace Softswitch.Snooping;

/// <summary>The protocol a group was last reported by (Open vSwitch's enum mcast_group_proto; mdb/show prints it).</summary>
public enum McastProtocol : byte
{
    IgmpV1,
    IgmpV2,
    IgmpV3,
    MldV1,
    MldV2,
    /// <summary>A querier's entry (mdb/show prints UNKNOWN for it, as Open vSwitch does).</summary>
    Unknown,
}

/// <summary>What an IGMP or MLD message asks of snooping.</summary>
public enum McastMessageKind : byte
{
    /// <summary>A v1/v2 report (IGMP 0x12, 0x16; MLD 131): the port joins <see cref="McastMessage.GroupHigh"/>:<see cref="McastMessage.GroupLow"/>.</summary>
    Join,
    /// <summary>An IGMPv2 leave (0x17) or MLD done (132): the port leaves the group.</summary>
    Leave,
    /// <summary>A query (IGMP 0x11, MLD 130): a multicast router is on the port, unless sent from the unspecified address.</summary>
    Query,
    /// <summary>An IGMPv3 (0x22) or MLDv2 (143) report: its group records (<see cref="McastFrame.NextRecord"/>).</summary>
    Records,
    /// <summary>Another IGMP or ICMPv6 message: nothing for snooping.</summary>
    Other,
}

/// <summary>Why a frame was not read as an IGMP or MLD message.</summary>
public enum McastFrameError : byte
{
    None,
    /// <summary>Not an IPv4 IGMP nor an IPv6 ICMPv6 packet.</summary>
    NotIgmpOrMld,
    /// <summary>A header or the message shorter than it must be, or lengths that pass the frame's end.</summary>
    Truncated,
    /// <summary>The IGMP or ICMPv6 checksum does not hold.</summary>
    BadChecksum,
    /// <summary>A group address that is not multicast, or a record that passes the message's end.</summary>
    BadGroup,
}

/// <summary>An IGMP or MLD message read by <see cref="McastFrame.Read"/>: a view of the frame, nothing copied.</summary>
public readonly ref struct McastMessage
{
    public McastMessageKind Kind { get; init; }
    public McastProtocol Protocol { get; init; }
    public bool Ipv6 { get; init; }
    /// <summary>The group of a join or leave (IPv4 as its mapped IPv6 address), in two big-endian words.</summary>
    public ulong GroupHigh { get; init; }
    public ulong GroupLow { get; init; }
    /// <summary>A query sent from 0.0.0.0 or :: (a snooping switch's own, not a router's).</summary>
    public bool FromUnspecified { get; init; }
    /// <summary>The records of a v3/v2 report, checked to lie within the message.</summary>
    public ReadOnlySpan<byte> Records { get; init; }
    public int RecordCount { get; init; }
}

/// <summary>
/// Reads IGMP (v1, v2, v3; RFC 1112, 2236, 3376) and MLD (v1, v2; RFC 2710, 3810) messages out of Ethernet frames
/// (untagged or with one 802.1Q tag), as Open vSwitch's snooping reads them: the IGMP checksum over the message, the
/// ICMPv6 checksum over the pseudo-header and the message, IPv6 extension headers skipped (MLD comes after a hop-by-hop
/// header with its router alert). A frame that is cut short, whose checksum fails or whose records pass its end is
/// refused whole (<see cref="McastFrameError"/>): nothing is learned from part of it. Allocates nothing.
/// </summary>
public static class McastFrame
{
    /// <summary>A v3/v2 report's group record types (RFC 3376 4.2.12, shared by MLDv2).</summary>
    public const byte ModeIsInclude = 1, ModeIsExclude = 2, ChangeToInclude = 3, ChangeToExclude = 4, AllowNewSources = 5, BlockOldSources = 6;

    /*
     * IGMP v1/v2 (8 bytes)             IGMPv3 report (8 + records)          record (8 + 4*nsrcs + 4*aux)
     * +------+------+-----------+      +------+------+-----------+          +------+------+-----------+
     * | type | mrt  | checksum  |      | 0x22 | rsvd | checksum  |          | type | aux  |  nsrcs    |
     * +------+------+-----------+      +------+------+-----------+          +------+------+-----------+
     * |     group address       |      |  reserved   | n records |          |     group address       |
     * +-------------------------+      +-------------+-----------+          +- sources, aux data... --+
     *
     * MLDv1 (24 bytes)                 MLDv2 report (8 + records)           record (20 + 16*nsrcs + 4*aux)
     * | type | code | checksum  |      | 143  | rsvd | checksum  |          | type | aux  |  nsrcs    |
     * | max delay   | reserved  |      |  reserved   | n records |          | group address (16)      |
     * | group address (16)      |                                           | sources, aux data...    |
     */

    /// <summary>Reads the IGMP or MLD message of <paramref name="frame"/>; <see cref="McastFrameError.None"/> and the
    /// message, or why not.</summary>
    public static McastFrameError Read(ReadOnlySpan<byte> frame, out McastMessage message)
    {
        message = default;
        if (frame.Length < 14) return McastFrameError.Truncated;
        int off = 12;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[off..]);
        if (type == 0x8100)
        {
            if (frame.Length < 18) return McastFrameError.Truncated;
            off = 16;
            type = BinaryPrimitives.ReadUInt16BigEndian(frame[off..]);
        }
        off += 2;
        return type switch
        {
            0x0800 => ReadIgmp(frame[off..], out message),
            0x86DD => ReadMld(frame[off..], out message),
            _ => McastFrameError.NotIgmpOrMld,
        };
    }

    private static McastFrameError ReadIgmp(ReadOnlySpan<byte> ip, out McastMessage message)
    {
        message = default;
        if (ip.Length < 20) return McastFrameError.Truncated;
        int ihl = (ip[0] & 0x0F) * 4;
        if (ip[0] >> 4 != 4 || ip[9] != 2) return McastFrameError.NotIgmpOrMld;
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (ihl < 20 || total < ihl || total > ip.Length) return McastFrameError.Truncated;
        if ((BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x1FFF) != 0) return McastFrameError.NotIgmpOrMld;
        var igmp = ip[ihl..total];
        if (igmp.Length < 8) return McastFrameError.Truncated;
        if (Fold(Sum(igmp, 0)) != 0xFFFF) return McastFrameError.BadChecksum;
        bool fromUnspecified = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]) == 0;
        uint group = BinaryPrimitives.ReadUInt32BigEndian(igmp[4..]);
        switch (igmp[0])
        {
            case 0x12:
            case 0x16:
            case 0x17:
                if ((group & 0xF000_0000) != 0xE000_0000) return McastFrameError.BadGroup;
                message = new McastMessage
                {
                    Kind = igmp[0] == 0x17 ? McastMessageKind.Leave : McastMessageKind.Join,
                    Protocol = igmp[0] == 0x12 ? McastProtocol.IgmpV1 : McastProtocol.IgmpV2,
                    GroupLow = 0x0000_FFFF_0000_0000UL | group,
                };
                return McastFrameError.None;
            case 0x11:
                message = new McastMessage { Kind = McastMessageKind.Query, Protocol = McastProtocol.Unknown, FromUnspecified = fromUnspecified };
                return McastFrameError.None;
            case 0x22:
            {
                int count = BinaryPrimitives.ReadUInt16BigEndian(igmp[6..]);
                var records = igmp[8..];
                var error = CheckRecords(records, count, 8, 4);
                if (error != McastFrameError.None) return error;
                message = new McastMessage { Kind = McastMessageKind.Records, Protocol = McastProtocol.IgmpV3, Records = records, RecordCount = count };
                return McastFrameError.None;
            }
            default:
                message = new McastMessage { Kind = McastMessageKind.Other };
                return McastFrameError.None;
        }
    }

    private static McastFrameError ReadMld(ReadOnlySpan<byte> ip, out McastMessage message)
    {
        message = default;
        if (ip.Length < 40) return McastFrameError.Truncated;
        if (ip[0] >> 4 != 6) return McastFrameError.NotIgmpOrMld;
        int end = 40 + BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
        if (end > ip.Length) return McastFrameError.Truncated;
        int next = ip[6], at = 40;
        for (int headers = 0; next != 58; headers++)
        {
            if (headers == 8) return McastFrameError.NotIgmpOrMld;
            if (next is 0 or 43 or 60 or 51)
            {
                if (end < at + 8) return McastFrameError.Truncated;
                int size = next == 51 ? (ip[at + 1] + 2) * 4 : (ip[at + 1] + 1) * 8;
                next = ip[at];
                at += size;
            }
            else if (next == 44)
            {
                if (end < at + 8) return McastFrameError.Truncated;
                if ((BinaryPrimitives.ReadUInt16BigEndian(ip[(at + 2)..]) & 0xFFF8) != 0) return McastFrameError.NotIgmpOrMld;
                next = ip[at];
                at += 8;
            }
            else
            {
                return McastFrameError.NotIgmpOrMld;
            }
        }
        if (at + 4 > end) return McastFrameError.Truncated;
        var icmp = ip[at..end];
        // The ICMPv6 checksum covers a pseudo-header: both addresses, the upper-layer length and the next header (58).
        ulong sum = Sum(ip.Slice(8, 32), 0) + (uint)icmp.Length + 58;
        if (Fold(Sum(icmp, sum)) != 0xFFFF) return McastFrameError.BadChecksum;
        bool fromUnspecified = BinaryPrimitives.ReadUInt64BigEndian(ip[8..]) == 0 && BinaryPrimitives.ReadUInt64BigEndian(ip[16..]) == 0;
        switch (icmp[0])
        {
            case 130:
                if (icmp.Length < 24) return McastFrameError.Truncated;
                message = new McastMessage { Kind = McastMessageKind.Query, Protocol = McastProtocol.Unknown, Ipv6 = true, FromUnspecified = fromUnspecified };
                return McastFrameError.None;
            case 131:
            case 132:
            {
                if (icmp.Length < 24) return McastFrameError.Truncated;
                ulong high = BinaryPrimitives.ReadUInt64BigEndian(icmp[8..]), low = BinaryPrimitives.ReadUInt64BigEndian(icmp[16..]);
                if (high >> 56 != 0xFF) return McastFrameError.BadGroup;
                message = new McastMessage
                {
                    Kind = icmp[0] == 131 ? McastMessageKind.Join : McastMessageKind.Leave,
                    Protocol = McastProtocol.MldV1,
                    Ipv6 = true,
                    GroupHigh = high,
                    GroupLow = low,
                };
                return McastFrameError.None;
            }
            case 143:
            {
                if (icmp.Length < 8) return McastFrameError.Truncated;
                int count = BinaryPrimitives.ReadUInt16BigEndian(icmp[6..]);
                var records = icmp[8..];
                var error = CheckRecords(records, count, 20, 16);
                if (error != McastFrameError.None) return error;
                message = new McastMessage { Kind = McastMessageKind.Records, Protocol = McastProtocol.MldV2, Ipv6 = true, Records = records, RecordCount = count };
                return McastFrameError.None;
            }
            default:
                message = new McastMessage { Kind = McastMessageKind.Other, Ipv6 = true };
                return McastFrameError.None;
        }
    }

    /// <summary>Whether <paramref name="count"/> records of <paramref name="header"/> bytes plus their sources of
    /// <paramref name="source"/> bytes and aux data lie within <paramref name="records"/>, each for a multicast group.</summary>
    private static McastFrameError CheckRecords(ReadOnlySpan<byte> records, int count, int header, int source)
    {
        for (int i = 0; i < count; i++)
        {
            if (records.Length < header) return McastFrameError.Truncated;
            int size = header + BinaryPrimitives.ReadUInt16BigEndian(records[2..]) * source + records[1] * 4;
            if (records.Length < size) return McastFrameError.Truncated;
            bool multicast = source == 4 ? (records[4] & 0xF0) == 0xE0 : records[4] == 0xFF;
            if (!multicast) return McastFrameError.BadGroup;
            records = records[size..];
        }
        return McastFrameError.None;
    }

    /// <summary>
    /// The next group record of a v3/v2 report (<see cref="McastMessage.Records"/>, checked by <see cref="Read"/>):
    /// its type, its number of sources and its group; <paramref name="records"/> moves past it.
    /// </summary>
    public static void NextRecord(ref ReadOnlySpan<byte> records, bool ipv6, out byte type, out int sources, out ulong groupHigh, out ulong groupLow)
    {
        type = records[0];
        sources = BinaryPrimitives.ReadUInt16BigEndian(records[2..]);
        int header = ipv6 ? 20 : 8;
        if (ipv6)
        {
            groupHigh = BinaryPrimitives.ReadUInt64BigEndian(records[4..]);
            groupLow = BinaryPrimitives.ReadUInt64BigEndian(records[12..]);
        }
        else
        {
            groupHigh = 0;
            groupLow = 0x0000_FFFF_0000_0000UL | BinaryPrimitives.ReadUInt32BigEndian(records[4..]);
        }
        records = records[(header + sources * (ipv6 ? 16 : 4) + records[1] * 4)..];
    }

    /// <summary>The one's-complement sum of <paramref name="data"/> (16-bit big-endian words, an odd last byte padded)
    /// added to <paramref name="sum"/>, not yet folded.</summary>
    public static ulong Sum(ReadOnlySpan<byte> data, ulong sum)
    {
        int i = 0;
        for (; i + 1 < data.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if (i < data.Length) sum += (uint)data[i] << 8;
        return sum;
    }

    /// <summary>A sum folded to 16 bits (0xFFFF when the checksum it covers holds).</summary>
    public static ushort Fold(ulong sum)
    {
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }
}
