using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of10.Translate;

/// <summary>
/// OpenFlow 1.0 action lists ↔ the OpenFlow layer's <see cref="OfAction"/>s, action by action: port numbers through
/// <see cref="WireMap"/>; the Nicira extensions the switch writes for what 1.0 cannot say (and those ovs-ofctl sends for
/// the same actions) as the actions the 1.3 path makes of them, a flow-mod's trailing resubmit to a later table as its
/// goto-table (ActionTranslator.Nicira.cs); any other vendor action refused (OFPBAC_BAD_VENDOR, or
/// BAD_VENDOR_TYPE for an unknown Nicira one). Whether the ports and queues exist is the layer's to decide
/// (<see cref="OfActionCompiler"/>).
/// </summary>
/// <remarks>
/// Decoding writes into a per-thread scratch array and allocates nothing; the memory returned is valid until the
/// calling thread decodes again. Thread safety: the scratch state is per thread.
/// </remarks>
public static partial class ActionTranslator
{
    public const uint NiciraVendorId = 0x00002320;

    [ThreadStatic] private static OfAction[]? s_scratch;

    /// <summary>
    /// The layer's form of <paramref name="actions"/> (in per-thread scratch), or the OpenFlow 1.0 error that refuses it;
    /// a resubmit is refused (BAD_ARGUMENT): outside a flow-mod it stands for no goto-table.
    /// </summary>
    public static bool TryDecode(List<OfpAction> actions, out ReadOnlyMemory<OfAction> result, out OfpError error)
        => TryDecode(actions, 0, false, out result, out _, out error);

    /// <summary>
    /// A packet-out's actions: as <see cref="TryDecode(List{OfpAction}, out ReadOnlyMemory{OfAction}, out OfpError)"/>, and
    /// a Nicira resubmit in either form (NXAST_RESUBMIT, NXAST_RESUBMIT_TABLE) is the model's resubmit: Open vSwitch runs a
    /// packet-out's actions through the pipeline, so it looks the packet up there (<c>resubmit(,)</c> stays BAD_ARGUMENT).
    /// </summary>
    public static bool TryDecodePacketOut(List<OfpAction> actions, out ReadOnlyMemory<OfAction> result, out OfpError error)
        => TryDecode(actions, 0, false, out result, out _, out error, resubmit: true);

    /// <summary>
    /// As <see cref="TryDecode(List{OfpAction}, out ReadOnlyMemory{OfAction}, out OfpError)"/> for a flow whose match pins
    /// IP protocol <paramref name="transport"/> (6, 17, 132; 0: none): set_tp_src/dst name no transport of their own, so
    /// they keep the match's, and a later version reads them back as that transport's field (ovs ofpact_l4_port's flow_ip_proto).
    /// </summary>
    public static bool TryDecode(List<OfpAction> actions, byte transport, out ReadOnlyMemory<OfAction> result, out OfpError error)
        => TryDecode(actions, transport, false, out result, out _, out error);

    /// <summary>
    /// A flow-mod's actions: as <see cref="TryDecode(List{OfpAction}, byte, out ReadOnlyMemory{OfAction}, out OfpError)"/>,
    /// and a last Nicira resubmit of the packet's own in_port to a later table is the flow's <paramref name="gotoTable"/>
    /// (how the switch shows an OpenFlow 1.3 goto-table to a 1.0 peer, as Open vSwitch does); any other resubmit is
    /// the model's, which the pipeline walk runs where it stands, as in 1.3.
    /// </summary>
    public static bool TryDecode(List<OfpAction> actions, byte transport, out ReadOnlyMemory<OfAction> result, out byte? gotoTable, out OfpError error)
        => TryDecode(actions, transport, true, out result, out gotoTable, out error);

