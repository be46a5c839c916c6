using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// Real ovs-ofctl, -O OpenFlow10 and -O OpenFlow13, with clone(...): the flow is kept, its clone's rewrite reaches the
/// clone's output only (the output after it sends the frame as it came), dump-flows gives it back as ovs-ofctl wrote it
/// and the dump re-adds to the same flows; in write-actions it is refused as Open vSwitch refuses it.
/// </summary>
public sealed class OvsOfctlCloneTests
{
    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01"), H2 = MacAddress.Parse("00:00:00:00:00:02");

    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow10")]
    [InlineData("OpenFlow13")]
    [InlineData("OpenFlow14")]
    [InlineData("OpenFlow15")]
    public async Task Clone_RewritesItsCopyOnly_TheDumpReAdds(string version)
    {
        await using var rig = OvsOfctl.Rig();
        bool of13 = version != "OpenFlow10"; // and 1.4, 1.5
        OvsOfctl.Ok(rig, version, "add-flow", "priority=10,in_port=1,actions=clone(mod_dl_dst:00:00:00:00:00:03,output:2),output:3");
        if (of13)
        {
            // A resubmit in the clone: table 1 sees the copy's rewrite, the packet's own lookup after the clone does not.
            OvsOfctl.Ok(rig, version, "add-flow", "priority=10,in_port=2,actions=clone(mod_dl_dst:00:00:00:00:00:03,resubmit(,1)),resubmit(,1)");
            OvsOfctl.Ok(rig, version, "add-flow", "table=1,priority=10,dl_dst=00:00:00:00:00:03,actions=output:1");
            OvsOfctl.Ok(rig, version, "add-flow", "table=1,priority=1,actions=output:4");
        }
        var frame = FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10);
        rig.Ports[0].Inject(frame);
        rig.Poll();
        Assert.Equal(MacAddress.Parse("00:00:00:00:00:03"), MacAddress.Read(Assert.Single(rig.Ports[1].TakeSent())));
        Assert.Equal(frame, Assert.Single(rig.Ports[2].TakeSent()));
        if (of13)
        {
            rig.Ports[1].Inject(frame);
            rig.Poll();
            Assert.Equal(MacAddress.Parse("00:00:00:00:00:03"), MacAddress.Read(Assert.Single(rig.Ports[0].TakeSent())));
            Assert.Equal(frame, Assert.Single(rig.Ports[3].TakeSent()));
        }

        string dump = OvsOfctl.Ok(rig, version, "dump-flows", "--no-stats");
        // ovs-ofctl prints a 1.3 set-field as set_field, a 1.0 one as mod_dl_dst.
        string setDst = of13 ? "set_field:00:00:00:00:00:03->eth_dst" : "mod_dl_dst:00:00:00:00:00:03";
        Assert.Contains($"priority=10,in_port=1 actions=clone({setDst},output:2),output:3", dump);
        if (of13) Assert.Contains($"priority=10,in_port=2 actions=clone({setDst},resubmit(,1)),resubmit(,1)", dump);
        OvsOfctl.ReAddsTheSame(rig, version, dump);
        if (of13) Assert.Contains("OFPBAC_BAD_TYPE", OvsOfctl.Refused(rig, version, "add-flow", "actions=write_actions(clone(output:2))"));
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }
}
