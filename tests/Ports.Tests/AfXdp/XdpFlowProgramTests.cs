using System.Buffers.Binary;
using Softswitch.Datapath.Packets;
using Softswitch.Ports.AfXdp;
using Softswitch.TestKit;
using Xunit.Abstractions;
using static Softswitch.TestKit.FlowFrames;

namespace Softswitch.Ports.Tests.AfXdp;

/// <summary>
/// The XDP flow program in the kernel here: frames sent into one veth pair are matched in the kernel, rewritten and
/// redirected out of another, counted per flow; frames of no flow reach the AF_XDP socket.
/// </summary>
public sealed class XdpFlowProgramTests(ITestOutputHelper output)
{
    private const string SrcMac = "02:00:00:00:00:01", DstMac = "02:00:00:00:00:02";

    /// <summary>
    /// Frames enter from <c>In</c>'s namespace end into <see cref="Port"/>; flows send them out of <c>Out.A</c>, whose
    /// peer <c>Out.B</c> hands them whole to an AF_XDP socket (<see cref="Sink"/>; a packet socket would see tags as
    /// metadata). The sink's XDP program is also what veth needs to deliver redirected frames.
    /// </summary>
    private sealed class Rig : IDisposable
    {
        public readonly Netns In = Netns.Create();
        public readonly VethPair Out = VethPair.Create();
        public readonly XdpFlowMaps Maps = new(16);
        public readonly AfXdpPort Port, Sink;
        public int InIndex => IfIndex(In.HostIf);
        public int OutIndex => IfIndex(Out.A);

        public Rig(int mtu = 0)
        {
            if (mtu > 0)
            {
                string m = mtu.ToString(System.Globalization.CultureInfo.InvariantCulture);
                Sh.Check("ip", "link", "set", In.HostIf, "mtu", m);
                Sh.Check("ip", "-n", In.Name, "link", "set", In.NsIf, "mtu", m);
                Sh.Check("ip", "link", "set", Out.A, "mtu", m);
                Sh.Check("ip", "link", "set", Out.B, "mtu", m);
            }
            Maps.AddPort(OutIndex);
            Port = new AfXdpPort(In.HostIf);
            Port.UseFlowProgram(Maps);
            Sink = new AfXdpPort(Out.B);
        }

        public void Dispose()
        {
            Port.Dispose();
            Sink.Dispose();
            Maps.Dispose();
            In.Dispose();
            Out.Dispose();
        }
    }

    /// <summary>Frames received on <paramref name="port"/> until <paramref name="count"/> arrived or 5 s passed.</summary>
    private static List<byte[]> ReceiveFrom(AfXdpPort port, int count)
    {
        var pool = new PacketPool(256, largeCapacity: 4);
        var pkts = new int[32];
        var got = new List<byte[]>();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (got.Count < count && DateTime.UtcNow < deadline)
        {
            int n = port.Receive(pool, pkts);
            for (int i = 0; i < n; i++) got.Add(pool.Frame(pkts[i]).ToArray());
            pool.Release(pkts.AsSpan(0, n));
            if (n == 0) Thread.Sleep(20);
        }
        return got;
    }

    private static int IfIndex(string ifname) => int.Parse(File.ReadAllText($"/sys/class/net/{ifname}/ifindex"));

    private static XdpFlowKey KeyOf(int ifindex, string ipSrc, string ipDst, byte proto, ushort sport, ushort dport, ushort tci = 0)
        => new(ifindex, tci, 0x0800, Mac(DstMac).Value, Mac(SrcMac).Value, proto, 0, sport, dport, Ip(ipSrc), Ip(ipDst));

