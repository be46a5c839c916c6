using Softswitch.OfWire.Of14;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of13.Translate;

// One two-way table per OpenFlow 1.3 wire value the model also names: each wire number listed once beside the model
// value it means, so that neither side's numbering is the other's (never an enum cast). A wire value the table does
// not list has no model value (TryToModel is false, or a flag map reports the bits left over); a test holds every
// entry both ways.

/// <summary>ofp_flow_mod_command.</summary>
internal static class FlowModCommandMap
{
    public static readonly (byte Wire, FlowModCommand Model)[] Pairs =
    [
        (0, FlowModCommand.Add), (1, FlowModCommand.Modify), (2, FlowModCommand.ModifyStrict), (3, FlowModCommand.Delete),
        (4, FlowModCommand.DeleteStrict),
    ];

    public static bool TryToModel(byte wire, out FlowModCommand model) => Maps.TryFind(Pairs, wire, out model);
}

/// <summary>
/// ofp_flow_mod_flags (OFPFF_*), bit by bit. SEND_FLOW_REM, CHECK_OVERLAP and RESET_COUNTS are the switch's; NO_PKT_COUNTS
/// and NO_BYT_COUNTS are accepted and counting goes on (as Open vSwitch: counters cost nothing extra here).
/// </summary>
internal static class FlowModFlagsMap
{
    public static readonly (ushort Wire, FlowModFlags Model)[] Pairs =
    [
        (1, FlowModFlags.SendFlowRemoved), (2, FlowModFlags.CheckOverlap), (4, FlowModFlags.ResetCounts),
        (8, FlowModFlags.NoPacketCounts), (16, FlowModFlags.NoByteCounts),
    ];

    /// <summary>Every bit 1.3 names (a flow-mod with another is BAD_FLAGS).</summary>
    public static readonly uint Bits = Maps.WireBits(Pairs);

    /// <summary>The model's flags of the bits 1.3 names (others are the caller's to refuse).</summary>
    public static FlowModFlags ToModel(ushort wire)
    {
        var model = FlowModFlags.None;
        foreach (var (w, m) in Pairs)
        {
            if ((wire & w) != 0) model |= m;
        }
        return model;
    }

    /// <summary>The wire bits of <paramref name="model"/>; flags 1.3 has no bit for (OpenFlow 1.0's emergency) are dropped.</summary>
    public static ushort ToWire(FlowModFlags model)
    {
        uint wire = 0;
        foreach (var (w, m) in Pairs)
        {
            if ((model & m) != 0) wire |= w;
        }
        return (ushort)wire;
    }
}

/// <summary>
/// ofp_table_config of 1.3: OFPTC_DEPRECATED_MASK (3) only, whose bits OpenFlow 1.3.5 deprecates (a table's miss is
/// its table-miss flow entry's): they configure nothing. Any other bit is one the switch does not support.
/// </summary>
internal static class TableConfigMap
{
    public const uint DeprecatedMask = 3;

    /// <summary>The config bits OpenFlow 1.4 adds (OFPTC_EVICTION, OFPTC_VACANCY_EVENTS), which a 1.4 TABLE_MOD sets one by one.</summary>
    public const uint Of14Mask = Ofp14TableMod.ConfigEviction | Ofp14TableMod.ConfigVacancyEvents;

    public static OfTableConfig ToModel(uint wire) => (wire & ~DeprecatedMask) != 0 ? OfTableConfig.Unrecognised : OfTableConfig.None;
}

/// <summary>ofp_controller_role (OFPCR_ROLE_*); NOCHANGE (0) asks for none and is the caller's.</summary>
internal static class RoleMap
{
    public const uint NoChange = 0;

    public static readonly (uint Wire, OfRole Model)[] Pairs = [(1, OfRole.Equal), (2, OfRole.Master), (3, OfRole.Slave)];

    public static bool TryToModel(uint wire, out OfRole model) => Maps.TryFind(Pairs, wire, out model);

    public static uint ToWire(OfRole model) => Maps.Wire(Pairs, model);
}

/// <summary>ofp_group_mod_command.</summary>
internal static class GroupModCommandMap
{
    public static readonly (ushort Wire, GroupModCommand Model)[] Pairs = [(0, GroupModCommand.Add), (1, GroupModCommand.Modify), (2, GroupModCommand.Delete)];

