using System.Buffers.Binary;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of14;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Tests.Session;

/// <summary>
/// Open vSwitch's asynchronous configuration for OpenFlow 1.0 (handle_nxt_set_async_config): NXT_SET_ASYNC_CONFIG's
/// masks decide which packet-ins, port statuses and flow removals a 1.0 connection receives (another connection with the
/// defaults receives them all), NXT_SET_ASYNC_CONFIG2 changes only what it names, and the refusals are Open vSwitch's 1.0
/// errors; a service connection that sets them starts receiving asynchronous messages, with miss_send_len 128.
/// </summary>
public sealed class NxAsyncConfigSessionTests
{
    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01"), H2 = MacAddress.Parse("00:00:00:00:00:02");

    private static byte[] Udp(ushort dstPort) => FrameBuilder.Udp(H1, H2, 0x0A000001, 0x0A000002, 1000, dstPort, 100);

    /// <summary>A flow on UDP port <paramref name="dstPort"/> that sends to the controller, its removal reported.</summary>
    private static OfpFlowMod ToController(ushort dstPort, ushort idle = 0)
    {
        var m = new OfpMatch { Wildcards = OfpFlowWildcards.All & ~(OfpFlowWildcards.DlType | OfpFlowWildcards.NwProto | OfpFlowWildcards.TpDst), DlType = 0x0800, NwProto = 17, TpDst = dstPort };
        var fm = new OfpFlowMod { Match = m, Command = OfpFlowModCommand.Add, Priority = 100, Flags = OfpFlowModFlags.SendFlowRem, IdleTimeout = idle };
        fm.Actions.Add(OfpAction.Output((ushort)OfpPort.Controller, 0xffff));
        return fm;
    }

    private static int Count<T>(List<OfpMessage> messages) where T : OfpMessage => messages.Count(m => m is T);

    [Fact]
    public async Task NxtSetAsyncConfig_GatesPacketInPortStatusAndFlowRemoved_OnA10Connection()
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        using var witness = await rig.ConnectAsync();
        Assert.Empty(await witness.BarrierAsync());
        // Packet-ins for actions only (not table misses), no port status, flow removals by delete only; the slave masks
        // (unused: equal) anything. Bit 12 of the packet-in mask is no reason: dropped, as Open vSwitch's loose decode.
        c.SendRaw(NxAsyncConfig.EncodeSetAsyncConfig(1, 5, [1u << 1 | 1u << 12, 7, 0, 7, 1u << 2, 0x3f]));
        Assert.Empty(await c.BarrierAsync());
        var a = rig.Agent.Connections.Single(x => x.Controller.Async.PacketInMaster == OfAsyncConfig.Bit(OfPacketInReason.Action)).Controller.Async;
        Assert.Equal((0u, OfAsyncConfig.Bit(OfFlowRemovedReason.Delete)), (a.PortStatusMaster, a.FlowRemovedMaster));

        // A table miss: the witness's, not c's.
        rig.Ports[0].Inject(Udp(1));
        rig.Poll();
        Assert.Equal(OfpPacketInReason.NoMatch, (await witness.ReceiveAsync<OfpPacketIn>()).Reason);
        Assert.Equal(0, Count<OfpPacketIn>(await c.BarrierAsync()));
        // An output to the controller: both.
        c.Send(ToController(7));
        c.Send(ToController(8, idle: 3));
        Assert.Empty(await c.BarrierAsync());
        rig.Ports[0].Inject(Udp(7));
        rig.Poll();
        Assert.Equal(OfpPacketInReason.Action, (await c.ReceiveAsync<OfpPacketIn>()).Reason);
        Assert.Equal(OfpPacketInReason.Action, (await witness.ReceiveAsync<OfpPacketIn>()).Reason);
        // A port's change: the witness's only.
        rig.Dp.SetPortConfig(2, PortConfig.NoFlood, PortConfig.NoFlood);
        Assert.IsType<OfpPortStatus>(await witness.ReceiveAsync());
        Assert.Equal(0, Count<OfpPortStatus>(await c.BarrierAsync()));
        // An idle timeout: the witness's only; a delete: both.
        rig.Clock.Advance(TimeSpan.FromSeconds(4));
        rig.Dp.RunMaintenance();
        Assert.Equal(OfpFlowRemovedReason.IdleTimeout, (await witness.ReceiveAsync<OfpFlowRemoved>()).Reason);
        Assert.Equal(0, Count<OfpFlowRemoved>(await c.BarrierAsync()));
        c.Send(new OfpFlowMod { Command = OfpFlowModCommand.Delete, Match = OfpMatch.All });
        Assert.Equal(OfpFlowRemovedReason.Delete, (await c.ReceiveAsync<OfpFlowRemoved>()).Reason);
        Assert.Equal(OfpFlowRemovedReason.Delete, (await witness.ReceiveAsync<OfpFlowRemoved>()).Reason);

