using System.Runtime.InteropServices;
using Softswitch.OfAgent.Handlers;
using Softswitch.OfAgent.Session;
using Softswitch.OfAgent.Translate13;
using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of13;

/// <summary>
/// OpenFlow 1.3 multipart requests (OpenFlow 1.3.5 section 7.3.5): each body decoded, answered from the switch, and
/// written in parts of at most 65535 bytes with REPLY_MORE on all but the last (<see cref="Ofp13ReplyWriter"/>).
/// </summary>
/// <remarks>
/// Every reply tells the truth about this switch: tables 0..253 with their counters, the ports, queues, and what a
/// table can match, set and do (TABLE_FEATURES); the groups (GROUP, GROUP_DESC with the buckets as given,
/// GROUP_FEATURES); the meters (METER with each band's counters, METER_CONFIG, METER_FEATURES with the switch's
/// limits). A TABLE_FEATURES request that would change the tables is refused (EPERM), as the spec allows. Runs on the
/// requesting connection's receive loop; a long reply waits for room between parts.
/// </remarks>
internal sealed class Of13Stats(OfRequestContext ctx)
{
    [ThreadStatic] private static Ofp13FlowStatsRequest? s_flowRequest;
    [ThreadStatic] private static List<Ofp13Action>? s_actions;

