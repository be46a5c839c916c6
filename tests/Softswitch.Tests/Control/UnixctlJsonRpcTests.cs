using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Softswitch.Control;

namespace Softswitch.Tests.Control;

/// <summary>Open vSwitch's unixctl JSON-RPC on the control socket: the codec, and a server speaking both protocols.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class UnixctlJsonRpcTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ssw-rpc-");
    private string SocketPath => Path.Combine(_dir.FullName, "sw.ctl");

    public void Dispose() => _dir.Delete(recursive: true);

    private static UnixctlJsonRpc.ReadStatus Read(string json, out int consumed, out ControlRequest request, out string id, out string error)
    {
        var status = UnixctlJsonRpc.TryRead(Encoding.UTF8.GetBytes(json), out consumed, out request, out var raw, out error);
        id = Encoding.UTF8.GetString(raw);
        return status;
    }

    [Fact]
    public void Request_AsOvsAppctlSendsIt()
    {
        // ovs-appctl 3.1's bytes for `ovs-appctl -t SOCK fdb/show br0`.
        const string sent = """{"id":0,"method":"fdb/show","params":["br0"]}""";
        Assert.Equal(UnixctlJsonRpc.ReadStatus.Request, Read(sent + "{\"id\":1", out int consumed, out var request, out string id, out string error));
        Assert.Equal(sent.Length, consumed);
        Assert.Equal("fdb/show", request.Command);
        Assert.Equal(["br0"], request.Args);
        Assert.Equal("0", id);
        Assert.Equal("", error);
    }

    [Theory]
    [InlineData("""{"id":0,"method":"fdb/sh""")]
    [InlineData("  ")]
    [InlineData("""{"id":"a\""")]
    public void PartialMessage_IsIncomplete(string json)
        => Assert.Equal(UnixctlJsonRpc.ReadStatus.Incomplete, Read(json, out _, out _, out _, out _));

    [Theory]
    [InlineData("""["fdb/show"]""", "a JSON-RPC message must be a JSON object")]
    [InlineData("""{"id":0,"result":"x","error":null}""", "not a request (no method)")]
    [InlineData("""{"id":null,"method":"exit","params":[]}""", "notification")]
    [InlineData("""{"method":"exit","params":[]}""", "notification")]
    [InlineData("""{"id":0,,}""", "not JSON")]
    public void NotARequest_IsInvalid(string json, string expected)
    {
        Assert.Equal(UnixctlJsonRpc.ReadStatus.Invalid, Read(json, out _, out _, out _, out string error));
        Assert.Contains(expected, error);
    }

    [Theory]
    [InlineData("""{"id":"x","method":"vlog/set","params":[1]}""", "\"vlog/set\" command has non-string argument")]
    [InlineData("""{"id":"x","method":"vlog/set"}""", "\"vlog/set\" request has no params array")]
    public void BadParams_AreAnsweredWithAnError(string json, string expected)
    {
        Assert.Equal(UnixctlJsonRpc.ReadStatus.Request, Read(json, out _, out _, out string id, out string error));
        Assert.Equal("\"x\"", id);
        Assert.Equal(expected, error);
    }

    [Fact]
    public void Replies_AreOvsShaped_WithTheIdEchoed()
    {
        Assert.Equal("""{"result":"a\nb\n","error":null,"id":7}""", Encoding.UTF8.GetString(UnixctlJsonRpc.EncodeReply("7"u8, ControlReply.Success("a\nb"))));
        Assert.Equal("""{"result":"","error":null,"id":[1,"z"]}""", Encoding.UTF8.GetString(UnixctlJsonRpc.EncodeReply("[1,\"z\"]"u8, ControlReply.Success(""))));
        Assert.Equal("""{"result":null,"error":"no such port\n","id":"q"}""", Encoding.UTF8.GetString(UnixctlJsonRpc.EncodeReply("\"q\""u8, ControlReply.Error("no such port"))));
    }

    [Fact]
    public void Server_SpeaksJsonRpc_SeveralRequestsPerConnection_AndStillTheLineProtocol()
    {
        var commands = new ControlCommands();
        commands.Register("echo", "WORD...", "echo things", 0, 16, a => ControlReply.Success(string.Join(' ', a)));
        using var server = ControlServer.Start(SocketPath, commands);

        using (var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 10_000 })
        {
            s.Connect(new UnixDomainSocketEndPoint(SocketPath));
            // Two requests in one write, the second split across writes, then one with a bad argument and an unknown command.
            s.Send("{\"id\":1,\"method\":\"echo\",\"params\":[\"a\",\"b\"]}\n{\"id\":\"two\",\"meth"u8.ToArray());
            Thread.Sleep(100);
            s.Send("od\":\"echo\",\"params\":[]}{\"id\":3,\"method\":\"echo\",\"params\":[true]} {\"id\":4,\"method\":\"nope\",\"params\":[]}"u8.ToArray());
            var replies = ReadObjects(s, 4);
            Assert.Equal("""{"result":"a b\n","error":null,"id":1}""", replies[0]);
            Assert.Equal("""{"result":"","error":null,"id":"two"}""", replies[1]);
            Assert.Equal("""{"result":null,"error":"\"echo\" command has non-string argument\n","id":3}""", replies[2]);
            Assert.StartsWith("""{"result":null,"error":"unknown command 'nope'""", replies[3]);
            // A message that is not a request ends the connection.
            s.Send("""{"id":5,"result":"x","error":null}"""u8.ToArray());
            Assert.Equal(0, s.Receive(new byte[16]));
        }

        // The line protocol is unchanged.
        using var line = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 10_000 };
        line.Connect(new UnixDomainSocketEndPoint(SocketPath));
        line.Send("echo x y\n"u8.ToArray());
        var ms = new MemoryStream();
        var buf = new byte[256];
        int n;
        while ((n = line.Receive(buf)) > 0) ms.Write(buf, 0, n);
        Assert.Equal("OK\nx y", Encoding.UTF8.GetString(ms.ToArray()).TrimEnd('\n'));
    }

    /// <summary>Reads until <paramref name="count"/> complete JSON objects have arrived; returns their texts.</summary>
    private static List<string> ReadObjects(Socket s, int count)
    {
        var data = new List<byte>();
        var buf = new byte[4096];
        var found = new List<string>();
        while (found.Count < count)
        {
            int n = s.Receive(buf);
            Assert.True(n > 0, $"connection closed after {found.Count} replies");
            data.AddRange(buf.AsSpan(0, n));
            while (true)
            {
                var bytes = data.ToArray();
                var reader = new Utf8JsonReader(bytes, isFinalBlock: false, default);
                if (!reader.Read() || !reader.TrySkip()) break;
                int used = (int)reader.BytesConsumed;
                found.Add(Encoding.UTF8.GetString(bytes, 0, used).Trim());
                data.RemoveRange(0, used);
            }
        }
        return found;
    }
}
