using System.Runtime.InteropServices;
using Softswitch.OfAgent.Common;
using Softswitch.OfAgent.Of13.Translate;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of14;
using Softswitch.OfWire.Of15;
using Softswitch.Ofproto;
using Microsoft.Extensions.Logging;

namespace Softswitch.OfAgent.Of13.Handlers;

/// <summary>
/// OpenFlow 1.3 multipart requests (OpenFlow 1.3.5 section 7.3.5): each body decoded, answered from the switch as
/// OfWire's typed entries (<see cref="IOfp13Entry{TSelf}"/>), and written in parts of at most 65535 bytes with
/// REPLY_MORE on all but the last (<see cref="Ofp13ReplyWriter"/>). No byte is written here.
/// </summary>
/// <remarks>
/// Every reply tells the truth about this switch: tables 0..253 with their counters, the ports, queues, and what a
/// table can match, set and do (TABLE_FEATURES); the groups (GROUP, GROUP_DESC with the buckets as given,
/// GROUP_FEATURES); the meters (METER with each band's counters, METER_CONFIG, METER_FEATURES with the switch's
/// limits). A TABLE_FEATURES request that would change the tables is refused (EPERM), as the spec allows. Runs on the
/// requesting connection's receive loop; a long reply waits for room between parts.
/// </remarks>
internal sealed class StatsHandler(OfRequestContext ctx)
{
    /// <summary>The multipart requests <see cref="Handle"/> answers (its switch's cases; a test holds each wire value to it).</summary>
    private static readonly Ofp13MultipartType[] s_answered =
    [
        Ofp13MultipartType.Desc, Ofp13MultipartType.Flow, Ofp13MultipartType.Aggregate, Ofp13MultipartType.Table,
        Ofp13MultipartType.PortStats, Ofp13MultipartType.Queue, Ofp13MultipartType.Group, Ofp13MultipartType.GroupDesc,
        Ofp13MultipartType.GroupFeatures, Ofp13MultipartType.Meter, Ofp13MultipartType.MeterConfig,
        Ofp13MultipartType.MeterFeatures, Ofp13MultipartType.TableFeatures, Ofp13MultipartType.PortDesc,
    ];

    /// <summary>The multipart requests OpenFlow 1.4 adds that <see cref="Handle"/> answers from 1.4 on.</summary>
    private static readonly Ofp13MultipartType[] s_answered14 = [Ofp13MultipartType.TableDesc, Ofp13MultipartType.QueueDesc, Ofp14FlowMonitor.MultipartType];

    /// <summary>Whether a multipart request of type <paramref name="t"/> is answered (not refused as BAD_MULTIPART) in <paramref name="version"/>.</summary>
    public static bool Answers(Ofp13MultipartType t, byte version = Ofp13.Version)
        => Array.IndexOf(s_answered, t) >= 0 || (version >= Ofp13.Version14 && Array.IndexOf(s_answered14, t) >= 0)
           || (Ofp15.Serves(version) && t == Ofp15ControllerStatus.MultipartType);

    private readonly FlowMonitorHandler _monitors = new(ctx);

    [ThreadStatic] private static Ofp13FlowStatsRequest? s_flowRequest;
    [ThreadStatic] private static Ofp13FlowStats? s_flowStats;

