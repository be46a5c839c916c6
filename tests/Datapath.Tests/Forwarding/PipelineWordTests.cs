using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Datapath.Tunnels;
using Softswitch.Ofproto;
using Softswitch.TestKit;
using static Softswitch.Datapath.Tests.Forwarding.PipelineStageTests;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// The pipeline words beside the registers (docs/datapath.md, "Pipeline words"): pkt_mark (loaded, then matched in a
/// later table), actset_output (the action set's output, matched after write-actions), and the packet's words the key
/// has no room for (IP TTL, TCP flags, tunnel endpoints): frames of one key that differ only in them take different
/// rules while their verdicts are cached, and a pipeline that tests them forwards without allocating.
/// </summary>
public sealed class PipelineWordTests
{
    private static FlowMatch Ip => FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.DlType, new FlowKeyBuilder().DlType(0x0800).Key);

    /// <summary><paramref name="key"/>'s match with register-file words set by <paramref name="set"/> (mask, value).</summary>
    private static FlowMatch With(FlowMatch key, Action<Words> set)
    {
        var e = new Words { Mask = key.RegisterMask, Value = key.RegisterValue };
        set(e);
        return new FlowMatch(key.Mask, key.Value, e.Mask, e.Value);
    }

    /// <summary>A rule's pipeline-word mask and value, field by field.</summary>
    private sealed class Words
    {
        public Registers Mask, Value;

        public void Ttl(byte ttl)
        {
            Mask.PacketFields |= 0xFFUL << Registers.TtlShift;
            Value.PacketFields |= (ulong)ttl << Registers.TtlShift;
        }

        public void TcpFlags(ushort value, ushort mask)
        {
            Mask.PacketFields |= mask;
            Value.PacketFields |= (uint)(value & mask);
        }

        public void PktMark(uint value, uint mask = uint.MaxValue)
        {
            Mask.PktMark = mask;
            Value.PktMark = value & mask;
        }

        public void DpHash(uint value, uint mask = uint.MaxValue)
        {
            Mask.DpHash = mask;
            Value.DpHash = value & mask;
        }

        public void ActsetOutput(ushort port)
        {
            Mask.ActsetOutputCode = uint.MaxValue;
            Value.ActsetOutputCode = Registers.ActsetCode(port);
        }

        public void TunEndpoints(uint src, uint dst)
        {
            Mask.TunnelEndpoints = ulong.MaxValue;
            Value.TunnelEndpoints = Registers.TunnelEndpointsOf(src, dst);
        }

        public void TunSrc(uint value, uint mask)
        {
            Mask.TunnelEndpoints |= (ulong)mask << 32;
            Value.TunnelEndpoints |= (ulong)(value & mask) << 32;
        }
    }

    private static byte[] Tcp(byte ttl, byte flags)
    {
        var f = FrameBuilder.Tcp(MacA, MacB, IpA, IpB, 1000, 80);
        f[14 + 8] = ttl;
        f[14 + 20 + 13] = flags;
        return f;
    }

    [Fact]
    public void PacketWords_AreReadFromTheParsedFrame()
    {
        var f = Tcp(61, 0x12);
        f[14 + 20 + 12] |= 0x01; // the NS bit
        PacketParser.Parse(f, 1, out _, out var l);
        Assert.Equal(Registers.PacketFieldsOf(61, 0x112), PacketWords.Fields(f, l));
        var udp = Frame(MacA, MacB);
        PacketParser.Parse(udp, 1, out _, out l);
        Assert.Equal(Registers.PacketFieldsOf(udp[22], 0), PacketWords.Fields(udp, l)); // no TCP: flags 0
        var arp = FrameBuilder.Arp(1, MacA, IpA, default, IpB);
        PacketParser.Parse(arp, 1, out _, out l);
        Assert.Equal(0UL, PacketWords.Fields(arp, l));
    }

    [Fact]
    public void FramesOfOneKey_WithDifferentTtls_TakeDifferentRules_WhileTheCacheIsWarm()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, With(Ip, e => e.Ttl(64)), 20, [FlowAction.Output(2)]);
        r.Insert(0, Any, 10, [FlowAction.Output(3)]);
        Assert.True(r.Dp.Pipeline.IsMultiStage); // a match on the packet's words is the walk's
        for (int i = 0; i < 4; i++) // cached after the first round: the verdict is the key's, the TTL is not
        {
            r.Send(1, Tcp(64, 0x10));
            Assert.Single(r.Sent(2));
            r.Send(1, Tcp(63, 0x10));
            Assert.Single(r.Sent(3));
            Assert.Empty(r.Sent(2));
        }
    }

    [Fact]
    public void FramesOfOneKey_WithDifferentTcpFlags_TakeDifferentRules_InOneBurst()
    {
        using var r = new DatapathRig(3);
        // tcp_flags=+syn-ack (value 0x002 under 0x012): a connection's first segment only.
        r.Insert(0, With(Ip, e => e.TcpFlags(0x002, 0x012)), 20, [FlowAction.Output(2)]);
        r.Insert(0, Any, 10, [FlowAction.Output(3)]);
        for (int i = 0; i < 3; i++)
        {
            r.SendBurst(1, Tcp(64, 0x02), Tcp(64, 0x12), Tcp(64, 0x10), Tcp(64, 0x02));
            Assert.Equal(2, r.Sent(2).Count);
            Assert.Equal(2, r.Sent(3).Count);
        }
    }

    [Fact]
    public void ARuleOnTheTtl_InALaterTable_SeesTheTtlAnEarlierDecTtlLeft()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.DecNwTtl()], Goto(1));
        r.Insert(1, With(Ip, e => e.Ttl(63)), 20, [FlowAction.Output(2)]);
        r.Insert(1, Any, 10, [FlowAction.Output(3)]);
        for (int i = 0; i < 2; i++)
        {
            r.Send(1, Tcp(64, 0));
            Assert.Equal(63, Assert.Single(r.Sent(2))[22]);
            r.Send(1, Tcp(10, 0));
            Assert.Single(r.Sent(3));
        }
    }

    [Fact]
    public void PktMark_LoadedInOneTable_IsMatchedInALaterOne_AndStartsAtZero()
    {
        using var r = new DatapathRig(4);
        var mark = new FieldRef(PipelineField.PktMark, 0, 32);
        r.Insert(0, InPort(1), 10, [FlowAction.FieldLoad(mark, 5)], Goto(1));
        r.Insert(0, InPort(2), 10, [], Goto(1));
        r.Insert(1, With(Any, e => e.PktMark(5, 0xff)), 20, [FlowAction.Output(3)]);
        r.Insert(1, With(Any, e => e.PktMark(0)), 20, [FlowAction.Output(4)]);
        for (int i = 0; i < 2; i++)
        {
            r.Send(1, Frame(MacA, MacB));
            Assert.Single(r.Sent(3));
            r.Send(2, Frame(MacA, MacB));
            Assert.Single(r.Sent(4)); // port 2's run loaded nothing: pkt_mark 0
            Assert.Empty(r.Sent(3));
        }
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(1).Key);
        Assert.Equal(5u, walk.FinalRegisters.PktMark);
        Assert.Equal("pkt_mark=0x5", walk.FinalRegisters.ToString());
    }

    /// <summary>A dp_hash select group of two buckets, each resubmitting to table 2 (basis 11).</summary>
    private static Groups.Group DpHashGroup() => new(1, Groups.GroupType.Select,
    [
        new Groups.GroupBucket(new FlowActions([FlowAction.Resubmit(2)]), weight: 1),
        new Groups.GroupBucket(new FlowActions([FlowAction.Resubmit(2)]), weight: 1),
    ], 0, Groups.SelectMethod.DpHash, hashBasis: 11);

    /// <summary>The hash <see cref="DpHashGroup"/> computes for <paramref name="frame"/> (as the executor does).</summary>
    private static uint DpHashOf(byte[] frame)
    {
        Assert.Equal(ParseError.None, PacketParser.Parse(frame, 1, out _, out var layers));
        return ActionExecutor.DpHashOf(ActionExecutor.FlowHashOf(frame, layers), 11);
    }

    [Fact]
    public void DpHash_InTheTableADpHashGroupsBucketResubmitsTo_IsTheGroupsHash_ElsewhereZero()
    {
        const int flows = 64;
        using var r = new DatapathRig(7);
        r.Dp.Groups.Set(DpHashGroup());
        r.Dp.Pipeline.EnableStages();
        r.Insert(0, InPort(1), 10, [FlowAction.Group(1)]);
        r.Insert(0, InPort(2), 10, [FlowAction.Resubmit(2)]); // never passes the group
        r.Insert(0, InPort(3), 10, [], Goto(2)); // nor this one
        // Table 2 outputs by dp_hash's low two bits (ports 3-6); dp_hash=0 exactly (no group's hash is 0) to port 7.
        for (uint v = 0; v < 4; v++) r.Insert(2, With(Any, e => e.DpHash(v, 0x3)), 20, [FlowAction.Output((ushort)(3 + v))]);
        r.Insert(2, With(Any, e => e.DpHash(0)), 30, [FlowAction.Output(7)]);
        var used = new HashSet<int>();
        for (int i = 0; i < flows; i++)
        {
            var f = Frame(MacA, MacB, sport: (ushort)(1000 + i));
            uint h = DpHashOf(f);
            Assert.NotEqual(0u, h);
            int port = 3 + (int)(h & 3);
            used.Add(port);
            for (int round = 0; round < 2; round++) // the second from the cached verdict
            {
                r.Send(1, f);
                for (int p = 2; p <= 7; p++) Assert.Equal(p == port ? 1 : 0, r.Sent(p).Count);
            }
        }
        Assert.Equal(4, used.Count); // the flows spread where their hashes say
        for (int i = 0; i < 8; i++)
        {
            foreach (int inPort in new[] { 2, 3 })
            {
                r.Send(inPort, Frame(MacA, MacB, sport: (ushort)(5000 + i)));
                Assert.Single(r.Sent(7)); // dp_hash 0: no group touched them
                for (int p = 3; p <= 6; p++) Assert.Empty(r.Sent(p));
            }
        }
        var walk = new PipelineWalk();
        var key = new FlowKeyBuilder().InPort(1).Key;
        walk.Run(r.Dp.Pipeline, key);
        // After the group the hash stays (Open vSwitch resumes at the group after its recirculation, the hash set).
        Assert.Equal(ActionExecutor.DpHashOf(ActionExecutor.FlowHashOf(key), 11), walk.FinalRegisters.DpHash);
    }

    /// <summary>A dp_hash select group of <paramref name="ports"/>.Length buckets, each outputting to its port (basis <paramref name="basis"/>).</summary>
    private static Groups.Group DpHashOutputs(uint id, uint basis, params ushort[] ports) => new(id, Groups.GroupType.Select,
        [.. ports.Select(p => new Groups.GroupBucket(new FlowActions([FlowAction.Output(p)]), weight: 1))], 0, Groups.SelectMethod.DpHash, hashBasis: basis);

    [Fact]
    public void DpHash_AfterTheGroup_IsMatchedByTheTablesItsGotoAndAResubmitAfterItReach()
    {
        // The group's buckets only output (the executor could run them): the hash still stays after the group, for the
        // table the rule's goto reaches (in_port 1) and the table a resubmit after the group reaches (in_port 2).
        const int flows = 48;
        using var r = new DatapathRig(7);
        r.Dp.Groups.Set(DpHashOutputs(1, 11, 7));
        r.Dp.Pipeline.EnableStages();
        r.Insert(0, InPort(1), 10, [FlowAction.Group(1)], Goto(2));
        r.Insert(0, InPort(2), 10, [FlowAction.Group(1), FlowAction.Resubmit(2)]);
        for (uint v = 0; v < 4; v++) r.Insert(2, With(Any, e => e.DpHash(v, 0x3)), 20, [FlowAction.Output((ushort)(3 + v))]);
        r.Insert(2, With(Any, e => e.DpHash(0)), 30, [FlowAction.Output(2)]);
        var used = new HashSet<int>();
        foreach (ushort inPort in new ushort[] { 1, 2 })
        {
            for (int i = 0; i < flows; i++)
            {
                var f = Frame(MacA, MacB, sport: (ushort)(1000 + i));
                int port = 3 + (int)(DpHashOf(f) & 3);
                used.Add(port);
                for (int round = 0; round < 2; round++) // the second from the cached verdict
                {
                    r.Send(inPort, f);
                    Assert.Single(r.Sent(7)); // the bucket
                    for (int p = 2; p <= 6; p++) Assert.Equal(p == port ? 1 : 0, r.Sent(p).Count);
                }
            }
        }
        Assert.Equal(4, used.Count);
    }

    [Fact]
    public void DpHash_MovedAfterTheGroup_EachFlowGetsItsOwnHash_NotAnotherKeysCachedOne()
    {
        const int flows = 32;
        using var r = new DatapathRig(3);
        r.Dp.Groups.Set(DpHashOutputs(1, 11, 2));
        r.Dp.Pipeline.EnableStages();
        r.Insert(0, InPort(1), 10, [FlowAction.Group(1), FlowAction.FieldMove(new FieldRef(PipelineField.DpHash, 0, 32), new FieldRef(PipelineField.Ipv4Src, 0, 32)),
                                    FlowAction.Output(3)]);
        for (int round = 0; round < 2; round++)
        {
            for (int i = 0; i < flows; i++)
            {
                var f = Frame(MacA, MacB, sport: (ushort)(1000 + i));
                r.Send(1, f);
                Assert.Single(r.Sent(2));
                var sent = Assert.Single(r.Sent(3));
                Assert.Equal(DpHashOf(f), System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(sent.AsSpan(14 + 12)));
            }
        }
    }

    [Fact]
    public void ASecondDpHashGroup_PicksByTheHashTheFirstComputed()
    {
        // Open vSwitch hashes only a packet whose dp_hash is 0: the second group (another basis) picks by the first's hash.
        const int flows = 64;
        using var r = new DatapathRig(6);
        r.Dp.Groups.Set(DpHashOutputs(1, 11, 2));
        var second = DpHashOutputs(2, 0x5eed, 3, 4, 5, 6);
        r.Dp.Groups.Set(second);
        r.Dp.Pipeline.EnableStages();
        r.Insert(0, InPort(1), 10, [FlowAction.Group(1), FlowAction.Group(2)]);
        int differ = 0;
        for (int i = 0; i < flows; i++)
        {
            var f = Frame(MacA, MacB, sport: (ushort)(1000 + i));
            uint first = DpHashOf(f);
            Assert.Equal(ParseError.None, PacketParser.Parse(f, 1, out _, out var layers));
            uint own = ActionExecutor.DpHashOf(ActionExecutor.FlowHashOf(f, layers), 0x5eed);
            int port = 3 + second.Pick(first, null, 0);
            if (port != 3 + second.Pick(own, null, 0)) differ++;
            for (int round = 0; round < 2; round++)
            {
                r.Send(1, f);
                Assert.Single(r.Sent(2));
                for (int p = 3; p <= 6; p++) Assert.Equal(p == port ? 1 : 0, r.Sent(p).Count);
            }
        }
        Assert.True(differ > 0); // the flows where the two hashes pick differently are the ones the test tells apart
    }

    [Fact]
    public void ADpHashPipeline_ForwardsWithoutAllocating()
    {
        using var r = new DatapathRig(6);
        r.Dp.Groups.Set(DpHashOutputs(1, 11, 2));
        r.Dp.Pipeline.EnableStages();
        r.Insert(0, Any, 10, [FlowAction.Group(1)], Goto(2));
        for (uint v = 0; v < 4; v++) r.Insert(2, With(Any, e => e.DpHash(v, 0x3)), 20, [FlowAction.Output((ushort)(3 + v))]);
        for (int p = 2; p <= 6; p++) r.Port(p).CaptureSent = false;
        r.Port(1).SetGenerator([.. Enumerable.Range(0, 8).Select(i => Frame(MacA, MacB, sport: (ushort)(1000 + i)))], 0);
        long bytes = AllocationMeter.SteadyState(() =>
        {
            r.Port(1).SetGeneratorCount(4096);
            r.Dp.PollUntilIdle();
        }, rounds: 6);
        Assert.Equal(0, bytes);
    }

    [Fact]
    public void DpHash_MovedIntoAPacketField_EachFlowGetsItsOwnHash_NotAnotherKeysCachedOne()
    {
        // Every flow takes one chain of rules; what it composes differs by its hash alone: a verdict shared between two
        // keys of that chain would write the first one's hash into the second's packet.
        const int flows = 32;
        using var r = new DatapathRig(3);
        r.Dp.Groups.Set(DpHashGroup());
        r.Dp.Pipeline.EnableStages();
        r.Insert(0, InPort(1), 10, [FlowAction.Group(1)]);
        r.Insert(2, Ip, 10, [FlowAction.FieldMove(new FieldRef(PipelineField.DpHash, 0, 32), new FieldRef(PipelineField.Ipv4Src, 0, 32)), FlowAction.Output(3)]);
        for (int round = 0; round < 2; round++)
        {
            for (int i = 0; i < flows; i++)
            {
                var f = Frame(MacA, MacB, sport: (ushort)(1000 + i));
                r.Send(1, f);
                var sent = Assert.Single(r.Sent(3));
                Assert.Equal(DpHashOf(f), System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(sent.AsSpan(14 + 12)));
            }
        }
    }

    [Fact]
    public void ActsetOutput_IsTheActionSetsOutput_AfterWriteActions()
    {
        using var r = new DatapathRig(4);
        r.Insert(0, InPort(1), 10, [], Goto(1, new FlowActions([FlowAction.Output(3)])));
        r.Insert(0, InPort(2), 10, [], Goto(1));
        r.Insert(0, InPort(3), 10, [], Goto(1, new FlowActions([FlowAction.Output(2), FlowAction.Group(1)])));
        r.Insert(1, With(Any, e => e.ActsetOutput(3)), 20, [FlowAction.Output(2)]);
        r.Insert(1, With(Any, e => e.ActsetOutput(Registers.ActsetUnset)), 20, [FlowAction.Output(4)]);
        for (int i = 0; i < 2; i++)
        {
            r.Send(1, Frame(MacA, MacB));
            Assert.Single(r.Sent(2)); // actset_output=3 matched, then the set's output:3 ran
            Assert.Single(r.Sent(3));
            r.Send(2, Frame(MacA, MacB));
            Assert.Single(r.Sent(4)); // an empty set: unset
            r.Send(3, Frame(MacA, MacB));
            Assert.Single(r.Sent(4)); // a set with a group ignores its output: unset (Open vSwitch's)
            Assert.Empty(r.Sent(2));
        }
    }

    [Fact]
    public void TunnelEndpoints_AreMatched_AndAVerdictChecksThem()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, With(Any, e => e.TunSrc(0xC0A80001, 0xFFFFFF00)), 20, [FlowAction.Output(2)]);
        r.Insert(0, Any, 10, [FlowAction.Output(3)]);
        var key = new FlowKeyBuilder().InPort(1).DlType(0x0800).Key;
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, key, tunnel: Registers.TunnelEndpointsOf(0xC0A80007, 0x0A000001));
        Assert.Equal([FlowAction.Output(2)], walk.Composed.ToArray());
        var v = VerdictInterner.Build(walk);
        Assert.True(v.PacketDependent);
        Assert.True(v.PacketMatches(Registers.TunnelEndpointsOf(0xC0A80009, 0x0A000002), 0)); // same /24: same verdict
        Assert.False(v.PacketMatches(Registers.TunnelEndpointsOf(0xC0A80109, 0x0A000001), 0));
        walk.Run(r.Dp.Pipeline, key); // off a tunnel: 0.0.0.0
        Assert.Equal([FlowAction.Output(3)], walk.Composed.ToArray());
        Assert.False(VerdictInterner.Build(walk).PacketMatches(Registers.TunnelEndpointsOf(0xC0A80009, 0), 0));
    }

    [Fact]
    public void ADecapsulatedPacket_IsMatchedByTheTunnelsEndpoints()
    {
        using var r = new Tunnels.TunnelRig().WithTunnels(TunnelKind.Vxlan, 100);
        r.SideA.Insert(0, Tunnels.TunnelRig.InPort(Tunnels.TunnelRig.Host), 100, [FlowAction.Output(Tunnels.TunnelRig.Tun)]);
        var marked = MacAddress.Parse("00:00:00:00:0e:0e");
        // On B: from A's underlay address (10.0.0.1) to B's (10.0.0.2) the source MAC is rewritten; another source is not.
        r.SideB.Insert(0, With(Tunnels.TunnelRig.InPort(Tunnels.TunnelRig.Tun), e => e.TunEndpoints(Tunnels.TunnelRig.IpA, Tunnels.TunnelRig.IpB)), 200,
                       [FlowAction.SetDlSrc(marked), FlowAction.Output(Tunnels.TunnelRig.Host)]);
        r.SideB.Insert(0, With(Tunnels.TunnelRig.InPort(Tunnels.TunnelRig.Tun), e => e.TunEndpoints(0x0a000009, Tunnels.TunnelRig.IpB)), 300,
                       [FlowAction.Output(PortNumber.Controller, 0xffff)]);
        r.SideB.Insert(0, Tunnels.TunnelRig.InPort(Tunnels.TunnelRig.Tun), 100, [FlowAction.Output(Tunnels.TunnelRig.Host)]);
        for (int i = 0; i < 2; i++)
        {
            r.HostA.Inject(FrameBuilder.Udp(MacA, MacB, IpA, IpB, 1000, 2000));
            r.Pump();
            Assert.Equal(marked, MacAddress.Read(Assert.Single(r.HostB.TakeSent()).AsSpan(6)));
        }
    }

    [Fact]
    public void APipelineWithoutSuchRules_BuildsVerdictsOfTheKeyAlone()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Ip, 10, [FlowAction.Output(2)], Goto(1));
        r.Insert(1, With(Any, e => e.PktMark(0)), 10, [FlowAction.Output(3)]);
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, new FlowKeyBuilder().InPort(1).DlType(0x0800).Key, packet: Registers.PacketFieldsOf(64, 2));
        Assert.False(VerdictInterner.Build(walk).PacketDependent);
        Assert.Equal(0UL, walk.PacketFieldsMask);
    }

    [Fact]
    public void ATtlPipeline_ForwardsWithoutAllocating()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, With(Ip, e => e.Ttl(64)), 20, [FlowAction.Output(2)]);
        r.Insert(0, With(Ip, e => e.TcpFlags(0x002, 0x002)), 15, [FlowAction.Output(3)]);
        r.Insert(0, Any, 10, [FlowAction.Output(3)]);
        r.Port(2).CaptureSent = false;
        r.Port(3).CaptureSent = false;
        r.Port(1).SetGenerator([Tcp(64, 0x10), Tcp(64, 0x02), Tcp(63, 0x02), Tcp(62, 0x10)], 0);
        long bytes = AllocationMeter.SteadyState(() =>
        {
            r.Port(1).SetGeneratorCount(4096);
            r.Dp.PollUntilIdle();
        }, rounds: 6);
        Assert.Equal(0, bytes);
    }
}
