using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;

namespace Softswitch.Ofproto;

/// <summary>
/// <see cref="OfAction"/> lists ↔ the datapath's <see cref="FlowActions"/>, validated against the switch as the spec
/// asks: output to a port that does not exist is <see cref="OfError.BadOutPort"/> (Open vSwitch accepts it; the spec
/// does not), TABLE only in packet-out, a queue a port does not have <see cref="OfError.BadQueue"/>.
/// </summary>
/// <remarks>
/// Compiling allocates nothing when the list equals one of the <see cref="RecentListCount"/> lists the calling thread
/// compiled last: it is built in a per-thread scratch array and the equal immutable <see cref="FlowActions"/> is
/// returned (a controller's flow-mods repeat few action lists). Thread safety: the scratch state is per thread; the
/// lists returned are immutable and may be shared by any number of flows.
/// </remarks>
public static class OfActionCompiler
{
    /// <summary>Distinct action lists each thread keeps for reuse.</summary>
    public const int RecentListCount = 16;

    [ThreadStatic] private static FlowAction[]? s_scratch;
    [ThreadStatic] private static FlowActions[]? s_recent;
    [ThreadStatic] private static int s_recentNext;

    /// <summary>The datapath's list for <paramref name="actions"/>, or the reason it is refused.</summary>
    public static OfError TryCompile(ReadOnlySpan<OfAction> actions, PortTable ports, ActionContext context, int queuesPerPort, out FlowActions result)
    {
        result = FlowActions.Drop;
        if (actions.Length == 0) return OfError.None;
        var items = s_scratch is { } sc && sc.Length >= actions.Length ? sc : s_scratch = new FlowAction[Math.Max(16, actions.Length)];
        for (int i = 0; i < actions.Length; i++)
        {
            var a = actions[i];
            switch (a.Type)
            {
                case OfActionType.Output:
                {
                    var e = CheckOutPort(a.Port, ports, context, out var dp);
                    if (e != OfError.None) return e;
                    items[i] = FlowAction.Output(dp, a.MaxLen);
                    break;
                }
                case OfActionType.Enqueue:
                {
                    if (!OfPort.ToDatapath(a.Port, out var dp)) return OfError.BadOutPort;
                    if (a.Port != OfPort.InPort && ports.Get(dp) is null) return OfError.BadOutPort;
                    if (a.QueueId >= (uint)queuesPerPort) return OfError.BadQueue;
                    items[i] = FlowAction.Enqueue(dp, a.QueueId);
                    break;
                }
                case OfActionType.SetVlanVid: items[i] = FlowAction.SetVlanVid((ushort)a.Value); break;
                case OfActionType.SetVlanPcp: items[i] = FlowAction.SetVlanPcp((byte)a.Value); break;
                case OfActionType.PopVlan: items[i] = FlowAction.StripVlan(); break;
                case OfActionType.SetEthSrc: items[i] = FlowAction.SetDlSrc(new MacAddress(a.Value)); break;
                case OfActionType.SetEthDst: items[i] = FlowAction.SetDlDst(new MacAddress(a.Value)); break;
                case OfActionType.SetNwSrc: items[i] = FlowAction.SetNwSrc((uint)a.Value); break;
                case OfActionType.SetNwDst: items[i] = FlowAction.SetNwDst((uint)a.Value); break;
                case OfActionType.SetNwTos: items[i] = FlowAction.SetNwTos((byte)a.Value); break;
                case OfActionType.SetTpSrc: items[i] = FlowAction.SetTpSrc((ushort)a.Value); break;
                case OfActionType.SetTpDst: items[i] = FlowAction.SetTpDst((ushort)a.Value); break;
                case OfActionType.SetTunnel: items[i] = FlowAction.SetTunnel(a.Value); break;
                default: return OfError.BadActionType;
            }
        }
        result = Shared(items.AsSpan(0, actions.Length));
        return OfError.None;
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

    /// <summary>Checks an output port against the switch's ports.</summary>
    private static OfError CheckOutPort(uint port, PortTable ports, ActionContext context, out ushort dp)
    {
        dp = 0;
        switch (port)
        {
            case OfPort.InPort:
            case OfPort.Normal:
            case OfPort.Flood:
            case OfPort.All:
            case OfPort.Controller:
                OfPort.ToDatapath(port, out dp);
                return OfError.None;
            case OfPort.Local:
                if (ports.Local is null) return OfError.BadOutPort;
                dp = PortNumber.Local;
                return OfError.None;
            case OfPort.Table:
                if (context != ActionContext.PacketOut) return OfError.BadOutPort;
                dp = PortNumber.Table;
                return OfError.None;
            default:
                if (port == 0 || port >= PortNumber.Highest || ports.Get((ushort)port) is null) return OfError.BadOutPort;
                dp = (ushort)port;
                return OfError.None;
        }
    }

    /// <summary>Writes the OpenFlow layer's form of <paramref name="actions"/> into <paramref name="into"/> (at least as long); returns the count.</summary>
    public static int ToOfActions(FlowActions actions, Span<OfAction> into)
    {
        var items = actions.Items;
        for (int i = 0; i < items.Length; i++) into[i] = ToOfAction(items[i]);
        return items.Length;
    }

    public static OfAction ToOfAction(in FlowAction a) => a.Kind switch
    {
        ActionKind.Output => OfAction.Output(OfPort.FromDatapath(a.Port), a.MaxLen),
        ActionKind.Enqueue => OfAction.Enqueue(OfPort.FromDatapath(a.Port), a.QueueId),
        ActionKind.SetVlanVid => OfAction.SetVlanVid((ushort)a.Value),
        ActionKind.SetVlanPcp => OfAction.SetVlanPcp((byte)a.Value),
        ActionKind.StripVlan => OfAction.PopVlan(),
        ActionKind.SetDlSrc => OfAction.SetEthSrc(a.Value),
        ActionKind.SetDlDst => OfAction.SetEthDst(a.Value),
        ActionKind.SetNwSrc => OfAction.SetNwSrc((uint)a.Value),
        ActionKind.SetNwDst => OfAction.SetNwDst((uint)a.Value),
        ActionKind.SetNwTos => OfAction.SetNwTos((byte)a.Value),
        ActionKind.SetTpSrc => OfAction.SetTpSrc((ushort)a.Value),
        ActionKind.SetTpDst => OfAction.SetTpDst((ushort)a.Value),
        ActionKind.SetTunnel => OfAction.SetTunnel(a.Value),
        _ => throw new InvalidOperationException($"unknown action kind {a.Kind}"),
    };
}
