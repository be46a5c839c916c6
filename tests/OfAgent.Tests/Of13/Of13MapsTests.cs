using Softswitch.OfAgent.Of13.Translate;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Tests.Of13;

/// <summary>Every entry of the OpenFlow 1.3 wire tables both ways, every model value listed, and what the wire does not name.</summary>
public sealed class Of13MapsTests
{
    private static void EveryModelValueListed<TModel, TWire>((TWire Wire, TModel Model)[] pairs, params TModel[] except) where TModel : struct, Enum
    {
        foreach (var v in Enum.GetValues<TModel>())
        {
            if (except.Contains(v)) continue;
            Assert.Single(pairs, p => p.Model.Equals(v));
        }
        Assert.Equal(pairs.Length, pairs.Select(p => p.Wire).Distinct().Count());
    }

    [Fact]
    public void Commands_BothWays_AndUnknownOnesRefused()
    {
        foreach (var (w, m) in FlowModCommandMap.Pairs)
        {
            Assert.True(FlowModCommandMap.TryToModel(w, out var got));
            Assert.Equal(m, got);
        }
        EveryModelValueListed(FlowModCommandMap.Pairs);
        Assert.False(FlowModCommandMap.TryToModel(5, out _));

        foreach (var (w, m) in GroupModCommandMap.Pairs)
        {
            Assert.True(GroupModCommandMap.TryToModel(w, out var got));
            Assert.Equal(m, got);
        }
        // 1.5's INSERT_BUCKET and REMOVE_BUCKET are the 1.5 group translator's; 1.3's map refuses them.
        EveryModelValueListed([.. GroupModCommandMap.Pairs, .. GroupTranslator.Commands15]);
        Assert.False(GroupModCommandMap.TryToModel(3, out _));
        Assert.False(GroupModCommandMap.TryToModel(5, out _));

        foreach (var (w, m) in MeterModCommandMap.Pairs)
        {
            Assert.True(MeterModCommandMap.TryToModel(w, out var got));
            Assert.Equal(m, got);
        }
        EveryModelValueListed(MeterModCommandMap.Pairs);
        Assert.False(MeterModCommandMap.TryToModel(3, out _));
    }

    [Fact]
    public void GroupTypes_BothWays()
    {
        foreach (var (w, m) in GroupTypeMap.Pairs)
        {
            Assert.True(GroupTypeMap.TryToModel(w, out var got));
            Assert.Equal(m, got);
            Assert.Equal(w, GroupTypeMap.ToWire(m));
        }
        EveryModelValueListed(GroupTypeMap.Pairs);
        Assert.False(GroupTypeMap.TryToModel(4, out _));
    }

    [Fact]
    public void MeterBandTypes_BothWays_AnUnnamedOneIsUnknown()
    {
        foreach (var (w, m) in MeterBandTypeMap.Pairs)
        {
            Assert.Equal(m, MeterBandTypeMap.ToModel(w));
            Assert.Equal(w, MeterBandTypeMap.ToWire(m));
        }
        EveryModelValueListed(MeterBandTypeMap.Pairs, OfMeterBandType.Unknown);
        Assert.Equal(OfMeterBandType.Unknown, MeterBandTypeMap.ToModel(0));
        Assert.Equal(OfMeterBandType.Unknown, MeterBandTypeMap.ToModel(3));
        // METER_FEATURES' bitmap: DROP (1) and DSCP_REMARK (2), as OpenFlow 1.3 numbers them.
        Assert.Equal(0b110u, MeterBandTypeMap.ToWireBitmap([OfMeterBandType.Drop, OfMeterBandType.DscpRemark]));
    }

    [Fact]
    public void MeterFlags_BitByBit_BothWays_AnUnnamedBitIsUnrecognised()
    {
        foreach (var (w, m) in MeterFlagsMap.Pairs)
        {
            Assert.Equal(m, MeterFlagsMap.ToModel(w));
            Assert.Equal(w, MeterFlagsMap.ToWire(m));
        }
        EveryModelValueListed(MeterFlagsMap.Pairs, OfMeterFlags.None, OfMeterFlags.Unrecognised);
        Assert.Equal(OfMeterFlags.Kbps | OfMeterFlags.Stats, MeterFlagsMap.ToModel(9));
        Assert.Equal((ushort)9, MeterFlagsMap.ToWire(OfMeterFlags.Kbps | OfMeterFlags.Stats));
        Assert.Equal(OfMeterFlags.Burst | OfMeterFlags.Unrecognised, MeterFlagsMap.ToModel(4 | 16));
    }

    [Fact]
    public void PortConfig_BitByBit_BothWays_OnlyWhat13Names()
    {
        foreach (var (w, m) in PortConfigMap.Pairs)
        {
            Assert.Equal(m, PortConfigMap.ToModel(w));
            Assert.Equal(w, PortConfigMap.ToWire(m));
        }
        Assert.Equal(1u | 4 | 32 | 64, PortConfigMap.Bits);
        // 1.0's NO_STP, NO_RECV_STP and NO_FLOOD have no 1.3 bit.
        Assert.Equal(0u, PortConfigMap.ToWire(OfPortConfig.NoStp | OfPortConfig.NoRecvStp | OfPortConfig.NoFlood));
        Assert.Equal(OfPortConfig.None, PortConfigMap.ToModel(2 | 8 | 16));
    }

    [Fact]
    public void PortFeatures_BitByBit_EveryModelBitListed()
    {
        foreach (var (w, m) in PortFeaturesMap.Pairs) Assert.Equal(w, PortFeaturesMap.ToWire(m));
        EveryModelValueListed(PortFeaturesMap.Pairs, OfPortFeatures.None);
        Assert.Equal((1u << 5) | (1u << 13), PortFeaturesMap.ToWire(OfPortFeatures.Rate1GbFd | OfPortFeatures.Autoneg));
    }

    [Fact]
    public void FlowModFlags_BitByBit_BothWays_OnlyWhat13Names()
    {
        foreach (var (w, m) in FlowModFlagsMap.Pairs)
        {
            Assert.Equal(m, FlowModFlagsMap.ToModel(w));
            Assert.Equal(w, FlowModFlagsMap.ToWire(m));
        }
        EveryModelValueListed(FlowModFlagsMap.Pairs, FlowModFlags.None, FlowModFlags.Emergency);
        Assert.Equal(1u | 2 | 4 | 8 | 16, FlowModFlagsMap.Bits);
        // 1.0's emergency flag has no 1.3 bit; 1.3's bit 32 names nothing here.
        Assert.Equal((ushort)0, FlowModFlagsMap.ToWire(FlowModFlags.Emergency));
        Assert.Equal(FlowModFlags.None, FlowModFlagsMap.ToModel(32));
    }

    [Fact]
    public void Roles_BothWays_NoChangeAndUnnamedOnesAreNoRole()
    {
        foreach (var (w, m) in RoleMap.Pairs)
        {
            Assert.True(RoleMap.TryToModel(w, out var got));
            Assert.Equal(m, got);
            Assert.Equal(w, RoleMap.ToWire(m));
        }
        EveryModelValueListed(RoleMap.Pairs);
        Assert.False(RoleMap.TryToModel(RoleMap.NoChange, out _));
        Assert.False(RoleMap.TryToModel(4, out _));
    }
}
