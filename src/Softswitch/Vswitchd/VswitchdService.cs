using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Softswitch.Datapath.Forwarding;
using Softswitch.Ovsdb;
using Softswitch.Ports.Linux;

namespace Softswitch.Vswitchd;

/// <summary>
/// The database made true: follows the Open vSwitch database (Open_vSwitch, Bridge, Port, Interface, Controller, SSL; Manager
/// rows only said to be ovsdb-server's), serves each Bridge row as a switch of its own and writes back what it did, as
/// ovs-vswitchd does.
/// </summary>
/// <remarks>
/// One configuration thread owns the bridges: it connects (again and again while the server is away, after 1 s, then
/// doubling up to 8 s),
/// takes the <c>ovs_vswitchd</c> lock (a second daemon on the same database is refused), monitors the tables, and on
/// each change (and once a second while something is to be tried again) reads the configuration and applies it, and
/// then, or when a status source moved (controllers connecting, links: checked once a second without allocating, see
/// <see cref="Reconcile"/>), writes back the columns that differ, cur_cfg last of all in the same transaction. A lost connection leaves the
/// bridges as they are; the next session resynchronises from the server's contents. Control commands read the
/// bridges under <see cref="BridgesLock"/>, which the configuration thread holds while it changes them.
/// Each bridge's change is applied on its own (as ovs-vswitchd's bridge_reconfigure): whatever one bridge's creation or
/// change throws is that Bridge row's status <c>error</c> and a log line, tried again at the next round (every second);
/// the other bridges, and that bridge's forwarding, go on. A second Bridge row of a name is not served (its error).
/// Threads: every bridge is served by one set of forwarding threads (<see cref="ForwardingThreads"/>, as Open vSwitch's
/// PMD threads serve every bridge), made at the first configuration read: other_config:n-pmd-threads or pmd-cpu-mask,
/// else the daemon's --threads; a later change takes effect at the next start (said in the log). other_config:hw-offload
/// is followed at once by every bridge (Bridge.FollowOffload; a value not true or false is said). One netlink monitor
/// tells every bridge of kernel link changes (and administrative states, see Bridge.FollowAdminStates), and one thread checks
/// both once a second, for all bridges.
/// </remarks>
internal sealed class VswitchdService : IDisposable
{
    public const string LockName = "ovs_vswitchd";
    private static readonly TimeSpan s_callTimeout = TimeSpan.FromSeconds(10);

    private readonly string _remote;
    private BridgeHost _host;
    private readonly int _defaultThreads;
    private ForwardingThreads? _threads;
    private string? _threadsRefused, _hwOffloadRefused, _rxqRefused, _arenaRefused;
    /// <summary>other_config:flow-restore-wait as last applied (said in the log when it changes).</summary>
    private bool _flowRestoreWait;
    private LinkMonitor? _linkMonitor;
    private PeriodicThread? _linkWatch;
    private readonly BatchWorkers _bridgeWorkers;
    private readonly ILogger _log;
    private readonly Dictionary<Guid, Bridge> _bridges = [];
    /// <summary>Each Bridge row's error: not created, not served, or its last change failed (written to its status).</summary>
    private readonly Dictionary<Guid, string> _bridgeErrors = [];
    private readonly HashSet<string> _managersSaid = new(StringComparer.Ordinal);
    private readonly AutoResetEvent _wake = new(false);
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private long _applied = -1;
    /// <summary>The replica and its generation the configuration was last read from, and that configuration (see <see cref="Reconcile"/>).</summary>
    private OvsdbReplica? _readReplica;
    private long _readGeneration;
    private VswitchConfig? _config;
    /// <summary>The status stamp of the last round that built the status columns; whether what it built is not yet written.</summary>
    private ulong _statusStamp;
    private bool _statusUnwritten;
    private WaitHandle[]? _roundWaits;

    /// <summary>The daemon cannot go on (another holds the database lock): the reason, once.</summary>
    public event Action<string>? Fatal;

