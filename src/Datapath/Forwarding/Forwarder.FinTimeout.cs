using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Forwarding;

/// <summary>The fin_timeout signals a forwarder posts for the datapath's maintenance (docs/datapath.md, "Fin timeout").</summary>
public static class FinTimeoutCounters
{
    /// <summary>Rules signalled: a TCP FIN or RST met a fin_timeout that lowers their timeouts.</summary>
    public static readonly Counter Posted = Coverage.Define("fin-timeout-posted", "fin_timeout: a TCP FIN or RST signalled its rule's timeouts to be lowered");
    /// <summary>Signals not queued: the forwarder's fin_timeout ring was full (the next FIN signals again).</summary>
    public static readonly Counter QueueFull = Coverage.Define("fin-timeout-queue-full", "fin_timeout signals dropped: the forwarder's ring was full");
}

public sealed partial class Forwarder
{
    /// <summary>Signals a forwarder holds until the maintenance drains them.</summary>
    internal const int FinSlots = 64;

    // A single-producer (this forwarder), single-consumer (the maintenance) ring, preallocated: a signal writes
    // references and numbers into slots, never allocates.
    private readonly FlowTable?[] _finTables = new FlowTable?[FinSlots];
    private readonly FlowEntry?[] _finEntries = new FlowEntry?[FinSlots];
    private readonly int[] _finSerials = new int[FinSlots];
    private readonly uint[] _finTimeouts = new uint[FinSlots];
    private int _finHead, _finTail;
    private readonly Lock _finDrain = new();

    /// <summary>The verdict whose composed list the executor runs now (a fin_timeout in it names its rule by visit).</summary>
    internal PipelineVerdict? RunningVerdict;

    /// <summary>
    /// Signals the rule of visit <paramref name="visit"/> of <see cref="RunningVerdict"/> (the incarnation it found) for
    /// its timeouts to be lowered to <paramref name="idle"/> and <paramref name="hard"/>, unless they are already that low
    /// or the last signal still queued says the same. A full ring is counted, and the next FIN tries again.
    /// </summary>
    internal void PostFinTimeout(int visit, ushort idle, ushort hard)
    {
        var v = RunningVerdict;
        if (v is null || (uint)visit >= (uint)v.Tables.Length) return;
        ref readonly var c = ref v.Check(visit);
        if (c.Hit is not { } e || e.IsRemoved || e.Serial != c.Serial) return;
        if (FlowTable.Reduced(e.IdleTimeout, idle) == e.IdleTimeout && FlowTable.Reduced(e.HardTimeout, hard) == e.HardTimeout) return;
        uint timeouts = idle | (uint)hard << 16;
        int head = _finHead, tail = Volatile.Read(ref _finTail);
        if (head != tail)
        {
            int last = (head - 1) & (FinSlots - 1);
            if (ReferenceEquals(_finEntries[last], e) && _finSerials[last] == c.Serial && _finTimeouts[last] == timeouts) return;
        }
        if (head - tail >= FinSlots)
        {
            Counters.Add(FinTimeoutCounters.QueueFull);
            return;
        }
        int i = head & (FinSlots - 1);
        _finTables[i] = v.Tables[visit];
        _finEntries[i] = e;
        _finSerials[i] = c.Serial;
        _finTimeouts[i] = timeouts;
        Volatile.Write(ref _finHead, head + 1);
        Counters.Add(FinTimeoutCounters.Posted);
    }

    /// <summary>
    /// The maintenance's side: lowers the timeouts of every rule signalled so far (<see cref="FlowTable.ReduceTimeouts"/>,
    /// under each table's writer lock). Returns how many rules changed. Callers are serialised (the maintenance, a test's).
    /// </summary>
    internal int DrainFinTimeouts()
    {
        lock (_finDrain) return DrainFinTimeoutsLocked();
    }

    private int DrainFinTimeoutsLocked()
    {
        int tail = _finTail, head = Volatile.Read(ref _finHead), changed = 0;
        for (; tail != head; tail++)
        {
            int i = tail & (FinSlots - 1);
            var table = _finTables[i]!;
            var e = _finEntries[i]!;
            _finTables[i] = null;
            _finEntries[i] = null;
            if (table.ReduceTimeouts(e, _finSerials[i], (ushort)_finTimeouts[i], (ushort)(_finTimeouts[i] >> 16))) changed++;
        }
        Volatile.Write(ref _finTail, tail);
        return changed;
    }
}
