namespace Softswitch.Ofproto;

/// <summary>What a meter-mod does.</summary>
public enum MeterModCommand : byte { Add, Modify, Delete }

/// <summary>
/// A meter band's type, version-independent (each codec maps its own numbers through a table): <see cref="Experimenter"/>
/// and <see cref="Unknown"/> (a number the codec has no name for) are refused.
/// </summary>
public enum OfMeterBandType : byte
{
    Unknown,
    Drop,
    DscpRemark,
    Experimenter,
}

/// <summary>A meter's flags, version-independent (each codec maps its own bits through a table).</summary>
[Flags]
public enum OfMeterFlags : byte
{
    None = 0,
    /// <summary>Rates in kilobits per second (the default when neither unit is given).</summary>
    Kbps = 1 << 0,
    /// <summary>Rates in packets per second.</summary>
    Pktps = 1 << 1,
    /// <summary>Bands' burst sizes apply.</summary>
    Burst = 1 << 2,
    /// <summary>Keep statistics.</summary>
    Stats = 1 << 3,
    /// <summary>A flag the codec could not name: refused.</summary>
    Unrecognised = 1 << 7,
}

/// <summary>A band as a controller gives it and reads it back.</summary>
/// <param name="Type">The band type.</param>
/// <param name="Rate">Kilobits or packets per second.</param>
/// <param name="BurstSize">Kilobits or packets (used with <see cref="OfMeterFlags.Burst"/>).</param>
/// <param name="PrecLevel">DSCP_REMARK: drop-precedence levels to add.</param>
public readonly record struct OfMeterBand(OfMeterBandType Type, uint Rate, uint BurstSize, byte PrecLevel = 0);

/// <summary>A meter-mod, version-independent: what a codec decodes METER_MOD into.</summary>
public readonly record struct MeterModRequest(MeterModCommand Command, OfMeterFlags Flags, uint MeterId, IReadOnlyList<OfMeterBand> Bands)
{
    /// <summary>OFPM_MAX: the highest meter id of a flow meter.</summary>
    public const uint MaxId = 0xffff0000;
    /// <summary>OFPM_SLOWPATH: the meter of the slow datapath.</summary>
    public const uint Slowpath = 0xfffffffd;
    /// <summary>OFPM_CONTROLLER: the meter of packets sent to the controller.</summary>
    public const uint Controller = 0xfffffffe;
    /// <summary>OFPM_ALL: every meter (delete, statistics, configuration).</summary>
    public const uint All = 0xffffffff;
}

/// <summary>A meter as METER_CONFIG reports it: exactly the flags and bands it was given.</summary>
public sealed record OfMeterConfig(uint MeterId, OfMeterFlags Flags, IReadOnlyList<OfMeterBand> Bands);

/// <summary>One band's counters: the packets and bytes it applied to.</summary>
public readonly record struct OfMeterBandStats(ulong Packets, ulong Bytes);

/// <summary>A meter's statistics: the flows that name it, the packets and bytes that entered it, its age, its bands' counters.</summary>
public sealed record OfMeterStats(uint MeterId, uint FlowCount, ulong Packets, ulong Bytes, long DurationNanos, OfMeterBandStats[] Bands);

/// <summary>What the switch's meters can do (METER_FEATURES).</summary>
/// <param name="MaxMeters">The most meters.</param>
/// <param name="BandTypes">The band types a meter may have.</param>
/// <param name="Capabilities">The flags a meter may have (<see cref="OfMeterFlags"/>).</param>
/// <param name="MaxBands">The most bands of one meter.</param>
/// <param name="MaxColor">The most colours a band can mark (0: none).</param>
public readonly record struct OfMeterFeatures(uint MaxMeters, IReadOnlyList<OfMeterBandType> BandTypes, OfMeterFlags Capabilities, byte MaxBands, byte MaxColor);