    public Lock BridgesLock { get; } = new();

    /// <summary>Set once the first session has started, or its first attempt failed (the daemon then says it is ready).</summary>
    public ManualResetEventSlim FirstAttempt { get; } = new(false);

    /// <summary>
    /// Set once the first session's first round is done: the configuration applied (every bridge made, or its failure
    /// kept with it) and the status, cur_cfg with it, written; or when no session could start. As ovs-vswitchd
    /// completes its daemonization after its initial configuration, the daemon says it is ready then, so what runs
    /// next (ovs-ctl restart's restore of the flows) finds the bridges.
    /// </summary>
    public ManualResetEventSlim FirstConfigured { get; } = new(false);

    /// <summary>The bridges served, by name (a copy; read under <see cref="BridgesLock"/> to use them).</summary>
    public IReadOnlyList<Bridge> Bridges
    {
        get { lock (BridgesLock) return [.. _bridges.Values.OrderBy(b => b.Name, StringComparer.Ordinal)]; }
    }

    /// <summary>The packet arena every bridge's AF_XDP ports and forwarding threads share (made at the first AF_XDP interface).</summary>
    public AfXdpArena Arena => _host.Arena;

    /// <summary>The forwarding threads every bridge shares (null until the first configuration was read).</summary>
    public ForwardingThreads? Threads => _threads;

    public VswitchdService(string remote, BridgeHost host, int defaultThreads = 1)
    {
        _remote = remote;
        _host = host;
        _defaultThreads = defaultThreads;
        _log = host.Loggers.CreateLogger("vswitchd");
        _thread = new Thread(Run) { IsBackground = true, Name = "vswitchd-config" };
        _bridgeWorkers = new BatchWorkers(ParallelBridges - 1, "br-apart");
    }

    public void Start()
    {
        // The once-a-second link check (interfaces gone or back) runs on the link monitor's thread; on a thread of its own
        // only where the kernel refuses the monitor's socket.
        Action checkLinks = () => ForEachBridge(static b => b.CheckLinks());
        _linkMonitor = LinkMonitor.TryStart(() => ForEachBridge(static b =>
        {
            b.Dp.NotifyLinkChange();
            b.FollowAdminStates();
        }), out _, checkLinks, TimeSpan.FromSeconds(1));
        _host.Patches.LinksChanged += () => ForEachBridge(static b => b.Dp.NotifyLinkChange());
        if (_linkMonitor is null) _linkWatch = new PeriodicThread("link-watch", TimeSpan.FromSeconds(1), checkLinks);
        _thread.Start();
    }

    private void ForEachBridge(Action<Bridge> action)
    {
        lock (BridgesLock)
        {
            foreach (var b in _bridges.Values) action(b);
        }
    }

    /// <summary>Makes the shared forwarding threads at the first read of the configuration; says when a later read asks for others.</summary>
    private void EnsureThreads(VswitchConfig config)
    {
        var asked = config.ForwardingThreads(out var error);
        if (error is not null && error != _threadsRefused) _log.LogWarning("{Error}: ignored", error);
        _threadsRefused = error;
        var (count, cpus) = asked ?? (_defaultThreads, null);
        if (_threads is null)
        {
            // pmd-cpu-mask places the forwarding threads as `run --forwarding-cpus` does: every other thread of the
            // process (the runtime's too) moves off their CPUs first, and threads made later inherit that. Left on them,
            // the database, status and link threads and the collector preempted a spinning forwarding thread for
            // milliseconds, longer than a 1 MiB ring holds at a few hundred thousand frames a second.
            string placement = "";
            if (cpus is not null && CpuPlacement.IsSupported)
            {
                var rest = CpuPlacement.KeepEveryThreadOff(cpus);
                placement = rest.Length == 0 ? ", which are every CPU this process may use: the other threads share them"
                                             : $", the other threads on {CpuPlacement.Format(rest)}";
            }
            _threads = new ForwardingThreads(count, cpus);
            _threads.Balancer.Log = line => _log.LogInformation("{Line}", line);
            _host = _host with { Threads = _threads };
            _log.LogInformation("{Count} forwarding thread(s) serve every bridge{Cpus}{Placement}", count, cpus is null ? "" : $", on CPUs {string.Join(',', cpus)}", placement);
            for (int i = 0; i < _threads.PlacementErrors.Count; i++)
                if (_threads.PlacementErrors[i] is { } why) _log.LogWarning("forwarding thread fwd-{Thread} is not placed on {Error}", i, why);
        }
        else if (asked is not null && count != _threads.Count)
        {
            _log.LogWarning("other_config asks for {Count} forwarding thread(s), {Running} run: the change takes effect when the daemon restarts", count, _threads.Count);
        }
    }

