using System.Runtime.InteropServices;
using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Actions;

/// <summary>The fused steps of an <see cref="ActionPlan"/> that need a rewrite of their own.</summary>
public static partial class PacketRewriter
{
    /// <summary>First offset after an outer tag that sits right after the MAC addresses.</summary>
    private const int AfterOuterTag = MacPairSize + VlanTagSize;

    /// <summary>
    /// pop_vlan, push_vlan <paramref name="tpid"/>, then the TCI sets (<paramref name="keep"/>, <paramref name="set"/>),
    /// as one in-place rewrite of the outer tag, for a frame where that is what the three would do. False, with nothing
    /// changed, for any other frame (the caller runs the actions one by one).
    /// </summary>
    /// <remarks>
    /// <para>On a frame whose outer tag follows the addresses (offset 12) and that is long enough to pop it, the pop moves the
    /// addresses 4 bytes forward and the push moves them back: the frame's length, its head in the buffer and the bytes other
    /// than the tag are as before. The pushed tag copies the TCI of the tag that is then outer: the inner tag (QinQ), whose
    /// TPID is then at offset 16, or none (TCI 0: the old outer tag's PCP and CFI are not kept, as the pop removed them).
    /// So the result is the tag at 12 rewritten: <paramref name="tpid"/>, and the inner TCI (or 0) with the sets applied.</para>
    /// <para>Refused, so run step by step: an untagged frame (the pop does nothing and the push needs headroom), an outer
    /// tag elsewhere, a frame too short for the pop (18 bytes) or, with an inner tag, for the push to read its TCI
    /// (20 bytes), any other layer offset before 16 (a pop then push would not move it back where it was), and a large
    /// buffer (its offload offsets move with the head).</para>
    /// </remarks>
    internal static bool TryRetagVlan(PacketPool pool, int p, ref PacketLayers layers, ushort tpid, ushort keep, ushort set)
    {
        if (layers.Vlan != MacPairSize || pool.IsLarge(p)) return false;
        int first = Math.Min(Math.Min(layers.EthType, layers.Pbb), Math.Min(Math.Min(layers.Mpls, layers.L3), layers.L4));
        if (first < AfterOuterTag) return false;
        Span<byte> frame = pool.Frame(p);
        if ((uint)frame.Length < AfterOuterTag + 2) return false;
        ref byte f = ref MemoryMarshal.GetReference(frame);
        uint tci = 0;
        if (layers.EthType > AfterOuterTag && BigEndian.Read16(ref f, AfterOuterTag) is TpidVlan or TpidServiceTag)
        {
            if ((uint)frame.Length < AfterOuterTag + 4) return false;
            tci = BigEndian.Read16(ref f, AfterOuterTag + 2);
        }
        BigEndian.Write32(ref f, MacPairSize, ((uint)tpid << 16) | (ushort)((tci & keep) | set));
        if (tpid == TpidServiceTag) layers.Flags |= LayerFlags.ServiceTag;
        else layers.Flags &= ~LayerFlags.ServiceTag;
        return true;
    }
}
