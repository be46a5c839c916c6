using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Ports;
using Softswitch.OfAgent;
using Softswitch.OfAgent.Session;
using Softswitch.Offload;
using Softswitch.Ofproto;
using Softswitch.Ports;
using Softswitch.Ports.AfPacket;
using Softswitch.Ports.AfXdp;
using Softswitch.Ports.Linux;
using Softswitch.Ports.Patch;

namespace Softswitch.Vswitchd;

/// <summary>What a bridge needs from the daemon: its loggers, the run directory (for BRIDGE.mgmt) and the forwarding
/// threads every bridge shares (null: each bridge starts one of its own).</summary>
internal sealed record BridgeHost(ILoggerFactory Loggers, string RunDir, ForwardingThreads? Threads = null)
{
    /// <summary>Opens the port an Interface row asks for, in the ports' one vocabulary (<see cref="PortRequest"/>): type ""
    /// or system an AF_PACKET port (<see cref="Bridge.SystemPort"/>), internal a tap port, afxdp an AF_XDP port with the
    /// options its row asks for (<see cref="AfXdpInterface"/>); tests replace it.</summary>
    public Func<PortRequest, IPort> OpenPort { get; init; } = PortFactory.Open;

    /// <summary>Sets the MTU of an existing device (an interface of type "" or system, before it is opened): null, or why
    /// not; tests replace it.</summary>
    public Func<string, int, string?> SetMtu { get; init; } = static (name, mtu) => NetInterface.TrySetMtu(name, mtu);

    /// <summary>Where interfaces of type "patch" of every bridge find their peers.</summary>
    public PatchPanel Patches { get; init; } = new();

    /// <summary>The packet arena every bridge's AF_XDP ports and forwarding threads share, made at the first AF_XDP interface.</summary>
    public AfXdpArena Arena { get; init; } = new();
}

/// <summary>The state of one Interface row as the daemon writes it back.</summary>
internal sealed record InterfaceStatus(long Ofport, string? Error, long? Ifindex = null, string? MacInUse = null, string? LinkState = null, string? AdminState = null)
{
    /// <summary>The MTU in use (of an interface with a kernel device), or null.</summary>
    public long? Mtu { get; init; }

    /// <summary>The settings of the row refused, with the reason (its <c>status</c> column).</summary>
    public IReadOnlyDictionary<string, string> Status { get; init; } = new Dictionary<string, string>();

    /// <summary>The current rate in bit/s and its duplex ("full", "half"), from the port's link modes; nulls when it has none.</summary>
    public (long Bps, string Duplex)? Speed { get; init; }
}

/// <summary>
/// One Bridge row served: a datapath, its OpenFlow switch and agent (as `softswitch run` composes them, see
/// <see cref="SwitchStack"/>), and the interfaces of its ports. <see cref="Apply"/> makes it what a newer read of the row
/// asks for.
/// </summary>
/// <remarks>
/// Changes that the agent carries (controllers, protocols, datapath id, fail mode) remake the OpenFlow switch and
/// agent over the same datapath and flow tables: flows, ports, groups, meters and the fragment handling stay (each
/// group and meter carries what the controller gave, see <see cref="OfSwitch"/>), connections are opened anew. As
/// Open vSwitch's connmgr, a fail mode changed on a bridge without Controller rows deletes every flow, group and
/// meter. A listener that cannot be opened (a passive controller's port taken, the management socket held by a live
/// process) is left out, said in its Controller row's status (or the Bridge status) and a log line, and tried again
/// at each apply: once it can listen the agent is remade with it. Interfaces are opened and closed one by one; one
/// that cannot be opened keeps its error (ofport -1) and is tried again at each apply, the rest of the bridge works.
/// Interfaces of type afxdp take Open vSwitch's options (<see cref="AfXdpInterface"/>); with Open_vSwitch
/// other_config:hw-offload=true the XDP flow offload holds the bridge's AF_XDP ports (see FollowOffload), attached and
/// detached under the same thread. Used from the daemon's configuration thread only (control commands read the offload
/// under the daemon's bridges lock, which that thread holds while it applies), or made and disposed for it by threads
/// it waits for (several bridges at once, see VswitchdService.Create).
/// </remarks>
internal sealed class Bridge : IDisposable
{
    /// <summary>The queues each port of a bridge has (QoS queue ids 0 to this minus one).</summary>
    public static readonly int QueuesPerPort = Math.Min(Datapath.Qos.PortShaper.MaxQueues, new DatapathOptions().QueuesPerPort);

    /// <summary>The LOCAL port's number in the Interface table's ofport, as OpenFlow 1.0 numbers it (OFPP_LOCAL).</summary>
    public const long OfpLocal = 65534;

    /// <summary>
    /// Bytes of an AF_PACKET port's receive ring unless its Interface asks otherwise (options:rx_ring_size): 512 slots
    /// of 2 KiB at the default MTU. Measured with unthrottled trafgen bursts of 64 B frames through one bridge on a
    /// loaded machine: 1 MiB keeps a burst of 1,000 frames, 2 MiB one of 2,000, 8 MiB most of 5,000. A port starts with
    /// a ring of <see cref="InitialRxFrames"/> and grows to this one the first time it is busy; one that still loses
    /// frames grows on (<see cref="MaxGrownRxRingSize"/>).
    /// </summary>
    public const int DefaultRxRingSize = 1 << 20;

    /// <summary>
    /// The most an AF_PACKET port's ring grows to without options:rx_ring_size (32 MiB, 16,384 frames at MTU 1500: the
    /// ring `softswitch run`'s ports have from the start): each loss of frames at the full ring makes it four times
    /// larger (4, 16, then 32 MiB), the frames the old ring held carried over. A forwarding thread preempted for longer
    /// than its ring lasts loses frames at any rate: 512 frames are 1 ms at 0.5 Mpps, and on a loaded machine the
    /// thread waited tens of milliseconds for its CPU, so with 1 MiB vswitchd kept zero loss only to 0.02-0.07 Mpps
    /// where `run` kept 0.04-0.58 (bench/netns/zeroloss.sh, vsd-afpacket against ssw-afpacket, docs/benchmarks.md).
    /// </summary>
    public const int MaxGrownRxRingSize = 32 << 20;

    /// <summary>
    /// Frames of the receive ring an AF_PACKET port starts with (8 pages at the default MTU), until one receive takes
    /// half of them or the kernel loses one; then it grows fourfold (64, 256 frames) the same way, up to the full ring
    /// (<see cref="AfPacketOptions.InitialRxFrames"/>). The kernel allocates a
    /// ring whole when it is set up (its pages are resident from then on, there is no allocation on first touch), so
    /// a hundred idle ports with the full ring pinned a hundred MiB; Open vSwitch's own AF_PACKET ports have no ring
    /// (the socket's receive queue).
    /// </summary>
    public const int InitialRxFrames = 16;

    /// <summary>
    /// Packet buffers of a bridge's datapath per forwarding thread (a `softswitch run` switch has 4,096). A bridge holds
    /// buffers only while a burst is forwarded (its ports copy frames in and out; queues, patch ports and tunnels keep
    /// their own copies), so 1,024 hold 32 bursts of 32; their index arrays are resident from the start, and a hundred
    /// bridges at 4,096 kept 7 MB of them.
    /// </summary>
    public const int PacketBuffers = 1024;

    /// <summary>Packets for the controller each of a bridge's forwarders queues before it counts drops (a `softswitch run`
    /// switch queues 1,024): the daemon's one upcall pump drains every bridge's queues, and a hundred bridges at 1,024
    /// kept 7 MB of their index arrays resident.</summary>
    public const int UpcallSlots = 256;

    /// <summary>The bounds of options:rx_ring_size (bytes).</summary>
    public const int MinRxRingSize = 128 << 10, MaxRxRingSize = 1 << 30;

    /// <summary>An interface open as port <paramref name="No"/>; <paramref name="Warning"/>: what of its row was not
    /// applied, written to its error column while it is open (null: nothing).</summary>
    private sealed record OpenInterface(InterfaceConfig Config, ushort No, IPort Port, string? Warning = null)
    {
        /// <summary>The name as the kernel's ifr_name, made once (a name change reopens the interface), for
        /// <see cref="Kernel"/>; null when it cannot name a kernel interface.</summary>
        public byte[]? IfrName { get; } = KernelName(Config.Name);
    }

    private readonly BridgeHost _host;
    private readonly ILogger _log;
    private readonly Dictionary<Guid, OpenInterface> _open = [];
    private readonly Dictionary<Guid, (InterfaceConfig Config, string Error)> _failed = [];
    /// <summary>Each port's interface administrative state as last followed into its PORT_DOWN bit (<see cref="FollowAdminStates"/>).</summary>
    private readonly Dictionary<ushort, bool> _adminUp = [];
    private LinkWatcher? _links;
    private BridgeConfig _config;
    private string _refused = "";
    /// <summary>The agent serves ssl:/pssl: targets; or it left them out for want of usable TLS material (remade when the SSL row changes).</summary>
    private bool _tlsInAgent, _tlsWaiting;
    /// <summary>The XDP flow offload (hw-offload=true) while attached, and the AF_XDP port numbers it holds ("1,2").</summary>
    private IOffloadAttachment? _offload;
    private string _offloadPorts = "";
    /// <summary>What the offload state last said in the log, so a state is said once; the port set an attach failed on (tried again when it changes).</summary>
    private string _offloadSaid = "", _offloadFailedOn = "";
    /// <summary>Passive controller targets the agent left out because they cannot listen now, with why (tried again at each apply).</summary>
    private readonly Dictionary<string, string> _listenErrors = new(StringComparer.Ordinal);
    /// <summary>Why the management socket (BRIDGE.mgmt) is not served, or null while it is.</summary>
    private string? _mgmtError;
    /// <summary>Controller targets refused (they do not parse), with why.</summary>
    private readonly Dictionary<string, string> _targetErrors = new(StringComparer.Ordinal);
    /// <summary>The bridge's spanning tree while stp_enable=true, else null.</summary>
    private BridgeStp? _stp;
    /// <summary>The bridge's rapid spanning tree while rstp_enable=true, else null.</summary>
    private BridgeRstp? _rstp;
    /// <summary>The bridge's bonds while it has any, else null.</summary>
    private BridgeBonds? _bonds;
    /// <summary>The bridge's multicast snooping while mcast_snooping_enable=true, else null.</summary>
    private BridgeMcast? _mcast;
    /// <summary>Why stp_enable=true runs no spanning tree (stp-port-num on some ports only), or null.</summary>
    private string? _stpRefused;

