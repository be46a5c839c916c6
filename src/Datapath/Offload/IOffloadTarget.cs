using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Offload;

/// <summary>Why a flow is not (or no longer) in hardware. Every value is a named counter in <see cref="OffloadStats"/>.</summary>
public enum OffloadReason : byte
{
    /// <summary>In hardware.</summary>
    None = 0,
    /// <summary>An action the hardware cannot do (CONTROLLER, LOCAL, NORMAL, TABLE, ENQUEUE, SET_TUNNEL, ...).</summary>
    UnsupportedAction,
    /// <summary>An output to a port the hardware does not forward to (not one of its ports, or OFPP_NONE).</summary>
    UnsupportedOutputPort,
    /// <summary>An action list the hardware would run differently: a set-field after an output, the same field set
    /// twice, VLAN strip together with a VLAN set, or two outputs to one port.</summary>
    UnsupportedActionOrder,
    /// <summary>An output back out the packet's own in_port (IN_PORT): the hardware's contract does not say whether it
    /// sends a frame out the port it arrived on, so the flow stays where the answer is known.</summary>
    OutputToInPort,
    /// <summary>A match the hardware cannot express the same way (tunnel id, PCP without VLAN id, a VLAN id above 4095).</summary>
    UnsupportedMatch,
    /// <summary>The match's in_port is not one of the hardware's ports.</summary>
    InPortNotOffloadable,
    /// <summary>Exact table: both hash positions are taken.</summary>
    ExactCollision,
    /// <summary>Not enough free wildcard rows.</summary>
    WildcardRowsFull,
    /// <summary>Overlaps a software rule of higher or equal priority (or an exact software rule): the hardware would
    /// answer first and could pick a different winner.</summary>
    OverlapsSoftwareRule,
    /// <summary>Overlaps another offloaded wildcard rule: wildcard rows have no priority (the first row wins).</summary>
    OverlapsOffloadedRule,
    /// <summary>Was in hardware, taken back to software because a rule that overlaps it arrived.</summary>
    Evicted,
    /// <summary>Emergency flow (used only when the controller is gone; never offloaded).</summary>
    Emergency,
    /// <summary>The datapath's ports, port config, fragment mode or emergency mode make the hardware's answer differ
    /// from the software's (e.g. a port with NO_FWD, a datapath port that is not on the board).</summary>
    DatapathState,
    /// <summary>The target refused for a reason of its own (device error).</summary>
    TargetError,
}

/// <summary>How a target picks the rule that answers a packet (what the offload manager must keep equal to the software's choice).</summary>
public enum OffloadLookupModel : byte
{
    /// <summary>One table of rows without priority: the first matching row wins, and the target chooses the rows.</summary>
    RowOrder,
    /// <summary>An exact table looked up first, then wildcard rows in row order without priority (NetFPGA-1G).</summary>
    ExactFirst,
    /// <summary>Rules carry the flow's priority and the highest wins (exact flows have the highest); equal priorities tie.</summary>
    Priority,
}

/// <summary>What an <see cref="IOffloadTarget"/> operation did.</summary>
/// <param name="Installed">The flow is in hardware after the call.</param>
/// <param name="Reason">Why not, when <paramref name="Installed"/> is false.</param>
/// <param name="Detail">What exactly refused it (which action, which rule), or empty.</param>
/// <param name="Rows">Hardware rows the flow occupies after the call (exact: 1; wildcard: 1..4).</param>
/// <param name="RegisterWrites">Device register writes the call made.</param>
public readonly record struct OffloadResult(bool Installed, OffloadReason Reason, OffloadDetail Detail, int Rows, int RegisterWrites)
{
    public static OffloadResult Refused(OffloadReason reason, OffloadDetail detail = default, int writes = 0) => new(false, reason, detail, 0, writes);
}

