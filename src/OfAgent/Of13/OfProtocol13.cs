using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Softswitch.OfAgent.Common;
using Softswitch.OfAgent.Of13.Handlers;
using Softswitch.OfAgent.Of13.Translate;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of13;

/// <summary>
/// OpenFlow 1.3 (ofp_header version 4): every request a 1.3 connection sends, decoded with the 1.3 codec, answered
/// with the spec's error when it cannot be, and carried out by one call to the switch (<see cref="OfSwitch"/>); and
/// the switch's reports in 1.3's wire format.
/// </summary>
/// <remarks>
/// <para>Design: the 1.3 counterpart of <see cref="Of10.OfProtocol10"/> over the same switch; what 1.3 means that 1.0 does
/// not is decided in the switch (tables and their misses, instructions, roles, async configuration), so this class
/// decodes, translates (<see cref="OxmMatchTranslator"/>, <see cref="Of13Translate"/>), makes one call and encodes.
/// Multipart requests are <see cref="StatsHandler"/>'.</para>
/// <para>Thread safety: each connection's receive loop calls <see cref="Handle"/> for its own messages in order; the
/// scratch objects are per thread, the rest is stateless.</para>
/// </remarks>
internal sealed class OfProtocol13 : OfProtocol
{
    private readonly OfRequestContext _ctx;
    private readonly StatsHandler _stats;

    [ThreadStatic] private static Ofp13FlowMod? s_flowMod;
    [ThreadStatic] private static Ofp13PacketOut? s_packetOut;

    public OfProtocol13(OfRequestContext ctx)
    {
        _ctx = ctx;
        _stats = new StatsHandler(ctx);
    }

    public override byte Version => Ofp13.Version;

    /// <summary>The longest entry a multipart reply holds: a message's 65535 bytes less its 16-byte multipart header.</summary>
    internal const int MaxMultipartEntrySize = ushort.MaxValue - 16;

    public override void Handle(OfConnection c, ReadOnlySpan<byte> msg)
    {
        using var scope = _ctx.Switch.BeginRequest();
        var type = (Ofp13Type)msg[1];
        uint xid = BinaryPrimitives.ReadUInt32BigEndian(msg[4..]);
        switch (type)
        {
            case Ofp13Type.EchoRequest:
            case Ofp13Type.BarrierRequest when msg.Length == Ofp13Messages.HeaderSize:
            {
                if (type == Ofp13Type.BarrierRequest) _ctx.Switch.Barrier();
                var reply = OfConnection.MessagePool.Rent(msg.Length);
                msg.CopyTo(reply);
                reply[1] = (byte)(type == Ofp13Type.EchoRequest ? Ofp13Type.EchoReply : Ofp13Type.BarrierReply);
                c.SendPooled(reply, msg.Length);
                return;
            }
            case Ofp13Type.BarrierRequest:
                Error(c, Ofp13Error.BadLength, msg);
                return;
            case Ofp13Type.EchoReply:
                return;
            case Ofp13Type.FeaturesRequest:
                if (msg.Length != Ofp13Messages.HeaderSize) { Error(c, Ofp13Error.BadLength, msg); return; }
                c.SendRaw(Ofp13Messages.FeaturesReply(xid, _ctx.Switch.DatapathId, (uint)_ctx.Switch.Buffers.Count, Of13Translate.TableCount, 0, Of13Capabilities.Features));
                return;
            case Ofp13Type.GetConfigRequest:
                if (msg.Length != Ofp13Messages.HeaderSize) { Error(c, Ofp13Error.BadLength, msg); return; }
                c.SendRaw(Ofp13Messages.ConfigReply(xid, ConfigFlags(), c.MissSendLen));
                return;
            case Ofp13Type.SetConfig:
                SetConfig(c, msg);
                return;
            case Ofp13Type.FlowMod:
                FlowMod(c, msg);
                return;
            case Ofp13Type.PacketOut:
                PacketOut(c, msg);
                return;
            case Ofp13Type.PortMod:
                PortMod(c, msg);
                return;
            case Ofp13Type.TableMod:
                TableMod(c, msg);
                return;
            case Ofp13Type.MultipartRequest:
                _stats.Handle(c, msg);
                return;
            case Ofp13Type.QueueGetConfigRequest:
                QueueGetConfig(c, msg, xid);
                return;
            case Ofp13Type.RoleRequest:
                RoleRequest(c, msg, xid);
                return;
            case Ofp13Type.GetAsyncRequest:
                if (msg.Length != Ofp13Messages.HeaderSize) { Error(c, Ofp13Error.BadLength, msg); return; }
                GetAsync(c, xid);
                return;
            case Ofp13Type.SetAsync:
                SetAsync(c, msg);
                return;
            case Ofp13Type.GroupMod:
                GroupMod(c, msg);
                return;
            case Ofp13Type.MeterMod:
                MeterMod(c, msg);
                return;
            case Ofp13Type.Experimenter:
                Error(c, Ofp13Error.BadRequest(Ofp13Codes.BadExperimenter), msg);
                return;
            default:
                // Messages only a switch sends (FEATURES_REPLY, PACKET_IN, ...) and types 1.3 does not define.
                Error(c, Ofp13Error.BadRequest(Ofp13Codes.BadType), msg);
                return;
        }
    }

