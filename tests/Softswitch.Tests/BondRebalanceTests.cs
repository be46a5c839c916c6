using Softswitch.Bonding;
using Softswitch.Datapath.Ports;

namespace Softswitch.Tests;

/// <summary>
/// A balanced bond's load rebalancing (<see cref="BondRebalance"/>, Open vSwitch's bond_rebalance) on fake counters:
/// buckets move from the most to the least loaded member until the two are within 10% of their midpoint; nothing moves
/// for a small imbalance (under 100,000 bytes or 1/32 of the lighter load), nor the one loaded bucket of a member; the
/// loads halve each round.
/// </summary>
public sealed class BondRebalanceTests
{
    private const ushort A = 1, B = 2, C = 3;

    private static ushort[] Dealt(params ushort[] members) => [.. Enumerable.Range(0, Bond.BucketCount).Select(i => members[i % members.Length])];

    private static long LoadOf(ushort[] buckets, long[] load, ushort member) => Enumerable.Range(0, buckets.Length).Where(i => buckets[i] == member).Sum(i => load[i]);

    [Fact]
    public void TheHeavierMembersBuckets_MoveToTheLighter_UntilTheyAreNearlyEven()
    {
        var buckets = Dealt(A, B);
        var load = new long[Bond.BucketCount];
        // A carries 40 loaded buckets (100 kB each, 4 MB), B 4 of them.
        for (int i = 0; i < 80; i += 2) load[i] = 100_000;
        for (int i = 1; i < 8; i += 2) load[i] = 100_000;
        var before = (ushort[])buckets.Clone();
        var copy = (long[])load.Clone();
        int moved = BondRebalance.Run(buckets, load, [A, B]);
        Assert.Equal(18, moved);
        Assert.Equal(2_200_000, LoadOf(buckets, copy, A));
        Assert.Equal(2_200_000, LoadOf(buckets, copy, B));
        // Only A's loaded buckets moved, and the loads halved.
        for (int i = 0; i < buckets.Length; i++)
            if (buckets[i] != before[i]) Assert.True(before[i] == A && buckets[i] == B && copy[i] > 0, $"bucket {i}");
        Assert.Equal(50_000, load[0]);
    }

    [Fact]
    public void ASmallImbalance_OrOneBucketOfLoad_MovesNothing()
    {
        var buckets = Dealt(A, B);
        var load = new long[Bond.BucketCount];
        load[0] = load[2] = 60_000;   // A 120 kB, B 30 kB: 90 kB more, under 100,000 bytes
        load[1] = 30_000;
        Assert.Equal(0, BondRebalance.Run(buckets, load, [A, B]));
        Assert.Equal(Dealt(A, B), buckets);

        // 40 MB against 39 MB: more than 100,000 bytes but under 1/32 of the lighter.
        load = new long[Bond.BucketCount];
        for (int i = 0; i < 40; i++) load[i] = i % 2 == 0 ? 2_000_000 : 1_950_000;
        Assert.Equal(0, BondRebalance.Run(buckets, load, [A, B]));

        // All of A's load in one bucket: moving it would only move the imbalance.
        load = new long[Bond.BucketCount];
        load[0] = 10_000_000;
        Assert.Equal(0, BondRebalance.Run(buckets, load, [A, B]));
        // One member enabled: nothing to balance over.
        load[0] = load[2] = 10_000_000;
        Assert.Equal(0, BondRebalance.Run(buckets, load, [A]));
    }

    [Fact]
    public void ThreeMembers_TheMostLoadedGivesToTheLeast_ADisabledMembersBucketsAreLeftAlone()
    {
        var buckets = Dealt(A, B, C);
        var load = new long[Bond.BucketCount];
        for (int i = 0; i < 90; i += 3) load[i] = 300_000;   // A: 30 buckets, 9 MB
        for (int i = 1; i < 30; i += 3) load[i] = 300_000;   // B: 10 buckets, 3 MB
        for (int i = 2; i < 90; i += 3) load[i] = 1_000_000; // C (disabled): 30 MB
        var copy = (long[])load.Clone();
        int moved = BondRebalance.Run(buckets, load, [A, B]);
        Assert.True(moved > 0);
        Assert.Equal(6_000_000, LoadOf(buckets, copy, A));
        Assert.Equal(6_000_000, LoadOf(buckets, copy, B));
        Assert.Equal(30_000_000, LoadOf(buckets, copy, C));
    }

    [Fact]
    public void TheBond_CountsBytesPerBucket_WhileAccounting_AndTakesNewBuckets()
    {
        var bond = new Bond("bond0", BondMode.BalanceSlb, [A, B]);
        bond.Update(A, [A, B], BondLacp.Off);
        var frame = Datapath.Packets.FrameBuilder.Udp(Datapath.Flow.MacAddress.Parse("0e:00:00:00:00:01"), Datapath.Flow.MacAddress.Parse("0e:00:00:00:00:02"), 1, 2, 3, 4);
        var load = new long[Bond.BucketCount];
        ushort member = bond.Send(frame, 0);
        bond.TakeLoad(load);
        Assert.Equal(0, load.Sum());   // not accounting
        bond.Accounting = true;
        Assert.Equal(member, bond.Send(frame, 0));
        Assert.Equal(member, bond.Send(frame, 0));
        bond.TakeLoad(load);
        Assert.Equal(2L * frame.Length, load.Sum());
        int bucket = Array.FindIndex(load, l => l > 0);
        Assert.Equal(member, bond.BucketMember(bucket));
        bond.TakeLoad(load);
        Assert.Equal(2L * frame.Length, load.Sum());   // taken once

        var moved = Dealt(A, B);
        moved[bucket] = member == A ? B : A;
        bond.SetBuckets(moved);
        Assert.Equal(moved[bucket], bond.Send(frame, 0));
    }
}
