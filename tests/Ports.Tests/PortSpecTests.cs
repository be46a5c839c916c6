using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Ports.Linux;

namespace Softswitch.Ports.Tests;

public sealed class PortSpecTests
{
    [Fact]
    public void Parse_AllKinds_NumbersPortsInOrderFromOne()
    {
        var e = PortSpec.Parse("afpacket:eth1, eth2,afxdp:eth3,pcap:eth4,mem:3,tap:tap0,MEM:1");
        Assert.Equal(
        [
            new PortSpecEntry(PortKind.AfPacket, "eth1", 1, 1),
            new PortSpecEntry(PortKind.AfPacket, "eth2", 1, 2),
            new PortSpecEntry(PortKind.AfXdp, "eth3", 1, 3),
            new PortSpecEntry(PortKind.Pcap, "eth4", 1, 4),
            new PortSpecEntry(PortKind.Memory, "", 3, 5),
            new PortSpecEntry(PortKind.Tap, "tap0", 1, 8),
            new PortSpecEntry(PortKind.Memory, "", 1, 9),
        ], e);
        Assert.Equal(9, PortSpec.PortCount(e));
        Assert.Equal("afpacket:eth1,afpacket:eth2,afxdp:eth3,pcap:eth4,mem:3,tap:tap0,mem:1", string.Join(',', e));
    }

    [Fact]
    public void Parse_ExplicitNumbers_AsMininetGivesThem_OthersFollowThePreviousItem()
    {
        var e = PortSpec.Parse("3=afpacket:s1-eth3, 1=s1-eth1,eth9,10 = mem:2,tap:t0");
        Assert.Equal(
        [
            new PortSpecEntry(PortKind.AfPacket, "s1-eth3", 1, 3),
            new PortSpecEntry(PortKind.AfPacket, "s1-eth1", 1, 1),
            new PortSpecEntry(PortKind.AfPacket, "eth9", 1, 2),
            new PortSpecEntry(PortKind.Memory, "", 2, 10),
            new PortSpecEntry(PortKind.Tap, "t0", 1, 12),
        ], e);
    }

    [Fact]
    public void Parse_AfXdpQueueOption_ServesOneQueue_AndRoundTrips()
    {
        var e = PortSpec.Parse("afxdp:eth1:queue=3, 5=afxdp:eth2 ,afxdp:eth3:QUEUE=0");
        Assert.Equal(3, e[0].Queue);
        Assert.Equal(("eth1", (ushort)1), (e[0].Name, e[0].FirstPortNo));
        Assert.Null(e[1].Queue);
        Assert.Equal((ushort)5, e[1].FirstPortNo);
        Assert.Equal(0, e[2].Queue);
        Assert.Equal("afxdp:eth1:queue=3,afxdp:eth2,afxdp:eth3:queue=0", string.Join(',', e));
        Assert.Equal(e, PortSpec.Parse(string.Join(',', e.Select(x => $"{x.FirstPortNo}={x}"))));
    }

    [Fact]
    public void Parse_RxFrames_SetsTheRingDepth_OfAfXdpAndAfPacketPorts_AndRoundTrips()
    {
        var e = PortSpec.Parse("afxdp:eth1:rx-frames=262144,afxdp:eth2:queue=1:Rx-Frames=512, afxdp:eth3,afpacket:eth4:rx-frames=65536");
        Assert.Equal((262144, (int?)null), (e[0].RxFrames, e[0].Queue));
        Assert.Equal((512, (int?)1), (e[1].RxFrames, e[1].Queue));
        Assert.Null(e[2].RxFrames);
        Assert.Equal((PortKind.AfPacket, 65536), (e[3].Kind, e[3].RxFrames));
        Assert.Equal("afxdp:eth1:rx-frames=262144,afxdp:eth2:queue=1:rx-frames=512,afxdp:eth3,afpacket:eth4:rx-frames=65536", string.Join(',', e));
        Assert.Equal(e, PortSpec.Parse(string.Join(',', e.Select(x => $"{x.FirstPortNo}={x}"))));
    }