    public string Name { get; }
    public Guid Uuid => _config.Uuid;
    public SwitchDatapath Dp { get; }
    public OfFlowTables Flows { get; }
    public OfSwitchAgent Agent { get; private set; }
    public ulong DatapathId { get; private set; }
    public string ManagementSocket { get; }
    /// <summary>The Controller rows of the configuration applied last.</summary>
    public IReadOnlyList<ControllerConfig> ControllerTargets => _config.Controllers;
    /// <summary>The Bridge status column as written back: the bridge settings refused, with the reason, <c>mgmt</c>
    /// while the management socket cannot be served, and the spanning tree's keys while it runs (stp_bridge_id,
    /// stp_designated_root, stp_root_path_cost) or <c>stp_enable</c> with why it cannot.</summary>
    public IReadOnlyDictionary<string, string> Status
    {
        get
        {
            if (_mgmtError is null && _stp is null && _stpRefused is null) return _config.Status;
            var status = new SortedDictionary<string, string>(_config.Status.ToDictionary(), StringComparer.Ordinal);
            if (_mgmtError is not null) status["mgmt"] = _mgmtError;
            if (_stpRefused is not null) status["stp_enable"] = "refused: " + _stpRefused;
            _stp?.AddBridgeStatus(status);
            return status;
        }
    }

    /// <summary>Each Port row's status column (the settings refused, see <see cref="BridgeConfig.PortStatus"/>, and the
    /// spanning tree's keys of a port in it: stp_port_id, stp_state, stp_sec_in_state, stp_role) and statistics column (stp_tx_count,
    /// stp_rx_count, stp_error_count; empty for a port not in a spanning tree).</summary>
    public IReadOnlyDictionary<Guid, (IReadOnlyDictionary<string, string> Status, IReadOnlyDictionary<string, long> Statistics)> PortStatus
    {
        get
        {
            var result = new Dictionary<Guid, (IReadOnlyDictionary<string, string>, IReadOnlyDictionary<string, long>)>();
            foreach (var (uuid, status) in _config.PortStatus) result[uuid] = (status, s_noStatistics);
            if (_stp is null) return result;
            foreach (var (uuid, status, statistics) in _stp.PortStatus())
            {
                var merged = new SortedDictionary<string, string>(_config.PortStatus.GetValueOrDefault(uuid)?.ToDictionary() ?? [], StringComparer.Ordinal);
                foreach (var (k, v) in status) merged[k] = v;
                result[uuid] = (merged, statistics);
            }
            return result;
        }
    }

    private static readonly IReadOnlyDictionary<string, long> s_noStatistics = new Dictionary<string, long>();
    private static readonly IReadOnlyDictionary<string, string> s_noStatus = new Dictionary<string, string>();

    /// <summary>The Bridge rstp_status column: the rapid spanning tree's keys while it runs (rstp_bridge_id,
    /// rstp_root_id, rstp_root_path_cost, rstp_designated_id, rstp_designated_port_id, rstp_bridge_port_id), else empty.</summary>
    public IReadOnlyDictionary<string, string> RstpStatus => _rstp?.BridgeStatus() ?? s_noStatus;

    /// <summary>Each Port row's rstp_status and rstp_statistics columns (see <see cref="BridgeRstp.PortStatus"/>): a port
    /// that takes no part in a rapid spanning tree has them empty, as Open vSwitch clears them.</summary>
    public IReadOnlyDictionary<Guid, (IReadOnlyDictionary<string, string> Status, IReadOnlyDictionary<string, long> Statistics)> PortRstpStatus
    {
        get
        {
            var result = new Dictionary<Guid, (IReadOnlyDictionary<string, string>, IReadOnlyDictionary<string, long>)>();
            foreach (var uuid in _config.PortStatus.Keys) result[uuid] = (s_noStatus, s_noStatistics);
            if (_rstp is null) return result;
            foreach (var (uuid, status, statistics) in _rstp.PortStatus()) result[uuid] = (status, statistics);
            return result;
        }
    }

    /// <summary>The rapid spanning tree as <c>ovs-appctl rstp/show</c> prints it, or null when the bridge runs none.</summary>
    public string? RstpShow()
    {
        if (_rstp is null) return null;
        var s = new System.Text.StringBuilder();
        _rstp.Show(s);
        return s.ToString();
    }

    /// <summary>The spanning tree as <c>ovs-appctl stp/show</c> prints it, or null when the bridge runs none.</summary>
    public string? StpShow()
    {
        if (_stp is null) return null;
        var s = new System.Text.StringBuilder();
        _stp.Show(s);
        return s.ToString();
    }
    /// <summary>Forces a topology change in the bridge's spanning tree (<c>ovs-appctl stp/tcn</c>); false when it runs none.</summary>
    public bool StpTopologyChange()
    {
        if (_stp is null) return false;
        _stp.ForceTopologyChange();
        return true;
    }

    /// <summary>Whether the bridge's spanning tree signals a topology change now (false when it runs none).</summary>
    public bool StpSignalsTopologyChange => _stp?.SignalsTopologyChange ?? false;

    /// <summary>The XDP flow offload's manager while Open_vSwitch other_config:hw-offload=true holds this bridge's AF_XDP ports; else null.</summary>
    public OffloadManager? Offload => _offload?.Manager;
    /// <summary>The offload's own lines for offload/show (where the program runs, map writes), or null.</summary>
    public string? DescribeOffload() => _offload?.Describe();
    /// <summary>True when one of its ports is a patch end (closing it tells every bridge of the link change).</summary>
    public bool HasPatchPorts => _open.Values.Any(o => o.Port is PatchPort);
    /// <summary>The interfaces open: name, OpenFlow port number and type.</summary>
    public IEnumerable<(string Name, ushort No, string Type)> OpenPorts => _open.Values.OrderBy(o => o.No).Select(o => (o.Config.Name, o.No, o.Config.Type));

    private Bridge(BridgeConfig config, BridgeHost host, SwitchDatapath dp, OfFlowTables flows, ulong dpid)
    {
        _config = config;
        _host = host;
        Name = config.Name;
        Dp = dp;
        Flows = flows;
        DatapathId = dpid;
        _log = host.Loggers.CreateLogger("bridge");
        ManagementSocket = Path.Combine(host.RunDir, Name + ".mgmt");
        Agent = null!;
    }

    /// <summary>Creates and starts the bridge with its LOCAL port (the interface named like the bridge), then applies the rest of <paramref name="config"/>.</summary>
    public static Bridge Create(BridgeConfig config, BridgeHost host)
    {
        var log = host.Loggers.CreateLogger("bridge");
        // Over the daemon's packet arena once there is one (as `softswitch run` passes it), so AF_XDP ports receive in place.
        var dp = new SwitchDatapath(new DatapathOptions { PoolSize = PacketBuffers, UpcallSlots = UpcallSlots, Arena = host.Arena.Current }, sharedThreads: host.Threads);
        host.Arena.Join(dp);
        var flows = SwitchStack.CreateTables(dp, FlowTableOptions.DefaultMaxFlows, recycle: true);
        Bridge? bridge = null;
        try
        {
            bridge = new Bridge(config, host, dp, flows, 0);
            bridge.OpenLocal(config);
            // Started after the LOCAL port is in, as `softswitch run` starts it: it watches the numbered ports.
            // Checked by the daemon's one link thread (CheckLinks), told of kernel link events by its one monitor.
            bridge._links = new LinkWatcher(dp, host.Loggers.CreateLogger("link"), Timeout.InfiniteTimeSpan);
            bridge.DatapathId = bridge.ChooseDatapathId(config);
            bridge.Agent = bridge.StartAgent(config);
            dp.Start();
            log.LogInformation("bridge {Bridge}: created, datapath id {Dpid:x16} (a user-space datapath, for datapath_type netdev and system alike: there is no kernel datapath)",
                config.Name, bridge.DatapathId);
            bridge.Apply(config);
            return bridge;
        }
        catch
        {
            if (bridge is not null)
            {
                bridge.Dispose();
            }
            else
            {
                host.Arena.Leave(dp);
                dp.Dispose();
            }
            throw;
        }
    }

    /// <summary>The bridge's LOCAL port: its internal interface named like the bridge, opened first (the datapath id may come from its MAC).</summary>
    private void OpenLocal(BridgeConfig config)
    {
        if (config.Interfaces.FirstOrDefault(i => i.Name == Name) is not { } local) return;
        if (local.Type != "internal")
        {
            _failed[local.Uuid] = (local, $"interface {local.Name} is named like its bridge: it must be of type internal (the bridge's LOCAL port)");
            return;
        }
        TryOpen(local, PortNumber.Local);
    }

    /// <summary>other_config:datapath-id, else other_config:hwaddr, else the LOCAL port's MAC (as Open vSwitch derives it from the bridge's address).</summary>
    private ulong ChooseDatapathId(BridgeConfig config)
    {
        if (config.DatapathIdText is { } text)
        {
            if (VswitchConfig.TryParseDatapathId(text, out ulong dpid)) return dpid;
            _log.LogWarning("bridge {Bridge}: other_config:datapath-id '{Text}' is not 16 hex digits (not all zero): ignored", Name, text);
        }
        if (config.HwAddr is { } hw)
        {
            if (MacAddress.TryParse(hw, out var mac)) return mac.Value;
            _log.LogWarning("bridge {Bridge}: other_config:hwaddr '{Text}' is not a MAC address: ignored", Name, hw);
        }
        if (Dp.Ports.Get(PortNumber.Local) is { } localSlot) return localSlot.Port.Info.HwAddr.Value;
        return (ulong)Random.Shared.NextInt64(1, 1L << 40) | 0x02_00_00_00_00_00UL;
    }