    private void Error(OfConnection c, Ofp13Error e, ReadOnlySpan<byte> msg) => _ctx.SendError(c, e, msg);

    private bool Check(OfConnection c, OfError e, ReadOnlySpan<byte> msg, bool flowMod = false)
    {
        if (e == OfError.None) return true;
        Error(c, Of13Translate.ToWire(e, flowMod), msg);
        return false;
    }

    /// <summary>OFPC_FRAG_* (the low two bits) and OFPC_INVALID_TTL_TO_CONTROLLER of ofp_config_flags.</summary>
    private const ushort FragNormal = 0, FragDrop = 1, FragReasm = 2, FragMask = 3, InvalidTtlToController = 4;

    /// <summary>The switch's config as GET_CONFIG shows it.</summary>
    private ushort ConfigFlags()
    {
        var sw = _ctx.Switch;
        ushort frag = sw.Fragments switch
        {
            FragmentHandling.Drop => FragDrop,
            FragmentHandling.Reassemble => FragReasm,
            _ => FragNormal,
        };
        return (ushort)(frag | (sw.InvalidTtlToController ? InvalidTtlToController : 0));
    }

    /// <summary>
    /// SET_CONFIG: miss_send_len is the connection's own, stored whatever its role (as Open vSwitch's
    /// handle_set_config); the fragment handling and OFPC_INVALID_TTL_TO_CONTROLLER are the switch's, changed by a
    /// master or equal controller only (a slave's are ignored, without an error: SET_CONFIG is no write a slave is
    /// refused, OpenFlow 1.3.5 section 6.3.6). OFPC_INVALID_TTL_TO_CONTROLLER also sets the invalid-TTL bit of the
    /// connection's packet-in mask (as Open vSwitch's ofconn_set_invalid_ttl_to_controller), so those packet-ins reach it.
    /// </summary>
    private void SetConfig(OfConnection c, ReadOnlySpan<byte> msg)
    {
        if (!Ofp13Messages.TryDecodeSetConfig(msg, out ushort flags, out ushort missSendLen, out var err)) { Error(c, err, msg); return; }
        c.MissSendLen = missSendLen;
        if (!c.Controller.MayWrite) return;
        var frag = (flags & FragMask) switch
        {
            FragNormal => FragmentHandling.Normal,
            FragDrop => FragmentHandling.Drop,
            _ => FragmentHandling.Reassemble,
        };
        if (!Check(c, _ctx.Switch.SetFragments(frag, c.Controller), msg)) return;
        bool ttl = (flags & InvalidTtlToController) != 0;
        _ctx.Switch.InvalidTtlToController = ttl;
        var a = c.Controller.Async;
        uint bit = OfAsyncConfig.Bit(OfPacketInReason.InvalidTtl);
        c.Controller.Async = a with { PacketInMaster = ttl ? a.PacketInMaster | bit : a.PacketInMaster & ~bit };
    }

    // ================================================================ flow-mod

