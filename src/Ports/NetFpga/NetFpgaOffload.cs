using Softswitch.Datapath;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ports.NetFpga;

/// <summary>Which board the offload drives.</summary>
public enum NetFpgaMode
{
    /// <summary>The real board through the nf2 driver's register ioctls.</summary>
    Hardware,
    /// <summary>The register-level emulator; the given ports are the wires of its MAC ports.</summary>
    Emulated,
}

public sealed record NetFpgaOffloadOptions
{
    /// <summary>The board's first interface (register access goes through it).</summary>
    public string Interface { get; init; } = Nf2RegisterBus.DefaultInterface;
    /// <summary>Reset the card before programming it (real board only; takes 2 s).</summary>
    public bool ResetCard { get; init; }
    /// <summary>
    /// Makes the log of the placement for the new manager (decisions, the start, maintenance problems), before any flow
    /// is offered; null: no log. The host plugs its logger in here.
    /// </summary>
    public Func<OffloadManager, IOffloadLog>? Log { get; init; }
}

/// <summary>
/// Puts a NetFPGA board (real or emulated) between a <see cref="SwitchDatapath"/> and its physical ports, and keeps the
/// board's tables in step with the flow table.
/// </summary>
/// <remarks>
/// <code>
///   wire ─► MAC i ─► board lookup ─┬─ hit ──► actions ─► MAC j ─► wire        (never seen by software)
///                                  └─ miss ─► catch-all row ─► CPU queue i ─► NetFpgaBoardPort i ─► SwitchDatapath
///   SwitchDatapath ─► NetFpgaBoardPort j ─► CPU queue j ─► CPU→MAC row ─► MAC j ─► wire
///   FlowTable ─(IFlowTableObserver: queue)─► OffloadManager (dp-offload thread) ─(IOffloadTarget)─► NetFpgaDriver ─(IRegisterBus)─► board
/// </code>
/// <see cref="Attach"/> adds board port i as OpenFlow port i + 1, registers the manager as the table's observer (flow-mods
/// are queued and placed on the manager's worker thread, so none waits for register writes), and
/// subscribes to the datapath's events (<see cref="IDatapathEvents.OnMaintenanceStarting"/>) so each maintenance step first reads the hardware counters (flow
/// counters into the flows, MAC counters into the ports) and only then expires flows. Assembly and mechanism only: the
/// log of the placement is the caller's (<see cref="NetFpgaOffloadOptions.Log"/>), told of the start and of every
/// maintenance step; which board a configuration names is the host's to parse.
/// </remarks>
public sealed class NetFpgaOffload : IOffloadAttachment, IDatapathEvents
{
    private readonly SwitchDatapath _dp;

    public OffloadManager Manager { get; }
    public NetFpgaDriver Driver { get; }
    /// <summary>The emulator, in <see cref="NetFpgaMode.Emulated"/>.</summary>
    public EmulatedNetFpga? Emulator { get; }
    public IReadOnlyList<NetFpgaBoardPort> Ports { get; }
    private readonly string _interface;

    private NetFpgaOffload(SwitchDatapath dp, NetFpgaDriver driver, EmulatedNetFpga? emulator, NetFpgaBoardPort[] ports, OffloadManager manager,
                           string iface)
    {
        _dp = dp;
        _interface = iface;
        Driver = driver;
        Emulator = emulator;
        Ports = ports;
        Manager = manager;
        dp.Subscribe(this);
    }