    public void Handle(OfConnection c, ReadOnlySpan<byte> msg)
    {
        Ofp13MultipartRequest request = default;
        if (!request.TryDecode(msg, out var err)) { Error(c, err, msg); return; }
        uint xid = request.Xid;
        var type = request.Type;
        var body = Ofp13MultipartRequest.Body(msg);
        Ofp13IdRequest id = default;
        switch (type)
        {
            case Ofp13MultipartType.Desc:
                if (!Ofp13Multipart.CheckBody(body, 0, out err)) break;
                Desc(c, xid);
                return;
            case Ofp13MultipartType.Flow:
            case Ofp13MultipartType.Aggregate:
                Flows(c, msg, body, xid, type == Ofp13MultipartType.Aggregate);
                return;
            case Ofp13MultipartType.Table:
                if (!Ofp13Multipart.CheckBody(body, 0, out err)) break;
                Tables(c, xid);
                return;
            case Ofp13MultipartType.PortStats:
                if (!id.TryDecode(body, out err)) break;
                PortStats(c, xid, id.Id);
                return;
            case Ofp13MultipartType.Queue:
                Ofp13QueueRequest queue = default;
                if (!queue.TryDecode(body, out err)) break;
                QueueStats(c, msg, xid, queue.Port, queue.Queue);
                return;
            case Ofp13MultipartType.Group:
                if (!id.TryDecode(body, out err)) break;
                GroupStats(c, xid, id.Id);
                return;
            case Ofp13MultipartType.Meter:
                if (!id.TryDecode(body, out err)) break;
                if (!ctx.Switch.HasMeter(id.Id))
                {
                    err = Ofp13Error.MeterModFailed(Ofp13Codes.MeterUnknownMeter); // as Open vSwitch: a meter that does not exist
                    break;
                }
                MeterStats(c, xid, id.Id);
                return;
            case Ofp13MultipartType.MeterConfig:
                if (!id.TryDecode(body, out err)) break;
                if (!ctx.Switch.HasMeter(id.Id))
                {
                    err = Ofp13Error.MeterModFailed(Ofp13Codes.MeterUnknownMeter);
                    break;
                }
                MeterConfig(c, xid, id.Id);
                return;
            case Ofp13MultipartType.GroupDesc when Ofp15.Serves(c.Version):
                // 1.5's request names a group (ofp15_group_desc_request; OFPG_ALL: every one).
                if (!id.TryDecode(body, out err)) break;
                GroupDesc(c, xid, id.Id);
                return;
            case Ofp13MultipartType.GroupDesc:
                if (!Ofp13Multipart.CheckBody(body, 0, out err)) break;
                GroupDesc(c, xid, GroupModRequest.AllGroups);
                return;
            case Ofp13MultipartType.GroupFeatures:
                if (!Ofp13Multipart.CheckBody(body, 0, out err)) break;
                GroupFeatures(c, xid);
                return;
            case Ofp13MultipartType.MeterFeatures:
                if (!Ofp13Multipart.CheckBody(body, 0, out err)) break;
                MeterFeatures(c, xid);
                return;
            case Ofp13MultipartType.TableFeatures:
                if (!body.IsEmpty)
                {
                    err = new Ofp13Error(Ofp13ErrorType.TableFeaturesFailed, Ofp13Codes.FeaturesEperm);
                    break;
                }
                TableFeatures(c, xid);
                return;
            case Ofp13MultipartType.PortDesc when Ofp15.Serves(c.Version):
                // 1.5's request names a port (ofp15_port_desc_request; OFPP_ANY: every one).
                if (!id.TryDecode(body, out err)) break;
                PortDesc(c, xid, id.Id);
                return;
            case Ofp13MultipartType.PortDesc:
                if (!Ofp13Multipart.CheckBody(body, 0, out err)) break;
                PortDesc(c, xid, OfPort.Any);
                return;
            case Ofp13MultipartType.TableDesc when c.Version >= Ofp13.Version14:
                if (!Ofp13Multipart.CheckBody(body, 0, out err)) break;
                TableDesc(ctx.Switch, c, xid);
                return;
            case Ofp13MultipartType.QueueDesc when c.Version >= Ofp13.Version14:
                Ofp14QueueDescRequest queueDesc = default;
                if (!queueDesc.TryDecode(body, out err)) break;
                QueueDesc(c, msg, xid, queueDesc.Port, queueDesc.Queue);
                return;
            case Ofp14FlowMonitor.MultipartType when c.Version >= Ofp13.Version14:
                _monitors.Request(c, msg, body, xid, onf: false);
                return;
            case Ofp15ControllerStatus.MultipartType when Ofp15.Serves(c.Version):
                if (!Ofp13Multipart.CheckBody(body, 0, out err)) break;
                ControllerStatuses(c, xid);
                return;
            case Ofp13MultipartType.Experimenter:
                // The ONF's flow monitor (ONFST_FLOW_MONITOR), under 1.3 only; no other experimenter.
                if (c.Version == Ofp13.Version && Ofp14FlowMonitor.IsOnfMonitorBody(body, out var onfBody))
                {
                    _monitors.Request(c, msg, onfBody, xid, onf: true);
                    return;
                }
                err = Ofp13Error.BadRequest(Ofp13Codes.BadExperimenter);
                break;
            default:
                err = Ofp13Error.BadRequest(Ofp13Codes.BadMultipart);
                break;
        }
        Error(c, err, msg);
    }

