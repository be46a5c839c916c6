using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.OfWire;

namespace Softswitch.OfAgent.Translate;

/// <summary>Where an action list is used: flow-mods may not output to OFPP_TABLE, packet-outs may.</summary>
public enum ActionContext : byte
{
    FlowMod,
    PacketOut,
}

/// <summary>
/// OpenFlow 1.0 action lists ↔ <see cref="FlowActions"/>, validated against the switch's state as the spec
/// asks: output to a port that does not exist is OFPBAC_BAD_OUT_PORT (Open vSwitch accepts it; we follow the
/// spec), OFPP_TABLE only in packet-out, enqueue to an unknown queue OFPBAC_BAD_QUEUE, Nicira set_tunnel
/// becomes the datapath's set-tunnel, any other vendor action OFPBAC_BAD_VENDOR. Port numbers map through
/// <see cref="WireMap"/> (the reserved ones by name).
/// </summary>
/// <remarks>
/// Translation allocates nothing when the list equals one of the <see cref="RecentListCount"/> lists the calling
/// thread translated last: it is translated into a per-thread scratch array and the equal immutable
/// <see cref="FlowActions"/> is returned (a controller's flow-mods repeat few action lists). Thread safety: the
/// scratch state is per thread; the lists returned are immutable and may be shared by any number of flows.
/// </remarks>
public static class ActionTranslator
{
    public const uint NiciraVendorId = 0x00002320;

    /// <summary>Distinct action lists each thread keeps for reuse.</summary>
    public const int RecentListCount = 16;

    [ThreadStatic] private static FlowAction[]? s_scratch;
    [ThreadStatic] private static FlowActions[]? s_recent;
    [ThreadStatic] private static int s_recentNext;