        // NXT_SET_ASYNC_CONFIG2 naming the port-status master mask only: ports again, the packet-in mask kept.
        var props = new Ofp14AsyncConfig();
        props.Set(Ofp14AsyncProp.PortStatusMaster, 1u << 2);
        c.SendRaw(NxAsyncConfig.EncodeSetAsyncConfig2(1, 6, props));
        Assert.Empty(await c.BarrierAsync());
        rig.Dp.SetPortConfig(2, PortConfig.None, PortConfig.NoFlood);
        Assert.IsType<OfpPortStatus>(await c.ReceiveAsync());
        Assert.IsType<OfpPortStatus>(await witness.ReceiveAsync());
        rig.Ports[0].Inject(Udp(1));
        rig.Poll();
        Assert.Equal(OfpPacketInReason.NoMatch, (await witness.ReceiveAsync<OfpPacketIn>()).Reason);
        Assert.Equal(0, Count<OfpPacketIn>(await c.BarrierAsync()));
    }

    [Fact]
    public async Task Refusals_AreOpenVswitchs10Errors_AndAServiceConnectionThatSetsMasksReceives()
    {
        await using var rig = new AgentRig(options: new AgentOptions { Controllers = { "ptcp:0" }, Listeners = { "ptcp:0" } });
        using var c = await AgentRig.ConnectToAsync(rig.Agent.ListenEndpoints[0].Port);
        // Not 40 bytes: OFPBRC_BAD_LEN.
        c.SendRaw(Nx10.Message(NxAsyncConfig.SetAsyncConfig, 7, new byte[20]));
        var e = await c.ReceiveAsync<OfpErrorMsg>();
        Assert.Equal((7u, OfpError.BadRequest(OfpBadRequestCode.BadLen)), (e.Xid, e.Error));
        // OFPR_ACTION_SET's bit in a 1.0 packet-in mask: OFPACFC_INVALID, which 1.0 cannot say: NXBRC_UNENCODABLE_ERROR.
        var props = new Ofp14AsyncConfig();
        props.Set(Ofp14AsyncProp.PacketInMaster, 1u << 3);
        c.SendRaw(NxAsyncConfig.EncodeSetAsyncConfig2(1, 8, props));
        byte[] r = await c.ReceiveRawAsync() ?? throw new InvalidOperationException("nothing came");
        Assert.Equal(((byte)OfpType.Error, 8u), (r[1], BinaryPrimitives.ReadUInt32BigEndian(r.AsSpan(4))));
        Assert.Equal((Nx10Error.VendorErrorType, OfpConstants.NiciraVendorId), (BinaryPrimitives.ReadUInt16BigEndian(r.AsSpan(8)), BinaryPrimitives.ReadUInt32BigEndian(r.AsSpan(12))));
        Assert.Equal((1, 521), (BinaryPrimitives.ReadUInt16BigEndian(r.AsSpan(16)), BinaryPrimitives.ReadUInt16BigEndian(r.AsSpan(18))));
        // A property 12 bytes long: OFPBPC_BAD_LEN, NX1.0(13,3).
        byte[] longProp = NxAsyncConfig.EncodeSetAsyncConfig2(1, 9, props);
        longProp[19] = 12;
        c.SendRaw(longProp);
        r = await c.ReceiveRawAsync() ?? throw new InvalidOperationException("nothing came");
        Assert.Equal((13, 3), (BinaryPrimitives.ReadUInt16BigEndian(r.AsSpan(16)), BinaryPrimitives.ReadUInt16BigEndian(r.AsSpan(18))));
        Assert.Equal(OfAsyncConfig.Default, rig.Agent.Connections.Single(x => x.Negotiated).Controller.Async);

        // A tool's (service) connection has miss_send_len 0 and no asynchronous messages until it sets masks.
        using var tool = await AgentRig.ConnectToAsync(rig.Agent.ListenEndpoints[1].Port);
        Assert.Empty(await tool.BarrierAsync());
        var service = rig.Agent.Connections.Single(x => !x.IsPrimary);
        Assert.Equal((ushort)0, service.MissSendLen);
        tool.SendRaw(NxAsyncConfig.EncodeSetAsyncConfig(1, 10, [3, 0, 7, 7, 0x3f, 0]));
        Assert.Empty(await tool.BarrierAsync());
        Assert.Equal((ushort)128, service.MissSendLen);
        rig.Dp.SetPortConfig(2, PortConfig.NoFlood, PortConfig.NoFlood);
        Assert.IsType<OfpPortStatus>(await tool.ReceiveAsync());
    }
}
