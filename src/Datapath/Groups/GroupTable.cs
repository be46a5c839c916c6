using System.Collections.Concurrent;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Groups;

/// <summary>How a group applies its buckets (OpenFlow 1.3.5 section 5.6.1).</summary>
public enum GroupType : byte
{
    /// <summary>Every bucket, each on its own copy of the packet (multicast, flooding).</summary>
    All,
    /// <summary>One bucket per flow, chosen by a hash of the packet's flow fields, weighted, live buckets only (ECMP).</summary>
    Select,
    /// <summary>The one bucket (next hops shared by many flows).</summary>
    Indirect,
    /// <summary>The first live bucket (fast failover).</summary>
    FastFailover,
}

/// <summary>
/// One bucket of a <see cref="Group"/>: the actions it runs, its weight (select groups), and what decides whether it is
/// live (a watched port, a watched group, or neither: always live). Counts the packets and bytes it ran.
/// </summary>
public sealed class GroupBucket
{
    /// <summary><see cref="WatchGroup"/> when the bucket watches no group.</summary>
    public const uint NoWatchGroup = uint.MaxValue;

    public GroupBucket(FlowActions actions, ushort weight = 0, ushort watchPort = PortNumber.None, uint watchGroup = NoWatchGroup)
    {
        Actions = actions;
        Weight = weight;
        WatchPort = watchPort;
        WatchGroup = watchGroup;
    }

    public FlowActions Actions { get; }
    /// <summary>The bucket's share of a select group's flows (0: never selected).</summary>
    public ushort Weight { get; }
    /// <summary>The port whose liveness the bucket follows, or <see cref="PortNumber.None"/>.</summary>
    public ushort WatchPort { get; }
    /// <summary>The group whose liveness the bucket follows, or <see cref="NoWatchGroup"/>.</summary>
    public uint WatchGroup { get; }
    /// <summary>Whether liveness is watched at all (a bucket that watches nothing is always live).</summary>
    public bool HasLiveness => WatchPort != PortNumber.None || WatchGroup != NoWatchGroup;

    internal long PacketCount, ByteCount;
    public long Packets => Volatile.Read(ref PacketCount);
    public long Bytes => Volatile.Read(ref ByteCount);

    internal void Count(int packets, long bytes)
    {
        Interlocked.Add(ref PacketCount, packets);
        Interlocked.Add(ref ByteCount, bytes);
    }
}

/// <summary>
/// A group: its id, type and buckets, and its counters. Immutable but for the counters: a modification replaces the
/// whole group in the <see cref="GroupTable"/> (the executor reads one consistent group per batch).
/// </summary>
/// <remarks>
/// A select group precomputes a slot table: <see cref="SlotCount"/> slots, each naming a bucket, filled by smooth
/// weighted round robin so each bucket holds slots in proportion to its weight (within one slot) and spread evenly.
/// A packet's flow hash picks a slot, so a flow stays on its bucket; when that bucket is dead the packet picks among the
/// live buckets by a second hash, weighted, so only the dead bucket's flows move.
/// </remarks>
public sealed class Group
{
    /// <summary>The most buckets a group holds.</summary>
    public const int MaxBuckets = 1024;

    internal readonly ushort[] Slots;
    internal readonly int SlotMask;
    internal readonly bool AnyLiveness;

    public Group(uint id, GroupType type, GroupBucket[] buckets, long createdNanos)
    {
        if (buckets.Length > MaxBuckets) ThrowHelper.ArgumentOutOfRange(nameof(buckets));
        Id = id;
        Type = type;
        Buckets = buckets;
        CreatedNanos = createdNanos;
        foreach (var b in buckets)
        {
            AnyLiveness |= b.HasLiveness;
            foreach (var a in b.Actions.Items) HasResubmit |= a.Kind == ActionKind.Resubmit;
        }
        Slots = type == GroupType.Select ? BuildSlots(buckets) : [];
        SlotMask = Slots.Length - 1;
    }

