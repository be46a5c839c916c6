using Softswitch.OfWire;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of14;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of13.Translate;

/// <summary>The kind of request a refusal answers, where OpenFlow 1.3 answers one refusal with different errors.</summary>
internal enum RefusedRequest : byte
{
    Other,
    FlowMod,
    TableMod,
}

/// <summary>
/// The one place where OpenFlow 1.3 wire values meet the OpenFlow layer's own, besides the per-value tables
/// (<see cref="FlowModCommandMap"/> and its neighbours): the 1.3 error each of the switch's refusals is answered with,
/// the packet-in, flow-removed and port-status reasons, and the asynchronous-message masks (the 1.3 side of
/// <see cref="Of10.Translate.WireMap"/>).
/// </summary>
/// <remarks>Stateless; explicit tables of named pairs, never numbers cast between versions.</remarks>
internal static class WireMap
{
    // ================================================================ errors

    /// <summary>The 1.3 error for a refusal of the switch of <paramref name="request"/> (a bad table's error type differs by request).</summary>
    public static Ofp13Error ToWire(OfError e, RefusedRequest request = RefusedRequest.Other) => e switch
    {
        OfError.BufferEmpty => Ofp13Error.BadRequest(Ofp13Codes.BufferEmpty),
        OfError.BufferUnknown => Ofp13Error.BadRequest(Ofp13Codes.BufferUnknown),
        OfError.BadPacketLength => Ofp13Error.BadRequest(Ofp13Codes.BadPacket),
        OfError.BadTableId => request switch
        {
            RefusedRequest.FlowMod => Ofp13Error.FlowModFailed(Ofp13Codes.FlowModBadTableId),
            RefusedRequest.TableMod => new(Ofp13ErrorType.TableModFailed, Ofp13Codes.TableModBadTable),
            _ => Ofp13Error.BadRequest(Ofp13Codes.BadTableId),
        },
        OfError.BadTableConfig => new(Ofp13ErrorType.TableModFailed, Ofp13Codes.TableModBadConfig),
        OfError.IsSlave => Ofp13Error.BadRequest(Ofp13Codes.IsSlave),
        OfError.BadPort => Ofp13Error.BadRequest(Ofp13Codes.BadPort),
        OfError.UnsupportedField => Ofp13Error.BadMatch(Ofp13Codes.MatchBadField),
        OfError.UnsupportedMask => Ofp13Error.BadMatch(Ofp13Codes.MatchBadMask),
        OfError.BadMatchPort => Ofp13Error.BadMatch(Ofp13Codes.MatchBadValue),
        OfError.BadOutPort => Ofp13Error.BadAction(Ofp13Codes.ActionBadOutPort),
        OfError.BadQueue => Ofp13Error.BadAction(Ofp13Codes.ActionBadQueue),
        OfError.BadActionType => Ofp13Error.BadAction(Ofp13Codes.ActionBadType),
        OfError.BadArgument => Ofp13Error.BadAction(Ofp13Codes.ActionBadArgument),
        OfError.BadConjunction => new Ofp13Error(Ofp13ErrorType.Experimenter, NxAction.BadConjunctionExpCode),
        OfError.UnsupportedInstruction => Ofp13Error.BadInstruction(Ofp13Codes.InstUnsupported),
        OfError.BadGotoTable => Ofp13Error.BadInstruction(Ofp13Codes.InstBadTableId),
        OfError.TableFull => Ofp13Error.FlowModFailed(Ofp13Codes.FlowModTableFull),
        OfError.Overlap => Ofp13Error.FlowModFailed(Ofp13Codes.FlowModOverlap),
        OfError.BadEmergencyTimeout => Ofp13Error.FlowModFailed(Ofp13Codes.FlowModBadTimeout),
        OfError.BadCommand => Ofp13Error.FlowModFailed(Ofp13Codes.FlowModBadCommand),
        OfError.PortModBadPort => new(Ofp13ErrorType.PortModFailed, Ofp13Codes.PortModBadPort),
        OfError.PortModBadHwAddr => new(Ofp13ErrorType.PortModFailed, Ofp13Codes.PortModBadHwAddr),
        OfError.QueueBadPort => new(Ofp13ErrorType.QueueOpFailed, Ofp13Codes.QueueBadPort),
        OfError.QueueBadQueue => new(Ofp13ErrorType.QueueOpFailed, Ofp13Codes.QueueBadQueue),
        OfError.StaleRole => new(Ofp13ErrorType.RoleRequestFailed, Ofp13Codes.RoleStale),
        OfError.BadOutGroup => Ofp13Error.BadAction(Ofp13Codes.ActionBadOutGroup),
        OfError.GroupExists => Ofp13Error.GroupModFailed(Ofp13Codes.GroupExists),
        OfError.InvalidGroup => Ofp13Error.GroupModFailed(Ofp13Codes.GroupInvalid),
        OfError.UnknownGroup => Ofp13Error.GroupModFailed(Ofp13Codes.GroupUnknown),
        OfError.GroupLoop => Ofp13Error.GroupModFailed(Ofp13Codes.GroupLoop),
        OfError.WatchUnsupported => Ofp13Error.GroupModFailed(Ofp13Codes.GroupWatchUnsupported),
        OfError.BadWatch => Ofp13Error.GroupModFailed(Ofp13Codes.GroupBadWatch),
        OfError.OutOfGroups => Ofp13Error.GroupModFailed(Ofp13Codes.GroupOutOfGroups),
        OfError.OutOfBuckets => Ofp13Error.GroupModFailed(Ofp13Codes.GroupOutOfBuckets),
        OfError.BadGroupType => Ofp13Error.GroupModFailed(Ofp13Codes.GroupBadType),
        OfError.BadGroupCommand => Ofp13Error.GroupModFailed(Ofp13Codes.GroupBadCommand),
        OfError.ChainTooDeep => Ofp13Error.GroupModFailed(Ofp13Codes.GroupChainingUnsupported),
        OfError.UnknownBucket => Ofp13Error.GroupModFailed(OfWire.Of15.Ofp15.GroupUnknownBucket),
        OfError.BucketExists => Ofp13Error.GroupModFailed(OfWire.Of15.Ofp15.GroupBucketExists),
        OfError.InvalidMeter => Ofp13Error.MeterModFailed(Ofp13Codes.MeterInvalid),
        OfError.MeterExists => Ofp13Error.MeterModFailed(Ofp13Codes.MeterExists),
        OfError.UnknownMeter => Ofp13Error.MeterModFailed(Ofp13Codes.MeterUnknownMeter),
        OfError.BadMeterCommand => Ofp13Error.MeterModFailed(Ofp13Codes.MeterBadCommand),
        OfError.BadMeterFlags => Ofp13Error.MeterModFailed(Ofp13Codes.MeterBadFlags),
        OfError.BadMeterRate => Ofp13Error.MeterModFailed(Ofp13Codes.MeterBadRate),
        OfError.BadMeterBurst => Ofp13Error.MeterModFailed(Ofp13Codes.MeterBadBurst),
        OfError.BadMeterBand => Ofp13Error.MeterModFailed(Ofp13Codes.MeterBadBand),
        OfError.BadMeterBandValue => Ofp13Error.MeterModFailed(Ofp13Codes.MeterBadBandValue),
        OfError.OutOfMeters => Ofp13Error.MeterModFailed(Ofp13Codes.MeterOutOfMeters),
        OfError.OutOfBands => Ofp13Error.MeterModFailed(Ofp13Codes.MeterOutOfBands),
        _ => Ofp13Error.BadRequest(Ofp13Codes.RequestEperm),
    };