    private OfSwitchAgent StartAgent(BridgeConfig config)
    {
        var failMode = config.FailMode == "secure" ? FailMode.Secure : FailMode.Standalone;
        uint versions = 0;
        foreach (var p in config.Protocols)
        {
            if (AgentOptions.TryParseVersions(p, out uint v, out _)) versions |= v;
            else _log.LogWarning("bridge {Bridge}: protocol {Protocol} is not spoken by this switch (it speaks {Spoken}): refused", Name, p, AgentOptions.Spell(AgentOptions.AllVersions));
        }
        if (versions == 0)
        {
            if (config.Protocols.Count > 0) _log.LogWarning("bridge {Bridge}: none of the protocols asked for is spoken here: speaking {Spoken}", Name, AgentOptions.Spell(AgentOptions.OvsBridgeDefaultVersions));
            versions = AgentOptions.OvsBridgeDefaultVersions;
        }
        var controllers = new List<string>();
        var tlsTargets = new List<string>();
        _targetErrors.Clear();
        foreach (var c in config.Controllers)
        {
            // flow-restore-wait: no controller connection until the restore is done (the rows stay, not connected).
            if (config.FlowRestoreWait) break;
            if (OfEndpoint.TryParse(c.Target, out var ep, out var why))
            {
                (ep!.IsTls ? tlsTargets : controllers).Add(c.Target);
                continue;
            }
            _targetErrors[c.Target] = why;
            _log.LogWarning("bridge {Bridge}: controller target '{Target}' refused: {Why}", Name, c.Target, why);
        }
        var options = new AgentOptions
        {
            Controllers = controllers,
            Versions = versions,
            Listeners = ["punix:" + ManagementSocket],
        };
        // ssl: and pssl: take the SSL row's files; without usable ones they wait (left out) until the row changes.
        _tlsInAgent = _tlsWaiting = false;
        if (tlsTargets.Count > 0)
        {
            if (TlsMaterial(config.Ssl, out var why) is { } tls)
            {
                options.Tls = tls;
                controllers.AddRange(tlsTargets);
                _tlsInAgent = true;
            }
            else
            {
                _tlsWaiting = true;
                _log.LogWarning("bridge {Bridge}: controller target(s) {Targets} not served: {Why}", Name, string.Join(", ", tlsTargets), why);
            }
        }
        // The agent keeps one probe interval and one backoff for all its controllers: the shortest asked for
        // (inactivity_probe 0 turns probing off; max_backoff below 1 s is 1 s, as Open vSwitch takes them).
        if (config.Controllers.Select(c => c.InactivityProbeMs).OfType<long>().DefaultIfEmpty(-1).Min() is >= 0 and var probe)
            options.InactivityProbe = TimeSpan.FromMilliseconds(probe);
        if (config.Controllers.Select(c => c.MaxBackoffMs).OfType<long>().DefaultIfEmpty(-1).Min() is >= 0 and var backoff)
            options.MaxBackoff = TimeSpan.FromMilliseconds(Math.Max(1000, backoff));
        var agent = StartListening(options, failMode, config.DpDesc);
        _log.LogInformation("bridge {Bridge}: datapath id {Dpid:x16}, fail mode {FailMode}, {Protocols}, controllers [{Controllers}] (inactivity probe {Probe} s, max backoff {Backoff} s), tools at {Mgmt}",
            Name, DatapathId, failMode.ToString().ToLowerInvariant(), AgentOptions.Spell(versions), string.Join(", ", controllers),
            options.InactivityProbe.TotalSeconds, options.MaxBackoff.TotalSeconds, ManagementSocket);
        if (config.FlowRestoreWait && config.Controllers.Count > 0)
        {
            _log.LogInformation("bridge {Bridge}: other_config:flow-restore-wait=true: controllers [{Targets}] wait until it is removed (the flows are being restored)",
                Name, string.Join(", ", config.Controllers.Select(c => c.Target)));
        }
        return agent;
    }

    /// <summary>
    /// Starts the agent with every listener of <paramref name="options"/> that can be opened now: a passive controller
    /// target or the management socket that cannot (found by trying each alone) is left out, with why, and the agent
    /// started without it; the active controllers never keep an agent from starting.
    /// </summary>
    private OfSwitchAgent StartListening(AgentOptions options, FailMode failMode, string? dpDesc)
    {
        _listenErrors.Clear();
        _mgmtError = null;
        var all = options.Controllers.ToList();
        var listeners = options.Listeners.ToList();
        while (true)
        {
            options.Controllers = [.. all.Where(t => !_listenErrors.ContainsKey(t))];
            options.Listeners = _mgmtError is null ? listeners : [];
            try
            {
                return SwitchStack.StartAgent(Dp, Flows, DatapathId, failMode, options, _host.Loggers, dpDesc);
            }
            catch (IOException e)
            {
                bool found = false;
                foreach (var t in options.Controllers)
                {
                    if (!IsPassive(t) || CannotListen(t) is not { } why) continue;
                    _listenErrors[t] = why;
                    found = true;
                    _log.LogError("bridge {Bridge}: controller {Target} is not served: {Why} (tried again every second; the bridge forwards meanwhile)", Name, t, why);
                }
                if (!found && _mgmtError is null && listeners.Count > 0)
                {
                    // Not a controller's: the management socket's (or one that could not be told apart: it too is left out).
                    _mgmtError = CannotListen(listeners[0]) ?? e.Message;
                    found = true;
                    _log.LogError("bridge {Bridge}: no management socket: {Why} (tools cannot reach the bridge; tried again every second)", Name, _mgmtError);
                }
                if (!found)
                {
                    if (!options.Controllers.Any(IsPassive)) throw;
                    foreach (var t in options.Controllers.Where(IsPassive)) _listenErrors[t] = e.Message;
                }
            }
        }
    }

    private static bool IsPassive(string target) => OfEndpoint.TryParse(target, out var ep, out _) && ep!.Passive;

    /// <summary>Why a passive target cannot listen now (opened and closed at once to find out), or null when it can.</summary>
    private static string? CannotListen(string target)
    {
        if (!OfEndpoint.TryParse(target, out var ep, out var why)) return why;
        try
        {
            var probe = OfListener.Start(ep!, null, new AgentOptions(), static (_, _) => throw new IOException("a probe takes no connection"), NullLogger.Instance);
            probe.DisposeAsync().AsTask().GetAwaiter().GetResult();
            return null;
        }
        catch (IOException e)
        {
            return e.Message;
        }
    }

    /// <summary>Whether a listener left out (a passive controller's, the management socket) can now be opened.</summary>
    private bool ListenerFreed()
        => _listenErrors.Keys.Any(t => CannotListen(t) is null) || (_mgmtError is not null && CannotListen("punix:" + ManagementSocket) is null);

    /// <summary>The SSL row's files as the agent takes them, checked now (read as a new connection will read them); null with why when they cannot serve.</summary>
    private static OfTlsOptions? TlsMaterial(SslConfig? ssl, out string? why)
    {
        why = null;
        if (ssl is null)
        {
            why = "no SSL configuration (Open_vSwitch ssl is empty; ovs-vsctl set-ssl PRIVATE-KEY CERTIFICATE CA-CERT)";
            return null;
        }
        var tls = new OfTlsOptions
        {
            PrivateKeyFile = ssl.PrivateKey,
            CertificateFile = ssl.Certificate,
            CaCertFile = ssl.BootstrapCaCert ? null : ssl.CaCert,
            BootstrapCaCertFile = ssl.BootstrapCaCert ? ssl.CaCert : null,
        };
        try
        {
            OfTlsContext.Load(tls);
            return tls;
        }
        catch (OfTlsException e)
        {
            why = "SSL configuration: " + e.Message;
            return null;
        }
    }

    /// <summary>A new SSL row for an agent that serves ssl:/pssl: targets: the connections that follow use it, those established keep theirs.</summary>
    private void ReloadTls(SslConfig? ssl)
    {
        if (TlsMaterial(ssl, out var why) is not { } tls)
        {
            _log.LogWarning("bridge {Bridge}: the SSL configuration changed but cannot serve ({Why}): new connections keep the material before", Name, why);
            return;
        }
        try
        {
            Agent.ReloadTls(tls);
            _log.LogInformation("bridge {Bridge}: new SSL configuration (private key {Key}, certificate {Cert}, CA {Ca}) for new connections", Name, ssl!.PrivateKey, ssl.Certificate, ssl.CaCert);
        }
        catch (OfTlsException e)
        {
            _log.LogWarning("bridge {Bridge}: the SSL configuration changed but cannot serve ({Why}): new connections keep the material before", Name, e.Message);
        }
    }

    /// <summary>Makes the bridge what <paramref name="config"/> asks for; failures stay with their interface (see <see cref="Interfaces"/>).</summary>
    public void Apply(BridgeConfig config)
    {
        string refused = string.Join("; ", config.Refused);
        if (refused != _refused && refused.Length > 0) _log.LogWarning("bridge {Bridge}: not applied: {Refused}", Name, refused);
        _refused = refused;

        ulong dpid = DatapathId;
        if (config.DatapathIdText != _config.DatapathIdText || config.HwAddr != _config.HwAddr) dpid = ChooseDatapathId(config);
        bool sslChanged = !Equals(config.Ssl, _config.Ssl);
        bool failModeChanged = IsSecure(config.FailMode) != IsSecure(_config.FailMode);
        bool freed = (_listenErrors.Count > 0 || _mgmtError is not null) && ListenerFreed();
        if (freed) _log.LogInformation("bridge {Bridge}: a listener left out can be opened now: its agent is remade with it", Name);
        if (dpid != DatapathId || config.FailMode != _config.FailMode || config.AgentKey != _config.AgentKey || (sslChanged && _tlsWaiting) || freed)
        {
            // The agent (and the OpenFlow switch it speaks for) is remade over the same datapath and tables: flows,
            // groups and meters stay.
            DisposeAgent();
            DatapathId = dpid;
            Agent = StartAgent(config);
            if (failModeChanged && config.Controllers.Count == 0)
            {
                Agent.Switch.Flush();
                _log.LogInformation("bridge {Bridge}: fail mode {Mode} without a controller: every flow, group and meter deleted (as Open vSwitch)", Name,
                    IsSecure(config.FailMode) ? "secure" : "standalone");
            }
        }
        else if (sslChanged && _tlsInAgent)
        {
            ReloadTls(config.Ssl);
        }

        var wanted = config.Interfaces.ToDictionary(i => i.Uuid);
        bool removed = false;
        foreach (var (uuid, open) in _open.ToList())
        {
            if (wanted.TryGetValue(uuid, out var w) && w.Name == open.Config.Name && w.Type == open.Config.Type
                && (w.OfportRequest is null || w.OfportRequest == open.No || open.No == PortNumber.Local)
                && (w.Type is "" or "system" or "internal" || SameOptions(w.Options, open.Config.Options))
                && w.Options.GetValueOrDefault(RxRingSizeKey) == open.Config.Options.GetValueOrDefault(RxRingSizeKey)
                && w.MtuRequest == open.Config.MtuRequest && w.Mac == open.Config.Mac)
            {
                continue;
            }
            // The XDP offload holds its ports from attach to detach: it lets go before one of them goes.
            if (open.Port is AfXdpPort) DetachOffload($"port {PortText(open.No)} ({open.Config.Name}) leaves");
            Release(open.Port);
            Dp.RemovePort(open.No);
            _open.Remove(uuid);
            _adminUp.Remove(open.No);
            removed = true;
            _log.LogInformation("bridge {Bridge}: port {No} ({Name}) removed", Name, PortText(open.No), open.Config.Name);
        }
        // A port reopened under another number (ofport_request) or type takes the same interface again: a tap is free
        // to be made anew only once the datapath has disposed the old port.
        if (removed && !Dp.WaitForRemovedPorts(TimeSpan.FromSeconds(5)))
            _log.LogWarning("bridge {Bridge}: removed ports still held by a forwarding thread after 5 s; reopening them may fail", Name);
        foreach (var uuid in _failed.Keys.Where(u => !wanted.ContainsKey(u)).ToList()) _failed.Remove(uuid);
        foreach (var i in config.Interfaces)
        {
            if (_open.TryGetValue(i.Uuid, out var open))
            {
                if (!Equals(open.Config.Vlan, i.Vlan)) SetVlan(open.No, i);
                if (!Equals(open.Config.Qos, i.Qos)) SetQos(open.No, i);
                if (open.Config.Policing != i.Policing) SetPolicing(open.No, i);
                _open[i.Uuid] = open with { Config = i };
                continue;
            }
            if (i.Name == Name)
            {
                if (Dp.Ports.Get(PortNumber.Local) is null && i.Type == "internal") TryOpen(i, PortNumber.Local);
                continue;
            }
            TryOpen(i, 0);
        }
        _config = config;
        FollowMirrors(config);
        FollowSflow(config);
        FollowIpfix(config);
        FollowFlowSampleSets(config);
        FollowOffload(config);
        FollowAdminStates();
        // The one stopped first, so its gates open before the other sets its own.
        if (config.Rstp is null)
        {
            FollowRstp(config);
            FollowStp(config);
        }
        else
        {
            FollowStp(config);
            FollowRstp(config);
        }
        FollowBonds(config);
        FollowMcast(config);
        FollowTables(config);
    }