    private static bool TryDecode(List<OfpAction> actions, byte transport, bool flowMod, out ReadOnlyMemory<OfAction> result,
                                  out byte? gotoTable, out OfpError error, bool resubmit = false)
    {
        result = ReadOnlyMemory<OfAction>.Empty;
        gotoTable = null;
        error = default;
        if (actions.Count == 0) return true;
        var items = s_scratch is { } sc && sc.Length >= actions.Count ? sc : s_scratch = new OfAction[Math.Max(16, actions.Count)];
        int n = 0;
        var load = default(PendingLoad);
        for (int i = 0; i < actions.Count; i++)
        {
            var a = actions[i];
            if (load.Header != 0 && !(IsRegLoad(a) && NxAction.TryDecode(a, out var next, out _) && load.Gathers(next.FieldHeader))
                && !TryFlushLoad(ref load, ref items, ref n))
            {
                // A load that set part of its field, nothing after it completes it, and the switch loads no part of it.
                error = OfpError.BadAction(OfpBadActionCode.BadArgument);
                return false;
            }
            switch (a.Type)
            {
                case OfpActionType.Output: items[n++] = OfAction.Output(WireMap.ToOfPort(a.Port), a.MaxLen); break;
                case OfpActionType.Enqueue: items[n++] = OfAction.Enqueue(WireMap.ToOfPort(a.Port), a.QueueId); break;
                case OfpActionType.SetVlanVid: items[n++] = OfAction.SetVlanVid(a.VlanVid); break;
                case OfpActionType.SetVlanPcp: items[n++] = OfAction.SetVlanPcp(a.VlanPcp); break;
                case OfpActionType.StripVlan: items[n++] = OfAction.PopVlan(); break;
                case OfpActionType.SetDlSrc: items[n++] = OfAction.SetEthSrc(a.DlAddr.Value); break;
                case OfpActionType.SetDlDst: items[n++] = OfAction.SetEthDst(a.DlAddr.Value); break;
                case OfpActionType.SetNwSrc: items[n++] = OfAction.SetNwSrc(a.NwAddr); break;
                case OfpActionType.SetNwDst: items[n++] = OfAction.SetNwDst(a.NwAddr); break;
                case OfpActionType.SetNwTos: items[n++] = OfAction.SetNwTos(a.NwTos); break;
                case OfpActionType.SetTpSrc: items[n++] = OfAction.SetTpSrc(a.TpPort, transport); break;
                case OfpActionType.SetTpDst: items[n++] = OfAction.SetTpDst(a.TpPort, transport); break;
                case OfpActionType.Vendor:
                    if (a.Vendor != NiciraVendorId)
                    {
                        error = OfpError.BadAction(OfpBadActionCode.BadVendor);
                        return false;
                    }
                    bool last = i == actions.Count - 1;
                    if (!TryNicira(a, flowMod && last, flowMod || resubmit, transport, ref load, out var item, out var table, out error)) return false;
                    if (item is { } x) items[n++] = x;
                    if (table is { } t) gotoTable = t;
                    break;
                default:
                    error = OfpError.BadAction(OfpBadActionCode.BadType);
                    return false;
            }
        }
        if (load.Header != 0 && !TryFlushLoad(ref load, ref items, ref n))
        {
            error = OfpError.BadAction(OfpBadActionCode.BadArgument);
            return false;
        }
        result = items.AsMemory(0, n);
        return true;
    }

    /// <summary>Most wire actions one model action becomes (a 128-bit set-field: two NXAST_REG_LOADs).</summary>
    public const int MaxWirePerAction = 2;

    /// <summary>The wire form of <paramref name="actions"/>, those OpenFlow 1.0 has no form for left out (see <see cref="ToOfp(in OfAction, out OfpAction, out OfpAction)"/>).</summary>
    public static List<OfpAction> ToOfp(ReadOnlySpan<OfAction> actions)
    {
        var list = new List<OfpAction>(actions.Length);
        for (int i = 0; i < actions.Length; i++)
        {
            int k = ToOfp(actions, ref i, out var first, out var second);
            if (k > 0) list.Add(first);
            if (k > 1) list.Add(second);
        }
        return list;
    }

    /// <summary>
    /// Writes the wire form of <paramref name="actions"/> into <paramref name="into"/> (at least
    /// <see cref="MaxWirePerAction"/> times as long); returns the count written.
    /// </summary>
    public static int ToOfp(ReadOnlySpan<OfAction> actions, Span<OfpAction> into)
    {
        int n = 0;
        for (int i = 0; i < actions.Length; i++)
        {
            int k = ToOfp(actions, ref i, out var first, out var second);
            if (k > 0) into[n++] = first;
            if (k > 1) into[n++] = second;
        }
        return n;
    }

