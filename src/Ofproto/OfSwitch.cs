using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ofproto;

/// <summary>
/// The OpenFlow switch as every controller sees it, whatever its protocol version (Open vSwitch's ofproto.c): the one
/// object the agent's handlers call. A handler decodes a request into this layer's model, makes one call here, and
/// encodes the answer.
/// </summary>
/// <remarks>
/// Owns every fact a controller can observe (tables and flows through <see cref="Flows"/>, packet buffers, fail mode,
/// roles, groups, meters, statistics, which datapath events become reports through <see cref="IOfReports"/>), and no
/// wire format, connection or forwarding insides. Every request method is thread-safe, and a request has taken effect
/// when its method returns: that is what makes a barrier truthful. Reports are made on the datapath's threads and the
/// upcall pump (<see cref="Start"/>, or the shared threads' one <see cref="SharedUpcallPump"/>). Design:
/// docs/ofproto.md, "What it owns" and "Threads and locks"; the lock order
/// is docs/locking.md's.
/// </remarks>
public sealed partial class OfSwitch : IDatapathEvents, IDisposable
{
    private readonly SwitchDatapath _dp;
    private readonly ILogger _log;
    private readonly Lock _failModeLock = new();
    private readonly CancellationTokenSource _cts = new();
    private IOfReports? _reports;
    private Thread? _pump;
    private SharedUpcallPump? _sharedPump;
    private bool _connected;
    private bool _missToController = true, _loggedMissToController = true;
    private bool _failModeLogged;

    // Per-thread scratch of the request paths (each connection has its own thread): cleared before each use.
    [ThreadStatic] private static List<FlowRemoved>? s_removed;
    // The flows a run of flow-mods removed that ask for a report (a run belongs to its thread): reported once the run
    // has published, under a hold taken before its first delete, so their entries are not reused meanwhile.
    [ThreadStatic] private static List<FlowRemoved>? s_runRemoved;
    [ThreadStatic] private static QuiescentDomain.Hold s_runRemovedHold;
    [ThreadStatic] private static bool s_runRemovedHeld;
    [ThreadStatic] private static OfAction[]? s_actions;
    // The controller whose PORT_MOD is being applied on this thread (its PORT_STATUS is reported synchronously).
    [ThreadStatic] private static OfController? s_portModFrom;
    /// <summary>Output to OFPP_TABLE: a packet through the whole pipeline from table 0.</summary>
    private static readonly FlowActions s_toTable = new([FlowAction.Output(PortNumber.Table)]);
    /// <summary>A spare flow list shared by the connections (tools connect per command, so a list per thread would not last).</summary>
    private static List<FlowEntry>? s_spareFlows;

    /// <param name="flows">The OpenFlow table set over <paramref name="dp"/>; null creates it.</param>
    public OfSwitch(SwitchDatapath dp, OfSwitchOptions? options = null, OfFlowTables? flows = null, ILoggerFactory? loggers = null)
    {
        _dp = dp;
        Options = options ?? new OfSwitchOptions();
        Flows = flows ?? new OfFlowTables(dp);
        Buffers = new PacketBuffers(Options.PacketBuffers, Options.PacketBufferLifetime);
        FlowMonitors = new OfFlowMonitors(Flows);
        _log = (loggers ?? NullLoggerFactory.Instance).CreateLogger("ofproto");
        dp.Subscribe(this);
        // A plain output to the controller that the action set runs from a rule's list is the action set's (Open
        // vSwitch's in_action_set): the walk re-tags it as it composes.
        dp.Pipeline.InActionSetTag = PacketInOrigin.InActionSet;
        Roles.Changed += OnControllersChanged;
        ReadGroups();
        ApplyFailMode();
    }

    public OfSwitchOptions Options { get; }
    /// <summary>The table set (the table model and its flows).</summary>
    public OfFlowTables Flows { get; }
    public PacketBuffers Buffers { get; }
    /// <summary>The connections' flow monitors (OFPMP_FLOW_MONITOR and Open vSwitch's forms of it).</summary>
    public OfFlowMonitors FlowMonitors { get; }
    public OfRoles Roles { get; } = new();
    public ulong DatapathId => Options.DatapathId;

    /// <summary>Flow-mods applied (whatever their outcome).</summary>
    public long FlowModsApplied => Interlocked.Read(ref _flowModsApplied);
    private long _flowModsApplied;

    /// <summary>The OpenFlow tables (features' n_tables, table statistics).</summary>
    public ReadOnlySpan<OfTable> Tables => Flows.Tables;

    /// <summary>Transmit queues every port has (queue ids 0 .. n-1).</summary>
    public int QueuesPerPort => _dp.Options.QueuesPerPort;

    /// <summary>The switch's description statistics.</summary>
    public OfSwitchDescription Description => new(
        "Softswitch project", "Softswitch user-space datapath",
        "Softswitch " + (typeof(OfSwitch).Assembly.GetName().Version?.ToString(3) ?? "1.0.0"), "None", Options.DatapathDescription);

