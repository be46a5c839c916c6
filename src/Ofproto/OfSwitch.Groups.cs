using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Groups;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ofproto;

/// <summary>
/// Groups (OpenFlow 1.3.5 sections 5.6, 6.5 and 7.3.4.2): group-mods checked as the spec and Open vSwitch check them,
/// the datapath's group table written, the groups read back exactly as given, their statistics and features.
/// </summary>
/// <remarks>
/// <para>Rules of a group-mod (Open vSwitch's <c>ofputil_check_group_mod</c> and <c>init_group</c>, and the spec):
/// an id above OFPG_MAX is INVALID_GROUP; an ADD of an existing id GROUP_EXISTS, a MODIFY of a missing one
/// UNKNOWN_GROUP, a DELETE of a missing one nothing (OFPG_ALL deletes every group); an INDIRECT group has exactly one
/// bucket, only SELECT buckets have weights and a SELECT group with buckets needs a weight other than 0 (else
/// INVALID_GROUP); ALL and INDIRECT buckets watch nothing (WATCH_UNSUPPORTED) and every FAST_FAILOVER bucket watches a
/// port or a group (INVALID_GROUP); a watched port or group must exist (BAD_WATCH); bucket actions are checked as a
/// flow's, and a group they apply must exist (BAD_OUT_GROUP); a group reaching itself through its buckets' chains is a
/// LOOP; a bucket watching its own group, or a cycle of watched groups, is BAD_WATCH (Open vSwitch checks neither and
/// stops its liveness walk 128 groups deep; LOOP is for a group that forwards to itself, and a watch forwards nothing); a
/// chain deeper than the datapath follows, counting the groups that apply the group's id, is CHAINING_UNSUPPORTED.</para>
/// <para>Deleting a group deletes the flows that apply it (their FLOW_REMOVED reason GROUP_DELETE, 1.3.5 section 6.5);
/// the buckets of other groups that apply it then apply nothing until a group of that id is added again (the executor
/// counts them). A MODIFY keeps the group's counters and age; its buckets start from 0.</para>
/// <para>Each group's description (the group-mod as given, read back by GROUP_DESC) is kept on the datapath's group
/// itself: a switch made anew over the same datapath (a bridge whose fail mode, versions or controllers change) sees
/// the groups the datapath forwards by, and the two never disagree.</para>
/// <para>Thread safety: group-mods are serialised by one lock; the datapath's table is read lock-free.</para>
/// </remarks>
public sealed partial class OfSwitch
{
    /// <summary>The most groups the switch keeps (of all types together).</summary>
    public const int MaxGroups = 65536;

    private readonly Lock _groupLock = new();
    /// <summary>The groups that apply each group id (in a bucket's actions), kept with the group table: chains are checked from it.</summary>
    private readonly Dictionary<uint, HashSet<uint>> _groupParents = new();
    /// <summary>While a bundle's commit applies group-mods: each group a MODIFY replaced, its replacement and the counts it
    /// took, so what the old group counts until the commit is carried over after it (under the group lock).</summary>
    private List<(Group From, Group To, long Packets, long Bytes)>? _groupCarry;

    /// <summary>Learns the parents of the groups the datapath already has (a switch made over a datapath in use).</summary>
    private void ReadGroups()
    {
        lock (_groupLock)
        {
            foreach (var g in _dp.Groups.All) Parent(g);
        }
    }

    private void Parent(Group group)
    {
        foreach (uint child in Applied(group))
        {
            if (!_groupParents.TryGetValue(child, out var parents)) _groupParents[child] = parents = [];
            parents.Add(group.Id);
        }
    }

    /// <summary>What the groups can do.</summary>
    public static OfGroupFeatures GroupFeatures => new(MaxGroups, Group.MaxBuckets, SelectWeight: true, SelectLiveness: true, Chaining: true, ChainingChecks: true);

