using Softswitch.OfAgent.Common;
using Softswitch.OfAgent.Of13.Translate;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of14;
using Softswitch.OfWire.Of15;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of13.Handlers;

/// <summary>
/// The switch's description and settings in OpenFlow 1.3 and 1.4 (1.4's PORT_MOD, TABLE_MOD and async configuration in
/// its own layouts): FEATURES_REQUEST, GET_CONFIG / SET_CONFIG, PORT_MOD,
/// TABLE_MOD, QUEUE_GET_CONFIG_REQUEST, ROLE_REQUEST and GET_ASYNC / SET_ASYNC (ovs ofproto/ofproto.c
/// handle_features_request, handle_set_config, handle_port_mod, handle_table_mod, handle_role_request,
/// handle_nxt_set_async_config).
/// </summary>
/// <remarks>
/// Design: as <see cref="Of10.Handlers.SwitchConfigHandler"/>: decode, one call to the switch, encode. miss_send_len
/// and the asynchronous configuration are the connection's own (<see cref="OfConnection.MissSendLen"/>,
/// <see cref="OfController.Async"/>); the rest is the switch's. Runs on any connection's receive loop; takes no lock of
/// its own.
/// </remarks>
internal sealed class SwitchConfigHandler(OfRequestContext ctx)
{
    /// <summary>OFPC_FRAG_* of ofp_config_flags, its only bits in OpenFlow 1.3 (OFPC_INVALID_TTL_TO_CONTROLLER is 1.1's and 1.2's).</summary>
    private const ushort FragNormal = 0, FragDrop = 1, FragReasm = 2, FragMask = 3;

    private void Error(OfConnection c, Ofp13Error e, ReadOnlySpan<byte> msg) => ctx.SendError(c, e, msg);

    private bool Check(OfConnection c, OfError e, ReadOnlySpan<byte> msg, RefusedRequest request = RefusedRequest.Other)
    {
        if (e == OfError.None) return true;
        Error(c, WireMap.ToWire(e, request), msg);
        return false;
    }

    public void Features(OfConnection c, ReadOnlySpan<byte> msg, uint xid)
    {
        if (msg.Length != Ofp13Messages.HeaderSize) { Error(c, Ofp13Error.BadLength, msg); return; }
        c.SendRaw(Ofp13Messages.FeaturesReply(c.Version, xid, ctx.Switch.DatapathId, (uint)ctx.Switch.Buffers.Count, OfTables.Count, 0, Of13Capabilities.Features));
    }

    public void GetConfig(OfConnection c, ReadOnlySpan<byte> msg, uint xid)
    {
        if (msg.Length != Ofp13Messages.HeaderSize) { Error(c, Ofp13Error.BadLength, msg); return; }
        var sw = ctx.Switch;
        ushort frag = sw.Fragments switch
        {
            FragmentHandling.Drop => FragDrop,
            FragmentHandling.Reassemble => FragReasm,
            _ => FragNormal,
        };
        c.SendRaw(Ofp13Messages.ConfigReply(c.Version, xid, frag, c.MissSendLen));
    }

    /// <summary>
    /// SET_CONFIG, as Open vSwitch's handle_set_config and ofputil_decode_set_config: a bit OpenFlow 1.3 does not define
    /// (OFPC_INVALID_TTL_TO_CONTROLLER included: 1.3 asks for invalid-TTL packet-ins with SET_ASYNC) is
    /// SWITCH_CONFIG_FAILED/BAD_FLAGS and nothing changes; else miss_send_len is the connection's own, stored whatever
    /// its role, and the fragment handling the switch's, changed by a master or equal controller only (a slave's is
    /// ignored without an error: SET_CONFIG is no write a slave is refused, OpenFlow 1.3.5 section 6.3.6).
    /// </summary>
    public void SetConfig(OfConnection c, ReadOnlySpan<byte> msg)
    {
        Ofp13SwitchConfig config = default;
        if (!config.TryDecode(msg, out var err)) { Error(c, err, msg); return; }
        ushort flags = config.Flags, missSendLen = config.MissSendLen;
        if ((flags & ~FragMask) != 0)
        {
            Error(c, new Ofp13Error(Ofp13ErrorType.SwitchConfigFailed, Ofp13Codes.ConfigBadFlags), msg);
            return;
        }
        c.MissSendLen = missSendLen;
        var frag = (flags & FragMask) switch
        {
            FragNormal => FragmentHandling.Normal,
            FragDrop => FragmentHandling.Drop,
            _ => FragmentHandling.Reassemble,
        };
        Check(c, ctx.Switch.SetFragments(frag, c.Controller), msg);
    }

