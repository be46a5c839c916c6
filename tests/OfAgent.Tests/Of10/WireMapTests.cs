using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;
using Softswitch.OfAgent.Of10.Translate;
using Softswitch.OfWire.Of10;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Tests.Of10;

/// <summary>
/// The OpenFlow 1.0 wire ↔ OpenFlow layer mapping (and on through the layer to the datapath): every named bit lands on
/// its namesake, both ways, whatever the values; every port number crosses one to one.
/// </summary>
public class WireMapTests
{
    private static IEnumerable<T> Bits<T>() where T : struct, Enum
        => Enum.GetValues<T>().Where(v => { ulong x = Convert.ToUInt64(v); return x != 0 && (x & (x - 1)) == 0; });

    /// <summary>A wire port number through the OpenFlow layer to the datapath.</summary>
    private static ushort ToDatapath(ushort wire)
    {
        Assert.True(OfPort.ToDatapath(WireMap.ToOfPort(wire), out var dp));
        return dp;
    }

    private static ushort FromDatapath(ushort dp) => WireMap.ToWirePort(OfPort.FromDatapath(dp));

    [Fact]
    public void EachWildcardFieldClearsItsNamesakesMaskAndComesBack()
    {
        var fields = new[] { "InPort", "DlVlan", "DlSrc", "DlDst", "DlType", "NwProto", "TpSrc", "TpDst", "DlVlanPcp", "NwTos" };
        foreach (var name in fields)
        {
            // Everything exact but this field: its wildcard bit reaches the datapath's namesake, and the match reads back.
            var wire = new OfpMatch { Wildcards = Enum.Parse<OfpFlowWildcards>(name), DlVlan = 5 };
            var of = MatchTranslator.ToOfMatch(wire);
            Assert.Equal(OfError.None, OfMatchCompiler.TryCompile(of, out var dp));
            Assert.Equal(Enum.Parse<OfWildcards>(name) | OfWildcards.TunIdExt, dp.Wildcards);
            Assert.Equal(wire.Wildcards, MatchTranslator.ToOfpMatch(OfMatchCompiler.ToOfMatch(dp)).Wildcards);
        }
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(8, 24)]
    [InlineData(32, 0)]
    [InlineData(63, 17)]
    public void NwPrefixCountsCrossAsPrefixMasks(int src, int dst)
    {
        var wire = new OfpMatch
        {
            Wildcards = OfpFlowWildcards.All & ~(OfpFlowWildcards.NwSrcMask | OfpFlowWildcards.NwDstMask)
                        | (OfpFlowWildcards)((uint)src << (int)OfpFlowWildcards.NwSrcShift) | (OfpFlowWildcards)((uint)dst << (int)OfpFlowWildcards.NwDstShift),
            NwSrc = 0x0a0b0c0d,
            NwDst = 0xc0a80101,
        };
        var of = MatchTranslator.ToOfMatch(wire);
        Assert.Equal(OfMatch.PrefixMask(32 - Math.Min(32, src)), of.Mask.NwSrc);
        Assert.Equal(OfMatch.PrefixMask(32 - Math.Min(32, dst)), of.Mask.NwDst);
        Assert.Equal(OfError.None, OfMatchCompiler.TryCompile(of, out var dp));
        Assert.Equal(32 - Math.Min(32, src), dp.NwSrcPrefixBits);
        Assert.Equal(32 - Math.Min(32, dst), dp.NwDstPrefixBits);
        // Counts above 32 mean the whole address: they come back as 32, as a flow stats reply says.
        var back = MatchTranslator.ToOfpMatch(OfMatchCompiler.ToOfMatch(dp));
        Assert.Equal(Math.Min(32, src), back.NwSrcWildcardBits);
        Assert.Equal(Math.Min(32, dst), back.NwDstWildcardBits);
    }

    [Fact]
    public void AllWildcardsMatchEverythingAndLeaveTheTunnelIdOut()
    {
        var of = MatchTranslator.ToOfMatch(OfpMatch.All);
        Assert.Equal(OfMatch.Any, of);
        Assert.Equal(OfError.None, OfMatchCompiler.TryCompile(of, out var dp));
        Assert.Equal(FlowMatch.All, dp);
        var fields = OfpFlowWildcards.All & ~(OfpFlowWildcards.NwSrcMask | OfpFlowWildcards.NwDstMask);
        Assert.Equal(fields | OfpFlowWildcards.NwSrcAll | OfpFlowWildcards.NwDstAll, MatchTranslator.ToOfpMatch(of).Wildcards);
        // Bits above OFPFW_ALL mean nothing in OF1.0 and do not reach the match.
        Assert.Equal(MatchTranslator.ToOfMatch(new OfpMatch { Wildcards = OfpFlowWildcards.InPort }),
                     MatchTranslator.ToOfMatch(new OfpMatch { Wildcards = OfpFlowWildcards.InPort | (OfpFlowWildcards)0xFFC0_0000u }));
    }