    private void FlowMod(OfConnection c, ReadOnlySpan<byte> msg)
    {
        var fm = s_flowMod ??= new Ofp13FlowMod();
        if (!fm.TryDecode(msg, out var err)) { Error(c, err, msg); return; }
        if (!FlowModCommandMap.TryToModel(fm.Command, out var command)) { Error(c, Ofp13Error.FlowModFailed(Ofp13Codes.FlowModBadCommand), msg); return; }
        bool addOrModify = command is FlowModCommand.Add or FlowModCommand.Modify or FlowModCommand.ModifyStrict;
        // The flow's statistics entry is as long as this message (ofp_flow_stats and ofp_flow_mod have fixed parts of one
        // size before the match): one past what a multipart entry's length can say could never be read back whole.
        if (addOrModify && msg.Length > MaxMultipartEntrySize) { Error(c, Ofp13Error.BadLength, msg); return; }
        const ushort KnownFlags = 1 | 2 | 4 | 8 | 16;
        if ((fm.Flags & ~KnownFlags) != 0) { Error(c, Ofp13Error.FlowModFailed(Ofp13Codes.FlowModBadFlags), msg); return; }
        var problem = OxmMatchTranslator.TryToOf(CollectionsMarshal.AsSpan(fm.Match), out var match, out _);
        if (problem != OxmProblem.None) { Error(c, Of13Translate.ToWire(problem), msg); return; }
        var instructions = new OfInstructions(ReadOnlyMemory<OfAction>.Empty);
        if (addOrModify && !TryInstructions(fm, out instructions, out err)) { Error(c, err, msg); return; }
        if (addOrModify && !ActionPrerequisites.Consistent(CollectionsMarshal.AsSpan(fm.Match), fm.Instructions))
        {
            Error(c, Ofp13Error.BadAction(Ofp13Codes.ActionMatchInconsistent), msg);
            return;
        }
        // SEND_FLOW_REM, CHECK_OVERLAP and RESET_COUNTS (a replacing ADD) are the switch's; NO_PKT_COUNTS and
        // NO_BYT_COUNTS are accepted and counting goes on (as Open vSwitch: counters cost nothing extra here).
        var flags = FlowModFlags.None;
        if ((fm.Flags & 1) != 0) flags |= FlowModFlags.SendFlowRemoved;
        if ((fm.Flags & 2) != 0) flags |= FlowModFlags.CheckOverlap;
        if ((fm.Flags & 4) != 0) flags |= FlowModFlags.ResetCounts;
        if ((fm.Flags & 8) != 0) flags |= FlowModFlags.NoPacketCounts;
        if ((fm.Flags & 16) != 0) flags |= FlowModFlags.NoByteCounts;
        var req = new FlowModRequest(command, match, fm.Priority, instructions, fm.TableId, fm.BufferId, fm.Cookie, fm.CookieMask,
                                     fm.IdleTimeout, fm.HardTimeout, flags, fm.OutPort, fm.OutGroup, MatchRules.OpenFlow13);
        Check(c, _ctx.Switch.FlowMod(req, c.Controller), msg, flowMod: true);
    }

    internal static bool TryInstructions(Ofp13FlowMod fm, out OfInstructions instructions, out Ofp13Error error)
    {
        instructions = default;
        error = default;
        var apply = ReadOnlyMemory<OfAction>.Empty;
        ReadOnlyMemory<OfAction>? write = null;
        bool clear = false;
        byte? gotoTable = null;
        ulong metadata = 0, metadataMask = 0;
        uint meter = 0;
        foreach (var ins in fm.Instructions)
        {
            switch (ins.Type)
            {
                case Ofp13InstructionType.ApplyActions:
                case Ofp13InstructionType.WriteActions:
                {
                    if (!Of13Translate.TryToOf(CollectionsMarshal.AsSpan(ins.Actions), out var actions, out error)) return false;
                    if (ins.Type == Ofp13InstructionType.ApplyActions) apply = actions;
                    else write = actions;
                    break;
                }
                case Ofp13InstructionType.ClearActions:
                    if (ins.Actions is { Count: > 0 }) { error = Ofp13Error.BadInstruction(Ofp13Codes.InstBadLen); return false; }
                    clear = true;
                    break;
                case Ofp13InstructionType.GotoTable:
                    gotoTable = ins.TableId; // a table the switch has, and forward: the switch's to say (BAD_TABLE_ID)
                    break;
                case Ofp13InstructionType.WriteMetadata:
                    metadata = ins.Metadata;
                    metadataMask = ins.MetadataMask;
                    break;
                case Ofp13InstructionType.Meter:
                    // Whether the meter exists is the switch's to say (UNKNOWN_METER), with the flow-mod under its lock.
                    meter = ins.MeterId;
                    break;
                default:
                    error = Ofp13Error.BadInstruction(Ofp13Codes.InstUnknown);
                    return false;
            }
        }
        instructions = new OfInstructions(apply, write, clear, gotoTable, metadata & metadataMask, metadataMask, meter);
        return true;
    }

