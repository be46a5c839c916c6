using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Packets;
using Softswitch.OfAgent.Tests.Of13;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.OfWire.Of13;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// Real ovs-ofctl with Open vSwitch's sample action (NXAST_SAMPLE, SAMPLE2, SAMPLE3) over OpenFlow 1.0, 1.3, 1.4 and 1.5: the flow
/// is taken, dumped as ovs-ofctl wrote it (text and bytes), re-added from its dump, and a packet through it is sampled
/// with the action's ids (probability 65535: every packet) while it is forwarded unchanged.
/// </summary>
public sealed class OvsOfctlSampleTests
{
    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01"), H2 = MacAddress.Parse("00:00:00:00:00:02");

    /// <summary>sample(probability=65535,collector_set_id=1,obs_domain_id=2,obs_point_id=3) as ovs-ofctl encodes it (NXAST_SAMPLE).</summary>
    private const string SampleBytes = "FFFF001800002320001DFFFF000000010000000200000003";

    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow10")]
    [InlineData("OpenFlow13")]
    [InlineData("OpenFlow14")]
    [InlineData("OpenFlow15")]
    public async Task ASampleAction_IsTakenDumpedAndReAdded_AndSamplesEveryPacketWithItsIds(string v)
    {
        await using var rig = OvsOfctl.Rig();
        rig.Dp.FlowSampling = true;
        OvsOfctl.Ok(rig, v, "add-flow", "priority=10,in_port=1,actions=sample(probability=65535,collector_set_id=1,obs_domain_id=2,obs_point_id=3),output:2");
        OvsOfctl.Ok(rig, v, "add-flow", "priority=10,in_port=3,actions=sample(probability=100,collector_set_id=7,obs_domain_id=8,obs_point_id=9,sampling_port=2,egress),output:4");
        OvsOfctl.Ok(rig, v, "add-flow", "priority=10,in_port=4,actions=sample(probability=1,collector_set_id=4294967295,obs_domain_id=0,obs_point_id=4294967295,sampling_port=LOCAL)");
        string first = OvsOfctl.Ok(rig, v, "dump-flows", "--no-stats");
        Assert.Contains("priority=10,in_port=1 actions=sample(probability=65535,collector_set_id=1,obs_domain_id=2,obs_point_id=3),output:2", first);
        Assert.Contains("priority=10,in_port=3 actions=sample(probability=100,collector_set_id=7,obs_domain_id=8,obs_point_id=9,sampling_port=2,egress),output:4", first);
        Assert.Contains("priority=10,in_port=4 actions=sample(probability=1,collector_set_id=4294967295,obs_domain_id=0,obs_point_id=4294967295,sampling_port=LOCAL)", first);
        Assert.Equal(first, OvsOfctl.ReAdd(rig, v, OvsOfctl.FlowLines(first)));

        var frame = FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10);
        for (int i = 0; i < 3; i++) rig.Ports[0].Inject(frame);
        rig.Poll();
        Assert.Equal(3, rig.Ports[1].TakeSent().Count);
        var header = new byte[PacketSampler.HeaderSize];
        int samples = 0;
        foreach (var f in rig.Dp.Forwarders)
        {
            while (f.FlowSampler.TryRead(header, out var s))
            {
                samples++;
                Assert.Equal(new FlowSample(1, 0xffff, 0, 65535, 1, 2, 3, frame.Length, frame.Length), s);
                Assert.Equal(frame, header[..s.HeaderLength]);
            }
        }
        Assert.Equal(3, samples);
        Assert.Contains("n_packets=3,", OvsOfctl.Ok(rig, v, "dump-flows", "in_port=1"));
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task TheSwitchGivesBackTheBytesOvsOfctlSent()
    {
        await using var rig = new AgentRig();
        OvsOfctl.Ok(rig, "OpenFlow13", "add-flow", "table=3,actions=sample(probability=65535,collector_set_id=1,obs_domain_id=2,obs_point_id=3)");
        using var c = await Of13SessionTests.Controller13.ConnectAsync(rig.ListenPort);
        var fr = new Ofp13FlowStatsRequest { TableId = 3, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny };
        var reply = await c.ReplyAsync(c.Send(new Ofp13MultipartRequest { Version = Ofp13.Version, Type = Ofp13MultipartType.Flow }.Encode(fr.Encode())));
        Assert.EndsWith(SampleBytes, Convert.ToHexString(reply));
        var (code, text, err) = ExternalTool.Run("sh", "-c", $"echo {SampleBytes} | ovs-ofctl parse-actions OpenFlow13");
        Assert.True(code == 0, err);
        Assert.Contains("actions=sample(probability=65535,collector_set_id=1,obs_domain_id=2,obs_point_id=3)", text);
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task WithoutFlowSampling_TheActionTakesNothing_AndTheFlowForwards()
    {
        await using var rig = new AgentRig();
        OvsOfctl.Ok(rig, "OpenFlow13", "add-flow", "priority=10,in_port=1,actions=sample(probability=65535,collector_set_id=1,obs_domain_id=2,obs_point_id=3),output:2");
        rig.Ports[0].Inject(FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10));
        rig.Poll();
        Assert.Single(rig.Ports[1].TakeSent());
        foreach (var f in rig.Dp.Forwarders) Assert.False(f.FlowSampler.TryRead(new byte[PacketSampler.HeaderSize], out _));
    }
}
