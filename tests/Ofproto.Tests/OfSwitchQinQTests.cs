using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;

namespace Softswitch.Ofproto.Tests;

/// <summary>
/// A double-tagged frame (802.1Q or 802.1ad outside an 802.1Q tag) under both versions' rules: OpenFlow 1.0 and 1.3
/// match one tag, so dl_type/eth_type is the ethertype after the first tag (the inner tag's 0x8100), as in Open
/// vSwitch with its default vlan-limit 1; the outer tag's VID is the one matched.
/// </summary>
public sealed class OfSwitchQinQTests : IDisposable
{
    private static readonly MacAddress Src = MacAddress.Parse("02:00:00:00:00:01"), Dst = MacAddress.Parse("02:00:00:00:00:02");
    private readonly SwitchDatapath _dp = new(new DatapathOptions { PacketInRate = 0 }, new ManualClock());
    private readonly MemoryPort[] _ports = new MemoryPort[3];
    private readonly OfSwitch _sw;

    public OfSwitchQinQTests()
    {
        for (int i = 0; i < _ports.Length; i++)
        {
            _ports[i] = new MemoryPort($"q{i + 1}", new MacAddress(0x0200_0000_0020UL + (ulong)i)) { CaptureSent = true };
            _dp.AddPort(_ports[i]);
        }
        _sw = new OfSwitch(_dp, new OfSwitchOptions { DatapathId = 9 });
    }

    public void Dispose()
    {
        _sw.Dispose();
        _dp.Dispose();
    }

    /// <summary>UDP over IPv4 in an inner 802.1Q tag (VID 200) inside an outer tag of <paramref name="outerTpid"/> (VID 100).</summary>
    private static byte[] DoubleTagged(ushort outerTpid)
    {
        var inner = FrameBuilder.Udp(Src, Dst, 0x0a000001, 0x0a000002, 1, 2, vlan: 200);
        var f = new byte[inner.Length + 4];
        inner.AsSpan(0, 12).CopyTo(f);
        f[12] = (byte)(outerTpid >> 8);
        f[13] = (byte)outerTpid;
        f[15] = 100;
        inner.AsSpan(12).CopyTo(f.AsSpan(16));
        return f;
    }

    private OfError Add(MatchRules rules, OfMatch match, ushort priority, uint port)
        => _sw.FlowMod(new FlowModRequest(FlowModCommand.Add, match, priority, OfInstructions.Apply(new[] { OfAction.Output(port) }), Rules: rules));

    public static TheoryData<int, bool> Cases => new() { { 0x8100, false }, { 0x8100, true }, { 0x88A8, false }, { 0x88A8, true } };

    [Theory]
    [MemberData(nameof(Cases))]
    public void TheTypeMatchedIsTheOneAfterTheFirstTag(int outerTpid, bool openFlow13)
    {
        var rules = openFlow13 ? MatchRules.OpenFlow13 : MatchRules.OpenFlow10;
        Assert.Equal(OfError.None, Add(rules, new OfMatch().EthType(0x0800), 30, 1));
        Assert.Equal(OfError.None, Add(rules, new OfMatch().Vlan(200).EthType(0x0800), 20, 1));
        Assert.Equal(OfError.None, Add(rules, new OfMatch().Vlan(100).EthType(0x8100), 10, 2));
        _ports[2].Inject(DoubleTagged((ushort)outerTpid));
        _dp.PollUntilIdle();
        Assert.Empty(_ports[0].TakeSent());
        Assert.Single(_ports[1].TakeSent());
    }

    [Fact]
    public void ASingleTaggedFrameStillMatchesItsIpType()
    {
        Assert.Equal(OfError.None, Add(MatchRules.OpenFlow13, new OfMatch().Vlan(200).EthType(0x0800).NwSrc(0x0a000001), 10, 2));
        _ports[2].Inject(FrameBuilder.Udp(Src, Dst, 0x0a000001, 0x0a000002, 1, 2, vlan: 200));
        _dp.PollUntilIdle();
        Assert.Single(_ports[1].TakeSent());
    }
}
