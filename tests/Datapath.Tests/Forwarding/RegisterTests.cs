using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.TestKit;
using static Softswitch.Datapath.Tests.Forwarding.PipelineStageTests;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// Open vSwitch's registers in the pipeline walk: a register file zeroed per run, matched by rules (only subtables whose
/// mask tests registers read it), written by loads and moves (a move also from and into packet fields), read by
/// output:REG; carried over a re-parse point; shown by the trace; and the cached verdicts they compose shared only
/// between packets whose register actions read the same values.
/// </summary>
public sealed class RegisterTests
{
    private static FieldRef Reg(int i, int ofs = 0, int bits = 32) => new((PipelineField)i, ofs, bits);
    private static FieldRef XReg(int i, int ofs = 0, int bits = 64) => new((PipelineField)((int)PipelineField.XReg0 + i), ofs, bits);
    private static FieldRef XXReg(int i, int ofs = 0, int bits = 128) => new((PipelineField)((int)PipelineField.XXReg0 + i), ofs, bits);

    /// <summary>A match of register <paramref name="i"/> (and <paramref name="key"/>'s match).</summary>
    private static FlowMatch RegMatch(int i, uint value, uint mask = uint.MaxValue, FlowMatch? key = null)
    {
        var k = key ?? Any;
        var m = k.RegisterMask;
        var v = k.RegisterValue;
        m.SetReg(i, mask);
        v.SetReg(i, value);
        return new FlowMatch(k.Mask, k.Value, m, v);
    }

    [Fact]
    public void RegisterViews_AreOneFile_BesideThePipelineWords()
    {
        var r = new Registers();
        r.SetXReg(0, 0x1111_1111_2222_2222);
        Assert.Equal(0x1111_1111u, r.Reg(0));
        Assert.Equal(0x2222_2222u, r.Reg(1));
        r.SetXXReg(1, ((UInt128)0x0102_0304_0506_0708 << 64) | 0x090a_0b0c_0d0e_0f10);
        Assert.Equal([0x0102_0304u, 0x0506_0708u, 0x090a_0b0cu, 0x0d0e_0f10u], new[] { r.Reg(4), r.Reg(5), r.Reg(6), r.Reg(7) });
        Assert.Equal(0x0506_0708_090a_0b0cUL, (ulong)(r.XXReg(1) >> 32));
        r.SetReg(1, 7);
        Assert.Equal(0x1111_1111_0000_0007UL, r.XReg(0));
        Assert.Equal(96, System.Runtime.CompilerServices.Unsafe.SizeOf<Registers>()); // 16 registers, then 4 pipeline words
        Assert.Equal("reg0=0x11111111,reg1=0x7,reg4=0x1020304,reg5=0x5060708,reg6=0x90a0b0c,reg7=0xd0e0f10", r.ToString());
    }

