using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.OfAgent.Translate;
using Softswitch.OfWire;

namespace Softswitch.OfAgent.Tests.Wire;

/// <summary>The wire ↔ datapath enum mapping: every named bit lands on its namesake, both ways, whatever the values.</summary>
public class WireMapTests
{
    private static IEnumerable<T> Bits<T>() where T : struct, Enum
        => Enum.GetValues<T>().Where(v => { ulong x = Convert.ToUInt64(v); return x != 0 && (x & (x - 1)) == 0; });

    [Fact]
    public void Each_wildcard_field_maps_to_its_namesake_and_back()
    {
        var fields = new[] { "InPort", "DlVlan", "DlSrc", "DlDst", "DlType", "NwProto", "TpSrc", "TpDst", "DlVlanPcp", "NwTos" };
        foreach (var name in fields)
        {
            var wire = Enum.Parse<OfpFlowWildcards>(name);
            var dp = Enum.Parse<Wildcards>(name);
            Assert.Equal(dp, WireMap.ToDatapath(wire));
            Assert.Equal(wire, WireMap.ToWire(dp));
        }
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(8, 24)]
    [InlineData(32, 0)]
    [InlineData(63, 17)]
    public void Nw_prefix_counts_cross_unchanged(int src, int dst)
    {
        var wire = OfpFlowWildcards.DlType | (OfpFlowWildcards)((uint)src << (int)OfpFlowWildcards.NwSrcShift)
                   | (OfpFlowWildcards)((uint)dst << (int)OfpFlowWildcards.NwDstShift);
        var dp = WireMap.ToDatapath(wire);
        Assert.Equal(Wildcards.DlType, dp & ~(Wildcards.NwSrcMask | Wildcards.NwDstMask));
        Assert.Equal((uint)src, ((uint)dp & (uint)Wildcards.NwSrcMask) >> (int)Wildcards.NwSrcShift);
        Assert.Equal((uint)dst, ((uint)dp & (uint)Wildcards.NwDstMask) >> (int)Wildcards.NwDstShift);
        Assert.Equal(wire, WireMap.ToWire(dp));
    }

    [Fact]
    public void All_wildcards_map_to_all_and_the_tunnel_bit_stays_off_the_wire()
    {
        // OFPFW_ALL carries nw counts of 63; the match clamps them to 32 ("the whole address"), which is what
        // goes back on the wire (as before: a flow stats reply says 32).
        var all = WireMap.ToDatapath(OfpFlowWildcards.All);
        Assert.Equal(FlowMatch.All.Wildcards, FlowMatch.FromOpenFlow(all | Wildcards.TunIdExt, default).Wildcards);
        Assert.Equal(Wildcards.All | Wildcards.TunIdExt, FlowMatch.All.Wildcards);
        var fields = OfpFlowWildcards.All & ~(OfpFlowWildcards.NwSrcMask | OfpFlowWildcards.NwDstMask);
        Assert.Equal(fields | OfpFlowWildcards.NwSrcAll | OfpFlowWildcards.NwDstAll, WireMap.ToWire(Wildcards.All | Wildcards.TunIdExt));
        Assert.Equal(OfpFlowWildcards.None, WireMap.ToWire(Wildcards.TunIdExt));
        // Bits above OFPFW_ALL mean nothing in OF1.0 and do not reach the datapath.
        Assert.Equal(Wildcards.InPort, WireMap.ToDatapath(OfpFlowWildcards.InPort | (OfpFlowWildcards)0xFFC0_0000u));
    }

    private static readonly string[] s_reservedPortNames = ["InPort", "Table", "Normal", "Flood", "All", "Controller", "Local", "None"];

