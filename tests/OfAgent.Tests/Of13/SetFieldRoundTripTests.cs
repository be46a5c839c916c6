using Softswitch.Datapath.Ports;
using Softswitch.OfAgent.Of13;
using Softswitch.OfAgent.Of13.Translate;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;
using static Softswitch.OfAgent.Of13.Translate.MatchTranslator;
using Of10Actions = Softswitch.OfAgent.Of10.Translate.ActionTranslator;
using Of10FlowMods = Softswitch.OfAgent.Of10.Translate.FlowModTranslator;

namespace Softswitch.OfAgent.Tests.Of13;

/// <summary>
/// Every set-field a flow or bucket may hold, from its bytes through the model and the datapath's compiled actions (what
/// flow statistics and GROUP_DESC read back) to bytes again: the same field and value, so a dumped flow re-adds as it
/// was. OpenFlow 1.0's set_tp_src/dst take the transport of their flow's match.
/// </summary>
public sealed class SetFieldRoundTripTests
{
    /// <summary>A value per field; <see cref="TheRowsCoverEveryFieldTheSwitchSets"/> holds it to the fields the switch advertises.</summary>
    public static TheoryData<byte, ulong> Fields => new()
    {
        { EthDst, 0x0000_0000_0009 }, { EthSrc, 0x0200_0000_0001 }, { EthType, 0x86dd }, { VlanVid, 0x1000 | 10 }, { VlanPcp, 5 },
        { IpDscp, 46 }, { IpEcn, 2 }, { IpProto, 17 }, { Ipv4Src, 0x0a00_0001 }, { Ipv4Dst, 0x0a00_0002 },
        { TcpSrc, 1234 }, { TcpDst, 80 }, { UdpSrc, 5353 }, { UdpDst, 53 }, { SctpSrc, 2905 }, { SctpDst, 3868 },
        { Icmpv4Type, 8 }, { Icmpv4Code, 1 }, { Icmpv6Type, 135 }, { Icmpv6Code, 2 },
        { ArpOp, 2 }, { ArpSpa, 0x0a00_0003 }, { ArpTpa, 0x0a00_0004 }, { ArpSha, 0x0200_0000_0005 }, { ArpTha, 0x0200_0000_0006 },
        { Ipv6Src, 0x20 }, { Ipv6Dst, 0x21 }, { Ipv6Flabel, 0x12345 }, { Ipv6NdTarget, 0x22 }, { Ipv6NdSll, 0x0200_0000_0007 }, { Ipv6NdTll, 0x0200_0000_0008 },
        { MplsLabel, 1000 }, { MplsTc, 3 }, { MplsBos, 1 }, { PbbIsid, 0x123456 }, { TunnelId, 0x99 },
    };

    [Fact]
    public void TheRowsCoverEveryFieldTheSwitchSets()
        => Assert.Equal(Of13Capabilities.SettableFields, Fields.Select(r => (byte)r[0]).Order());

    [Theory]
    [MemberData(nameof(Fields))]
    public void ASetFieldReadsBackAsTheBytesGiven(byte field, ulong value)
    {
        var w = new Ofp13Writer();
        Ofp13Actions.Encode(w, [Ofp13Action.SetField(Ofp13Oxm.Exact(field, value))]);
        byte[] wire = w.Written.ToArray();
        var decoded = new List<Ofp13Action>();
        Assert.True(Ofp13Actions.TryDecode(wire, decoded, out var error), error.ToString());
        Assert.True(ActionTranslator.TryToOf([.. decoded], out var model, out error), error.ToString());

        // ICMPv6 and neighbour-discovery fields need an IPv6 match: the flow's match says so when its actions are written.
        bool ipv6 = field is Icmpv6Type or Icmpv6Code or Ipv6NdTarget or Ipv6NdSll or Ipv6NdTll;
        Assert.Equal(Convert.ToHexString(wire), Convert.ToHexString(Of13Bytes(ReadBack(model), ipv6)));
    }

    /// <summary>An OpenFlow 1.0 set_tp_src/dst (type 9/10, 8 bytes) on a flow of each transport, and on one that names none.</summary>
    public static TheoryData<string, ushort, byte, byte> TransportPorts => new()
    {
        { "0009 0008 14e9 0000", 0x0800, 17, UdpSrc }, { "000a 0008 0035 0000", 0x0800, 17, UdpDst },
        { "0009 0008 0b59 0000", 0x0800, 132, SctpSrc }, { "000a 0008 0f1c 0000", 0x0800, 132, SctpDst },
        { "0009 0008 04d2 0000", 0x0800, 6, TcpSrc }, { "000a 0008 0050 0000", 0x0800, 6, TcpDst },
        // A match that pins no transport (IP protocol wildcarded, or not IPv4): TCP's field, as before.
        { "0009 0008 04d2 0000", 0, 0, TcpSrc },
    };

    [Theory]
    [MemberData(nameof(TransportPorts))]
    public void AnOpenFlow10PortRewrite_ReadsBackAsItsFlowsTransport(string hex, ushort ethType, byte ipProto, byte field)
    {
        byte[] wire = Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));
        Assert.True(OfpActions.TryDecode(wire, out List<OfpAction> decoded, out var error), error.ToString());
        var match = OfpMatch.All;
        if (ethType != 0)
        {
            match.DlType = ethType;
            match.NwProto = ipProto;
            match.Wildcards &= ~(OfpFlowWildcards.DlType | OfpFlowWildcards.NwProto);
        }
        Assert.True(Of10Actions.TryDecode(decoded, Of10FlowMods.TransportOf(match), out var model, out error), error.ToString());
        var back = ReadBack(model.ToArray());

        // OpenFlow 1.0 reads it back as it came; OpenFlow 1.3 as its flow's transport's field, with the same port.
        var of10 = new byte[wire.Length];
        Assert.Equal(wire.Length, OfpActions.Encode(Of10Actions.ToOfp(back), of10));
        Assert.Equal(Convert.ToHexString(wire), Convert.ToHexString(of10));
        var w = new Ofp13Writer();
        Ofp13Actions.Encode(w, [Ofp13Action.SetField(Ofp13Oxm.Exact(field, (ulong)((wire[4] << 8) | wire[5])))]);
        Assert.Equal(Convert.ToHexString(w.Written), Convert.ToHexString(Of13Bytes(back, ipv6: false)));
    }

    /// <summary>The model's actions compiled for the datapath and read back from there, as flow statistics do.</summary>
    private static OfAction[] ReadBack(ReadOnlySpan<OfAction> model)
    {
        Assert.Equal(OfError.None, OfActionCompiler.TryCompile(model, PortTable.Empty, ActionContext.FlowMod, 8, out var compiled));
        var back = new OfAction[compiled.Items.Length];
        OfActionCompiler.ToOfActions(compiled, back);
        return back;
    }

    private static byte[] Of13Bytes(ReadOnlySpan<OfAction> actions, bool ipv6)
    {
        var written = new List<Ofp13Action>();
        ActionTranslator.ToWire(actions, ipv6, written);
        var w = new Ofp13Writer();
        Ofp13Actions.Encode(w, [.. written]);
        return w.Written.ToArray();
    }
}
