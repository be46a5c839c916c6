using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath;

/// <summary>What happened to a port: added, deleted, or its config or link state changed.</summary>
public enum PortStatusReason : byte
{
    Add,
    Delete,
    Modify,
}

/// <summary>
/// What happens in the datapath on its own, told to the layers above (called from datapath threads; handlers must be
/// quick). The one callback mechanism of the datapath: every listener (<see cref="SwitchDatapath.Subscribe"/>: the
/// OpenFlow agent, an offload target) implements what it needs; the rest are no-ops. Results of a layer's own requests
/// (a rule removed by a write) are returned by the request instead. Packets for the controller travel apart, through
/// the forwarders' upcall rings (<see cref="SwitchDatapath.DrainUpcalls"/>).
/// </summary>
public interface IDatapathEvents
{
    /// <summary>A maintenance step starts, before flows expire (an offload target reads its hardware counters here).</summary>
    void OnMaintenanceStarting() { }
    /// <summary>
    /// Someone is about to read flow counters (a statistics request): an offload target adds what its hardware counted
    /// since the last read. Called on the reader's thread (<see cref="SwitchDatapath.RefreshCounters"/>).
    /// </summary>
    void OnCountersWanted() { }
    /// <summary>
    /// A barrier: the table changes made so far must be in force in every forwarding path when this returns (an offload
    /// target waits until its hardware holds them). Called on the requester's thread (<see cref="SwitchDatapath.Barrier"/>).
    /// </summary>
    void OnBarrier() { }
    /// <summary>
    /// Flows have left their tables and their removal is about to be reported (expiry, or the flows of a write that
    /// asked for reports): an offload target takes them out of its hardware first, reading their last counts into
    /// them, so the report carries every packet. Called on the reporting thread, the entries held from reuse.
    /// </summary>
    void OnFlowsRemoving(ReadOnlySpan<FlowRemoved> removed) { }
    /// <summary>
    /// A rule's idle or hard timeout passed; it has left its table. The entry is what it was only during the call (a
    /// recycling table may give it a new incarnation later; see <see cref="Classifier.FlowTable.RecycleEntries"/>).
    /// </summary>
    void OnFlowExpired(in FlowRemoved expired) { }
    void OnPortStatus(PortStatusReason reason, PortSlot port) { }
    /// <summary>A maintenance step failed (a bug: the step is retried at the next interval, counted in
    /// <see cref="SwitchDatapath.MaintenanceErrorCount"/>).</summary>
    void OnMaintenanceError(Exception error) { }
}
