using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of10.Translate;

/// <summary>
/// OpenFlow 1.0 action lists ↔ the OpenFlow layer's <see cref="OfAction"/>s, action by action: port numbers through
/// <see cref="WireMap"/>, Nicira's set_tunnel as the layer's set-tunnel, any other vendor action refused here
/// (OFPBAC_BAD_VENDOR, or BAD_VENDOR_TYPE for an unknown Nicira one). Whether the ports and queues exist is the layer's
/// to decide (<see cref="OfActionCompiler"/>).
/// </summary>
/// <remarks>
/// Decoding writes into a per-thread scratch array and allocates nothing; the memory returned is valid until the
/// calling thread decodes again. Thread safety: the scratch state is per thread.
/// </remarks>
public static class ActionTranslator
{
    public const uint NiciraVendorId = 0x00002320;

    [ThreadStatic] private static OfAction[]? s_scratch;

    /// <summary>The layer's form of <paramref name="actions"/> (in per-thread scratch), or the OpenFlow 1.0 error that refuses it.</summary>
    public static bool TryDecode(List<OfpAction> actions, out ReadOnlyMemory<OfAction> result, out OfpError error)
        => TryDecode(actions, 0, out result, out error);

    /// <summary>
    /// As <see cref="TryDecode(List{OfpAction}, out ReadOnlyMemory{OfAction}, out OfpError)"/> for a flow whose match pins
    /// IP protocol <paramref name="transport"/> (6, 17, 132; 0: none): set_tp_src/dst name no transport of their own, so
    /// they keep the match's, and a later version reads them back as that transport's field (ovs ofpact_l4_port's flow_ip_proto).
    /// </summary>
    public static bool TryDecode(List<OfpAction> actions, byte transport, out ReadOnlyMemory<OfAction> result, out OfpError error)
    {
        result = ReadOnlyMemory<OfAction>.Empty;
        error = default;
        if (actions.Count == 0) return true;
        var items = s_scratch is { } sc && sc.Length >= actions.Count ? sc : s_scratch = new OfAction[Math.Max(16, actions.Count)];
        for (int i = 0; i < actions.Count; i++)
        {
            var a = actions[i];
            switch (a.Type)
            {
                case OfpActionType.Output: items[i] = OfAction.Output(WireMap.ToOfPort(a.Port), a.MaxLen); break;
                case OfpActionType.Enqueue: items[i] = OfAction.Enqueue(WireMap.ToOfPort(a.Port), a.QueueId); break;
                case OfpActionType.SetVlanVid: items[i] = OfAction.SetVlanVid(a.VlanVid); break;
                case OfpActionType.SetVlanPcp: items[i] = OfAction.SetVlanPcp(a.VlanPcp); break;
                case OfpActionType.StripVlan: items[i] = OfAction.PopVlan(); break;
                case OfpActionType.SetDlSrc: items[i] = OfAction.SetEthSrc(a.DlAddr.Value); break;
                case OfpActionType.SetDlDst: items[i] = OfAction.SetEthDst(a.DlAddr.Value); break;
                case OfpActionType.SetNwSrc: items[i] = OfAction.SetNwSrc(a.NwAddr); break;
                case OfpActionType.SetNwDst: items[i] = OfAction.SetNwDst(a.NwAddr); break;
                case OfpActionType.SetNwTos: items[i] = OfAction.SetNwTos(a.NwTos); break;
                case OfpActionType.SetTpSrc: items[i] = OfAction.SetTpSrc(a.TpPort, transport); break;
                case OfpActionType.SetTpDst: items[i] = OfAction.SetTpDst(a.TpPort, transport); break;
                case OfpActionType.Vendor:
                    if (a.IsNxSetTunnel)
                    {
                        items[i] = OfAction.SetTunnel(a.TunnelId);
                        break;
                    }
                    error = a.Vendor == NiciraVendorId
                        ? OfpError.BadAction(OfpBadActionCode.BadVendorType)
                        : OfpError.BadAction(OfpBadActionCode.BadVendor);
                    return false;
                default:
                    error = OfpError.BadAction(OfpBadActionCode.BadType);
                    return false;
            }
        }
        result = items.AsMemory(0, actions.Count);
        return true;
    }

    /// <summary>The wire form of <paramref name="actions"/>, those OpenFlow 1.0 has no form for left out (see <see cref="TryToOfp"/>).</summary>
    public static List<OfpAction> ToOfp(ReadOnlySpan<OfAction> actions)
    {
        var list = new List<OfpAction>(actions.Length);
        foreach (var a in actions)
        {
            if (TryToOfp(a, out var wire)) list.Add(wire);
        }
        return list;
    }

    /// <summary>Writes the wire form of <paramref name="actions"/> into <paramref name="into"/> (at least as long); returns the count written.</summary>
    public static int ToOfp(ReadOnlySpan<OfAction> actions, Span<OfpAction> into)
    {
        int n = 0;
        foreach (var a in actions)
        {
            if (TryToOfp(a, out var wire)) into[n++] = wire;
        }
        return n;
    }

    public static OfpAction ToOfp(in OfAction a)
        => TryToOfp(a, out var wire) ? wire : throw new InvalidOperationException($"an action OpenFlow 1.0 cannot carry: {a.Type}");

    /// <summary>
    /// The OpenFlow 1.0 form of <paramref name="a"/>, for what a flow added over OpenFlow 1.3 reads back as: OpenFlow 1.0's
    /// own actions, else Open vSwitch's Nicira extensions for the 1.1+ ones (set_queue, group, dec_ttl, the MPLS
    /// actions; other set-fields as reg_load2 with their OXM). False for push_vlan (in 1.0 a set_vlan_vid that follows
    /// pushes, as Open vSwitch writes it), copy_ttl_in/out and the PBB actions, which OpenFlow 1.0 cannot say.
    /// </summary>
    public static bool TryToOfp(in OfAction a, out OfpAction wire)
    {
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
            OfActionType.DecNwTtl => OfpAction.Nicira(NxActionSubtype.DecTtl),
            OfActionType.PushMpls => OfpAction.Nicira(NxActionSubtype.PushMpls, 2, (uint)a.Value),
            OfActionType.PopMpls => OfpAction.Nicira(NxActionSubtype.PopMpls, 2, (uint)a.Value),
            OfActionType.SetMplsTtl => OfpAction.Nicira(NxActionSubtype.SetMplsTtl, 1, (uint)a.Value),
            OfActionType.DecMplsTtl => OfpAction.Nicira(NxActionSubtype.DecMplsTtl),
            OfActionType.SetMplsLabel => OfpAction.Nicira(NxActionSubtype.SetMplsLabel, 4, (uint)a.Value),
            OfActionType.SetMplsTc => OfpAction.Nicira(NxActionSubtype.SetMplsTc, 1, (uint)a.Value),
            OfActionType.SetNwTtl => OfpAction.NxRegLoad2([0x00, 0x01, 0x3a, 0x01, (byte)a.Value]), // NXM_NX_IP_TTL
            _ => Of13.Translate.ActionTranslator.SetFieldOf(a, a.IsIcmpv6) is { } field ? RegLoad2(field) : null,
        };
        wire = w.GetValueOrDefault();
        return w.HasValue;
    }

    private static OfpAction RegLoad2(in Ofp13Oxm field)
    {
        var w = new Ofp13Writer(32);
        Ofp13Match.WriteTlv(w, field);
        return OfpAction.NxRegLoad2(w.Written);
    }
}
