using System.Buffers.Binary;
using System.Text;
using Softswitch.Control;
using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.Flows;
using Softswitch.OfAgent;
using Softswitch.Ofproto;
using Softswitch.Ports.PcapFile;
using Softswitch.TestKit;

namespace Softswitch.Tests.Control;

/// <summary>
/// pcap/start, pcap/stop and trace/watch against a real datapath with in-memory ports: the pcapng files (read back by
/// our own reader and by tshark), the ring's drop counter, the watch's traces through `softswitch ctl`, no allocation
/// on the forwarding path, and no tap left when nothing watches.
/// </summary>
public sealed class LiveCaptureTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("l7-live-");
    private readonly SwitchDatapath _dp;
    private readonly MemoryPort[] _ports;
    private readonly OfSwitchAgent _agent;
    private readonly LiveTaps _taps;
    private readonly ControlCommands _commands = new();

    private static readonly MacAddress s_a = MacAddress.Parse("00:00:00:00:00:0a"), s_b = MacAddress.Parse("00:00:00:00:00:0b");

    public LiveCaptureTests() : this(PortCapture.DefaultBufferSize) { }

    private LiveCaptureTests(int bufferSize)
    {
        _dp = new SwitchDatapath(new DatapathOptions { EmcEntries = 1024, PacketInRate = 0 });
        _ports = Enumerable.Range(1, 3).Select(i => new MemoryPort($"l7p{i}", new MacAddress(0x0200_0000_0000UL + (ulong)i))).ToArray();
        foreach (var p in _ports) _dp.AddPort(p);
        _agent = new OfSwitchAgent(new OfSwitch(_dp, new OfSwitchOptions { DatapathId = 0x47 }), new AgentOptions());
        _taps = new LiveTaps(_dp) { BufferSize = bufferSize };
        LiveCommands.Register(_commands, _taps, _agent.Switch.Flows, null);
    }

    public void Dispose()
    {
        _taps.Dispose();
        _dp.Dispose();
        _dir.Delete(recursive: true);
    }

    private ControlReply Run(string line) => _commands.Execute(Encoding.UTF8.GetBytes(line + "\n"));

    private void AddFlow(string text)
    {
        Assert.True(OfctlFlowParser.TryParse(text, FlowModCommand.Add, out var mod, out var error), error);
        Assert.Equal(FlowModStatus.Ok, _agent.Switch.Flows.Apply(mod));
    }

    private static byte[] Udp(int i, int size = 64) => FrameBuilder.Udp(s_a, s_b, 0x0A000001, 0x0A000002, (ushort)(1000 + i), 2000, size);

    /// <summary>Forwards what the ports hold, on this thread.</summary>
    private void Forward()
    {
        while (_ports.Any(p => p.PendingReceive > 0)) _dp.PollOnce();
    }

    [ToolFact]
    [RequiresTool("tshark")]
    public void PcapStartStop_APcapngPerPort_NamedAfterIt_BothDirections_ReadByTshark()
    {
        AddFlow("priority=100,in_port=1 actions=output:2");
        var started = Run($"pcap/start all {_dir.FullName}");
        Assert.True(started.Ok, started.Text);
        Assert.Contains($"port 1 (l7p1): capturing to {_dir.FullName}/l7p1.pcapng\n", started.Text);
        Assert.NotNull(_dp.Tap);
        Assert.Contains("port 2 (l7p2): 0 packets, 0 dropped", Run("pcap/show").Text);
        Assert.False(Run($"pcap/start 1 {_dir.FullName}").Ok);   // already captured

        var frames = Enumerable.Range(0, 5).Select(i => Udp(i, 64 + i)).ToArray();
        foreach (var f in frames) _ports[0].Inject(f);
        Forward();
        var stopped = Run("pcap/stop");
        Assert.True(stopped.Ok, stopped.Text);
        Assert.Contains("port 1 (l7p1): 5 packets, 0 dropped", stopped.Text);
        Assert.Contains("port 2 (l7p2): 5 packets, 0 dropped", stopped.Text);
        Assert.Null(_dp.Tap);   // nothing watches: the forwarders' hooks see null

        var rx = PcapNgFile.Read(Path.Combine(_dir.FullName, "l7p1.pcapng"));
        Assert.Equal("l7p1", rx.InterfaceName);
        Assert.Equal(frames.Select(Convert.ToHexString), rx.Packets.Select(p => Convert.ToHexString(p.Frame)));
        Assert.All(rx.Packets, p => Assert.Equal(PcapNg.Inbound, p.Flags & 3));
        Assert.Equal((5UL, 0UL), (rx.Received, rx.Dropped));
        var tx = PcapNgFile.Read(Path.Combine(_dir.FullName, "l7p2.pcapng"));
        Assert.Equal("l7p2", tx.InterfaceName);
        Assert.Equal(frames.Select(Convert.ToHexString), tx.Packets.Select(p => Convert.ToHexString(p.Frame)));
        Assert.All(tx.Packets, p => Assert.Equal(PcapNg.Outbound, p.Flags & 3));
        var idle = PcapNgFile.Read(Path.Combine(_dir.FullName, "l7p3.pcapng"));
        Assert.Equal(("l7p3", 0), (idle.InterfaceName, idle.Packets.Count));

        // tshark reads the same: the interface's name, each frame's length and direction.
        var r = Sh.Run("tshark", ["-r", Path.Combine(_dir.FullName, "l7p1.pcapng"), "-T", "fields", "-e", "frame.interface_name", "-e", "frame.len", "-e", "frame.packet_flags_direction"], 60_000);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"l7p1\t{64 + i}\t0x00000001"), r.Stdout.Trim().Split('\n'));   // inbound
        r = Sh.Run("tshark", ["-r", Path.Combine(_dir.FullName, "l7p2.pcapng"), "-T", "fields", "-e", "frame.interface_name", "-e", "frame.packet_flags_direction"], 60_000);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(Enumerable.Repeat("l7p2\t0x00000002", 5), r.Stdout.Trim().Split('\n'));                          // outbound
    }

    [Fact]
    public void RingFull_PacketsAreDroppedFromTheCapture_Counted_InTheReplyAndTheFile()
    {
        using var small = new LiveCaptureTests(4096);
        small.AddFlow("priority=100,in_port=1 actions=output:2");
        Assert.True(small.Run($"pcap/start l7p1 {_dir.FullName}").Ok);
        // One burst of 32 frames of 1000 bytes into a ring of 4096: a burst is copied whole under the ring's lock, so
        // at most 3 fit, whatever the writer does.
        for (int i = 0; i < 32; i++) small._ports[0].Inject(Udp(i, 1000));
        small.Forward();
        Assert.Equal(32, small._ports[1].Counters.Snapshot().TxPackets);   // forwarding lost nothing
        var stopped = small.Run("pcap/stop 1");
        var m = System.Text.RegularExpressions.Regex.Match(stopped.Text, @"^port 1 \(l7p1\): (\d+) packets, (\d+) dropped");
        Assert.True(m.Success, stopped.Text);
        long written = long.Parse(m.Groups[1].Value), dropped = long.Parse(m.Groups[2].Value);
        Assert.Equal(32, written + dropped);
        Assert.InRange(dropped, 29, 31);
        var file = PcapNgFile.Read(Path.Combine(_dir.FullName, "l7p1.pcapng"));
        Assert.Equal(written, file.Packets.Count);
        Assert.Equal((32UL, (ulong)dropped), (file.Received, file.Dropped));
        var r = Sh.Run("capinfos", ["-M", Path.Combine(_dir.FullName, "l7p1.pcapng")], 60_000);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains($"Number of packets:   {written}", r.Stdout);
    }

    [Fact]
    public void APortReopenedUnderItsNumber_StaysCaptured()
    {
        Assert.True(Run($"pcap/start 1 {_dir.FullName}").Ok);
        _ports[0].Inject(Udp(1));
        Forward();
        // The interface went away and came back (as PortReopener does it): a new slot, the same number.
        Assert.True(_dp.RemovePort(1));
        var again = new MemoryPort("l7p1", new MacAddress(0x0200_0000_0001UL));
        _dp.AddPort(again, 1);
        again.Inject(Udp(2));
        _dp.PollUntilIdle();
        Assert.Contains("port 1 (l7p1): 2 packets, 0 dropped", Run("pcap/stop 1").Text);
        Assert.Equal(2, PcapNgFile.Read(Path.Combine(_dir.FullName, "l7p1.pcapng")).Packets.Count);
    }

    [Fact]
    public void ForwardingThread_AllocatesNothing_WhileCapturingAndWatching()
    {
        AddFlow("priority=100,in_port=1,udp actions=output:2");
        AddFlow("priority=90,in_port=1 actions=drop");
        Assert.True(Run($"pcap/start all {_dir.FullName}").Ok);
        var begun = Run("trace/watch udp,in_port=1 --rate 1000");
        Assert.True(begun.Ok, begun.Text);
        _ports[0].SetGenerator([Udp(1), Udp(2, 200), FrameBuilder.Tcp(s_a, s_b, 0x0A000001, 0x0A000002, 1, 2)], 0);
        void Round()
        {
            _ports[0].SetGeneratorCount(10_000);
            while (_dp.PollOnce() > 0) { }
        }
        Round();   // warm: queues and tables grow once
        Assert.Equal(0, AllocationMeter.SteadyState(Round));
        Assert.Contains("active\n", Run("trace/watch-poll 1").Text);
        Assert.True(_taps.Captures()[0].Packets > 0);
    }

    [Fact]
    public void TraceWatch_ThroughCtl_PrintsEachMatchingPacketsPath_UntilTheCount()
    {
        AddFlow("priority=100,in_port=1,udp,tp_src=1001 actions=output:2");
        AddFlow("priority=100,in_port=1,udp,tp_src=1002 actions=output:9");
        AddFlow("priority=50,in_port=1 actions=output:3");
        string socket = Path.Combine(_dir.FullName, "l7.ctl");
        using var server = ControlServer.Start(socket, _commands);
        var o = new StringWriter();
        var e = new StringWriter();
        int code = -1;
        var client = new Thread(() => code = CtlCommand.Run(socket, 30, ["trace/watch", "in_port=1,udp", "--count", "3", "--rate", "100"], o, e));
        client.Start();

        // Wait for the watch, then send: TCP (not matched), then UDP the two rules take.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (_dp.Tap is null && client.IsAlive && DateTime.UtcNow < deadline) Thread.Sleep(10);
        Assert.NotNull(_dp.Tap);
        int sent = 0;
        while (client.IsAlive && DateTime.UtcNow < deadline)
        {
            if (sent < 3)
            {
                _ports[0].Inject(FrameBuilder.Tcp(s_a, s_b, 0x0A000001, 0x0A000002, 1001, 80));
                _ports[0].Inject(Udp(sent == 2 ? 2 : 1));
                sent++;
                Forward();
            }
            Thread.Sleep(10);
        }
        Assert.True(client.Join(TimeSpan.FromSeconds(60)), "trace/watch did not end after 3 packets");
        Assert.True(code == 0, e.ToString());
        string text = o.ToString();
        Assert.StartsWith("watch 1: in_port=1,udp, at most 100 a second, 3 in all", e.ToString());
        var blocks = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, blocks.Length);
        for (int i = 0; i < 3; i++)
        {
            var lines = blocks[i].Split('\n');
            Assert.Matches($@"^packet {i + 1} at \d{{4}}-\d\d-\d\dT[0-9:.]+Z on port 1 \(l7p1\), 64 bytes$", lines[0]);
            Assert.StartsWith("Flow: udp,in_port=1,", lines[1]);
            Assert.Contains(lines, l => l.StartsWith("Stage: ", StringComparison.Ordinal));
        }
        Assert.Contains("Rule: cookie=0x0, table=0, priority=100,udp,in_port=1,tp_src=1001 actions=output:2", blocks[0]);
        Assert.Contains("\nOutput: 2", blocks[0]);
        Assert.Contains("tp_src=1002 actions=output:9", blocks[2]);
        Assert.Contains("\nOutput: 9 (no such port: dropped)", blocks[2]);
        Assert.DoesNotContain("tcp", text);
        Assert.Null(_dp.Tap);   // the watch ended with its count: no tap left
    }

    [Fact]
    public void TraceWatch_BadFilter_AndOneAtATime_AndStop()
    {
        Assert.Contains("bad filter", Run("trace/watch nw_dst=banana").Text);
        Assert.True(Run("trace/watch").Ok);                              // no filter: every packet
        Assert.Contains("watch 1 (", Run("trace/watch udp").Text);      // one at a time
        Assert.True(Run("trace/watch-stop 1").Ok);
        Assert.Null(_dp.Tap);
        Assert.False(Run("trace/watch-poll 1").Ok);
        Assert.Contains("--rate is at most 1000", Run("trace/watch --rate 5000").Text);
    }
}

