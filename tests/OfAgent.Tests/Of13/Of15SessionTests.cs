using System.Buffers.Binary;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of15;
using Controller = Softswitch.OfAgent.Tests.Of13.Of14SessionTests.Controller;

namespace Softswitch.OfAgent.Tests.Of13;

/// <summary>
/// OpenFlow 1.5 over a real socket beside 1.0, 1.3 and 1.4 on one switch: each connection in its version, 1.5's flow
/// statistics and FLOW_REMOVED with OXS counters, its PACKET_IN, barrier and role, and what 1.5 refuses as Open vSwitch.
/// </summary>
public sealed class Of15SessionTests
{
    private const uint V10 = 1u << 1, V13 = 1u << 4, V14 = 1u << 5, V15 = 1u << 6;

    private static AgentRig Rig() => new(options: new AgentOptions { Versions = AgentOptions.AllVersions });

    private static byte[] Empty(Ofp13Type type) => Ofp13Messages.Empty(Ofp13.Version, type, 0);

    private static byte[] FlowStatsRequest()
        => new Ofp13MultipartRequest { Version = Ofp13.Version, Type = Ofp13MultipartType.Flow }
            .Encode(new Ofp13FlowStatsRequest { TableId = 0xff, OutPort = Ofp13.PortAny, OutGroup = 0xffffffff }.Encode());

    private static byte[] FlowMod(byte command, ushort flags, params Ofp13Instruction[] instructions)
    {
        var fm = new Ofp13FlowMod { Command = command, Priority = 9, BufferId = Ofp13.NoBuffer, OutPort = Ofp13.PortAny, OutGroup = 0xffffffff, Flags = flags, TableId = 0 };
        fm.Match.Add(Ofp13Oxm.Exact(0, 1));
        fm.Instructions.AddRange(instructions);
        return fm.Encode();
    }

    private static Ofp13Instruction Apply(params Ofp13Action[] actions) => new(Ofp13InstructionType.ApplyActions, Actions: [.. actions]);

