using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;
using static Softswitch.OfAgent.Of13.Translate.MatchTranslator;

namespace Softswitch.OfAgent.Of10.Translate;

/// <summary>
/// The Nicira actions an OpenFlow 1.0 flow-mod or packet-out may carry, each as the action the 1.3 path makes of the same
/// thing: the ones the switch writes when it shows a 1.3 flow to a 1.0 peer (<see cref="ToOfp(in OfAction, out OfpAction, out OfpAction)"/>),
/// the ones ovs-ofctl sends for them (ovs lib/ofp-actions.c) and NXAST_REG_LOAD2, so a 1.0 dump-flows re-adds to the same flow.
/// </summary>
/// <remarks>
/// <para>set_field: NXAST_REG_LOAD (the switch's form and ovs-ofctl's) sets bits ofs..ofs+n_bits-1, at most 64 of them,
/// so a 128-bit field comes as consecutive loads of its halves: they are gathered until the field is whole;
/// NXAST_REG_LOAD2 sets its field whole. A field left part set, or one no action sets, is OFPBAC_BAD_ARGUMENT. Fields
/// are named by NXM header (Open vSwitch's NXM_OF_* and NXM_NX_* of the fields the switch sets, nw_ttl and the ToS
/// byte included) or OXM header.</para>
/// <para>resubmit(,TABLE) is a goto-table only where the switch writes it: last in a flow-mod's list, the packet's own
/// in_port (OFPP_IN_PORT), a table after 0 other than 255 (Open vSwitch's "this table"); else OFPBAC_BAD_ARGUMENT.
/// NXAST_RESUBMIT, note and exit are OFPBAC_BAD_VENDOR_TYPE: the datapath has no resubmit of its own.</para>
/// <para>OpenFlow 1.3's experimenter actions carry the same bodies and take the same translation
/// (<see cref="TryNiciraModel"/>), with 1.3's errors; 1.3 runs a resubmit in the datapath wherever it stands in a flow's list.</para>
/// </remarks>
public static partial class ActionTranslator
{
    // Marks for the NXM fields OpenFlow 1.3 has no OXM for.
    private const byte NxIpTtl = 0xf0, NxIpTos = 0xf1, NoField = 0xff;

    /// <summary>The bits of one field that consecutive REG_LOADs have set so far (Header 0: none).</summary>
    internal struct PendingLoad
    {
        public uint Header;
        public UInt128 Value, Mask;
    }

    /// <summary>Why the model takes no action for a Nicira action; each version names it with its own error.</summary>
    internal enum NxRefusal : byte
    {
        /// <summary>An argument the model cannot take (a load that is not the whole field, a field value out of range).</summary>
        BadArgument,
        /// <summary>A load of a field the switch cannot set or does not know (registers among them): OpenFlow 1.1+'s BAD_SET_TYPE.</summary>
        UnknownField,
        /// <summary>A subtype the codec reads that this translation does not take (note; exit and NXAST_RESUBMIT, which 1.3 takes itself).</summary>
        Unsupported,
    }

    private static bool IsRegLoad(in OfpAction a)
        => a.Type == OfpActionType.Vendor && a.Vendor == NiciraVendorId && a.NxSubtype == (ushort)NxActionSubtype.RegLoad;

    /// <summary>
    /// The model's action for Nicira action <paramref name="a"/> (null: none yet, or the goto-table
    /// <paramref name="table"/>); <paramref name="mayGoto"/>: a resubmit here may stand for a goto-table.
    /// </summary>
    private static bool TryNicira(in OfpAction a, bool mayGoto, ref PendingLoad load, out OfAction? item, out byte? table, out OfpError error)
    {
        item = null;
        table = null;
        if (!NxAction.TryDecode(a, out var nx, out error)) return false;
        if (TryResubmitAsGoto(nx, mayGoto, 0, out table, out bool isResubmit)) return true;
        if (isResubmit) return BadArgument(out error);
        if (TryNiciraModel(nx, ref load, out item, out var why)) return true;
        // OpenFlow 1.0 names no set-type error: a load of a field the switch does not set is BAD_ARGUMENT, as before.
        error = OfpError.BadAction(why == NxRefusal.Unsupported ? OfpBadActionCode.BadVendorType : OfpBadActionCode.BadArgument);
        return false;
    }

