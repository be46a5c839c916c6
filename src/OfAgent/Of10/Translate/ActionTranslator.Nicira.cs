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
/// NXAST_REG_LOAD2 sets its field whole, or the bits its mask covers (a load per run of them, joined as one:
/// <see cref="TryJoinedLoad"/>). A field left part set that no load writes part of, or one no action sets, is OFPBAC_BAD_ARGUMENT. Fields
/// are named by NXM header (Open vSwitch's NXM_OF_* and NXM_NX_* of the fields the switch sets, nw_ttl and the ToS
/// byte included) or OXM header.</para>
/// <para>Registers (reg0-15, xreg0-7, xxreg0-3; Open vSwitch's NXM_NX_REG*, OXM_OF_PKT_REG*, NXM_NX_XXREG*): a REG_LOAD
/// or REG_LOAD2 of one, any bit range, is a register load (how it was written kept, to be written back the same way);
/// NXAST_REG_MOVE copies bits between registers and packet fields (<see cref="OfField"/>: in_port, metadata,
/// tun_id, the Ethernet, IPv4, TCP, UDP, SCTP, IPv6 addresses and ports, ARP's); NXAST_OUTPUT_REG and OUTPUT_REG2 output
/// to the port a field's bits hold. As Open vSwitch refuses them: a field it does not know in a move or output_reg
/// (OFPBMC_BAD_FIELD), a range past its field's width (OFPBAC_BAD_SET_LEN), a move into a field it does not write
/// (OFPBAC_BAD_SET_ARGUMENT); OpenFlow 1.0, which has none of these codes, answers BAD_ARGUMENT, and BAD_FIELD as Open
/// vSwitch encodes it there (OFPET_BAD_REQUEST, code 258).</para>
/// <para>resubmit(,TABLE) is a goto-table only where the switch writes it: last in a flow-mod's list, the packet's own
/// in_port (OFPP_IN_PORT), a table after 0 other than 255 (Open vSwitch's "this table"). Any other resubmit in a
/// flow-mod's or a packet-out's list (and their clones), NXAST_RESUBMIT too, is the model's resubmit, which the
/// pipeline walk runs where it stands, as in 1.3; in a group bucket, or naming neither a port nor a table
/// (<c>resubmit(,)</c>), it is OFPBAC_BAD_ARGUMENT. An exit is the model's exit wherever it stands. A note (NXAST_NOTE)
/// is kept, its bytes as they came (padding included), and given back in flow statistics; it does nothing to the packet.
/// NXAST_CONTROLLER is the model's controller action (reason, max_len, controller id); any reason of Open vSwitch's
/// (no_match to packet_out: 1.4's three go to 1.0 and 1.3 as action), a byte past them BAD_ARGUMENT. NXAST_CONTROLLER2 is the same action with its userdata (carried
/// to NXT_PACKET_IN2); with pause (continuations) or a meter, which the switch does not run, it is refused as an
/// unsupported action (1.0 BAD_VENDOR_TYPE, 1.3 BAD_EXP_TYPE).</para>
/// <para>OpenFlow 1.3's experimenter actions carry the same bodies and take the same translation
/// (<see cref="TryNiciraModel"/>), with 1.3's errors; 1.3 runs a resubmit in the datapath wherever it stands in a flow's list.</para>
/// </remarks>
public static partial class ActionTranslator
{
    // Marks for the NXM fields OpenFlow 1.3 has no OXM for.
    private const byte NxIpTtl = 0xf0, NxIpTos = 0xf1, NoField = 0xff;

    /// <summary>
    /// The bits of one field that consecutive REG_LOADs have set so far (Header 0: none), or one load under a mask of
    /// several runs of bits (<see cref="Joined"/>: a REG_LOAD2 or 1.5's masked set-field, <see cref="Form"/> how it came),
    /// which no load after it joins.
    /// </summary>
    internal struct PendingLoad
    {
        public uint Header;
        public UInt128 Value, Mask;
        public bool Joined;
        public byte Form;

        /// <summary>Whether a REG_LOAD of <paramref name="header"/> adds its bits to these.</summary>
        public readonly bool Gathers(uint header) => !Joined && header == Header;
    }

    /// <summary>Why the model takes no action for a Nicira action; each version names it with its own error.</summary>
    internal enum NxRefusal : byte
    {
        /// <summary>An argument the model cannot take (a load that is not the whole field, a field value out of range).</summary>
        BadArgument,
        /// <summary>A load of a field the switch cannot set or does not know (registers among them): OpenFlow 1.1+'s BAD_SET_TYPE.</summary>
        UnknownField,
        /// <summary>A subtype the codec reads that this translation does not take (exit and NXAST_RESUBMIT, which 1.3 takes
        /// itself).</summary>
        Unsupported,
        /// <summary>A move's or output_reg's field that the switch does not know (OFPBMC_BAD_FIELD).</summary>
        BadField,
        /// <summary>A bit range past its field's width, or of no bits (OFPBAC_BAD_SET_LEN).</summary>
        BadSetLen,
        /// <summary>A move into a field the switch does not write (OFPBAC_BAD_SET_ARGUMENT).</summary>
        NotWritable,
    }

    /// <summary>NXM_NX_DP_HASH's class and field (class NXM_1, field 35): an NXM header shifted right by 9, masked or not.</summary>
    private const uint DpHashClassField = 0x0001u << 7 | 35;

    /// <summary>OXM_OF_MPLS_BOS's and OXM_OF_PBB_ISID's class and field (OPENFLOW_BASIC, fields 36 and 37), as <see cref="DpHashClassField"/>.</summary>
    private const uint MplsBosClassField = 0x8000u << 7 | 36, PbbIsidClassField = 0x8000u << 7 | 37;

