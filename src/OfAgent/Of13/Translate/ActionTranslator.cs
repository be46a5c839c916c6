using Softswitch.OfWire;
using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;
using static Softswitch.OfAgent.Of13.Translate.MatchTranslator;

namespace Softswitch.OfAgent.Of13.Translate;

/// <summary>
/// OpenFlow 1.3 actions to the OpenFlow layer's and back (flow-mods, packet-outs, group buckets; flow statistics and
/// group descriptions), set-field included (ovs lib/ofp-actions.c). The 1.3 side of <see cref="Of10.Translate.ActionTranslator"/>.
/// </summary>
/// <remarks>Stateless; explicit switches of named values, never numbers cast between versions.</remarks>
internal static class ActionTranslator
{
    /// <summary>1.3 actions to the model's (a group bucket's); false with the error (a set-field of a field that cannot be set); a resubmit is taken (the pipeline walk runs it, as Open vSwitch's xlate_group_bucket).</summary>
    /// <remarks><paramref name="maskedSetField"/>: OpenFlow 1.5's masked set-field is taken, as in a flow's list.</remarks>
    public static bool TryToOf(ReadOnlySpan<Ofp13Action> wire, out OfAction[] actions, out Ofp13Error error, bool maskedSetField = false)
        => TryToOf(wire, false, true, out actions, out error, maskedSetField: maskedSetField);

    /// <summary>A packet-out's actions: a bucket's, and a resubmit too (Open vSwitch runs a packet-out through the pipeline).</summary>
    public static bool TryPacketOutToOf(ReadOnlySpan<Ofp13Action> wire, out OfAction[] actions, out Ofp13Error error, bool maskedSetField = false)
        => TryToOf(wire, false, true, out actions, out error, maskedSetField: maskedSetField);

    /// <summary>
    /// A flow's apply-actions (<paramref name="flowApply"/>) or write-actions: a resubmit is taken in both, and a register
    /// load or move too (Open vSwitch's action set takes them; the register actions it does not take there are left to
    /// <see cref="NotInActionSet"/>).
    /// </summary>
    /// <remarks><paramref name="maskedSetField"/>: OpenFlow 1.5's masked set-field is taken (<see cref="TryMaskedSetField"/>);
    /// before 1.5 a mask is OFPBAC_BAD_SET_ARGUMENT, as it was.</remarks>
    public static bool TryToOf(ReadOnlySpan<Ofp13Action> wire, bool flowApply, out OfAction[] actions, out Ofp13Error error,
                               bool maskedSetField = false)
        => TryToOf(wire, flowApply, true, out actions, out error, actionSet: !flowApply, maskedSetField: maskedSetField);

