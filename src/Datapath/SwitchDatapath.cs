using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Datapath.Tunnels;

namespace Softswitch.Datapath;

/// <summary>What forwarding does with IP fragments: classify them as any other packet, or drop them (the datapath does
/// not reassemble).</summary>
public enum FragmentMode : byte
{
    Normal = 0,
    Drop = 1,
}

/// <summary>What a table miss does, decided by the controller connection and the fail mode.</summary>
public enum MissBehavior : byte
{
    /// <summary>Send a packet-in (a controller is connected).</summary>
    Controller,
    /// <summary>Drop (fail mode secure without a controller).</summary>
    Drop,
    /// <summary>Behave as an L2 learning switch (fail mode standalone without a controller).</summary>
    Normal,
}

/// <summary>
/// The switch's data plane: ports, the <see cref="Pipeline"/> of flow tables, forwarding threads, the control path
/// for packet-out, and the maintenance timer (flow expiry, link monitoring, MAC aging).
/// </summary>
/// <remarks>
/// Mechanism only: it references the BCL alone and knows no OpenFlow; what a layer above keeps about a rule rides in
/// <see cref="FlowEntry.Owner"/> and <see cref="FlowEntry.Tag"/>. Forwarding threads each own a <see cref="Forwarder"/>
/// and read ports and tables without locks; control operations come from other threads (packet-outs through one control
/// forwarder under a lock). Removed rules and ports are reclaimed through the pipeline's
/// <see cref="Classifier.QuiescentDomain"/>; a <see cref="PollOnce"/> round runs in a hold of it. The datapath owns and
/// disposes every port it was given. Design: docs/datapath.md, "The datapath and its threads".
/// </remarks>
public sealed partial class SwitchDatapath : IDisposable
{
    public readonly DatapathOptions Options;
    /// <summary>The forwarding threads this datapath shares with others (one set serving many switches), or null: threads of
    /// its own. When set, the datapath starts no thread of its own, has <see cref="ForwardingThreads.Count"/> forwarders, and
    /// <see cref="DatapathOptions.Threads"/>, <see cref="DatapathOptions.ForwardingCpus"/>, <see cref="DatapathOptions.BusyPollMicros"/>,
    /// <see cref="DatapathOptions.LingerMicros"/> and <see cref="DatapathOptions.IdleWakeMs"/> are the shared threads'.</summary>
    public readonly ForwardingThreads? SharedThreads;
    public readonly IClock Clock;
    /// <summary>The classifiers: table 0 and whatever tables the layer above adds.</summary>
    public readonly Pipeline Pipeline;
    /// <summary>The groups group actions apply (OpenFlow 1.3's group table).</summary>
    public readonly Groups.GroupTable Groups;
    /// <summary>The meters meter instructions name (OpenFlow 1.3's meter table), and the meter for packets to the controller.</summary>
    public readonly Meters.MeterTable Meters;
    /// <summary>Sends what shaped ports' egress queues release (<see cref="SetShaping"/>).</summary>
    public readonly Qos.QosScheduler Qos;
    /// <summary>The counter registry's values for this switch: every forwarder's set, the shared set, and sources.</summary>
    public readonly CounterGroup Counters = new();
    public readonly MacLearningTable MacTable = new();
    /// <summary>Set when a packet for the controller is queued (the shared threads' one signal for every datapath they serve, when shared).</summary>
    public readonly ManualResetEventSlim UpcallSignal;
    /// <summary>Tunnel ports (VXLAN, Geneve, GRE, IP-in-IP) and the underlay bindings the receive path decapsulates with.</summary>
    public readonly TunnelRegistry Tunnels;
    private volatile IDatapathEvents[] _listeners = [];
    private readonly Lock _listenerLock = new();

    private volatile PortTable _ports = PortTable.Empty;
    private readonly Lock _portLock = new();
    private int _nextIndex;
    private readonly Forwarder[] _forwarders;
    private readonly PortWaiter[] _waiters;
    // The control path's forwarder (packet-outs, with its own packet buffers and upcall ring), made at the first
    // packet-out or read of Control under _controlLock: an idle bridge's control path keeps nothing resident.
    private Forwarder? _control;
    private readonly Lock _controlLock = new();
    // The one poll loop serving this datapath alone while it runs (null with SharedThreads, or stopped).
    private ForwardingThreads? _ownThreads;
    private readonly List<RxQueue>[] _assigned;
    private volatile RxQueue[][] _assignedSnapshot;
    // The own threads' measured loads and the balancer that places the queues by them (null with SharedThreads: theirs).
    private readonly ThreadLoad[] _loads;
    private readonly RxqBalancer? _balancer;
    /// <summary>Removed ports waiting for every forwarding thread's next quiescent point (under the port lock).</summary>
    private readonly List<RetiredPort> _retired = new();
    private volatile int _retiredCount;
    private long _reclaimDeferrals;
    /// <summary>Wakes the maintenance thread early: a removed port to dispose, or Stop.</summary>
    /// <summary>(The shared threads' own when <see cref="SharedThreads"/> is set: their one maintenance thread serves every datapath.)</summary>
    private readonly ManualResetEventSlim _maintenanceWake;
    // The maintenance thread's state (see MaintenanceTurn).
    private long _maintenanceDue, _lastAge;
    private int _reclaimRetryMs = 1;
    /// <summary>Longest pause between two tries to dispose a removed port that a forwarding thread may still hold.</summary>
    private const int MaxReclaimRetryMs = 64;
    private volatile bool _running;
    private readonly List<FlowRemoved> _expired = new();
    private long _maintenanceErrors;
    private Exception? _lastMaintenanceError;

