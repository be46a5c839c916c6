using System.Runtime.InteropServices;
using Softswitch.Datapath.Forwarding;

namespace Softswitch.Datapath.Actions;

/// <summary>
/// The datapath's action kinds (the controller protocols map their action types to these explicitly; the values
/// are the datapath's own and mean nothing on any wire).
/// </summary>
public enum ActionKind : byte
{
    Output,
    /// <summary>Output through one of a port's transmit queues.</summary>
    Enqueue,
    StripVlan,
    SetVlanVid,
    SetVlanPcp,
    SetDlSrc,
    SetDlDst,
    SetNwSrc,
    SetNwDst,
    SetNwTos,
    SetTpSrc,
    SetTpDst,
    /// <summary>Sets the tunnel id used when a later output encapsulates.</summary>
    SetTunnel,
}

/// <summary>
/// One action, flat: the kind and its arguments. Arrays of these are executed once per flow-batch.
/// </summary>
/// <remarks>
/// Arguments by kind: Output: <see cref="Port"/> (a <see cref="Forwarding.PortNumber"/>), <see cref="MaxLen"/> (bytes sent to the controller);
/// Enqueue: Port, <see cref="QueueId"/>; SetVlanVid: Value = vid (12 bits); SetVlanPcp: Value = pcp (3 bits);
/// SetDlSrc/Dst: Value = MAC (48 bits, <see cref="Flow.MacAddress"/> layout); SetNwSrc/Dst: Value = IPv4 host order;
/// SetNwTos: Value = tos byte (DSCP bits, low two bits zero); SetTpSrc/Dst: Value = port; SetTunnel: Value = tunnel id.
/// Immutable. The datapath has no text form of actions: the host prints them (ovs-ofctl's syntax).
/// </remarks>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct FlowAction(ActionKind Kind, ushort Port, ushort MaxLen, uint QueueId, ulong Value)
{
    public static FlowAction Output(ushort port, ushort maxLen = 0) => new(ActionKind.Output, port, maxLen, 0, 0);
    public static FlowAction Enqueue(ushort port, uint queueId) => new(ActionKind.Enqueue, port, 0, queueId, 0);
    public static FlowAction SetVlanVid(ushort vid) => new(ActionKind.SetVlanVid, 0, 0, 0, vid);
    public static FlowAction SetVlanPcp(byte pcp) => new(ActionKind.SetVlanPcp, 0, 0, 0, pcp);
    public static FlowAction StripVlan() => new(ActionKind.StripVlan, 0, 0, 0, 0);
    public static FlowAction SetDlSrc(Flow.MacAddress mac) => new(ActionKind.SetDlSrc, 0, 0, 0, mac.Value);
    public static FlowAction SetDlDst(Flow.MacAddress mac) => new(ActionKind.SetDlDst, 0, 0, 0, mac.Value);
    public static FlowAction SetNwSrc(uint ip) => new(ActionKind.SetNwSrc, 0, 0, 0, ip);
    public static FlowAction SetNwDst(uint ip) => new(ActionKind.SetNwDst, 0, 0, 0, ip);
    public static FlowAction SetNwTos(byte tos) => new(ActionKind.SetNwTos, 0, 0, 0, tos);
    public static FlowAction SetTpSrc(ushort port) => new(ActionKind.SetTpSrc, 0, 0, 0, port);
    public static FlowAction SetTpDst(ushort port) => new(ActionKind.SetTpDst, 0, 0, 0, port);
    public static FlowAction SetTunnel(ulong tunId) => new(ActionKind.SetTunnel, 0, 0, 0, tunId);

    public bool IsOutput => Kind is ActionKind.Output or ActionKind.Enqueue;
    public bool ModifiesPacket => Kind is not (ActionKind.Output or ActionKind.Enqueue);
}

/// <summary>
/// An immutable action list with facts precomputed once per flow-mod so the hot path never re-derives them.
/// </summary>
/// <remarks>
/// Design: <see cref="Items"/> is run in order once per flow-batch. <see cref="ModifiedAfter"/>[i] is true when
/// some action after i changes packet bytes: an output at i must then send a copy, otherwise it can share the
/// buffer (reference counted). An empty list means drop. Never mutated after construction: a MODIFY flow-mod
/// swaps the whole object on the flow entry.
/// </remarks>
public sealed class FlowActions
{
    public static readonly FlowActions Drop = new([]);

    public readonly FlowAction[] Items;
    public readonly bool[] ModifiedAfter;
    /// <summary>Some action sends to the controller.</summary>
    public readonly bool HasController;
    /// <summary>Number of output/enqueue actions.</summary>
    public readonly int OutputCount;

    public FlowActions(FlowAction[] items)
    {
        Items = items;
        ModifiedAfter = new bool[items.Length];
        bool modified = false;
        for (int i = items.Length - 1; i >= 0; i--)
        {
            ModifiedAfter[i] = modified;
            if (items[i].ModifiesPacket && items[i].Kind != ActionKind.SetTunnel) modified = true;
            if (items[i].IsOutput)
            {
                OutputCount++;
                if (items[i].Port == PortNumber.Controller) HasController = true;
            }
        }
    }

    public int Count => Items.Length;

    public bool OutputsTo(ushort port)
    {
        foreach (var a in Items)
            if (a.IsOutput && a.Port == port) return true;
        return false;
    }
}
