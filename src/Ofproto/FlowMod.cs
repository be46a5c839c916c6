using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ofproto;

/// <summary>What a flow-mod does (any OpenFlow version's codec maps its commands onto these).</summary>
public enum FlowModCommand : byte
{
    Add,
    Modify,
    ModifyStrict,
    Delete,
    DeleteStrict,
}

/// <summary>Flow-mod options (a codec maps its wire flags onto these one by one).</summary>
[Flags]
public enum FlowModFlags : byte
{
    None = 0,
    /// <summary>Tell the controller when the flow leaves the table.</summary>
    SendFlowRemoved = 1 << 0,
    /// <summary>Refuse an ADD that overlaps a flow of the same priority.</summary>
    CheckOverlap = 1 << 1,
    /// <summary>An emergency flow (OpenFlow 1.0): used only while no controller is connected in fail-secure mode.</summary>
    Emergency = 1 << 2,
    /// <summary>
    /// OpenFlow 1.3's OFPFF_RESET_COUNTS: an ADD that replaces an identical flow starts its counters from 0 (without
    /// it, a 1.3 replacement keeps the old flow's counters; OpenFlow 1.0's always starts from 0, and its codec sets this
    /// flag on every ADD, as Open vSwitch's ofputil_decode_flow_mod_flags). An ADD's flow keeps it with its other flags
    /// and reports it from 1.3 on; a modify leaves a flow's flags as they are.
    /// </summary>
    ResetCounts = 1 << 3,
    /// <summary>OpenFlow 1.3's OFPFF_NO_PKT_COUNTS: kept and reported; the flow is counted anyway (as Open vSwitch).</summary>
    NoPacketCounts = 1 << 4,
    /// <summary>OpenFlow 1.3's OFPFF_NO_BYT_COUNTS: kept and reported; the flow is counted anyway (as Open vSwitch).</summary>
    NoByteCounts = 1 << 5,
}

/// <summary>
/// How Ofproto treats a flow-mod, as a set of capabilities: a version is the set it has (<see cref="OpenFlow10"/>,
/// <see cref="OpenFlow13"/>), and Ofproto asks for a capability, never for a version.
/// </summary>
[Flags]
public enum MatchRules : byte
{
    /// <summary>The match is kept as given, an exact flow outranks every wildcarded one, one table, OpenFlow 1.0's modify (tools and tests that build the datapath's matches themselves).</summary>
    AsGiven = 0,
    /// <summary>Fields that do not apply to the match's dl_type are wildcarded (OF1.0.1 section 3.4).</summary>
    NormaliseByDlType = 1,
    /// <summary>An exact flow is ranked by its priority alone (without it, an exact flow outranks every wildcarded one).</summary>
    PriorityOnly = 2,
    /// <summary>Tables 1..253 and instructions (write-actions, clear-actions, write-metadata, goto-table, meter): see <see cref="OfFlowTables"/>.</summary>
    MultiTable = 4,
    /// <summary>
    /// A modify that matches nothing adds nothing and keeps the flows' cookies; a replaced or modified flow keeps its
    /// counters unless the flow-mod has RESET_COUNTS (OpenFlow 1.3.5 section 6.4). Without it, OpenFlow 1.0's modify.
    /// </summary>
    ModifyKeepsFlows = 8,
    /// <summary>
    /// Without <see cref="MultiTable"/>: a flow-mod in table 0 may carry a goto-table, its one instruction beyond
    /// apply-actions (OpenFlow 1.0's Nicira resubmit to a later table, how the switch shows a 1.3 goto-table to a 1.0 peer,
    /// as Open vSwitch does); a modify sets it, and leaves a flow's other instructions as they are.
    /// </summary>
    GotoTable = 16,

    /// <summary>OpenFlow 1.0.</summary>
    OpenFlow10 = NormaliseByDlType | GotoTable,
    /// <summary>OpenFlow 1.3 (the codec has checked the match's prerequisites).</summary>
    OpenFlow13 = PriorityOnly | MultiTable | ModifyKeepsFlows,
}

/// <summary>
/// A flow-mod, version-independent: the codec decodes the wire message into this. <see cref="Match"/> is the match as
/// received; <see cref="Rules"/> say how the table set normalises it. A modify or delete with a non-zero
/// <see cref="CookieMask"/> touches only flows whose cookie equals <see cref="Cookie"/> under it.
/// A delete with an <see cref="OutGroup"/> touches only flows that apply that group. <see cref="Instructions"/> (null: apply-actions only) and a <see cref="TableId"/> other than 0 need
/// <see cref="MatchRules.OpenFlow13"/> (a goto-table alone: <see cref="MatchRules.GotoTable"/>); <see cref="FlowModRequest.AllTables"/> deletes in every table (and, under OpenFlow 1.0's rules, modifies in every table).
/// An ADD's <see cref="Importance"/> (OpenFlow 1.4) stays with its flow (a modify keeps the flow's) and orders eviction.
/// </summary>
public readonly record struct FlowMod(
    FlowModCommand Command,
    FlowMatch Match,
    ushort Priority,
    FlowActions Actions,
    ulong Cookie = 0,
    ushort IdleTimeout = 0,
    ushort HardTimeout = 0,
    FlowModFlags Flags = FlowModFlags.None,
    ushort OutPort = PortNumber.None,
    MatchRules Rules = MatchRules.AsGiven,
    ulong CookieMask = 0,
    byte TableId = 0,
    FlowInstructions? Instructions = null,
    uint OutGroup = FlowModRequest.AnyGroup,
    ushort Importance = 0);