    public SwitchDatapath(DatapathOptions? options = null, IClock? clock = null, ForwardingThreads? sharedThreads = null)
    {
        Options = options ?? new DatapathOptions();
        SharedThreads = sharedThreads;
        Clock = clock ?? MonotonicClock.Instance;
        _maintenanceWake = SharedThreads?.MaintenanceWake ?? new ManualResetEventSlim(false);
        UpcallSignal = SharedThreads?.UpcallSignal ?? new ManualResetEventSlim(false);
        Pipeline = new Pipeline(Clock);
        Groups = new Groups.GroupTable(() => _ports, Pipeline.Versions, Pipeline.Reclamation);
        Pipeline.PortLiveness = Groups.IsPortLive;
        Pipeline.Groups = Groups;
        Groups.CompositionChanged = Pipeline.GroupsChanged;
        Meters = new Meters.MeterTable(Clock);
        Qos = new Qos.QosScheduler(Clock, () => _ports, PortQos, new DropCounters(Counters.CreateSet()));
        Tunnels = new TunnelRegistry(this);
        int threads = SharedThreads?.Count ?? Math.Max(1, Options.Threads);
        _forwarders = new Forwarder[threads];
        _placementErrors = new string?[threads];
        // The waiters of its own threads (shared threads have theirs).
        _waiters = SharedThreads is null ? new PortWaiter[threads] : [];
        for (int i = 0; i < _waiters.Length; i++) _waiters[i] = new PortWaiter();
        _assigned = new List<RxQueue>[threads];
        for (int i = 0; i < threads; i++)
        {
            _forwarders[i] = new Forwarder(this, Options.PoolSize, Options.EmcEntries, Options.UpcallSlots, Options.LargeBuffers, Options.SamplingRate,
                                          threads == 1 ? FlowCounting.SoleWriter : FlowCounting.Shared, i);
            _assigned[i] = new List<RxQueue>();
        }
        _assignedSnapshot = new RxQueue[threads][];
        for (int i = 0; i < threads; i++) _assignedSnapshot[i] = [];
        if (SharedThreads is null)
        {
            long now = System.Diagnostics.Stopwatch.GetTimestamp();
            _loads = new ThreadLoad[threads];
            long interval = (long)Math.Max(1, Options.RxqIntervalMs) * System.Diagnostics.Stopwatch.Frequency / 1000;
            for (int i = 0; i < threads; i++) _loads[i] = new ThreadLoad(now, interval);
            _balancer = new RxqBalancer(() => [this], _loads, Options.ForwardingCpus);
        }
        else
        {
            _loads = [];
        }
        ControlSlot = new PortSlot(new NullPort(), PortNumber.None, -1, 0);
        _samplingRates[(int)SampleChannel.Sflow] = Options.SamplingRate;
        PacketInRatePerForwarder = Options.PacketInRate / threads;
        LearnRatePerForwarder = Options.LearnRate / threads;
        PacketInBurst = Options.PacketInBurst;
        // Counters other types keep, read into the registry on demand.
        Counters.AddSource(DatapathCounters.EmcHit, () => SumCache(static c => c.Hits));
        Counters.AddSource(DatapathCounters.EmcMiss, () => SumCache(static c => c.Misses));
        Counters.AddSource(DatapathCounters.EmcConsulted, () => SumGovernor(static g => g.ConsultedPackets));
        Counters.AddSource(DatapathCounters.EmcBypassed, () => SumGovernor(static g => g.BypassedPackets));
        Counters.AddSource(DatapathCounters.MaintenanceError, () => MaintenanceErrorCount);
        for (var r = (TunnelDropReason)0; r < TunnelDropReason.Count; r++)
        {
            var reason = r;
            Counters.AddSource(DatapathCounters.Tunnel(reason), () => Tunnels.DropCount(reason));
        }
    }

    private long SumCache(Func<ExactMatchCache, long> read)
    {
        long n = 0;
        foreach (var f in _forwarders)
            if (f.Cache is { } c) n += read(c);
        return n;
    }

    private long SumGovernor(Func<EmcGovernor, long> read)
    {
        long n = 0;
        foreach (var f in _forwarders)
            if (f.Cache is not null) n += read(f.EmcGovernor);
        return n;
    }

    public PortTable Ports => _ports;
    public IReadOnlyList<Forwarder> Forwarders => _forwarders;
    /// <summary>Where each forwarding thread blocks when idle (index = thread), for its sleep counters.</summary>
    public IReadOnlyList<PortWaiter> Waiters => SharedThreads?.Waiters ?? _waiters;
    /// <summary>The control path's forwarder (packet-outs), made at the first packet-out or at this first read.</summary>
    public Forwarder Control => Volatile.Read(ref _control) ?? MakeControl();

    private Forwarder MakeControl()
    {
        lock (_controlLock)
        {
            if (_control is { } made) return made;
            var control = new Forwarder(this, ControlBuffers, 0, Options.UpcallSlots, 0, 0, FlowCounting.Control);
            Volatile.Write(ref _control, control);
            return control;
        }
    }

    /// <summary>True once the control path's forwarder is made (tests).</summary>
    internal bool HasControl => Volatile.Read(ref _control) is not null;

    /// <summary>
    /// Whether sample actions take packets (<see cref="Actions.ActionKind.Sample"/>): on while an exporter drains the
    /// forwarders' <see cref="FlowSampler"/> rings; off, a sample action does nothing (Open vSwitch's without IPFIX).
    /// Read by the forwarding threads once per batch that meets a sample action.
    /// </summary>
    public bool FlowSampling { get => _flowSampling; set => _flowSampling = value; }
    private volatile bool _flowSampling;

