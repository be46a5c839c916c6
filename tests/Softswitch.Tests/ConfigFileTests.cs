namespace Softswitch.Tests;

/// <summary>--config: every key, unknown keys with a suggestion, type errors in the user's words, dpid spellings.</summary>
public sealed class ConfigFileTests
{
    [Fact]
    public void EveryKey_IsRead()
    {
        var s = ConfigFile.Parse("""
            // comments are allowed
            {
              "ports": "1=afpacket:eth1,2=afpacket:eth2", "controllers": ["tcp:127.0.0.1:6653"], "listen": ["ptcp:6634"],
              "protocols": "OpenFlow13", "maxBackoff": 1500, "tunnels": ["vx1:vxlan,local=10.0.0.1,remote=10.0.0.2"], "offload": "netfpga-emulated", "dpid": "0x2a",
              "failMode": "secure", "threads": 2, "forwardingCpus": "1-2", "busyPollUs": 200, "lingerUs": 300,
              "pmdRxqAssign": "roundrobin", "pmdAutoLb": true, "pmdAutoLbLoadThreshold": 80, "pmdAutoLbImprovementThreshold": 10, "pmdAutoLbRebalInterval": 5, "emcEntries": 0, "packetInRate": 500.5, "pcapDir": "/tmp/p", "stats": true,
              "logLevel": "ofagent:dbg", "logFile": "/tmp/s.log", "unixctl": "none", "pidfile": "/tmp/s.pid", "detach": true,
              "metrics": "127.0.0.1:9477", "privateKey": "/tmp/k.pem", "certificate": "/tmp/c.pem", "caCert": "/tmp/ca.pem",
              "bootstrapCaCert": "/tmp/boot.pem", "sflow": "192.0.2.1:6343", "sflowSampling": 64, "sflowPolling": 10,
              "queues": "eth1 max-rate=100M; eth1:0 max-rate=30M", "flowLimit": 500000,
            }
            """, "c.json", out var error);
        Assert.True(s is not null, error);
        Assert.Equal("1=afpacket:eth1,2=afpacket:eth2", s.Ports);
        Assert.Equal(["tcp:127.0.0.1:6653"], s.Controllers);
        Assert.Equal(["ptcp:6634"], s.Listen);
        Assert.Equal(("OpenFlow13", 1500), (s.Protocols, s.MaxBackoff));
        Assert.Single(s.Tunnels);
        Assert.Equal(("netfpga-emulated", "0x2a", "secure", 2, 0, 500.5), (s.Offload, s.Dpid, s.FailMode, s.Threads, s.EmcEntries, s.PacketInRate));
        Assert.Equal(("/tmp/p", true, "ofagent:dbg", "/tmp/s.log", "none", "/tmp/s.pid", true, "127.0.0.1:9477"),
            (s.PcapDir, s.Stats, s.LogLevel, s.LogFile, s.Unixctl, s.Pidfile, s.Detach, s.Metrics));
        Assert.Equal(("/tmp/k.pem", "/tmp/c.pem", "/tmp/ca.pem", "/tmp/boot.pem"), (s.PrivateKey, s.Certificate, s.CaCert, s.BootstrapCaCert));
        Assert.Equal(200, s.BusyPollUs);
        Assert.Equal(300, s.LingerUs);
        Assert.Equal(("roundrobin", true, 80, 10, 5), (s.PmdRxqAssign, s.PmdAutoLb, s.PmdAutoLbLoadThreshold, s.PmdAutoLbImprovementThreshold, s.PmdAutoLbRebalInterval));
        Assert.Equal("1-2", s.ForwardingCpus);
        Assert.Equal(("192.0.2.1:6343", 64, 10), (s.Sflow, s.SflowSampling, s.SflowPolling));
        Assert.Equal("eth1 max-rate=100M; eth1:0 max-rate=30M", s.Queues);
        Assert.Equal(500_000, s.FlowLimit);
        // Every key the checker knows is a property the generated deserializer fills (nothing is silently dropped).
        Assert.Equal(38, ConfigFile.Keys.Count());
    }

    [Fact]
    public void Defaults_AreOvsLike()
    {
        var s = ConfigFile.Parse("{}", "c.json", out _)!;
        Assert.Equal(("standalone", 1, 8192, "info"), (s.FailMode, s.Threads, s.EmcEntries, s.LogLevel));
        Assert.Equal(2_000_000, s.FlowLimit);
        Assert.Null(s.Ports);
    }

    [Theory]
    [InlineData("""{"port": "eth1"}""", "unknown setting 'port' (did you mean 'ports'?)")]
    [InlineData("""{"controller": ["tcp:1.2.3.4"]}""", "unknown setting 'controller' (did you mean 'controllers'?)")]
    [InlineData("""{"fail_mode": "secure"}""", "unknown setting 'fail_mode' (did you mean 'failMode'?)")]
    [InlineData("""{"colour": 1}""", "unknown setting 'colour' (settings: ports, controllers,")]
    [InlineData("""{"controllers": "tcp:1.2.3.4:6653"}""", "controllers must be a list of strings, not \"tcp:1.2.3.4:6653\"")]
    [InlineData("""{"controllers": [1]}""", "controllers must be a list of strings")]
    [InlineData("""{"threads": "2"}""", "threads must be a whole number, not \"2\"")]
    [InlineData("""{"threads": 1.5}""", "threads must be a whole number")]
    [InlineData("""{"stats": "yes"}""", "stats must be true or false")]
    [InlineData("""{"flowLimit": "1000"}""", "flowLimit must be a whole number, not \"1000\"")]
    [InlineData("""{"flowLimit": 3000000000}""", "flowLimit must be a whole number, not 3000000000")]
    [InlineData("""{"ports": null}""", "ports must be a string, not null")]
    [InlineData("""{"ports": "a", "PORTS": "b"}""", "'ports' is set twice")]
    [InlineData("""["ports"]""", "want a JSON object of settings")]
    [InlineData("""{"ports": """, "not valid JSON")]
    public void Mistakes_AreOneLineInTheUsersWords(string json, string expected)
    {
        Assert.Null(ConfigFile.Parse(json, "c.json", out var error));
        Assert.StartsWith("config 'c.json': ", error);
        Assert.Contains(expected, error);
        Assert.DoesNotContain('\n', error);
    }

    [Theory]
    [InlineData("1", 1UL)]
    [InlineData("0x1", 1UL)]
    [InlineData("0X2a", 0x2aUL)]
    [InlineData("00:00:00:00:00:00:00:01", 1UL)]
    [InlineData("de:ad:be:ef:00:00:00:01", 0xdeadbeef00000001UL)]
    [InlineData("ffffffffffffffff", ulong.MaxValue)]
    public void Dpid_Spellings(string text, ulong expected)
    {
        Assert.True(ConfigFile.TryParseDpid(text, out var dpid));
        Assert.Equal(expected, dpid);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0x")]
    [InlineData("1ffffffffffffffff")]
    [InlineData("00:00:00:01")]
    [InlineData("00:00:00:00:00:00:00:1")]
    [InlineData("-1")]
    [InlineData("+1")]
    [InlineData("g")]
    public void Dpid_Rejects(string text) => Assert.False(ConfigFile.TryParseDpid(text, out _));
}
