using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Offload;

/// <summary>
/// A software model of an offload target, for tests and for trying the offload manager without a device (as Open
/// vSwitch ships dpif-offload-dummy): tables of rows that answer lookups with any of the three
/// <see cref="OffloadLookupModel"/>s, count hits, and refuse what a simple switch chip could not do.
/// </summary>
/// <remarks>
/// <para>What it holds: flows whose actions are a drop or plain outputs to its <see cref="Ports"/> (another action or
/// a reserved port is <see cref="OffloadReason.UnsupportedAction"/>, another port <see cref="OffloadReason.UnsupportedOutputPort"/>, a full table
/// <see cref="OffloadReason.TableFull"/>; <see cref="Refuse"/> adds refusals of its own), and whose
/// in_port, when matched, is one of its ports. Under <see cref="OffloadLookupModel.ExactFirst"/> exact flows go to an
/// exact table of <c>capacity</c> rows and the others to <c>capacity</c> wildcard rows; otherwise every flow takes one
/// of <c>capacity</c> rows. The row is drawn from the free rows by a seeded generator, so a manager that relied on
/// row order would be caught.</para>
/// <para><see cref="Lookup"/> is the hardware's answer for a packet; <see cref="Forward"/> also counts it on the row,
/// as the device would for a packet it forwards itself. <see cref="RegisterWrites"/> counts one write per install,
/// modify and remove. <see cref="BeforeWrite"/> runs before each of those writes (tests block there to show that a
/// flow-mod does not wait for the target, or throw there to play a failing device).</para>
/// <para>Thread safety: every member takes one private lock, so the test thread may look up and forward while the
/// manager's worker installs.</para>
/// </remarks>
public sealed class DummyOffloadTarget : IOffloadTarget
{
    private readonly Lock _lock = new();
    private readonly ushort[] _ports;
    private readonly HashSet<ushort> _portSet;
    private readonly Row?[] _rows;
    private readonly Row?[] _exactRows;
    private readonly Dictionary<FlowKey, Row> _exactByKey = new();
    private readonly Dictionary<FlowEntry, Row> _byEntry = new(ReferenceEqualityComparer.Instance);
    private readonly Random _rowPicker;
    private readonly HashSet<int> _retiredRows = new(), _retiredExact = new();
    private long _writes;

    /// <summary>A target forwarding between <paramref name="ports"/>, with <paramref name="capacity"/> rows per table.</summary>
    public DummyOffloadTarget(IEnumerable<ushort> ports, OffloadLookupModel model, int capacity = 64, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(ports);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        if (!Enum.IsDefined(model)) throw new ArgumentOutOfRangeException(nameof(model));
        _ports = ports.ToArray();
        _portSet = new HashSet<ushort>(_ports);
        LookupModel = model;
        _rows = new Row?[capacity];
        _exactRows = model == OffloadLookupModel.ExactFirst ? new Row?[capacity] : [];
        _rowPicker = new Random(seed);
    }

    public string Name => "dummy";
    public OffloadLookupModel LookupModel { get; }
    public string Description => $"dummy target ({LookupModel}), ports {string.Join(',', _ports)}, {_rows.Length} rows per table";

    /// <summary>The software features this target claims to do (<see cref="IOffloadTarget.Features"/>); none by default.</summary>
    public OffloadFeatures Features { get; init; }

    /// <summary>The order refusal this target gives (<see cref="IOffloadTarget.OrderRefusal"/>); the generic one by default.</summary>
    public OffloadReason OrderRefusal { get; init; } = OffloadReason.LookupOrder;

    /// <summary>Reasons of the target's own (<see cref="Refuse"/>'s), listed in <see cref="IOffloadTarget.Reasons"/>.</summary>
    public IReadOnlyList<OffloadReason> Reasons { get; init; } = [];

    /// <summary>
    /// A refusal of the target's own, checked before the others: a result not installed refuses the flow with its
    /// reason and detail (tests play a target whose reasons the manager and the host have never heard of); null accepts.
    /// </summary>
    public Func<FlowEntry, OffloadResult?>? Refuse { get; set; }
    public IReadOnlyList<ushort> Ports => _ports;
    public long RegisterWrites { get { lock (_lock) return _writes; } }

