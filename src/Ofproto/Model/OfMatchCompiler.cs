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
        // Field by field into the value and the mask (no fluent copies: this runs once per flow in a statistics dump).
        var w = match.Wildcards;
        ref readonly var f = ref match.Value;
        var m = new OfMatch();
        ref var v = ref m.Value;
        ref var k = ref m.Mask;
        if ((w & Wildcards.InPort) == 0) { v.InPort = OfPort.FromDatapath(f.InPort); k.InPort = uint.MaxValue; }
        if ((w & Wildcards.DlSrc) == 0) { v.EthSrc = f.DlSrc.Value; k.EthSrc = OfMatch.MacMask; }
        if ((w & Wildcards.DlDst) == 0) { v.EthDst = f.DlDst.Value; k.EthDst = OfMatch.MacMask; }
        if ((w & Wildcards.DlVlan) == 0)
        {
            v.VlanVid = f.DlVlan == VlanNone ? (ushort)0 : (ushort)(OfMatch.VlanPresent | (f.DlVlan & 0xfff));
            k.VlanVid = OfMatch.VlanVidMask;
        }
        if ((w & Wildcards.DlVlanPcp) == 0) { v.VlanPcp = (byte)(f.DlVlanPcp & 7); k.VlanPcp = 7; }
        if ((w & Wildcards.DlType) == 0) { v.EthType = f.DlType; k.EthType = ushort.MaxValue; }
        if ((w & Wildcards.NwTos) == 0) { v.NwTos = (byte)(f.NwTos & OfMatch.TosMask); k.NwTos = OfMatch.TosMask; }
        if ((w & Wildcards.NwProto) == 0) { v.NwProto = f.NwProto; k.NwProto = byte.MaxValue; }
        k.NwSrc = OfMatch.PrefixMask(match.NwSrcPrefixBits);
        v.NwSrc = f.NwSrc & k.NwSrc;
        k.NwDst = OfMatch.PrefixMask(match.NwDstPrefixBits);
        v.NwDst = f.NwDst & k.NwDst;
        if ((w & Wildcards.TpSrc) == 0) { v.TpSrc = f.TpSrc; k.TpSrc = ushort.MaxValue; }
        if ((w & Wildcards.TpDst) == 0) { v.TpDst = f.TpDst; k.TpDst = ushort.MaxValue; }
        if ((w & Wildcards.TunIdExt) == 0) { v.TunnelId = f.TunId; k.TunnelId = ulong.MaxValue; }
        return m;
    }
}
