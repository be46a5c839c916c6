using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// Real ovs-ofctl, OpenFlow 1.0 to 1.5: a load of a whole packet field (NXAST_REG_LOAD, <c>load:V-&gt;FIELD[]</c>) reads
/// back in dump-flows as Open vSwitch 3.1 prints it: as the load it was up to 1.4 (Open vSwitch keeps the set_field's raw
/// action and encode_SET_FIELD writes it back as NXAST_REG_LOAD), as a set_field in 1.5 (which has set-field alone). The
/// expected lines are what ovs-ofctl's own <c>parse-flow</c> prints for the same flow in each version, which is the
/// encoding Open vSwitch writes back. A dump re-adds to the same flows, and the loads forward as the set-fields do.
/// </summary>
public sealed class OvsOfctlWholeLoadTests
{
    private const string Loads = "load:0xa000009->NXM_OF_IP_DST[],load:0x20000000009->NXM_OF_ETH_DST[],load:0x1f90->NXM_OF_TCP_DST[],"
                                 + "load:0x5->NXM_NX_TUN_ID[],load:0x3->NXM_NX_REG0[]";

    public static TheoryData<string, string> Versions => new()
    {
        { "OpenFlow10", Loads },
        { "OpenFlow13", Loads },
        { "OpenFlow14", Loads },
        { "OpenFlow15", "set_field:10.0.0.9->ip_dst,set_field:02:00:00:00:00:09->eth_dst,set_field:8080->tcp_dst,set_field:0x5->tun_id,"
                        + "set_field:0x3->reg0" },
    };

    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [MemberData(nameof(Versions))]
    public async Task WholeFieldLoads_ReadBackAsOpenVSwitchPrintsThem_AndReAdd(string version, string expected)
    {
        await using var rig = OvsOfctl.Rig();
        OvsOfctl.Ok(rig, version, "add-flow", $"priority=5,tcp,in_port=1,actions={Loads},output:2");
        var line = Assert.Single(OvsOfctl.Flows(OvsOfctl.Ok(rig, version, "dump-flows")));
        Assert.EndsWith($"priority=5,tcp,in_port=1 actions={expected},output:2", line);

        // The dump re-adds to the same flow.
        OvsOfctl.ReAddsTheSame(rig, version, OvsOfctl.Ok(rig, version, "dump-flows", "--no-stats"));

        // The loads rewrite the packet as the set-fields do.
        rig.Ports[0].Inject(FrameBuilder.Tcp(MacAddress.Parse("00:00:00:00:00:01"), MacAddress.Parse("00:00:00:00:00:02"), 0x0A000001, 0x0A000002, 1000, 80));
        rig.Poll();
        var sent = Assert.Single(rig.Ports[1].TakeSent());
        Assert.Equal(0x0200_0000_0009UL, (ulong)System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(sent) << 32
                                         | System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(sent.AsSpan(2)));
        Assert.Equal(0x0A000009u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(sent.AsSpan(30)));
        Assert.Equal(8080, System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(sent.AsSpan(36)));
    }

    /// <summary>
    /// Loaded and set the same field to the same value are two flows' different actions, as Open vSwitch's ofpacts_equal
    /// (which compares the raw action) has them: each reads back as it was written, side by side in two tables.
    /// </summary>
    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task ALoadAndASetFieldOfTheSameValue_EachReadBackAsWritten()
    {
        await using var rig = OvsOfctl.Rig();
        OvsOfctl.Ok(rig, "OpenFlow13", "add-flow", "table=1,ip,actions=load:0xa000009->NXM_OF_IP_DST[],output:2");
        OvsOfctl.Ok(rig, "OpenFlow13", "add-flow", "table=2,ip,actions=set_field:10.0.0.9->ip_dst,output:2");
        var flows = OvsOfctl.Flows(OvsOfctl.Ok(rig, "OpenFlow13", "dump-flows"));
        Assert.Contains(flows, l => l.EndsWith("table=1, n_packets=0, n_bytes=0, ip actions=load:0xa000009->NXM_OF_IP_DST[],output:2", StringComparison.Ordinal));
        Assert.Contains(flows, l => l.EndsWith("table=2, n_packets=0, n_bytes=0, ip actions=set_field:10.0.0.9->ip_dst,output:2", StringComparison.Ordinal));
        // A strict modify with the set-field replaces the load (the flow now reads back as the set-field).
        OvsOfctl.Ok(rig, "OpenFlow13", "mod-flows", "--strict", "table=1,ip,actions=set_field:10.0.0.9->ip_dst,output:2");
        Assert.Contains(OvsOfctl.Flows(OvsOfctl.Ok(rig, "OpenFlow13", "dump-flows")),
                        l => l.EndsWith("table=1, n_packets=0, n_bytes=0, ip actions=set_field:10.0.0.9->ip_dst,output:2", StringComparison.Ordinal));
    }
}