    [Fact]
    public void ATableMatchesALoadedRegister_AndEveryRunStartsWithZeros()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, InPort(1), 10, [FlowAction.FieldLoad(Reg(0), 5), FlowAction.Resubmit(1)]);
        r.Insert(0, InPort(2), 10, [FlowAction.Resubmit(1)]);
        r.Insert(1, RegMatch(0, 5), 10, [FlowAction.Output(3)]);
        r.Insert(1, RegMatch(0, 6), 10, [FlowAction.Output(2)]);
        r.Insert(1, RegMatch(0, 0), 10, [FlowAction.Output(1)]);
        for (int i = 0; i < 2; i++) // the second round takes the cached verdicts
        {
            r.Send(1, Frame(MacA, MacB));
            Assert.Single(r.Sent(3));
            r.Send(2, Frame(MacA, MacB));
            Assert.Single(r.Sent(1)); // port 2's run loaded nothing: reg0 is 0 there, not port 1's 5
            Assert.Empty(r.Sent(2));
        }
    }

    [Fact]
    public void AMaskedRegisterMatch_AndAKeyFieldInTheSameRule()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.FieldLoad(Reg(3, 4, 4), 0xA), FlowAction.Resubmit(1)]);
        r.Insert(1, RegMatch(3, 0xA0, 0xF0, DlDst(MacB)), 10, [FlowAction.Output(2)]);
        r.Insert(1, RegMatch(3, 0xA0, 0xF0, DlDst(MacC)), 10, [FlowAction.Output(3)]);
        r.Send(1, Frame(MacA, MacB));
        r.Send(1, Frame(MacA, MacC));
        Assert.Single(r.Sent(2));
        Assert.Single(r.Sent(3));
    }

    [Fact]
    public void AMove_FromAPacketField_ThroughARegister_IntoAPacketField()
    {
        using var r = new DatapathRig(3);
        // eth_src -> xreg1[0..47] -> eth_dst: every packet leaves with its source as its destination.
        r.Insert(0, Any, 10, [FlowAction.FieldMove(new FieldRef(PipelineField.EthSrc, 0, 48), XReg(1, 0, 48)), FlowAction.Resubmit(1)]);
        r.Insert(1, Any, 10, [FlowAction.FieldMove(XReg(1, 0, 48), new FieldRef(PipelineField.EthDst, 0, 48)), FlowAction.Output(2)]);
        for (int i = 0; i < 2; i++)
        {
            // One chain of rules, two sources: each packet's verdict is its own (the walk read different values).
            r.Send(1, Frame(MacA, MacB));
            Assert.Equal(MacA, MacAddress.Read(Assert.Single(r.Sent(2))));
            r.Send(1, Frame(MacC, MacB));
            Assert.Equal(MacC, MacAddress.Read(Assert.Single(r.Sent(2))));
        }
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(1).DlSrc(MacA).DlDst(MacB).Key);
        Assert.Equal([FlowAction.SetDlDst(MacA), FlowAction.Output(2)], walk.Composed.ToArray());
        Assert.Equal(MacA.Value, walk.FinalRegisters.XReg(1));
        Assert.Equal(MacA, walk.FinalKey.DlDst); // later tables see the rewritten packet
    }

    [Fact]
    public void APartialMoveIntoAPacketField_KeepsTheFieldsOtherBits()
    {
        using var r = new DatapathRig(3);
        // The last byte of ip_dst from in_port: 10.0.0.2 -> 10.0.0.1 on port 1.
        r.Insert(0, Any, 10, [FlowAction.FieldMove(new FieldRef(PipelineField.InPort, 0, 8), new FieldRef(PipelineField.Ipv4Dst, 0, 8)),
                              FlowAction.Output(2)]);
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(1).DlType(0x0800).NwDst(IpB).Key);
        Assert.Equal([FlowAction.SetNwDst(IpA), FlowAction.Output(2)], walk.Composed.ToArray());
    }

    [Fact]
    public void OutputToARegister_SendsToThePortItHolds()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, InPort(1), 10, [FlowAction.FieldLoad(Reg(0, 0, 16), 3), FlowAction.Resubmit(1)]);
        r.Insert(0, InPort(2), 10, [FlowAction.FieldLoad(Reg(0, 0, 16), 1), FlowAction.Resubmit(1)]);
        r.Insert(0, InPort(3), 10, [FlowAction.FieldLoad(Reg(0), 0x10001), FlowAction.Resubmit(1)]);
        r.Insert(1, Any, 10, [FlowAction.OutputField(Reg(0))]);
        r.Send(1, Frame(MacA, MacB));
        Assert.Single(r.Sent(3));
        r.Send(2, Frame(MacA, MacB));
        Assert.Single(r.Sent(1));
        r.Send(3, Frame(MacA, MacB)); // past 16 bits: no port, no output (Open vSwitch's output_reg)
        Assert.Empty(r.Sent(1));
        Assert.Empty(r.Sent(2));
        Assert.Empty(r.Sent(3));
        Assert.Equal(PortNumber.InPort, PipelineWalk.OutputPort(0xFFF8));
        Assert.Equal(PortNumber.Controller, PipelineWalk.OutputPort(0xFFFD));
        Assert.Equal(PortNumber.Local, PipelineWalk.OutputPort(0xFFFE));
        Assert.Equal((ushort)0, PipelineWalk.OutputPort(0xFFFF));
        Assert.Equal((ushort)0, PipelineWalk.OutputPort(0));
    }

    [Fact]
    public void OutputToAPacketField_IsPerPacket()
    {
        using var r = new DatapathRig(3);
        // output:udp_src[0..1]: source port 1001 -> port 1, 1002 -> port 2.
        r.Insert(0, Any, 10, [FlowAction.OutputField(new FieldRef(PipelineField.UdpSrc, 0, 2))]);
        for (int i = 0; i < 2; i++)
        {
            r.Send(3, Frame(MacA, MacB, sport: 1001));
            r.Send(3, Frame(MacA, MacB, sport: 1002));
            Assert.Single(r.Sent(1));
            Assert.Single(r.Sent(2));
        }
    }

    [Fact]
    public void WideViews_LoadAndMatchAcrossTheirRegisters()
    {
        using var r = new DatapathRig(3);
        UInt128 v = ((UInt128)0xAAAA_0000_0000_0001 << 64) | 0x0000_0002_0000_0005;
        r.Insert(0, Any, 10, [FlowAction.FieldLoad(XXReg(0), v), FlowAction.Resubmit(1)]);
        // xxreg0's lowest 32 bits are reg3, its highest reg0.
        r.Insert(1, RegMatch(3, 5, key: RegMatch(0, 0xAAAA0000)), 10, [FlowAction.Output(2)]);
        r.Send(1, Frame(MacA, MacB));
        Assert.Single(r.Sent(2));
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(1).Key);
        Assert.Equal(v, walk.FinalRegisters.XXReg(0));
        Assert.Equal(2u, walk.FinalRegisters.Reg(2));
    }

    [Fact]
    public void TheContinuationAfterAReparsePoint_CarriesTheRegisters()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.FieldLoad(Reg(7), 42), FlowAction.PopMpls(0x0800)], Goto(1));
        r.Insert(1, RegMatch(7, 42), 10, [FlowAction.Output(2)]);
        r.Insert(1, Any, 1, [FlowAction.Output(3)]);
        for (int i = 0; i < 2; i++)
        {
            r.Send(1, ReparseTests.Mpls(Frame(MacA, MacB)));
            Assert.Single(r.Sent(2));
            Assert.Empty(r.Sent(3));
        }
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(1).DlType(0x8847).MplsBos(1).Key);
        Assert.Equal(PipelineEnd.Recirculate, walk.End);
        Assert.Equal(42u, walk.Next!.Head.Registers.Reg(7));
    }

    [Fact]
    public void RegisterActionsInTheActionSet_RunAtItsEnd_InOrder_BeforeItsOutput()
    {
        using var r = new DatapathRig(4);
        var ipDst = new FieldRef(PipelineField.Ipv4Dst, 0, 32);
        // The set moves reg1 into the IP destination; table 1 loads reg1 after the write, and the move sees it. Two
        // loads of one register's halves are kept both, in order; a move reads what the load before it wrote.
        r.Insert(0, InPort(1), 10, [], Goto(1, write: new FlowActions([
            FlowAction.FieldLoad(Reg(2, 0, 16), 0x0063), FlowAction.FieldLoad(Reg(2, 16, 16), 0x0a00),
            FlowAction.FieldMove(Reg(2), ipDst), FlowAction.Output(2)])));
        r.Insert(1, Any, 10, [FlowAction.FieldLoad(Reg(1), 0x0a000042)]);
        // Port 2: the set's move of reg1, loaded by table 1 after the write.
        r.Insert(0, InPort(2), 10, [], Goto(1, write: new FlowActions([FlowAction.FieldMove(Reg(1), ipDst), FlowAction.Output(3)])));
        // Port 3: a clear-actions in table 1 takes the set's register actions too.
        r.Insert(0, InPort(3), 10, [], Goto(2, write: new FlowActions([FlowAction.FieldMove(Reg(1), ipDst), FlowAction.Output(4)])));
        r.Insert(2, Any, 10, [FlowAction.FieldLoad(Reg(1), 0x0a000042)], new FlowInstructions(new FlowActions([FlowAction.Output(4)]), true, 0, 0, FlowInstructions.NoGoto));
        for (int i = 0; i < 2; i++) // the second round takes the cached verdicts
        {
            r.Send(1, Frame(MacA, MacB));
            Assert.Equal(FrameBuilder.Udp(MacA, MacB, IpA, 0x0a000063, 1000, 2000), Assert.Single(r.Sent(2)));
            r.Send(2, Frame(MacA, MacB));
            Assert.Equal(FrameBuilder.Udp(MacA, MacB, IpA, 0x0a000042, 1000, 2000), Assert.Single(r.Sent(3)));
            r.Send(3, Frame(MacA, MacB));
            Assert.Equal(Frame(MacA, MacB), Assert.Single(r.Sent(4)));
        }
        // The set's resubmit sees what the set's load wrote.
        r.Insert(0, InPort(4), 10, [], Goto(1, write: new FlowActions([FlowAction.FieldLoad(Reg(5), 7), FlowAction.Resubmit(4)])));
        r.Insert(4, RegMatch(5, 7), 10, [FlowAction.Output(1)]);
        r.Insert(4, Any, 1, [FlowAction.Output(2)]);
        r.Send(4, Frame(MacA, MacB));
        Assert.Single(r.Sent(1));
        Assert.Empty(r.Sent(2));
    }

    [Fact]
    public void TheActionSetsRegisterActions_CrossAReparsePoint_AndAreKeptInOrder()
    {
        var set = new ActionSet();
        set.Write(new FlowActions([FlowAction.Output(2), FlowAction.FieldLoad(Reg(0), 1), FlowAction.SetDlDst(MacC), FlowAction.FieldLoad(Reg(0), 2)]));
        set.Write(new FlowActions([FlowAction.FieldMove(Reg(0), Reg(1))]));
        var run = new List<FlowAction>();
        set.AppendTo(run);
        Assert.Equal([ActionKind.SetDlDst, ActionKind.FieldLoad, ActionKind.FieldLoad, ActionKind.FieldMove, ActionKind.Output], run.Select(a => a.Kind));
        Assert.Equal([(UInt128)1, 2], run.Where(a => a.Kind == ActionKind.FieldLoad).Select(a => a.Wide));
        var copy = new List<FlowAction>();
        set.CopyTo(copy);
        var again = new ActionSet();
        again.Load(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(copy));
        var rerun = new List<FlowAction>();
        again.AppendTo(rerun);
        Assert.Equal(run, rerun);
        set.Clear();
        Assert.True(set.IsEmpty);

        // Through a re-parse point: the set's load made before it runs at the end of the continuation.
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.PopMpls(0x0800)], Goto(1, write: new FlowActions([FlowAction.FieldLoad(Reg(1), 0x0a000042),
            FlowAction.FieldMove(Reg(1), new FieldRef(PipelineField.Ipv4Dst, 0, 32)), FlowAction.Output(2)])));
        r.Insert(1, Any, 10, []);
        r.Send(1, ReparseTests.Mpls(Frame(MacA, MacB)));
        Assert.Equal(FrameBuilder.Udp(MacA, MacB, IpA, 0x0a000042, 1000, 2000), Assert.Single(r.Sent(2)));
    }

    [Fact]
    public void AMoveFromAPacketFieldAfterAReparsePoint_DropsThePacket()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.PopMpls(0x0800), FlowAction.FieldMove(new FieldRef(PipelineField.Ipv4Src, 0, 32), Reg(0)), FlowAction.Output(2)]);
        r.Send(1, ReparseTests.Mpls(Frame(MacA, MacB)));
        Assert.Empty(r.Sent(2));
        Assert.Equal(1, r.Dp.DropCount(DropReason.Resubmit));
    }

    [Fact]
    public void TheTrace_ShowsTheRegistersEachTableLookedUpWith()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.FieldLoad(Reg(1), 9), FlowAction.Resubmit(1)]);
        r.Insert(1, RegMatch(1, 9), 10, [FlowAction.FieldLoad(Reg(2), 3), FlowAction.Output(2)]);
        var steps = new List<PipelineTraceStep>();
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(1).Key, steps);
        Assert.True(steps[0].Registers.IsZero);
        Assert.Equal(9u, steps[1].Registers.Reg(1));
        Assert.NotNull(steps[1].Lookup.Entry);
        Assert.Equal("reg1=0x9,reg2=0x3", walk.FinalRegisters.ToString());
    }

    [Fact]
    public void RegisterRules_AreFoundStrictlyAndByRequest_AndOnlyTheirSubtablesReadRegisters()
    {
        var t = new FlowTable();
        FlowEntry a, b, c;
        using (var w = t.Write())
        {
            a = w.NewEntry(RegMatch(0, 1), 10, new FlowActions([FlowAction.Output(1)]), 0, 0, 0);
            b = w.NewEntry(RegMatch(0, 2), 10, new FlowActions([FlowAction.Output(2)]), 0, 0, 0);
            c = w.NewEntry(InPort(1), 5, new FlowActions([FlowAction.Output(3)]), 0, 0, 0);
            w.Insert(a);
            w.Insert(b);
            w.Insert(c);
        }
        var key = new FlowKeyBuilder().InPort(1).Key;
        var regs = new Registers();
        Assert.Same(c, t.Lookup(key)); // every register 0
        regs.SetReg(0, 2);
        Assert.Same(b, t.Lookup(key, regs));
        regs.SetReg(0, 1);
        Assert.Same(a, t.Lookup(key, regs));
        Assert.Same(a, t.Trace(key, regs).Entry);
        Assert.Equal(LookupShape.General, t.Shape); // a register rule is never answered per in_port
        using (var w = t.Write())
        {
            Assert.Same(b, w.Find(RegMatch(0, 2), 10));
            Assert.Null(w.Find(RegMatch(0, 3), 10));
            var found = new List<FlowEntry>();
            w.CollectSubsets(RegMatch(0, 1), found);
            Assert.Equal([a], found);
            found.Clear();
            w.CollectSubsets(RegMatch(0, 0, 0xFFFF_FFF0), found); // reg0 in 0..15: both
            Assert.Equal(2, found.Count);
            found.Clear();
            w.CollectSubsets(Any, found);
            Assert.Equal(3, found.Count);
            Assert.True(w.HasOverlap(RegMatch(0, 1, 0xFF), 10));
            Assert.False(w.HasOverlap(RegMatch(0, 3), 10));
        }
        Assert.False(RegMatch(0, 1).IsExact);
        Assert.NotEqual(RegMatch(0, 1), RegMatch(0, 2));
        Assert.Equal(RegMatch(0, 1), RegMatch(0, 1));
        Assert.True(RegMatch(0, 1).IsSubsetOf(RegMatch(0, 1, 0xF)));
        Assert.False(RegMatch(0, 1, 0xF).IsSubsetOf(RegMatch(0, 1)));
    }

    [Fact]
    public void ARegisterPipeline_IsOneCachedVerdict_AndAllocatesNothingPerPacket()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, InPort(1), 10, [FlowAction.FieldMove(new FieldRef(PipelineField.InPort, 0, 16), Reg(0, 0, 16)), FlowAction.Resubmit(1)]);
        r.Insert(1, RegMatch(0, 1), 10, [FlowAction.FieldLoad(Reg(1), 2), FlowAction.Resubmit(2)]);
        r.Insert(2, Any, 10, [FlowAction.OutputField(Reg(1))]);
        r.Port(2).CaptureSent = false;
        var frame = Frame(MacA, MacB);
        r.Send(1, frame, times: 4);
        Assert.Equal(1, r.Fwd.PipelineWalks);
        r.Port(1).SetGenerator([frame], 0);
        long built = r.Fwd.VerdictsBuilt, walks = r.Fwd.PipelineWalks;
        long sent = r.Port(2).Counters.TxPackets;
        long alloc = AllocationMeter.SteadyState(() =>
        {
            r.Port(1).SetGeneratorCount(64);
            r.Dp.PollUntilIdle();
        });
        Assert.Equal(0, r.Fwd.VerdictsBuilt - built);
        Assert.Equal(walks, r.Fwd.PipelineWalks);
        Assert.True(r.Port(2).Counters.TxPackets > sent);
        Assert.Equal(0, alloc);
    }
}