    /// <summary>
    /// The wire form of <paramref name="actions"/>[<paramref name="i"/>], as <see cref="ToOfp(in OfAction, out OfpAction, out OfpAction)"/>;
    /// a load under a mask of several runs that came as NXAST_REG_LOAD2 (its runs joined) goes back as that one
    /// REG_LOAD2, <paramref name="i"/> left at its last run.
    /// </summary>
    internal static int ToOfp(ReadOnlySpan<OfAction> actions, ref int i, out OfpAction first, out OfpAction second)
    {
        int joined = JoinedCount(actions, i);
        if (joined > 1 && JoinedAsLoad2(actions[i]))
        {
            first = Vendor(JoinedLoad2(actions.Slice(i, joined)));
            second = default;
            i += joined - 1;
            return 1;
        }
        return ToOfp(actions[i], out first, out second);
    }

    /// <summary>
    /// A controller action as Open vSwitch writes it (encode_CONTROLLER): NXAST_CONTROLLER2 with userdata or when it came
    /// as one, otherwise NXAST_CONTROLLER.
    /// </summary>
    internal static NxAction ControllerOf(in OfAction a)
        => a.IsController2
            ? NxAction.Controller2(a.MaxLen, (ushort)a.QueueId, (byte)a.Value, a.Data)
            : new(NxActionSubtype.Controller, Arg: a.QueueId, Table: (byte)a.Value, MaxLen: a.MaxLen);

    /// <summary>A Nicira action as OpenFlow 1.0's vendor action.</summary>
    private static OfpAction Vendor(in NxAction nx)
    {
        byte[] body = new byte[nx.BodySize];
        nx.WriteBody(body);
        return OfpAction.VendorAction(NiciraVendorId, body);
    }

