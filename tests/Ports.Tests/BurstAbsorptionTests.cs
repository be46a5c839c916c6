using System.Globalization;
using Softswitch.Datapath;
using Softswitch.Datapath.Ports;
using Softswitch.Ports.AfPacket;
using Softswitch.Ports.AfXdp;
using Softswitch.TestKit;
using Xunit.Abstractions;

namespace Softswitch.Ports.Tests;

/// <summary>
/// A burst three times larger than a port's receive ring, sent while the forwarding thread sleeps in the kernel (and,
/// paced a millisecond at a time, each millisecond's frames finding it asleep again), arrives whole: the ring absorbs
/// what comes before the thread is awake, and once awake it keeps up. Every frame is accounted for: received on port 1,
/// sent on port 2, none dropped by us or (AF_XDP) by the kernel.
/// </summary>
public sealed class BurstAbsorptionTests(ITestOutputHelper output)
{
    [NetnsFact]
    public void AfXdp_BurstOfThreeRings_ArrivesWhole_AtASleepingThread()
    {
        const int Ring = 8192;
        Burst(ifname => new AfXdpPort(ifname, new AfXdpOptions { RxFrames = Ring }), _ => 3 * Ring, a =>
        {
            var x = (AfXdpPort)a;
            var st = x.KernelStatistics;
            output.WriteLine($"port 1 {(x.ZeroCopy ? "zero-copy" : "copy")} mode, kernel {st}");
            Assert.True(x.Queues.Count == 1 && x.RxPacketsPerQueue[0] == 3 * Ring, "the kernel's counters are read from a live socket");
            Assert.Equal(0ul, st.RxDropped);
            Assert.Equal(0ul, st.RxRingFull);
            Assert.Equal(0ul, st.FillRingEmptyDescs);
            Assert.Equal(0ul, st.RxInvalidDescs);
        });
    }

    [NetnsFact]
    public void AfPacket_BurstOfThreeRings_ArrivesWhole_AtASleepingThread()
    {
        // The default ring (32 MiB of slots sized for a 1500-byte MTU: about 16,000 frames).
        Burst(ifname => new AfPacketPort(ifname), a => 3 * (new AfPacketOptions().RingSize / ((AfPacketPort)a).RingFrameSize), a =>
            output.WriteLine($"ring slot {((AfPacketPort)a).RingFrameSize} B"));
    }

    /// <summary>
    /// The ring is all that holds a burst no thread takes: with rx-frames=65536 (the port option, through the spec
    /// parser and the port factory) a burst of several default rings sent before the datapath even starts is kept whole
    /// and forwarded once it does; with the default ring the same burst keeps at most the ring's depth and the port's
    /// drop count (the kernel's: XDP_STATISTICS, PACKET_STATISTICS) accounts for every other frame.
    /// </summary>
    [NetnsFact]
    public void AfXdp_RxFrames65536_KeepsABurstOfSixDefaultRings_WithNoConsumer() => NoConsumerBurst("afxdp", 65536, 8192, 6 * 8192);

    [NetnsFact]
    public void AfXdp_DefaultRing_KeepsAtMostItsDepth_AndTheKernelCountsTheRest() => NoConsumerBurst("afxdp", 0, 8192, 6 * 8192);

    [NetnsFact]
    public void AfPacket_RxFrames65536_KeepsABurstOfThreeDefaultRings_WithNoConsumer() => NoConsumerBurst("afpacket", 65536, 16384, 3 * 16384);

    [NetnsFact]
    public void AfPacket_DefaultRing_KeepsAtMostItsDepth_AndTheKernelCountsTheRest() => NoConsumerBurst("afpacket", 0, 16384, 3 * 16384);