    /// <summary>
    /// Begins a request: until the returned scope is disposed, the flows the switch hands out (a flow-mod's removed
    /// flows, a statistics dump's) stay what they are (a hold of the tables' reclamation domain). Every request is
    /// handled inside one.
    /// </summary>
    public RequestScope BeginRequest() => new(Flows.Reclamation.Enter());

    /// <summary>A barrier: returns once the flow-mods before it are in force everywhere packets are forwarded (offloaded flows included).</summary>
    public void Barrier() => _dp.Barrier();

    /// <summary>A request's hold of the flows it reads (<see cref="BeginRequest"/>); dispose it once the request is answered.</summary>
    public readonly struct RequestScope : IDisposable
    {
        private readonly QuiescentDomain.Hold _hold;
        internal RequestScope(QuiescentDomain.Hold hold) => _hold = hold;
        public void Dispose() => _hold.Dispose();
    }

    // ================================================================ reports

    /// <summary>Sets who receives the switch's reports (packet-ins, flow removals, port status) and starts the upcall
    /// pump: a thread of its own, or, over a datapath sharing its threads with others, the shared threads' one pump.</summary>
    public void Start(IOfReports reports)
    {
        _reports = reports;
        if (_dp.SharedThreads is { } shared)
        {
            shared.Upcalls.Add(_dp, OnUpcall);
            _sharedPump = shared.Upcalls;
            return;
        }
        _pump = new Thread(PumpUpcalls) { IsBackground = true, Name = "ofproto-upcalls" };
        _pump.Start();
    }

    private void PumpUpcalls()
    {
        UpcallHandler handler = OnUpcall;
        while (!_cts.IsCancellationRequested)
        {
            // DrainUpcalls resets the signal, then drains (a bounded number per ring): drain until a round finds
            // nothing, then sleep. Forwarders set the signal after each packet for the controller (fenced against
            // that Reset), so an idle pump sleeps until one arrives or the switch stops.
            if (_dp.DrainUpcalls(handler) > 0) continue;
            try { _dp.UpcallSignal.Wait(Timeout.Infinite, _cts.Token); }
            catch (OperationCanceledException) { return; }
        }
    }

    private void OnUpcall(in Upcall u)
    {
        if (u.Reason == UpcallReason.Learn)
        {
            OnLearn(u);
            return;
        }
        bool output = u.Reason is UpcallReason.Action or UpcallReason.PacketOut;
        var origin = output ? PacketInOrigin.FromUpcall(u.UserData, u.UserTag) : PacketInOrigin.None;
        byte given = 0;
        ushort controllerId = 0;
        bool byAction = output && PacketInOrigin.IsControllerAction(u.UserTag, out given, out controllerId)
                        && given <= PacketInOrigin.MaxReason;
        // An invalid-TTL upcall's tag is the controller id its dec_ttl named (0: a plain dec_ttl's).
        if (u.Reason == UpcallReason.InvalidTtl) controllerId = (ushort)u.UserTag;
        // As Open vSwitch's xlate_output_action: a plain output to the controller is a packet-out's (wherever its
        // actions led), else a group bucket's, else an action set's, else an action's (a table-miss flow's: an explicit miss).
        var reason = u.Reason switch
        {
            UpcallReason.Miss => OfPacketInReason.NoMatch,
            UpcallReason.InvalidTtl => OfPacketInReason.InvalidTtl,
            // Open vSwitch's controller action names its reason (0 no_match, 1 action, 2 invalid_ttl, 3 action_set,
            // 4 group, 5 packet_out), whatever the action's place; each version's protocol maps it to what it carries.
            _ when byAction => given switch
            {
                0 => OfPacketInReason.NoMatch,
                2 => OfPacketInReason.InvalidTtl,
                3 => OfPacketInReason.ActionSet,
                4 => OfPacketInReason.Group,
                5 => OfPacketInReason.PacketOut,
                _ => OfPacketInReason.Action,
            },
            UpcallReason.PacketOut => OfPacketInReason.PacketOut,
            _ when origin.Via != OfPacketInReason.Action => origin.Via,
            _ => origin.TableMiss ? OfPacketInReason.ExplicitMiss : OfPacketInReason.Action,
        };
        // A controller action's userdata is its interned entry's, read in place (no copy per packet-in).
        var userData = byAction && PacketInOrigin.HasRecord(u.UserTag) && ControllerUserData.Get(u.UserData) is { } entry
            ? entry.UserData : default(ReadOnlySpan<byte>);
        _reports?.PacketIn(new OfPacketIn(u.Frame, OfPort.FromDatapath(u.InPort), reason, u.MaxLen, origin.TableId, origin.Cookie, u.Metadata, u.TunnelId,
                                          byAction, controllerId, userData));
    }

