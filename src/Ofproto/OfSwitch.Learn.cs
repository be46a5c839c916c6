using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;

namespace Softswitch.Ofproto;

/// <summary>
/// Open vSwitch's learn action, the switch's side (docs/datapath.md, "Learn"): the datapath posts a learn request (the
/// learn's id and the values its specs read) through the upcall rings; the upcall pump hands it here, and the learned
/// flow goes in as a controller's add-flow would (<see cref="FlowMod"/>: dump-flows, flow statistics, timeouts,
/// FLOW_REMOVED and the offload all see it), or, when the same flow is already there, has its idle and hard timers
/// restarted (Open vSwitch's refresh of rule->modified; the duration flow statistics report is not reset). LEARN2's
/// limit is checked again here, exactly, before a flow goes in: a learn whose flow is not there is refused while the
/// learned table holds limit flows of the learn's cookie (counted <see cref="LearnLimited"/>, logged), whatever the
/// datapath's lock-free reading of the count told the packet (docs/datapath.md, "Learn").
/// delete_learned: a flow-mod that removes a flow holding such a learn, or its expiry, deletes the flows of the learn's
/// table with the learn's cookie, as Open vSwitch does (when no other flow holds a learn of that table and cookie).
/// </summary>
public sealed partial class OfSwitch
{
    private long _learnInstalled, _learnRefreshed, _learnFailed, _learnLimited;
    private long _learnDropsLogged;

    /// <summary>Learned flows installed (new, or replacing a different flow of the same match and priority).</summary>
    public long LearnInstalled => Interlocked.Read(ref _learnInstalled);
    /// <summary>Learn requests that found their flow in place (its idle timer restarted).</summary>
    public long LearnRefreshed => Interlocked.Read(ref _learnRefreshed);
    /// <summary>Learn requests whose flow the switch refused (a full table, an output to a port that does not exist...).</summary>
    public long LearnFailed => Interlocked.Read(ref _learnFailed);
    /// <summary>Learn requests refused because the learned table held the learn's limit of flows of its cookie (LEARN2's limit).</summary>
    public long LearnLimited => Interlocked.Read(ref _learnLimited);

    /// <summary>One learn request from the upcall pump.</summary>
    private void OnLearn(in Upcall u)
    {
        if (LearnTemplates.Get((int)u.UserData) is not OfLearn learn) return;
        int n = u.Frame.Length / 16;
        Span<UInt128> values = stackalloc UInt128[LearnTemplates.MaxSources];
        n = Math.Min(n, values.Length);
        for (int i = 0; i < n; i++)
            values[i] = new UInt128(BinaryPrimitives.ReadUInt64BigEndian(u.Frame[(16 * i)..]), BinaryPrimitives.ReadUInt64BigEndian(u.Frame[(16 * i + 8)..]));
        LogLearnDrops();
        if (!learn.TryBuild(values[..n], out var match, out var actions))
        {
            Interlocked.Increment(ref _learnFailed);
            return;
        }
        var req = new FlowModRequest(FlowModCommand.Add, match, learn.Priority, OfInstructions.Apply(actions), learn.Table, Cookie: learn.Cookie,
                                     IdleTimeout: learn.IdleTimeout, HardTimeout: learn.HardTimeout,
                                     Flags: learn.SendFlowRemoved ? FlowModFlags.SendFlowRemoved : FlowModFlags.None, Rules: MatchRules.OpenFlow13);
        if (PrepareFlowMod(req, out var mod) == OfError.None && Flows.TryRefreshLearned(mod, _dp.Clock.NowNanos))
        {
            Interlocked.Increment(ref _learnRefreshed);
            return;
        }
        if (learn.Limit != 0 && LimitCount(learn) >= learn.Limit)
        {
            if (Interlocked.Increment(ref _learnLimited) is var limited && (limited & (limited - 1)) == 0)
                _log.LogInformation("learn limit {Limit} reached in table {Table} for cookie {Cookie:x} ({Limited} refused so far)", learn.Limit, learn.Table, learn.Cookie, limited);
            return;
        }
        var err = FlowMod(req);
        if (err == OfError.None)
        {
            if (learn.Limit != 0) LimitCount(learn); // counted from now on, if the flow made its table
            Interlocked.Increment(ref _learnInstalled);
            return;
        }
        if (Interlocked.Increment(ref _learnFailed) is var failed && (failed & (failed - 1)) == 0)
            _log.LogWarning("learn into table {Table} refused: {Error} ({Failed} refused so far)", learn.Table, err, failed);
    }

