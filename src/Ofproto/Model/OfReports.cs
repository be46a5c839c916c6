namespace Softswitch.Ofproto;

/// <summary>A port's link modes, version-independent (each codec maps them onto its bits by name).</summary>
[Flags]
public enum OfPortFeatures : uint
{
    None = 0,
    Rate10MbHd = 1 << 0, Rate10MbFd = 1 << 1, Rate100MbHd = 1 << 2, Rate100MbFd = 1 << 3,
    Rate1GbHd = 1 << 4, Rate1GbFd = 1 << 5, Rate10GbFd = 1 << 6,
    Copper = 1 << 11, Fiber = 1 << 12, Autoneg = 1 << 13, Pause = 1 << 14, PauseAsym = 1 << 15,
}

/// <summary>A port's state as a controller sees it: its link, and the spanning tree state when one runs on the port
/// (at most one of the <c>Stp*</c> bits; none when no spanning tree runs, or the port takes no part or is down).</summary>
[Flags]
public enum OfPortState : byte
{
    None = 0,
    LinkDown = 1 << 0,
    StpListen = 1 << 1,
    StpLearn = 1 << 2,
    StpForward = 1 << 3,
    StpBlock = 1 << 4,
}

/// <summary>A port's description (OpenFlow 1.0's ofp_phy_port, 1.3's ofp_port).</summary>
/// <param name="CurrentSpeedKbps">The current rate in kbit/s (OpenFlow 1.3's curr_speed), from <paramref name="Current"/>.</param>
/// <param name="MaxSpeedKbps">The fastest supported rate in kbit/s (max_speed), from <paramref name="Supported"/> (0 when the port reports none, as Open vSwitch does).</param>
public sealed record OfPortDesc(uint PortNo, ulong HwAddr, string Name, OfPortConfig Config, OfPortState State,
                                OfPortFeatures Current, OfPortFeatures Advertised, OfPortFeatures Supported, OfPortFeatures Peer,
                                uint CurrentSpeedKbps, uint MaxSpeedKbps);

/// <summary>A port's counters (port statistics), and how long it has been a port of the switch.</summary>
public readonly record struct OfPortStats(uint PortNo, ulong RxPackets, ulong TxPackets, ulong RxBytes, ulong TxBytes,
                                          ulong RxDropped, ulong TxDropped, ulong RxErrors, ulong TxErrors, ulong RxFrameErrors,
                                          ulong RxOverErrors, ulong RxCrcErrors, ulong Collisions, long DurationNanos = 0);

/// <summary>One queue's counters (queue statistics).</summary>
public readonly record struct OfQueueStats(uint PortNo, uint QueueId, ulong TxPackets, ulong TxBytes, ulong TxErrors, long DurationNanos = 0);

/// <summary>
/// One queue as QUEUE_GET_CONFIG describes it: its min and max rates in tenths of a percent of the port's rate (its
/// shaping ceiling, else its link speed), null when it has none or the port's rate is unknown.
/// </summary>
public readonly record struct OfQueueConfig(uint QueueId, ushort? MinPermille, ushort? MaxPermille);

/// <summary>Why a port's status changed.</summary>
public enum OfPortReason : byte { Add, Delete, Modify }

/// <summary>Why a packet goes to the controller.</summary>
public enum OfPacketInReason : byte
{
    /// <summary>No flow matched: the implicit packet-in of a table miss (OpenFlow 1.0).</summary>
    NoMatch,
    /// <summary>An output-to-controller action.</summary>
    Action,
    /// <summary>A TTL reached zero (OpenFlow 1.3).</summary>
    InvalidTtl,
    /// <summary>
    /// An output to the controller in a flow's action set (write-actions): OpenFlow 1.4's OFPR_ACTION_SET, OFPR_ACTION
    /// before 1.4 (Open vSwitch's encode_packet_in_reason). Its own bit in the asynchronous configuration.
    /// </summary>
    ActionSet,
    /// <summary>An output to the controller in a group's bucket: 1.4's OFPR_GROUP, OFPR_ACTION before 1.4.</summary>
    Group,
    /// <summary>
    /// An output to the controller by a packet-out's actions (and by the flows its output to TABLE reaches, as Open
    /// vSwitch's in_packet_out): 1.4's OFPR_PACKET_OUT, OFPR_ACTION before 1.4.
    /// </summary>
    PacketOut,
    /// <summary>
    /// An output-to-controller action of a table-miss flow entry (priority 0, matching everything): OpenFlow 1.3 reports
    /// it as OFPR_NO_MATCH, OpenFlow 1.0 as OFPR_ACTION (Open vSwitch's OFPR_EXPLICIT_MISS). Asynchronous configuration
    /// treats it as <see cref="NoMatch"/> (<see cref="OfPacketInReasons.AsyncReason"/>).
    /// </summary>
    ExplicitMiss,
}