    /// <summary>
    /// 1.3 actions to the model's, Nicira's experimenter actions included (the translation OpenFlow 1.0 gives the same
    /// bodies, <see cref="Of10.Translate.ActionTranslator.TryNiciraModel"/>): consecutive REG_LOADs that set one field
    /// whole are one set-field; a load of a field the switch cannot set (the registers among them) is BAD_SET_TYPE, as
    /// Open vSwitch answers a field it does not know; a load it cannot take whole BAD_ARGUMENT; a note is kept as it came.
    /// A resubmit (<c>resubmit:PORT</c>, <c>resubmit(PORT,TABLE)</c>) is served where <paramref name="resubmit"/> says (a
    /// flow's apply-actions, anywhere in the list, its write-actions, a packet-out, a group bucket); naming neither a
    /// port nor a table, it is BAD_ARGUMENT. An exit is served anywhere but in write-actions (<see cref="NotInActionSet"/>):
    /// in a packet-out's or a bucket's list it ends that list.
    /// </summary>
    private static bool TryToOf(ReadOnlySpan<Ofp13Action> wire, bool flowApply, bool resubmit, out OfAction[] actions, out Ofp13Error error,
                                bool actionSet = false, bool maskedSetField = false)
    {
        actions = wire.IsEmpty ? [] : new OfAction[wire.Length];
        error = default;
        int n = 0;
        var load = default(Of10.Translate.ActionTranslator.PendingLoad);
        for (int i = 0; i < wire.Length; i++)
        {
            var a = wire[i];
            // Nicira's actions, the ONF copy-field (a move) and 1.5's OFPAT_COPY_FIELD (a move too; taken only under 1.5,
            // which FlowModTranslator checks).
            bool sameLoad = a.Type == Ofp13ActionType.Experimenter && a.Nx.Subtype == NxActionSubtype.RegLoad && load.Gathers(a.Nx.FieldHeader);
            if (load.Header != 0 && !sameLoad && !Of10.Translate.ActionTranslator.TryFlushLoad(ref load, ref actions, ref n))
                return Fail(Ofp13Codes.ActionBadArgument, out error); // a load left part of a field set that the switch does not load part of
            if (a.Type is Ofp13ActionType.Experimenter or Ofp13ActionType.CopyField)
            {
                if (!TryNicira(a.Nx, flowApply, resubmit, ref load, out var item, out error)) return false;
                if (item is { } x)
                {
                    if (!flowApply && !actionSet && IsFlowOnly(x)) return Fail(Ofp13Codes.ActionBadArgument, out error);
                    actions[n++] = x;
                }
                continue;
            }
            // dp_hash is read-only: Open vSwitch's decode_ofpat_set_field refuses a field that is not writable so.
            if (a.Type == Ofp13ActionType.SetField && a.Field.Field == Ofp13Match.NxDpHash) return Fail(Ofp13Codes.ActionBadSetArgument, out error);
            bool underFieldBits = false;
            if (a.Type == Ofp13ActionType.SetField && a.Field.HasMask)
            {
                if (maskedSetField && PacketFieldSetField(a.Field) is { } part)
                {
                    actions[n++] = part;
                    continue;
                }
                if (maskedSetField && TrySeveralRuns(a.Field, ref load)) continue; // its loads written at the next action
                underFieldBits = UnderFieldBits(a.Field);
                if (!maskedSetField || !TryMaskedSetField(a.Field, out a)) return Fail(Ofp13Codes.ActionBadSetArgument, out error);
            }
            OfAction? o = a.Type switch
            {
                Ofp13ActionType.Output => OfAction.Output(a.Arg, a.MaxLen),
                Ofp13ActionType.CopyTtlOut => OfAction.CopyTtlOut(),
                Ofp13ActionType.CopyTtlIn => OfAction.CopyTtlIn(),
                Ofp13ActionType.SetMplsTtl => OfAction.SetMplsTtl((byte)a.Arg),
                // OpenFlow 1.1's, as Open vSwitch takes them: its set_mpls_label and set_mpls_tc, written back as set-field.
                Ofp13ActionType.SetMplsLabel => OfAction.SetMplsLabel(a.Arg),
                Ofp13ActionType.SetMplsTc => OfAction.SetMplsTc((byte)a.Arg),
                Ofp13ActionType.DecMplsTtl => OfAction.DecMplsTtl(),
                Ofp13ActionType.PushVlan => OfAction.PushVlan((ushort)a.Arg),
                Ofp13ActionType.PopVlan => OfAction.PopVlan(),
                Ofp13ActionType.PushMpls => OfAction.PushMpls((ushort)a.Arg),
                Ofp13ActionType.PopMpls => OfAction.PopMpls((ushort)a.Arg),
                Ofp13ActionType.SetQueue => OfAction.SetQueue(a.Arg),
                Ofp13ActionType.Group => OfAction.Group(a.Arg),
                Ofp13ActionType.SetNwTtl => OfAction.SetNwTtl((byte)a.Arg),
                Ofp13ActionType.DecNwTtl => OfAction.DecNwTtl(),
                Ofp13ActionType.PushPbb => OfAction.PushPbb((ushort)a.Arg),
                Ofp13ActionType.PopPbb => OfAction.PopPbb(),
                Ofp13ActionType.SetField when Ofp13Match.IsRegister(a.Field.Field) || a.Field.Field == Ofp13Match.NxPktMark => RegisterSetField(a.Field),
                // Open vSwitch's set_field of vlan_tci (NXM_OF_VLAN_TCI), which the switch loads as a field of its own.
                Ofp13ActionType.SetField when a.Field.Field == Ofp13Match.NxVlanTci
                    => OfAction.FieldLoad(new OfSubfield(OfField.VlanTci, 0, 16), a.Field.Value & 0xffff),
                Ofp13ActionType.SetField => AsSetField(SetField(a.Field)),
                _ => null,
            };
            // A set-field under the mask of its field's bits (1.5) is a load of the whole field, as Open vSwitch writes it back.
            if (underFieldBits && o is { } whole)
                o = whole.WrittenAs(a.Field.Field == IpDscp ? (byte)(OfAction.LoadFormRegLoad | OfAction.LoadFormOxmName) : OfAction.LoadFormRegLoad);
            if (o is not { } action)
            {
                error = Ofp13Error.BadAction(a.Type == Ofp13ActionType.SetField ? Ofp13Codes.ActionBadSetType : Ofp13Codes.ActionBadType);
                return false;
            }
            if (!flowApply && !actionSet && IsFlowOnly(action)) return Fail(Ofp13Codes.ActionBadArgument, out error);
            actions[n++] = action;
        }
        if (load.Header != 0 && !Of10.Translate.ActionTranslator.TryFlushLoad(ref load, ref actions, ref n)) return Fail(Ofp13Codes.ActionBadArgument, out error);
        if (n != actions.Length) actions = actions[..n];
        return true;
    }

