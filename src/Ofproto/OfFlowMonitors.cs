using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ofproto;

/// <summary>OFPFME_*: what a flow update tells (OpenFlow 1.4.1 section 7.3.5.19; Open vSwitch's NXFME_* map onto them).</summary>
public enum OfFlowUpdateEvent : byte { Initial = 0, Added = 1, Removed = 2, Modified = 3, Abbrev = 4, Paused = 5, Resumed = 6 }

/// <summary>OFPFMF_*: what a flow monitor asks for.</summary>
[Flags]
public enum OfFlowMonitorFlags : ushort
{
    None = 0, Initial = 1, Add = 2, Removed = 4, Modify = 8, Instructions = 16, NoAbbrev = 32, OnlyOwn = 64,
    /// <summary>Every flag OpenFlow 1.4 defines.</summary>
    All = 127,
}

/// <summary>OFPFMC_*: a flow monitor request's command.</summary>
public enum OfFlowMonitorCommand : byte { Add = 0, Modify = 1, Delete = 2 }

/// <summary>Why a flow monitor request was refused (the agent says it in its version's error).</summary>
public enum OfFlowMonitorError : byte
{
    None,
    /// <summary>An ADD of an id the connection has (OFPMOFC_MONITOR_EXISTS).</summary>
    Exists,
    /// <summary>A MODIFY or DELETE of an id the connection lacks (OFPMOFC_UNKNOWN_MONITOR).</summary>
    Unknown,
    /// <summary>A table past the switch's (OFPBRC_BAD_TABLE_ID, as Open vSwitch).</summary>
    BadTableId,
    /// <summary>An out_port that is no port (OFPMOFC_BAD_OUT).</summary>
    BadOut,
    /// <summary>A match the switch cannot express (OFPBMC_BAD_FIELD).</summary>
    BadMatch,
}

/// <summary>One flow monitor request (OFPMP_FLOW_MONITOR's entry, NXST_FLOW_MONITOR's, ONFST_FLOW_MONITOR's) in the model.</summary>
/// <param name="OutPort">An OpenFlow port number, or <see cref="OfPort.Any"/> for none.</param>
/// <param name="OutGroup">A group id, or <see cref="FlowModRequest.AnyGroup"/> for none.</param>
/// <param name="TableId">A table, or <see cref="FlowModRequest.AllTables"/>.</param>
public readonly record struct OfFlowMonitorRequest(uint Id, OfFlowMonitorCommand Command, OfFlowMonitorFlags Flags, byte TableId, uint OutPort,
                                                   uint OutGroup, OfMatch Match);

/// <summary>
/// One flow update as a flow monitor reports it: the event, for a removal its reason, and the flow (its table, priority,
/// timeouts, cookie, match, and its actions and instructions when the monitors asked for them); an ABBREV carries only
/// the xid of the requester's own flow-mod, PAUSED and RESUMED nothing.
/// </summary>
public sealed record OfFlowUpdate(OfFlowUpdateEvent Event, OfFlowRemovedReason Reason, byte TableId, ushort Priority, ushort IdleTimeout,
                                  ushort HardTimeout, ulong Cookie, OfMatch Match, OfAction[]? Actions, OfFlowInstructions? Instructions,
                                  uint Xid = 0)
{
    /// <summary>Whether the update carries the flow's actions and instructions (<see cref="OfFlowMonitorFlags.Instructions"/>).</summary>
    public bool HasInstructions => Actions is not null;

    public static readonly OfFlowUpdate Paused = Bare(OfFlowUpdateEvent.Paused);
    public static readonly OfFlowUpdate Resumed = Bare(OfFlowUpdateEvent.Resumed);

    public static OfFlowUpdate Abbrev(uint xid) => Bare(OfFlowUpdateEvent.Abbrev) with { Xid = xid };

    private static OfFlowUpdate Bare(OfFlowUpdateEvent e) => new(e, default, 0, 0, 0, 0, 0, OfMatch.Any, null, null);
}

/// <summary>Where the flow monitors' updates go: the agent, which encodes them in each connection's version.</summary>
public interface IOfFlowMonitorSink
{
    /// <summary>Sends <paramref name="updates"/> to <paramref name="to"/>'s connection, as one unsolicited reply (xid 0).</summary>
    void Send(OfController to, IReadOnlyList<OfFlowUpdate> updates);

    /// <summary>The bytes queued to <paramref name="to"/>'s connection and not yet written (0 when it is gone).</summary>
    long Backlog(OfController to);
}

