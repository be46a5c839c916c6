using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Softswitch.Bonding;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Ports;
using Softswitch.OfWire.Of10;
using Softswitch.Ofproto;
using Softswitch.Ovsdb;
using Softswitch.Ports;
using Softswitch.Ports.AfXdp;
using Softswitch.Vswitchd;
using Softswitch.TestKit;

namespace Softswitch.Tests.Vswitchd;

/// <summary>
/// A Bridge row served over in-memory ports: the configuration read from a replica (what is refused said), interfaces
/// opened and numbered, their status, and the columns written back only where they differ from the database.
/// </summary>
public sealed class VswitchdBridgeTests : IDisposable
{
    private readonly DirectoryInfo _run = Directory.CreateTempSubdirectory("ssw-vsbr-");
    private readonly Dictionary<string, Guid> _ids = [];

    public void Dispose() => _run.Delete(recursive: true);

    private Guid Id(string name)
    {
        if (!_ids.TryGetValue(name, out var id)) _ids[name] = id = Guid.NewGuid();
        return id;
    }

    private static readonly OvsdbSchema s_schema = Schema();

    private static OvsdbSchema Schema()
    {
        // The columns the daemon reads and writes, typed as the installed vswitch schema types them.
        const string json = """
            {"name":"Open_vSwitch","version":"8.3.1","tables":{
              "Open_vSwitch":{"columns":{"bridges":{"type":{"key":{"type":"uuid"},"min":0,"max":"unlimited"}},"next_cfg":{"type":"integer"},"cur_cfg":{"type":"integer"},
                "ovs_version":{"type":{"key":"string","min":0,"max":1}},"datapath_types":{"type":{"key":"string","min":0,"max":"unlimited"}},"iface_types":{"type":{"key":"string","min":0,"max":"unlimited"}},
                "other_config":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}},
                "ssl":{"type":{"key":{"type":"uuid","refTable":"SSL"},"min":0,"max":1}},"manager_options":{"type":{"key":{"type":"uuid","refTable":"Manager"},"min":0,"max":"unlimited"}}}},
              "SSL":{"columns":{"private_key":{"type":"string"},"certificate":{"type":"string"},"ca_cert":{"type":"string"},"bootstrap_ca_cert":{"type":"boolean"}}},
              "Manager":{"columns":{"target":{"type":"string"}}},
              "Bridge":{"columns":{"name":{"type":"string"},"ports":{"type":{"key":{"type":"uuid"},"min":0,"max":"unlimited"}},"controller":{"type":{"key":{"type":"uuid"},"min":0,"max":"unlimited"}},
                "fail_mode":{"type":{"key":"string","min":0,"max":1}},"protocols":{"type":{"key":"string","min":0,"max":"unlimited"}},"other_config":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}},
                "datapath_id":{"type":{"key":"string","min":0,"max":1}},"datapath_type":{"type":"string"},
                "flow_tables":{"type":{"key":{"type":"integer","minInteger":0,"maxInteger":254},"value":{"type":"uuid"},"min":0,"max":"unlimited"}},"stp_enable":{"type":"boolean"},"rstp_enable":{"type":"boolean"},"mcast_snooping_enable":{"type":"boolean"},
                "mirrors":{"type":{"key":{"type":"uuid","refTable":"Mirror"},"min":0,"max":"unlimited"}},
                "ipfix":{"type":{"key":{"type":"uuid","refTable":"IPFIX"},"min":0,"max":1}},
                "status":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}},"rstp_status":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}}}},
              "IPFIX":{"columns":{"targets":{"type":{"key":"string","min":0,"max":"unlimited"}},"sampling":{"type":{"key":{"type":"integer","minInteger":1,"maxInteger":4294967295},"min":0,"max":1}},
                "obs_domain_id":{"type":{"key":{"type":"integer","minInteger":0,"maxInteger":4294967295},"min":0,"max":1}},
                "obs_point_id":{"type":{"key":{"type":"integer","minInteger":0,"maxInteger":4294967295},"min":0,"max":1}},
                "cache_active_timeout":{"type":{"key":{"type":"integer","minInteger":0,"maxInteger":4200},"min":0,"max":1}},
                "cache_max_flows":{"type":{"key":{"type":"integer","minInteger":0,"maxInteger":4294967295},"min":0,"max":1}},
                "other_config":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}}}},
              "Flow_Sample_Collector_Set":{"columns":{"id":{"type":{"key":{"type":"integer","minInteger":0,"maxInteger":4294967295}}},
                "bridge":{"type":{"key":{"type":"uuid","refTable":"Bridge"}}},"ipfix":{"type":{"key":{"type":"uuid","refTable":"IPFIX"},"min":0,"max":1}}}},
              "Port":{"columns":{"name":{"type":"string"},"interfaces":{"type":{"key":{"type":"uuid"},"min":1,"max":"unlimited"}},"tag":{"type":{"key":"integer","min":0,"max":1}},
                "trunks":{"type":{"key":"integer","min":0,"max":4096}},"vlan_mode":{"type":{"key":"string","min":0,"max":1}},
                "qos":{"type":{"key":{"type":"uuid","refTable":"QoS"},"min":0,"max":1}},"bond_mode":{"type":{"key":"string","min":0,"max":1}},
                "lacp":{"type":{"key":"string","min":0,"max":1}},"bond_updelay":{"type":"integer"},"bond_downdelay":{"type":"integer"},"bond_active_slave":{"type":{"key":"string","min":0,"max":1}},
                "other_config":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}},"statistics":{"type":{"key":"string","value":"integer","min":0,"max":"unlimited"}},
                "status":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}},"rstp_status":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}},
                "rstp_statistics":{"type":{"key":"string","value":"integer","min":0,"max":"unlimited"}}}},
              "QoS":{"columns":{"type":{"type":"string"},"other_config":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}},
                "queues":{"type":{"key":{"type":"integer","minInteger":0,"maxInteger":4294967295},"value":{"type":"uuid","refTable":"Queue"},"min":0,"max":"unlimited"}}}},
              "Queue":{"columns":{"other_config":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}}}},
              "Interface":{"columns":{"name":{"type":"string"},"type":{"type":"string"},"ofport_request":{"type":{"key":"integer","min":0,"max":1}},"ofport":{"type":{"key":"integer","min":0,"max":1}},
                "error":{"type":{"key":"string","min":0,"max":1}},"ifindex":{"type":{"key":"integer","min":0,"max":1}},"mac_in_use":{"type":{"key":"string","min":0,"max":1}},
                "link_state":{"type":{"key":"string","min":0,"max":1}},"admin_state":{"type":{"key":"string","min":0,"max":1}},"options":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}},
                "mtu":{"type":{"key":"integer","min":0,"max":1}},"mtu_request":{"type":{"key":{"type":"integer","minInteger":1},"min":0,"max":1}},"mac":{"type":{"key":"string","min":0,"max":1}},
                "ingress_policing_rate":{"type":{"key":{"type":"integer","minInteger":0}}},"ingress_policing_burst":{"type":{"key":{"type":"integer","minInteger":0}}},
                "other_config":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}},"lacp_current":{"type":{"key":"boolean","min":0,"max":1}},
                "status":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}}}},
              "Mirror":{"columns":{"name":{"type":"string"},"select_all":{"type":"boolean"},
                "select_src_port":{"type":{"key":{"type":"uuid","refTable":"Port","refType":"weak"},"min":0,"max":"unlimited"}},
                "select_dst_port":{"type":{"key":{"type":"uuid","refTable":"Port","refType":"weak"},"min":0,"max":"unlimited"}},
                "select_vlan":{"type":{"key":{"type":"integer","minInteger":0,"maxInteger":4095},"min":0,"max":4096}},
                "output_port":{"type":{"key":{"type":"uuid","refTable":"Port","refType":"weak"},"min":0,"max":1}},
                "output_vlan":{"type":{"key":{"type":"integer","minInteger":1,"maxInteger":4095},"min":0,"max":1}},
                "snaplen":{"type":{"key":{"type":"integer","minInteger":14,"maxInteger":65535},"min":0,"max":1}},
                "statistics":{"type":{"key":"string","value":"integer","min":0,"max":"unlimited"}}}},
              "Flow_Table":{"columns":{"name":{"type":{"key":"string","min":0,"max":1}},"flow_limit":{"type":{"key":{"type":"integer","minInteger":0},"min":0,"max":1}},
                "overflow_policy":{"type":{"key":"string","min":0,"max":1}},"groups":{"type":{"key":"string","min":0,"max":"unlimited"}},
                "prefixes":{"type":{"key":"string","min":0,"max":"unlimited"}}}},
              "Controller":{"columns":{"target":{"type":"string"},"is_connected":{"type":"boolean"},"role":{"type":{"key":"string","min":0,"max":1}},
                "inactivity_probe":{"type":{"key":"integer","min":0,"max":1}},"max_backoff":{"type":{"key":{"type":"integer","minInteger":1000},"min":0,"max":1}},
                "connection_mode":{"type":{"key":{"type":"string","enum":["set",["in-band","out-of-band"]]},"min":0,"max":1}},
                "controller_rate_limit":{"type":{"key":{"type":"integer","minInteger":100},"min":0,"max":1}},
                "status":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}}}}}}
            """;
        Assert.True(OvsdbSchema.TryParse(JsonNode.Parse(json), out var schema, out var error), error);
        return schema;
    }

    private static JsonNode Ref(Guid u) => new JsonArray("uuid", u.ToString());

    private static JsonNode StringMap(params (string K, string V)[] kv) => new JsonArray("map", new JsonArray([.. kv.Select(p => (JsonNode)new JsonArray(p.K, p.V))]));

    private static JsonNode Refs(params Guid[] us) => new JsonArray("set", new JsonArray([.. us.Select(Ref)]));

    private void Insert(OvsdbReplica db, string table, string row, JsonObject columns)
        => Assert.True(db.TryApplyUpdate2(new JsonObject { [table] = new JsonObject { [Id(row).ToString()] = new JsonObject { ["insert"] = columns } } }, out var e), e);

    /// <summary>br0 with its LOCAL port, p1 (ofport_request 7), p2, a vxlan port and a tagged port; one controller.</summary>
    private OvsdbReplica Database()
    {
        var db = new OvsdbReplica(s_schema);
        Insert(db, "Open_vSwitch", "root", new JsonObject { ["bridges"] = Refs(Id("br0")), ["next_cfg"] = 5, ["cur_cfg"] = 4 });
        Insert(db, "Bridge", "br0", new JsonObject
        {
            ["name"] = "br0", ["ports"] = Refs(Id("P-br0"), Id("P-p1"), Id("P-p2"), Id("P-vx")), ["controller"] = Refs(Id("c")),
            ["fail_mode"] = "secure", ["protocols"] = new JsonArray("set", new JsonArray("OpenFlow13", "OpenFlow10")),
            ["other_config"] = new JsonArray("map", new JsonArray(new JsonArray("datapath-id", "00000000000000a1"))), ["stp_enable"] = true,
        });
        foreach (var (name, type) in new[] { ("br0", "internal"), ("p1", ""), ("p2", "system"), ("vx", "vxlan") })
        {
            var port = new JsonObject { ["name"] = name, ["interfaces"] = Ref(Id("I-" + name)) };
            if (name == "p2") port["tag"] = 10;
            // Spanning tree port numbers on both ports that take part, or on none (Open vSwitch's rule).
            if (name == "p1") port["other_config"] = new JsonArray("map", new JsonArray(new JsonArray("stp-port-num", "9")));
            if (name == "p2") port["other_config"] = new JsonArray("map", new JsonArray(new JsonArray("stp-port-num", "2")));
            Insert(db, "Port", "P-" + name, port);
            var iface = new JsonObject { ["name"] = name, ["type"] = type };
            if (name == "p1") iface["ofport_request"] = 7;
            Insert(db, "Interface", "I-" + name, iface);
        }
        Insert(db, "Controller", "c", new JsonObject { ["target"] = "tcp:127.0.0.1:1" });
        return db;
    }

    private BridgeHost Host() => new(NullLoggerFactory.Instance, _run.FullName) { OpenPort = MemoryPortFor };

    /// <summary>An in-memory port in place of the device a request names: an internal port with the address its row
    /// asks for, any other with one of its own.</summary>
    private static MemoryPort MemoryPortFor(PortRequest r) => r.Kind == PortKind.Tap
        ? new MemoryPort(r.Name, r.Tap?.Mac ?? new MacAddress(0x02_00_00_00_00_01UL))
        : new MemoryPort(r.Name, new MacAddress(0x02_00_00_00_00_10UL + (ulong)r.Name.Length));

    [Fact]
    public void Config_ReadsTheBridgeAndSaysWhatIsRefused()
    {
        var config = VswitchConfig.Read(Database())!;
        Assert.Equal(5, config.NextCfg);
        var br = Assert.Single(config.Bridges);
        Assert.Equal("br0", br.Name);
        Assert.Equal(["OpenFlow10", "OpenFlow13"], br.Protocols);
        Assert.Equal("00000000000000a1", br.DatapathIdText);
        Assert.Equal("secure", br.FailMode);
        Assert.Equal(["br0", "p1", "p2", "vx"], br.Interfaces.Select(i => i.Name));
        Assert.Equal(7, br.Interfaces.Single(i => i.Name == "p1").OfportRequest);
        Assert.Equal(new StpConfig(32768, 2000, 20000, 15000, null), br.Stp);
        Assert.DoesNotContain(br.Refused, r => r.StartsWith("stp_enable", StringComparison.Ordinal));
        Assert.Equal(PortVlan.Access(10), br.Interfaces.Single(i => i.Name == "p2").Vlan);
        Assert.Null(br.Interfaces.Single(i => i.Name == "p1").Vlan);
        Assert.DoesNotContain(br.Refused, r => r.StartsWith("port p2", StringComparison.Ordinal));
        Assert.True(VswitchConfig.TryParseDatapathId("00000000000000a1", out ulong dpid) && dpid == 0xa1);
        Assert.False(VswitchConfig.TryParseDatapathId("a1", out _));
        Assert.False(VswitchConfig.TryParseDatapathId("0000000000000000", out _));
    }

    [Fact]
    public void Config_ReadsTheSslRowForEveryBridgeAndTheManagerTargets()
    {
        var db = Database();
        Assert.Null(VswitchConfig.Read(db)!.Bridges[0].Ssl);
        Insert(db, "SSL", "ssl", new JsonObject { ["private_key"] = "/k.pem", ["certificate"] = "/c.pem", ["ca_cert"] = "/ca.pem", ["bootstrap_ca_cert"] = true });
        Insert(db, "Manager", "m1", new JsonObject { ["target"] = "ptcp:6640" });
        Insert(db, "Manager", "m2", new JsonObject { ["target"] = "punix:/run/db.sock" });
        Assert.True(db.TryApplyUpdate2(new JsonObject
        {
            ["Open_vSwitch"] = new JsonObject { [Id("root").ToString()] = new JsonObject { ["modify"] = new JsonObject { ["ssl"] = Ref(Id("ssl")), ["manager_options"] = Refs(Id("m1"), Id("m2")) } } },
        }, out var e), e);
        var config = VswitchConfig.Read(db)!;
        Assert.Equal(new SslConfig("/k.pem", "/c.pem", "/ca.pem", BootstrapCaCert: true), config.Bridges[0].Ssl);
        Assert.Equal(["ptcp:6640", "punix:/run/db.sock"], config.ManagerTargets);
    }