    /// <summary>The 1.3 error of an OXM match the translator refused.</summary>
    public static Ofp13Error ToWire(OxmProblem p) => p switch
    {
        OxmProblem.BadPrereq => Ofp13Error.BadMatch(Ofp13Codes.MatchBadPrereq),
        OxmProblem.BadValue => Ofp13Error.BadMatch(Ofp13Codes.MatchBadValue),
        OxmProblem.DupField => Ofp13Error.BadMatch(Ofp13Codes.MatchDupField),
        _ => Ofp13Error.BadMatch(Ofp13Codes.MatchBadField),
    };

    // ================================================================ reasons and async masks

    /// <summary>
    /// OFPR_* of OpenFlow 1.3's async masks, a row per model reason: a table-miss flow entry's output is OFPR_NO_MATCH.
    /// 1.4's action-set, group and packet-out reasons have no bit here: as Open vSwitch's decode_async_mask (masks of
    /// OFPR10_BITS before 1.4), a 1.3 SET_ASYNC turns them off whatever it says, and GET_ASYNC shows OFPR_ACTION's bit
    /// for OFPR_ACTION alone.
    /// </summary>
    private static readonly (OfPacketInReason Model, byte Wire)[] s_packetInMask =
    [
        (OfPacketInReason.NoMatch, 0), (OfPacketInReason.ExplicitMiss, 0), (OfPacketInReason.Action, 1), (OfPacketInReason.InvalidTtl, 2),
    ];

