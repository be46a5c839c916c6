using System.Diagnostics;
using System.Globalization;
using System.Text;
using Softswitch.OfWire.Of10;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// An atomic replace under traffic, through real veths and namespaces: the namespace harness's paced sender
/// (<see cref="Netns.StartFlood"/>) sends frames to 1,000 destination MACs at a fixed rate into port 1 of
/// `softswitch run`, each MAC forwarded to port 2 by a flow of its own, while the real
/// <c>ovs-ofctl -O OpenFlow14 --bundle replace-flows</c> swaps those 1,000 flows for 1,000 others (another priority
/// and cookie) that forward the same frames. The proof is by counts, never rates: every frame that entered
/// port 1 arrived in the sink namespace (the veths' own counts), and none missed the table (the table-miss
/// flow, which sends to a test controller, counted none, and the controller got no PACKET_IN). The same replace back
/// without <c>--bundle</c> (ovs-ofctl then sends the 1,000 deletes, then the 1,000 adds) is measured alike and its
/// losses printed.
/// </summary>
[RequiresTool("ovs-ofctl")]
public sealed class AtomicReplaceTests
{
    private const int Flows = 1000;
    private const int Rate = 5000;       // frames a second, over the 1,000 flows: each flow 5 a second

    /// <summary>Set A: in_port and the destination, priority 100, cookie 0xa.</summary>
    private static string FlowsA()
    {
        var sb = new StringBuilder("priority=0,actions=CONTROLLER:128\n");
        for (int i = 0; i < Flows; i++)
            sb.Append(CultureInfo.InvariantCulture, $"cookie=0xa,priority=100,in_port=1,dl_dst={Netns.FloodMac(i)},actions=output:2\n");
        return sb.ToString();
    }

    /// <summary>Set B: the same frames by another match shape (the destination alone: a subtable the bundle creates) at
    /// priority 200, cookie 0xb.</summary>
    private static string FlowsB()
    {
        var sb = new StringBuilder("priority=0,actions=CONTROLLER:128\n");
        for (int i = 0; i < Flows; i++)
            sb.Append(CultureInfo.InvariantCulture, $"cookie=0xb,priority=200,dl_dst={Netns.FloodMac(i)},actions=output:2\n");
        return sb.ToString();
    }

    /// <summary>Frames the sink namespace's veth end received: its peer's (the switch's port 2) count of frames handed
    /// to it, which the kernel reports as that end's rx_packets, read here without entering the namespace.</summary>
    private static long RxPackets(Netns sink) => Counter(sink.HostIf, "tx_packets");

    /// <summary>Frames that entered the switch's port (the veth end's rx_packets: what the generator's end handed to it).</summary>
    private static long RxPackets(string ifname) => Counter(ifname, "rx_packets");

    private static long Counter(string ifname, string name) => long.Parse(File.ReadAllText($"/sys/class/net/{ifname}/statistics/{name}").Trim(), CultureInfo.InvariantCulture);

    private static Sh.Result Ofctl(SwitchProcess sw, params string[] args) => Sh.Run("ovs-ofctl", ["-O", "OpenFlow14", .. args.Take(1), sw.Endpoint, .. args.Skip(1)], 60_000);

