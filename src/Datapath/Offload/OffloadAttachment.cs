using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Offload;

/// <summary>
/// An offload target attached to a <see cref="SwitchDatapath"/>, whatever the target: what a host holds, shows and
/// disposes (one path for a board, its emulation or a dummy).
/// </summary>
public interface IOffloadAttachment : IDisposable
{
    /// <summary>The manager keeping the target in step with the datapath's tables.</summary>
    OffloadManager Manager { get; }

    /// <summary>The target's own lines for <c>offload/show</c> (what it is, its device's counters), each ending in a newline.</summary>
    string Describe();
}

/// <summary>
/// Attaches any <see cref="IOffloadTarget"/> that needs no assembly of its own (no ports to wrap) to a datapath: an
/// <see cref="OffloadManager"/> over its pipeline, polled at the start of each maintenance step (hardware counters read
/// before flows expire).
/// </summary>
/// <remarks>
/// Mechanism only: the log is the caller's (the log argument of <see cref="Attach"/>), told of the start (with
/// the target's <see cref="IOffloadTarget.Description"/>) and of every maintenance step. A target call that throws
/// during maintenance is reported to the log and counted, never thrown: expiry runs right after. Thread safe as the
/// manager is; <see cref="Dispose"/> once.
/// </remarks>
public sealed class OffloadAttachment : IOffloadAttachment, IDatapathEvents
{
    private readonly SwitchDatapath _dp;
    private long _maintenanceErrors;

    private readonly bool _syncOnRequests;

    private OffloadAttachment(SwitchDatapath dp, OffloadManager manager, bool syncOnRequests)
    {
        _dp = dp;
        Manager = manager;
        _syncOnRequests = syncOnRequests;
    }

    /// <summary>Longest a barrier waits for the target to hold the changes made before it.</summary>
    public static readonly TimeSpan BarrierTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Barriers that returned before the target held every change made before them (timed out).</summary>
    public long BarrierTimeouts => Interlocked.Read(ref _barrierTimeouts);
    private long _barrierTimeouts;

    public OffloadManager Manager { get; }

    /// <summary>Maintenance steps whose target calls failed.</summary>
    public long MaintenanceErrors => Interlocked.Read(ref _maintenanceErrors);

    /// <summary>
    /// Attaches <paramref name="target"/> to <paramref name="dp"/>: the manager offers the flows already there, and
    /// every later change, to the target; <paramref name="log"/> makes the placement's log for the new manager, or null.
    /// With <paramref name="syncOnRequests"/>, each statistics read first adds the hardware's counts to the flows, and
    /// each barrier waits (up to <see cref="BarrierTimeout"/>) until the target holds every change made before it.
    /// </summary>
    public static OffloadAttachment Attach(SwitchDatapath dp, IOffloadTarget target, Func<OffloadManager, IOffloadLog>? log = null,
                                           bool syncOnRequests = false)
    {
        ArgumentNullException.ThrowIfNull(dp);
        ArgumentNullException.ThrowIfNull(target);
        var manager = new OffloadManager(dp, target);
        var l = log?.Invoke(manager);
        manager.Log = l;
        manager.Attach();
        var a = new OffloadAttachment(dp, manager, syncOnRequests);
        dp.Subscribe(a);
        l?.OnStarted(target.Description);
        return a;
    }

    public string Describe()
    {
        long errors = MaintenanceErrors;
        long late = BarrierTimeouts;
        return $"target: {Manager.Target.Description}\n" + (errors == 0 ? "" : $"maintenance errors: {errors}\n") +
               (late == 0 ? "" : $"barriers answered before the target held the changes: {late}\n");
    }

    void IDatapathEvents.OnMaintenanceStarting()
    {
        string? problem = null;
        try
        {
            Manager.Poll();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Interlocked.Increment(ref _maintenanceErrors);
            problem = $"offload: maintenance of target {Manager.Target.Name} failed: {e.Message}";
        }
        Manager.Log?.OnMaintenance(problem);
    }

    void IDatapathEvents.OnCountersWanted()
    {
        if (!_syncOnRequests) return;
        try
        {
            Manager.ReadHardwareCounters();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Interlocked.Increment(ref _maintenanceErrors);
            Manager.Log?.OnMaintenance($"offload: reading the counters of target {Manager.Target.Name} failed: {e.Message}");
        }
    }

    void IDatapathEvents.OnBarrier()
    {
        if (_syncOnRequests && !Manager.WaitForPlacement(BarrierTimeout)) Interlocked.Increment(ref _barrierTimeouts);
    }

    /// <summary>A port's config changed (PORT_MOD): the placement follows it now, not at the next maintenance step.</summary>
    void IDatapathEvents.OnPortStatus(PortStatusReason reason, PortSlot port)
    {
        if (reason != PortStatusReason.Modify) return;
        try
        {
            Manager.RecheckDatapathState();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Interlocked.Increment(ref _maintenanceErrors);
            Manager.Log?.OnMaintenance($"offload: following port {port.No}'s config on target {Manager.Target.Name} failed: {e.Message}");
        }
    }

    void IDatapathEvents.OnFlowsRemoving(ReadOnlySpan<FlowRemoved> removed)
    {
        if (!_syncOnRequests) return;
        foreach (var r in removed)
        {
            // One in hardware: its removal is queued; once placed and settled, its last counts are in the entry. One
            // whose removal is placed already may still owe the counts of frames that found it before.
            if ((Manager.TryGetPlacement(r.Entry, out var p) && p.InHardware) || Manager.HasUnsettledRemovals)
            {
                if (!Manager.WaitForSettled(BarrierTimeout)) Interlocked.Increment(ref _barrierTimeouts);
                return;
            }
        }
    }

    public void Dispose()
    {
        _dp.Unsubscribe(this);
        Manager.Detach();
    }
}