    private void Error(OfConnection c, Ofp13Error e, ReadOnlySpan<byte> msg) => ctx.SendError(c, e, msg);

    /// <summary>
    /// OFPMP_CONTROLLER_STATUS (1.5): an entry per connection of the switch (the asker's too), then one per configured
    /// controller (tcp:, ssl:, unix:) with no connection up (OFPCT_STATUS_DOWN, role equal), reason OFPCSR_REQUEST.
    /// </summary>
    private static void ControllerStatuses(OfConnection c, uint xid)
    {
        var reply = new Ofp13ReplyWriter(c.Version, Ofp15ControllerStatus.MultipartType, xid, Sender(c));
        var (connections, active) = c.Peers;
        foreach (var k in connections)
            if (k.Negotiated) reply.Add(ControllerStatusOf(k, Ofp15ControllerStatus.ReasonRequest));
        foreach (var a in active)
            if (!a.Connected) reply.Add(new Ofp15ControllerStatus(0, RoleMap.ToWire(OfRole.Equal), Ofp15ControllerStatus.ReasonRequest, Ofp15ControllerStatus.ChannelDown, a.Endpoint));
        reply.Finish();
    }

    /// <summary>
    /// A connection's ofp_controller_status: short id (Open vSwitch's controller id, 0), role, <paramref name="reason"/>,
    /// the channel up while the connection is open, and its name (an active controller's endpoint, or the listener and
    /// peer it was accepted from) as the URI property.
    /// </summary>
    internal static Ofp15ControllerStatus ControllerStatusOf(OfConnection k, byte reason)
        => new(k.ControllerId, RoleMap.ToWire(k.Controller.Role), reason, k.IsOpen ? Ofp15ControllerStatus.ChannelUp : Ofp15ControllerStatus.ChannelDown, k.Name);

    private static Action<byte[]> Sender(OfConnection c) => part =>
    {
        c.WaitForRoom();
        c.SendRaw(part);
    };

    private static void Single<T>(OfConnection c, uint xid, Ofp13MultipartType type, in T body) where T : IOfp13Entry<T>
    {
        var r = new Ofp13ReplyWriter(c.Version, type, xid, Sender(c));
        r.Add(body);
        r.Finish();
    }

    private void Desc(OfConnection c, uint xid)
    {
        var d = ctx.Switch.Description;
        Single(c, xid, Ofp13MultipartType.Desc, new Ofp13Desc(d.Manufacturer, d.Hardware, d.Software, d.SerialNumber, d.Datapath));
    }