    /// <summary>A flow's compiled instructions as flow statistics show them.</summary>
    internal static OfFlowInstructions ToOf(FlowInstructions ins)
    {
        OfAction[]? write = null;
        if (ins.WriteActions is { } w)
        {
            write = new OfAction[w.Count];
            OfActionCompiler.ToOfActions(w, write);
        }
        return new OfFlowInstructions(write, ins.ClearActions, ins.GotoTable == FlowInstructions.NoGoto ? null : (byte)ins.GotoTable,
                                      ins.MetadataValue, ins.MetadataMask, ins.Meter);
    }

    /// <summary>The packet-in origin of a flow-mod's actions: a table-miss flow entry is priority 0 and matches everything.</summary>
    private static PacketInOrigin Origin(in FlowModRequest req)
        => new(req.Cookie, req.TableId == FlowModRequest.AllTables ? (byte)0 : req.TableId, req.Priority == 0 && req.Match == OfMatch.Any);

    /// <summary>Stores a packet for the controllers; its buffer id, or <see cref="PacketBuffers.NoBuffer"/> when every buffer is in use.</summary>
    public uint BufferPacket(ReadOnlySpan<byte> frame, uint inPort)
        => OfPort.ToDatapath(inPort, out var dp) ? Buffers.Store(frame, dp) : PacketBuffers.NoBuffer;

    void IDatapathEvents.OnFlowExpired(in FlowRemoved expired)
    {
        FlowMonitors.Changed(expired.Entry, OfFlowUpdateEvent.Removed, expired.Reason);
        Report(expired);
        ReportVacancy();
        // delete_learned: the learned flows go after the expiry, on a thread of their own (a flow-mod here would
        // write tables from the maintenance step that is removing flows).
        if (LearnedToDelete(expired.Entry) is { } learned) ThreadPool.QueueUserWorkItem(_ => DeleteLearnedAfterExpiry(learned));
    }

    void IDatapathEvents.OnPortStatus(PortStatusReason reason, PortSlot port)
    {
        var r = reason switch { PortStatusReason.Add => OfPortReason.Add, PortStatusReason.Delete => OfPortReason.Delete, _ => OfPortReason.Modify };
        // A PORT_MOD's own change is made on its thread: reported to every controller but its sender.
        if (s_portModFrom is { } from) _reports?.PortStatus(r, OfPorts.Describe(port), from);
        else _reports?.PortStatus(r, OfPorts.Describe(port));
    }

    void IDatapathEvents.OnMaintenanceError(Exception error)
        => _log.LogError(error, "datapath maintenance step failed (flow expiry, link monitoring, MAC aging); retrying at the next interval");

    /// <summary>The flow-removed decision: a flow that asked for it (SEND_FLOW_REM) is reported, no other.</summary>
    private void Report(in FlowRemoved r)
    {
        var e = r.Entry;
        if (_reports is not { } reports || OfFlowRule.Of(e) is not { SendFlowRemoved: true } rule) return;
        var reason = r.Reason switch
        {
            FlowRemovedReason.IdleTimeout => OfFlowRemovedReason.IdleTimeout,
            FlowRemovedReason.HardTimeout => OfFlowRemovedReason.HardTimeout,
            FlowRemovedReason.GroupDelete => OfFlowRemovedReason.GroupDelete,
            FlowRemovedReason.MeterDelete => OfFlowRemovedReason.MeterDelete,
            FlowRemovedReason.Eviction => OfFlowRemovedReason.Eviction,
            _ => OfFlowRemovedReason.Delete,
        };
        reports.FlowRemoved(new OfFlowRemoved(OfMatchCompiler.ToOfMatch(e.Match), OfFlowRule.CookieOf(e), e.RequestedPriority, reason,
                                              rule.TableId, Math.Max(0, r.DurationNanos), e.IdleTimeout, e.HardTimeout,
                                              (ulong)r.Packets, (ulong)r.Bytes));
    }

    // ================================================================ flow-mod and packet-out

    /// <summary>
    /// Starts a run of flow-mods on this thread (<see cref="OfFlowTables.BeginRun"/>, a plain <see cref="FlowModBatch"/>):
    /// the agent's request dispatcher calls it for each FLOW_MOD and <see cref="EndFlowModRun"/> before any other
    /// request, and the connection ends it before it waits for anything and when it has handled what it read, so
    /// flow-mods that came together take effect together.
    /// </summary>
    public void BeginFlowModRun() => Flows.BeginRun();

    /// <summary>
    /// Ends this thread's run of flow-mods (nothing when none is on): they are in effect when it returns, and the
    /// flows they removed are reported then, with their final counts (a packet a cached verdict forwarded by a
    /// removed flow until the run published counts), never while lookups may still find them.
    /// </summary>
    public void EndFlowModRun()
    {
        if (!Flows.InRun) return;
        try
        {
            Flows.EndRun();
        }
        finally
        {
            if (s_runRemovedHeld) ReportRun();
            ReportVacancy();
        }
    }

    /// <summary>The reports a run deferred, once it has published (this thread's run), and the end of its hold.</summary>
    private void ReportRun()
    {
        var pending = s_runRemoved;
        try
        {
            if (pending is not null) ReportFinal(pending);
        }
        finally
        {
            pending?.Clear();
            s_runRemovedHold.Dispose();
            s_runRemovedHold = default;
            s_runRemovedHeld = false;
        }
    }