    /// <summary>What a PACKET_IN of OpenFlow 1.3 says: 1.4's refinements of OFPR_ACTION are OFPR_ACTION (Open vSwitch's encode_packet_in_reason).</summary>
    private static readonly (OfPacketInReason Model, byte Wire)[] s_packetInReasons =
    [
        .. s_packetInMask, (OfPacketInReason.ActionSet, 1), (OfPacketInReason.Group, 1), (OfPacketInReason.PacketOut, 1),
    ];

    /// <summary>OFPR_* of OpenFlow 1.4 and 1.5 (PACKET_IN and the async masks): OFPR_ACTION_SET (3), OFPR_GROUP (4), OFPR_PACKET_OUT (5).</summary>
    private static readonly (OfPacketInReason Model, byte Wire)[] s_packetInReasons14 =
    [
        .. s_packetInMask, (OfPacketInReason.ActionSet, 3), (OfPacketInReason.Group, 4), (OfPacketInReason.PacketOut, 5),
    ];

    /// <summary>
    /// OFPRR_* of OpenFlow 1.3, a row per model reason: a meter's removal is DELETE (OpenFlow 1.3 has no METER_DELETE;
    /// Open vSwitch does the same; 1.4's table below names it). An eviction has no row: Open vSwitch's 1.0 and 1.3
    /// connections do not take it (their default flow-removed masks leave OFPRR_EVICTION out), and neither do ours.
    /// </summary>
    private static readonly (OfFlowRemovedReason Model, byte Wire)[] s_flowRemovedReasons =
    [
        (OfFlowRemovedReason.IdleTimeout, 0), (OfFlowRemovedReason.HardTimeout, 1), (OfFlowRemovedReason.Delete, 2),
        (OfFlowRemovedReason.MeterDelete, 2), (OfFlowRemovedReason.GroupDelete, 3),
    ];

    /// <summary>OFPRR_* of OpenFlow 1.4 and 1.5, which name a meter's removal (OFPRR_METER_DELETE, 4) and an eviction (OFPRR_EVICTION, 5).</summary>
    private static readonly (OfFlowRemovedReason Model, byte Wire)[] s_flowRemovedReasons14 =
    [
        (OfFlowRemovedReason.IdleTimeout, 0), (OfFlowRemovedReason.HardTimeout, 1), (OfFlowRemovedReason.Delete, 2),
        (OfFlowRemovedReason.GroupDelete, 3), (OfFlowRemovedReason.MeterDelete, 4), (OfFlowRemovedReason.Eviction, 5),
    ];

    private static (OfFlowRemovedReason Model, byte Wire)[] FlowRemovedReasons(byte version)
        => version >= Ofp13.Version14 ? s_flowRemovedReasons14 : s_flowRemovedReasons;

    /// <summary>OFPPR_* of OpenFlow 1.3, a row per model reason.</summary>
    private static readonly (OfPortReason Model, byte Wire)[] s_portReasons =
    [
        (OfPortReason.Add, 0), (OfPortReason.Delete, 1), (OfPortReason.Modify, 2),
    ];

