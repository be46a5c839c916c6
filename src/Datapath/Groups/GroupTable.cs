using System.Collections.Concurrent;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
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
/// How a select group hashes a packet to pick its bucket (Open vSwitch's selection methods, ofproto-dpif.c
/// group_set_selection_method).
/// </summary>
public enum SelectMethod : byte
{
    /// <summary>The switch's own: a hash of the packet's flow (<see cref="Actions.ActionExecutor"/>'s FlowHashOf) into the weighted slots.</summary>
    Default,
    /// <summary>Open vSwitch's <c>hash</c>: a hash of the named fields (<see cref="Group.HashFields"/>, each under its mask)
    /// from <see cref="Group.HashBasis"/> into the weighted slots.</summary>
    Hash,
    /// <summary>Open vSwitch's <c>dp_hash</c>: the flow's hash from <see cref="Group.HashBasis"/> (never 0) into a table of
    /// 2^n hash values spread over the buckets by weight; a dead bucket's values go to the next live one in the table.</summary>
    DpHash,
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
/// A <see cref="SelectMethod.DpHash"/> group's table is Open vSwitch's (group_setup_dp_hash_table): 2^n hash values, n
/// the least giving the lightest bucket one value and at least 16, filled by Webster's method (each value to the bucket
/// whose weight over its divisor is largest, the divisor then grown by 2); more than 256 values needed falls back to
/// the default method, as Open vSwitch does. A packet takes the first live bucket from its hash's value on, so a dead
/// bucket's values spread over the others by their place in the table and the live buckets' flows stay.
/// </remarks>
public sealed class Group
{
    /// <summary>The most buckets a group holds.</summary>
    public const int MaxBuckets = 1024;

    internal readonly ushort[] Slots;
    internal readonly int SlotMask;
    internal readonly bool AnyLiveness;

    /// <summary>The most hash values of a <see cref="SelectMethod.DpHash"/> table (Open vSwitch's MAX_SELECT_GROUP_HASH_VALUES).</summary>
    public const int MaxDpHashValues = 256;

    public Group(uint id, GroupType type, GroupBucket[] buckets, long createdNanos,
                 SelectMethod method = SelectMethod.Default, uint hashBasis = 0, in FlowKey hashFields = default)
    {
        if (buckets.Length > MaxBuckets) ThrowHelper.ArgumentOutOfRange(nameof(buckets));
        Id = id;
        Type = type;
        Buckets = buckets;
        CreatedNanos = createdNanos;
        foreach (var b in buckets)
        {
            AnyLiveness |= b.HasLiveness;
            foreach (var a in b.Actions.Items) HasResubmit |= a.Kind is ActionKind.Resubmit or ActionKind.FieldLoad;
        }
        HashBasis = hashBasis;
        HashFields = hashFields;
        if (method == SelectMethod.Hash && hashFields.Equals(default(FlowKey))) method = SelectMethod.Default; // no field: the default hash, as Open vSwitch
        if (type != GroupType.Select) method = SelectMethod.Default;
        Slots = [];
        if (method == SelectMethod.DpHash && BuildDpHashTable(buckets) is { } table) Slots = table;
        else if (method == SelectMethod.DpHash) method = SelectMethod.Default;
        if (type == GroupType.Select && method != SelectMethod.DpHash) Slots = BuildSlots(buckets);
        Method = method;
        SlotMask = Slots.Length - 1;
        // Its hash is the packet's dp_hash after it, which later lookups match: the walk picks its bucket and keeps it.
        if (method == SelectMethod.DpHash) HasResubmit = true;
    }

    /// <summary>How the group picks its bucket (a select group's; the default for the others, and where the method asked
    /// for cannot be: <see cref="SelectMethod.Hash"/> without fields, a <see cref="SelectMethod.DpHash"/> table too big).</summary>
    public SelectMethod Method { get; }
    /// <summary>The basis of <see cref="SelectMethod.Hash"/> and <see cref="SelectMethod.DpHash"/>.</summary>
    public uint HashBasis { get; }
    /// <summary>The fields <see cref="SelectMethod.Hash"/> hashes: a mask over the flow key.</summary>
    public FlowKey HashFields { get; }

