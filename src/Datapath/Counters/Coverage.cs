using System.Runtime.CompilerServices;

namespace Softswitch.Datapath.Counters;

/// <summary>One registered counter: its slot in every <see cref="CounterSet"/>. Get one from <see cref="Coverage.Define"/>.</summary>
public readonly struct Counter
{
    internal readonly int Index;

    internal Counter(int index) => Index = index;

    /// <summary>The counter's registered name and description.</summary>
    public CounterInfo Info => Coverage.All[Index];

    public override string ToString() => Info.Name;
}

/// <summary>A counter's stable hyphenated name (scripts may match on it) and its one-line description.</summary>
public sealed record CounterInfo(string Name, string Description, int Index);

/// <summary>
/// The switch's one counter registry (as Open vSwitch's COVERAGE_DEFINE and VPP's error registration): every drop
/// reason, parse error, tunnel drop and event counter has a stable hyphenated name and a one-line description here,
/// and <c>softswitch ctl coverage/show</c> lists them all.
/// </summary>
/// <remarks>
/// <para><b>Adding a counter</b> is one line, a static field next to the code that counts:</para>
/// <code>
/// internal static readonly Counter ChecksumCompleted = Coverage.Define("checksum-completed", "a partial checksum completed in software before sending");
/// </code>
/// <para>then, on the counting thread, <c>counters.Add(ChecksumCompleted)</c> on the thread's <see cref="CounterSet"/>
/// (a forwarder's <c>Forwarder.Counters</c>; <c>SwitchDatapath.Counters.Shared</c> with
/// <see cref="CounterSet.AddAtomic"/> from threads that own no set), or, for a value kept elsewhere, one
/// <see cref="CounterGroup.AddSource"/> call that reads it. Names are lower-case words joined by hyphens, unique;
/// a family shares a prefix (<c>drop-</c>, <c>parse-</c>, <c>tunnel-</c>, <c>emc-</c>, <c>gso-</c> for the kernel's segmentation offload, <c>offload-</c> for hardware flow offload). A counter
/// exists from the moment its static field is initialised: keep a family's fields in one static class and touch it
/// where the family's owner is built (the datapath does that for its own families, <see cref="DatapathCounters"/>),
/// so the listing is complete before anyone asks.</para>
/// <para><b>Thread safety</b>: definitions are append-only under a lock and published whole (readers load the array
/// once). Counting never locks: each forwarding thread owns its <see cref="CounterSet"/> and adds without atomics;
/// readers sum the sets (<see cref="CounterGroup.Read"/>), racily but monotonically.</para>
/// </remarks>
public static class Coverage
{
    private static readonly Lock s_lock = new();
    private static CounterInfo[] s_all = [];

    /// <summary>Every counter defined so far, in definition order (an immutable snapshot).</summary>
    public static IReadOnlyList<CounterInfo> All => Volatile.Read(ref s_all);

    /// <summary>Registers a counter. Throws when the name is not hyphenated lower-case words or is taken.</summary>
    public static Counter Define(string name, string description)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(description);
        if (!IsValidName(name)) throw new ArgumentException($"counter name '{name}' is not lower-case words joined by hyphens", nameof(name));
        lock (s_lock)
        {
            foreach (var c in s_all)
                if (c.Name == name) throw new ArgumentException($"counter '{name}' is defined twice", nameof(name));
            var info = new CounterInfo(name, description, s_all.Length);
            Volatile.Write(ref s_all, [.. s_all, info]);
            return new Counter(info.Index);
        }
    }

    /// <summary>The counter called <paramref name="name"/>, if defined.</summary>
    public static bool TryFind(string name, out Counter counter)
    {
        foreach (var c in All)
        {
            if (c.Name != name) continue;
            counter = new Counter(c.Index);
            return true;
        }
        counter = default;
        return false;
    }

    /// <summary>Lower-case letters and digits, in words joined by single hyphens.</summary>
    public static bool IsValidName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name[0] == '-' || name[^1] == '-') return false;
        for (int i = 0; i < name.Length; i++)
        {
            char ch = name[i];
            if (ch is (>= 'a' and <= 'z') or (>= '0' and <= '9')) continue;
            if (ch == '-' && name[i - 1] != '-') continue;
            return false;
        }
        return true;
    }
}

/// <summary>
/// The counters one thread adds to: a slot per registered counter, written without atomics by its owner (or with
/// <see cref="AddAtomic"/> when shared), read racily by anyone. Create with <see cref="CounterGroup.CreateSet"/>.
/// </summary>
public sealed class CounterSet
{
    private long[] _values;
    private readonly Lock _growLock = new();

