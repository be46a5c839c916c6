using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Ofproto;

namespace Softswitch.TestKit;

/// <summary>
/// Frames and OpenFlow 1.0 style matches from readable fields (MACs and IPv4 addresses as text, prefixes as CIDR), for
/// tests that drive a datapath with flows the way a controller would.
/// </summary>
public static class FlowFrames
{
    /// <summary>Three hosts' MACs: 00:00:00:00:00:01, :02 and :03.</summary>
    public static readonly MacAddress H1 = Mac("00:00:00:00:00:01"), H2 = Mac("00:00:00:00:00:02"), H3 = Mac("00:00:00:00:00:03");

    public static MacAddress Mac(string s) => MacAddress.Parse(s);
    public static uint Ip(string s) => Ipv4.Parse(s);

    public static byte[] Udp(string src, string dst, string ipSrc, string ipDst, ushort sport = 1000, ushort dport = 2000, ushort? vlan = null)
        => Udp(Mac(src), Mac(dst), ipSrc, ipDst, sport, dport, vlan);

    /// <summary>A 64-byte UDP frame.</summary>
    public static byte[] Udp(MacAddress src, MacAddress dst, string ipSrc, string ipDst, ushort sport = 1000, ushort dport = 2000, ushort? vlan = null)
        => FrameBuilder.Udp(src, dst, Ip(ipSrc), Ip(ipDst), sport, dport, 64, vlan);