    private void NoConsumerBurst(string kind, int rxFrames, int defaultDepth, int frames)
    {
        using var a = Netns.Create();
        using var b = Netns.Create();
        string opt = rxFrames == 0 ? "" : $":rx-frames={rxFrames}";
        var opened = PortSpec.Open(PortSpec.Parse($"{kind}:{a.HostIf}{opt},{kind}:{b.HostIf}"), new PortFactoryOptions());
        var pa = opened[0].Port;
        var pb = opened[1].Port;
        int depth = pa is AfXdpPort x ? x.RxFrames : ((AfPacketPort)pa).RingFrames;
        Assert.Equal(rxFrames == 0 ? defaultDepth : rxFrames, depth);
        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 }) { MissBehavior = MissBehavior.Normal };
        dp.AddPort(pa, 1);
        dp.AddPort(pb, 2);

        // Nobody reads port 1 while the burst comes: the datapath is not started.
        using (var flood = a.StartFlood(a.NsIf, frames, 64, seconds: 60, pps: 50_000))
        {
            flood.WaitForExit();
            Assert.Equal(frames, int.Parse(flood.StandardOutput.ReadToEnd().Trim(), CultureInfo.InvariantCulture));
        }
        var kernel = (pa as AfXdpPort)?.KernelStatistics;
        output.WriteLine($"{kind} ring of {depth} frames; before the thread starts: kernel {kernel?.ToString() ?? "-"}");

        dp.Start();
        try
        {
            long want = rxFrames == 0 ? depth - 64 : frames;   // the default ring: its depth, less a batch in flight at most
            Wait.Until(() => pb.Counters.Snapshot().TxPackets >= want, 10_000);
            // The drop count is read from the kernel about once a second by an idle thread.
            Wait.Until(() => pa.Counters.Snapshot() is var c && c.RxPackets + c.RxDropped >= frames, 5_000);
            Thread.Sleep(100);
            var ca = pa.Counters.Snapshot();
            var cb = pb.Counters.Snapshot();
            output.WriteLine($"port 1 rx {ca.RxPackets} dropped {ca.RxDropped}, port 2 tx {cb.TxPackets} dropped {cb.TxDropped}");
            if (rxFrames != 0)
            {
                Assert.Equal(frames, ca.RxPackets);
                Assert.Equal(0, ca.RxDropped);
                if (kernel is { } k) Assert.Equal(0ul, k.RxDropped + k.RxRingFull);
            }
            else
            {
                Assert.InRange(ca.RxPackets, want, depth);
                Assert.Equal(frames - ca.RxPackets, ca.RxDropped);
                if (kernel is { } k) Assert.True(k.RxDropped + k.RxRingFull >= (ulong)ca.RxDropped, $"the kernel counted {k}, the port {ca.RxDropped}");
            }
            Assert.Equal(ca.RxPackets, cb.TxPackets);
            Assert.Equal(0, cb.TxDropped);
        }
        finally
        {
            dp.Stop();
        }
    }

    private void Burst(Func<string, IPort> open, Func<IPort, int> burst, Action<IPort> check)
    {
        using var a = Netns.Create();
        using var b = Netns.Create();
        var pa = open(a.HostIf);
        var pb = open(b.HostIf);
        int frames = burst(pa);
        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 }) { MissBehavior = MissBehavior.Normal };
        dp.AddPort(pa, 1);
        dp.AddPort(pb, 2);
        dp.Start();
        try
        {
            var waiter = dp.Waiters[0];
            Assert.True(Wait.Until(() => waiter.Sleeps > 0, 5000), "the idle thread never went to sleep");
            Thread.Sleep(200);
            Assert.Equal(0, dp.Forwarders[0].Packets);
            long sleepsBefore = waiter.Sleeps;

            // Paced at 20,000 frames/s so that the ring, not the sender, decides: it holds 400 ms (AF_XDP) to 800 ms
            // (AF_PACKET) of the burst while the thread wakes or is kept off its CPU by a loaded machine.
            using var flood = a.StartFlood(a.NsIf, frames, 64, seconds: 60, pps: 20_000);
            flood.WaitForExit();
            int sent = int.Parse(flood.StandardOutput.ReadToEnd().Trim(), CultureInfo.InvariantCulture);
            Assert.Equal(frames, sent);
            Wait.Until(() => pb.Counters.Snapshot().TxPackets >= sent, 10_000);
            Thread.Sleep(100);   // anything late would show now

            var ca = pa.Counters.Snapshot();
            var cb = pb.Counters.Snapshot();
            var f = dp.Forwarders[0];
            string stats = $"sent {sent}, port 1 rx {ca.RxPackets} dropped {ca.RxDropped}, port 2 tx {cb.TxPackets} dropped {cb.TxDropped}; " +
                           $"thread slept {sleepsBefore} times before, {waiter.Sleeps - sleepsBefore} during; longest stall {f.MaxBusyGapMicros} us";
            output.WriteLine(stats);
            Assert.Equal(sent, ca.RxPackets);
            Assert.Equal(0, ca.RxDropped);
            Assert.Equal(sent, cb.TxPackets);
            Assert.Equal(0, cb.TxDropped);
            check(pa);
        }
        finally
        {
            dp.Stop();   // Dispose (using) closes the ports
        }
    }
}