    public void PortMod(OfConnection c, ReadOnlySpan<byte> msg)
    {
        if (!TryPortMod(msg, out var request, out var err)) { Error(c, err, msg); return; }
        Check(c, ctx.Switch.PortMod(request, c.Controller), msg);
    }

    /// <summary>A PORT_MOD decoded and translated (what <see cref="PortMod"/> and a bundle's add do); false with the error that refuses it.</summary>
    public static bool TryPortMod(ReadOnlySpan<byte> msg, out PortModRequest request, out Ofp13Error err)
    {
        request = default;
        Ofp13PortMod mod = default;
        if (!mod.TryDecode(msg, out err)) return false;
        (uint port, ulong hw, uint config, uint mask) = (mod.PortNo, mod.HwAddr, mod.Config, mod.Mask);
        if (((config | mask) & ~PortConfigMap.Bits) != 0)
        {
            err = new Ofp13Error(Ofp13ErrorType.PortModFailed, Ofp13Codes.PortModBadConfig);
            return false;
        }
        request = new PortModRequest(port, hw, PortConfigMap.ToModel(config), PortConfigMap.ToModel(mask));
        return true;
    }

    /// <summary>PORT_MOD of OpenFlow 1.4 and later: properties after the fixed part (the Ethernet one's advertise bits are taken and, as 1.3's, not applied).</summary>
    public void PortMod14(OfConnection c, ReadOnlySpan<byte> msg)
    {
        Ofp14PortMod mod = default;
        if (!mod.TryDecode(msg, out var err)) { Error(c, err, msg); return; }
        if (((mod.Config | mod.Mask) & ~PortConfigMap.Bits) != 0)
        {
            Error(c, new Ofp13Error(Ofp13ErrorType.PortModFailed, Ofp13Codes.PortModBadConfig), msg);
            return;
        }
        Check(c, ctx.Switch.PortMod(new PortModRequest(mod.PortNo, mod.HwAddr, PortConfigMap.ToModel(mod.Config), PortConfigMap.ToModel(mod.Mask)), c.Controller), msg);
    }

    /// <summary>
    /// TABLE_MOD of OpenFlow 1.4 and later, as Open vSwitch's ofputil_decode_table_mod reads it: OFPTC_EVICTION and
    /// OFPTC_VACANCY_EVENTS turn eviction and vacancy events on or off (each TABLE_MOD sets both), the vacancy property
    /// gives the thresholds (none: 0 and 0), the eviction property names flags the switch accepts only as its own
    /// (<see cref="OfSwitch.TableMod"/>: anything else, like a config bit 1.4 does not define, is BAD_CONFIG).
    /// </summary>
    public void TableMod14(OfConnection c, ReadOnlySpan<byte> msg)
    {
        Ofp14TableMod mod = default;
        if (!mod.TryDecode(msg, out var err)) { Error(c, err, msg); return; }
        var config = TableConfigMap.ToModel(mod.Config & ~TableConfigMap.Of14Mask);
        OfEvictionFlags? flags = null;
        if (mod.EvictionFlags is { } wire)
        {
            if (EvictionFlagsMap.TryToModel(wire, out var f)) flags = f;
            else config |= OfTableConfig.Unrecognised;
        }
        var (down, up) = mod.Vacancy ?? (0, 0);
        var request = new TableModRequest(mod.TableId, config, (mod.Config & Ofp14TableMod.ConfigEviction) != 0, flags,
                                          (mod.Config & Ofp14TableMod.ConfigVacancyEvents) != 0, down, up);
        Check(c, ctx.Switch.TableMod(request, c.Controller), msg, RefusedRequest.TableMod);
    }

