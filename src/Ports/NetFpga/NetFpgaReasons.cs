using Softswitch.Datapath.Offload;

namespace Softswitch.Ports.NetFpga;

/// <summary>
/// The NetFPGA-1G's own refusal reasons (its counters are <c>offload-sw-NAME</c>); the driver gives these and the
/// datapath's generic ones (<see cref="OffloadReason.UnsupportedAction"/>, ...). Names are stable: scripts match on them.
/// </summary>
public static class NetFpgaReasons
{
    /// <summary>An action list the board would run differently: a set-field after an output, the same field set twice,
    /// VLAN strip together with a VLAN set, or two outputs to one port.</summary>
    public static readonly OffloadReason UnsupportedActionOrder = OffloadReason.Define("unsupported-action-order", "an action list the board would run differently");
    /// <summary>An output back out the packet's own in_port (IN_PORT): the board's contract does not say whether it
    /// sends a frame out the port it arrived on, so the flow stays where the answer is known.</summary>
    public static readonly OffloadReason OutputToInPort = OffloadReason.Define("output-to-in-port", "an IN_PORT output: the board's contract does not say what it does");
    /// <summary>Exact table: both hash positions are taken.</summary>
    public static readonly OffloadReason ExactCollision = OffloadReason.Define("exact-collision", "both exact-table hash positions taken", retryable: true);
    /// <summary>Not enough free wildcard rows.</summary>
    public static readonly OffloadReason WildcardRowsFull = OffloadReason.Define("wildcard-rows-full", "not enough free wildcard rows", retryable: true);
    /// <summary>
    /// The board consults its exact table before its wildcard rows: an exact flow below the priority of a wildcard
    /// flow that overlaps it would be answered first, so it stays in software while that flow exists.
    /// </summary>
    public static readonly OffloadReason ExactBelowWildcard = OffloadReason.Define("exact-below-wildcard",
        "an exact flow below an overlapping wildcard flow's priority: the board looks up its exact table first", retryable: true);

    /// <summary>Every reason of the board's own.</summary>
    public static IReadOnlyList<OffloadReason> All { get; } = [UnsupportedActionOrder, OutputToInPort, ExactCollision, WildcardRowsFull, ExactBelowWildcard];
}
