using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.OfWire;

namespace Softswitch.OfAgent.Translate;

/// <summary>
/// ofp_match ↔ <see cref="FlowMatch"/>. Wildcards and in_port map through <see cref="WireMap"/>, and plain
/// OF1.0 matches leave the tunnel id out (<see cref="Wildcards.TunIdExt"/>). Matches are normalised on the way in
/// (<see cref="Normalize"/>), so flow stats and flow-removed report what the flow really matches.
/// </summary>
public static class MatchTranslator
{
    public static FlowMatch ToFlowMatch(in OfpMatch m)
    {
        var fields = new FlowKeyBuilder()
            .InPort(WireMap.ToDatapathPort(m.InPort))
            .DlSrc(new MacAddress(m.DlSrc.Value))
            .DlDst(new MacAddress(m.DlDst.Value))
            .DlVlan(m.DlVlan)
            .DlVlanPcp(m.DlVlanPcp)
            .DlType(m.DlType)
            .NwTos(m.NwTos)
            .NwProto(m.NwProto)
            .NwSrc(m.NwSrc)
            .NwDst(m.NwDst)
            .TpSrc(m.TpSrc)
            .TpDst(m.TpDst)
            .Key;
        var w = Normalize(WireMap.ToDatapath(m.Wildcards), m.DlType, m.NwProto) | Wildcards.TunIdExt;
        return FlowMatch.FromOpenFlow(w, fields);
    }

    /// <summary>
    /// OF1.0.1 section 3.4 (as Open vSwitch's ofputil_normalize_match): fields that do not apply to the match's
    /// dl_type are wildcarded whatever their value on the wire. nw_src, nw_dst and nw_proto apply to IPv4 and ARP,
    /// nw_tos to IPv4 only; tp_src and tp_dst to IPv4 with nw_proto TCP, UDP or ICMP. With dl_type wildcarded none
    /// of them applies. Otherwise a controller that leaves such fields zero (and not wildcarded) would get a flow
    /// that matches nw_src=0.0.0.0 exactly, which no packet does.
    /// </summary>
    public static Wildcards Normalize(Wildcards w, ushort dlType, byte nwProto)
    {
        bool typed = (w & Wildcards.DlType) == 0;
        bool ip = typed && dlType == PacketParser.EthTypeIpv4, arp = typed && dlType == PacketParser.EthTypeArp;
        if (!ip) w |= Wildcards.NwTos;
        if (!ip && !arp) w = (w & ~(Wildcards.NwSrcMask | Wildcards.NwDstMask)) | Wildcards.NwSrcAll | Wildcards.NwDstAll | Wildcards.NwProto;
        bool l4 = ip && (w & Wildcards.NwProto) == 0 && nwProto is PacketParser.ProtoIcmp or PacketParser.ProtoTcp or PacketParser.ProtoUdp;
        if (!l4) w |= Wildcards.TpSrc | Wildcards.TpDst;
        return w;
    }

    public static OfpMatch ToOfpMatch(in FlowMatch fm)
    {
        ref readonly var v = ref fm.Value;
        return new OfpMatch
        {
            Wildcards = WireMap.ToWire(fm.Wildcards),
            InPort = WireMap.ToWirePort(v.InPort),
            DlSrc = new OfpMac(v.DlSrc.Value),
            DlDst = new OfpMac(v.DlDst.Value),
            DlVlan = v.DlVlan,
            DlVlanPcp = v.DlVlanPcp,
            DlType = v.DlType,
            NwTos = v.NwTos,
            NwProto = v.NwProto,
            NwSrc = v.NwSrc,
            NwDst = v.NwDst,
            TpSrc = v.TpSrc,
            TpDst = v.TpDst,
        };
    }
}