    /// <summary>The control path's forwarder if one was made (packet-outs run there), else null; never makes one.</summary>
    public Forwarder? ControlIfMade => Volatile.Read(ref _control);

    /// <summary>The packet buffers of the control path's forwarder.</summary>
    private const int ControlBuffers = 1024;
    internal PortSlot ControlSlot { get; }
    internal int PortIndexCount => Volatile.Read(ref _nextIndex);

    /// <summary>What forwarding does with IP fragments. Written by the layer above (switch config), read once per burst by
    /// every forwarding thread: a volatile field, so a change is seen by the next burst.</summary>
    public FragmentMode FragmentMode { get => _fragmentMode; set => _fragmentMode = value; }
    private volatile FragmentMode _fragmentMode = FragmentMode.Normal;
    /// <summary>What a table miss does. Written by the layer above (fail mode, controller connection), read by forwarding
    /// threads once per burst's misses: a volatile field, so a change is seen by the next burst.</summary>
    public MissBehavior MissBehavior { get => _missBehavior; set => _missBehavior = value; }
    private volatile MissBehavior _missBehavior = MissBehavior.Controller;

    /// <summary>The observer of forwarded packets (capture, tracing), or null; see <see cref="PacketTap"/>.</summary>
    public PacketTap? Tap { get => _tap; set => Volatile.Write(ref _tap, value); }
    private PacketTap? _tap;
    internal double PacketInRatePerForwarder;
    internal double LearnRatePerForwarder;
    internal double PacketInBurst;
    private readonly string?[] _placementErrors;

    /// <summary>Adds a port; <paramref name="no"/> 0 picks the lowest free number. Returns its slot.</summary>
    public PortSlot AddPort(IPort port, ushort no = 0)
    {
        PortSlot slot;
        // Each forwarding thread counts on the port in a slot of its own (before any can poll or send to it).
        port.Counters.ProvideThreadSlots(this, _forwarders.Length);
        lock (_portLock)
        {
            port.SetTransmitThreads(_forwarders.Length);   // before any forwarding thread can see the port
            var cur = _ports;
            if (no == 0)
            {
                no = 1;
                while (cur.Get(no) is not null) no++;
            }
            if (no == PortNumber.Local)
            {
                if (cur.Local is not null) throw new DatapathConfigurationException("LOCAL port exists already");
                slot = new PortSlot(port, no, _nextIndex++, Options.QueuesPerPort);
                _ports = new PortTable(cur.List, slot);
            }
            else
            {
                if (no > PortNumber.Highest || cur.Get(no) is not null) throw new DatapathConfigurationException($"port number {no} is taken or invalid");
                slot = new PortSlot(port, no, _nextIndex++, Options.QueuesPerPort);
                _ports = new PortTable([.. cur.List, slot], cur.Local);
            }
            if (_mirrors is { } mirrors) MarkMirrors(slot, mirrors);
            if (_bonds.Length > 0) MarkBond(slot);
            UpdateNormalSlowPath();
            PortSlot.StateChanged(); // after the table is published: see PortSlot.StateVersion
            slot.AddedNanos = Clock.NowNanos;
            AssignReceiveQueues(slot, port);
        }
        AddPortCounterSources(slot);
        foreach (var l in _listeners) l.OnPortStatus(PortStatusReason.Add, slot);
        return slot;
    }

    /// <summary>The offloads a port takes on receive, as registry counters (read from its <see cref="PortCounters"/>).</summary>
    private static readonly (Counter Counter, Func<PortCounters, long> Read)[] s_portOffloadCounters =
    [
        (DatapathCounters.KernelCsumCompleted, static c => Volatile.Read(ref c.RxChecksumCompleted)),
        (DatapathCounters.GsoSegmented, static c => Volatile.Read(ref c.RxGsoFrames)),
        (DatapathCounters.GsoSegments, static c => Volatile.Read(ref c.RxGsoSegments)),
        (DatapathCounters.GsoReceivedWhole, static c => Volatile.Read(ref c.RxGsoWhole)),
        (DatapathCounters.GsoRefused, static c => Volatile.Read(ref c.RxGsoRefused)),
        (DatapathCounters.KernelRxOversize, static c => Volatile.Read(ref c.RxOversize)),
    ];

    private void AddPortCounterSources(PortSlot slot)
    {
        var pc = slot.Port.Counters;
        foreach (var (counter, read) in s_portOffloadCounters) Counters.AddSource(counter, () => read(pc), slot);
    }

    /// <summary>A removed port's counts stay in the registry (its totals move to the shared set), so counters never go back.</summary>
    private void RemovePortCounterSources(PortSlot slot)
    {
        var pc = slot.Port.Counters;
        Counters.RemoveSources(slot);
        foreach (var (counter, read) in s_portOffloadCounters)
        {
            long v = read(pc);
            if (v != 0) Counters.Shared.AddAtomic(counter, v);
        }
    }

    /// <summary>
    /// Removes a port: listeners hear of it (PORT_STATUS) while it is still open, and the datapath disposes it (and the
    /// receivers it split its receiving into) once no forwarding thread can be using it any more (docs/datapath.md,
    /// "Port lifetimes"). The caller must not dispose it.
    /// </summary>
    public bool RemovePort(ushort no)
    {
        PortSlot? slot;
        lock (_portLock)
        {
            var cur = _ports;
            slot = cur.Get(no);
            if (slot is null) return false;
            _ports = no == PortNumber.Local ? new PortTable(cur.List, null) : new PortTable(Array.FindAll(cur.List, s => s.No != no), cur.Local);
            PortSlot.StateChanged();
            if (slot.Vlan is not null || slot.Bond is not null) UpdateNormalSlowPath();
            UnassignReceiveQueues(slot);
        }
        Tunnels.OnPortRemoved(slot);
        PortQos.Remove(slot);
        RemovePortCounterSources(slot);
        MacTable.Age(Clock.NowNanos, no);
        foreach (var l in _listeners) l.OnPortStatus(PortStatusReason.Delete, slot);
        Retire(slot);
        return true;
    }