    private void Flows(OfConnection c, ReadOnlySpan<byte> msg, ReadOnlySpan<byte> body, uint xid, bool aggregate)
    {
        var fr = s_flowRequest ??= new Ofp13FlowStatsRequest();
        if (!fr.TryDecode(body, out var err)) { Error(c, err, msg); return; }
        var problem = MatchTranslator.TryToOf(CollectionsMarshal.AsSpan(fr.Match), out var match, out _);
        if (problem != OxmProblem.None) { Error(c, WireMap.ToWire(problem), msg); return; }
        var req = new FlowStatsRequest(match, fr.TableId, fr.OutPort, fr.OutGroup, fr.Cookie, fr.CookieMask, MatchRules.OpenFlow13);
        if (aggregate)
        {
            var e = ctx.Switch.Aggregate(req, out var a);
            if (e != OfError.None) { Error(c, WireMap.ToWire(e), msg); return; }
            if (Ofp15.Serves(c.Version)) Single(c, xid, Ofp13MultipartType.Aggregate, Ofp15AggregateStats.Of(a.PacketCount, a.ByteCount, a.FlowCount));
            else Single(c, xid, Ofp13MultipartType.Aggregate, new Ofp13AggregateStats(a.PacketCount, a.ByteCount, a.FlowCount));
            return;
        }
        if (Ofp15.Serves(c.Version))
        {
            FlowDescs(c, msg, req, xid);
            return;
        }
        var reply = new Ofp13ReplyWriter(c.Version, Ofp13MultipartType.Flow, xid, Sender(c));
        var oxm = new Ofp13Oxm[MatchTranslator.MaxEntries];
        var entry = s_flowStats ??= new Ofp13FlowStats();
        var refused = ctx.Switch.VisitFlows(req, (in OfFlowStats f) =>
        {
            if (!c.IsOpen) return false;
            ReportTranslator.FlowStats(f, entry, oxm, c.Version);
            reply.Add(entry);
            return true;
        });
        if (refused != OfError.None) { Error(c, WireMap.ToWire(refused), msg); return; }
        reply.Finish();
        LogSkipped(c, reply, "flow");
    }

    [ThreadStatic] private static Ofp15FlowDesc? s_flowDesc;

    /// <summary>OpenFlow 1.5's flow statistics: OFPMP_FLOW_DESC entries, the counters as OXS statistics.</summary>
    private void FlowDescs(OfConnection c, ReadOnlySpan<byte> msg, in FlowStatsRequest req, uint xid)
    {
        var reply = new Ofp13ReplyWriter(c.Version, Ofp13MultipartType.Flow, xid, Sender(c));
        var oxm = new Ofp13Oxm[MatchTranslator.MaxEntries];
        var entry = s_flowDesc ??= new Ofp15FlowDesc();
        var refused = ctx.Switch.VisitFlows(req, (in OfFlowStats f) =>
        {
            if (!c.IsOpen) return false;
            ReportTranslator.FlowDesc(f, entry, oxm);
            reply.Add(entry);
            return true;
        });
        if (refused != OfError.None) { Error(c, WireMap.ToWire(refused), msg); return; }
        reply.Finish();
        LogSkipped(c, reply, "flow");
    }

    private void Tables(OfConnection c, uint xid)
    {
        var reply = new Ofp13ReplyWriter(c.Version, Ofp13MultipartType.Table, xid, Sender(c));
        for (int id = 0; id < OfTables.Count; id++)
        {
            var t = ctx.Switch.TableStats(id);
            reply.Add(new Ofp13TableStats((byte)id, (uint)t.ActiveCount, (ulong)t.LookupCount, (ulong)t.MatchedCount));
        }
        reply.Finish();
    }

    private void PortStats(OfConnection c, uint xid, uint port)
    {
        var stats = new List<OfPortStats>();
        ctx.Switch.PortStats(port, stats);
        var reply = new Ofp13ReplyWriter(c.Version, Ofp13MultipartType.PortStats, xid, Sender(c));
        foreach (var s in stats)
        {
            Ofp13Entries.Duration(s.DurationNanos, out uint sec, out uint nsec);
            var entry = new Ofp13PortStats(s.PortNo, s.RxPackets, s.TxPackets, s.RxBytes, s.TxBytes, s.RxDropped, s.TxDropped, s.RxErrors, s.TxErrors,
                                           s.RxFrameErrors, s.RxOverErrors, s.RxCrcErrors, s.Collisions, sec, nsec);
            if (c.Version >= Ofp13.Version14) reply.Add(new Ofp14PortStats(entry));
            else reply.Add(entry);
        }
        reply.Finish();
    }