    /// <summary>
    /// other_config's receive queue placement (pmd-rxq-assign, pmd-auto-lb and its thresholds) on the shared threads'
    /// balancer: a new assignment places the queues again at once, as Open vSwitch reconfigures its datapath.
    /// </summary>
    private void ApplyRxqScheduling(VswitchConfig config)
    {
        if (_threads is null) return;
        var errors = new List<string>();
        var rxq = config.RxqScheduling(errors);
        string said = string.Join("; ", errors);
        if (said.Length > 0 && said != _rxqRefused) _log.LogWarning("{Error}", said);
        _rxqRefused = said;
        if (_threads.Balancer.AutoLoadBalance != rxq.AutoLoadBalance)
            _log.LogInformation("PMD auto load balance is {State}", rxq.AutoLoadBalance ? "enabled" : "disabled");
        rxq.ApplyTo(_threads.Balancer);
    }

    /// <summary>The first pause before connecting again, and the longest (each failed attempt doubles it, as Open vSwitch's reconnect does).</summary>
    public static readonly TimeSpan MinBackoff = TimeSpan.FromSeconds(1), MaxBackoff = TimeSpan.FromSeconds(8);

    /// <summary>Sessions that reached the monitor (the first one, then each reconnection).</summary>
    public int Sessions => Volatile.Read(ref _sessions);
    private int _sessions;

    private void Run()
    {
        string? lastFailure = null;
        var backoff = MinBackoff;
        while (!_stop.IsCancellationRequested)
        {
            OvsdbClient? client = null;
            try
            {
                client = OvsdbClient.Connect(_remote, s_callTimeout);
                client.Closed += _ => _wake.Set();
                var locked = client.Call("lock", new JsonArray(LockName), s_callTimeout);
                if (OvsdbDatum.Boolean(locked?["locked"]) != true)
                {
                    Fatal?.Invoke($"database {_remote}: another daemon (ovs-vswitchd or softswitch vswitchd) holds the lock '{LockName}': refusing to serve the same database");
                    FirstAttempt.Set();
                    return;
                }
                var monitor = OvsdbMonitor.Start(client, "Open_vSwitch", VswitchConfig.Monitored, s_callTimeout);
                monitor.Changed += () => _wake.Set();
                monitor.Failed += why => _log.LogError("database {Remote}: {Why}; reconnecting", _remote, why);
                _log.LogInformation("database {Remote}: connected ({Method}, schema {Version}){Again}", _remote, monitor.Method, monitor.Replica.Schema.Version,
                    Interlocked.Increment(ref _sessions) > 1 ? ", resynchronising" : "");
                lastFailure = null;
                backoff = MinBackoff;
                FirstAttempt.Set();
                while (!_stop.IsCancellationRequested && client.IsOpen)
                {
                    Reconcile(client, monitor);
                    FirstConfigured.Set();
                    WaitHandle.WaitAny(_roundWaits ??= [_wake, _stop.Token.WaitHandle], 1000);
                }
                if (!_stop.IsCancellationRequested) _log.LogWarning("database {Remote}: connection lost; reconnecting in {Delay} s (the bridges keep running)", _remote, backoff.TotalSeconds);
            }
            catch (OvsdbException e)
            {
                if (e.Message != lastFailure) _log.LogWarning("database {Remote}: {Error}; retrying with backoff ({Min} s, doubling up to {Max} s)", _remote, e.Message, MinBackoff.TotalSeconds, MaxBackoff.TotalSeconds);
                lastFailure = e.Message;
                FirstAttempt.Set();
                FirstConfigured.Set();
            }
            finally
            {
                client?.Dispose();
            }
            _stop.Token.WaitHandle.WaitOne(backoff);
            if (lastFailure is not null) backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
        }
    }

