using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Tunnels;

namespace Softswitch.Datapath;

/// <summary>OF1.0 IP fragment handling (OFPC_FRAG_*). REASM is refused by the agent (we do not reassemble).</summary>
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

public enum PortStatusReason : byte
{
    Add = 0,
    Delete = 1,
    Modify = 2,
}

/// <summary>What the datapath tells the agent about (called from datapath threads; handlers must be quick).</summary>
public interface IDatapathEvents
{
    void OnFlowRemoved(in FlowRemoved removed);
    void OnPortStatus(PortStatusReason reason, PortSlot port);
}

public sealed class DatapathOptions
{
    /// <summary>Forwarding threads; ports are dealt round-robin to them.</summary>
    public int Threads { get; set; } = 1;
    public int PoolSize { get; set; } = 4096;
    /// <summary>EMC entries per forwarding thread (0 = no EMC).</summary>
    public int EmcEntries { get; set; } = 8192;
    public int UpcallSlots { get; set; } = 1024;
    /// <summary>Packet-ins per second across the datapath (0 = unlimited), and the burst allowance.</summary>
    public double PacketInRate { get; set; } = 20_000;
    public double PacketInBurst { get; set; } = 2_000;
    /// <summary>ENQUEUE queues per port (queue ids 0..N-1).</summary>
    public int QueuesPerPort { get; set; } = 8;
    public FlowTableOptions Table { get; set; } = new();
    public TimeSpan MaintenanceInterval { get; set; } = TimeSpan.FromMilliseconds(100);
}

/// <summary>
/// The switch's data plane: ports, flow table, forwarding threads, the control path for packet-out, and
/// the maintenance timer (flow expiry, link monitoring, MAC aging).
/// </summary>
/// <remarks>
/// Design: forwarding threads each own a <see cref="Forwarder"/> and poll their ports; they read the port
/// table (an immutable snapshot) and the flow table lock-free. Control operations (ports, flow-mods,
/// packet-out, config) come from the agent's threads: flow-mods go straight to <see cref="FlowTable"/>
/// (which serialises writers), packet-outs through one control <see cref="Forwarder"/> under a lock.
/// Events (flow removed, port status) go to <see cref="Events"/>.
/// </remarks>
public sealed class SwitchDatapath : IDisposable
{
    public readonly DatapathOptions Options;
    public readonly IClock Clock;
    public readonly FlowTable Flows;
    /// <summary>The counter registry's values for this switch: every forwarder's set, the shared set, and sources.</summary>
    public readonly CounterGroup Counters = new();
    public readonly MacLearningTable MacTable = new();
    public readonly ManualResetEventSlim UpcallSignal = new(false);
    /// <summary>Tunnel ports (VXLAN, GRE, IP-in-IP) and the underlay bindings the receive path decapsulates with.</summary>
    public readonly TunnelRegistry Tunnels;
    public IDatapathEvents? Events { get; set; }
    /// <summary>Runs at the start of every maintenance step, before flows expire (hardware offload reads its counters here).</summary>
    public event Action? MaintenanceStarting;

    private volatile PortTable _ports = PortTable.Empty;
    private readonly Lock _portLock = new();
    private int _nextIndex;
    private readonly Forwarder[] _forwarders;
    private readonly Forwarder _control;
    private readonly Lock _controlLock = new();
    private readonly List<Thread> _threads = new();
    private readonly List<PortSlot>[] _assigned;
    private volatile PortSlot[][] _assignedSnapshot;
    private volatile bool _running;
    private Thread? _maintenance;
    private readonly List<FlowRemoved> _expired = new();

