using System.Text.Json.Nodes;

namespace Softswitch.Ovsdb;

/// <summary>
/// Follows tables of a database into an <see cref="OvsdbReplica"/>: <c>monitor_cond</c> (update2 diffs) where the
/// server has it, else <c>monitor</c> (update rows). <see cref="Changed"/> runs after each update is applied.
/// </summary>
/// <remarks>
/// The replica is read and written under <see cref="Lock"/>; updates are applied on the client's receive thread. An
/// update that cannot be applied ends the session (the replica would no longer be the database): the client is
/// closed with the reason, and the caller reconnects and starts over.
/// </remarks>
internal sealed class OvsdbMonitor
{
    private readonly OvsdbClient _client;
    private readonly JsonNode _monitorId = JsonValue.Create("softswitch");
    private bool _conditional;

    public OvsdbReplica Replica { get; }
    public Lock Lock { get; } = new();
    public string Database { get; }

    /// <summary>The method in use: monitor_cond or monitor.</summary>
    public string Method => _conditional ? "monitor_cond" : "monitor";

    /// <summary>Runs after an update has been applied (on the receive thread, outside <see cref="Lock"/>).</summary>
    public event Action? Changed;

    /// <summary>An update could not be applied: the reason (the session is ended).</summary>
    public event Action<string>? Failed;

    private OvsdbMonitor(OvsdbClient client, string database, OvsdbSchema schema)
    {
        _client = client;
        Database = database;
        Replica = new OvsdbReplica(schema);
        client.Notified += OnNotified;
    }

    /// <summary>Reads the schema, starts monitoring <paramref name="tables"/> (each with its columns) and fills the replica.</summary>
    public static OvsdbMonitor Start(OvsdbClient client, string database, IReadOnlyDictionary<string, string[]> tables, TimeSpan timeout)
    {
        var schemaJson = client.Call("get_schema", new JsonArray(database), timeout);
        if (!OvsdbSchema.TryParse(schemaJson, out var schema, out var schemaError)) throw new OvsdbException($"get_schema {database}: {schemaError}");
        var monitor = new OvsdbMonitor(client, database, schema);
        var requests = new JsonObject();
        foreach (var (table, columns) in tables)
        {
            if (!schema.HasTable(table)) throw new OvsdbException($"database {database} has no table {table}");
            var known = columns.Where(c => schema.Columns(table).Contains(c)).ToArray();
            requests[table] = new JsonObject { ["columns"] = new JsonArray([.. known.Select(c => (JsonNode)JsonValue.Create(c))]) };
        }
        // The initial contents are applied under the lock before any notification can be (the receive thread takes
        // the lock for those, and they follow the reply).
        lock (monitor.Lock)
        {
            JsonRpcMessage reply;
            try
            {
                reply = client.CallAsync("monitor_cond", new JsonArray(database, monitor._monitorId.DeepClone(), requests.DeepClone())).WaitAsync(timeout).GetAwaiter().GetResult();
            }
            catch (TimeoutException)
            {
                throw new OvsdbException($"monitor_cond: no reply within {timeout.TotalSeconds:0} s");
            }
            string error;
            if (!reply.IsError)
            {
                monitor._conditional = true;
                if (!monitor.Replica.TryApplyUpdate2(reply.Result, out error)) throw new OvsdbException($"monitor_cond: {error}");
            }
            else
            {
                var initial = client.Call("monitor", new JsonArray(database, monitor._monitorId.DeepClone(), requests), timeout);
                if (!monitor.Replica.TryApplyUpdate(initial, out error)) throw new OvsdbException($"monitor: {error}");
            }
        }
        return monitor;
    }

    private void OnNotified(string method, JsonArray ps)
    {
        if (method is not ("update" or "update2") || ps.Count < 2 || JsonRpc.Text(ps[0]) != JsonRpc.Text(_monitorId)) return;
        bool ok;
        string error;
        lock (Lock)
            ok = method == "update2" ? Replica.TryApplyUpdate2(ps[1], out error) : Replica.TryApplyUpdate(ps[1], out error);
        if (!ok)
        {
            Failed?.Invoke($"{method}: {error}");
            _client.Dispose();
            return;
        }
        Changed?.Invoke();
    }
}
