using System.Buffers.Binary;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.OfWire;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of14;
using Controller = Softswitch.OfAgent.Tests.Of13.Of14SessionTests.Controller;

namespace Softswitch.OfAgent.Tests.Of13;

/// <summary>
/// Open vSwitch's asynchronous-configuration extensions under OpenFlow 1.3: NXT_SET_ASYNC_CONFIG sets 1.3's six masks
/// (GET_ASYNC shows them), NXT_SET_ASYNC_CONFIG2 the masks 1.3 has no room for, among them request forwarding: a 1.3
/// connection that asked receives a group-mod or meter-mod another connection made in ONFT13_REQUESTFORWARD, as Open
/// vSwitch's connmgr_send_requestforward sends it; a 1.3 SET_ASYNC starts the other masks over (none); the refusals are
/// Open vSwitch's 1.3 errors.
/// </summary>
public sealed class NxAsyncConfig13SessionTests
{
    private const uint V13 = 1u << 4, V14 = 1u << 5;

    private static byte[] Empty(Ofp13Type type) => Ofp13Messages.Empty(Ofp13.Version, type, 0);

    private static byte[] Config2(Ofp14AsyncProp prop, uint mask)
    {
        var p = new Ofp14AsyncConfig();
        p.Set(prop, mask);
        return NxAsyncConfig.EncodeSetAsyncConfig2(Ofp13.Version, 0, p);
    }