    /// <summary>The table settings applied from the Flow_Table rows, by table id (a table without a row has the defaults).</summary>
    private Dictionary<byte, OfTableSettings> _tablesApplied = [];

    /// <summary>
    /// Bridge flow_tables followed, as Open vSwitch's bridge_configure_tables (every reconfiguration): each table whose
    /// row changed is configured with it, live, and a table whose row is gone gets the defaults back (its name, the
    /// switch's limit, no eviction of its own; a TABLE_MOD's eviction stays). A lowered limit of a table that evicts
    /// evicts down to it at once. The tables' settings are kept with the flows, so a remade agent keeps them.
    /// </summary>
    private void FollowTables(BridgeConfig config)
    {
        foreach (var (id, settings) in config.FlowTables)
        {
            if (_tablesApplied.TryGetValue(id, out var was) && was.Equals(settings)) continue;
            Agent.Switch.ConfigureTable(id, settings);
            string groups = settings.EvictionGroups.Count == 0 ? "none (one group)"
                : string.Join(',', settings.EvictionGroups.Select(g => Softswitch.Flows.FlowFormat.Subfield(g.ToDatapathRef())));
            _log.LogInformation("bridge {Bridge}: table {Table} configured: name {Name}, flow limit {Limit}, overflow policy {Policy}, eviction groups {Groups}",
                Name, id, Agent.Switch.Flows.NameOf(id), Agent.Switch.Flows.MaxFlowsOf(id), settings.Evict ? "evict" : "refuse", groups);
            if (settings.PrefixesSet)
            {
                _log.LogInformation("bridge {Bridge} table {Table}: Prefix lookup with: {Prefixes} (recorded, not applied: the classifier keeps no prefix tries, " +
                    "and without a megaflow cache there are no datapath wildcards for them to narrow)", Name, id,
                    settings.Prefixes.Count == 0 ? "none" : string.Join(',', settings.Prefixes));
            }
        }
        foreach (var id in _tablesApplied.Keys.Where(id => !config.FlowTables.ContainsKey(id)))
        {
            Agent.Switch.ConfigureTable(id, OfTableSettings.Default);
            _log.LogInformation("bridge {Bridge}: table {Table} has no Flow_Table row any more: its defaults are back", Name, id);
        }
        _tablesApplied = new Dictionary<byte, OfTableSettings>(config.FlowTables);
    }

    /// <summary>
    /// Bridge mcast_snooping_enable followed: snooping started, given its settings and its flood and flood-reports
    /// ports (a Port row as NORMAL knows it: its interface's port number, a bond's key), or stopped (NORMAL floods
    /// multicast again). What it learned on a port that is gone is forgotten.
    /// </summary>
    private void FollowMcast(BridgeConfig config)
    {
        if (config.McastSnooping is not { } mcast)
        {
            if (_mcast is null) return;
            _mcast.Dispose();
            _mcast = null;
            _log.LogInformation("bridge {Bridge}: multicast snooping stopped", Name);
            return;
        }
        if (_mcast is null)
        {
            _mcast = new BridgeMcast(Name, Dp, _host.Loggers.CreateLogger("mcast_snooping"));
            _log.LogInformation("bridge {Bridge}: multicast snooping started (aging time {Idle} s, table size {Size}, unregistered multicast {Flood})", Name,
                mcast.IdleTimeS, mcast.MaxEntries, mcast.FloodUnregistered ? "flooded" : "to routers and flood ports only");
        }
        // A Port row's number for NORMAL: its one interface's, or (a bond) its lowest open member's, the bond's key.
        var byPort = _open.Values.GroupBy(o => o.Config.PortName).ToDictionary(g => g.Key, g => g.Min(o => o.No), StringComparer.Ordinal);
        IEnumerable<ushort> Numbers(IReadOnlyList<string> names) => names.Where(byPort.ContainsKey).Select(n => byPort[n]);
        _mcast.Configure(mcast, Numbers(mcast.FloodPorts), Numbers(mcast.FloodReportPorts), _open.Values.Select(o => o.No).ToHashSet());
    }

    /// <summary><c>ovs-appctl mdb/show</c> of the bridge, or null while it does not snoop.</summary>
    public string? McastShow() => _mcast?.Show();

    /// <summary><c>ovs-appctl mdb/flush</c> of the bridge: false while it does not snoop.</summary>
    public bool McastFlush()
    {
        if (_mcast is null) return false;
        _mcast.Flush();
        return true;
    }

    /// <summary>
    /// The bridge's bonds followed (Port rows with two or more Interfaces): started, given their members open now, or
    /// stopped when none is left. LACP's system id is lacp-system-id, else other_config:hwaddr, else the LOCAL port's
    /// MAC (Open vSwitch's bridge address).
    /// </summary>
    private void FollowBonds(BridgeConfig config)
    {
        if (config.Bonds.Count == 0)
        {
            if (_bonds is null) return;
            _bonds.Dispose();
            _bonds = null;
            _log.LogInformation("bridge {Bridge}: no bonds", Name);
            return;
        }
        ulong address = config.HwAddr is { } hw && MacAddress.TryParse(hw, out var m) ? m.Value
            : Dp.Ports.Get(PortNumber.Local)?.Port.Info.HwAddr.Value ?? (DatapathId & ((1UL << 48) - 1));
        _bonds ??= new BridgeBonds(Name, Dp, _host.Loggers.CreateLogger("bond"));
        var bonds = new List<(BondConfig, IReadOnlyList<BondMemberInput>)>();
        foreach (var b in config.Bonds)
        {
            var members = new List<BondMemberInput>();
            foreach (var mc in b.Members)
                if (_open.TryGetValue(mc.InterfaceUuid, out var open) && open.No != PortNumber.Local) members.Add(new BondMemberInput(mc, open.No, open.Port.Info.HwAddr.Value));
            bonds.Add((b, members));
        }
        _bonds.Configure(bonds, address);
    }

    /// <summary>Each bond's Port bond_active_slave (its active member's address), empty without bonds.</summary>
    public IReadOnlyList<(Guid Port, string ActiveSlave)> BondActiveSlaves => _bonds?.ActiveSlaves() ?? [];

    /// <summary>Each LACP bond member's Interface lacp_current; an interface not in one has none.</summary>
    public IReadOnlyDictionary<Guid, bool> LacpCurrent => _bonds?.LacpCurrent() ?? [];

    /// <summary><c>ovs-appctl bond/show</c> of the bridge's bonds (or the one named): null when it has no such bond.</summary>
    public string? BondShow(string? name)
    {
        if (_bonds is null || (name is not null && !_bonds.Has(name, lacp: false))) return null;
        var s = new System.Text.StringBuilder();
        _bonds.ShowBonds(s, name);
        return s.ToString();
    }

    /// <summary><c>ovs-appctl lacp/show</c> of the bridge's LACP bonds (or the one named): null when it has no such bond.</summary>
    public string? LacpShow(string? name)
    {
        if (_bonds is null || (name is not null && !_bonds.Has(name, lacp: true))) return null;
        var s = new System.Text.StringBuilder();
        _bonds.ShowLacp(s, name);
        return s.ToString();
    }

    /// <summary><c>ovs-appctl bond/list</c>'s lines of the bridge's bonds.</summary>
    public string BondList()
    {
        if (_bonds is null) return "";
        var s = new System.Text.StringBuilder();
        _bonds.List(s);
        return s.ToString();
    }

    /// <summary>
    /// Bridge stp_enable followed: the spanning tree started, reconfigured (its settings, its ports: every open port,
    /// internal ones never taking part, as Open vSwitch) or stopped (every port's gate opened), also while stp-port-num
    /// is set on some ports only (Open vSwitch disables it then: the Bridge status says why). The bridge's address in
    /// its identifier is stp-system-id, else other_config:hwaddr, else the LOCAL port's MAC.
    /// </summary>
    private void FollowStp(BridgeConfig config)
    {
        List<StpPortInput>? ports = null;
        string? refused = null;
        if (config.Stp is not null)
        {
            ports = [];
            foreach (var open in _open.Values)
            {
                long mbps = (SpeedOf(open.Port.Info.Current)?.Bps ?? 0) / 1_000_000;
                ports.Add(new StpPortInput(open.No, open.Config.Name, open.Config.PortUuid, open.Config.Stp,
                    Eligible: open.No != PortNumber.Local && open.Config.Type != "internal", mbps));
            }
            refused = BridgeStp.MixedPortNumbers(ports);
            if (refused is not null && refused != _stpRefused) _log.LogError("bridge {Bridge}: {Why}", Name, refused);
        }
        _stpRefused = refused;
        if (config.Stp is not { } stp || ports is null || refused is not null)
        {
            if (_stp is null) return;
            _stp.Dispose();
            _stp = null;
            _log.LogInformation("bridge {Bridge}: spanning tree stopped", Name);
            return;
        }
        ulong address = config.HwAddr is { } hw && MacAddress.TryParse(hw, out var m) ? m.Value
            : Dp.Ports.Get(PortNumber.Local)?.Port.Info.HwAddr.Value ?? (DatapathId & ((1UL << 48) - 1));
        if (_stp is null)
        {
            _stp = new BridgeStp(Name, Dp, ((ulong)stp.Priority << 48) | (stp.SystemId ?? address), _host.Loggers.CreateLogger("stp"));
            _log.LogInformation("bridge {Bridge}: spanning tree (802.1D) started", Name);
        }
        _stp.Configure(stp, address, ports);
    }