    /// <summary>
    /// One round of the configuration thread. The configuration is read and applied when the database changed (its
    /// replica's generation moved: a new session, a change, the echo of our own status write) or a bridge has
    /// something to try again (<see cref="Bridge.WantsRetry"/>, a bridge that could not be created or changed); the
    /// status columns are built and compared when that happened or a status source moved (<see cref="Bridge.AddStatusStamp"/>:
    /// links, kernel states, controllers) or the last write failed. An idle daemon's once-a-second round does neither
    /// and allocates nothing.
    /// </summary>
    private void Reconcile(OvsdbClient client, OvsdbMonitor monitor)
    {
        long generation;
        lock (monitor.Lock) generation = monitor.Replica.Generation;
        bool retry = _bridgeErrors.Count > 0;
        lock (BridgesLock)
        {
            foreach (var b in _bridges.Values) retry |= b.WantsRetry;
        }
        bool changed = !ReferenceEquals(monitor.Replica, _readReplica) || generation != _readGeneration;
        if (changed || retry || _config is null)
        {
            VswitchConfig? read;
            lock (monitor.Lock)
            {
                read = VswitchConfig.Read(monitor.Replica);
                _readReplica = monitor.Replica;
                _readGeneration = monitor.Replica.Generation;
            }
            if (read is null)
            {
                _config = null;
                return;
            }
            _config = read;
            lock (BridgesLock)
            {
                try
                {
                    Apply(read);
                }
                catch (Exception e)
                {
                    // Each bridge's failure is kept with it (see Apply); what is left is the daemon's own, said, and tried again.
                    _log.LogError(e, "applying configuration {Cfg} failed; tried again in a second", read.NextCfg);
                    _readReplica = null;
                }
            }
        }
        if (_config is not { } config) return;
        var stamp = new StatusStamp();
        lock (BridgesLock)
        {
            foreach (var b in _bridges.Values) b.AddStatusStamp(ref stamp);
        }
        if (!changed && !retry && stamp.Value == _statusStamp && !_statusUnwritten) return;
        _statusStamp = stamp.Value;
        _statusUnwritten = true;
        List<System.Text.Json.Nodes.JsonNode> ops;
        lock (monitor.Lock) ops = StatusWriter.Operations(monitor.Replica, config, _bridges.Values, _bridgeErrors);
        if (ops.Count == 0)
        {
            _statusUnwritten = false;
            return;
        }
        try
        {
            client.Transact("Open_vSwitch", ops, s_callTimeout);
            _statusUnwritten = false;
            if (config.NextCfg != _applied)
            {
                _applied = config.NextCfg;
                _log.LogDebug("configuration {Cfg} applied", config.NextCfg);
            }
        }
        catch (OvsdbException e)
        {
            // A row deleted meanwhile, or the connection ending: the next round writes again from newer contents.
            _log.LogWarning("database {Remote}: writing status failed: {Error}", _remote, e.Message);
        }
    }

