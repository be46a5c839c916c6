using System.Buffers.Binary;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.Ofproto;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Session;

/// <summary>
/// Open vSwitch's packet-in formats per connection (NXT_SET_PACKET_IN_FORMAT), byte by byte over a real socket: one
/// frame through a flow with a controller action that has userdata reaches a standard connection as OFPT_PACKET_IN, an
/// nxt_packet_in one as NXT_PACKET_IN and an nxt_packet_in2 one as NXT_PACKET_IN2 with the userdata; the refusals
/// (a format past 2, a short message, NXT_RESUME, a controller action with pause) are Open vSwitch's.
/// </summary>
public sealed class PacketInFormatSessionTests
{
    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01"), H2 = MacAddress.Parse("00:00:00:00:00:02");
    private static readonly byte[] UserData = [1, 2, 3, 4, 5];

    private static OfpFlowMod ControllerFlow(ushort inPort, in NxAction nx, ulong cookie = 0)
    {
        var fm = new OfpFlowMod
        {
            Command = OfpFlowModCommand.Add, Priority = 10, Cookie = cookie,
            Match = new OfpMatch { Wildcards = OfpFlowWildcards.All & ~OfpFlowWildcards.InPort, InPort = inPort },
        };
        byte[] body = new byte[nx.BodySize];
        nx.WriteBody(body);
        fm.Actions.Add(OfpAction.VendorAction(OfpConstants.NiciraVendorId, body));
        return fm;
    }

    private static async Task<byte[]> Next(TestController c) => await c.ReceiveRawAsync() ?? throw new InvalidOperationException("nothing came");

    [Fact]
    public async Task EachConnectionGetsItsFormat_OnlyPacketIn2CarriesTheUserdata()
    {
        await using var rig = new AgentRig();
        using var std = await rig.ConnectAsync();
        using var nxt = await rig.ConnectAsync();
        using var nxt2 = await rig.ConnectAsync();
        nxt.SendRaw(NxPacketIn.EncodeSetPacketInFormat(1, 2, (uint)NxPacketInFormat.Nxt));
        nxt2.SendRaw(NxPacketIn.EncodeSetPacketInFormat(1, 2, (uint)NxPacketInFormat.Nxt2));
        Assert.Empty(await nxt.BarrierAsync());
        Assert.Empty(await nxt2.BarrierAsync());
        std.Send(ControllerFlow(1, NxAction.Controller2(userData: UserData), cookie: 0x5eed));
        Assert.Empty(await std.BarrierAsync());
        Assert.Equal(1, rig.Agent.Connections.Count(c => c.PacketInFormat == NxPacketInFormat.Nxt));
        Assert.Equal(1, rig.Agent.Connections.Count(c => c.PacketInFormat == NxPacketInFormat.Nxt2));

        var frame = FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1000, 2000, 100);
        rig.Ports[0].Inject(frame);
        rig.Poll();

        var pin = await std.ReceiveAsync<OfpPacketIn>();
        Assert.Equal(OfpPacketInReason.Action, pin.Reason);
        Assert.Equal(frame, pin.Data.ToArray());

        byte[] m1 = await Next(nxt);
        Assert.True(NxPacketIn.TryReadSubtype(m1, out uint sub1));
        Assert.Equal(NxPacketIn.PacketIn, sub1);
        Assert.True(NxPacketIn.TryDecodePacketIn(m1, out var f1, out var match1, out var data1, out _));
        Assert.Equal(new NxPacketInFields(NxPacketIn.NoBuffer, frame.Length, 1, 0, 0x5eed), f1);
        Assert.Equal("000000020001", Convert.ToHexString(match1)); // NXM_OF_IN_PORT 1
        Assert.Equal(frame, data1.ToArray());

        byte[] m2 = await Next(nxt2);
        Assert.True(NxPacketIn.TryReadSubtype(m2, out uint sub2));
        Assert.Equal(NxPacketIn.PacketIn2, sub2);
        Assert.True(NxPacketIn.TryDecodePacketIn2(m2, out var p2, out _));
        Assert.Equal(new NxPacketInFields(NxPacketIn.NoBuffer, frame.Length, 1, 0, 0x5eed), p2.Fields);
        Assert.Equal("8000000400000001", Convert.ToHexString(p2.Metadata)); // OXM_OF_IN_PORT 1
        Assert.Equal(UserData, p2.UserData.ToArray());
        Assert.Equal(frame, p2.Packet.ToArray());