    /// <summary>
    /// Bridge rstp_enable followed: the rapid spanning tree started, reconfigured (its settings; its ports: every open
    /// port but internal ones and mirror outputs, as Open vSwitch's port_configure_rstp) or stopped (every port's gate
    /// opened). Its address is rstp-address, else other_config:hwaddr, else the LOCAL port's MAC.
    /// </summary>
    private void FollowRstp(BridgeConfig config)
    {
        if (config.Rstp is not { } rstp)
        {
            if (_rstp is null) return;
            _rstp.Dispose();
            _rstp = null;
            _log.LogInformation("bridge {Bridge}: rapid spanning tree stopped", Name);
            return;
        }
        var mirrorOutputs = config.Mirrors.Select(m => m.OutputPort).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var ports = new List<RstpPortInput>();
        foreach (var open in _open.Values)
        {
            long mbps = (SpeedOf(open.Port.Info.Current)?.Bps ?? 0) / 1_000_000;
            ports.Add(new RstpPortInput(open.No, open.Config.Name, open.Config.PortUuid, open.Config.Rstp,
                Eligible: open.No != PortNumber.Local && open.Config.Type != "internal" && !mirrorOutputs.Contains(open.Config.PortName), mbps));
        }
        ulong address = config.HwAddr is { } hw && MacAddress.TryParse(hw, out var m) ? m.Value
            : Dp.Ports.Get(PortNumber.Local)?.Port.Info.HwAddr.Value ?? (DatapathId & ((1UL << 48) - 1));
        if (_rstp is null)
        {
            _rstp = new BridgeRstp(Name, Dp, rstp.Address ?? address, _host.Loggers.CreateLogger("rstp"));
            _log.LogInformation("bridge {Bridge}: rapid spanning tree (802.1w) started", Name);
        }
        _rstp.Configure(rstp, address, ports);
    }

    /// <summary>The sFlow exporter while the bridge has an sFlow row that can be served, and that row as applied.</summary>
    private Sflow.SflowExporter? _sflow;
    private SflowConfig? _sflowApplied;

    /// <summary>
    /// The bridge's sFlow row, as Open vSwitch's bridge serves it: the datapath samples 1 in <c>sampling</c> packets
    /// (default 400) and an exporter sends the samples, with the first <c>header</c> bytes of each frame (default 128,
    /// the most this datapath keeps), and each port's counters every <c>polling</c> seconds (default 30), to every
    /// target, from <c>agent</c> (an IP address, or an interface's; default the source address of the route to the first
    /// target). A change starts a new exporter; what cannot be served is said (log) and leaves sampling off.
    /// </summary>
    private void FollowSflow(BridgeConfig config)
    {
        if (Equals(config.Sflow, _sflowApplied)) return;
        _sflowApplied = config.Sflow;
        StopSflow();
        if (config.Sflow is not { } sf) return;
        var targets = new List<System.Net.IPEndPoint>();
        foreach (var t in sf.Targets.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (Sflow.SflowExporter.TryParseCollector(t, out var ep, out var why)) targets.Add(ep!);
            else _log.LogWarning("bridge {Bridge}: sFlow target {Target} left out: {Why}", Name, t, why);
        }
        string? error = null;
        System.Net.IPAddress? agent = null;
        if (sf.Agent is { Length: > 0 } a && (agent = AgentAddress(a)) is null) error = $"agent '{a}' is neither an IP address nor an interface with one";
        if (targets.Count == 0) error ??= "no target (targets is empty or none parses)";
        long sampling = sf.Sampling ?? SflowConfig.DefaultSampling, polling = sf.Polling ?? SflowConfig.DefaultPolling, header = sf.Header ?? SflowConfig.DefaultHeader;
        if (sampling is < 1 or > int.MaxValue) error ??= $"sampling {sampling} is not 1 or more";
        if (polling is < 0 or > 86_400) error ??= $"polling {polling} is not 0 to 86400 seconds";
        if (header is < 1) error ??= $"header {header} is not 1 or more bytes";
        if (error is null && header > PacketSampler.HeaderSize)
            _log.LogWarning("bridge {Bridge}: sFlow header {Header}: the first {Kept} bytes of each frame are kept (the most this datapath samples)", Name, header, PacketSampler.HeaderSize);
        if (error is null)
        {
            Dp.SetSamplingRate((int)sampling);
            try
            {
                _sflow = Sflow.SflowExporter.Start(Dp, targets, (int)polling, _host.Loggers.CreateLogger("sflow"), (int)Math.Min(header, PacketSampler.HeaderSize), agent);
                _log.LogInformation("bridge {Bridge}: sFlow to {Targets}: 1 in {Sampling} packets, {Header} header bytes, counters every {Polling} s, agent {Agent}",
                    Name, string.Join(", ", targets), sampling, Math.Min(header, PacketSampler.HeaderSize), polling, _sflow.Agent);
                return;
            }
            catch (System.Net.Sockets.SocketException e)
            {
                error = $"cannot reach {targets[0]}: {e.Message}";
                Dp.SetSamplingRate(0);
            }
        }
        _log.LogWarning("bridge {Bridge}: sFlow not served: {Why}", Name, error);
    }

    private void StopSflow()
    {
        if (_sflow is null) return;
        _sflow.Dispose();
        _sflow = null;
        Dp.SetSamplingRate(0);
        _log.LogInformation("bridge {Bridge}: sFlow stopped", Name);
    }

    /// <summary>The IPFIX exporter while the bridge has an IPFIX row that can be served, and that row as applied.</summary>
    private Ipfix.IpfixExporter? _ipfix;
    private IpfixConfig? _ipfixApplied;

    /// <summary>
    /// The bridge's IPFIX row, as Open vSwitch's bridge exporter serves it: the datapath samples 1 in <c>sampling</c>
    /// packets on its own channel (beside sFlow's, each at its own rate) and an exporter aggregates them in its flow cache
    /// and sends the records to every target (port 4739 when left out). A change of the row starts a new exporter (the
    /// old one's cache is sent first, as a forced end); a change of ports renames them in the records that follow. What
    /// cannot be served is said (log) and leaves IPFIX sampling off.
    /// </summary>
    private void FollowIpfix(BridgeConfig config)
    {
        if (!Equals(config.Ipfix, _ipfixApplied))
        {
            _ipfixApplied = config.Ipfix;
            StopIpfix();
            if (config.Ipfix is { } ip) StartIpfix(ip);
        }
        if (_ipfix is null) return;
        var ports = new Dictionary<ushort, Ipfix.IpfixPort>();
        foreach (var open in _open.Values)
            ports[open.No] = new Ipfix.IpfixPort((uint)Math.Max(0, Kernel(open).Ifindex ?? 0), open.Config.Name);
        _ipfix.SetPorts(ports);
    }

    private void StartIpfix(IpfixConfig ip)
    {
        var targets = new List<System.Net.IPEndPoint>();
        foreach (var t in ip.Targets)
        {
            if (Sflow.SflowExporter.TryParseCollector(t, out var ep, out var why, Ipfix.IpfixExporter.DefaultPort, "IPFIX target")) targets.Add(ep!);
            else _log.LogWarning("bridge {Bridge}: IPFIX target {Target} left out: {Why}", Name, t, why);
        }
        string? error = targets.Count == 0 ? "no target (targets is empty or none parses)" : null;
        if (ip.Sampling is < 1 or > int.MaxValue) error ??= $"sampling {ip.Sampling} is not 1 to {int.MaxValue}";
        if (error is null)
        {
            var settings = new Ipfix.IpfixSettings((uint)ip.Sampling, (uint)ip.ObsDomainId, (uint)ip.ObsPointId, (uint)ip.CacheActiveTimeout, (uint)ip.CacheMaxFlows,
                ip.InputSampling, ip.OutputSampling, ip.VirtualObsId);
            Dp.SetSamplingRate(SampleChannel.Ipfix, (int)ip.Sampling);
            try
            {
                _ipfix = Ipfix.IpfixExporter.Start(Dp, targets, settings, _host.Loggers.CreateLogger("ipfix"));
                _log.LogInformation("bridge {Bridge}: IPFIX to {Targets}: 1 in {Sampling} packets, observation domain {Domain}, point {Point}, cache {Timeout} s / {MaxFlows} flows, "
                    + "input sampling {Input}, output sampling {Output} (egress records for packets a flow sends to one port)",
                    Name, string.Join(", ", targets), ip.Sampling, ip.ObsDomainId, ip.ObsPointId, ip.CacheActiveTimeout, ip.CacheMaxFlows, ip.InputSampling, ip.OutputSampling);
                return;
            }
            catch (System.Net.Sockets.SocketException e)
            {
                error = $"cannot reach {targets[0]}: {e.Message}";
                Dp.SetSamplingRate(SampleChannel.Ipfix, 0);
            }
        }
        _log.LogWarning("bridge {Bridge}: IPFIX not served: {Why}", Name, error);
    }

    private void StopIpfix()
    {
        if (_ipfix is null) return;
        _ipfix.Dispose(); // sends what its rings and cache hold
        _ipfix = null;
        Dp.SetSamplingRate(SampleChannel.Ipfix, 0);
        _log.LogInformation("bridge {Bridge}: IPFIX stopped", Name);
    }

    /// <summary>The per-flow IPFIX exporters while the bridge has a Flow_Sample_Collector_Set row to serve, and the rows as applied.</summary>
    private Ipfix.IpfixFlowExporters? _flowIpfix;
    private IReadOnlyList<FlowSampleSetConfig> _flowSetsApplied = [];

    /// <summary>
    /// The bridge's Flow_Sample_Collector_Set rows, as Open vSwitch's flow exporters serve them: one exporter per row's
    /// id, sending to its IPFIX row's targets (port 4739 when left out) the samples of the sample actions that name that
    /// id. A row added, changed or removed makes, remakes or ends its exporter (an ended one's cache is sent first); with
    /// no row left the sample actions take nothing (Open vSwitch's without IPFIX). Ports are renamed as for bridge IPFIX.
    /// </summary>
    private void FollowFlowSampleSets(BridgeConfig config)
    {
        if (!config.FlowSampleSets.SequenceEqual(_flowSetsApplied))
        {
            _flowSetsApplied = config.FlowSampleSets;
            var sets = new List<Ipfix.IpfixCollectorSet>();
            foreach (var fs in config.FlowSampleSets)
            {
                var targets = new List<System.Net.IPEndPoint>();
                foreach (var t in fs.Ipfix.Targets)
                {
                    if (Sflow.SflowExporter.TryParseCollector(t, out var ep, out var why, Ipfix.IpfixExporter.DefaultPort, "IPFIX target")) targets.Add(ep!);
                    else _log.LogWarning("bridge {Bridge}: collector set {Id}: IPFIX target {Target} left out: {Why}", Name, fs.Id, t, why);
                }
                if (targets.Count == 0 || fs.Id is < 0 or > uint.MaxValue)
                {
                    _log.LogWarning("bridge {Bridge}: collector set {Id} not served: {Why}", Name, fs.Id, targets.Count == 0 ? "no target parses" : "the id is not 0 to 4294967295");
                    continue;
                }
                var ip = fs.Ipfix;
                sets.Add(new Ipfix.IpfixCollectorSet((uint)fs.Id, targets,
                    new Ipfix.IpfixSettings(1, 0, 0, (uint)ip.CacheActiveTimeout, (uint)ip.CacheMaxFlows, VirtualObsId: ip.VirtualObsId)));
            }
            if (sets.Count == 0)
            {
                StopFlowIpfix();
            }
            else
            {
                _flowIpfix ??= Ipfix.IpfixFlowExporters.Start(Dp, _host.Loggers.CreateLogger("ipfix"));
                _flowIpfix.Configure(sets);
                Dp.FlowSampling = true;
                _log.LogInformation("bridge {Bridge}: per-flow IPFIX for collector sets {Ids}", Name, string.Join(", ", sets.Select(x => $"{x.Id} to {string.Join(" ", x.Targets)}")));
            }
        }
        if (_flowIpfix is null) return;
        var ports = new Dictionary<ushort, Ipfix.IpfixPort>();
        foreach (var open in _open.Values)
            ports[open.No] = new Ipfix.IpfixPort((uint)Math.Max(0, Kernel(open).Ifindex ?? 0), open.Config.Name);
        _flowIpfix.SetPorts(ports);
    }