    [Fact]
    public void DlVlanNoneIsUntaggedAndAVidIsTagged()
    {
        var none = MatchTranslator.ToOfMatch(new OfpMatch { Wildcards = OfpFlowWildcards.All & ~OfpFlowWildcards.DlVlan, DlVlan = 0xffff });
        Assert.Equal((ushort)0, none.Value.VlanVid);
        Assert.Equal(OfMatch.VlanVidMask, none.Mask.VlanVid);
        var tagged = MatchTranslator.ToOfMatch(new OfpMatch { Wildcards = OfpFlowWildcards.All & ~OfpFlowWildcards.DlVlan, DlVlan = 42 });
        Assert.Equal((ushort)(OfMatch.VlanPresent | 42), tagged.Value.VlanVid);
        Assert.Equal(OfError.None, OfMatchCompiler.TryCompile(none, out var dpNone));
        Assert.Equal(0xffff, dpNone.Value.DlVlan);
        Assert.Equal(OfError.None, OfMatchCompiler.TryCompile(tagged, out var dpTagged));
        Assert.Equal(42, dpTagged.Value.DlVlan);
        Assert.Equal((ushort)0xffff, MatchTranslator.ToOfpMatch(none).DlVlan);
        Assert.Equal((ushort)42, MatchTranslator.ToOfpMatch(tagged).DlVlan);
    }

    private static readonly string[] s_reservedPortNames = ["InPort", "Table", "Normal", "Flood", "All", "Controller", "Local", "None"];

    [Fact]
    public void ReservedPortNumbersMapByNameThroughTheLayerToTheDatapathsOwn()
    {
        foreach (var name in s_reservedPortNames)
        {
            ushort wire = (ushort)Enum.Parse<OfpPort>(name);
            ushort dp = (ushort)typeof(PortNumber).GetField(name)!.GetRawConstantValue()!;
            uint of = name == "None" ? OfPort.Any : (uint)typeof(OfPort).GetField(name)!.GetRawConstantValue()!;
            Assert.Equal(of, WireMap.ToOfPort(wire));
            Assert.Equal(dp, ToDatapath(wire));
            Assert.Equal(wire, FromDatapath(dp));
            Assert.NotEqual(wire, dp);
        }
    }

    [Fact]
    public void PortNumbersMapOneToOneAndPortsKeepTheirNumbers()
    {
        for (int n = 1; n < (int)OfpPort.Max; n++) Assert.Equal((ushort)n, ToDatapath((ushort)n));
        var seen = new bool[65536];
        for (int n = 0; n <= ushort.MaxValue; n++)
        {
            ushort dp = ToDatapath((ushort)n);
            Assert.False(seen[dp], $"two wire numbers map to {dp}");
            seen[dp] = true;
            Assert.Equal((ushort)n, FromDatapath(dp));
        }
        // A wire number OF1.0 leaves unnamed never becomes a reserved target of the datapath.
        var targets = s_reservedPortNames.Select(n => (ushort)typeof(PortNumber).GetField(n)!.GetRawConstantValue()!).ToHashSet();
        for (int n = (int)OfpPort.Max + 1; n < (int)OfpPort.InPort; n++) Assert.DoesNotContain(ToDatapath((ushort)n), targets);
    }

    [Fact]
    public void APortNumberOnlyLaterVersionsCanExpressHasNoDatapathNumber()
    {
        Assert.False(OfPort.ToDatapath(0x10000, out _));
        Assert.False(OfPort.ToDatapath(OfPort.Max - 1, out _));
        Assert.Equal((ushort)OfpPort.None, WireMap.ToWirePort(0x10000));
    }

    [Fact]
    public void PortConfigBitsMapByNameAndUnknownWireBitsAreDropped()
    {
        foreach (var wire in Bits<OfpPortConfig>())
        {
            var of = Enum.Parse<OfPortConfig>(wire.ToString());
            Assert.Equal(of, WireMap.ToOf(wire));
            Assert.Equal(wire, WireMap.ToWire(of));
        }
        Assert.Equal(OfPortConfig.NoFwd, WireMap.ToOf(OfpPortConfig.NoFwd | (OfpPortConfig)0x8000_0080u));
        var all = Bits<OfPortConfig>().Aggregate(OfPortConfig.None, (a, b) => a | b);
        Assert.Equal((OfpPortConfig)0x7Fu, WireMap.ToWire(all));
    }

