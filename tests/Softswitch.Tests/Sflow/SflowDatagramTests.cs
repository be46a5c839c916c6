using System.Net;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Ports;
using Softswitch.Sflow;

namespace Softswitch.Tests.Sflow;

/// <summary>The sFlow v5 datagram encoder (golden bytes), the output and ifIndex words, the collector syntax and the config keys.</summary>
public sealed class SflowDatagramTests
{
    [Fact]
    public void FlowSample_GoldenBytes()
    {
        var d = new SflowDatagram(IPAddress.Parse("192.0.2.7"));
        d.Begin(sequence: 3, uptimeMs: 0x1234);
        Assert.True(d.Fits(SflowDatagram.FlowSampleSize(6)));
        d.AddFlowSample(sequence: 9, sourceId: 0x020003E8, rate: 400, pool: 4000, drops: 1, input: 1, output: 2, frameLength: 60,
            header: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        string hex = Convert.ToHexString(d.Finish());
        Assert.Equal(
            "00000005" + "00000001" + "C0000207" + "00000000" + "00000003" + "00001234" + "00000001" // datagram header, 1 sample
            + "00000001" + "00000040"                                                                   // flow_sample, 64 bytes after the 8 of its header
            + "00000009" + "020003E8" + "00000190" + "00000FA0" + "00000001" + "00000001" + "00000002" + "00000001"
            + "00000001" + "00000018"                                                                   // sampled_header, 24 bytes
            + "00000001" + "00000040" + "00000004" + "00000006" + "FFFFFFFFFFFF0000",
            hex);
        Assert.Equal(hex.Length / 2, 28 + SflowDatagram.FlowSampleSize(6));
    }

    [Fact]
    public void CounterSample_GoldenBytes_UnknownCountersAreAllOnes()
    {
        var d = new SflowDatagram(IPAddress.Parse("2001:db8::1"));
        d.Begin(1, 0);
        d.AddCounterSample(5, new SflowInterfaceCounters(IfIndex: 2, Speed: 1_000_000_000, Direction: 1, Status: 3, InOctets: 0x1_0000_0000,
            InPackets: 10, InDiscards: 0, InErrors: uint.MaxValue, OutOctets: 640, OutPackets: 7, OutDiscards: 1, OutErrors: 0));
        var bytes = d.Finish().ToArray();
        Assert.Equal(40 + SflowDatagram.CounterSampleSize, bytes.Length);
        string hex = Convert.ToHexString(bytes);
        Assert.StartsWith("00000005" + "00000002" + "20010DB8000000000000000000000001", hex);
        Assert.Equal(
            "00000002" + "0000006C" + "00000005" + "00000002" + "00000001" + "00000001" + "00000058"
            + "00000002" + "00000006" + "000000003B9ACA00" + "00000001" + "00000003"
            + "0000000100000000" + "0000000A" + "FFFFFFFF" + "FFFFFFFF" + "00000000" + "FFFFFFFF" + "FFFFFFFF"
            + "0000000000000280" + "00000007" + "FFFFFFFF" + "FFFFFFFF" + "00000001" + "00000000" + "00000000",
            hex[80..]);
    }

    [Theory]
    [InlineData(1, (ushort)2, 2u)]
    [InlineData(0, PortNumber.None, 0x4000_0100u)]
    [InlineData(-1, PortNumber.None, 0u)]
    [InlineData(3, (ushort)2, 0x8000_0003u)]
    [InlineData(1, PortNumber.Flood, 0x8000_0000u)]
    [InlineData(1, PortNumber.Normal, 0x8000_0000u)]
    [InlineData(1, PortNumber.Controller, 0x4000_0100u)]
    [InlineData(1, PortNumber.Local, 0xFFFEu)]
    public void OutputWord_IsOpenVSwitchs(int outputs, ushort port, uint word)
        => Assert.Equal(word, SflowDatagram.OutputWord(new PacketSample(1, port, outputs, 60, 60, 1, 0)));

    [Fact]
    public void Datagram_StaysWithinItsSize()
    {
        var d = new SflowDatagram(IPAddress.Loopback);
        d.Begin(1, 0);
        var header = new byte[128];
        int n = 0;
        while (d.Fits(SflowDatagram.FlowSampleSize(128)))
        {
            d.AddFlowSample(1, 1, 1, 1, 0, 1, 2, 1500, header);
            n++;
        }
        Assert.Equal(7, n);
        Assert.True(d.Finish().Length <= SflowDatagram.MaxSize);
    }

    [Theory]
    [InlineData("127.0.0.1:47401", "127.0.0.1", 47401)]
    [InlineData("127.0.0.1", "127.0.0.1", 6343)]
    [InlineData("[::1]:47402", "::1", 47402)]
    [InlineData("::1", "::1", 6343)]
    [InlineData("localhost:47403", null, 47403)]
    public void Collector_Forms(string text, string? address, int port)
    {
        Assert.True(SflowExporter.TryParseCollector(text, out var ep, out var error), error);
        Assert.Equal(port, ep!.Port);
        if (address is not null) Assert.Equal(IPAddress.Parse(address), ep.Address);
        else Assert.True(IPAddress.IsLoopback(ep.Address));
    }

    [Theory]
    [InlineData("127.0.0.1:0")]
    [InlineData("127.0.0.1:70000")]
    [InlineData(":6343")]
    [InlineData("[::1")]
    [InlineData("127.0.0.1:x")]
    public void Collector_BadForms_SayWhatIsWanted(string text)
    {
        Assert.False(SflowExporter.TryParseCollector(text, out _, out var error));
        Assert.StartsWith($"--sflow '{text}': want COLLECTOR[:PORT]", error);
    }

    [Fact]
    public void ConfigFile_TakesTheSflowKeys()
    {
        var s = ConfigFile.Parse("""{"ports": "mem:2", "sflow": "127.0.0.1:47404", "sflowSampling": 64, "sflowPolling": 5}""", "c.json", out var error);
        Assert.True(s is not null, error);
        Assert.Equal("127.0.0.1:47404", s.Sflow);
        Assert.Equal(64, s.SflowSampling);
        Assert.Equal(5, s.SflowPolling);
        var defaults = new RunSettings();
        Assert.Null(defaults.Sflow);
        Assert.Equal(400, defaults.SflowSampling);
        Assert.Equal(30, defaults.SflowPolling);
        Assert.Null(ConfigFile.Parse("""{"sflowSampling": "64"}""", "c.json", out error));
        Assert.Equal("config 'c.json': sflowSampling must be a whole number, not \"64\"", error);
    }
}