/// <summary>
/// What exactly keeps a flow in software, as data: a note in words, the action refused (the note then says more about
/// it, e.g. "after an output"), or the rule in the way (the one it overlaps, or the one that evicted it).
/// </summary>
/// <remarks>
/// The datapath never writes actions or rules as text; whoever reports a placement does, in its own syntax (the host
/// prints them as ovs-ofctl does). A note converts implicitly, so a refusal in words reads as one. Immutable; equal when
/// the note, the action and the rule (by reference) are.
/// </remarks>
public readonly record struct OffloadDetail(string? Note, FlowAction? Action = null, FlowEntry? Rule = null)
{
    public static implicit operator OffloadDetail(string? note) => new(note);

    public bool IsEmpty => Note is null && Action is null && Rule is null;
}

/// <summary>How full one hardware table is (rows in use out of the rows flows may use).</summary>
public readonly record struct OffloadTableUsage(string Name, int Used, int Capacity);

/// <summary>Packets and bytes counted by hardware since the previous read (deltas).</summary>
public readonly record struct OffloadCounts(long Packets, long Bytes)
{
    public bool IsZero => (Packets | Bytes) == 0;
}

/// <summary>
/// A hardware flow table that may hold some of the switch's flows (the provider interface of hardware offload, like
/// ovs lib/dpif-offload-provider.h).
/// </summary>
/// <remarks>
/// Contract: the software <see cref="Classifier.FlowTable"/> stays the truth. A target is a cache that may refuse:
/// <see cref="TryInstall"/> answers with a reason instead of throwing. The target decides what its hardware can
/// express (actions, match encoding, table placement); the caller (<see cref="OffloadManager"/>) decides what is safe
/// to put there (priorities, overlaps, datapath state), following the target's <see cref="LookupModel"/>. Counters are read as deltas so the caller can add them to
/// the flow (<see cref="FlowEntry.AddCounts"/>). Calls are serialised by the caller (not thread-safe) and made from the
/// offload worker or maintenance thread, never under the flow table's lock: a target may take its time.
/// </remarks>
public interface IOffloadTarget
{
    /// <summary>A short name for logs and stats ("netfpga", "dummy").</summary>
    string Name { get; }

    /// <summary>How the hardware picks among the rules it holds (the manager places flows so it picks as software does).</summary>
    OffloadLookupModel LookupModel { get; }

    /// <summary>The OpenFlow port numbers the hardware forwards between (its physical ports).</summary>
    IReadOnlyList<ushort> Ports { get; }

    /// <summary>Register (or message) writes made so far; callers take deltas to cost each operation.</summary>
    long RegisterWrites { get; }

    /// <summary>Whether <paramref name="entry"/> could be installed now, without touching the device.</summary>
    OffloadResult Check(FlowEntry entry);

    /// <summary>Installs <paramref name="entry"/> (its match, actions), or refuses with a reason. Counters start at zero.</summary>
    OffloadResult TryInstall(FlowEntry entry);

    /// <summary>
    /// Rewrites the actions of an installed flow in place, keeping its counters. When the new actions cannot be
    /// expressed the result is not <see cref="OffloadResult.Installed"/> and the flow stays installed with the old
    /// actions: the caller removes it.
    /// </summary>
    OffloadResult Modify(FlowEntry entry);

    /// <summary>Removes an installed flow and frees its rows; returns the counts not yet read.</summary>
    OffloadCounts Remove(FlowEntry entry);

    /// <summary>Counts of an installed flow since the previous read (or install).</summary>
    OffloadCounts ReadCounters(FlowEntry entry);

    /// <summary>Occupancy of each of the hardware's tables, for observability (no device access).</summary>
    IReadOnlyList<OffloadTableUsage> Occupancy => [];

    /// <summary>
    /// Where an installed flow sits, as <c>TABLE,KEY=VALUE</c> text for dump-flows and logs (e.g. <c>exact,row=17</c>),
    /// or null when not installed or not known. No device access.
    /// </summary>
    string? Location(FlowEntry entry) => null;
}