    public void Handle(OfConnection c, ReadOnlySpan<byte> msg)
    {
        if (!Ofp13Multipart.TryDecodeRequest(msg, out var type, out _, out var body, out var err)) { Error(c, err, msg); return; }
        uint xid = Be.U32(msg, 4);
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
                if (!Ofp13Multipart.CheckBody(body, 8, out err)) break;
                PortStats(c, xid, Be.U32(body, 0));
                return;
            case Ofp13MultipartType.Queue:
                if (!Ofp13Multipart.CheckBody(body, 8, out err)) break;
                QueueStats(c, msg, xid, Be.U32(body, 0), Be.U32(body, 4));
                return;
            case Ofp13MultipartType.Group:
                if (!Ofp13Multipart.CheckBody(body, 8, out err)) break;
                GroupStats(c, xid, Be.U32(body, 0));
                return;
            case Ofp13MultipartType.Meter:
                if (!Ofp13Multipart.CheckBody(body, 8, out err)) break;
                if (!ctx.Switch.HasMeter(Be.U32(body, 0)))
                {
                    err = Ofp13Error.MeterModFailed(Ofp13Codes.MeterUnknownMeter); // as Open vSwitch: a meter that does not exist
                    break;
                }
                MeterStats(c, xid, Be.U32(body, 0));
                return;
            case Ofp13MultipartType.MeterConfig:
                if (!Ofp13Multipart.CheckBody(body, 8, out err)) break;
                if (!ctx.Switch.HasMeter(Be.U32(body, 0)))
                {
                    err = Ofp13Error.MeterModFailed(Ofp13Codes.MeterUnknownMeter);
                    break;
                }
                MeterConfig(c, xid, Be.U32(body, 0));
                return;
            case Ofp13MultipartType.GroupDesc:
                if (!Ofp13Multipart.CheckBody(body, 0, out err)) break;
                GroupDesc(c, xid);
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
            case Ofp13MultipartType.PortDesc:
                if (!Ofp13Multipart.CheckBody(body, 0, out err)) break;
                PortDesc(c, xid);
                return;
            case Ofp13MultipartType.Experimenter:
                err = Ofp13Error.BadRequest(Ofp13Codes.BadExperimenter);
                break;
            default:
                err = Ofp13Error.BadRequest(Ofp13Codes.BadMultipart);
                break;
        }
        Error(c, err, msg);
    }

    private void Error(OfConnection c, Ofp13Error e, ReadOnlySpan<byte> msg) => ctx.SendError(c, e, msg);

    private static Action<byte[]> Sender(OfConnection c) => part =>
    {
        c.WaitForRoom();
        c.SendRaw(part);
    };

    private static void Single(OfConnection c, uint xid, Ofp13MultipartType type, Action<Ofp13Writer> body)
    {
        var r = new Ofp13ReplyWriter(type, xid, Sender(c));
        body(r.Writer);
        r.Finish();
    }

    private static void Empty(OfConnection c, uint xid, Ofp13MultipartType type) => new Ofp13ReplyWriter(type, xid, Sender(c)).Finish();

    private void Desc(OfConnection c, uint xid)
    {
        var d = ctx.Switch.Description;
        Single(c, xid, Ofp13MultipartType.Desc, w =>
        {
            w.FixedString(d.Manufacturer, Ofp13.DescStrLen);
            w.FixedString(d.Hardware, Ofp13.DescStrLen);
            w.FixedString(d.Software, Ofp13.DescStrLen);
            w.FixedString(d.SerialNumber, Ofp13.SerialNumLen);
            w.FixedString(d.Datapath, Ofp13.DescStrLen);
        });
    }

    private void Flows(OfConnection c, ReadOnlySpan<byte> msg, ReadOnlySpan<byte> body, uint xid, bool aggregate)
    {
        var fr = s_flowRequest ??= new Ofp13FlowStatsRequest();
        if (!fr.TryDecode(body, out var err)) { Error(c, err, msg); return; }
        if (fr.TableId >= Of13Translate.TableCount && fr.TableId != Ofp13.TableAll) { Error(c, Ofp13Error.BadRequest(Ofp13Codes.BadTableId), msg); return; }
        var problem = OxmMatchTranslator.TryToOf(CollectionsMarshal.AsSpan(fr.Match), out var match, out _);
        if (problem != OxmProblem.None) { Error(c, Of13Translate.ToWire(problem), msg); return; }
        var req = new FlowStatsRequest(match, fr.TableId, fr.OutPort, fr.OutGroup, fr.Cookie, fr.CookieMask, MatchRules.OpenFlow13);
        if (aggregate)
        {
            var a = ctx.Switch.Aggregate(req);
            Single(c, xid, Ofp13MultipartType.Aggregate, w => { w.U64(a.PacketCount); w.U64(a.ByteCount); w.U32(a.FlowCount); w.Zeros(4); });
            return;
        }
        if (fr.TableId != Ofp13.TableAll && !ctx.Switch.Flows.HasTable(fr.TableId))
        {
            Empty(c, xid, Ofp13MultipartType.Flow);
            return;
        }
        var reply = new Ofp13ReplyWriter(Ofp13MultipartType.Flow, xid, Sender(c));
        var w = reply.Writer;
        var oxm = new Ofp13Oxm[OxmMatchTranslator.FieldCount];
        var actions = s_actions ??= new List<Ofp13Action>();
        ctx.Switch.VisitFlows(req, (in OfFlowStats f) =>
        {
            if (!c.IsOpen) return false;
            reply.BeginEntry();
            int start = w.Position;
            long d = Math.Max(0, f.DurationNanos);
            w.U16(0); w.U8(f.TableId); w.U8(0); w.U32((uint)(d / 1_000_000_000)); w.U32((uint)(d % 1_000_000_000));
            w.U16(f.Priority); w.U16(f.IdleTimeout); w.U16(f.HardTimeout); w.U16(Flags(f.Flags)); w.Zeros(4);
            w.U64(f.Cookie); w.U64(f.PacketCount); w.U64(f.ByteCount);
            int n = OxmMatchTranslator.ToOxm(f.Match, oxm);
            Ofp13Match.Encode(w, oxm.AsSpan(0, n));
            WriteInstructions(w, f, actions);
            w.PatchU16(start, (ushort)(w.Position - start));
            reply.EndEntry();
            return true;
        });
        reply.Finish();
    }

    private static ushort Flags(FlowModFlags f)
        => (ushort)(((f & FlowModFlags.SendFlowRemoved) != 0 ? 1 : 0) | ((f & FlowModFlags.CheckOverlap) != 0 ? 2 : 0)
                    | ((f & FlowModFlags.NoPacketCounts) != 0 ? 8 : 0) | ((f & FlowModFlags.NoByteCounts) != 0 ? 16 : 0));

    /// <summary>A flow's instructions in the order the pipeline runs them (1.3.5 section 5.9): meter, apply, clear, write, metadata, goto.</summary>
    private static void WriteInstructions(Ofp13Writer w, in OfFlowStats f, List<Ofp13Action> actions)
    {
        bool ipv6 = f.Match.Mask.EthType == ushort.MaxValue && f.Match.Value.EthType == 0x86dd;
        var ins = f.Instructions;
        if (ins is { Meter: not 0 })
        {
            w.U16((ushort)Ofp13InstructionType.Meter); w.U16(8); w.U32(ins.Meter);
        }
        if (!f.Actions.IsEmpty) WriteActionsInstruction(w, Ofp13InstructionType.ApplyActions, f.Actions, ipv6, actions);
        if (ins is null) return;
        if (ins.ClearActions)
        {
            w.U16((ushort)Ofp13InstructionType.ClearActions); w.U16(8); w.Zeros(4);
        }
        if (ins.WriteActions is { } write) WriteActionsInstruction(w, Ofp13InstructionType.WriteActions, write, ipv6, actions);
        if (ins.MetadataMask != 0)
        {
            w.U16((ushort)Ofp13InstructionType.WriteMetadata); w.U16(24); w.Zeros(4); w.U64(ins.MetadataValue); w.U64(ins.MetadataMask);
        }
        if (ins.GotoTable is { } g)
        {
            w.U16((ushort)Ofp13InstructionType.GotoTable); w.U16(8); w.U8(g); w.Zeros(3);
        }
    }

    private static void WriteActionsInstruction(Ofp13Writer w, Ofp13InstructionType type, ReadOnlySpan<OfAction> of, bool ipv6, List<Ofp13Action> actions)
    {
        actions.Clear();
        Of13Translate.ToWire(of, ipv6, actions);
        var span = CollectionsMarshal.AsSpan(actions);
        w.U16((ushort)type); w.U16((ushort)(8 + Ofp13Actions.EncodedSize(span))); w.Zeros(4);
        Ofp13Actions.Encode(w, span);
    }

    private void Tables(OfConnection c, uint xid)
    {
        var reply = new Ofp13ReplyWriter(Ofp13MultipartType.Table, xid, Sender(c));
        var w = reply.Writer;
        for (int id = 0; id < Of13Translate.TableCount; id++)
        {
            reply.BeginEntry();
            w.U8((byte)id); w.Zeros(3);
            if (ctx.Switch.Flows.HasTable((byte)id))
            {
                var t = ctx.Switch.TableStats(id);
                w.U32((uint)t.ActiveCount); w.U64((ulong)t.LookupCount); w.U64((ulong)t.MatchedCount);
            }
            else
            {
                w.Zeros(20);
            }
            reply.EndEntry();
        }
        reply.Finish();
    }

    private void PortStats(OfConnection c, uint xid, uint port)
    {
        var stats = new List<OfPortStats>();
        ctx.Switch.PortStats(port, stats);
        var reply = new Ofp13ReplyWriter(Ofp13MultipartType.PortStats, xid, Sender(c));
        var w = reply.Writer;
        foreach (var s in stats)
        {
            reply.BeginEntry();
            w.U32(s.PortNo); w.Zeros(4);
            w.U64(s.RxPackets); w.U64(s.TxPackets); w.U64(s.RxBytes); w.U64(s.TxBytes); w.U64(s.RxDropped); w.U64(s.TxDropped);
            w.U64(s.RxErrors); w.U64(s.TxErrors); w.U64(s.RxFrameErrors); w.U64(s.RxOverErrors); w.U64(s.RxCrcErrors); w.U64(s.Collisions);
            w.U32((uint)(s.DurationNanos / 1_000_000_000)); w.U32((uint)(s.DurationNanos % 1_000_000_000));
            reply.EndEntry();
        }
        reply.Finish();
    }

    private void QueueStats(OfConnection c, ReadOnlySpan<byte> msg, uint xid, uint port, uint queue)
    {
        var stats = new List<OfQueueStats>();
        var e = ctx.Switch.QueueStats(port, queue, stats);
        if (e != OfError.None) { Error(c, Of13Translate.ToWire(e), msg); return; }
        var reply = new Ofp13ReplyWriter(Ofp13MultipartType.Queue, xid, Sender(c));
        var w = reply.Writer;
        foreach (var s in stats)
        {
            reply.BeginEntry();
            w.U32(s.PortNo); w.U32(s.QueueId); w.U64(s.TxBytes); w.U64(s.TxPackets); w.U64(s.TxErrors);
            w.U32((uint)(s.DurationNanos / 1_000_000_000)); w.U32((uint)(s.DurationNanos % 1_000_000_000));
            reply.EndEntry();
        }
        reply.Finish();
    }

    private void GroupStats(OfConnection c, uint xid, uint groupId)
    {
        var reply = new Ofp13ReplyWriter(Ofp13MultipartType.Group, xid, Sender(c));
        var w = reply.Writer;
        foreach (var g in ctx.Switch.GroupStatistics(groupId == Ofp13.GroupAll ? GroupModRequest.AllGroups : groupId))
        {
            reply.BeginEntry();
            long d = g.DurationNanos;
            w.U16((ushort)(40 + 16 * g.Buckets.Length)); w.Zeros(2); w.U32(g.GroupId); w.U32(g.RefCount); w.Zeros(4);
            w.U64(g.Packets); w.U64(g.Bytes); w.U32((uint)(d / 1_000_000_000)); w.U32((uint)(d % 1_000_000_000));
            foreach (var b in g.Buckets)
            {
                w.U64(b.Packets); w.U64(b.Bytes);
            }
            reply.EndEntry();
        }
        reply.Finish();
    }

    private void MeterStats(OfConnection c, uint xid, uint meterId)
    {
        var reply = new Ofp13ReplyWriter(Ofp13MultipartType.Meter, xid, Sender(c));
        var w = reply.Writer;
        foreach (var m in ctx.Switch.MeterStatistics(meterId))
        {
            reply.BeginEntry();
            long d = m.DurationNanos;
            w.U32(m.MeterId); w.U16((ushort)(40 + 16 * m.Bands.Length)); w.Zeros(6);
            w.U32(m.FlowCount); w.U64(m.Packets); w.U64(m.Bytes); w.U32((uint)(d / 1_000_000_000)); w.U32((uint)(d % 1_000_000_000));
            foreach (var b in m.Bands)
            {
                w.U64(b.Packets); w.U64(b.Bytes);
            }
            reply.EndEntry();
        }
        reply.Finish();
    }

    private void MeterConfig(OfConnection c, uint xid, uint meterId)
    {
        var reply = new Ofp13ReplyWriter(Ofp13MultipartType.MeterConfig, xid, Sender(c));
        var w = reply.Writer;
        foreach (var m in ctx.Switch.MeterConfigurations(meterId))
        {
            reply.BeginEntry();
            w.U16((ushort)(8 + 16 * m.Bands.Count)); w.U16((ushort)m.Flags); w.U32(m.MeterId);
            var bands = new Ofp13Band[m.Bands.Count];
            for (int i = 0; i < bands.Length; i++) bands[i] = new Ofp13Band((ushort)m.Bands[i].Type, m.Bands[i].Rate, m.Bands[i].BurstSize, m.Bands[i].PrecLevel);
            Ofp13Messages.WriteBands(w, bands);
            reply.EndEntry();
        }
        reply.Finish();
    }

    private static void MeterFeatures(OfConnection c, uint xid)
    {
        var f = OfSwitch.MeterFeatures;
        Single(c, xid, Ofp13MultipartType.MeterFeatures, w =>
        {
            w.U32(f.MaxMeters); w.U32(f.BandTypes); w.U32((uint)f.Capabilities); w.U8(f.MaxBands); w.U8(f.MaxColor); w.Zeros(2);
        });
    }

    private void GroupDesc(OfConnection c, uint xid)
    {
        var reply = new Ofp13ReplyWriter(Ofp13MultipartType.GroupDesc, xid, Sender(c));
        var w = reply.Writer;
        foreach (var g in ctx.Switch.GroupDescriptions())
        {
            var buckets = new List<Ofp13Bucket>(g.Buckets.Count);
            foreach (var b in g.Buckets)
            {
                var actions = new List<Ofp13Action>();
                Of13Translate.ToWire(b.Actions.Span, false, actions);
                buckets.Add(new Ofp13Bucket(b.Weight, b.WatchPort, b.WatchGroup, actions));
            }
            reply.BeginEntry();
            int start = w.Position;
            w.U16(0); w.U8((byte)g.Type); w.U8(0); w.U32(g.GroupId);
            Ofp13Messages.WriteBuckets(w, buckets);
            w.PatchU16(start, (ushort)(w.Position - start));
            reply.EndEntry();
        }
        reply.Finish();
    }

    /// <summary>The 1.3 action types a bucket may hold (every one this switch carries out), as GROUP_FEATURES' bitmap.</summary>
    private static readonly uint s_groupActions = ActionBits(
        Ofp13ActionType.Output, Ofp13ActionType.CopyTtlOut, Ofp13ActionType.CopyTtlIn, Ofp13ActionType.SetMplsTtl,
        Ofp13ActionType.DecMplsTtl, Ofp13ActionType.PushVlan, Ofp13ActionType.PopVlan, Ofp13ActionType.PushMpls,
        Ofp13ActionType.PopMpls, Ofp13ActionType.SetQueue, Ofp13ActionType.Group, Ofp13ActionType.SetNwTtl,
        Ofp13ActionType.DecNwTtl, Ofp13ActionType.SetField, Ofp13ActionType.PushPbb, Ofp13ActionType.PopPbb);

    private static uint ActionBits(params Ofp13ActionType[] types)
    {
        uint bits = 0;
        foreach (var t in types) bits |= 1u << (int)t;
        return bits;
    }

    private static void GroupFeatures(OfConnection c, uint xid)
    {
        var f = OfSwitch.GroupFeatures;
        // types: ALL, SELECT, INDIRECT, FF; capabilities: SELECT_WEIGHT 1, SELECT_LIVENESS 2, CHAINING 4, CHAINING_CHECKS 8.
        uint caps = (f.SelectWeight ? 1u : 0) | (f.SelectLiveness ? 2u : 0) | (f.Chaining ? 4u : 0) | (f.ChainingChecks ? 8u : 0);
        Single(c, xid, Ofp13MultipartType.GroupFeatures, w =>
        {
            w.U32(0xF); w.U32(caps);
            for (int i = 0; i < 4; i++) w.U32((uint)f.MaxGroups);
            for (int i = 0; i < 4; i++) w.U32(s_groupActions);
        });
    }

    private void PortDesc(OfConnection c, uint xid)
    {
        var reply = new Ofp13ReplyWriter(Ofp13MultipartType.PortDesc, xid, Sender(c));
        foreach (var p in ctx.Switch.PortDescriptions())
        {
            reply.BeginEntry();
            Of13Translate.ToWire(p).Write(reply.Writer);
            reply.EndEntry();
        }
        reply.Finish();
    }

    // ================================================================ table features

    /// <summary>Instructions every table takes (goto-table only where a later table exists): OFPIT_* 1..5.</summary>
    private static readonly ushort[] s_instructions = [1, 2, 3, 4, 5];

    /// <summary>Actions of flows and packet-outs (OFPAT_*): all of 1.3 but GROUP (no groups yet).</summary>
    private static readonly ushort[] s_actionTypes = [0, 11, 12, 15, 16, 17, 18, 19, 20, 21, 23, 24, 25, 26, 27];

    /// <summary>Fields a set-field may write: all but in_port, in_phy_port, metadata, eth_type, ip_proto and ipv6_exthdr.</summary>
    private static readonly byte[] s_settable = [.. Enumerable.Range(0, Ofp13Match.FieldCount).Select(f => (byte)f).Where(f => f is not (0 or 1 or 2 or 5 or 10 or 39))];

    private void TableFeatures(OfConnection c, uint xid)
    {
        var reply = new Ofp13ReplyWriter(Ofp13MultipartType.TableFeatures, xid, Sender(c));
        var w = reply.Writer;
        var tables = ctx.Switch.Tables;
        int maxEntries = tables.Length > 0 ? tables[0].MaxEntries : 0;
        for (int id = 0; id < Of13Translate.TableCount; id++)
        {
            reply.BeginEntry();
            int start = w.Position;
            w.U16(0); w.U8((byte)id); w.Zeros(5);
            w.FixedString("table" + id, Ofp13.MaxTableNameLen);
            w.U64(ulong.MaxValue); w.U64(ulong.MaxValue); // every metadata bit may be matched and written
            w.U32(0); w.U32((uint)maxEntries);
            bool last = id == Of13Translate.TableCount - 1;
            Property(w, 0, p => { foreach (var t in s_instructions) if (t != 1 || !last) { w.U16(t); w.U16(4); } });        // INSTRUCTIONS
            Property(w, 2, p => { for (int n = id + 1; n < Of13Translate.TableCount; n++) w.U8((byte)n); });                  // NEXT_TABLES
            Property(w, 4, p => { foreach (var t in s_actionTypes) { w.U16(t); w.U16(4); } });                                // WRITE_ACTIONS
            Property(w, 6, p => { foreach (var t in s_actionTypes) { w.U16(t); w.U16(4); } });                                // APPLY_ACTIONS
            Property(w, 8, p => { for (byte f = 0; f < Ofp13Match.FieldCount; f++) OxmId(w, f, Ofp13Match.Maskable(f)); });   // MATCH
            Property(w, 10, p => { for (byte f = 0; f < Ofp13Match.FieldCount; f++) OxmId(w, f, false); });                  // WILDCARDS
            Property(w, 12, p => { foreach (var f in s_settable) OxmId(w, f, false); });                                      // WRITE_SETFIELD
            Property(w, 14, p => { foreach (var f in s_settable) OxmId(w, f, false); });                                      // APPLY_SETFIELD
            w.PatchU16(start, (ushort)(w.Position - start));
            reply.EndEntry();
        }
        reply.Finish();
    }

    /// <summary>A table feature property: type, length (without padding), the body, padding to 8.</summary>
    private static void Property(Ofp13Writer w, ushort type, Action<Ofp13Writer> body)
    {
        int start = w.Position;
        w.U16(type); w.U16(0);
        body(w);
        w.PatchU16(start + 2, (ushort)(w.Position - start));
        w.Pad8(start);
    }

    private static void OxmId(Ofp13Writer w, byte field, bool masked)
    {
        int len = Ofp13Match.FieldLength(field);
        w.U16(Ofp13.OxmClassBasic); w.U8((byte)((field << 1) | (masked ? 1 : 0))); w.U8((byte)(masked ? 2 * len : len));
    }
}