/// <summary>Outcome of applying a flow-mod; a codec maps the failures onto its error codes.</summary>
public enum FlowModStatus : byte
{
    Ok,
    /// <summary>The table the flow belongs in is full.</summary>
    TableFull,
    /// <summary>CheckOverlap and an overlapping flow of the same priority.</summary>
    Overlap,
    /// <summary>An emergency flow with a non-zero timeout.</summary>
    BadEmergencyTimeout,
    /// <summary>A command this table set does not know.</summary>
    BadCommand,
    /// <summary>A table id the flow-mod's rules do not allow (OpenFlow 1.0: only table 0).</summary>
    BadTableId,
    /// <summary>A goto-table that does not go forward (to a table after the flow's own).</summary>
    BadGotoTable,
    /// <summary>Instructions under rules that do not allow them (OpenFlow 1.0: any but a goto-table).</summary>
    UnsupportedInstruction,
}

/// <summary>Limits and policy knobs of an <see cref="OfFlowTables"/>.</summary>
public sealed record FlowTableOptions
{
    /// <summary>The default of <see cref="MaxFlows"/>.</summary>
    public const int DefaultMaxFlows = 2_000_000;

    /// <summary>
    /// The highest <see cref="MaxFlows"/>: half of what the hash stage's record table can hold
    /// (<see cref="Datapath.Classifier.ExactRecordTable.MaxKeys"/>), as a bundle or a replace-flows can hold each of a
    /// table's exact flows twice (its old version and its new) until the commit's grace period ends.
    /// </summary>
    public const int MaxFlowLimit = Datapath.Classifier.ExactRecordTable.MaxKeys / 2;

    /// <summary>
    /// Most flows of each table (OpenFlow 1.0's table 0, each 1.3 table), exact and wildcard together, as Open vSwitch's
    /// Flow_Table flow_limit; an ADD of a new flow beyond it fails with <see cref="FlowModStatus.TableFull"/> (replacing
    /// one does not), or, in a table with eviction on, evicts a flow (<see cref="OfFlowTables.SetEviction"/>). A table's
    /// configuration may set it lower (<see cref="OfTableSettings.FlowLimit"/>, <see cref="OfFlowTables.MaxFlowsOf"/>). What
    /// table stats and table features report as the table's max_entries. At least 1, at most <see cref="MaxFlowLimit"/>.
    /// </summary>
    public int MaxFlows { get; init; } = DefaultMaxFlows;

    /// <summary>Most emergency flows (exact and wildcard together).</summary>
    public int MaxEmergencyFlows { get; init; } = 200_000;

    /// <summary>
    /// Whether MODIFY / MODIFY_STRICT of existing flows also sets their cookie to the request's. The OF1.0.0 text
    /// only says the actions change ("its counters and idle time fields are left unchanged"); Open vSwitch's OF1.0
    /// behaviour (Documentation/topics/design.rst, "updates flow_cookie: yes") updates it. Default: the OVS behaviour.
    /// </summary>
    public bool ModifyUpdatesCookie { get; init; } = true;

    /// <summary>
    /// Whether the tables reuse removed flows' entries after their grace period, so that flow churn allocates nothing
    /// (<see cref="Datapath.Classifier.FlowTable.RecycleEntries"/>). Whoever turns it on vouches that every thread
    /// keeping flows the tables hand out (flow-mod results, stats, expiry reports, packet-outs) does so inside a hold
    /// of <see cref="OfFlowTables.Reclamation"/> or is a registered reader of it. Default: off.
    /// </summary>
    public bool RecycleEntries { get; init; }
}

/// <summary>What an OpenFlow table does with a packet no flow of it matches.</summary>
public enum TableMiss : byte
{
    /// <summary>OpenFlow 1.0: the packet goes to the controller (PACKET_IN, as the switch's fail mode allows).</summary>
    Controller,
    /// <summary>OpenFlow 1.3 (no table-miss flow): the packet is dropped; a table-miss flow (priority 0, every field wildcarded) decides otherwise.</summary>
    Drop,
    /// <summary>OpenFlow 1.1's default: the packet continues in the next table.</summary>
    Continue,
}

/// <summary>One OpenFlow table as every controller and every report sees it (see <see cref="OfFlowTables.Tables"/>).</summary>
/// <param name="Id">Its table_id.</param>
/// <param name="Name">Its name in table stats (<see cref="OfFlowTables.NameOf"/>).</param>
/// <param name="MaxEntries">Most flows it holds (<see cref="OfFlowTables.MaxFlowsOf"/>).</param>
/// <param name="Miss">What a miss does.</param>
public sealed record OfTable(byte Id, string Name, int MaxEntries, TableMiss Miss);

/// <summary>
/// Statistics of one OpenFlow table, version-independent (a codec encodes them as its table stats), or of one
/// classifier stage of a table (<see cref="OfFlowTables.GetStageStats"/>; <see cref="TableId"/> is then the table's).
/// </summary>
public readonly record struct FlowTableStats(byte TableId, string Name, bool Wildcards, int MaxEntries,
                                             int ActiveCount, long LookupCount, long MatchedCount);