    /// <summary>
    /// Reports the removed flows that asked for it (the others leave <paramref name="removed"/>) with their final counts:
    /// an offload target first takes them out of its hardware, so what it forwarded since its last read is in. The
    /// caller holds the entries from reuse.
    /// </summary>
    private void ReportFinal(List<FlowRemoved> removed)
    {
        int n = 0;
        for (int i = 0; i < removed.Count; i++)
            if (OfFlowRule.Of(removed[i].Entry) is { SendFlowRemoved: true }) removed[n++] = removed[i];
        removed.RemoveRange(n, removed.Count - n);
        if (n == 0 || _reports is null) return;
        _dp.FlowsRemoving(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(removed));
        foreach (var r in removed) Report(r with { Packets = r.Entry.Packets, Bytes = r.Entry.Bytes });
    }

    /// <summary>Reports the flows a flow-mod removed, or keeps them for the end of this thread's run.</summary>
    private void ReportRemoved(List<FlowRemoved> removed)
    {
        if (!Flows.InRun)
        {
            ReportFinal(removed);
            return;
        }
        var pending = s_runRemoved ??= new List<FlowRemoved>();
        foreach (var r in removed)
            if (OfFlowRule.Of(r.Entry) is { SendFlowRemoved: true }) pending.Add(r);
    }

    /// <summary>
    /// Applies a flow-mod (Open vSwitch's handle_flow_mod): checks the match, instructions and actions against the
    /// switch, applies it to the table set, reports the flows it removed, and releases the buffered packet it names
    /// through the new flow's actions (not the table: a packet the flow does not match must not come back as a new
    /// packet-in), counted in that flow's statistics. Under <see cref="MatchRules.OpenFlow13"/> the flow-mod may name
    /// tables 1..253 and carry instructions (<see cref="CompileInstructions"/>; see <see cref="OfFlowTables"/>), under
    /// <see cref="MatchRules.GotoTable"/> a table-0 flow a goto-table; a released buffered packet of a flow with
    /// instructions, or of any under OpenFlow 1.3, goes through the whole pipeline as a packet-out to OFPP_TABLE would (OpenFlow
    /// 1.3.5 section 6.4: the flow-mod, then that packet-out), gotos and write-actions included, counted by the flows
    /// it meets.
    /// </summary>
    public OfError FlowMod(in FlowModRequest req, OfController? from = null)
    {
        if (from is { MayWrite: false }) return OfError.IsSlave;
        var err = PrepareFlowMod(req, out var mod);
        if (err != OfError.None) return err;
        bool addOrModify = req.Command is FlowModCommand.Add or FlowModCommand.Modify or FlowModCommand.ModifyStrict;
        bool of13 = (req.Rules & MatchRules.MultiTable) != 0;
        var instructions = mod.Instructions;
        var actions = mod.Actions;
        byte tableId = mod.TableId;
        var removed = s_removed ??= new List<FlowRemoved>();
        removed.Clear();
        // A delete removes flows, and so may an add to a table that evicts.
        bool mayRemove = !addOrModify || Flows.Evicts(tableId == FlowModRequest.AllTables ? OfFlowTables.MainTableId : tableId);
        // Outside a run, a delete's (or eviction's) reports read the entries after it: held from reuse until then.
        using var hold = mayRemove && !Flows.InRun ? Flows.Reclamation.Enter() : default;
        if (mayRemove && !s_runRemovedHeld && Flows.InRun)
        {
            // Taken before the delete retires anything: the run's reports read the entries after it publishes.
            s_runRemovedHold = Flows.Reclamation.Enter();
            s_runRemovedHeld = true;
        }
        FlowModStatus st;
        FlowEntry? flow;
        bool groups = addOrModify && (UsesGroups(actions) || UsesGroups(instructions?.WriteActions));
        bool meter = addOrModify && instructions is { Meter: not 0 };
        // A run (BeginFlowModRun) must not hold tables while this takes the group and meter locks (a group's deletion
        // takes them, then the tables), nor while an emergency flow-mod takes the fail-mode lock after it (entering
        // emergency mode deletes flows under that lock); and a released buffered packet follows a flow that is in effect.
        bool emergency = (req.Flags & FlowModFlags.Emergency) != 0;
        if (groups || meter || emergency || (addOrModify && req.BufferId != PacketBuffers.NoBuffer)) EndFlowModRun();
        if (groups || meter)
        {
            // A modify of every table holds the tables under the run lock, which comes before the group lock: it takes
            // that lock first, in a run of its own that holds no table yet.
            bool ownRun = tableId == FlowModRequest.AllTables && addOrModify;
            if (ownRun) Flows.BeginRun();
            try
            {
                // The groups it applies and the meter it names must exist, and stay until it is in place (a group's or a
                // meter's deletion deletes its flows). Locks in one order: groups, then meters.
                lock (_groupLock)
                {
                    lock (_meterLock)
                    {
                        err = CheckGroupsExist(actions);
                        if (err == OfError.None) err = CheckGroupsExist(instructions?.WriteActions);
                        if (err == OfError.None) err = CheckMeterExists(instructions);
                        if (err != OfError.None) return err;
                        st = Flows.Apply(mod, removed, out flow);
                    }
                }
            }
            finally
            {
                if (ownRun) EndFlowModRun();
            }
        }
        else
        {
            st = Flows.Apply(mod, removed, out flow);
        }
        Interlocked.Increment(ref _flowModsApplied);
        var learned = removed.Count > 0 ? LearnedToDelete(removed) : null;
        ReportRemoved(removed);
        removed.Clear();
        if (learned is not null) DeleteLearned(learned);
        // After each flow-mod, as Open vSwitch's add and delete finishers, in a run too (the table's count is the
        // writer's, and no request sees the run's tables before it ends).
        ReportVacancy();
        if (st != FlowModStatus.Ok) return ToError(st);
        if (emergency) EmergencyFlowsChanged();
        if (addOrModify && req.BufferId != PacketBuffers.NoBuffer)
        {
            err = TakeBuffer(req.BufferId, out var frame, out var inPort);
            if (err != OfError.None) return err;
            if (of13 || instructions is not null)
            {
                _dp.PacketOut(frame, inPort, s_toTable);
                return OfError.None;
            }
            _dp.PacketOut(frame, inPort, actions);
            flow?.Hit(1, frame.Length, _dp.Clock.NowNanos);
        }
        return OfError.None;
    }

