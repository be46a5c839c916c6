using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;
using static Softswitch.OfAgent.Of13.Translate.OxmMatchTranslator;

namespace Softswitch.OfAgent.Of13.Translate;

/// <summary>
/// OpenFlow 1.3's wire values to the OpenFlow layer's model and back: actions, instructions, ports, reasons, and the
/// 1.3 error each of the switch's refusals is answered with (the 1.3 side of what <see cref="Of10.Translate.WireMap"/> is for 1.0).
/// </summary>
/// <remarks>Stateless; explicit tables of named pairs, never numbers cast between versions.</remarks>
internal static class Of13Translate
{
    /// <summary>The tables an OpenFlow 1.3 controller may use (features' n_tables, TABLE and TABLE_FEATURES): the switch's limit.</summary>
    public const byte TableCount = OfFlowTables.MaxTables;

    // ================================================================ errors

    /// <summary>The 1.3 error for a refusal of the switch; <paramref name="flowMod"/>: the request was a flow-mod (BAD_TABLE_ID's type differs).</summary>
    public static Ofp13Error ToWire(OfError e, bool flowMod = false) => e switch
    {
        OfError.BufferEmpty => Ofp13Error.BadRequest(Ofp13Codes.BufferEmpty),
        OfError.BufferUnknown => Ofp13Error.BadRequest(Ofp13Codes.BufferUnknown),
        OfError.BadPacketLength => Ofp13Error.BadRequest(Ofp13Codes.BadPacket),
        OfError.BadTableId => flowMod ? Ofp13Error.FlowModFailed(Ofp13Codes.FlowModBadTableId) : Ofp13Error.BadRequest(Ofp13Codes.BadTableId),
        OfError.IsSlave => Ofp13Error.BadRequest(Ofp13Codes.IsSlave),
        OfError.BadPort => Ofp13Error.BadRequest(Ofp13Codes.BadPort),
        OfError.UnsupportedField => Ofp13Error.BadMatch(Ofp13Codes.MatchBadField),
        OfError.UnsupportedMask => Ofp13Error.BadMatch(Ofp13Codes.MatchBadMask),
        OfError.BadMatchPort => Ofp13Error.BadMatch(Ofp13Codes.MatchBadValue),
        OfError.BadOutPort => Ofp13Error.BadAction(Ofp13Codes.ActionBadOutPort),
        OfError.BadQueue => Ofp13Error.BadAction(Ofp13Codes.ActionBadQueue),
        OfError.BadActionType => Ofp13Error.BadAction(Ofp13Codes.ActionBadType),
        OfError.BadArgument => Ofp13Error.BadAction(Ofp13Codes.ActionBadArgument),
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

    // ================================================================ actions

    /// <summary>1.3 actions to the model's; false with the error (a set-field of a field that cannot be set).</summary>
    public static bool TryToOf(ReadOnlySpan<Ofp13Action> wire, out OfAction[] actions, out Ofp13Error error)
    {
        actions = wire.IsEmpty ? [] : new OfAction[wire.Length];
        error = default;
        for (int i = 0; i < wire.Length; i++)
        {
            var a = wire[i];
            OfAction? o = a.Type switch
            {
                Ofp13ActionType.Output => OfAction.Output(a.Arg, a.MaxLen),
                Ofp13ActionType.CopyTtlOut => OfAction.CopyTtlOut(),
                Ofp13ActionType.CopyTtlIn => OfAction.CopyTtlIn(),
                Ofp13ActionType.SetMplsTtl => OfAction.SetMplsTtl((byte)a.Arg),
                Ofp13ActionType.DecMplsTtl => OfAction.DecMplsTtl(),
                Ofp13ActionType.PushVlan => OfAction.PushVlan((ushort)a.Arg),
                Ofp13ActionType.PopVlan => OfAction.PopVlan(),
                Ofp13ActionType.PushMpls => OfAction.PushMpls((ushort)a.Arg),
                Ofp13ActionType.PopMpls => OfAction.PopMpls((ushort)a.Arg),
                Ofp13ActionType.SetQueue => OfAction.SetQueue(a.Arg),
                Ofp13ActionType.Group => OfAction.Group(a.Arg),
                Ofp13ActionType.SetNwTtl => OfAction.SetNwTtl((byte)a.Arg),
                Ofp13ActionType.DecNwTtl => OfAction.DecNwTtl(),
                Ofp13ActionType.PushPbb => OfAction.PushPbb((ushort)a.Arg),
                Ofp13ActionType.PopPbb => OfAction.PopPbb(),
                Ofp13ActionType.SetField => SetField(a.Field),
                _ => null,
            };
            if (o is not { } action)
            {
                error = Ofp13Error.BadAction(a.Type == Ofp13ActionType.SetField ? Ofp13Codes.ActionBadSetType : Ofp13Codes.ActionBadType);
                return false;
            }
            actions[i] = action;
        }
        return true;
    }

    /// <summary>A set-field as the model's action; null for a field no action sets (in_port, in_phy_port, metadata, ipv6_exthdr).</summary>
    private static OfAction? SetField(in Ofp13Oxm f)
    {
        ulong v = (ulong)f.Value;
        return f.Field switch
        {
            EthDst => OfAction.SetEthDst(v),
            EthSrc => OfAction.SetEthSrc(v),
            EthType => OfAction.SetEthType((ushort)v),
            IpProto => OfAction.SetIpProto((byte)v),
            // The value may carry OFPVID_PRESENT (ovs-ofctl sends it, the spec's examples do) or not (Ryu's users often omit it).
            VlanVid => OfAction.SetVlanVid((ushort)(v & 0xfff)),
            VlanPcp => OfAction.SetVlanPcp((byte)v),
            IpDscp => OfAction.SetNwTos((byte)(v << 2)),
            IpEcn => OfAction.SetIpEcn((byte)v),
            Ipv4Src => OfAction.SetNwSrc((uint)v),
            Ipv4Dst => OfAction.SetNwDst((uint)v),
            TcpSrc => OfAction.SetTpSrc((ushort)v, Tcp),
            UdpSrc => OfAction.SetTpSrc((ushort)v, Udp),
            SctpSrc => OfAction.SetTpSrc((ushort)v, Sctp),
            TcpDst => OfAction.SetTpDst((ushort)v, Tcp),
            UdpDst => OfAction.SetTpDst((ushort)v, Udp),
            SctpDst => OfAction.SetTpDst((ushort)v, Sctp),
            Icmpv4Type or Icmpv6Type => OfAction.SetIcmpType((byte)v, f.Field == Icmpv6Type),
            Icmpv4Code or Icmpv6Code => OfAction.SetIcmpCode((byte)v, f.Field == Icmpv6Code),
            ArpOp => OfAction.SetArpOp((ushort)v),
            ArpSpa => OfAction.SetArpSpa((uint)v),
            ArpTpa => OfAction.SetArpTpa((uint)v),
            ArpSha => OfAction.SetArpSha(v),
            ArpTha => OfAction.SetArpTha(v),
            Ipv6Src => OfAction.SetIpv6Src(f.Value),
            Ipv6Dst => OfAction.SetIpv6Dst(f.Value),
            Ipv6Flabel => OfAction.SetIpv6Flabel((uint)v),
            Ipv6NdTarget => OfAction.SetNdTarget(f.Value),
            Ipv6NdSll => OfAction.SetNdSll(v),
            Ipv6NdTll => OfAction.SetNdTll(v),
            MplsLabel => OfAction.SetMplsLabel((uint)v),
            MplsTc => OfAction.SetMplsTc((byte)v),
            MplsBos => OfAction.SetMplsBos((byte)v),
            PbbIsid => OfAction.SetPbbIsid((uint)v),
            TunnelId => OfAction.SetTunnel(v),
            _ => null,
        };
    }

    /// <summary>
    /// The model's actions as 1.3 writes them (flow statistics, group descriptions); <paramref name="ipv6"/>: the flow
    /// matches IPv6, so ICMP type/code are ICMPv6's. OpenFlow 1.0's ENQUEUE is set_queue then output.
    /// </summary>
    public static void ToWire(ReadOnlySpan<OfAction> actions, bool ipv6, List<Ofp13Action> into)
    {
        foreach (var a in actions)
        {
            switch (a.Type)
            {
                case OfActionType.Output: into.Add(Ofp13Action.Output(a.Port, a.MaxLen)); break;
                case OfActionType.Enqueue:
                    into.Add(new(Ofp13ActionType.SetQueue, a.QueueId));
                    into.Add(Ofp13Action.Output(a.Port));
                    break;
                case OfActionType.SetQueue: into.Add(new(Ofp13ActionType.SetQueue, a.QueueId)); break;
                case OfActionType.Group: into.Add(new(Ofp13ActionType.Group, a.QueueId)); break;
                case OfActionType.PopVlan: into.Add(new(Ofp13ActionType.PopVlan)); break;
                case OfActionType.PushVlan: into.Add(new(Ofp13ActionType.PushVlan, (uint)a.Value)); break;
                case OfActionType.PushMpls: into.Add(new(Ofp13ActionType.PushMpls, (uint)a.Value)); break;
                case OfActionType.PopMpls: into.Add(new(Ofp13ActionType.PopMpls, (uint)a.Value)); break;
                case OfActionType.PushPbb: into.Add(new(Ofp13ActionType.PushPbb, (uint)a.Value)); break;
                case OfActionType.PopPbb: into.Add(new(Ofp13ActionType.PopPbb)); break;
                case OfActionType.SetMplsTtl: into.Add(new(Ofp13ActionType.SetMplsTtl, (uint)a.Value)); break;
                case OfActionType.DecMplsTtl: into.Add(new(Ofp13ActionType.DecMplsTtl)); break;
                case OfActionType.SetNwTtl: into.Add(new(Ofp13ActionType.SetNwTtl, (uint)a.Value)); break;
                case OfActionType.DecNwTtl: into.Add(new(Ofp13ActionType.DecNwTtl)); break;
                case OfActionType.CopyTtlOut: into.Add(new(Ofp13ActionType.CopyTtlOut)); break;
                case OfActionType.CopyTtlIn: into.Add(new(Ofp13ActionType.CopyTtlIn)); break;
                default:
                    if (SetFieldOf(a, ipv6) is { } f) into.Add(Ofp13Action.SetField(f));
                    break;
            }
        }
    }

    private static Ofp13Oxm? SetFieldOf(in OfAction a, bool ipv6)
    {
        ulong v = a.Value;
        (byte field, UInt128 value) = a.Type switch
        {
            OfActionType.SetEthDst => (EthDst, v),
            OfActionType.SetEthSrc => (EthSrc, v),
            OfActionType.SetEthType => (EthType, v),
            OfActionType.SetIpProto => (IpProto, v),
            OfActionType.SetVlanVid => (VlanVid, v | Ofp13.VidPresent),
            OfActionType.SetVlanPcp => (VlanPcp, v),
            OfActionType.SetNwTos => (IpDscp, v >> 2),
            OfActionType.SetIpEcn => (IpEcn, v),
            OfActionType.SetNwSrc => (Ipv4Src, v),
            OfActionType.SetNwDst => (Ipv4Dst, v),
            OfActionType.SetTpSrc => (a.TpProto switch { Udp => UdpSrc, Sctp => SctpSrc, _ => TcpSrc }, v),
            OfActionType.SetTpDst => (a.TpProto switch { Udp => UdpDst, Sctp => SctpDst, _ => TcpDst }, v),
            OfActionType.SetIcmpType => (ipv6 || a.IsIcmpv6 ? Icmpv6Type : Icmpv4Type, v),
            OfActionType.SetIcmpCode => (ipv6 || a.IsIcmpv6 ? Icmpv6Code : Icmpv4Code, v),
            OfActionType.SetArpOp => (ArpOp, v),
            OfActionType.SetArpSpa => (ArpSpa, v),
            OfActionType.SetArpTpa => (ArpTpa, v),
            OfActionType.SetArpSha => (ArpSha, v),
            OfActionType.SetArpTha => (ArpTha, v),
            OfActionType.SetIpv6Src => (Ipv6Src, a.Wide),
            OfActionType.SetIpv6Dst => (Ipv6Dst, a.Wide),
            OfActionType.SetIpv6Flabel => (Ipv6Flabel, v),
            OfActionType.SetNdTarget => (Ipv6NdTarget, a.Wide),
            OfActionType.SetNdSll => (Ipv6NdSll, v),
            OfActionType.SetNdTll => (Ipv6NdTll, v),
            OfActionType.SetMplsLabel => (MplsLabel, v),
            OfActionType.SetMplsTc => (MplsTc, v),
            OfActionType.SetMplsBos => (MplsBos, v),
            OfActionType.SetPbbIsid => (PbbIsid, v),
            OfActionType.SetTunnel => (TunnelId, v),
            _ => ((byte)0xff, UInt128.Zero),
        };
        return field == 0xff ? null : Ofp13Oxm.Exact(field, value);
    }

    // ================================================================ ports and reasons

    /// <summary>A port as OpenFlow 1.3 describes it (OFPPS_LIVE while its link is up).</summary>
    public static Ofp13Port ToWire(OfPortDesc p)
    {
        const uint LinkDown = 1, Live = 4;
        uint state = (p.State & OfPortState.LinkDown) != 0 ? LinkDown : Live;
        return new Ofp13Port(p.PortNo, p.HwAddr, p.Name, PortConfigMap.ToWire(p.Config), state, PortFeaturesMap.ToWire(p.Current),
                             PortFeaturesMap.ToWire(p.Advertised), PortFeaturesMap.ToWire(p.Supported), PortFeaturesMap.ToWire(p.Peer),
                             p.CurrentSpeedKbps, p.MaxSpeedKbps);
    }

    // ================================================================ reasons and async masks

    /// <summary>OFPR_* of OpenFlow 1.3, a row per model reason: a table-miss flow entry's output is OFPR_NO_MATCH.</summary>
    private static readonly (OfPacketInReason Model, byte Wire)[] s_packetInReasons =
    [
        (OfPacketInReason.NoMatch, 0), (OfPacketInReason.ExplicitMiss, 0), (OfPacketInReason.Action, 1), (OfPacketInReason.InvalidTtl, 2),
    ];

    /// <summary>OFPRR_* of OpenFlow 1.3, a row per model reason: a meter's removal is DELETE (OpenFlow 1.3 has no METER_DELETE; Open vSwitch does the same).</summary>
    private static readonly (OfFlowRemovedReason Model, byte Wire)[] s_flowRemovedReasons =
    [
        (OfFlowRemovedReason.IdleTimeout, 0), (OfFlowRemovedReason.HardTimeout, 1), (OfFlowRemovedReason.Delete, 2),
        (OfFlowRemovedReason.MeterDelete, 2), (OfFlowRemovedReason.GroupDelete, 3),
    ];

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

    public static byte ToWire(OfPacketInReason r) => Wire(s_packetInReasons, r);

    public static byte ToWire(OfFlowRemovedReason r) => Wire(s_flowRemovedReasons, r);

    public static byte ToWire(OfPortReason r) => Wire(s_portReasons, r);

    /// <summary>
    /// A SET_ASYNC mask of <paramref name="kind"/> (bits of wire reasons) as the model's mask: every model reason sent
    /// with a wire reason whose bit is set (DELETE selects a meter's removals too). Bits of no reason are dropped, as
    /// Open vSwitch drops them.
    /// </summary>
    public static uint AsyncMaskToOf(OfAsyncKind kind, uint wire) => kind switch
    {
        OfAsyncKind.PacketIn => ToOf(s_packetInReasons, wire, OfAsyncConfig.Bit),
        OfAsyncKind.PortStatus => ToOf(s_portReasons, wire, OfAsyncConfig.Bit),
        _ => ToOf(s_flowRemovedReasons, wire, OfAsyncConfig.Bit),
    };

    /// <summary>A model mask of <paramref name="kind"/> as GET_ASYNC shows it: the bit of every wire reason a selected model reason is sent with.</summary>
    public static uint AsyncMaskToWire(OfAsyncKind kind, uint model) => kind switch
    {
        OfAsyncKind.PacketIn => ToWire(s_packetInReasons, model, OfAsyncConfig.Bit),
        OfAsyncKind.PortStatus => ToWire(s_portReasons, model, OfAsyncConfig.Bit),
        _ => ToWire(s_flowRemovedReasons, model, OfAsyncConfig.Bit),
    };

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
