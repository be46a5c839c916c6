using Softswitch.Datapath.Flow;

namespace Softswitch.Ofproto;

/// <summary>
/// <see cref="OfMatch"/> ↔ the datapath's <see cref="FlowMatch"/>: what the datapath can classify today is the OpenFlow
/// 1.0 twelve-tuple and the tunnel id, each field matched wholly or not at all except nw_src/nw_dst, which take any
/// prefix. A match outside that is refused with the reason (<see cref="OfError.UnsupportedField"/>,
/// <see cref="OfError.UnsupportedMask"/>, <see cref="OfError.BadMatchPort"/>) for the codec to map onto its error code.
/// </summary>
/// <remarks>Stateless and thread-safe; allocates nothing.</remarks>
public static class OfMatchCompiler
{
    private const ushort VlanNone = 0xFFFF;

    /// <summary>The datapath's match for <paramref name="m"/>, as given (not normalised), or the reason it has none.</summary>
    public static OfError TryCompile(in OfMatch m, out FlowMatch match)
    {
        match = default;
        ref readonly var v = ref m.Value;
        ref readonly var k = ref m.Mask;
        if (k.Metadata != 0) return OfError.UnsupportedField;
        var w = Wildcards.None;
        var b = new FlowKeyBuilder();
        if (k.InPort == 0) w |= Wildcards.InPort;
        else if (k.InPort != uint.MaxValue) return OfError.UnsupportedMask;
        else if (!OfPort.ToDatapath(v.InPort, out var dpPort)) return OfError.BadMatchPort;
        else b.InPort(dpPort);
        if (!Whole(k.EthSrc, OfMatch.MacMask, Wildcards.DlSrc, ref w)) return OfError.UnsupportedMask;
        b.DlSrc(new MacAddress(v.EthSrc));
        if (!Whole(k.EthDst, OfMatch.MacMask, Wildcards.DlDst, ref w)) return OfError.UnsupportedMask;
        b.DlDst(new MacAddress(v.EthDst));
        if (!Whole(k.VlanVid, OfMatch.VlanVidMask, Wildcards.DlVlan, ref w)) return OfError.UnsupportedMask;
        b.DlVlan((v.VlanVid & OfMatch.VlanPresent) != 0 ? (ushort)(v.VlanVid & 0xfff) : VlanNone);
        if (!Whole(k.VlanPcp, 7, Wildcards.DlVlanPcp, ref w)) return OfError.UnsupportedMask;
        b.DlVlanPcp(v.VlanPcp);
        if (!Whole(k.EthType, ushort.MaxValue, Wildcards.DlType, ref w)) return OfError.UnsupportedMask;
        b.DlType(v.EthType);
        if (!Whole(k.NwTos, OfMatch.TosMask, Wildcards.NwTos, ref w)) return OfError.UnsupportedMask;
        b.NwTos(v.NwTos);
        if (!Whole(k.NwProto, byte.MaxValue, Wildcards.NwProto, ref w)) return OfError.UnsupportedMask;
        b.NwProto(v.NwProto);
        int src = OfMatch.PrefixLength(k.NwSrc), dst = OfMatch.PrefixLength(k.NwDst);
        if (src < 0 || dst < 0) return OfError.UnsupportedMask;
        w |= (Wildcards)((uint)(32 - src) << (int)Wildcards.NwSrcShift) | (Wildcards)((uint)(32 - dst) << (int)Wildcards.NwDstShift);
        b.NwSrc(v.NwSrc);
        b.NwDst(v.NwDst);
        if (!Whole(k.TpSrc, ushort.MaxValue, Wildcards.TpSrc, ref w)) return OfError.UnsupportedMask;
        b.TpSrc(v.TpSrc);
        if (!Whole(k.TpDst, ushort.MaxValue, Wildcards.TpDst, ref w)) return OfError.UnsupportedMask;
        b.TpDst(v.TpDst);
        if (!Whole(k.TunnelId, ulong.MaxValue, Wildcards.TunIdExt, ref w)) return OfError.UnsupportedMask;
        b.TunId(v.TunnelId);
        match = FlowMatch.FromOpenFlow(w, b.Key);
        return OfError.None;
    }

    private static bool Whole(ulong mask, ulong all, Wildcards bit, ref Wildcards w)
    {
        if (mask == 0)
        {
            w |= bit;
            return true;
        }
        return mask == all;
    }

    /// <summary>The datapath's match <paramref name="match"/> as the OpenFlow layer's (what stats and reports show).</summary>
    public static OfMatch ToOfMatch(in FlowMatch match)
    {
        var w = match.Wildcards;
        ref readonly var v = ref match.Value;
        var m = new OfMatch();
        if ((w & Wildcards.InPort) == 0) m.InPort(OfPort.FromDatapath(v.InPort));
        if ((w & Wildcards.DlSrc) == 0) m.EthSrc(v.DlSrc.Value);
        if ((w & Wildcards.DlDst) == 0) m.EthDst(v.DlDst.Value);
        if ((w & Wildcards.DlVlan) == 0)
        {
            if (v.DlVlan == VlanNone) m.Untagged();
            else m.Vlan(v.DlVlan);
        }
        if ((w & Wildcards.DlVlanPcp) == 0) m.VlanPcp(v.DlVlanPcp);
        if ((w & Wildcards.DlType) == 0) m.EthType(v.DlType);
        if ((w & Wildcards.NwTos) == 0) m.NwTos(v.NwTos);
        if ((w & Wildcards.NwProto) == 0) m.NwProto(v.NwProto);
        m.NwSrc(v.NwSrc, OfMatch.PrefixMask(match.NwSrcPrefixBits));
        m.NwDst(v.NwDst, OfMatch.PrefixMask(match.NwDstPrefixBits));
        if ((w & Wildcards.TpSrc) == 0) m.TpSrc(v.TpSrc);
        if ((w & Wildcards.TpDst) == 0) m.TpDst(v.TpDst);
        if ((w & Wildcards.TunIdExt) == 0) m.TunnelId(v.TunId);
        return m;
    }

    /// <summary>
    /// True when <paramref name="m"/> matches every field of the OpenFlow 1.0 twelve-tuple wholly (ofp_match wildcards
    /// 0) and nothing beyond it: such a flow is exact under OpenFlow 1.0 (OF1.0 section 3.4).
    /// </summary>
    public static bool IsExact10(in OfMatch m)
    {
        ref readonly var k = ref m.Mask;
        return k.InPort == uint.MaxValue && k.EthSrc == OfMatch.MacMask && k.EthDst == OfMatch.MacMask && k.VlanVid == OfMatch.VlanVidMask
            && k.VlanPcp == 7 && k.EthType == ushort.MaxValue && k.NwTos == OfMatch.TosMask && k.NwProto == byte.MaxValue
            && k.NwSrc == uint.MaxValue && k.NwDst == uint.MaxValue && k.TpSrc == ushort.MaxValue && k.TpDst == ushort.MaxValue
            && k.TunnelId == 0 && k.Metadata == 0;
    }
}