    /// <summary>
    /// A flow-mod request checked against the switch and compiled for the table set (the match, instructions and
    /// actions, the out_port, the table): what <see cref="FlowMod"/> and a bundle's commit apply.
    /// </summary>
    private OfError PrepareFlowMod(in FlowModRequest req, out FlowMod mod)
    {
        mod = default;
        OfError err;
        bool addOrModify = req.Command is FlowModCommand.Add or FlowModCommand.Modify or FlowModCommand.ModifyStrict;
        // The table, the goto-table and whether instructions beyond apply-actions are allowed: the one check of them
        // (under OpenFlow 1.0's rules a flow asking for more than a goto-table is refused whole, never installed doing
        // less than it asked).
        var tables = OfTables.CheckFlowMod(req.Command, req.TableId, req.Instructions.GotoTable ?? FlowInstructions.NoGoto,
                                           !(req.Instructions with { GotoTable = null }).IsApplyOnly, req.Rules);
        if (tables != FlowModStatus.Ok) return ToError(tables);
        if (req.Command > FlowModCommand.DeleteStrict) return OfError.BadCommand;
        FlowInstructions? instructions = null;
        if (addOrModify && !req.Instructions.IsApplyOnly)
        {
            err = CompileInstructions(req.Instructions, Origin(req), out instructions);
            if (err != OfError.None) return err;
        }
        err = OfMatchCompiler.TryCompile(req.Match, out var match);
        if (err != OfError.None) return err;
        var actions = FlowActions.Drop;
        if (addOrModify)
        {
            err = OfActionCompiler.TryCompile(req.Instructions.ApplyActions.Span, _dp.Ports, ActionContext.FlowMod, QueuesPerPort, Origin(req), out actions);
            if (err != OfError.None) return err;
            // A clause of a conjunctive match does nothing else: no instruction beside it (ofpacts_verify).
            if (actions.IsConjunctive && instructions is not null) return OfError.BadConjunction;
            WatchLearnLimits(actions);
        }
        ushort outPort = PortNumber.None;
        if (req.OutPort != OfPort.Any && !OfPort.ToDatapath(req.OutPort, out outPort)) return OfError.BadOutPort;

        // A modify or delete of every table where table 0 is the only one is one of table 0, which runs batched with the
        // rest (an OpenFlow 1.0 modify or delete names every table).
        byte tableId = req.TableId == FlowModRequest.AllTables && req.Command != FlowModCommand.Add && Flows.Pipeline.OnlyStageZero ? OfFlowTables.MainTableId : req.TableId;
        mod = new FlowMod(req.Command, match, req.Priority, actions, req.Cookie, req.IdleTimeout, req.HardTimeout, req.Flags, outPort, req.Rules,
                          req.CookieMask, tableId, instructions, req.OutGroup, req.Importance);
        return OfError.None;
    }

    private static OfError ToError(FlowModStatus st) => st switch
    {
        FlowModStatus.Ok => OfError.None,
        FlowModStatus.TableFull => OfError.TableFull,
        FlowModStatus.Overlap => OfError.Overlap,
        FlowModStatus.BadEmergencyTimeout => OfError.BadEmergencyTimeout,
        FlowModStatus.BadTableId => OfError.BadTableId,
        FlowModStatus.BadGotoTable => OfError.BadGotoTable,
        FlowModStatus.UnsupportedInstruction => OfError.UnsupportedInstruction,
        _ => OfError.BadCommand,
    };

