using System.Globalization;
using System.Text.Json.Nodes;
using Softswitch.Control;
using Softswitch.Ovsdb;

namespace Softswitch.Vswitchd;

/// <summary>
/// The columns the daemon writes back, as ovs-vswitchd writes them: <c>Open_vSwitch</c> cur_cfg (once next_cfg is
/// applied), ovs_version, datapath_types, iface_types; <c>Bridge</c> datapath_id, status (a key per bridge setting
/// refused, see <see cref="BridgeConfig.Status"/>, <c>mgmt</c> while the management socket cannot be served, and
/// <c>error</c> for a bridge that cannot be created or whose last change failed); <c>Interface</c> ofport (-1 with
/// error when it cannot be opened; an open one's error names what of its row was ignored, see <see cref="AfXdpInterface"/>),
/// ifindex, mac_in_use, link_state, admin_state, link_speed and duplex (from the port's link modes), mtu, status (a key
/// per setting refused), lacp_current (a member of a bond running LACP: whether its partner is not defaulted; empty
/// otherwise); <c>Bridge</c> and <c>Port</c> rstp_status and Port rstp_statistics (the rapid spanning tree's keys,
/// empty without it); <c>Port</c> status (likewise, and the spanning tree's keys), statistics (the spanning tree's BPDU
/// counts) and bond_active_slave (a bond's active member's address); <c>Controller</c> is_connected, role, status (<c>last_error</c>: why its target is not served);
/// <c>Mirror</c> statistics (tx_packets, tx_bytes) of each mirror served.
/// </summary>
/// <remarks>
/// Each value is compared with the replica's (those columns are monitored too) and only what differs is written, so
/// an idle daemon writes nothing and its own writes, echoed back, change nothing more.
/// </remarks>
internal static class StatusWriter
{
    /// <summary>What this daemon serves, for Open_vSwitch.datapath_types and iface_types.</summary>
    public static readonly string[] DatapathTypes = ["netdev", "system"];
    public static readonly string[] InterfaceTypes = ["afxdp", "geneve", "gre", "internal", "patch", "system", "vxlan"];

    /// <summary>The columns written, by table (the daemon follows them too, to write only what differs).</summary>
    public static readonly IReadOnlyDictionary<string, string[]> WrittenColumns = new Dictionary<string, string[]>
    {
        ["Open_vSwitch"] = ["cur_cfg", "ovs_version", "datapath_types", "iface_types"],
        ["Bridge"] = ["datapath_id", "status", "rstp_status"],
        ["Port"] = ["status", "statistics", "bond_active_slave", "rstp_status", "rstp_statistics"],
        ["Interface"] = ["ofport", "error", "ifindex", "mac_in_use", "link_state", "admin_state", "link_speed", "duplex", "mtu", "status", "lacp_current"],
        ["Controller"] = ["is_connected", "role", "status"],
        ["Mirror"] = ["statistics"],
    };