    [Fact]
    public void Bridge_OpensItsInterfacesAndWritesBackOnlyWhatDiffers()
    {
        var db = Database();
        var config = VswitchConfig.Read(db)!;
        using var bridge = Bridge.Create(config.Bridges[0], Host());
        Assert.Equal(0xa1UL, bridge.DatapathId);
        var status = bridge.Interfaces().ToDictionary(s => s.Uuid, s => s.Status);
        Assert.Equal(Bridge.OfpLocal, status[Id("I-br0")].Ofport);
        Assert.Equal(7, status[Id("I-p1")].Ofport);
        Assert.Equal(1, status[Id("I-p2")].Ofport);
        Assert.Equal(-1, status[Id("I-vx")].Ofport);
        Assert.Contains("options:remote_ip is missing", status[Id("I-vx")].Error);
        Assert.True(File.Exists(Path.Combine(_run.FullName, "br0.mgmt")), "no BRIDGE.mgmt");

        var ops = StatusWriter.Operations(db, config, [bridge]);
        var byTable = ops.Cast<JsonObject>().GroupBy(o => (string)o["table"]!).ToDictionary(g => g.Key, g => g.ToList());
        var root = Assert.Single(byTable["Open_vSwitch"])["row"]!.AsObject();
        Assert.Equal(5, (long)root["cur_cfg"]!);
        Assert.Equal("00000000000000a1", (string)Assert.Single(byTable["Bridge"])["row"]!["datapath_id"]!);
        Assert.Equal(4, byTable["Interface"].Count);
        Assert.False((bool)Assert.Single(byTable["Controller"])["row"]!["is_connected"]!);

        // The database now shows all of it (as after the transaction): nothing more to write.
        foreach (var op in ops.Cast<JsonObject>())
        {
            string table = (string)op["table"]!;
            var uuid = OvsdbDatum.Uuids(op["where"]![0]![2]).Single();
            Assert.True(db.TryApplyUpdate(new JsonObject { [table] = new JsonObject { [uuid.ToString()] = new JsonObject { ["new"] = op["row"]!.DeepClone() } } }, out var e), e);
        }
        Assert.Empty(StatusWriter.Operations(db, config, [bridge]));

        // p2 leaves the bridge: its port is removed, p1 keeps its number.
        var modify = new JsonObject { ["Bridge"] = new JsonObject { [Id("br0").ToString()] = new JsonObject { ["modify"] = new JsonObject { ["ports"] = Ref(Id("P-p2")) } } } };
        Assert.True(db.TryApplyUpdate2(modify, out var error), error);
        var next = VswitchConfig.Read(db)!;
        bridge.Apply(next.Bridges[0]);
        Assert.DoesNotContain(bridge.Interfaces(), s => s.Uuid == Id("I-p2"));
        Assert.Null(bridge.Dp.Ports.Get(1));
        Assert.NotNull(bridge.Dp.Ports.Get(7));
    }

    /// <summary>
    /// Mirror rows become the datapath's mirrors by port number, as Open vSwitch's mirror_configure reads them (a row
    /// without an output is not served, an output VLAN beside an output port is ignored, a selected port not of the
    /// bridge is left out, each said); what they send is written back as their statistics.
    /// </summary>
    [Fact]
    public void MirrorRows_BecomeTheDatapathsMirrors_AndTheirStatisticsAreWrittenBack()
    {
        var db = Database();
        // No spanning tree: its BPDUs leaving the ports would be mirrored too, and this counts one frame.
        ModifyBridge(db, new JsonObject { ["stp_enable"] = false });
        Insert(db, "Port", "P-other", new JsonObject { ["name"] = "other", ["interfaces"] = Ref(Id("I-other")) });
        Insert(db, "Mirror", "all", new JsonObject { ["name"] = "all", ["select_all"] = true, ["output_port"] = Ref(Id("P-p2")), ["snaplen"] = 100 });
        Insert(db, "Mirror", "none", new JsonObject { ["name"] = "none", ["select_src_port"] = Ref(Id("P-p1")) });
        Insert(db, "Mirror", "both", new JsonObject
        {
            ["name"] = "both", ["select_src_port"] = Refs(Id("P-p1"), Id("P-other")), ["select_dst_port"] = Ref(Id("P-br0")),
            ["select_vlan"] = new JsonArray("set", new JsonArray(10, 20)), ["output_port"] = Ref(Id("P-p1")), ["output_vlan"] = 5,
        });
        Assert.True(db.TryApplyUpdate2(new JsonObject
        {
            ["Bridge"] = new JsonObject { [Id("br0").ToString()] = new JsonObject { ["modify"] = new JsonObject { ["mirrors"] = Refs(Id("all"), Id("none"), Id("both")) } } },
        }, out var e), e);
        var config = VswitchConfig.Read(db)!;
        var br = config.Bridges[0];
        Assert.Equal(2, br.Mirrors.Count);
        Assert.DoesNotContain("mirrors", br.Status.Keys);
        Assert.Contains(br.Refused, r => r.StartsWith("mirror none: no output_port nor output_vlan", StringComparison.Ordinal));
        Assert.Contains(br.Refused, r => r.StartsWith("mirror both: output_vlan (ignored", StringComparison.Ordinal));
        Assert.Contains(br.Refused, r => r.StartsWith("mirror both: select_src_port other is not a port of bridge br0", StringComparison.Ordinal));

        using var bridge = Bridge.Create(br, Host());
        var mirrors = bridge.Dp.Mirrors!.Mirrors;
        var all = mirrors.Single(m => m.Name == "all");
        // p1 is port 7, p2 port 1, br0 LOCAL; vx is not open.
        Assert.Equal([1, 7, PortNumber.Local], all.Sources);
        Assert.Equal(all.Sources, all.Destinations);
        Assert.Equal((1, -1, 100), (all.OutPort, all.OutVlan, all.Snaplen));
        var both = mirrors.Single(m => m.Name == "both");
        Assert.Equal([7], both.Sources);
        Assert.Equal([PortNumber.Local], both.Destinations);
        Assert.Equal((7, -1, true), (both.OutPort, both.OutVlan, both.SelectsVlans));
        Assert.True(both.Selects(20) && !both.Selects(0));

        // A frame into p1 (a table miss, dropped in fail mode secure) is mirrored all the same: to p2, cut to 100 bytes.
        var p2 = (MemoryPort)bridge.Dp.Ports.Get(1)!.Port;
        p2.CaptureSent = true;
        var frame = Datapath.Packets.FrameBuilder.Udp(MacAddress.Parse("0e:00:00:00:00:01"), MacAddress.Parse("0e:00:00:00:00:02"), 1, 2, 3, 4, frameSize: 300);
        ((MemoryPort)bridge.Dp.Ports.Get(7)!.Port).Inject(frame);
        Assert.True(SpinWait.SpinUntil(() => all.TxPackets == 1 && p2.Counters.TxPackets == 1, TimeSpan.FromSeconds(30)), $"the frame was not mirrored alone: the mirror sent {all.TxPackets}, p2 {p2.Counters.TxPackets}");
        var copy = Assert.Single(p2.TakeSent());
        Assert.Equal(frame[..100], copy);
        var ops = StatusWriter.Operations(db, config, [bridge]).Cast<JsonObject>().Where(o => (string)o["table"]! == "Mirror").ToList();
        var stats = ops.Single(o => OvsdbDatum.Uuids(o["where"]![0]![2]).Single() == Id("all"))["row"]!["statistics"]!;
        Assert.Equal("\"tx_bytes\":300,\"tx_packets\":1", StatusWriter.Canonical(ColumnKind.Map, stats));
        Assert.Equal(2, ops.Count);   // the mirror not served has no statistics

        // The mirrors leave the bridge: none is left in the datapath.
        Assert.True(db.TryApplyUpdate2(new JsonObject
        {
            ["Bridge"] = new JsonObject { [Id("br0").ToString()] = new JsonObject { ["modify"] = new JsonObject { ["mirrors"] = Refs(Id("all"), Id("none"), Id("both")) } } },
        }, out e), e);
        bridge.Apply(VswitchConfig.Read(db)!.Bridges[0]);
        Assert.Null(bridge.Dp.Mirrors);
    }

    /// <summary>Port tag, trunks and vlan_mode become the ports' VLAN memberships for NORMAL, as Open vSwitch reads them;
    /// a change reaches the datapath's port, and the modes not served are refused.</summary>
    [Fact]
    public void PortTagAndTrunks_BecomeVlanMemberships()
    {
        var db = Database();
        void ModifyPort(string port, JsonObject columns)
            => Assert.True(db.TryApplyUpdate2(new JsonObject { ["Port"] = new JsonObject { [Id(port).ToString()] = new JsonObject { ["modify"] = columns } } }, out var e), e);
        ModifyPort("P-p1", new JsonObject { ["trunks"] = new JsonArray("set", new JsonArray(20, 10)) });
        var config = VswitchConfig.Read(db)!.Bridges[0];
        Assert.Equal(PortVlan.Trunk([10, 20]), config.Interfaces.Single(i => i.Name == "p1").Vlan);
        using var bridge = Bridge.Create(config, Host());
        Assert.Equal(PortVlan.Access(10), bridge.Dp.Ports.Get(1)!.Vlan);   // p2
        Assert.True(bridge.Dp.Ports.Get(7)!.Vlan!.Carries(20));            // p1
        Assert.False(bridge.Dp.Ports.Get(7)!.Vlan!.Carries(30));

        // p2 becomes a trunk (its tag ignored, said); p1 asks for a mode not served: a trunk of every VLAN, said.
        ModifyPort("P-p2", new JsonObject { ["vlan_mode"] = "trunk" });
        ModifyPort("P-p1", new JsonObject { ["vlan_mode"] = "native-untagged" });
        config = VswitchConfig.Read(db)!.Bridges[0];
        bridge.Apply(config);
        Assert.Null(bridge.Dp.Ports.Get(1)!.Vlan);
        Assert.Null(bridge.Dp.Ports.Get(7)!.Vlan);
        Assert.Contains(config.Refused, r => r == "port p2: tag (ignored: vlan_mode=trunk)");
        Assert.Contains(config.Refused, r => r.StartsWith("port p1: vlan_mode=native-untagged (not supported", StringComparison.Ordinal));

        // Both a tag and trunks, no mode: an access port, the trunks ignored (said).
        ModifyPort("P-p2", new JsonObject { ["vlan_mode"] = new JsonArray("set", new JsonArray()), ["trunks"] = new JsonArray("set", new JsonArray(5)) });
        config = VswitchConfig.Read(db)!.Bridges[0];
        bridge.Apply(config);
        Assert.Equal(PortVlan.Access(10), bridge.Dp.Ports.Get(1)!.Vlan);
        Assert.Contains(config.Refused, r => r == "port p2: trunks (ignored: tag 10 makes it an access port)");
    }

    /// <summary>A Port's linux-htb QoS (other_config:max-rate, queues with min-rate and max-rate) becomes the port's
    /// egress shaping; a change replaces it, a queue id the switch does not have and another QoS type are refused,
    /// and clearing qos takes the shaping away.</summary>
    [Fact]
    public void PortQos_LinuxHtb_BecomesThePortsShaping()
    {
        var db = Database();
        JsonNode Map(params (string K, string V)[] kv) => new JsonArray("map", new JsonArray([.. kv.Select(p => (JsonNode)new JsonArray(p.K, p.V))]));
        Insert(db, "Queue", "q0", new JsonObject { ["other_config"] = Map(("max-rate", "30000000")) });
        Insert(db, "Queue", "q1", new JsonObject { ["other_config"] = Map(("min-rate", "10000000"), ("max-rate", "70000000")) });
        Insert(db, "Queue", "q9", new JsonObject { ["other_config"] = Map(("max-rate", "1000")) });
        Insert(db, "QoS", "qos", new JsonObject
        {
            ["type"] = "linux-htb", ["other_config"] = Map(("max-rate", "100000000")),
            ["queues"] = new JsonArray("map", new JsonArray(new JsonArray(0, Ref(Id("q0"))), new JsonArray(1, Ref(Id("q1"))), new JsonArray(9, Ref(Id("q9"))))),
        });
        Assert.True(db.TryApplyUpdate2(new JsonObject { ["Port"] = new JsonObject { [Id("P-p1").ToString()] = new JsonObject { ["modify"] = new JsonObject { ["qos"] = Ref(Id("qos")) } } } }, out var e), e);
        var config = VswitchConfig.Read(db)!.Bridges[0];
        Assert.Contains(config.Refused, r => r.StartsWith("port p1: queue 9 (queue ids here are 0 to 7", StringComparison.Ordinal));
        using var bridge = Bridge.Create(config, Host());
        var shaper = bridge.Dp.ShaperOf(7)!;
        Assert.Equal(100_000_000, shaper.MaxRate);
        Assert.Equal((0L, 30_000_000L), (shaper.Queues[0]!.MinRate, shaper.Queues[0]!.MaxRate));
        Assert.Equal((10_000_000L, 70_000_000L), (shaper.Queues[1]!.MinRate, shaper.Queues[1]!.MaxRate));
        Assert.Null(shaper.Queues[9]);
        Assert.Null(bridge.Dp.ShaperOf(1));   // p2 has no qos

        // A rate changed: a new shaping; an unchanged read keeps the same one.
        Assert.True(db.TryApplyUpdate2(new JsonObject { ["Queue"] = new JsonObject { [Id("q1").ToString()] = new JsonObject { ["modify"] = new JsonObject
        {
            ["other_config"] = Map(("min-rate", "20000000")),
        } } } }, out e), e);
        bridge.Apply(VswitchConfig.Read(db)!.Bridges[0]);
        var changed = bridge.Dp.ShaperOf(7)!;
        Assert.Equal(20_000_000, changed.Queues[1]!.MinRate);
        bridge.Apply(VswitchConfig.Read(db)!.Bridges[0]);
        Assert.Same(changed, bridge.Dp.ShaperOf(7));

        // Another type is refused (not shaped), and so is no qos at all.
        Assert.True(db.TryApplyUpdate2(new JsonObject { ["QoS"] = new JsonObject { [Id("qos").ToString()] = new JsonObject { ["modify"] = new JsonObject { ["type"] = "egress-policer" } } } }, out e), e);
        config = VswitchConfig.Read(db)!.Bridges[0];
        Assert.Contains(config.Refused, r => r.StartsWith("port p1: qos type 'egress-policer'", StringComparison.Ordinal));
        bridge.Apply(config);
        Assert.Null(bridge.Dp.ShaperOf(7));
    }

    /// <summary>stp_enable runs spanning tree (the Bridge status has its keys, the ports their gates and status), and
    /// the rest of the bridge served; turned off, the keys go and the gates open.</summary>
    [Fact]
    public void Stp_IsServed_AndWrittenBack()
    {
        var db = Database();
        var config = VswitchConfig.Read(db)!;
        using var bridge = Bridge.Create(config.Bridges[0], Host());
        Assert.NotNull(bridge.Dp.Ports.Get(7));
        var ops = StatusWriter.Operations(db, config, [bridge]);
        var row = BridgeRow(ops);
        var status = OvsdbDatum.StringMap(row["status"]);
        Assert.Equal(["stp_bridge_id", "stp_designated_root", "stp_root_path_cost"], status.Keys.Order(StringComparer.Ordinal));
        Assert.Empty(OvsdbDatum.StringMap(row["rstp_status"]));
        // The bridge's identifier: priority 32768 over the LOCAL port's address; alone, it is the root.
        Assert.Equal("8000.020000000001", status["stp_bridge_id"]);
        Assert.Equal(status["stp_bridge_id"], status["stp_designated_root"]);
        Assert.Equal("0", status["stp_root_path_cost"]);
        // p1 (stp-port-num 9) takes part; the LOCAL port, internal, does not (it forwards).
        var p1 = ops.Select(o => o.AsObject()).Single(o => (string?)o["table"] == "Port" && o["where"]!.ToJsonString().Contains(Id("P-p1").ToString(), StringComparison.Ordinal));
        var p1Status = OvsdbDatum.StringMap(p1["row"]!["status"]);
        Assert.Equal("listening", p1Status["stp_state"]);
        Assert.Equal("designated", p1Status["stp_role"]);
        Assert.Equal("32777", p1Status["stp_port_id"]);
        Assert.Equal(PortStpState.Listening, bridge.Dp.Ports.Get(7)!.Stp);
        Assert.Equal(PortStpState.Excluded, bridge.Dp.Ports.Get(PortNumber.Local)!.Stp);
        Assert.Contains("This bridge is the root", bridge.StpShow(), StringComparison.Ordinal);
        Assert.Contains("  p1         designated listening  4     128.9\n", bridge.StpShow(), StringComparison.Ordinal);
        Assert.True(uint.TryParse(p1Status["stp_sec_in_state"], out _), p1Status["stp_sec_in_state"]);
        // Written, nothing is left to write (stp_sec_in_state moves at each whole second: a write that crossed one is
        // made again).
        for (int i = 0; i < 3 && StatusWriter.Operations(db, config, [bridge]) is { Count: > 0 } again; i++) ApplyWritten(db, again);
        Assert.Empty(StatusWriter.Operations(db, config, [bridge]));

        ModifyBridge(db, new JsonObject { ["stp_enable"] = false });
        config = VswitchConfig.Read(db)!;
        bridge.Apply(config.Bridges[0]);
        Assert.Empty(OvsdbDatum.StringMap(BridgeRow(StatusWriter.Operations(db, config, [bridge]))["status"]));
        Assert.Equal(PortStpState.Off, bridge.Dp.Ports.Get(7)!.Stp);
        Assert.Equal(PortConfig.None, bridge.Dp.Ports.Get(7)!.Config & (PortConfig.StpBpdu | PortConfig.StpNoForward | PortConfig.StpNoLearn));
        Assert.Null(bridge.StpShow());
    }