    [Fact]
    public void PortFeaturesMapByName()
    {
        foreach (var of in Bits<OfPortFeatures>())
            Assert.Equal(Enum.Parse<OfpPortFeatures>(of.ToString()), WireMap.ToWire(of));
        Assert.Equal((OfpPortFeatures)((1u << 5) | (1u << 7)), WireMap.ToWire(OfPortFeatures.Rate1GbFd | OfPortFeatures.Copper));
    }

    [Fact]
    public void ReasonsAndStateMapToTheSpecValues()
    {
        Assert.Equal(OfpPacketInReason.NoMatch, WireMap.ToWire(OfPacketInReason.NoMatch));
        Assert.Equal(OfpPacketInReason.Action, WireMap.ToWire(OfPacketInReason.Action));
        Assert.Equal(OfpFlowRemovedReason.IdleTimeout, WireMap.ToWire(OfFlowRemovedReason.IdleTimeout));
        Assert.Equal(OfpFlowRemovedReason.HardTimeout, WireMap.ToWire(OfFlowRemovedReason.HardTimeout));
        Assert.Equal(OfpFlowRemovedReason.Delete, WireMap.ToWire(OfFlowRemovedReason.Delete));
        Assert.Equal(OfpPortReason.Add, WireMap.ToWire(OfPortReason.Add));
        Assert.Equal(OfpPortReason.Delete, WireMap.ToWire(OfPortReason.Delete));
        Assert.Equal(OfpPortReason.Modify, WireMap.ToWire(OfPortReason.Modify));
        Assert.Equal(OfpPortState.LinkDown, WireMap.ToWire(OfPortState.LinkDown));
        Assert.Equal(OfpPortState.None, WireMap.ToWire(OfPortState.None));
    }

    /// <summary>The spanning tree state goes into OpenFlow 1.0's 2-bit field at bit 8 (listen is 0), beside the link bit;
    /// OpenFlow 1.3 has no such field: BLOCKED while the port does not forward, LIVE otherwise while its link is up.</summary>
    [Fact]
    public void StpStates_MapToTheOpenFlow10FieldAndOpenFlow13Blocked()
    {
        Assert.Equal(0x000u, (uint)WireMap.ToWire(OfPortState.StpListen));
        Assert.Equal(0x100u, (uint)WireMap.ToWire(OfPortState.StpLearn));
        Assert.Equal(0x200u, (uint)WireMap.ToWire(OfPortState.StpForward));
        Assert.Equal(0x300u, (uint)WireMap.ToWire(OfPortState.StpBlock));
        Assert.Equal(0x301u, (uint)WireMap.ToWire(OfPortState.StpBlock | OfPortState.LinkDown));
        static uint Of13State(OfPortState s) => Softswitch.OfAgent.Of13.Translate.ReportTranslator.Port(new OfPortDesc(1, 0, "p1", OfPortConfig.None, s,
            OfPortFeatures.None, OfPortFeatures.None, OfPortFeatures.None, OfPortFeatures.None, 0, 0)).State;
        Assert.Equal(4u, Of13State(OfPortState.None));
        Assert.Equal(4u, Of13State(OfPortState.StpForward));
        Assert.Equal(2u, Of13State(OfPortState.StpListen));
        Assert.Equal(2u, Of13State(OfPortState.StpLearn));
        Assert.Equal(2u, Of13State(OfPortState.StpBlock));
        Assert.Equal(1u, Of13State(OfPortState.LinkDown | OfPortState.StpBlock));
    }

    [Fact]
    public void EveryRefusalOfTheLayerHasAnOpenFlow10Error()
    {
        foreach (var e in Enum.GetValues<OfError>().Where(e => e != OfError.None))
            Assert.NotEqual(default, WireMap.ToWire(e));
        Assert.Equal(OfpError.BadRequest(OfpBadRequestCode.BufferEmpty), WireMap.ToWire(OfError.BufferEmpty));
        Assert.Equal(OfpError.BadAction(OfpBadActionCode.BadOutPort), WireMap.ToWire(OfError.BadOutPort));
        Assert.Equal(OfpError.FlowModFailed(OfpFlowModFailedCode.AllTablesFull), WireMap.ToWire(OfError.TableFull));
    }
}