    /// <summary>The update operations that make the database show <paramref name="bridges"/> after <paramref name="config"/> was applied.
    /// <paramref name="bridgeErrors"/>: each Bridge row's error (not created, not served, or its last change failed).</summary>
    public static List<JsonNode> Operations(OvsdbReplica db, VswitchConfig config, IEnumerable<Bridge> bridges, IReadOnlyDictionary<Guid, string>? bridgeErrors = null)
    {
        bridgeErrors ??= new Dictionary<Guid, string>();
        var ops = new List<JsonNode>();
        var root = new Dictionary<string, JsonNode>
        {
            ["cur_cfg"] = JsonValue.Create(config.NextCfg),
            ["ovs_version"] = JsonValue.Create($"softswitch {HostCommands.Version}"),
            ["datapath_types"] = OvsdbDatum.StringSet(DatapathTypes),
            ["iface_types"] = OvsdbDatum.StringSet(InterfaceTypes),
        };
        Add(ops, db, "Open_vSwitch", config.Root, root);
        var served = new HashSet<Guid>();
        foreach (var bridge in bridges)
        {
            served.Add(bridge.Uuid);
            var status = bridge.Status;
            if (bridgeErrors.TryGetValue(bridge.Uuid, out var failed)) status = new SortedDictionary<string, string>(status.ToDictionary(), StringComparer.Ordinal) { ["error"] = failed };
            Add(ops, db, "Bridge", bridge.Uuid, new()
            {
                ["datapath_id"] = JsonValue.Create(bridge.DatapathId.ToString("x16", CultureInfo.InvariantCulture)),
                ["status"] = OvsdbDatum.Map(status),
                ["rstp_status"] = OvsdbDatum.Map(bridge.RstpStatus),
            });
            var lacpCurrent = bridge.LacpCurrent;
            foreach (var (uuid, s) in bridge.Interfaces())
            {
                Add(ops, db, "Interface", uuid, new()
                {
                    ["ofport"] = JsonValue.Create(s.Ofport),
                    ["error"] = OvsdbDatum.Optional(s.Error),
                    ["ifindex"] = OvsdbDatum.Optional(s.Ifindex),
                    ["mac_in_use"] = OvsdbDatum.Optional(s.MacInUse),
                    ["link_state"] = OvsdbDatum.Optional(s.LinkState),
                    ["admin_state"] = OvsdbDatum.Optional(s.AdminState),
                    ["link_speed"] = OvsdbDatum.Optional(s.Speed?.Bps),
                    ["duplex"] = OvsdbDatum.Optional(s.Speed?.Duplex),
                    ["mtu"] = OvsdbDatum.Optional(s.Mtu),
                    ["status"] = OvsdbDatum.Map(s.Status),
                    ["lacp_current"] = OvsdbDatum.Optional(lacpCurrent.TryGetValue(uuid, out bool current) ? (bool?)current : null),
                });
            }
            foreach (var (uuid, packets, bytes) in bridge.MirrorStatistics())
            {
                Add(ops, db, "Mirror", uuid, new()
                {
                    ["statistics"] = new JsonArray("map", new JsonArray(new JsonArray("tx_bytes", bytes), new JsonArray("tx_packets", packets))),
                });
            }
            foreach (var (uuid, (portStatus, statistics)) in bridge.PortStatus)
                Add(ops, db, "Port", uuid, new() { ["status"] = OvsdbDatum.Map(portStatus), ["statistics"] = OvsdbDatum.Map(statistics) });
            foreach (var (uuid, (rstpStatus, rstpStatistics)) in bridge.PortRstpStatus)
                Add(ops, db, "Port", uuid, new() { ["rstp_status"] = OvsdbDatum.Map(rstpStatus), ["rstp_statistics"] = OvsdbDatum.Map(rstpStatistics) });
            foreach (var (uuid, activeSlave) in bridge.BondActiveSlaves)
                Add(ops, db, "Port", uuid, new() { ["bond_active_slave"] = JsonValue.Create(activeSlave) });
            foreach (var c in bridge.ControllerTargets)
            {
                var (connected, role) = bridge.Controller(c.Target);
                var why = bridge.ControllerError(c.Target);
                Add(ops, db, "Controller", c.Uuid, new()
                {
                    ["is_connected"] = JsonValue.Create(connected),
                    ["role"] = OvsdbDatum.Optional(role),
                    ["status"] = OvsdbDatum.Map(why is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["last_error"] = why }),
                });
            }
        }
        foreach (var (uuid, error) in bridgeErrors)
            if (!served.Contains(uuid)) Add(ops, db, "Bridge", uuid, new() { ["status"] = OvsdbDatum.Map(new Dictionary<string, string> { ["error"] = error }) });
        return ops;
    }

    /// <summary>An update of the columns of <paramref name="wanted"/> that differ from the replica's row (none when the row is gone).</summary>
    private static void Add(List<JsonNode> ops, OvsdbReplica db, string table, Guid uuid, Dictionary<string, JsonNode> wanted)
    {
        if (db.Row(table, uuid) is not { } row) return;
        var changed = new JsonObject();
        foreach (var (column, value) in wanted)
        {
            var kind = db.Schema.Kind(table, column);
            if (Canonical(kind, row[column]) != Canonical(kind, value)) changed[column] = value;
        }
        if (changed.Count == 0) return;
        ops.Add(new JsonObject
        {
            ["op"] = "update",
            ["table"] = table,
            ["where"] = new JsonArray(new JsonArray("_uuid", "==", OvsdbDatum.Uuid(uuid))),
            ["row"] = changed,
        });
    }

    /// <summary>A value in one spelling: a set's atoms sorted (one atom and a set of one alike), a map's pairs sorted.</summary>
    internal static string Canonical(ColumnKind kind, JsonNode? value) => kind switch
    {
        ColumnKind.Set => string.Join(',', OvsdbDatum.Atoms(value).Select(JsonRpc.Text).Order(StringComparer.Ordinal)),
        ColumnKind.Map => string.Join(',', OvsdbDatum.Pairs(value).Select(p => JsonRpc.Text(p.Key) + ":" + JsonRpc.Text(p.Value)).Order(StringComparer.Ordinal)),
        _ => value is null ? "" : string.Join(',', OvsdbDatum.Atoms(value).Select(JsonRpc.Text)),
    };
}

/// <summary>
/// A 64-bit fingerprint of the values the status columns show (<see cref="Bridge.AddStatusStamp"/>): two rounds with
/// the same stamp (and the same database generation) have nothing new to write. No allocation.
/// </summary>
internal struct StatusStamp
{
    private ulong _h;

    public StatusStamp() => _h = 14695981039346656037UL;

    public readonly ulong Value => _h;

    public void Add(long v)
    {
        // Each value mixed in whole (multiply, xor-shift: a change of any bit moves every bit of the stamp).
        _h = (_h ^ (ulong)v) * 0x9E3779B97F4A7C15UL;
        _h ^= _h >> 31;
    }
}
