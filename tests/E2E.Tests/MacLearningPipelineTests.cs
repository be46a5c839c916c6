using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// Open vSwitch's advanced tutorial's MAC-learning pipeline (<see cref="OvsTutorialFlows.MacLearning"/>: learn and
/// resubmit over five tables, VLAN access and trunk ports), added by the real ovs-ofctl to two `softswitch run`
/// processes in secure fail mode (no controller, no NORMAL), forwarding real traffic between namespaces. The switches'
/// ports 1 are the trunk, a veth between them; on each, port 2 is an access port of VLAN 20 and ports 3 and 4 of VLAN
/// 30. Hosts of one VLAN ping across the trunk (their frames cross it tagged: untagged, the far side would take them as
/// VLAN 0 and flood nothing to them) and within one switch, VLAN 20 never reaches VLAN 30, and table 10 of each switch
/// holds the flows the pipeline learned from the traffic, with each host's port.
/// </summary>
[RequiresTool("ovs-ofctl")]
public sealed class MacLearningPipelineTests
{
    [E2EFact]
    public void TheTutorialsPipeline_ForwardsBetweenNamespaces_AcrossATrunk_ByWhatItLearned()
    {
        using var trunk = VethPair.Create();
        using var a = new Hosts(3, "10.78.0");  // 10.78.0.1 in VLAN 20, .2 and .3 in VLAN 30
        using var b = new Hosts(3, "10.78.1");
        // One subnet for the hosts of both switches: 10.78.0.0/16.
        foreach (var hosts in new[] { a, b })
        {
            for (int i = 0; i < 3; i++)
            {
                var ns = hosts.Ns[i];
                ns.Exec("ip", "addr", "flush", "dev", ns.NsIf);
                Assert.True(ns.Exec("ip", "addr", "add", $"{hosts.Ips[i]}/16", "dev", ns.NsIf).Ok);
            }
        }
        using var swA = new SwitchProcess($"afpacket:{trunk.A},{a.PortSpec}", "--fail-mode", "secure");
        using var swB = new SwitchProcess($"afpacket:{trunk.B},{b.PortSpec}", "--fail-mode", "secure");
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(file, OvsTutorialFlows.MacLearning);
            foreach (var sw in new[] { swA, swB })
            {
                var add = Sh.Run("ovs-ofctl", ["-O", "OpenFlow13", "add-flows", sw.Endpoint, file], 60_000);
                Assert.True(add.Ok, add.Stderr + add.Stdout);
            }
            string Why() => $"switch A:\n{swA.Output}\nswitch B:\n{swB.Output}\nA's table 10:\n{Table10(swA)}\nB's table 10:\n{Table10(swB)}";
            static bool Ping(Netns from, string to) => from.Exec("ping", "-c", "1", "-W", "2", to).Ok || from.Exec("ping", "-c", "2", "-W", "3", to).Ok;

            Assert.True(Ping(a.Ns[0], b.Ips[0]), "VLAN 20 across the trunk\n" + Why());
            Assert.True(Ping(a.Ns[1], b.Ips[2]), "VLAN 30 across the trunk\n" + Why());
            Assert.True(Ping(b.Ns[1], a.Ips[2]), "VLAN 30 across the trunk, the other way\n" + Why());
            Assert.True(Ping(a.Ns[1], a.Ips[2]), "VLAN 30 within one switch\n" + Why());
            Assert.False(a.Ns[0].Exec("ping", "-c", "2", "-W", "1", b.Ips[1]).Ok, "VLAN 20 reached VLAN 30 across the trunk");
            Assert.False(a.Ns[0].Exec("ping", "-c", "2", "-W", "1", a.Ips[1]).Ok, "VLAN 20 reached VLAN 30 within one switch");

            // What the traffic taught each switch: every host's MAC in its VLAN, with its port in reg0 (its own hosts
            // on ports 2-4, the far switch's on the trunk, port 1).
            foreach (var (sw, near, far) in new[] { (swA, a, b), (swB, b, a) })
            {
                var lines = Table10(sw).Split('\n');
                for (int i = 0; i < 3; i++)
                {
                    int vlan = i == 0 ? 20 : 30;
                    Assert.Contains(lines, l => Learned(l, vlan, near.Ns[i].NsMac, i + 2));
                }
                Assert.Contains(lines, l => Learned(l, 20, far.Ns[0].NsMac, 1));
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static bool Learned(string line, int vlan, string mac, int port)
        => line.Contains($"vlan_tci=0x{vlan:x4}/0x0fff", StringComparison.Ordinal) && line.Contains($"dl_dst={mac}", StringComparison.Ordinal)
           && line.Contains($"load:0x{port:x}->NXM_NX_REG0[0..15]", StringComparison.Ordinal);

    private static string Table10(SwitchProcess sw)
    {
        var r = Sh.Run("ovs-ofctl", ["-O", "OpenFlow13", "dump-flows", sw.Endpoint, "table=10"], 60_000);
        return r.Ok ? r.Stdout : r.Stderr;
    }
}