    private sealed record RetiredPort(PortSlot Slot, long Epoch);

    /// <summary>Hands an unlinked port to reclamation: tagged with the current epoch, which then ends (a full fence), so
    /// a thread that announces a later epoch reads the tables without it.</summary>
    private void Retire(PortSlot slot)
    {
        var domain = Pipeline.Reclamation;
        lock (_portLock)
        {
            _retired.Add(new RetiredPort(slot, domain.CurrentEpoch));
            _retiredCount = _retired.Count;
        }
        domain.Advance();
        if (ReclaimPorts() > 0) _maintenanceWake.Set();
    }

    /// <summary>Removed ports not yet disposed (a forwarding thread may still be inside a round that found them).</summary>
    internal int RetiredPortCount => _retiredCount;

    /// <summary>Times <see cref="ReclaimPorts"/> found removed ports it could not dispose yet (tests).</summary>
    internal long ReclaimDeferrals => Interlocked.Read(ref _reclaimDeferrals);

    /// <summary>
    /// Disposes the removed ports no forwarding thread or hold can still be using (their retire epoch is below the
    /// domain's safe epoch); returns how many still wait. Any thread; each port is disposed once, outside the lock.
    /// </summary>
    internal int ReclaimPorts()
    {
        if (_retiredCount == 0) return 0;
        List<PortSlot>? ready = null;
        int waiting;
        lock (_portLock)
        {
            long safe = Pipeline.Reclamation.SafeEpoch();
            for (int i = _retired.Count - 1; i >= 0; i--)
            {
                if (_retired[i].Epoch >= safe) continue;
                (ready ??= new()).Add(_retired[i].Slot);
                _retired.RemoveAt(i);
            }
            waiting = _retiredCount = _retired.Count;
            if (waiting > 0) Interlocked.Increment(ref _reclaimDeferrals);
        }
        if (ready is not null)
            foreach (var slot in ready) DisposePort(slot);
        return waiting;
    }

    /// <summary>
    /// Waits until every removed port is disposed (its interface let go: a tap's name can be taken again) or
    /// <paramref name="limit"/> passes; true when none is left. For a control thread that reopens an interface it has
    /// just removed; a forwarding thread still inside a round that found the port holds it until the round ends.
    /// </summary>
    public bool WaitForRemovedPorts(TimeSpan limit) => SpinWait.SpinUntil(() => ReclaimPorts() == 0, limit);

    private static void DisposePort(PortSlot slot)
    {
        foreach (var r in slot.Receivers)
            if (!ReferenceEquals(r, slot.Port)) r.Dispose();
        slot.Port.Dispose();
    }

    /// <summary>Changes a port's config bits (PORT_MOD; atomic, so concurrent changes of other bits are kept); reports
    /// PORT_STATUS when they changed.</summary>
    public bool SetPortConfig(ushort no, PortConfig config, PortConfig mask)
    {
        var slot = _ports.Get(no);
        if (slot is null) return false;
        if (!slot.UpdateConfig(config, mask)) return true;
        foreach (var l in _listeners) l.OnPortStatus(PortStatusReason.Modify, slot);
        return true;
    }

    private volatile IBpduSink? _bpduSink;

    /// <summary>Where BPDUs received on ports with <see cref="PortConfig.StpBpdu"/> go (null: they are dropped, counted
    /// <c>stp-bpdu-unheard</c>).</summary>
    public IBpduSink? BpduSink { get => _bpduSink; set => _bpduSink = value; }

    /// <summary>
    /// Sets port <paramref name="no"/>'s spanning tree state and the forwarding gate it implies (in the port's config,
    /// the <c>Stp*</c> bits): listening, blocking and disabled neither forward nor learn, learning learns without
    /// forwarding, forwarding and excluded forward; every state but <see cref="PortStpState.Off"/> hands BPDUs to
    /// <see cref="BpduSink"/>. Reports PORT_STATUS when the state changed; MAC addresses learned on a port that stops
    /// learning are forgotten. False when there is no such port.
    /// </summary>
    public bool SetPortStp(ushort no, PortStpState state)
    {
        var slot = no == PortNumber.Local ? _ports.Local : _ports.Get(no);
        if (slot is null) return false;
        var gate = state switch
        {
            PortStpState.Off => PortConfig.None,
            PortStpState.Excluded or PortStpState.Forwarding => PortConfig.StpBpdu,
            PortStpState.Learning => PortConfig.StpBpdu | PortConfig.StpNoForward,
            _ => PortConfig.StpBpdu | PortConfig.StpNoForward | PortConfig.StpNoLearn,
        };
        const PortConfig mask = PortConfig.StpBpdu | PortConfig.StpNoForward | PortConfig.StpNoLearn;
        bool learned = (slot.Config & PortConfig.StpNoLearn) == 0;
        bool changed = slot.Stp != state;
        slot.Stp = state;
        slot.UpdateConfig(gate, mask);
        if (learned && (gate & PortConfig.StpNoLearn) != 0) MacTable.Age(Clock.NowNanos, no);
        if (changed)
            foreach (var l in _listeners) l.OnPortStatus(PortStatusReason.Modify, slot);
        return true;
    }