    // ================================================================ packet-out, ports, tables

    private void PacketOut(OfConnection c, ReadOnlySpan<byte> msg)
    {
        var po = s_packetOut ??= new Ofp13PacketOut();
        if (!po.TryDecode(msg, out var err)) { Error(c, err, msg); return; }
        if (po.BufferId == Ofp13.NoBuffer && po.Data.IsEmpty && po.Actions.Count == 0)
        {
            // No packet and nothing to do with it: accepted as Open vSwitch does (OFTest's role checks send exactly this).
            if (!c.Controller.MayWrite) Error(c, Ofp13Error.BadRequest(Ofp13Codes.IsSlave), msg);
            return;
        }
        if (!Of13Translate.TryToOf(CollectionsMarshal.AsSpan(po.Actions), out var actions, out err)) { Error(c, err, msg); return; }
        Check(c, _ctx.Switch.PacketOut(new PacketOutRequest(po.BufferId, po.InPort, actions, po.Data), c.Controller), msg);
    }

    private void PortMod(OfConnection c, ReadOnlySpan<byte> msg)
    {
        if (!Ofp13Messages.TryDecodePortMod(msg, out uint port, out ulong hw, out uint config, out uint mask, out _, out var err)) { Error(c, err, msg); return; }
        if (((config | mask) & ~PortConfigMap.Bits) != 0)
        {
            Error(c, new Ofp13Error(Ofp13ErrorType.PortModFailed, Ofp13Codes.PortModBadConfig), msg);
            return;
        }
        Check(c, _ctx.Switch.PortMod(new PortModRequest(port, hw, PortConfigMap.ToModel(config), PortConfigMap.ToModel(mask)), c.Controller), msg);
    }

    /// <summary>
    /// TABLE_MOD: OpenFlow 1.3.5 deprecates every config bit (OFPTC_DEPRECATED_MASK, 3): a table-miss is the table-miss
    /// flow entry's, so the message changes nothing; a table that does not exist is BAD_TABLE, other bits BAD_CONFIG.
    /// </summary>
    private void TableMod(OfConnection c, ReadOnlySpan<byte> msg)
    {
        if (!Ofp13Messages.TryDecodeTableMod(msg, out byte table, out uint config, out var err)) { Error(c, err, msg); return; }
        if (!c.Controller.MayWrite) { Error(c, Ofp13Error.BadRequest(Ofp13Codes.IsSlave), msg); return; }
        if (table >= Of13Translate.TableCount && table != Ofp13.TableAll) { Error(c, new Ofp13Error(Ofp13ErrorType.TableModFailed, Ofp13Codes.TableModBadTable), msg); return; }
        if ((config & ~3u) != 0) Error(c, new Ofp13Error(Ofp13ErrorType.TableModFailed, Ofp13Codes.TableModBadConfig), msg);
    }

    private void QueueGetConfig(OfConnection c, ReadOnlySpan<byte> msg, uint xid)
    {
        if (!Ofp13Messages.TryDecodeQueueGetConfig(msg, out uint port, out var err)) { Error(c, err, msg); return; }
        var queues = new List<OfQueueConfig>();
        if (!Check(c, _ctx.Switch.QueueConfig(port, queues), msg)) return;
        var wire = new (uint, uint, ushort?, ushort?)[queues.Count];
        for (int i = 0; i < wire.Length; i++) wire[i] = (queues[i].QueueId, port, queues[i].MinPermille, queues[i].MaxPermille);
        c.SendRaw(Ofp13Messages.QueueGetConfigReply(xid, port, wire));
    }

    // ================================================================ roles and async

