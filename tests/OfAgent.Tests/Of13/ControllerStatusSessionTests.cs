using Softswitch.OfAgent.Tests.Session;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of14;
using Softswitch.OfWire.Of15;
using Controller = Softswitch.OfAgent.Tests.Of13.Of14SessionTests.Controller;

namespace Softswitch.OfAgent.Tests.Of13;

/// <summary>
/// OpenFlow 1.5's controller status over real sockets (1.5.1 sections 7.3.5.16 and 7.4.7): OFPMP_CONTROLLER_STATUS lists
/// every connection with its role and channel; OFPT_CONTROLLER_STATUS tells a 1.5 connection whose controller-status
/// mask asks of another's channel coming up and going down and of its role changing; none unasked; 1.4 has neither.
/// </summary>
public sealed class ControllerStatusSessionTests
{
    private const uint V14 = 1u << 5, V15 = 1u << 6;

    private static byte[] Empty(Ofp13Type type) => Ofp13Messages.Empty(Ofp13.Version, type, 0);

    private static async Task<List<byte[]>> Before(Controller c)
    {
        var before = new List<byte[]>();
        await c.ReplyAsync(c.Send(Empty(Ofp13Type.BarrierRequest)), before);
        return before;
    }

    private static async Task<Ofp15ControllerStatus> NextStatus(Controller c)
    {
        var m = await c.NextAsync() ?? throw new Xunit.Sdk.XunitException("no CONTROLLER_STATUS");
        Assert.True(Ofp15ControllerStatus.TryDecodeMessage(m, out var s), Convert.ToHexString(m));
        Assert.Equal(Ofp15.Version, m[0]);
        return s;
    }

    [Fact]
    public async Task StatusOfTheOthers_OnRequestAndAsTheyChange_WhereTheMaskAsks()
    {
        await using var rig = new AgentRig(options: new AgentOptions { Versions = AgentOptions.AllVersions });
        using var watcher = await Controller.ConnectAsync(rig.ListenPort, V15);
        using var quiet = await Controller.ConnectAsync(rig.ListenPort, V15);
        // Both taken in (a barrier answered) before the watcher asks: quiet's own arrival is not among what it sees.
        Assert.Empty(await Before(watcher));
        Assert.Empty(await Before(quiet));
        // The watcher asks for CHANNEL_STATUS and ROLE (bits 1 and 2) as master or equal; GET_ASYNC shows 1.5's two masks.
        var set = new Ofp14AsyncConfig { Version = Ofp15.Version };
        set.Set(Ofp14AsyncProp.ContStatusMaster, 0x6);
        watcher.Send(set.Encode());
        var get = new Ofp14AsyncConfig();
        Assert.True(get.TryDecode(await watcher.ReplyAsync(watcher.Send(Empty(Ofp13Type.GetAsyncRequest))), out var err), err.ToString());
        Assert.Equal((0x6u, 0u, 0xcfffu), (get[Ofp14AsyncProp.ContStatusMaster], get[Ofp14AsyncProp.ContStatusSlave], get.Present));
        Assert.Empty(await Before(quiet));

        // A 1.4 controller connects: CHANNEL_STATUS up, role equal.
        using var other = await Controller.ConnectAsync(rig.ListenPort, V14);
        await other.ReplyAsync(other.Send(Empty(Ofp13Type.BarrierRequest)));
        var up = await NextStatus(watcher);
        Assert.Equal((Ofp15ControllerStatus.ReasonChannelStatus, Ofp15ControllerStatus.ChannelUp, 1u), (up.Reason, up.ChannelStatus, up.Role));
        Assert.False(string.IsNullOrEmpty(up.Uri));
        // It becomes master: ROLE.
        await other.ReplyAsync(other.Send(new Ofp13RoleRequest { Version = Ofp13.Version, Role = 2, GenerationId = 1 }.Encode()));
        var role = await NextStatus(watcher);
        Assert.Equal((Ofp15ControllerStatus.ReasonRole, 2u, up.Uri), (role.Reason, role.Role, role.Uri));

        // The multipart: every connection, the asker's too, each up, reason REQUEST.
        byte[] reply = await watcher.ReplyAsync(watcher.Send(new Ofp13MultipartRequest { Version = Ofp13.Version, Type = Ofp15ControllerStatus.MultipartType }.Encode([])));
        var entries = new List<Ofp15ControllerStatus>();
        Assert.True(Ofp13Entries.TryReadAll(reply.AsSpan(Ofp13Multipart.HeaderSize), entries));
        Assert.Equal(3, entries.Count);
        Assert.All(entries, e => Assert.Equal((Ofp15ControllerStatus.ReasonRequest, Ofp15ControllerStatus.ChannelUp), (e.Reason, e.ChannelStatus)));
        Assert.Equal([1u, 1u, 2u], entries.Select(e => e.Role).Order());
        Assert.Contains(entries, e => e.Uri == up.Uri);

        // It goes: CHANNEL_STATUS down. The connection that asked for nothing was told nothing.
        other.Dispose();
        var down = await NextStatus(watcher);
        Assert.Equal((Ofp15ControllerStatus.ReasonChannelStatus, Ofp15ControllerStatus.ChannelDown, up.Uri), (down.Reason, down.ChannelStatus, down.Uri));
        Assert.DoesNotContain(await Before(quiet), m => m[1] == (byte)Ofp15ControllerStatus.MessageType);
    }

    [Fact]
    public async Task OpenFlow14_HasNeither_TheMaskNorTheMultipart()
    {
        await using var rig = new AgentRig(options: new AgentOptions { Versions = AgentOptions.AllVersions });
        using var c = await Controller.ConnectAsync(rig.ListenPort, V14);
        var set = new Ofp14AsyncConfig { Version = Ofp13.Version14 };
        set.Set(Ofp14AsyncProp.ContStatusMaster, 0x6);
        byte[] e = await c.ReplyAsync(c.Send(set.Encode()));
        Assert.Equal((byte)Ofp13Type.Error, e[1]);
        Assert.Equal(((ushort)Ofp13ErrorType.AsyncConfigFailed, Ofp13Codes.AsyncUnsupported), (System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(e.AsSpan(8)), System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(e.AsSpan(10))));
        e = await c.ReplyAsync(c.Send(new Ofp13MultipartRequest { Version = Ofp13.Version, Type = Ofp15ControllerStatus.MultipartType }.Encode([])));
        Assert.Equal((byte)Ofp13Type.Error, e[1]);
        Assert.Equal(Ofp13Codes.BadMultipart, System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(e.AsSpan(10)));
    }
}
