using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Tests.Actions;
using static Softswitch.Datapath.Tests.ActionOfp13Tests;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// copy_ttl_out and copy_ttl_in (OpenFlow 1.3.5 section 5.12: outwards from the next-to-outermost header to the
/// outermost, inwards the other way; MPLS-to-MPLS and MPLS-to-IP) on MPLS frames as they arrive, parsed by the datapath's
/// parser: golden frames, each expected frame the input with the TTL changed and every checksum recomputed from scratch.
/// </summary>
public class ActionCopyTtlTests
{
    private const string Macs = "020000000002 020000000001";
    private const string Ipv4TcpTtl64 = "45000028 00010000 4006 0000 0a000001 0a000002 04d20050 00000001 00000000 50022000 0000 0000";
    private const string Ipv6TcpHop64 = "60000000 0014 06 40 20010db8000000000000000000000001 20010db8000000000000000000000002"
                                        + "04d20050 00000001 00000000 50022000 0000 0000";

    /// <summary>One entry (label 16, bottom of stack, TTL 9) over IPv4 with TTL 64.</summary>
    private static readonly byte[] Mpls1Ipv4 = RefFrame.Fixed(Macs + "8847 00010109" + Ipv4TcpTtl64);
    private static readonly byte[] Mpls1Ipv6 = RefFrame.Fixed(Macs + "8847 00010109" + Ipv6TcpHop64);
    /// <summary>Two entries: the top with TTL 9, the bottom with TTL 5.</summary>
    private static readonly byte[] Mpls2Ipv4 = RefFrame.Fixed(Macs + "8847 00010009 00020105" + Ipv4TcpTtl64);
    private static readonly byte[] TaggedMpls1Ipv4 = RefFrame.Fixed(Macs + "8100 0005 8847 00010109" + Ipv4TcpTtl64);
    /// <summary>A pseudowire control word (first nibble 0) under the entry: no IP header to copy from or into.</summary>
    private static readonly byte[] Mpls1ControlWord = Frames.Hex(Macs + "8847 00010109 00000000 020000000004 020000000003 0800 4500");

    [Fact]
    public void InwardsFromTheOnlyEntryIntoIpv4FixesTheHeaderChecksum()
    {
        var (f, _) = Run(Mpls1Ipv4, FlowAction.CopyTtlIn());
        AssertGolden(Expect(Mpls1Ipv4, 18 + 8, "09"), f);
        Assert.True(RefFrame.Ipv4HeaderValid(f, 18));
    }

    [Fact]
    public void OutwardsFromIpv4IntoTheOnlyEntry()
        => AssertGolden(Expect(Mpls1Ipv4, 17, "40"), Run(Mpls1Ipv4, FlowAction.CopyTtlOut()).Frame);

    [Fact]
    public void BothWaysWithAnIpv6HopLimit()
    {
        AssertGolden(Expect(Mpls1Ipv6, 18 + 7, "09"), Run(Mpls1Ipv6, FlowAction.CopyTtlIn()).Frame);
        AssertGolden(Expect(Mpls1Ipv6, 17, "40"), Run(Mpls1Ipv6, FlowAction.CopyTtlOut()).Frame);
    }

    [Fact]
    public void BetweenTheTopTwoEntriesOfADeeperStack()
    {
        AssertGolden(Expect(Mpls2Ipv4, 21, "09"), Run(Mpls2Ipv4, FlowAction.CopyTtlIn()).Frame);
        AssertGolden(Expect(Mpls2Ipv4, 17, "05"), Run(Mpls2Ipv4, FlowAction.CopyTtlOut()).Frame);
    }

    [Fact]
    public void UnderAVlanTag()
    {
        AssertGolden(Expect(TaggedMpls1Ipv4, 22 + 8, "09"), Run(TaggedMpls1Ipv4, FlowAction.CopyTtlIn()).Frame);
        AssertGolden(Expect(TaggedMpls1Ipv4, 21, "40"), Run(TaggedMpls1Ipv4, FlowAction.CopyTtlOut()).Frame);
    }

    [Fact]
    public void CopiedInThenPoppedTheIpPacketCarriesTheLabelsTtl()
    {
        // copy_ttl_in, pop_mpls, dec_ttl: the IP packet leaves with the label's TTL less one.
        var (f, _) = Run(Mpls1Ipv4, FlowAction.CopyTtlIn(), FlowAction.PopMpls(0x0800), FlowAction.DecNwTtl());
        AssertGolden(RefFrame.Fixed(Macs + "0800" + Ipv4TcpTtl64.Replace("4006", "0806", StringComparison.Ordinal)), f);
    }

    [Fact]
    public void NoIpUnderTheStackLeavesTheFrame()
    {
        Assert.Equal(Mpls1ControlWord, Run(Mpls1ControlWord, FlowAction.CopyTtlIn()).Frame);
        Assert.Equal(Mpls1ControlWord, Run(Mpls1ControlWord, FlowAction.CopyTtlOut()).Frame);
    }

    [Fact]
    public void WithoutMplsBothAreNoOps()
    {
        AssertGolden(Ipv4Tcp, Run(Ipv4Tcp, FlowAction.CopyTtlIn()).Frame);
        AssertGolden(Ipv4Tcp, Run(Ipv4Tcp, FlowAction.CopyTtlOut()).Frame);
    }
}