    /// <summary>
    /// Builds the board, wraps <paramref name="physicalPorts"/> (1 to 4, board ports 0..n−1) as OpenFlow ports 1..n of
    /// <paramref name="dp"/>, programs the reserved rows and attaches the offload manager to <paramref name="dp"/>'s
    /// flow table (flows already there are offered too). Throws <see cref="NetFpgaUnavailableException"/> when the real
    /// board is not there.
    /// </summary>
    public static NetFpgaOffload Attach(SwitchDatapath dp, IReadOnlyList<IPort> physicalPorts, NetFpgaMode mode, NetFpgaOffloadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(dp);
        ArgumentNullException.ThrowIfNull(physicalPorts);
        if (physicalPorts.Count is < 1 or > NetFpgaRegisters.MaxPorts)
            throw new ArgumentException($"a NetFPGA-1G has 1 to {NetFpgaRegisters.MaxPorts} ports, not {physicalPorts.Count}", nameof(physicalPorts));
        options ??= new NetFpgaOffloadOptions();
        EmulatedNetFpga? emulator = null;
        IRegisterBus bus;
        if (mode == NetFpgaMode.Emulated)
        {
            emulator = new EmulatedNetFpga(dp.Clock);
            bus = emulator;
        }
        else
        {
            bus = Nf2RegisterBus.Open(options.Interface);
        }
        var driver = new NetFpgaDriver(bus, physicalPorts.Count);
        try
        {
            driver.Initialize(resetCard: mode == NetFpgaMode.Hardware && options.ResetCard);
        }
        catch
        {
            driver.Dispose();
            throw;
        }
        var ports = new NetFpgaBoardPort[physicalPorts.Count];
        for (int i = 0; i < ports.Length; i++)
        {
            ports[i] = new NetFpgaBoardPort(i, physicalPorts[i], emulator);
            dp.AddPort(ports[i], (ushort)(i + 1));
        }
        var manager = new OffloadManager(dp, driver);
        var log = options.Log?.Invoke(manager);
        manager.Log = log;
        manager.Attach();
        var offload = new NetFpgaOffload(dp, driver, emulator, ports, manager, options.Interface);
        log?.OnStarted($"{offload.BoardName}, {ports.Length} port(s) (OpenFlow ports 1..{ports.Length}), exact table {NetFpgaRegisters.ExactTableRows} rows, " +
                       $"wildcard table {NetFpgaRegisters.UsableWildcardRows} rows for flows + {NetFpgaRegisters.WildcardTableRows - NetFpgaRegisters.UsableWildcardRows} reserved");
        return offload;
    }

    private long _maintenanceErrors;

    /// <summary>Which board: "NetFPGA-1G through nf2c0" or "emulated NetFPGA-1G (register-level model)".</summary>
    public string BoardName => Emulator is null ? $"NetFPGA-1G through {_interface}" : "emulated NetFPGA-1G (register-level model)";

    /// <summary>
    /// The board's own lines of `softswitch ctl offload/show` (the table occupancy comes from the driver's
    /// <see cref="NetFpgaDriver.Occupancy"/>): which board, every register access so far, failed maintenance steps.
    /// </summary>
    public string DescribeBoard()
    {
        string errors = MaintenanceErrors == 0 ? "" : $"maintenance errors: {MaintenanceErrors} (last: {LastMaintenanceError})\n";
        return $"board: {BoardName}, {Ports.Count} port(s)\n" +
               $"register accesses: {Driver.RegisterWrites} writes, {Driver.RegisterReads} reads\n" + errors;
    }

    string IOffloadAttachment.Describe() => DescribeBoard();

    /// <summary>Maintenance steps whose register accesses failed (expiry still runs after them).</summary>
    public long MaintenanceErrors => Interlocked.Read(ref _maintenanceErrors);
    public string? LastMaintenanceError { get; private set; }

    void IDatapathEvents.OnMaintenanceStarting() => Maintenance();

    /// <summary>
    /// Reads the hardware counters now (what each maintenance step does first). A failing board is counted, not
    /// thrown: the datapath's flow expiry runs right after this hook and must not be skipped.
    /// </summary>
    public void Maintenance()
    {
        string? problem = null;
        try
        {
            Manager.Poll();
            foreach (var p in Ports) p.RefreshCounters(Driver);
        }
        catch (Exception e) when (e is NetFpgaRegisterException or IOException or ObjectDisposedException)
        {
            Interlocked.Increment(ref _maintenanceErrors);
            LastMaintenanceError = e.Message;
            problem = $"offload: reading the board's counters failed: {e.Message}";
        }
        Manager.Log?.OnMaintenance(problem);
    }

    public void Dispose()
    {
        _dp.Unsubscribe(this);
        Manager.Detach();
    }
}