    public static bool TryToModel(ushort wire, out GroupModCommand model) => Maps.TryFind(Pairs, wire, out model);
}

/// <summary>ofp_group_type.</summary>
internal static class GroupTypeMap
{
    public static readonly (byte Wire, OfGroupType Model)[] Pairs =
        [(0, OfGroupType.All), (1, OfGroupType.Select), (2, OfGroupType.Indirect), (3, OfGroupType.FastFailover)];

    public static bool TryToModel(byte wire, out OfGroupType model) => Maps.TryFind(Pairs, wire, out model);

    public static byte ToWire(OfGroupType model) => Maps.Wire(Pairs, model);
}

/// <summary>ofp_meter_mod_command.</summary>
internal static class MeterModCommandMap
{
    public static readonly (ushort Wire, MeterModCommand Model)[] Pairs = [(0, MeterModCommand.Add), (1, MeterModCommand.Modify), (2, MeterModCommand.Delete)];

    public static bool TryToModel(ushort wire, out MeterModCommand model) => Maps.TryFind(Pairs, wire, out model);
}

/// <summary>ofp_meter_band_type (OFPMBT_DROP, OFPMBT_DSCP_REMARK, OFPMBT_EXPERIMENTER).</summary>
internal static class MeterBandTypeMap
{
    public static readonly (ushort Wire, OfMeterBandType Model)[] Pairs =
        [(1, OfMeterBandType.Drop), (2, OfMeterBandType.DscpRemark), (0xffff, OfMeterBandType.Experimenter)];

    /// <summary>The model's band type; <see cref="OfMeterBandType.Unknown"/> for a type 1.3 does not name (the switch refuses it).</summary>
    public static OfMeterBandType ToModel(ushort wire) => Maps.TryFind(Pairs, wire, out var model) ? model : OfMeterBandType.Unknown;

    public static ushort ToWire(OfMeterBandType model) => Maps.Wire(Pairs, model);

    /// <summary>METER_FEATURES' band_types: the bit 1 &lt;&lt; OFPMBT_* of each type (every one the switch supports has a number below 32).</summary>
    public static uint ToWireBitmap(IReadOnlyList<OfMeterBandType> types)
    {
        uint bits = 0;
        foreach (var t in types) bits |= 1u << ToWire(t);
        return bits;
    }
}

/// <summary>ofp_meter_flags (OFPMF_*), bit by bit; also METER_FEATURES' capabilities.</summary>
internal static class MeterFlagsMap
{
    public static readonly (ushort Wire, OfMeterFlags Model)[] Pairs =
        [(1, OfMeterFlags.Kbps), (2, OfMeterFlags.Pktps), (4, OfMeterFlags.Burst), (8, OfMeterFlags.Stats)];

    /// <summary>The model's flags; a bit 1.3 does not name becomes <see cref="OfMeterFlags.Unrecognised"/> (the switch refuses it).</summary>
    public static OfMeterFlags ToModel(ushort wire)
    {
        var model = OfMeterFlags.None;
        foreach (var (w, m) in Pairs)
        {
            if ((wire & w) != 0) model |= m;
        }
        return (wire & ~Maps.WireBits(Pairs)) != 0 ? model | OfMeterFlags.Unrecognised : model;
    }

    public static ushort ToWire(OfMeterFlags model)
    {
        uint wire = 0;
        foreach (var (w, m) in Pairs)
        {
            if ((model & m) != 0) wire |= w;
        }
        return (ushort)wire;
    }
}

/// <summary>ofp_port_config of 1.3 (OFPPC_PORT_DOWN, NO_RECV, NO_FWD, NO_PACKET_IN; 1.0's NO_STP, NO_RECV_STP and NO_FLOOD are gone).</summary>
internal static class PortConfigMap
{
    public static readonly (uint Wire, OfPortConfig Model)[] Pairs =
        [(1, OfPortConfig.PortDown), (4, OfPortConfig.NoRecv), (32, OfPortConfig.NoFwd), (64, OfPortConfig.NoPacketIn)];