    [NetnsFact]
    public void Hit_IsRewrittenAndRedirected_WithValidChecksums_AndCounted()
    {
        using var rig = new Rig();
        var frame = FrameBuilder.Udp(Mac(SrcMac), Mac(DstMac), Ip("10.0.0.1"), Ip("10.0.0.2"), 1000, 2000, 100);
        var key = KeyOf(rig.InIndex, "10.0.0.1", "10.0.0.2", 17, 1000, 2000);
        const uint Flags = XdpFlowProgram.OutPort | XdpFlowProgram.SetDlDst | XdpFlowProgram.SetDlSrc | XdpFlowProgram.SetNwSrc |
                           XdpFlowProgram.SetNwDst | XdpFlowProgram.SetTpDst | XdpFlowProgram.SetTtl | XdpFlowProgram.SetTos;
        rig.Maps.ClearCounters(3);
        rig.Maps.Put(key, new XdpFlowAction(Flags, rig.OutIndex, Mac("0a:00:00:00:00:0b").Value, Mac("0a:00:00:00:00:0a").Value, 0,
            Ip("192.168.7.1"), Ip("172.16.0.9"), 0, 5353, 9, 0xB8, 3));

        rig.In.SendFrames(Enumerable.Repeat(frame, 5));
        var got = ReceiveFrom(rig.Sink, 5);

        Assert.Equal(5, got.Count);
        foreach (var f in got)
        {
            output.WriteLine(Convert.ToHexString(f));
            Assert.Equal("0A000000000B0A000000000A0800", Convert.ToHexString(f.AsSpan(0, 14)));
            var ip = f.AsSpan(14);
            Assert.Equal(0xB8, ip[1]);
            Assert.Equal(9, ip[8]);
            Assert.Equal(Ip("192.168.7.1"), BinaryPrimitives.ReadUInt32BigEndian(ip[12..]));
            Assert.Equal(Ip("172.16.0.9"), BinaryPrimitives.ReadUInt32BigEndian(ip[16..]));
            Assert.True(Checksum.IsValid(ip[..20]), "IPv4 header checksum");
            var udp = ip[20..];
            Assert.Equal(1000, BinaryPrimitives.ReadUInt16BigEndian(udp));
            Assert.Equal(5353, BinaryPrimitives.ReadUInt16BigEndian(udp[2..]));
            int udpLen = BinaryPrimitives.ReadUInt16BigEndian(udp[4..]);
            ushort sent = BinaryPrimitives.ReadUInt16BigEndian(udp[6..]);
            var copy = udp[..udpLen].ToArray();
            copy[6] = copy[7] = 0;
            Assert.Equal(Checksum.ComputeL4(Ip("192.168.7.1"), Ip("172.16.0.9"), 17, copy), sent);
        }
        Assert.Equal((5L, 5L * frame.Length), rig.Maps.ReadCounters(3));
    }

    /// <summary>
    /// Frame sizes: a 1518 B frame (1514 B without the FCS) and a frame longer than a page (a jumbo MTU: the port's
    /// program takes multi-buffer frames) are both forwarded by their flow in the kernel: the program reads the
    /// frame's whole length (bpf_xdp_get_buff_len) for the IPv4 length check and the byte count, and parses and
    /// rewrites the headers in the first buffer. The jumbo frame arrives whole, its UDP checksum (over 6,958 bytes of
    /// payload, most of them in later buffers) updated right for the new destination address, and the flow's slot
    /// counts both frames' every byte; nothing reaches the AF_XDP socket.
    /// </summary>
    [NetnsFact]
    public void FullSizedAndJumboFrames_AreForwardedInTheKernel_Whole_AndCountedWhole()
    {
        using var rig = new Rig(mtu: 9000);
        Assert.True(rig.Port.MultiBuffer);
        var full = FrameBuilder.Udp(Mac(SrcMac), Mac(DstMac), Ip("10.0.0.1"), Ip("10.0.0.2"), 1000, 2000, frameSize: 1514);
        var jumbo = FrameBuilder.Udp(Mac(SrcMac), Mac(DstMac), Ip("10.0.0.1"), Ip("10.0.0.2"), 1000, 2000, frameSize: 7000);
        Assert.True(jumbo.Length > 4096, "longer than a page");
        rig.Maps.ClearCounters(4);
        rig.Maps.Put(KeyOf(rig.InIndex, "10.0.0.1", "10.0.0.2", 17, 1000, 2000),
            new XdpFlowAction(XdpFlowProgram.OutPort | XdpFlowProgram.SetNwDst, rig.OutIndex, 0, 0, 0, 0, Ip("172.16.0.9"), 0, 0, 0, 0, 4));

        rig.In.SendFrames([full, jumbo]);
        var got = ReceiveFrom(rig.Sink, 2);

        Assert.Equal([full.Length, jumbo.Length], got.Select(f => f.Length));
        foreach (var (f, sentFrame) in got.Zip([full, jumbo]))
        {
            var ip = f.AsSpan(14);
            Assert.Equal(Ip("172.16.0.9"), BinaryPrimitives.ReadUInt32BigEndian(ip[16..]));
            Assert.True(Checksum.IsValid(ip[..20]), "IPv4 header checksum");
            var udp = ip[20..];
            int udpLen = BinaryPrimitives.ReadUInt16BigEndian(udp[4..]);
            ushort sent = BinaryPrimitives.ReadUInt16BigEndian(udp[6..]);
            var copy = udp[..udpLen].ToArray();
            copy[6] = copy[7] = 0;
            Assert.Equal(Checksum.ComputeL4(Ip("10.0.0.1"), Ip("172.16.0.9"), 17, copy), sent);
            Assert.Equal(sentFrame.AsSpan(42).ToArray(), f.AsSpan(42).ToArray());   // the payload, every buffer of it
        }
        Assert.Equal((2L, (long)(full.Length + jumbo.Length)), rig.Maps.ReadCounters(4));
        Assert.Empty(ReceiveFrom(rig.Port, 1));
    }

