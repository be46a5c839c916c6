using System.Text.Json.Nodes;

namespace Softswitch.Ovsdb;

/// <summary>One row of the replica: its uuid and the columns monitored, each as RFC 7047 encodes its value.</summary>
internal sealed class OvsdbRow(Guid uuid)
{
    public Guid Uuid { get; } = uuid;
    public Dictionary<string, JsonNode?> Columns { get; } = new(StringComparer.Ordinal);

    public JsonNode? this[string column] => Columns.TryGetValue(column, out var v) ? v : null;

    public string? String(string column) => OvsdbDatum.String(this[column]);
    public long? Integer(string column) => OvsdbDatum.Integer(this[column]);
    public IReadOnlyList<string> Strings(string column) => OvsdbDatum.Strings(this[column]);
    public IReadOnlyList<Guid> Uuids(string column) => OvsdbDatum.Uuids(this[column]);
    public Dictionary<string, string> Map(string column) => OvsdbDatum.StringMap(this[column]);
}

/// <summary>
/// A client's copy of the monitored tables, kept true by the monitor's replies and notifications: <c>update</c>
/// (<c>monitor</c>, RFC 7047 section 4.1.6: "old"/"new" rows) and <c>update2</c> (<c>monitor_cond</c>:
/// "initial"/"insert"/"modify"/"delete", modify carrying a diff per column).
/// </summary>
/// <remarks>
/// Not thread-safe: one thread applies updates and reads rows (the caller's lock). A malformed update is refused whole
/// with the reason, never half applied: it is checked before any row changes.
/// </remarks>
internal sealed class OvsdbReplica(OvsdbSchema schema)
{
    private readonly Dictionary<string, Dictionary<Guid, OvsdbRow>> _tables = new(StringComparer.Ordinal);

    public OvsdbSchema Schema { get; } = schema;

    /// <summary>The rows of a table (none when it is not monitored).</summary>
    public IReadOnlyCollection<OvsdbRow> Rows(string table) => _tables.TryGetValue(table, out var t) ? t.Values : [];

    public OvsdbRow? Row(string table, Guid uuid) => _tables.TryGetValue(table, out var t) && t.TryGetValue(uuid, out var r) ? r : null;

    /// <summary>Counts the changes made to the rows (each update applied, each clear): a reader that saw a generation
    /// knows the contents are as it read them while the generation stays the same.</summary>
    public long Generation { get; private set; }

    public void Clear()
    {
        _tables.Clear();
        Generation++;
    }

    /// <summary>Applies a &lt;table-updates&gt; of <c>monitor</c>: a row with "new" is inserted or replaced by it (columns not in it kept), one without is deleted.</summary>
    public bool TryApplyUpdate(JsonNode? updates, out string error)
    {
        if (!TryRows(updates, out var rows, out error)) return false;
        foreach (var (table, uuid, change) in rows)
        {
            var t = Table(table);
            if (change["new"] is JsonObject next)
            {
                if (!t.TryGetValue(uuid, out var row)) t[uuid] = row = new OvsdbRow(uuid);
                foreach (var (column, value) in next) row.Columns[column] = value?.DeepClone();
            }
            else
            {
                t.Remove(uuid);
            }
        }
        Generation++;
        return true;
    }

    /// <summary>Applies a &lt;table-updates2&gt; of <c>monitor_cond</c>.</summary>
    public bool TryApplyUpdate2(JsonNode? updates, out string error)
    {
        if (!TryRows(updates, out var rows, out error)) return false;
        foreach (var (table, _, change) in rows)
        {
            if (change.Count != 1 || change.First().Key is not ("initial" or "insert" or "modify" or "delete"))
            {
                error = $"{table}: a row update2 must hold one of initial, insert, modify, delete";
                return false;
            }
        }
        foreach (var (table, uuid, change) in rows)
        {
            var t = Table(table);
            var (op, value) = change.First();
            switch (op)
            {
                case "initial" or "insert":
                {
                    var row = new OvsdbRow(uuid);
                    if (value is JsonObject cols)
                    {
                        foreach (var (column, v) in cols) row.Columns[column] = v?.DeepClone();
                    }
                    t[uuid] = row;
                    break;
                }
                case "modify":
                {
                    if (!t.TryGetValue(uuid, out var row)) t[uuid] = row = new OvsdbRow(uuid);
                    if (value is JsonObject diff)
                    {
                        foreach (var (column, d) in diff)
                            if (d is not null) row.Columns[column] = OvsdbDatum.ApplyDiff(Schema.Kind(table, column), row[column], d);
                    }
                    break;
                }
                default:
                    t.Remove(uuid);
                    break;
            }
        }
        Generation++;
        return true;
    }

    private Dictionary<Guid, OvsdbRow> Table(string name)
    {
        if (!_tables.TryGetValue(name, out var t)) _tables[name] = t = new Dictionary<Guid, OvsdbRow>();
        return t;
    }

    private static bool TryRows(JsonNode? updates, out List<(string Table, Guid Uuid, JsonObject Change)> rows, out string error)
    {
        rows = [];
        error = "";
        if (updates is null) return true;
        if (updates is not JsonObject tables)
        {
            error = "table updates must be a JSON object";
            return false;
        }
        foreach (var (table, t) in tables)
        {
            if (t is not JsonObject rowUpdates)
            {
                error = $"{table}: a table update must be an object of rows";
                return false;
            }
            foreach (var (uuidText, change) in rowUpdates)
            {
                if (!Guid.TryParse(uuidText, out var uuid))
                {
                    error = $"{table}: '{uuidText}' is not a uuid";
                    return false;
                }
                if (change is not JsonObject c)
                {
                    error = $"{table} {uuidText}: a row update must be an object";
                    return false;
                }
                rows.Add((table, uuid, c));
            }
        }
        return true;
    }
}
