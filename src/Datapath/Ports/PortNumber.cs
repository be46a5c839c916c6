namespace Softswitch.Datapath.Ports;

/// <summary>
/// Port numbers inside the datapath: what <see cref="PortTable"/>, <see cref="Flow.FlowKey"/>'s in_port and an
/// output action's port hold. The port table numbers its ports 1..<see cref="Highest"/> (0 is never a port); the
/// numbers right above are the datapath's own names for the local port (the switch's own network stack) and for the
/// output targets that are not one port.
/// </summary>
/// <remarks>
/// Design: these values are the datapath's and mean nothing on any wire. A controller protocol maps its reserved
/// port numbers to them by name in one translator, and a text syntax (ovs-ofctl's) by name in its parser; only
/// the numbers of real ports (1..Highest) are shared with the outside unchanged. Numbers between the last name and
/// 0xFFFF are no port and no target: output to one is refused where actions are built, and a packet never carries
/// one as its in_port. Constants only; thread safe.
/// </remarks>
public static class PortNumber
{
    /// <summary>The highest number a port other than the local port can have.</summary>
    public const ushort Highest = 0xFF00;

    /// <summary>The local port: a port of the table, kept apart from the numbered ones.</summary>
    public const ushort Local = Highest + 1;

    /// <summary>Output: back out of the port the packet came in on.</summary>
    public const ushort InPort = Highest + 2;

    /// <summary>Output: run the flow table again (only for packets injected from the control plane).</summary>
    public const ushort Table = Highest + 3;

    /// <summary>Output: the L2 learning switch (<c>MacLearningTable</c>).</summary>
    public const ushort Normal = Highest + 4;

    /// <summary>Output: every port (the local port included) but the input port and those configured not to flood.</summary>
    public const ushort Flood = Highest + 5;

    /// <summary>Output: every port (the local port included) but the input port.</summary>
    public const ushort All = Highest + 6;

    /// <summary>Output: an upcall to the controller (<c>Upcall</c>).</summary>
    public const ushort Controller = Highest + 7;

    /// <summary>No port: a MAC not learned, a packet injected without an input port, no output filter.</summary>
    public const ushort None = Highest + 8;

    /// <summary>True for the number of a port of the table other than the local port (1..<see cref="Highest"/>).</summary>
    public static bool IsNumbered(ushort no) => no != 0 && no <= Highest;
}