    private void Apply(VswitchConfig config)
    {
        EnsureThreads(config);
        ApplyRxqScheduling(config);
        int arenaQueues = config.AfXdpArenaQueues(out var arenaError);
        if (arenaError is not null && arenaError != _arenaRefused) _log.LogWarning("{Error}", arenaError);
        _arenaRefused = arenaError;
        _host.Arena.Configure(arenaQueues, _threads?.Count ?? _defaultThreads);
        config.HwOffload(out var hwOffloadError);
        if (hwOffloadError is not null && hwOffloadError != _hwOffloadRefused) _log.LogWarning("{Error}", hwOffloadError);
        _hwOffloadRefused = hwOffloadError;
        bool restoreWait = VswitchConfig.FlowRestoreWait(config.OtherConfig);
        if (restoreWait != _flowRestoreWait)
        {
            _log.LogInformation(restoreWait
                ? "other_config:flow-restore-wait=true: no bridge connects to its controllers until it is removed"
                : "other_config:flow-restore-wait removed: the bridges connect to their controllers");
        }
        _flowRestoreWait = restoreWait;
        foreach (var target in config.ManagerTargets)
        {
            if (_managersSaid.Add(target))
                _log.LogInformation("manager {Target}: a remote of ovsdb-server (its --remote=db:Open_vSwitch,Open_vSwitch,manager_options), not served by this daemon", target);
        }
        var wanted = config.Bridges.ToDictionary(b => b.Uuid);
        var gone = new List<(Guid Uuid, Bridge Bridge)>();
        foreach (var (uuid, bridge) in _bridges.ToList())
        {
            if (wanted.TryGetValue(uuid, out var b) && b.Name == bridge.Name) continue;
            _bridges.Remove(uuid);
            gone.Add((uuid, bridge));
        }
        Delete(gone);
        foreach (var uuid in _bridgeErrors.Keys.Where(u => !wanted.ContainsKey(u) && !config.Ignored.ContainsKey(u)).ToList()) _bridgeErrors.Remove(uuid);
        foreach (var (uuid, why) in config.Ignored)
        {
            if (!_bridgeErrors.TryGetValue(uuid, out var before) || before != why) _log.LogError("{Error}", why);
            _bridgeErrors[uuid] = why;
        }
        var fresh = new List<BridgeConfig>();
        foreach (var b in config.Bridges)
        {
            if (_bridges.TryGetValue(b.Uuid, out var bridge))
            {
                Guarded(b.Name, b.Uuid, "changed", () => bridge.Apply(b));
                continue;
            }
            fresh.Add(b);
        }
        Create(fresh);
    }

    /// <summary>
    /// The most bridges created or deleted at once (<see cref="Create"/>, <see cref="Delete"/>): this thread and
    /// <see cref="ParallelBridges"/> - 1 <see cref="BatchWorkers"/> threads, made with the service and kept, so the
    /// daemon has as many threads with one bridge as with a hundred, during a change as after it.
    /// </summary>
    internal const int ParallelBridges = 8;

    /// <summary>
    /// Creates the bridges of <paramref name="fresh"/>, up to <see cref="ParallelBridges"/> at once, and puts each in the
    /// table. A bridge's creation is mostly waiting on the kernel (each AF_PACKET ring set up and tap made waits for an
    /// RCU grace period, tens of milliseconds on a busy machine), and those waits overlap: Mininet adding 100 bridges in
    /// one transaction waits for about one bridge's worth per 8, not for 100. A bridge with a patch interface is created
    /// on this thread: a patch end that comes up tells every bridge of the link change under <see cref="BridgesLock"/>,
    /// which this thread holds.
    /// </summary>
    private void Create(List<BridgeConfig> fresh)
    {
        var made = new Bridge?[fresh.Count];
        var errors = new Exception?[fresh.Count];
        var apart = new List<int>();
        for (int i = 0; i < fresh.Count; i++)
        {
            if (fresh[i].Interfaces.Any(f => f.Type == "patch")) errors[i] = Try(() => made[i] = Bridge.Create(fresh[i], _host));
            else apart.Add(i);
        }
        RunApart(apart.Count, k =>
        {
            int i = apart[k];
            errors[i] = Try(() => made[i] = Bridge.Create(fresh[i], _host));
        });
        for (int i = 0; i < fresh.Count; i++)
        {
            if (made[i] is { } bridge) _bridges[fresh[i].Uuid] = bridge;
            Record(fresh[i].Name, fresh[i].Uuid, "created", errors[i]);
        }
    }