/// <summary>
/// The flow monitors of every connection (OpenFlow 1.4's OFPMP_FLOW_MONITOR, Open vSwitch's NXST_FLOW_MONITOR and
/// ONFST_FLOW_MONITOR; Open vSwitch's ofproto/connmgr.c ofmonitor_*): which flows each connection watches, the
/// initial flows a new monitor is sent, and an update per flow added, modified or removed in a watched table, whoever
/// changed it (a controller's flow-mod, a bundle's commit, a flow's expiry, a group's or meter's deletion, a learned
/// flow), as soon as it changed.
/// </summary>
/// <remarks>
/// <para>A monitor watches the flows of its table (or all) whose match is at least as specific as its own, that
/// output to its out_port and apply its out_group, for the events its flags name; a connection with several monitors
/// gets one update per change (their flags together). A change a connection's own flow-mod made is one ABBREV with that
/// flow-mod's xid (one for all the flows it changed), unless a monitor of it asks ONLY_OWN (Open vSwitch's meaning:
/// the whole update) or NO_ABBREV (1.4's), as Open vSwitch does.</para>
/// <para>Flow control (Open vSwitch's ofmonitor_flush and ofmonitor_resume): when more than
/// <see cref="PauseBacklog"/> bytes are queued to a connection after an update, it is sent PAUSED and gets no
/// update but the removal of flows added before the pause; once its queue is empty, it is sent, in one reply, every
/// watched flow added (ADDED) or modified (MODIFIED) meanwhile, then RESUMED. Which flows changed when is kept per flow
/// (a sequence number of its add and of its last change) while any monitor exists.</para>
/// <para>Thread safety: every method may be called on any thread. The lock guards the monitors, the pause state and the
/// sequence numbers; updates are sent after it is released (a send may close the connection, which forgets its
/// monitors). The flow hooks (<see cref="Changed"/>) run under a table's write scope and return at once while no
/// monitor exists.</para>
/// </remarks>
public sealed class OfFlowMonitors : OfFlowTables.IFlowChanges
{
    /// <summary>Queued bytes past which a connection's monitors pause (Open vSwitch's 128 KiB).</summary>
    public const long PauseBacklog = 128 * 1024;
    /// <summary>How often a paused connection's queue is looked at.</summary>
    public static readonly TimeSpan ResumePoll = TimeSpan.FromMilliseconds(20);

    private readonly OfFlowTables _flows;
    private readonly Lock _lock = new();
    private readonly Dictionary<OfController, Conn> _conns = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<FlowEntry, (ulong Added, ulong Modified)> _seqs = new(ReferenceEqualityComparer.Instance);
    private ulong _seq = 1;
    private volatile int _monitorCount;
    private IOfFlowMonitorSink? _sink;
    private Timer? _resumeTimer;

    // The controller and xid of the flow-mod this thread applies (set by the agent around it).
    [ThreadStatic] private static OfController? s_source;
    [ThreadStatic] private static uint s_sourceXid;

    internal OfFlowMonitors(OfFlowTables flows)
    {
        _flows = flows;
        flows.Changes = this;
    }

    /// <summary>Monitors in place, over every connection.</summary>
    public int Count => _monitorCount;

    /// <summary>Connections paused since the switch started (Open vSwitch's ofmonitor_pause coverage counter).</summary>
    public long Pauses => Interlocked.Read(ref _pauses);
    private long _pauses;

    /// <summary>Where updates go (the agent).</summary>
    public void Start(IOfFlowMonitorSink sink) => _sink = sink;

    /// <summary>
    /// Marks the flow-mods this thread applies until the scope ends as <paramref name="source"/>'s, request
    /// <paramref name="xid"/> (its monitors get ABBREV for them).
    /// </summary>
    public static SourceScope From(OfController? source, uint xid)
    {
        var previous = new SourceScope(s_source, s_sourceXid);
        s_source = source;
        s_sourceXid = xid;
        return previous;
    }

    /// <summary>Restores the source before <see cref="From"/>.</summary>
    public readonly struct SourceScope(OfController? previous, uint previousXid) : IDisposable
    {
        public void Dispose()
        {
            s_source = previous;
            s_sourceXid = previousXid;
        }
    }

    // ================================================================ requests