    private void QueueStats(OfConnection c, ReadOnlySpan<byte> msg, uint xid, uint port, uint queue)
    {
        var stats = new List<OfQueueStats>();
        var e = ctx.Switch.QueueStats(port, queue, stats);
        if (e != OfError.None) { Error(c, WireMap.ToWire(e), msg); return; }
        var reply = new Ofp13ReplyWriter(c.Version, Ofp13MultipartType.Queue, xid, Sender(c));
        foreach (var s in stats)
        {
            Ofp13Entries.Duration(s.DurationNanos, out uint sec, out uint nsec);
            var entry = new Ofp13QueueStats(s.PortNo, s.QueueId, s.TxBytes, s.TxPackets, s.TxErrors, sec, nsec);
            if (c.Version >= Ofp13.Version14) reply.Add(new Ofp14QueueStats(entry));
            else reply.Add(entry);
        }
        reply.Finish();
    }

    /// <summary>
    /// OFPMP_QUEUE_DESC (OpenFlow 1.4): the queues of <paramref name="port"/> (OFPP_ANY: of every port) with their
    /// rates, as QUEUE_GET_CONFIG gives them to 1.3; a queue id the port lacks is QUEUE_OP_FAILED/BAD_QUEUE.
    /// </summary>
    private void QueueDesc(OfConnection c, ReadOnlySpan<byte> msg, uint xid, uint port, uint queue)
    {
        var ports = new List<uint>();
        if (port == Ofp13.PortAny)
        {
            foreach (var p in ctx.Switch.PortDescriptions()) if (p.PortNo <= Ofp13.PortMax) ports.Add(p.PortNo);
        }
        else
        {
            ports.Add(port);
        }
        var entries = new List<Ofp14QueueDesc>();
        var queues = new List<OfQueueConfig>();
        foreach (uint p in ports)
        {
            queues.Clear();
            var e = ctx.Switch.QueueConfig(p, queues);
            if (e != OfError.None)
            {
                if (port == Ofp13.PortAny) continue;
                Error(c, WireMap.ToWire(e), msg);
                return;
            }
            foreach (var q in queues)
                if (queue == Ofp13.QueueAll || q.QueueId == queue) entries.Add(new Ofp14QueueDesc(p, q.QueueId, q.MinPermille, q.MaxPermille));
        }
        if (queue != Ofp13.QueueAll && entries.Count == 0)
        {
            Error(c, new Ofp13Error(Ofp13ErrorType.QueueOpFailed, Ofp13Codes.QueueBadQueue), msg);
            return;
        }
        var reply = new Ofp13ReplyWriter(c.Version, Ofp13MultipartType.QueueDesc, xid, Sender(c));
        foreach (var d in entries) reply.Add(d);
        reply.Finish();
    }

    /// <summary>OFPMP_TABLE_DESC (OpenFlow 1.4): every table a controller may use, its eviction and vacancy configuration (Open vSwitch's handle_table_desc_request).</summary>
    private static void TableDesc(OfSwitch sw, OfConnection c, uint xid)
    {
        var reply = new Ofp13ReplyWriter(c.Version, Ofp13MultipartType.TableDesc, xid, Sender(c));
        for (int id = 0; id < OfTables.Count; id++) reply.Add(ReportTranslator.TableDesc(sw.TableDescription((byte)id)));
        reply.Finish();
    }

    private void GroupStats(OfConnection c, uint xid, uint groupId)
    {
        var reply = new Ofp13ReplyWriter(c.Version, Ofp13MultipartType.Group, xid, Sender(c));
        foreach (var g in ctx.Switch.GroupStatistics(groupId == Ofp13.GroupAll ? GroupModRequest.AllGroups : groupId))
        {
            Ofp13Entries.Duration(g.DurationNanos, out uint sec, out uint nsec);
            var buckets = new Ofp13Counter[g.Buckets.Length];
            for (int i = 0; i < buckets.Length; i++) buckets[i] = new(g.Buckets[i].Packets, g.Buckets[i].Bytes);
            reply.Add(new Ofp13GroupStats(g.GroupId, g.RefCount, g.Packets, g.Bytes, sec, nsec, buckets));
        }
        reply.Finish();
    }