    [Fact]
    public void Parse_XdpMode_TakesOpenVswitchSpellings_AndRoundTrips()
    {
        var e = PortSpec.Parse("afxdp:eth1:xdp-mode=generic,afxdp:eth2:queue=1:XDP-MODE=Native-With-Zerocopy,afxdp:eth3");
        Assert.Equal(("generic", "native-with-zerocopy", (string?)null), (e[0].XdpMode, e[1].XdpMode, e[2].XdpMode));
        Assert.Equal("afxdp:eth1:xdp-mode=generic,afxdp:eth2:queue=1:xdp-mode=native-with-zerocopy,afxdp:eth3", string.Join(',', e));
        Assert.Equal(e, PortSpec.Parse(string.Join(',', e.Select(x => $"{x.FirstPortNo}={x}"))));
        var d = new Softswitch.Ports.AfXdp.AfXdpOptions();
        Assert.Equal(Softswitch.Ports.AfXdp.XdpAttachMode.Generic, Softswitch.Ports.AfXdp.XdpModes.Apply(d, "generic")!.Mode);
        Assert.True(Softswitch.Ports.AfXdp.XdpModes.Apply(d, "native-with-zerocopy")!.RequireZeroCopy);
        Assert.False(Softswitch.Ports.AfXdp.XdpModes.Apply(d, "native")!.ZeroCopy);
        Assert.Null(Softswitch.Ports.AfXdp.XdpModes.Apply(d, "turbo"));
    }

    [Theory]
    [InlineData("afpacket:eth0:queue=1", "queue=K is an afxdp option")]
    [InlineData("pcap:eth0:rx-frames=1024", "for afxdp and afpacket ports only")]
    [InlineData("afpacket:eth0:rx-frames=1000", "must be a power of two")]
    [InlineData("afpacket:eth0:fanout=1", "unknown afpacket option 'fanout=1'")]
    [InlineData("afxdp:eth0:queue=x", "queue=x is not an RX queue number")]
    [InlineData("afxdp:eth0:queue=-1", "queue=-1 is not an RX queue number")]
    [InlineData("afxdp:eth0:mode=native", "unknown afxdp option 'mode=native' (the options are queue=K")]
    [InlineData("afxdp:eth0:xdp-mode=turbo", "xdp-mode=turbo is not best-effort, native-with-zerocopy, native or generic")]
    [InlineData("afxdp:eth0:xdp-mode=native:xdp-mode=generic", "option 'xdp-mode' is given twice")]
    [InlineData("afpacket:eth0:xdp-mode=native", "xdp-mode is an afxdp option")]
    [InlineData("afxdp:eth0:rx-frames=3000", "rx-frames=3000 must be a power of two from 256 to 1048576")]
    [InlineData("afxdp:eth0:rx-frames=128", "must be a power of two from 256")]
    [InlineData("afxdp:eth0:rx-frames=2097152", "must be a power of two")]
    [InlineData("afxdp:eth0:rx-frames=", "must be a power of two")]
    [InlineData("afxdp:eth0:queue=1:queue=2", "option 'queue' is given twice")]
    [InlineData("afxdp:eth0:rx-frames=512:RX-FRAMES=1024", "option 'rx-frames' is given twice")]
    [InlineData("afxdp:eth0:queue=1,afxdp:eth0:queue=2", "listed twice")]
    [InlineData("", "empty")]
    [InlineData("eth0,,eth1", "empty item")]
    [InlineData("eth0,", "empty item")]
    [InlineData("foo:eth0", "unknown port type 'foo'")]
    [InlineData("mem:0", "mem:N needs")]
    [InlineData("mem:x", "mem:N needs")]
    [InlineData("mem:-1", "mem:N needs")]
    [InlineData("afpacket:", "not a valid interface name")]
    [InlineData("afpacket:averyveryverylongname", "not a valid interface name")]
    [InlineData("eth0,pcap:eth0", "listed twice")]
    [InlineData("mem:65281", "beyond 65280")]
    [InlineData("0=eth0", "not an OpenFlow port number")]
    [InlineData("65281=eth0", "not an OpenFlow port number")]
    [InlineData("x=eth0", "not an OpenFlow port number")]
    [InlineData("2=eth0,2=eth1", "number 2 is already taken by 'afpacket:eth0'")]
    [InlineData("3=mem:4,5=eth1", "number 5 is already taken by 'mem:4'")]
    [InlineData("5=eth1,3=mem:4", "number 5 is already taken by 'afpacket:eth1'")]
    [InlineData("65280=eth0,eth1", "beyond 65280")]
    public void Parse_Rejects_WithHelpfulMessage(string spec, string expected)
    {
        Assert.False(PortSpec.TryParse(spec, out _, out var error));
        Assert.Contains(expected, error);
        var ex = Assert.Throws<PortOpenException>(() => PortSpec.Parse(spec));
        Assert.Equal(PortOpenError.InvalidSpec, ex.Error);
    }