    /// <summary>
    /// Applies a request's entries in order (Open vSwitch's handle_flow_monitor_request): ADD creates a monitor, MODIFY
    /// replaces one, DELETE removes one. The first that fails undoes the monitors the request created and stops
    /// (<paramref name="failed"/> is its index); those before it that modified or deleted stay done, as in Open vSwitch.
    /// On success, <paramref name="initial"/> receives the INITIAL update of every flow a new monitor asking for them
    /// watches (once per flow).
    /// </summary>
    public OfFlowMonitorError Apply(OfController owner, ReadOnlySpan<OfFlowMonitorRequest> requests, List<OfFlowUpdate> initial, out int failed)
    {
        failed = -1;
        var created = new List<Monitor>();
        lock (_lock)
        {
            if (!_conns.TryGetValue(owner, out var conn)) _conns[owner] = conn = new Conn();
            for (int i = 0; i < requests.Length; i++)
            {
                ref readonly var r = ref requests[i];
                var err = ApplyOne(conn, r, created);
                if (err == OfFlowMonitorError.None) continue;
                foreach (var m in created)
                    if (conn.Monitors.Remove(m.Id)) _monitorCount--;
                failed = i;
                ForgetIfIdle(owner, conn);
                return err;
            }
            ForgetIfIdle(owner, conn);
            if (_monitorCount == 0) _seqs.Clear();
        }
        CollectInitial(created, initial);
        return OfFlowMonitorError.None;
    }

    private OfFlowMonitorError ApplyOne(Conn conn, in OfFlowMonitorRequest r, List<Monitor> created)
    {
        if (r.Command == OfFlowMonitorCommand.Delete)
        {
            if (!conn.Monitors.Remove(r.Id)) return OfFlowMonitorError.Unknown;
            _monitorCount--;
            return OfFlowMonitorError.None;
        }
        if (r.TableId != FlowModRequest.AllTables && r.TableId >= OfFlowTables.MaxTables) return OfFlowMonitorError.BadTableId;
        ushort outPort = PortNumber.None;
        if (r.OutPort != OfPort.Any && !OfPort.ToDatapath(r.OutPort, out outPort)) return OfFlowMonitorError.BadOut;
        if (OfMatchCompiler.TryCompile(r.Match, out var match) != OfError.None) return OfFlowMonitorError.BadMatch;
        if (r.Command == OfFlowMonitorCommand.Modify)
        {
            if (!conn.Monitors.Remove(r.Id)) return OfFlowMonitorError.Unknown;
            _monitorCount--;
        }
        else if (conn.Monitors.ContainsKey(r.Id))
        {
            return OfFlowMonitorError.Exists;
        }
        var m = new Monitor(r.Id, r.Flags, r.TableId, outPort, r.OutGroup, OfMatchRules.Normalize(match, MatchRules.OpenFlow13));
        conn.Monitors[r.Id] = m;
        _monitorCount++;
        created.Add(m);
        return OfFlowMonitorError.None;
    }

    /// <summary>Forgets every monitor of <paramref name="owner"/> (its connection closed).</summary>
    public void Forget(OfController owner)
    {
        lock (_lock)
        {
            if (!_conns.Remove(owner, out var conn)) return;
            _monitorCount -= conn.Monitors.Count;
            if (_monitorCount == 0) _seqs.Clear();
        }
    }

    /// <summary>Whether <paramref name="owner"/>'s updates are paused (tests, diagnostics).</summary>
    public bool IsPaused(OfController owner)
    {
        lock (_lock) return _conns.TryGetValue(owner, out var c) && c.PausedAt != 0;
    }

    private void ForgetIfIdle(OfController owner, Conn conn)
    {
        if (conn.Monitors.Count == 0 && conn.PausedAt == 0) _conns.Remove(owner);
    }

    /// <summary>INITIAL updates (or, with <paramref name="since"/>, the flows added or modified after it) of the flows <paramref name="monitors"/> watch.</summary>
    private void CollectInitial(List<Monitor> monitors, List<OfFlowUpdate> into, ulong since = 0)
    {
        if (monitors.Count == 0) return;
        var flows = new List<FlowEntry>();
        var picked = new Dictionary<FlowEntry, OfFlowMonitorFlags>(ReferenceEqualityComparer.Instance);
        var order = new List<FlowEntry>();
        using var hold = _flows.Reclamation.Enter();
        foreach (var m in monitors)
        {
            if (since == 0 && (m.Flags & OfFlowMonitorFlags.Initial) == 0) continue;
            flows.Clear();
            _flows.Collect(m.Match, m.OutPort, strict: false, flows, emergency: false, m.TableId);
            foreach (var e in flows)
            {
                if (m.OutGroup != FlowModRequest.AnyGroup && !OfFlowTables.AppliesGroup(e, m.OutGroup)) continue;
                var update = since == 0 ? OfFlowMonitorFlags.Initial : SinceFlags(e, since);
                if (update == 0 || (since != 0 && (m.Flags & update) == 0)) continue;
                update |= m.Flags & OfFlowMonitorFlags.Instructions;
                if (picked.TryGetValue(e, out var had))
                {
                    picked[e] = had | update;
                }
                else
                {
                    picked[e] = update;
                    order.Add(e);
                }
            }
        }
        foreach (var e in order)
        {
            var f = picked[e];
            var ev = (f & OfFlowMonitorFlags.Initial) != 0 ? OfFlowUpdateEvent.Initial
                : (f & OfFlowMonitorFlags.Add) != 0 ? OfFlowUpdateEvent.Added : OfFlowUpdateEvent.Modified;
            into.Add(Describe(e, ev, default, (f & OfFlowMonitorFlags.Instructions) != 0));
        }
    }