/// <summary>A pcapng reader for the tests: one section, the first interface's name, its packets, its last statistics.</summary>
internal sealed class PcapNgFile
{
    public string? InterfaceName;
    public readonly List<(byte[] Frame, uint Flags, uint OriginalLength)> Packets = new();
    public ulong Received, Dropped;

    public static PcapNgFile Read(string path)
    {
        var b = File.ReadAllBytes(path);
        var f = new PcapNgFile();
        Assert.True(b.Length >= 28 && BinaryPrimitives.ReadUInt32LittleEndian(b) == PcapNg.SectionHeaderType, "no section header");
        Assert.Equal(PcapNg.ByteOrderMagic, BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(8)));
        int o = 0;
        while (o < b.Length)
        {
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(o));
            int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(o + 4));
            Assert.True(len >= 12 && len % 4 == 0 && o + len <= b.Length, $"bad block at {o}");
            Assert.Equal((uint)len, BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(o + len - 4)));
            var body = b.AsSpan(o + 8, len - 12);
            switch (type)
            {
                case PcapNg.InterfaceDescriptionType:
                    Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(body));   // Ethernet
                    foreach (var (code, value) in Options(body[8..]))
                        if (code == PcapNg.OptIfName) f.InterfaceName = Encoding.UTF8.GetString(value);
                    break;
                case PcapNg.EnhancedPacketType:
                    int cap = (int)BinaryPrimitives.ReadUInt32LittleEndian(body[12..]);
                    uint orig = BinaryPrimitives.ReadUInt32LittleEndian(body[16..]);
                    uint flags = 0;
                    foreach (var (code, value) in Options(body[(20 + PcapNg.Pad(cap))..]))
                        if (code == PcapNg.OptEpbFlags) flags = BinaryPrimitives.ReadUInt32LittleEndian(value);
                    f.Packets.Add((body.Slice(20, cap).ToArray(), flags, orig));
                    break;
                case PcapNg.InterfaceStatisticsType:
                    foreach (var (code, value) in Options(body[12..]))
                    {
                        if (code == PcapNg.OptIsbIfRecv) f.Received = BinaryPrimitives.ReadUInt64LittleEndian(value);
                        if (code == PcapNg.OptIsbIfDrop) f.Dropped = BinaryPrimitives.ReadUInt64LittleEndian(value);
                    }
                    break;
            }
            o += len;
        }
        return f;
    }

    private static List<(ushort Code, byte[] Value)> Options(ReadOnlySpan<byte> s)
    {
        var list = new List<(ushort, byte[])>();
        while (s.Length >= 4)
        {
            ushort code = BinaryPrimitives.ReadUInt16LittleEndian(s), len = BinaryPrimitives.ReadUInt16LittleEndian(s[2..]);
            if (code == 0) break;
            list.Add((code, s.Slice(4, len).ToArray()));
            s = s[(4 + PcapNg.Pad(len))..];
        }
        return list;
    }
}