    /// <summary>
    /// OpenFlow 1.5's form of <paramref name="wire"/> (written by <see cref="ToWire"/>): each move (NXAST_REG_MOVE) as
    /// OFPAT_COPY_FIELD, the same fields, offsets and width, as Open vSwitch's encode_REG_MOVE writes it from 1.5 on.
    /// </summary>
    /// <summary>
    /// OpenFlow 1.5's form of <paramref name="wire"/>: <see cref="MovesAsCopyFields"/>, and each load of a register or
    /// pkt_mark (NXAST_REG_LOAD, REG_LOAD2, which Open vSwitch defines up to 1.4 only) as OFPAT_SET_FIELD, masked when it
    /// loads part of the field, as Open vSwitch's encode_SET_FIELD writes it from 1.5 on.
    /// </summary>
    public static void As15(List<Ofp13Action> wire)
    {
        MovesAsCopyFields(wire);
        for (int i = 0; i < wire.Count; i++)
        {
            var a = wire[i];
            if (a.Type == Ofp13ActionType.Experimenter && a.Arg == NxAction.VendorId && SetField15(a.Nx) is { } set) wire[i] = set;
        }
    }

    /// <summary>
    /// A load (NXAST_REG_LOAD, REG_LOAD2) as OpenFlow 1.5's set-field, masked when it loads part of the field: of a packet
    /// field's OXM, or of a register's, pkt_mark's, or vlan_tci's, nw_ttl's or nw_tos's under its NXM header (which
    /// have no OXM, as Open vSwitch writes them: set_field:5/0xf->nw_ttl); null for another action or field.
    /// </summary>
    private static Ofp13Action? SetField15(in NxAction nx)
    {
        if (nx.Subtype is not (NxActionSubtype.RegLoad or NxActionSubtype.RegLoad2)) return null;
        uint oxm = Of10.Translate.ActionTranslator.OxmHeaderOf(nx.FieldHeader);
        if (oxm != 0)
        {
            // A load of part of a packet field: 1.5's masked set-field of the field's OXM.
            byte pf = (byte)((oxm >> 9) & 0x7f);
            UInt128 whole = Ofp13Match.AllOnes(pf);
            return Ofp13Action.SetField(new Ofp13Oxm(pf, (nx.Mask & whole) != whole, nx.Value & nx.Mask & whole, nx.Mask & whole));
        }
        byte x = Ofp13Match.FieldOf((ushort)(nx.FieldHeader >> 16), (byte)((nx.FieldHeader >> 9) & 0x7f));
        if (!Ofp13Match.IsRegister(x) && x is not (Ofp13Match.NxPktMark or Ofp13Match.NxVlanTci or Ofp13Match.NxIpTtl or Ofp13Match.NxIpTos)) return null;
        UInt128 all = Ofp13Match.AllOnes(x);
        return Ofp13Action.SetField(new Ofp13Oxm(x, (nx.Mask & all) != all, nx.Value & nx.Mask & all, nx.Mask & all));
    }

    public static void MovesAsCopyFields(List<Ofp13Action> wire)
    {
        for (int i = 0; i < wire.Count; i++)
        {
            var a = wire[i];
            if (a.Type == Ofp13ActionType.Experimenter && a.Arg == NxAction.VendorId && a.Nx.Subtype == NxActionSubtype.RegMove)
                wire[i] = Ofp13Action.CopyField(a.Nx);
        }
    }