    /// <summary>Every bit 1.3 names.</summary>
    public static readonly uint Bits = Maps.WireBits(Pairs);

    /// <summary>The model's config of the bits 1.3 names (others are the caller's to refuse).</summary>
    public static OfPortConfig ToModel(uint wire)
    {
        var model = OfPortConfig.None;
        foreach (var (w, m) in Pairs)
        {
            if ((wire & w) != 0) model |= m;
        }
        return model;
    }

    public static uint ToWire(OfPortConfig model)
    {
        uint wire = 0;
        foreach (var (w, m) in Pairs)
        {
            if ((model & m) != 0) wire |= w;
        }
        return wire;
    }
}

/// <summary>ofp_port_features (OFPPF_*) as far as the model names them.</summary>
internal static class PortFeaturesMap
{
    public static readonly (uint Wire, OfPortFeatures Model)[] Pairs =
    [
        (1 << 0, OfPortFeatures.Rate10MbHd), (1 << 1, OfPortFeatures.Rate10MbFd), (1 << 2, OfPortFeatures.Rate100MbHd),
        (1 << 3, OfPortFeatures.Rate100MbFd), (1 << 4, OfPortFeatures.Rate1GbHd), (1 << 5, OfPortFeatures.Rate1GbFd),
        (1 << 6, OfPortFeatures.Rate10GbFd), (1 << 11, OfPortFeatures.Copper), (1 << 12, OfPortFeatures.Fiber),
        (1 << 13, OfPortFeatures.Autoneg), (1 << 14, OfPortFeatures.Pause), (1 << 15, OfPortFeatures.PauseAsym),
    ];

    public static uint ToWire(OfPortFeatures model)
    {
        uint wire = 0;
        foreach (var (w, m) in Pairs)
        {
            if ((model & m) != 0) wire |= w;
        }
        return wire;
    }
}

internal static class Maps
{
    public static bool TryFind<TWire, TModel>((TWire Wire, TModel Model)[] pairs, TWire wire, out TModel model)
        where TWire : struct, IEquatable<TWire> where TModel : struct, Enum
    {
        foreach (var p in pairs)
        {
            if (p.Wire.Equals(wire))
            {
                model = p.Model;
                return true;
            }
        }
        model = default;
        return false;
    }

    /// <summary>The wire number of a model value the table lists (every value the switch reports is listed; a test holds it).</summary>
    public static TWire Wire<TWire, TModel>((TWire Wire, TModel Model)[] pairs, TModel model)
        where TWire : struct where TModel : struct, Enum
    {
        foreach (var p in pairs)
        {
            if (EqualityComparer<TModel>.Default.Equals(p.Model, model)) return p.Wire;
        }
        throw new ArgumentOutOfRangeException(nameof(model), model, "no OpenFlow 1.3 wire value");
    }

    public static uint WireBits<TModel>((ushort Wire, TModel Model)[] pairs)
    {
        uint bits = 0;
        foreach (var p in pairs) bits |= p.Wire;
        return bits;
    }

    public static uint WireBits<TModel>((uint Wire, TModel Model)[] pairs)
    {
        uint bits = 0;
        foreach (var p in pairs) bits |= p.Wire;
        return bits;
    }
}

/// <summary>OFPTMPEF_* of OpenFlow 1.4 (the eviction property's flags), a bit per model flag.</summary>
internal static class EvictionFlagsMap
{
    private static readonly (uint Wire, OfEvictionFlags Model)[] s_bits =
        [(1u << 0, OfEvictionFlags.Other), (1u << 1, OfEvictionFlags.Importance), (1u << 2, OfEvictionFlags.Lifetime)];

    public static uint ToWire(OfEvictionFlags model)
    {
        uint wire = 0;
        foreach (var (w, m) in s_bits)
            if ((model & m) != 0) wire |= w;
        return wire;
    }

    /// <summary>The model's flags of <paramref name="wire"/>; false when it has a bit OpenFlow 1.4 does not define.</summary>
    public static bool TryToModel(uint wire, out OfEvictionFlags model)
    {
        model = OfEvictionFlags.None;
        foreach (var (w, m) in s_bits)
            if ((wire & w) != 0) { model |= m; wire &= ~w; }
        return wire == 0;
    }
}