    private void StopFlowIpfix()
    {
        if (_flowIpfix is null) return;
        Dp.FlowSampling = false;
        _flowIpfix.Dispose(); // sends what its caches hold
        _flowIpfix = null;
        _log.LogInformation("bridge {Bridge}: per-flow IPFIX stopped", Name);
    }

    /// <summary>An sFlow agent: an IP address, or the first IPv4 (else any) address of the interface so named; null when neither.</summary>
    private static System.Net.IPAddress? AgentAddress(string agent)
    {
        if (System.Net.IPAddress.TryParse(agent, out var ip)) return ip;
        var nic = System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces().FirstOrDefault(n => n.Name == agent);
        var addresses = nic?.GetIPProperties().UnicastAddresses.Select(u => u.Address).ToList() ?? [];
        return addresses.FirstOrDefault(x => x.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork) ?? addresses.FirstOrDefault();
    }

    /// <summary>The Mirror rows served, by bit of the datapath's mirrors (for their statistics).</summary>
    private Guid[] _mirrorRows = [];
    /// <summary>What the mirrors' state last said in the log, so it is said once.</summary>
    private string _mirrorsSaid = "";

    /// <summary>
    /// Gives the datapath the mirrors of the Mirror rows (<see cref="BridgeConfig.Mirrors"/>), by the numbers of the
    /// ports open now: select_all selects every port of the bridge (the LOCAL port too); a selected port not open is
    /// left out, and a mirror whose output port is not open is not served until it is (each apply looks again). An
    /// unchanged set is left in place, with its counters.
    /// </summary>
    private void FollowMirrors(BridgeConfig config)
    {
        var byPort = new Dictionary<string, List<ushort>>(StringComparer.Ordinal);
        foreach (var open in _open.Values.OrderBy(o => o.No))
        {
            if (!byPort.TryGetValue(open.Config.PortName, out var nos)) byPort[open.Config.PortName] = nos = [];
            nos.Add(open.No);
        }
        var every = _open.Values.Select(o => o.No).ToList();
        IEnumerable<ushort> Numbers(IEnumerable<string> names) => names.SelectMany(n => byPort.GetValueOrDefault(n) ?? []);
        var wanted = new List<Mirror>();
        var rows = new List<Guid>();
        var said = new List<string>();
        foreach (var m in config.Mirrors)
        {
            ushort outPort = PortNumber.None;
            if (m.OutputPort is { } output)
            {
                if (!byPort.TryGetValue(output, out var nos))
                {
                    said.Add($"mirror {m.Name}: its output port {output} is not open (not served until it is)");
                    continue;
                }
                outPort = nos[0];
            }
            var mirror = new Mirror(m.Name, m.SelectAll ? every : Numbers(m.SrcPorts), m.SelectAll ? every : Numbers(m.DstPorts), m.Vlans, outPort,
                m.OutputVlan ?? -1, m.Snaplen);
            wanted.Add(mirror);
            rows.Add(m.Uuid);
            said.Add($"mirror {m.Name}: {Describe(mirror)}");
        }
        _mirrorRows = [.. rows];
        var current = Dp.Mirrors?.Mirrors ?? [];
        if (current.Length != wanted.Count || !current.Zip(wanted).All(p => p.First.SameAs(p.Second))) Dp.SetMirrors(wanted);
        string text = string.Join("; ", said);
        if (text == _mirrorsSaid) return;
        _mirrorsSaid = text;
        if (text.Length > 0) _log.LogInformation("bridge {Bridge}: {Mirrors}", Name, text);
        else _log.LogInformation("bridge {Bridge}: no mirrors", Name);
    }

    private static string Describe(Mirror m)
    {
        static string Ports(IReadOnlyList<ushort> nos) => nos.Count == 0 ? "none" : string.Join(',', nos.Select(PortText));
        string to = m.OutPort != PortNumber.None ? $"to port {PortText(m.OutPort)}" : $"to vlan {m.OutVlan.ToString(CultureInfo.InvariantCulture)}";
        string vlans = m.SelectsVlans ? ", selected vlans only" : "";
        string snap = m.Snaplen > 0 ? $", snaplen {m.Snaplen.ToString(CultureInfo.InvariantCulture)}" : "";
        return $"packets arriving on {Ports(m.Sources)} and leaving by {Ports(m.Destinations)}{vlans}, copied {to}{snap}";
    }

    /// <summary>Each Mirror row served with what it has sent (its statistics column: tx_packets, tx_bytes).</summary>
    public IEnumerable<(Guid Uuid, long Packets, long Bytes)> MirrorStatistics()
    {
        var mirrors = Dp.Mirrors?.Mirrors ?? [];
        for (int i = 0; i < mirrors.Length && i < _mirrorRows.Length; i++) yield return (_mirrorRows[i], mirrors[i].TxPackets, mirrors[i].TxBytes);
    }

    private static bool IsSecure(string? failMode) => failMode == "secure";

    /// <summary>
    /// Open_vSwitch other_config:hw-offload followed live (Open vSwitch reads it at start; here a change applies at once):
    /// true attaches the XDP flow offload to the bridge's AF_XDP ports, as <c>softswitch run --offload xdp</c> does
    /// (<see cref="OffloadSetup.TryAttach"/>), so eligible flows are forwarded by the XDP program; false, or the last
    /// AF_XDP port gone, takes every flow back to software. The offload holds the ports it was attached to: a port
    /// added or removed detaches it and attaches it anew over the new set (flows forwarded in software meanwhile).
    /// </summary>
    private void FollowOffload(BridgeConfig config)
    {
        string ports = string.Join(',', Dp.Ports.List.Where(s => s.Port is AfXdpPort).Select(s => s.No).Order());
        bool wanted = config.HwOffload && ports.Length > 0;
        if (_offload is not null && !wanted) DetachOffload(config.HwOffload ? "no AF_XDP port left" : "hw-offload is off");
        else if (_offload is not null && ports != _offloadPorts) DetachOffload($"the AF_XDP ports are now {ports}");
        if (!wanted)
        {
            _offloadFailedOn = "";
            if (config.HwOffload) Say(LogLevel.Information, "hw-offload=true, but the bridge has no AF_XDP port (type=afxdp): every flow stays in software");
            else _offloadSaid = "";
            return;
        }
        if (_offload is not null || ports == _offloadFailedOn) return;
        // The target keeps flows beyond any hold of the tables, so they do not reuse removed entries while it is there.
        SetRecycle(false);
        string? error;
        try
        {
            if (OffloadSetup.TryAttach("xdp", Dp, [], _host.Loggers.CreateLogger("offload"), out var attached, out error)) _offload = attached;
        }
        catch (Exception e) when (e is DatapathConfigurationException or PortOpenException or IOException)
        {
            error = e.Message;
        }
        if (_offload is null)
        {
            SetRecycle(true);
            _offloadFailedOn = ports;
            Say(LogLevel.Warning, $"hw-offload=true, but the XDP flow offload could not be attached to ports {ports}: {error} (flows stay in software; tried again when the ports change)");
            return;
        }
        _offloadPorts = ports;
        _offloadFailedOn = "";
        Say(LogLevel.Information, $"hw-offload: the XDP flow program runs on AF_XDP ports {ports}; flows it can run are placed in it (ovs-appctl offload/show {Name})");
    }

    /// <summary>Takes every flow out of the XDP program and puts the plain redirect back on the ports (nothing while detached).</summary>
    private void DetachOffload(string why)
    {
        if (_offload is not { } offload) return;
        _offload = null;
        offload.Dispose();
        SetRecycle(true);
        Say(LogLevel.Information, $"hw-offload: the XDP flow offload on ports {_offloadPorts} is detached ({why}); its flows are forwarded in software");
        _offloadPorts = "";
    }

    private void SetRecycle(bool on)
    {
        foreach (var t in Dp.Pipeline.Tables) t.RecycleEntries = on;
    }

    private void Say(LogLevel level, string text)
    {
        if (text == _offloadSaid) return;
        _offloadSaid = text;
        _log.Log(level, "bridge {Bridge}: {Offload}", Name, text);
    }

    /// <summary>
    /// Gives each port whose interface's administrative state changed since the last look (or that is new) the
    /// PORT_DOWN config bit of that state, as Open vSwitch reports a device that is down (told to controllers as
    /// PORT_STATUS). Only changes are followed: a controller's PORT_MOD stands until the device's state changes.
    /// </summary>
    public void FollowAdminStates()
    {
        foreach (var open in _open.Values)
        {
            if (open.Config.Type == "patch" || IsTunnel(open.Config.Type) || Kernel(open).Admin is not { } admin) continue;
            bool up = admin == "up";
            if (_adminUp.TryGetValue(open.No, out bool was) && was == up) continue;
            _adminUp[open.No] = up;
            Dp.SetPortConfig(open.No, up ? PortConfig.None : PortConfig.PortDown, PortConfig.PortDown);
        }
    }

