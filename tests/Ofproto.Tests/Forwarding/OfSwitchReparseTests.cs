using System.Buffers.Binary;
using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;

namespace Softswitch.Ofproto.Tests.Forwarding;

/// <summary>
/// Multi-table MPLS and PBB termination through the switch's flow-mods: table 0 pops the label (or the backbone header)
/// and goes to table 1, which matches the inner packet's fields (OpenFlow 1.3.5 sections 5.1 and 5.10); the frame
/// leaves as the inner packet, and table 1 counts it as matched.
/// </summary>
public sealed class OfSwitchReparseTests : IDisposable
{
    private static readonly MacAddress Src = MacAddress.Parse("02:00:00:00:00:01"), Dst = MacAddress.Parse("02:00:00:00:00:02");
    private const uint IpA = 0x0a000001, IpB = 0x0a000002;
    private readonly SwitchDatapath _dp = new(new DatapathOptions { PacketInRate = 0 }, new ManualClock());
    private readonly MemoryPort[] _ports = new MemoryPort[2];
    private readonly OfSwitch _sw;

    public OfSwitchReparseTests()
    {
        for (int i = 0; i < _ports.Length; i++)
        {
            _ports[i] = new MemoryPort($"r{i + 1}", new MacAddress(0x0200_0000_0040UL + (ulong)i)) { CaptureSent = true };
            _dp.AddPort(_ports[i]);
        }
        _sw = new OfSwitch(_dp, new OfSwitchOptions { DatapathId = 12 });
    }

    public void Dispose()
    {
        _sw.Dispose();
        _dp.Dispose();
    }

    private void Add(byte table, OfMatch match, OfInstructions ins)
        => Assert.Equal(OfError.None, _sw.FlowMod(new FlowModRequest(FlowModCommand.Add, match, 10, ins, TableId: table, Rules: MatchRules.OpenFlow13)));

    private static byte[] Tcp() => FrameBuilder.Tcp(Src, Dst, IpA, IpB, 1234, 80, tos: 0x28);

    private static byte[] Icmpv6()
    {
        var f = new byte[62];
        Dst.Write(f);
        Src.Write(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), PacketParser.EthTypeIpv6);
        f[14] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(18), 8);
        f[20] = PacketParser.ProtoIcmpv6;
        f[21] = 64;
        f[37] = 1;
        f[53] = 2;
        f[54] = 128;
        return f;
    }

    private static byte[] Mpls(byte[] inner) => Softswitch.TestKit.FlowFrames.MplsLabelled(inner);

    private static byte[] Pbb(byte[] customer)
    {
        var f = new byte[customer.Length + 18];
        new MacAddress(0x0200_0000_bb02UL).Write(f);
        new MacAddress(0x0200_0000_bb01UL).Write(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), PacketParser.EthTypePbb);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(14), 0x123456);
        customer.CopyTo(f.AsSpan(18));
        return f;
    }

    /// <summary>Sends <paramref name="frame"/> twice: table 1's <paramref name="inner"/> match must output both, as <paramref name="expected"/>.</summary>
    private void Expect(byte[] frame, OfMatch inner, byte[] expected)
    {
        Add(1, inner, OfInstructions.Apply(new[] { OfAction.Output(2) }));
        for (int i = 0; i < 2; i++) _ports[0].Inject(frame);
        _dp.PollUntilIdle();
        var sent = _ports[1].TakeSent();
        Assert.Equal(2, sent.Count);
        Assert.All(sent, f => Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(f)));
        Assert.Equal((2, 2), _dp.Pipeline.GetStageTotals(1));
    }

    private void PopMplsThenGoto(ushort ethType)
        => Add(0, new OfMatch().EthType(PacketParser.EthTypeMpls), new OfInstructions(new[] { OfAction.PopMpls(ethType) }, GotoTable: 1));

    public static TheoryData<string> Ipv4Fields => new() { "ip_dscp", "ipv4_src", "tcp_dst" };

    private static OfMatch Ipv4(string field) => field switch
    {
        "ip_dscp" => new OfMatch().EthType(0x0800).IpDscp(10),
        "ipv4_src" => new OfMatch().EthType(0x0800).NwSrc(IpA),
        _ => new OfMatch().EthType(0x0800).NwProto(6).TpDst(80),
    };

    [Theory]
    [MemberData(nameof(Ipv4Fields))]
    public void PopMpls_Table1MatchesTheInnerIpv4(string field)
    {
        PopMplsThenGoto(0x0800);
        Expect(Mpls(Tcp()), Ipv4(field), Tcp());
    }

    [Fact]
    public void PopMpls_Table1MatchesTheInnerIcmpv6Type()
    {
        PopMplsThenGoto(0x86DD);
        Expect(Mpls(Icmpv6()), new OfMatch().EthType(0x86DD).NwProto(58).Icmpv6Type(128), Icmpv6());
    }

    [Fact]
    public void PopMpls_Table1MatchesTheArpOpcode()
    {
        var arp = FrameBuilder.Arp(1, Src, IpA, default, IpB);
        PopMplsThenGoto(0x0806);
        Expect(Mpls(arp), new OfMatch().EthType(0x0806).ArpOp(1), arp);
    }

    [Theory]
    [MemberData(nameof(Ipv4Fields))]
    public void PopPbb_Table1MatchesTheCustomersIpv4(string field)
    {
        Add(0, new OfMatch().EthType(PacketParser.EthTypePbb), new OfInstructions(new[] { OfAction.PopPbb() }, GotoTable: 1));
        Expect(Pbb(Tcp()), Ipv4(field), Tcp());
    }

    [Fact]
    public void PushVlanOnATaggedFrame_Table1MatchesTheNewTag()
    {
        var tagged = FrameBuilder.Tcp(Src, Dst, IpA, IpB, 1234, 80, vlan: 5);
        Add(0, new OfMatch().Vlan(5), new OfInstructions(new[] { OfAction.PushVlan(0x8100), OfAction.SetVlanVid(20) }, GotoTable: 1));
        var expected = new byte[tagged.Length + 4];
        tagged.AsSpan(0, 12).CopyTo(expected);
        BinaryPrimitives.WriteUInt16BigEndian(expected.AsSpan(12), 0x8100);
        BinaryPrimitives.WriteUInt16BigEndian(expected.AsSpan(14), 20);
        tagged.AsSpan(12).CopyTo(expected.AsSpan(16));
        Expect(tagged, new OfMatch().Vlan(20).EthType(0x8100), expected);
    }
}
