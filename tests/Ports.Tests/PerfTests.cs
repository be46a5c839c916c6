using System.Diagnostics;
using System.Text.RegularExpressions;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Pipeline;
using Softswitch.Ports.AfPacket;
using Softswitch.Ports.AfXdp;
using Softswitch.Ports.Linux;
using Softswitch.Ports.Pcap;
using Softswitch.Ports.Tests.Infra;
using Xunit.Abstractions;

namespace Softswitch.Ports.Tests;

/// <summary>Runs only with SSW_PORTS_PERF=1 (and root + netns): a throughput measurement, not a test.</summary>
public sealed class PerfFactAttribute : FactAttribute
{
    public PerfFactAttribute()
    {
        if (System.Environment.GetEnvironmentVariable("SSW_PORTS_PERF") != "1")
            Skip = "throughput measurement: set SSW_PORTS_PERF=1 to run";
        else if (TestEnv.Reason is { } reason)
            Skip = "SKIPPED: " + reason;
    }
}

/// <summary>
/// Packet rates per backend on a veth pair: receive (a generator in the namespace, trafgen when installed, else
/// python, sending 64-byte frames unthrottled; the port's Receive loop counts for a few seconds) and send (Send of
/// 32-frame bursts of 64-byte frames as fast as possible; delivery read from the peer's rx counter). Nothing is
/// asserted; figures go to the test output.
/// </summary>
public sealed class PerfTests(ITestOutputHelper output)
{
    private const double Seconds = 4;

    [PerfFact]
    public void Throughput_AllBackends()
    {
        var backends = new (string Name, Func<string, IPort> Open)[]
        {
            ("afpacket", n => new AfPacketPort(n)),
            ("afxdp-native", n => new AfXdpPort(n, new AfXdpOptions { Mode = XdpAttachMode.Native })),
            ("afxdp-generic", n => new AfXdpPort(n, new AfXdpOptions { Mode = XdpAttachMode.Generic })),
            ("pcap", n => new PcapPort(n)),
        };
        foreach (var (name, open) in backends)
        {
            using var ns = Netns.Create();
            using var port = open(ns.HostIf);
            var (rxPps, genSent, drops) = MeasureReceive(ns, ns.NsIf, port);
            var (txPps, delivered) = MeasureSend(ns, ns.NsIf, port);
            Report(name, rxPps, genSent, drops, txPps, delivered);
        }
        {
            using var ns = Netns.Create();
            string tap = "ssw" + Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4)).ToLowerInvariant() + "t";
            using var port = new TapPort(tap);
            ns.Adopt(tap);
            var (rxPps, genSent, drops) = MeasureReceive(ns, tap, port);
            var (txPps, delivered) = MeasureSend(ns, tap, port);
            Report("tap", rxPps, genSent, drops, txPps, delivered);
        }
    }

    private void Report(string name, double rxPps, long genSent, long drops, double txPps, double delivered)
    {
        string line = $"{name,-14} receive {rxPps / 1000,7:F0} kpps (generator sent {genSent / Seconds / 1000:F0} kpps, port drops {drops})   " +
                      $"send {txPps / 1000,7:F0} kpps (peer got {delivered / 1000:F0} kpps)";
        output.WriteLine(line);
        Console.WriteLine("[perf] " + line);
    }

    private static (double Pps, long GenSent, long Drops) MeasureReceive(Netns ns, string peer, IPort port)
    {
        var pool = new PacketPool(4096);
        Span<int> burst = stackalloc int[Burst.Size];
        Process gen = StartGenerator(ns, peer);
        try
        {
            // Let the generator get going, then count for Seconds.
            var warm = Stopwatch.StartNew();
            while (warm.ElapsedMilliseconds < 500) { int n = port.Receive(pool, burst); pool.Release(burst[..n]); }
            long drops0 = port.Counters.RxDropped;
            long gen0 = PeerTx(ns, peer);
            long count = 0;
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed.TotalSeconds < Seconds)
            {
                int n = port.Receive(pool, burst);
                count += n;
                pool.Release(burst[..n]);
            }
            double elapsed = sw.Elapsed.TotalSeconds;
            double pps = count / elapsed;
            long generated = PeerTx(ns, peer) - gen0;
            RefreshStats(port);
            long drops = port.Counters.RxDropped - drops0;
            return (pps, (long)(generated / elapsed * Seconds), drops);
        }
        finally
        {
            if (!gen.HasExited) gen.Kill(entireProcessTree: true);
            gen.WaitForExit(5000);
            gen.Dispose();
        }
    }

    private static void RefreshStats(IPort port)
    {
        switch (port)
        {
            case AfPacketPort a: a.RefreshStatistics(); break;
            case AfXdpPort x: x.RefreshStatistics(); break;
            case PcapPort p: p.RefreshStatistics(); break;
        }
    }

    private static (double Pps, double Delivered) MeasureSend(Netns ns, string peer, IPort port)
    {
        var pool = new PacketPool(1024);
        Span<int> burst = stackalloc int[Burst.Size];
        var frame = new byte[64];
        frame.AsSpan(0, 6).Fill(0xff);
        frame[6] = 0x02; frame[11] = 0x01; frame[12] = 0x88; frame[13] = 0xb6;
        int got = pool.Alloc(burst);
        for (int i = 0; i < got; i++) pool.Write(burst[i], frame);
        long tx0 = port.Counters.TxPackets;
        long rx0 = PeerRx(ns, peer);
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < Seconds) port.Send(pool, burst[..got]);
        double secs = sw.Elapsed.TotalSeconds;
        Thread.Sleep(200);
        long rx = PeerRx(ns, peer) - rx0;
        pool.Release(burst[..got]);
        return ((port.Counters.TxPackets - tx0) / secs, rx / secs);
    }

    private static Process StartGenerator(Netns ns, string peer)
    {
        if (Sh.Exists("trafgen"))
        {
            string cfg = Path.Combine(Path.GetTempPath(), $"ssw-trafgen-{Environment.ProcessId}.cfg");
            File.WriteAllText(cfg, "{ fill(0xff, 6), 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, c16(0x88b5), fill(0x00, 50) }\n");
            var psi = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "netns", "exec", ns.Name, "trafgen", "-o", peer, "-i", cfg, "-P", "1", "-q" }) psi.ArgumentList.Add(a);
            var p = Process.Start(psi)!;
            p.OutputDataReceived += (_, _) => { };
            p.ErrorDataReceived += (_, _) => { };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            return p;
        }
        return ns.StartFlood(peer, int.MaxValue, 64, seconds: 60);
    }

    /// <summary>Frames the generator pushed into the interface: transmitted plus dropped at the device.</summary>
    private static long PeerTx(Netns ns, string ifname)
    {
        var v = ns.Exec("cat", $"/sys/class/net/{ifname}/statistics/tx_packets", $"/sys/class/net/{ifname}/statistics/tx_dropped").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return long.Parse(v[0]) + long.Parse(v[1]);
    }
    private static long PeerRx(Netns ns, string ifname) => long.Parse(ns.Exec("cat", $"/sys/class/net/{ifname}/statistics/rx_packets").Stdout.Trim());
}