    private static List<string> FlowLines(SwitchProcess sw)
    {
        var r = Ofctl(sw, "dump-flows");
        Assert.True(r.Ok, r.Stderr);
        return r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => l.Contains("actions=", StringComparison.Ordinal)).ToList();
    }

    private static long NPackets(string line)
    {
        var m = System.Text.RegularExpressions.Regex.Match(line, @"n_packets=(\d+)");
        Assert.True(m.Success, line);
        return long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    /// <summary>The table-miss flow's packets (it stays through both replaces: the same in both files).</summary>
    private static long Misses(SwitchProcess sw) => NPackets(FlowLines(sw).Single(l => l.Contains("priority=0", StringComparison.Ordinal)));

    private readonly record struct Phase(long Sent, long Received, long Missed, long PacketIns, double ReplaceSeconds);

    /// <summary>
    /// One run of the generator at <see cref="Rate"/> with replace-flows of <paramref name="file"/> started once its
    /// frames come out of port 2, the generator stopped once every flow of the new set has carried frames; then the
    /// counts, once the sink's stops moving. Sent is what entered the switch's port 1 (its veth end's rx_packets: the
    /// generator is stopped at any point, and a frame is counted there whole or not at all), received what reached
    /// the sink namespace through port 2; nothing else crosses either (no addresses, IPv6 off).
    /// </summary>
    private static Phase RunPhase(SwitchProcess sw, OfTestController controller, Netns gen, Netns sink, string file, bool bundle, string cookie)
    {
        long in0 = RxPackets(gen.HostIf), rx0 = RxPackets(sink), miss0 = Misses(sw), pin0 = controller.Count(OfpType.PacketIn);
        var phase = Stopwatch.StartNew();
        using var g = gen.StartFlood(gen.NsIf, int.MaxValue, 64, 60, Rate, Flows);
        // Read on a thread of its own: the sender prints its count only when it ends, and the test goes on meanwhile.
        var stdout = Task.Run(() => g.StandardOutput.ReadToEnd());
        double replaceSeconds;
        try
        {
            // The replace starts once the flows being replaced forward frames.
            Assert.True(Wait.Until(() => RxPackets(sink) - rx0 >= Rate / 20 || g.HasExited, 30_000, everyMs: 20),
                "no frame came through the switch: " + (g.HasExited ? stdout.Result : "the generator runs") + "\n" + sw.Output);
            if (g.HasExited) Assert.Fail("the generator ended: " + stdout.Result);   // its count is read only once it has ended
            Console.WriteLine($"[atomic replace] frames flowing {phase.Elapsed.TotalSeconds:F2} s after the generator's start");
            var clock = Stopwatch.StartNew();
            var r = Sh.Run("ovs-ofctl", bundle ? ["-O", "OpenFlow14", "--bundle", "replace-flows", sw.Endpoint, file] : ["-O", "OpenFlow14", "replace-flows", sw.Endpoint, file], 60_000);
            replaceSeconds = clock.Elapsed.TotalSeconds;
            Assert.True(r.Ok, $"replace-flows{(bundle ? " --bundle" : "")}: {r.Stderr}{r.Stdout}");
            Console.WriteLine($"[atomic replace] replace-flows{(bundle ? " --bundle" : "")} took {replaceSeconds:F2} s");
            // The generator runs on until every flow of the new set has forwarded frames: it ran across the swap.
            List<string> lines = [];
            bool allHit = Wait.Until(() =>
            {
                lines = FlowLines(sw).Where(l => l.Contains($"cookie={cookie}", StringComparison.Ordinal)).ToList();
                return lines.Count == Flows && lines.All(l => NPackets(l) > 0);
            }, 30_000, everyMs: 200);
            Console.WriteLine($"[atomic replace] every new flow forwarded: {allHit}, {phase.Elapsed.TotalSeconds:F2} s after the generator's start");
            if (g.HasExited) Assert.Fail("the generator ended: " + stdout.Result);   // its count is read only once it has ended
            Assert.Equal(Flows, lines.Count);
            Assert.True(allHit, "a flow of the new set carried no frame: " + lines.FirstOrDefault(l => NPackets(l) == 0));
        }
        finally
        {
            if (!g.HasExited) g.Kill(true);
            g.WaitForExit(10_000);
        }
        // What the switch still holds comes out: read until the sink's count stops moving (or equals what went in).
        long last = -1;
        Wait.Until(() =>
        {
            long now = RxPackets(sink) - rx0;
            bool settled = now >= RxPackets(gen.HostIf) - in0 || now == last;
            last = now;
            return settled;
        }, 10_000, everyMs: 300);
        return new Phase(RxPackets(gen.HostIf) - in0, RxPackets(sink) - rx0, Misses(sw) - miss0, controller.Count(OfpType.PacketIn) - pin0, replaceSeconds);
    }

    [E2EFact]
    public void BundleReplaceFlows_UnderTraffic_LosesNoFrame_WithoutBundleTheSameReplaceIsCounted()
    {
        using var gen = Netns.Create();
        using var sink = Netns.Create();
        using var controller = new OfTestController();
        using var sw = new SwitchProcess($"afpacket:{gen.HostIf},afpacket:{sink.HostIf}", "--protocols", "OpenFlow10,OpenFlow13,OpenFlow14",
            "--controller", controller.Target);
        controller.Accept();
        controller.StartReading();
        string a = Path.GetTempFileName(), b = Path.GetTempFileName();
        try
        {
            File.WriteAllText(a, FlowsA());
            File.WriteAllText(b, FlowsB());
            var add = Sh.Run("ovs-ofctl", ["-O", "OpenFlow14", "--bundle", "add-flows", sw.Endpoint, a], 60_000);
            Assert.True(add.Ok, add.Stderr);
            Assert.Equal(Flows + 1, FlowLines(sw).Count);

            var atomic = RunPhase(sw, controller, gen, sink, b, bundle: true, "0xb");
            var plain = RunPhase(sw, controller, gen, sink, a, bundle: false, "0xa");
            controller.StopReading();
            Console.WriteLine($"[atomic replace] --bundle: sent {atomic.Sent}, received {atomic.Received}, table misses {atomic.Missed}, packet-ins {atomic.PacketIns} (replace {atomic.ReplaceSeconds:F2} s); " +
                $"without --bundle: sent {plain.Sent}, received {plain.Received}, lost {plain.Sent - plain.Received}, table misses {plain.Missed}, packet-ins {plain.PacketIns} (replace {plain.ReplaceSeconds:F2} s)");

            Assert.Equal(atomic.Sent, atomic.Received);
            Assert.Equal(0, atomic.Missed);
            Assert.Equal(0, atomic.PacketIns);
            // Without the bundle every frame is still accounted for: forwarded, or missed the table (then to the controller).
            Assert.Equal(plain.Sent, plain.Received + plain.Missed);
        }
        finally
        {
            File.Delete(a);
            File.Delete(b);
        }
    }
}