    /// <summary>ADD and MODIFY for a flow added after <paramref name="since"/>, MODIFY for one modified after it, else none.</summary>
    private OfFlowMonitorFlags SinceFlags(FlowEntry e, ulong since)
    {
        (ulong added, ulong modified) s;
        lock (_lock) s = _seqs.GetValueOrDefault(e);
        return s.added > since ? OfFlowMonitorFlags.Add | OfFlowMonitorFlags.Modify
            : s.modified > since ? OfFlowMonitorFlags.Modify : OfFlowMonitorFlags.None;
    }

    // ================================================================ flow changes

    /// <summary>
    /// A flow of the tables was added, modified or removed (<paramref name="reason"/> for a removal): the update of each
    /// connection with a monitor that watches it, sent at once.
    /// </summary>
    public void Changed(FlowEntry e, OfFlowUpdateEvent ev, FlowRemovedReason reason, FlowEntry? replaced = null)
    {
        if (_monitorCount == 0 || _sink is not { } sink || OfFlowRule.Of(e) is not { IsEmergency: false } rule) return;
        OfFlowMonitorFlags kind = ev switch
        {
            OfFlowUpdateEvent.Added => OfFlowMonitorFlags.Add,
            OfFlowUpdateEvent.Removed => OfFlowMonitorFlags.Removed,
            _ => OfFlowMonitorFlags.Modify,
        };
        var source = s_source;
        uint xid = s_sourceXid;
        List<(OfController To, OfFlowUpdate Update)>? sends = null;
        OfFlowUpdate? full = null, fullWithInstructions = null;
        lock (_lock)
        {
            ulong added = 0;
            switch (ev)
            {
                case OfFlowUpdateEvent.Added:
                    added = _seq;
                    _seqs[e] = (_seq, _seq);
                    _seq++;
                    break;
                case OfFlowUpdateEvent.Modified:
                    // A flow an add replaced keeps its add's number.
                    if (replaced is not null && _seqs.Remove(replaced, out var was)) added = was.Added;
                    else added = _seqs.GetValueOrDefault(e).Added;
                    _seqs[e] = (added, _seq++);
                    break;
                default:
                    _seqs.Remove(e, out var s);
                    added = s.Added;
                    break;
            }
            foreach (var (owner, conn) in _conns)
            {
                // Paused: only the removal of a flow added before the pause.
                if (conn.PausedAt != 0 && (ev != OfFlowUpdateEvent.Removed || added > conn.PausedAt)) continue;
                var flags = OfFlowMonitorFlags.None;
                foreach (var m in conn.Monitors.Values)
                    if ((m.Flags & kind) != 0 && m.Watches(e, rule.TableId)) flags |= m.Flags;
                if (flags == 0) continue;
                OfFlowUpdate update;
                if ((flags & (OfFlowMonitorFlags.OnlyOwn | OfFlowMonitorFlags.NoAbbrev)) != 0 || !ReferenceEquals(owner, source) || conn.PausedAt != 0)
                {
                    bool instructions = (flags & OfFlowMonitorFlags.Instructions) != 0;
                    update = instructions
                        ? fullWithInstructions ??= Describe(e, ev, reason, true)
                        : full ??= Describe(e, ev, reason, false);
                    conn.LastAbbrev = null;
                }
                else
                {
                    // One ABBREV for all the flows one flow-mod of its own changed.
                    if (conn.LastAbbrev == xid) continue;
                    conn.LastAbbrev = xid;
                    update = OfFlowUpdate.Abbrev(xid);
                }
                (sends ??= new()).Add((owner, update));
            }
        }
        if (sends is not null) Deliver(sink, sends);
    }

