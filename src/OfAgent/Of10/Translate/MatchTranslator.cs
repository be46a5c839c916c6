using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of10.Translate;

/// <summary>
/// ofp_match ↔ the OpenFlow layer's <see cref="OfMatch"/>, field by field: a wildcard bit clears the field's mask,
/// nw_src/nw_dst's wildcard counts become prefix masks, dl_vlan's OFP_VLAN_NONE is "untagged", in_port maps through
/// <see cref="WireMap"/>. The match comes in as received: the OpenFlow layer normalises it by OpenFlow 1.0's rules
/// (<see cref="MatchRules.OpenFlow10"/>). Stateless and thread-safe.
/// </summary>
public static class MatchTranslator
{
    /// <summary>OFP_VLAN_NONE: dl_vlan of an untagged packet.</summary>
    private const ushort VlanNone = 0xffff;

    /// <summary>The match as received (not normalised).</summary>
    public static OfMatch ToOfMatch(in OfpMatch m)
    {
        // Field by field into the value and the mask (no fluent copies: this runs once per flow-mod).
        var w = m.Wildcards;
        var r = new OfMatch();
        ref var v = ref r.Value;
        ref var k = ref r.Mask;
        if ((w & OfpFlowWildcards.InPort) == 0) { v.InPort = WireMap.ToOfPort(m.InPort); k.InPort = uint.MaxValue; }
        if ((w & OfpFlowWildcards.DlSrc) == 0) { v.EthSrc = m.DlSrc.Value & OfMatch.MacMask; k.EthSrc = OfMatch.MacMask; }
        if ((w & OfpFlowWildcards.DlDst) == 0) { v.EthDst = m.DlDst.Value & OfMatch.MacMask; k.EthDst = OfMatch.MacMask; }
        if ((w & OfpFlowWildcards.DlVlan) == 0)
        {
            v.VlanVid = m.DlVlan == VlanNone ? (ushort)0 : (ushort)(OfMatch.VlanPresent | (m.DlVlan & 0xfff));
            k.VlanVid = OfMatch.VlanVidMask;
        }
        if ((w & OfpFlowWildcards.DlVlanPcp) == 0) { v.VlanPcp = (byte)(m.DlVlanPcp & 7); k.VlanPcp = 7; }
        if ((w & OfpFlowWildcards.DlType) == 0) { v.EthType = m.DlType; k.EthType = ushort.MaxValue; }
        if ((w & OfpFlowWildcards.NwTos) == 0) { v.NwTos = (byte)(m.NwTos & OfMatch.TosMask); k.NwTos = OfMatch.TosMask; }
        if ((w & OfpFlowWildcards.NwProto) == 0) { v.NwProto = m.NwProto; k.NwProto = byte.MaxValue; }
        k.NwSrc = OfMatch.PrefixMask(32 - m.NwSrcWildcardBits);
        v.NwSrc = m.NwSrc & k.NwSrc;
        k.NwDst = OfMatch.PrefixMask(32 - m.NwDstWildcardBits);
        v.NwDst = m.NwDst & k.NwDst;
        if ((w & OfpFlowWildcards.TpSrc) == 0) { v.TpSrc = m.TpSrc; k.TpSrc = ushort.MaxValue; }
        if ((w & OfpFlowWildcards.TpDst) == 0) { v.TpDst = m.TpDst; k.TpDst = ushort.MaxValue; }
        return r;
    }

    /// <summary>
    /// The OpenFlow 1.0 form of <paramref name="m"/>: a field with a zero mask is wildcarded, nw_src/nw_dst prefixes become
    /// wildcard counts. Only what OpenFlow 1.0 can say reaches here (the flows a 1.0 controller can see were installed
    /// from OpenFlow 1.0 fields; the tunnel id has no ofp_match field and is left out).
    /// </summary>
    public static OfpMatch ToOfpMatch(in OfMatch m)
    {
        ref readonly var v = ref m.Value;
        ref readonly var k = ref m.Mask;
        var w = OfpFlowWildcards.None;
        if (k.InPort == 0) w |= OfpFlowWildcards.InPort;
        if (k.EthSrc == 0) w |= OfpFlowWildcards.DlSrc;
        if (k.EthDst == 0) w |= OfpFlowWildcards.DlDst;
        if (k.VlanVid == 0) w |= OfpFlowWildcards.DlVlan;
        if (k.VlanPcp == 0) w |= OfpFlowWildcards.DlVlanPcp;
        if (k.EthType == 0) w |= OfpFlowWildcards.DlType;
        if (k.NwTos == 0) w |= OfpFlowWildcards.NwTos;
        if (k.NwProto == 0) w |= OfpFlowWildcards.NwProto;
        if (k.TpSrc == 0) w |= OfpFlowWildcards.TpSrc;
        if (k.TpDst == 0) w |= OfpFlowWildcards.TpDst;
        uint src = (uint)(32 - Math.Max(0, OfMatch.PrefixLength(k.NwSrc)));
        uint dst = (uint)(32 - Math.Max(0, OfMatch.PrefixLength(k.NwDst)));
        w |= (OfpFlowWildcards)(src << (int)OfpFlowWildcards.NwSrcShift) | (OfpFlowWildcards)(dst << (int)OfpFlowWildcards.NwDstShift);
        return new OfpMatch
        {
            Wildcards = w,
            InPort = k.InPort == 0 ? (ushort)0 : WireMap.ToWirePort(v.InPort),
            DlSrc = new OfpMac(v.EthSrc),
            DlDst = new OfpMac(v.EthDst),
            DlVlan = k.VlanVid == 0 ? (ushort)0 : (v.VlanVid & OfMatch.VlanPresent) != 0 ? (ushort)(v.VlanVid & 0xfff) : VlanNone,
            DlVlanPcp = v.VlanPcp,
            DlType = v.EthType,
            NwTos = v.NwTos,
            NwProto = v.NwProto,
            NwSrc = v.NwSrc,
            NwDst = v.NwDst,
            TpSrc = v.TpSrc,
            TpDst = v.TpDst,
        };
    }
}
