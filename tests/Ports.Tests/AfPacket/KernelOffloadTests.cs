using System.Globalization;
using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;
using Softswitch.Ofproto;
using Softswitch.Ports.AfPacket;
using Softswitch.TestKit;
using Xunit.Abstractions;

namespace Softswitch.Ports.Tests.AfPacket;

/// <summary>
/// The switch between two namespaces whose veths keep the kernel's default offloads (tx checksum, TSO, GSO): TCP
/// works because GSO super-frames are handed on whole to ports that take them (the kernel segments), or segmented in
/// software (no large buffer free, an output port without offloads), partial checksums are completed, and jumbo
/// frames up to the MTU cross whole. A learning switch on two AF_PACKET ports in this process.
/// </summary>
public sealed class KernelOffloadTests(ITestOutputHelper output)
{
    private sealed class Pair : IDisposable
    {
        public readonly Netns A, B;
        public readonly SwitchDatapath Dp;
        public readonly AfPacketPort PortA, PortB;

        public Pair(int mtu, int threads = 1, int busyPollMicros = DatapathOptions.DefaultBusyPollMicros, int largeBuffers = 32,
            bool offloadsB = true)
        {
            A = Netns.Create(kernelOffloads: true);
            B = Netns.Create(kernelOffloads: offloadsB);
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
                PortB = new AfPacketPort(B.HostIf, new AfPacketOptions { VnetHeader = offloadsB });
                Dp = new SwitchDatapath(new DatapathOptions
                {
                    FrameSize = mtu + 22, Threads = threads, BusyPollMicros = busyPollMicros, PacketInRate = 0, LargeBuffers = largeBuffers,
                })
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
                $"{name}: rx {c.RxPackets} tx {c.TxPackets} rxdrop {c.RxDropped} txdrop {c.TxDropped} csum {c.RxChecksumCompleted} gso {c.RxGsoFrames}/{c.RxGsoSegments} whole {c.RxGsoWhole} refused {c.RxGsoRefused} oversize {c.RxOversize}";
            return One("A", PortA.Counters) + "\n" + One("B", PortB.Counters)
                + $"\nregistry: handed-on {Read(DatapathCounters.GsoHandedOn)} gso-segmented {Read(DatapathCounters.GsoSegmented)} segments {Read(DatapathCounters.GsoSegments)} drop-gso-refused {Read(DatapathCounters.Drop(DropReason.GsoRefused))}";
        }

        public long Read(Counter c) => Dp.Counters.Read(c);

        public void Dispose()
        {
            Dp?.Dispose();
            A.Dispose();
            B.Dispose();
        }
    }

    [NetnsFact]
    public void Tcp_WithDefaultVethOffloads_Works_SuperFramesHandedOnWhole()
    {
        using var p = new Pair(1500);
        var ping = p.A.Exec("ping", "-c", "3", "-i", "0.2", "-W", "2", "10.79.0.2");
        Assert.True(ping.Ok, ping.Stdout + ping.Stderr);
        string client = TcpEcho.Run(p.B, "10.79.0.2", p.A, 15103, 4 << 20, p.Counters);
        output.WriteLine(p.Counters());
        Assert.Equal("10.79.0.1", client);
        long whole = p.PortA.Counters.RxGsoWhole + p.PortB.Counters.RxGsoWhole;
        Assert.True(whole > 0, "no GSO super-frame was received whole\n" + p.Counters());
        Assert.True(p.Read(DatapathCounters.GsoHandedOn) > 0, "no super-frame was handed on whole\n" + p.Counters());
        Assert.Equal(whole, p.Read(DatapathCounters.GsoReceivedWhole));
        Assert.Equal(0, p.Read(DatapathCounters.GsoRefused) + p.Read(DatapathCounters.Drop(DropReason.GsoRefused)));
        Assert.Equal(0, p.PortA.Counters.RxOversize + p.PortB.Counters.RxOversize);
    }