    [Fact]
    public void Open_MemoryPorts_UseCallerFactory_WithPortNumbers()
    {
        var made = new List<(ushort, string)>();
        var ports = PortSpec.Open(PortSpec.Parse("mem:2,mem:1"), new PortFactoryOptions
        {
            Memory = (no, name) => { made.Add((no, name)); return new NullPort(name); },
        });
        Assert.Equal([(1, "mem1"), (2, "mem2"), (3, "mem3")], made.Select(m => ((int)m.Item1, m.Item2)));
        Assert.Equal([1, 2, 3], ports.Select(p => (int)p.PortNo));
    }

    [Fact]
    public void Open_MemoryWithoutFactory_Throws()
    {
        var ex = Assert.Throws<PortOpenException>(() => PortSpec.Open(PortSpec.Parse("mem:1")));
        Assert.Contains("factory", ex.Message);
    }

    [Fact]
    public void Open_Failure_DisposesPortsOpenedSoFar()
    {
        var made = new List<NullPort>();
        var ex = Assert.Throws<PortOpenException>(() => PortSpec.Open(PortSpec.Parse("mem:2,afpacket:ssw-nonexist1"), new PortFactoryOptions
        {
            Memory = (_, name) => { var p = new NullPort(name); made.Add(p); return p; },
        }));
        Assert.Equal(PortOpenError.InterfaceMissing, ex.Error);
        Assert.Equal(2, made.Count);
        Assert.All(made, p => Assert.True(p.Disposed));
    }

    [Fact]
    public void Open_WithPcapDir_WrapsPortsInCaptures()
    {
        string dir = Path.Combine(Path.GetTempPath(), "ssw-pcapdir-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var ports = PortSpec.Open(PortSpec.Parse("mem:2"), new PortFactoryOptions { Memory = (_, n) => new NullPort(n), PcapDir = dir });
            Assert.All(ports, p => Assert.IsType<Softswitch.Ports.PcapFile.CapturingPort>(p.Port));
            foreach (var p in ports) p.Port.Dispose();
            Assert.Equal(["mem1-rx.pcap", "mem1-tx.pcap", "mem2-rx.pcap", "mem2-tx.pcap"], Directory.GetFiles(dir).Select(Path.GetFileName).Order());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>A port that receives nothing and drops what it is sent.</summary>
    internal sealed class NullPort(string name) : IPort
    {
        public bool Disposed;
        public List<byte[]> Sent { get; } = [];
        public Queue<byte[]> ToReceive { get; } = new();
        public PortInfo Info { get; } = new(name, new MacAddress(0x020000000001));
        public PortCounters Counters { get; } = new();
        public bool LinkUp => true;

        public int Receive(PacketPool pool, Span<int> pkts)
        {
            int n = 0;
            while (n < pkts.Length && ToReceive.Count > 0)
            {
                int p = pool.Alloc();
                pool.Write(p, ToReceive.Dequeue());
                pkts[n++] = p;
            }
            return n;
        }

        public void Send(PacketPool pool, ReadOnlySpan<int> pkts)
        {
            foreach (int p in pkts) Sent.Add(pool.Frame(p).ToArray());
        }

        public void Dispose() => Disposed = true;
    }
}

public sealed class PortOpenExceptionTests
{
    [Theory]
    [InlineData(1, PortOpenError.PermissionDenied, "run as root")]
    [InlineData(13, PortOpenError.PermissionDenied, "CAP_NET_RAW")]
    [InlineData(19, PortOpenError.InterfaceMissing, "ip link")]
    [InlineData(97, PortOpenError.Unsupported, "not supported")]
    [InlineData(12, PortOpenError.Failed, "errno 12")]
    public void FromErrno_MapsToKindAndAdvice(int errno, PortOpenError kind, string text)
    {
        var e = PortOpenException.FromErrno("eth9", "Opening a socket", errno);
        Assert.Equal(kind, e.Error);
        Assert.Equal("eth9", e.Interface);
        Assert.Contains(text, e.Message);
        Assert.Contains("eth9", e.Message);
    }
}
