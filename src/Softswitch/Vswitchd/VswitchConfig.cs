using System.Globalization;
using System.Text;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Ports;
using Softswitch.Ovsdb;

namespace Softswitch.Vswitchd;

/// <summary>One Interface row as the daemon serves it, with its Port row's VLAN membership for NORMAL (null: a trunk of every VLAN)
/// and shaping.</summary>
internal sealed record InterfaceConfig(Guid Uuid, string Name, string Type, int? OfportRequest, IReadOnlyDictionary<string, string> Options, PortVlan? Vlan = null)
{
    /// <summary>The Port row's egress shaping (its QoS row), or null: not shaped.</summary>
    public PortQos? Qos { get; init; }

    /// <summary>Why this row is not served at all (another Interface row of its name is): its <c>error</c>; null when served.</summary>
    public string? Unserved { get; init; }

    /// <summary>mtu_request, when it is served (an interface with a kernel device: "", system, internal); null: the device's own.</summary>
    public int? MtuRequest { get; init; }

    /// <summary>The interface's Ethernet address: Interface mac of an internal interface, or the Bridge's other_config:hwaddr for
    /// its LOCAL port; null: the device's own.</summary>
    public MacAddress? Mac { get; init; }

    /// <summary>ingress_policing_rate (kbit/s, 0: not policed) and ingress_policing_burst (kbit, 0: the default).</summary>
    public (long RateKbps, long BurstKb) Policing { get; init; }

    /// <summary>The Interface <c>status</c> column: a key per setting refused (the column's name), its value the reason.</summary>
    public IReadOnlyDictionary<string, string> Status { get; init; } = new Dictionary<string, string>();

    /// <summary>The name of its Port row (what a Mirror row selects and outputs to).</summary>
    public string PortName { get; init; } = "";
    /// <summary>The Port row the interface is served for (its status and statistics carry the spanning tree's keys).</summary>
    public Guid PortUuid { get; init; }

    /// <summary>The Port row's spanning tree settings (its other_config stp-*), read whether or not the bridge runs it.</summary>
    public PortStpConfig Stp { get; init; } = PortStpConfig.Default;

    /// <summary>The Port row's rapid spanning tree settings (its other_config rstp-*), read whether or not the bridge runs it.</summary>
    public PortRstpConfig Rstp { get; init; } = PortRstpConfig.Default;
}

/// <summary>
/// A Port row with two or more Interfaces: a bond, as Open vSwitch's bridge reads it (port_configure_bond,
/// port_configure_lacp): bond_mode (default active-backup), lacp (null: off; else active or passive),
/// other_config:lacp-time=fast, lacp-system-id (null: the bridge's address), lacp-system-priority (0: Open vSwitch's
/// default), bond_updelay and bond_downdelay (ms), other_config:bond-hash-basis, bond_active_slave (the active
/// member's address last written, to choose it again) and other_config:bond-rebalance-interval (ms; default 10000, 0:
/// never, at least 1000). Its members are the Interface rows, in name order.
/// </summary>
internal sealed record BondConfig(Guid PortUuid, string Name, BondMode Mode, bool? LacpActive, bool LacpFast, ulong? LacpSystemId,
    ushort LacpSystemPriority, int UpdelayMs, int DowndelayMs, uint HashBasis, ulong ActiveSlaveMac, IReadOnlyList<BondMemberConfig> Members,
    int RebalanceIntervalMs = BondConfig.DefaultRebalanceIntervalMs)
{
    /// <summary>What the datapath's bond is made of (a change makes a new one): its name, mode, hash basis and members.</summary>
    public string ShapeKey => $"{Name}|{Mode}|{HashBasis}|{string.Join(',', Members.Select(m => m.InterfaceUuid))}";

    /// <summary>Open vSwitch's default bond-rebalance-interval (bridge.c port_configure_bond), and the least it takes.</summary>
    public const int DefaultRebalanceIntervalMs = 10000, MinRebalanceIntervalMs = 1000;
}

/// <summary>A bond member (an Interface of a bond's Port) with its other_config LACP settings: lacp-port-id (0: its
/// OpenFlow port number), lacp-port-priority (0: 65535), lacp-aggregation-key (0: the key member's port id).</summary>
internal sealed record BondMemberConfig(Guid InterfaceUuid, string Name, ushort LacpPortId, ushort LacpPortPriority, ushort LacpKey);

/// <summary>A Port row's spanning tree settings: other_config stp-enable (default true), stp-port-num (1 to 255; null:
/// numbered in port order; 0: set to something else, and the port takes no part, as in Open vSwitch),
/// stp-port-priority (default 128), stp-path-cost (null: from the link's speed).</summary>
internal sealed record PortStpConfig(bool Enabled, int? PortNum, byte Priority, int? PathCost)
{
    public static readonly PortStpConfig Default = new(true, null, StpBridgeDefaults.PortPriority, null);
}

/// <summary>A Bridge's spanning tree (stp_enable=true): other_config stp-priority, stp-hello-time (milliseconds, as
/// Open vSwitch's bridge.c reads it), stp-max-age and stp-forward-delay (seconds; all three kept here in milliseconds,
/// as asked: the protocol clamps them), stp-system-id (null: the bridge's address).</summary>
internal sealed record StpConfig(ushort Priority, int HelloTimeMs, int MaxAgeMs, int ForwardDelayMs, ulong? SystemId);

/// <summary>
/// A Bridge's multicast snooping (mcast_snooping_enable=true), as Open vSwitch's bridge_configure_mcast_snooping reads
/// it: other_config mcast-snooping-aging-time (seconds, default 300; the protocol clamps it to 15 to 3600),
/// mcast-snooping-table-size (default 2048; clamped to 10 to 1,000,000), mcast-snooping-disable-flood-unregistered
/// (default false), and the Port rows whose other_config mcast-snooping-flood and mcast-snooping-flood-reports are true
/// (by name, sorted).
/// </summary>
internal sealed record McastSnoopingConfig(int IdleTimeS, int MaxEntries, bool FloodUnregistered, IReadOnlyList<string> FloodPorts, IReadOnlyList<string> FloodReportPorts);

/// <summary>A Port row's rapid spanning tree settings, as Open vSwitch's port_configure_rstp reads its other_config:
/// rstp-enable (default true; false also for an rstp-port-num that is not 1 to 4095, as there), rstp-port-num (null:
/// the first free number), rstp-port-priority (default 128), rstp-path-cost (null: from the link's speed),
/// rstp-port-admin-edge (default false), rstp-port-auto-edge (default true), rstp-admin-p2p-mac (default 1, force
/// true), rstp-admin-port-state (default true), rstp-port-mcheck (default false).</summary>
internal sealed record PortRstpConfig(bool Enabled, int? PortNum, int Priority, uint? PathCost, bool AdminEdge, bool AutoEdge,
    Stp.RstpPointToPoint PointToPoint, bool AdminPortState, bool Mcheck)
{
    public static readonly PortRstpConfig Default = new(true, null, Stp.RstpBridge.DefaultPortPriority, null, false, true,
        Stp.RstpPointToPoint.ForceTrue, true, false);
}

/// <summary>A Bridge's rapid spanning tree (rstp_enable=true), as Open vSwitch's bridge_configure_rstp reads its
/// other_config: rstp-priority, rstp-address (null: the bridge's address), rstp-ageing-time, rstp-force-protocol-version,
/// rstp-max-age, rstp-forward-delay (seconds), rstp-transmit-hold-count.</summary>
internal sealed record RstpConfig(int Priority, ulong? Address, int AgeingTime, int ForceProtocolVersion, int MaxAge, int ForwardDelay, int TransmitHoldCount)
{
    public static readonly RstpConfig Default = new(Stp.RstpBridge.DefaultPriority, null, Stp.RstpBridge.DefaultAgeingTime, 2,
        Stp.RstpBridge.DefaultMaxAge, Stp.RstpBridge.DefaultForwardDelay, Stp.RstpBridge.DefaultTransmitHoldCount);
}

/// <summary>The defaults of the spanning tree settings (Open vSwitch's lib/stp.h).</summary>
internal static class StpBridgeDefaults
{
    public const byte PortPriority = Stp.StpBridge.DefaultPortPriority;
}

/// <summary>A bridge's sFlow row: its targets (space-separated, sorted), sampling, polling, header and agent (null: unset).</summary>
internal sealed record SflowConfig(Guid Uuid, string Targets, long? Sampling, long? Polling, long? Header, string? Agent)
{
    /// <summary>Open vSwitch's defaults (ofproto-dpif-sflow: SFL_DEFAULT_SAMPLING_RATE, SFL_DEFAULT_POLLING_INTERVAL,
    /// SFL_DEFAULT_HEADER_SIZE).</summary>
    public const int DefaultSampling = 400, DefaultPolling = 30, DefaultHeader = 128;
}

