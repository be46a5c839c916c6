namespace Softswitch.Ofproto.Tests;

/// <summary>
/// A connection's bundles (<see cref="OfBundles"/>) without a wire: the message limit, the idle timeout and an implicit
/// open, each with the error OpenFlow 1.4.1 section 7.3.9 gives.
/// </summary>
public sealed class OfBundlesTests
{
    private static BundledRequest FlowMod(int n)
        => new(new FlowModRequest(FlowModCommand.Add, OfMatch.Any, (ushort)n, new OfInstructions(ReadOnlyMemory<OfAction>.Empty)), null, [(byte)n]);

    [Fact]
    public void ABundleTakesAtMostItsLimit_AndKeepsWhatItHas()
    {
        var b = new OfBundles { MessageLimit = 3 };
        Assert.Equal(BundleError.None, b.Open(1, OfBundles.Atomic, [0], 0));
        for (int i = 0; i < 3; i++) Assert.Equal(BundleError.None, b.Add(1, OfBundles.Atomic, FlowMod(i), 0));
        Assert.Equal(BundleError.MsgTooMany, b.Add(1, OfBundles.Atomic, FlowMod(3), 0));
        // Still open: it can be closed and discarded.
        Assert.Equal(BundleError.None, b.Close(1, OfBundles.Atomic, 0));
        Assert.Equal(BundleError.None, b.Discard(1));
        Assert.Equal(0, b.Count);
    }

    [Fact]
    public void TheLimit_IsTheConnections_AcrossItsBundles_AndADroppedBundleGivesItsRoomBack()
    {
        var b = new OfBundles { MessageLimit = 3 };
        Assert.Equal(BundleError.None, b.Add(1, 0, FlowMod(1), 0));
        Assert.Equal(BundleError.None, b.Add(2, 0, FlowMod(2), 0));
        Assert.Equal(BundleError.None, b.Add(2, 0, FlowMod(3), 0));
        Assert.Equal(BundleError.MsgTooMany, b.Add(1, 0, FlowMod(4), 0));
        Assert.Equal(BundleError.None, b.Discard(2));
        Assert.Equal(BundleError.None, b.Add(1, 0, FlowMod(4), 0));
        Assert.Equal(BundleError.None, b.Add(3, 0, FlowMod(5), 0));
        Assert.Equal(BundleError.MsgTooMany, b.Add(3, 0, FlowMod(6), 0));
        // A bundle dropped for a misuse (other flags) gives its room back too.
        Assert.Equal(BundleError.BadFlags, b.Add(1, OfBundles.Ordered, FlowMod(7), 0));
        Assert.Equal(BundleError.None, b.Add(3, 0, FlowMod(8), 0));
    }

    [Fact]
    public void AnIdleBundle_IsDroppedAfterTheTimeout_WithTheMessageThatOpenedIt()
    {
        var b = new OfBundles { IdleTimeout = TimeSpan.FromSeconds(10) };
        byte[] opened = [1, 2, 3];
        Assert.Equal(BundleError.None, b.Open(1, 0, opened, 1_000));
        Assert.Equal(BundleError.None, b.Add(2, 0, FlowMod(1), 5_000)); // opened implicitly
        var expired = new List<byte[]>();
        b.Expire(10_999, expired);
        Assert.Empty(expired);
        Assert.Equal(BundleError.None, b.Add(1, 0, FlowMod(2), 10_999)); // a message keeps it alive
        b.Expire(15_000, expired);
        Assert.Equal([(byte)1], Assert.Single(expired)); // bundle 2, named by its first ADD
        expired.Clear();
        b.Expire(20_999, expired);
        Assert.Same(opened, Assert.Single(expired));
        Assert.Equal(0, b.Count);
        Assert.Equal(BundleError.BadId, b.Close(1, 0, 21_000));
    }

    [Fact]
    public void UnknownFlags_AreRefused_WhenOpenedOrAdded()
    {
        var b = new OfBundles();
        Assert.Equal(BundleError.BadFlags, b.Open(1, 4, [0], 0));
        Assert.Equal(BundleError.BadFlags, b.Add(1, 8, FlowMod(1), 0));
        Assert.Equal(0, b.Count);
    }
}