    /// <summary>
    /// Sets a port's VLAN membership for NORMAL (null: a trunk of every VLAN, as every port starts); the addresses
    /// learned on it are forgotten. False when there is no such port.
    /// </summary>
    public bool SetPortVlan(ushort no, PortVlan? vlan)
    {
        lock (_portLock)
        {
            var slot = _ports.Get(no);
            if (slot is null) return false;
            slot.Vlan = vlan;
            UpdateNormalSlowPath();
        }
        MacTable.Age(Clock.NowNanos, no);
        return true;
    }

    /// <summary>Each <see cref="SampleChannel"/>'s rate (0: off); written under the port lock, whole.</summary>
    private volatile int[] _samplingRates = new int[PacketSampler.ChannelCount];

    /// <summary>Packets sampled for sFlow: 1 in this many on each forwarding thread; 0: off. Starts as
    /// <see cref="DatapathOptions.SamplingRate"/>.</summary>
    public int SamplingRate => _samplingRates[(int)SampleChannel.Sflow];

    /// <summary>Packets sampled for <paramref name="channel"/>: 1 in this many on each forwarding thread; 0: off.</summary>
    public int SamplingRateOf(SampleChannel channel) => _samplingRates[(int)channel];

    /// <summary>Whether any channel samples (a packet path the offload cannot take).</summary>
    public bool Sampling
    {
        get
        {
            foreach (int r in _samplingRates)
                if (r != 0) return true;
            return false;
        }
    }

    /// <summary>Samples 1 in <paramref name="rate"/> packets for sFlow from now on (0: none); see
    /// <see cref="SetSamplingRate(SampleChannel, int)"/>.</summary>
    public void SetSamplingRate(int rate) => SetSamplingRate(SampleChannel.Sflow, rate);

