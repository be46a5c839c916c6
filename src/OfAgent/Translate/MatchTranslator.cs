using Softswitch.Datapath.Flow;
using Softswitch.OfAgent.Wire;

namespace Softswitch.OfAgent.Translate;

/// <summary>
/// ofp_match ↔ <see cref="FlowMatch"/>. The OF1.0 wildcard bits have the same values in both, and plain
/// OF1.0 matches leave the tunnel id out (<see cref="Wildcards.TunIdExt"/>).
/// </summary>
public static class MatchTranslator
{
    public static FlowMatch ToFlowMatch(in OfpMatch m)
    {
        var fields = new FlowKeyBuilder()
            .InPort(m.InPort)
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
        var w = (Wildcards)((uint)m.Wildcards & (uint)Wildcards.All) | Wildcards.TunIdExt;
        return FlowMatch.FromOpenFlow(w, fields);
    }

    public static OfpMatch ToOfpMatch(in FlowMatch fm)
    {
        ref readonly var v = ref fm.Value;
        return new OfpMatch
        {
            Wildcards = (OfpFlowWildcards)((uint)fm.Wildcards & (uint)Wildcards.All),
            InPort = v.InPort,
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