    private void TryOpen(InterfaceConfig i, ushort no)
    {
        if (i.Unserved is { } unserved)
        {
            Fail(i, unserved);
            return;
        }
        if (IsTunnel(i.Type))
        {
            TryOpenTunnel(i);
            return;
        }
        string? error = null, warning = null;
        IPort? port = null;
        var log = _host.Loggers.CreateLogger("ports");
        try
        {
            port = i.Type switch
            {
                "" or "system" => TryRxRingSize(i, out int? ring, out error) && (error = MtuError(i)) is null ? _host.OpenPort(SystemPort(i.Name, ring) with { Logger = log }) : null,
                "internal" => _host.OpenPort(new PortRequest(PortKind.Tap, i.Name) { Logger = log, Tap = new TapOptions(AdminUp: false, i.Mac, i.MtuRequest ?? 0) }),
                "patch" => _host.Patches.Open(i.Name, i.Options.GetValueOrDefault("peer") ?? "", RandomMac()),
                "afxdp" => OpenAfXdp(i, log, out error, out warning),
                _ => null,
            };
            if (port is null) error ??= $"interface type '{i.Type}' is not supported by softswitch vswitchd (it serves \"\", system, internal, patch, afxdp, vxlan, geneve and gre)";
        }
        catch (Exception e)
        {
            // Whatever the device says (a name the kernel refuses, a device of another kind): this interface's error, never the daemon's end.
            error = $"could not open network device {i.Name} ({e.Message})";   // Open vSwitch's words, then ours
        }
        if (port is not null)
        {
            if (no == 0) no = PickNumber(i);
            try
            {
                Dp.AddPort(port, no);
                _open[i.Uuid] = new OpenInterface(i, no, port, warning);
                _failed.Remove(i.Uuid);
                _log.LogInformation("bridge {Bridge}: port {No} ({Name}, {Type}) added", Name, PortText(no), i.Name, i.Type.Length == 0 ? "system" : i.Type);
                if (warning is not null) _log.LogWarning("bridge {Bridge}: interface {Name}: {Warning}", Name, i.Name, warning);
                if (i.Vlan is not null) SetVlan(no, i);
                if (i.Qos is not null) SetQos(no, i);
                if (i.Policing.RateKbps > 0) SetPolicing(no, i);
                return;
            }
            catch (Exception e)
            {
                Release(port);
                if (Dp.Ports.Get(no)?.Port == port)
                {
                    _open.Remove(i.Uuid);
                    Dp.RemovePort(no);   // the datapath disposes it
                }
                else
                {
                    port.Dispose();
                }
                error = e is DatapathConfigurationException ? e.Message : $"{e.GetType().Name}: {e.Message}";
            }
        }
        Fail(i, error!);
    }

    /// <summary>Keeps <paramref name="error"/> as the interface's (ofport -1), said once per distinct error; tried again at each apply.</summary>
    private void Fail(InterfaceConfig i, string error)
    {
        if (!_failed.TryGetValue(i.Uuid, out var before) || before.Error != error)
            _log.LogWarning("bridge {Bridge}: could not add interface {Name}: {Error}", Name, i.Name, error);
        _failed[i.Uuid] = (i, error);
    }

    /// <summary>Sets an existing device's mtu_request before its port is opened; null, or why not.</summary>
    private string? MtuError(InterfaceConfig i)
        => i.MtuRequest is { } mtu && _host.SetMtu(i.Name, mtu) is { } why ? $"mtu_request {mtu.ToString(CultureInfo.InvariantCulture)}: {why}" : null;

    /// <summary>Gives port <paramref name="no"/> its Interface row's ingress policing, or takes it away.</summary>
    private void SetPolicing(ushort no, InterfaceConfig i)
    {
        var (rate, burst) = i.Policing;
        Dp.SetPolicing(no, rate, burst);
        _log.LogInformation("bridge {Bridge}: port {No} ({Name}): {Policing}", Name, PortText(no), i.Name,
            rate > 0 ? $"ingress policed at {rate} kbit/s, burst {(burst > 0 ? burst : SwitchDatapath.DefaultPolicingBurstKb)} kbit" : "ingress not policed");
    }

    private const string RxRingSizeKey = "rx_ring_size";

    /// <summary>
    /// An existing interface (type "" or system) as an AF_PACKET port with a receive ring of the bytes
    /// options:rx_ring_size asks for, or (null) of <see cref="DefaultRxRingSize"/> that grows up to
    /// <see cref="MaxGrownRxRingSize"/> while it loses frames; either starts with <see cref="InitialRxFrames"/> frames and
    /// grows to the full ring when busy.
    /// </summary>
    public static PortRequest SystemPort(string name, int? ringSize) => new(PortKind.AfPacket, name)
    {
        AfPacket = new AfPacketOptions
        {
            RingSize = ringSize ?? DefaultRxRingSize,
            InitialRxFrames = InitialRxFrames,
            MaxRingSize = ringSize is null ? MaxGrownRxRingSize : null,
        },
    };

    /// <summary>An AF_XDP port with the options the row asks for (<see cref="AfXdpInterface"/>); null with the error when one cannot be honoured.</summary>
    private IPort? OpenAfXdp(InterfaceConfig i, ILogger log, out string? error, out string? ignored)
    {
        if (AfXdpInterface.Read(i.Name, i.Options, new AfXdpOptions(), out error, out ignored) is not { } options) return null;
        // The sockets' UMEM is the daemon's packet arena (made now for the first AF_XDP interface); the port takes UMEMs
        // of its own when its queues no longer fit or its MTU leaves no room in a slot, and says why.
        var arena = _host.Arena.Get(_log, PacketBuffers, new DatapathOptions().LargeBuffers);
        var port = _host.OpenPort(new PortRequest(PortKind.AfXdp, i.Name) { Logger = log, AfXdp = options with { Arena = arena } });
        string umem = port is AfXdpPort { InArena: true } ? "the packet arena (received in place)"
                    : port is AfXdpPort { ArenaRefusal: { } why } ? $"its own ({why})" : "its own";
        _log.LogInformation("bridge {Bridge}: interface {Name}: AF_XDP, xdp-mode {Options}, umem {Umem}", Name, i.Name, AfXdpInterface.Describe(options), umem);
        return port;
    }