    private void RoleRequest(OfConnection c, ReadOnlySpan<byte> msg, uint xid)
    {
        if (!Ofp13Messages.TryDecodeRoleRequest(msg, out uint role, out ulong generation, out var err)) { Error(c, err, msg); return; }
        OfRole? want = role switch
        {
            0 => null,                // OFPCR_ROLE_NOCHANGE
            1 => OfRole.Equal,
            2 => OfRole.Master,
            3 => OfRole.Slave,
            _ => (OfRole)0xff,
        };
        if (want == (OfRole)0xff) { Error(c, new Ofp13Error(Ofp13ErrorType.RoleRequestFailed, Ofp13Codes.RoleBadRole), msg); return; }
        if (!Check(c, _ctx.Switch.Roles.Request(c.Controller, want, generation), msg)) return;
        uint now = c.Controller.Role switch
        {
            OfRole.Master => 2,
            OfRole.Slave => 3,
            _ => 1,
        };
        c.SendRaw(Ofp13Messages.RoleReply(xid, now, _ctx.Switch.Roles.GenerationId));
    }

    private static void GetAsync(OfConnection c, uint xid)
    {
        var a = c.Controller.Async;
        ReadOnlySpan<uint> masks =
        [
            Of13Translate.AsyncMaskToWire(OfAsyncKind.PacketIn, a.PacketInMaster), Of13Translate.AsyncMaskToWire(OfAsyncKind.PacketIn, a.PacketInSlave),
            Of13Translate.AsyncMaskToWire(OfAsyncKind.PortStatus, a.PortStatusMaster), Of13Translate.AsyncMaskToWire(OfAsyncKind.PortStatus, a.PortStatusSlave),
            Of13Translate.AsyncMaskToWire(OfAsyncKind.FlowRemoved, a.FlowRemovedMaster), Of13Translate.AsyncMaskToWire(OfAsyncKind.FlowRemoved, a.FlowRemovedSlave),
        ];
        c.SendRaw(Ofp13Messages.AsyncReply(xid, masks));
    }

    private void SetAsync(OfConnection c, ReadOnlySpan<byte> msg)
    {
        Span<uint> m = stackalloc uint[6];
        if (!Ofp13Messages.TryDecodeAsync(msg, m, out var err)) { Error(c, err, msg); return; }
        // ofp_async_config: packet_in_mask[2], port_status_mask[2], flow_removed_mask[2]; [0] master/equal, [1] slave.
        // Their bits are wire reasons: a removal is selected by the reason it is sent with.
        c.Controller.Async = new OfAsyncConfig(
            Of13Translate.AsyncMaskToOf(OfAsyncKind.PacketIn, m[0]), Of13Translate.AsyncMaskToOf(OfAsyncKind.PortStatus, m[2]),
            Of13Translate.AsyncMaskToOf(OfAsyncKind.FlowRemoved, m[4]), Of13Translate.AsyncMaskToOf(OfAsyncKind.PacketIn, m[1]),
            Of13Translate.AsyncMaskToOf(OfAsyncKind.PortStatus, m[3]), Of13Translate.AsyncMaskToOf(OfAsyncKind.FlowRemoved, m[5]));
    }

    // ================================================================ groups and meters

    /// <summary>
    /// GROUP_MOD: decoded, its buckets' actions translated as a flow's, and carried out by the switch, which checks the
    /// group rules (types, buckets, weights, watches, chains; see <see cref="OfSwitch.GroupMod"/>).
    /// </summary>
    private void GroupMod(OfConnection c, ReadOnlySpan<byte> msg)
    {
        // Its GROUP_DESC entry is this message but for the header (ofp_group_desc: 8 bytes before the buckets, ofp_group_mod 16).
        if (msg.Length - Ofp13Messages.HeaderSize > MaxMultipartEntrySize && msg.Length >= 10 && msg[8] == 0 && msg[9] is 0 or 1)
        {
            Error(c, Ofp13Error.BadLength, msg);
            return;
        }
        if (!Ofp13Messages.TryDecodeGroupMod(msg, out var mod, out var err)) { Error(c, err, msg); return; }
        if (!GroupModCommandMap.TryToModel(mod!.Command, out var command)) { Error(c, Ofp13Error.GroupModFailed(Ofp13Codes.GroupBadCommand), msg); return; }
        if (!GroupTypeMap.TryToModel(mod.GroupType, out var type)) { Error(c, Ofp13Error.GroupModFailed(Ofp13Codes.GroupBadType), msg); return; }
        var buckets = new OfBucket[mod.Buckets.Count];
        for (int i = 0; i < buckets.Length; i++)
        {
            var b = mod.Buckets[i];
            if (!Of13Translate.TryToOf(CollectionsMarshal.AsSpan(b.Actions), out var actions, out err)) { Error(c, err, msg); return; }
            buckets[i] = new OfBucket(b.Weight, b.WatchPort, b.WatchGroup, actions);
        }
        var req = new GroupModRequest(command, type, mod.GroupId, buckets);
        Check(c, _ctx.Switch.GroupMod(req, c.Controller), msg);
    }

