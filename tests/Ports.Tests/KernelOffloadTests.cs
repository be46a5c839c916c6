using System.Globalization;
using Softswitch.Datapath;
using Softswitch.Datapath.Forwarding;
using Softswitch.Ports.AfPacket;
using Softswitch.Ports.Tests.Infra;
using Xunit.Abstractions;

namespace Softswitch.Ports.Tests;

/// <summary>
/// The switch between two namespaces whose veths keep the kernel's default offloads (tx checksum, TSO, GSO): TCP
/// works because partial checksums are completed and GSO super-frames segmented in software, and jumbo frames up to
/// the MTU cross whole. A learning switch on two AF_PACKET ports in this process.
/// </summary>
public sealed class KernelOffloadTests(ITestOutputHelper output)
{
    private sealed class Pair : IDisposable
    {
        public readonly Netns A, B;
        public readonly SwitchDatapath Dp;
        public readonly AfPacketPort PortA, PortB;

        public Pair(int mtu, int threads = 1, int busyPollMicros = DatapathOptions.DefaultBusyPollMicros)
        {
            A = Netns.Create(kernelOffloads: true);
            B = Netns.Create(kernelOffloads: true);
            try
            {
                string m = mtu.ToString(CultureInfo.InvariantCulture);
                foreach (var (ns, ip) in new[] { (A, "10.79.0.1"), (B, "10.79.0.2") })
                {
                    Sh.Check("ip", "link", "set", ns.HostIf, "mtu", m);
                    Sh.Check("ip", "-n", ns.Name, "link", "set", ns.NsIf, "mtu", m);
                    Sh.Check("ip", "-n", ns.Name, "addr", "add", ip + "/24", "dev", ns.NsIf);
                }
                PortA = new AfPacketPort(A.HostIf);
                PortB = new AfPacketPort(B.HostIf);
                Dp = new SwitchDatapath(new DatapathOptions { FrameSize = mtu + 22, Threads = threads, BusyPollMicros = busyPollMicros, PacketInRate = 0 })
                {
                    MissBehavior = MissBehavior.Normal,
                };
                Dp.AddPort(PortA, 1);
                Dp.AddPort(PortB, 2);
                Dp.Start();
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public string Counters()
        {
            string One(string name, PortCounters c) =>
                $"{name}: rx {c.RxPackets} tx {c.TxPackets} rxdrop {c.RxDropped} txdrop {c.TxDropped} csum {c.RxChecksumCompleted} gso {c.RxGsoFrames}/{c.RxGsoSegments} refused {c.RxGsoRefused} oversize {c.RxOversize}";
            return One("A", PortA.Counters) + "\n" + One("B", PortB.Counters);
        }

        public void Dispose()
        {
            Dp?.Dispose();
            A.Dispose();
            B.Dispose();
        }
    }

    [NetnsFact]
    public void Tcp_WithDefaultVethOffloads_Works_ChecksumsCompletedAndSuperFramesSegmented()
    {
        using var p = new Pair(1500);
        var ping = p.A.Exec("ping", "-c", "3", "-i", "0.2", "-W", "2", "10.79.0.2");
        Assert.True(ping.Ok, ping.Stdout + ping.Stderr);
        string client = TcpEcho.Run(p.B, "10.79.0.2", p.A, 15101, 4 << 20, p.Counters);
        output.WriteLine(p.Counters());
        Assert.Equal("10.79.0.1", client);
        var a = p.PortA.Counters;
        Assert.True(a.RxChecksumCompleted + p.PortB.Counters.RxChecksumCompleted > 0, "no partial checksum was seen: offloads were not on?\n" + p.Counters());
        Assert.True(a.RxGsoFrames + p.PortB.Counters.RxGsoFrames > 0, "no GSO super-frame was seen\n" + p.Counters());
        Assert.Equal(0, a.RxGsoRefused + p.PortB.Counters.RxGsoRefused);
        Assert.Equal(0, a.RxOversize + p.PortB.Counters.RxOversize);
    }

    [NetnsFact]
    public void TwoThreads_SplitEachPortByFlow_AndEveryFlowWorks()
    {
        using var p = new Pair(1500, threads: 2);
        var ping = p.A.Exec("ping", "-c", "2", "-i", "0.2", "-W", "2", "10.79.0.2");
        Assert.True(ping.Ok, ping.Stdout + ping.Stderr);
        for (int i = 0; i < 16; i++)
            Assert.Equal("10.79.0.1", TcpEcho.Run(p.B, "10.79.0.2", p.A, 15110 + i, 256 << 10, p.Counters));
        output.WriteLine(p.Counters());
        output.WriteLine($"thread packets: {p.Dp.Forwarders[0].Packets} {p.Dp.Forwarders[1].Packets}");
        // 16 flows hashed over two sockets per port: both threads forward (all on one: probability 2^-15).
        Assert.True(p.Dp.Forwarders[0].Packets > 0 && p.Dp.Forwarders[1].Packets > 0,
            $"thread packets {p.Dp.Forwarders[0].Packets} / {p.Dp.Forwarders[1].Packets}");
        Assert.Equal(0, p.PortA.Counters.RxOversize + p.PortB.Counters.RxOversize);
    }

    [NetnsFact]
    public void JumboFrames_UpToTheMtu_CrossWhole()
    {
        using var p = new Pair(9000);
        Assert.True(p.PortA.RingFrameSize >= 9000, $"ring slot {p.PortA.RingFrameSize} B");
        // 8972 bytes of ICMP payload make a 9000-byte IP packet; DF set, so nothing fragments on the way.
        var ping = p.A.Exec("ping", "-c", "3", "-i", "0.2", "-W", "2", "-M", "do", "-s", "8972", "10.79.0.2");
        Assert.True(ping.Ok, ping.Stdout + ping.Stderr + "\n" + p.Counters());
        Assert.Contains("3 received", ping.Stdout);
        string client = TcpEcho.Run(p.B, "10.79.0.2", p.A, 15102, 2 << 20, p.Counters);
        output.WriteLine(p.Counters());
        Assert.Equal("10.79.0.1", client);
        Assert.Equal(0, p.PortA.Counters.RxOversize + p.PortB.Counters.RxOversize);
    }

    [NetnsFact]
    public void FrameLargerThanAPacketBuffer_IsCounted_NotLostSilently()
    {
        // The ports' MTU is 9000, but the datapath's buffers hold 1522-byte frames.
        var a = Netns.Create();
        using var _a = a;
        Sh.Check("ip", "link", "set", a.HostIf, "mtu", "9000");
        a.Exec("ip", "link", "set", a.NsIf, "mtu", "9000");
        using var port = new AfPacketPort(a.HostIf);
        var pool = new Datapath.Packets.PacketPool(64, 1522);
        var big = new byte[4000];
        big[0] = 0xff; big[1] = 0xff; big[2] = 0xff; big[3] = 0xff; big[4] = 0xff; big[5] = 0xff;
        big[6] = 0x02; big[12] = 0x88; big[13] = 0xb5;
        var small = (byte[])big[..100].Clone();
        a.SendFrames([big, small]);
        var pkts = new int[32];
        int got = 0;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (got == 0 && sw.ElapsedMilliseconds < 3000) got = port.Receive(pool, pkts);
        Assert.Equal(1, got);
        Assert.Equal(100, pool.Length[pkts[0]]);
        Assert.Equal(1, port.Counters.RxOversize);
        Assert.Equal(1, port.Counters.RxDropped);
    }
}
