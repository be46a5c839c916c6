using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Offload;

/// <summary>
/// Why a flow is not (or no longer) in hardware, as data: a stable name (the counter <c>offload-sw-NAME</c>, the CLI,
/// the logs; scripts match on it) and a one-line description in words. The offload manager defines the reasons of its
/// own decisions and a few any target may use; a target defines the reasons only its hardware has
/// (<see cref="Define"/>) and lists them in <see cref="IOffloadTarget.Reasons"/>.
/// </summary>
/// <remarks>
/// Each reason is one instance, compared by reference. Defining one registers its counter, so a name is defined once
/// per process (keep reasons in static fields). <see cref="Retryable"/> reasons may go away by themselves (room freed,
/// an overlapping rule removed): the manager offers those flows again after a removal. Thread safe.
/// </remarks>
public sealed class OffloadReason
{
    private static readonly Lock s_lock = new();
    private static OffloadReason[] s_all = [];

    private OffloadReason(string name, string description, bool retryable, Counter counter = default)
    {
        Name = name;
        Description = description;
        Retryable = retryable;
        Counter = counter;
    }

    /// <summary>Lower-case words joined by hyphens (<c>unsupported-action</c>).</summary>
    public string Name { get; }

    /// <summary>What keeps the flow in software, in words, one line.</summary>
    public string Description { get; }

    /// <summary>Whether the reason may go away without the flow changing (the manager retries such flows).</summary>
    public bool Retryable { get; }

    /// <summary>The counter of flows in software now for this reason: <c>offload-sw-NAME</c> (none for <see cref="None"/>).</summary>
    public Counter Counter { get; }

    /// <summary>Every reason defined so far, in definition order.</summary>
    public static IReadOnlyList<OffloadReason> All => Volatile.Read(ref s_all);

    /// <summary>Defines a reason and its counter; throws when <paramref name="name"/> is not valid or defined already.</summary>
    public static OffloadReason Define(string name, string description, bool retryable = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(description);
        if (description.Contains('\n')) throw new ArgumentException("a reason's description is one line", nameof(description));
        lock (s_lock)
        {
            var counter = Coverage.Define("offload-sw-" + name, "flows in software now: " + description);
            var r = new OffloadReason(name, description, retryable, counter);
            Volatile.Write(ref s_all, [.. s_all, r]);
            return r;
        }
    }

    public override string ToString() => Name;

    /// <summary>In hardware (no reason; not in <see cref="All"/>, no counter).</summary>
    public static readonly OffloadReason None = new("none", "in hardware", retryable: false);

    // Reasons of the manager's own decisions.

    /// <summary>Overlaps a software rule that outranks or ties it: the hardware would answer first and could pick a different winner.</summary>
    public static readonly OffloadReason OverlapsSoftwareRule = Define("overlaps-software-rule", "overlaps a software rule that outranks or ties it", retryable: true);
    /// <summary>Overlaps a hardware rule the target would order differently from the classifier.</summary>
    public static readonly OffloadReason OverlapsOffloadedRule = Define("overlaps-offloaded-rule", "overlaps a hardware rule the target would order differently", retryable: true);
    /// <summary>
    /// The target's lookup model cannot order it as the classifier does next to a rule that outranks it (the default of
    /// <see cref="IOffloadTarget.OrderRefusal"/>; a target may name its own).
    /// </summary>
    public static readonly OffloadReason LookupOrder = Define("lookup-order", "the target's lookup would answer before a rule that outranks it", retryable: true);
    /// <summary>Was in hardware, taken back to software because a rule that overlaps it arrived.</summary>
    public static readonly OffloadReason Evicted = Define("evicted", "taken back from hardware when an overlapping rule arrived", retryable: true);
    /// <summary>
    /// The datapath's ports, port config, fragment mode or a redirected pipeline make the hardware's answer differ from
    /// the software's (e.g. a port with NO_FWD, a datapath port that is not on the target).
    /// </summary>
    public static readonly OffloadReason DatapathState = Define("datapath-state", "the ports or modes make the target's answer differ");
    /// <summary>
    /// In a pipeline table other than the one packets are classified in first: the target holds one table, consulted
    /// before the software's.
    /// </summary>
    public static readonly OffloadReason OtherTable = Define("other-table", "in a pipeline table other than the first (the target holds one table)");
    /// <summary>
    /// Has instructions beyond apply-actions (goto-table, write-actions, metadata, a meter): a target holds one table
    /// and runs apply-actions only, so its answer would skip them.
    /// </summary>
    public static readonly OffloadReason Instructions = Define("instructions", "instructions beyond apply-actions (goto-table, write-actions, metadata, a meter)");
    /// <summary>A target call threw (device error).</summary>
    public static readonly OffloadReason TargetError = Define("target-error", "the target failed (device error)");

    // Reasons any target may give.

    /// <summary>An action the target cannot do.</summary>
    public static readonly OffloadReason UnsupportedAction = Define("unsupported-action", "an action the target cannot do");
    /// <summary>An output to a port the target does not forward to (not one of its ports, or OFPP_NONE).</summary>
    public static readonly OffloadReason UnsupportedOutputPort = Define("unsupported-output-port", "an output to a port the target does not forward to");
    /// <summary>A match the target cannot express the same way.</summary>
    public static readonly OffloadReason UnsupportedMatch = Define("unsupported-match", "a match the target cannot express");
    /// <summary>The match's in_port is not one of the target's ports.</summary>
    public static readonly OffloadReason InPortNotOffloadable = Define("in-port-not-offloadable", "matches an in_port that is not one of the target's ports");
    /// <summary>No free row in the table the flow would go to.</summary>
    public static readonly OffloadReason TableFull = Define("table-full", "no free row in the target's table", retryable: true);