    public SwitchDatapath(DatapathOptions? options = null, IClock? clock = null)
    {
        Options = options ?? new DatapathOptions();
        Clock = clock ?? MonotonicClock.Instance;
        Flows = new FlowTable(Clock, Options.Table);
        Tunnels = new TunnelRegistry(this);
        int threads = Math.Max(1, Options.Threads);
        _forwarders = new Forwarder[threads];
        _assigned = new List<PortSlot>[threads];
        for (int i = 0; i < threads; i++)
        {
            _forwarders[i] = new Forwarder(this, Options.PoolSize, Options.EmcEntries, Options.UpcallSlots);
            _assigned[i] = new List<PortSlot>();
        }
        _assignedSnapshot = new PortSlot[threads][];
        for (int i = 0; i < threads; i++) _assignedSnapshot[i] = [];
        _control = new Forwarder(this, 1024, 0, Options.UpcallSlots);
        ControlSlot = new PortSlot(new NullPort(), OfPort.None, -1, 0);
        PacketInRatePerForwarder = Options.PacketInRate / threads;
        PacketInBurst = Options.PacketInBurst;
        // Counters other types keep, read into the registry on demand.
        Counters.AddSource(DatapathCounters.EmcHit, () => SumCache(static c => c.Hits));
        Counters.AddSource(DatapathCounters.EmcMiss, () => SumCache(static c => c.Misses));
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

    public PortTable Ports => _ports;
    public IReadOnlyList<Forwarder> Forwarders => _forwarders;
    public Forwarder Control => _control;
    internal PortSlot ControlSlot { get; }
    internal int PortIndexCount => Volatile.Read(ref _nextIndex);

    public FragmentMode FragmentMode { get; set; } = FragmentMode.Normal;
    public MissBehavior MissBehavior { get; set; } = MissBehavior.Controller;
    internal double PacketInRatePerForwarder;
    internal double PacketInBurst;

    /// <summary>Adds a port; <paramref name="no"/> 0 picks the lowest free number. Returns its slot.</summary>
    public PortSlot AddPort(IPort port, ushort no = 0)
    {
        PortSlot slot;
        lock (_portLock)
        {
            var cur = _ports;
            if (no == 0)
            {
                no = 1;
                while (cur.Get(no) is not null) no++;
            }
            if (no == OfPort.Local)
            {
                if (cur.Local is not null) throw new InvalidOperationException("LOCAL port exists already");
                slot = new PortSlot(port, no, _nextIndex++, Options.QueuesPerPort);
                _ports = new PortTable(cur.List, slot);
            }
            else
            {
                if (no > OfPort.Max || cur.Get(no) is not null) throw new InvalidOperationException($"port number {no} is taken or invalid");
                slot = new PortSlot(port, no, _nextIndex++, Options.QueuesPerPort);
                _ports = new PortTable([.. cur.List, slot], cur.Local);
            }
            int t = slot.Index % _forwarders.Length;
            _assigned[t].Add(slot);
            PublishAssignments();
        }
        Events?.OnPortStatus(PortStatusReason.Add, slot);
        return slot;
    }

    public bool RemovePort(ushort no)
    {
        PortSlot? slot;
        lock (_portLock)
        {
            var cur = _ports;
            slot = cur.Get(no);
            if (slot is null) return false;
            _ports = no == OfPort.Local ? new PortTable(cur.List, null) : new PortTable(Array.FindAll(cur.List, s => s.No != no), cur.Local);
            foreach (var l in _assigned) l.Remove(slot);
            PublishAssignments();
        }
        Tunnels.OnPortRemoved(slot);
        MacTable.Age(Clock.NowNanos, no);
        Events?.OnPortStatus(PortStatusReason.Delete, slot);
        return true;
    }

    private void PublishAssignments()
    {
        var snap = new PortSlot[_assigned.Length][];
        for (int i = 0; i < snap.Length; i++) snap[i] = _assigned[i].ToArray();
        _assignedSnapshot = snap;
    }

    /// <summary>Changes a port's config bits (PORT_MOD); reports PORT_STATUS when they changed.</summary>
    public bool SetPortConfig(ushort no, PortConfig config, PortConfig mask)
    {
        var slot = _ports.Get(no);
        if (slot is null) return false;
        var old = slot.Config;
        var now = (old & ~mask) | (config & mask);
        if (now == old) return true;
        slot.SetConfig(now);
        Events?.OnPortStatus(PortStatusReason.Modify, slot);
        return true;
    }

    /// <summary>The largest frame the datapath carries (a packet buffer's size); larger packet-out data is refused.</summary>
    public int MaxFrameSize => _control.Pool.MaxFrameSize;

    /// <summary>Executes a packet-out (thread-safe; serialised on the control path).</summary>
    public void PacketOut(ReadOnlySpan<byte> frame, ushort inPort, FlowActions actions)
    {
        lock (_controlLock)
        {
            _control.ExecutePacketOut(frame, inPort, actions);
        }
    }

    /// <summary>Applies a flow-mod; removed flows (non-strict and strict deletes) are reported through <see cref="Events"/>.</summary>
    public FlowModStatus ApplyFlowMod(in FlowMod mod)
    {
        var removed = new List<FlowRemoved>();
        var st = Flows.Apply(mod, removed);
        if (Events is { } ev) foreach (var r in removed) ev.OnFlowRemoved(r);
        return st;
    }

    /// <summary>Drains packets for the controller from every forwarder (single consumer).</summary>
    public int DrainUpcalls(UpcallHandler handler, int maxPerRing = 256)
    {
        UpcallSignal.Reset();
        int n = 0;
        foreach (var f in _forwarders) n += f.Upcalls.Drain(handler, maxPerRing);
        n += _control.Upcalls.Drain(handler, maxPerRing);
        return n;
    }

    /// <summary>Starts the forwarding threads and the maintenance timer.</summary>
    public void Start()
    {
        if (_running) return;
        _running = true;
        for (int i = 0; i < _forwarders.Length; i++)
        {
            int idx = i;
            var t = new Thread(() => PollLoop(idx)) { IsBackground = true, Name = $"fwd-{idx}" };
            _threads.Add(t);
            t.Start();
        }
        _maintenance = new Thread(MaintenanceLoop) { IsBackground = true, Name = "dp-maint" };
        _maintenance.Start();
    }

    private void PollLoop(int idx)
    {
        var f = _forwarders[idx];
        int idle = 0;
        while (_running)
        {
            var ports = _assignedSnapshot[idx];
            int got = 0;
            foreach (var slot in ports) got += f.Poll(slot);
            if (got > 0) { idle = 0; continue; }
            if (++idle < 64) Thread.SpinWait(20);
            else if (idle < 256) Thread.Yield();
            else Thread.Sleep(1);
        }
    }

    private void MaintenanceLoop()
    {
        long lastAge = 0;
        while (_running)
        {
            Thread.Sleep(Options.MaintenanceInterval);
            try { RunMaintenance(ref lastAge); }
            catch (Exception) when (_running) { /* keep the timer alive; errors are counted by their owners */ }
        }
    }

    /// <summary>One maintenance step: expire flows, report link changes, age MACs (tests call it directly).</summary>
    public void RunMaintenance()
    {
        long lastAge = 0;
        RunMaintenance(ref lastAge);
    }

    private void RunMaintenance(ref long lastAge)
    {
        MaintenanceStarting?.Invoke();
        _expired.Clear();
        Flows.Expire(_expired);
        var ev = Events;
        if (ev is not null)
            foreach (var r in _expired) ev.OnFlowRemoved(r);
        var ports = _ports;
        foreach (var slot in ports.List)
            if (slot.PollLinkChange()) ev?.OnPortStatus(PortStatusReason.Modify, slot);
        if (ports.Local is { } local && local.PollLinkChange()) ev?.OnPortStatus(PortStatusReason.Modify, local);
        long now = Clock.NowNanos;
        if (now - lastAge > 10_000_000_000)
        {
            MacTable.Age(now);
            lastAge = now;
        }
    }

    /// <summary>Runs one poll round over every port on the calling thread (tests and single-threaded harnesses).</summary>
    public int PollOnce(int forwarder = 0)
    {
        var f = _forwarders[forwarder];
        int got = 0;
        foreach (var slot in _assignedSnapshot[forwarder]) got += f.Poll(slot);
        return got;
    }

    /// <summary>Polls until no port has anything to receive (tests).</summary>
    public int PollUntilIdle(int maxRounds = 10_000)
    {
        int total = 0;
        for (int r = 0; r < maxRounds; r++)
        {
            int got = 0;
            for (int i = 0; i < _forwarders.Length; i++) got += PollOnce(i);
            if (got == 0) break;
            total += got;
        }
        return total;
    }

    public long DropCount(DropReason r)
    {
        long n = _control.Drops[r];
        foreach (var f in _forwarders) n += f.Drops[r];
        return n;
    }

    public long ParseErrorCount(ParseError e)
    {
        long n = _control.ParseErrors[e];
        foreach (var f in _forwarders) n += f.ParseErrors[e];
        return n;
    }

    public void Stop()
    {
        _running = false;
        foreach (var t in _threads) t.Join();
        _threads.Clear();
        _maintenance?.Join();
        _maintenance = null;
    }

    public void Dispose()
    {
        Stop();
        foreach (var s in _ports.List) s.Port.Dispose();
        _ports.Local?.Port.Dispose();
    }

    private sealed class NullPort : IPort
    {
        public PortInfo Info { get; } = new("none", default);
        public PortCounters Counters { get; } = new();
        public bool LinkUp => false;
        public int Receive(PacketPool pool, Span<int> pkts) => 0;
        public void Send(PacketPool pool, ReadOnlySpan<int> pkts) { }
        public void Dispose() { }
    }
}
