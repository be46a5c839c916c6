using Softswitch.OfAgent.Of13.Handlers;
using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;

namespace Softswitch.OfAgent.Tests.Nicira;

/// <summary>
/// A group-mod forwarded to an OpenFlow 1.0 connection is written as Open vSwitch writes it there: NXT_GROUP_MOD (1.5's
/// layout: the command, type and id, each bucket's place as its id, a select group's weight, the watch port) with the
/// buckets' actions in 1.0's form, the sender's xid inside; a meter-mod has no 1.0 form. (Over sockets, with a real
/// ovs-ofctl printing it: OvsOfctlRequestForwardTests.)
/// </summary>
public sealed class NxGroupModForwardTests
{
    [Fact]
    public void A13GroupMod_IsWrittenFor10_AsNxtGroupMod_WithItsActionsIn10sForm()
    {
        var g = new Ofp13GroupMod { Version = Ofp13.Version, Xid = 0x1234, Command = 0, GroupType = 1, GroupId = 7 };
        g.Buckets.Add(new Ofp13Bucket(3, 2, 0xffffffff, [Ofp13Action.Output(1)]));
        g.Buckets.Add(new Ofp13Bucket(5, 0xffffffff, 0xffffffff, [Ofp13Action.Output(4)]));
        byte[]? nx = RequestForwarder.GroupModIn(OfpConstants.Version, g.Encode(), null!, 7);
        Assert.NotNull(nx);
        var m = new NxGroupMod();
        Assert.True(m.TryDecode(nx, out _));
        Assert.Equal((0x1234u, (ushort)0, (byte)1, 7u, 0xffffffffu), (m.Xid, m.Command, m.GroupType, m.GroupId, m.CommandBucketId));
        Assert.Equal(2, m.Buckets.Count);
        Assert.Equal((0u, (ushort?)3, (uint?)2, (uint?)null), (m.Buckets[0].BucketId, m.Buckets[0].Weight, m.Buckets[0].WatchPort, m.Buckets[0].WatchGroup));
        Assert.Equal("0000000800010000", Convert.ToHexString(m.Buckets[0].Actions)); // OFPAT_OUTPUT to port 1, as ofp-print.at's
        Assert.Equal((1u, (ushort?)5, (uint?)null), (m.Buckets[1].BucketId, m.Buckets[1].Weight, m.Buckets[1].WatchPort));
        Assert.Empty(m.Properties);
        byte[] forward = NxAsyncConfig.EncodeRequestForward(OfpConstants.Version, nx);
        Assert.True(NxAsyncConfig.TryDecodeRequestForward(forward, out int at, out int len));
        Assert.Equal(nx, forward.AsSpan(at, len).ToArray());
    }
}
