using System.Globalization;
using Softswitch.Datapath.Counters;

namespace Softswitch.Datapath.Offload;

/// <summary>
/// The offload family of the counter registry: flows in software now, by reason (<c>offload-sw-unsupported-action</c>,
/// ...; the reason names of <see cref="ReasonName"/>), and table changes waiting to be placed.
/// </summary>
public static class OffloadCounters
{
    internal const int ReasonSlots = 32;

    private static readonly Counter[] s_software = Define();

    /// <summary>Table changes queued and not yet placed.</summary>
    public static readonly Counter Pending = Coverage.Define("offload-pending", "flow-table changes queued for the offload target and not yet placed");

    /// <summary>The counter of flows in software for <paramref name="reason"/> (not <see cref="OffloadReason.None"/>).</summary>
    public static Counter Software(OffloadReason reason) => s_software[(int)reason];

    /// <summary>The name of <paramref name="reason"/> in the counter registry, the CLI and the logs (stable: scripts match on it).</summary>
    public static string ReasonName(OffloadReason reason) => reason switch
    {
        OffloadReason.None => "none",
        OffloadReason.UnsupportedAction => "unsupported-action",
        OffloadReason.UnsupportedOutputPort => "unsupported-output-port",
        OffloadReason.UnsupportedActionOrder => "unsupported-action-order",
        OffloadReason.OutputToInPort => "output-to-in-port",
        OffloadReason.UnsupportedMatch => "unsupported-match",
        OffloadReason.InPortNotOffloadable => "in-port-not-offloadable",
        OffloadReason.ExactCollision => "exact-collision",
        OffloadReason.WildcardRowsFull => "wildcard-rows-full",
        OffloadReason.OverlapsSoftwareRule => "overlaps-software-rule",
        OffloadReason.OverlapsOffloadedRule => "overlaps-offloaded-rule",
        OffloadReason.Evicted => "evicted",
        OffloadReason.Emergency => "emergency",
        OffloadReason.DatapathState => "datapath-state",
        OffloadReason.TargetError => "target-error",
        _ => "reason-" + ((int)reason).ToString(CultureInfo.InvariantCulture),
    };

    private static Counter[] Define()
    {
        var a = new Counter[ReasonSlots];
        foreach (var r in Enum.GetValues<OffloadReason>())
        {
            if (r == OffloadReason.None) continue;
            if ((int)r >= ReasonSlots) throw new InvalidOperationException($"offload reason {r} beyond {ReasonSlots} counter slots");
            a[(int)r] = Coverage.Define("offload-sw-" + ReasonName(r), "flows in software now: " + Describe(r));
        }
        return a;
    }

    private static string Describe(OffloadReason r) => r switch
    {
        OffloadReason.UnsupportedAction => "an action the target cannot do",
        OffloadReason.UnsupportedOutputPort => "an output to a port the target does not forward to",
        OffloadReason.UnsupportedActionOrder => "an action list the target would run differently",
        OffloadReason.OutputToInPort => "an IN_PORT output (the target's contract does not say what it does)",
        OffloadReason.UnsupportedMatch => "a match the target cannot express",
        OffloadReason.InPortNotOffloadable => "matches an in_port that is not one of the target's ports",
        OffloadReason.ExactCollision => "both exact-table hash positions taken",
        OffloadReason.WildcardRowsFull => "not enough free wildcard rows",
        OffloadReason.OverlapsSoftwareRule => "overlaps a software rule that outranks or ties it",
        OffloadReason.OverlapsOffloadedRule => "overlaps a hardware rule the target would order differently",
        OffloadReason.Evicted => "taken back from hardware when an overlapping rule arrived",
        OffloadReason.Emergency => "an emergency flow (never offloaded)",
        OffloadReason.DatapathState => "the ports or modes make the target's answer differ",
        OffloadReason.TargetError => "the target failed (device error)",
        _ => r.ToString(),
    };
}