/// <summary>
/// A bridge's IPFIX row as Open vSwitch's bridge_configure_ipfix reads it: its targets (sorted), the sampling rate
/// (default 400), the observation domain and point ids (default 0), the cache's active timeout and most flows (default
/// 0: no caching), and other_config's enable-input-sampling and enable-output-sampling (default true) and
/// virtual_obs_id (null: none).
/// </summary>
internal sealed record IpfixConfig(Guid Uuid, IReadOnlyList<string> Targets, long Sampling, long ObsDomainId, long ObsPointId, long CacheActiveTimeout,
    long CacheMaxFlows, bool InputSampling, bool OutputSampling, string? VirtualObsId)
{
    /// <summary>Open vSwitch's default rate (bridge.c: SFL_DEFAULT_SAMPLING_RATE, as for sFlow).</summary>
    public const int DefaultSampling = 400;

    /// <summary>Equal when every setting is (the targets compared item by item).</summary>
    public bool Equals(IpfixConfig? other) => other is not null && Uuid == other.Uuid && Targets.SequenceEqual(other.Targets) && Sampling == other.Sampling
        && ObsDomainId == other.ObsDomainId && ObsPointId == other.ObsPointId && CacheActiveTimeout == other.CacheActiveTimeout
        && CacheMaxFlows == other.CacheMaxFlows && InputSampling == other.InputSampling && OutputSampling == other.OutputSampling
        && VirtualObsId == other.VirtualObsId;

    public override int GetHashCode() => HashCode.Combine(Uuid, Sampling, ObsDomainId, ObsPointId, CacheActiveTimeout, CacheMaxFlows, VirtualObsId);
}

/// <summary>One Flow_Sample_Collector_Set row of a bridge that gets a flow exporter: its id (the sample action's
/// collector_set_id) and its IPFIX row (with targets).</summary>
internal sealed record FlowSampleSetConfig(long Id, IpfixConfig Ipfix);

/// <summary>
/// One Mirror row of a bridge, as Open vSwitch's bridge reads it (mirror_configure): the Port rows it selects by name
/// (every port of the bridge with select_all), its VLANs (empty: all), and its output, a Port (SPAN) or a VLAN
/// (RSPAN); snaplen 0 keeps whole frames. Lists are sorted, so two reads of an unchanged row compare alike.
/// </summary>
internal sealed record MirrorConfig(Guid Uuid, string Name, bool SelectAll, IReadOnlyList<string> SrcPorts, IReadOnlyList<string> DstPorts,
    IReadOnlyList<ushort> Vlans, string? OutputPort, int? OutputVlan, int Snaplen);

/// <summary>One Controller row: its target (<c>tcp:IP:PORT</c>, <c>ptcp:PORT</c>, ...) and the connection settings
/// read from it (milliseconds, as the schema has them; null when unset).</summary>
internal sealed record ControllerConfig(Guid Uuid, string Target, long? InactivityProbeMs = null, long? MaxBackoffMs = null, string? ConnectionMode = null);

/// <summary>The SSL row (Open_vSwitch ssl): the files of this switch's TLS channel; with <paramref name="BootstrapCaCert"/>
/// the CA file may not exist yet and is learned from the first ssl: controller.</summary>
internal sealed record SslConfig(string PrivateKey, string Certificate, string CaCert, bool BootstrapCaCert);

/// <summary>
/// One Bridge row and what it references, as read from the replica: the switch it asks for (lists in a stable order,
/// so two reads of an unchanged row compare equal item by item).
/// </summary>
internal sealed record BridgeConfig(Guid Uuid, string Name, string? DatapathIdText, string? HwAddr, string? FailMode, IReadOnlyList<string> Protocols,
    IReadOnlyList<ControllerConfig> Controllers, IReadOnlyList<InterfaceConfig> Interfaces, IReadOnlyList<string> Refused, string? DpDesc = null)
{
    /// <summary>The Bridge <c>status</c> column as the daemon writes it: one key per bridge setting refused (the column's
    /// name), its value the reason. Empty when nothing of the row is refused.</summary>
    public IReadOnlyDictionary<string, string> Status { get; init; } = new Dictionary<string, string>();

    /// <summary>The SSL row, shared by every bridge (null: none).</summary>
    public SslConfig? Ssl { get; init; }

    /// <summary>Open_vSwitch other_config:hw-offload=true: the XDP flow offload on the bridge's AF_XDP ports (see <see cref="VswitchConfig.HwOffload"/>).</summary>
    public bool HwOffload { get; init; }
    /// <summary>Each Port row's <c>status</c> column: a key per setting refused, its value the reason (every port of the
    /// bridge, empty when nothing is refused).</summary>
    public IReadOnlyDictionary<Guid, IReadOnlyDictionary<string, string>> PortStatus { get; init; } = new Dictionary<Guid, IReadOnlyDictionary<string, string>>();

    /// <summary>The bridge's sFlow row (its targets space-separated, sorted), or null: no sFlow.</summary>
    public SflowConfig? Sflow { get; init; }

    /// <summary>The bridge's IPFIX row when it can be served, or null: no IPFIX (no row, or refused: <see cref="Status"/> says why).</summary>
    public IpfixConfig? Ipfix { get; init; }

    /// <summary>The Flow_Sample_Collector_Set rows of the bridge that get a flow exporter (by id, unique, ascending).</summary>
    public IReadOnlyList<FlowSampleSetConfig> FlowSampleSets { get; init; } = [];

    /// <summary>The Mirror rows of the bridge (its mirrors column) that can be served; those that cannot are in <see cref="Refused"/>.</summary>
    public IReadOnlyList<MirrorConfig> Mirrors { get; init; } = [];
    /// <summary>The spanning tree this bridge runs (stp_enable=true), or null: none.</summary>
    public StpConfig? Stp { get; init; }

    /// <summary>The bridge's multicast snooping (mcast_snooping_enable=true), or null: none.</summary>
    public McastSnoopingConfig? McastSnooping { get; init; }
    /// <summary>The rapid spanning tree this bridge runs (rstp_enable=true, which wins over stp_enable as in Open vSwitch), or null: none.</summary>
    public RstpConfig? Rstp { get; init; }

    /// <summary>The bridge's bonds (Port rows with two or more Interfaces), in port name order.</summary>
    public IReadOnlyList<BondConfig> Bonds { get; init; } = [];

    /// <summary>The settings of each table its flow_tables column names (Flow_Table rows), by table id.</summary>
    public IReadOnlyDictionary<byte, Ofproto.OfTableSettings> FlowTables { get; init; } = new Dictionary<byte, Ofproto.OfTableSettings>();

    /// <summary>
    /// Open_vSwitch other_config:flow-restore-wait=true (see <see cref="VswitchConfig.FlowRestoreWait"/>): the bridge
    /// connects to none of its <see cref="Controllers"/> (their rows stay, not connected) until the key is removed or
    /// false; its flows, groups and meters are neither flushed nor replaced meanwhile, so a restore fills them.
    /// </summary>
    public bool FlowRestoreWait { get; init; }

    /// <summary>What the agent needs remade when it changes: controllers with their settings, versions, dp-desc, and
    /// flow-restore-wait where there are controllers for it to hold back. A bridge without controllers keeps its agent
    /// (and its management socket open) when ovs-ctl's restart sets and removes the key around its restore.</summary>
    public string AgentKey => string.Join(',', Protocols) + "|" + string.Join(',', Controllers.Select(c => $"{c.Target}/{c.InactivityProbeMs}/{c.MaxBackoffMs}"))
        + "|" + DpDesc + "|" + (FlowRestoreWait && Controllers.Count > 0 ? "restore-wait" : "");
}

/// <summary>The receive queues' placement settings: Open_vSwitch other_config's (see <see cref="VswitchConfig.RxqScheduling"/>),
/// or `softswitch run`'s options of the same names.</summary>
internal sealed record RxqSchedulingConfig(RxqAssignment Assignment, bool AutoLoadBalance, int LoadThreshold, int ImprovementThreshold, long RebalanceIntervalMinutes)
{
    /// <summary>Sets them on <paramref name="balancer"/>: the thresholds and interval first, then the automatic
    /// rebalance, then the assignment (another one places the queues again at once, as Open vSwitch reconfigures).</summary>
    public void ApplyTo(RxqBalancer balancer)
    {
        balancer.LoadThreshold = LoadThreshold;
        balancer.ImprovementThreshold = ImprovementThreshold;
        balancer.RebalanceIntervalMs = RebalanceIntervalMinutes * 60_000;
        balancer.AutoLoadBalance = AutoLoadBalance;
        balancer.Assignment = Assignment;
    }
}