    /// <summary>The receive ring options:rx_ring_size asks for (bytes), null when it asks for none (the default's); false
    /// with the reason when it is not a size.</summary>
    private static bool TryRxRingSize(InterfaceConfig i, out int? asked, out string? error)
    {
        error = null;
        asked = null;
        if (i.Options.GetValueOrDefault(RxRingSizeKey) is not { } text) return true;
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int size) && size is >= MinRxRingSize and <= MaxRxRingSize)
        {
            asked = size;
            return true;
        }
        error = $"options:{RxRingSizeKey} '{text}' is not a size in bytes from {MinRxRingSize} to {MaxRxRingSize}";
        return false;
    }

    /// <summary>
    /// A tunnel port from Open vSwitch's options: remote_ip and local_ip (required here: the switch owns the local
    /// address on its underlay port, the bridge's only other port unless options:underlay names one by its OpenFlow
    /// number), key (the VXLAN or Geneve VNI or GRE key, or "flow"), dst_port, csum (VXLAN, Geneve), df_default, tos
    /// and ttl. Any other option (Geneve's tun_metadata has none to map here, nor out_key, egress_pkt_mark, exts ...)
    /// is named in the open port's error column: the port is served without it.
    /// </summary>
    private void TryOpenTunnel(InterfaceConfig i)
    {
        string? error;
        if (OptionsOf(i, out error) is { } options)
        {
            string why = "not a tunnel type";
            if (!Tunnels.TunnelSpec.TryKind(i.Type, out var kind) || !Tunnels.TunnelSpec.TryBuild(i.Name, kind, options, out var cfg, out why))
            {
                error = $"type {i.Type}: {why}";
            }
            else
            {
                try
                {
                    var port = Dp.Tunnels.Add(cfg);
                    string? unread = UnreadTunnelOptions(i);
                    _open[i.Uuid] = new OpenInterface(i, cfg.PortNo, port, unread);
                    if (unread is not null) _log.LogWarning("bridge {Bridge}: interface {Name}: {Warning}", Name, i.Name, unread);
                    _failed.Remove(i.Uuid);
                    _log.LogInformation("bridge {Bridge}: port {No} ({Name}, {Type}) added: {Spec}", Name, cfg.PortNo, i.Name, i.Type, Tunnels.TunnelSpec.Format(port.Config));
                    if (i.Vlan is not null) SetVlan(cfg.PortNo, i);
                    if (i.Policing.RateKbps > 0) SetPolicing(cfg.PortNo, i);
                    return;
                }
                catch (Exception e)
                {
                    error = e is DatapathConfigurationException ? e.Message : $"{e.GetType().Name}: {e.Message}";
                }
            }
        }
        Fail(i, error!);
    }

    /// <summary>The tunnel options (<see cref="Tunnels.TunnelSpec.TryBuild"/>'s names) Open vSwitch's options ask for; null
    /// with the reason when one is missing.</summary>
    private List<(string, string)>? OptionsOf(InterfaceConfig i, out string? error)
    {
        var o = i.Options;
        error = null;
        if (!o.TryGetValue("remote_ip", out var remote))
        {
            error = "options:remote_ip is missing";
            return null;
        }
        if (!o.TryGetValue("local_ip", out var local))
        {
            error = "options:local_ip is missing (softswitch vswitchd answers ARP for it and decapsulates what is sent to it, on the underlay port)";
            return null;
        }
        var options = new List<(string, string)> { ("local", local), ("remote", remote) };
        bool udp = i.Type is "vxlan" or "geneve";
        string key = o.GetValueOrDefault("key") ?? o.GetValueOrDefault("in_key") ?? (udp ? "0" : "");
        if (key.Length > 0) options.Add((udp ? "vni" : "key", key));
        foreach (var (ovs, ours) in s_tunnelOptions)
        {
            if (o.TryGetValue(ovs, out var v)) options.Add((ours, v));
        }
        options.Add(("port", PickNumber(i).ToString(CultureInfo.InvariantCulture)));
        return options;
    }

    /// <summary>Open vSwitch's tunnel options passed on to the tunnel's config, with the spec's names for them (key,
    /// in_key, remote_ip and local_ip are read apart).</summary>
    private static readonly (string Ovs, string Ours)[] s_tunnelOptions =
        [("dst_port", "dstport"), ("tos", "tos"), ("ttl", "ttl"), ("underlay", "underlay"), ("csum", "csum"), ("df_default", "df")];

    /// <summary>The interface types served as tunnel ports.</summary>
    private static bool IsTunnel(string type) => type is "vxlan" or "geneve" or "gre";

    /// <summary>The options of a tunnel row not read (sorted), as the open port's error; null when every one is.</summary>
    private static string? UnreadTunnelOptions(InterfaceConfig i)
    {
        var unread = i.Options.Keys.Where(k => k is not ("remote_ip" or "local_ip" or "key" or "in_key") && !s_tunnelOptions.Any(t => t.Ovs == k))
            .Order(StringComparer.Ordinal).ToList();
        return unread.Count == 0 ? null : $"options not served for type {i.Type} (the port is served without them): {string.Join(", ", unread)}";
    }

    /// <summary>Gives port <paramref name="no"/> its Port row's VLAN membership for NORMAL (tag, trunks).</summary>
    private void SetVlan(ushort no, InterfaceConfig i)
    {
        Dp.SetPortVlan(no, i.Vlan);
        _log.LogInformation("bridge {Bridge}: port {No} ({Name}): {Vlan} for NORMAL", Name, PortText(no), i.Name, i.Vlan?.ToString() ?? "trunk of every vlan");
    }

    /// <summary>Gives port <paramref name="no"/> its Port row's egress shaping (QoS), or takes it away.</summary>
    private void SetQos(ushort no, InterfaceConfig i)
    {
        var shaper = i.Qos is { } q
            ? new Datapath.Qos.PortShaper(q.MaxRate, q.Queues.Select(x => new Datapath.Qos.ShapedQueue(x.Id, x.MinRate, x.MaxRate, Datapath.Qos.PortShaper.DefaultDepth)), Dp.Clock.NowNanos)
            : null;
        Dp.SetShaping(no, shaper);
        _log.LogInformation("bridge {Bridge}: port {No} ({Name}): {Qos}", Name, PortText(no), i.Name, i.Qos is { } s ? "shaped, " + s : "not shaped");
    }

    /// <summary>ofport_request when it is free; else the lowest free number (a taken request is logged).</summary>
    private ushort PickNumber(InterfaceConfig i)
    {
        if (i.OfportRequest is { } req)
        {
            if (Dp.Ports.Get((ushort)req) is null) return (ushort)req;
            _log.LogWarning("bridge {Bridge}: interface {Name}: ofport_request {Request} is taken: another number is chosen", Name, i.Name, req);
        }
        ushort no = 1;
        while (Dp.Ports.Get(no) is not null || _config.Interfaces.Any(o => o.OfportRequest == no && o.Uuid != i.Uuid)) no++;
        return no;
    }

    /// <summary>What an interface holds beyond the datapath's port: a patch end's place on the panel.</summary>
    private void Release(IPort port)
    {
        if (port is PatchPort patch) _host.Patches.Close(patch);
    }

    private static bool SameOptions(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b)
        => a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && v == kv.Value);

    /// <summary>A random locally administered unicast address (patch ends have no interface of their own).</summary>
    private static MacAddress RandomMac() => new(((ulong)Random.Shared.NextInt64(1, 1L << 40)) | 0x02_00_00_00_00_00UL);

    private static string PortText(ushort no) => no == PortNumber.Local ? "LOCAL" : no.ToString(CultureInfo.InvariantCulture);

    /// <summary>Each interface's state as the Interface table shows it (ofport, error, ifindex, mac_in_use, link and admin state).</summary>
    public IEnumerable<(Guid Uuid, InterfaceStatus Status)> Interfaces()
    {
        foreach (var (uuid, open) in _open)
        {
            var (ifindex, admin) = Kernel(open);
            // Patch and tunnel interfaces have no kernel device: always administratively up, as Open vSwitch shows them.
            if (open.Config.Type == "patch" || IsTunnel(open.Config.Type)) admin = "up";
            yield return (uuid, new InterfaceStatus(open.No == PortNumber.Local ? OfpLocal : open.No, open.Warning, ifindex, open.Port.Info.HwAddr.ToString(), open.Port.LinkUp ? "up" : "down", admin)
            {
                Speed = SpeedOf(open.Port.Info.Current),
                Mtu = open.Config.Type is "" or "system" or "internal" && open.Port.Info.Mtu > 0 ? open.Port.Info.Mtu : null,
                Status = open.Config.Status,
            });
        }
        foreach (var (uuid, failed) in _failed) yield return (uuid, new InterfaceStatus(-1, failed.Error) { Status = failed.Config.Status });
    }

    /// <summary>The fastest rate among <paramref name="f"/>'s link modes, with its duplex, as Open vSwitch writes link_speed and duplex.</summary>
    private static (long Bps, string Duplex)? SpeedOf(PortFeatures f)
    {
        foreach (var (mode, bps, duplex) in s_rates)
            if ((f & mode) != 0) return (bps, duplex);
        return null;
    }

    private static readonly (PortFeatures Mode, long Bps, string Duplex)[] s_rates =
    [
        (PortFeatures.Rate10GbFd, 10_000_000_000, "full"), (PortFeatures.Rate1GbFd, 1_000_000_000, "full"), (PortFeatures.Rate1GbHd, 1_000_000_000, "half"),
        (PortFeatures.Rate100MbFd, 100_000_000, "full"), (PortFeatures.Rate100MbHd, 100_000_000, "half"),
        (PortFeatures.Rate10MbFd, 10_000_000, "full"), (PortFeatures.Rate10MbHd, 10_000_000, "half"),
    ];

    /// <summary>The kernel's ifindex and administrative state of an interface; nulls when it has none. Two ioctls and
    /// no allocation (the daemon's link thread asks every second for every port, see <see cref="FollowAdminStates"/>).</summary>
    private static (long? Ifindex, string? Admin) Kernel(OpenInterface open)
    {
        if (open.IfrName is not { } ifr) return (null, null);
        int index = NetInterface.CurrentIndex(ifr);
        if (index < 0) return KernelFromSysfs(open.Config.Name);   // no control socket: sysfs says it
        int flags = index == 0 ? -1 : NetInterface.CurrentFlags(ifr);
        if (flags < 0) return (null, null);   // no such interface (now)
        return (index, (flags & 0x1) != 0 ? "up" : "down");   // IFF_UP
    }

    private static byte[]? KernelName(string name)
    {
        try
        {
            return NetInterface.IfrName(name);
        }
        catch (PortOpenException)
        {
            return null;   // not a name the kernel could have (too long, a '/'): no kernel interface
        }
    }

    private static (long? Ifindex, string? Admin) KernelFromSysfs(string name)
    {
        try
        {
            string dir = Path.Combine("/sys/class/net", name);
            long index = long.Parse(File.ReadAllText(Path.Combine(dir, "ifindex")).Trim(), CultureInfo.InvariantCulture);
            uint flags = Convert.ToUInt32(File.ReadAllText(Path.Combine(dir, "flags")).Trim(), 16);
            return (index, (flags & 1) != 0 ? "up" : "down");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
            return (null, null);
        }
    }

    /// <summary>
    /// Whether the next configuration round should apply this bridge's configuration again though the database did not
    /// change: an interface that could not be opened (its device may appear), a passive controller target that could
    /// not listen, or the management socket not served, are tried again at each apply.
    /// </summary>
    public bool WantsRetry => _failed.Count > 0 || _listenErrors.Count > 0 || _mgmtError is not null;

    /// <summary>
    /// Mixes into <paramref name="stamp"/> every value the status columns show (see <see cref="StatusWriter"/>) that can
    /// change while the database does not: the ports' link, administrative state, ifindex, address, MTU and speed, the
    /// controllers' connections and roles. No allocation: the daemon's once-a-second round compares the stamp and
    /// builds the status columns only when it moved (what the database changes is followed by its generation).
    /// </summary>
    public void AddStatusStamp(ref StatusStamp stamp)
    {
        stamp.Add((long)DatapathId);
        stamp.Add(_open.Count);
        foreach (var open in _open.Values)
        {
            stamp.Add(open.No);
            stamp.Add(open.Port.LinkUp ? 1 : 0);
            var (ifindex, admin) = Kernel(open);
            stamp.Add(ifindex ?? -1);
            stamp.Add(admin is null ? -1 : admin == "up" ? 1 : 0);
            var info = open.Port.Info;
            stamp.Add((long)info.HwAddr.Value);
            stamp.Add(info.Mtu);
            stamp.Add((long)info.Current);
        }
        var active = Agent.ActiveControllers;
        stamp.Add(active.Count);
        for (int i = 0; i < active.Count; i++)
        {
            var c = active[i];
            stamp.Add(c.Endpoint.GetHashCode(StringComparison.Ordinal));
            stamp.Add(!c.Connected ? -1 : (int)(c.Connection?.Controller.Role ?? OfRole.Equal));
        }
        stamp.Add(Agent.ControllerConnected ? 1 : 0);
        if (Dp.Mirrors is { } mirrors)
        {
            foreach (var m in mirrors.Mirrors)
            {
                stamp.Add(m.TxPackets);
                stamp.Add(m.TxBytes);
            }
        }
        _stp?.AddStatusStamp(ref stamp);
        _rstp?.AddStatusStamp(ref stamp);
        _bonds?.AddStatusStamp(ref stamp);
    }

    /// <summary>A controller's is_connected and role (Open vSwitch's words: master, slave, other) as the Controller table shows them.</summary>
    public (bool Connected, string? Role) Controller(string target)
    {
        // The agent names an active controller as its endpoint reads (tcp:10.0.0.5 is tcp:10.0.0.5:6653): compared so.
        string endpoint = OfEndpoint.TryParse(target, out var parsed, out _) ? parsed!.ToString() : target;
        if (Agent.ActiveControllers.FirstOrDefault(c => c.Endpoint == endpoint) is { } active)
        {
            if (!active.Connected) return (false, null);
            return (true, active.Connection?.Controller.Role switch { OfRole.Master => "master", OfRole.Slave => "slave", _ => "other" });
        }
        // A target not served (refused, or ssl:/pssl: waiting for TLS material) is not connected.
        if (parsed is not { Passive: true } ep || (ep.IsTls && _tlsWaiting) || _listenErrors.ContainsKey(target)) return (false, null);
        // A passive target (ptcp:, pssl:, punix:): connected while any controller connection is.
        bool any = Agent.ControllerConnected;
        return (any, any ? "other" : null);
    }

    /// <summary>Why a Controller row's target is not served (it does not parse, or cannot listen now), as its status
    /// <c>last_error</c>; null when it is.</summary>
    public string? ControllerError(string target)
        => _targetErrors.GetValueOrDefault(target) ?? _listenErrors.GetValueOrDefault(target);

    /// <summary>Logs each port whose link went up or down since the last check (the daemon's link thread calls it).</summary>
    public void CheckLinks()
    {
        _links?.Check();
        FollowAdminStates();
    }

    private void DisposeAgent()
    {
        var agent = Agent;
        if (agent is null) return;
        Dp.Counters.RemoveSources(agent);
        agent.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>Stops the bridge: its connections and sockets closed, every interface released (taps deleted).</summary>
    public void Dispose()
    {
        _stp?.Dispose();
        _stp = null;
        _rstp?.Dispose();
        _rstp = null;
        _bonds?.Dispose();
        _bonds = null;
        _mcast?.Dispose();
        _mcast = null;
        DisposeAgent();
        StopSflow();
        StopIpfix();
        StopFlowIpfix();
        DetachOffload("the bridge is deleted");
        Dp.Stop();
        _links?.Dispose();
        foreach (var open in _open.Values) Release(open.Port);
        _host.Arena.Leave(Dp);
        Dp.Dispose();
        _open.Clear();
        _log.LogInformation("bridge {Bridge}: deleted", Name);
    }
}