    public static bool TryTranslate(List<OfpAction> actions, PortTable ports, ActionContext context, int queuesPerPort,
                                    out FlowActions result, out OfpError error)
    {
        result = FlowActions.Drop;
        error = default;
        if (actions.Count == 0) return true;
        var items = s_scratch is { } sc && sc.Length >= actions.Count ? sc : s_scratch = new FlowAction[Math.Max(16, actions.Count)];
        for (int i = 0; i < actions.Count; i++)
        {
            var a = actions[i];
            switch (a.Type)
            {
                case OfpActionType.Output:
                    if (!CheckOutPort(a.Port, ports, context, out error)) return false;
                    items[i] = FlowAction.Output(WireMap.ToDatapathPort(a.Port), a.MaxLen);
                    break;
                case OfpActionType.Enqueue:
                    if (a.Port != (ushort)OfpPort.InPort && ports.Get(WireMap.ToDatapathPort(a.Port)) is null)
                    {
                        error = OfpError.BadAction(OfpBadActionCode.BadOutPort);
                        return false;
                    }
                    if (a.QueueId >= (uint)queuesPerPort)
                    {
                        error = OfpError.BadAction(OfpBadActionCode.BadQueue);
                        return false;
                    }
                    items[i] = FlowAction.Enqueue(WireMap.ToDatapathPort(a.Port), a.QueueId);
                    break;
                case OfpActionType.SetVlanVid: items[i] = FlowAction.SetVlanVid(a.VlanVid); break;
                case OfpActionType.SetVlanPcp: items[i] = FlowAction.SetVlanPcp(a.VlanPcp); break;
                case OfpActionType.StripVlan: items[i] = FlowAction.StripVlan(); break;
                case OfpActionType.SetDlSrc: items[i] = FlowAction.SetDlSrc(new MacAddress(a.DlAddr.Value)); break;
                case OfpActionType.SetDlDst: items[i] = FlowAction.SetDlDst(new MacAddress(a.DlAddr.Value)); break;
                case OfpActionType.SetNwSrc: items[i] = FlowAction.SetNwSrc(a.NwAddr); break;
                case OfpActionType.SetNwDst: items[i] = FlowAction.SetNwDst(a.NwAddr); break;
                case OfpActionType.SetNwTos: items[i] = FlowAction.SetNwTos(a.NwTos); break;
                case OfpActionType.SetTpSrc: items[i] = FlowAction.SetTpSrc(a.TpPort); break;
                case OfpActionType.SetTpDst: items[i] = FlowAction.SetTpDst(a.TpPort); break;
                case OfpActionType.Vendor:
                    if (a.IsNxSetTunnel)
                    {
                        items[i] = FlowAction.SetTunnel(a.TunnelId);
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
        result = Shared(items.AsSpan(0, actions.Count));
        return true;
    }

    /// <summary>The calling thread's recent list equal to <paramref name="items"/>, else a new one (then remembered).</summary>
    private static FlowActions Shared(ReadOnlySpan<FlowAction> items)
    {
        var recent = s_recent ??= new FlowActions[RecentListCount];
        foreach (var r in recent)
            if (r is not null && items.SequenceEqual(r.Items)) return r;
        var list = new FlowActions(items.ToArray());
        recent[s_recentNext] = list;
        s_recentNext = (s_recentNext + 1) % RecentListCount;
        return list;
    }

    /// <summary>Checks an output port as it is on the wire (ofp_port), against the datapath's ports.</summary>
    private static bool CheckOutPort(ushort port, PortTable ports, ActionContext context, out OfpError error)
    {
        error = default;
        switch ((OfpPort)port)
        {
            case OfpPort.InPort:
            case OfpPort.Normal:
            case OfpPort.Flood:
            case OfpPort.All:
            case OfpPort.Controller:
                return true;
            case OfpPort.Local:
                if (ports.Local is not null) return true;
                break;
            case OfpPort.Table:
                if (context == ActionContext.PacketOut) return true;
                break;
            default:
                if (port != 0 && port < (ushort)OfpPort.Max && ports.Get(port) is not null) return true;
                break;
        }
        error = OfpError.BadAction(OfpBadActionCode.BadOutPort);
        return false;
    }

    public static List<OfpAction> ToOfp(FlowActions actions)
    {
        var list = new List<OfpAction>(actions.Count);
        foreach (var a in actions.Items) list.Add(ToOfp(a));
        return list;
    }

    /// <summary>Writes the wire form of <paramref name="actions"/> into <paramref name="into"/> (at least as long); returns the count.</summary>
    public static int ToOfp(FlowActions actions, Span<OfpAction> into)
    {
        var items = actions.Items;
        for (int i = 0; i < items.Length; i++) into[i] = ToOfp(items[i]);
        return items.Length;
    }

    private static OfpAction ToOfp(in FlowAction a) => a.Kind switch
    {
        ActionKind.Output => OfpAction.Output(WireMap.ToWirePort(a.Port), a.MaxLen),
        ActionKind.Enqueue => OfpAction.Enqueue(WireMap.ToWirePort(a.Port), a.QueueId),
        ActionKind.SetVlanVid => OfpAction.SetVlanVid((ushort)a.Value),
        ActionKind.SetVlanPcp => OfpAction.SetVlanPcp((byte)a.Value),
        ActionKind.StripVlan => OfpAction.StripVlan(),
        ActionKind.SetDlSrc => OfpAction.SetDlSrc(new OfpMac(a.Value)),
        ActionKind.SetDlDst => OfpAction.SetDlDst(new OfpMac(a.Value)),
        ActionKind.SetNwSrc => OfpAction.SetNwSrc((uint)a.Value),
        ActionKind.SetNwDst => OfpAction.SetNwDst((uint)a.Value),
        ActionKind.SetNwTos => OfpAction.SetNwTos((byte)a.Value),
        ActionKind.SetTpSrc => OfpAction.SetTpSrc((ushort)a.Value),
        ActionKind.SetTpDst => OfpAction.SetTpDst((ushort)a.Value),
        ActionKind.SetTunnel => a.Value <= uint.MaxValue ? OfpAction.NxSetTunnel((uint)a.Value) : OfpAction.NxSetTunnel64(a.Value),
        _ => throw new InvalidOperationException($"unknown action kind {a.Kind}"),
    };
}
