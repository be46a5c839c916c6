using Microsoft.Extensions.Logging;
using Softswitch.Datapath;
using Softswitch.Datapath.Flow;

namespace Softswitch.Ofproto;

/// <summary>The fail mode: what the switch does while no controller is connected (see <see cref="OfSwitch"/>).</summary>
public sealed partial class OfSwitch
{
    /// <summary>
    /// Whether a controller is connected: decides the fail mode (call whenever a primary connection comes or goes or
    /// agrees on a version). <paramref name="missToController"/>: whether a packet that no flow of table 0 matches goes
    /// to the controllers while one is connected (OpenFlow 1.0's implicit packet-in on a miss) or is dropped (OpenFlow
    /// 1.3.5 section 5.4: only a table-miss flow entry sends misses to the controller). As Open vSwitch's connmgr
    /// (<c>connmgr_wants_packet_in_on_miss</c>), the agent asks for the implicit packet-in while any controller speaks a
    /// version before 1.3.
    /// </summary>
    public void SetControllerConnected(bool connected, bool missToController = true)
        => ReportDeleted(SetControllerConnectedUnreported(connected, missToController));

    /// <summary>
    /// <see cref="SetControllerConnected"/> without reporting the normal flows that entering emergency mode deleted:
    /// the caller passes the result to <see cref="ReportDeleted"/> once it holds no lock of its own (the report may wait
    /// for an offload target to settle the flows' last counts, and no lock is held while waiting for it).
    /// </summary>
    public DeletedFlows? SetControllerConnectedUnreported(bool connected, bool missToController = true)
    {
        lock (_failModeLock)
        {
            _connected = connected;
            _missToController = missToController;
            return ApplyFailModeLocked();
        }
    }

    /// <summary>Reports flows the fail mode deleted (FLOW_REMOVED, after the datapath's listeners settle them); call holding no lock.</summary>
    public void ReportDeleted(DeletedFlows? deleted)
    {
        if (deleted is null) return;
        try
        {
            ReportFinal(deleted.Removed);
        }
        finally
        {
            deleted.Hold.Dispose();
        }
    }

    /// <summary>
    /// Flows the fail mode deleted, to report (<see cref="ReportDeleted"/>): held in the reclamation domain until then,
    /// so their entries stay theirs.
    /// </summary>
    public sealed class DeletedFlows
    {
        internal DeletedFlows(List<FlowRemoved> removed, Datapath.Classifier.QuiescentDomain.Hold hold)
        {
            Removed = removed;
            Hold = hold;
        }

        internal List<FlowRemoved> Removed { get; }
        internal Datapath.Classifier.QuiescentDomain.Hold Hold { get; }

        /// <summary>How many flows were deleted.</summary>
        public int Count => Removed.Count;
    }

    private void EmergencyFlowsChanged()
    {
        DeletedFlows? deleted = null;
        lock (_failModeLock)
            if (!_connected) deleted = ApplyFailModeLocked();
        ReportDeleted(deleted);
    }

    private void ApplyFailMode()
    {
        DeletedFlows? deleted;
        lock (_failModeLock) deleted = ApplyFailModeLocked();
        ReportDeleted(deleted);
    }

    /// <summary>
    /// Sets the datapath's miss behaviour and the emergency flows' use from the controller state and the fail mode;
    /// returns the normal flows entering emergency mode deleted, for the caller to report once it lets go of the lock.
    /// </summary>
    private DeletedFlows? ApplyFailModeLocked()
    {
        var before = _dp.MissBehavior;
        bool missBefore = _loggedMissToController;
        _loggedMissToController = _missToController;
        _dp.MissBehavior = _connected ? MissBehavior.Controller
                         : Options.FailMode == FailMode.Standalone ? MissBehavior.Normal : MissBehavior.Drop;
        // Without a controller, table 0's misses follow the fail mode (the datapath's miss behaviour) in every version.
        Flows.SetTableMiss(OfFlowTables.MainTableId, _connected && !_missToController ? TableMiss.Drop : TableMiss.Controller);
        // Emergency flows (OFPFF_EMERG) take over only while no controller is connected, and only if there are any.
        bool emergency = !_connected && Options.FailMode == FailMode.Secure && Flows.Emergency > 0;
        bool entering = emergency && !Flows.UseEmergencyTable;
        Flows.UseEmergencyTable = emergency;
        // OpenFlow 1.0 section 4.3: entering emergency mode deletes every normal flow; the emergency flows stay after
        // a controller connects again.
        var deleted = entering ? DeleteNormalFlows() : null;
        if (_dp.MissBehavior != before || !_failModeLogged || missBefore != _missToController)
        {
            _log.LogInformation("controller {State}: table misses {Behavior}", _connected ? "connected" : "not connected",
                _dp.MissBehavior switch { MissBehavior.Controller when !_missToController => "go to the table-miss flow entry (OpenFlow 1.3)", MissBehavior.Controller => "go to the controller", MissBehavior.Normal => "are switched by MAC learning (standalone)", _ => "are dropped (secure)" });
        }
        _failModeLogged = true;
        return deleted;
    }

    /// <summary>
    /// Deletes every flow of every table (each that asked reported as deleted), every group and every meter, as Open
    /// vSwitch's <c>ofproto_flush_flows</c>: its bridge does so when the fail mode of a bridge without controllers
    /// changes (<c>connmgr_set_fail_mode</c>), and with controllers keeps them all.
    /// </summary>
    public void Flush()
    {
        EndFlowModRun();
        var removed = new List<FlowRemoved>();
        using var hold = Flows.Reclamation.Enter();
        Flows.RemoveWhere(static _ => true, FlowRemovedReason.Delete, removed);
        lock (_groupLock) DeleteGroup(GroupModRequest.AllGroups, removed);
        lock (_meterLock) DeleteMeter(MeterModRequest.All, removed);
        ReportFinal(removed);
    }

    /// <summary>Deletes every normal flow (the report is the caller's, outside the lock: <see cref="ReportDeleted"/>).</summary>
    private DeletedFlows DeleteNormalFlows()
    {
        var removed = new List<FlowRemoved>();
        var hold = Flows.Reclamation.Enter();
        Flows.RemoveWhere(static _ => true, FlowRemovedReason.Delete, removed);
        _log.LogWarning("emergency mode: no controller, emergency flows in use; {Count} normal flows deleted", removed.Count);
        return new DeletedFlows(removed, hold);
    }
}