    /// <summary>A set of its own (counted nowhere else unless made by <see cref="CounterGroup.CreateSet"/>).</summary>
    public CounterSet() => _values = new long[Math.Max(16, Coverage.All.Count)];

    /// <summary>Adds <paramref name="n"/> (owner thread only; no atomics).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(Counter c, long n = 1)
    {
        var v = _values;
        int i = c.Index;
        if ((uint)i < (uint)v.Length) v[i] += n;
        else Grow(i)[i] += n;
    }

    /// <summary>Adds <paramref name="n"/> atomically (a set shared by threads that count rarely).</summary>
    public void AddAtomic(Counter c, long n = 1)
    {
        var v = _values;
        int i = c.Index;
        if ((uint)i >= (uint)v.Length) v = Grow(i);
        Interlocked.Add(ref v[i], n);
    }

    public long this[Counter c]
    {
        get
        {
            var v = Volatile.Read(ref _values);
            return (uint)c.Index < (uint)v.Length ? Volatile.Read(ref v[c.Index]) : 0;
        }
    }

    /// <summary>A counter defined after the set was made: a larger copy (rare; defined counters come first).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private long[] Grow(int index)
    {
        lock (_growLock)
        {
            var old = _values;
            if (index < old.Length) return old;
            var grown = new long[Math.Max(index + 1, Coverage.All.Count)];
            for (int i = 0; i < old.Length; i++) grown[i] = Interlocked.Read(ref old[i]);
            Volatile.Write(ref _values, grown);
            return grown;
        }
    }
}

/// <summary>
/// One switch's counters: the per-thread <see cref="CounterSet"/>s, a <see cref="Shared"/> set for rare events from
/// any thread, and sources (values kept elsewhere, read on demand). A counter's value is the sum over all of them.
/// </summary>
/// <remarks>Thread safety: creating sets and adding sources lock; reads take a snapshot of the lists and sum racily.</remarks>
public sealed class CounterGroup
{
    private readonly Lock _lock = new();
    private CounterSet[] _sets = [];
    private (int Index, Func<long> Read, object? Owner)[] _sources = [];

    public CounterGroup()
    {
        DatapathCounters.EnsureDefined();
        Shared = CreateSet();
    }

    /// <summary>For threads that own no set: add with <see cref="CounterSet.AddAtomic"/>.</summary>
    public CounterSet Shared { get; }

    /// <summary>A new set for one counting thread, included in every read from now on.</summary>
    public CounterSet CreateSet()
    {
        var s = new CounterSet();
        lock (_lock) _sets = [.. _sets, s];
        return s;
    }

    /// <summary>Adds <paramref name="read"/>'s value to <paramref name="counter"/> (for values another type keeps).</summary>
    /// <param name="owner">Who keeps the value (see <see cref="RemoveSources"/>), or null.</param>
    public void AddSource(Counter counter, Func<long> read, object? owner = null)
    {
        ArgumentNullException.ThrowIfNull(read);
        lock (_lock) _sources = [.. _sources, (counter.Index, read, owner)];
    }

    /// <summary>Removes the sources added for <paramref name="owner"/> (an owner going away).</summary>
    public void RemoveSources(object owner)
    {
        lock (_lock) _sources = Array.FindAll(_sources, s => !ReferenceEquals(s.Owner, owner));
    }

    public long Read(Counter counter)
    {
        long n = 0;
        foreach (var s in Volatile.Read(ref _sets)) n += s[counter];
        foreach (var (index, read, _) in Volatile.Read(ref _sources))
            if (index == counter.Index) n += read();
        return n;
    }

    /// <summary>Every registered counter with its value, in registration order.</summary>
    public List<(CounterInfo Info, long Value)> Snapshot()
    {
        var all = Coverage.All;
        var values = new long[all.Count];
        ReadAll(values);
        var list = new List<(CounterInfo, long)>(all.Count);
        for (int i = 0; i < all.Count; i++) list.Add((all[i], values[i]));
        return list;
    }

    /// <summary>
    /// The values of the first <paramref name="values"/>.Length registered counters (as <see cref="Coverage.All"/>
    /// lists them), without allocating: for readers polled often (a monitor's dp/show).
    /// </summary>
    public void ReadAll(Span<long> values)
    {
        values.Clear();
        int n = Math.Min(values.Length, Coverage.All.Count);
        foreach (var s in Volatile.Read(ref _sets))
            for (int i = 0; i < n; i++) values[i] += s[new Counter(i)];
        foreach (var (index, read, _) in Volatile.Read(ref _sources))
            if (index < n) values[index] += read();
    }
}
