using Softswitch.OfAgent.Of13.Translate;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Tests.Of13;

/// <summary>
/// OpenFlow 1.3's reasons (OFPR_*, OFPRR_*, OFPPR_*) against the model's, one wire value at a time: what each model
/// reason is sent as, and the SET_ASYNC and GET_ASYNC masks, whose bits are wire reasons.
/// </summary>
public sealed class AsyncReasonTests
{
    [Theory]
    [InlineData(OfFlowRemovedReason.IdleTimeout, 0)]
    [InlineData(OfFlowRemovedReason.HardTimeout, 1)]
    [InlineData(OfFlowRemovedReason.Delete, 2)]
    [InlineData(OfFlowRemovedReason.GroupDelete, 3)]
    [InlineData(OfFlowRemovedReason.MeterDelete, 2)] // OpenFlow 1.3 has no METER_DELETE
    public void AFlowRemovalIsSelectedByTheBitOfTheReasonItIsSentWith(OfFlowRemovedReason r, byte wire)
    {
        Assert.Equal(wire, WireMap.ToWire(r));
        var only = Config(flowRemoved: WireMap.AsyncMaskToOf(OfAsyncKind.FlowRemoved, 1u << wire));
        var others = Config(flowRemoved: WireMap.AsyncMaskToOf(OfAsyncKind.FlowRemoved, ~(1u << wire)));
        Assert.True(only.Wants(OfRole.Equal, OfAsyncKind.FlowRemoved, (int)r));
        Assert.False(others.Wants(OfRole.Equal, OfAsyncKind.FlowRemoved, (int)r));
    }

    [Fact]
    public void AnEviction_IsOfprrEviction_In14AndInFlowMonitors_AndHasNo13Reason()
    {
        const byte V13 = 4, V14 = 5;
        Assert.Equal(5, WireMap.ToWire(OfFlowRemovedReason.Eviction, V14));
        Assert.Equal(OfAsyncConfig.Bit(OfFlowRemovedReason.Eviction), WireMap.AsyncMaskToOf(OfAsyncKind.FlowRemoved, 1u << 5, V14));
        Assert.Equal(0x3fu, WireMap.AsyncMaskToWire(OfAsyncKind.FlowRemoved, OfAsyncConfig.Default.FlowRemovedMaster, V14));
        // 1.3's FLOW_REMOVED never carries one (the agent sends evictions to 1.4 and later only); its flow monitors do, as Open vSwitch's.
        Assert.Throws<ArgumentOutOfRangeException>(() => WireMap.ToWire(OfFlowRemovedReason.Eviction, V13));
        Assert.Equal(5, WireMap.FlowUpdateReason(OfFlowRemovedReason.Eviction, V13));
        Assert.Equal(2, WireMap.FlowUpdateReason(OfFlowRemovedReason.MeterDelete, V13));
        Assert.Equal(0u, WireMap.AsyncMaskToOf(OfAsyncKind.FlowRemoved, 1u << 5, V13));
    }

    [Theory]
    [InlineData(OfPacketInReason.NoMatch, 0)]
    [InlineData(OfPacketInReason.ExplicitMiss, 0)] // a table-miss flow entry's output
    [InlineData(OfPacketInReason.Action, 1)]
    [InlineData(OfPacketInReason.InvalidTtl, 2)]
    public void APacketInIsSelectedByTheBitOfTheReasonItIsSentWith(OfPacketInReason r, byte wire)
    {
        Assert.Equal(wire, WireMap.ToWire(r));
        var only = Config(packetIn: WireMap.AsyncMaskToOf(OfAsyncKind.PacketIn, 1u << wire));
        var others = Config(packetIn: WireMap.AsyncMaskToOf(OfAsyncKind.PacketIn, ~(1u << wire)));
        Assert.True(only.Wants(OfRole.Equal, OfAsyncKind.PacketIn, (int)r.AsyncReason()));
        Assert.False(others.Wants(OfRole.Equal, OfAsyncKind.PacketIn, (int)r.AsyncReason()));
    }

