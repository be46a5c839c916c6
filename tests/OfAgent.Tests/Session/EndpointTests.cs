using Softswitch.OfAgent.Session;

namespace Softswitch.OfAgent.Tests.Session;

/// <summary>OpenFlow endpoints as Open vSwitch spells them, and one error wording for every mistake.</summary>
public sealed class EndpointTests
{
    [Theory]
    [InlineData("tcp:127.0.0.1:6634", OfTransportKind.Tcp, false, "127.0.0.1", 6634, "tcp:127.0.0.1:6634")]
    [InlineData("tcp:127.0.0.1", OfTransportKind.Tcp, false, "127.0.0.1", 6653, "tcp:127.0.0.1:6653")]
    [InlineData("tcp:ctl.example.net:1", OfTransportKind.Tcp, false, "ctl.example.net", 1, "tcp:ctl.example.net:1")]
    [InlineData("tcp:[::1]:6653", OfTransportKind.Tcp, false, "::1", 6653, "tcp:[::1]:6653")]
    [InlineData("tcp:[fe80::1]", OfTransportKind.Tcp, false, "fe80::1", 6653, "tcp:[fe80::1]:6653")]
    [InlineData("ssl:10.0.0.1:6653", OfTransportKind.Ssl, false, "10.0.0.1", 6653, "ssl:10.0.0.1:6653")]
    [InlineData("ssl:[2001:db8::2]:7000", OfTransportKind.Ssl, false, "2001:db8::2", 7000, "ssl:[2001:db8::2]:7000")]
    [InlineData("ptcp:6634", OfTransportKind.Tcp, true, "127.0.0.1", 6634, "ptcp:6634:127.0.0.1")]
    [InlineData("ptcp:", OfTransportKind.Tcp, true, "127.0.0.1", 6653, "ptcp:6653:127.0.0.1")]
    [InlineData("ptcp", OfTransportKind.Tcp, true, "127.0.0.1", 6653, "ptcp:6653:127.0.0.1")]
    [InlineData("ptcp:0", OfTransportKind.Tcp, true, "127.0.0.1", 0, "ptcp:0:127.0.0.1")]
    [InlineData("ptcp:6653:0.0.0.0", OfTransportKind.Tcp, true, "0.0.0.0", 6653, "ptcp:6653:0.0.0.0")]
    [InlineData("ptcp:6653:[::1]", OfTransportKind.Tcp, true, "::1", 6653, "ptcp:6653:[::1]")]
    [InlineData("ptcp::[::]", OfTransportKind.Tcp, true, "::", 6653, "ptcp:6653:[::]")]
    [InlineData("pssl:6653", OfTransportKind.Ssl, true, "127.0.0.1", 6653, "pssl:6653:127.0.0.1")]
    [InlineData("pssl:6653:[::1]", OfTransportKind.Ssl, true, "::1", 6653, "pssl:6653:[::1]")]
    public void ParsesOvsSpellings(string text, OfTransportKind kind, bool passive, string host, int port, string canonical)
    {
        Assert.True(OfEndpoint.TryParse(text, out var e, out var why), why);
        Assert.Equal(kind, e!.Kind);
        Assert.Equal(passive, e.Passive);
        Assert.Equal(host, e.Host);
        Assert.Equal(port, e.Port);
        Assert.Equal(canonical, e.ToString());
        Assert.Equal(e, OfEndpoint.Parse(canonical)); // the canonical text reads back the same
    }

    [Theory]
    [InlineData("unix:/run/ctl.sock", false)]
    [InlineData("punix:/run/ssw.sock", true)]
    public void ParsesUnixSockets(string text, bool passive)
    {
        var e = OfEndpoint.Parse(text);
        Assert.Equal(OfTransportKind.Unix, e.Kind);
        Assert.Equal(passive, e.Passive);
        Assert.Equal(text[(text.IndexOf(':') + 1)..], e.Path);
        Assert.Equal(text, e.ToString());
    }

    [Theory]
    [InlineData("", "expected tcp:HOST[:PORT]")]
    [InlineData("udp:1.2.3.4:5", "expected tcp:HOST[:PORT]")]
    [InlineData("6653", "expected tcp:HOST[:PORT]")]
    [InlineData("tcp:", "expected a host")]
    [InlineData("tcp::6653", "expected a host")]
    [InlineData("tcp:1.2.3.4:0", "'0' is not a port")]
    [InlineData("tcp:1.2.3.4:65536", "'65536' is not a port")]
    [InlineData("tcp:1.2.3.4:x", "'x' is not a port")]
    [InlineData("tcp:1.2.3.4:+5", "'+5' is not a port")]
    [InlineData("tcp:::1:6653", "in brackets")]
    [InlineData("tcp:[::1", "closing ']'")]
    [InlineData("tcp:[1.2.3.4]:5", "not an IPv6 address")]
    [InlineData("tcp:[::1]6653", "expected ':PORT'")]
    [InlineData("ssl:", "expected a host")]
    [InlineData("ptcp:abc", "'abc' is not a port")]
    [InlineData("ptcp:70000", "'70000' is not a port")]
    [InlineData("ptcp:6653:localhost", "'localhost' is not an IP address")]
    [InlineData("ptcp:6653:::1", "in brackets")]
    [InlineData("ptcp:6653:[1.2.3.4]", "'1.2.3.4' is not an IP address")]
    [InlineData("pssl:-1", "'-1' is not a port")]
    [InlineData("unix:", "expected a socket file")]
    [InlineData("punix:", "expected a socket file")]
    public void EveryMistakeSaysBadOpenFlowEndpoint(string text, string reason)
    {
        Assert.False(OfEndpoint.TryParse(text, out var e, out var why));
        Assert.Null(e);
        Assert.StartsWith($"bad OpenFlow endpoint '{text}': ", why);
        Assert.Contains(reason, why);
        Assert.Equal(why, Assert.Throws<FormatException>(() => OfEndpoint.Parse(text)).Message);
    }
}