    /// <summary>
    /// Unfilled checksums through a veth in native mode: a full-sized UDP frame whose checksum field holds only its
    /// pseudo-header's sum (a local sender's CHECKSUM_PARTIAL frame) arrives with its full checksum; the same in a
    /// 4,000 B frame (a segment short enough to sum, but continuing past the first buffer, about 3,500 bytes of a page,
    /// which is all the program can read) goes to software whole, uncounted in the map, and the AF_XDP port fills it.
    /// </summary>
    [NetnsFact]
    public void PartialChecksum_IsFilledInTheKernel_OrLeftToSoftwarePastTheFirstBuffer()
    {
        using var rig = new Rig(mtu: 9000);
        Assert.Equal(XdpAttachMode.Native, rig.Port.AttachedMode);
        var full = Partial(FrameBuilder.Udp(Mac(SrcMac), Mac(DstMac), Ip("10.0.0.1"), Ip("10.0.0.2"), 1000, 2000, frameSize: 1514));
        var jumbo = Partial(FrameBuilder.Udp(Mac(SrcMac), Mac(DstMac), Ip("10.0.0.1"), Ip("10.0.0.2"), 1000, 2000, frameSize: 4000));
        Assert.InRange(jumbo.Length - 34, 0, XdpFlowProgram.MaxFilledL4Size);
        rig.Maps.ClearCounters(5);
        rig.Maps.Put(KeyOf(rig.InIndex, "10.0.0.1", "10.0.0.2", 17, 1000, 2000),
            new XdpFlowAction(XdpFlowProgram.OutPort, rig.OutIndex, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5));

        rig.In.SendFrames([full, jumbo]);
        var got = ReceiveFrom(rig.Sink, 1);
        var toSoftware = ReceiveFrom(rig.Port, 1);

        Assert.Single(got);
        var udp = got[0].AsSpan(34, 1514 - 34);
        Assert.Equal(Checksum.ComputeL4(Ip("10.0.0.1"), Ip("10.0.0.2"), 17, [.. udp[..6], 0, 0, .. udp[8..]]),
            BinaryPrimitives.ReadUInt16BigEndian(udp[6..]));
        // Software gets it whole and fills its checksum on receive, as the program would have.
        var filled = (byte[])jumbo.Clone();
        Assert.True(SoftwareOffload.FillIfPartial(filled));
        Assert.Equal([Hex(filled)], toSoftware.Select(f => Hex(f)));
        Assert.Equal(1, rig.Port.Counters.RxChecksumCompleted);
        Assert.Equal((1L, (long)full.Length), rig.Maps.ReadCounters(5));
    }

