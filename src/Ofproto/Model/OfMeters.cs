namespace Softswitch.Ofproto;

/// <summary>What a meter-mod does.</summary>
public enum MeterModCommand : byte { Add, Modify, Delete }

/// <summary>A meter band's type as a controller names it (OFPMBT_*): <see cref="Experimenter"/> and unknown types are refused.</summary>
public enum OfMeterBandType : ushort { Unknown = 0, Drop = 1, DscpRemark = 2, Experimenter = 0xffff }

/// <summary>A meter's flags (OFPMF_*).</summary>
[Flags]
public enum OfMeterFlags : ushort
{
    None = 0,
    /// <summary>Rates in kilobits per second (the default when neither unit is given).</summary>
    Kbps = 1,
    /// <summary>Rates in packets per second.</summary>
    Pktps = 2,
    /// <summary>Bands' burst sizes apply.</summary>
    Burst = 4,
    /// <summary>Keep statistics.</summary>
    Stats = 8,
    /// <summary>A flag the codec could not name: refused.</summary>
    Unrecognised = 0x8000,
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
/// <param name="BandTypes">Bitmap of the band types (1 &lt;&lt; OFPMBT_*).</param>
/// <param name="Capabilities">The flags a meter may have (<see cref="OfMeterFlags"/>).</param>
/// <param name="MaxBands">The most bands of one meter.</param>
/// <param name="MaxColor">The most colours a band can mark (0: none).</param>
public readonly record struct OfMeterFeatures(uint MaxMeters, uint BandTypes, OfMeterFlags Capabilities, byte MaxBands, byte MaxColor);
