using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Counters;

namespace Softswitch.Datapath.Forwarding;

/// <summary>The learn requests a forwarder posts for the layer above (docs/datapath.md, "Learn").</summary>
public static class LearnCounters
{
    /// <summary>Learn requests queued for the layer above.</summary>
    public static readonly Counter Posted = Coverage.Define("learn-posted", "learn requests queued for the switch to install the learned flow");
    /// <summary>Learn requests not queued: the learn rate (<see cref="DatapathOptions.LearnRate"/>) was used up.</summary>
    public static readonly Counter RateLimited = Coverage.Define("learn-rate-limited", "learn requests dropped: the datapath's learn rate was used up");
    /// <summary>Learn requests not queued: the forwarder's upcall ring was full.</summary>
    public static readonly Counter QueueFull = Coverage.Define("learn-queue-full", "learn requests dropped: the upcall ring was full");
}

public sealed partial class Forwarder
{
    private double _learnTokens;
    private long _learnRefill;

    /// <summary>
    /// Posts a learn request of template <paramref name="templateId"/> with <paramref name="values"/> through this
    /// forwarder's upcall ring (<see cref="UpcallReason.Learn"/>), unless <paramref name="state"/> says it was posted
    /// less than <see cref="LearnState.RefreshNanos"/> ago and the learned table has removed nothing since (its flow is
    /// then still there). A request the learn rate or a full ring refuses is counted and not remembered: the next
    /// batch tries again. No allocation: the values go into the ring's preallocated slot.
    /// </summary>
    [SkipLocalsInit]
    internal void PostLearn(int templateId, ReadOnlySpan<FlowAction> values, LearnState state)
    {
        long now = _now;
        var template = LearnTemplates.Get(templateId);
        if (template is null) return;
        long removals = _dp.Pipeline.Stage(template.Table)?.Removals ?? -1;
        if (now - state.PostedAt < LearnState.RefreshNanos && removals == state.RemovalsSeen) return;
        double rate = LearnRatePerForwarder;
        if (rate > 0)
        {
            if (now > _learnRefill)
            {
                _learnTokens = Math.Min(Math.Max(1, rate / 10), _learnTokens + (now - _learnRefill) * 1e-9 * rate);
                _learnRefill = now;
            }
            if (_learnTokens < 1)
            {
                Counters.Add(LearnCounters.RateLimited);
                return;
            }
            _learnTokens -= 1;
        }
        Span<byte> buf = stackalloc byte[16 * LearnTemplates.MaxSources];
        int n = Math.Min(values.Length, LearnTemplates.MaxSources);
        for (int i = 0; i < n; i++)
        {
            var v = values[i].Wide;
            BinaryPrimitives.WriteUInt64BigEndian(buf[(16 * i)..], (ulong)(v >> 64));
            BinaryPrimitives.WriteUInt64BigEndian(buf[(16 * i + 8)..], (ulong)v);
        }
        if (Upcalls.TryEnqueue(buf[..(16 * n)], 0, UpcallReason.Learn, 0, now, 0, 0, (ulong)templateId) is not null)
        {
            Counters.Add(LearnCounters.QueueFull);
            return;
        }
        Counters.Add(LearnCounters.Posted);
        state.PostedAt = now;
        state.RemovalsSeen = removals;
    }

    /// <summary>Learn requests per second this forwarder may post (its share of <see cref="DatapathOptions.LearnRate"/>; 0: unlimited).</summary>
    internal double LearnRatePerForwarder => _dp.LearnRatePerForwarder;
}