    /// <summary>
    /// The datapath's instructions for an OpenFlow 1.3 flow: write-actions checked like apply-actions and each of a
    /// kind an action set can hold (<see cref="ActionSet.CanHold"/>), the goto-table (already checked by
    /// <see cref="OfTables.CheckFlowMod"/>), write-metadata and the meter.
    /// </summary>
    private OfError CompileInstructions(in OfInstructions ins, in PacketInOrigin origin, out FlowInstructions? compiled)
    {
        compiled = null;
        FlowActions? write = null;
        if (ins.WriteActions is { } w)
        {
            // Its outputs to the controller are the action set's (OFPR_ACTION_SET).
            var err = OfActionCompiler.TryCompile(w.Span, _dp.Ports, ActionContext.FlowMod, QueuesPerPort, origin with { Via = OfPacketInReason.ActionSet }, out var wa);
            if (err != OfError.None) return err;
            foreach (var a in wa.Items)
                if (!ActionSet.CanHold(a.Kind)) return OfError.BadActionType;
            write = wa;
        }
        int gotoTable = FlowInstructions.NoGoto;
        if (ins.GotoTable is { } g) gotoTable = g; // forward and to a table that may exist: OfTables.CheckFlowMod said
        compiled = new FlowInstructions(write, ins.ClearActions, ins.MetadataValue, ins.MetadataMask, gotoTable, ins.Meter);
        return OfError.None;
    }

    /// <summary>Sends a buffered packet or a frame through actions (Open vSwitch's handle_packet_out).</summary>
    public OfError PacketOut(in PacketOutRequest req, OfController? from = null)
    {
        if (from is { MayWrite: false }) return OfError.IsSlave;
        var err = OfActionCompiler.TryCompile(req.Actions.Span, _dp.Ports, ActionContext.PacketOut, QueuesPerPort, out var actions);
        if (err == OfError.None) err = CheckGroupsExist(actions);
        if (err != OfError.None) return err;
        if (!OfPort.ToDatapath(req.InPort, out var inPort)) return OfError.BadPort;
        if (req.BufferId != PacketBuffers.NoBuffer)
        {
            err = TakeBuffer(req.BufferId, out var frame, out _);
            if (err != OfError.None) return err;
            _dp.PacketOut(frame, inPort, actions);
            return OfError.None;
        }
        if (req.Data.Length == 0 || req.Data.Length > _dp.MaxFrameSize) return OfError.BadPacketLength;
        _dp.PacketOut(req.Data.Span, inPort, actions);
        return OfError.None;
    }

    private OfError TakeBuffer(uint bufferId, out byte[] frame, out ushort inPort)
    {
        var r = Buffers.Take(bufferId, out frame, out inPort);
        return r switch
        {
            PacketBuffers.TakeResult.Ok => OfError.None,
            PacketBuffers.TakeResult.Empty => OfError.BufferEmpty,
            _ => OfError.BufferUnknown,
        };
    }

    // ================================================================ ports, config

    /// <summary>The ports as controllers see them, the local port last.</summary>
    public List<OfPortDesc> PortDescriptions()
    {
        var list = new List<OfPortDesc>();
        foreach (var p in _dp.Ports.WithLocal) list.Add(OfPorts.Describe(p));
        return list;
    }

    /// <summary>
    /// Changes a port's config bits (port-mod). The PORT_STATUS it causes goes to every controller that wants it but
    /// <paramref name="from"/>, as Open vSwitch does for OpenFlow before 1.5 (ofproto/connmgr.c connmgr_send_port_status).
    /// </summary>
    public OfError PortMod(in PortModRequest req, OfController? from = null)
    {
        if (from is { MayWrite: false }) return OfError.IsSlave;
        if (!OfPort.ToDatapath(req.Port, out var no) || _dp.Ports.Get(no) is not { } slot) return OfError.PortModBadPort;
        if (req.HwAddr != slot.Port.Info.HwAddr.Value) return OfError.PortModBadHwAddr;
        s_portModFrom = from;
        try
        {
            _dp.SetPortConfig(slot.No, OfPorts.ToDatapath(req.Config), OfPorts.ToDatapath(req.Mask));
        }
        finally
        {
            s_portModFrom = null;
        }
        return OfError.None;
    }

    /// <summary>What the switch does with IP fragments (the switch config): the datapath's mode, which outlives this object.</summary>
    public FragmentHandling Fragments => _dp.FragmentMode == FragmentMode.Drop ? FragmentHandling.Drop : FragmentHandling.Normal;

    // A controller that asks for reassembly in every SET_CONFIG (or a hostile one in a loop) gets a few lines, not a flood.
    private static readonly LogLimiter s_reassembleLog = new(5, TimeSpan.FromSeconds(60));