    [Fact]
    public void Reserved_port_numbers_map_by_name_and_are_the_datapaths_own()
    {
        foreach (var name in s_reservedPortNames)
        {
            ushort wire = (ushort)Enum.Parse<OfpPort>(name);
            ushort dp = (ushort)typeof(PortNumber).GetField(name)!.GetRawConstantValue()!;
            Assert.Equal(dp, WireMap.ToDatapathPort(wire));
            Assert.Equal(wire, WireMap.ToWirePort(dp));
            Assert.NotEqual(wire, dp);
        }
    }

    [Fact]
    public void Port_numbers_map_one_to_one_and_ports_keep_their_numbers()
    {
        for (int n = 1; n < (int)OfpPort.Max; n++) Assert.Equal((ushort)n, WireMap.ToDatapathPort((ushort)n));
        var seen = new bool[65536];
        for (int n = 0; n <= ushort.MaxValue; n++)
        {
            ushort dp = WireMap.ToDatapathPort((ushort)n);
            Assert.False(seen[dp], $"two wire numbers map to {dp}");
            seen[dp] = true;
            Assert.Equal((ushort)n, WireMap.ToWirePort(dp));
        }
        // A wire number OF1.0 leaves unnamed never becomes a reserved target of the datapath.
        var targets = s_reservedPortNames.Select(n => (ushort)typeof(PortNumber).GetField(n)!.GetRawConstantValue()!).ToHashSet();
        for (int n = (int)OfpPort.Max + 1; n < (int)OfpPort.InPort; n++) Assert.DoesNotContain(WireMap.ToDatapathPort((ushort)n), targets);
    }

    [Fact]
    public void Port_config_bits_map_by_name_and_unknown_wire_bits_are_dropped()
    {
        foreach (var wire in Bits<OfpPortConfig>())
        {
            var dp = Enum.Parse<PortConfig>(wire.ToString());
            Assert.Equal(dp, WireMap.ToDatapath(wire));
            Assert.Equal(wire, WireMap.ToWire(dp));
        }
        Assert.Equal(PortConfig.NoFwd, WireMap.ToDatapath(OfpPortConfig.NoFwd | (OfpPortConfig)0x8000_0080u));
        var all = Bits<PortConfig>().Aggregate(PortConfig.None, (a, b) => a | b);
        Assert.Equal((OfpPortConfig)0x7Fu, WireMap.ToWire(all));
    }

    [Fact]
    public void Port_features_map_by_name()
    {
        foreach (var dp in Bits<PortFeatures>())
            Assert.Equal(Enum.Parse<OfpPortFeatures>(dp.ToString()), WireMap.ToWire(dp));
        Assert.Equal((OfpPortFeatures)((1u << 5) | (1u << 7)), WireMap.ToWire(PortFeatures.Rate1GbFd | PortFeatures.Copper));
    }

    [Fact]
    public void Reasons_and_state_map_to_the_spec_values()
    {
        Assert.Equal(OfpPacketInReason.NoMatch, WireMap.ToWire(PacketInReason.NoMatch));
        Assert.Equal(OfpPacketInReason.Action, WireMap.ToWire(PacketInReason.Action));
        Assert.Equal(OfpFlowRemovedReason.IdleTimeout, WireMap.ToWire(FlowRemovedReason.IdleTimeout));
        Assert.Equal(OfpFlowRemovedReason.HardTimeout, WireMap.ToWire(FlowRemovedReason.HardTimeout));
        Assert.Equal(OfpFlowRemovedReason.Delete, WireMap.ToWire(FlowRemovedReason.Delete));
        Assert.Equal(OfpPortReason.Add, WireMap.ToWire(PortStatusReason.Add));
        Assert.Equal(OfpPortReason.Delete, WireMap.ToWire(PortStatusReason.Delete));
        Assert.Equal(OfpPortReason.Modify, WireMap.ToWire(PortStatusReason.Modify));
        Assert.Equal(OfpPortState.LinkDown, WireMap.ToWire(PortState.LinkDown));
        Assert.Equal(OfpPortState.None, WireMap.ToWire(PortState.None));
    }
}