/// <summary>Packet-in reasons as the asynchronous configuration's masks name them.</summary>
public static class OfPacketInReasons
{
    /// <summary>The reason whose mask bit decides whether a connection wants the packet-in (a table-miss entry's: no-match).</summary>
    public static OfPacketInReason AsyncReason(this OfPacketInReason r) => r == OfPacketInReason.ExplicitMiss ? OfPacketInReason.NoMatch : r;
}

/// <summary>Why a flow left its table.</summary>
public enum OfFlowRemovedReason : byte { IdleTimeout, HardTimeout, Delete, GroupDelete, MeterDelete, Eviction }

/// <summary>Why the switch tells its controllers about a table (OpenFlow 1.4's TABLE_STATUS): its vacancy crossed a threshold.</summary>
public enum OfTableStatusReason : byte
{
    /// <summary>The vacancy fell below the table's vacancy_down.</summary>
    VacancyDown,
    /// <summary>The vacancy rose above the table's vacancy_up.</summary>
    VacancyUp,
}

/// <summary>How a table chooses the flows it evicts (OpenFlow 1.4's OFPTMPEF_* bits, as the model names them).</summary>
[Flags]
public enum OfEvictionFlags : byte
{
    None = 0,
    /// <summary>Other factors (Open vSwitch: fairness between the eviction groups).</summary>
    Other = 1 << 0,
    /// <summary>The flows' importance.</summary>
    Importance = 1 << 1,
    /// <summary>The flows' remaining lifetime.</summary>
    Lifetime = 1 << 2,
    /// <summary>What the switch uses, the only combination it accepts (Open vSwitch's OFPROTO_EVICTION_FLAGS).</summary>
    Switch = Other | Importance | Lifetime,
}

/// <summary>
/// A table's configuration as OFPMP_TABLE_DESC and TABLE_STATUS show it: eviction on or off (always by
/// <see cref="OfEvictionFlags.Switch"/>), vacancy events on or off with their thresholds, and its vacancy now (percent
/// free: 100 for an empty table, 0 for a full one).
/// </summary>
public readonly record struct OfTableDesc(byte TableId, bool Eviction, bool VacancyEvents, byte VacancyDown, byte VacancyUp, byte Vacancy)
{
    public OfEvictionFlags EvictionFlags => OfEvictionFlags.Switch;
}

/// <summary>
/// A packet for the controllers (valid only during the call that hands it over): the frame, where it came from, why, and
/// which table and flow sent it.
/// </summary>
/// <param name="maxLen">For <see cref="OfPacketInReason.Action"/>: the output action's max_len; otherwise 0xffff (each connection applies its miss_send_len).</param>
/// <param name="metadata">The pipeline's metadata when the packet was sent (0: none written).</param>
/// <param name="tunnelId">The packet's tunnel id (0: none).</param>
public readonly ref struct OfPacketIn(ReadOnlySpan<byte> frame, uint inPort, OfPacketInReason reason, ushort maxLen, byte tableId, ulong cookie,
                                      ulong metadata = 0, ulong tunnelId = 0, bool byAction = false, ushort controllerId = 0,
                                      ReadOnlySpan<byte> userData = default)
{
    /// <summary>The controller action's userdata (NXAST_CONTROLLER2's), which only NXT_PACKET_IN2 carries; empty: none.</summary>
    public readonly ReadOnlySpan<byte> UserData = userData;
    /// <summary>
    /// Sent by Open vSwitch's controller action: <see cref="MaxLen"/> is the action's whatever the reason, and only the
    /// connections of controller id <see cref="ControllerId"/> take it.
    /// </summary>
    public readonly bool ByAction = byAction;
    /// <summary>The controller id the packet-in is for (Open vSwitch's; 0, every connection's, unless a controller action named another).</summary>
    public readonly ushort ControllerId = controllerId;
    public readonly ReadOnlySpan<byte> Frame = frame;
    public readonly uint InPort = inPort;
    public readonly OfPacketInReason Reason = reason;
    public readonly ushort MaxLen = maxLen;
    public readonly byte TableId = tableId;
    public readonly ulong Cookie = cookie;
    public readonly ulong Metadata = metadata;
    public readonly ulong TunnelId = tunnelId;
}