    /// <summary>
    /// Samples 1 in <paramref name="rate"/> packets for <paramref name="channel"/> from now on (0: none): each
    /// forwarding thread gets a new sampler (a ring of <see cref="DatapathOptions.SampleRingSlots"/> per channel on,
    /// made here) that goes on from the old one's totals; samples the old one held and no exporter read yet, of every
    /// channel, are let go. The forwarding path's cost is the same at any rate and with any number of channels on.
    /// </summary>
    public void SetSamplingRate(SampleChannel channel, int rate)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rate);
        lock (_portLock)
        {
            if (rate == _samplingRates[(int)channel]) return;
            var rates = (int[])_samplingRates.Clone();
            rates[(int)channel] = rate;
            foreach (var f in _forwarders) f.SetSampler(new PacketSampler(rates, Options.SampleRingSlots, previous: f.Sampler));
            _samplingRates = rates;
        }
    }

    private volatile MirrorSet? _mirrors;

    /// <summary>The port mirrors (<see cref="SetMirrors"/>), or null: none, and the forwarding path's only cost is a test of
    /// this field per burst.</summary>
    public MirrorSet? Mirrors => _mirrors;

    /// <summary>
    /// Sets the port mirrors (none: null or empty). Each selects packets by the port they arrive on, the port they leave
    /// by and their VLAN, and sends a copy of each to its output port or VLAN, a packet at most once per place however
    /// many mirrors select it (Open vSwitch's semantics, see docs/manual.md). A port may be named before it exists: it
    /// is selected once added. A mirror's output port is taken out of NORMAL (it neither learns nor floods there).
    /// </summary>
    public void SetMirrors(IReadOnlyList<Mirror>? mirrors)
    {
        var set = mirrors is { Count: > 0 } ? new MirrorSet(mirrors) : null;
        lock (_portLock)
        {
            foreach (var s in _ports.WithLocal) MarkMirrors(s, set);
            _mirrors = set;
            PortSlot.StateChanged();   // a port selected for what it sends is not a plain port (see OutputStage.PlainSlot)
        }
    }

    /// <summary>Gives <paramref name="slot"/> the mirror bits <paramref name="set"/> has for its number (under the port lock).</summary>
    private static void MarkMirrors(PortSlot slot, MirrorSet? set)
    {
        uint src = 0, dst = 0;
        bool output = false;
        if (set is not null)
        {
            for (int i = 0; i < set.Mirrors.Length; i++)
            {
                var m = set.Mirrors[i];
                if (m.Sources.Contains(slot.No)) src |= 1u << i;
                if (m.Destinations.Contains(slot.No)) dst |= 1u << i;
                output |= m.OutPort == slot.No;
            }
        }
        slot.MirrorSrc = src;
        slot.MirrorDst = dst;
        slot.MirrorOut = output;
    }

    /// <summary>True while a port has a VLAN membership (<see cref="SetPortVlan"/>) or is a bond member
    /// (<see cref="SetBonds"/>), or multicast snooping is on (<see cref="SetMcastSnooping"/>): NORMAL then takes its
    /// full path (VLANs, mirrors' output ports, bonds, snooping).</summary>
    internal volatile bool NormalSlowPath;

    /// <summary>Sets <see cref="NormalSlowPath"/> from the port table and snooping (under the port lock).</summary>
    private void UpdateNormalSlowPath()
    {
        bool any = _mcastSnooping is not null;
        foreach (var s in _ports.WithLocal) any |= s.Vlan is not null || s.Bond is not null;
        NormalSlowPath = any;
    }

    private volatile McastSnoopingTable? _mcastSnooping;
    private volatile IMcastSnoopingSink? _mcastSink;

    /// <summary>What NORMAL reads of multicast snooping (null: snooping is off, and NORMAL floods multicast as any
    /// unknown destination). See <see cref="SetMcastSnooping"/>.</summary>
    public McastSnoopingTable? McastSnooping => _mcastSnooping;

    /// <summary>Where NORMAL hands the IGMP and MLD reports and queries it receives while snooping is on (null: they are
    /// forwarded but not learned from, counted <c>mcast-snooping-unheard</c>).</summary>
    public IMcastSnoopingSink? McastSink { get => _mcastSink; set => _mcastSink = value; }

    /// <summary>
    /// Turns multicast snooping on with <paramref name="table"/>, publishes a newer table, or (null) turns it off. While
    /// it is on NORMAL sends IP multicast to the ports the table names (<see cref="McastSnoopingTable"/>), hands IGMP
    /// and MLD to <see cref="McastSink"/> and takes its full path; off, NORMAL pays nothing for it.
    /// </summary>
    public void SetMcastSnooping(McastSnoopingTable? table)
    {
        lock (_portLock)
        {
            bool toggled = (table is null) != (_mcastSnooping is null);
            _mcastSnooping = table;
            if (toggled) UpdateNormalSlowPath();
        }
    }

    private Bond[] _bonds = [];

    /// <summary>The bonds (<see cref="SetBonds"/>); empty: none, and NORMAL's fast path is untouched.</summary>
    public IReadOnlyList<Bond> Bonds => _bonds;

    /// <summary>
    /// Sets the bonds (none: empty). Each port a bond names is its member from now on, and one added later under that
    /// number once it is; a port is a member of one bond at most (the first that names it). NORMAL forgets what it
    /// learned behind the members of a bond that changed. The bonds' state (<see cref="Bond.Update"/>) is their
    /// protocol's, above the datapath.
    /// </summary>
    public void SetBonds(IReadOnlyList<Bond> bonds)
    {
        var forget = new List<ushort>();
        lock (_portLock)
        {
            foreach (var old in _bonds)
                if (!bonds.Any(b => ReferenceEquals(b, old))) forget.AddRange(old.Members);
            foreach (var b in bonds)
                if (!_bonds.Any(old => ReferenceEquals(b, old))) forget.AddRange(b.Members);
            _bonds = [.. bonds];
            foreach (var s in _ports.WithLocal) MarkBond(s);
            UpdateNormalSlowPath();
            PortSlot.StateChanged();
        }
        long now = Clock.NowNanos;
        foreach (ushort no in forget.Distinct()) MacTable.Age(now, no);
    }

    /// <summary>Gives <paramref name="slot"/> the bond that names its number (under the port lock).</summary>
    private void MarkBond(PortSlot slot)
    {
        Bond? bond = null;
        foreach (var b in _bonds)
        {
            if (Array.IndexOf(b.Members, slot.No) < 0) continue;
            bond = b;
            break;
        }
        slot.Bond = bond;
    }

    private volatile IBpduSink? _lacpSink;

    /// <summary>Where slow-protocol frames (ethertype 0x8809) received on ports with <see cref="PortConfig.Lacp"/> go
    /// (null: they are dropped, counted <c>lacp-pdu-unheard</c>).</summary>
    public IBpduSink? LacpSink { get => _lacpSink; set => _lacpSink = value; }

    /// <summary>Sets whether LACP runs on port <paramref name="no"/> (<see cref="PortConfig.Lacp"/>: its slow-protocol
    /// frames go to <see cref="LacpSink"/>). False when there is no such port. Not a controller's bit: no PORT_STATUS.</summary>
    public bool SetPortLacp(ushort no, bool on)
    {
        var slot = _ports.Get(no);
        if (slot is null) return false;
        slot.UpdateConfig(on ? PortConfig.Lacp : PortConfig.None, PortConfig.Lacp);
        return true;
    }

    /// <summary>The largest frame the datapath carries (a packet buffer's size); larger packet-out data is refused.</summary>
    public int MaxFrameSize => Math.Max(PacketPool.DefaultDataSize, Options.FrameSize);

    /// <summary>Executes a packet-out (thread-safe; serialised on the control path, inside a hold, so the ports it
    /// outputs to stay open until it returns).</summary>
    public void PacketOut(ReadOnlySpan<byte> frame, ushort inPort, FlowActions actions)
    {
        var control = Control;
        using var hold = Pipeline.Reclamation.Enter();
        lock (_controlLock)
        {
            control.ExecutePacketOut(frame, inPort, actions);
        }
    }

    /// <summary>Drains packets for the controller from every forwarder (single consumer).</summary>
    public int DrainUpcalls(UpcallHandler handler, int maxPerRing = 256)
    {
        // A shared signal is reset by the one pump that drains every datapath sharing it (SharedUpcallPump).
        if (SharedThreads is null) UpcallSignal.Reset();
        int n = 0;
        foreach (var f in _forwarders) n += f.Upcalls.Drain(handler, maxPerRing);
        if (Volatile.Read(ref _control) is { } control) n += control.Upcalls.Drain(handler, maxPerRing);
        return n;
    }

    /// <summary>Maintenance is first due one interval from now (the thread that runs it is starting).</summary>
    internal void StartMaintenance()
    {
        _maintenanceDue = Environment.TickCount64 + MaintenanceIntervalMs();
        _reclaimRetryMs = 1;
    }

    /// <summary>Milliseconds from <paramref name="now"/> (Environment.TickCount64) until <see cref="MaintenanceTurn"/> has work.</summary>
    internal long MaintenanceWaitMs(long now)
    {
        long wait = _maintenanceDue - now;
        return _retiredCount > 0 ? Math.Min(wait, _reclaimRetryMs) : wait;
    }

    /// <summary>
    /// What the maintenance thread does when it wakes: removed ports disposed, link events read, and when it is due,
    /// the maintenance round (<see cref="RunMaintenance(ref long)"/>). Run by one thread at a time: this datapath's own,
    /// or the one that <see cref="SharedThreads"/> runs for every datapath it serves.
    /// </summary>
    internal void MaintenanceTurn()
    {
        try
        {
            _reclaimRetryMs = ReclaimPorts() > 0 ? Math.Min(_reclaimRetryMs * 2, MaxReclaimRetryMs) : 1;
            if (Interlocked.Exchange(ref _linkEvent, 0) != 0) PollLinks(_listeners);
            if (Environment.TickCount64 < _maintenanceDue) return;
            _maintenanceDue = Environment.TickCount64 + MaintenanceIntervalMs();
            RunMaintenance(ref _lastAge);
        }
        catch (Exception e)
        {
            // The timer stays alive (flows must keep expiring), also while stopping. Never silent: the failure is
            // counted (maintenance-error), kept (LastMaintenanceError), and handed to every listener, which logs it
            // with its exception (the OpenFlow agent does). A listener that throws from its handler is a bug of
            // its own and is not caught here.
            Interlocked.Increment(ref _maintenanceErrors);
            Volatile.Write(ref _lastMaintenanceError, e);
            foreach (var l in _listeners) l.OnMaintenanceError(e);
        }
    }

    private long MaintenanceIntervalMs() => (long)(AnyTimedFlow() ? Options.MaintenanceInterval : Options.IdleMaintenanceInterval).TotalMilliseconds;

    private bool AnyTimedFlow()
    {
        // By index: the tables as an IReadOnlyList would box an enumerator every maintenance interval.
        for (int i = 0; i < Pipeline.TableCount; i++)
            if (Pipeline.Table(i).TimerTracked > 0) return true;
        return false;
    }

    /// <summary>Maintenance steps that threw (each reported through <see cref="IDatapathEvents.OnMaintenanceError"/>).</summary>
    public long MaintenanceErrorCount => Interlocked.Read(ref _maintenanceErrors);

    /// <summary>The exception of the last maintenance step that threw, or null (shown by the host's dp/show).</summary>
    public Exception? LastMaintenanceError => Volatile.Read(ref _lastMaintenanceError);

    /// <summary>Adds a listener of the datapath's asynchronous events (told in subscription order).</summary>
    public void Subscribe(IDatapathEvents listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        lock (_listenerLock) _listeners = [.. _listeners, listener];
    }

    /// <summary>Removes a listener; events already being delivered may still reach it.</summary>
    public void Unsubscribe(IDatapathEvents listener)
    {
        lock (_listenerLock) _listeners = Array.FindAll(_listeners, l => !ReferenceEquals(l, listener));
    }

    /// <summary>Has every listener add the counts forwarded outside software (offloaded flows) to the flows, before a statistics read.</summary>
    public void RefreshCounters()
    {
        foreach (var l in _listeners) l.OnCountersWanted();
    }

    /// <summary>
    /// Settles the counts of removed flows before their removal is reported (their entries' counts are final when it
    /// returns): every listener puts the last counts of flows forwarded outside software into <paramref name="removed"/>'s
    /// entries (an offload target takes them out of hardware first), then every forwarding thread finishes the round
    /// it is in, so a burst that found a flow before its removal was published has been credited to it (at most
    /// <see cref="SettleLimitMs"/>). Call after the removal is published; the caller holds the entries from reuse.
    /// </summary>
    public void FlowsRemoving(ReadOnlySpan<FlowRemoved> removed)
    {
        foreach (var l in _listeners) l.OnFlowsRemoving(removed);
        var reclamation = Pipeline.Reclamation;
        long epoch = reclamation.Advance();
        reclamation.WaitForReaders(epoch, SettleLimitMs);
        // A hash-stage rule's last packets were counted in its record: into the entry with them.
        Classifier.ExactRecordTable? settled = null;
        foreach (var r in removed)
        {
            if (r.Entry.RecordTable is not { } t || ReferenceEquals(t, settled)) continue;
            t.SettleRemoved(epoch);
            settled = t;
        }
    }

    /// <summary>The longest <see cref="FlowsRemoving"/> waits for a forwarding thread to finish its round (one stuck inside a round).</summary>
    public const int SettleLimitMs = 500;

    /// <summary>Returns once the table changes made so far are in force in every forwarding path (offload targets included).</summary>
    public void Barrier()
    {
        foreach (var l in _listeners) l.OnBarrier();
    }

    /// <summary>One maintenance step: expire flows, report link changes, age MACs (tests call it directly).</summary>
    public void RunMaintenance()
    {
        long lastAge = 0;
        RunMaintenance(ref lastAge);
    }

    /// <summary>
    /// Tells the datapath that some interface's link may have changed (a link monitor's kernel notification): the
    /// maintenance thread re-reads every port's link state at once, so port status and group liveness follow within a
    /// millisecond instead of at the next maintenance round.
    /// </summary>
    public void NotifyLinkChange()
    {
        Volatile.Write(ref _linkEvent, 1);
        _maintenanceWake.Set();
    }

    private int _linkEvent;

    /// <summary>Re-reads each port's link state; a change is a port-status event (and changes group liveness at once).</summary>
    private void PollLinks(IDatapathEvents[] listeners)
    {
        var ports = _ports;
        foreach (var slot in ports.List)
        {
            if (slot.PollLinkChange())
                foreach (var l in listeners) l.OnPortStatus(PortStatusReason.Modify, slot);
        }

        if (ports.Local is { } local && local.PollLinkChange())
            foreach (var l in listeners) l.OnPortStatus(PortStatusReason.Modify, local);
    }

    private void RunMaintenance(ref long lastAge)
    {
        var listeners = _listeners;
        foreach (var l in listeners) l.OnMaintenanceStarting();
        _expired.Clear();
        // fin_timeout signals first: a rule lowered now expires in this round when its new deadline has passed.
        foreach (var f in _forwarders) f.DrainFinTimeouts();
        Volatile.Read(ref _control)?.DrainFinTimeouts();
        // Listeners read the expired flows: a hold keeps them from being recycled until they are told.
        using (Pipeline.Reclamation.Enter())
        {
            for (int i = 0; i < Pipeline.TableCount; i++) Pipeline.Table(i).Expire(_expired);
            if (_expired.Count > 0) FlowsRemoving(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_expired));
            foreach (var l in listeners)
                foreach (var r in _expired) l.OnFlowExpired(r with { Packets = r.Entry.Packets, Bytes = r.Entry.Bytes });
        }
        _expired.Clear();
        PollLinks(listeners);
        long now = Clock.NowNanos;
        if (now - lastAge > 10_000_000_000)
        {
            MacTable.Age(now);
            lastAge = now;
        }
    }

    public long DropCount(DropReason r)
    {
        long n = (Volatile.Read(ref _control)?.Drops[r] ?? 0) + Qos.Drops[r];
        foreach (var f in _forwarders) n += f.Drops[r];
        return n;
    }

    public long ParseErrorCount(ParseError e)
    {
        long n = Volatile.Read(ref _control)?.ParseErrors[e] ?? 0;
        foreach (var f in _forwarders) n += f.ParseErrors[e];
        return n;
    }

    public void Stop()
    {
        _running = false;
        SharedThreads?.Detach(this);
        if (_ownThreads is { } own)
        {
            _ownThreads = null;
            own.Detach(this);
            own.Dispose();
        }
    }

    /// <summary>
    /// Polices what port <paramref name="no"/> receives at <paramref name="rateKbps"/> kbit/s with a burst of
    /// <paramref name="burstKb"/> kbit (0: <see cref="DefaultPolicingBurstKb"/>), as Open vSwitch's Interface
    /// ingress_policing_rate and ingress_policing_burst; a rate of 0 stops policing. False when there is no such port.
    /// </summary>
    public bool SetPolicing(ushort no, long rateKbps, long burstKb)
    {
        if (_ports.Get(no) is not { } slot) return false;
        if (rateKbps <= 0)
        {
            PortQos.SetPolicer(slot, null);
            return true;
        }
        uint rate = (uint)Math.Min(rateKbps, uint.MaxValue), burst = (uint)Math.Min(burstKb > 0 ? burstKb : DefaultPolicingBurstKb, uint.MaxValue);
        PortQos.SetPolicer(slot, new Softswitch.Datapath.Meters.Meter(0, Softswitch.Datapath.Meters.MeterUnit.Kbps, burst: true, stats: false,
            [new Softswitch.Datapath.Meters.MeterBand(Softswitch.Datapath.Meters.MeterBandType.Drop, rate, burst)], Clock.NowNanos));
        return true;
    }

    /// <summary>Each port's egress shaping and ingress policer (<see cref="SetShaping"/>, <see cref="SetPolicing"/>).</summary>
    public Qos.PortQosTable PortQos { get; } = new();

    /// <summary>Port <paramref name="no"/>'s egress shaping, or null (none, or no such port).</summary>
    public Qos.PortShaper? ShaperOf(ushort no) => _ports.Get(no) is { } slot ? PortQos.ShaperOf(slot) : null;

    /// <summary>Port <paramref name="no"/>'s ingress policer, or null (none, or no such port).</summary>
    public Softswitch.Datapath.Meters.Meter? PolicerOf(ushort no) => _ports.Get(no) is { } slot ? PortQos.PolicerOf(slot) : null;

    /// <summary>The burst of a policer given none (kbit), as Open vSwitch's.</summary>
    public const long DefaultPolicingBurstKb = 8000;

    /// <summary>
    /// Sets (or, with null, removes) port <paramref name="no"/>'s egress shaping; false when there is no such port.
    /// Packets waiting in the queues of a shaping replaced are dropped with it.
    /// </summary>
    public bool SetShaping(ushort no, Qos.PortShaper? shaper)
    {
        if (_ports.Get(no) is not { } slot) return false;
        PortQos.SetShaper(slot, shaper);
        if (shaper is not null) Qos.Kick();
        return true;
    }

    public void Dispose()
    {
        Stop();
        Qos.Dispose();
        foreach (var s in _ports.WithLocal) DisposePort(s);
        lock (_portLock)
        {
            foreach (var r in _retired) DisposePort(r.Slot);
            _retired.Clear();
            _retiredCount = 0;
        }
        // The forwarding threads are gone: the free slots their pools cached go back to the arena for other switches.
        foreach (var f in _forwarders) f.Pool.ReturnToArena();
        foreach (var w in _waiters) w.Dispose();
        if (SharedThreads is null) _maintenanceWake.Dispose();
    }

    /// <summary>
    /// Carves the forwarding threads' pools from <paramref name="arena"/>, each from its thread's next poll
    /// (<see cref="Forwarder.UseArena"/>), for a datapath made before the arena was: its AF_XDP ports over the arena
    /// then receive in place. The control path's pool stays its own.
    /// </summary>
    public void UseArena(PacketArena arena)
    {
        foreach (var f in _forwarders) f.UseArena(arena);
    }

    private sealed class NullPort : IPort
    {
        public PortInfo Info { get; } = new("none", default);
        public PortCounters Counters { get; } = new();
        public bool LinkUp => false;
        public int WaitFd => PortWait.NeverReceives;
        public int Receive(PacketPool pool, Span<int> pkts) => 0;
        public void Send(PacketPool pool, ReadOnlySpan<int> pkts) { }
        public void Dispose() { }
    }
}