    /// <summary>OFPBMC_BAD_FIELD as Open vSwitch sends it in OpenFlow 1.0: NX1.0(0,263), inside NXET_VENDOR.</summary>
    internal static readonly OfpError BadField10 = OfpError.Nx(OfpErrorType.HelloFailed, 263);

    /// <summary>
    /// The OpenFlow 1.0 error of a refusal, as Open vSwitch sends it: 1.0 names no set-type, set-length or set-argument
    /// error, so those are its NX1.0-1.1(1,523), (1,524) and (1,525) inside NXET_VENDOR (OFPBAC_BAD_SET_TYPE, _LEN, _ARGUMENT).
    /// </summary>
    internal static OfpError ErrorOf10(NxRefusal why) => why switch
    {
        NxRefusal.Unsupported => OfpError.BadAction(OfpBadActionCode.BadVendorType),
        NxRefusal.BadField => BadField10,
        NxRefusal.UnknownField => OfpError.Nx(OfpErrorType.BadRequest, 523),
        NxRefusal.BadSetLen => OfpError.Nx(OfpErrorType.BadRequest, 524),
        NxRefusal.NotWritable => OfpError.Nx(OfpErrorType.BadRequest, 525),
        _ => OfpError.BadAction(OfpBadActionCode.BadArgument),
    };

    private static bool IsRegLoad(in OfpAction a)
        => a.Type == OfpActionType.Vendor && a.Vendor == NiciraVendorId && a.NxSubtype == (ushort)NxActionSubtype.RegLoad;

    /// <summary>
    /// The model's action for Nicira action <paramref name="a"/> (null: none yet, or the goto-table
    /// <paramref name="table"/>); <paramref name="mayGoto"/>: a resubmit here may stand for a goto-table;
    /// <paramref name="resubmit"/>: a flow-mod's or a packet-out's list, where any resubmit that is no goto-table is the model's.
    /// </summary>
    private static bool TryNicira(in OfpAction a, bool mayGoto, bool resubmit, byte transport, ref PendingLoad load, out OfAction? item, out byte? table, out OfpError error)
    {
        item = null;
        table = null;
        if (!NxAction.TryDecode(a, out var nx, out error)) return false;
        if (nx.Subtype == NxActionSubtype.Clone) return TryClone(nx, resubmit, transport, out item, out error);
        if (TryResubmitAsGoto(nx, mayGoto, 0, out table, out bool isResubmit)) return true;
        if (resubmit && nx.Subtype is NxActionSubtype.Resubmit or NxActionSubtype.ResubmitTable)
        {
            // A flow-mod's or a packet-out's resubmit; resubmit(,) names nothing to look up.
            if (nx.InPort == NxAction.InPortOwn && nx.Table == 0xff) return BadArgument(out error);
            item = OfAction.Resubmit(nx.Table, nx.InPort == NxAction.InPortOwn ? OfPort.InPort : WireMap.ToOfPort(nx.InPort));
            return true;
        }
        if (isResubmit) return BadArgument(out error);
        if (nx.Subtype == NxActionSubtype.Exit)
        {
            item = OfAction.Exit(); // as in 1.3: ends the list (a packet-out's, a bucket's) or the flow's whole composition
            return true;
        }
        if (TryNiciraModel(nx, ref load, out item, out var why)) return true;
        error = ErrorOf10(why);
        return false;
    }

    /// <summary>
    /// clone(...): its nested bytes read as an OpenFlow 1.0 action list and translated as a list of no flow-mod (a resubmit
    /// in it stands for no goto-table), each bad action answered as it would be at the top level (Open vSwitch's
    /// decode_NXAST_RAW_CLONE).
    /// </summary>
    private static bool TryClone(in NxAction nx, bool resubmit, byte transport, out OfAction? item, out OfpError error)
    {
        item = null;
        if (!OfpActions.TryDecode(nx.Nested ?? [], out List<OfpAction> list, out error)) return false;
        // The nested list decodes into scratch of its own: the caller's list is in this thread's.
        var saved = s_scratch;
        s_scratch = null;
        try
        {
            if (!TryDecode(list, transport, false, out var nested, out _, out error, resubmit)) return false;
            item = OfAction.CloneOf(nested.ToArray());
            return true;
        }
        finally
        {
            s_scratch = saved;
        }
    }