/// <summary>A flow that left its table and asked to be reported (SEND_FLOW_REM).</summary>
public readonly record struct OfFlowRemoved(OfMatch Match, ulong Cookie, ushort Priority, OfFlowRemovedReason Reason, byte TableId,
                                            long DurationNanos, ushort IdleTimeout, ushort HardTimeout, ulong PacketCount, ulong ByteCount);

/// <summary>One flow as statistics show it (valid only during the call that hands it over: <see cref="Actions"/> is scratch).</summary>
public readonly ref struct OfFlowStats
{
    public OfFlowStats(OfMatch match, byte tableId, long durationNanos, ushort priority, ushort idleTimeout, ushort hardTimeout,
                       ulong cookie, ulong packetCount, ulong byteCount, ReadOnlySpan<OfAction> actions)
    {
        Match = match;
        TableId = tableId;
        DurationNanos = durationNanos;
        Priority = priority;
        IdleTimeout = idleTimeout;
        HardTimeout = hardTimeout;
        Cookie = cookie;
        PacketCount = packetCount;
        ByteCount = byteCount;
        Actions = actions;
    }

    public readonly OfMatch Match;
    public readonly byte TableId;
    public readonly long DurationNanos;
    /// <summary>The controller's priority, also for an exact OpenFlow 1.0 flow (which still beats every wildcard flow).</summary>
    public readonly ushort Priority;
    public readonly ushort IdleTimeout;
    public readonly ushort HardTimeout;
    public readonly ulong Cookie;
    public readonly ulong PacketCount;
    public readonly ulong ByteCount;
    /// <summary>The flow's apply-actions.</summary>
    public readonly ReadOnlySpan<OfAction> Actions;

    /// <summary>The flow's other instructions (OpenFlow 1.3), or null when it has only apply-actions.</summary>
    public OfFlowInstructions? Instructions { get; init; }

    /// <summary>The flags the flow was added with (SEND_FLOW_REM, CHECK_OVERLAP, ...).</summary>
    public FlowModFlags Flags { get; init; }

    /// <summary>The importance the flow was added with (OpenFlow 1.4; 0 before).</summary>
    public ushort Importance { get; init; }
}

/// <summary>A flow's instructions besides apply-actions, as flow statistics show them.</summary>
/// <param name="WriteActions">write-actions' list, or null when the flow has none.</param>
/// <param name="GotoTable">The table goto-table continues in, or null.</param>
/// <param name="Meter">The meter instruction's meter, or 0.</param>
public sealed record OfFlowInstructions(OfAction[]? WriteActions, bool ClearActions, byte? GotoTable, ulong MetadataValue, ulong MetadataMask, uint Meter);

/// <summary>Receives the flows of a statistics request one by one; returns false to stop (the peer went away).</summary>
public delegate bool FlowStatsVisitor(in OfFlowStats flow);

/// <summary>
/// The switch's asynchronous reports to its controllers (the OpenFlow layer decides what is reported: only flows that
/// asked for FLOW_REMOVED, ports as controllers see them). Called on the datapath's maintenance thread, the upcall pump
/// and the threads that change flows or ports; implementations must be thread-safe and quick.
/// </summary>
public interface IOfReports
{
    void PacketIn(in OfPacketIn packet);
    void FlowRemoved(in OfFlowRemoved removed);
    void PortStatus(OfPortReason reason, OfPortDesc port);

    /// <summary>A port changed by <paramref name="source"/>'s PORT_MOD: reported to every controller but the source.</summary>
    void PortStatus(OfPortReason reason, OfPortDesc port, OfController source) => PortStatus(reason, port);

    /// <summary>A table's vacancy crossed a threshold its vacancy events watch (OpenFlow 1.4's TABLE_STATUS).</summary>
    void TableStatus(OfTableStatusReason reason, in OfTableDesc table) { }
}
