using System.Buffers.Binary;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of14;
using Softswitch.OfWire.Of15;
using Controller = Softswitch.OfAgent.Tests.Of13.Of14SessionTests.Controller;

namespace Softswitch.OfAgent.Tests.Of13;

/// <summary>
/// Request forwarding over real sockets (OpenFlow 1.4.1 section 7.4.6, Open vSwitch's connmgr_send_requestforward): a
/// GROUP_MOD or METER_MOD the switch carried out goes in OFPT_REQUESTFORWARD to every other 1.4 or later connection
/// whose request-forward mask for its role asks for it (none by default), written in that connection's version with
/// the sender's xid; a refused one goes nowhere, nor to its sender.
/// </summary>
public sealed class RequestForwardSessionTests
{
    private const uint V13 = 1u << 4, V14 = 1u << 5, V15 = 1u << 6;

    private static byte[] Empty(Ofp13Type type) => Ofp13Messages.Empty(Ofp13.Version, type, 0);

    private static async Task Barrier(Controller c, List<byte[]>? before = null) => await c.ReplyAsync(c.Send(Empty(Ofp13Type.BarrierRequest)), before);

    private static byte[] Async(Ofp14AsyncProp master, uint masterMask, Ofp14AsyncProp slave, uint slaveMask)
    {
        var set = new Ofp14AsyncConfig { Version = Ofp13.Version14 };
        set.Set(master, masterMask);
        set.Set(slave, slaveMask);
        return set.Encode();
    }