    /// <summary>Applies a group-mod (see the type remarks).</summary>
    public OfError GroupMod(in GroupModRequest req, OfController? from = null)
    {
        if (from is { MayWrite: false }) return OfError.IsSlave;
        // This thread's run publishes first: it may hold no table while this takes the group lock.
        EndFlowModRun();
        if (req.Command == GroupModCommand.Delete)
        {
            // Its flows are reported once every table has published their removal, outside the lock, with their
            // final counts (as a flow-mod's are), held from reuse until then.
            var removed = new List<FlowRemoved>();
            using var hold = Flows.Reclamation.Enter();
            lock (_groupLock) DeleteGroup(req.GroupId, removed);
            ReportFinal(removed);
            return OfError.None;
        }
        lock (_groupLock)
        {
            return req.Command switch
            {
                GroupModCommand.Add or GroupModCommand.Modify => AddOrModifyGroup(req),
                GroupModCommand.InsertBuckets or GroupModCommand.RemoveBuckets => EditBuckets(req),
                _ => OfError.BadGroupCommand,
            };
        }
    }

    /// <summary>
    /// OpenFlow 1.5's INSERT_BUCKET and REMOVE_BUCKET, as Open vSwitch's copy_buckets_for_insert_bucket and
    /// copy_buckets_for_remove_bucket: the group's buckets with the new ones after the bucket of the command bucket id
    /// (first or last for FIRST and LAST), or without the bucket it names (FIRST, LAST, ALL: every one; FIRST and LAST of
    /// no bucket remove nothing); an id the group does not have is UNKNOWN_BUCKET, a new bucket's id the group has
    /// BUCKET_EXISTS. The group keeps its type; the result is then checked and set as a MODIFY.
    /// </summary>
    private OfError EditBuckets(in GroupModRequest req)
    {
        if (!_dp.Groups.TryGet(req.GroupId, out var g) || g.Description is not OfGroupDesc old) return OfError.UnknownGroup;
        var buckets = new List<OfBucket>(old.Buckets.Count + req.Buckets.Count);
        for (int i = 0; i < old.Buckets.Count; i++) buckets.Add(old.Buckets[i] with { Id = old.Buckets[i].IdAt(i) });
        uint at = req.CommandBucketId;
        int index = at <= OfBucket.MaxId ? buckets.FindIndex(b => b.Id == at) : -1;
        if (at <= OfBucket.MaxId && index < 0) return OfError.UnknownBucket;
        if (req.Command == GroupModCommand.InsertBuckets)
        {
            var added = new List<OfBucket>(req.Buckets.Count);
            for (int i = 0; i < req.Buckets.Count; i++)
            {
                var b = req.Buckets[i];
                if (b.Id > OfBucket.MaxId) return OfError.InvalidGroup; // an insert names its buckets
                if (buckets.Exists(o => o.Id == b.Id)) return OfError.BucketExists;
                added.Add(b);
            }
            int pos = at == OfBucket.First ? 0 : at == OfBucket.Last ? buckets.Count : index + 1;
            buckets.InsertRange(pos, added);
        }
        else
        {
            int remove = at switch
            {
                OfBucket.All => -2,
                OfBucket.First => buckets.Count > 0 ? 0 : -1,
                OfBucket.Last => buckets.Count - 1,
                _ => index,
            };
            if (remove == -2) buckets.Clear();
            else if (remove >= 0) buckets.RemoveAt(remove);
        }
        return AddOrModifyGroup(new GroupModRequest(GroupModCommand.Modify, old.Type, req.GroupId, buckets, Selection: old.Selection));
    }

    private OfError AddOrModifyGroup(in GroupModRequest req)
    {
        if (req.GroupId > GroupModRequest.MaxId) return OfError.InvalidGroup;
        if (req.Type > OfGroupType.FastFailover) return OfError.BadGroupType;
        bool exists = _dp.Groups.TryGet(req.GroupId, out _);
        if (req.Command == GroupModCommand.Add && exists) return OfError.GroupExists;
        if (req.Command == GroupModCommand.Modify && !exists) return OfError.UnknownGroup;
        if (!exists && _dp.Groups.Count >= MaxGroups) return OfError.OutOfGroups;
        var err = CompileGroup(req, out var group);
        if (err != OfError.None) return err;
        err = CheckChains(group);
        if (err != OfError.None) return err;
        if (_dp.Groups.TryGet(req.GroupId, out var old))
        {
            group.InheritCounters(old);
            // In a bundle the old group counts on until the commit (lookups at older versions find it).
            _groupCarry?.Add((old, group, old.Packets, old.Bytes));
            Unparent(old);
        }
        _dp.Groups.Set(group);
        Parent(group);
        return OfError.None;
    }