    private void Deliver(IOfFlowMonitorSink sink, List<(OfController To, OfFlowUpdate Update)> sends)
    {
        var one = new OfFlowUpdate[1];
        foreach (var (to, update) in sends)
        {
            one[0] = update;
            sink.Send(to, one);
            if (sink.Backlog(to) <= PauseBacklog) continue;
            bool paused = false;
            lock (_lock)
            {
                if (_conns.TryGetValue(to, out var conn) && conn.PausedAt == 0)
                {
                    conn.PausedAt = _seq++;
                    paused = true;
                    _resumeTimer ??= new Timer(_ => PollResume(), null, ResumePoll, ResumePoll);
                }
            }
            if (!paused) continue;
            Interlocked.Increment(ref _pauses);
            one[0] = OfFlowUpdate.Paused;
            sink.Send(to, one);
        }
    }

    /// <summary>Resumes each paused connection whose queue has emptied (Open vSwitch's ofmonitor_run).</summary>
    internal void PollResume()
    {
        if (_sink is not { } sink) return;
        List<(OfController, ulong, List<Monitor>)> ready = new();
        lock (_lock)
        {
            bool anyPaused = false;
            foreach (var (owner, conn) in _conns)
            {
                if (conn.PausedAt == 0) continue;
                if (sink.Backlog(owner) != 0) { anyPaused = true; continue; }
                ready.Add((owner, conn.PausedAt, [.. conn.Monitors.Values]));
                conn.PausedAt = 0;
                conn.LastAbbrev = null;
            }
            if (!anyPaused && _resumeTimer is { } t)
            {
                t.Dispose();
                _resumeTimer = null;
            }
        }
        foreach (var (owner, since, monitors) in ready)
        {
            var updates = new List<OfFlowUpdate>();
            CollectInitial(monitors, updates, since);
            updates.Add(OfFlowUpdate.Resumed);
            sink.Send(owner, updates);
        }
    }

    /// <summary>A flow as an update shows it.</summary>
    private static OfFlowUpdate Describe(FlowEntry e, OfFlowUpdateEvent ev, FlowRemovedReason reason, bool instructions)
    {
        OfAction[]? actions = null;
        OfFlowInstructions? ins = null;
        if (instructions)
        {
            actions = new OfAction[e.Actions.Count];
            OfActionCompiler.ToOfActions(e.Actions, actions);
            if (e.Instructions is { } i) ins = OfSwitch.ToOf(i);
        }
        var r = reason switch
        {
            FlowRemovedReason.IdleTimeout => OfFlowRemovedReason.IdleTimeout,
            FlowRemovedReason.HardTimeout => OfFlowRemovedReason.HardTimeout,
            FlowRemovedReason.GroupDelete => OfFlowRemovedReason.GroupDelete,
            FlowRemovedReason.MeterDelete => OfFlowRemovedReason.MeterDelete,
            FlowRemovedReason.Eviction => OfFlowRemovedReason.Eviction,
            _ => OfFlowRemovedReason.Delete,
        };
        return new OfFlowUpdate(ev, ev == OfFlowUpdateEvent.Removed ? r : default, OfFlowRule.Of(e)?.TableId ?? OfFlowTables.MainTableId,
                                e.RequestedPriority, e.IdleTimeout, e.HardTimeout, OfFlowRule.CookieOf(e), OfMatchCompiler.ToOfMatch(e.Match),
                                actions, ins);
    }

    private sealed class Conn
    {
        public readonly Dictionary<uint, Monitor> Monitors = new();
        /// <summary>0 while updates flow; else the sequence number of the pause.</summary>
        public ulong PausedAt;
        /// <summary>The xid of the ABBREV sent last, until a full update follows it.</summary>
        public uint? LastAbbrev;
    }

    private sealed record Monitor(uint Id, OfFlowMonitorFlags Flags, byte TableId, ushort OutPort, uint OutGroup, FlowMatch Match)
    {
        /// <summary>Open vSwitch's ofmonitor_report test: the table, out_port, out_group, and a match at least as specific.</summary>
        public bool Watches(FlowEntry e, byte tableId)
            => (TableId == FlowModRequest.AllTables || TableId == tableId)
               && (OutPort == PortNumber.None || e.Actions.OutputsTo(OutPort) || e.Instructions?.WriteActions?.OutputsTo(OutPort) == true)
               && (OutGroup == FlowModRequest.AnyGroup || OfFlowTables.AppliesGroup(e, OutGroup))
               && e.Match.IsSubsetOf(Match);
    }
}