    /// <summary>Runs before each device write (install, modify, remove) with the flow concerned.</summary>
    public Action<FlowEntry>? BeforeWrite { get; set; }

    /// <summary>Flows the target holds now.</summary>
    public int Count { get { lock (_lock) return _byEntry.Count; } }

    /// <summary>
    /// Whether a removed flow's row is reused only after a grace period, as the XDP target's slot is (a lookup that
    /// found the flow before its removal may still count it): the row is free again at the next <see cref="Settle"/>,
    /// or when an install finds no other free row, each after one <see cref="GracePeriod"/>. Off: reused at once.
    /// </summary>
    public bool ReuseAfterGracePeriod { get; init; }

    /// <summary>Runs at each grace period waited for (<see cref="ReuseAfterGracePeriod"/>; tests count them).</summary>
    public Action? GracePeriod { get; set; }

    /// <summary>Grace periods waited for so far.</summary>
    public int GracePeriods { get { lock (_lock) return _gracePeriods; } }

    private int _gracePeriods;

    public void Settle(List<(FlowEntry Entry, OffloadCounts Counts)> into)
    {
        lock (_lock)
            if (_retiredRows.Count + _retiredExact.Count > 0) WaitGracePeriod();
    }

    private void WaitGracePeriod()
    {
        _gracePeriods++;
        GracePeriod?.Invoke();
        _retiredRows.Clear();
        _retiredExact.Clear();
    }

    private HashSet<int> RetiredOf(Row?[] table) => ReferenceEquals(table, _exactRows) ? _retiredExact : _retiredRows;

    public bool Holds(FlowEntry entry)
    {
        lock (_lock) return _byEntry.ContainsKey(entry);
    }

    public OffloadResult Check(FlowEntry entry)
    {
        var refused = Refusal(entry);
        if (refused is { } r) return r;
        lock (_lock)
        {
            var table = TableOf(entry);
            if (FreeRow(table) < 0 && RetiredOf(table).Count == 0) return Full(entry);
        }
        return new OffloadResult(true, OffloadReason.None, null, 1, 0);
    }

    public OffloadResult TryInstall(FlowEntry entry)
    {
        var refused = Refusal(entry);
        if (refused is { } r) return r;
        BeforeWrite?.Invoke(entry);
        lock (_lock)
        {
            if (_byEntry.ContainsKey(entry)) throw new InvalidOperationException("flow installed twice");
            var table = TableOf(entry);
            int free = FreeRow(table);
            if (free < 0 && RetiredOf(table).Count > 0)
            {
                WaitGracePeriod();
                free = FreeRow(table);
            }
            if (free < 0) return Full(entry);
            var row = new Row(entry, free, entry.Actions);
            table[free] = row;
            _byEntry[entry] = row;
            if (ReferenceEquals(table, _exactRows)) _exactByKey[entry.Match.Value] = row;
            _writes++;
            return new OffloadResult(true, OffloadReason.None, null, 1, 1);
        }
    }

    public OffloadResult Modify(FlowEntry entry)
    {
        var refused = Refusal(entry);
        if (refused is { } r) return r;
        BeforeWrite?.Invoke(entry);
        lock (_lock)
        {
            if (!_byEntry.TryGetValue(entry, out var row)) throw new InvalidOperationException("modify of a flow not installed");
            row.Actions = entry.Actions;
            _writes++;
            return new OffloadResult(true, OffloadReason.None, null, 1, 1);
        }
    }

    public OffloadCounts Remove(FlowEntry entry)
    {
        BeforeWrite?.Invoke(entry);
        lock (_lock)
        {
            if (!_byEntry.Remove(entry, out var row)) return default;
            var table = ReferenceEquals(TableOf(entry), _exactRows) ? _exactRows : _rows;
            table[row.Index] = null;
            if (ReuseAfterGracePeriod) RetiredOf(table).Add(row.Index);
            if (ReferenceEquals(table, _exactRows)) _exactByKey.Remove(entry.Match.Value);
            _writes++;
            return row.Take();
        }
    }

    public OffloadCounts ReadCounters(FlowEntry entry)
    {
        lock (_lock) return _byEntry.TryGetValue(entry, out var row) ? row.Take() : default;
    }

