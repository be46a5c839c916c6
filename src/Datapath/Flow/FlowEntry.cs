using Softswitch.Datapath.Actions;

namespace Softswitch.Datapath.Flow;

/// <summary>OpenFlow 1.0 flow-mod flags (ofp_flow_mod_flags).</summary>
[Flags]
public enum FlowModFlags : ushort
{
    None = 0,
    SendFlowRemoved = 1,
    CheckOverlap = 2,
    Emergency = 4,
}

public enum FlowModCommand : ushort
{
    Add = 0,
    Modify = 1,
    ModifyStrict = 2,
    Delete = 3,
    DeleteStrict = 4,
}

/// <summary>Why a flow left the table (ofp_flow_removed_reason).</summary>
public enum FlowRemovedReason : byte
{
    IdleTimeout = 0,
    HardTimeout = 1,
    Delete = 2,
}

/// <summary>A flow-mod in datapath form (the agent translates the wire message into this).</summary>
public readonly record struct FlowMod(
    FlowModCommand Command,
    FlowMatch Match,
    ushort Priority,
    FlowActions Actions,
    ulong Cookie = 0,
    ushort IdleTimeout = 0,
    ushort HardTimeout = 0,
    FlowModFlags Flags = FlowModFlags.None,
    ushort OutPort = OfPort.None);

/// <summary>Outcome of applying a flow-mod; non-Ok values map to OFPET_FLOW_MOD_FAILED codes in the agent.</summary>
public enum FlowModStatus : byte
{
    Ok = 0,
    /// <summary>OFPFMFC_ALL_TABLES_FULL.</summary>
    TableFull,
    /// <summary>OFPFMFC_OVERLAP (OFPFF_CHECK_OVERLAP and an overlapping rule of the same priority).</summary>
    Overlap,
    /// <summary>OFPFMFC_BAD_EMERG_TIMEOUT (emergency flow with a non-zero timeout).</summary>
    BadEmergencyTimeout,
    /// <summary>OFPFMFC_BAD_COMMAND.</summary>
    BadCommand,
}

/// <summary>A flow that left the table, with its final counters (the agent turns it into OFPT_FLOW_REMOVED).</summary>
public readonly record struct FlowRemoved(FlowEntry Entry, FlowRemovedReason Reason, long DurationNanos, long Packets, long Bytes);

/// <summary>
/// One installed flow.
/// </summary>
/// <remarks>
/// Design: identity (match, priority) and timeouts are immutable once published. <see cref="Actions"/> is
/// swapped whole by MODIFY (readers load it once per flow-batch). Counters are updated by forwarding
/// threads with one Interlocked add per flow-batch; <see cref="LastUsedNanos"/> by a plain volatile write.
/// <see cref="IsRemoved"/> becomes true when the writer unlinks the entry, so caches holding it treat it as
/// a miss. Timestamps are nanoseconds of the table's <see cref="IClock"/>.
/// </remarks>
public sealed class FlowEntry
{
    public readonly FlowMatch Match;
    /// <summary>
    /// The rule's priority. An exact rule's is 0xFFFF whatever the controller sent (as Open vSwitch does for
    /// OF1.0): exact entries rank above every wildcard entry. Strict requests are normalised the same way.
    /// </summary>
    public readonly ushort Priority;
    /// <summary>The priority the controller asked for, which flow stats and flow-removed report (for an exact rule it
    /// differs from <see cref="Priority"/>, the rank it is looked up with).</summary>
    public readonly ushort RequestedPriority;
    public readonly ushort IdleTimeout;
    public readonly ushort HardTimeout;
    public readonly FlowModFlags Flags;
    public readonly long CreatedNanos;
    /// <summary>0 = the exact table, 1 = the wildcard table: where the rule is stored (OpenFlow reports one table 0).</summary>
    public readonly byte TableId;

    private FlowActions _actions;
    private ulong _cookie;
    private long _packets, _bytes;
    private long _lastUsedNanos;
    private volatile bool _removed;