    private static byte Wire<T>((T Model, byte Wire)[] table, T r) where T : struct, Enum
    {
        foreach (var row in table)
            if (EqualityComparer<T>.Default.Equals(row.Model, r)) return row.Wire;
        throw new ArgumentOutOfRangeException(nameof(r), r, "a reason without a wire value");
    }

    /// <summary>The OFPR_* of <paramref name="version"/> (1.3's unless given) a packet-in of <paramref name="r"/> is sent with.</summary>
    public static byte ToWire(OfPacketInReason r, byte version = Ofp13.Version) => Wire(version >= Ofp13.Version14 ? s_packetInReasons14 : s_packetInReasons, r);

    /// <summary>
    /// A flow monitor's removal reason: <paramref name="version"/>'s OFPRR_*, and OFPRR_EVICTION (5) for an eviction in
    /// 1.3's ONF extension too, as Open vSwitch's flow updates carry the reason as it is.
    /// </summary>
    public static byte FlowUpdateReason(OfFlowRemovedReason r, byte version)
        => r == OfFlowRemovedReason.Eviction ? Wire(s_flowRemovedReasons14, r) : ToWire(r, version);

    /// <summary>The OFPRR_* of <paramref name="version"/> (1.3's unless given) that <paramref name="r"/> is sent with.</summary>
    public static byte ToWire(OfFlowRemovedReason r, byte version = Ofp13.Version) => Wire(FlowRemovedReasons(version), r);

    public static byte ToWire(OfPortReason r) => Wire(s_portReasons, r);

    /// <summary>OFPTR_* of OpenFlow 1.4 (TABLE_STATUS's reason, and its bit in the table-status masks).</summary>
    public static byte ToWire(OfTableStatusReason r) => r == OfTableStatusReason.VacancyDown ? Ofp14Messages.TableReasonVacancyDown : Ofp14Messages.TableReasonVacancyUp;

    /// <summary>
    /// A SET_ASYNC mask of <paramref name="kind"/> (bits of wire reasons) as the model's mask: every model reason sent
    /// with a wire reason whose bit is set (DELETE selects a meter's removals too). Bits of no reason are dropped, as
    /// Open vSwitch drops them. The wire reasons are <paramref name="version"/>'s (1.3's unless given).
    /// </summary>
    public static uint AsyncMaskToOf(OfAsyncKind kind, uint wire, byte version = Ofp13.Version) => kind switch
    {
        OfAsyncKind.PacketIn => ToOf(PacketInMask(version), wire, OfAsyncConfig.Bit),
        OfAsyncKind.PortStatus => ToOf(s_portReasons, wire, OfAsyncConfig.Bit),
        _ => ToOf(FlowRemovedReasons(version), wire, OfAsyncConfig.Bit),
    };

    /// <summary>A model mask of <paramref name="kind"/> as GET_ASYNC shows it: the bit of every wire reason a selected model reason is sent with.</summary>
    public static uint AsyncMaskToWire(OfAsyncKind kind, uint model, byte version = Ofp13.Version) => kind switch
    {
        OfAsyncKind.PacketIn => ToWire(PacketInMask(version), model, OfAsyncConfig.Bit),
        OfAsyncKind.PortStatus => ToWire(s_portReasons, model, OfAsyncConfig.Bit),
        _ => ToWire(FlowRemovedReasons(version), model, OfAsyncConfig.Bit),
    };

    private static (OfPacketInReason Model, byte Wire)[] PacketInMask(byte version) => version >= Ofp13.Version14 ? s_packetInReasons14 : s_packetInMask;

    private static uint ToOf<T>((T Model, byte Wire)[] table, uint wire, Func<T, uint> bit)
    {
        uint model = 0;
        foreach (var row in table)
            if ((wire & (1u << row.Wire)) != 0) model |= bit(row.Model);
        return model;
    }

    private static uint ToWire<T>((T Model, byte Wire)[] table, uint model, Func<T, uint> bit)
    {
        uint wire = 0;
        foreach (var row in table)
            if ((model & bit(row.Model)) != 0) wire |= 1u << row.Wire;
        return wire;
    }
}