    /// <summary>
    /// An action Open vSwitch does not take in an action set (ofp-actions.c action_set_classify's ACTION_SLOT_INVALID
    /// among those the switch keeps: a note, a controller action, an exit, a clone, output:REG, a learn, a multipath);
    /// write-actions holding one is OFPBAC_BAD_TYPE, as Open vSwitch answers. Register loads and moves it takes.
    /// </summary>
    public static bool NotInActionSet(ReadOnlySpan<OfAction> actions)
    {
        foreach (var a in actions)
        {
            if (a.Type is OfActionType.Note or OfActionType.Controller or OfActionType.Exit or OfActionType.Clone or OfActionType.Multipath
                or OfActionType.Bundle or OfActionType.FinTimeout or OfActionType.OutputField or OfActionType.Learn or OfActionType.Sample)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// A register action or a learn: only the pipeline walk runs them, for a flow's apply-actions and action set (in a
    /// packet-out or a group bucket they are BAD_ARGUMENT; in write-actions a load or a move is taken, the others are
    /// <see cref="NotInActionSet"/>). A bundle and a fin_timeout run in a packet-out and a bucket
    /// too (a bundle_load there into a packet field only: the compiler's check).
    /// </summary>
    /// <summary>
    /// A register action a packet-out's or a bucket's list does not take: every one but a load into a packet field, which
    /// the pipeline walk composes there too (Open vSwitch runs a packet-out's and a bucket's actions as a flow's).
    /// </summary>
    private static bool IsFlowOnly(in OfAction a)
        => a.Type is OfActionType.FieldMove or OfActionType.OutputField or OfActionType.Learn or OfActionType.Multipath
           || (a.Type == OfActionType.FieldLoad && !OfSubfield.IsPacketField(a.LoadDst.Field));

    private static bool TryNicira(in NxAction nx, bool flowApply, bool resubmit, ref Of10.Translate.ActionTranslator.PendingLoad load,
                                  out OfAction? item, out Ofp13Error error)
    {
        item = null;
        error = default;
        if (nx.Subtype is NxActionSubtype.Resubmit or NxActionSubtype.ResubmitTable)
        {
            // resubmit(,) names nothing to look up (Open vSwitch refuses it too).
            if (!resubmit || (nx.InPort == NxAction.InPortOwn && nx.Table == 0xff)) return Fail(Ofp13Codes.ActionBadArgument, out error);
            item = OfAction.Resubmit(nx.Table, nx.InPort == NxAction.InPortOwn ? OfPort.InPort : Of10.Translate.WireMap.ToOfPort(nx.InPort));
            return true;
        }
        if (nx.Subtype == NxActionSubtype.Exit)
        {
            item = OfAction.Exit(); // anywhere but write-actions (NotInActionSet)
            return true;
        }
        if (nx.Subtype == NxActionSubtype.Clone)
        {
            // Its bytes are a 1.3 action list, translated where the clone stands (Open vSwitch's decode_NXAST_RAW_CLONE).
            var list = new List<Ofp13Action>();
            if (!Ofp13Actions.TryDecode(nx.Nested ?? [], list, out error)) return false;
            if (!TryToOf(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list), flowApply, resubmit, out var nested, out error)) return false;
            item = OfAction.CloneOf(nested);
            return true;
        }
        if (Of10.Translate.ActionTranslator.TryNiciraModel(nx, ref load, out item, out var why)) return true;
        if (why == Of10.Translate.ActionTranslator.NxRefusal.BadField)
        {
            error = Ofp13Error.BadMatch(Ofp13Codes.MatchBadField); // as Open vSwitch's nx_pull_header
            return false;
        }
        return Fail(why switch
        {
            Of10.Translate.ActionTranslator.NxRefusal.UnknownField => Ofp13Codes.ActionBadSetType,
            Of10.Translate.ActionTranslator.NxRefusal.Unsupported => Ofp13Codes.ActionBadExpType,
            Of10.Translate.ActionTranslator.NxRefusal.BadSetLen => Ofp13Codes.ActionBadSetLen,
            Of10.Translate.ActionTranslator.NxRefusal.NotWritable => Ofp13Codes.ActionBadSetArgument,
            _ => Ofp13Codes.ActionBadArgument,
        }, out error);
    }

    /// <summary>
    /// A set-field of a register (OXM_OF_PKT_REG or an NXM register header in OFPAT_SET_FIELD): a load of the whole view,
    /// or under OpenFlow 1.5 with a mask of one run of bits, a load of those bits (written back as Open vSwitch writes a
    /// load of part of a register: REG_LOAD or REG_LOAD2, which ovs-ofctl shows as the same <c>load:</c>).
    /// </summary>
    private static OfAction RegisterSetField(in Ofp13Oxm f)
    {
        var (field, bits) = RegisterOf(f.Field);
        if (!f.HasMask) return OfAction.FieldLoad(new OfSubfield(field, 0, bits), f.Value);
        int ofs = (int)UInt128.TrailingZeroCount(f.Mask), n = (int)UInt128.PopCount(f.Mask);
        return OfAction.FieldLoad(new OfSubfield(field, ofs, n), (f.Value & f.Mask) >> ofs);
    }

    /// <summary>The register view (and its width) of OXM field <paramref name="x"/>, a register's or pkt_mark's.</summary>
    private static (OfField Field, int Bits) RegisterOf(int x)
        => x == Ofp13Match.NxPktMark ? (OfField.PktMark, 32)
            : x < Ofp13Match.PktReg0 ? ((OfField)((int)OfField.Reg0 + x - Ofp13Match.NxReg0), 32)
            : x < Ofp13Match.NxXxReg0 ? ((OfField)((int)OfField.XReg0 + x - Ofp13Match.PktReg0), 64)
            : ((OfField)((int)OfField.XXReg0 + x - Ofp13Match.NxXxReg0), 128);

    /// <summary>
    /// OpenFlow 1.5's masked set-field under a mask of several runs of bits, of a register, pkt_mark or a packet field the
    /// switch loads part of: one load pending in <paramref name="load"/>, written at the next action as a load per run
    /// (<see cref="Of10.Translate.ActionTranslator.TryJoinedLoad"/>), as Open vSwitch's decode_ofpat_set_field keeps any
    /// mask. False: another field or mask (refused as before).
    /// </summary>
    private static bool TrySeveralRuns(in Ofp13Oxm f, ref Of10.Translate.ActionTranslator.PendingLoad load)
    {
        if (f.Field >= Ofp13Match.FieldCount && !Ofp13Match.IsRegister(f.Field) && f.Field != Ofp13Match.NxPktMark) return false;
        UInt128 m = f.Mask & Ofp13Match.AllOnes(f.Field);
        if (m != f.Mask || Of10.Translate.ActionTranslator.Runs(m) < 2) return false;
        OfField field;
        if (Ofp13Match.IsRegister(f.Field) || f.Field == Ofp13Match.NxPktMark)
        {
            field = RegisterOf(f.Field).Field;
        }
        else
        {
            uint header = 0x8000u << 16 | (uint)f.Field << 9 | (uint)Ofp13Match.FieldLength(f.Field);
            if (Of10.Translate.ActionTranslator.FieldOfHeader(header) is not { } pf || OfSubfield.IsRegister(pf) || !OfSubfield.IsWritable(pf)) return false;
            field = pf;
        }
        return Of10.Translate.ActionTranslator.TryJoinedLoad(field, f.Value, m, OfAction.LoadFormSetField, ref load, out _);
    }

    /// <summary>
    /// OpenFlow 1.5's masked set-field of part of a packet field the switch writes, under a mask of one run of bits: a
    /// load of those bits, which the pipeline walk writes into the packet (null: another field, or another mask).
    /// </summary>
    private static OfAction? PacketFieldSetField(in Ofp13Oxm f)
    {
        // nw_ttl and nw_tos have no OXM: Open vSwitch writes them under their NXM headers (set_field:5/0xf->nw_ttl).
        if (Ofp13Match.IsRegister(f.Field) || f.Field == Ofp13Match.NxPktMark) return null;
        if (f.Field >= Ofp13Match.FieldCount && f.Field is not (Ofp13Match.NxIpTtl or Ofp13Match.NxIpTos)) return null;
        var (cls, wireField) = Ofp13Match.WireOf(f.Field);
        uint header = (uint)cls << 16 | (uint)wireField << 9 | (uint)Ofp13Match.FieldLength(f.Field);
        if (Of10.Translate.ActionTranslator.FieldOfHeader(header) is not { } field || OfSubfield.IsRegister(field) || !OfSubfield.IsWritable(field))
            return null;
        UInt128 all = Ofp13Match.AllOnes(f.Field), m = f.Mask & all;
        if (m == 0 || m == all || m != f.Mask) return null;
        int ofs = (int)UInt128.TrailingZeroCount(m), n = (int)UInt128.PopCount(m);
        if ((m >> ofs) != (n == 128 ? UInt128.MaxValue : (UInt128.One << n) - 1)) return null; // one run of bits
        var dst = new OfSubfield(field, ofs, n);
        return dst.IsValid ? OfAction.FieldLoad(dst, (f.Value & m) >> ofs) : null;
    }

    /// <summary>
    /// OpenFlow 1.5's masked set-field (Open vSwitch's decode_ofpat_set_field with may_mask): a register's or pkt_mark's
    /// under a mask of one run of bits is a load of those bits (<see cref="RegisterSetField"/>); a packet field's under
    /// its whole width is the plain set-field. Other masks (none, part of a packet field, which the datapath's set-fields
    /// do not write; several runs, which <see cref="TrySeveralRuns"/> takes first where it can) are refused.
    /// </summary>
    private static bool TryMaskedSetField(in Ofp13Oxm f, out Ofp13Action action)
    {
        action = default;
        UInt128 all = Ofp13Match.AllOnes(f.Field), m = f.Mask & all;
        if (m == 0 || m != f.Mask) return false;
        if (Ofp13Match.IsRegister(f.Field) || f.Field == Ofp13Match.NxPktMark)
        {
            int ofs = (int)UInt128.TrailingZeroCount(m), n = (int)UInt128.PopCount(m);
            if ((m >> ofs) != (n == 128 ? UInt128.MaxValue : (UInt128.One << n) - 1)) return false; // one run of bits
            action = Ofp13Action.SetField(m == all ? f with { HasMask = false } : f);
            return true;
        }
        if (m != all) return false;
        action = Ofp13Action.SetField(f with { HasMask = false });
        return true;
    }

    /// <summary>
    /// Whether OpenFlow 1.5's masked set-field <paramref name="f"/> of a packet field is under the mask of exactly its
    /// field's bits where they do not fill its bytes (ipv6_label's 20 of 32): Open vSwitch keeps that mask, so the action
    /// reads back as a load would (a masked set_field in 1.5, a load before). Not vlan_vid, whose 13 bits mean another thing.
    /// </summary>
    private static bool UnderFieldBits(in Ofp13Oxm f)
    {
        if (f.Field >= Ofp13Match.FieldCount || f.Field == VlanVid) return false;
        var bits = Ofp13Match.AllOnes(f.Field);
        return f.Mask == bits && bits != NxAction.AllOnes(8 * Ofp13Match.FieldLength(f.Field));
    }

    /// <summary>The OXM entry (its NXM or OXM register header; vlan_tci's NXM one) a whole-register set-field writes.</summary>
    private static Ofp13Oxm RegisterOxm(in OfAction a)
    {
        int f = (int)a.LoadDst.Field;
        if (a.LoadDst.Field == OfField.PktMark) return new Ofp13Oxm(Ofp13Match.NxPktMark, false, a.Wide, uint.MaxValue);
        if (a.LoadDst.Field == OfField.VlanTci) return new Ofp13Oxm(Ofp13Match.NxVlanTci, false, a.Wide, ushort.MaxValue);
        byte x = f <= (int)OfField.Reg15 ? (byte)(Ofp13Match.NxReg0 + f - (int)OfField.Reg0)
            : f <= (int)OfField.XReg7 ? (byte)(Ofp13Match.PktReg0 + f - (int)OfField.XReg0)
            : (byte)(Ofp13Match.NxXxReg0 + f - (int)OfField.XXReg0);
        return new Ofp13Oxm(x, false, a.Wide, Ofp13Match.AllOnes(x));
    }

    /// <summary>A clone as 1.3 carries it: NXAST_CLONE around its actions' 1.3 form.</summary>
    private static NxAction CloneNx(in OfAction a, bool ipv6)
    {
        var list = new List<Ofp13Action>();
        ToWire(a.Nested ?? [], ipv6, list);
        var w = new Ofp13Writer(Ofp13Actions.EncodedSize(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list)));
        Ofp13Actions.Encode(w, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list));
        return NxAction.CloneOf(w.ToArray());
    }

    /// <summary>A resubmit as Open vSwitch writes it: NXAST_RESUBMIT for "this table" (<c>resubmit:PORT</c>), else NXAST_RESUBMIT_TABLE.</summary>
    internal static NxAction ResubmitOf(in OfAction a)
    {
        ushort port = a.Port == OfPort.InPort ? NxAction.InPortOwn : Of10.Translate.WireMap.ToWirePort(a.Port);
        return a.QueueId == 0xff ? new NxAction(NxActionSubtype.Resubmit, InPort: port, Table: 0xff)
                                 : new NxAction(NxActionSubtype.ResubmitTable, InPort: port, Table: (byte)a.QueueId);
    }

    private static bool Fail(ushort code, out Ofp13Error error)
    {
        error = Ofp13Error.BadAction(code);
        return false;
    }

    /// <summary>A set-field as the model's action; null for a field no action sets (in_port, in_phy_port, metadata, ipv6_exthdr).</summary>
    internal static OfAction? SetField(in Ofp13Oxm f)
    {
        ulong v = (ulong)f.Value;
        return f.Field switch
        {
            EthDst => OfAction.SetEthDst(v),
            EthSrc => OfAction.SetEthSrc(v),
            EthType => OfAction.SetEthType((ushort)v),
            IpProto => OfAction.SetIpProto((byte)v),
            // The value may carry OFPVID_PRESENT (ovs-ofctl sends it, the spec's examples do) or not (Ryu's users often omit it).
            VlanVid => OfAction.SetVlanVid((ushort)(v & 0xfff)),
            VlanPcp => OfAction.SetVlanPcp((byte)v),
            IpDscp => OfAction.SetNwTos((byte)(v << 2)),
            IpEcn => OfAction.SetIpEcn((byte)v),
            Ipv4Src => OfAction.SetNwSrc((uint)v),
            Ipv4Dst => OfAction.SetNwDst((uint)v),
            TcpSrc => OfAction.SetTpSrc((ushort)v, Tcp),
            UdpSrc => OfAction.SetTpSrc((ushort)v, Udp),
            SctpSrc => OfAction.SetTpSrc((ushort)v, Sctp),
            TcpDst => OfAction.SetTpDst((ushort)v, Tcp),
            UdpDst => OfAction.SetTpDst((ushort)v, Udp),
            SctpDst => OfAction.SetTpDst((ushort)v, Sctp),
            Icmpv4Type or Icmpv6Type => OfAction.SetIcmpType((byte)v, f.Field == Icmpv6Type),
            Icmpv4Code or Icmpv6Code => OfAction.SetIcmpCode((byte)v, f.Field == Icmpv6Code),
            ArpOp => OfAction.SetArpOp((ushort)v),
            ArpSpa => OfAction.SetArpSpa((uint)v),
            ArpTpa => OfAction.SetArpTpa((uint)v),
            ArpSha => OfAction.SetArpSha(v),
            ArpTha => OfAction.SetArpTha(v),
            Ipv6Src => OfAction.SetIpv6Src(f.Value),
            Ipv6Dst => OfAction.SetIpv6Dst(f.Value),
            Ipv6Flabel => OfAction.SetIpv6Flabel((uint)v),
            Ipv6NdTarget => OfAction.SetNdTarget(f.Value),
            Ipv6NdSll => OfAction.SetNdSll(v),
            Ipv6NdTll => OfAction.SetNdTll(v),
            MplsLabel => OfAction.SetMplsLabel((uint)v),
            MplsTc => OfAction.SetMplsTc((byte)v),
            MplsBos => OfAction.SetMplsBos((byte)v),
            PbbIsid => OfAction.SetPbbIsid((uint)v),
            TunnelId => OfAction.SetTunnel(v),
            // Open vSwitch's set_field of nw_ttl and nw_tos under their NXM headers: the same sets, written back so.
            Ofp13Match.NxIpTtl => OfAction.SetNwTtl((byte)v).WrittenAs(OfAction.LoadFormNxSetField),
            Ofp13Match.NxIpTos when (v & 3) == 0 => OfAction.SetNwTos((byte)v).WrittenAs(OfAction.LoadFormNxSetField),
            _ => null,
        };
    }

    /// <summary>
    /// <paramref name="set"/>, decoded from an OFPAT_SET_FIELD, marked so when its field has an action of its own
    /// (<see cref="OfAction.LoadFormOfpSetField"/>: the MPLS label and TC, the tunnel id), which 1.0 reads back apart.
    /// </summary>
    private static OfAction? AsSetField(OfAction? set)
        => set is { Type: OfActionType.SetMplsLabel or OfActionType.SetMplsTc or OfActionType.SetTunnel } a ? a.WrittenAs(OfAction.LoadFormOfpSetField) : set;

    /// <summary>
    /// The model's actions as 1.3 writes them (flow statistics, group descriptions); <paramref name="ipv6"/>: the flow
    /// matches IPv6, so ICMP type/code are ICMPv6's. OpenFlow 1.0's ENQUEUE is set_queue then output.
    /// </summary>
    public static void ToWire(ReadOnlySpan<OfAction> actions, bool ipv6, List<Ofp13Action> into, bool of15 = false)
    {
        for (int i = 0; i < actions.Length; i++)
        {
            var a = actions[i];
            // A load under a mask of several runs (its runs joined) goes back whole: 1.5's masked set-field, or up to 1.4
            // the REG_LOAD2 it came as; one that came as 1.5's set-field goes up to 1.4 as a REG_LOAD per run, as Open
            // vSwitch's set_field_to_nxast writes it (below, load by load).
            int joined = Of10.Translate.ActionTranslator.JoinedCount(actions, i);
            if (joined > 1 && (of15 || Of10.Translate.ActionTranslator.JoinedAsLoad2(a)))
            {
                var load2 = Of10.Translate.ActionTranslator.JoinedLoad2(actions.Slice(i, joined));
                into.Add(of15 && SetField15(load2) is { } set ? set : Ofp13Action.Nicira(load2));
                i += joined - 1;
                continue;
            }
            // A field set written as a load goes back as it came up to 1.4; 1.5 has set-field alone (Open vSwitch's
            // encode_SET_FIELD); a set-field of nw_ttl or nw_tos under its NXM header stays one.
            if ((of15 || a.SetFieldKind == OfAction.LoadFormNxSetField) && Of10.Translate.ActionTranslator.LoadedSetField(a) is { } loaded)
            {
                into.Add(Ofp13Action.SetField(loaded));
                continue;
            }
            if (!of15)
            {
                int loads = Of10.Translate.ActionTranslator.FieldLoads(a, out var load1, out var load2);
                if (loads > 0)
                {
                    into.Add(Ofp13Action.Nicira(load1));
                    if (loads > 1) into.Add(Ofp13Action.Nicira(load2));
                    continue;
                }
            }
            switch (a.Type)
            {
                case OfActionType.Output: into.Add(Ofp13Action.Output(a.Port, a.MaxLen)); break;
                case OfActionType.Enqueue:
                    into.Add(new(Ofp13ActionType.SetQueue, a.QueueId));
                    into.Add(Ofp13Action.Output(a.Port));
                    break;
                case OfActionType.SetQueue: into.Add(new(Ofp13ActionType.SetQueue, a.QueueId)); break;
                case OfActionType.Group: into.Add(new(Ofp13ActionType.Group, a.QueueId)); break;
                case OfActionType.PopVlan: into.Add(new(Ofp13ActionType.PopVlan)); break;
                case OfActionType.PushVlan: into.Add(new(Ofp13ActionType.PushVlan, (uint)a.Value)); break;
                case OfActionType.PushMpls: into.Add(new(Ofp13ActionType.PushMpls, (uint)a.Value)); break;
                case OfActionType.PopMpls: into.Add(new(Ofp13ActionType.PopMpls, (uint)a.Value)); break;
                case OfActionType.PushPbb: into.Add(new(Ofp13ActionType.PushPbb, (uint)a.Value)); break;
                case OfActionType.PopPbb: into.Add(new(Ofp13ActionType.PopPbb)); break;
                case OfActionType.SetMplsTtl: into.Add(new(Ofp13ActionType.SetMplsTtl, (uint)a.Value)); break;
                case OfActionType.DecMplsTtl: into.Add(new(Ofp13ActionType.DecMplsTtl)); break;
                case OfActionType.SetNwTtl: into.Add(new(Ofp13ActionType.SetNwTtl, (uint)a.Value)); break;
                case OfActionType.DecNwTtl when a.TtlControllerIds is { } ids: into.Add(Ofp13Action.Nicira(NxAction.DecTtlIds(ids))); break;
                case OfActionType.DecNwTtl: into.Add(new(Ofp13ActionType.DecNwTtl)); break;
                case OfActionType.CopyTtlOut: into.Add(new(Ofp13ActionType.CopyTtlOut)); break;
                case OfActionType.CopyTtlIn: into.Add(new(Ofp13ActionType.CopyTtlIn)); break;
                case OfActionType.Resubmit: into.Add(Ofp13Action.Nicira(ResubmitOf(a))); break;
                case OfActionType.Exit: into.Add(Ofp13Action.Nicira(new NxAction(NxActionSubtype.Exit))); break;
                case OfActionType.Clone: into.Add(Ofp13Action.Nicira(CloneNx(a, ipv6))); break;
                case OfActionType.Multipath: into.Add(Ofp13Action.Nicira(Of10.Translate.ActionTranslator.MultipathNx(a))); break;
                case OfActionType.Bundle: into.Add(Ofp13Action.Nicira(Of10.Translate.ActionTranslator.BundleNx(a))); break;
                case OfActionType.FinTimeout: into.Add(Ofp13Action.Nicira(Of10.Translate.ActionTranslator.FinTimeoutNx(a))); break;
                case OfActionType.Sample: into.Add(Ofp13Action.Nicira(Of10.Translate.ActionTranslator.SampleNx(a))); break;
                case OfActionType.Conjunction: into.Add(Ofp13Action.Nicira(NxAction.Conjunction(a.QueueId, a.ConjClause, a.ConjClauses))); break;
                case OfActionType.Learn: into.Add(Ofp13Action.Nicira(Of10.Translate.ActionTranslator.LearnNx(a))); break;
                case OfActionType.Note: into.Add(Ofp13Action.Nicira(new NxAction(NxActionSubtype.Note, Note: a.Data))); break;
                case OfActionType.Controller: into.Add(Ofp13Action.Nicira(Of10.Translate.ActionTranslator.ControllerOf(a))); break;
                case OfActionType.FieldMove or OfActionType.OutputField:
                    into.Add(Ofp13Action.Nicira(Of10.Translate.ActionTranslator.RegisterNx(a)));
                    break;
                case OfActionType.FieldLoad:
                    // As Open vSwitch's encode_SET_FIELD: a set_field of a whole register stays one; a load goes back as
                    // it came (REG_LOAD, REG_LOAD2), and so does a set_field of part of one.
                    if (a.LoadForm == OfAction.LoadFormSetField && a.LoadDst.IsWhole)
                    {
                        into.Add(Ofp13Action.SetField(RegisterOxm(a)));
                    }
                    else
                    {
                        int k = Of10.Translate.ActionTranslator.RegisterLoads(a, out var lo, out var hi);
                        into.Add(Ofp13Action.Nicira(lo));
                        if (k > 1) into.Add(Ofp13Action.Nicira(hi));
                    }
                    break;
                default:
                    if (SetFieldOf(a, ipv6) is { } f) into.Add(Ofp13Action.SetField(f));
                    break;
            }
        }
    }

    /// <summary>The OXM a set-field action writes (null for other actions); <paramref name="ipv6"/>: ICMP type/code are ICMPv6's.</summary>
    internal static Ofp13Oxm? SetFieldOf(in OfAction a, bool ipv6)
    {
        ulong v = a.Value;
        (byte field, UInt128 value) = a.Type switch
        {
            OfActionType.SetEthDst => (EthDst, v),
            OfActionType.SetEthSrc => (EthSrc, v),
            OfActionType.SetEthType => (EthType, v),
            OfActionType.SetIpProto => (IpProto, v),
            OfActionType.SetVlanVid => (VlanVid, v | Ofp13.VidPresent),
            OfActionType.SetVlanPcp => (VlanPcp, v),
            OfActionType.SetNwTos => (IpDscp, v >> 2),
            OfActionType.SetIpEcn => (IpEcn, v),
            OfActionType.SetNwSrc => (Ipv4Src, v),
            OfActionType.SetNwDst => (Ipv4Dst, v),
            OfActionType.SetTpSrc => (a.TpProto switch { Udp => UdpSrc, Sctp => SctpSrc, _ => TcpSrc }, v),
            OfActionType.SetTpDst => (a.TpProto switch { Udp => UdpDst, Sctp => SctpDst, _ => TcpDst }, v),
            OfActionType.SetIcmpType => (ipv6 || a.IsIcmpv6 ? Icmpv6Type : Icmpv4Type, v),
            OfActionType.SetIcmpCode => (ipv6 || a.IsIcmpv6 ? Icmpv6Code : Icmpv4Code, v),
            OfActionType.SetArpOp => (ArpOp, v),
            OfActionType.SetArpSpa => (ArpSpa, v),
            OfActionType.SetArpTpa => (ArpTpa, v),
            OfActionType.SetArpSha => (ArpSha, v),
            OfActionType.SetArpTha => (ArpTha, v),
            OfActionType.SetIpv6Src => (Ipv6Src, a.Wide),
            OfActionType.SetIpv6Dst => (Ipv6Dst, a.Wide),
            OfActionType.SetIpv6Flabel => (Ipv6Flabel, v),
            OfActionType.SetNdTarget => (Ipv6NdTarget, a.Wide),
            OfActionType.SetNdSll => (Ipv6NdSll, v),
            OfActionType.SetNdTll => (Ipv6NdTll, v),
            OfActionType.SetMplsLabel => (MplsLabel, v),
            OfActionType.SetMplsTc => (MplsTc, v),
            OfActionType.SetMplsBos => (MplsBos, v),
            OfActionType.SetPbbIsid => (PbbIsid, v),
            OfActionType.SetTunnel => (TunnelId, v),
            _ => ((byte)0xff, UInt128.Zero),
        };
        return field == 0xff ? null : Ofp13Oxm.Exact(field, value);
    }
}