    /// <summary><paramref name="inner"/> behind one MPLS label (100, bottom of stack, TTL 64): its Ethernet addresses, the
    /// unicast MPLS ethertype, the label, then its payload after the ethertype.</summary>
    public static byte[] MplsLabelled(byte[] inner)
    {
        var f = new byte[inner.Length + 4];
        inner.AsSpan(0, 12).CopyTo(f);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), PacketParser.EthTypeMpls);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(14), (100u << 12) | 0x100 | 64);
        inner.AsSpan(14).CopyTo(f.AsSpan(18));
        return f;
    }

    /// <summary>The OF1.0 match of <paramref name="frame"/> arriving on <paramref name="inPort"/>, with <paramref name="w"/> wildcarded.</summary>
    public static FlowMatch MatchOf(byte[] frame, ushort inPort, OfWildcards w)
    {
        PacketParser.Parse(frame, inPort, out var key, out _);
        return FlowMatch.FromOpenFlow(w | OfWildcards.TunIdExt, key);
    }

    /// <summary>A match from OF1.0 fields (host order), the rest wildcarded, like a controller's flow-mod.</summary>
    public static FlowMatch Match(ushort? inPort = null, ushort? dlType = null, string? dlSrc = null, string? dlDst = null,
        string? nwSrc = null, string? nwDst = null, byte? nwProto = null, ushort? tpSrc = null, ushort? tpDst = null,
        ushort? dlVlan = null, byte? pcp = null, byte? tos = null)
    {
        var b = new FlowKeyBuilder();
        var w = OfWildcards.All | OfWildcards.TunIdExt;
        if (inPort is { } ip) { b.InPort(ip); w &= ~OfWildcards.InPort; }
        if (dlType is { } t) { b.DlType(t); w &= ~OfWildcards.DlType; }
        if (dlSrc is not null) { b.DlSrc(Mac(dlSrc)); w &= ~OfWildcards.DlSrc; }
        if (dlDst is not null) { b.DlDst(Mac(dlDst)); w &= ~OfWildcards.DlDst; }
        if (nwProto is { } pr) { b.NwProto(pr); w &= ~OfWildcards.NwProto; }
        if (tpSrc is { } ts) { b.TpSrc(ts); w &= ~OfWildcards.TpSrc; }
        if (tpDst is { } td) { b.TpDst(td); w &= ~OfWildcards.TpDst; }
        if (dlVlan is { } v) { b.DlVlan(v); w &= ~OfWildcards.DlVlan; }
        if (pcp is { } pc) { b.DlVlanPcp(pc); w &= ~OfWildcards.DlVlanPcp; }
        if (tos is { } to) { b.NwTos(to); w &= ~OfWildcards.NwTos; }
        w = Prefix(w, nwSrc, OfWildcards.NwSrcMask, (int)OfWildcards.NwSrcShift, ip => b.NwSrc(ip));
        w = Prefix(w, nwDst, OfWildcards.NwDstMask, (int)OfWildcards.NwDstShift, ip => b.NwDst(ip));
        return FlowMatch.FromOpenFlow(w, b.Key);
    }

    private static OfWildcards Prefix(OfWildcards w, string? cidr, OfWildcards field, int shift, Action<uint> set)
    {
        if (cidr is null) return w;
        var parts = cidr.Split('/');
        set(Ip(parts[0]));
        int len = parts.Length > 1 ? int.Parse(parts[1]) : 32;
        return (OfWildcards)(((uint)w & ~(uint)field) | ((uint)(32 - len) << shift));
    }

    public static string Hex(ReadOnlySpan<byte> b) => Convert.ToHexString(b);

    /// <summary>An IPv6 address as text, as a number (first byte most significant).</summary>
    public static UInt128 Ip6(string s) => System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(System.Net.IPAddress.Parse(s).GetAddressBytes());

    /// <summary>
    /// An IPv6 frame (02:..:01 to 02:..:02): Ethernet (one tag when <paramref name="vlan"/> is given), the fixed header
    /// with <paramref name="tc"/>, hop limit 64 and the addresses, an 8-byte hop-by-hop header when
    /// <paramref name="hopByHop"/>, then an L4 header of <paramref name="proto"/> with <paramref name="a"/>/<paramref name="b"/>
    /// as ports (or ICMPv6 type and code) and a payload. Checksums are not filled in.
    /// </summary>
    public static byte[] Ipv6Frame(byte proto, ushort a, ushort b, ushort? vlan = null, byte tc = 0, bool hopByHop = false,
                                   string src = "2001:db8::1", string dst = "2001:db8::2")
    {
        int l4 = proto == 6 ? 20 : 8, ext = hopByHop ? 8 : 0, payload = 24;
        var f = new List<byte>();
        f.AddRange(Convert.FromHexString("020000000002020000000001"));
        if (vlan is { } v) f.AddRange([0x81, 0x00, (byte)(0x40 | v >> 8), (byte)v]);
        f.AddRange([0x86, 0xDD, (byte)(0x60 | tc >> 4), (byte)(tc << 4 | 0x1), 0x23, 0x45]);
        int plen = ext + l4 + payload;
        f.AddRange([(byte)(plen >> 8), (byte)plen, hopByHop ? (byte)0 : proto, 64]);
        f.AddRange(System.Net.IPAddress.Parse(src).GetAddressBytes());
        f.AddRange(System.Net.IPAddress.Parse(dst).GetAddressBytes());
        if (hopByHop) f.AddRange([proto, 0, 1, 4, 0, 0, 0, 0]);
        var h = new byte[l4];
        h[0] = (byte)(a >> 8); h[1] = (byte)a; h[2] = (byte)(b >> 8); h[3] = (byte)b;
        if (proto == 58) { h[0] = (byte)a; h[1] = (byte)b; h[2] = 0x12; h[3] = 0x34; }
        if (proto == 17) { h[4] = 0; h[5] = (byte)(8 + payload); h[6] = 0xab; h[7] = 0xcd; }
        if (proto == 6) { h[12] = 0x50; h[13] = 0x18; }
        f.AddRange(h);
        for (int i = 0; i < payload; i++) f.Add((byte)i);
        return [.. f];
    }

    /// <summary>The exact match of <paramref name="frame"/> (an IPv6 frame) on <paramref name="inPort"/> with both IPv6 addresses matched too.</summary>
    public static FlowMatch MatchWithIpv6Addresses(byte[] frame, ushort inPort)
    {
        PacketParser.Parse(frame, inPort, out var key, out _);
        return new FlowMatch(new FlowKeyBuilder(FlowMatch.ExactMaskNoTun).Ipv6Src(UInt128.MaxValue).Ipv6Dst(UInt128.MaxValue).Key, key);
    }
}