    /// <summary>
    /// The bucket of a packet of hash <paramref name="hash"/> (the group's own, <see cref="Actions.ActionExecutor"/>'s
    /// SelectHash) given each bucket's liveness (<paramref name="live"/> null: every bucket live), or -1 when none is live.
    /// </summary>
    internal int Pick(uint hash, bool[]? live, long liveWeight)
    {
        int b = Slots[(int)(hash & (uint)SlotMask)];
        if (live is null || live[b]) return b;
        if (Method != SelectMethod.DpHash) return Actions.ActionExecutor.PickLive(Buckets, live, liveWeight, hash);
        for (int i = 1; i <= SlotMask; i++)
        {
            b = Slots[(int)((hash + (uint)i) & (uint)SlotMask)];
            if (live[b]) return b;
        }
        return -1;
    }

    /// <summary>Open vSwitch's dp_hash table for <paramref name="buckets"/> (see the remarks), or null when it cannot be.</summary>
    private static ushort[]? BuildDpHashTable(GroupBucket[] buckets)
    {
        long total = 0;
        int min = ushort.MaxValue;
        foreach (var b in buckets)
        {
            total += b.Weight;
            if (b.Weight > 0 && b.Weight < min) min = b.Weight;
        }
        if (total == 0) return null;
        long minSlots = (total + min - 1) / min;
        if (minSlots > MaxDpHashValues) return null;
        int n = Math.Max(16, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)minSlots));
        if (n > MaxDpHashValues) return null;
        var table = new ushort[n];
        var divisor = new int[buckets.Length];
        var value = new double[buckets.Length];
        for (int i = 0; i < buckets.Length; i++)
        {
            divisor[i] = 1;
            value[i] = buckets[i].Weight;
        }
        for (int h = 0; h < n; h++)
        {
            int winner = 0;
            for (int i = 1; i < buckets.Length; i++)
                if (value[i] > value[winner]) winner = i;
            divisor[winner] += 2;
            value[winner] = (double)buckets[winner].Weight / divisor[winner];
            table[h] = (ushort)winner;
        }
        return table;
    }

    public uint Id { get; }
    public GroupType Type { get; }
    /// <summary>Some bucket holds a resubmit, or a load into part of a packet field (which reads the rest of the field from
    /// the key), or the group is a <see cref="SelectMethod.DpHash"/> one (its hash is the packet's dp_hash for all that
    /// follows it, which later lookups match): the pipeline walk composes the group's buckets where a list applies it
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

    /// <summary>Adds counts this group's predecessor took after <see cref="InheritCounters"/> (an atomic batch's
    /// modification: lookups at older versions counted on the old group until the commit).</summary>
    public void AddCounts(long packets, long bytes)
    {
        Interlocked.Add(ref PacketCount, packets);
        Interlocked.Add(ref ByteCount, bytes);
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
/// <para>Groups are resolved when a packet meets the action, not when the pipeline's verdict is cached: the verdict keeps the
/// group action, so a group modification, a select bucket per flow and a bucket's liveness take effect on the next
/// batch with no cached verdict to invalidate. Liveness is read from the port table's last known link state and
/// administrative config (<see cref="PortSlot.LinkUp"/>, <see cref="PortConfig.PortDown"/>) and from watched groups,
/// followed to <see cref="MaxLivenessDepth"/>; one question (a group's buckets for one batch) works out each watched
/// group once and checks at most <see cref="MaxLivenessChecks"/> buckets, so no arrangement of watches, cycles included
/// (the layer above refuses them), can hold up a forwarding thread.</para>
/// <para>Versions (docs/datapath.md, "Atomic batches"; Open vSwitch's group versions): each id maps to a short chain of
/// versions, newest first, each a group seen from the tables version it was set at until the one it was replaced or
/// removed at, as the pipeline's rules are. A lookup names the version it reads at (a forwarding thread's burst's,
/// <see cref="TryGet(uint, long, out Group)"/>). A write outside an atomic batch is seen at every version at once
/// (the id's chain is the new group alone, or gone). An atomic batch's writes (<see cref="BeginVersion"/>) are seen from
/// the batch's version: the group it sets is linked in front, hidden before the version, and the one it replaces or
/// removes is hidden from it; the pipeline's one store of that version (the flows' commit, or
/// <see cref="PublishVersion"/> for a batch of groups only) shows them with the batch's flows, and
/// <see cref="RevertVersion"/> takes them out again before any lookup could see them. Once every forwarding thread has
/// passed a quiescent point after the commit (<see cref="Settle"/>), no lookup reads an older version and each chain is
/// cut back to its one group.</para>
/// <para>Fields: <see cref="Version.Group"/> and <see cref="Version.From"/> never change once linked;
/// <see cref="Version.Until"/> (hidden from) and <see cref="Version.Older"/> are written by the writer and read by
/// lookups; everything else (the batch's version, its ids, the counts) is the writer's.</para>
/// </remarks>
public sealed class GroupTable
{
    /// <summary>How deep groups chain (a group's bucket applying a group); deeper chains are refused above and dropped here.</summary>
    public const int MaxDepth = 8;

    /// <summary>The most buckets one liveness question checks (past it, buckets not yet answered are dead).</summary>
    public const int MaxLivenessChecks = 4 * Group.MaxBuckets;

    /// <summary>How deep a liveness question follows watched groups (a watch of a group this deep is dead).</summary>
    public const int MaxLivenessDepth = 32;

    /// <summary>A lookup version meaning the pipeline's current one, read at the lookup.</summary>
    public const long CurrentVersion = -1;

    /// <summary>How long <see cref="Settle"/> waits for the forwarding threads (the flows' settle's limit).</summary>
    private const int SettleLimitMs = 500;

    private readonly ConcurrentDictionary<uint, Version> _groups = new();
    private readonly Func<PortTable> _ports;
    private readonly TablesVersion _versions;
    private readonly QuiescentDomain _domain;
    private int _count;             // groups seen at the current version
    private long _batchVersion;     // the open atomic batch's version (0: none)
    private int _batchThread;       // the thread writing it (its lookups see the batch's groups)
    private int _batchCount;        // groups seen at the batch's version
    private readonly HashSet<uint> _batchIds = new();  // the ids the open batch wrote
    private readonly HashSet<uint> _unsettled = new(); // ids whose chain holds versions older lookups may still read

    /// <summary>One version of a group (see the type remarks).</summary>
    private sealed class Version(Group group, long from, Version? older)
    {
        public readonly Group Group = group;
        public readonly long From = from;
        public long Until = long.MaxValue;
        public Version? Older = older;

        public bool VisibleAt(long version) => From <= version && version < Volatile.Read(ref Until);
    }

    /// <param name="ports">The datapath's current port table (for the liveness of watched ports).</param>
    /// <param name="versions">The pipeline's tables version (a table of its own when null).</param>
    /// <param name="domain">The forwarding threads' reclamation domain (the pipeline's; one of its own when null).</param>
    public GroupTable(Func<PortTable> ports, TablesVersion? versions = null, QuiescentDomain? domain = null)
    {
        _ports = ports;
        _versions = versions ?? new TablesVersion();
        _domain = domain ?? new QuiescentDomain();
    }

    /// <summary>The version the calling thread's unversioned questions read at: an open batch's for its writer, else the current one.</summary>
    private long ViewVersion
        => _batchVersion != 0 && Environment.CurrentManagedThreadId == _batchThread ? _batchVersion : _versions.Current;

    /// <summary>How many groups there are (at the calling writer's batch version, else the current one).</summary>
    public int Count => _batchVersion != 0 && Environment.CurrentManagedThreadId == _batchThread ? _batchCount : Volatile.Read(ref _count);

    /// <summary>
    /// Called (by the writer) after a group was set, replaced or removed while some group's buckets resubmit (before or
    /// after the change; a chain may lead to one), and when an atomic batch's groups are published and settled: cached
    /// pipeline results that met a group then go stale (the datapath points it at
    /// <see cref="Classifier.Pipeline.GroupsChanged"/>). While no group resubmits it is never called: the executor
    /// resolves groups when a packet meets them.
    /// </summary>
    public Action? CompositionChanged { get; set; }

    // Writer-written, read by the walk: how many linked group versions hold a resubmit in a bucket.
    private int _resubmitting;

    /// <summary>Whether some group holds a resubmit (read by the pipeline walk: while none does, no group is composed).</summary>
    public bool AnyResubmit => Volatile.Read(ref _resubmitting) != 0;

    /// <summary>How many versions of the chain from <paramref name="v"/> hold a resubmit.</summary>
    private static int Resubmits(Version? v)
    {
        int n = 0;
        for (; v is not null; v = v.Older)
            if (v.Group.HasResubmit) n++;
        return n;
    }

    private void ResubmitsChanged(bool had, int delta)
    {
        if (delta != 0) Volatile.Write(ref _resubmitting, _resubmitting + delta);
        if (had || _resubmitting != 0) CompositionChanged?.Invoke();
    }

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

    /// <summary>Group <paramref name="id"/> at the current version (for an open batch's writer: as the batch left it so far).</summary>
    public bool TryGet(uint id, out Group group) => TryGet(id, ViewVersion, out group);

    /// <summary>Group <paramref name="id"/> as a lookup at tables version <paramref name="version"/> sees it (<see cref="CurrentVersion"/>: the current one).</summary>
    public bool TryGet(uint id, long version, out Group group)
    {
        if (_groups.TryGetValue(id, out var v))
        {
            if (version < 0) version = _versions.Current;
            do
            {
                if (v.VisibleAt(version))
                {
                    group = v.Group;
                    return true;
                }
                v = Volatile.Read(ref v.Older);
            }
            while (v is not null);
        }
        group = null!;
        return false;
    }

    /// <summary>Adds or replaces a group: at once, or inside an open batch (<see cref="BeginVersion"/>) from its version.</summary>
    public void Set(Group group)
    {
        long at = _batchVersion;
        bool had = _resubmitting != 0;
        _groups.TryGetValue(group.Id, out var head);
        if (at == 0)
        {
            if (head is null || !head.VisibleAt(_versions.Current)) Interlocked.Increment(ref _count);
            _groups[group.Id] = new Version(group, 0, null);
            _unsettled.Remove(group.Id);
            ResubmitsChanged(had, (group.HasResubmit ? 1 : 0) - Resubmits(head));
            return;
        }
        if (head is not null && head.Until == long.MaxValue) Volatile.Write(ref head.Until, at); // seen until the batch's version
        else _batchCount++;
        _groups[group.Id] = new Version(group, at, head);
        _batchIds.Add(group.Id);
        ResubmitsChanged(had, group.HasResubmit ? 1 : 0);
    }

    /// <summary>Removes a group: at once, or inside an open batch from its version. False when there is none.</summary>
    public bool Remove(uint id)
    {
        long at = _batchVersion;
        if (at == 0)
        {
            if (!_groups.TryRemove(id, out var gone)) return false;
            _unsettled.Remove(id);
            ResubmitsChanged(_resubmitting != 0, -Resubmits(gone));
            if (!gone.VisibleAt(_versions.Current)) return false;
            Interlocked.Decrement(ref _count);
            return true;
        }
        if (!_groups.TryGetValue(id, out var head) || head.Until != long.MaxValue) return false;
        Volatile.Write(ref head.Until, at);
        _batchCount--;
        _batchIds.Add(id);
        ResubmitsChanged(_resubmitting != 0, 0);
        return true;
    }

    /// <summary>Removes every group at once (outside a batch).</summary>
    public void Clear()
    {
        bool had = _resubmitting != 0;
        _groups.Clear();
        _unsettled.Clear();
        Volatile.Write(ref _count, 0);
        ResubmitsChanged(had, -_resubmitting);
    }

    /// <summary>The groups at the current version (for an open batch's writer: as the batch left them), in no particular order (a snapshot).</summary>
    public ICollection<Group> All
    {
        get
        {
            long at = ViewVersion;
            var all = new List<Group>(_groups.Count);
            foreach (var (id, _) in _groups)
                if (TryGet(id, at, out var g)) all.Add(g);
            return all;
        }
    }

    /// <summary>
    /// Writer: the following <see cref="Set"/>s and <see cref="Remove"/>s on this thread belong to an atomic batch of
    /// tables version <paramref name="version"/> (the pipeline's next): lookups see them from that version on, and this
    /// thread's questions see them at once. Ends with <see cref="PublishVersion"/> or <see cref="RevertVersion"/>.
    /// </summary>
    public void BeginVersion(long version)
    {
        if (_batchVersion != 0) throw new InvalidOperationException("a batch's version is open");
        if (version <= _versions.Current) throw new ArgumentOutOfRangeException(nameof(version), "a batch's version is after the current one");
        _batchCount = Volatile.Read(ref _count);
        _batchThread = Environment.CurrentManagedThreadId;
        _batchVersion = version;
    }

    /// <summary>
    /// Writer: ends the open batch's writes for a commit. The batch's groups are seen once the pipeline's version reaches
    /// the batch's: the flows' commit publishes it, or this does when <paramref name="publish"/> (the batch held no table).
    /// </summary>
    public void PublishVersion(bool publish)
    {
        long at = _batchVersion;
        if (at == 0) return;
        _batchVersion = 0;
        Volatile.Write(ref _count, _batchCount);
        _unsettled.UnionWith(_batchIds);
        _batchIds.Clear();
        if (publish && _versions.Current < at)
        {
            // No table's cached results to move: the commit is done with the store.
            _versions.Publish(at);
            _versions.PublishCommitted(at);
        }
        ResubmitsChanged(_resubmitting != 0, 0);
    }

    /// <summary>Writer: ends the open batch with none of its writes: the groups it linked are unlinked (no lookup saw them) and those it hid are seen again at every version.</summary>
    public void RevertVersion()
    {
        long at = _batchVersion;
        if (at == 0) return;
        _batchVersion = 0;
        foreach (uint id in _batchIds)
        {
            if (!_groups.TryGetValue(id, out var head)) continue;
            var v = head;
            while (v is not null && v.From == at) v = v.Older;
            for (var o = v; o is not null; o = o.Older)
                if (o.Until == at) Volatile.Write(ref o.Until, long.MaxValue);
            int unlinked = 0;
            for (var u = head; !ReferenceEquals(u, v); u = u.Older!)
                if (u.Group.HasResubmit) unlinked++;
            if (unlinked != 0) Volatile.Write(ref _resubmitting, _resubmitting - unlinked);
            if (v is null) _groups.TryRemove(new KeyValuePair<uint, Version>(id, head));
            else if (!ReferenceEquals(v, head)) _groups[id] = v;
        }
        _batchIds.Clear();
    }

    /// <summary>
    /// Writer, after a commit: waits (at most <paramref name="limitMs"/>) until every forwarding thread has passed a
    /// quiescent point, so none reads a version from before it, then cuts each chain the commit lengthened back to the
    /// group seen now (or takes a removed group's id out). False when a thread stayed inside its round past the limit:
    /// the chains stay (correct, a version longer) until a later settle.
    /// </summary>
    public bool Settle(int limitMs = SettleLimitMs)
    {
        if (_unsettled.Count == 0) return true;
        if (!_domain.WaitForReaders(_domain.Advance(), limitMs)) return false;
        long now = _versions.Current;
        foreach (uint id in _unsettled)
        {
            if (!_groups.TryGetValue(id, out var head) || head.From > now) continue; // (a version not published: nothing to cut)
            bool had = _resubmitting != 0;
            if (head.VisibleAt(now))
            {
                int cut = Resubmits(head.Older);
                Volatile.Write(ref head.Older, null);
                if (cut != 0) ResubmitsChanged(had, -cut);
            }
            else if (_groups.TryRemove(new KeyValuePair<uint, Version>(id, head)))
            {
                ResubmitsChanged(had, -Resubmits(head));
            }
        }
        _unsettled.Clear();
        return true;
    }

    /// <summary>How many versions group <paramref name="id"/>'s chain holds (tests).</summary>
    internal int VersionCount(uint id)
    {
        int n = 0;
        if (_groups.TryGetValue(id, out var v))
            for (; v is not null; v = v.Older) n++;
        return n;
    }

    /// <summary>Whether a port is live: it exists, its link is up and it is not administratively down.</summary>
    public bool IsPortLive(ushort port)
    {
        var slot = _ports().Get(port);
        return slot is not null && slot.LinkUp && (slot.Config & PortConfig.PortDown) == 0;
    }

    /// <summary>Whether a bucket is live (OpenFlow 1.3.5 section 6.5: its watched port or its watched group is live; a bucket that watches nothing is).</summary>
    public bool IsLive(GroupBucket b)
    {
        var q = Question(CurrentVersion);
        return q.Bucket(this, b, 0);
    }

    /// <summary>Whether a group is live: some bucket of it is.</summary>
    public bool IsLive(Group g)
    {
        var q = Question(CurrentVersion);
        foreach (var b in g.Buckets)
            if (q.Bucket(this, b, 0)) return true;
        return false;
    }

    /// <summary>A fast-failover group's first live bucket, or -1 (watched groups as seen at <paramref name="version"/>).</summary>
    public int FirstLive(Group g, long version = CurrentVersion)
    {
        var q = Question(version);
        var buckets = g.Buckets;
        for (int i = 0; i < buckets.Length; i++)
            if (q.Bucket(this, buckets[i], 0)) return i;
        return -1;
    }

    /// <summary>
    /// Each bucket's liveness into <paramref name="live"/> (as long as the group's buckets), as one question: a group
    /// watched from many buckets is worked out once (as seen at <paramref name="version"/>). Returns the total weight of
    /// the live buckets.
    /// </summary>
    public long MarkLive(Group g, Span<bool> live, long version = CurrentVersion)
    {
        var q = Question(version);
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

    private static LivenessQuestion Question(long version)
    {
        var q = s_question ??= new LivenessQuestion();
        q.Begin(version);
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
        private long _version;
        public bool CutShort;

        public void Begin(long version)
        {
            _version = version;
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
            if (!table.TryGet(id, _version, out var g)) return false;
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