    private OfError CompileGroup(in GroupModRequest req, out Group group)
    {
        group = null!;
        var buckets = req.Buckets;
        if (buckets.Count > Group.MaxBuckets) return OfError.OutOfBuckets;
        if (req.Type == OfGroupType.Indirect && buckets.Count != 1) return OfError.InvalidGroup;
        var compiled = new GroupBucket[buckets.Count];
        bool anyWeight = false;
        for (int i = 0; i < buckets.Count; i++)
        {
            var b = buckets[i];
            if (b.Weight != 0 && req.Type != OfGroupType.Select) return OfError.InvalidGroup;
            anyWeight |= b.Weight != 0;
            bool watches = b.WatchPort != OfPort.Any || b.WatchGroup != GroupModRequest.AnyGroup;
            if (watches && req.Type is OfGroupType.All or OfGroupType.Indirect) return OfError.WatchUnsupported;
            if (!watches && req.Type == OfGroupType.FastFailover) return OfError.InvalidGroup;
            ushort watchPort = PortNumber.None;
            if (b.WatchPort != OfPort.Any
                && (OfPort.IsReserved(b.WatchPort) || !OfPort.ToDatapath(b.WatchPort, out watchPort) || _dp.Ports.Get(watchPort) is null))
            {
                return OfError.BadWatch;
            }
            uint watchGroup = GroupBucket.NoWatchGroup;
            if (b.WatchGroup != GroupModRequest.AnyGroup)
            {
                if (b.WatchGroup > GroupModRequest.MaxId) return OfError.BadWatch;
                if (b.WatchGroup == req.GroupId) return OfError.BadWatch; // its liveness would be its own
                if (!_dp.Groups.TryGet(b.WatchGroup, out _)) return OfError.BadWatch;
                watchGroup = b.WatchGroup;
            }
            var err = OfActionCompiler.TryCompile(b.Actions.Span, _dp.Ports, ActionContext.GroupBucket, QueuesPerPort, out var actions);
            if (err != OfError.None) return err;
            foreach (var a in actions.Items)
            {
                if (a.Kind == ActionKind.Group && a.QueueId != req.GroupId && !_dp.Groups.TryGet(a.QueueId, out _)) return OfError.BadOutGroup;
                // A bucket's fin_timeout lowers the rule that applied the group, which only the pipeline walk names
                // (its composed group action carries that rule's visit): the forwarders classify through the stages.
                // So does a bucket's resubmit or load into a packet field (the walk composes the group's buckets).
                if (a.Kind is ActionKind.FinTimeout or ActionKind.Resubmit or ActionKind.FieldLoad) _dp.Pipeline.EnableStages();
            }
            // Its actions run as an action set, in the set's order (translated here, once); the description keeps them as written.
            compiled[i] = new GroupBucket(ActionSet.AsBucket(actions), b.Weight, watchPort, watchGroup);
        }
        if (req.Type == OfGroupType.Select && buckets.Count != 0 && !anyWeight) return OfError.InvalidGroup;
        var method = SelectMethod.Default;
        uint basis = 0;
        FlowKey hashFields = default;
        if (req.Selection is { } sel)
        {
            if (req.Type != OfGroupType.Select) return OfError.BadGroupType;
            if (sel.Name == OfSelectionMethod.DpHash)
            {
                method = SelectMethod.DpHash;
                basis = (uint)sel.Param;
            }
            else
            {
                var err = OfMatchCompiler.TryCompile(sel.Fields, out var fields);
                if (err != OfError.None) return err;
                method = SelectMethod.Hash;
                basis = (uint)(sel.Param ^ (sel.Param >> 32));
                hashFields = fields.Mask;
            }
        }
        long created = _dp.Groups.TryGet(req.GroupId, out var old) ? old.CreatedNanos : _dp.Clock.NowNanos;
        group = new Group(req.GroupId, ToDatapath(req.Type), compiled, created, method, basis, hashFields)
        {
            Description = new OfGroupDesc(req.GroupId, req.Type, [.. req.Buckets], req.Selection),
        };
        return OfError.None;
    }

    /// <summary>The datapath's group type for a model type (named, not cast: the two enums are declared apart).</summary>
    internal static GroupType ToDatapath(OfGroupType type) => type switch
    {
        OfGroupType.All => GroupType.All,
        OfGroupType.Select => GroupType.Select,
        OfGroupType.Indirect => GroupType.Indirect,
        OfGroupType.FastFailover => GroupType.FastFailover,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a group type"),
    };

