using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Tests.Actions;
using static Softswitch.Datapath.Tests.ActionOfp13Tests;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// set_field on eth_type and ip_proto (OpenFlow 1.3 sets every field whose prerequisites hold): golden frames, the
/// IPv4 header checksums worked out by hand, the transport checksums by the reference walk.
/// </summary>
public class ActionTypeFieldTests
{
    private const string Macs = "020000000002 020000000001";
    private const string V6Addrs = "20010db8000000000000000000000001 20010db8000000000000000000000002";

    private static byte[] With(byte[] input, int offset, string hex)
    {
        var e = (byte[])input.Clone();
        Frames.Hex(hex).CopyTo(e, offset);
        return e;
    }

    /// <summary>The action on <paramref name="input"/> with the layers the parser finds (extension headers walked).</summary>
    private static byte[] RunParsed(byte[] input, FlowAction action)
    {
        var pool = new PacketPool(2);
        int p = pool.Alloc();
        pool.Write(p, input);
        PacketParser.Parse(input, 1, out _, out var l);
        var layers = new[] { l };
        var sink = new RecordingSink();
        new ActionExecutor().Execute(new FlowActions([action]), pool, [p], layers, ref sink);
        return pool.Frame(p).ToArray();
    }

    [Fact]
    public void EthTypeIsTheTypeAfterTheTags()
    {
        Assert.Equal(With(Ipv4Tcp, 12, "86dd"), RunUnchecked(Ipv4Tcp, FlowAction.SetEthType(0x86DD)).Frame);
        var tagged = RefFrame.Fixed(Macs + "8100 0005 0800 45000020 00010000 4011 0000 0a000001 0a000002 04d204d3 000c 0000 deadbeef");
        Assert.Equal(With(tagged, 16, "0806"), RunUnchecked(tagged, FlowAction.SetEthType(0x0806)).Frame);
        var mpls = RefFrame.Fixed(Macs + "8847 00010140" + "45000020 00010000 4011 0000 0a000001 0a000002 04d204d3 000c 0000 deadbeef");
        Assert.Equal(With(mpls, 12, "8848"), RunUnchecked(mpls, FlowAction.SetEthType(0x8848)).Frame);
    }

    [Fact]
    public void EthTypeLeavesAnLlcLengthField()
    {
        var llc = Frames.Hex(Macs + "0026 424203 000000000000000000000000");
        Assert.Equal(llc, RunUnchecked(llc, FlowAction.SetEthType(0x0800)).Frame);
    }

    [Fact]
    public void Ipv4ProtocolFixesTheHeaderChecksum_AndTheTransportsPseudoHeaderSum()
    {
        // 4500 0028 0001 0000 4006 0a00 0001 0a00 0002 sums to 0x9932 (checksum 0x66cd); with protocol 17, 0x993d. The
        // TCP header stays, its checksum now over a pseudo-header with protocol 17.
        Assert.Equal("66CD", Convert.ToHexString(Ipv4Tcp, 24, 2));
        var (f, _) = RunUnchecked(Ipv4Tcp, FlowAction.SetIpProto(17));
        var expect = With(Ipv4Tcp, 23, "11 66c2");
        RefFrame.FixTcpUnderItsIpHeader(expect, 14, 34);
        Assert.NotEqual(Convert.ToHexString(Ipv4Tcp, 50, 2), Convert.ToHexString(expect, 50, 2));
        Assert.Equal(Convert.ToHexString(expect), Convert.ToHexString(f));
        Assert.True(RefFrame.Ipv4HeaderValid(f, 14));
    }

    [Fact]
    public void Ipv6NextHeaderOfTheFixedHeader()
    {
        var expect = With(Ipv6Tcp, 20, "11");
        RefFrame.FixTcpUnderItsIpHeader(expect, 14, 54);
        Assert.Equal(Convert.ToHexString(expect), Convert.ToHexString(RunUnchecked(Ipv6Tcp, FlowAction.SetIpProto(17)).Frame));
    }

    [Fact]
    public void Ipv6NextHeaderAfterTheExtensionHeaders()
    {
        // Hop-by-hop (8 bytes) then a fragment header (8 bytes, offset 0) then TCP: the fragment header's next header changes.
        var ext = Frames.Hex(Macs + "86dd 60000000 0024 00 40" + V6Addrs + "2c00 0000 00000000" + "0600 0000 00000001"
                             + "04d20050 00000001 00000000 50022000 0000 0000");
        RefFrame.FixTcpUnderItsIpHeader(ext, 14, 70);
        var expect = With(ext, 62, "11");
        RefFrame.FixTcpUnderItsIpHeader(expect, 14, 70);
        Assert.Equal(Convert.ToHexString(expect), Convert.ToHexString(RunParsed(ext, FlowAction.SetIpProto(17))));
    }

    [Fact]
    public void IpProtoWithoutIpIsANoOp() => Assert.Equal(Arp, RunUnchecked(Arp, FlowAction.SetIpProto(17)).Frame);
}