    public uint Id { get; }
    public GroupType Type { get; }
    /// <summary>Some bucket holds a resubmit: the pipeline walk composes the group's buckets where a list applies it
    /// (docs/datapath.md, "Resubmit"), so a change to such a group moves <see cref="GroupTable.CompositionChanged"/>.</summary>
    public bool HasResubmit { get; }
    public GroupBucket[] Buckets { get; }
    /// <summary>When the group was added (the datapath clock), for its duration in statistics.</summary>
    public long CreatedNanos { get; }
    /// <summary>Slots of the select table (0 when no bucket has a weight).</summary>
    public int SlotCount => Slots.Length;
    /// <summary>What the layer above says this group is (the group-mod as a controller gave it), kept with the group so
    /// the two never disagree, whichever object reads it; forwarding never reads it.</summary>
    public object? Description { get; init; }

    internal long PacketCount, ByteCount;
    public long Packets => Volatile.Read(ref PacketCount);
    public long Bytes => Volatile.Read(ref ByteCount);

    internal void Count(int packets, long bytes)
    {
        Interlocked.Add(ref PacketCount, packets);
        Interlocked.Add(ref ByteCount, bytes);
    }

    /// <summary>Carries <paramref name="old"/>'s group counters over (a modification keeps the group's own counts).</summary>
    public void InheritCounters(Group old)
    {
        PacketCount = old.Packets;
        ByteCount = old.Bytes;
    }

    /// <summary>The bucket a select group gives a packet of flow hash <paramref name="hash"/> while every bucket is live.</summary>
    public int SelectSlot(uint hash) => Slots[(int)(hash & (uint)SlotMask)];

    private static ushort[] BuildSlots(GroupBucket[] buckets)
    {
        long total = 0;
        foreach (var b in buckets) total += b.Weight;
        if (total == 0) return [];
        int n = (int)Math.Min(1 << 16, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(256, buckets.Length * 16)));
        var slots = new ushort[n];
        var current = new long[buckets.Length];
        for (int s = 0; s < n; s++)
        {
            int best = -1;
            for (int i = 0; i < buckets.Length; i++)
            {
                current[i] += buckets[i].Weight;
                if (buckets[i].Weight != 0 && (best < 0 || current[i] > current[best])) best = i;
            }
            current[best] -= total;
            slots[s] = (ushort)best;
        }
        return slots;
    }
}

/// <summary>
/// The datapath's groups by id (OpenFlow 1.3's group table): what a <see cref="ActionKind.Group"/> action runs. Read by
/// every forwarding thread without locks; written by the layer above (one writer at a time), which checks ids, types,
/// bucket rules and chains before it sets a group here.
/// </summary>
/// <remarks>
/// Groups are resolved when a packet meets the action, not when the pipeline's verdict is cached: the verdict keeps the
/// group action, so a group modification, a select bucket per flow and a bucket's liveness take effect on the next
/// batch with no cached verdict to invalidate. Liveness is read from the port table's last known link state and
/// administrative config (<see cref="PortSlot.LinkUp"/>, <see cref="PortConfig.PortDown"/>) and from watched groups,
/// followed to <see cref="MaxLivenessDepth"/>; one question (a group's buckets for one batch) works out each watched
/// group once and checks at most <see cref="MaxLivenessChecks"/> buckets, so no arrangement of watches, cycles included
/// (the layer above refuses them), can hold up a forwarding thread.
/// </remarks>
public sealed class GroupTable
{
    /// <summary>How deep groups chain (a group's bucket applying a group); deeper chains are refused above and dropped here.</summary>
    public const int MaxDepth = 8;

    /// <summary>The most buckets one liveness question checks (past it, buckets not yet answered are dead).</summary>
    public const int MaxLivenessChecks = 4 * Group.MaxBuckets;

    /// <summary>How deep a liveness question follows watched groups (a watch of a group this deep is dead).</summary>
    public const int MaxLivenessDepth = 32;

