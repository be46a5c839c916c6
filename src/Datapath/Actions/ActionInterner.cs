namespace Softswitch.Datapath.Actions;

/// <summary>
/// Shares one <see cref="FlowActions"/> object among flows whose action lists are equal, so a table of many flows
/// with few distinct action lists keeps those lists hot in the cache: a forwarding thread running a burst spread
/// over many flows then loads each flow's entry, not also a private action list and its items array per flow.
/// </summary>
/// <remarks>
/// <para>Sharing is safe because a <see cref="FlowActions"/> is immutable (MODIFY swaps the whole object on the
/// entry). The interner holds its lists weakly: a list no flow uses any more is collected, and its dead slot is
/// purged when the dictionary has doubled since the last purge, so a controller installing ever-new action lists
/// cannot grow it without bound.</para>
/// <para>Thread safety: none; the flow table's single writer calls it under its writer lock.</para>
/// </remarks>
public sealed class ActionInterner
{
    private readonly Dictionary<Key, WeakReference<FlowActions>> _lists = new(KeyComparer.Instance);
    private int _purgeAt = 1024;

    /// <summary>Distinct action lists currently held (some may be dead until the next purge).</summary>
    public int Count => _lists.Count;

    /// <summary>The shared list equal to <paramref name="actions"/> (itself when it is the first of its kind).</summary>
    public FlowActions Intern(FlowActions actions)
    {
        var key = new Key(actions);
        if (_lists.TryGetValue(key, out var weak) && weak.TryGetTarget(out var shared)) return shared;
        if (_lists.Count >= _purgeAt) Purge();
        // The key holds the list it was made from; replace a dead slot's key too.
        _lists.Remove(key);
        _lists.Add(key, new WeakReference<FlowActions>(actions));
        return actions;
    }

    /// <summary>
    /// The shared list whose items equal <paramref name="items"/> (and that keeps no data): found without allocating when one is held, else a
    /// new list of a copy of them (a forwarding thread composing pipeline results calls it for every new result).
    /// </summary>
    public FlowActions Intern(ReadOnlySpan<FlowAction> items)
    {
        var lookup = _lists.GetAlternateLookup<ReadOnlySpan<FlowAction>>();
        if (lookup.TryGetValue(items, out var weak) && weak.TryGetTarget(out var shared)) return shared;
        return Intern(new FlowActions(items.ToArray()));
    }

    private void Purge()
    {
        List<Key>? dead = null;
        foreach (var (k, w) in _lists)
            if (!w.TryGetTarget(out _)) (dead ??= []).Add(k);
        if (dead is not null) foreach (var k in dead) _lists.Remove(k);
        _purgeAt = Math.Max(1024, _lists.Count * 2);
    }

    /// <summary>
    /// Equality over the items and the data; holds the items and data arrays only (not the list), so a key never keeps a
    /// list alive.
    /// </summary>
    private readonly struct Key : IEquatable<Key>
    {
        internal readonly FlowAction[] Items;
        internal readonly byte[][] Data;
        private readonly int _hash;

        public Key(FlowActions actions)
        {
            Items = actions.Items;
            Data = actions.Data;
            _hash = HashOf(Items);
        }

        internal static int HashOf(ReadOnlySpan<FlowAction> items)
        {
            var h = new HashCode();
            foreach (var a in items) h.Add(a);
            return h.ToHashCode();
        }

        public bool Equals(Key other) => _hash == other._hash && Items.AsSpan().SequenceEqual(other.Items) && FlowActions.SameData(Data, other.Data);
        public override bool Equals(object? obj) => obj is Key k && Equals(k);
        public override int GetHashCode() => _hash;
    }

    /// <summary>Keys by their items, also as a span of items (lookups that allocate nothing).</summary>
    private sealed class KeyComparer : IEqualityComparer<Key>, IAlternateEqualityComparer<ReadOnlySpan<FlowAction>, Key>
    {
        public static readonly KeyComparer Instance = new();

        public bool Equals(Key x, Key y) => x.Equals(y);
        public int GetHashCode(Key k) => k.GetHashCode();
        // A span of items carries no data: it equals only a list without any.
        public bool Equals(ReadOnlySpan<FlowAction> items, Key k) => k.Data.Length == 0 && items.SequenceEqual(k.Items);
        public int GetHashCode(ReadOnlySpan<FlowAction> items) => Key.HashOf(items);
        public Key Create(ReadOnlySpan<FlowAction> items) => new(new FlowActions(items.ToArray()));
    }
}