    /// <summary>The REQUESTFORWARD messages <paramref name="c"/> received before a barrier's reply: each one's inner request.</summary>
    private static async Task<List<byte[]>> Forwarded(Controller c)
    {
        var before = new List<byte[]>();
        await Barrier(c, before);
        var inner = new List<byte[]>();
        foreach (var m in before)
        {
            if (m[1] != (byte)Ofp14RequestForward.Type) continue;
            Assert.Equal(c.Version, m[0]);
            Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(m.AsSpan(4)));
            Assert.True(Ofp14RequestForward.TryDecode(m, out int at, out int len, out _, out var e), e.ToString());
            inner.Add(m[at..(at + len)]);
        }
        return inner;
    }

    [Fact]
    public async Task GroupAndMeterMods_GoToTheConnectionsWhoseMaskForTheirRoleAsks_InTheirVersion()
    {
        await using var rig = new AgentRig(options: new AgentOptions { Versions = AgentOptions.AllVersions });
        using var src = await Controller.ConnectAsync(rig.ListenPort, V13);
        using var master = await Controller.ConnectAsync(rig.ListenPort, V14);
        using var slave = await Controller.ConnectAsync(rig.ListenPort, V14);
        using var quiet = await Controller.ConnectAsync(rig.ListenPort, V14);
        using var of15 = await Controller.ConnectAsync(rig.ListenPort, V15);
        // master: groups and meters; slave: a slave, whose slave mask asks for meters only (its master mask for groups);
        // of15: groups; quiet: the defaults (none).
        master.Send(Async(Ofp14AsyncProp.RequestForwardMaster, 3, Ofp14AsyncProp.RequestForwardSlave, 0));
        slave.Send(new Ofp13RoleRequest { Version = Ofp13.Version, Role = 3, GenerationId = 1 }.Encode());
        slave.Send(Async(Ofp14AsyncProp.RequestForwardMaster, 1, Ofp14AsyncProp.RequestForwardSlave, 2));
        of15.Send(Async(Ofp14AsyncProp.RequestForwardMaster, 1, Ofp14AsyncProp.RequestForwardSlave, 0));
        foreach (var c in new[] { src, master, slave, quiet, of15 }) await Barrier(c);

        // A 1.3 controller adds a select group of two buckets.
        var add = new Ofp13GroupMod { Command = 0, GroupType = 1, GroupId = 7 };
        add.Buckets.Add(new Ofp13Bucket(1, 0xffffffff, 0xffffffff, [Ofp13Action.Output(1)]));
        add.Buckets.Add(new Ofp13Bucket(2, 0xffffffff, 0xffffffff, [Ofp13Action.Output(2)]));
        byte[] addBytes = add.Encode();
        uint addXid = src.Send(addBytes);
        Assert.Empty(await Forwarded(src));
        // To the 1.4 master: the request as sent, in version 5, with its xid.
        byte[] expected = (byte[])addBytes.Clone();
        expected[0] = Ofp13.Version14;
        BinaryPrimitives.WriteUInt32BigEndian(expected.AsSpan(4), addXid);
        Assert.Equal(expected, Assert.Single(await Forwarded(master)));
        // To the 1.5 connection: 1.5's layout, each bucket its place as id.
        var g15 = new Ofp15GroupMod();
        Assert.True(g15.TryDecode(Assert.Single(await Forwarded(of15)), out var err), err.ToString());
        Assert.Equal((Ofp15.Version, addXid, (ushort)0, (byte)1, 7u), (g15.Version, g15.Xid, g15.Command, g15.GroupType, g15.GroupId));
        Assert.Equal([(0u, (ushort?)1), (1u, (ushort?)2)], g15.Buckets.Select(b => (b.BucketId, b.Weight)));
        // Not to the slave (its slave mask has no group bit), nor to the connection that asked for nothing.
        Assert.Empty(await Forwarded(slave));
        Assert.Empty(await Forwarded(quiet));

        // A meter: the master and the slave, not of15.
        var meter = new Ofp13MeterMod { Command = 0, Flags = 1, MeterId = 1 };
        meter.Bands.Add(new Ofp13Band(1, 1000, 0));
        uint meterXid = src.Send(meter.Encode());
        Assert.Empty(await Forwarded(src));
        foreach (var c in new[] { master, slave })
        {
            var m = new Ofp13MeterMod();
            Assert.True(m.TryDecode(Assert.Single(await Forwarded(c)), out err), err.ToString());
            Assert.Equal((Ofp13.Version14, meterXid, 1u), (m.Version, m.Xid, m.MeterId));
        }
        Assert.Empty(await Forwarded(of15));

        // A refused group-mod (the group exists) goes nowhere.
        master.Send(add.Encode());
        var before = new List<byte[]>();
        await Barrier(master, before);
        Assert.Contains(before, m => m[1] == (byte)Ofp13Type.Error);
        Assert.Empty(await Forwarded(of15));

        // A 1.5 INSERT_BUCKET reaches the 1.4 master as what 1.4 can say: a MODIFY with the group's buckets after it.
        var insert = new Ofp15GroupMod { Command = Ofp15GroupMod.InsertBucket, GroupType = 1, GroupId = 7, CommandBucketId = Ofp15Bucket.Last };
        insert.Buckets.Add(new Ofp15Bucket(5, [Ofp13Action.Output(3)], 3));
        uint insertXid = of15.Send(insert.Encode());
        Assert.Empty(await Forwarded(of15));
        var modify = new Ofp13GroupMod();
        Assert.True(modify.TryDecode(Assert.Single(await Forwarded(master)), out err), err.ToString());
        Assert.Equal((Ofp13.Version14, insertXid, (ushort)1, 7u), (modify.Version, modify.Xid, modify.Command, modify.GroupId));
        Assert.Equal([(ushort)1, (ushort)2, (ushort)3], modify.Buckets.Select(b => b.Weight));
        Assert.Equal(Ofp13Action.Output(3), Assert.Single(modify.Buckets[2].Actions));
    }

    /// <summary>
    /// A group-mod inside a bundle is forwarded when the bundle commits, in its place, with its own xid (Open vSwitch's
    /// do_bundle_commit, ofproto_group_mod_finish with the bundled request): nothing while the bundle is open, nothing
    /// when the commit fails.
    /// </summary>
    [Fact]
    public async Task BundledGroupMods_AreForwardedAtTheCommit_AndNotWhenItFails()
    {
        await using var rig = new AgentRig(options: new AgentOptions { Versions = AgentOptions.AllVersions });
        using var src = await Controller.ConnectAsync(rig.ListenPort, V14);
        using var watcher = await Controller.ConnectAsync(rig.ListenPort, V14);
        watcher.Send(Async(Ofp14AsyncProp.RequestForwardMaster, 1, Ofp14AsyncProp.RequestForwardSlave, 0));
        Assert.Empty(await Forwarded(watcher));

        var add = new Ofp13GroupMod { Version = Ofp13.Version14, Command = 0, GroupType = 0, GroupId = 9 };
        add.Buckets.Add(new Ofp13Bucket(0, 0xffffffff, 0xffffffff, [Ofp13Action.Output(1)]));
        var modify = new Ofp13GroupMod { Version = Ofp13.Version14, Command = 1, GroupType = 0, GroupId = 9 };
        modify.Buckets.Add(new Ofp13Bucket(0, 0xffffffff, 0xffffffff, [Ofp13Action.Output(2)]));
        const ushort Atomic = Ofp13Bundle.FlagAtomic;
        // An ADD's xid is its inner request's (OFPBFC_MSG_BAD_XID otherwise): the controller numbers its messages in turn.
        uint open = src.Send(Ofp13Bundle.ControlRequest(Ofp13.Version14, 0, 1, Ofp13BundleCtrlType.OpenRequest, Atomic));
        (add.Xid, modify.Xid) = (open + 1, open + 2);
        Assert.Equal(add.Xid, src.Send(Ofp13Bundle.AddMessage(Ofp13.Version14, 1, Atomic, add.Encode())));
        Assert.Equal(modify.Xid, src.Send(Ofp13Bundle.AddMessage(Ofp13.Version14, 1, Atomic, modify.Encode())));
        var added = new List<byte[]>();
        await Barrier(src, added);
        Assert.True(added.Count == 1 && added[0][1] == (byte)Ofp13Bundle.Of14BundleControl, string.Join(" ", added.Select(Convert.ToHexString)));
        Assert.Empty(await Forwarded(watcher));
        src.Send(Ofp13Bundle.ControlRequest(Ofp13.Version14, 0, 1, Ofp13BundleCtrlType.CommitRequest, Atomic));
        var replies = new List<byte[]>();
        await Barrier(src, replies);
        Assert.DoesNotContain(replies, m => m[1] == (byte)Ofp13Type.Error);
        var forwarded = await Forwarded(watcher);
        Assert.Equal([add.Encode(), modify.Encode()], forwarded);

        // A bundle whose commit fails (the group exists): nothing forwarded, its ADD's error and MSG_FAILED to the sender.
        add.Xid = src.Send(Ofp13Bundle.ControlRequest(Ofp13.Version14, 0, 2, Ofp13BundleCtrlType.OpenRequest, Atomic)) + 1;
        Assert.Equal(add.Xid, src.Send(Ofp13Bundle.AddMessage(Ofp13.Version14, 2, Atomic, add.Encode())));
        src.Send(Ofp13Bundle.ControlRequest(Ofp13.Version14, 0, 2, Ofp13BundleCtrlType.CommitRequest, Atomic));
        var before = new List<byte[]>();
        await Barrier(src, before);
        Assert.Contains(before, m => m[1] == (byte)Ofp13Type.Error);
        Assert.Empty(await Forwarded(watcher));
    }
}