    /// <summary>
    /// Sets the fragment handling. Reassembly is not supported: asked for it, the switch keeps its handling and logs
    /// it, without an error, as Open vSwitch's handle_set_config does (so GET_CONFIG shows what is true). A slave's
    /// setting is ignored, also without an error (Open vSwitch, every version: SET_CONFIG is no write a slave is refused).
    /// The log line is rate-limited (5 a minute, then a count of those held back).
    /// </summary>
    public OfError SetFragments(FragmentHandling f, OfController? from = null)
    {
        if (from is { MayWrite: false }) return OfError.None;
        if (f == FragmentHandling.Reassemble)
        {
            if (s_reassembleLog.TryTake(out long suppressed))
            {
                _log.LogWarning("unsupported fragment handling mode reassemble; fragments still {Mode}{Suppressed}",
                    Fragments == FragmentHandling.Drop ? "dropped" : "handled normally", suppressed > 0 ? $" ({suppressed} similar line(s) suppressed)" : "");
            }
            return OfError.None;
        }
        _dp.FragmentMode = f == FragmentHandling.Drop ? FragmentMode.Drop : FragmentMode.Normal;
        return OfError.None;
    }

    /// <summary>
    /// Whether a packet whose TTL a dec_ttl or dec_mpls_ttl would bring to 0 goes to the controllers (reason invalid-TTL)
    /// rather than being dropped and counted: while any controller's asynchronous configuration asks for such
    /// packet-ins (OFPR_INVALID_TTL in its role's mask; OpenFlow 1.3 sets it with SET_ASYNC), as Open vSwitch sends them
    /// up and lets each connection's mask choose. Every forwarder's executor is told.
    /// </summary>
    public bool InvalidTtlToController => _invalidTtlToController;

    private volatile bool _invalidTtlToController;
    private readonly Lock _invalidTtlLock = new();

    /// <summary>Follows the controllers' asynchronous configurations (<see cref="OfRoles.Changed"/>).</summary>
    private void OnControllersChanged()
    {
        // Read and told under one lock: two changes at once cannot leave the older answer told last.
        lock (_invalidTtlLock)
        {
            bool on = Roles.AnyWants(OfAsyncKind.PacketIn, (int)OfPacketInReason.InvalidTtl);
            if (on == _invalidTtlToController) return;
            _invalidTtlToController = on;
            foreach (var f in _dp.Forwarders) f.Executor.InvalidTtlToController = on;
            _dp.Control.Executor.InvalidTtlToController = on;
        }
    }

    /// <summary>Every port's counters, or one port's (<paramref name="port"/>; <see cref="OfPort.Any"/>: all), the local port's last.</summary>
    public void PortStats(uint port, List<OfPortStats> into)
    {
        // Offload targets add what they forwarded to the ports' counters too.
        _dp.RefreshCounters();
        long now = _dp.Clock.NowNanos;
        foreach (var p in _dp.Ports.WithLocal)
            if (port == OfPort.Any || port == OfPort.FromDatapath(p.No)) into.Add(OfPorts.Stats(p, now));
    }

    /// <summary>
    /// Queue counters of <paramref name="port"/> (<see cref="OfPort.Any"/>: every port, the local one included) and
    /// <paramref name="queue"/> (<see cref="AllQueues"/>: every queue).
    /// </summary>
    public OfError QueueStats(uint port, uint queue, List<OfQueueStats> into)
    {
        bool anyPort = port == OfPort.Any;
        if (!anyPort && (!OfPort.ToDatapath(port, out var no) || _dp.Ports.Get(no) is null)) return OfError.QueueBadPort;
        long now = _dp.Clock.NowNanos;
        foreach (var p in _dp.Ports.WithLocal)
        {
            uint of = OfPort.FromDatapath(p.No);
            if (!anyPort && of != port) continue;
            if (queue != AllQueues && queue >= (uint)p.Queues.Length) return OfError.QueueBadQueue;
            for (uint q = 0; q < (uint)p.Queues.Length; q++)
            {
                if (queue != AllQueues && q != queue) continue;
                var qc = p.Queues[q];
                // A port's queues exist from when the port was added (shaping changes their rates, not their counters).
                into.Add(new OfQueueStats(of, q, (ulong)Interlocked.Read(ref qc.TxPackets), (ulong)Interlocked.Read(ref qc.TxBytes),
                                          (ulong)Interlocked.Read(ref qc.TxErrors), Math.Max(0, now - p.AddedNanos)));
            }
        }
        return OfError.None;
    }

    /// <summary>OFPQ_ALL: every queue.</summary>
    public const uint AllQueues = 0xffffffff;

    /// <summary>
    /// The queues of <paramref name="port"/> as QUEUE_GET_CONFIG describes them (every queue id the port has; the rates
    /// of those its egress shaping configures), or the reason it has none.
    /// </summary>
    public OfError QueueConfig(uint port, List<OfQueueConfig> into)
    {
        if (!OfPort.ToDatapath(port, out var no) || _dp.Ports.Get(no) is not { } slot) return OfError.QueueBadPort;
        var shaper = _dp.PortQos.ShaperOf(slot);
        long portRate = shaper is { MaxRate: > 0 } ? shaper.MaxRate : OfPorts.Kbps(slot.Port.Info.Current) * 1000L;
        ushort? Permille(long rate) => rate == 0 || portRate == 0 ? null : (ushort)Math.Min(1000, (rate * 1000 + portRate - 1) / portRate);
        for (uint q = 0; q < (uint)slot.Queues.Length; q++)
        {
            var sq = shaper is not null && q < Datapath.Qos.PortShaper.MaxQueues ? shaper.Queues[(int)q] : null;
            into.Add(sq is { Implicit: false } ? new OfQueueConfig(q, Permille(sq.MinRate), Permille(sq.MaxRate)) : new OfQueueConfig(q, null, null));
        }
        return OfError.None;
    }

