using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Groups;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Tests;

/// <summary>The group table's versions: an atomic batch's groups seen from its version, a revert leaving nothing, a settle cutting the chains.</summary>
public class GroupVersionTests
{
    private static Group G(uint id, ushort port) => new(id, GroupType.Indirect, [new GroupBucket(new FlowActions([FlowAction.Output(port)]))], 0);

    [Fact]
    public void ABatchsGroupsAreSeenFromItsVersion_AndARevertLeavesNothing()
    {
        var versions = new TablesVersion();
        var table = new GroupTable(() => new PortTable([], null), versions, new QuiescentDomain());
        Group g1 = G(1, 1), g2 = G(2, 2);
        table.Set(g1);
        table.Set(g2);
        Group g1b = G(1, 3), g3 = G(3, 4);

        for (int round = 0; round < 2; round++)
        {
            table.BeginVersion(1);
            table.Set(g1b);
            Assert.True(table.Remove(2));
            table.Set(g3);
            // Lookups at the version before see the groups as they were; at the batch's, as the batch left them.
            Assert.Same(g1, Get(table, 1, 0));
            Assert.Same(g2, Get(table, 2, 0));
            Assert.Null(Get(table, 3, 0));
            Assert.Same(g1b, Get(table, 1, 1));
            Assert.Null(Get(table, 2, 1));
            Assert.Same(g3, Get(table, 3, 1));
            Assert.Same(g1, Get(table, 1, GroupTable.CurrentVersion));
            // The batch's writer sees its groups; another thread the current ones.
            Assert.True(table.TryGet(1, out var mine));
            Assert.Same(g1b, mine);
            Assert.Equal([1u, 3u], table.All.Select(g => g.Id).Order());
            (Group? Group, uint[]? Ids, int Count) theirs = default;
            var other = new Thread(() => theirs = (table.TryGet(1, out var g) ? g : null, table.All.Select(x => x.Id).Order().ToArray(), table.Count));
            other.Start();
            other.Join();
            Assert.Same(g1, theirs.Group);
            Assert.Equal([1u, 2u], theirs.Ids!);
            Assert.Equal(2, theirs.Count);
            if (round == 0)
            {
                table.RevertVersion();
                for (long v = 0; v <= 1; v++)
                {
                    Assert.Same(g1, Get(table, 1, v));
                    Assert.Same(g2, Get(table, 2, v));
                    Assert.Null(Get(table, 3, v));
                }
                Assert.Equal(1, table.VersionCount(1));
                Assert.Equal(1, table.VersionCount(2));
                Assert.Equal(0, table.VersionCount(3));
                Assert.Equal(2, table.Count);
                continue;
            }
            // Committed by a batch of groups alone: the table publishes the version itself.
            table.PublishVersion(publish: true);
            Assert.Equal(1, versions.Current);
            Assert.Equal(1, versions.Committed); // no table's cached results to move: done with the store
            Assert.Same(g1, Get(table, 1, 0)); // a thread still at the version before
            Assert.Same(g1b, Get(table, 1, GroupTable.CurrentVersion));
            Assert.Null(Get(table, 2, GroupTable.CurrentVersion));
            Assert.Same(g3, Get(table, 3, GroupTable.CurrentVersion));
            Assert.Equal(2, table.Count);
            Assert.True(table.Settle());
            Assert.Equal(1, table.VersionCount(1));
            Assert.Equal(0, table.VersionCount(2));
            Assert.Equal(1, table.VersionCount(3));
        }
    }

    [Fact]
    public void AWriteOutsideABatchIsSeenAtEveryVersion()
    {
        var versions = new TablesVersion();
        var table = new GroupTable(() => new PortTable([], null), versions, new QuiescentDomain());
        versions.Publish(5);
        var g = G(1, 1);
        table.Set(g);
        Assert.Same(g, Get(table, 1, 0));
        Assert.Same(g, Get(table, 1, 9));
        Assert.True(table.Remove(1));
        Assert.Null(Get(table, 1, 5));
        Assert.Equal(0, table.Count);
    }

    private static Group? Get(GroupTable t, uint id, long version) => t.TryGet(id, version, out var g) ? g : null;
}
