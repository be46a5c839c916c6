using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;
using Softswitch.TestKit;
using static Softswitch.TestKit.FlowFrames;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// A balanced bond's load accounting as NORMAL drives it (<see cref="Bond.Accounting"/>, for Open vSwitch's
/// bond-rebalance-interval): every frame NORMAL sends by the bond, to an address learned behind it or flooded, counts
/// its bytes to the bucket it went by, once; off, nothing is counted; a rebalance's buckets (<see cref="Bond.SetBuckets"/>)
/// take effect for the next frame.
/// </summary>
public sealed class BondAccountingTests
{
    private static readonly MacAddress Broadcast = Mac("ff:ff:ff:ff:ff:ff");

    [Fact]
    public void WhatNormalSendsByTheBond_CountsToItsBucket_Once()
    {
        using var rig = new DatapathRig(4);
        rig.Dp.MissBehavior = MissBehavior.Normal;
        var bond = new Bond("bond0", BondMode.BalanceSlb, [1, 2]);
        rig.Dp.SetBonds([bond]);
        bond.Update(1, [1, 2], BondLacp.Off);
        var load = new long[Bond.BucketCount];

        // H1 behind the bond (from its active member), then frames from port 3: to H1 (the bond), flooded (one member).
        rig.Send(1, Udp(H1, Broadcast, "10.0.0.1", "10.0.0.255"));
        var toH1 = Udp(H3, H1, "10.0.0.3", "10.0.0.1");
        var flood = Udp(H3, Broadcast, "10.0.0.3", "10.0.0.255");
        rig.Send(3, toH1);
        rig.Send(3, flood);
        bond.TakeLoad(load);
        Assert.Equal(0, load.Sum());   // not accounting

        rig.Sent(1);
        rig.Sent(2);
        bond.Accounting = true;
        rig.Send(3, toH1, 3);
        rig.Send(3, flood, 2);
        bond.TakeLoad(load);
        Assert.Equal(3L * toH1.Length + 2L * flood.Length, load.Sum());
        // Both from H3: one bucket (balance-slb hashes the source), and its member is the one that sent them.
        int bucket = Array.FindIndex(load, l => l > 0);
        Assert.Equal(load.Sum(), load[bucket]);
        ushort member = bond.BucketMember(bucket);
        Assert.Equal(5, rig.Sent(member).Count(f => f.AsSpan(6, 6).SequenceEqual(H3Bytes())));

        // The bucket moved to the other member: the next frame leaves by it.
        var buckets = Enumerable.Range(0, Bond.BucketCount).Select(bond.BucketMember).ToArray();
        buckets[bucket] = member == 1 ? (ushort)2 : (ushort)1;
        bond.SetBuckets(buckets);
        rig.Sent(1);
        rig.Sent(2);
        rig.Send(3, toH1);
        Assert.Single(rig.Sent(buckets[bucket]));
    }

    private static byte[] H3Bytes()
    {
        var b = new byte[6];
        H3.Write(b);
        return b;
    }
}