    // ================================================================ flow statistics

    /// <summary>
    /// Hands each flow a statistics request selects to <paramref name="visitor"/> (until it returns false): a table of the
    /// model or all of them the normal flows, <see cref="OfTables.EmergencyTableId"/> the emergency flows, any other
    /// table none; a table the request's rules do not allow is refused (<see cref="OfTables.CheckStats"/>). The flows are read inside the caller's hold of <see cref="OfFlowTables.Reclamation"/>. Allocates
    /// nothing per flow.
    /// </summary>
    public OfError VisitFlows(in FlowStatsRequest req, FlowStatsVisitor visitor)
    {
        var err = OfTables.CheckStats(req.TableId, req.Rules);
        if (err != OfError.None) return err;
        var flows = CollectFlows(req);
        var actions = s_actions ??= new OfAction[16];
        try
        {
            bool emergency = req.TableId == OfTables.EmergencyTableId;
            long now = _dp.Clock.NowNanos;
            foreach (var e in flows)
            {
                if (actions.Length < e.Actions.Count) s_actions = actions = new OfAction[Math.Max(e.Actions.Count, actions.Length * 2)];
                int n = OfActionCompiler.ToOfActions(e.Actions, actions);
                byte table = emergency ? OfTables.EmergencyTableId : OfFlowRule.Of(e)?.TableId ?? OfFlowTables.MainTableId;
                var match = OfMatchCompiler.ToOfMatch(e.Match);
                var stats = new OfFlowStats(match, table, Math.Max(0, now - e.CreatedNanos), e.RequestedPriority, e.IdleTimeout,
                                            e.HardTimeout, OfFlowRule.CookieOf(e), (ulong)e.Packets, (ulong)e.Bytes, actions.AsSpan(0, n))
                {
                    Instructions = e.Instructions is { } ins ? ToOf(ins) : null,
                    Flags = OfFlowRule.Of(e)?.Flags ?? FlowModFlags.None,
                    Importance = OfFlowRule.Of(e)?.Importance ?? 0,
                };
                if (!visitor(stats)) break;
            }
        }
        finally
        {
            Release(flows);
        }
        return OfError.None;
    }

    /// <summary>The totals of the flows a statistics request selects; a table the request may not name is refused as <see cref="VisitFlows"/> refuses it.</summary>
    public OfError Aggregate(in FlowStatsRequest req, out AggregateStats totals)
    {
        totals = default;
        var err = OfTables.CheckStats(req.TableId, req.Rules);
        if (err != OfError.None) return err;
        var flows = CollectFlows(req);
        ulong packets = 0, bytes = 0;
        foreach (var e in flows)
        {
            packets += (ulong)e.Packets;
            bytes += (ulong)e.Bytes;
        }
        totals = new AggregateStats(packets, bytes, (uint)flows.Count);
        Release(flows);
        return OfError.None;
    }

    private List<FlowEntry> CollectFlows(in FlowStatsRequest req)
    {
        _dp.RefreshCounters();
        var into = Interlocked.Exchange(ref s_spareFlows, null) ?? new List<FlowEntry>();
        bool emergency = req.TableId == OfTables.EmergencyTableId;
        if (!emergency && req.TableId != FlowModRequest.AllTables && !Flows.HasTable(req.TableId)) return into;
        // A request's match that the datapath cannot express selects no flow (none can have been installed with it).
        if (OfMatchCompiler.TryCompile(req.Match, out var match) != OfError.None) return into;
        ushort outPort = PortNumber.None;
        if (req.OutPort != OfPort.Any && !OfPort.ToDatapath(req.OutPort, out outPort)) return into;
        Flows.Collect(OfMatchRules.Normalize(match, req.Rules), outPort, false, into, emergency, req.TableId);
        if (req.OutGroup != FlowModRequest.AnyGroup) OfFlowTables.FilterOutGroup(into, 0, req.OutGroup);
        if (req.CookieMask != 0) OfFlowTables.FilterCookie(into, req.Cookie, req.CookieMask);
        return into;
    }

    private static void Release(List<FlowEntry> flows)
    {
        flows.Clear();
        Volatile.Write(ref s_spareFlows, flows);
    }

    /// <summary>Stops the upcall pump and unsubscribes; reports already being delivered may still arrive.</summary>
    public void Dispose()
    {
        _cts.Cancel();
        _pump?.Join();
        _sharedPump?.Remove(_dp);
        _dp.Unsubscribe(this);
        _cts.Dispose();
    }
}