    /// <summary>
    /// Whether <paramref name="nx"/> is a resubmit (<paramref name="isResubmit"/>) that stands for a goto-table
    /// <paramref name="table"/> of a flow in table <paramref name="flowTable"/>: NXAST_RESUBMIT_TABLE where
    /// <paramref name="mayGoto"/> (last in a flow-mod's apply-actions), the packet's own in_port (OFPP_IN_PORT) and a table
    /// after the flow's other than 255 (Open vSwitch's "this table"). The datapath has no resubmit of its own: any other
    /// resubmit the caller refuses.
    /// </summary>
    internal static bool TryResubmitAsGoto(in NxAction nx, bool mayGoto, byte flowTable, out byte? table, out bool isResubmit)
    {
        table = null;
        isResubmit = nx.Subtype == NxActionSubtype.ResubmitTable;
        if (nx.Subtype != NxActionSubtype.ResubmitTable || !mayGoto || nx.InPort != NxAction.InPortOwn || nx.Table <= flowTable
            || nx.Table == 0xff)
        {
            return false;
        }
        table = nx.Table;
        return true;
    }

    /// <summary>
    /// The model's action for Nicira action <paramref name="nx"/> other than a resubmit (null: a REG_LOAD that set part
    /// of its field, completed by the loads after it into <paramref name="load"/>), or why there is none. Shared by every
    /// OpenFlow version: each maps <paramref name="why"/> to its own error.
    /// </summary>
    internal static bool TryNiciraModel(in NxAction nx, ref PendingLoad load, out OfAction? item, out NxRefusal why)
    {
        item = null;
        why = NxRefusal.BadArgument;
        switch (nx.Subtype)
        {
            case NxActionSubtype.SetTunnel or NxActionSubtype.SetTunnel64: item = OfAction.SetTunnel(nx.Arg); return true;
            case NxActionSubtype.SetQueue: item = OfAction.SetQueue((uint)nx.Arg); return true;
            case NxActionSubtype.Group: item = OfAction.Group((uint)nx.Arg); return true;
            case NxActionSubtype.DecTtl: item = OfAction.DecNwTtl(); return true;
            case NxActionSubtype.PushMpls: item = OfAction.PushMpls((ushort)nx.Arg); return true;
            case NxActionSubtype.PopMpls: item = OfAction.PopMpls((ushort)nx.Arg); return true;
            case NxActionSubtype.SetMplsTtl: item = OfAction.SetMplsTtl((byte)nx.Arg); return true;
            case NxActionSubtype.DecMplsTtl: item = OfAction.DecMplsTtl(); return true;
            case NxActionSubtype.SetMplsLabel: item = OfAction.SetMplsLabel((uint)nx.Arg); return true;
            case NxActionSubtype.SetMplsTc: item = OfAction.SetMplsTc((byte)nx.Arg); return true;
            case NxActionSubtype.RegLoad:
                return TryRegLoad(nx, ref load, out item, out why);
            case NxActionSubtype.RegLoad2: // the whole field, unmasked or under an all-ones mask
            {
                byte field = FieldOf(nx.FieldHeader, out var full);
                if (field == NoField) return Refuse(NxRefusal.UnknownField, out why);
                if ((nx.Mask & full) != full || (nx.Value & ~full) != 0) return false;
                item = SetField(field, nx.Value);
                return item is not null;
            }
            default: // note, exit, resubmit
                return Refuse(NxRefusal.Unsupported, out why);
        }
    }

    private static bool TryRegLoad(in NxAction nx, ref PendingLoad load, out OfAction? item, out NxRefusal why)
    {
        item = null;
        why = NxRefusal.BadArgument;
        byte field = FieldOf(nx.FieldHeader, out var full);
        if (field == NoField) return Refuse(NxRefusal.UnknownField, out why);
        if ((nx.Mask & ~full) != 0 || (load.Header != 0 && load.Header != nx.FieldHeader)) return false;
        load.Header = nx.FieldHeader;
        load.Value = (load.Value & ~nx.Mask) | nx.Value;
        load.Mask |= nx.Mask;
        if (load.Mask != full) return true;
        item = SetField(field, load.Value);
        load = default;
        return item is not null;
    }

    private static bool Refuse(NxRefusal reason, out NxRefusal why)
    {
        why = reason;
        return false;
    }

    /// <summary>The model's action setting <paramref name="field"/> (an OXM field number or an NXM mark) to <paramref name="v"/>; null: none.</summary>
    private static OfAction? SetField(byte field, UInt128 v) => field switch
    {
        NxIpTtl => OfAction.SetNwTtl((byte)v),
        NxIpTos => (v & 3) == 0 ? OfAction.SetNwTos((byte)v) : null, // DSCP in the upper 6 bits, as OpenFlow 1.0's nw_tos
        _ => Of13.Translate.ActionTranslator.SetField(Ofp13Oxm.Exact(field, v)),
    };

