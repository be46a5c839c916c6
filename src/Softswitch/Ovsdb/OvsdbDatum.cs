using System.Globalization;
using System.Text.Json.Nodes;

namespace Softswitch.Ovsdb;

/// <summary>How a column's values are shaped (RFC 7047 section 3.2, &lt;type&gt;): one atom, a set of atoms or a map.</summary>
internal enum ColumnKind { Scalar, Set, Map }

/// <summary>
/// The tables and columns of a database schema (RFC 7047 section 3.2), as far as reading the database needs: which
/// columns are sets or maps, which is what an <c>update2</c> "modify" diff is applied by.
/// </summary>
internal sealed class OvsdbSchema
{
    public string Name { get; }
    public string Version { get; }
    private readonly Dictionary<string, Dictionary<string, ColumnKind>> _tables;

    private OvsdbSchema(string name, string version, Dictionary<string, Dictionary<string, ColumnKind>> tables)
    {
        Name = name;
        Version = version;
        _tables = tables;
    }

    public IEnumerable<string> Tables => _tables.Keys;

    public bool HasTable(string table) => _tables.ContainsKey(table);

    public IEnumerable<string> Columns(string table) => _tables.TryGetValue(table, out var t) ? t.Keys : [];

    /// <summary>A column's kind; a column the schema does not name is a scalar (replaced whole).</summary>
    public ColumnKind Kind(string table, string column)
        => _tables.TryGetValue(table, out var t) && t.TryGetValue(column, out var k) ? k : ColumnKind.Scalar;

    /// <summary>Reads a &lt;database-schema&gt; (what get_schema returns, or an .ovsschema file).</summary>
    public static bool TryParse(JsonNode? json, out OvsdbSchema schema, out string error)
    {
        schema = null!;
        error = "";
        if (json is not JsonObject o || o["tables"] is not JsonObject tables)
        {
            error = "a database schema must be an object with \"tables\"";
            return false;
        }
        var result = new Dictionary<string, Dictionary<string, ColumnKind>>(StringComparer.Ordinal);
        foreach (var (table, t) in tables)
        {
            if (t is not JsonObject to || to["columns"] is not JsonObject columns)
            {
                error = $"table {table}: no \"columns\"";
                return false;
            }
            var kinds = new Dictionary<string, ColumnKind>(StringComparer.Ordinal) { ["_uuid"] = ColumnKind.Scalar, ["_version"] = ColumnKind.Scalar };
            foreach (var (column, c) in columns)
                kinds[column] = KindOf((c as JsonObject)?["type"]);
            result[table] = kinds;
        }
        schema = new OvsdbSchema(OvsdbDatum.String(o["name"]) ?? "", OvsdbDatum.String(o["version"]) ?? "", result);
        return true;
    }

    /// <summary>
    /// A &lt;type&gt;: at most one element (an atomic type name, or max 1, optional columns included) is a scalar, replaced
    /// whole by an update2 diff as ovsdb-server sends it (only composite columns, max above 1, get element diffs); else a
    /// map when it has a "value", a set otherwise.
    /// </summary>
    private static ColumnKind KindOf(JsonNode? type)
    {
        if (type is not JsonObject t) return ColumnKind.Scalar;
        bool maxOne = t["max"] is null || (t["max"] is JsonValue mx && mx.TryGetValue(out long b) && b == 1);
        if (maxOne) return ColumnKind.Scalar;
        return t.ContainsKey("value") ? ColumnKind.Map : ColumnKind.Set;
    }
}

/// <summary>
/// Values as RFC 7047 section 5.1 encodes them, read and made. An atom is a string, number or boolean, or
/// <c>["uuid","…"]</c> / <c>["named-uuid","…"]</c>; a set is <c>["set",[atoms]]</c> or, with one element, the atom itself;
/// a map is <c>["map",[[key,value],…]]</c>.
/// </summary>
internal static class OvsdbDatum
{
    /// <summary>The atoms of a set (a single atom is a set of one; null or a map is empty).</summary>
    public static IReadOnlyList<JsonNode> Atoms(JsonNode? value)
    {
        if (value is null) return [];
        if (value is JsonArray a && a.Count == 2 && a[0] is JsonValue tag && tag.TryGetValue(out string? name))
        {
            if (name == "set") return a[1] is JsonArray items ? [.. items.Where(i => i is not null).Select(i => i!)] : [];
            if (name == "map") return [];
        }
        return [value];
    }

    /// <summary>The pairs of a map; anything else is empty.</summary>
    public static IReadOnlyList<(JsonNode Key, JsonNode Value)> Pairs(JsonNode? value)
    {
        if (value is JsonArray { Count: 2 } a && a[0] is JsonValue tag && tag.TryGetValue(out string? name) && name == "map" && a[1] is JsonArray pairs)
        {
            var list = new List<(JsonNode, JsonNode)>(pairs.Count);
            foreach (var p in pairs)
                if (p is JsonArray { Count: 2 } kv && kv[0] is not null && kv[1] is not null) list.Add((kv[0]!, kv[1]!));
            return list;
        }
        return [];
    }

