using System.Buffers.Binary;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Packets;

/// <summary>
/// Builds well-formed Ethernet frames (optionally 802.1Q) carrying IPv4 UDP/TCP/ICMP or ARP, with correct
/// checksums. For tests, the benchmark's traffic and the demo's simulated hosts; not for the hot path.
/// </summary>
public static class FrameBuilder
{
    public static byte[] Udp(MacAddress src, MacAddress dst, uint ipSrc, uint ipDst, ushort sport, ushort dport,
                             int frameSize = 64, ushort? vlan = null, byte pcp = 0, byte tos = 0, int payloadSize = -1)
        => Ipv4Frame(src, dst, ipSrc, ipDst, PacketParser.ProtoUdp, sport, dport, frameSize, vlan, pcp, tos, payloadSize, 0, 0);

    public static byte[] Tcp(MacAddress src, MacAddress dst, uint ipSrc, uint ipDst, ushort sport, ushort dport,
                             int frameSize = 64, ushort? vlan = null, byte pcp = 0, byte tos = 0, int payloadSize = -1)
        => Ipv4Frame(src, dst, ipSrc, ipDst, PacketParser.ProtoTcp, sport, dport, frameSize, vlan, pcp, tos, payloadSize, 0, 0);

    public static byte[] IcmpEcho(MacAddress src, MacAddress dst, uint ipSrc, uint ipDst, bool reply, ushort id, ushort seq,
                                  int payloadSize = 56, ushort? vlan = null)
        => Ipv4Frame(src, dst, ipSrc, ipDst, PacketParser.ProtoIcmp, (ushort)(reply ? 0 : 8), 0, 0, vlan, 0, 0, payloadSize, id, seq);

    /// <summary>An Ethernet/IPv4 frame. For ICMP, <paramref name="sport"/> is the type and <paramref name="dport"/> the code.</summary>
    public static byte[] Ipv4Frame(MacAddress src, MacAddress dst, uint ipSrc, uint ipDst, byte proto, ushort sport, ushort dport,
                                   int frameSize, ushort? vlan, byte pcp, byte tos, int payloadSize, ushort icmpId, ushort icmpSeq)
    {
        int l2 = vlan is null ? 14 : 18;
        int l4Header = proto switch { PacketParser.ProtoTcp => 20, PacketParser.ProtoUdp => 8, _ => 8 };
        int payload = payloadSize >= 0 ? payloadSize : Math.Max(0, frameSize - l2 - 20 - l4Header);
        int ipLen = 20 + l4Header + payload;
        int total = Math.Max(l2 + ipLen, frameSize > 0 ? Math.Min(frameSize, 60) : 60);
        var f = new byte[total];
        dst.Write(f);
        src.Write(f.AsSpan(6));
        int off = 12;
        if (vlan is ushort v)
        {
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), PacketParser.EthTypeVlan);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), (ushort)((pcp << 13) | (v & 0x0FFF)));
            off = 16;
        }
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(off), PacketParser.EthTypeIpv4);
        int ip = off + 2;
        f[ip] = 0x45;
        f[ip + 1] = tos;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(ip + 2), (ushort)ipLen);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(ip + 4), 0x1234);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(ip + 6), 0x4000); // DF
        f[ip + 8] = 64;
        f[ip + 9] = proto;
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(ip + 12), ipSrc);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(ip + 16), ipDst);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(ip + 10), Checksum.Compute(f.AsSpan(ip, 20)));
        int l4 = ip + 20;
        for (int i = 0; i < payload; i++) f[l4 + l4Header + i] = (byte)i;
        switch (proto)
        {
            case PacketParser.ProtoUdp:
                BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l4), sport);
                BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l4 + 2), dport);
                BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l4 + 4), (ushort)(8 + payload));
                ushort uc = Checksum.ComputeL4(ipSrc, ipDst, proto, f.AsSpan(l4, 8 + payload));
                BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l4 + 6), uc == 0 ? (ushort)0xFFFF : uc);
                break;
            case PacketParser.ProtoTcp:
                BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l4), sport);
                BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l4 + 2), dport);
                BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(l4 + 4), 1);
                f[l4 + 12] = 0x50;
                f[l4 + 13] = 0x18; // PSH|ACK
                BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l4 + 14), 0xFFFF);
                BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l4 + 16), Checksum.ComputeL4(ipSrc, ipDst, proto, f.AsSpan(l4, 20 + payload)));
                break;
            default:
                f[l4] = (byte)sport;
                f[l4 + 1] = (byte)dport;
                BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l4 + 4), icmpId);
                BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l4 + 6), icmpSeq);
                BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l4 + 2), Checksum.Compute(f.AsSpan(l4, 8 + payload)));
                break;
        }
        return f;
    }

    /// <summary>An ARP request (op 1) or reply (op 2) frame.</summary>
    public static byte[] Arp(ushort op, MacAddress sha, uint spa, MacAddress tha, uint tpa, MacAddress? ethDst = null)
    {
        var f = new byte[60];
        (ethDst ?? (op == 1 ? MacAddress.Broadcast : tha)).Write(f);
        sha.Write(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), PacketParser.EthTypeArp);
        var a = f.AsSpan(14);
        BinaryPrimitives.WriteUInt16BigEndian(a, 1);
        BinaryPrimitives.WriteUInt16BigEndian(a[2..], PacketParser.EthTypeIpv4);
        a[4] = 6;
        a[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(a[6..], op);
        sha.Write(a[8..]);
        BinaryPrimitives.WriteUInt32BigEndian(a[14..], spa);
        tha.Write(a[18..]);
        BinaryPrimitives.WriteUInt32BigEndian(a[24..], tpa);
        return f;
    }
}