    private readonly ConcurrentDictionary<uint, Group> _groups = new();
    private readonly Func<PortTable> _ports;

    /// <param name="ports">The datapath's current port table (for the liveness of watched ports).</param>
    public GroupTable(Func<PortTable> ports) => _ports = ports;

    public int Count => _groups.Count;

    public bool TryGet(uint id, out Group group) => _groups.TryGetValue(id, out group!);

    /// <summary>
    /// Called (by the writer) after a group was set, replaced or removed while some group's buckets resubmit (before or
    /// after the change; a chain may lead to one): cached pipeline results that met a group then go stale (the datapath
    /// points it at <see cref="Classifier.Pipeline.GroupsChanged"/>). While no group resubmits it is never called: the
    /// executor resolves groups when a packet meets them.
    /// </summary>
    public Action? CompositionChanged { get; set; }

    // Writer-private: how many groups of the table hold a resubmit in a bucket.
    private int _resubmitting;

    /// <summary>Adds or replaces a group.</summary>
    public void Set(Group group)
    {
        bool had = _resubmitting != 0;
        if (_groups.TryGetValue(group.Id, out var old) && old.HasResubmit) _resubmitting--;
        if (group.HasResubmit) _resubmitting++;
        _groups[group.Id] = group;
        if (had || _resubmitting != 0) CompositionChanged?.Invoke();
    }

    public bool Remove(uint id)
    {
        if (!_groups.TryRemove(id, out var old)) return false;
        bool had = _resubmitting != 0;
        if (old.HasResubmit) _resubmitting--;
        if (had) CompositionChanged?.Invoke();
        return true;
    }

    public void Clear()
    {
        bool had = _resubmitting != 0;
        _groups.Clear();
        _resubmitting = 0;
        if (had) CompositionChanged?.Invoke();
    }

    /// <summary>Whether some group holds a resubmit (read by the pipeline walk: while none does, no group is composed).</summary>
    public bool AnyResubmit => Volatile.Read(ref _resubmitting) != 0;

    /// <summary>
    /// Whether running <paramref name="g"/> can meet a resubmit: in its buckets, or in the buckets of a group they apply,
    /// <see cref="MaxDepth"/> deep at most. A chain too wide to follow in <see cref="MaxLivenessChecks"/> group visits
    /// answers true (composing a group that does not resubmit is only slower). The pipeline walk asks it, never the
    /// forwarding of a cached verdict.
    /// </summary>
    public bool ReachesResubmit(Group g)
    {
        int budget = MaxLivenessChecks;
        return Reaches(g, 0, ref budget);
    }

    private bool Reaches(Group g, int depth, ref int budget)
    {
        if (g.HasResubmit || --budget < 0) return true;
        if (depth >= MaxDepth - 1) return false;
        foreach (var b in g.Buckets)
        {
            foreach (var a in b.Actions.Items)
            {
                if (a.Kind == ActionKind.Group && TryGet(a.QueueId, out var next) && Reaches(next, depth + 1, ref budget)) return true;
            }
        }
        return false;
    }

    /// <summary>The groups, in no particular order (a snapshot).</summary>
    public ICollection<Group> All => _groups.Values;

    /// <summary>Whether a port is live: it exists, its link is up and it is not administratively down.</summary>
    public bool IsPortLive(ushort port)
    {
        var slot = _ports().Get(port);
        return slot is not null && slot.LinkUp && (slot.Config & PortConfig.PortDown) == 0;
    }

    /// <summary>Whether a bucket is live (OpenFlow 1.3.5 section 6.5: its watched port or its watched group is live; a bucket that watches nothing is).</summary>
    public bool IsLive(GroupBucket b)
    {
        var q = Question();
        return q.Bucket(this, b, 0);
    }

    /// <summary>Whether a group is live: some bucket of it is.</summary>
    public bool IsLive(Group g)
    {
        var q = Question();
        foreach (var b in g.Buckets)
            if (q.Bucket(this, b, 0)) return true;
        return false;
    }

