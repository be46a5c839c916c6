using System.Runtime.InteropServices;

namespace Softswitch.Ofproto;

/// <summary>The kinds of action the OpenFlow layer knows, whatever the version that asked for them.</summary>
public enum OfActionType : byte
{
    /// <summary>Output to <see cref="OfAction.Port"/> (an <see cref="OfPort"/> number), at most <see cref="OfAction.MaxLen"/> bytes to the controller.</summary>
    Output,
    /// <summary>Output through queue <see cref="OfAction.QueueId"/> of <see cref="OfAction.Port"/> (OpenFlow 1.0 enqueue; set_queue + output later).</summary>
    Enqueue,
    /// <summary>Set the VLAN id (<see cref="OfAction.Value"/>, 12 bits), tagging an untagged packet.</summary>
    SetVlanVid,
    /// <summary>Set the VLAN priority (<see cref="OfAction.Value"/>, 3 bits), tagging an untagged packet.</summary>
    SetVlanPcp,
    /// <summary>Remove the outer VLAN tag.</summary>
    PopVlan,
    /// <summary>Set the Ethernet source (<see cref="OfAction.Value"/>, 48 bits).</summary>
    SetEthSrc,
    SetEthDst,
    /// <summary>Set the IPv4 source (<see cref="OfAction.Value"/>, host order).</summary>
    SetNwSrc,
    SetNwDst,
    /// <summary>Set the IPv4 DSCP bits in place (<see cref="OfAction.Value"/> = tos &amp; 0xfc).</summary>
    SetNwTos,
    /// <summary>Set the TCP or UDP source port (or ICMP type).</summary>
    SetTpSrc,
    SetTpDst,
    /// <summary>Set the tunnel id a later output to a tunnel port encapsulates with.</summary>
    SetTunnel,
}

/// <summary>
/// One action, version-independent: a codec decodes each wire action into one of these (port numbers through
/// <see cref="OfPort"/>), and the OpenFlow layer validates the list against the switch (ports, queues) and compiles it
/// for the datapath (<see cref="OfActionCompiler"/>).
/// </summary>
[StructLayout(LayoutKind.Auto)]
public readonly record struct OfAction(OfActionType Type, uint Port = 0, ushort MaxLen = 0, uint QueueId = 0, ulong Value = 0)
{
    public static OfAction Output(uint port, ushort maxLen = 0) => new(OfActionType.Output, port, maxLen);
    public static OfAction Enqueue(uint port, uint queueId) => new(OfActionType.Enqueue, port, QueueId: queueId);
    public static OfAction SetVlanVid(ushort vid) => new(OfActionType.SetVlanVid, Value: vid);
    public static OfAction SetVlanPcp(byte pcp) => new(OfActionType.SetVlanPcp, Value: pcp);
    public static OfAction PopVlan() => new(OfActionType.PopVlan);
    public static OfAction SetEthSrc(ulong mac) => new(OfActionType.SetEthSrc, Value: mac);
    public static OfAction SetEthDst(ulong mac) => new(OfActionType.SetEthDst, Value: mac);
    public static OfAction SetNwSrc(uint ip) => new(OfActionType.SetNwSrc, Value: ip);
    public static OfAction SetNwDst(uint ip) => new(OfActionType.SetNwDst, Value: ip);
    public static OfAction SetNwTos(byte tos) => new(OfActionType.SetNwTos, Value: tos);
    public static OfAction SetTpSrc(ushort port) => new(OfActionType.SetTpSrc, Value: port);
    public static OfAction SetTpDst(ushort port) => new(OfActionType.SetTpDst, Value: port);
    public static OfAction SetTunnel(ulong id) => new(OfActionType.SetTunnel, Value: id);
}

/// <summary>Where an action list runs: a flow's actions may not output to TABLE, a packet-out's may.</summary>
public enum ActionContext : byte
{
    FlowMod,
    PacketOut,
}