    /// <summary>A string-to-string map (other_config, options, external_ids).</summary>
    public static Dictionary<string, string> StringMap(JsonNode? value)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in Pairs(value))
            if (String(k) is { } key && String(v) is { } text) map[key] = text;
        return map;
    }

    /// <summary>The string of a scalar or a set of one; null when empty or not a string.</summary>
    public static string? String(JsonNode? value)
        => Atoms(value) is [JsonValue v] && v.TryGetValue(out string? s) ? s : null;

    /// <summary>The strings of a set.</summary>
    public static IReadOnlyList<string> Strings(JsonNode? value)
        => [.. Atoms(value).Select(a => a is JsonValue v && v.TryGetValue(out string? s) ? s : null).Where(s => s is not null).Select(s => s!)];

    /// <summary>The integer of a scalar or a set of one (a parsed number or one made in code, whatever its .NET type).</summary>
    public static long? Integer(JsonNode? value)
        => Atoms(value) is [JsonValue v] && v.GetValueKind() == System.Text.Json.JsonValueKind.Number
           && long.TryParse(JsonRpc.Text(v), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n) ? n : null;

    public static bool? Boolean(JsonNode? value)
        => Atoms(value) is [JsonValue v] && v.TryGetValue(out bool b) ? b : null;

    /// <summary>The uuid of <c>["uuid","…"]</c>; false for anything else.</summary>
    public static bool TryUuid(JsonNode? atom, out Guid uuid)
    {
        uuid = default;
        return atom is JsonArray { Count: 2 } a && a[0] is JsonValue t && t.TryGetValue(out string? tag) && tag == "uuid"
               && a[1] is JsonValue v && v.TryGetValue(out string? text) && Guid.TryParse(text, out uuid);
    }

    /// <summary>The uuids of a set of references.</summary>
    public static IReadOnlyList<Guid> Uuids(JsonNode? value)
    {
        var list = new List<Guid>();
        foreach (var a in Atoms(value))
            if (TryUuid(a, out var u)) list.Add(u);
        return list;
    }

    public static JsonNode Uuid(Guid uuid) => new JsonArray("uuid", uuid.ToString("D"));

    /// <summary>A set of atoms (an empty set is how an optional column is cleared).</summary>
    public static JsonNode Set(IEnumerable<JsonNode> atoms) => new JsonArray("set", new JsonArray([.. atoms.Select(a => a.DeepClone())]));

    /// <summary>An optional string: a set of one, or the empty set for null.</summary>
    public static JsonNode Optional(string? value) => value is null ? Set([]) : JsonValue.Create(value);

    /// <summary>An optional integer: the value, or the empty set for null.</summary>
    public static JsonNode Optional(long? value) => value is { } n ? JsonValue.Create(n) : Set([]);

    /// <summary>An optional boolean column's value: the boolean, or the empty set for null.</summary>
    public static JsonNode Optional(bool? value) => value is { } b ? JsonValue.Create(b) : Set([]);

    public static JsonNode Map(IEnumerable<KeyValuePair<string, string>> pairs)
        => new JsonArray("map", new JsonArray([.. pairs.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (JsonNode)new JsonArray(p.Key, p.Value))]));

    /// <summary>A map of string keys to integers (a statistics column).</summary>
    public static JsonNode Map(IEnumerable<KeyValuePair<string, long>> pairs)
        => new JsonArray("map", new JsonArray([.. pairs.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (JsonNode)new JsonArray(p.Key, p.Value))]));

    public static JsonNode StringSet(IEnumerable<string> items) => Set(items.Select(s => (JsonNode)JsonValue.Create(s)));

    /// <summary>
    /// Applies an <c>update2</c> "modify" diff to a column's old value: a scalar (optional ones too) is replaced, a set toggles each atom of
    /// the diff (the symmetric difference), a map inserts a new key, deletes a key given with its old value and
    /// replaces a key given with another value (RFC 7047's monitor_cond, as ovsdb-server sends it).
    /// </summary>
    public static JsonNode? ApplyDiff(ColumnKind kind, JsonNode? old, JsonNode diff)
    {
        switch (kind)
        {
            case ColumnKind.Set:
            {
                var items = Atoms(old).Select(a => (Text: JsonRpc.Text(a), Node: a)).ToList();
                foreach (var d in Atoms(diff))
                {
                    string t = JsonRpc.Text(d);
                    int at = items.FindIndex(i => i.Text == t);
                    if (at >= 0) items.RemoveAt(at);
                    else items.Add((t, d));
                }
                return Set(items.Select(i => i.Node));
            }
            case ColumnKind.Map:
            {
                var pairs = Pairs(old).Select(p => (Key: JsonRpc.Text(p.Key), p.Key, p.Value)).ToList();
                foreach (var (k, v) in Pairs(diff))
                {
                    string key = JsonRpc.Text(k);
                    int at = pairs.FindIndex(p => p.Key == key);
                    if (at < 0) pairs.Add((key, k, v));
                    else if (JsonRpc.Text(pairs[at].Value) == JsonRpc.Text(v)) pairs.RemoveAt(at);
                    else pairs[at] = (key, k, v);
                }
                return new JsonArray("map", new JsonArray([.. pairs.Select(p => (JsonNode)new JsonArray(p.Item2.DeepClone(), p.Value.DeepClone()))]));
            }
            default:
                return diff.DeepClone();
        }
    }

    public static string Format(long n) => n.ToString(CultureInfo.InvariantCulture);
}
