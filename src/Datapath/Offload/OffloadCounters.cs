using Softswitch.Datapath.Counters;

namespace Softswitch.Datapath.Offload;

/// <summary>
/// The offload family of the counter registry: flows in software now, by reason (<c>offload-sw-NAME</c>, one per
/// <see cref="OffloadReason"/>, defined with it), and table changes waiting to be placed.
/// </summary>
public static class OffloadCounters
{
    /// <summary>Table changes queued and not yet placed.</summary>
    public static readonly Counter Pending = Coverage.Define("offload-pending", "flow-table changes queued for the offload target and not yet placed");

    /// <summary>The counter of flows in software for <paramref name="reason"/>.</summary>
    public static Counter Software(OffloadReason reason) => reason.Counter;
}