    /// <summary>
    /// BAD_WATCH when <paramref name="group"/> would watch itself through the groups its buckets watch (OFPGMFC_LOOP is a
    /// group that forwards to itself; a watch forwards nothing, and this is an error in a watch group); LOOP when it
    /// would apply itself through its buckets' chains; CHAINING_UNSUPPORTED when a chain through it (the groups that
    /// apply its id, then it and what it applies) would be deeper than the datapath follows. Each group is walked once.
    /// </summary>
    private OfError CheckChains(Group group)
    {
        if (WatchesItself(group)) return OfError.BadWatch;
        var heights = new Dictionary<uint, int>();
        bool loop = false;
        int below = Height(group, 1);
        if (loop) return OfError.GroupLoop;
        return ChainAbove(group.Id) + below > GroupTable.MaxDepth ? OfError.ChainTooDeep : OfError.None;

        // The groups of the longest chain from g down, g included (past the datapath's depth the answer only needs to be
        // too deep); a chain coming back to the group being set is a loop.
        int Height(Group g, int level)
        {
            int best = 1;
            foreach (uint child in Applied(g))
            {
                if (child == group.Id)
                {
                    loop = true;
                    return best;
                }
                if (!heights.TryGetValue(child, out int h))
                {
                    if (!_dp.Groups.TryGet(child, out var next)) continue; // deleted since: applies nothing
                    h = level > GroupTable.MaxDepth ? GroupTable.MaxDepth + 1 : Height(next, level + 1);
                    if (loop) return best;
                    heights[child] = h;
                }
                best = Math.Max(best, 1 + h);
            }
            return best;
        }
    }

    /// <summary>The distinct groups that <paramref name="g"/>'s buckets apply.</summary>
    private static HashSet<uint> Applied(Group g)
    {
        var ids = new HashSet<uint>();
        foreach (var b in g.Buckets)
        {
            foreach (var a in b.Actions.Items)
                if (a.Kind == ActionKind.Group) ids.Add(a.QueueId);
        }
        return ids;
    }

    /// <summary>Takes <paramref name="g"/> out of the parents of the groups it applies (it is replaced or deleted).</summary>
    private void Unparent(Group g)
    {
        foreach (uint child in Applied(g))
        {
            if (!_groupParents.TryGetValue(child, out var parents)) continue;
            parents.Remove(g.Id);
            if (parents.Count == 0) _groupParents.Remove(child);
        }
    }

    /// <summary>Whether following the watched groups of <paramref name="group"/>'s buckets, group by group, comes back to it.</summary>
    private bool WatchesItself(Group group)
    {
        var seen = new HashSet<uint>();
        var next = new Stack<uint>();
        foreach (var b in group.Buckets)
            if (b.WatchGroup != GroupBucket.NoWatchGroup) next.Push(b.WatchGroup);
        while (next.TryPop(out uint id))
        {
            if (id == group.Id) return true;
            if (!seen.Add(id) || !_dp.Groups.TryGet(id, out var g)) continue;
            foreach (var b in g.Buckets)
                if (b.WatchGroup != GroupBucket.NoWatchGroup) next.Push(b.WatchGroup);
        }
        return false;
    }

    /// <summary>
    /// The most groups chained above group id <paramref name="id"/>: the longest run of groups applying one another
    /// down to it (0: none applies it). A group deleted and added again counts the groups that still apply its id.
    /// </summary>
    private int ChainAbove(uint id)
    {
        if (!_groupParents.ContainsKey(id)) return 0;
        var memo = new Dictionary<uint, int>();
        return Above(id, 0);

        // Loops are refused before they exist, so the walk ends; past the datapath's depth the answer no longer matters.
        int Above(uint g, int level)
        {
            if (level > GroupTable.MaxDepth || !_groupParents.TryGetValue(g, out var ps)) return 0;
            if (memo.TryGetValue(g, out int known)) return known;
            int best = 0;
            foreach (uint p in ps) best = Math.Max(best, 1 + Above(p, level + 1));
            memo[g] = best;
            return best;
        }
    }