    /// <summary>TABLE_MOD: decoded here; the table and the config are the switch's to judge (<see cref="OfSwitch.TableMod"/>).</summary>
    public void TableMod(OfConnection c, ReadOnlySpan<byte> msg)
    {
        Ofp13TableMod mod = default;
        if (!mod.TryDecode(msg, out var err)) { Error(c, err, msg); return; }
        Check(c, ctx.Switch.TableMod(new TableModRequest(mod.TableId, TableConfigMap.ToModel(mod.Config)), c.Controller), msg, RefusedRequest.TableMod);
    }

    public void QueueGetConfig(OfConnection c, ReadOnlySpan<byte> msg, uint xid)
    {
        Ofp13QueueGetConfigRequest request = default;
        if (!request.TryDecode(msg, out var err)) { Error(c, err, msg); return; }
        uint port = request.Port;
        var queues = new List<OfQueueConfig>();
        if (!Check(c, ctx.Switch.QueueConfig(port, queues), msg)) return;
        var wire = new (uint, uint, ushort?, ushort?)[queues.Count];
        for (int i = 0; i < wire.Length; i++) wire[i] = (queues[i].QueueId, port, queues[i].MinPermille, queues[i].MaxPermille);
        c.SendRaw(Ofp13Messages.QueueGetConfigReply(c.Version, xid, port, wire));
    }

    public void RoleRequest(OfConnection c, ReadOnlySpan<byte> msg, uint xid)
    {
        Ofp13RoleRequest request = default;
        if (!request.TryDecode(msg, out var err)) { Error(c, err, msg); return; }
        (uint role, ulong generation) = (request.Role, request.GenerationId);
        OfRole? want = null; // OFPCR_ROLE_NOCHANGE
        if (role != RoleMap.NoChange)
        {
            if (!RoleMap.TryToModel(role, out var r)) { Error(c, new Ofp13Error(Ofp13ErrorType.RoleRequestFailed, Ofp13Codes.RoleBadRole), msg); return; }
            want = r;
        }
        var before = c.Controller.Role;
        if (!Check(c, ctx.Switch.Roles.Request(c.Controller, want, generation), msg)) return;
        c.SendRaw(Ofp13Messages.RoleReply(c.Version, xid, RoleMap.ToWire(c.Controller.Role), ctx.Switch.Roles.GenerationId));
        if (c.Controller.Role != before) c.ReportRoleChange();
    }

    public void GetAsync(OfConnection c, ReadOnlySpan<byte> msg, uint xid)
    {
        if (msg.Length != Ofp13Messages.HeaderSize) { Error(c, Ofp13Error.BadLength, msg); return; }
        var a = c.Controller.Async;
        ReadOnlySpan<uint> masks =
        [
            WireMap.AsyncMaskToWire(OfAsyncKind.PacketIn, a.PacketInMaster), WireMap.AsyncMaskToWire(OfAsyncKind.PacketIn, a.PacketInSlave),
            WireMap.AsyncMaskToWire(OfAsyncKind.PortStatus, a.PortStatusMaster), WireMap.AsyncMaskToWire(OfAsyncKind.PortStatus, a.PortStatusSlave),
            WireMap.AsyncMaskToWire(OfAsyncKind.FlowRemoved, a.FlowRemovedMaster), WireMap.AsyncMaskToWire(OfAsyncKind.FlowRemoved, a.FlowRemovedSlave),
        ];
        c.SendRaw(Ofp13Messages.AsyncReply(c.Version, xid, masks));
    }

    [ThreadStatic] private static Ofp14AsyncConfig? s_async14;