    /// <summary>The frame with its UDP checksum field set to the pseudo-header's sum, as a CHECKSUM_PARTIAL sender leaves it.</summary>
    private static byte[] Partial(byte[] frame)
    {
        int len = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(38));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(40), Checksum.PseudoHeaderSum(Ip("10.0.0.1"), Ip("10.0.0.2"), 17, (ushort)len));
        return frame;
    }

    /// <summary>
    /// The verifier's totals for the program: it stays within 4,096 instructions (the limit of kernels before 5.2 and
    /// of unprivileged loaders), so the whole-program bound is never what stops it on any supported kernel.
    /// </summary>
    [NetnsFact]
    public void TheProgram_IsSmall_AndTheVerifierExploresItCheaply()
    {
        using var maps = new XdpFlowMaps(16);
        int xsk = Bpf.CreateXskMap(1);
        try
        {
            var insns = XdpFlowProgram.Build(xsk, maps);
            int fd = Bpf.LoadXdpProgram(insns, "ssw_xdp_flows", out string log, logLevel: 4);
            output.WriteLine($"{insns.Length} instructions; verifier: {log}");
            Assert.True(fd >= 0, log);
            Softswitch.Ports.Linux.LibC.close(fd);
            Assert.InRange(insns.Length, 100, 4096);
            var processed = System.Text.RegularExpressions.Regex.Match(log, @"processed (\d+) insns");
            Assert.True(processed.Success, log);
            Assert.InRange(int.Parse(processed.Groups[1].Value), insns.Length / 2, 100_000);
        }
        finally
        {
            Softswitch.Ports.Linux.LibC.close(xsk);
        }
    }

    [NetnsFact]
    public void Miss_ReachesTheAfXdpSocket_AndIsNotCounted()
    {
        using var rig = new Rig();
        var key = KeyOf(rig.InIndex, "10.0.0.1", "10.0.0.2", 17, 1000, 2000);
        rig.Maps.ClearCounters(0);
        rig.Maps.Put(key, new XdpFlowAction(XdpFlowProgram.OutPort, rig.OutIndex, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
        var other = FrameBuilder.Udp(Mac(SrcMac), Mac(DstMac), Ip("10.0.0.1"), Ip("10.0.0.2"), 1000, 2001);
        rig.In.SendFrames(Enumerable.Repeat(other, 3));

        var got = ReceiveFrom(rig.Port, 3);
        Assert.Equal(3, got.Count);
        Assert.All(got, f => Assert.Equal(other, f));
        Assert.Empty(ReceiveFrom(rig.Sink, 1));
        Assert.Equal((0L, 0L), rig.Maps.ReadCounters(0));
    }

    /// <summary>
    /// IPv6: a row with both addresses in its key answers the frames of those addresses (rewritten, counted in its
    /// slot); frames of other addresses miss to the AF_XDP socket; a row without addresses (an exact flow) is looked up
    /// first and answers the same frames once it is there.
    /// </summary>
    [NetnsFact]
    public void Ipv6RowsWithAddresses_HitTheirAddressesOnly_AfterTheRowsWithout()
    {
        using var rig = new Rig();
        var frame = Ipv6Frame(17, 1000, 2000);
        var otherDst = Ipv6Frame(17, 1000, 2000, dst: "2001:db8::3");
        var otherSrc = Ipv6Frame(17, 1000, 2000, src: "2001:db8::9");
        var plain = new XdpFlowKey(rig.InIndex, 0, 0x86DD, Mac(DstMac).Value, Mac(SrcMac).Value, 17, 0, 1000, 2000, 0, 0);
        var withAddresses = plain with { Ipv6Addresses = (Ip6("2001:db8::1"), Ip6("2001:db8::2")) };
        rig.Maps.ClearCounters(1);
        rig.Maps.ClearCounters(2);
        rig.Maps.Put(withAddresses, new XdpFlowAction(XdpFlowProgram.OutPort | XdpFlowProgram.SetDlDst, rig.OutIndex, Mac("0a:00:00:00:00:0b").Value,
            0, 0, 0, 0, 0, 0, 0, 0, 1));

        rig.In.SendFrames([.. Enumerable.Repeat(frame, 4), otherDst, otherSrc]);
        var hits = ReceiveFrom(rig.Sink, 4);
        Assert.Equal(4, hits.Count);
        Assert.All(hits, f => Assert.Equal([0x0a, 0, 0, 0, 0, 0x0b, .. frame.AsSpan(6)], f));
        var misses = ReceiveFrom(rig.Port, 2);
        Assert.Equal([Hex(otherDst), Hex(otherSrc)], misses.Select(f => Hex(f)).Order());
        Assert.Equal((4L, 4L * frame.Length), rig.Maps.ReadCounters(1));

        rig.Maps.Put(plain, new XdpFlowAction(XdpFlowProgram.OutPort | XdpFlowProgram.SetDlDst, rig.OutIndex, Mac("0a:00:00:00:00:0c").Value,
            0, 0, 0, 0, 0, 0, 0, 0, 2));
        rig.In.SendFrames([frame, otherDst]);
        var got = ReceiveFrom(rig.Sink, 2);
        Assert.Equal(2, got.Count);
        Assert.Equal([0x0a, 0, 0, 0, 0, 0x0c, .. frame.AsSpan(6)], got[0]);
        Assert.Equal([0x0a, 0, 0, 0, 0, 0x0c, .. otherDst.AsSpan(6)], got[1]);
        Assert.Equal((4L, 4L * frame.Length), rig.Maps.ReadCounters(1));
        Assert.Equal((2L, 2L * frame.Length), rig.Maps.ReadCounters(2));
    }

    [NetnsFact]
    public void VlanPop_Push_AndSet_AreApplied()
    {
        using var rig = new Rig();
        int inIdx = rig.InIndex, outIdx = rig.OutIndex;
        var tagged = FrameBuilder.Udp(Mac(SrcMac), Mac(DstMac), Ip("10.0.0.1"), Ip("10.0.0.2"), 1, 2, 80, vlan: 10, pcp: 5);
        var untagged = FrameBuilder.Udp(Mac(SrcMac), Mac(DstMac), Ip("10.0.0.1"), Ip("10.0.0.2"), 3, 4, 80);
        var retag = FrameBuilder.Udp(Mac(SrcMac), Mac(DstMac), Ip("10.0.0.1"), Ip("10.0.0.2"), 5, 6, 80, vlan: 20);
        rig.Maps.Put(KeyOf(inIdx, "10.0.0.1", "10.0.0.2", 17, 1, 2, (ushort)(0x1000 | (5 << 13) | 10)),
            new XdpFlowAction(XdpFlowProgram.OutPort | XdpFlowProgram.PopVlan, outIdx, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1));
        rig.Maps.Put(KeyOf(inIdx, "10.0.0.1", "10.0.0.2", 17, 3, 4),
            new XdpFlowAction(XdpFlowProgram.OutPort | XdpFlowProgram.PushVlan, outIdx, 0, 0, (ushort)((3 << 13) | 77), 0, 0, 0, 0, 0, 0, 2));
        rig.Maps.Put(KeyOf(inIdx, "10.0.0.1", "10.0.0.2", 17, 5, 6, 0x1000 | 20),
            new XdpFlowAction(XdpFlowProgram.OutPort | XdpFlowProgram.SetVlanTci, outIdx, 0, 0, 99, 0, 0, 0, 0, 0, 0, 3));

        rig.In.SendFrames([tagged, untagged, retag]);
        var got = ReceiveFrom(rig.Sink, 3);
        foreach (var f in got) output.WriteLine(Convert.ToHexString(f));
        Assert.Equal(3, got.Count);
        Assert.Equal([.. tagged.AsSpan(0, 12), .. tagged.AsSpan(16)], got[0]);
        Assert.Equal([.. untagged.AsSpan(0, 12), 0x81, 0x00, 0x60, 77, .. untagged.AsSpan(12)], got[1]);
        Assert.Equal([.. retag.AsSpan(0, 14), 0x00, 99, .. retag.AsSpan(16)], got[2]);
    }

    [NetnsFact]
    public void VlanPop_OfAFrameUnder64Bytes_GoesToTheSoftware_WhichPadsIt()
    {
        using var rig = new Rig();
        int inIdx = rig.InIndex, outIdx = rig.OutIndex;
        var shortTagged = FrameBuilder.Udp(Mac(SrcMac), Mac(DstMac), Ip("10.0.0.1"), Ip("10.0.0.2"), 1, 2, 60, vlan: 10);
        var longTagged = FrameBuilder.Udp(Mac(SrcMac), Mac(DstMac), Ip("10.0.0.1"), Ip("10.0.0.2"), 1, 2, 64, vlan: 10);
        Assert.Equal(60, shortTagged.Length);
        rig.Maps.Put(KeyOf(inIdx, "10.0.0.1", "10.0.0.2", 17, 1, 2, 0x1000 | 10),
            new XdpFlowAction(XdpFlowProgram.OutPort | XdpFlowProgram.PopVlan, outIdx, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1));

        rig.In.SendFrames([shortTagged, longTagged]);
        var popped = ReceiveFrom(rig.Sink, 1);
        Assert.Equal([[.. longTagged.AsSpan(0, 12), .. longTagged.AsSpan(16)]], popped);
        var toSoftware = ReceiveFrom(rig.Port, 1);
        Assert.Equal([shortTagged], toSoftware);
    }
}