/// <summary>The Open_vSwitch row and its bridges: the whole configuration, read at one moment.</summary>

internal sealed record VswitchConfig(Guid Root, long NextCfg, long CurCfg, IReadOnlyList<BridgeConfig> Bridges, IReadOnlyDictionary<string, string> OtherConfig)
{
    /// <summary>Bridge rows not served, with why (a second row of a bridge's name, as Open vSwitch ignores it): their status <c>error</c>.</summary>
    public IReadOnlyDictionary<Guid, string> Ignored { get; init; } = new Dictionary<Guid, string>();

    /// <summary>The Manager rows' targets (Open_vSwitch manager_options): ovsdb-server's remotes, not served here.</summary>
    public IReadOnlyList<string> ManagerTargets { get; init; } = [];

    /// <summary>The columns <see cref="Read"/> reads, by table: each is served or refused (said), never ignored. The
    /// manual (docs/manual.md, vswitchd) lists the same.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> ReadColumns = new Dictionary<string, string[]>
    {
        ["Open_vSwitch"] = ["bridges", "next_cfg", "cur_cfg", "other_config", "ssl", "manager_options"],
        ["SSL"] = ["private_key", "certificate", "ca_cert", "bootstrap_ca_cert"],
        ["Manager"] = ["target"],
        ["Bridge"] = ["name", "ports", "controller", "fail_mode", "protocols", "other_config", "datapath_type", "flow_tables",
                      "stp_enable", "rstp_enable", "mcast_snooping_enable", "sflow", "netflow", "ipfix", "mirrors"],
        ["Port"] = ["name", "interfaces", "tag", "trunks", "vlan_mode", "qos", "bond_mode", "lacp", "bond_updelay", "bond_downdelay", "bond_active_slave",
                    "other_config"],
        ["Interface"] = ["name", "type", "options", "ofport_request", "mtu_request", "mac", "ingress_policing_rate", "ingress_policing_burst", "other_config"],
        ["QoS"] = ["type", "other_config", "queues"],
        ["Queue"] = ["other_config"],
        ["Controller"] = ["target", "inactivity_probe", "max_backoff", "connection_mode", "controller_rate_limit"],
        ["sFlow"] = ["targets", "sampling", "polling", "header", "agent"],
        ["IPFIX"] = ["targets", "sampling", "obs_domain_id", "obs_point_id", "cache_active_timeout", "cache_max_flows", "other_config"],
        ["Flow_Sample_Collector_Set"] = ["id", "bridge", "ipfix"],
        ["Mirror"] = ["name", "select_all", "select_src_port", "select_dst_port", "select_vlan", "output_port", "output_vlan", "snaplen"],
        ["Flow_Table"] = ["name", "flow_limit", "overflow_policy", "groups", "prefixes"],
    };

    /// <summary>The tables and columns the daemon follows: what it reads, and the status columns it writes (see
    /// <see cref="StatusWriter.WrittenColumns"/>; followed to write only changes).</summary>
    public static readonly IReadOnlyDictionary<string, string[]> Monitored = ReadColumns.Keys.Union(StatusWriter.WrittenColumns.Keys)
        .ToDictionary(t => t, t => ReadColumns.GetValueOrDefault(t, []).Union(StatusWriter.WrittenColumns.GetValueOrDefault(t, [])).ToArray());

