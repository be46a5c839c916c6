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
}
