using System.Text;
using System.Text.Json.Nodes;
using Softswitch.Ovsdb;
using Softswitch.TestKit;

namespace Softswitch.Tests.Ovsdb;

/// <summary>The OVSDB client: JSON-RPC framing, datum encoding, the replica's update and update2 application, and a real ovsdb-server.</summary>
public sealed class OvsdbTests
{
    private static JsonRpc.FrameStatus Frame(string text, out string message, out int consumed)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var status = JsonRpc.TryFrame(bytes, out int start, out int length, out consumed, out _);
        message = status == JsonRpc.FrameStatus.Message ? Encoding.UTF8.GetString(bytes, start, length) : "";
        return status;
    }

    [Fact]
    public void Framing_FindsEachObjectOfAStream()
    {
        // Two messages back to back, the second cut short; braces inside strings do not end an object.
        const string first = """{"method":"echo","params":["}{"],"id":"echo"}""";
        const string second = """{"result":[],"error":null,"id":1}""";
        string stream = "\n " + first + second;
        Assert.Equal(JsonRpc.FrameStatus.Message, Frame(stream, out var m1, out int used));
        Assert.Equal(first, m1);
        Assert.Equal(JsonRpc.FrameStatus.Incomplete, Frame(stream[used..^3], out _, out _));
        Assert.Equal(JsonRpc.FrameStatus.Message, Frame(stream[used..], out var m2, out int used2));
        Assert.Equal(second, m2);
        Assert.Equal(stream.Length - used, used2);
        Assert.Equal(JsonRpc.FrameStatus.Incomplete, Frame("  \n", out _, out int blank));
        Assert.Equal(3, blank);
    }

    [Fact]
    public void Framing_RefusesWhatIsNotAnObject()
    {
        Assert.Equal(JsonRpc.FrameStatus.Invalid, Frame("[1,2]", out _, out _));
        Assert.Equal(JsonRpc.FrameStatus.Invalid, Frame("hello", out _, out _));
        Assert.Equal(JsonRpc.FrameStatus.Invalid, Frame("{\"a\" 1}", out _, out _));
    }

    [Fact]
    public void Parse_RequestNotificationReplyAndError()
    {
        static JsonRpcMessage P(string s)
        {
            Assert.True(JsonRpc.TryParse(Encoding.UTF8.GetBytes(s), out var m, out var e), e);
            return m;
        }
        var echo = P("""{"method":"echo","params":[],"id":"echo"}""");
        Assert.Equal(JsonRpcKind.Request, echo.Kind);
        Assert.Equal("echo", echo.Method);
        var update = P("""{"method":"update2","params":["m",{}],"id":null}""");
        Assert.Equal(JsonRpcKind.Notification, update.Kind);
        Assert.Equal(2, update.Params!.Count);
        var reply = P("""{"result":{"x":1},"error":null,"id":7}""");
        Assert.Equal(JsonRpcKind.Reply, reply.Kind);
        Assert.False(reply.IsError);
        var error = P("""{"result":null,"error":{"error":"unknown method","details":"monitor_cond"},"id":8}""");
        Assert.True(error.IsError);
        Assert.Equal("unknown method: monitor_cond", JsonRpc.Describe(error.Error));
        Assert.False(JsonRpc.TryParse("""{"params":[]}"""u8, out _, out var why));
        Assert.Contains("neither method nor result", why);
        Assert.False(JsonRpc.TryParse("""{"method":3,"params":[],"id":1}"""u8, out _, out _));
        Assert.False(JsonRpc.TryParse("""{"result":1,"error":null,"id":null}"""u8, out _, out _));
    }

    [Fact]
    public void Request_EncodesAsRfc7047()
    {
        var bytes = JsonRpc.Request("transact", ["Open_vSwitch", new JsonObject { ["op"] = "comment", ["comment"] = "x" }], 3);
        Assert.Equal("""{"method":"transact","params":["Open_vSwitch",{"op":"comment","comment":"x"}],"id":3}""", Encoding.UTF8.GetString(bytes));
        Assert.Equal("""{"result":["a"],"error":null,"id":"echo"}""", Encoding.UTF8.GetString(JsonRpc.Reply(new JsonArray("a"), null, "echo")));
    }

    [Fact]
    public void Datum_ReadsSetsMapsAndUuids()
    {
        var u = Guid.NewGuid();
        Assert.Equal(["a"], OvsdbDatum.Strings(JsonNode.Parse("\"a\"")));
        Assert.Equal(["a", "b"], OvsdbDatum.Strings(JsonNode.Parse("""["set",["a","b"]]""")));
        Assert.Empty(OvsdbDatum.Strings(JsonNode.Parse("""["set",[]]""")));
        Assert.Null(OvsdbDatum.String(JsonNode.Parse("""["set",[]]""")));
        Assert.Equal(5, OvsdbDatum.Integer(JsonNode.Parse("""["set",[5]]""")));
        Assert.Equal([u], OvsdbDatum.Uuids(JsonNode.Parse($"""["uuid","{u}"]""")));
        Assert.Equal([u], OvsdbDatum.Uuids(JsonNode.Parse($"""["set",[["uuid","{u}"]]]""")));
        var map = OvsdbDatum.StringMap(JsonNode.Parse("""["map",[["datapath-id","0000000000000001"],["hwaddr","02:00:00:00:00:01"]]]"""));
        Assert.Equal("0000000000000001", map["datapath-id"]);
        Assert.Equal(2, map.Count);
        Assert.Empty(OvsdbDatum.Atoms(JsonNode.Parse("""["map",[]]""")));
        Assert.Equal("""["set",[]]""", JsonRpc.Text(OvsdbDatum.Optional((string?)null)));
        Assert.Equal("""["map",[["a","1"],["b","2"]]]""", JsonRpc.Text(OvsdbDatum.Map(new Dictionary<string, string> { ["b"] = "2", ["a"] = "1" })));
    }

    private static readonly OvsdbSchema s_schema = ParseSchema("""
        {"name":"Open_vSwitch","version":"8.3.1","tables":{
          "Bridge":{"columns":{
            "name":{"type":"string"},
            "ports":{"type":{"key":{"type":"uuid","refTable":"Port"},"min":0,"max":"unlimited"}},
            "fail_mode":{"type":{"key":{"type":"string","enum":["set",["standalone","secure"]]},"min":0,"max":1}},
            "other_config":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}}}},
          "Port":{"columns":{"name":{"type":"string"}}}}}
        """);

    private static OvsdbSchema ParseSchema(string json)
    {
        Assert.True(OvsdbSchema.TryParse(JsonNode.Parse(json), out var schema, out var error), error);
        return schema;
    }

    [Fact]
    public void Schema_TellsScalarsSetsAndMaps()
    {
        Assert.Equal(ColumnKind.Scalar, s_schema.Kind("Bridge", "name"));
        Assert.Equal(ColumnKind.Set, s_schema.Kind("Bridge", "ports"));
        Assert.Equal(ColumnKind.Scalar, s_schema.Kind("Bridge", "fail_mode")); // optional: at most one, replaced whole
        Assert.Equal(ColumnKind.Map, s_schema.Kind("Bridge", "other_config"));
        Assert.Equal("8.3.1", s_schema.Version);
        Assert.False(OvsdbSchema.TryParse(JsonNode.Parse("[]"), out _, out _));
    }

    [Fact]
    public void Update2_InitialInsertModifyDelete()
    {
        var replica = new OvsdbReplica(s_schema);
        Guid br = Id("br"), p1 = Id("p1"), p2 = Id("p2"), p3 = Id("p3");
        Apply2(replica, """{"Bridge":{"@br":{"initial":{"name":"br0","ports":["set",[["uuid","@p1"],["uuid","@p2"]]], "fail_mode":["set",[]],"other_config":["map",[["a","1"],["b","2"]]]}}}}""");
        var row = replica.Row("Bridge", br)!;
        Assert.Equal("br0", row.String("name"));
        Assert.Equal([p1, p2], row.Uuids("ports"));
        Assert.Null(row.String("fail_mode"));

        // A set diff toggles: p2 leaves, p3 joins. A map diff: a with its old value deletes, b with another replaces, c inserts.
        // An optional column set from empty: the diff is the new atom. A scalar is replaced.
        Apply2(replica, """{"Bridge":{"@br":{"modify":{"ports":["set",[["uuid","@p2"],["uuid","@p3"]]], "other_config":["map",[["a","1"],["b","3"],["c","4"]]],"fail_mode":"secure","name":"br1"}}}}""");
        Assert.Equal([p1, p3], row.Uuids("ports"));
        Assert.Equal(new Dictionary<string, string> { ["b"] = "3", ["c"] = "4" }, row.Map("other_config"));
        Assert.Equal("secure", row.String("fail_mode"));
        Assert.Equal("br1", row.String("name"));

        // From one value of an optional column to another: ovsdb-server sends the new value (not a symmetric difference),
        // and the empty set to clear it.
        Apply2(replica, """{"Bridge":{"@br":{"modify":{"fail_mode":"standalone"}}}}""");
        Assert.Equal("standalone", row.String("fail_mode"));
        Apply2(replica, """{"Bridge":{"@br":{"modify":{"fail_mode":["set",[]]}}}}""");
        Assert.Null(row.String("fail_mode"));

        Apply2(replica, """{"Port":{"@p1":{"insert":{"name":"eth1"}}}}""");
        Assert.Equal("eth1", replica.Row("Port", p1)!.String("name"));
        Apply2(replica, """{"Bridge":{"@br":{"delete":null}},"Port":{"@p1":{"delete":null}}}""");
        Assert.Empty(replica.Rows("Bridge"));
        Assert.Empty(replica.Rows("Port"));
    }

    [Fact]
    public void Update2_MalformedIsRefusedWhole()
    {
        var replica = new OvsdbReplica(s_schema);
        Assert.False(replica.TryApplyUpdate2(Json("""{"Port":{"@a":{"insert":{"name":"x"}},"@b":{"replace":{}}}}"""), out var error));
        Assert.Contains("one of initial", error);
        Assert.Empty(replica.Rows("Port"));
        Assert.False(replica.TryApplyUpdate2(JsonNode.Parse("""{"Port":{"not-a-uuid":{"delete":null}}}"""), out _));
        Assert.False(replica.TryApplyUpdate2(JsonNode.Parse("[]"), out _));
    }

    [Fact]
    public void Update_OldAndNewRows()
    {
        var replica = new OvsdbReplica(s_schema);
        var br = Id("br");
        Assert.True(replica.TryApplyUpdate(Json("""{"Bridge":{"@br":{"new":{"name":"br0","fail_mode":["set",[]]}}}}"""), out var e1), e1);
        Assert.True(replica.TryApplyUpdate(Json("""{"Bridge":{"@br":{"old":{"fail_mode":["set",[]]},"new":{"name":"br0","fail_mode":"secure"}}}}"""), out var e2), e2);
        Assert.Equal("secure", replica.Row("Bridge", br)!.String("fail_mode"));
        Assert.True(replica.TryApplyUpdate(Json("""{"Bridge":{"@br":{"old":{"name":"br0"}}}}"""), out var e3), e3);
        Assert.Null(replica.Row("Bridge", br));
    }

    /// <summary>The generation moves with every change applied (so the daemon's idle round can skip reading), not with a refused one.</summary>
    [Fact]
    public void Generation_MovesWithEachUpdateApplied_NotWithARefusedOne()
    {
        var replica = new OvsdbReplica(s_schema);
        long g0 = replica.Generation;
        Apply2(replica, """{"Bridge":{"@br":{"initial":{"name":"br0"}}}}""");
        long g1 = replica.Generation;
        Assert.NotEqual(g0, g1);
        Assert.False(replica.TryApplyUpdate2(Json("""{"Port":{"@a":{"insert":{"name":"x"}},"@b":{"replace":{}}}}"""), out _));
        Assert.Equal(g1, replica.Generation);
        Assert.True(replica.TryApplyUpdate(Json("""{"Bridge":{"@br":{"new":{"name":"br1"}}}}"""), out var e), e);
        long g2 = replica.Generation;
        Assert.NotEqual(g1, g2);
        replica.Clear();
        Assert.NotEqual(g2, replica.Generation);
    }

    private void Apply2(OvsdbReplica replica, string json)
        => Assert.True(replica.TryApplyUpdate2(Json(json), out var error), error);

    private readonly Dictionary<string, Guid> _ids = [];

    /// <summary>JSON with @NAME standing for a uuid, the same for one name throughout a test.</summary>
    private JsonNode Json(string text)
    {
        var matches = System.Text.RegularExpressions.Regex.Matches(text, "@([a-z0-9]+)");
        foreach (var m in matches.Cast<System.Text.RegularExpressions.Match>().OrderByDescending(m => m.Groups[1].Value.Length))
        {
            string name = m.Groups[1].Value;
            if (!_ids.TryGetValue(name, out var id)) _ids[name] = id = Guid.NewGuid();
            text = text.Replace("@" + name, id.ToString());
        }
        return JsonNode.Parse(text)!;
    }

    private Guid Id(string name)
    {
        if (!_ids.TryGetValue(name, out var id)) _ids[name] = id = Guid.NewGuid();
        return id;
    }

    [Fact]
    public void Remote_Parses()
    {
        Assert.True(OvsdbClient.TryParseRemote("unix:/run/openvswitch/db.sock", out _, out _));
        Assert.True(OvsdbClient.TryParseRemote("tcp:127.0.0.1:6640", out _, out _));
        Assert.True(OvsdbClient.TryParseRemote("tcp:[::1]:6640", out _, out _));
        Assert.False(OvsdbClient.TryParseRemote("ssl:1.2.3.4:6640", out _, out var error));
        Assert.Contains("unix:FILE or tcp:IP:PORT", error);
        Assert.False(OvsdbClient.TryParseRemote("tcp:localhost", out _, out _));
    }

    /// <summary>Against Debian's ovsdb-server: monitor_cond follows what ovs-vsctl writes, a transaction writes back, echo both ways.</summary>
    [ToolFact]
    [RequiresTool("ovsdb-server")]
    [RequiresTool("ovs-vsctl")]
    public void RealServer_MonitorTransactEcho()
    {
        using var server = OvsdbServer.Start("ssw-vsdb-");
        using var client = OvsdbClient.Connect(server.Remote, TimeSpan.FromSeconds(5));
        var timeout = TimeSpan.FromSeconds(10);
        client.Echo(timeout);
        var monitor = OvsdbMonitor.Start(client, "Open_vSwitch", new Dictionary<string, string[]>
        {
            ["Open_vSwitch"] = ["bridges", "next_cfg", "cur_cfg"],
            ["Bridge"] = ["name", "ports", "fail_mode", "other_config", "protocols"],
            ["Port"] = ["name", "interfaces"],
            ["Interface"] = ["name", "type", "ofport_request"],
        }, timeout);
        Assert.Equal("monitor_cond", monitor.Method);
        using var changed = new SemaphoreSlim(0);
        monitor.Changed += () => changed.Release();
        lock (monitor.Lock) Assert.Single(monitor.Replica.Rows("Open_vSwitch"));

        server.Vsctl("--no-wait", "add-br", "br0", "--", "set", "bridge", "br0", "fail_mode=secure", "protocols=OpenFlow10,OpenFlow13",
            "other-config:datapath-id=0000000000000042", "--", "add-port", "br0", "p1", "--", "set", "interface", "p1", "ofport_request=7");
        OvsdbRow WaitBridge(Func<OvsdbRow, bool> ready)
        {
            for (int i = 0; i < 50; i++)
            {
                lock (monitor.Lock)
                {
                    if (monitor.Replica.Rows("Bridge").FirstOrDefault() is { } r && ready(r)) return r;
                }
                changed.Wait(200);
            }
            lock (monitor.Lock)
                throw new TimeoutException("the bridge did not reach the state wanted: " + string.Join("; ", monitor.Replica.Rows("Bridge").Select(r => string.Join(", ", r.Columns.Select(c => c.Key + "=" + JsonRpc.Text(c.Value))))));
        }
        var bridge = WaitBridge(r => r.Uuids("ports").Count == 2);
        lock (monitor.Lock)
        {
            Assert.Equal("br0", bridge.String("name"));
            Assert.Equal("secure", bridge.String("fail_mode"));
            Assert.Equal(["OpenFlow10", "OpenFlow13"], bridge.Strings("protocols").Order());
            Assert.Equal("0000000000000042", bridge.Map("other_config")["datapath-id"]);
            var iface = monitor.Replica.Rows("Interface").Single(r => r.String("name") == "p1");
            Assert.Equal(7, iface.Integer("ofport_request"));
        }

        server.Vsctl("--no-wait", "set", "bridge", "br0", "fail_mode=standalone", "--", "remove", "bridge", "br0", "other_config", "datapath-id", "--", "del-port", "p1");
        WaitBridge(r => r.String("fail_mode") == "standalone" && r.Uuids("ports").Count == 1 && !r.Map("other_config").ContainsKey("datapath-id"));

        // A transaction writes cur_cfg; ovs-vsctl reads it back.
        Guid root;
        lock (monitor.Lock) root = monitor.Replica.Rows("Open_vSwitch").Single().Uuid;
        client.Transact("Open_vSwitch", [new JsonObject
        {
            ["op"] = "update", ["table"] = "Open_vSwitch",
            ["where"] = new JsonArray(new JsonArray("_uuid", "==", OvsdbDatum.Uuid(root))),
            ["row"] = new JsonObject { ["cur_cfg"] = 41 },
        }], timeout);
        Assert.Equal("41", server.Vsctl("get", "Open_vSwitch", ".", "cur_cfg").Trim());

        // An operation that fails throws with the server's reason.
        var ex = Assert.Throws<OvsdbException>(() => client.Transact("Open_vSwitch", [new JsonObject { ["op"] = "update", ["table"] = "NoSuchTable", ["where"] = new JsonArray(), ["row"] = new JsonObject() }], timeout));
        Assert.Contains("NoSuchTable", ex.Message);

        Assert.True(client.IsOpen);
        client.Dispose();
        Assert.False(client.IsOpen);
        Assert.Throws<OvsdbException>(() => client.Echo(timeout));
    }

    /// <summary>The server's echo (its inactivity probe) is answered with its params and id; a notification reaches the handler.</summary>
    [Fact]
    public async Task Client_AnswersTheServersEcho()
    {
        var dir = Directory.CreateTempSubdirectory("ssw-vsecho-");
        try
        {
            string path = Path.Combine(dir.FullName, "db.sock");
            using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
            listener.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
            listener.Listen(1);
            using var client = OvsdbClient.Connect("unix:" + path, TimeSpan.FromSeconds(5));
            using var notified = new SemaphoreSlim(0);
            string? method = null;
            client.Notified += (m, _) => { method = m; notified.Release(); };
            using var server = listener.Accept();
            server.Send("""{"method":"echo","params":["probe"],"id":"echo"}{"method":"locked","params":["x"],"id":null}"""u8);
            var buffer = new byte[256];
            int n = 0;
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (!Encoding.UTF8.GetString(buffer, 0, n).EndsWith('}') && DateTime.UtcNow < deadline)
                n += server.Receive(buffer.AsSpan(n));
            Assert.Equal("""{"result":["probe"],"error":null,"id":"echo"}""", Encoding.UTF8.GetString(buffer, 0, n));
            Assert.True(notified.Wait(5000));
            Assert.Equal("locked", method);
            // Our echo: answered by the server, the call returns.
            var echo = client.CallAsync("echo", ["ping"]);
            n = server.Receive(buffer);
            Assert.StartsWith("""{"method":"echo","params":["ping"],"id":""", Encoding.UTF8.GetString(buffer, 0, n));
            var id = JsonNode.Parse(Encoding.UTF8.GetString(buffer, 0, n))!["id"]!.GetValue<long>();
            server.Send(Encoding.UTF8.GetBytes("""{"result":["ping"],"error":null,"id":ID}""".Replace("ID", id.ToString(System.Globalization.CultureInfo.InvariantCulture))));
            var reply = await echo.WaitAsync(TimeSpan.FromSeconds(5));
            Assert.Equal("""["ping"]""", JsonRpc.Text(reply.Result));
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