    private void MeterStats(OfConnection c, uint xid, uint meterId)
    {
        var reply = new Ofp13ReplyWriter(c.Version, Ofp13MultipartType.Meter, xid, Sender(c));
        foreach (var m in ctx.Switch.MeterStatistics(meterId))
        {
            Ofp13Entries.Duration(m.DurationNanos, out uint sec, out uint nsec);
            var bands = new Ofp13Counter[m.Bands.Length];
            for (int i = 0; i < bands.Length; i++) bands[i] = new(m.Bands[i].Packets, m.Bands[i].Bytes);
            reply.Add(new Ofp13MeterStats(m.MeterId, m.FlowCount, m.Packets, m.Bytes, sec, nsec, bands));
        }
        reply.Finish();
    }

    private void MeterConfig(OfConnection c, uint xid, uint meterId)
    {
        var reply = new Ofp13ReplyWriter(c.Version, Ofp13MultipartType.MeterConfig, xid, Sender(c));
        foreach (var m in ctx.Switch.MeterConfigurations(meterId))
        {
            var bands = new List<Ofp13Band>(m.Bands.Count);
            foreach (var b in m.Bands) bands.Add(new Ofp13Band(MeterBandTypeMap.ToWire(b.Type), b.Rate, b.BurstSize, b.PrecLevel));
            reply.Add(new Ofp13MeterConfig(MeterFlagsMap.ToWire(m.Flags), m.MeterId, bands));
        }
        reply.Finish();
    }

    private static void MeterFeatures(OfConnection c, uint xid)
    {
        var f = OfSwitch.MeterFeatures;
        Single(c, xid, Ofp13MultipartType.MeterFeatures, new Ofp13MeterFeatures(f.MaxMeters, MeterBandTypeMap.ToWireBitmap(f.BandTypes), MeterFlagsMap.ToWire(f.Capabilities), f.MaxBands, f.MaxColor));
    }

    private void LogSkipped(OfConnection c, Ofp13ReplyWriter reply, string what)
    {
        if (reply.SkippedCount > 0)
            ctx.Log.LogWarning("{Conn}: {Count} {What} entries left out of a reply: each longer than a reply holds", c.Name, reply.SkippedCount, what);
    }

    private void GroupDesc(OfConnection c, uint xid, uint groupId)
    {
        var reply = new Ofp13ReplyWriter(c.Version, Ofp13MultipartType.GroupDesc, xid, Sender(c));
        foreach (var g in ctx.Switch.GroupDescriptions(groupId))
        {
            if (Ofp15.Serves(c.Version))
            {
                reply.Add(GroupTranslator.ToWire15(g));
                continue;
            }
            var buckets = new List<Ofp13Bucket>(g.Buckets.Count);
            foreach (var b in g.Buckets)
            {
                var actions = new List<Ofp13Action>();
                ActionTranslator.ToWire(b.Actions.Span, false, actions);
                buckets.Add(new Ofp13Bucket(b.Weight, b.WatchPort, b.WatchGroup, actions));
            }
            reply.Add(new Ofp13GroupDesc(GroupTypeMap.ToWire(g.Type), g.GroupId, buckets));
        }
        reply.Finish();
        LogSkipped(c, reply, "group description");
    }

    private static void GroupFeatures(OfConnection c, uint xid)
    {
        var f = OfSwitch.GroupFeatures;
        // capabilities: SELECT_WEIGHT 1, SELECT_LIVENESS 2, CHAINING 4, CHAINING_CHECKS 8.
        uint caps = (f.SelectWeight ? 1u : 0) | (f.SelectLiveness ? 2u : 0) | (f.Chaining ? 4u : 0) | (f.ChainingChecks ? 8u : 0);
        uint max = (uint)f.MaxGroups, actions = Of13Capabilities.ActionBitmap;
        Single(c, xid, Ofp13MultipartType.GroupFeatures, new Ofp13GroupFeatures(Of13Capabilities.GroupTypes, caps, [max, max, max, max],
            [actions, actions, actions, actions]));
    }