    /// <summary>METER_MOD: decoded here, checked and carried out by the switch.</summary>
    private void MeterMod(OfConnection c, ReadOnlySpan<byte> msg)
    {
        if (!Ofp13Messages.TryDecodeMeterMod(msg, out var mod, out var err)) { Error(c, err, msg); return; }
        if (!MeterModCommandMap.TryToModel(mod!.Command, out var command)) { Error(c, Ofp13Error.MeterModFailed(Ofp13Codes.MeterBadCommand), msg); return; }
        var bands = new OfMeterBand[mod.Bands.Count];
        for (int i = 0; i < bands.Length; i++)
        {
            var b = mod.Bands[i];
            bands[i] = new OfMeterBand(MeterBandTypeMap.ToModel(b.Type), b.Rate, b.BurstSize, b.PrecLevel);
        }
        var req = new MeterModRequest(command, MeterFlagsMap.ToModel(mod.Flags), mod.MeterId, bands);
        Check(c, _ctx.Switch.MeterMod(req, c.Controller), msg);
    }

    // ================================================================ reports

    /// <summary>Fixed part, the largest match (in_port, metadata and tunnel_id: 4 + 8 + 12 + 12 bytes, padded: 40), the 2 pad bytes.</summary>
    public override int PacketInOverhead => 24 + 40 + 2;

    public override int PacketInDataLength(OfConnection c, in OfPacketIn packet, bool buffered)
        => packet.Reason is OfPacketInReason.Action or OfPacketInReason.ExplicitMiss ? packet.MaxLen : c.MissSendLen;

    public override int WritePacketIn(Span<byte> destination, uint bufferId, in OfPacketIn packet, int dataLen)
    {
        // The match carries the packet's context: in_port always, metadata and tunnel_id when not zero (OpenFlow 1.3.5
        // section 7.4.1: "Fields whose values are all-bits-zero should be omitted"; in_phy_port equals in_port here).
        Span<Ofp13Oxm> match = stackalloc Ofp13Oxm[3];
        int n = 0;
        match[n++] = Ofp13Oxm.Exact(OxmMatchTranslator.InPort, packet.InPort);
        if (packet.Metadata != 0) match[n++] = Ofp13Oxm.Exact(OxmMatchTranslator.Metadata, packet.Metadata);
        if (packet.TunnelId != 0) match[n++] = Ofp13Oxm.Exact(OxmMatchTranslator.TunnelId, packet.TunnelId);
        return Ofp13Messages.WritePacketIn(destination, 0, bufferId, (ushort)Math.Min(packet.Frame.Length, ushort.MaxValue),
            Of13Translate.ToWire(packet.Reason), packet.TableId, packet.Cookie, match[..n], packet.Frame[..dataLen]);
    }

    public override byte[] FlowRemoved(in OfFlowRemoved r)
    {
        Span<Ofp13Oxm> match = stackalloc Ofp13Oxm[OxmMatchTranslator.FieldCount];
        int n = OxmMatchTranslator.ToOxm(r.Match, match);
        long d = Math.Max(0, r.DurationNanos);
        return Ofp13Messages.FlowRemoved(0, r.Cookie, r.Priority, Of13Translate.ToWire(r.Reason), r.TableId, (uint)(d / 1_000_000_000),
            (uint)(d % 1_000_000_000), r.IdleTimeout, r.HardTimeout, r.PacketCount, r.ByteCount, match[..n]);
    }

    public override byte[] PortStatus(OfPortReason reason, OfPortDesc port)
        => Ofp13Messages.PortStatus(0, Of13Translate.ToWire(reason), Of13Translate.ToWire(port));
}
