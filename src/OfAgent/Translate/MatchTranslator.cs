using Softswitch.Datapath.Flow;
using Softswitch.OfWire;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Translate;

/// <summary>
/// ofp_match ↔ <see cref="FlowMatch"/>. Wildcards and in_port map through <see cref="WireMap"/>, and plain
/// OF1.0 matches leave the tunnel id out (<see cref="Wildcards.TunIdExt"/>). The match comes in as received: the
/// OpenFlow layer normalises it (<see cref="OfMatchRules"/>, <see cref="MatchRules.OpenFlow10"/>).
/// </summary>
public static class MatchTranslator
{
    /// <summary>The match as received (not normalised).</summary>
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
        return FlowMatch.FromOpenFlow(WireMap.ToDatapath(m.Wildcards) | Wildcards.TunIdExt, fields);
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
