using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// Real ovs-ofctl, -O OpenFlow10 and -O OpenFlow13, with multipath(...): each frame leaves by the port of the link Open
/// vSwitch's hash picks (the hash pinned to ovs-vswitchd's own in MultipathTests), dump-flows gives the flow back as
/// ovs-ofctl wrote it and the dump re-adds; a destination too narrow for the links is refused.
/// </summary>
public sealed class OvsOfctlMultipathTests
{
    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01"), H2 = MacAddress.Parse("00:00:00:00:00:02");

    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow10")]
    [InlineData("OpenFlow13")]
    [InlineData("OpenFlow14")]
    [InlineData("OpenFlow15")]
    public async Task Multipath_SendsEachFlowByItsLink_TheDumpReAdds(string version)
    {
        await using var rig = OvsOfctl.Rig(8);
        // The link (0-3) into reg0[0..1], bit 2 set: ports 4-7.
        const string mp = "multipath(symmetric_l3l4+udp,7,hrw,4,0,NXM_NX_REG0[0..1])";
        OvsOfctl.Ok(rig, version, "add-flow", $"priority=10,in_port=1,actions={mp},load:0x1->NXM_NX_REG0[2],output:NXM_NX_REG0[0..15]");
        var used = new HashSet<int>();
        for (ushort sport = 1000; sport < 1016; sport++)
        {
            byte[] frame = FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, sport, 53);
            PacketParser.Parse(frame, 1, out var key, out _);
            int link = Multipath.Link(key, Multipath.SymmetricL3L4Udp, 7, Multipath.Hrw, 4, 0);
            used.Add(link);
            rig.Ports[0].Inject(frame);
            rig.Poll();
            for (int p = 4; p <= 7; p++) Assert.Equal(p == link + 4 ? 1 : 0, rig.Ports[p - 1].TakeSent().Count);
        }
        Assert.True(used.Count > 1, "16 flows over 4 links used one link only");

        string dump = OvsOfctl.Ok(rig, version, "dump-flows", "--no-stats");
        Assert.Contains($"actions={mp},", dump);
        OvsOfctl.ReAddsTheSame(rig, version, dump);
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }
}
