using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;

namespace Softswitch.Ofproto.Tests.Forwarding;

/// <summary>
/// Frames that leave after an action changed what their headers mean must be the frames a packet library builds from
/// the changed headers, byte for byte: the OpenFlow 1.3 switch test suites compare the bytes (a library pads an
/// Ethernet payload to 46 bytes and computes each checksum over the headers as they now read). The expected frames
/// below were built that way: Ethernet/IPv4/TCP with the protocol 17, and an MPLS-labelled ICMP echo popped to IPv4.
/// </summary>
public sealed class OfSwitchReserialiseTests : IDisposable
{
    // Ethernet/IPv4(proto 6)/TCP (4 option bytes)/32 bytes, and the same with IPv4's protocol 17: the IP checksum and
    // the TCP checksum (its pseudo-header holds the protocol) are both moved by 17 - 6.
    private const string Ip4Tcp = "22222222222212111111111108004520004C000000004006DB1DC0A80A0AC0A814142B6708AE000000000000000060000000CB2B0000000000000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20";
    private const string Ip4Proto17 = "22222222222212111111111108004520004C000000004011DB12C0A80A0AC0A814142B6708AE000000000000000060000000CB200000000000000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20";
    private const string Ip6Tcp = "22222222222212111111111186DD620000640038064000100000000000000000000000000010002000000000000000000000000000202B6708AE0000000000000000600000006A3B0000000000000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20";
    private const string Ip6Proto17 = "22222222222212111111111186DD620000640038114000100000000000000000000000000010002000000000000000000000000000202B6708AE0000000000000000600000006A300000000000000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20";

    // Ethernet/MPLS(label 100, BoS)/IPv4/ICMP echo request with 8 data bytes: 54 bytes, padded to 60. Popped, the
    // frame is the 50-byte IPv4 echo, padded to 60 again (not left at 56).
    private const string MplsEcho = "22222222222212111111111188470006474045200024000000004001DB4AC0A80A0AC0A81414080059DA000000000123456789ABCDEF000000000000";
    private const string Echo = "222222222222121111111111080045200024000000004001DB4AC0A80A0AC0A81414080059DA000000000123456789ABCDEF00000000000000000000";
    private const string EchoReplyType = "222222222222121111111111080045200024000000004001DB4AC0A80A0AC0A81414000061DA000000000123456789ABCDEF00000000000000000000";
    private const string EchoCode10 = "222222222222121111111111080045200024000000004001DB4AC0A80A0AC0A81414080A59D0000000000123456789ABCDEF00000000000000000000";

    private readonly SwitchDatapath _dp = new(new DatapathOptions { PacketInRate = 0 }, new ManualClock());
    private readonly MemoryPort[] _ports = new MemoryPort[2];
    private readonly OfSwitch _sw;

    public OfSwitchReserialiseTests()
    {
        for (int i = 0; i < _ports.Length; i++)
        {
            _ports[i] = new MemoryPort($"z{i + 1}", new MacAddress(0x0200_0000_0050UL + (ulong)i)) { CaptureSent = true };
            _dp.AddPort(_ports[i]);
        }
        _sw = new OfSwitch(_dp, new OfSwitchOptions { DatapathId = 13 });
    }

    public void Dispose()
    {
        _sw.Dispose();
        _dp.Dispose();
    }

    private void Add(byte table, OfMatch match, OfInstructions ins)
        => Assert.Equal(OfError.None, _sw.FlowMod(new FlowModRequest(FlowModCommand.Add, match, 10, ins, TableId: table, Rules: MatchRules.OpenFlow13)));

    private string SendOne(string frame)
    {
        _ports[0].Inject(Convert.FromHexString(frame));
        _dp.PollUntilIdle();
        var sent = _ports[1].TakeSent();
        return Assert.Single(sent) is var f ? Convert.ToHexString(f) : "";
    }