    private static (Ofp13ErrorType, ushort) ErrorOf(byte[] m)
    {
        Assert.Equal((byte)Ofp13Type.Error, m[1]);
        return ((Ofp13ErrorType)BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(8)), BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(10)));
    }

    [Fact]
    public async Task OneSwitch_ConnectionsOf10_13_14And15_FlowStatsAndFlowRemovedEachInItsLayout()
    {
        await using var rig = Rig();
        using var of10 = await rig.ConnectAsync(1);
        using var of13 = await Controller.ConnectAsync(rig.ListenPort, V10 | V13);
        using var of14 = await Controller.ConnectAsync(rig.ListenPort, V13 | V14);
        using var of15 = await Controller.ConnectAsync(rig.ListenPort, V10 | V13 | V14 | V15);
        Assert.Equal(((byte)4, (byte)5, (byte)6), (of13.Version, of14.Version, of15.Version));
        var f15 = await of15.ReplyAsync(of15.Send(Empty(Ofp13Type.FeaturesRequest)));
        Assert.Equal((byte)6, f15[0]);
        of10.Send(new OfpFeaturesRequest());
        Assert.Equal((byte)1, (await of10.ReceiveRawAsync())![0]);

        // A flow added over 1.5 with its meter as an action (and SEND_FLOW_REM), read by 1.5 and 1.3.
        var meter = new Ofp13MeterMod { Version = 6, Command = 0, Flags = 2, MeterId = 4 };
        meter.Bands.Add(new Ofp13Band(1, 1000, 0));
        var errors = new List<byte[]>();
        of15.Send(meter.Encode());
        of15.Send(FlowMod(0, 1, Apply(new Ofp13Action(Ofp13ActionType.Meter, 4), Ofp13Action.Output(2))));
        await of15.ReplyAsync(of15.Send(Empty(Ofp13Type.BarrierRequest)), errors);
        Assert.DoesNotContain(errors, m => m[1] == (byte)Ofp13Type.Error);
        var d15 = await of15.ReplyAsync(of15.Send(FlowStatsRequest()));
        var descs = new List<Ofp15FlowDesc>();
        Assert.True(Ofp13Entries.TryReadAll(d15.AsSpan(16), descs));
        var desc = Assert.Single(descs);
        Assert.Equal(((ushort)9, (ushort)1), (desc.Priority, desc.Flags));
        Assert.Equal((0ul, 0ul), (desc.Stats.Packets, desc.Stats.Bytes));
        Assert.NotNull(desc.Stats.DurationValue);
        var apply = Assert.Single(desc.Instructions).Actions!;
        Assert.Equal([Ofp13ActionType.Meter, Ofp13ActionType.Output], apply.Select(a => a.Type));
        var d13 = await of13.ReplyAsync(of13.Send(FlowStatsRequest()));
        var stats = new List<Ofp13FlowStats>();
        Assert.True(Ofp13Entries.TryReadAll(d13.AsSpan(16), stats));
        Assert.Equal([Ofp13InstructionType.Meter, Ofp13InstructionType.ApplyActions], Assert.Single(stats).Instructions.Select(i => i.Type));

        // Deleted over 1.3: the 1.5 controller's FLOW_REMOVED has 1.5's layout (OXS counters), the 1.3 one 1.3's.
        of13.Send(FlowMod(3, 0));
        byte[]? removed15, removed13;
        do removed15 = await of15.NextAsync(); while (removed15 is not null && removed15[1] != (byte)Ofp13Type.FlowRemoved);
        do removed13 = await of13.NextAsync(); while (removed13 is not null && removed13[1] != (byte)Ofp13Type.FlowRemoved);
        Assert.Equal((byte)6, removed15![0]);
        Assert.Equal((byte)0, removed15[8]); // table_id first in 1.5's layout
        Assert.Equal((ushort)9, BinaryPrimitives.ReadUInt16BigEndian(removed15.AsSpan(10)));
        var match = new List<Ofp13Oxm>();
        Assert.True(Ofp13Match.TryDecode(removed15.AsSpan(24), match, out int matchSize, out _));
        Assert.True(Ofp15Stats.TryRead(removed15.AsSpan(24 + matchSize), out var removedStats, out int statsSize, out _));
        Assert.Equal(removed15.Length, 24 + matchSize + statsSize);
        Assert.Equal((0ul, 0ul), (removedStats.Packets, removedStats.Bytes));
        Assert.Equal((byte)4, removed13![0]);
        Assert.Equal((ushort)9, BinaryPrimitives.ReadUInt16BigEndian(removed13.AsSpan(16))); // priority after the cookie in 1.3's

        // A 1.5 controller's own PORT_MOD is reported to it too (1.5's EXT-338, as Open vSwitch); a 1.3 one's is not.
        var portMod = new Softswitch.OfWire.Of14.Ofp14PortMod { Version = 6, PortNo = 3, HwAddr = 0x0200_0000_0003, Config = 1, Mask = 1 };
        of15.Send(portMod.Encode());
        byte[]? own;
        do own = await of15.NextAsync(); while (own is not null && own[1] != (byte)Ofp13Type.PortStatus);
        Assert.NotNull(own);
        Assert.True(Softswitch.OfWire.Of14.Ofp14PortDesc.TryRead(own!.AsSpan(16), out var changed, out _));
        Assert.Equal((3u, 1u), (changed.Port.PortNo, changed.Port.Config));
        of13.Send(new Ofp13PortMod { Version = 4, PortNo = 3, HwAddr = 0x0200_0000_0003, Config = 0, Mask = 1 }.Encode());
        var before13 = new List<byte[]>();
        await of13.ReplyAsync(of13.Send(Empty(Ofp13Type.BarrierRequest)), before13);
        // The 1.3 controller was told of the 1.5 one's change (config 1), not of its own (config 0).
        Assert.Contains(before13, m => m[1] == (byte)Ofp13Type.PortStatus && Ofp13Port.TryRead(m.AsSpan(16), out var p, out _) && p.Config == 1);
        Assert.DoesNotContain(before13, m => m[1] == (byte)Ofp13Type.PortStatus && Ofp13Port.TryRead(m.AsSpan(16), out var p, out _) && p.Config == 0);
        byte[]? other;
        do other = await of15.NextAsync(); while (other is not null && other[1] != (byte)Ofp13Type.PortStatus);
        Assert.True(Softswitch.OfWire.Of14.Ofp14PortDesc.TryRead(other!.AsSpan(16), out changed, out _));
        Assert.Equal((3u, 0u), (changed.Port.PortNo, changed.Port.Config));

        // Echo, barrier and role in 1.5.
        var role = await of15.ReplyAsync(of15.Send(new Ofp13RoleRequest { Version = 6, Role = 2, GenerationId = 3 }.Encode()));
        Assert.Equal(((byte)6, (byte)Ofp13Type.RoleReply), (role[0], role[1]));
        var echo = await of15.ReplyAsync(of15.Send(Empty(Ofp13Type.EchoRequest)));
        Assert.Equal(((byte)6, (byte)Ofp13Type.EchoReply), (echo[0], echo[1]));
    }

    [Fact]
    public async Task PacketInAndOut_InTheir15Layouts_AndWhat15Refuses()
    {
        await using var rig = Rig();
        using var c = await Controller.ConnectAsync(rig.ListenPort, V15);
        var errors = new List<byte[]>();
        c.Send(FlowMod(0, 0, Apply(Ofp13Action.Output(0xfffffffd, 0xffff))));
        await c.ReplyAsync(c.Send(Empty(Ofp13Type.BarrierRequest)), errors);
        Assert.DoesNotContain(errors, m => m[1] == (byte)Ofp13Type.Error);
        var frame = Softswitch.Datapath.Packets.FrameBuilder.Udp(Softswitch.Datapath.Flow.MacAddress.Parse("00:00:00:00:00:01"),
            Softswitch.Datapath.Flow.MacAddress.Parse("00:00:00:00:00:02"), 0x0a000001, 0x0a000002, 1, 2, 10);
        rig.Ports[0].Inject(frame);
        rig.Poll();
        byte[]? pin;
        do pin = await c.NextAsync(); while (pin is not null && pin[1] != (byte)Ofp13Type.PacketIn);
        Assert.Equal((byte)6, pin![0]);
        Assert.Equal(frame, pin.AsSpan(pin.Length - frame.Length).ToArray());

        // PACKET_OUT with in_port in its match.
        var po = new Ofp15PacketOut { BufferId = Ofp13.NoBuffer, Data = frame };
        po.Match.Add(Ofp13Oxm.Exact(0, 1));
        po.Actions.Add(Ofp13Action.Output(3));
        errors.Clear();
        c.Send(po.Encode());
        await c.ReplyAsync(c.Send(Empty(Ofp13Type.BarrierRequest)), errors);
        Assert.Empty(errors);
        Assert.Equal(frame, Assert.Single(rig.Ports[2].TakeSent()));
        // Without in_port: BAD_PORT; with a field that is not a pipeline field: PIPELINE_FIELDS_ONLY (as Open vSwitch).
        po.Match.Clear();
        Assert.Equal((Ofp13ErrorType.BadRequest, Ofp13Codes.BadPort), ErrorOf(await c.ReplyAsync(c.Send(po.Encode()))));
        po.Match.Add(Ofp13Oxm.Exact(0, 1));
        po.Match.Add(Ofp13Oxm.Exact(5, 0x0800));
        Assert.Equal((Ofp13ErrorType.BadRequest, Ofp15.PipelineFieldsOnly), ErrorOf(await c.ReplyAsync(c.Send(po.Encode()))));
        // The meter action: only at the head of apply-actions; 1.3's meter instruction is unknown in 1.5.
        Assert.Equal((Ofp13ErrorType.BadAction, Ofp13Codes.ActionUnsupportedOrder),
            ErrorOf(await c.ReplyAsync(c.Send(FlowMod(0, 0, Apply(Ofp13Action.Output(2), new Ofp13Action(Ofp13ActionType.Meter, 1)))))));
        Assert.Equal((Ofp13ErrorType.BadInstruction, Ofp13Codes.InstUnknown),
            ErrorOf(await c.ReplyAsync(c.Send(FlowMod(0, 0, new Ofp13Instruction(Ofp13InstructionType.Meter, MeterId: 1))))));
        Assert.Equal((Ofp13ErrorType.BadAction, Ofp13Codes.ActionBadType),
            ErrorOf(await c.ReplyAsync(c.Send(FlowMod(0, 0, new Ofp13Instruction(Ofp13InstructionType.WriteActions, Actions: [new(Ofp13ActionType.Meter, 1)]))))));
    }
}