    // The datapath's per-port and per-packet software features a target does not do (<see cref="IOffloadTarget.Features"/>).

    /// <summary>An output to a port whose egress software shapes (its queues' rates and ceiling): the target would send at once.</summary>
    public static readonly OffloadReason PortShaped = Define("port-shaped", "an output to a port whose egress is shaped in software");
    /// <summary>sFlow samples the datapath's packets in software: the target's would never be sampled.</summary>
    public static readonly OffloadReason Sampling = Define("sflow-sampling", "sFlow samples packets in software (the target's would not be)");
    /// <summary>A live capture (the datapath's packet tap) sees the packets in software: the target's would not be seen.</summary>
    public static readonly OffloadReason Capture = Define("packet-capture", "a live capture sees packets in software (the target's would not be)");
    /// <summary>Port mirrors copy the datapath's packets in software: the target's would not be copied.</summary>
    public static readonly OffloadReason Mirrored = Define("port-mirror", "port mirrors copy packets in software (the target's would not be)");
}

/// <summary>
/// The datapath's per-port and per-packet software features a target does itself (<see cref="IOffloadTarget.Features"/>);
/// for the others, the manager keeps the flows they apply to in software, each under its own reason.
/// </summary>
[Flags]
public enum OffloadFeatures
{
    None = 0,
    /// <summary>A port's egress shaping (<see cref="OffloadReason.PortShaped"/> otherwise).</summary>
    Shaping = 1,
    /// <summary>sFlow packet sampling (<see cref="OffloadReason.Sampling"/> otherwise).</summary>
    Sampling = 2,
    /// <summary>Live captures through the packet tap (<see cref="OffloadReason.Capture"/> otherwise).</summary>
    Capture = 4,
    /// <summary>Port mirrors (<see cref="OffloadReason.Mirrored"/> otherwise).</summary>
    Mirroring = 8,
}

/// <summary>How a target picks the rule that answers a packet (what the offload manager must keep equal to the classifier's choice).</summary>
/// <remarks>
/// The classifier's order (<see cref="Classifier.FlowTable"/>): the highest priority wins; at equal priority an exact
/// rule (all-ones mask) beats a wildcard rule; equal-priority wildcard rules tie. The manager places flows so that the
/// target's model, declared here, picks as the classifier does, and refuses a flow it cannot.
/// </remarks>
public enum OffloadLookupModel : byte
{
    /// <summary>One table of rows without priority: the first matching row wins, and the target chooses the rows.</summary>
    RowOrder,
    /// <summary>
    /// An exact table consulted before wildcard rows, which have no priority (the first row wins): an exact rule answers
    /// before every wildcard rule, so it may be in hardware only when no overlapping wildcard rule outranks it (the
    /// target's <see cref="IOffloadTarget.OrderRefusal"/> otherwise). NetFPGA-1G.
    /// </summary>
    ExactFirst,
    /// <summary>Rules carry the flow's priority and the highest wins; equal priorities tie (exact or not).</summary>
    Priority,
}

/// <summary>What an <see cref="IOffloadTarget"/> operation did.</summary>
/// <param name="Installed">The flow is in hardware after the call.</param>
/// <param name="Reason">Why not, when <paramref name="Installed"/> is false (<see cref="OffloadReason.None"/> when installed).</param>
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

    /// <summary>
    /// The reason a flow is refused with when <see cref="LookupModel"/> cannot order it as the classifier does next to
    /// a rule that outranks it (<see cref="OffloadLookupModel.ExactFirst"/>: an exact rule below an overlapping wildcard
    /// rule's priority). Retryable: the rule in the way may go.
    /// </summary>
    OffloadReason OrderRefusal => OffloadReason.LookupOrder;

    /// <summary>
    /// The datapath's software features the target does itself (none by default): a flow whose packets one of the
    /// others applies to stays in software under that feature's reason (<see cref="OffloadFeatures"/>).
    /// </summary>
    OffloadFeatures Features => OffloadFeatures.None;

    /// <summary>The reasons of the target's own refusals (defined with <see cref="OffloadReason.Define"/>), for listings.</summary>
    IReadOnlyList<OffloadReason> Reasons => [];

    /// <summary>What the target is, in words, one line ("dummy target, 4 ports, 64 rows"), for logs and offload/show.</summary>
    string Description => Name;

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

    /// <summary>
    /// Appends to <paramref name="into"/> what removed flows counted after <see cref="Remove"/> read them (frames the
    /// hardware matched before the removal and counted after it), once no more can come. The caller calls it before a
    /// removed flow is reported (<see cref="OffloadManager.WaitForSettled"/>), at each maintenance poll and on detach,
    /// and adds the counts to the flows; a target reuses a removed flow's rows only once they are settled. Default: none.
    /// </summary>
    void Settle(List<(FlowEntry Entry, OffloadCounts Counts)> into) { }

    /// <summary>Occupancy of each of the hardware's tables, for observability (no device access).</summary>
    IReadOnlyList<OffloadTableUsage> Occupancy => [];

    /// <summary>
    /// Where an installed flow sits, as <c>TABLE,KEY=VALUE</c> text for dump-flows and logs (e.g. <c>exact,row=17</c>),
    /// or null when not installed or not known. No device access.
    /// </summary>
    string? Location(FlowEntry entry) => null;
}