    // Open vSwitch's NXM headers (NXM_OF_* class 0, NXM_NX_* class 1) of the fields the switch sets, with the OXM field
    // (or NXM mark) each is: Open vSwitch loads a field through its NXM header when it has one.
    private static readonly (uint Nxm, byte Field)[] s_nxm =
    [
        (Nxm(0, 1, 6), EthDst), (Nxm(0, 2, 6), EthSrc), (Nxm(0, 3, 2), EthType), (Nxm(0, 5, 1), NxIpTos), (Nxm(0, 6, 1), IpProto),
        (Nxm(0, 7, 4), Ipv4Src), (Nxm(0, 8, 4), Ipv4Dst), (Nxm(0, 9, 2), TcpSrc), (Nxm(0, 10, 2), TcpDst), (Nxm(0, 11, 2), UdpSrc),
        (Nxm(0, 12, 2), UdpDst), (Nxm(0, 13, 1), Icmpv4Type), (Nxm(0, 14, 1), Icmpv4Code), (Nxm(0, 15, 2), ArpOp),
        (Nxm(0, 16, 4), ArpSpa), (Nxm(0, 17, 4), ArpTpa), (Nxm(1, 16, 8), TunnelId), (Nxm(1, 17, 6), ArpSha), (Nxm(1, 18, 6), ArpTha),
        (Nxm(1, 19, 16), Ipv6Src), (Nxm(1, 20, 16), Ipv6Dst), (Nxm(1, 21, 1), Icmpv6Type), (Nxm(1, 22, 1), Icmpv6Code),
        (Nxm(1, 23, 16), Ipv6NdTarget), (Nxm(1, 24, 6), Ipv6NdSll), (Nxm(1, 25, 6), Ipv6NdTll), (Nxm(1, 27, 4), Ipv6Flabel),
        (Nxm(1, 28, 1), IpEcn), (Nxm(1, 29, 1), NxIpTtl),
    ];

    private static uint Nxm(uint cls, uint field, uint size) => cls << 16 | field << 9 | size;

    /// <summary>
    /// The field of an NXM or OXM <paramref name="header"/> (hasmask clear, its length the value's bytes) as an OXM field
    /// number or an NXM mark, and its value bits <paramref name="full"/>; <see cref="NoField"/> for one the switch does not know.
    /// </summary>
    private static byte FieldOf(uint header, out UInt128 full)
    {
        full = 0;
        byte field = NoField;
        if (header >> 16 == 0x8000)
        {
            byte f = (byte)((header >> 9) & 0x7f);
            if (f < Ofp13Match.FieldCount && (header & 0xff) == (uint)Ofp13Match.FieldLength(f)) field = f;
        }
        else
        {
            foreach (var (nxm, f) in s_nxm)
            {
                if (nxm == header) field = f;
            }
        }
        if (field != NoField) full = Width(field);
        return field;
    }

    /// <summary>The value bits of <paramref name="field"/> (an OXM field number or an NXM mark).</summary>
    private static UInt128 Width(byte field) => field is NxIpTtl or NxIpTos ? (UInt128)0xff : Ofp13Match.AllOnes(field);

    /// <summary>
    /// <paramref name="value"/> into <paramref name="field"/> as Open vSwitch's set_field_to_nxast writes it to an
    /// OpenFlow 1.0 peer: NXAST_REG_LOADs of the field's NXM header (else its OXM one), the low 64 bits first.
    /// </summary>
    private static int RegLoads(byte field, UInt128 value, out OfpAction first, out OfpAction second)
    {
        uint header = Nxm(0x8000, field, (uint)Ofp13Match.FieldLength(field));
        foreach (var (nxm, f) in s_nxm)
        {
            if (f == field) header = nxm;
        }
        int bits = 128 - (int)UInt128.LeadingZeroCount(Width(field));
        first = OfpAction.NxRegLoad(header, 0, Math.Min(bits, 64), (ulong)value);
        second = bits > 64 ? OfpAction.NxRegLoad(header, 64, bits - 64, (ulong)(value >> 64)) : default;
        return bits > 64 ? 2 : 1;
    }

    private static bool BadArgument(out OfpError error)
    {
        error = OfpError.BadAction(OfpBadActionCode.BadArgument);
        return false;
    }
}
