using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;

namespace Softswitch.Ofproto.Tests;

/// <summary>
/// set_field on eth_type and ip_proto through the switch: the frame leaves rewritten, the next table matches the new
/// value (OpenFlow 1.3.5 section 5.10: apply-actions change the packet at once), and the action set holds them.
/// </summary>
public sealed class OfSwitchSetTypeFieldTests : IDisposable
{
    private static readonly MacAddress Src = MacAddress.Parse("02:00:00:00:00:01"), Dst = MacAddress.Parse("02:00:00:00:00:02");
    private readonly SwitchDatapath _dp = new(new DatapathOptions { PacketInRate = 0 }, new ManualClock());
    private readonly MemoryPort[] _ports = new MemoryPort[2];
    private readonly OfSwitch _sw;

    public OfSwitchSetTypeFieldTests()
    {
        for (int i = 0; i < _ports.Length; i++)
        {
            _ports[i] = new MemoryPort($"t{i + 1}", new MacAddress(0x0200_0000_0030UL + (ulong)i)) { CaptureSent = true };
            _dp.AddPort(_ports[i]);
        }
        _sw = new OfSwitch(_dp, new OfSwitchOptions { DatapathId = 11 });
    }

    public void Dispose()
    {
        _sw.Dispose();
        _dp.Dispose();
    }

    private OfError Add(byte table, OfMatch match, OfInstructions ins)
        => _sw.FlowMod(new FlowModRequest(FlowModCommand.Add, match, 10, ins, TableId: table, Rules: MatchRules.OpenFlow13));

    private byte[] SendUdp()
    {
        _ports[0].Inject(FrameBuilder.Udp(Src, Dst, 0x0a000001, 0x0a000002, 1, 2));
        _dp.PollUntilIdle();
        return Assert.Single(_ports[1].TakeSent());
    }

    [Fact]
    public void TheNextTableMatchesTheNewIpProtoAndTheFrameCarriesIt()
    {
        var ip = new OfMatch().EthType(0x0800);
        Assert.Equal(OfError.None, Add(0, ip, new OfInstructions(new[] { OfAction.SetIpProto(0x99) }, GotoTable: 1)));
        Assert.Equal(OfError.None, Add(1, new OfMatch().EthType(0x0800).NwProto(0x99), OfInstructions.Apply(new[] { OfAction.Output(2) })));
        var f = SendUdp();
        Assert.Equal(0x99, f[14 + 9]);
        PacketParser.Parse(f, 1, out var k, out _);
        Assert.Equal(0x99, k.NwProto);
    }

    [Fact]
    public void TheNextTableMatchesTheNewEthType()
    {
        Assert.Equal(OfError.None, Add(0, OfMatch.Any, new OfInstructions(new[] { OfAction.SetEthType(0x88B5) }, GotoTable: 1)));
        Assert.Equal(OfError.None, Add(1, new OfMatch().EthType(0x88B5), OfInstructions.Apply(new[] { OfAction.Output(2) })));
        var f = SendUdp();
        Assert.Equal([0x88, 0xB5], f[12..14]);
    }

    [Fact]
    public void TheActionSetHoldsThem()
    {
        var ins = new OfInstructions(ReadOnlyMemory<OfAction>.Empty,
                                     WriteActions: new[] { OfAction.SetIpProto(0x99), OfAction.SetEthType(0x0801), OfAction.Output(2) });
        Assert.Equal(OfError.None, Add(0, new OfMatch().EthType(0x0800), ins));
        var f = SendUdp();
        Assert.Equal([0x08, 0x01], f[12..14]);
        Assert.Equal(0x99, f[14 + 9]);
    }
}
