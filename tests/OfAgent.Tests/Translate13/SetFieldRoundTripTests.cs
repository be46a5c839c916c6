using Softswitch.Datapath.Forwarding;
using Softswitch.OfAgent.Of13.Translate;
using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;
using static Softswitch.OfAgent.Of13.Translate.MatchTranslator;

namespace Softswitch.OfAgent.Tests.Translate13;

/// <summary>
/// Every set-field a flow or bucket may hold, from the wire through the model and the datapath's compiled actions (what
/// flow statistics and GROUP_DESC read back) to the wire again: the same field and value, so a dumped flow re-adds as it was.
/// </summary>
public sealed class SetFieldRoundTripTests
{
    public static TheoryData<byte, ulong> Fields => new()
    {
        { EthDst, 0x0000_0000_0009 }, { EthSrc, 0x0200_0000_0001 }, { VlanVid, 0x1000 | 10 }, { VlanPcp, 5 },
        { IpDscp, 46 }, { IpEcn, 2 }, { Ipv4Src, 0x0a00_0001 }, { Ipv4Dst, 0x0a00_0002 },
        { TcpSrc, 1234 }, { TcpDst, 80 }, { UdpSrc, 5353 }, { UdpDst, 53 }, { SctpSrc, 2905 }, { SctpDst, 3868 },
        { Icmpv4Type, 8 }, { Icmpv4Code, 1 }, { Icmpv6Type, 135 }, { Icmpv6Code, 2 },
        { ArpOp, 2 }, { ArpSpa, 0x0a00_0003 }, { ArpTpa, 0x0a00_0004 }, { ArpSha, 0x0200_0000_0005 }, { ArpTha, 0x0200_0000_0006 },
        { Ipv6Src, 0x20 }, { Ipv6Dst, 0x21 }, { Ipv6Flabel, 0x12345 }, { Ipv6NdTarget, 0x22 }, { Ipv6NdSll, 0x0200_0000_0007 }, { Ipv6NdTll, 0x0200_0000_0008 },
        { MplsLabel, 1000 }, { MplsTc, 3 }, { MplsBos, 1 }, { PbbIsid, 0x123456 }, { TunnelId, 0x99 },
    };

    [Theory]
    [MemberData(nameof(Fields))]
    public void ASetFieldReadsBackAsTheFieldGiven(byte field, ulong value)
    {
        var wire = Ofp13Action.SetField(Ofp13Oxm.Exact(field, value));
        Assert.True(ActionTranslator.TryToOf([wire], out var model, out var error), error.ToString());
        Assert.Equal(OfError.None, OfActionCompiler.TryCompile(model, PortTable.Empty, ActionContext.FlowMod, 8, out var compiled));
        var back = new OfAction[compiled.Items.Length];
        OfActionCompiler.ToOfActions(compiled, back);
        // ICMPv6 and neighbour-discovery fields need an IPv6 match: the flow's match says so when its actions are written.
        bool ipv6 = field is Icmpv6Type or Icmpv6Code or Ipv6NdTarget or Ipv6NdSll or Ipv6NdTll;
        var written = new List<Ofp13Action>();
        ActionTranslator.ToWire(back, ipv6, written);
        Assert.Equal([wire], written);
    }
}