    private static int s_serial;

    /// <summary>A number unique among live entries (wraps after 2^32 creations); forwarders group packets by it.</summary>
    public readonly int Serial = Interlocked.Increment(ref s_serial);

    /// <summary>Writer-private slot for the table's own bookkeeping (timer wheel links, indexes).</summary>
    internal object? NextLowerPriority;

    public FlowEntry(in FlowMatch match, ushort priority, FlowActions actions, ulong cookie, ushort idleTimeout,
                     ushort hardTimeout, FlowModFlags flags, long createdNanos, ushort? requestedPriority = null)
    {
        Match = match;
        Priority = match.IsExact ? (ushort)0xFFFF : priority;
        RequestedPriority = requestedPriority ?? priority;
        _actions = actions;
        _cookie = cookie;
        IdleTimeout = idleTimeout;
        HardTimeout = hardTimeout;
        Flags = flags;
        CreatedNanos = createdNanos;
        _lastUsedNanos = createdNanos;
        TableId = match.IsExact ? (byte)0 : (byte)1;
    }

    public FlowActions Actions => Volatile.Read(ref _actions);
    public ulong Cookie => Volatile.Read(ref _cookie);
    public long Packets => Volatile.Read(ref _packets);
    public long Bytes => Volatile.Read(ref _bytes);
    public long LastUsedNanos => Volatile.Read(ref _lastUsedNanos);
    public bool IsRemoved => _removed;
    public bool IsEmergency => (Flags & FlowModFlags.Emergency) != 0;
    public bool SendFlowRemoved => (Flags & FlowModFlags.SendFlowRemoved) != 0;

    /// <summary>Hot path: account one flow-batch.</summary>
    public void Hit(int packets, long bytes, long nowNanos)
    {
        Interlocked.Add(ref _packets, packets);
        Interlocked.Add(ref _bytes, bytes);
        if (Volatile.Read(ref _lastUsedNanos) < nowNanos) Volatile.Write(ref _lastUsedNanos, nowNanos);
    }

    /// <summary>Adds counts kept elsewhere (e.g. hardware offload counters).</summary>
    public void AddCounts(long packets, long bytes) { Interlocked.Add(ref _packets, packets); Interlocked.Add(ref _bytes, bytes); }

    /// <summary>Marks the flow used without counting a packet (e.g. a hardware counter moved).</summary>
    public void Touch(long nowNanos) { if (Volatile.Read(ref _lastUsedNanos) < nowNanos) Volatile.Write(ref _lastUsedNanos, nowNanos); }

    internal void SetActions(FlowActions actions) => Volatile.Write(ref _actions, actions);
    internal void SetCookie(ulong cookie) => Volatile.Write(ref _cookie, cookie);
    internal void ResetCounters() { Volatile.Write(ref _packets, 0); Volatile.Write(ref _bytes, 0); }
    internal void MarkRemoved() => _removed = true;

    public override string ToString() => $"priority={Priority},{Match},cookie=0x{Cookie:x},actions={Actions}";
}

/// <summary>A monotonic clock in nanoseconds; tests substitute a controllable one.</summary>
public interface IClock
{
    long NowNanos { get; }
}

public sealed class MonotonicClock : IClock
{
    public static readonly MonotonicClock Instance = new();
    private static readonly double s_nanosPerTick = 1e9 / System.Diagnostics.Stopwatch.Frequency;
    public long NowNanos => (long)(System.Diagnostics.Stopwatch.GetTimestamp() * s_nanosPerTick);
}

/// <summary>A clock that moves only when told (tests).</summary>
public sealed class ManualClock : IClock
{
    private long _now;
    public ManualClock(long startNanos = 1_000_000_000) => _now = startNanos;
    public long NowNanos => Volatile.Read(ref _now);
    public void Advance(TimeSpan by) => Interlocked.Add(ref _now, (long)(by.TotalMilliseconds * 1_000_000));
    public void AdvanceNanos(long nanos) => Interlocked.Add(ref _now, nanos);
}
