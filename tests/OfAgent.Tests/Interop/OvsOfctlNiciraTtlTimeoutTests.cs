using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// Real ovs-ofctl, -O OpenFlow10 and -O OpenFlow13, with Open vSwitch's dec_ttl(ids): what the switch keeps, forwards
/// and gives back in dump-flows, and the dump re-added.
/// </summary>
public sealed class OvsOfctlNiciraTtlTimeoutTests
{
    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01"), H2 = MacAddress.Parse("00:00:00:00:00:02");

    private static string Ok(AgentRig rig, string version, string cmd, params string[] rest) => OvsOfctl.Ok(rig, version, cmd, rest);

    private static string Refused(AgentRig rig, string version, string cmd, params string[] rest) => OvsOfctl.Refused(rig, version, cmd, rest);

    private static string[] Flows(string dump)
        => [.. dump.Split('\n').Where(l => l.Contains("actions=", StringComparison.Ordinal)).Select(l => l.Trim()).Order(StringComparer.Ordinal)];

    /// <summary>Deletes every flow and re-adds the dump's through add-flows; the dump after is the same.</summary>
    private static void ReAddsTheSame(AgentRig rig, string version, string dump)
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(file, Flows(dump));
            Ok(rig, version, "del-flows");
            Ok(rig, version, "add-flows", file);
            Assert.Equal(Flows(dump), Flows(Ok(rig, version, "dump-flows", "--no-stats")));
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>
    /// dec_ttl(32768,12345,90) (NXAST_DEC_TTL_CNT_IDS) is kept with its ids and given back as ovs-ofctl wrote it, beside a
    /// plain dec_ttl; the packet goes on with its TTL decremented. More ids than the switch holds in one action (10) is
    /// OFPBAC_BAD_ARGUMENT.
    /// </summary>
    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow10")]
    [InlineData("OpenFlow13")]
    public async Task DecTtlWithIds_IsKept_Decrements_TheDumpReAdds(string version)
    {
        await using var rig = new AgentRig();
        Ok(rig, version, "add-flow", "priority=10,ip,in_port=1,actions=dec_ttl(32768,12345,90),output:2");
        Ok(rig, version, "add-flow", "priority=10,ip,in_port=2,actions=dec_ttl(0),dec_ttl,output:1");
        var frame = FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1, 2, 10);
        rig.Ports[0].Inject(frame);
        rig.Poll();
        byte[] sent = Assert.Single(rig.Ports[1].TakeSent());
        Assert.Equal(frame[22] - 1, sent[22]);

        string dump = Ok(rig, version, "dump-flows", "--no-stats");
        Assert.Contains("priority=10,ip,in_port=1 actions=dec_ttl(32768,12345,90),output:2", dump);
        Assert.Contains("priority=10,ip,in_port=2 actions=dec_ttl(0),dec_ttl,output:1", dump);
        ReAddsTheSame(rig, version, dump);
        Assert.Contains("OFPBAC_BAD_ARGUMENT", Refused(rig, version, "add-flow", "ip,actions=dec_ttl(1,2,3,4,5,6,7,8,9,10,11)"));
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }
}
