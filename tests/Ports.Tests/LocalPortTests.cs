using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Softswitch.Datapath.Memory;
using Softswitch.Ports.Linux;
using Softswitch.TestKit;

namespace Softswitch.Ports.Tests;

/// <summary>The LOCAL port's naming, its tap (left administratively down) and its in-memory fallback.</summary>
public sealed class LocalPortTests
{
    private sealed class TestLog : ILogger
    {
        public readonly List<(LogLevel Level, string Text)> Lines = new();
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => Lines.Add((logLevel, formatter(state, exception)));
    }

    [Theory]
    [InlineData(0x1UL, "ss-1")]
    [InlineData(0x0000_0a1b_2c3d_4e5fUL, "ss-a1b2c3d4e5f")]
    [InlineData(0x0000_fa16_3e00_0001UL, "ss-fa163e000001")]
    [InlineData(0x1234_5678_9abc_def0UL, "ss-56789abcdef0")]
    public void DefaultNameIsSsDpidWithinFifteenCharacters(ulong dpid, string name)
    {
        Assert.Equal(name, LocalPort.DefaultName(dpid));
        Assert.True(LocalPort.DefaultName(dpid).Length <= LocalPort.MaxNameLength);
    }

    [Theory]
    [InlineData(PortOpenError.Unsupported, false)]
    [InlineData(PortOpenError.PermissionDenied, true)]
    [InlineData(PortOpenError.Failed, false)]
    public void WithoutATapTheLocalPortIsInMemoryAndSaysSoOnce(PortOpenError why, bool explicitName)
    {
        var log = new TestLog();
        var port = LocalPort.Open("ss-42", 0x42, explicitName, log, _ => throw new PortOpenException(why, "ss-42", "no tap here"));
        var mem = Assert.IsType<MemoryPort>(port);
        Assert.Equal("ss-42", mem.Info.Name);
        Assert.Single(log.Lines, l => l.Level == LogLevel.Warning && l.Text.Contains("in-memory") && l.Text.Contains("no tap here"));
        // It counts what it is sent.
        var pool = new Softswitch.Datapath.Packets.PacketPool(4);
        int p = pool.Alloc();
        pool.Write(p, new byte[60]);
        port.Send(pool, [p]);
        Assert.Equal(1, port.Counters.Snapshot().TxPackets);
    }

    [Fact]
    public void AnExplicitNameThatCannotBeATapIsAnError()
        => Assert.Throws<PortOpenException>(() => LocalPort.Open("ss-42", 0x42, true, null, _ => throw new PortOpenException(PortOpenError.Failed, "ss-42", "busy")));

    [NetnsFact]
    public void TheTapIsCreatedAdministrativelyDown()
    {
        string name = "ssl" + Convert.ToHexString(RandomNumberGenerator.GetBytes(4)).ToLowerInvariant();
        using var port = LocalPort.Open(name, 1, true);
        Assert.IsType<TapPort>(port);
        string flags = File.ReadAllText($"/sys/class/net/{name}/flags").Trim();
        Assert.Equal(0, Convert.ToInt32(flags, 16) & 1); // IFF_UP clear
        Assert.False(port.LinkUp);
        Sh.Check("ip", "link", "set", name, "up");
        Assert.True(SpinUntil(() => port.LinkUp));
    }

    private static bool SpinUntil(Func<bool> cond)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < 3000)
        {
            if (cond()) return true;
            Thread.Sleep(20);
        }
        return cond();
    }
}