    /// <summary>
    /// GET_ASYNC_REPLY of OpenFlow 1.4 and later: every OFPACPT_* property, the packet-in, port-status and flow-removed
    /// masks from the controller's configuration, the role-status, table-status and request-forward ones as SET_ASYNC
    /// left them on this connection.
    /// </summary>
    public void GetAsync14(OfConnection c, ReadOnlySpan<byte> msg, uint xid)
    {
        if (msg.Length != Ofp13Messages.HeaderSize) { Error(c, Ofp13Error.BadLength, msg); return; }
        var a = c.Controller.Async;
        byte v = c.Version;
        var reply = new Ofp14AsyncConfig { Version = v, Xid = xid, Type = Ofp13Type.GetAsyncReply };
        reply.Set(Ofp14AsyncProp.PacketInMaster, WireMap.AsyncMaskToWire(OfAsyncKind.PacketIn, a.PacketInMaster, v));
        reply.Set(Ofp14AsyncProp.PacketInSlave, WireMap.AsyncMaskToWire(OfAsyncKind.PacketIn, a.PacketInSlave, v));
        reply.Set(Ofp14AsyncProp.PortStatusMaster, WireMap.AsyncMaskToWire(OfAsyncKind.PortStatus, a.PortStatusMaster, v));
        reply.Set(Ofp14AsyncProp.PortStatusSlave, WireMap.AsyncMaskToWire(OfAsyncKind.PortStatus, a.PortStatusSlave, v));
        reply.Set(Ofp14AsyncProp.FlowRemovedMaster, WireMap.AsyncMaskToWire(OfAsyncKind.FlowRemoved, a.FlowRemovedMaster, v));
        reply.Set(Ofp14AsyncProp.FlowRemovedSlave, WireMap.AsyncMaskToWire(OfAsyncKind.FlowRemoved, a.FlowRemovedSlave, v));
        for (var p = Ofp14AsyncProp.RoleStatusSlave; p <= Ofp14AsyncProp.RequestForwardMaster; p++) reply.Set(p, c.Async14Masks[p - Ofp14AsyncProp.RoleStatusSlave]);
        if (Ofp15.Serves(v))
        {
            reply.Set(Ofp14AsyncProp.ContStatusSlave, c.ContStatusMasks[0]);
            reply.Set(Ofp14AsyncProp.ContStatusMaster, c.ContStatusMasks[1]);
        }
        c.SendRaw(reply.Encode());
    }

    /// <summary>
    /// SET_ASYNC of OpenFlow 1.4 and later: the masks it names change, the others stay (Open vSwitch's basis). The
    /// role-status, table-status and request-forward masks are kept on the connection: TABLE_STATUS goes where its
    /// table-status mask has the reason's bit (none by default, as Open vSwitch's ofputil_async_cfg_default); the
    /// switch sends ROLE_STATUS whatever they say, as Open vSwitch does; a GROUP_MOD or METER_MOD is forwarded where the
    /// request-forward mask asks. Under 1.5 the controller-status masks too (OFPT_CONTROLLER_STATUS where they ask).
    /// </summary>
    public void SetAsync14(OfConnection c, ReadOnlySpan<byte> msg)
    {
        var m = s_async14 ??= new Ofp14AsyncConfig();
        if (!m.TryDecode(msg, out var err)) { Error(c, err, msg); return; }
        SetAsyncProperties(c, m);
    }

    /// <summary>
    /// A property list's masks (1.4's SET_ASYNC, Open vSwitch's NXT_SET_ASYNC_CONFIG2 under 1.3): the ones it names
    /// change, the others stay; the packet-in, port-status and flow-removed masks in the connection's version's reasons.
    /// </summary>
    private static void SetAsyncProperties(OfConnection c, Ofp14AsyncConfig m)
    {
        byte v = c.Version;
        var a = c.Controller.Async;
        uint Model(Ofp14AsyncProp p, OfAsyncKind kind, uint current) => m.Has(p) ? WireMap.AsyncMaskToOf(kind, m[p], v) : current;
        c.Controller.Async = new OfAsyncConfig(
            Model(Ofp14AsyncProp.PacketInMaster, OfAsyncKind.PacketIn, a.PacketInMaster), Model(Ofp14AsyncProp.PortStatusMaster, OfAsyncKind.PortStatus, a.PortStatusMaster),
            Model(Ofp14AsyncProp.FlowRemovedMaster, OfAsyncKind.FlowRemoved, a.FlowRemovedMaster), Model(Ofp14AsyncProp.PacketInSlave, OfAsyncKind.PacketIn, a.PacketInSlave),
            Model(Ofp14AsyncProp.PortStatusSlave, OfAsyncKind.PortStatus, a.PortStatusSlave), Model(Ofp14AsyncProp.FlowRemovedSlave, OfAsyncKind.FlowRemoved, a.FlowRemovedSlave));
        for (var p = Ofp14AsyncProp.RoleStatusSlave; p <= Ofp14AsyncProp.RequestForwardMaster; p++)
            if (m.Has(p)) c.Async14Masks[p - Ofp14AsyncProp.RoleStatusSlave] = m[p];
        // 1.5's controller-status masks (the decoder takes them in version 6 only).
        if (m.Has(Ofp14AsyncProp.ContStatusSlave)) c.ContStatusMasks[0] = m[Ofp14AsyncProp.ContStatusSlave];
        if (m.Has(Ofp14AsyncProp.ContStatusMaster)) c.ContStatusMasks[1] = m[Ofp14AsyncProp.ContStatusMaster];
        c.AsyncConfigured();
    }

