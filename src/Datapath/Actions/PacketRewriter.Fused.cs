using System.Runtime.CompilerServices;
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
    /// TPID is then at offset 16 (when the parser stopped at that TPID, the ethertype moves after the tag, as the pop
    /// moves it), or none (TCI 0: the old outer tag's PCP and CFI are not kept, as the pop removed them).
    /// So the result is the tag at 12 rewritten: <paramref name="tpid"/>, and the inner TCI (or 0) with the sets applied.</para>
    /// <para>Refused, so run step by step: an untagged frame (the pop does nothing and the push needs headroom), an outer
    /// tag elsewhere, a frame too short for the pop (18 bytes) or, with an inner tag, for the ethertype after it, any
    /// other layer offset before 16 (a pop then push would not move it back where it was), a frame of 60 to 63 bytes (the
    /// pop pads it back to Ethernet's 60, so the push leaves it 4 bytes longer: <see cref="KeepEthernetMinimum"/>), and a
    /// large buffer (its offload offsets move with the head).</para>
    /// </remarks>
    internal static bool TryRetagVlan(PacketPool pool, int p, ref PacketLayers layers, ushort tpid, ushort keep, ushort set)
    {
        if (layers.Vlan != MacPairSize || pool.IsLarge(p) || pool.Length[p] is >= EthMinFrame and < EthMinFrame + VlanTagSize) return false;
        int first = Math.Min(Math.Min(layers.EthType, layers.Pbb), Math.Min(Math.Min(layers.Mpls, layers.L3), layers.L4));
        if (first < AfterOuterTag) return false;
        Span<byte> frame = pool.Frame(p);
        if ((uint)frame.Length < AfterOuterTag + 2) return false;
        ref byte f = ref MemoryMarshal.GetReference(frame);
        uint tci = 0;
        int ethType = layers.EthType;
        if (ethType >= AfterOuterTag && BigEndian.Read16(ref f, AfterOuterTag) is TpidVlan or TpidServiceTag)
        {
            // An inner tag the parser stopped at (the ethertype at its TPID): the pop makes it the outer tag, and the
            // ethertype the one after it.
            if (ethType == AfterOuterTag) ethType += VlanTagSize;
            if ((uint)frame.Length < (uint)(ethType + 2)) return false;
            tci = BigEndian.Read16(ref f, AfterOuterTag + 2);
        }
        BigEndian.Write32(ref f, MacPairSize, ((uint)tpid << 16) | (ushort)((tci & keep) | set));
        layers.EthType = (ushort)ethType;
        if (tpid == TpidServiceTag) layers.Flags |= LayerFlags.ServiceTag;
        else layers.Flags &= ~LayerFlags.ServiceTag;
        return true;
    }

    /// <summary>
    /// push_mpls <paramref name="ethType"/> then the entry's sets (<paramref name="keep"/>, <paramref name="set"/>) on the
    /// common frame, as <see cref="PushMpls(PacketPool, int, ref PacketLayers, ushort, uint, uint)"/> does it, with the
    /// frame looked up and bounds-checked once: a small buffer with headroom, no MPLS entry yet (so the entry is the
    /// bottom of the stack and takes the IP TTL), and 8 to 16 bytes before the insertion point (an untagged frame's
    /// Ethernet header). False, with nothing changed, for any other frame (the caller takes the general push).
    /// </summary>
    internal static bool TryPushFirstMpls(PacketPool pool, int p, ref PacketLayers layers, ushort ethType, uint keep, uint set)
    {
        int et = layers.EthType, at = et + 2;
        if (layers.Mpls != PacketLayers.Absent || (uint)(at - 8) > 8 || pool.IsLarge(p)) return false;
        int head = pool.Head[p], len = pool.Length[p];
        if (head < MplsEntrySize || len < at || len > ushort.MaxValue - MplsEntrySize) return false;
        // The frame as it will be: the entry's room taken from the headroom in front, then the frame as it is.
        Span<byte> grown = new(pool.Slab, pool.SlotOffset(p) + head - MplsEntrySize, len + MplsEntrySize);
        uint lse = ((0x100u | IpTtlOf(grown[MplsEntrySize..], layers)) & keep) | set;
        ref byte f = ref MemoryMarshal.GetReference(grown);
        // The at bytes before the insertion point move to the front (MoveHead's two overlapping 8-byte copies).
        ulong first = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref f, MplsEntrySize));
        ulong last = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref f, MplsEntrySize + at - 8));
        Unsafe.WriteUnaligned(ref f, first);
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref f, at - 8), last);
        BigEndian.Write16(ref f, et, ethType);
        BigEndian.Write32(ref f, at, lse);
        pool.Head[p] = (ushort)(head - MplsEntrySize);
        pool.Length[p] = (ushort)(len + MplsEntrySize);
        Shift(ref layers, at, MplsEntrySize);
        layers.Mpls = (ushort)at;
        layers.MplsDepth++;
        layers.Flags |= LayerFlags.Mpls;
        return true;
    }
}