    /// <summary>
    /// How many flows of <paramref name="learn"/>'s cookie its table holds (Open vSwitch's limit counts every flow of the
    /// table with that cookie, whoever added it), the table counting them from now on for the datapath
    /// (<see cref="FlowTable.TaggedCount"/>). 0 when the table does not exist yet.
    /// </summary>
    private int LimitCount(OfLearn learn)
    {
        if (Flows.Pipeline.Stage(learn.Table) is not { } table) return 0;
        if (table.TaggedCount(learn.Cookie, out int count)) return count;
        using var w = table.Write();
        return w.WatchTag(learn.Cookie).Count;
    }

    /// <summary>
    /// Has the table of each learn with a limit in <paramref name="actions"/> count the flows of its cookie, so the
    /// datapath reads the count from the first packet on (a table that does not exist yet holds none: counted once a
    /// learned flow made it).
    /// </summary>
    private void WatchLearnLimits(FlowActions actions)
    {
        foreach (var a in actions.Items)
            if (a.Kind == ActionKind.Learn && LearnTemplates.Get((int)a.QueueId) is OfLearn { Limit: not 0 } l) LimitCount(l);
    }

    /// <summary>A log line when learn requests were dropped (rate or a full ring) since the last one said so.</summary>
    private void LogLearnDrops()
    {
        long drops = _dp.Counters.Read(LearnCounters.RateLimited) + _dp.Counters.Read(LearnCounters.QueueFull);
        long logged = Interlocked.Read(ref _learnDropsLogged);
        if (drops == logged || Interlocked.CompareExchange(ref _learnDropsLogged, drops, logged) != logged) return;
        _log.LogWarning("{Dropped} learn requests dropped (learn rate or a full upcall ring; learn-rate-limited, learn-queue-full)", drops - logged);
    }

    /// <summary>
    /// The (table, cookie) of every delete_learned learn the flows of <paramref name="removed"/> held, for
    /// <see cref="DeleteLearned"/> once the removal is done (null: none).
    /// </summary>
    private static List<(byte Table, ulong Cookie)>? LearnedToDelete(List<FlowRemoved> removed)
    {
        List<(byte, ulong)>? list = null;
        foreach (var r in removed) LearnedToDelete(r.Entry, ref list);
        return list;
    }

    /// <summary>As <see cref="LearnedToDelete(List{FlowRemoved})"/> for one flow (an expired one, read during the callback).</summary>
    private static List<(byte Table, ulong Cookie)>? LearnedToDelete(FlowEntry e)
    {
        List<(byte, ulong)>? list = null;
        LearnedToDelete(e, ref list);
        return list;
    }

    private static void LearnedToDelete(FlowEntry e, ref List<(byte, ulong)>? list)
    {
        foreach (var a in e.Actions.Items)
        {
            if (a.Kind == ActionKind.Learn && LearnTemplates.Get((int)a.QueueId) is OfLearn { DeleteLearned: true } l)
                (list ??= []).Add((l.Table, l.Cookie));
        }
    }

    /// <summary>
    /// Deletes the flows of each (table, cookie) in <paramref name="learns"/> (Open vSwitch's learned_cookies_flush),
    /// unless a flow still in the tables holds a delete_learned learn of the same table and cookie.
    /// </summary>
    private void DeleteLearned(List<(byte Table, ulong Cookie)> learns)
    {
        foreach (var (table, cookie) in learns.Distinct())
        {
            if (StillLearns(table, cookie)) continue;
            FlowMod(new FlowModRequest(FlowModCommand.Delete, OfMatch.Any, 0, default, table, Cookie: cookie, CookieMask: ulong.MaxValue,
                                       Rules: MatchRules.OpenFlow13));
        }
    }

    /// <summary><see cref="DeleteLearned"/> off the maintenance thread; a switch stopped meanwhile is logged, never thrown.</summary>
    private void DeleteLearnedAfterExpiry(List<(byte Table, ulong Cookie)> learns)
    {
        try
        {
            DeleteLearned(learns);
        }
        catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException)
        {
            _log.LogWarning("delete_learned after an expiry not done: {Error}", e.Message);
        }
    }

    private bool StillLearns(byte table, ulong cookie)
    {
        var entries = new List<FlowEntry>();
        foreach (int id in Flows.Pipeline.StageIds())
        {
            if (Flows.Pipeline.Stage(id) is not { } t) continue;
            entries.Clear();
            t.Snapshot(entries);
            foreach (var e in entries)
            {
                if (e.IsRemoved) continue;
                foreach (var a in e.Actions.Items)
                {
                    if (a.Kind == ActionKind.Learn && LearnTemplates.Get((int)a.QueueId) is OfLearn { DeleteLearned: true } l
                        && l.Table == table && l.Cookie == cookie)
                    {
                        return true;
                    }
                }
            }
        }
        return false;
    }
}