    public void SetAsync(OfConnection c, ReadOnlySpan<byte> msg)
    {
        Ofp13SetAsync m = default;
        if (!m.TryDecode(msg, out var err)) { Error(c, err, msg); return; }
        SetAsyncMasks(c, [m.PacketInMaster, m.PacketInSlave, m.PortStatusMaster, m.PortStatusSlave, m.FlowRemovedMaster, m.FlowRemovedSlave]);
    }

    /// <summary>
    /// The six masks of 1.3's SET_ASYNC or Open vSwitch's NXT_SET_ASYNC_CONFIG (packet-in, port-status, flow-removed;
    /// master then slave of each), in the connection's version's reasons (bits of none dropped: Open vSwitch's decode is
    /// loose here). As Open vSwitch's decode_legacy_async_masks, everything else starts over from nothing: the
    /// role-status, table-status, request-forward and controller-status masks are cleared.
    /// </summary>
    private static void SetAsyncMasks(OfConnection c, ReadOnlySpan<uint> m)
    {
        byte v = c.Version;
        // The masks' bits are wire reasons: a removal is selected by the reason it is sent with.
        c.Controller.Async = new OfAsyncConfig(
            WireMap.AsyncMaskToOf(OfAsyncKind.PacketIn, m[0], v), WireMap.AsyncMaskToOf(OfAsyncKind.PortStatus, m[2], v),
            WireMap.AsyncMaskToOf(OfAsyncKind.FlowRemoved, m[4], v), WireMap.AsyncMaskToOf(OfAsyncKind.PacketIn, m[1], v),
            WireMap.AsyncMaskToOf(OfAsyncKind.PortStatus, m[3], v), WireMap.AsyncMaskToOf(OfAsyncKind.FlowRemoved, m[5], v));
        Array.Clear(c.Async14Masks);
        Array.Clear(c.ContStatusMasks);
        c.AsyncConfigured();
    }

    /// <summary>
    /// Open vSwitch's NXT_SET_ASYNC_CONFIG (any version from 1.3: the six masks of 1.3's SET_ASYNC, as the version reads
    /// them; a body other than 24 bytes BAD_LEN) and NXT_SET_ASYNC_CONFIG2 (1.3: 1.4's property list, 1.3's packet-in
    /// reasons; refusals as Open vSwitch writes them under 1.3: OFPACFC_INVALID and _UNSUPPORTED as ONF1.3 experimenter
    /// errors 2370 and 2371, a property's bad length OF1.3(13,3)).
    /// </summary>
    public void NxSetAsync(OfConnection c, ReadOnlySpan<byte> msg, uint subtype)
    {
        if (subtype == NxAsyncConfig.SetAsyncConfig)
        {
            Span<uint> masks = stackalloc uint[6];
            if (!NxAsyncConfig.TryDecodeSetAsyncConfig(msg, masks, out var error)) Error(c, error, msg);
            else SetAsyncMasks(c, masks);
            return;
        }
        var m = s_async14 ??= new Ofp14AsyncConfig();
        if (NxAsyncConfig.TryDecodeSetAsyncConfig2(msg, m, out var err))
        {
            SetAsyncProperties(c, m);
            return;
        }
        ctx.SendError(c, NxAsyncConfig.ErrorReply13(c.Version, err, msg), err, msg);
    }
}
