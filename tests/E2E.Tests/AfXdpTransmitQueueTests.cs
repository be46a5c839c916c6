using System.Text.RegularExpressions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// `softswitch run --threads 2` on AF_XDP veths, Open vSwitch's XPS case: each of two input ports is received by its own
/// forwarding thread, and both threads transmit to one single-queue output port, on its queue 0 under its lock (t mod
/// 1). Every frame arrives once, and `ctl dp/show` says which thread sent how many on which queue, locked, with the TX
/// descriptors posted equal to those completed: no frame left the switch any other way.
/// </summary>
public sealed partial class AfXdpTransmitQueueTests
{
    private static readonly MacAddress Src = MacAddress.Parse("0e:00:00:00:72:01");

    private static List<byte[]> Frames(int count, MacAddress dst, ushort firstPort) =>
        Enumerable.Range(0, count).Select(i => FrameBuilder.Udp(Src, dst, Ipv4.Parse("10.72.0.1"), Ipv4.Parse("10.72.0.2"),
            (ushort)(firstPort + i), 7000, 64 + (i % 4) * 100)).ToList();

    [E2EFact]
    public void TwoThreads_TwoInputPorts_OneSingleQueueOutput_BothThreadsSendOnItsLockedQueue_EveryFrameCounted()
    {
        using var a = Netns.Create();
        using var b = Netns.Create();
        using var c = Netns.Create();
        string socket = Path.Combine(Path.GetTempPath(), $"ssw-xps-{Environment.ProcessId:x}-{Random.Shared.Next():x}.ctl");
        using var sw = new SwitchProcess($"afxdp:{a.HostIf},afxdp:{b.HostIf},afxdp:{c.HostIf}",
            "--threads", "2", "--fail-mode", "secure", "--local-port", "none", "--unixctl", socket);
        sw.Ofctl("add-flow", "priority=100,in_port=1,udp,actions=output:3");
        sw.Ofctl("add-flow", "priority=100,in_port=2,udp,actions=output:3");

        var dst = MacAddress.Parse(c.NsMac);
        var fromA = Frames(300, dst, 1000);
        var fromB = Frames(200, dst, 2000);
        var sent = fromA.Concat(fromB).Select(Convert.ToHexString).ToList();
        using var cap = c.StartCapture(0x0800, sent.Count, timeoutSeconds: 15);
        Parallel.Invoke(() => a.SendFrames(fromA, cpu: 0), () => b.SendFrames(fromB, cpu: Math.Min(1, Environment.ProcessorCount - 1)));
        var got = cap.Finish().Select(Convert.ToHexString).Where(sent.Contains).ToList();
        Assert.Equal(sent.Order(), got.Order());   // every frame, once

        // The counters settle once the last burst's completions are reaped (the rx owner's idle kick, the next send).
        string tx = "", show = "";
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            var r = SwitchProcess.Ctl("--target", socket, "dp/show");
            Assert.True(r.Ok, r.Stderr + r.Stdout);
            show = r.Stdout;
            var lines = show.Split('\n');
            int port3 = Array.FindIndex(lines, l => l.Contains($" {c.HostIf}: link", StringComparison.Ordinal));
            Assert.True(port3 >= 0, show);
            tx = lines.Skip(port3 + 1).First(l => l.TrimStart().StartsWith("afxdp tx:", StringComparison.Ordinal));
            if (tx.Contains($"queue 0 posted {sent.Count} completed {sent.Count}", StringComparison.Ordinal)) break;
            Thread.Sleep(100);
        }
        Console.WriteLine(tx);
        var m = TxLine().Match(tx);
        Assert.True(m.Success, "afxdp tx line:\n" + show);
        // Ports go to threads round-robin: A on thread 0, B on thread 1; both send on the output's only queue, locked.
        Assert.Equal(fromA.Count, long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(fromB.Count, long.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("0", m.Groups[3].Value);   // the other threads' lane sent nothing
        Assert.Contains($"queue 0 posted {sent.Count} completed {sent.Count}", tx);
        Assert.Matches($@" 3 {Regex.Escape(c.HostIf)}: link up, .* tx {sent.Count} packets \d+ bytes 0 dropped", show);
    }

    [GeneratedRegex(@"afxdp tx: fwd-0 queue 0 locked (\d+) frames; fwd-1 queue 0 locked (\d+) frames; other queue 0 locked (\d+) frames; queue 0 posted")]
    private static partial Regex TxLine();
}
