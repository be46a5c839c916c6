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

    private OffloadAttachment(SwitchDatapath dp, OffloadManager manager)
    {
        _dp = dp;
        Manager = manager;
    }

    public OffloadManager Manager { get; }

    /// <summary>Maintenance steps whose target calls failed.</summary>
    public long MaintenanceErrors => Interlocked.Read(ref _maintenanceErrors);

    /// <summary>
    /// Attaches <paramref name="target"/> to <paramref name="dp"/>: the manager offers the flows already there, and
    /// every later change, to the target; <paramref name="log"/> makes the placement's log for the new manager, or null.
    /// </summary>
    public static OffloadAttachment Attach(SwitchDatapath dp, IOffloadTarget target, Func<OffloadManager, IOffloadLog>? log = null)
    {
        ArgumentNullException.ThrowIfNull(dp);
        ArgumentNullException.ThrowIfNull(target);
        var manager = new OffloadManager(dp, target);
        var l = log?.Invoke(manager);
        manager.Log = l;
        manager.Attach();
        var a = new OffloadAttachment(dp, manager);
        dp.Subscribe(a);
        l?.OnStarted(target.Description);
        return a;
    }

    public string Describe()
    {
        long errors = MaintenanceErrors;
        return $"target: {Manager.Target.Description}\n" + (errors == 0 ? "" : $"maintenance errors: {errors}\n");
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

    public void Dispose()
    {
        _dp.Unsubscribe(this);
        Manager.Detach();
    }
}
