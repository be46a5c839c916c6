using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Softswitch.Logging;

namespace Softswitch.Tests.Logging;

/// <summary>Log lines in OVS's shape, OVS and .NET level names, per-module levels, vlog/reopen.</summary>
public sealed class VlogTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ssw-vlog-");

    public void Dispose() => _dir.Delete(recursive: true);

    private static readonly DateTime s_when = new(2026, 11, 22, 15, 12, 50, 123, DateTimeKind.Utc);

    [Fact]
    public void Line_IsTimeSequenceModuleLevelMessage()
    {
        var w = new StringWriter();
        var vlog = new Vlog(console: w, clock: () => s_when);
        using var f = LoggerFactory.Create(b => b.AddProvider(vlog).SetMinimumLevel(LogLevel.Trace));
        f.CreateLogger("ofagent").LogInformation("controller {Ep}: connected", "tcp:127.0.0.1:6653");
        f.CreateLogger("Softswitch.Ports.AfPacket").LogWarning("eth1: link down");
        f.CreateLogger("ofagent").LogDebug("not shown at info");
        f.CreateLogger("ofagent").LogError(new InvalidOperationException("boom"), "failed\nacross lines");
        Assert.Equal(
            "2026-11-22T15:12:50.123Z|00001|ofagent|INFO|controller tcp:127.0.0.1:6653: connected\n" +
            "2026-11-22T15:12:50.123Z|00002|afpacket|WARN|eth1: link down\n" +
            "2026-11-22T15:12:50.123Z|00003|ofagent|ERR|failed across lines (InvalidOperationException: boom)\n",
            w.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Values_ReadAsOvsUsersReadThem_LowerCaseBooleans_Ipv4WithoutMappedPrefix()
    {
        var w = new StringWriter();
        var vlog = new Vlog(console: w, clock: () => s_when);
        using var f = LoggerFactory.Create(b => b.AddProvider(vlog).SetMinimumLevel(LogLevel.Trace));
        var log = f.CreateLogger("afpacket");
        log.LogInformation("{If}: open (MTU {Mtu}, qdisc-bypass {Bypass}, fanout {Fanout})", "eth1", 1500, true, false);
        log.LogInformation("dpid {Dpid:x16}, {{literal}}, ok {Ok}", 42UL, true);
        log.LogInformation("peer {Peer} at {Address}", new System.Net.IPEndPoint(System.Net.IPAddress.Parse("::ffff:10.0.0.1"), 6653), System.Net.IPAddress.Parse("::ffff:127.0.0.1"));
        log.LogInformation("service tcp {Remote}: connected, {Other}", "[::ffff:127.0.0.1]:41234", "[2001:db8::1]:6653");
        string[] lines = w.ToString().ReplaceLineEndings("\n").TrimEnd('\n').Split('\n').Select(l => l.Split('|', 5)[4]).ToArray();
        Assert.Equal([
            "eth1: open (MTU 1500, qdisc-bypass true, fanout false)",
            "dpid 000000000000002a, {literal}, ok true",
            "peer 10.0.0.1:6653 at 127.0.0.1",
            "service tcp 127.0.0.1:41234: connected, [2001:db8::1]:6653",
        ], lines);
    }

    [Theory]
    [InlineData("dbg", (int)Vlog.Level.Dbg)]
    [InlineData("Debug", (int)Vlog.Level.Dbg)]
    [InlineData("trace", (int)Vlog.Level.Dbg)]
    [InlineData("INFO", (int)Vlog.Level.Info)]
    [InlineData("Information", (int)Vlog.Level.Info)]
    [InlineData("warn", (int)Vlog.Level.Warn)]
    [InlineData("Warning", (int)Vlog.Level.Warn)]
    [InlineData("err", (int)Vlog.Level.Err)]
    [InlineData("Error", (int)Vlog.Level.Err)]
    [InlineData("emer", (int)Vlog.Level.Emer)]
    [InlineData("Critical", (int)Vlog.Level.Emer)]
    [InlineData("off", (int)Vlog.Level.Off)]
    public void Levels_OvsAndDotNetNames(string text, int expected)
    {
        Assert.True(Vlog.TryParseLevel(text, out var level));
        Assert.Equal((Vlog.Level)expected, level);
    }

    [Fact]
    public void PerModuleLevels_FromSpec_AndAtRunTime()
    {
        var w = new StringWriter();
        var vlog = new Vlog(console: w, clock: () => s_when);
        Assert.True(vlog.TrySet("info,ofagent:dbg,afpacket:warn", out var error), error);
        using var f = LoggerFactory.Create(b => b.AddProvider(vlog).SetMinimumLevel(LogLevel.Trace));
        var agent = f.CreateLogger("ofagent");
        var port = f.CreateLogger("afpacket");
        agent.LogDebug("a");
        port.LogInformation("hidden");
        port.LogWarning("b");
        Assert.True(vlog.TrySet("afpacket:dbg", out error), error);   // vlog/set at run time reaches existing loggers
        port.LogDebug("c");
        Assert.True(vlog.TrySet("off", out error), error);            // a bare level is every module
        agent.LogError("hidden");
        Assert.Equal(["ofagent|DBG|a", "afpacket|WARN|b", "afpacket|DBG|c"],
            w.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => string.Join('|', l.Split('|')[2..])).ToArray());
        Assert.Contains(("afpacket", Vlog.Level.Off), vlog.List());
    }

    [Theory]
    [InlineData("loud", "bad log level 'loud'")]
    [InlineData("ofagent:loud", "bad log level 'ofagent:loud'")]
    [InlineData(":dbg", "bad log level ':dbg'")]
    [InlineData("of agent:dbg", "bad log module 'of agent'")]
    [InlineData("", "empty log level")]
    public void BadSpec_ChangesNothing_AndSaysWhy(string spec, string expected)
    {
        var vlog = new Vlog(console: TextWriter.Null);
        Assert.True(vlog.TrySet("ofagent:warn", out _));
        Assert.False(vlog.TrySet(spec.Length == 0 ? spec : "ofagent:dbg," + spec, out var error));
        Assert.Contains(expected, error);
        Assert.Contains(("ofagent", Vlog.Level.Warn), vlog.List());
    }

    [Fact]
    public void Reopen_AfterLogrotateMovedTheFile_WritesTheNewOne()
    {
        string path = Path.Combine(_dir.FullName, "softswitch.log");
        using var vlog = new Vlog(file: path);
        vlog.Write("softswitch", Vlog.Level.Info, "before");
        File.Move(path, path + ".1");
        vlog.Write("softswitch", Vlog.Level.Info, "still to the moved file");
        Assert.True(vlog.Reopen(out var error), error);
        vlog.Write("softswitch", Vlog.Level.Info, "after");
        Assert.Contains("|00002|softswitch|INFO|still to the moved file", File.ReadAllText(path + ".1"));
        Assert.Matches(new Regex(@"^\S+Z\|00003\|softswitch\|INFO\|after\n$"), File.ReadAllText(path).ReplaceLineEndings("\n"));
        Assert.False(new Vlog(console: TextWriter.Null).Reopen(out error));
        Assert.Contains("no log file", error);
    }
}