    [NetnsFact]
    public void Tcp_ToAPortWithoutOffloads_SuperFramesSegmentedOnOutput()
    {
        // B's port takes no virtio-net header (and B's veth sends finished frames): A's super-frames, received whole,
        // must be cut by the output stage.
        using var p = new Pair(1500, offloadsB: false);
        string client = TcpEcho.Run(p.B, "10.79.0.2", p.A, 15104, 4 << 20, p.Counters);
        output.WriteLine(p.Counters());
        Assert.Equal("10.79.0.1", client);
        Assert.True(p.PortA.Counters.RxGsoWhole > 0, "no GSO super-frame was received whole\n" + p.Counters());
        long onReceive = p.PortA.Counters.RxGsoFrames + p.PortB.Counters.RxGsoFrames;
        Assert.True(p.Read(DatapathCounters.GsoSegmented) - onReceive > 0, "nothing was segmented on output\n" + p.Counters());
        Assert.Equal(0, p.Read(DatapathCounters.GsoHandedOn));
        Assert.Equal(0, p.Read(DatapathCounters.Drop(DropReason.GsoRefused)));
    }

    [NetnsFact]
    public void Tcp_RewrittenSuperFrames_AddressAndPortTranslated_HandedOnWhole()
    {
        // A talks to 10.79.0.99:15180; the switch rewrites it into 10.79.0.2:15105 (and the replies back), on the
        // super-frames themselves: their partial checksums must follow the new pseudo-header.
        using var p = new Pair(1500);
        uint virtualIp = Ipv4.Parse("10.79.0.99"), b = Ipv4.Parse("10.79.0.2");
        var bMac = MacAddress.Parse(p.B.NsMac);
        Sh.Check("ip", "-n", p.A.Name, "neigh", "replace", "10.79.0.99", "lladdr", p.B.NsMac, "dev", p.A.NsIf);
        var tables = new OfFlowTables(p.Dp);
        var fwd = FlowMatch.FromOpenFlow(OfWildcards.All & ~(OfWildcards.InPort | OfWildcards.DlType | OfWildcards.NwProto | OfWildcards.TpDst | OfWildcards.NwDstMask),
            new FlowKeyBuilder().InPort(1).DlType(0x0800).NwProto(6).NwDst(virtualIp).TpDst(15180).Key);
        Assert.Equal(FlowModStatus.Ok, tables.Apply(new FlowMod(FlowModCommand.Add, fwd, 200,
            new FlowActions([FlowAction.SetNwDst(b), FlowAction.SetTpDst(15105), FlowAction.SetDlDst(bMac), FlowAction.Output(2)]))));
        var back = FlowMatch.FromOpenFlow(OfWildcards.All & ~(OfWildcards.InPort | OfWildcards.DlType | OfWildcards.NwProto | OfWildcards.TpSrc | OfWildcards.NwSrcMask),
            new FlowKeyBuilder().InPort(2).DlType(0x0800).NwProto(6).NwSrc(b).TpSrc(15105).Key);
        Assert.Equal(FlowModStatus.Ok, tables.Apply(new FlowMod(FlowModCommand.Add, back, 200,
            new FlowActions([FlowAction.SetNwSrc(virtualIp), FlowAction.SetTpSrc(15180), FlowAction.Output(1)]))));

        string client = TcpEcho.Run(p.B, "10.79.0.2", p.A, 15105, 4 << 20, p.Counters, connectTo: ("10.79.0.99", 15180));
        output.WriteLine(p.Counters());
        Assert.Equal("10.79.0.1", client);
        Assert.True(p.Read(DatapathCounters.GsoHandedOn) > 0, "no rewritten super-frame was handed on whole\n" + p.Counters());
    }

    [NetnsFact]
    public void Tcp_WithoutLargeBuffers_SuperFramesSegmentedOnReceive()
    {
        using var p = new Pair(1500, largeBuffers: 0);
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
        Assert.Equal(0, a.RxGsoWhole + p.PortB.Counters.RxGsoWhole);
        Assert.Equal(a.RxGsoFrames + p.PortB.Counters.RxGsoFrames, p.Read(DatapathCounters.GsoSegmented));
        Assert.Equal(a.RxChecksumCompleted + p.PortB.Counters.RxChecksumCompleted, p.Read(DatapathCounters.KernelCsumCompleted));
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