    [Theory]
    [InlineData(0x0800, Ip4Tcp, Ip4Proto17)]
    [InlineData(0x86DD, Ip6Tcp, Ip6Proto17)]
    public void SetIpProto_MovesTheTransportChecksumWithItsPseudoHeader(int ethType, string frame, string expected)
    {
        Add(0, new OfMatch().EthType((ushort)ethType).NwProto(6), OfInstructions.Apply(new[] { OfAction.SetIpProto(17), OfAction.Output(2) }));
        Assert.Equal(expected, SendOne(frame));
    }

    [Fact]
    public void SetIpProto_OnUdpWithoutAChecksum_LeavesItZero()
    {
        var udp = FrameBuilder.Udp(new MacAddress(0x0200_0000_0001UL), new MacAddress(0x0200_0000_0002UL), 0x0a000001, 0x0a000002, 1000, 2000);
        int l4 = 14 + 20;
        udp[l4 + 6] = 0;
        udp[l4 + 7] = 0;
        Add(0, new OfMatch().EthType(0x0800).NwProto(17), OfInstructions.Apply(new[] { OfAction.SetIpProto(6), OfAction.Output(2) }));
        var sent = Convert.FromHexString(SendOne(Convert.ToHexString(udp)));
        Assert.Equal(6, sent[14 + 9]);
        Assert.Equal(0, sent[l4 + 6] | sent[l4 + 7]);
    }

    private void PopMplsThenTable1(OfMatch table1, params OfAction[] actions)
    {
        Add(0, new OfMatch().EthType(PacketParser.EthTypeMpls), new OfInstructions(new[] { OfAction.PopMpls(0x0800) }, GotoTable: 1));
        Add(1, table1, OfInstructions.Apply(actions));
    }

    [Fact]
    public void PopMpls_ToAShortFrame_KeepsEthernetsMinimum_AndTable1MatchesTheIcmpType()
    {
        PopMplsThenTable1(new OfMatch().EthType(0x0800).NwProto(1).TpSrc(8), OfAction.Output(2));
        Assert.Equal(Echo, SendOne(MplsEcho));
    }

    [Fact]
    public void PopMpls_ThenSetIcmpType()
    {
        PopMplsThenTable1(new OfMatch().EthType(0x0800).NwProto(1).TpSrc(8), OfAction.SetIcmpType(0), OfAction.Output(2));
        Assert.Equal(EchoReplyType, SendOne(MplsEcho));
    }

    [Fact]
    public void PopMpls_ThenSetIcmpCode()
    {
        PopMplsThenTable1(new OfMatch().EthType(0x0800).NwProto(1).TpDst(0), OfAction.SetIcmpCode(10), OfAction.Output(2));
        Assert.Equal(EchoCode10, SendOne(MplsEcho));
    }

    [Fact]
    public void PopVlan_ToAShortFrame_KeepsEthernetsMinimum()
    {
        var tagged = new byte[64];
        var echo = Convert.FromHexString(Echo);
        echo.AsSpan(0, 12).CopyTo(tagged);
        tagged[12] = 0x81;
        tagged[14] = 0x00;
        tagged[15] = 5;
        echo.AsSpan(12, 38).CopyTo(tagged.AsSpan(16));
        Add(0, new OfMatch().Vlan(5), OfInstructions.Apply(new[] { OfAction.PopVlan(), OfAction.Output(2) }));
        Assert.Equal(Echo, SendOne(Convert.ToHexString(tagged)));
    }

    [Fact]
    public void PopMpls_OfAFrameAlreadyUnderTheMinimum_IsNotPadded()
    {
        // 54 bytes as received (a veth does not pad): the pop takes 4 and adds none.
        var runt = MplsEcho[..(54 * 2)];
        PopMplsThenTable1(new OfMatch().EthType(0x0800), OfAction.Output(2));
        Assert.Equal(Echo[..(50 * 2)], SendOne(runt));
    }
}
