using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Offload;

// What an OffloadManager reports: where each flow lives and why, each decision as it is made, and its counters.
// Records only; the manager fills them under its lock and hands out copies.

/// <summary>Where one flow lives, and why (observability).</summary>
/// <param name="Entry">The flow.</param>
/// <param name="InHardware">True when the target holds it.</param>
/// <param name="Reason">Why it is in software (<see cref="OffloadReason.None"/> when in hardware).</param>
/// <param name="Detail">What exactly refused it (an action, the rule it overlaps), or empty.</param>
/// <param name="Rows">Hardware rows it occupies.</param>
/// <param name="LastRegisterWrites">Register writes of the last operation on it (install, modify, removal).</param>
public readonly record struct FlowPlacement(FlowEntry Entry, bool InHardware, OffloadReason Reason, OffloadDetail Detail, int Rows, int LastRegisterWrites);

/// <summary>What led to a placement decision.</summary>
public enum PlacementEvent : byte
{
    /// <summary>A flow arrived (or was already in the table when the manager attached).</summary>
    Added,
    /// <summary>Its actions changed.</summary>
    Modified,
    /// <summary>It left the table.</summary>
    Removed,
    /// <summary>Taken out of hardware because a flow that overlaps it arrived.</summary>
    Evicted,
    /// <summary>Offered again after a removal freed room or an overlap went away.</summary>
    Retried,
    /// <summary>Placed again because the datapath's ports or modes changed.</summary>
    Replaced,
}

/// <summary>One placement decision, for logs.</summary>
/// <param name="Event">What led to it.</param>
/// <param name="Placement">Where the flow lives now (for <see cref="PlacementEvent.Removed"/>: nowhere).</param>
/// <param name="Location">The target's <see cref="IOffloadTarget.Location"/> when in hardware, else null.</param>
/// <param name="WasInHardware">Whether the flow was in hardware before.</param>
public readonly record struct OffloadDecision(PlacementEvent Event, FlowPlacement Placement, string? Location, bool WasInHardware);

/// <summary>
/// Receives an <see cref="OffloadManager"/>'s decisions (the Datapath has no logging of its own; the host plugs a
/// logger in). Called on the thread that places flows (the offload worker, or maintenance), under the manager's lock
/// and never under the flow table's writer lock: keep it short, never call back into the manager.
/// </summary>
public interface IOffloadLog
{
    /// <summary>Whether <see cref="OnDecision"/> is wanted now (building a decision costs a few strings per flow-mod).</summary>
    bool DecisionsEnabled { get; }

    /// <summary>One flow's placement was decided (never per packet).</summary>
    void OnDecision(in OffloadDecision decision);

    /// <summary>A target call threw; <paramref name="entry"/> is the flow involved, if any.</summary>
    void OnTargetError(FlowEntry? entry, Exception error);

    /// <summary>
    /// Offload started: <paramref name="description"/> says what the target is (in words, by whoever assembled it);
    /// the flows already in the table have been offered. Called once, on the thread that attached the manager.
    /// </summary>
    void OnStarted(string description);

    /// <summary>
    /// A maintenance step of the target ran (hardware counters read); <paramref name="problem"/> says what failed in
    /// it, or null. Called on the maintenance thread, not under the manager's lock.
    /// </summary>
    void OnMaintenance(string? problem);
}

/// <summary>Counters of an <see cref="OffloadManager"/> (a snapshot).</summary>
/// <param name="PendingEvents">Table changes queued and not yet placed.</param>
/// <param name="PlacedEvents">Table changes placed so far (flow-mods, and flows offered when the manager attached).</param>
/// <param name="PlacementLatencyMeanMicros">Mean time from a table change to its placement decision.</param>
/// <param name="PlacementLatencyMaxMicros">Longest time from a table change to its placement decision.</param>
/// <param name="HotSwaps">Flows placed in room a colder hardware flow gave up (the target was full).</param>
public readonly record struct OffloadStats(
    int HardwareFlows,
    int SoftwareFlows,
    int HardwareRows,
    long FlowModEvents,
    long FlowModRegisterWrites,
    long MaintenanceRegisterWrites,
    long Polls,
    long Installs,
    long Evictions,
    long Promotions,
    long HardwarePackets,
    long HardwareBytes,
    IReadOnlyDictionary<OffloadReason, int> SoftwareReasons,
    long TargetErrors = 0,
    int PendingEvents = 0,
    long PlacedEvents = 0,
    double PlacementLatencyMeanMicros = 0,
    double PlacementLatencyMaxMicros = 0,
    long HotSwaps = 0)
{
    /// <summary>Mean register writes per flow-table change (add, modify, removal).</summary>
    public double RegisterWritesPerFlowMod => FlowModEvents == 0 ? 0 : (double)FlowModRegisterWrites / FlowModEvents;
}