    /// <summary>rstp_enable runs the rapid spanning tree, and wins over stp_enable (said in the Bridge status, as Open
    /// vSwitch warns of it): the Bridge and Port rstp_status and the Port rstp_statistics as Open vSwitch writes them,
    /// the ports' gates, rstp/show; settings out of range refused in the status; turned off, the columns are emptied
    /// and the gates open.</summary>
    [Fact]
    public void Rstp_IsServed_WinsOverStp_AndIsWrittenBack()
    {
        var db = Database();
        ModifyBridge(db, new JsonObject
        {
            ["rstp_enable"] = true,
            ["other_config"] = new JsonArray("map", new JsonArray(new JsonArray("rstp-priority", "4096"), new JsonArray("rstp-max-age", "40"),
                new JsonArray("rstp-hello-time", "1"), new JsonArray("rstp-transmit-hold-count", "3"))),
        });
        Assert.True(db.TryApplyUpdate2(new JsonObject { ["Port"] = new JsonObject
        {
            [Id("P-p1").ToString()] = new JsonObject { ["modify"] = new JsonObject { ["other_config"] = new JsonArray("map", new JsonArray(new JsonArray("rstp-port-num", "9"))) } },
            [Id("P-p2").ToString()] = new JsonObject { ["modify"] = new JsonObject { ["other_config"] = new JsonArray("map", new JsonArray(
                new JsonArray("rstp-port-num", "5000"), new JsonArray("rstp-port-auto-edge", "maybe"))) } },
        } }, out var e), e);
        var config = VswitchConfig.Read(db)!;
        var bc = config.Bridges[0];
        Assert.Null(bc.Stp);
        // Max age 40 needs a forward delay of 21 at least: refused, the default used.
        Assert.Equal(new RstpConfig(4096, null, 300, 2, 20, 15, 3), bc.Rstp);
        Assert.Equal(["rstp-hello-time", "rstp-max-age", "stp_enable"], bc.Status.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("refused: RSTP and STP are mutually exclusive: RSTP (rstp_enable=true) runs", bc.Status["stp_enable"]);
        Assert.Equal(9, bc.Interfaces.Single(i => i.Name == "p1").Rstp.PortNum);
        Assert.False(bc.Interfaces.Single(i => i.Name == "p2").Rstp.Enabled);
        Assert.Equal(["rstp-port-auto-edge", "rstp-port-num"], bc.PortStatus[Id("P-p2")].Keys.Order(StringComparer.Ordinal));

        using var bridge = Bridge.Create(bc, Host());
        var ops = StatusWriter.Operations(db, config, [bridge]);
        var row = BridgeRow(ops);
        var rstp = OvsdbDatum.StringMap(row["rstp_status"]);
        // The identifier as Open vSwitch prints it: priority 1 (4096 >> 12), system ID extension 0, the LOCAL port's address.
        Assert.Equal("1.000.020000000001", rstp["rstp_bridge_id"]);
        Assert.Equal(rstp["rstp_bridge_id"], rstp["rstp_root_id"]);
        Assert.Equal(rstp["rstp_bridge_id"], rstp["rstp_designated_id"]);
        Assert.Equal("0", rstp["rstp_root_path_cost"]);
        Assert.Equal("0000", rstp["rstp_bridge_port_id"]);
        Assert.Equal("0000", rstp["rstp_designated_port_id"]);
        Assert.DoesNotContain("stp_bridge_id", OvsdbDatum.StringMap(row["status"]).Keys);
        var p1 = ops.Select(o => o.AsObject()).Single(o => (string?)o["table"] == "Port" && o["row"]!.AsObject().ContainsKey("rstp_status")
            && o["where"]!.ToJsonString().Contains(Id("P-p1").ToString(), StringComparison.Ordinal));
        var p1Status = OvsdbDatum.StringMap(p1["row"]!["rstp_status"]);
        Assert.Equal("8009", p1Status["rstp_port_id"]);
        Assert.Equal("Designated", p1Status["rstp_port_role"]);
        Assert.Equal("Discarding", p1Status["rstp_port_state"]);
        Assert.Equal(rstp["rstp_bridge_id"], p1Status["rstp_designated_bridge_id"]);
        Assert.Equal("8009", p1Status["rstp_designated_port_id"]);
        Assert.Equal("0", p1Status["rstp_designated_path_cost"]);
        Assert.Equal(["rstp_error_count", "rstp_rx_count", "rstp_tx_count", "rstp_uptime"],
            OvsdbDatum.Pairs(p1["row"]!["rstp_statistics"]).Select(p => JsonRpcText(p.Key)).Order(StringComparer.Ordinal));
        // Discarding gates as listening (OpenFlow 1.0's STP_LISTEN, 1.3's BLOCKED); the LOCAL port and p2 (its number
        // refused) take no part and forward.
        Assert.Equal(PortStpState.Listening, bridge.Dp.Ports.Get(7)!.Stp);
        Assert.Equal(PortStpState.Excluded, bridge.Dp.Ports.Get(PortNumber.Local)!.Stp);
        Assert.Null(bridge.StpShow());
        string show = bridge.RstpShow()!;
        Assert.StartsWith("---- br0 ----\nRoot ID:\n  stp-priority    4096\n  stp-system-id   02:00:00:00:00:01\n  stp-hello-time  2s\n  stp-max-age     20s\n  stp-fwd-delay   15s\n  This bridge is the root\n", show, StringComparison.Ordinal);
        Assert.Contains("  Interface  Role       State      Cost     Pri.Nbr \n  ---------- ---------- ---------- -------- -------\n", show, StringComparison.Ordinal);
        Assert.Contains("  p1         Designated Discarding 20000    128.9\n", show, StringComparison.Ordinal);
        for (int i = 0; i < 3 && StatusWriter.Operations(db, config, [bridge]) is { Count: > 0 } again; i++) ApplyWritten(db, again);
        Assert.Empty(StatusWriter.Operations(db, config, [bridge]));

        ModifyBridge(db, new JsonObject { ["rstp_enable"] = false, ["stp_enable"] = false });
        config = VswitchConfig.Read(db)!;
        bridge.Apply(config.Bridges[0]);
        ops = StatusWriter.Operations(db, config, [bridge]);
        Assert.Empty(OvsdbDatum.StringMap(BridgeRow(ops)["rstp_status"]));
        Assert.Contains(ops.Cast<JsonObject>(), o => (string)o["table"]! == "Port" && o["row"]!["rstp_status"] is { } st && !OvsdbDatum.Pairs(st).Any());
        Assert.Equal(PortStpState.Off, bridge.Dp.Ports.Get(7)!.Stp);
        Assert.Null(bridge.RstpShow());
    }

    private static string JsonRpcText(JsonNode? n) => n!.GetValue<string>();

    /// <summary>
    /// mcast_snooping_enable=true snoops: the datapath's NORMAL gets a snooping table with the Bridge's other_config
    /// settings (mcast-snooping-disable-flood-unregistered) and the Ports' flood flags (a Port as its port number), a
    /// value that does not parse is refused in the Bridge's or Port's status with the default used, mdb/show prints
    /// the (empty) table; turned off, NORMAL floods multicast again and mdb/show answers null (disabled).
    /// </summary>
    [Fact]
    public void McastSnooping_FollowsTheBridgeRow_WhatDoesNotParseRefusedInTheStatus()
    {
        var db = Database();
        ModifyBridge(db, new JsonObject
        {
            ["mcast_snooping_enable"] = true, ["stp_enable"] = false,
            ["other_config"] = new JsonArray("map", new JsonArray(new JsonArray("mcast-snooping-aging-time", "soon"), new JsonArray("mcast-snooping-table-size", "5000"),
                new JsonArray("mcast-snooping-disable-flood-unregistered", "true"))),
        });
        void ModifyPort(string port, JsonObject columns)
            => Assert.True(db.TryApplyUpdate2(new JsonObject { ["Port"] = new JsonObject { [Id(port).ToString()] = new JsonObject { ["modify"] = columns } } }, out var e), e);
        ModifyPort("P-p1", new JsonObject { ["other_config"] = new JsonArray("map", new JsonArray(new JsonArray("mcast-snooping-flood", "true"))) });
        ModifyPort("P-p2", new JsonObject { ["other_config"] = new JsonArray("map", new JsonArray(new JsonArray("mcast-snooping-flood-reports", "maybe"))) });
        var config = VswitchConfig.Read(db)!;
        var br = config.Bridges[0];
        var mcast = Assert.IsType<McastSnoopingConfig>(br.McastSnooping);
        Assert.Equal((300, 5000, false), (mcast.IdleTimeS, mcast.MaxEntries, mcast.FloodUnregistered));
        Assert.Equal(["p1"], mcast.FloodPorts);
        Assert.Empty(mcast.FloodReportPorts);
        Assert.Equal("refused: not a non-negative integer (the default, 300, is used)", br.Status["mcast-snooping-aging-time"]);
        Assert.Equal("refused: not true or false", br.PortStatus[Id("P-p2")]["mcast-snooping-flood-reports"]);
        Assert.Contains(br.Refused, r => r.StartsWith("port p2: other_config:mcast-snooping-flood-reports=maybe", StringComparison.Ordinal));

        using var bridge = Bridge.Create(br, Host());
        var table = Assert.IsType<McastSnoopingTable>(bridge.Dp.McastSnooping);
        Assert.False(table.FloodUnregistered);
        Assert.Equal([(ushort)7], table.FloodPorts);
        Assert.Equal(" port  VLAN  protocol  GROUP                Age\n", bridge.McastShow());
        Assert.True(bridge.McastFlush());

        ModifyBridge(db, new JsonObject { ["mcast_snooping_enable"] = false });
        bridge.Apply(VswitchConfig.Read(db)!.Bridges[0]);
        Assert.Null(bridge.Dp.McastSnooping);
        Assert.Null(bridge.McastShow());
        Assert.False(bridge.McastFlush());
    }

    /// <summary>
    /// A Port of two Interfaces is a bond: its members are OpenFlow ports of their own and one bond of the datapath,
    /// LACP runs on them (LACPDUs out of each, a partner's heard), a member is enabled once its partner is in sync, the
    /// bond's active member and each member's lacp_current are written back, bond/show and lacp/show print it as Open
    /// vSwitch does, what is not served is refused in the Port's status; one interface left, it is a bond no more.
    /// </summary>
    [Fact]
    public void APortOfTwoInterfaces_IsABond_NegotiatesLacp_AndIsShownAndWrittenBack()
    {
        var db = Database();
        ModifyBridge(db, new JsonObject { ["stp_enable"] = false });
        foreach (var name in new[] { "b1", "b2" }) Insert(db, "Interface", "I-" + name, new JsonObject { ["name"] = name, ["type"] = "system" });
        Insert(db, "Port", "P-bond0", new JsonObject
        {
            ["name"] = "bond0", ["interfaces"] = Refs(Id("I-b1"), Id("I-b2")), ["bond_mode"] = "balance-tcp", ["lacp"] = "active",
            ["other_config"] = new JsonArray("map", new JsonArray(new JsonArray("lacp-time", "fast"), new JsonArray("bond-detect-mode", "miimon"))),
        });
        ModifyBridge(db, new JsonObject { ["ports"] = Ref(Id("P-bond0")) });
        var config = VswitchConfig.Read(db)!;
        var bc = Assert.Single(config.Bridges[0].Bonds);
        Assert.Equal(("bond0", BondMode.BalanceTcp, (bool?)true, true), (bc.Name, bc.Mode, bc.LacpActive, bc.LacpFast));
        Assert.Equal(["b1", "b2"], bc.Members.Select(m => m.Name));
        Assert.Equal("refused: members' liveness is their carrier (bond-detect-mode=carrier)", config.Bridges[0].PortStatus[Id("P-bond0")]["bond-detect-mode"]);
        using var bridge = Bridge.Create(config.Bridges[0], Host());
        var bond = Assert.Single(bridge.Dp.Bonds);
        Assert.Equal(2, bond.Members.Length);
        var members = bond.Members.Select(no => bridge.Dp.Ports.Get(no)!).ToList();
        Assert.All(members, m => Assert.Same(bond, m.Bond));
        Assert.All(members, m => Assert.Equal(PortConfig.Lacp, m.Config & PortConfig.Lacp));
        var ports = members.Select(m => (MemoryPort)m.Port).ToList();
        foreach (var p in ports) p.CaptureSent = true;
        // Each member sends LACPDUs (active); a partner answering in sync on both makes the bond negotiated.
        Assert.True(Softswitch.TestKit.Wait.Until(() => ports.All(p => p.TakeSent().Any(f => LacpFrame.Parse(f, out _, out _) == LacpFrame.SubtypeLacp)), 10_000),
            "no LACPDU left a member");
        var frame = new byte[LacpFrame.FrameSize];
        Assert.True(Softswitch.TestKit.Wait.Until(() =>
        {
            for (int i = 0; i < 2; i++)
            {
                const byte inSync = Lacp.StateActivity | Lacp.StateTimeout | Lacp.StateAggregation | Lacp.StateSync | Lacp.StateCollecting | Lacp.StateDistributing;
                LacpFrame.Write(frame, 0x0200_0000_0099, new LacpInfo(1, 0x0200_0000_0099, 7, 1, (ushort)(i + 1), inSync), default);
                ports[i].Inject(frame);
            }
            return bond.Lacp == BondLacp.Negotiated && bond.IsEnabled(bond.Members[0]) && bond.IsEnabled(bond.Members[1]);
        }, 10_000), $"not negotiated: {bond.Lacp}");
        string lacpShow = bridge.LacpShow("bond0")!;
        Assert.Contains("  status: active negotiated\n", lacpShow, StringComparison.Ordinal);
        Assert.Contains("  partner sys_id: 02:00:00:00:00:99\n  partner sys_priority: 1\n", lacpShow, StringComparison.Ordinal);
        Assert.Contains("bond_mode: balance-tcp\n", bridge.BondShow(null), StringComparison.Ordinal);
        Assert.Contains("lacp_status: negotiated\n", bridge.BondShow("bond0"), StringComparison.Ordinal);
        Assert.Null(bridge.BondShow("p1"));
        Assert.Null(bridge.LacpShow("nope"));

        var ops = StatusWriter.Operations(db, config, [bridge]).Cast<JsonObject>().ToList();
        JsonNode? Column(string table, string row, string column) => ops
            .Where(o => (string)o["table"]! == table && OvsdbDatum.Uuids(o["where"]![0]![2]).Single() == Id(row)).Select(o => o["row"]![column]).FirstOrDefault(c => c is not null);
        Assert.Equal(Lacp.Mac(members.Single(m => m.No == bond.Active).Port.Info.HwAddr.Value), (string)Column("Port", "P-bond0", "bond_active_slave")!);
        Assert.True((bool)Column("Interface", "I-b1", "lacp_current")!);
        Assert.Null(Column("Interface", "I-p1", "lacp_current"));

        // One interface left: no bond, the port is plain again.
        Assert.True(db.TryApplyUpdate2(new JsonObject { ["Port"] = new JsonObject { [Id("P-bond0").ToString()] = new JsonObject { ["modify"] = new JsonObject
        {
            ["interfaces"] = Ref(Id("I-b2")),
        } } } }, out var e), e);
        bridge.Apply(VswitchConfig.Read(db)!.Bridges[0]);
        Assert.Empty(bridge.Dp.Bonds);
        Assert.Null(bridge.BondShow(null));
        Assert.All(bridge.Dp.Ports.List, p => Assert.Null(p.Bond));
        Assert.All(bridge.Dp.Ports.List, p => Assert.Equal(PortConfig.None, p.Config & PortConfig.Lacp));
    }

    /// <summary>The Bridge's stp-hello-time is read in milliseconds, stp-max-age and stp-forward-delay in seconds, as
    /// Open vSwitch's bridge.c reads them; a time out of the protocol's range is clamped as lib/stp.c clamps it (and
    /// said), a value that is not an integer refused in the status with the default used.</summary>
    [Fact]
    public void Stp_TimesReadInOpenVswitchsUnits_ClampedByTheProtocol()
    {
        var db = Database();
        ModifyBridge(db, new JsonObject
        {
            ["other_config"] = new JsonArray("map", new JsonArray(new JsonArray("stp-hello-time", "1000"), new JsonArray("stp-max-age", "10"), new JsonArray("stp-forward-delay", "8"))),
        });
        var config = VswitchConfig.Read(db)!.Bridges[0];
        Assert.Equal(new StpConfig(32768, 1000, 10000, 8000, null), config.Stp);
        Assert.DoesNotContain(config.Refused, r => r.Contains("stp-", StringComparison.Ordinal));
        using (var bridge = Bridge.Create(config, Host()))
        {
            string show = bridge.StpShow()!;
            Assert.Contains("  stp-hello-time  1s\n  stp-max-age     10s\n  stp-fwd-delay   8s\n", show, StringComparison.Ordinal);
        }

        // 2 is 2 ms (not 2 s): the protocol takes 1 s, and the log says so; a value that is not an integer is refused.
        ModifyBridge(db, new JsonObject
        {
            ["other_config"] = new JsonArray("map", new JsonArray(new JsonArray("stp-hello-time", "2"), new JsonArray("stp-max-age", "two"), new JsonArray("stp-forward-delay", "8"))),
        });
        config = VswitchConfig.Read(db)!.Bridges[0];
        Assert.Equal(new StpConfig(32768, 2, 20000, 15000, null), config.Stp);
        Assert.Contains("other_config:stp-hello-time=2 ms (out of 1000 to 10000 ms: the protocol clamps it to 1000 ms)", config.Refused);
        Assert.Equal("refused: not an integer from 0 to 2147483 s (the default, 20, is used)", config.Status["stp-max-age"]);
        Assert.False(config.Status.ContainsKey("stp-hello-time"));
        using (var bridge = Bridge.Create(config, Host()))
            Assert.Contains("  stp-hello-time  1s\n  stp-max-age     20s\n  stp-fwd-delay   15s\n", bridge.StpShow()!, StringComparison.Ordinal);
    }

    /// <summary>stp-port-num as Open vSwitch's bridge_configure_stp takes it: set on some ports that take part and not
    /// on others, the bridge runs no spanning tree (its status says why, every gate open); a number out of 1 to 255
    /// takes its port out (a Port status key), a number another port has too is the lower OpenFlow port's.</summary>
    [Fact]
    public void Stp_PortNumbersOnSomePortsOnly_DisableIt_BadOrDuplicateOnesTakeTheirPortOut()
    {
        var db = Database();
        void ModifyPort(string row, string key, string value)
            => Assert.True(db.TryApplyUpdate2(new JsonObject { ["Port"] = new JsonObject { [Id(row).ToString()] = new JsonObject { ["modify"] = new JsonObject
            {
                ["other_config"] = new JsonArray("map", new JsonArray(new JsonArray(key, value))),
            } } } }, out var e), e);
        ModifyPort("P-p2", "stp-port-num", "2");   // the same pair again: removed (an update2 modify of a map is its difference)
        var config = VswitchConfig.Read(db)!;
        using var bridge = Bridge.Create(config.Bridges[0], Host());
        var p2 = bridge.Dp.Ports.List.Single(s => s.No != 7).No;
        Assert.Null(bridge.StpShow());
        Assert.Equal("refused: stp-port-num must be set on all spanning tree ports or none (set on p1; not on p2): spanning tree disabled",
            OvsdbDatum.StringMap(BridgeRow(StatusWriter.Operations(db, config, [bridge]))["status"])["stp_enable"]);
        Assert.Equal(PortStpState.Off, bridge.Dp.Ports.Get(7)!.Stp);
        Assert.Equal(PortStpState.Off, bridge.Dp.Ports.Get(p2)!.Stp);

        // Out of range: p2 takes no part (it forwards), p1 runs the spanning tree alone.
        ModifyPort("P-p2", "stp-port-num", "256");
        config = VswitchConfig.Read(db)!;
        Assert.Equal("refused: not an integer from 1 to 255 (the port takes no part in spanning tree)", config.Bridges[0].PortStatus[Id("P-p2")]["stp-port-num"]);
        bridge.Apply(config.Bridges[0]);
        Assert.DoesNotContain("stp_enable", OvsdbDatum.StringMap(BridgeRow(StatusWriter.Operations(db, config, [bridge]))["status"]).Keys);
        Assert.Equal(PortStpState.Listening, bridge.Dp.Ports.Get(7)!.Stp);
        Assert.Equal(PortStpState.Excluded, bridge.Dp.Ports.Get(p2)!.Stp);
        Assert.Contains("  p1         designated listening  4     128.9\n", bridge.StpShow(), StringComparison.Ordinal);

        // The same number twice: the port with the lower OpenFlow number keeps it, the other takes no part.
        ModifyPort("P-p2", "stp-port-num", "9");
        config = VswitchConfig.Read(db)!;
        bridge.Apply(config.Bridges[0]);
        ushort keeps = Math.Min((ushort)7, p2), loses = Math.Max((ushort)7, p2);
        Assert.Equal(PortStpState.Listening, bridge.Dp.Ports.Get(keeps)!.Stp);
        Assert.Equal(PortStpState.Excluded, bridge.Dp.Ports.Get(loses)!.Stp);
    }

    /// <summary>A taking-part Port's status has stp_sec_in_state (whole seconds in its state, as Open vSwitch writes it),
    /// and its BPDU counts move the status stamp, so the once-a-second round writes its statistics when they change;
    /// the stamp itself allocates nothing.</summary>
    [Fact]
    public void Stp_SecondsInStateWritten_BpduCountsMoveTheStatusStamp()
    {
        var db = Database();
        ModifyBridge(db, new JsonObject { ["other_config"] = new JsonArray("map", new JsonArray(new JsonArray("stp-hello-time", "1000"))) });
        var config = VswitchConfig.Read(db)!;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var bridge = Bridge.Create(config.Bridges[0], Host());
        var p1 = Id("P-p1");
        Assert.True(uint.TryParse(bridge.PortStatus[p1].Status["stp_sec_in_state"], out _));
        Assert.Equal("listening", bridge.PortStatus[p1].Status["stp_state"]);

        // A stamp with the count it saw (read before and after it the same: counts only grow).
        (long Tx, ulong Stamp)? Snapshot()
        {
            long before = bridge.PortStatus[p1].Statistics["stp_tx_count"];
            var stamp = new StatusStamp();
            bridge.AddStatusStamp(ref stamp);
            return bridge.PortStatus[p1].Statistics["stp_tx_count"] == before ? (before, stamp.Value) : null;
        }
        (long Tx, ulong Stamp)? first = null;
        while (first is null) first = Snapshot();
        (long Tx, ulong Stamp)? later = null;
        for (int i = 0; i < 100 && (later is not { } l || l.Tx == first.Value.Tx); i++)
        {
            Thread.Sleep(50);
            later = Snapshot();
        }
        Assert.NotNull(later);
        Assert.NotEqual(first.Value.Tx, later.Value.Tx);   // a hello time passed: BPDUs went out
        Assert.NotEqual(first.Value.Stamp, later.Value.Stamp);

        var s = new StatusStamp();
        Assert.Equal(0, AllocationMeter.SteadyState(() => { for (int i = 0; i < 100; i++) bridge.AddStatusStamp(ref s); }));

        while (clock.ElapsedMilliseconds < 1100) Thread.Sleep(50);
        Assert.Equal("listening", bridge.PortStatus[p1].Status["stp_state"]);   // forward-delay is 15 s
        Assert.True(uint.Parse(bridge.PortStatus[p1].Status["stp_sec_in_state"], System.Globalization.CultureInfo.InvariantCulture) >= 1);
    }

    /// <summary>stp/tcn's work: a topology change forced on the root sets its topology change flag and flushes the MAC
    /// table at once; a bridge running no spanning tree has none to force.</summary>
    [Fact]
    public void Stp_ForcedTopologyChange_FlagsItAndFlushesTheMacTable()
    {
        var db = Database();
        var config = VswitchConfig.Read(db)!;
        using var bridge = Bridge.Create(config.Bridges[0], Host());
        Assert.False(bridge.StpSignalsTopologyChange);
        bridge.Dp.MacTable.Learn(new MacAddress(0x02_00_00_00_00_aaUL), 0, 7, bridge.Dp.Clock.NowNanos);
        Assert.Equal(1, bridge.Dp.MacTable.Count);
        Assert.True(bridge.StpTopologyChange());
        Assert.True(bridge.StpSignalsTopologyChange);
        Assert.Equal(0, bridge.Dp.MacTable.Count);

        ModifyBridge(db, new JsonObject { ["stp_enable"] = false });
        bridge.Apply(VswitchConfig.Read(db)!.Bridges[0]);
        Assert.False(bridge.StpTopologyChange());
    }

    [Fact]
    public void SystemPorts_TakeASmallRingByDefault_AndTheOneOptionsRxRingSizeAsksFor()
    {
        var db = Database();
        void ModifyInterface(string iface, string ring)
            => Assert.True(db.TryApplyUpdate2(new JsonObject { ["Interface"] = new JsonObject { [Id(iface).ToString()] = new JsonObject { ["modify"] = new JsonObject
            {
                ["options"] = new JsonArray("map", new JsonArray(new JsonArray("rx_ring_size", ring))),
            } } } }, out var e), e);
        var rings = new Dictionary<string, (int Size, int? GrowsTo)>();
        var host = Host() with
        {
            OpenPort = r =>
            {
                if (r.Kind == PortKind.AfPacket) rings[r.Name] = (r.AfPacket!.RingSize, r.AfPacket.MaxRingSize);
                return MemoryPortFor(r);
            },
        };
        ModifyInterface("I-p1", "4194304");
        using var bridge = Bridge.Create(VswitchConfig.Read(db)!.Bridges[0], host);
        Assert.Equal((4 << 20, (int?)null), rings["p1"]);
        Assert.Equal((1 << 20, (int?)(32 << 20)), rings["p2"]);   // none asked: the default ring, which grows while it loses frames
        Assert.Equal(1 << 20, Bridge.DefaultRxRingSize);
        Assert.Equal(32 << 20, Bridge.MaxGrownRxRingSize);

        // A changed size reopens the port with it; a size that is none is the interface's error, the rest stays.
        ModifyInterface("I-p1", "2097152");
        ModifyInterface("I-p2", "lots");
        bridge.Apply(VswitchConfig.Read(db)!.Bridges[0]);
        Assert.Equal((2 << 20, (int?)null), rings["p1"]);
        Assert.Equal("p1", bridge.Dp.Ports.Get(7)!.Port.Info.Name);
        var p2 = bridge.Interfaces().Single(s => s.Uuid == Id("I-p2")).Status;
        Assert.Equal(-1, p2.Ofport);
        Assert.Equal($"options:rx_ring_size 'lots' is not a size in bytes from {Bridge.MinRxRingSize} to {Bridge.MaxRxRingSize}", p2.Error);
    }

    private void ModifyBridge(OvsdbReplica db, JsonObject columns)
        => Assert.True(db.TryApplyUpdate2(new JsonObject { ["Bridge"] = new JsonObject { [Id("br0").ToString()] = new JsonObject { ["modify"] = columns } } }, out var e), e);

    private static JsonObject BridgeRow(List<JsonNode> ops)
        => Assert.Single(ops.Cast<JsonObject>(), o => (string)o["table"]! == "Bridge")["row"]!.AsObject();

    private static void ApplyWritten(OvsdbReplica db, List<JsonNode> ops)
    {
        foreach (var op in ops.Cast<JsonObject>())
        {
            string table = (string)op["table"]!;
            var uuid = OvsdbDatum.Uuids(op["where"]![0]![2]).Single();
            Assert.True(db.TryApplyUpdate(new JsonObject { [table] = new JsonObject { [uuid.ToString()] = new JsonObject { ["new"] = op["row"]!.DeepClone() } } }, out var e), e);
        }
    }

    [Fact]
    public void TunnelInterfaces_BecomeTunnelPorts_FromOvsOptions()
    {
        var config = VswitchConfig.Read(Database())!.Bridges[0];
        var options = new Dictionary<string, string> { ["remote_ip"] = "192.168.9.2", ["local_ip"] = "192.168.9.1", ["key"] = "100", ["dst_port"] = "8472" };
        var vx = config.Interfaces.Single(i => i.Name == "vx") with { Options = options, OfportRequest = 9 };
        var gre = new InterfaceConfig(Guid.NewGuid(), "gr", "gre", null, new Dictionary<string, string> { ["remote_ip"] = "192.168.9.3", ["local_ip"] = "192.168.9.1", ["key"] = "flow" });
        var noLocal = new InterfaceConfig(Guid.NewGuid(), "nl", "vxlan", null, new Dictionary<string, string> { ["remote_ip"] = "192.168.9.4" });
        // One underlay (p1) besides the tunnels.
        var br = config with { Interfaces = [config.Interfaces.Single(i => i.Name == "br0"), config.Interfaces.Single(i => i.Name == "p1"), vx, gre, noLocal] };
        using var bridge = Bridge.Create(br, Host());
        var status = bridge.Interfaces().ToDictionary(s => s.Uuid, s => s.Status);
        Assert.Equal(9, status[vx.Uuid].Ofport);
        var tunnel = Assert.IsType<Softswitch.Datapath.Tunnels.TunnelPort>(bridge.Dp.Ports.Get(9)!.Port);
        Assert.Equal((100u, (ushort)8472), (tunnel.Config.Key, tunnel.Config.DstPort));
        Assert.True(status[gre.Uuid].Ofport > 0, status[gre.Uuid].Error);
        Assert.True(((Softswitch.Datapath.Tunnels.TunnelPort)bridge.Dp.Ports.Get((ushort)status[gre.Uuid].Ofport)!.Port).Config.FlowKey);
        Assert.Equal(-1, status[noLocal.Uuid].Ofport);
        Assert.Contains("options:local_ip is missing", status[noLocal.Uuid].Error);

        // A changed option reopens the tunnel with it.
        var changed = br with { Interfaces = [.. br.Interfaces.Select(i => i.Uuid == vx.Uuid ? vx with { Options = new Dictionary<string, string>(options) { ["key"] = "200" } } : i)] };
        bridge.Apply(changed);
        Assert.Equal(200u, ((Softswitch.Datapath.Tunnels.TunnelPort)bridge.Dp.Ports.Get(9)!.Port).Config.Key);
    }

    /// <summary>A tunnel's options reach its config as they are, never through a spec text parsed back: a value with a
    /// comma is that option's bad value, not a second option (tos "0,nexthop=..." once set a next hop through the spec).</summary>
    [Fact]
    public void TunnelOptions_AreValues_NotSpecText()
    {
        var config = VswitchConfig.Read(Database())!.Bridges[0];
        var injected = new InterfaceConfig(Guid.NewGuid(), "vi", "vxlan", 15, new Dictionary<string, string>
        {
            ["remote_ip"] = "192.168.9.2", ["local_ip"] = "192.168.9.1", ["tos"] = "0,nexthop=192.168.9.9",
        });
        var br = config with { Interfaces = [config.Interfaces.Single(i => i.Name == "br0"), config.Interfaces.Single(i => i.Name == "p1"), injected] };
        using var bridge = Bridge.Create(br, Host());
        var status = bridge.Interfaces().Single(s => s.Uuid == injected.Uuid).Status;
        Assert.Equal(-1, status.Ofport);
        Assert.Equal("type vxlan: tos='0,nexthop=192.168.9.9' is not in 0..255", status.Error);
        Assert.Null(bridge.Dp.Ports.Get(15));
    }

    /// <summary>type=geneve with Open vSwitch's options (key, dst_port, csum, df_default, tos, ttl); an option not
    /// served is named in the open port's error column, a bad value keeps the port closed with the reason.</summary>
    [Fact]
    public void GeneveInterfaces_BecomeGenevePorts_UnservedOptionsNamed()
    {
        var config = VswitchConfig.Read(Database())!.Bridges[0];
        var ge = new InterfaceConfig(Guid.NewGuid(), "ge", "geneve", 12, new Dictionary<string, string>
        {
            ["remote_ip"] = "192.168.9.2", ["local_ip"] = "192.168.9.1", ["key"] = "5000", ["csum"] = "true", ["df_default"] = "false", ["tos"] = "16", ["ttl"] = "32",
        });
        var defaults = new InterfaceConfig(Guid.NewGuid(), "gd", "geneve", 13, new Dictionary<string, string>
        {
            ["remote_ip"] = "192.168.9.3", ["local_ip"] = "192.168.9.1", ["egress_pkt_mark"] = "7", ["out_key"] = "9",
        });
        var bad = new InterfaceConfig(Guid.NewGuid(), "gb", "geneve", 14, new Dictionary<string, string>
        {
            ["remote_ip"] = "192.168.9.4", ["local_ip"] = "192.168.9.1", ["csum"] = "maybe",
        });
        var br = config with { Interfaces = [config.Interfaces.Single(i => i.Name == "br0"), config.Interfaces.Single(i => i.Name == "p1"), ge, defaults, bad] };
        using var bridge = Bridge.Create(br, Host());
        var status = bridge.Interfaces().ToDictionary(s => s.Uuid, s => s.Status);

        Assert.Equal(12, status[ge.Uuid].Ofport);
        Assert.Null(status[ge.Uuid].Error);
        var c = Assert.IsType<Softswitch.Datapath.Tunnels.TunnelPort>(bridge.Dp.Ports.Get(12)!.Port).Config;
        Assert.Equal(Softswitch.Datapath.Tunnels.TunnelKind.Geneve, c.Kind);
        Assert.Equal((5000u, (ushort)6081, true, false, (byte)16, (byte)32), (c.Key, c.DstPort, c.UdpChecksum, c.DontFragment, c.Tos, c.Ttl));

        Assert.Equal(13, status[defaults.Uuid].Ofport);
        var d = ((Softswitch.Datapath.Tunnels.TunnelPort)bridge.Dp.Ports.Get(13)!.Port).Config;
        Assert.Equal((0u, true, false, true), (d.Key, d.HasKey, d.UdpChecksum, d.DontFragment));   // Open vSwitch's defaults: key 0, no checksum, DF
        Assert.Equal("options not served for type geneve (the port is served without them): egress_pkt_mark, out_key", status[defaults.Uuid].Error);

        Assert.Equal(-1, status[bad.Uuid].Ofport);
        Assert.Contains("csum='maybe' is not true or false", status[bad.Uuid].Error);
        Assert.Equal("up", status[ge.Uuid].AdminState);
        Assert.Contains("geneve", StatusWriter.InterfaceTypes);
    }

    [Fact]
    public void Bridges_ShareOneSetOfForwardingThreads()
    {
        var db = Database();
        var config = VswitchConfig.Read(db)!;
        using var threads = new ForwardingThreads(2, busyPollMicros: 0);
        var host = Host() with { Threads = threads };
        var second = config.Bridges[0] with { Uuid = Guid.NewGuid(), Name = "br1", Interfaces = [] };
        using (var br0 = Bridge.Create(config.Bridges[0], host))
        {
            using var br1 = Bridge.Create(second, host);
            Assert.Equal(2, threads.Attached);
            Assert.Equal(2, br0.Dp.Forwarders.Count);
            Assert.Equal(2, br1.Dp.Forwarders.Count);
        }
        Assert.Equal(0, threads.Attached);
    }

    [Fact]
    public void ControllerSettings_AndDpDesc_ReachTheAgent_AndInBandIsSaid()
    {
        var db = Database();
        var modify = new JsonObject
        {
            ["Controller"] = new JsonObject { [Id("c").ToString()] = new JsonObject { ["modify"] = new JsonObject
            {
                ["inactivity_probe"] = 3000, ["max_backoff"] = 2000, ["connection_mode"] = "in-band", ["controller_rate_limit"] = 500,
            } } },
            ["Bridge"] = new JsonObject { [Id("br0").ToString()] = new JsonObject { ["modify"] = new JsonObject
            {
                ["other_config"] = new JsonArray("map", new JsonArray(new JsonArray("dp-desc", "rack 7"))),
            } } },
        };
        Assert.True(db.TryApplyUpdate2(modify, out var e), e);
        var br = VswitchConfig.Read(db)!.Bridges[0];
        var c = Assert.Single(br.Controllers);
        Assert.Equal((3000L, 2000L, "in-band"), (c.InactivityProbeMs, c.MaxBackoffMs, c.ConnectionMode));
        Assert.Contains(br.Refused, r => r.Contains("connection_mode=in-band", StringComparison.Ordinal));
        Assert.Contains(br.Refused, r => r.Contains("controller_rate_limit=500", StringComparison.Ordinal));
        using var bridge = Bridge.Create(br, Host());
        Assert.Equal(TimeSpan.FromSeconds(3), bridge.Agent.Options.InactivityProbe);
        Assert.Equal(TimeSpan.FromSeconds(2), bridge.Agent.Options.MaxBackoff);
        Assert.Equal("rack 7", bridge.Agent.Switch.Description.Datapath);

        // inactivity_probe 0: no probing; the agent is remade when a controller setting changes.
        var off = br with { Controllers = [c with { InactivityProbeMs = 0 }] };
        bridge.Apply(off);
        Assert.Equal(TimeSpan.Zero, bridge.Agent.Options.InactivityProbe);
    }

    [Fact]
    public void ProtocolsColumn_TakesOpenFlow14And15_EmptyOrUnspokenIsTheDefault()
    {
        var br = VswitchConfig.Read(Database())!.Bridges[0];
        using var bridge = Bridge.Create(br, Host());
        Assert.Equal((1u << 1) | (1u << 4), bridge.Agent.Options.Versions); // the fixture lists OpenFlow10 and OpenFlow13
        bridge.Apply(br with { Protocols = ["OpenFlow14", "OpenFlow10"] });
        Assert.Equal((1u << 1) | (1u << 5), bridge.Agent.Options.Versions);
        // An empty column is the default set (1.0, 1.3 and 1.4); so is one that names only versions not spoken (logged).
        bridge.Apply(br with { Protocols = [] });
        Assert.Equal((1u << 1) | (1u << 4) | (1u << 5), bridge.Agent.Options.Versions); // Open vSwitch's default: 1.0 to 1.4
        Assert.Equal(Softswitch.OfAgent.AgentOptions.OvsBridgeDefaultVersions, bridge.Agent.Options.Versions);
        bridge.Apply(br with { Protocols = ["OpenFlow12"] });
        Assert.Equal(Softswitch.OfAgent.AgentOptions.OvsBridgeDefaultVersions, bridge.Agent.Options.Versions);
        // OpenFlow 1.5 is spoken when named.
        bridge.Apply(br with { Protocols = ["OpenFlow15", "OpenFlow13"] });
        Assert.Equal((1u << 4) | (1u << 6), bridge.Agent.Options.Versions);
    }

    [Theory]
    [InlineData("n-pmd-threads", "3", 3, null)]
    [InlineData("pmd-cpu-mask", "0x6", 2, "1,2")]
    [InlineData("pmd-cpu-mask", "1", 1, "0")]
    public void OtherConfig_ChoosesTheForwardingThreads(string key, string value, int count, string? cpus)
    {
        var db = Database();
        var modify = new JsonObject { ["Open_vSwitch"] = new JsonObject { [Id("root").ToString()] = new JsonObject { ["modify"] = new JsonObject
        {
            ["other_config"] = new JsonArray("map", new JsonArray(new JsonArray(key, value))),
        } } } };
        Assert.True(db.TryApplyUpdate2(modify, out var e), e);
        var asked = VswitchConfig.Read(db)!.ForwardingThreads(out var error);
        Assert.Null(error);
        Assert.Equal(count, asked!.Value.Count);
        Assert.Equal(cpus, asked.Value.Cpus is null ? null : string.Join(',', asked.Value.Cpus));
    }

    [Theory]
    [InlineData("n-pmd-threads", "0")]
    [InlineData("n-pmd-threads", "many")]
    [InlineData("pmd-cpu-mask", "0x0")]
    [InlineData("pmd-cpu-mask", "zz")]
    public void OtherConfig_BadThreadSettings_AreSaid(string key, string value)
    {
        var db = Database();
        var modify = new JsonObject { ["Open_vSwitch"] = new JsonObject { [Id("root").ToString()] = new JsonObject { ["modify"] = new JsonObject
        {
            ["other_config"] = new JsonArray("map", new JsonArray(new JsonArray(key, value))),
        } } } };
        Assert.True(db.TryApplyUpdate2(modify, out var e), e);
        Assert.Null(VswitchConfig.Read(db)!.ForwardingThreads(out var error));
        Assert.Contains(key, error);
    }

    private RxqSchedulingConfig RxqConfig(List<string> errors, params string[] pairs)
    {
        var db = Database();
        var map = new JsonArray();
        for (int i = 0; i < pairs.Length; i += 2) map.Add(new JsonArray(pairs[i], pairs[i + 1]));
        var modify = new JsonObject { ["Open_vSwitch"] = new JsonObject { [Id("root").ToString()] = new JsonObject { ["modify"] = new JsonObject
        {
            ["other_config"] = new JsonArray("map", map),
        } } } };
        Assert.True(db.TryApplyUpdate2(modify, out var e), e);
        return VswitchConfig.Read(db)!.RxqScheduling(errors);
    }

    /// <summary>Open_vSwitch other_config places the forwarding threads' receive queues as Open vSwitch's dpif-netdev
    /// reads it: pmd-rxq-assign, pmd-auto-lb and its thresholds, with Open vSwitch's defaults.</summary>
    [Fact]
    public void OtherConfig_PlacesTheReceiveQueues()
    {
        var errors = new List<string>();
        Assert.Equal(new RxqSchedulingConfig(RxqAssignment.Cycles, false, 95, 25, 1), RxqConfig(errors));
        Assert.Equal(new RxqSchedulingConfig(RxqAssignment.Group, true, 80, 10, 5), RxqConfig(errors,
            "pmd-rxq-assign", "group", "pmd-auto-lb", "true", "pmd-auto-lb-load-threshold", "80",
            "pmd-auto-lb-improvement-threshold", "10", "pmd-auto-lb-rebal-interval", "5"));
        Assert.Equal(new RxqSchedulingConfig(RxqAssignment.RoundRobin, false, 0, 100, 1), RxqConfig(errors,
            "pmd-rxq-assign", "roundrobin", "pmd-auto-lb", "false", "pmd-auto-lb-load-threshold", "0",
            "pmd-auto-lb-improvement-threshold", "100", "pmd-auto-lb-rebal-interval", "0"));
        Assert.Equal(new RxqSchedulingConfig(RxqAssignment.Cycles, false, 95, 25, 1), RxqConfig(errors, "pmd-rxq-assign", "cycles"));
        Assert.Empty(errors);
    }

    [Fact]
    public void OtherConfig_BadReceiveQueueSettings_AreSaid_AndReadAsTheDefaults()
    {
        var errors = new List<string>();
        var rxq = RxqConfig(errors, "pmd-rxq-assign", "fastest", "pmd-auto-lb", "yes", "pmd-auto-lb-load-threshold", "101",
                            "pmd-auto-lb-improvement-threshold", "many", "pmd-auto-lb-rebal-interval", "20001");
        Assert.Equal(new RxqSchedulingConfig(RxqAssignment.Cycles, false, 95, 25, 1), rxq);
        Assert.Equal(5, errors.Count);
        foreach (var key in new[] { "pmd-rxq-assign", "pmd-auto-lb", "pmd-auto-lb-load-threshold", "pmd-auto-lb-improvement-threshold", "pmd-auto-lb-rebal-interval" })
            Assert.Contains(errors, e => e.StartsWith($"other_config:{key} ", StringComparison.Ordinal));
    }

    /// <summary>Interfaces of type afxdp open with the port options their row asks for; a bad value is the
    /// interface's error (not opened, tried again when the row changes); an option not read is said in the error column
    /// of the open port; a change of options reopens the port.</summary>
    [Fact]
    public void AfXdpInterfaces_OpenWithTheirOptions_ABadValueIsTheirError()
    {
        var db = Database();
        void SetInterface(string iface, string type, params (string Key, string Value)[] options)
            => Assert.True(db.TryApplyUpdate2(new JsonObject { ["Interface"] = new JsonObject { [Id(iface).ToString()] = new JsonObject { ["modify"] = new JsonObject
            {
                ["type"] = type,
                ["options"] = new JsonArray("map", new JsonArray([.. options.Select(o => new JsonArray(o.Key, o.Value))])),
            } } } }, out var e), e);
        var opened = new List<(string Name, AfXdpOptions Options)>();
        var host = Host() with
        {
            OpenPort = r =>
            {
                if (r.Kind != PortKind.AfXdp) return MemoryPortFor(r);
                opened.Add((r.Name, r.AfXdp!));
                return new MemoryPort(r.Name, new MacAddress(0x02_00_00_00_00_20UL + (ulong)opened.Count));
            },
        };
        SetInterface("I-p1", "afxdp", ("xdp-mode", "generic"), ("n_rxq", "2"));
        SetInterface("I-p2", "afxdp", ("xdp-mode", "turbo"));
        using var bridge = Bridge.Create(VswitchConfig.Read(db)!.Bridges[0], host);
        var (name, options) = Assert.Single(opened);
        Assert.Equal("p1", name);
        Assert.Equal(XdpAttachMode.Generic, options.Mode);
        Assert.Equal(2, options.QueueCount);
        var status = bridge.Interfaces().ToDictionary(s => s.Uuid, s => s.Status);
        Assert.Equal(7, status[Id("I-p1")].Ofport);
        Assert.Null(status[Id("I-p1")].Error);
        Assert.Equal(-1, status[Id("I-p2")].Ofport);
        Assert.Equal("p2: could not set configuration (Invalid argument): options:xdp-mode 'turbo' is not best-effort, native-with-zerocopy, native or generic",
            status[Id("I-p2")].Error);
        Assert.Equal("afxdp", bridge.OpenPorts.Single(p => p.No == 7).Type);

        // Fixed, p2 opens; p1's new options reopen it, an option not read is in its error column while it is open.
        // (An update2 diff of a map: a pair the row holds deletes it, a new key adds it, another value replaces it.)
        SetInterface("I-p2", "afxdp", ("xdp-mode", "turbo"), ("use-need-wakeup", "false"));
        SetInterface("I-p1", "afxdp", ("xdp-mode", "native"), ("n_rxq", "2"), ("rx-frames", "2048"), ("colour", "blue"));
        bridge.Apply(VswitchConfig.Read(db)!.Bridges[0]);
        Assert.Equal(3, opened.Count);
        Assert.False(opened.Single(o => o.Name == "p2").Options.NeedWakeup);
        var p1 = opened.Last(o => o.Name == "p1").Options;
        Assert.Equal((XdpAttachMode.Native, false, 2048, (int?)null), (p1.Mode, p1.ZeroCopy, p1.RxFrames, p1.QueueCount));
        status = bridge.Interfaces().ToDictionary(s => s.Uuid, s => s.Status);
        Assert.Equal(7, status[Id("I-p1")].Ofport);
        Assert.StartsWith("options 'colour' not read by softswitch vswitchd for type afxdp", status[Id("I-p1")].Error);
        Assert.Equal(1, status[Id("I-p2")].Ofport);
        Assert.Null(status[Id("I-p2")].Error);
        Assert.Contains("afxdp", StatusWriter.InterfaceTypes);
    }

    [Theory]
    [InlineData(null, false, false)]
    [InlineData("true", true, false)]
    [InlineData("TRUE", true, false)]
    [InlineData("false", false, false)]
    [InlineData("yes", false, true)]
    public void OtherConfig_HwOffload_ReachesEveryBridge(string? value, bool on, bool said)
    {
        var db = Database();
        if (value is not null)
        {
            var modify = new JsonObject { ["Open_vSwitch"] = new JsonObject { [Id("root").ToString()] = new JsonObject { ["modify"] = new JsonObject
            {
                ["other_config"] = new JsonArray("map", new JsonArray(new JsonArray("hw-offload", value))),
            } } } };
            Assert.True(db.TryApplyUpdate2(modify, out var e), e);
        }
        var config = VswitchConfig.Read(db)!;
        Assert.Equal(on, config.HwOffload(out var error));
        Assert.Equal(on, config.Bridges[0].HwOffload);
        Assert.Equal(said, error is not null);
        if (said) Assert.Equal($"other_config:hw-offload '{value}' is not true or false: read as false", error);
    }

    /// <summary>hw-offload=true on a bridge without AF_XDP ports: nothing to attach, every flow stays in software.</summary>
    [Fact]
    public void HwOffload_WithoutAfXdpPorts_LeavesTheFlowsInSoftware()
    {
        var db = Database();
        var config = VswitchConfig.Read(db)!.Bridges[0] with { HwOffload = true };
        using var bridge = Bridge.Create(config, Host());
        Assert.Null(bridge.Offload);
        Assert.Null(bridge.DescribeOffload());
    }

    /// <summary>One Interface row referenced by two Port rows (one ovs-vsctl transaction makes it) and a second row of an
    /// interface's name: read and applied without a fault; the row is served once, the second reference is said, the
    /// other row of the name has its error (ofport -1), as Open vSwitch's bridge ignores them.</summary>
    [Fact]
    public void InterfaceReferencedTwice_IsServedOnce_AndASecondRowOfItsName_HasItsError()
    {
        var db = Database();
        Insert(db, "Port", "P-dup", new JsonObject { ["name"] = "dup", ["interfaces"] = Ref(Id("I-p1")) });
        Insert(db, "Interface", "I-p2b", new JsonObject { ["name"] = "p2", ["type"] = "" });
        Insert(db, "Port", "P-p2b", new JsonObject { ["name"] = "p2b", ["interfaces"] = Ref(Id("I-p2b")) });
        ModifyBridge(db, new JsonObject { ["ports"] = Refs(Id("P-dup"), Id("P-p2b")) });   // added (an update2 modify of a set is its difference)
        var config = VswitchConfig.Read(db)!;
        var br = config.Bridges[0];
        Assert.Single(br.Interfaces, i => i.Uuid == Id("I-p1"));
        Assert.Contains(br.Refused, r => r.StartsWith("interface p1: also referenced by port ", StringComparison.Ordinal));
        using var bridge = Bridge.Create(br, Host());
        var status = bridge.Interfaces().ToDictionary(s => s.Uuid, s => s.Status);
        Assert.Equal(7, status[Id("I-p1")].Ofport);
        // Of the two rows named p2, the first by its port's row is served, the other refused.
        var (served, other) = status[Id("I-p2")].Ofport > 0 ? (Id("I-p2"), Id("I-p2b")) : (Id("I-p2b"), Id("I-p2"));
        Assert.True(status[served].Ofport > 0);
        Assert.Equal(-1, status[other].Ofport);
        Assert.StartsWith("another Interface row named p2 is served", status[other].Error);
        bridge.Apply(VswitchConfig.Read(db)!.Bridges[0]);
        Assert.Equal(status[served].Ofport, bridge.Interfaces().Single(s => s.Uuid == served).Status.Ofport);

        // A second Bridge row of a bridge's name is not served: its status says so.
        Insert(db, "Bridge", "br0b", new JsonObject { ["name"] = "br0" });
        Assert.True(db.TryApplyUpdate2(new JsonObject { ["Open_vSwitch"] = new JsonObject { [Id("root").ToString()] = new JsonObject { ["modify"] = new JsonObject { ["bridges"] = Ref(Id("br0b")) } } } }, out var e), e);
        config = VswitchConfig.Read(db)!;
        var bridgeRow = Assert.Single(config.Bridges);
        var (ignored, why) = Assert.Single(config.Ignored);
        Assert.NotEqual(bridgeRow.Uuid, ignored);
        Assert.Equal("bridge br0 specified twice (another Bridge row has this name): this row is not served", why);
    }

    /// <summary>A passive controller whose port another process holds: the bridge is made all the same (its management
    /// socket served), the Controller row's status says why, and once the port is free the next apply listens on it.</summary>
    [Fact]
    public void PassiveControllerWhosePortIsTaken_IsLeftOutAndSaid_AndServedOnceFree()
    {
        var db = Database();
        var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        try
        {
            int port = ((IPEndPoint)holder.LocalEndpoint).Port;
            string target = $"ptcp:{port}:127.0.0.1";
            Assert.True(db.TryApplyUpdate2(new JsonObject { ["Controller"] = new JsonObject { [Id("c").ToString()] = new JsonObject { ["modify"] = new JsonObject { ["target"] = target } } } }, out var e), e);
            var config = VswitchConfig.Read(db)!;
            using var bridge = Bridge.Create(config.Bridges[0], Host());
            Assert.True(File.Exists(Path.Combine(_run.FullName, "br0.mgmt")), "no BRIDGE.mgmt");
            Assert.NotNull(bridge.Dp.Ports.Get(7));
            Assert.Contains("address already in use", bridge.ControllerError(target));
            Assert.Equal((false, (string?)null), bridge.Controller(target));
            var row = Assert.Single(StatusWriter.Operations(db, config, [bridge]).Cast<JsonObject>(), o => (string)o["table"]! == "Controller")["row"]!;
            Assert.Contains("address already in use", OvsdbDatum.StringMap(row["status"])["last_error"]);

            holder.Stop();
            bridge.Apply(config.Bridges[0]);
            Assert.Null(bridge.ControllerError(target));
            Assert.Contains(bridge.Agent.ListenEndpoints, ep => ep.Port == port);
            row = Assert.Single(StatusWriter.Operations(db, config, [bridge]).Cast<JsonObject>(), o => (string)o["table"]! == "Controller")["row"]!;
            Assert.Empty(OvsdbDatum.StringMap(row["status"]));
        }
        finally
        {
            holder.Stop();
        }
    }

    /// <summary>The management socket held by a live process: the bridge is made and forwards, its status says why
    /// tools cannot reach it, and once the socket is free the next apply serves it.</summary>
    [Fact]
    public void ManagementSocketHeld_IsSaidInTheBridgeStatus_AndServedOnceFree()
    {
        string path = Path.Combine(_run.FullName, "br0.mgmt");
        var holder = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        holder.Bind(new UnixDomainSocketEndPoint(path));
        holder.Listen();
        var config = VswitchConfig.Read(Database())!.Bridges[0];
        using var bridge = Bridge.Create(config, Host());
        Assert.NotNull(bridge.Dp.Ports.Get(7));
        Assert.Equal($"cannot listen on punix:{path}: another process answers there", bridge.Status["mgmt"]);
        holder.Dispose();
        bridge.Apply(config);
        Assert.False(bridge.Status.ContainsKey("mgmt"));
        using var tool = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        tool.Connect(new UnixDomainSocketEndPoint(path));
    }

    /// <summary>
    /// A change that remakes the bridge's OpenFlow switch (fail mode, with a controller configured) keeps what the
    /// controller installed: groups and meters read back and usable (MODIFY, a flow naming the meter), the flow using
    /// both, the fragment handling. Without a controller a fail mode change deletes every flow, group and meter, as
    /// Open vSwitch's connmgr does.
    /// </summary>
    [Fact]
    public void RemadeSwitch_KeepsGroupsMetersFlowsAndFragments_UnlessTheFailModeChangesWithoutController()
    {
        var config = VswitchConfig.Read(Database())!.Bridges[0] with { FailMode = null };
        using var bridge = Bridge.Create(config, Host());
        var sw = bridge.Agent.Switch;
        var bucket = new OfBucket(0, OfPort.Any, GroupModRequest.AnyGroup, new[] { OfAction.Output(7) });
        Assert.Equal(OfError.None, sw.GroupMod(new GroupModRequest(GroupModCommand.Add, OfGroupType.All, 1, [bucket])));
        Assert.Equal(OfError.None, sw.MeterMod(new MeterModRequest(MeterModCommand.Add, OfMeterFlags.Pktps, 1, [new OfMeterBand(OfMeterBandType.Drop, 1000, 0)])));
        var ins = new OfInstructions(new[] { OfAction.Group(1) }, Meter: 1);
        Assert.Equal(OfError.None, sw.FlowMod(new FlowModRequest(FlowModCommand.Add, OfMatch.Any, 5, ins, Rules: MatchRules.OpenFlow13)));
        Assert.Equal(OfError.None, sw.SetFragments(FragmentHandling.Drop));

        bridge.Apply(config with { FailMode = "secure" });
        var remade = bridge.Agent.Switch;
        Assert.NotSame(sw, remade);
        Assert.Equal(1u, Assert.Single(remade.GroupDescriptions()).GroupId);
        Assert.Equal(1u, Assert.Single(remade.MeterConfigurations()).MeterId);
        Assert.Equal(1, FlowCount(bridge));
        Assert.Equal(FragmentHandling.Drop, remade.Fragments);
        Assert.Equal(OfError.None, remade.GroupMod(new GroupModRequest(GroupModCommand.Modify, OfGroupType.All, 1, [bucket])));
        Assert.Equal(OfError.None, remade.FlowMod(new FlowModRequest(FlowModCommand.Add, OfMatch.Any, 6, ins, Rules: MatchRules.OpenFlow13)));
        Assert.Equal(2, FlowCount(bridge));

        // No controller: the fail mode change flushes them all.
        bridge.Apply(config with { FailMode = "standalone", Controllers = [] });
        Assert.Empty(bridge.Agent.Switch.GroupDescriptions());
        Assert.Empty(bridge.Agent.Switch.MeterConfigurations());
        Assert.Equal(0, FlowCount(bridge));
    }

    private static int FlowCount(Bridge bridge)
    {
        var flows = new List<Softswitch.Datapath.Flow.FlowEntry>();
        bridge.Flows.Collect(Softswitch.Datapath.Flow.FlowMatch.All, PortNumber.None, false, flows);
        return flows.Count;
    }

    /// <summary>
    /// Open_vSwitch other_config:flow-restore-wait=true (ovs-ctl restart sets it before it starts the daemon): the
    /// bridge is made with its ports and management socket, takes flows from a tool, and connects to no controller;
    /// once the key is removed the next apply connects to the controller and keeps every flow restored meanwhile.
    /// </summary>
    [Fact]
    public void FlowRestoreWait_HoldsTheControllerBack_UntilRemoved_KeepingTheFlows()
    {
        var controller = new TcpListener(IPAddress.Parse("127.83.86.2"), 0);
        controller.Start();
        try
        {
            var db = Database();
            string target = $"tcp:127.83.86.2:{((IPEndPoint)controller.LocalEndpoint).Port}";
            Assert.True(db.TryApplyUpdate2(new JsonObject
            {
                ["Controller"] = new JsonObject { [Id("c").ToString()] = new JsonObject { ["modify"] = new JsonObject { ["target"] = target } } },
                ["Open_vSwitch"] = new JsonObject { [Id("root").ToString()] = new JsonObject { ["modify"] = new JsonObject { ["other_config"] = StringMap(("flow-restore-wait", "true")) } } },
            }, out var e), e);
            var waiting = VswitchConfig.Read(db)!;
            Assert.True(VswitchConfig.FlowRestoreWait(waiting.OtherConfig));
            Assert.True(waiting.Bridges[0].FlowRestoreWait);
            using var bridge = Bridge.Create(waiting.Bridges[0], Host());
            Assert.Empty(bridge.Agent.ActiveControllers);
            Assert.Equal((false, (string?)null), bridge.Controller(target));
            Assert.Equal(OfError.None, bridge.Agent.Switch.FlowMod(AddFlow(7, 0x02_00_00_00_00_01, 0)));

            // ovs-ctl's flow_restore_complete removes the key (the map's modify of an existing key deletes it).
            Assert.True(db.TryApplyUpdate2(new JsonObject
            {
                ["Open_vSwitch"] = new JsonObject { [Id("root").ToString()] = new JsonObject { ["modify"] = new JsonObject { ["other_config"] = StringMap(("flow-restore-wait", "true")) } } },
            }, out e), e);
            var restored = VswitchConfig.Read(db)!;
            Assert.False(restored.Bridges[0].FlowRestoreWait);
            bridge.Apply(restored.Bridges[0]);
            Assert.Equal(target, Assert.Single(bridge.Agent.ActiveControllers).Endpoint);
            Assert.True(controller.Server.Poll(TimeSpan.FromSeconds(10), SelectMode.SelectRead), "the bridge did not connect to its controller once flow-restore-wait was removed");
            controller.AcceptSocket().Dispose();
            Assert.Equal(1, FlowCount(bridge));
        }
        finally
        {
            controller.Stop();
        }
    }

    /// <summary>
    /// A bridge without controllers keeps its agent, and the management connections on it, while ovs-ctl's restart
    /// sets and removes flow-restore-wait around its restore: the key has no controller to hold back, so there is no
    /// moment the management socket refuses a tool (an agent remade closes it while the new one binds).
    /// </summary>
    [Fact]
    public void FlowRestoreWait_WithoutControllers_KeepsTheAgentAndItsManagementConnections()
    {
        var db = Database();
        var withController = VswitchConfig.Read(db)!.Bridges[0];
        Assert.NotEmpty(withController.Controllers);
        Assert.NotEqual(withController.AgentKey, (withController with { FlowRestoreWait = true }).AgentKey);   // held back: remade
        var plain = withController with { Controllers = [] };
        var waiting = plain with { FlowRestoreWait = true };
        Assert.Equal(plain.AgentKey, waiting.AgentKey);

        using var bridge = Bridge.Create(waiting, Host());
        var agent = bridge.Agent;
        using var tool = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        tool.Connect(new UnixDomainSocketEndPoint(bridge.ManagementSocket));
        tool.Send(new OfpHello().ToArray());
        Assert.True(tool.Poll(TimeSpan.FromSeconds(10), SelectMode.SelectRead), "no hello from the management socket");
        var buf = new byte[64];
        Assert.True(tool.Receive(buf) >= 8);

        bridge.Apply(plain);   // the key removed

        Assert.Same(agent, bridge.Agent);
        tool.Send(new OfpEchoRequest().ToArray());
        Assert.True(tool.Poll(TimeSpan.FromSeconds(10), SelectMode.SelectRead), "the management connection is gone");
        Assert.True(tool.Receive(buf) >= 8);
        Assert.Equal((byte)OfpType.EchoReply, buf[1]);
    }

    /// <summary>A Controller target written without its port (tcp:IP, 6653 implied) is the agent's controller at
    /// IP:6653: it shows connected once that controller answers.</summary>
    [Fact]
    public void ControllerTargetWithoutItsPort_ShowsConnected()
    {
        // A loopback address of its own, so port 6653 is free whatever else runs here.
        var address = IPAddress.Parse("127.83.86.1");
        var controller = new TcpListener(address, 6653);
        controller.Start();
        try
        {
            var config = VswitchConfig.Read(Database())!.Bridges[0];
            var target = config.Controllers[0] with { Target = "tcp:127.83.86.1" };
            using var bridge = Bridge.Create(config with { Controllers = [target] }, Host());
            using var conn = controller.AcceptSocket();
            conn.ReceiveTimeout = 10_000;
            // The switch's HELLO read whole, then HELLO (OpenFlow 1.3, no elements) back: the session is agreed.
            var hello = new byte[64];
            int got = 0;
            while (got < 8 || got < (hello[2] << 8 | hello[3])) got += conn.Receive(hello, got, hello.Length - got, SocketFlags.None);
            Assert.Equal(0, hello[1]);   // OFPT_HELLO
            conn.Send([0x04, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01]);
            Assert.True(Softswitch.TestKit.Wait.Until(() => bridge.Controller(target.Target).Connected, 10_000), "tcp:IP never showed as connected");
        }
        finally
        {
            controller.Stop();
        }
    }

    /// <summary>
    /// The device settings users give Open vSwitch are served or refused in the row's status, never ignored:
    /// mtu_request (set before a system port opens, given to an internal port's tap), mac (an internal port's),
    /// other_config:hwaddr (the LOCAL port's address), ingress policing (the datapath's port policer); mac on a system
    /// port, mtu_request on a tunnel, datapath_type dummy and bond_mode on a Port of one interface are refused
/// with the reason.
    /// </summary>
    [Fact]
    public void DeviceSettings_AreServed_OrRefusedInTheRowsStatus()
    {
        var db = Database();
        void Modify(string table, string row, JsonObject columns)
            => Assert.True(db.TryApplyUpdate2(new JsonObject { [table] = new JsonObject { [Id(row).ToString()] = new JsonObject { ["modify"] = columns } } }, out var e), e);
        Insert(db, "Interface", "I-in1", new JsonObject { ["name"] = "in1", ["type"] = "internal", ["mac"] = "02:00:00:00:00:aa", ["mtu_request"] = 1400 });
        Insert(db, "Port", "P-in1", new JsonObject { ["name"] = "in1", ["interfaces"] = Ref(Id("I-in1")) });
        ModifyBridge(db, new JsonObject
        {
            ["ports"] = Ref(Id("P-in1")),
            ["other_config"] = new JsonArray("map", new JsonArray(new JsonArray("hwaddr", "02:00:00:00:00:77"))),
            ["datapath_type"] = "dummy",
        });
        Modify("Interface", "I-p1", new JsonObject { ["mtu_request"] = 9000, ["ingress_policing_rate"] = 1000, ["ingress_policing_burst"] = 100 });
        Modify("Interface", "I-p2", new JsonObject { ["mac"] = "02:00:00:00:00:bb" });
        Modify("Interface", "I-vx", new JsonObject { ["mtu_request"] = 1450 });
        Modify("Port", "P-p2", new JsonObject { ["bond_mode"] = "active-backup" });
        var mtus = new Dictionary<string, int>();
        var internals = new Dictionary<string, (MacAddress? Mac, int Mtu)>();
        string? mtuRefusal = null;
        var host = Host() with
        {
            SetMtu = (name, mtu) =>
            {
                mtus[name] = mtu;
                return mtuRefusal;
            },
            OpenPort = r =>
            {
                if (r.Kind != PortKind.Tap) return MemoryPortFor(r);
                var (mac, mtu) = (r.Tap!.Mac, r.Tap.Mtu);
                internals[r.Name] = (mac, mtu);
                return new MemoryPort(r.Name, mac ?? new MacAddress(0x02_00_00_00_00_01UL), mtu > 0 ? mtu : 1500);
            },
        };
        var config = VswitchConfig.Read(db)!;
        var br = config.Bridges[0];
        using var bridge = Bridge.Create(br, host);
        Assert.Equal(9000, mtus["p1"]);
        Assert.Equal((new MacAddress(0x02_00_00_00_00_aaUL), 1400), internals["in1"]);
        Assert.Equal(new MacAddress(0x02_00_00_00_00_77UL), internals["br0"].Mac);
        var band = Assert.Single(bridge.Dp.PolicerOf(7)!.Bands);
        Assert.Equal((1000u, 100u), (band.Rate, band.BurstSize));
        Assert.Null(bridge.Dp.PolicerOf(1));

        var ops = StatusWriter.Operations(db, config, [bridge]).Cast<JsonObject>().ToList();
        IReadOnlyDictionary<string, string> StatusOf(string table, string row)
            => OvsdbDatum.StringMap(Assert.Single(ops, o => (string)o["table"]! == table && OvsdbDatum.Uuids(o["where"]![0]![2]).Single() == Id(row))["row"]!["status"]);
        Assert.Equal("refused: mac sets the address of internal interfaces only", StatusOf("Interface", "I-p2")["mac"]);
        Assert.Equal("refused: an interface of type vxlan has no device MTU", StatusOf("Interface", "I-vx")["mtu_request"]);
        Assert.Equal("refused: a Port of one interface is not a bond", StatusOf("Port", "P-p2")["bond_mode"]);
        var bridgeStatus = OvsdbDatum.StringMap(BridgeRow(StatusWriter.Operations(db, config, [bridge]))["status"]);
        Assert.False(bridgeStatus.ContainsKey("flow_tables"));
        Assert.StartsWith("refused: softswitch vswitchd serves netdev and system", bridgeStatus["datapath_type"]);
        Assert.Equal(1400, (long)Assert.Single(ops, o => (string)o["table"]! == "Interface" && OvsdbDatum.Uuids(o["where"]![0]![2]).Single() == Id("I-in1"))["row"]!["mtu"]!);

        // Policing off, another MTU (the port reopened with it), and an MTU the device refuses: that interface's error.
        Modify("Interface", "I-p1", new JsonObject { ["ingress_policing_rate"] = 0 });
        Modify("Interface", "I-in1", new JsonObject { ["mtu_request"] = 1300 });
        bridge.Apply(VswitchConfig.Read(db)!.Bridges[0]);
        Assert.Null(bridge.Dp.PolicerOf(7));
        Assert.Equal(1300, internals["in1"].Mtu);
        mtuRefusal = "Invalid argument";
        Modify("Interface", "I-p1", new JsonObject { ["mtu_request"] = 70 });
        bridge.Apply(VswitchConfig.Read(db)!.Bridges[0]);
        var p1 = bridge.Interfaces().Single(s => s.Uuid == Id("I-p1")).Status;
        Assert.Equal((-1L, "mtu_request 70: Invalid argument"), (p1.Ofport, p1.Error));
    }

    /// <summary>
    /// A bridge's IPFIX row is read with Open vSwitch's defaults; tunnel sampling is refused in the Bridge status while
    /// the bridge has a tunnel port (the rest served), a virtual_obs_id over 254 bytes refuses the row, a
    /// Flow_Sample_Collector_Set of the bridge is served (flow sampling on) once its IPFIX row can be, and ends with its
    /// row; the datapath samples for IPFIX at the row's rate while it is served, and stops when the row goes.
    /// </summary>
    [Fact]
    public void Ipfix_IsReadAndServed_TunnelSamplingRefused_CollectorSetsServed()
    {
        var db = Database();
        Insert(db, "IPFIX", "ipfix", new JsonObject
        {
            ["targets"] = new JsonArray("set", new JsonArray("127.0.0.1:4739", "127.0.0.1")), ["sampling"] = 64, ["obs_domain_id"] = 5,
            ["other_config"] = StringMap(("enable-output-sampling", "false"), ("virtual_obs_id", "edge")),
        });
        ModifyBridge(db, new JsonObject { ["ipfix"] = Ref(Id("ipfix")) });
        var config = VswitchConfig.Read(db)!;
        var ip = config.Bridges[0].Ipfix!;
        Assert.Equal(["127.0.0.1", "127.0.0.1:4739"], ip.Targets);
        Assert.Equal((64L, 5L, 0L, 0L, 0L), (ip.Sampling, ip.ObsDomainId, ip.ObsPointId, ip.CacheActiveTimeout, ip.CacheMaxFlows));
        Assert.Equal((true, false, "edge"), (ip.InputSampling, ip.OutputSampling, ip.VirtualObsId));
        Assert.StartsWith("refused: tunnel headers are not reported", config.Bridges[0].Status["ipfix_tunnel_sampling"], StringComparison.Ordinal);
        using (var bridge = Bridge.Create(config.Bridges[0], Host()))
        {
            Assert.Equal(64, bridge.Dp.SamplingRateOf(Datapath.Forwarding.SampleChannel.Ipfix));
            Assert.Equal(0, bridge.Dp.SamplingRate);

            Assert.True(db.TryApplyUpdate2(new JsonObject { ["IPFIX"] = new JsonObject { [Id("ipfix").ToString()] = new JsonObject
            {
                ["modify"] = new JsonObject { ["other_config"] = StringMap(("enable-tunnel-sampling", "false"), ("virtual_obs_id", new string('v', 255))) },
            } } }, out var e), e);
            config = VswitchConfig.Read(db)!;
            Assert.Null(config.Bridges[0].Ipfix);
            Assert.DoesNotContain("ipfix_tunnel_sampling", config.Bridges[0].Status.Keys);
            Assert.Equal("refused: other_config:virtual_obs_id is 255 bytes, more than 254 (Open vSwitch exports nothing then)", config.Bridges[0].Status["ipfix"]);
            bridge.Apply(config.Bridges[0]);
            Assert.Equal(0, bridge.Dp.SamplingRateOf(Datapath.Forwarding.SampleChannel.Ipfix));
        }

        // A collector set whose IPFIX row is refused gets no exporter (said in the status); served once the row is.
        Insert(db, "Flow_Sample_Collector_Set", "fscs", new JsonObject { ["id"] = 3, ["bridge"] = Ref(Id("br0")), ["ipfix"] = Ref(Id("ipfix")) });
        config = VswitchConfig.Read(db)!;
        Assert.StartsWith("refused: other_config:virtual_obs_id is 255 bytes", config.Bridges[0].Status["flow_sample_collector_set"], StringComparison.Ordinal);
        Assert.Empty(config.Bridges[0].FlowSampleSets);
        Assert.True(db.TryApplyUpdate2(new JsonObject { ["IPFIX"] = new JsonObject { [Id("ipfix").ToString()] = new JsonObject
        {
            ["modify"] = new JsonObject { ["other_config"] = StringMap(("virtual_obs_id", "vobs")), ["cache_max_flows"] = 9 },
        } } }, out var e2), e2);
        config = VswitchConfig.Read(db)!;
        var set = Assert.Single(config.Bridges[0].FlowSampleSets);
        Assert.Equal((3L, 9L, "vobs"), (set.Id, set.Ipfix.CacheMaxFlows, set.Ipfix.VirtualObsId));
        Assert.DoesNotContain("flow_sample_collector_set", config.Bridges[0].Status.Keys);
        using (var bridge = Bridge.Create(config.Bridges[0], Host()))
        {
            Assert.True(bridge.Dp.FlowSampling);
            Assert.True(db.TryApplyUpdate2(new JsonObject { ["Flow_Sample_Collector_Set"] = new JsonObject { [Id("fscs").ToString()] = new JsonObject { ["delete"] = null } } }, out var e3), e3);
            config = VswitchConfig.Read(db)!;
            Assert.Empty(config.Bridges[0].FlowSampleSets);
            bridge.Apply(config.Bridges[0]);
            Assert.False(bridge.Dp.FlowSampling);
        }
    }

    /// <summary>The manual's list of the columns the daemon reads is the code's (<see cref="VswitchConfig.ReadColumns"/>).</summary>
    [Fact]
    public void Manual_ListsTheColumnsTheDaemonReads()
    {
        string manual = File.ReadAllText(Path.Combine(RepoRoot(), "docs", "manual.md"));
        const string Start = "The columns it reads:";
        int at = manual.IndexOf(Start, StringComparison.Ordinal);
        Assert.True(at >= 0, "docs/manual.md has no list of the columns vswitchd reads");
        int end = manual.IndexOf(". ", at, StringComparison.Ordinal);
        string list = manual[(at + Start.Length)..end].Replace("\n", " ", StringComparison.Ordinal);
        var documented = new Dictionary<string, string[]>();
        foreach (var part in list.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            int colon = part.IndexOf(':', StringComparison.Ordinal);
            string table = part[..colon].Trim().Trim('`');
            documented[table] = [.. part[(colon + 1)..].Split([',', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries).Select(c => c.Trim('`'))];
        }
        Assert.Equal(VswitchConfig.ReadColumns.Keys.Order(StringComparer.Ordinal), documented.Keys.Order(StringComparer.Ordinal));
        foreach (var (table, columns) in VswitchConfig.ReadColumns)
            Assert.Equal(columns.Order(StringComparer.Ordinal), documented[table].Order(StringComparer.Ordinal));
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "docs", "manual.md"))) return d.FullName;
        throw new InvalidOperationException("no docs/manual.md above " + AppContext.BaseDirectory);
    }

    [Fact]
    public void Canonical_SpellsOneValueOneWay()
    {
        Assert.Equal(StatusWriter.Canonical(ColumnKind.Scalar, JsonValue.Create("up")), StatusWriter.Canonical(ColumnKind.Scalar, new JsonArray("set", new JsonArray("up"))));
        Assert.Equal("", StatusWriter.Canonical(ColumnKind.Scalar, new JsonArray("set", new JsonArray())));
        Assert.Equal(StatusWriter.Canonical(ColumnKind.Set, new JsonArray("set", new JsonArray("b", "a"))), StatusWriter.Canonical(ColumnKind.Set, new JsonArray("set", new JsonArray("a", "b"))));
    }

    private sealed class MaintenanceCount : Datapath.IDatapathEvents
    {
        public int Rounds;
        public void OnMaintenanceStarting() => Interlocked.Increment(ref Rounds);
    }

    /// <summary>An idle bridge's periodic work (the daemon's link thread's CheckLinks: link states, administrative
    /// states; the datapath's maintenance round with its switch's listeners) and the shared threads serving it allocate
    /// nothing per round once settled.</summary>
    [Fact]
    public void IdleBridge_Settled_ItsPeriodicWorkAllocatesNothingPerRound()
    {
        using var threads = new ForwardingThreads(1, busyPollMicros: 0, idleWakeMs: 20);
        // No spanning tree: it sends BPDUs every hello time, and its counts move the status stamp (it is not idle).
        var db = Database();
        ModifyBridge(db, new JsonObject { ["stp_enable"] = false });
        var config = VswitchConfig.Read(db)!;
        var maintained = new MaintenanceCount();
        long[] shared;
        using (var bridge = Bridge.Create(config.Bridges[0], Host() with { Threads = threads }))
        {
            bridge.Dp.Subscribe(maintained);
            Assert.Equal(2, bridge.Dp.Ports.List.Length);   // p1 and p2 open beside LOCAL (the vxlan one refused)
            // The daemon's link thread's round, and the configuration thread's look for a status change, on this thread.
            var first = new StatusStamp();
            bridge.AddStatusStamp(ref first);
            for (int i = 0; i < 3; i++) bridge.CheckLinks();
            int moved = 0;
            Assert.Equal(0, AllocationMeter.SteadyState(() =>
            {
                for (int i = 0; i < 100; i++)
                {
                    bridge.CheckLinks();
                    var stamp = new StatusStamp();
                    bridge.AddStatusStamp(ref stamp);
                    if (stamp.Value != first.Value) moved++;
                }
            }));
            Assert.Equal(0, moved);   // nothing changed

            // A link going down moves the stamp (the status round then writes link_state).
            ((MemoryPort)bridge.Dp.Ports.Get(7)!.Port).SetLink(false);
            var down = new StatusStamp();
            bridge.AddStatusStamp(ref down);
            Assert.NotEqual(first.Value, down.Value);
            ((MemoryPort)bridge.Dp.Ports.Get(7)!.Port).SetLink(true);

            // The forwarding and maintenance threads serving it (woken every 20 ms, and at the bridge's maintenance
            // interval: its round runs the switch's listeners and polls the ports' links).
            int rounds = Volatile.Read(ref maintained.Rounds);
            Thread.Sleep(1500);
            shared = [.. Enumerable.Range(0, threads.Count + 1).Select(threads.AllocatedBytes)];
            long sleeps = threads.Waiters[0].Sleeps;
            Thread.Sleep(2500);
            Assert.True(threads.Waiters[0].Sleeps - sleeps >= 10, "the forwarding thread did not go round");
            Assert.True(Volatile.Read(ref maintained.Rounds) - rounds >= 2, "the shared maintenance thread did not maintain the bridge (its idle interval is 1 s)");
            for (int i = 0; i <= threads.Count; i++)
                Assert.True(threads.AllocatedBytes(i) == shared[i], $"shared thread {i} allocated {threads.AllocatedBytes(i) - shared[i]} bytes in 2.5 s");
        }
    }

    // ================================================================ flow_tables (Flow_Table rows)

    private static JsonNode FlowTables(params (int Table, Guid Row)[] pairs)
        => new JsonArray("map", new JsonArray([.. pairs.Select(p => (JsonNode)new JsonArray(p.Table, Ref(p.Row)))]));

    /// <summary>An add to table 0 of a flow of in_port <paramref name="inPort"/> to <paramref name="dst"/> that expires after <paramref name="hard"/> s.</summary>
    private static FlowModRequest AddFlow(uint inPort, ulong dst, ushort hard)
        => new(FlowModCommand.Add, new OfMatch().InPort(inPort).EthDst(dst), 10, default, HardTimeout: hard);

    /// <summary>The hard timeouts of table 0's flows, ascending (each test flow has its own).</summary>
    private static List<int> HardTimeouts(Bridge bridge)
    {
        var flows = new List<FlowEntry>();
        bridge.Flows.Collect(FlowMatch.All, PortNumber.None, false, flows);
        return [.. flows.Select(f => (int)f.HardTimeout).Order()];
    }

    /// <summary>
    /// A Flow_Table row of table 0 (as `ovs-vsctl -- --id=@ft create Flow_Table flow_limit=2 overflow_policy=evict
    /// name=t0 -- set Bridge br0 flow_tables:0=@ft` makes it) names the table, limits it and evicts: an add beyond the
    /// limit evicts the flow soonest to expire. A change of the row applies live: refuse makes the same add TABLE_FULL,
    /// a lower limit with evict evicts down to it at once; the row removed gives the defaults back.
    /// </summary>
    [Fact]
    public void FlowTableRow_NamesLimitsAndEvicts_LiveAndRemovedRestoresDefaults()
    {
        var db = Database();
        Insert(db, "Flow_Table", "FT0", new JsonObject { ["name"] = "t0", ["flow_limit"] = 2, ["overflow_policy"] = "evict" });
        ModifyBridge(db, new JsonObject { ["flow_tables"] = FlowTables((0, Id("FT0"))) });
        var config = VswitchConfig.Read(db)!.Bridges[0];
        Assert.Empty(config.Refused);
        using var bridge = Bridge.Create(config, Host());
        var sw = bridge.Agent.Switch;
        Assert.Equal(("t0", 2), (sw.Tables[0].Name, sw.Tables[0].MaxEntries));
        Assert.Equal(("t0", 2), (sw.TableStats(0).Name, sw.TableStats(0).MaxEntries));
        Assert.True(sw.Flows.Evicts(0));
        // The configuration's eviction is not the OpenFlow controller's (OFPMP_TABLE_DESC shows that one only).
        Assert.False(sw.TableDescription(0).Eviction);

        Assert.Equal(OfError.None, sw.FlowMod(AddFlow(7, 0x02_00_00_00_00_01, 300)));
        Assert.Equal(OfError.None, sw.FlowMod(AddFlow(7, 0x02_00_00_00_00_02, 100)));
        Assert.Equal(OfError.None, sw.FlowMod(AddFlow(7, 0x02_00_00_00_00_03, 200)));
        Assert.Equal([200, 300], HardTimeouts(bridge));

        // overflow_policy refuse, live: the table is full.
        Assert.True(db.TryApplyUpdate2(new JsonObject { ["Flow_Table"] = new JsonObject { [Id("FT0").ToString()] = new JsonObject { ["modify"] = new JsonObject { ["overflow_policy"] = "refuse" } } } }, out var e), e);
        bridge.Apply(VswitchConfig.Read(db)!.Bridges[0]);
        Assert.False(sw.Flows.Evicts(0));
        Assert.Equal(OfError.TableFull, sw.FlowMod(AddFlow(7, 0x02_00_00_00_00_04, 50)));
        Assert.Equal([200, 300], HardTimeouts(bridge));

        // evict again with a limit of 1: the flow soonest to expire goes at once.
        Assert.True(db.TryApplyUpdate2(new JsonObject { ["Flow_Table"] = new JsonObject { [Id("FT0").ToString()] = new JsonObject { ["modify"] = new JsonObject { ["overflow_policy"] = "evict", ["flow_limit"] = 1 } } } }, out e), e);
        bridge.Apply(VswitchConfig.Read(db)!.Bridges[0]);
        Assert.Equal([300], HardTimeouts(bridge));
        Assert.Equal(1, sw.Tables[0].MaxEntries);

        // The row removed: the defaults (name, the switch's limit, no eviction), and adds succeed again.
        ModifyBridge(db, new JsonObject { ["flow_tables"] = FlowTables((0, Id("FT0"))) });
        var restored = VswitchConfig.Read(db)!.Bridges[0];
        Assert.Empty(restored.FlowTables);
        bridge.Apply(restored);
        Assert.Equal(("classifier", FlowTableOptions.DefaultMaxFlows), (sw.Tables[0].Name, sw.Tables[0].MaxEntries));
        Assert.False(sw.Flows.Evicts(0));
        Assert.Equal(OfError.None, sw.FlowMod(AddFlow(7, 0x02_00_00_00_00_05, 400)));
        Assert.Equal([300, 400], HardTimeouts(bridge));
    }

    /// <summary>
    /// Eviction is on while either asks, as Open vSwitch's EVICTION_CLIENT and EVICTION_OPENFLOW bits: a TABLE_MOD's
    /// eviction evicts in a table whose row says refuse, the row's evict evicts after a TABLE_MOD turned eviction off,
    /// and a removed row leaves a TABLE_MOD's eviction on.
    /// </summary>
    [Fact]
    public void FlowTableEviction_AndTableModEviction_AreOnWhileEitherAsks()
    {
        var db = Database();
        Insert(db, "Flow_Table", "FT0", new JsonObject { ["flow_limit"] = 1, ["overflow_policy"] = "refuse" });
        ModifyBridge(db, new JsonObject { ["flow_tables"] = FlowTables((0, Id("FT0"))) });
        using var bridge = Bridge.Create(VswitchConfig.Read(db)!.Bridges[0], Host());
        var sw = bridge.Agent.Switch;
        Assert.Equal(OfError.None, sw.FlowMod(AddFlow(7, 0x02_00_00_00_00_01, 100)));
        Assert.Equal(OfError.TableFull, sw.FlowMod(AddFlow(7, 0x02_00_00_00_00_02, 200)));

        Assert.Equal(OfError.None, sw.TableMod(new TableModRequest(0, OfTableConfig.None, Eviction: true)));
        Assert.Equal(OfError.None, sw.FlowMod(AddFlow(7, 0x02_00_00_00_00_02, 200)));
        Assert.Equal([200], HardTimeouts(bridge));

        Assert.True(db.TryApplyUpdate2(new JsonObject { ["Flow_Table"] = new JsonObject { [Id("FT0").ToString()] = new JsonObject { ["modify"] = new JsonObject { ["overflow_policy"] = "evict" } } } }, out var e), e);
        bridge.Apply(VswitchConfig.Read(db)!.Bridges[0]);
        Assert.Equal(OfError.None, sw.TableMod(new TableModRequest(0, OfTableConfig.None, Eviction: false)));
        Assert.False(sw.TableDescription(0).Eviction);
        Assert.True(sw.Flows.Evicts(0));
        Assert.Equal(OfError.None, sw.FlowMod(AddFlow(7, 0x02_00_00_00_00_03, 300)));
        Assert.Equal([300], HardTimeouts(bridge));

        Assert.Equal(OfError.None, sw.TableMod(new TableModRequest(0, OfTableConfig.None, Eviction: true)));
        ModifyBridge(db, new JsonObject { ["flow_tables"] = FlowTables((0, Id("FT0"))) });
        bridge.Apply(VswitchConfig.Read(db)!.Bridges[0]);
        Assert.True(sw.Flows.Evicts(0));
        Assert.True(sw.TableDescription(0).Eviction);
    }

    /// <summary>
    /// groups=NXM_OF_IN_PORT[]: the flows of each in_port are a group, and an add beyond the limit evicts from the
    /// largest group (its flow soonest to expire), not the table's flow soonest to expire, which is in a smaller group.
    /// Without groups that flow goes.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void FlowTableGroups_EvictFromTheLargestGroup(bool grouped)
    {
        var db = Database();
        var row = new JsonObject { ["flow_limit"] = 4, ["overflow_policy"] = "evict" };
        if (grouped) row["groups"] = new JsonArray("set", new JsonArray("NXM_OF_IN_PORT[]"));
        Insert(db, "Flow_Table", "FT0", row);
        ModifyBridge(db, new JsonObject { ["flow_tables"] = FlowTables((0, Id("FT0"))) });
        var config = VswitchConfig.Read(db)!.Bridges[0];
        Assert.Empty(config.Refused);
        using var bridge = Bridge.Create(config, Host());
        var sw = bridge.Agent.Switch;
        Assert.Equal(OfError.None, sw.FlowMod(AddFlow(7, 0x02_00_00_00_00_01, 300)));
        Assert.Equal(OfError.None, sw.FlowMod(AddFlow(7, 0x02_00_00_00_00_02, 400)));
        Assert.Equal(OfError.None, sw.FlowMod(AddFlow(7, 0x02_00_00_00_00_03, 500)));
        Assert.Equal(OfError.None, sw.FlowMod(AddFlow(8, 0x02_00_00_00_00_04, 100)));
        Assert.Equal(OfError.None, sw.FlowMod(AddFlow(8, 0x02_00_00_00_00_05, 600)));
        List<int> expected = grouped ? [100, 400, 500, 600] : [300, 400, 500, 600];
        Assert.Equal(expected, HardTimeouts(bridge));

        // A limit lowered by 3 evicts three at once, by the same order (grouped: 100 and 400 from the two groups of two,
        // then 500 of the two groups of one).
        Assert.True(db.TryApplyUpdate2(new JsonObject { ["Flow_Table"] = new JsonObject { [Id("FT0").ToString()] = new JsonObject { ["modify"] = new JsonObject { ["flow_limit"] = 1 } } } }, out var e), e);
        bridge.Apply(VswitchConfig.Read(db)!.Bridges[0]);
        Assert.Equal([600], HardTimeouts(bridge));
    }

    /// <summary>
    /// What a Flow_Table row asks that cannot be taken is said, in Open vSwitch's words, and the rest is served: an
    /// overflow_policy neither refuse nor evict refuses, a groups element that does not parse is left out, a prefix
    /// field that is unknown, not an address field, or a fourth is left out (the others recorded), a table id beyond
    /// the tables is ignored. The bridge's ports open as ever; prefixes none is recorded as none.
    /// </summary>
    [Fact]
    public void FlowTableRow_BadValues_AreSaid_AndTheRestServed()
    {
        var db = Database();
        Insert(db, "Flow_Table", "FT0", new JsonObject
        {
            ["name"] = new string('n', 40), ["overflow_policy"] = "bogus", ["flow_limit"] = 1,
            ["groups"] = new JsonArray("set", new JsonArray("bogus[]", "NXM_OF_IN_PORT[3..99]", "NXM_OF_ETH_DST[0..15]", "reg0[x]")),
            ["prefixes"] = new JsonArray("set", new JsonArray("ip_dst", "ip_src", "ipv6_dst", "ipv6_src", "in_port", "frobnicate")),
        });
        Insert(db, "Flow_Table", "FT1", new JsonObject { ["prefixes"] = new JsonArray("set", new JsonArray("none", "ip_dst")) });
        Insert(db, "Flow_Table", "FT254", new JsonObject { ["name"] = "hidden" });
        ModifyBridge(db, new JsonObject { ["flow_tables"] = FlowTables((0, Id("FT0")), (1, Id("FT1")), (254, Id("FT254"))) });
        var config = VswitchConfig.Read(db)!.Bridges[0];
        string said = string.Join('\n', config.Refused);
        Assert.Contains("table 0: overflow_policy=bogus", said);
        Assert.Contains("error parsing 'groups' (bogus[]: unknown field `bogus')", said);
        Assert.Contains("NXM_OF_IN_PORT[3..99]: ending bit 99 is not valid because field is only 16 bits wide", said);
        Assert.Contains("reg0[x]: syntax error expecting [] or [<bit>] or [<start>..<end>]", said);
        Assert.Contains("'prefixes' with incompatible field: in_port", said);
        Assert.Contains("'prefixes' with unknown field: frobnicate", said);
        Assert.Contains("'prefixes' with too many fields, field not used: ipv6_src", said);
        Assert.Contains("ignoring configuration for flow table 254", said);
        Assert.Equal([0, 1], config.FlowTables.Keys.Select(k => (int)k));

        using var bridge = Bridge.Create(config, Host());
        var sw = bridge.Agent.Switch;
        Assert.Equal(7, bridge.OpenPorts.Single(p => p.Name == "p1").No);
        var t0 = sw.Flows.ConfigOf(0);
        Assert.False(t0.Evict);
        Assert.Equal([new OfSubfield(OfField.EthDst, 0, 16)], t0.EvictionGroups);
        Assert.Equal(["ip_dst", "ip_src", "ipv6_dst"], t0.Prefixes);
        Assert.Equal(new string('n', OfTableSettings.MaxNameLength), sw.Tables[0].Name);
        Assert.Equal(OfError.None, sw.FlowMod(AddFlow(7, 0x02_00_00_00_00_01, 100)));
        Assert.Equal(OfError.TableFull, sw.FlowMod(AddFlow(7, 0x02_00_00_00_00_02, 200)));
        var t1 = sw.Flows.ConfigOf(1);
        Assert.True(t1.PrefixesSet);
        Assert.Empty(t1.Prefixes);
    }
}