        // Back to the standard format: OFPT_PACKET_IN again.
        nxt2.SendRaw(NxPacketIn.EncodeSetPacketInFormat(1, 3, (uint)NxPacketInFormat.Standard));
        Assert.Empty(await nxt2.BarrierAsync());
        rig.Ports[0].Inject(frame);
        rig.Poll();
        Assert.Equal(frame, (await nxt2.ReceiveAsync<OfpPacketIn>()).Data.ToArray());
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    /// <summary>
    /// The per-packet-in work of a controller action with userdata allocates nothing in steady state: the upcall's
    /// origin and userdata read from the interned entry (as OfSwitch.OnUpcall reads them), and NXT_PACKET_IN2 written
    /// into a reused buffer (as OfConnectionManager writes it into a pooled one).
    /// </summary>
    [Fact]
    public void PacketIn2WithUserdata_AllocatesNothingPerPacket()
    {
        var origin = new PacketInOrigin(0x5eed, 2, false);
        Assert.Equal(OfError.None, OfActionCompiler.TryCompile([OfAction.Controller(0xffff, 1, 0, UserData, controller2: true)],
                                                              new Softswitch.Datapath.Ports.PortTable([], null), ActionContext.FlowMod, 8, origin, out var list));
        var a = Assert.Single(list.Items);
        byte[] frame = FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1000, 2000, 100);
        var buf = new byte[NxPacketIn.PacketIn2Overhead + UserData.Length + frame.Length];
        int size = 0;
        long bytes = AllocationMeter.SteadyState(() =>
        {
            for (int i = 0; i < 1000; i++)
            {
                var o = PacketInOrigin.FromUpcall(a.Value, (uint)a.Value2);
                ReadOnlySpan<byte> userData = PacketInOrigin.HasRecord((uint)a.Value2) && ControllerUserData.Get(a.Value) is { } e ? e.UserData : default;
                var f = new NxPacketInFields(NxPacketIn.NoBuffer, frame.Length, 1, o.TableId, o.Cookie);
                size = NxPacketIn.WritePacketIn2(buf, 4, f, 1, 0, 0, frame, userData);
            }
        });
        Assert.Equal(0, bytes);
        Assert.True(NxPacketIn.TryDecodePacketIn2(buf.AsSpan(0, size), out var pin, out _));
        Assert.Equal((0x5eedUL, (byte)2), (pin.Fields.Cookie, pin.Fields.TableId));
        Assert.Equal(UserData, pin.UserData.ToArray());
    }

    /// <summary>
    /// OpenFlow 1.0: a format past nxt_packet_in2 is OFPBRC_EPERM, a message not 20 bytes BAD_LEN, NXT_RESUME
    /// NXR_NOT_SUPPORTED (NX1.0(1,533)), a controller action with pause BAD_VENDOR_TYPE; the connection's format stays.
    /// </summary>
    [Fact]
    public async Task Refusals_Of10()
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync();
        c.SendRaw(NxPacketIn.EncodeSetPacketInFormat(1, 7, 3));
        var e = await c.ReceiveAsync<OfpErrorMsg>();
        Assert.Equal((7u, OfpError.BadRequest(OfpBadRequestCode.Eperm)), (e.Xid, e.Error));
        c.SendRaw(Nx10.Message(NxPacketIn.SetPacketInFormat, 8, [0, 0, 0, 2, 0, 0, 0, 0]));
        e = await c.ReceiveAsync<OfpErrorMsg>();
        Assert.Equal((8u, OfpError.BadRequest(OfpBadRequestCode.BadLen)), (e.Xid, e.Error));

        c.SendRaw(Nx10.Message(NxPacketIn.Resume, 9, Convert.FromHexString("00000012FFFFFFFFFFFF1020304050601234000000000000")));
        byte[] r = await Next(c);
        Assert.Equal((byte)OfpType.Error, r[1]);
        Assert.Equal(9u, BinaryPrimitives.ReadUInt32BigEndian(r.AsSpan(4)));
        Assert.Equal(Nx10Error.VendorErrorType, BinaryPrimitives.ReadUInt16BigEndian(r.AsSpan(8)));
        Assert.Equal(OfpConstants.NiciraVendorId, BinaryPrimitives.ReadUInt32BigEndian(r.AsSpan(12)));
        Assert.Equal((1, 533), (BinaryPrimitives.ReadUInt16BigEndian(r.AsSpan(16)), BinaryPrimitives.ReadUInt16BigEndian(r.AsSpan(18))));

        uint x = c.Send(ControllerFlow(1, NxAction.Controller2(userData: UserData, pause: true)));
        e = await c.ReceiveAsync<OfpErrorMsg>();
        Assert.Equal((x, OfpError.BadAction(OfpBadActionCode.BadVendorType)), (e.Xid, e.Error));
        Assert.Equal(NxPacketInFormat.Standard, Assert.Single(rig.Agent.Connections).PacketInFormat);
    }

    /// <summary>OpenFlow 1.3: the same messages as experimenter messages; NXT_RESUME is NXR_NOT_SUPPORTED, NX1.2+(34).</summary>
    [Fact]
    public async Task FormatAndRefusals_Of13()
    {
        await using var rig = new AgentRig();
        using var c = await rig.ConnectAsync(helloVersion: 4);
        c.SendRaw(NxPacketIn.EncodeSetPacketInFormat(4, 2, (uint)NxPacketInFormat.Nxt2));
        byte[] resume = Nx10.Message(NxPacketIn.Resume, 3, Convert.FromHexString("00000012FFFFFFFFFFFF1020304050601234000000000000"));
        resume[0] = 4;
        c.SendRaw(resume);
        byte[] r = await Next(c);
        Assert.Equal((byte)4, r[0]);
        Assert.Equal((byte)1, r[1]); // OFPT_ERROR
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32BigEndian(r.AsSpan(4)));
        Assert.Equal("FFFF0022" + "00002320", Convert.ToHexString(r.AsSpan(8, 8))); // OFPET_EXPERIMENTER, exp_code 34, Nicira
        Assert.True(await Wait.UntilAsync(() => rig.Agent.Connections.Any(k => k.PacketInFormat == NxPacketInFormat.Nxt2), 5_000));

        c.SendRaw(NxPacketIn.EncodeSetPacketInFormat(4, 4, 9));
        r = await Next(c);
        Assert.Equal((4u, "00010005"), (BinaryPrimitives.ReadUInt32BigEndian(r.AsSpan(4)), Convert.ToHexString(r.AsSpan(8, 4)))); // BAD_REQUEST, EPERM
        Assert.Equal(NxPacketInFormat.Nxt2, Assert.Single(rig.Agent.Connections).PacketInFormat);
    }
}