    private void PortDesc(OfConnection c, uint xid, uint port)
    {
        var reply = new Ofp13ReplyWriter(c.Version, Ofp13MultipartType.PortDesc, xid, Sender(c));
        foreach (var p in ctx.Switch.PortDescriptions())
        {
            if (port != OfPort.Any && p.PortNo != port) continue;
            if (c.Version >= Ofp13.Version14) reply.Add(new Ofp14PortDesc(ReportTranslator.Port(p)));
            else reply.Add(new Ofp13PortDesc(ReportTranslator.Port(p)));
        }
        reply.Finish();
    }

    // ================================================================ table features

    // The instructions, actions and set-fields every table takes: what the translators take (Of13Capabilities).
    private static readonly ushort[] s_instructions = Of13Capabilities.InstructionTypes;
    private static readonly ushort[] s_actionTypes = Of13Capabilities.ActionTypes;
    private static readonly byte[] s_settable = Of13Capabilities.SettableFields;

    private void TableFeatures(OfConnection c, uint xid)
    {
        var reply = new Ofp13ReplyWriter(c.Version, Ofp13MultipartType.TableFeatures, xid, Sender(c));
        var actionTypes = Array.ConvertAll(s_actionTypes, t => (uint)t);
        // In 1.5 the meter is an action of apply-actions (OFPAT_METER), no longer an instruction; copy-field (a move)
        // is one there too.
        bool of15 = Ofp15.Serves(c.Version);
        uint[] applyTypes = of15 ? [.. actionTypes, (uint)Ofp13ActionType.Meter, (uint)Ofp13ActionType.CopyField] : actionTypes;
        var match = new uint[Ofp13Match.FieldCount];
        var wildcards = new uint[Ofp13Match.FieldCount];
        for (byte f = 0; f < Ofp13Match.FieldCount; f++)
        {
            match[f] = OxmId(f, Ofp13Match.Maskable(f));
            wildcards[f] = OxmId(f, false);
        }
        var settable = Array.ConvertAll(s_settable, f => OxmId(f, false));
        for (int id = 0; id < OfTables.Count; id++)
        {
            bool last = id == OfTables.Count - 1;
            var instructions = new List<uint>();
            foreach (var t in s_instructions)
            {
                if ((t != (ushort)Ofp13InstructionType.GotoTable || !last) && (t != (ushort)Ofp13InstructionType.Meter || !of15)) instructions.Add(t);
            }
            var next = new uint[OfTables.Count - id - 1];
            for (int n = 0; n < next.Length; n++) next[n] = (uint)(id + 1 + n);
            // Each table's name and limit as configured (OfSwitch.ConfigureTable; by default tableN and the switch's limit).
            string name = ctx.Switch.Flows.ConfigOf((byte)id).Name is { Length: > 0 } configured ? configured : "table" + id;
            uint maxEntries = (uint)ctx.Switch.Flows.MaxFlowsOf((byte)id);
            reply.Add(new Ofp13TableFeatures((byte)id, name, ulong.MaxValue, ulong.MaxValue, 0, maxEntries, // every metadata bit may be matched and written
            [
                new(Ofp13TableFeatureType.Instructions, [.. instructions]),
                new(Ofp13TableFeatureType.NextTables, next),
                new(Ofp13TableFeatureType.WriteActions, actionTypes),
                new(Ofp13TableFeatureType.ApplyActions, applyTypes),
                new(Ofp13TableFeatureType.Match, match),
                new(Ofp13TableFeatureType.Wildcards, wildcards),
                new(Ofp13TableFeatureType.WriteSetField, settable),
                new(Ofp13TableFeatureType.ApplySetField, settable),
            ]));
        }
        reply.Finish();
    }

    /// <summary>An OXM id: the OpenFlow basic class, the field with its has-mask bit, and the payload length.</summary>
    private static uint OxmId(byte field, bool masked)
    {
        int len = Ofp13Match.FieldLength(field);
        return ((uint)Ofp13.OxmClassBasic << 16) | ((uint)((field << 1) | (masked ? 1 : 0)) << 8) | (uint)(masked ? 2 * len : len);
    }
}
