using Softswitch.OfWire;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of10.Translate;

/// <summary>
/// Open vSwitch's learn (NXAST_LEARN, NXAST_LEARN2) ↔ the model's <see cref="OfLearn"/>, for every OpenFlow version
/// (the same body after each version's header). Spec fields are named by NXM or OXM header as for a move
/// (<see cref="FieldOfHeader"/>, NXM_OF_VLAN_TCI among them) and written back by their NXM header, as Open vSwitch's
/// nxm_header_from_mff does. Refused: a field the switch does not know (BAD_FIELD), a spec the learn cannot serve
/// (<see cref="OfLearn.Check"/>: BAD_ARGUMENT), a result_dst the switch does not write (BAD_SET_ARGUMENT, Open vSwitch's
/// decode_NXAST_RAW_LEARN2), one past its field (BAD_SET_LEN), a result_dst_ofs without NX_LEARN_F_WRITE_RESULT
/// (BAD_ARGUMENT), more distinct learn
/// actions than the switch keeps (65,536). LEARN2's limit and result_dst (one bit) are the model's.
/// </summary>
public static partial class ActionTranslator
{
    /// <summary>The model's learn for <paramref name="nx"/>, or why there is none.</summary>
    internal static bool TryLearn(NxLearn nx, out OfAction? item, out NxRefusal why)
    {
        item = null;
        why = NxRefusal.BadArgument;
        OfSubfield? result = null;
        if ((nx.Flags & NxLearn.WriteResult) != 0)
        {
            if (FieldOfHeader(nx.ResultHeader) is not { } f) return Refuse(NxRefusal.BadField, out why);
            var r = new OfSubfield(f, nx.ResultOfs, 1);
            if (!r.IsValid) return Refuse(NxRefusal.BadSetLen, out why);
            if (!OfSubfield.IsWritable(f)) return Refuse(NxRefusal.NotWritable, out why);
            result = r;
        }
        else if (nx.ResultOfs != 0)
        {
            return false;
        }
        var specs = new OfLearnSpec[nx.Specs.Length];
        for (int i = 0; i < specs.Length; i++)
        {
            var s = nx.Specs[i];
            OfSubfield src = default, dst = default;
            if (s.Src == NxLearnSrc.Field)
            {
                if (FieldOfHeader(s.SrcHeader) is not { } f) return Refuse(NxRefusal.BadField, out why);
                src = new OfSubfield(f, s.SrcOfs, s.Bits);
                if (!src.IsValid) return Refuse(NxRefusal.BadSetLen, out why);
            }
            if (s.Dst != NxLearnDst.Output)
            {
                if (FieldOfHeader(s.DstHeader) is not { } f) return Refuse(NxRefusal.BadField, out why);
                dst = new OfSubfield(f, s.DstOfs, s.Bits);
                if (!dst.IsValid) return Refuse(NxRefusal.BadSetLen, out why);
            }
            var kind = s.Dst switch { NxLearnDst.Match => OfLearnDst.Match, NxLearnDst.Load => OfLearnDst.Load, _ => OfLearnDst.Output };
            specs[i] = new OfLearnSpec(kind, s.Src == NxLearnSrc.Immediate, src, s.Value, dst, s.Bits);
        }
        var learn = new OfLearn(nx.Table, nx.IdleTimeout, nx.HardTimeout, nx.Priority, nx.Cookie, (nx.Flags & NxLearn.SendFlowRem) != 0,
                                (nx.Flags & NxLearn.DeleteLearned) != 0, nx.FinIdleTimeout, nx.FinHardTimeout, specs, nx.Learn2, nx.Limit, result);
        if (learn.Check() != OfError.None || learn.Id < 0) return false;
        item = OfAction.Learn(learn);
        return true;
    }

    /// <summary>The wire body of learn action <paramref name="a"/> (NXAST_LEARN, or LEARN2 when it came so).</summary>
    internal static NxAction LearnNx(in OfAction a)
    {
        var l = a.LearnSpec!;
        var specs = new NxLearnSpec[l.Specs.Length];
        for (int i = 0; i < specs.Length; i++)
        {
            var s = l.Specs[i];
            var dst = s.Kind switch { OfLearnDst.Match => NxLearnDst.Match, OfLearnDst.Load => NxLearnDst.Load, _ => NxLearnDst.Output };
            specs[i] = new NxLearnSpec(s.Immediate ? NxLearnSrc.Immediate : NxLearnSrc.Field, dst, (ushort)s.Bits,
                                       s.Immediate ? 0 : HeaderOf(s.Src.Field), (ushort)(s.Immediate ? 0 : s.Src.Ofs), s.Immediate ? s.Value : 0,
                                       dst == NxLearnDst.Output ? 0 : HeaderOf(s.Dst.Field), (ushort)(dst == NxLearnDst.Output ? 0 : s.Dst.Ofs));
        }
        ushort flags = (ushort)((l.SendFlowRemoved ? NxLearn.SendFlowRem : 0) | (l.DeleteLearned ? NxLearn.DeleteLearned : 0)
                                | (l.ResultDst is not null ? NxLearn.WriteResult : 0));
        return NxAction.OfLearn(new NxLearn(l.IdleTimeout, l.HardTimeout, l.Priority, l.Cookie, flags, l.Table, l.FinIdleTimeout,
                                            l.FinHardTimeout, specs, l.Learn2, l.Limit, l.ResultDst is { } r ? HeaderOf(r.Field) : 0,
                                            (ushort)(l.ResultDst?.Ofs ?? 0)));
    }
}