    /// <summary>Deletes group <paramref name="id"/> (or every group) and the flows that apply it, appended to <paramref name="removed"/> (call under the group lock).</summary>
    private void DeleteGroup(uint id, List<FlowRemoved> removed)
    {
        List<uint> ids;
        if (id == GroupModRequest.AllGroups) ids = [.. _dp.Groups.All.Select(g => g.Id)];
        else if (_dp.Groups.TryGet(id, out _)) ids = [id];
        else return;
        var set = new HashSet<uint>(ids);
        Flows.RemoveWhere(e => AppliesAny(e, set), FlowRemovedReason.GroupDelete, removed);
        foreach (var g in ids)
        {
            if (_dp.Groups.TryGet(g, out var old)) Unparent(old);
            _dp.Groups.Remove(g);
        }
    }

    private static bool AppliesAny(FlowEntry e, HashSet<uint> groups)
    {
        foreach (var a in e.Actions.Items)
            if (a.Kind == ActionKind.Group && groups.Contains(a.QueueId)) return true;
        if (e.Instructions?.WriteActions is { } w)
        {
            foreach (var a in w.Items)
                if (a.Kind == ActionKind.Group && groups.Contains(a.QueueId)) return true;
        }
        return false;
    }

    private static bool UsesGroups(FlowActions? actions)
    {
        if (actions is null) return false;
        foreach (var a in actions.Items)
            if (a.Kind == ActionKind.Group) return true;
        return false;
    }

    /// <summary>BAD_OUT_GROUP when <paramref name="actions"/> apply a group that does not exist.</summary>
    private OfError CheckGroupsExist(FlowActions? actions)
    {
        if (actions is null) return OfError.None;
        foreach (var a in actions.Items)
            if (a.Kind == ActionKind.Group && !_dp.Groups.TryGet(a.QueueId, out _)) return OfError.BadOutGroup;
        return OfError.None;
    }

    /// <summary>The groups as GROUP_DESC reports them (<see cref="GroupModRequest.AllGroups"/>: every group), by id.</summary>
    public List<OfGroupDesc> GroupDescriptions(uint groupId = GroupModRequest.AllGroups)
    {
        lock (_groupLock)
        {
            if (groupId != GroupModRequest.AllGroups) return _dp.Groups.TryGet(groupId, out var g) ? [Describe(g)] : [];
            var all = _dp.Groups.All.Select(Describe).ToList();
            all.Sort((a, b) => a.GroupId.CompareTo(b.GroupId));
            return all;
        }
    }

    /// <summary>A group as GROUP_DESC reports it: as its group-mod gave it (only this layer sets the datapath's groups).</summary>
    private static OfGroupDesc Describe(Group g) => (OfGroupDesc)g.Description!;

    /// <summary>
    /// Statistics of one group or every group (<see cref="GroupModRequest.AllGroups"/>), by id; a group that does not exist
    /// has none. The reference count is the flows and other groups' buckets that apply the group.
    /// </summary>
    public List<OfGroupStats> GroupStatistics(uint groupId = GroupModRequest.AllGroups)
    {
        var refs = new Dictionary<uint, uint>();
        var flows = new List<FlowEntry>();
        Flows.Collect(FlowMatch.All, PortNumber.None, false, flows);
        foreach (var e in flows)
        {
            CountRefs(e.Actions, refs);
            if (e.Instructions?.WriteActions is { } w) CountRefs(w, refs);
        }
        var result = new List<OfGroupStats>();
        long now = _dp.Clock.NowNanos;
        lock (_groupLock)
        {
            foreach (var g in _dp.Groups.All)
                foreach (var b in g.Buckets) CountRefs(b.Actions, refs);
            foreach (var g in _dp.Groups.All)
            {
                if (groupId != GroupModRequest.AllGroups && g.Id != groupId) continue;
                var buckets = new OfBucketStats[g.Buckets.Length];
                for (int i = 0; i < buckets.Length; i++) buckets[i] = new OfBucketStats((ulong)g.Buckets[i].Packets, (ulong)g.Buckets[i].Bytes);
                result.Add(new OfGroupStats(g.Id, refs.GetValueOrDefault(g.Id), (ulong)g.Packets, (ulong)g.Bytes, Math.Max(0, now - g.CreatedNanos), buckets));
            }
        }
        result.Sort((a, b) => a.GroupId.CompareTo(b.GroupId));
        return result;
    }

    private static void CountRefs(FlowActions actions, Dictionary<uint, uint> refs)
    {
        foreach (var a in actions.Items)
            if (a.Kind == ActionKind.Group) refs[a.QueueId] = refs.GetValueOrDefault(a.QueueId) + 1;
    }
}