    /// <summary>The ONFT13_REQUESTFORWARDs <paramref name="c"/> received before a barrier's reply: each one's inner request.</summary>
    private static async Task<List<byte[]>> Forwarded(Controller c)
    {
        var before = new List<byte[]>();
        await c.ReplyAsync(c.Send(Empty(Ofp13Type.BarrierRequest)), before);
        var inner = new List<byte[]>();
        Assert.DoesNotContain(before, m => m[1] == (byte)Ofp13Type.Error);
        foreach (var m in before)
        {
            if (m[1] != (byte)Ofp13Type.Experimenter) continue;
            Assert.Equal((NxAsyncConfig.OnfExperimenter, NxAsyncConfig.OnfRequestForward), (BinaryPrimitives.ReadUInt32BigEndian(m.AsSpan(8)), BinaryPrimitives.ReadUInt32BigEndian(m.AsSpan(12))));
            Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(m.AsSpan(4)));
            Assert.True(NxAsyncConfig.TryDecodeRequestForward(m, out int at, out int len));
            inner.Add(m[at..(at + len)]);
        }
        return inner;
    }

    [Fact]
    public async Task RequestForwarding_ReachesA13ConnectionThatAskedWithConfig2_InOnft13RequestForward()
    {
        await using var rig = new AgentRig(options: new AgentOptions { Versions = AgentOptions.AllVersions });
        using var src = await Controller.ConnectAsync(rig.ListenPort, V14);
        using var asked = await Controller.ConnectAsync(rig.ListenPort, V13);
        using var quiet = await Controller.ConnectAsync(rig.ListenPort, V13);
        using var reset = await Controller.ConnectAsync(rig.ListenPort, V13);
        asked.Send(Config2(Ofp14AsyncProp.RequestForwardMaster, 3));
        reset.Send(Config2(Ofp14AsyncProp.RequestForwardMaster, 3));
        // 1.3's SET_ASYNC starts everything it does not name over from nothing: request forwarding off again.
        reset.Send(new Ofp13SetAsync { Version = Ofp13.Version, PacketInMaster = 3, PortStatusMaster = 7, FlowRemovedMaster = 0xf }.Encode());
        foreach (var c in new[] { src, asked, quiet, reset }) Assert.Empty(await Forwarded(c));

        var add = new Ofp13GroupMod { Version = Ofp13.Version14, Command = 0, GroupType = 1, GroupId = 7 };
        add.Buckets.Add(new Ofp13Bucket(1, 0xffffffff, 0xffffffff, [Ofp13Action.Output(1)]));
        byte[] addBytes = add.Encode();
        uint addXid = src.Send(addBytes);
        Assert.Empty(await Forwarded(src)); // carried out (the barrier after it answered), and not back to its sender
        // The request in 1.3, with its sender's xid.
        byte[] expected = (byte[])addBytes.Clone();
        expected[0] = Ofp13.Version;
        BinaryPrimitives.WriteUInt32BigEndian(expected.AsSpan(4), addXid);
        Assert.Equal(expected, Assert.Single(await Forwarded(asked)));
        Assert.Empty(await Forwarded(quiet));
        Assert.Empty(await Forwarded(reset));

        var meter = new Ofp13MeterMod { Version = Ofp13.Version14, Command = 0, Flags = 1, MeterId = 1 };
        meter.Bands.Add(new Ofp13Band(1, 1000, 0));
        uint meterXid = src.Send(meter.Encode());
        Assert.Empty(await Forwarded(src));
        var m = new Ofp13MeterMod();
        Assert.True(m.TryDecode(Assert.Single(await Forwarded(asked)), out var err), err.ToString());
        Assert.Equal((Ofp13.Version, meterXid, 1u), (m.Version, m.Xid, m.MeterId));
    }

    [Fact]
    public async Task SetAsyncConfig_SetsThe13Masks_AndRefusalsAreOpenVswitchs13Errors()
    {
        await using var rig = new AgentRig(options: new AgentOptions { Versions = AgentOptions.AllVersions });
        using var c = await Controller.ConnectAsync(rig.ListenPort, V13);
        c.Send(NxAsyncConfig.EncodeSetAsyncConfig(Ofp13.Version, 3, [1, 0, 5, 7, 4, 0]));
        var get = await c.ReplyAsync(c.Send(Empty(Ofp13Type.GetAsyncRequest)));
        Assert.Equal((byte)Ofp13Type.GetAsyncReply, get[1]);
        Assert.Equal([1u, 0u, 5u, 7u, 4u, 0u], Enumerable.Range(0, 6).Select(i => BinaryPrimitives.ReadUInt32BigEndian(get.AsSpan(8 + 4 * i))));

        // OFPR_ACTION_SET's bit under 1.3: OFPACFC_INVALID, the ONF's experimenter error 2370; type 17: 2371.
        foreach (var (prop, mask, code) in new[] { (Ofp14AsyncProp.PacketInMaster, 1u << 3, NxAsyncConfig.OnfAsyncInvalid), ((Ofp14AsyncProp)17, 1u, NxAsyncConfig.OnfAsyncUnsupported) })
        {
            byte[] bad = Config2(Ofp14AsyncProp.PacketInMaster, mask);
            bad[17] = (byte)prop;
            var e = await c.ReplyAsync(c.Send(bad));
            Assert.Equal(((byte)Ofp13Type.Error, (ushort)0xffff, code, NxAsyncConfig.OnfExperimenter),
                         (e[1], BinaryPrimitives.ReadUInt16BigEndian(e.AsSpan(8)), BinaryPrimitives.ReadUInt16BigEndian(e.AsSpan(10)), BinaryPrimitives.ReadUInt32BigEndian(e.AsSpan(12))));
        }
        // NXT_SET_ASYNC_CONFIG not 40 bytes: BAD_REQUEST/BAD_LEN; NXT_SET_ASYNC_CONFIG2 is 1.0 to 1.3 only (BAD_EXPERIMENTER under 1.4).
        byte[] shortConfig = NxAsyncConfig.EncodeSetAsyncConfig(Ofp13.Version, 0, new uint[6])[..36];
        shortConfig[3] = 36;
        var r = await c.ReplyAsync(c.Send(shortConfig));
        Assert.Equal((1, Ofp13Codes.BadLen), (BinaryPrimitives.ReadUInt16BigEndian(r.AsSpan(8)), BinaryPrimitives.ReadUInt16BigEndian(r.AsSpan(10))));
        using var of14 = await Controller.ConnectAsync(rig.ListenPort, V14);
        byte[] config2 = Config2(Ofp14AsyncProp.RequestForwardMaster, 1);
        config2[0] = Ofp13.Version14;
        r = await of14.ReplyAsync(of14.Send(config2));
        Assert.Equal((1, Ofp13Codes.BadExperimenter), (BinaryPrimitives.ReadUInt16BigEndian(r.AsSpan(8)), BinaryPrimitives.ReadUInt16BigEndian(r.AsSpan(10))));
    }
}