    public IReadOnlyList<OffloadTableUsage> Occupancy
    {
        get
        {
            lock (_lock)
            {
                int rows = 0, exact = 0;
                foreach (var r in _rows) if (r is not null) rows++;
                foreach (var r in _exactRows) if (r is not null) exact++;
                return LookupModel == OffloadLookupModel.ExactFirst
                    ? [new OffloadTableUsage("exact", exact, _exactRows.Length), new OffloadTableUsage("wildcard", rows, _rows.Length)]
                    : [new OffloadTableUsage("rows", rows, _rows.Length)];
            }
        }
    }

    public string? Location(FlowEntry entry)
    {
        lock (_lock)
        {
            if (!_byEntry.TryGetValue(entry, out var row)) return null;
            string table = LookupModel != OffloadLookupModel.ExactFirst ? "rows" : entry.Match.IsExact ? "exact" : "wildcard";
            return $"{table},row={row.Index}";
        }
    }

    /// <summary>The flow the hardware would answer a packet with key <paramref name="key"/> with, or null (a miss, sent to software).</summary>
    public FlowEntry? Lookup(in FlowKey key)
    {
        lock (_lock) return Find(key)?.Entry;
    }

    /// <summary>
    /// Forwards one packet in "hardware": the row that answers it counts it. Returns the flow and the actions the row
    /// holds (which lag the flow's own until a modify is placed), or null on a miss.
    /// </summary>
    public (FlowEntry Entry, FlowActions Actions)? Forward(in FlowKey key, int bytes)
    {
        lock (_lock)
        {
            var row = Find(key);
            if (row is null) return null;
            row.Packets++;
            row.Bytes += bytes;
            return (row.Entry, row.Actions);
        }
    }

    private Row? Find(in FlowKey key)
    {
        if (LookupModel == OffloadLookupModel.ExactFirst)
        {
            var masked = key.And(FlowMatch.ExactMaskNoTun);
            if (_exactByKey.TryGetValue(masked, out var hit)) return hit;
        }
        Row? best = null;
        foreach (var r in _rows)
        {
            if (r is null || !r.Entry.Match.Matches(key)) continue;
            if (LookupModel != OffloadLookupModel.Priority) return r;
            if (best is null || r.Entry.Priority > best.Entry.Priority) best = r;
        }
        return best;
    }

    private Row?[] TableOf(FlowEntry e) => LookupModel == OffloadLookupModel.ExactFirst && e.Match.IsExact ? _exactRows : _rows;

    private int FreeRow(Row?[] table)
    {
        var retired = RetiredOf(table);
        int free = 0;
        for (int i = 0; i < table.Length; i++) if (table[i] is null && !retired.Contains(i)) free++;
        if (free == 0) return -1;
        int pick = _rowPicker.Next(free);
        for (int i = 0; i < table.Length; i++)
        {
            if (table[i] is not null || retired.Contains(i)) continue;
            if (pick-- == 0) return i;
        }
        return -1;
    }

    private OffloadResult Full(FlowEntry e) => OffloadResult.Refused(OffloadReason.TableFull, $"{TableOf(e).Length} rows");

    /// <summary>Why the target cannot express <paramref name="e"/> at all, or null.</summary>
    private OffloadResult? Refusal(FlowEntry e)
    {
        if (Refuse?.Invoke(e) is { Installed: false } own) return own;
        var m = e.Match;
        if (m.Mask.InPort != 0 && !_portSet.Contains(m.Value.InPort))
            return OffloadResult.Refused(OffloadReason.InPortNotOffloadable, $"in_port {m.Value.InPort}");
        foreach (var a in e.Actions.Items)
        {
            if (a.Kind != ActionKind.Output || a.Port > PortNumber.Highest) return OffloadResult.Refused(OffloadReason.UnsupportedAction, new OffloadDetail(null, a));
            if (!_portSet.Contains(a.Port)) return OffloadResult.Refused(OffloadReason.UnsupportedOutputPort, $"port {a.Port}");
        }
        return null;
    }

    private sealed class Row(FlowEntry entry, int index, FlowActions actions)
    {
        public readonly FlowEntry Entry = entry;
        public readonly int Index = index;
        public FlowActions Actions = actions;
        public long Packets, Bytes;

        public OffloadCounts Take()
        {
            var c = new OffloadCounts(Packets, Bytes);
            Packets = Bytes = 0;
            return c;
        }
    }
}
