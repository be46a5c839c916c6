using System.Buffers.Binary;
using System.Net;
using Softswitch.Datapath.Flow;

namespace Softswitch.TestKit;

/// <summary>
/// IGMP (v1, v2, v3) and MLD (v1, v2) frames as hosts and routers send them, with correct checksums (IGMP with the
/// router alert option, MLD after a hop-by-hop header carrying it), and UDP datagrams to a group, for snooping tests.
/// </summary>
public static class McastFrames
{
    /// <summary>The Ethernet address of IPv4 group <paramref name="group"/> (01:00:5e and its low 23 bits).</summary>
    public static MacAddress GroupMac(string group)
    {
        uint ip = Ipv4(group);
        return new MacAddress(0x01_00_5E_00_00_00UL | (ip & 0x7F_FFFF));
    }

    /// <summary>The Ethernet address of IPv6 group <paramref name="group"/> (33:33 and its low 32 bits).</summary>
    public static MacAddress GroupMac6(string group)
    {
        var b = IPAddress.Parse(group).GetAddressBytes();
        return new MacAddress(0x33_33_00_00_00_00UL | BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(12)));
    }

    public static uint Ipv4(string ip) => BinaryPrimitives.ReadUInt32BigEndian(IPAddress.Parse(ip).GetAddressBytes());

    /// <summary>An IGMP message <paramref name="igmp"/> from <paramref name="srcIp"/> to <paramref name="dstIp"/>,
    /// its checksum filled in (unless <paramref name="badChecksum"/>), in an IPv4 packet with the router alert option.</summary>
    public static byte[] Igmp(MacAddress src, string srcIp, string dstIp, byte[] igmp, ushort? vlan = null, bool badChecksum = false, bool routerAlert = true)
    {
        var msg = (byte[])igmp.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(msg.AsSpan(2), 0);
        ushort sum = Checksum(msg, 0);
        BinaryPrimitives.WriteUInt16BigEndian(msg.AsSpan(2), badChecksum ? (ushort)(sum ^ 0x0101) : sum);
        int ihl = routerAlert ? 24 : 20;
        var ip = new byte[ihl + msg.Length];
        ip[0] = (byte)(0x40 | ihl / 4);
        ip[1] = 0xC0;
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), (ushort)ip.Length);
        ip[8] = 1;
        ip[9] = 2;
        BinaryPrimitives.WriteUInt32BigEndian(ip.AsSpan(12), Ipv4(srcIp));
        BinaryPrimitives.WriteUInt32BigEndian(ip.AsSpan(16), Ipv4(dstIp));
        if (routerAlert)
        {
            ip[20] = 0x94;
            ip[21] = 4;
        }
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), Checksum(ip.AsSpan(0, ihl), 0));
        msg.CopyTo(ip.AsSpan(ihl));
        return Ethernet(src, GroupMac(dstIp), 0x0800, ip, vlan);
    }

    private static byte[] V12(byte type, string group, byte maxResp = 0)
    {
        var m = new byte[8];
        m[0] = type;
        m[1] = maxResp;
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(4), Ipv4(group));
        return m;
    }

    public static byte[] IgmpV1Report(MacAddress src, string srcIp, string group, ushort? vlan = null) => Igmp(src, srcIp, group, V12(0x12, group), vlan);
    public static byte[] IgmpV2Report(MacAddress src, string srcIp, string group, ushort? vlan = null) => Igmp(src, srcIp, group, V12(0x16, group), vlan);
    public static byte[] IgmpLeave(MacAddress src, string srcIp, string group, ushort? vlan = null) => Igmp(src, srcIp, "224.0.0.2", V12(0x17, group), vlan);

    /// <summary>A general query (IGMPv2 form) from <paramref name="srcIp"/> (0.0.0.0: a snooping switch's own).</summary>
    public static byte[] IgmpQuery(MacAddress src, string srcIp, ushort? vlan = null) => Igmp(src, srcIp, "224.0.0.1", V12(0x11, "0.0.0.0", 100), vlan);

    /// <summary>An IGMPv3 report of <paramref name="records"/>: (type, group, sources).</summary>
    public static byte[] IgmpV3Report(MacAddress src, string srcIp, ushort? vlan, params (byte Type, string Group, string[] Sources)[] records)
    {
        var body = new List<byte> { 0x22, 0, 0, 0, 0, 0, (byte)(records.Length >> 8), (byte)records.Length };
        foreach (var (type, group, sources) in records)
        {
            body.AddRange([type, 0, (byte)(sources.Length >> 8), (byte)sources.Length]);
            body.AddRange(IPAddress.Parse(group).GetAddressBytes());
            foreach (var s in sources) body.AddRange(IPAddress.Parse(s).GetAddressBytes());
        }
        return Igmp(src, srcIp, "224.0.0.22", [.. body], vlan);
    }

    /// <summary>A UDP datagram to group <paramref name="group"/> (its group Ethernet address).</summary>
    public static byte[] UdpToGroup(MacAddress src, string srcIp, string group, ushort? vlan = null)
        => Datapath.Packets.FrameBuilder.Udp(src, GroupMac(group), Ipv4(srcIp), Ipv4(group), 5000, 5001, vlan: vlan);

    /// <summary>An ICMPv6 message (MLD) from <paramref name="srcIp"/> to <paramref name="dstIp"/> after a hop-by-hop
    /// header with the router alert option, its checksum filled in (unless <paramref name="badChecksum"/>).</summary>
    public static byte[] Mld(MacAddress src, string srcIp, string dstIp, byte[] icmp, ushort? vlan = null, bool badChecksum = false)
    {
        var msg = (byte[])icmp.Clone();
        byte[] s = IPAddress.Parse(srcIp).GetAddressBytes(), d = IPAddress.Parse(dstIp).GetAddressBytes();
        BinaryPrimitives.WriteUInt16BigEndian(msg.AsSpan(2), 0);
        var pseudo = new byte[40];
        s.CopyTo(pseudo, 0);
        d.CopyTo(pseudo, 16);
        BinaryPrimitives.WriteUInt32BigEndian(pseudo.AsSpan(32), (uint)msg.Length);
        pseudo[39] = 58;
        ushort sum = Fold(Sum(msg, Sum(pseudo, 0)));
        BinaryPrimitives.WriteUInt16BigEndian(msg.AsSpan(2), badChecksum ? (ushort)(sum ^ 0x0101) : sum);
        var ip = new byte[40 + 8 + msg.Length];
        ip[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(4), (ushort)(8 + msg.Length));
        ip[6] = 0;   // hop-by-hop
        ip[7] = 1;
        s.CopyTo(ip, 8);
        d.CopyTo(ip, 24);
        // Hop-by-hop: next header ICMPv6, length 0 (8 bytes), router alert (type 5, length 2, value 0: MLD), PadN 0.
        ip[40] = 58;
        ip[41] = 0;
        ip[42] = 5;
        ip[43] = 2;
        ip[46] = 1;
        ip[47] = 0;
        msg.CopyTo(ip, 48);
        return Ethernet(src, GroupMac6(dstIp), 0x86DD, ip, vlan);
    }

    private static byte[] MldV1(byte type, string group)
    {
        var m = new byte[24];
        m[0] = type;
        IPAddress.Parse(group).GetAddressBytes().CopyTo(m, 8);
        return m;
    }

    public static byte[] MldV1Report(MacAddress src, string srcIp, string group) => Mld(src, srcIp, group, MldV1(131, group));
    public static byte[] MldDone(MacAddress src, string srcIp, string group) => Mld(src, srcIp, "ff02::2", MldV1(132, group));
    public static byte[] MldQuery(MacAddress src, string srcIp) => Mld(src, srcIp, "ff02::1", MldV1(130, "::"));

    /// <summary>An MLDv2 report of <paramref name="records"/>: (type, group, sources).</summary>
    public static byte[] MldV2Report(MacAddress src, string srcIp, params (byte Type, string Group, string[] Sources)[] records)
    {
        var body = new List<byte> { 143, 0, 0, 0, 0, 0, (byte)(records.Length >> 8), (byte)records.Length };
        foreach (var (type, group, sources) in records)
        {
            body.AddRange([type, 0, (byte)(sources.Length >> 8), (byte)sources.Length]);
            body.AddRange(IPAddress.Parse(group).GetAddressBytes());
            foreach (var s in sources) body.AddRange(IPAddress.Parse(s).GetAddressBytes());
        }
        return Mld(src, srcIp, "ff02::16", [.. body]);
    }

    private static byte[] Ethernet(MacAddress src, MacAddress dst, ushort type, byte[] payload, ushort? vlan)
    {
        int l2 = vlan is null ? 14 : 18;
        var f = new byte[Math.Max(60, l2 + payload.Length)];
        dst.Write(f);
        src.Write(f.AsSpan(6));
        int off = 12;
        if (vlan is ushort v)
        {
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x8100);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), v);
            off = 16;
        }
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(off), type);
        payload.CopyTo(f, off + 2);
        return f;
    }

    private static ulong Sum(ReadOnlySpan<byte> data, ulong sum)
    {
        int i = 0;
        for (; i + 1 < data.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if (i < data.Length) sum += (uint)data[i] << 8;
        return sum;
    }

    private static ushort Fold(ulong sum)
    {
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }

    private static ushort Checksum(ReadOnlySpan<byte> data, ulong sum) => Fold(Sum(data, sum));
}