    /// <summary>Reads the configuration from the replica (under its lock); null while there is no Open_vSwitch row.
    /// <paramref name="queueCount"/>: the queues a port has (QoS queue ids beyond are refused).</summary>
    public static VswitchConfig? Read(OvsdbReplica db, int? queueCount = null)
    {
        var root = db.Rows("Open_vSwitch").FirstOrDefault();
        if (root is null) return null;
        SslConfig? ssl = null;
        if (root.Uuids("ssl") is [var sslUuid, ..] && db.Row("SSL", sslUuid) is { } sslRow)
        {
            ssl = new SslConfig(sslRow.String("private_key") ?? "", sslRow.String("certificate") ?? "", sslRow.String("ca_cert") ?? "",
                OvsdbDatum.Boolean(sslRow["bootstrap_ca_cert"]) == true);
        }
        var bridges = new List<BridgeConfig>();
        bool hwOffload = HwOffloadOf(root.Map("other_config"), out _);
        bool restoreWait = FlowRestoreWait(root.Map("other_config"));
        var ignored = new Dictionary<Guid, string>();
        // OVSDB lets rows be referenced more than once (one Interface by two Ports, one Port by two Bridges) and two rows
        // share a name; as Open vSwitch's bridge, the first reference by name serves the row, the others are said.
        var bridgeNames = new HashSet<string>(StringComparer.Ordinal);
        var claimedRows = new Dictionary<Guid, string>();
        var claimedNames = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var brUuid in root.Uuids("bridges").Order())
        {
            if (db.Row("Bridge", brUuid) is not { } br || br.String("name") is not { } name) continue;
            if (!bridgeNames.Add(name))
            {
                ignored[brUuid] = $"bridge {name} specified twice (another Bridge row has this name): this row is not served";
                continue;
            }
            var refused = new List<string>();
            var status = new SortedDictionary<string, string>(StringComparer.Ordinal);
            var other = br.Map("other_config");
            // What this daemon does not do yet is said, never ignored: each is a log line while it is set, and a bridge
            // setting also a key of the row's status column (the rest of the bridge is served).
            void RefuseBridge(string column, string setting, string why)
            {
                refused.Add($"{setting} ({why})");
                status[column] = "refused: " + why;
            }
            StpConfig? stp = null;
            RstpConfig? rstp = null;
            if (OvsdbDatum.Boolean(br["rstp_enable"]) == true)
            {
                // As Open vSwitch's bridge_configure_spanning_tree: both asked, RSTP runs.
                if (OvsdbDatum.Boolean(br["stp_enable"]) == true)
                    RefuseBridge("stp_enable", "stp_enable=true", "RSTP and STP are mutually exclusive: RSTP (rstp_enable=true) runs");
                rstp = ReadRstp(other, RefuseBridge);
            }
            else if (OvsdbDatum.Boolean(br["stp_enable"]) == true)
            {
                stp = ReadStp(other, RefuseBridge, refused.Add);
            }
            if (br.Uuids("netflow").Count > 0) RefuseBridge("netflow", "netflow", "not served by softswitch vswitchd yet");
            var flowTables = FlowTableRows.Read(db, br, refused);
            if (br.String("datapath_type") is { Length: > 0 } dpType && dpType is not ("netdev" or "system"))
                RefuseBridge("datapath_type", $"datapath_type={dpType}", "softswitch vswitchd serves netdev and system (both a user-space datapath)");
            MacAddress? localMac = null;
            if (other.GetValueOrDefault("hwaddr") is { } hw)
            {
                if (MacAddress.TryParse(hw, out var m) && IsUnicast(m)) localMac = m;
                else RefuseBridge("hwaddr", $"other_config:hwaddr={hw}", "not a unicast, non-zero MAC address");
            }
            var interfaces = new List<InterfaceConfig>();
            var portStatus = new Dictionary<Guid, IReadOnlyDictionary<string, string>>();
            var portNames = new HashSet<string>(StringComparer.Ordinal);
            var bonds = new List<BondConfig>();
            var mcastFlood = new List<string>();
            var mcastFloodReports = new List<string>();
            foreach (var portUuid in br.Uuids("ports").Order())
            {
                if (db.Row("Port", portUuid) is not { } port) continue;
                string portName = port.String("name") ?? portUuid.ToString();
                if (!portNames.Add(portName))
                {
                    refused.Add($"port {portName}: specified twice as a port of the bridge (the second Port row is ignored)");
                    continue;
                }
                var vlan = Vlan(port, portName, refused);
                var qos = PortQos.Read(db, port, portName, queueCount ?? Bridge.QueuesPerPort, refused);
                var ifaces = port.Uuids("interfaces");
                var pStatus = new SortedDictionary<string, string>(StringComparer.Ordinal);
                var portStp = ReadPortStp(port.Map("other_config"), portName, refused, pStatus);
                ReadPortMcast(port.Map("other_config"), portName, refused, pStatus, mcastFlood, mcastFloodReports);
                var portRstp = ReadPortRstp(port.Map("other_config"), portName, refused, pStatus);
                portStatus[portUuid] = pStatus;
                var bond = ReadBond(db, port, portUuid, portName, ifaces, refused, pStatus);
                if (bond is not null) bonds.Add(bond);
                foreach (var ifUuid in ifaces)
                {
                    if (db.Row("Interface", ifUuid) is not { } iface || iface.String("name") is not { } ifName) continue;
                    string where = $"port {portName} of bridge {name}";
                    if (claimedRows.TryGetValue(ifUuid, out var owner))
                    {
                        refused.Add($"interface {ifName}: also referenced by {where} (served as {owner}'s; this reference is ignored)");
                        continue;
                    }
                    claimedRows[ifUuid] = where;
                    long? req = iface.Integer("ofport_request");
                    string type = iface.String("type") ?? "";
                    var config = new InterfaceConfig(ifUuid, ifName, type, req is >= 1 and <= 0xFF00 ? (int)req : null, iface.Map("options"), vlan)
                    {
                        Qos = qos,
                        PortName = portName,
                        PortUuid = portUuid,
                        // No spanning tree over a bond (its members are one port to NORMAL).
                        Stp = ifaces.Count > 1 ? portStp with { Enabled = false } : portStp,
                        Rstp = ifaces.Count > 1 ? portRstp with { Enabled = false } : portRstp,
                    };
                    config = Device(config, iface, local: ifName == name, localMac, refused);
                    if (!claimedNames.TryAdd(ifName, where)) config = config with { Unserved = $"another Interface row named {ifName} is served (in {claimedNames[ifName]}): this one is not" };
                    interfaces.Add(config);
                }
            }
            var controllers = new List<ControllerConfig>();
            foreach (var cUuid in br.Uuids("controller"))
            {
                if (db.Row("Controller", cUuid) is not { } c || c.String("target") is not { } target) continue;
                string? mode = c.String("connection_mode");
                // There is no in-band control here (no hidden flows): every connection is made out-of-band.
                if (mode == "in-band") refused.Add($"controller {target}: connection_mode=in-band (in-band control is not supported; connected out-of-band)");
                if (c.Integer("controller_rate_limit") is { } rate)
                    refused.Add($"controller {target}: controller_rate_limit={rate.ToString(CultureInfo.InvariantCulture)} (the datapath's packet-in rate limit applies)");
                controllers.Add(new ControllerConfig(cUuid, target, c.Integer("inactivity_probe"), c.Integer("max_backoff"), mode));
            }
            var mirrors = Mirrors(db, br, name, portNames, refused);
            McastSnoopingConfig? mcast = OvsdbDatum.Boolean(br["mcast_snooping_enable"]) == true
                ? ReadMcast(other, RefuseBridge) with { FloodPorts = [.. mcastFlood.Order(StringComparer.Ordinal)], FloodReportPorts = [.. mcastFloodReports.Order(StringComparer.Ordinal)] }
                : null;
            var ipfix = br.Uuids("ipfix") is [var ipfixUuid, ..] && db.Row("IPFIX", ipfixUuid) is { } ipfixRow
                ? ReadIpfix(ipfixRow, interfaces, RefuseBridge, refused.Add) : null;
            var sampleSets = ReadFlowSampleSets(db, brUuid, interfaces, RefuseBridge, refused.Add);
            bridges.Add(new BridgeConfig(brUuid, name, other.GetValueOrDefault("datapath-id"), other.GetValueOrDefault("hwaddr"), br.String("fail_mode"),
                [.. br.Strings("protocols").Order(StringComparer.Ordinal)], [.. controllers.OrderBy(c => c.Target, StringComparer.Ordinal)],
                [.. interfaces.OrderBy(i => i.Name, StringComparer.Ordinal)], refused, other.GetValueOrDefault("dp-desc")) { Status = status, Ssl = ssl, HwOffload = hwOffload, PortStatus = portStatus, Mirrors = mirrors,
                FlowRestoreWait = restoreWait,
                Stp = stp,
                McastSnooping = mcast,
                Rstp = rstp,
                Ipfix = ipfix,
                FlowSampleSets = sampleSets,
                Bonds = [.. bonds.OrderBy(b => b.Name, StringComparer.Ordinal)],
                FlowTables = flowTables,
                Sflow = br.Uuids("sflow") is [var sfUuid, ..] && db.Row("sFlow", sfUuid) is { } sf
                    ? new SflowConfig(sfUuid, string.Join(' ', sf.Strings("targets").Order(StringComparer.Ordinal)), sf.Integer("sampling"), sf.Integer("polling"),
                        sf.Integer("header"), sf.String("agent"))
                    : null });
        }
        var managers = root.Uuids("manager_options").Select(u => db.Row("Manager", u)?.String("target")).OfType<string>().Order(StringComparer.Ordinal).ToList();
        return new VswitchConfig(root.Uuid, root.Integer("next_cfg") ?? 0, root.Integer("cur_cfg") ?? 0, bridges, root.Map("other_config"))
        {
            ManagerTargets = managers,
            Ignored = ignored,
        };
    }

    /// <summary>
    /// Open_vSwitch other_config:flow-restore-wait, as Open vSwitch's bridge reads it (smap_get_bool: the value
    /// <c>true</c> is true, anything else or no key false). ovs-ctl's restart sets it before it starts the daemon and
    /// removes it once the flows it saved are restored; while it is true no bridge connects to its controllers
    /// (vswitch.xml: so that no controller changes the tables in the middle of the restore).
    /// </summary>
    public static bool FlowRestoreWait(IReadOnlyDictionary<string, string> otherConfig)
        => otherConfig.GetValueOrDefault("flow-restore-wait") == "true";

    /// <summary>Interface types that are tunnels (whose headers Open vSwitch's tunnel sampling reports).</summary>
    private static readonly HashSet<string> s_tunnelTypes = new(StringComparer.Ordinal) { "vxlan", "gre", "geneve", "ip6gre", "erspan", "ip6erspan", "gtpu", "bareudp", "srv6", "stt", "lisp" };

    /// <summary>
    /// The bridge's Flow_Sample_Collector_Set rows, as Open vSwitch's bridge_configure_ipfix takes them: a row whose
    /// bridge is this one and whose IPFIX row has targets gets a flow exporter of its id (others export nothing; the
    /// sample actions naming them count their samples dropped). Its IPFIX row is read as the bridge's is (its sampling
    /// and observation ids unused: the action gives them). Two rows of one id: the first (by row UUID) is served, the
    /// other said.
    /// </summary>
    private static List<FlowSampleSetConfig> ReadFlowSampleSets(OvsdbReplica db, Guid brUuid, List<InterfaceConfig> interfaces,
                                                                Action<string, string, string> refuseBridge, Action<string> say)
    {
        var sets = new List<FlowSampleSetConfig>();
        foreach (var set in db.Rows("Flow_Sample_Collector_Set").OrderBy(r => r.Uuid))
        {
            if (!set.Uuids("bridge").Contains(brUuid) || set.Integer("id") is not { } id) continue;
            if (set.Uuids("ipfix") is not [var ipfixUuid, ..] || db.Row("IPFIX", ipfixUuid) is not { } row) continue;
            string name = $"Flow_Sample_Collector_Set id={id.ToString(CultureInfo.InvariantCulture)}";
            var ipfix = ReadIpfix(row, interfaces, (column, setting, why) => refuseBridge(column == "ipfix" ? "flow_sample_collector_set" : column, $"{name}: {setting}", why),
                                  what => say($"{name}: {what}"));
            if (ipfix is null || ipfix.Targets.Count == 0) continue;
            if (sets.Any(s => s.Id == id))
            {
                say($"{name} (another row has this id; the first is served)");
                continue;
            }
            sets.Add(new FlowSampleSetConfig(id, ipfix));
        }
        sets.Sort((a, b) => a.Id.CompareTo(b.Id));
        return sets;
    }

    /// <summary>
    /// A bridge's IPFIX row, as Open vSwitch's bridge_configure_ipfix reads it (defaults applied). A virtual_obs_id
    /// longer than 254 bytes refuses the row (Open vSwitch then exports nothing); tunnel sampling (on unless
    /// enable-tunnel-sampling=false) is refused while the bridge has a tunnel interface, since no record here reports a
    /// tunnel header (the rest is served); a boolean that is neither true nor false is said and its default used.
    /// </summary>
    private static IpfixConfig? ReadIpfix(OvsdbRow row, List<InterfaceConfig> interfaces, Action<string, string, string> refuseBridge, Action<string> say)
    {
        var other = row.Map("other_config");
        bool Flag(string key)
        {
            if (other.GetValueOrDefault(key) is not { } v) return true;
            if (v.Equals("true", StringComparison.OrdinalIgnoreCase)) return true;
            if (v.Equals("false", StringComparison.OrdinalIgnoreCase)) return false;
            say($"IPFIX other_config:{key}={v} is neither true nor false (true, the default, is used)");
            return true;
        }
        bool input = Flag("enable-input-sampling"), output = Flag("enable-output-sampling"), tunnel = Flag("enable-tunnel-sampling");
        if (tunnel && interfaces.FirstOrDefault(i => s_tunnelTypes.Contains(i.Type)) is { } t)
        {
            refuseBridge("ipfix_tunnel_sampling", "IPFIX other_config:enable-tunnel-sampling",
                $"tunnel headers are not reported in IPFIX records (interface {t.Name} is a {t.Type} tunnel; the rest of the IPFIX row is served)");
        }
        string? vobs = other.GetValueOrDefault("virtual_obs_id");
        if (vobs is not null && Encoding.UTF8.GetByteCount(vobs) > Ipfix.IpfixSettings.MaxVirtualObsIdSize)
        {
            refuseBridge("ipfix", "ipfix", $"other_config:virtual_obs_id is {Encoding.UTF8.GetByteCount(vobs)} bytes, more than {Ipfix.IpfixSettings.MaxVirtualObsIdSize} (Open vSwitch exports nothing then)");
            return null;
        }
        return new IpfixConfig(row.Uuid, [.. row.Strings("targets").Order(StringComparer.Ordinal)], row.Integer("sampling") ?? IpfixConfig.DefaultSampling,
            row.Integer("obs_domain_id") ?? 0, row.Integer("obs_point_id") ?? 0, row.Integer("cache_active_timeout") ?? 0, row.Integer("cache_max_flows") ?? 0,
            input, output, vobs);
    }

    /// <summary>
    /// The bridge's Mirror rows, as Open vSwitch's mirror_configure takes them: a row without an output is not served,
    /// nor one whose output port is not a port of the bridge; with both an output port and an output VLAN the VLAN is
    /// ignored; a selected port that is not the bridge's is left out. Each is said (a log line); at most
    /// <see cref="MirrorSet.MaxMirrors"/> are served.
    /// </summary>
    private static List<MirrorConfig> Mirrors(OvsdbReplica db, OvsdbRow br, string bridge, HashSet<string> portNames, List<string> refused)
    {
        var mirrors = new List<MirrorConfig>();
        foreach (var uuid in br.Uuids("mirrors").Order())
        {
            if (db.Row("Mirror", uuid) is not { } m) continue;
            string name = m.String("name") ?? uuid.ToString();
            List<string> Ports(string column)
            {
                var names = new List<string>();
                foreach (var p in m.Uuids(column))
                {
                    string? portName = db.Row("Port", p)?.String("name");
                    if (portName is not null && portNames.Contains(portName)) names.Add(portName);
                    else refused.Add($"mirror {name}: {column} {portName ?? p.ToString()} is not a port of bridge {bridge} (left out)");
                }
                return [.. names.Distinct().Order(StringComparer.Ordinal)];
            }
            string? output = null;
            if (m.Uuids("output_port") is [var outUuid, ..])
            {
                output = db.Row("Port", outUuid)?.String("name");
                if (output is null || !portNames.Contains(output))
                {
                    refused.Add($"mirror {name}: outputs to port {output ?? outUuid.ToString()}, not a port of bridge {bridge} (the mirror is not served)");
                    continue;
                }
            }
            int? outVlan = m.Integer("output_vlan") is { } ov && ov is >= 1 and <= PortVlan.MaxVlan ? (int)ov : null;
            if (output is not null && outVlan is not null)
            {
                refused.Add($"mirror {name}: output_vlan (ignored: the mirror outputs to port {output})");
                outVlan = null;
            }
            if (output is null && outVlan is null)
            {
                refused.Add($"mirror {name}: no output_port nor output_vlan (the mirror is not served)");
                continue;
            }
            if (mirrors.Count == MirrorSet.MaxMirrors)
            {
                refused.Add($"mirror {name}: more than {MirrorSet.MaxMirrors} mirrors on bridge {bridge} (not served)");
                continue;
            }
            var vlans = new List<ushort>();
            foreach (var atom in OvsdbDatum.Atoms(m["select_vlan"]))
                if (OvsdbDatum.Integer(atom) is { } v && v is >= 0 and <= PortVlan.MaxVlan) vlans.Add((ushort)v);
            int snaplen = m.Integer("snaplen") is { } sl && sl is >= 14 and <= 65535 ? (int)sl : 0;
            bool all = OvsdbDatum.Boolean(m["select_all"]) == true;
            mirrors.Add(new MirrorConfig(uuid, name, all, all ? [] : Ports("select_src_port"), all ? [] : Ports("select_dst_port"),
                [.. vlans.Distinct().Order()], output, outVlan, snaplen));
        }
        return mirrors;
    }

    /// <summary>
    /// A Port row's bond (two or more Interfaces), as Open vSwitch's port_configure_bond and port_configure_lacp read
    /// it; null for a Port of one interface, where bond_mode and lacp are said and take no effect (LACP runs on bonds
    /// only here). A value that does not parse is said (a Port status key, a log line) and the default used, as Open
    /// vSwitch warns and uses its default; what this daemon does not do (bond-detect-mode=miimon, lacp-fallback-ab,
    /// bond-primary, all-members-active, lb-output-action) is said.
    /// </summary>
    private static BondConfig? ReadBond(OvsdbReplica db, OvsdbRow port, Guid portUuid, string portName, IReadOnlyList<Guid> ifaces, List<string> refused,
        IDictionary<string, string> status)
    {
        void Refuse(string key, string setting, string why)
        {
            refused.Add($"port {portName}: {setting} ({why})");
            status[key] = "refused: " + why;
        }
        string? modeText = port.String("bond_mode");
        string? lacpText = port.String("lacp");
        if (ifaces.Count < 2)
        {
            if (modeText is not null) Refuse("bond_mode", $"bond_mode={modeText}", "a Port of one interface is not a bond");
            if (lacpText is not null and not "off") Refuse("lacp", $"lacp={lacpText}", "LACP runs on bonds (two or more interfaces) only");
            return null;
        }
        var mode = BondMode.ActiveBackup;
        switch (modeText)
        {
            case null or "active-backup": break;
            case "balance-slb": mode = BondMode.BalanceSlb; break;
            case "balance-tcp": mode = BondMode.BalanceTcp; break;
            default: Refuse("bond_mode", $"bond_mode={modeText}", "not active-backup, balance-slb or balance-tcp (active-backup is used)"); break;
        }
        bool? lacp = null;
        switch (lacpText)
        {
            case null or "off": break;
            case "active": lacp = true; break;
            case "passive": lacp = false; break;
            default: Refuse("lacp", $"lacp={lacpText}", "not active, passive or off (off is used)"); break;
        }
        var other = port.Map("other_config");
        ulong? sysId = null;
        if (other.GetValueOrDefault("lacp-system-id") is { } id)
        {
            if (MacAddress.TryParse(id, out var mac) && mac.Value != 0) sysId = mac.Value;
            else Refuse("lacp-system-id", $"other_config:lacp-system-id={id}", "not a non-zero Ethernet address (the bridge's address is used)");
        }
        int Number(IReadOnlyDictionary<string, string> map, string key, int min, int max, Action<string>? bad)
        {
            if (map.GetValueOrDefault(key) is not { } text) return 0;
            if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int v) && v >= min && v <= max) return v;
            bad?.Invoke(text);
            return 0;
        }
        int sysPriority = Number(other, "lacp-system-priority", 1, 65535,
            t => Refuse("lacp-system-priority", $"other_config:lacp-system-priority={t}", "not an integer from 1 to 65535 (the default is used)"));
        string lacpTime = other.GetValueOrDefault("lacp-time") ?? "slow";
        if (!lacpTime.Equals("fast", StringComparison.OrdinalIgnoreCase) && !lacpTime.Equals("slow", StringComparison.OrdinalIgnoreCase))
            Refuse("lacp-time", $"other_config:lacp-time={lacpTime}", "not fast or slow (slow is used)");
        if (other.GetValueOrDefault("bond-detect-mode") is { } detect and not "carrier")
            Refuse("bond-detect-mode", $"other_config:bond-detect-mode={detect}", "members' liveness is their carrier (bond-detect-mode=carrier)");
        foreach (var key in new[] { "lacp-fallback-ab", "all-members-active", "lb-output-action" })
            if (other.GetValueOrDefault(key) is { } v && v != "false") Refuse(key, $"other_config:{key}={v}", "not supported");
        if (other.GetValueOrDefault("bond-primary") is { } primary) Refuse("bond-primary", $"other_config:bond-primary={primary}", "not supported");
        // As Open vSwitch's port_configure_bond: 10 s unless set, 0 never, less than 1 s taken as 1 s.
        int rebalance = BondConfig.DefaultRebalanceIntervalMs;
        if (other.GetValueOrDefault("bond-rebalance-interval") is { } rebalanceText)
        {
            if (int.TryParse(rebalanceText, NumberStyles.None, CultureInfo.InvariantCulture, out int r)) rebalance = r == 0 ? 0 : Math.Max(BondConfig.MinRebalanceIntervalMs, r);
            else Refuse("bond-rebalance-interval", $"other_config:bond-rebalance-interval={rebalanceText}", "not a non-negative integer of milliseconds (10000 is used)");
        }
        uint basis = (uint)Number(other, "bond-hash-basis", int.MinValue, int.MaxValue,
            t => Refuse("bond-hash-basis", $"other_config:bond-hash-basis={t}", "not an integer (0 is used)"));
        int updelay = (int)Math.Clamp(port.Integer("bond_updelay") ?? 0, 0, int.MaxValue);
        int downdelay = (int)Math.Clamp(port.Integer("bond_downdelay") ?? 0, 0, int.MaxValue);
        ulong active = port.String("bond_active_slave") is { } a && MacAddress.TryParse(a, out var am) ? am.Value : 0;
        var members = new List<BondMemberConfig>();
        foreach (var ifUuid in ifaces)
        {
            if (db.Row("Interface", ifUuid) is not { } iface || iface.String("name") is not { } ifName) continue;
            var io = iface.Map("other_config");
            members.Add(new BondMemberConfig(ifUuid, ifName, (ushort)Number(io, "lacp-port-id", 1, 65535, null),
                (ushort)Number(io, "lacp-port-priority", 1, 65535, null), (ushort)Number(io, "lacp-aggregation-key", 0, 65535, null)));
        }
        return new BondConfig(portUuid, portName, mode, lacp, lacpTime.Equals("fast", StringComparison.OrdinalIgnoreCase), sysId, (ushort)sysPriority,
            updelay, downdelay, basis, active, [.. members.OrderBy(m => m.Name, StringComparer.Ordinal)], rebalance);
    }

    /// <summary>
    /// A Bridge's spanning tree settings from its other_config, in the units Open vSwitch's bridge.c reads them:
    /// stp-hello-time in milliseconds (default 2000), stp-max-age and stp-forward-delay in seconds (default 20, 15);
    /// stp-priority 0 to 65535. A value that is not a non-negative integer (or a priority out of range) is refused
    /// (its key in the status, a log line) and the default used; a time is clamped by the protocol as lib/stp.c clamps
    /// it (hello 1 to 10 s, max-age 6 to 40 s, forward-delay 4 to 30 s, and the relations between them: see
    /// <see cref="Stp.StpBridge.SetTimes"/>), and a time out of its own range is said in the log (<paramref name="note"/>).
    /// </summary>
    private static StpConfig ReadStp(IReadOnlyDictionary<string, string> other, Action<string, string, string> refuse, Action<string> note)
    {
        long Number(string key, long max, long dflt, string unit)
        {
            if (other.GetValueOrDefault(key) is not { } text) return dflt;
            if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long v) && v <= max) return v;
            refuse(key, $"other_config:{key}={text}", $"not an integer from 0 to {max}{unit} (the default, {dflt}, is used)");
            return dflt;
        }
        int Time(string key, long perUnit, long dflt, string unit, int minMs, int maxMs)
        {
            long ms = Number(key, int.MaxValue / perUnit, dflt, unit) * perUnit;
            if (ms < minMs || ms > maxMs)
            {
                long used = Math.Clamp(ms, minMs, maxMs) / perUnit;
                note($"other_config:{key}={ms / perUnit}{unit} (out of {minMs / perUnit} to {maxMs / perUnit}{unit}: the protocol clamps it to {used}{unit})");
            }
            return (int)ms;
        }
        int priority = (int)Number("stp-priority", 65535, Stp.StpBridge.DefaultBridgePriority, "");
        int hello = Time("stp-hello-time", 1, Stp.StpBridge.DefaultHelloTimeMs, " ms", 1000, 10000);
        int maxAge = Time("stp-max-age", 1000, Stp.StpBridge.DefaultMaxAgeMs / 1000, " s", 6000, 40000);
        int fwd = Time("stp-forward-delay", 1000, Stp.StpBridge.DefaultForwardDelayMs / 1000, " s", 4000, 30000);
        ulong? systemId = null;
        if (other.GetValueOrDefault("stp-system-id") is { } id)
        {
            if (MacAddress.TryParse(id, out var mac)) systemId = mac.Value;
            else refuse("stp-system-id", $"other_config:stp-system-id={id}", "not a MAC address (the bridge's address is used)");
        }
        return new StpConfig((ushort)priority, hello, maxAge, fwd, systemId);
    }

    /// <summary>
    /// A Bridge's multicast snooping settings from its other_config, as Open vSwitch's bridge_configure_mcast_snooping
    /// reads them: mcast-snooping-aging-time and mcast-snooping-table-size (0 or unset: the default; clamped by the
    /// protocol), mcast-snooping-disable-flood-unregistered (true or false). A value that does not parse is refused (its
    /// key in the Bridge status, a log line) and the default used (Open vSwitch takes it as unset without a word).
    /// </summary>
    private static McastSnoopingConfig ReadMcast(IReadOnlyDictionary<string, string> other, Action<string, string, string> refuse)
    {
        int Number(string key, int dflt)
        {
            if (other.GetValueOrDefault(key) is not { } text) return dflt;
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v)) return v == 0 ? dflt : v;
            refuse(key, $"other_config:{key}={text}", $"not a non-negative integer (the default, {dflt}, is used)");
            return dflt;
        }
        int idle = Number("mcast-snooping-aging-time", Snooping.McastSnooping.DefaultIdleTimeS);
        int size = Number("mcast-snooping-table-size", Snooping.McastSnooping.DefaultMaxEntries);
        bool disableFlood = false;
        if (other.GetValueOrDefault("mcast-snooping-disable-flood-unregistered") is { } text)
        {
            if (text is "true" or "false") disableFlood = text == "true";
            else refuse("mcast-snooping-disable-flood-unregistered", $"other_config:mcast-snooping-disable-flood-unregistered={text}", "not true or false (false is used)");
        }
        return new McastSnoopingConfig(idle, size, !disableFlood, [], []);
    }

    /// <summary>A Port's multicast snooping flags from its other_config (mcast-snooping-flood, mcast-snooping-flood-reports):
    /// the port's name added to <paramref name="flood"/> or <paramref name="floodReports"/> when true; a value neither true
    /// nor false is refused (a key of the Port's status, a log line) and read as false.</summary>
    private static void ReadPortMcast(IReadOnlyDictionary<string, string> other, string portName, List<string> refused, IDictionary<string, string> status,
        List<string> flood, List<string> floodReports)
    {
        foreach (var (key, list) in new[] { ("mcast-snooping-flood", flood), ("mcast-snooping-flood-reports", floodReports) })
        {
            if (other.GetValueOrDefault(key) is not { } text) continue;
            if (text == "true")
            {
                list.Add(portName);
            }
            else if (text != "false")
            {
                refused.Add($"port {portName}: other_config:{key}={text} (not true or false: false is used)");
                status[key] = "refused: not true or false";
            }
        }
    }

    /// <summary>A Port's spanning tree settings from its other_config; a value that does not parse or is out of range is
    /// refused (a key of the Port's status, a log line) and the default used.</summary>
    private static PortStpConfig ReadPortStp(IReadOnlyDictionary<string, string> other, string portName, List<string> refused, IDictionary<string, string> status)
    {
        if (other.Count == 0) return PortStpConfig.Default;
        int? Number(string key, int min, int max)
        {
            if (other.GetValueOrDefault(key) is not { } text) return null;
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v >= min && v <= max) return v;
            refused.Add($"port {portName}: other_config:{key}={text} (not an integer from {min} to {max}: the default is used)");
            status[key] = $"refused: not an integer from {min} to {max}";
            return null;
        }
        bool enabled = true;
        if (other.GetValueOrDefault("stp-enable") is { } e)
        {
            if (e is "true" or "false")
            {
                enabled = e == "true";
            }
            else
            {
                refused.Add($"port {portName}: other_config:stp-enable={e} (not true or false: true is used)");
                status["stp-enable"] = "refused: not true or false";
            }
        }
        // As Open vSwitch's port_configure_stp: a number that is not one of 1 to 255 takes the port out of the spanning
        // tree (0 here), it does not number it in port order.
        int? num = null;
        if (other.GetValueOrDefault("stp-port-num") is { } numText)
        {
            if (int.TryParse(numText, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= Stp.StpBridge.MaxPorts)
            {
                num = n;
            }
            else
            {
                num = 0;
                refused.Add($"port {portName}: other_config:stp-port-num={numText} (not an integer from 1 to {Stp.StpBridge.MaxPorts}: the port takes no part in spanning tree)");
                status["stp-port-num"] = $"refused: not an integer from 1 to {Stp.StpBridge.MaxPorts} (the port takes no part in spanning tree)";
            }
        }
        int priority = Number("stp-port-priority", 0, 255) ?? StpBridgeDefaults.PortPriority;
        int? cost = Number("stp-path-cost", 0, 65535);
        return new PortStpConfig(enabled, num, (byte)priority, cost);
    }

    /// <summary>
    /// A Bridge's rapid spanning tree settings from its other_config, as Open vSwitch reads them and lib/rstp.c takes
    /// them: rstp-priority 0 to 61440 (rounded down to a multiple of 4096), rstp-address a MAC address, rstp-ageing-time
    /// 10 to 1000000 s, rstp-force-protocol-version 0 (STP compatibility) or 2, rstp-max-age 6 to 40 s,
    /// rstp-forward-delay 4 to 30 s, with max age at most 2 × (forward delay − 1) (17.13), rstp-transmit-hold-count 1
    /// to 10. rstp-hello-time is fixed at 2 s by the standard (Open vSwitch does not read it): another value is refused.
    /// A value out of range is refused (its key in the Bridge status, a log line) and the default used, where Open
    /// vSwitch keeps the old value silently.
    /// </summary>
    private static RstpConfig ReadRstp(IReadOnlyDictionary<string, string> other, Action<string, string, string> refuse)
    {
        var d = RstpConfig.Default;
        int Number(string key, int min, int max, int dflt, string unit)
        {
            if (other.GetValueOrDefault(key) is not { } text) return dflt;
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v >= min && v <= max) return v;
            refuse(key, $"other_config:{key}={text}", $"not an integer from {min} to {max}{unit} (the default, {dflt}, is used)");
            return dflt;
        }
        int priority = Number("rstp-priority", 0, Stp.RstpBridge.MaxPriority, d.Priority, "");
        int ageing = Number("rstp-ageing-time", Stp.RstpBridge.MinAgeingTime, Stp.RstpBridge.MaxAgeingTime, d.AgeingTime, " s");
        int version = d.ForceProtocolVersion;
        if (other.GetValueOrDefault("rstp-force-protocol-version") is { } fpv)
        {
            if (fpv is "0" or "2") version = fpv[0] - '0';
            else refuse("rstp-force-protocol-version", $"other_config:rstp-force-protocol-version={fpv}", "not 0 (STP compatibility) or 2 (RSTP): 2 is used");
        }
        int maxAge = Number("rstp-max-age", Stp.RstpBridge.MinMaxAge, Stp.RstpBridge.MaxMaxAge, d.MaxAge, " s");
        int fwd = Number("rstp-forward-delay", Stp.RstpBridge.MinForwardDelay, Stp.RstpBridge.MaxForwardDelay, d.ForwardDelay, " s");
        if (2 * (fwd - 1) < maxAge && other.ContainsKey("rstp-max-age") && maxAge != d.MaxAge)
        {
            refuse("rstp-max-age", $"other_config:rstp-max-age={maxAge}", $"more than 2 × (forward delay {fwd} − 1) s (the default, {d.MaxAge}, is used)");
            maxAge = d.MaxAge;
        }
        if (2 * (fwd - 1) < maxAge)
        {
            refuse("rstp-forward-delay", $"other_config:rstp-forward-delay={fwd}", $"less than max age {maxAge} / 2 + 1 s (the default, {d.ForwardDelay}, is used)");
            fwd = d.ForwardDelay;
        }
        int hold = Number("rstp-transmit-hold-count", Stp.RstpBridge.MinTransmitHoldCount, Stp.RstpBridge.MaxTransmitHoldCount, d.TransmitHoldCount, "");
        if (other.GetValueOrDefault("rstp-hello-time") is { } hello && hello != "2")
            refuse("rstp-hello-time", $"other_config:rstp-hello-time={hello}", "RSTP's hello time is fixed at 2 s (802.1D-2004 table 17-1)");
        ulong? address = null;
        if (other.GetValueOrDefault("rstp-address") is { } a)
        {
            if (MacAddress.TryParse(a, out var mac)) address = mac.Value;
            else refuse("rstp-address", $"other_config:rstp-address={a}", "not a MAC address (the bridge's address is used)");
        }
        return new RstpConfig(priority, address, ageing, version, maxAge, fwd, hold);
    }

    /// <summary>A Port's rapid spanning tree settings from its other_config (see <see cref="PortRstpConfig"/>); a value
    /// that does not parse or is out of range is refused (a key of the Port's status, a log line) and the default used.</summary>
    private static PortRstpConfig ReadPortRstp(IReadOnlyDictionary<string, string> other, string portName, List<string> refused, IDictionary<string, string> status)
    {
        var d = PortRstpConfig.Default;
        if (other.Count == 0) return d;
        void Refuse(string key, string text, string why)
        {
            refused.Add($"port {portName}: other_config:{key}={text} ({why})");
            status[key] = "refused: " + why;
        }
        long? Number(string key, long min, long max)
        {
            if (other.GetValueOrDefault(key) is not { } text) return null;
            if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long v) && v >= min && v <= max) return v;
            Refuse(key, text, $"not an integer from {min} to {max}: the default is used");
            return null;
        }
        bool Bool(string key, bool dflt)
        {
            if (other.GetValueOrDefault(key) is not { } text) return dflt;
            if (text is "true" or "false") return text == "true";
            Refuse(key, text, $"not true or false: {(dflt ? "true" : "false")} is used");
            return dflt;
        }
        bool enabled = Bool("rstp-enable", d.Enabled);
        int? num = null;
        if (other.GetValueOrDefault("rstp-port-num") is { } numText)
        {
            if (int.TryParse(numText, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= Stp.RstpBridge.MaxPorts)
            {
                num = n;
            }
            else
            {
                // As port_configure_rstp: an invalid number takes the port out of the protocol.
                enabled = false;
                Refuse("rstp-port-num", numText, $"not an integer from 1 to {Stp.RstpBridge.MaxPorts}: the port takes no part in RSTP");
            }
        }
        int priority = (int)(Number("rstp-port-priority", 0, Stp.RstpBridge.MaxPortPriority) ?? d.Priority);
        var cost = (uint?)Number("rstp-path-cost", Stp.RstpBridge.MinPortPathCost, Stp.RstpBridge.MaxPortPathCost);
        var p2p = (Stp.RstpPointToPoint)(Number("rstp-admin-p2p-mac", 0, 2) ?? (long)d.PointToPoint);
        return new PortRstpConfig(enabled, num, priority, cost, Bool("rstp-port-admin-edge", d.AdminEdge), Bool("rstp-port-auto-edge", d.AutoEdge),
            p2p, Bool("rstp-admin-port-state", d.AdminPortState), Bool("rstp-port-mcheck", d.Mcheck));
    }

    private static bool IsUnicast(MacAddress m) => m.Value != 0 && (m.Value >> 40 & 1) == 0;

    /// <summary>
    /// An Interface row's device settings, as Open vSwitch's bridge takes them: mtu_request (68 to 65535) for an
    /// interface with a kernel device ("", system, internal); mac for an internal interface other than the LOCAL port
    /// (<paramref name="local"/>: its address is the Bridge's other_config:hwaddr, <paramref name="localMac"/>); ingress_policing_rate (kbit/s)
    /// and ingress_policing_burst (kbit). What cannot be served is a key of the row's status and a log line.
    /// </summary>
    private static InterfaceConfig Device(InterfaceConfig config, OvsdbRow iface, bool local, MacAddress? localMac, List<string> refused)
    {
        var status = new SortedDictionary<string, string>(StringComparer.Ordinal);
        void Refuse(string column, string why)
        {
            status[column] = "refused: " + why;
            refused.Add($"interface {config.Name}: {column} ({why})");
        }
        bool device = config.Type is "" or "system" or "internal";
        int? mtu = null;
        if (iface.Integer("mtu_request") is { } m)
        {
            if (!device) Refuse("mtu_request", $"an interface of type {config.Type} has no device MTU");
            else if (m is < 68 or > 65535) Refuse("mtu_request", $"{m.ToString(CultureInfo.InvariantCulture)} is not an MTU from 68 to 65535");
            else mtu = (int)m;
        }
        MacAddress? mac = local ? localMac : null;
        if (iface.String("mac") is { } text)
        {
            if (local || config.Type != "internal")
                Refuse("mac", config.Type == "internal" ? "the LOCAL port's address is the Bridge's other_config:hwaddr" : "mac sets the address of internal interfaces only");
            else if (!MacAddress.TryParse(text, out var parsed) || !IsUnicast(parsed)) Refuse("mac", $"'{text}' is not a unicast, non-zero MAC address");
            else mac = parsed;
        }
        long rate = Math.Max(0, iface.Integer("ingress_policing_rate") ?? 0), burst = Math.Max(0, iface.Integer("ingress_policing_burst") ?? 0);
        return config with { MtuRequest = mtu, Mac = mac, Policing = (rate, burst), Status = status };
    }

    /// <summary>
    /// A Port row's VLAN membership for NORMAL, as Open vSwitch's bridge reads tag, trunks and vlan_mode: without
    /// vlan_mode a tag makes an access port (its trunks ignored, said) and no tag a trunk of the trunks listed (every
    /// VLAN when none); vlan_mode access or trunk likewise. The other modes (native-tagged, native-untagged,
    /// dot1q-tunnel) are refused: the port is then a trunk of every VLAN.
    /// </summary>
    private static PortVlan? Vlan(OvsdbRow port, string portName, List<string> refused)
    {
        long? tag = port.Integer("tag") is { } t && t is >= 0 and <= PortVlan.MaxVlan ? t : null;
        var trunks = new List<ushort>();
        foreach (var atom in OvsdbDatum.Atoms(port["trunks"]))
            if (OvsdbDatum.Integer(atom) is { } v && v is >= 0 and <= PortVlan.MaxVlan) trunks.Add((ushort)v);
        string mode = port.String("vlan_mode") ?? (tag is null ? "trunk" : "access");
        switch (mode)
        {
            case "access" when tag is { } access:
                if (trunks.Count > 0) refused.Add($"port {portName}: trunks (ignored: tag {access.ToString(CultureInfo.InvariantCulture)} makes it an access port)");
                return PortVlan.Access((ushort)access);
            case "access":
                refused.Add($"port {portName}: vlan_mode=access without a tag (the port is a trunk of every VLAN)");
                return null;
            case "trunk":
                if (tag is not null && port.String("vlan_mode") is not null) refused.Add($"port {portName}: tag (ignored: vlan_mode=trunk)");
                return trunks.Count > 0 ? PortVlan.Trunk(trunks) : null;
            default:
                refused.Add($"port {portName}: vlan_mode={mode} (not supported; the port is a trunk of every VLAN)");
                return null;
        }
    }

    /// <summary>
    /// The forwarding threads other_config asks for: n-pmd-threads (a count), else pmd-cpu-mask (one thread per CPU of
    /// the hex mask, placed on it, as Open vSwitch places its PMD threads), else null. A value that does not parse is
    /// <paramref name="error"/>.
    /// </summary>
    public (int Count, int[]? Cpus)? ForwardingThreads(out string? error)
    {
        error = null;
        if (OtherConfig.GetValueOrDefault("n-pmd-threads") is { } n)
        {
            if (int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out int count) && count is >= 1 and <= 64) return (count, null);
            error = $"other_config:n-pmd-threads '{n}' is not a count from 1 to 64";
        }
        if (OtherConfig.GetValueOrDefault("pmd-cpu-mask") is { } mask)
        {
            string hex = mask.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? mask[2..] : mask;
            if (ulong.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong bits) && bits != 0)
            {
                var cpus = new List<int>();
                for (int cpu = 0; cpu < 64; cpu++)
                    if ((bits >> cpu & 1) != 0) cpus.Add(cpu);
                return (cpus.Count, [.. cpus]);
            }
            error = $"other_config:pmd-cpu-mask '{mask}' is not a hex CPU mask";
        }
        return null;
    }

    /// <summary>
    /// How the forwarding threads' receive queues are placed, from other_config as Open vSwitch's dpif-netdev reads it:
    /// pmd-rxq-assign (cycles, the default; roundrobin; group), pmd-auto-lb (true: automatic rebalance; default false),
    /// pmd-auto-lb-load-threshold (percent, default 95), pmd-auto-lb-improvement-threshold (percent, default 25) and
    /// pmd-auto-lb-rebal-interval (minutes, default 1; 0 reads as 1). A value Open vSwitch would not take is said in
    /// <paramref name="errors"/> and reads as its default, as Open vSwitch reads it.
    /// </summary>
    public RxqSchedulingConfig RxqScheduling(List<string> errors)
    {
        var assign = RxqAssignment.Cycles;
        if (OtherConfig.GetValueOrDefault("pmd-rxq-assign") is { } a && !RxqBalancer.TryParse(a, out assign))
            errors.Add($"other_config:pmd-rxq-assign '{a}' is not cycles, roundrobin or group: cycles is used");
        bool autoLb = false;
        if (OtherConfig.GetValueOrDefault("pmd-auto-lb") is { } lb)
        {
            if (lb == "true") autoLb = true;
            else if (lb != "false") errors.Add($"other_config:pmd-auto-lb '{lb}' is not true or false: read as false");
        }
        long Percent(string key, int def)
        {
            if (OtherConfig.GetValueOrDefault(key) is not { } v) return def;
            if (uint.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out uint n) && n <= 100) return n;
            errors.Add($"other_config:{key} '{v}' is not a percentage from 0 to 100: {def} is used");
            return def;
        }
        long load = Percent("pmd-auto-lb-load-threshold", RxqScheduler.DefaultLoadThreshold);
        long improvement = Percent("pmd-auto-lb-improvement-threshold", RxqScheduler.DefaultImprovementThreshold);
        long minutes = RxqScheduler.DefaultRebalanceIntervalMinutes;
        if (OtherConfig.GetValueOrDefault("pmd-auto-lb-rebal-interval") is { } iv)
        {
            if (ulong.TryParse(iv, NumberStyles.None, CultureInfo.InvariantCulture, out ulong m) && m <= MaxRebalanceIntervalMinutes) minutes = m == 0 ? 1 : (long)m;
            else errors.Add($"other_config:pmd-auto-lb-rebal-interval '{iv}' is not a number of minutes from 0 to {MaxRebalanceIntervalMinutes}: {minutes} is used");
        }
        return new RxqSchedulingConfig(assign, autoLb, (int)load, (int)improvement, minutes);
    }

    /// <summary>
    /// other_config:afxdp-arena-queues: how many AF_XDP receive queues (sockets) of the default depth the packet arena
    /// holds (<see cref="AfXdpArena"/>), from 1 to <see cref="AfXdpArena.MaxQueues"/>; unset, <see cref="AfXdpArena.DefaultQueues"/>.
    /// Another value is <paramref name="error"/> and reads as the default.
    /// </summary>
    public int AfXdpArenaQueues(out string? error)
    {
        error = null;
        if (OtherConfig.GetValueOrDefault(AfXdpArena.QueuesKey) is not { } text) return AfXdpArena.DefaultQueues;
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= AfXdpArena.MaxQueues) return n;
        error = $"other_config:{AfXdpArena.QueuesKey} '{text}' is not a number of AF_XDP queues from 1 to {AfXdpArena.MaxQueues}: {AfXdpArena.DefaultQueues} is used";
        return AfXdpArena.DefaultQueues;
    }

    /// <summary>The longest pmd-auto-lb-rebal-interval Open vSwitch takes (MAX_ALB_REBALANCE_INTERVAL, minutes).</summary>
    public const ulong MaxRebalanceIntervalMinutes = 20000;

    /// <summary>
    /// other_config:hw-offload: true (any case) places the eligible flows of every bridge in the XDP program of its
    /// AF_XDP ports; false or unset, none. Another value is <paramref name="error"/> and reads as false (Open vSwitch's
    /// smap_get_bool reads it as false without a word).
    /// </summary>
    public bool HwOffload(out string? error) => HwOffloadOf(OtherConfig, out error);

    private static bool HwOffloadOf(IReadOnlyDictionary<string, string> otherConfig, out string? error)
    {
        error = null;
        if (otherConfig.GetValueOrDefault("hw-offload") is not { } text) return false;
        if (text.Equals("true", StringComparison.OrdinalIgnoreCase)) return true;
        if (!text.Equals("false", StringComparison.OrdinalIgnoreCase)) error = $"other_config:hw-offload '{text}' is not true or false: read as false";
        return false;
    }

    /// <summary>Open vSwitch's datapath-id: exactly 16 hex digits, not all zero (dpid_from_string).</summary>
    public static bool TryParseDatapathId(string text, out ulong dpid)
    {
        dpid = 0;
        return text.Length == 16 && ulong.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out dpid) && dpid != 0;
    }
}
