using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.TestKit;
using static Softswitch.Datapath.Tests.Forwarding.PipelineStageTests;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// Open vSwitch's clone in the pipeline walk and the executor: its actions run on a copy of the packet, with an action
/// set of their own that runs at their end; after it the packet, its key and its registers are what they were, so a
/// resubmit after it looks up the packet as it came; an exit in it ends everything; a clone's fast path allocates nothing.
/// </summary>
public sealed class CloneTests
{
    private static FieldRef Reg0 => new(PipelineField.Reg0, 0, 32);

    [Fact]
    public void TheClonesRewrite_ReachesItsOutputOnly_TheOutputAfterItSendsThePacketAsItCame()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.CloneOf(2), FlowAction.SetDlDst(MacC), FlowAction.Output(2), FlowAction.Output(3)]);
        for (int i = 0; i < 2; i++) // the second packet takes the cached verdict
        {
            r.Send(1, Frame(MacA, MacB));
            Assert.Equal(MacC, MacAddress.Read(Assert.Single(r.Sent(2))));
            Assert.Equal(MacB, MacAddress.Read(Assert.Single(r.Sent(3))));
        }
    }

    [Fact]
    public void APushInTheClone_LeavesThePacketUntagged_AfterIt()
    {
        using var r = new DatapathRig(3);
        byte[] frame = Frame(MacA, MacB);
        r.Insert(0, Any, 10, [FlowAction.CloneOf(3), FlowAction.PushVlan(0x8100), FlowAction.SetVlanVid(5), FlowAction.Output(2), FlowAction.Output(3)]);
        r.Send(1, frame);
        var tagged = Assert.Single(r.Sent(2));
        Assert.Equal(frame.Length + 4, tagged.Length);
        Assert.Equal(0x8100, tagged[12] << 8 | tagged[13]);
        Assert.Equal(5, (tagged[14] << 8 | tagged[15]) & 0xfff);
        Assert.Equal(frame, Assert.Single(r.Sent(3)));
    }

    [Fact]
    public void AResubmitAfterTheClone_LooksUpThePacketAsItCame_ItsRegistersToo()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.CloneOf(2), FlowAction.SetDlDst(MacC), FlowAction.FieldLoad(Reg0, 5), FlowAction.Resubmit(1)]);
        r.Insert(1, DlDst(MacC), 10, [FlowAction.Output(2)]);
        r.Insert(1, Any, 1, [FlowAction.Output(3)]);
        r.Send(1, Frame(MacA, MacB));
        Assert.Empty(r.Sent(2));
        Assert.Equal(MacB, MacAddress.Read(Assert.Single(r.Sent(3))));
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(1).DlDst(MacB).Key);
        Assert.Equal(0u, walk.FinalRegisters.Reg(0));
        Assert.Equal(MacB, walk.FinalKey.DlDst);
    }

    [Fact]
    public void AResubmitInTheClone_ComposesWhatItFinds_AndTheClonesActionSetRunsAtItsEnd()
    {
        using var r = new DatapathRig(3);
        // Table 1 writes an output to its action set: the clone's, run on the copy when the clone ends; the packet's
        // own action set (table 0's write-actions) still runs at the end of the pipeline.
        r.Insert(0, Any, 10, [FlowAction.CloneOf(1), FlowAction.Resubmit(1)],
                 new FlowInstructions(new FlowActions([FlowAction.Output(3)])));
        r.Insert(1, Any, 10, [FlowAction.SetDlDst(MacC)], new FlowInstructions(new FlowActions([FlowAction.Output(2)])));
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(1).Key);
        Assert.Equal([FlowAction.CloneOf(2), FlowAction.SetDlDst(MacC), FlowAction.Output(2), FlowAction.Output(3)], walk.Composed.ToArray());
        Assert.True(walk.UsedRegisterActions); // walked anew, never repaired
        r.Send(1, Frame(MacA, MacB));
        Assert.Equal(MacC, MacAddress.Read(Assert.Single(r.Sent(2))));
        Assert.Equal(MacB, MacAddress.Read(Assert.Single(r.Sent(3))));
    }

    [Fact]
    public void AnExitInTheClone_EndsEverything_AsOpenVswitchsDoes()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.CloneOf(2), FlowAction.Output(2), FlowAction.Exit(), FlowAction.Output(3)]);
        r.Send(1, Frame(MacA, MacB));
        Assert.Single(r.Sent(2));
        Assert.Empty(r.Sent(3));
    }

    [Fact]
    public void AnEmptyClone_ComposesNothing_AndCloneLastRunsOnThePacketItself()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.CloneOf(0), FlowAction.Output(3), FlowAction.CloneOf(2), FlowAction.SetDlDst(MacC), FlowAction.Output(2)]);
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(1).Key);
        Assert.Equal([FlowAction.Output(3), FlowAction.CloneOf(2), FlowAction.SetDlDst(MacC), FlowAction.Output(2)], walk.Composed.ToArray());
        r.Send(1, Frame(MacA, MacB));
        Assert.Equal(MacC, MacAddress.Read(Assert.Single(r.Sent(2))));
        Assert.Equal(MacB, MacAddress.Read(Assert.Single(r.Sent(3))));
    }

    [Fact]
    public void ClonesNestedInClones_EachSeesItsOwnCopy()
    {
        using var r = new DatapathRig(4);
        r.Insert(0, Any, 10, [FlowAction.CloneOf(5), FlowAction.SetDlDst(MacC), FlowAction.CloneOf(2), FlowAction.SetDlDst(MacA), FlowAction.Output(2),
                              FlowAction.Output(3), FlowAction.Output(4)]);
        r.Send(1, Frame(MacA, MacB));
        Assert.Equal(MacA, MacAddress.Read(Assert.Single(r.Sent(2))));
        Assert.Equal(MacC, MacAddress.Read(Assert.Single(r.Sent(3))));
        Assert.Equal(MacB, MacAddress.Read(Assert.Single(r.Sent(4))));
    }

    [Fact]
    public void ACloneFlowsFastPath_AllocatesNothing()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.CloneOf(2), FlowAction.SetDlDst(MacC), FlowAction.Output(2), FlowAction.Resubmit(1)]);
        r.Insert(1, Any, 10, [FlowAction.Output(3)]);
        r.Port(2).CaptureSent = false;
        r.Port(3).CaptureSent = false;
        r.Port(1).SetGenerator([Frame(MacA, MacB), Frame(MacA, MacC)], 0);
        long allocated = long.MaxValue, group = 0;
        for (int round = 0; round < 40; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            r.Port(1).SetGeneratorCount(4);
            r.Dp.PollUntilIdle();
            if (round < 8) continue;
            group += GC.GetAllocatedBytesForCurrentThread() - before;
            if (round % 8 == 7)
            {
                allocated = Math.Min(allocated, group);
                group = 0;
            }
        }
        Assert.Equal(0, allocated);
        Assert.True(r.Port(2).Counters.TxPackets >= 100 && r.Port(3).Counters.TxPackets >= 100, $"{r.Port(2).Counters.TxPackets} {r.Port(3).Counters.TxPackets}");
    }
}