    /// <summary>
    /// The OpenFlow 1.0 form of <paramref name="a"/>, for what a flow added over OpenFlow 1.3 reads back as, as Open
    /// vSwitch writes it (ovs lib/ofp-actions.c, encode_*): OpenFlow 1.0's own actions, else the Nicira extensions for the
    /// 1.1+ ones (set_queue, group, dec_ttl, the MPLS actions), nw_ttl and the other set-fields as NXAST_REG_LOADs of the
    /// field's NXM header (its OXM one when it has none), 64 bits each: <paramref name="second"/> holds the upper half of a
    /// 128-bit field. ovs-ofctl prints those as <c>load:</c>, which it sends back over OpenFlow 1.0 as they came (a
    /// <c>set_field</c> of a field 1.0 cannot match would need Open vSwitch's NXM flow format). Returns how many it wrote:
    /// 0 for push_vlan (in 1.0 a set_vlan_vid that follows pushes, as Open vSwitch writes it), copy_ttl_in/out and the
    /// PBB actions, which OpenFlow 1.0 cannot say.
    /// </summary>
    public static int ToOfp(in OfAction a, out OfpAction first, out OfpAction second)
    {
        second = default;
        // A field set written as a load goes back as it came (Open vSwitch's encode_SET_FIELD keeps the raw action).
        int loads = FieldLoads(a, out var load1, out var load2);
        if (loads > 0)
        {
            first = Vendor(load1);
            if (loads > 1) second = Vendor(load2);
            return loads;
        }
        // A set-field of a field with an action of its own goes as Open vSwitch's set_field does: the field's load.
        if ((a.SetFieldForm & OfAction.LoadFormOfpSetField) != 0 && Of13.Translate.ActionTranslator.SetFieldOf(a, a.IsIcmpv6) is { } set)
            return RegLoads(set.Field, set.Value, out first, out second);
        OfpAction? w = a.Type switch
        {
            OfActionType.Output => OfpAction.Output(WireMap.ToWirePort(a.Port), a.MaxLen),
            OfActionType.Enqueue => OfpAction.Enqueue(WireMap.ToWirePort(a.Port), a.QueueId),
            OfActionType.SetVlanVid => OfpAction.SetVlanVid((ushort)a.Value),
            OfActionType.SetVlanPcp => OfpAction.SetVlanPcp((byte)a.Value),
            OfActionType.PopVlan => OfpAction.StripVlan(),
            OfActionType.SetEthSrc => OfpAction.SetDlSrc(new OfpMac(a.Value)),
            OfActionType.SetEthDst => OfpAction.SetDlDst(new OfpMac(a.Value)),
            OfActionType.SetNwSrc => OfpAction.SetNwSrc((uint)a.Value),
            OfActionType.SetNwDst => OfpAction.SetNwDst((uint)a.Value),
            OfActionType.SetNwTos => OfpAction.SetNwTos((byte)a.Value),
            OfActionType.SetTpSrc => OfpAction.SetTpSrc((ushort)a.Value),
            OfActionType.SetTpDst => OfpAction.SetTpDst((ushort)a.Value),
            OfActionType.SetTunnel => a.Value <= uint.MaxValue ? OfpAction.NxSetTunnel((uint)a.Value) : OfpAction.NxSetTunnel64(a.Value),
            OfActionType.SetQueue => OfpAction.Nicira(NxActionSubtype.SetQueue, 4, a.QueueId),
            OfActionType.Group => OfpAction.Nicira(NxActionSubtype.Group, 4, a.QueueId),
            OfActionType.DecNwTtl when a.TtlControllerIds is { } ids => Vendor(NxAction.DecTtlIds(ids)),
            OfActionType.DecNwTtl => OfpAction.Nicira(NxActionSubtype.DecTtl),
            OfActionType.PushMpls => OfpAction.Nicira(NxActionSubtype.PushMpls, 2, (uint)a.Value),
            OfActionType.PopMpls => OfpAction.Nicira(NxActionSubtype.PopMpls, 2, (uint)a.Value),
            OfActionType.SetMplsTtl => OfpAction.Nicira(NxActionSubtype.SetMplsTtl, 1, (uint)a.Value),
            OfActionType.DecMplsTtl => OfpAction.Nicira(NxActionSubtype.DecMplsTtl),
            OfActionType.SetMplsLabel => OfpAction.Nicira(NxActionSubtype.SetMplsLabel, 4, (uint)a.Value),
            OfActionType.SetMplsTc => OfpAction.Nicira(NxActionSubtype.SetMplsTc, 1, (uint)a.Value),
            _ => null,
        };
        if (w is { } one)
        {
            first = one;
            return 1;
        }
        if (a.Type is OfActionType.Resubmit or OfActionType.Exit or OfActionType.FieldMove or OfActionType.OutputField or OfActionType.Conjunction or OfActionType.Learn
            or OfActionType.Note or OfActionType.Controller or OfActionType.Clone or OfActionType.Multipath or OfActionType.Bundle
            or OfActionType.FinTimeout or OfActionType.Sample)
        {
            var nx = a.Type switch
            {
                OfActionType.Multipath => MultipathNx(a),
                OfActionType.Bundle => BundleNx(a),
                OfActionType.FinTimeout => FinTimeoutNx(a),
                OfActionType.Sample => SampleNx(a),
                OfActionType.Clone => CloneNx(a),
                OfActionType.Exit => new NxAction(NxActionSubtype.Exit),
                OfActionType.Conjunction => NxAction.Conjunction(a.QueueId, a.ConjClause, a.ConjClauses),
                OfActionType.Learn => LearnNx(a),
                OfActionType.Note => new NxAction(NxActionSubtype.Note, Note: a.Data),
                OfActionType.Controller => ControllerOf(a),
                OfActionType.Resubmit => Of13.Translate.ActionTranslator.ResubmitOf(a),
                _ => RegisterNx(a),
            };
            first = Vendor(nx);
            return 1;
        }
        if (a.Type == OfActionType.FieldLoad && a.LoadForm == OfAction.LoadFormSetField && a.LoadDst is { Field: OfField.VlanTci, IsWhole: true })
        {
            // Open vSwitch's set_field of vlan_tci to OpenFlow 1.0 (set_field_to_legacy_openflow): the VID and PCP of a
            // TCI with CFI set, a strip of one without.
            ushort tci = (ushort)a.Value;
            if ((tci & 0x1000) == 0)
            {
                first = OfpAction.StripVlan();
                return 1;
            }
            first = OfpAction.SetVlanVid((ushort)(tci & 0xfff));
            second = OfpAction.SetVlanPcp((byte)(tci >> 13));
            return 2;
        }
        if (a.Type == OfActionType.FieldLoad)
        {
            // OpenFlow 1.0 has no set-field: a register load goes as the REG_LOADs (or REG_LOAD2) Open vSwitch writes.
            int k = RegisterLoads(a, out var lo, out var hi);
            first = Vendor(lo);
            if (k > 1) second = Vendor(hi);
            return k;
        }
        if (a.Type == OfActionType.SetNwTtl) return RegLoads(NxIpTtl, a.Value, out first, out second);
        if (Of13.Translate.ActionTranslator.SetFieldOf(a, a.IsIcmpv6) is { } field) return RegLoads(field.Field, field.Value, out first, out second);
        first = default;
        return 0;
    }
}