    /// <summary>A clone as OpenFlow 1.0 carries it: NXAST_CLONE around its actions' 1.0 form.</summary>
    internal static NxAction CloneNx(in OfAction a)
    {
        var list = ToOfp(a.Nested ?? []);
        var bytes = new byte[OfpActions.GetEncodedSize(list)];
        OfpActions.Encode(list, bytes);
        return NxAction.CloneOf(bytes);
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
            case NxActionSubtype.DecTtlCntIds: item = OfAction.DecNwTtl(nx.ControllerIds ?? []); return true;
            case NxActionSubtype.PushMpls: item = OfAction.PushMpls((ushort)nx.Arg); return true;
            case NxActionSubtype.PopMpls: item = OfAction.PopMpls((ushort)nx.Arg); return true;
            case NxActionSubtype.SetMplsTtl: item = OfAction.SetMplsTtl((byte)nx.Arg); return true;
            case NxActionSubtype.DecMplsTtl: item = OfAction.DecMplsTtl(); return true;
            case NxActionSubtype.SetMplsLabel: item = OfAction.SetMplsLabel((uint)nx.Arg); return true;
            case NxActionSubtype.SetMplsTc: item = OfAction.SetMplsTc((byte)nx.Arg); return true;
            case NxActionSubtype.Note: item = OfAction.Note(nx.Note ?? []); return true;
            case NxActionSubtype.Controller:
                // Every reason of Open vSwitch's ofp_packet_in_reason (through packet_out); a byte past them names none.
                if (nx.Table > PacketInOrigin.MaxReason) return false;
                item = OfAction.Controller(nx.MaxLen, nx.Table, (ushort)nx.Arg);
                return true;
            case NxActionSubtype.Controller2:
                // pause (continuations, NXT_RESUME) and a controller-action meter the switch does not run: an action it
                // does not support, as a subtype it does not know is.
                if (nx.ControllerPause || nx.ControllerMeterId != NxAction.NoControllerMeter) return Refuse(NxRefusal.Unsupported, out why);
                if (nx.Table > PacketInOrigin.MaxReason) return false;
                item = OfAction.Controller(nx.MaxLen, nx.Table, (ushort)nx.Arg, nx.ControllerUserData, controller2: true);
                return true;
            case NxActionSubtype.RegLoad or NxActionSubtype.RegLoad2 when nx.FieldHeader >> 9 is DpHashClassField or MplsBosClassField:
                // dp_hash and mpls_bos are read-only (Open vSwitch's mf_check_dst: a field that is not writable), masked or not.
                return Refuse(NxRefusal.NotWritable, out why);
            case NxActionSubtype.RegLoad or NxActionSubtype.RegLoad2 when nx.FieldHeader >> 9 == PbbIsidClassField:
                // Open vSwitch has no PBB field: a load of OXM_OF_PBB_ISID names a field it does not know (BAD_SET_TYPE).
                return Refuse(NxRefusal.UnknownField, out why);
            case NxActionSubtype.RegLoad when load.Header == 0 && RegisterOf(nx.FieldHeader) is { } reg:
                return TryRegisterLoad(reg, nx, OfAction.LoadFormRegLoad, ref load, out item, out why);
            case NxActionSubtype.RegLoad:
                return TryRegLoad(nx, ref load, out item, out why);
            case NxActionSubtype.RegLoad2 when RegisterOf(nx.FieldHeader) is { } reg:
                return TryRegisterLoad(reg, nx, OfAction.LoadFormRegLoad2, ref load, out item, out why);
            case NxActionSubtype.RegMove:
            {
                if (FieldOfHeader(nx.SrcHeader) is not { } src || FieldOfHeader(nx.FieldHeader) is not { } dst) return Refuse(NxRefusal.BadField, out why);
                var s = new OfSubfield(src, nx.SrcOfs, nx.Bits);
                var d = new OfSubfield(dst, nx.DstOfs, nx.Bits);
                if (!s.IsValid || !d.IsValid) return Refuse(NxRefusal.BadSetLen, out why);
                if (!OfSubfield.IsWritable(dst)) return Refuse(NxRefusal.NotWritable, out why);
                item = OfAction.FieldMove(s, d);
                return true;
            }
            case NxActionSubtype.Multipath:
            {
                // As Open vSwitch's multipath_check (mf_check_dst): the destination known, within its width, writable.
                if (FieldOfHeader(nx.FieldHeader) is not { } dst) return Refuse(NxRefusal.BadField, out why);
                var d = new OfSubfield(dst, nx.DstOfs, nx.Bits);
                if (!d.IsValid) return Refuse(NxRefusal.BadSetLen, out why);
                if (!OfSubfield.IsWritable(dst)) return Refuse(NxRefusal.NotWritable, out why);
                item = OfAction.Multipath(nx.MultipathFields, nx.MultipathBasis, nx.MultipathAlgorithm, nx.MultipathMaxLink, (uint)nx.Arg, d);
                return true;
            }
            case NxActionSubtype.Bundle:
                item = OfAction.Bundle(nx.BundleFields, nx.BundleBasis, nx.BundleAlgorithm, nx.Members ?? []);
                return true;
            case NxActionSubtype.BundleLoad:
            {
                // As Open vSwitch's bundle_check (mf_check_dst): the destination known, within its width, writable.
                if (FieldOfHeader(nx.FieldHeader) is not { } dst) return Refuse(NxRefusal.BadField, out why);
                var d = new OfSubfield(dst, nx.DstOfs, nx.Bits);
                if (!d.IsValid) return Refuse(NxRefusal.BadSetLen, out why);
                if (!OfSubfield.IsWritable(dst)) return Refuse(NxRefusal.NotWritable, out why);
                item = OfAction.Bundle(nx.BundleFields, nx.BundleBasis, nx.BundleAlgorithm, nx.Members ?? [], d);
                return true;
            }
            case NxActionSubtype.FinTimeout:
                item = OfAction.FinTimeout(nx.FinIdleTimeout, nx.FinHardTimeout);
                return true;
            case NxActionSubtype.Sample or NxActionSubtype.Sample2 or NxActionSubtype.Sample3:
                item = OfAction.Sample(nx.SampleProbability, nx.SampleCollectorSetId, nx.SampleObsDomainId, nx.SampleObsPointId, nx.SamplingPort,
                                       nx.SampleDirection, nx.Subtype switch { NxActionSubtype.Sample2 => 1, NxActionSubtype.Sample3 => 2, _ => 0 });
                return true;
            case NxActionSubtype.OutputReg or NxActionSubtype.OutputReg2:
            {
                if (FieldOfHeader(nx.SrcHeader) is not { } src) return Refuse(NxRefusal.BadField, out why);
                var s = new OfSubfield(src, nx.SrcOfs, nx.Bits);
                if (!s.IsValid) return Refuse(NxRefusal.BadSetLen, out why);
                item = OfAction.OutputField(s, nx.MaxLen);
                return true;
            }
            case NxActionSubtype.RegLoad2 when PacketFieldLoad(nx, out var packetField) || WidePacketFieldLoad2(nx, out packetField):
                return TryPacketFieldLoad(packetField, nx, OfAction.LoadFormRegLoad2, ref load, out item, out why);
            case NxActionSubtype.RegLoad2: // the whole field, unmasked or under an all-ones mask
            {
                byte field = FieldOf(nx.FieldHeader, out var full);
                if (field == NoField) return Refuse(NxRefusal.UnknownField, out why);
                if ((nx.Mask & full) != full || (nx.Value & ~full) != 0) return false;
                item = LoadedField(field, nx.Value, OfAction.LoadFormRegLoad2);
                return item is not null;
            }
            case NxActionSubtype.Conjunction: // whether it stands alone is the OpenFlow layer's to say (OfActionCompiler)
                item = OfAction.Conjunction(nx.ConjId, nx.ConjClause, nx.ConjClauses);
                return true;
            case NxActionSubtype.Learn or NxActionSubtype.Learn2 when nx.Learn is { } learn:
                return TryLearn(learn, out item, out why);
            default: // exit and resubmit, which each version takes itself
                return Refuse(NxRefusal.Unsupported, out why);
        }
    }

    private static bool TryRegLoad(in NxAction nx, ref PendingLoad load, out OfAction? item, out NxRefusal why)
    {
        item = null;
        why = NxRefusal.BadArgument;
        if (load.Header == 0 && PacketFieldLoad(nx, out var packetField)) return TryPacketFieldLoad(packetField, nx, OfAction.LoadFormRegLoad, ref load, out item, out why);
        byte field = FieldOf(nx.FieldHeader, out var full);
        if (field == NoField) return Refuse(NxRefusal.UnknownField, out why);
        if ((nx.Mask & ~full) != 0 || (load.Header != 0 && load.Header != nx.FieldHeader)) return false;
        load.Header = nx.FieldHeader;
        load.Value = (load.Value & ~nx.Mask) | nx.Value;
        load.Mask |= nx.Mask;
        if (load.Mask != full) return true;
        item = LoadedField(field, load.Value, OfAction.LoadFormRegLoad);
        load = default;
        return item is not null;
    }

    /// <summary>
    /// The REG_LOADs gathered in <paramref name="load"/> that set part of their field and that no load after them
    /// completes (the next action is no load of that field): each run of bits they set as a load of those bits into
    /// <paramref name="into"/> at <paramref name="n"/>, as Open vSwitch takes each REG_LOAD as a masked set_field
    /// (decode_NXAST_RAW_REG_LOAD): a load into part of an IPv6 address. A run comes from one load at least:
    /// <paramref name="into"/> has room for them. One load under a mask of several runs (<see cref="PendingLoad.Joined"/>,
    /// a register's too) is its runs the same way, low first, each after the first marked <see cref="OfAction.LoadJoined"/>
    /// and all in the form it came in; <paramref name="into"/> grows by as many. False: a field the switch does not load
    /// part of (BAD_ARGUMENT, as before).
    /// </summary>
    internal static bool TryFlushLoad(ref PendingLoad load, ref OfAction[] into, ref int n)
    {
        if (FieldOfHeader(load.Header) is not { } f || (OfSubfield.IsRegister(f) && !load.Joined) || !OfSubfield.IsWritable(f)) return false;
        if (load.Joined) Array.Resize(ref into, into.Length + Runs(load.Mask));
        byte form = load.Joined ? load.Form : OfAction.LoadFormRegLoad;
        for (var mask = load.Mask; mask != 0;)
        {
            int ofs = (int)UInt128.TrailingZeroCount(mask), bits = (int)UInt128.TrailingZeroCount(~(mask >> ofs));
            var dst = new OfSubfield(f, ofs, bits);
            if (!dst.IsValid) return false;
            into[n++] = OfAction.FieldLoad(dst, (load.Value >> ofs) & dst.ValueMask, form);
            if (load.Joined) form |= OfAction.LoadJoined;
            mask &= ~(dst.ValueMask << ofs);
        }
        load = default;
        return true;
    }

    /// <summary>How many runs of bits <paramref name="mask"/> has.</summary>
    internal static int Runs(UInt128 mask) => (int)UInt128.PopCount(mask & ~(mask << 1));

    /// <summary>
    /// One load of <paramref name="value"/> into <paramref name="field"/> under <paramref name="mask"/>, of several runs of
    /// bits, written as <paramref name="form"/> (REG_LOAD2, or 1.5's set-field): pending in <paramref name="load"/> for
    /// <see cref="TryFlushLoad"/> to write as a load per run, as Open vSwitch keeps it one masked set_field. False: a VLAN
    /// field (whose runs would each tag or strip), or a mask past the field's width (BAD_SET_LEN, as one run's).
    /// </summary>
    internal static bool TryJoinedLoad(OfField field, UInt128 value, UInt128 mask, byte form, ref PendingLoad load, out NxRefusal why)
    {
        why = NxRefusal.BadArgument;
        if (field is OfField.VlanTci or OfField.VlanVid) return false;
        if ((mask & ~NxAction.AllOnes(OfSubfield.Width(field))) != 0) return Refuse(NxRefusal.BadSetLen, out why);
        load = new PendingLoad { Header = HeaderOf(field), Value = value & mask, Mask = mask, Joined = true, Form = form };
        return true;
    }

    /// <summary>
    /// Whether REG_LOAD or REG_LOAD2 <paramref name="nx"/> is a load into part of packet field <paramref name="field"/>
    /// (one of at most 64 bits a move may write: a 128-bit field's halves are gathered into its set-field), or into
    /// vlan_tci, which only a load sets whole. Open vSwitch takes either as a masked set_field (decode_NXAST_RAW_REG_LOAD).
    /// </summary>
    private static bool PacketFieldLoad(in NxAction nx, out OfField field)
    {
        field = default;
        if (FieldOfHeader(nx.FieldHeader) is not { } f || OfSubfield.IsRegister(f) || !OfSubfield.IsWritable(f)) return false;
        int width = OfSubfield.Width(f);
        if (width > 64) return false;
        field = f;
        return f == OfField.VlanTci || (nx.Mask & NxAction.AllOnes(width)) != NxAction.AllOnes(width);
    }

    /// <summary>
    /// A REG_LOAD2 of part of a 128-bit packet field (an IPv6 address, the ND target): unlike a REG_LOAD's half, which the
    /// next may complete, it sets just the bits its mask covers (a whole-width mask is the set-field).
    /// </summary>
    private static bool WidePacketFieldLoad2(in NxAction nx, out OfField field)
    {
        field = default;
        if (FieldOfHeader(nx.FieldHeader) is not { } f || OfSubfield.IsRegister(f) || !OfSubfield.IsWritable(f) || OfSubfield.Width(f) <= 64)
            return false;
        field = f;
        return nx.Mask != NxAction.AllOnes(OfSubfield.Width(f));
    }

    /// <summary>
    /// A REG_LOAD or REG_LOAD2 (<paramref name="form"/>) of part of packet field <paramref name="field"/> (see
    /// <see cref="PacketFieldLoad"/>): a load of the bits its mask covers (see <see cref="TryRegisterLoad"/>); the DSCP
    /// bits of NXM_OF_IP_TOS only, as Open vSwitch's nw_tos takes (a value in the ECN bits is BAD_ARGUMENT).
    /// </summary>
    private static bool TryPacketFieldLoad(OfField field, in NxAction nx, byte form, ref PendingLoad load, out OfAction? item, out NxRefusal why)
    {
        item = null;
        why = NxRefusal.BadArgument;
        if (field == OfField.IpTos && (nx.Value & nx.Mask & 3) != 0) return false;
        return TryRegisterLoad(field, nx, form, ref load, out item, out why);
    }

    /// <summary>
    /// A REG_LOAD or REG_LOAD2 (<paramref name="form"/>) of register view <paramref name="reg"/> (or of part of a packet
    /// field): the bits its mask covers. A REG_LOAD's are one run; a REG_LOAD2's of several runs are one load pending in
    /// <paramref name="load"/> (<see cref="TryJoinedLoad"/>), as Open vSwitch's decode_NXAST_RAW_REG_LOAD2 takes any mask.
    /// </summary>
    private static bool TryRegisterLoad(OfField reg, in NxAction nx, byte form, ref PendingLoad load, out OfAction? item, out NxRefusal why)
    {
        item = null;
        why = NxRefusal.BadArgument;
        if (nx.Mask == 0) return false;
        int ofs = (int)UInt128.TrailingZeroCount(nx.Mask), bits = (int)UInt128.PopCount(nx.Mask);
        var dst = new OfSubfield(reg, ofs, bits);
        if (nx.Mask != dst.ValueMask << ofs) return TryJoinedLoad(reg, nx.Value, nx.Mask, form, ref load, out why);
        if (!dst.IsValid) return Refuse(NxRefusal.BadSetLen, out why);
        item = OfAction.FieldLoad(dst, nx.Value >> ofs, form);
        return true;
    }

    private static bool Refuse(NxRefusal reason, out NxRefusal why)
    {
        why = reason;
        return false;
    }

    /// <summary>
    /// The model's action setting <paramref name="field"/> to <paramref name="v"/> for a load of the whole field written as
    /// <paramref name="form"/> (REG_LOAD, REG_LOAD2), marked so when the field is one <see cref="FieldLoads"/> writes back
    /// as it came (as Open vSwitch keeps a set_field's raw action: ovs-ofctl shows a REG_LOAD's as <c>load:</c>); null: none.
    /// </summary>
    private static OfAction? LoadedField(byte field, UInt128 v, byte form)
        => SetField(field, v) is { } a && LoadsBack(field) ? a.WrittenAs(field == IpDscp ? (byte)(form | OfAction.LoadFormOxmName) : form) : SetField(field, v);

    /// <summary>
    /// A field whose whole-field load reads back as it came: every field the switch sets that Open vSwitch writes (the
    /// ICMP type and code of ICMPv4 or ICMPv6 as the load named them, OXM_OF_IP_DSCP apart from NXM_OF_IP_TOS, the VLAN
    /// PCP, MPLS and PBB fields under their OXM headers). Left out (read back as their set-field, as before): the fields
    /// Open vSwitch does not write (eth_type, ip_proto). (A load of OXM_OF_VLAN_VID is 12 bits of the 13-bit field, a
    /// load of part of it, and NXM_OF_VLAN_TCI is loaded as a field of its own: both read back as loads already.)
    /// </summary>
    private static bool LoadsBack(byte field)
        => field is EthDst or EthSrc or NxIpTos or Ipv4Src or Ipv4Dst or TcpSrc or TcpDst or UdpSrc or UdpDst or SctpSrc or SctpDst
            or ArpOp or ArpSpa or ArpTpa or ArpSha or ArpTha or TunnelId or Ipv6Src or Ipv6Dst or Ipv6NdTarget or Ipv6NdSll or Ipv6NdTll
            or Ipv6Flabel or IpEcn or NxIpTtl or Icmpv4Type or Icmpv4Code or Icmpv6Type or Icmpv6Code or IpDscp or VlanPcp
            or MplsLabel or MplsTc or MplsBos or PbbIsid;

    /// <summary>
    /// The field (an OXM field number or an NXM mark) and value a field set writes; false for no field set. nw_tos is
    /// NXM_OF_IP_TOS's whole byte, or OXM_OF_IP_DSCP's six bits when a load named that (<see cref="OfAction.LoadFormOxmName"/>).
    /// </summary>
    private static bool FieldOfSet(in OfAction a, out byte field, out UInt128 value)
    {
        (field, value) = a.Type switch
        {
            OfActionType.SetNwTtl => (NxIpTtl, a.Value),
            OfActionType.SetNwTos when (a.SetFieldForm & OfAction.LoadFormOxmName) != 0 => (IpDscp, a.Value >> 2),
            OfActionType.SetNwTos => (NxIpTos, a.Value),
            _ => Of13.Translate.ActionTranslator.SetFieldOf(a, a.IsIcmpv6) is { } f ? (f.Field, f.Value) : (NoField, UInt128.Zero),
        };
        return field != NoField;
    }

    /// <summary>
    /// The OFPAT_SET_FIELD entry Open vSwitch writes for a field set written as a load (<see cref="OfAction.LoadFormRegLoad"/>,
    /// <see cref="OfAction.LoadFormRegLoad2"/>) in OpenFlow 1.5, or as a set-field of an NXM field
    /// (<see cref="OfAction.LoadFormNxSetField"/>) from 1.2 on (encode_SET_FIELD, set_field_to_set_field): the field the
    /// load named (nw_ttl and nw_tos under their NXM headers), under the mask of the field's bits when they do not fill
    /// its bytes (a load sets the field's bits alone: <c>set_field:5/0xfffff-&gt;mpls_label</c>). Null for any other action.
    /// </summary>
    internal static Ofp13Oxm? LoadedSetField(in OfAction a)
    {
        if (a.SetFieldKind == OfAction.LoadFormSetField || !FieldOfSet(a, out byte field, out var value)) return null;
        if (field is NxIpTtl or NxIpTos) return Ofp13Oxm.Exact(field == NxIpTtl ? Ofp13Match.NxIpTtl : Ofp13Match.NxIpTos, value);
        if (a.SetFieldKind == OfAction.LoadFormNxSetField) return null;
        var bits = Ofp13Match.AllOnes(field);
        var bytes = NxAction.AllOnes(8 * Ofp13Match.FieldLength(field));
        return new Ofp13Oxm(field, bits != bytes, value & bits, bits);
    }

    /// <summary>
    /// A field set written as a load (<see cref="OfAction.SetFieldForm"/>) as Open vSwitch writes it back up to OpenFlow
    /// 1.4 (encode_SET_FIELD, set_field_to_nxast, for a raw NXAST_RAW_REG_LOAD or REG_LOAD2): NXAST_REG_LOAD2 of the whole
    /// field as it came, or NXAST_REG_LOADs of the field's NXM header (its OXM one when it has none), at most 64 bits
    /// each, the low bits first. Returns how many (0: no field set written as a load).
    /// </summary>
    internal static int FieldLoads(in OfAction a, out NxAction first, out NxAction second)
    {
        first = second = default;
        byte form = a.SetFieldKind;
        if (form is not (OfAction.LoadFormRegLoad or OfAction.LoadFormRegLoad2) || !FieldOfSet(a, out byte field, out var value)) return 0;
        uint header = Nxm(0x8000, field, (uint)Ofp13Match.FieldLength(field));
        foreach (var (nxm, f) in s_nxm)
        {
            if (f == field) header = nxm;
        }
        var full = Width(field);
        if (form == OfAction.LoadFormRegLoad2)
        {
            first = new NxAction(NxActionSubtype.RegLoad2, FieldHeader: header, Value: value & full, Mask: full);
            return 1;
        }
        int bits = 128 - (int)UInt128.LeadingZeroCount(full);
        var lowMask = NxAction.AllOnes(Math.Min(bits, 64));
        first = new NxAction(NxActionSubtype.RegLoad, FieldHeader: header, Value: value & lowMask, Mask: lowMask);
        if (bits <= 64) return 1;
        var highMask = NxAction.AllOnes(bits - 64) << 64;
        second = new NxAction(NxActionSubtype.RegLoad, FieldHeader: header, Value: value & highMask, Mask: highMask);
        return 2;
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

    // The fields a move or output_reg names, by NXM header (Open vSwitch's name) and, for those OpenFlow 1.3 has, OXM
    // header too; the first header of a field is the one written back (nx_put_mff_header with version 0: the NXM one).
    private static readonly (uint Header, OfField Field)[] s_fields = BuildFields();

    private static (uint, OfField)[] BuildFields()
    {
        var list = new List<(uint, OfField)>();
        for (int i = 0; i < OfRegisters.RegCount; i++) list.Add((Nxm(1, (uint)i, 4), (OfField)((int)OfField.Reg0 + i)));
        for (int i = 0; i < OfRegisters.XRegCount; i++) list.Add((Nxm(0x8001, (uint)i, 8), (OfField)((int)OfField.XReg0 + i)));
        for (int i = 0; i < OfRegisters.XXRegCount; i++) list.Add((Nxm(1, 111 + (uint)i, 16), (OfField)((int)OfField.XXReg0 + i)));
        list.AddRange(
        [
            (Nxm(0, 0, 2), OfField.InPort), (Nxm(0x8000, 2, 8), OfField.Metadata),
            (Nxm(1, 16, 8), OfField.TunId), (Nxm(0x8000, 38, 8), OfField.TunId),
            (Nxm(0, 2, 6), OfField.EthSrc), (Nxm(0x8000, 4, 6), OfField.EthSrc),
            (Nxm(0, 1, 6), OfField.EthDst), (Nxm(0x8000, 3, 6), OfField.EthDst),
            (Nxm(0, 3, 2), OfField.EthType), (Nxm(0x8000, 5, 2), OfField.EthType),
            (Nxm(0, 7, 4), OfField.Ipv4Src), (Nxm(0x8000, 11, 4), OfField.Ipv4Src),
            (Nxm(0, 8, 4), OfField.Ipv4Dst), (Nxm(0x8000, 12, 4), OfField.Ipv4Dst),
            (Nxm(0, 6, 1), OfField.IpProto), (Nxm(0x8000, 10, 1), OfField.IpProto),
            (Nxm(0, 9, 2), OfField.TcpSrc), (Nxm(0x8000, 13, 2), OfField.TcpSrc),
            (Nxm(0, 10, 2), OfField.TcpDst), (Nxm(0x8000, 14, 2), OfField.TcpDst),
            (Nxm(0, 11, 2), OfField.UdpSrc), (Nxm(0x8000, 15, 2), OfField.UdpSrc),
            (Nxm(0, 12, 2), OfField.UdpDst), (Nxm(0x8000, 16, 2), OfField.UdpDst),
            (Nxm(0x8000, 17, 2), OfField.SctpSrc), (Nxm(0x8000, 18, 2), OfField.SctpDst),
            (Nxm(1, 19, 16), OfField.Ipv6Src), (Nxm(0x8000, 26, 16), OfField.Ipv6Src),
            (Nxm(1, 20, 16), OfField.Ipv6Dst), (Nxm(0x8000, 27, 16), OfField.Ipv6Dst),
            (Nxm(0, 16, 4), OfField.ArpSpa), (Nxm(0x8000, 22, 4), OfField.ArpSpa),
            (Nxm(0, 17, 4), OfField.ArpTpa), (Nxm(0x8000, 23, 4), OfField.ArpTpa),
            (Nxm(1, 17, 6), OfField.ArpSha), (Nxm(0x8000, 24, 6), OfField.ArpSha),
            (Nxm(1, 18, 6), OfField.ArpTha), (Nxm(0x8000, 25, 6), OfField.ArpTha),
            (Nxm(0, 4, 2), OfField.VlanTci),
            (Nxm(1, 33, 4), OfField.PktMark),
            (Nxm(1, 35, 4), OfField.DpHash),
            (Nxm(0, 5, 1), OfField.IpTos),
            (Nxm(0x8000, 6, 2), OfField.VlanVid),
            (Nxm(1, 28, 1), OfField.IpEcn), (Nxm(0x8000, 9, 1), OfField.IpEcn),
            (Nxm(1, 29, 1), OfField.NwTtl),
            (Nxm(1, 27, 4), OfField.Ipv6Label), (Nxm(0x8000, 28, 4), OfField.Ipv6Label),
        ]);
        return [.. list];
    }

    /// <summary>The field a 32-bit NXM or OXM header names in a move or output_reg (hasmask clear); null for one not known here.</summary>
    internal static OfField? FieldOfHeader(uint header)
    {
        foreach (var (h, f) in s_fields)
            if (h == header) return f;
        return null;
    }

    /// <summary>The OXM header (class OFPXMC_OPENFLOW_BASIC) of the packet field an NXM or OXM <paramref name="header"/> names; 0: none.</summary>
    internal static uint OxmHeaderOf(uint header)
    {
        if (FieldOfHeader(header) is not { } f || OfSubfield.IsRegister(f)) return 0;
        foreach (var (h, x) in s_fields)
            if (x == f && h >> 16 == 0x8000) return h;
        return 0;
    }

    /// <summary>The register view a header names (null: not a register).</summary>
    private static OfField? RegisterOf(uint header) => FieldOfHeader(header) is { } f && OfSubfield.IsRegister(f) ? f : null;

    /// <summary>The header <paramref name="f"/> is written back with (its NXM one, else its OXM one).</summary>
    internal static uint HeaderOf(OfField f)
    {
        foreach (var (h, x) in s_fields)
            if (x == f) return h;
        return 0;
    }

    /// <summary>
    /// A register load as Open vSwitch writes it back (encode_SET_FIELD, set_field_to_nxast): as it came when it came
    /// as NXAST_REG_LOAD2 (or needs it: xreg has no NXM header), else as NXAST_REG_LOADs of at most 64 bits, the low
    /// bits first. Returns how many (1 or 2).
    /// </summary>
    internal static int RegisterLoads(in OfAction a, out NxAction first, out NxAction second)
    {
        var dst = a.LoadDst;
        uint header = HeaderOf(dst.Field);
        second = default;
        UInt128 mask = dst.ValueMask << dst.Ofs, value = a.Wide << dst.Ofs;
        if (a.LoadForm == OfAction.LoadFormRegLoad2 || header >> 16 == 0x8001)
        {
            first = new NxAction(NxActionSubtype.RegLoad2, FieldHeader: header, Value: value, Mask: mask);
            return 1;
        }
        int lowBits = Math.Min(dst.Bits, 64);
        var lowMask = NxAction.AllOnes(lowBits) << dst.Ofs;
        first = new NxAction(NxActionSubtype.RegLoad, FieldHeader: header, Value: value & lowMask, Mask: lowMask);
        if (dst.Bits <= 64) return 1;
        var highMask = NxAction.AllOnes(dst.Bits - 64) << (dst.Ofs + 64);
        second = new NxAction(NxActionSubtype.RegLoad, FieldHeader: header, Value: value & highMask, Mask: highMask);
        return 2;
    }

    /// <summary>
    /// How many actions from <paramref name="i"/> on are one load to be written back whole: a load and the runs joined to
    /// it (<see cref="OfAction.JoinsPrevious"/>); 1 for a load of one run or any other action.
    /// </summary>
    internal static int JoinedCount(ReadOnlySpan<OfAction> actions, int i)
    {
        if (actions[i].Type != OfActionType.FieldLoad) return 1;
        int k = 1;
        while (i + k < actions.Length && actions[i + k].JoinsPrevious && actions[i + k].LoadDst.Field == actions[i].LoadDst.Field) k++;
        return k;
    }

    /// <summary>
    /// Whether the runs of one load (<see cref="JoinedCount"/>), starting at <paramref name="first"/>, go back up to
    /// OpenFlow 1.4 as one NXAST_REG_LOAD2 (<see cref="JoinedLoad2"/>): one that came so, or of a field REG_LOAD does not
    /// name (xreg), as Open vSwitch's set_field_to_nxast; else as a REG_LOAD per run, each as its own load.
    /// </summary>
    internal static bool JoinedAsLoad2(in OfAction first) => first.LoadForm == OfAction.LoadFormRegLoad2 || HeaderOf(first.LoadDst.Field) >> 16 == 0x8001;

    /// <summary>The one load that <paramref name="runs"/> (a load and the runs joined to it) are: NXAST_REG_LOAD2 of their field under their mask.</summary>
    internal static NxAction JoinedLoad2(ReadOnlySpan<OfAction> runs)
    {
        UInt128 value = 0, mask = 0;
        foreach (var r in runs)
        {
            value |= r.Wide << r.LoadDst.Ofs;
            mask |= r.LoadDst.ValueMask << r.LoadDst.Ofs;
        }
        return new NxAction(NxActionSubtype.RegLoad2, FieldHeader: HeaderOf(runs[0].LoadDst.Field), Value: value, Mask: mask);
    }

    /// <summary>A move as NXAST_REG_MOVE, an output_reg as NXAST_OUTPUT_REG (Open vSwitch's forms for 32-bit headers).</summary>
    /// <summary>A bundle or bundle_load as Open vSwitch writes it: NXAST_BUNDLE(_LOAD) with its members (and destination's NXM header).</summary>
    internal static NxAction BundleNx(in OfAction a)
        => a.BundleDst is { } d
            ? NxAction.Bundle(a.BundleFields, a.BundleBasis, a.BundleAlgorithm, a.BundleMembers, HeaderOf(d.Field), (ushort)d.Ofs, (ushort)d.Bits)
            : NxAction.Bundle(a.BundleFields, a.BundleBasis, a.BundleAlgorithm, a.BundleMembers);

    /// <summary>A fin_timeout as Open vSwitch writes it: NXAST_FIN_TIMEOUT.</summary>
    internal static NxAction FinTimeoutNx(in OfAction a) => NxAction.FinTimeout(a.FinIdle, a.FinHard);

    /// <summary>A sample as Open vSwitch's encode_SAMPLE writes it: the form it came in, or the least that carries its
    /// sampling port and direction (NXAST_SAMPLE, SAMPLE2, SAMPLE3).</summary>
    internal static NxAction SampleNx(in OfAction a)
        => NxAction.Sample(a.SampleProbability, a.SampleCollectorSetId, a.SampleObsDomainId, a.SampleObsPointId, a.SamplingPort, a.SampleDirection,
                           a.SampleForm switch { 1 => NxActionSubtype.Sample2, 2 => NxActionSubtype.Sample3, _ => NxActionSubtype.Sample });

    /// <summary>A multipath as Open vSwitch writes it: NXAST_MULTIPATH with its destination's NXM header.</summary>
    internal static NxAction MultipathNx(in OfAction a)
        => NxAction.Multipath(a.MultipathFields, a.MultipathBasis, a.MultipathAlgorithm, a.MultipathMaxLink, a.MultipathArg,
                              HeaderOf(a.MultipathDst.Field), (ushort)a.MultipathDst.Ofs, (ushort)a.MultipathDst.Bits);

    internal static NxAction RegisterNx(in OfAction a) => a.Type == OfActionType.FieldMove
        ? new NxAction(NxActionSubtype.RegMove, FieldHeader: HeaderOf(a.MoveDst.Field), SrcHeader: HeaderOf(a.MoveSrc.Field),
                       Bits: (ushort)a.MoveSrc.Bits, SrcOfs: (ushort)a.MoveSrc.Ofs, DstOfs: (ushort)a.MoveDst.Ofs)
        : new NxAction(NxActionSubtype.OutputReg, SrcHeader: HeaderOf(a.OutputSrc.Field), Bits: (ushort)a.OutputSrc.Bits,
                       SrcOfs: (ushort)a.OutputSrc.Ofs, MaxLen: a.MaxLen);

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
