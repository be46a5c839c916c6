using System.Buffers.Binary;
using System.Numerics;
using Softswitch.Datapath.Flow;

namespace Softswitch.Ofproto;

/// <summary>
/// The fields an OpenFlow 1.0 match leaves out: one bit a field, plus for nw_src and nw_dst a 6-bit count of ignored
/// low-order address bits (0 = the whole address is matched, 32 or more = none of it). Ofproto's own layout: the
/// codecs map their wildcard words to it explicitly (no value is shared with a wire format).
/// </summary>
[Flags]
public enum OfWildcards : uint
{
    None = 0,
    InPort = 0x0001,
    DlSrc = 0x0002,
    DlDst = 0x0004,
    DlVlan = 0x0008,
    DlVlanPcp = 0x0010,
    DlType = 0x0020,
    NwTos = 0x0040,
    NwProto = 0x0080,
    TpSrc = 0x0100,
    TpDst = 0x0200,
    /// <summary>The tunnel id (not part of the OpenFlow 1.0 match; plain OpenFlow 1.0 rules leave it out).</summary>
    TunIdExt = 0x0400,
    NwSrcShift = 16,
    NwSrcBits = 6,
    NwSrcMask = 0x3F << 16,
    NwSrcAll = 32 << 16,
    NwDstShift = 24,
    NwDstBits = 6,
    NwDstMask = 0x3Fu << 24,
    NwDstAll = 32u << 24,
    /// <summary>Every field of the OpenFlow 1.0 twelve-tuple left out (the tunnel id is not among them).</summary>
    All = 0x03FF | NwSrcAll | NwDstAll,
}

/// <summary>
/// OpenFlow 1.0's view of a datapath <see cref="FlowMatch"/>: the match built from wildcards and field values
/// (<c>FlowMatch.FromOpenFlow</c>), and a match's mask read back as wildcards (<c>match.Wildcards</c>,
/// <c>match.IsOpenFlow10</c>). The datapath knows masks only; this is the one place that turns them into the
/// twelve-tuple's wildcards and back. Stateless and thread-safe.
/// </summary>
/// <remarks>
/// nw_src/nw_dst wildcard counts n become prefix masks (n &gt;= 32: fully wildcarded); nw_tos keeps the DSCP bits; the
/// vlan mask is 0x1FFF (OFPVID_PRESENT and the VID); the tunnel id is matched unless <see cref="OfWildcards.TunIdExt"/>
/// is set.
/// </remarks>
public static class OfWildcardsView
{
    extension(FlowMatch)
    {
        /// <summary>
        /// A match from OpenFlow 1.0 wildcards and a key holding the field values. Without
        /// <see cref="OfWildcards.TunIdExt"/> the tunnel id is matched exactly (pass the bit to leave it out, which is
        /// what plain OpenFlow 1.0 controllers mean).
        /// </summary>
        public static FlowMatch FromOpenFlow(OfWildcards wildcards, in FlowKey fields)
            => new(MaskOf(Normalize(wildcards)), fields);
    }

    extension(in FlowMatch m)
    {
        /// <summary>
        /// The OpenFlow 1.0 reading of the mask: a field's bit is set when its mask is zero; nw_src/nw_dst counts are 32
        /// minus the prefix length (0 when the mask is not a prefix). Exact for matches built by <c>FromOpenFlow</c>;
        /// see <c>IsOpenFlow10</c> for the others.
        /// </summary>
        public OfWildcards Wildcards => Read(m.Mask);

        /// <summary>True when the mask is one OpenFlow 1.0 wildcards can say (<c>Wildcards</c> describes it wholly).</summary>
        public bool IsOpenFlow10 => !m.UsesExtension && MaskOf(Read(m.Mask)).Equals(m.Mask);

        /// <summary>The length of nw_src's prefix (0 to 32) as the wildcards read it.</summary>
        public int NwSrcPrefixBits => 32 - Math.Min(32, WildCount(m.Mask.NwSrc));

        /// <summary>The length of nw_dst's prefix (0 to 32) as the wildcards read it.</summary>
        public int NwDstPrefixBits => 32 - Math.Min(32, WildCount(m.Mask.NwDst));
    }