    /// <summary>
    /// OpenFlow 1.4's refinements of OFPR_ACTION (Open vSwitch's encode_packet_in_reason and decode_async_mask): their own
    /// reasons and mask bits from 1.4 on; before 1.4 sent as OFPR_ACTION, and a 1.3 mask (OFPR10_BITS) never selects
    /// them. The defaults select them in every version.
    /// </summary>
    [Theory]
    [InlineData(OfPacketInReason.ActionSet, 3)]
    [InlineData(OfPacketInReason.Group, 4)]
    [InlineData(OfPacketInReason.PacketOut, 5)]
    public void The14ReasonsAreTheirOwnIn14_ActionBefore_AndNo13MaskSelectsThem(OfPacketInReason r, byte wire14)
    {
        const byte V13 = 4, V14 = 5, V15 = 6;
        Assert.Equal((wire14, wire14, (byte)1, (byte)1), (WireMap.ToWire(r, V14), WireMap.ToWire(r, V15), WireMap.ToWire(r, V13), WireMap.ToWire(r)));
        Assert.True(Config(packetIn: WireMap.AsyncMaskToOf(OfAsyncKind.PacketIn, 1u << wire14, V14)).Wants(OfRole.Equal, OfAsyncKind.PacketIn, (int)r));
        Assert.False(Config(packetIn: WireMap.AsyncMaskToOf(OfAsyncKind.PacketIn, 0x3fu & ~(1u << wire14), V14)).Wants(OfRole.Equal, OfAsyncKind.PacketIn, (int)r));
        Assert.False(Config(packetIn: WireMap.AsyncMaskToOf(OfAsyncKind.PacketIn, ~0u, V13)).Wants(OfRole.Equal, OfAsyncKind.PacketIn, (int)r));
        Assert.True(OfAsyncConfig.Default.Wants(OfRole.Equal, OfAsyncKind.PacketIn, (int)r));
        // GET_ASYNC of the defaults: 1.4's OFPR14_BITS without INVALID_TTL; 1.3's NO_MATCH and ACTION.
        Assert.Equal(0x3bu, WireMap.AsyncMaskToWire(OfAsyncKind.PacketIn, OfAsyncConfig.Default.PacketInMaster, V14));
        Assert.Equal(0x3u, WireMap.AsyncMaskToWire(OfAsyncKind.PacketIn, OfAsyncConfig.Default.PacketInMaster, V13));
        Assert.Equal(0x3u, WireMap.AsyncMaskToWire(OfAsyncKind.PacketIn, 1u << (int)r | OfAsyncConfig.Bit(OfPacketInReason.NoMatch) | OfAsyncConfig.Bit(OfPacketInReason.Action), V13));
    }

    [Theory]
    [InlineData(OfPortReason.Add, 0)]
    [InlineData(OfPortReason.Delete, 1)]
    [InlineData(OfPortReason.Modify, 2)]
    public void APortStatusIsSelectedByTheBitOfTheReasonItIsSentWith(OfPortReason r, byte wire)
    {
        Assert.Equal(wire, WireMap.ToWire(r));
        var only = Config(portStatus: WireMap.AsyncMaskToOf(OfAsyncKind.PortStatus, 1u << wire));
        var others = Config(portStatus: WireMap.AsyncMaskToOf(OfAsyncKind.PortStatus, ~(1u << wire)));
        Assert.True(only.Wants(OfRole.Equal, OfAsyncKind.PortStatus, (int)r));
        Assert.False(others.Wants(OfRole.Equal, OfAsyncKind.PortStatus, (int)r));
    }

    [Fact]
    public void EveryWireBitReadsBackAsSetAndBitsOfNoReasonAreDropped()
    {
        // Defined: OFPR 0-2, OFPPR 0-2, OFPRR 0-3 (OpenFlow 1.3.5 section 7.4).
        (OfAsyncKind Kind, int Defined)[] kinds = [(OfAsyncKind.PacketIn, 3), (OfAsyncKind.PortStatus, 3), (OfAsyncKind.FlowRemoved, 4)];
        foreach (var (kind, defined) in kinds)
        {
            for (int bit = 0; bit < 32; bit++)
            {
                uint back = WireMap.AsyncMaskToWire(kind, WireMap.AsyncMaskToOf(kind, 1u << bit));
                Assert.Equal(bit < defined ? 1u << bit : 0u, back);
            }
        }
    }

    [Fact]
    public void TheDefaultsAreTheWireMasksOfOpenFlow135Section611()
    {
        var d = OfAsyncConfig.Default;
        // Master or equal: packet-in NO_MATCH and ACTION (not INVALID_TTL), every port status, every flow removal;
        // slave: port status only.
        Assert.Equal(0b11u, WireMap.AsyncMaskToWire(OfAsyncKind.PacketIn, d.PacketInMaster));
        Assert.Equal(0b111u, WireMap.AsyncMaskToWire(OfAsyncKind.PortStatus, d.PortStatusMaster));
        Assert.Equal(0b1111u, WireMap.AsyncMaskToWire(OfAsyncKind.FlowRemoved, d.FlowRemovedMaster));
        Assert.Equal(0u, WireMap.AsyncMaskToWire(OfAsyncKind.PacketIn, d.PacketInSlave));
        Assert.Equal(0b111u, WireMap.AsyncMaskToWire(OfAsyncKind.PortStatus, d.PortStatusSlave));
        Assert.Equal(0u, WireMap.AsyncMaskToWire(OfAsyncKind.FlowRemoved, d.FlowRemovedSlave));
    }

    private static OfAsyncConfig Config(uint packetIn = 0, uint portStatus = 0, uint flowRemoved = 0)
        => new(packetIn, portStatus, flowRemoved, 0, 0, 0);
}