    /// <summary>A fast-failover group's first live bucket, or -1.</summary>
    public int FirstLive(Group g)
    {
        var q = Question();
        var buckets = g.Buckets;
        for (int i = 0; i < buckets.Length; i++)
            if (q.Bucket(this, buckets[i], 0)) return i;
        return -1;
    }

    /// <summary>
    /// Each bucket's liveness into <paramref name="live"/> (as long as the group's buckets), as one question: a group
    /// watched from many buckets is worked out once. Returns the total weight of the live buckets.
    /// </summary>
    public long MarkLive(Group g, Span<bool> live)
    {
        var q = Question();
        var buckets = g.Buckets;
        long weight = 0;
        for (int i = 0; i < buckets.Length; i++)
        {
            bool l = q.Bucket(this, buckets[i], 0);
            live[i] = l;
            if (l) weight += buckets[i].Weight;
        }
        return weight;
    }

    /// <summary>Whether the calling thread's last liveness question ran out of <see cref="MaxLivenessChecks"/> (its unanswered buckets were taken as dead).</summary>
    internal static bool LastQuestionCutShort => s_question?.CutShort ?? false;

    [ThreadStatic] private static LivenessQuestion? s_question;

    private static LivenessQuestion Question()
    {
        var q = s_question ??= new LivenessQuestion();
        q.Begin();
        return q;
    }

    /// <summary>
    /// One liveness question's state, one per thread (allocated once): the watched groups already answered, so each is
    /// worked out once however many buckets watch it, a group on the walk's own path (a watch cycle) answering dead,
    /// and a budget of bucket checks. Watches form a graph whose paths can multiply at every level; with these the work
    /// is at most <see cref="MaxLivenessChecks"/> bucket checks, whatever the groups.
    /// </summary>
    private sealed class LivenessQuestion
    {
        private const int MemoSize = 256; // a power of two, filled to half at most
        private const byte Free = 0, OnPath = 1, Dead = 2, Live = 3;
        private readonly uint[] _ids = new uint[MemoSize];
        private readonly byte[] _states = new byte[MemoSize];
        private int _used;
        private int _budget;
        public bool CutShort;

        public void Begin()
        {
            if (_used != 0) Array.Clear(_states);
            _used = 0;
            _budget = MaxLivenessChecks;
            CutShort = false;
        }

        public bool Bucket(GroupTable table, GroupBucket b, int depth)
        {
            if (!b.HasLiveness) return true;
            if (--_budget < 0)
            {
                CutShort = true;
                return false;
            }
            if (b.WatchPort != PortNumber.None && table.IsPortLive(b.WatchPort)) return true;
            return b.WatchGroup != GroupBucket.NoWatchGroup && depth < MaxLivenessDepth && Group(table, b.WatchGroup, depth + 1);
        }

        private bool Group(GroupTable table, uint id, int depth)
        {
            int slot = Slot(id);
            if (slot >= 0 && _states[slot] != Free) return _states[slot] == Live; // answered, or on the path: a cycle keeps nothing alive
            if (!table.TryGet(id, out var g)) return false;
            if (slot >= 0)
            {
                _ids[slot] = id;
                _states[slot] = OnPath;
                _used++;
            }
            bool live = false;
            foreach (var b in g.Buckets)
            {
                if (Bucket(table, b, depth))
                {
                    live = true;
                    break;
                }
            }
            if (slot >= 0) _states[slot] = live ? Live : Dead;
            return live;
        }

        /// <summary>The memo slot of <paramref name="id"/>: its own, or a free one for it; -1 when the memo is half full (the budget still bounds the walk).</summary>
        private int Slot(uint id)
        {
            int i = (int)((id * 0x9E3779B1u) >> 24) & (MemoSize - 1);
            for (int n = 0; n < MemoSize; n++, i = (i + 1) & (MemoSize - 1))
            {
                if (_states[i] == Free) return _used < MemoSize / 2 ? i : -1;
                if (_ids[i] == id) return i;
            }
            return -1;
        }
    }
}