    private static OfWildcards Normalize(OfWildcards w)
    {
        uint v = (uint)w;
        uint src = (v & (uint)OfWildcards.NwSrcMask) >> (int)OfWildcards.NwSrcShift;
        uint dst = (v & (uint)OfWildcards.NwDstMask) >> (int)OfWildcards.NwDstShift;
        if (src > 32) src = 32;
        if (dst > 32) dst = 32;
        v &= ~((uint)OfWildcards.NwSrcMask | (uint)OfWildcards.NwDstMask);
        v |= (src << (int)OfWildcards.NwSrcShift) | (dst << (int)OfWildcards.NwDstShift);
        v &= (uint)(OfWildcards.All | OfWildcards.TunIdExt | OfWildcards.NwSrcMask | OfWildcards.NwDstMask);
        return (OfWildcards)v;
    }

    /// <summary>The mask OpenFlow 1.0 wildcards <paramref name="w"/> (normalised) stand for.</summary>
    private static FlowKey MaskOf(OfWildcards w)
    {
        var b = new FlowKeyBuilder();
        var bytes = b.Bytes;
        if ((w & OfWildcards.InPort) == 0) bytes.Slice(FlowKey.InPortOffset, 2).Fill(0xFF);
        if ((w & OfWildcards.DlVlan) == 0) b.VlanVid(FlowMask.VlanBits);
        if ((w & OfWildcards.DlType) == 0) bytes.Slice(FlowKey.DlTypeOffset, 2).Fill(0xFF);
        if ((w & OfWildcards.DlVlanPcp) == 0) bytes.Slice(FlowKey.DlVlanPcpOffset, 1).Fill(0xFF);
        if ((w & OfWildcards.NwTos) == 0) bytes[FlowKey.NwTosOffset] = 0xFC;
        if ((w & OfWildcards.DlSrc) == 0) bytes.Slice(FlowKey.DlSrcOffset, 6).Fill(0xFF);
        if ((w & OfWildcards.DlDst) == 0) bytes.Slice(FlowKey.DlDstOffset, 6).Fill(0xFF);
        if ((w & OfWildcards.NwProto) == 0) bytes.Slice(FlowKey.NwProtoOffset, 1).Fill(0xFF);
        int srcN = (int)(((uint)w & (uint)OfWildcards.NwSrcMask) >> (int)OfWildcards.NwSrcShift);
        int dstN = (int)(((uint)w & (uint)OfWildcards.NwDstMask) >> (int)OfWildcards.NwDstShift);
        BinaryPrimitives.WriteUInt32BigEndian(bytes[FlowKey.NwSrcOffset..], srcN >= 32 ? 0u : ~0u << srcN);
        BinaryPrimitives.WriteUInt32BigEndian(bytes[FlowKey.NwDstOffset..], dstN >= 32 ? 0u : ~0u << dstN);
        if ((w & OfWildcards.TpSrc) == 0) bytes.Slice(FlowKey.TpSrcOffset, 2).Fill(0xFF);
        if ((w & OfWildcards.TpDst) == 0) bytes.Slice(FlowKey.TpDstOffset, 2).Fill(0xFF);
        if ((w & OfWildcards.TunIdExt) == 0) bytes.Slice(FlowKey.TunIdOffset, 8).Fill(0xFF);
        return b.Key;
    }

    private static OfWildcards Read(in FlowKey m)
    {
        var w = OfWildcards.None;
        if (m.InPort == 0) w |= OfWildcards.InPort;
        if (m.VlanVid == 0) w |= OfWildcards.DlVlan;
        if (m.DlType == 0) w |= OfWildcards.DlType;
        if (m.DlVlanPcp == 0) w |= OfWildcards.DlVlanPcp;
        if (m.NwTos == 0) w |= OfWildcards.NwTos;
        if (m.DlSrc.Value == 0) w |= OfWildcards.DlSrc;
        if (m.DlDst.Value == 0) w |= OfWildcards.DlDst;
        if (m.NwProto == 0) w |= OfWildcards.NwProto;
        if (m.TpSrc == 0) w |= OfWildcards.TpSrc;
        if (m.TpDst == 0) w |= OfWildcards.TpDst;
        if (m.TunId == 0) w |= OfWildcards.TunIdExt;
        w |= (OfWildcards)((uint)WildCount(m.NwSrc) << (int)OfWildcards.NwSrcShift);
        w |= (OfWildcards)((uint)WildCount(m.NwDst) << (int)OfWildcards.NwDstShift);
        return w;
    }

    /// <summary>32 minus the prefix length of an address mask; 0 (matched) when the mask is not a prefix.</summary>
    private static int WildCount(uint mask)
    {
        int ones = BitOperations.LeadingZeroCount(~mask);
        uint prefix = ones == 0 ? 0u : ones >= 32 ? uint.MaxValue : ~0u << (32 - ones);
        return prefix == mask ? 32 - ones : 0;
    }
}