    /// <summary>
    /// Deletes <paramref name="gone"/> (already out of the table), up to <see cref="ParallelBridges"/> at once, and returns
    /// when every one is deleted. A bridge's deletion is mostly waiting on the kernel
    /// (each AF_PACKET socket and tap it closes waits for an RCU grace period, tens of milliseconds on a busy machine),
    /// and those waits overlap: Mininet deleting 100 bridges in one transaction waits for about one bridge's worth per
    /// 8, not for 100. A bridge with patch ports is deleted on this thread: closing a patch end tells every bridge of
    /// the link change under <see cref="BridgesLock"/>, which this thread holds.
    /// </summary>
    private void Delete(List<(Guid Uuid, Bridge Bridge)> gone)
    {
        var errors = new Exception?[gone.Count];
        var apart = new List<int>();
        for (int i = 0; i < gone.Count; i++)
        {
            if (gone[i].Bridge.HasPatchPorts) errors[i] = Try(gone[i].Bridge.Dispose);
            else apart.Add(i);
        }
        RunApart(apart.Count, k => errors[apart[k]] = Try(gone[apart[k]].Bridge.Dispose));
        for (int i = 0; i < gone.Count; i++) Record(gone[i].Bridge.Name, gone[i].Uuid, "deleted", errors[i]);
    }

    /// <summary>Runs <paramref name="work"/>(0 .. <paramref name="count"/> - 1) on up to <see cref="ParallelBridges"/>
    /// threads (this one and the <see cref="BatchWorkers"/> made with the service) and returns when every item is done.</summary>
    private void RunApart(int count, Action<int> work) => _bridgeWorkers.Run(count, work);

    private static Exception? Try(Action action)
    {
        try
        {
            action();
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    /// <summary>
    /// Runs one bridge's step: what it throws (a device the kernel refuses, a socket, a fault of ours) becomes that Bridge
    /// row's error and a log line (said once while it stays the same), never the end of the daemon; the step is tried
    /// again at the next round.
    /// </summary>
    private void Guarded(string name, Guid uuid, string step, Action action) => Record(name, uuid, step, Try(action));

    /// <summary>The outcome of one bridge's step (<paramref name="e"/> null: it succeeded), as <see cref="Guarded"/> keeps it.</summary>
    private void Record(string name, Guid uuid, string step, Exception? e)
    {
        if (e is null)
        {
            _bridgeErrors.Remove(uuid);
        }
        else
        {
            string why = $"bridge {name} could not be {step}: {e.Message}";
            if (!_bridgeErrors.TryGetValue(uuid, out var before) || before != why)
            {
                // The stack trace only for what is no device's or socket's answer (a fault of ours).
                var fault = e is IOException or Datapath.DatapathConfigurationException or UnauthorizedAccessException or System.Net.Sockets.SocketException ? null : e;
                _log.LogError(fault, "{Error} (tried again every second; the bridge's other settings and forwarding go on)", why);
            }
            _bridgeErrors[uuid] = why;
        }
    }

    /// <summary>Stops following the database and deletes every bridge (interfaces released, sockets removed).</summary>
    public void Dispose()
    {
        _stop.Cancel();
        if (_thread.IsAlive && Thread.CurrentThread != _thread) _thread.Join(TimeSpan.FromSeconds(15));
        _linkMonitor?.Dispose();
        _linkWatch?.Dispose();
        lock (BridgesLock)
        {
            // Each leaves the table before it goes: link events raised meanwhile (a patch unplugged) reach live bridges only.
            var gone = _bridges.Select(kv => (kv.Key, kv.Value)).ToList();
            _bridges.Clear();
            Delete(gone);
        }
        _bridgeWorkers.Dispose();
        _threads?.Dispose();
        _wake.Dispose();
        FirstAttempt.Dispose();
        FirstConfigured.Dispose();
    }
}
