namespace Softswitch.Ofproto;

/// <summary>
/// The instructions of a flow, version-independent (OpenFlow 1.3.5 section 5.9). OpenFlow 1.0's action list is
/// <see cref="ApplyActions"/> in table 0 and nothing else; the default value has no instruction at all.
/// </summary>
/// <param name="ApplyActions">Actions run at once, in order (apply-actions; OpenFlow 1.0's list).</param>
/// <param name="WriteActions">Actions merged into the action set (write-actions), null when absent.</param>
/// <param name="ClearActions">Empty the action set (clear-actions).</param>
/// <param name="GotoTable">The table to continue in (goto-table), or null.</param>
/// <param name="MetadataValue">write-metadata's value (with <paramref name="MetadataMask"/>; a zero mask: absent).</param>
/// <param name="Meter">The meter to run the packet through, or 0.</param>
public readonly record struct OfInstructions(
    ReadOnlyMemory<OfAction> ApplyActions,
    ReadOnlyMemory<OfAction>? WriteActions = null,
    bool ClearActions = false,
    byte? GotoTable = null,
    ulong MetadataValue = 0,
    ulong MetadataMask = 0,
    uint Meter = 0)
{
    /// <summary>Just an action list (OpenFlow 1.0).</summary>
    public static OfInstructions Apply(ReadOnlyMemory<OfAction> actions) => new(actions);

    /// <summary>True when nothing but apply-actions is asked for.</summary>
    public bool IsApplyOnly => WriteActions is null && !ClearActions && GotoTable is null && MetadataMask == 0 && Meter == 0;
}

/// <summary>
/// A flow-mod, version-independent (as Open vSwitch's struct ofputil_flow_mod): what a codec decodes any version's
/// FLOW_MOD into. <see cref="Match"/> is the match as received; <see cref="Rules"/> say which version's rules normalise it
/// and decide its exactness.
/// </summary>
/// <param name="TableId">The table (0xff: every table, for deletes).</param>
/// <param name="BufferId">A buffered packet the flow processes once it is in place, or <see cref="PacketBuffers.NoBuffer"/>.</param>
/// <param name="CookieMask">Modify/delete only flows whose cookie equals <paramref name="Cookie"/> under this mask (0: any).</param>
/// <param name="OutPort">Deletes only flows that output to this port (<see cref="OfPort.Any"/>: any).</param>
/// <param name="OutGroup">Deletes only flows that output to this group (<see cref="AnyGroup"/>: any).</param>
/// <param name="Importance">An ADD's importance (OpenFlow 1.4): flows of lower importance are evicted first.</param>
public readonly record struct FlowModRequest(
    FlowModCommand Command,
    OfMatch Match,
    ushort Priority,
    OfInstructions Instructions,
    byte TableId = 0,
    uint BufferId = PacketBuffers.NoBuffer,
    ulong Cookie = 0,
    ulong CookieMask = 0,
    ushort IdleTimeout = 0,
    ushort HardTimeout = 0,
    FlowModFlags Flags = FlowModFlags.None,
    uint OutPort = OfPort.Any,
    uint OutGroup = FlowModRequest.AnyGroup,
    MatchRules Rules = MatchRules.OpenFlow10,
    ushort Importance = 0)
{
    /// <summary>OFPG_ANY: no group filter.</summary>
    public const uint AnyGroup = 0xffffffff;
    /// <summary>OFPTT_ALL: every table.</summary>
    public const byte AllTables = 0xff;
}

/// <summary>A packet-out, version-independent: a buffered packet or a frame, run through <see cref="Actions"/> as if it came in on <see cref="InPort"/>.</summary>
public readonly record struct PacketOutRequest(uint BufferId, uint InPort, ReadOnlyMemory<OfAction> Actions, ReadOnlyMemory<byte> Data);

/// <summary>Which port settings a port-mod changes (OpenFlow 1.0 and 1.3 share these bits' meaning, not their numbers).</summary>
[Flags]
public enum OfPortConfig : byte
{
    None = 0,
    PortDown = 1 << 0,
    NoStp = 1 << 1,
    NoRecv = 1 << 2,
    NoRecvStp = 1 << 3,
    NoFlood = 1 << 4,
    NoFwd = 1 << 5,
    NoPacketIn = 1 << 6,
}

/// <summary>A port-mod: set the bits of <see cref="Mask"/> in the port's config to <see cref="Config"/>'s.</summary>
public readonly record struct PortModRequest(uint Port, ulong HwAddr, OfPortConfig Config, OfPortConfig Mask);

/// <summary>A table's configuration as a TABLE_MOD sets it.</summary>
[Flags]
public enum OfTableConfig : byte
{
    /// <summary>Nothing the switch keeps: a table's miss is its table-miss flow entry's.</summary>
    None = 0,
    /// <summary>A bit the controller's version names and the switch does not support (refused).</summary>
    Unrecognised = 1 << 7,
}

/// <summary>
/// A TABLE_MOD: table <see cref="TableId"/> (or <see cref="OfTables.All"/>) configured as <see cref="Config"/>; from
/// OpenFlow 1.4 also eviction and vacancy events on or off (null: unchanged, as before 1.4), the eviction flags asked
/// for (null: none named) and the vacancy thresholds (percent, down at most up, up at most 100) that
/// <see cref="VacancyEvents"/> sets with it.
/// </summary>
public readonly record struct TableModRequest(byte TableId, OfTableConfig Config, bool? Eviction = null, OfEvictionFlags? EvictionFlags = null,
                                              bool? VacancyEvents = null, byte VacancyDown = 0, byte VacancyUp = 0);

/// <summary>A flow or aggregate statistics request, version-independent.</summary>
/// <param name="TableId">A table, <see cref="FlowModRequest.AllTables"/>, or <see cref="OfTables.EmergencyTableId"/> (OpenFlow 1.0's emergency flows).</param>
public readonly record struct FlowStatsRequest(OfMatch Match, byte TableId = FlowModRequest.AllTables, uint OutPort = OfPort.Any,
                                               uint OutGroup = FlowModRequest.AnyGroup, ulong Cookie = 0, ulong CookieMask = 0,
                                               MatchRules Rules = MatchRules.OpenFlow10);

/// <summary>An aggregate statistics reply.</summary>
public readonly record struct AggregateStats(ulong PacketCount, ulong ByteCount, uint FlowCount);

/// <summary>What the switch does with IP fragments (the switch config's frag flags).</summary>
public enum FragmentHandling : byte
{
    /// <summary>No special handling.</summary>
    Normal,
    /// <summary>Drop fragments.</summary>
    Drop,
    /// <summary>Reassemble (not supported: asking for it keeps the current handling).</summary>
    Reassemble,
}
