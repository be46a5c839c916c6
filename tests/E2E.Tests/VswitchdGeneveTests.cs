using System.Globalization;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// A Geneve port made with the stock ovs-vsctl under `softswitch vswitchd` (Interface type=geneve, options:remote_ip,
/// local_ip, key) against Open vSwitch's user-space Geneve (datapath_type=netdev) in a namespace of its own: this
/// kernel has no geneve module, so the peer is ovs-vswitchd, never a mock.
/// </summary>
/// <remarks>
/// <code>
///  host A ── [ softswitch vswitchd bridge ] ══ veth underlay ══ [ OVS br-ul 10.97.0.2 ]   [ OVS br-ov ] ── host B
///  10.96.0.1   port 1     geneve port 3  port 2 (10.97.0.1 owned by the tunnel)         tun0 type=geneve    10.96.0.2
/// </code>
/// Host A pings host B and host B pings host A, each way with the key on the wire; a capture on Open vSwitch's end of
/// the underlay goes through tshark, which must dissect every frame without error and ours as Geneve with the key.
/// </remarks>
[RequiresTool("ovsdb-server")]
[RequiresTool("ovs-vsctl")]
[RequiresTool("ovs-ofctl")]
[RequiresTool("ovs-vswitchd")]
[RequiresTool("tcpdump")]
[RequiresTool("tshark")]
public sealed class VswitchdGeneveTests
{
    private static readonly string s_id = (Environment.ProcessId % 10000).ToString(CultureInfo.InvariantCulture);
    private const uint Key = 0x5A5A5;

    [E2EFact]
    public void GeneveWithAKey_CarriesPingsBothWays_ToOpenVswitchInUserSpace()
    {
        using var hostA = Netns.Create();
        using var hostB = Netns.Create();
        using var under = Netns.Create();   // Open vSwitch's namespace; its veth's host end is our underlay
        Sh.Check("ip", "link", "set", hostB.HostIf, "netns", under.Name);
        Sh.Check("ip", "-n", under.Name, "link", "set", hostB.HostIf, "up");
        // 1400 leaves room for the outer headers on a 1500-byte underlay.
        foreach (var (h, ip) in new[] { (hostA, "10.96.0.1/24"), (hostB, "10.96.0.2/24") })
        {
            Sh.Check("ip", "-n", h.Name, "addr", "add", ip, "dev", h.NsIf);
            Sh.Check("ip", "-n", h.Name, "link", "set", h.NsIf, "mtu", "1400");
        }

        using var ovs = OvsUserspace.Start(under);
        ovs.Vsctl("add-br", "br-ul", "--", "set", "bridge", "br-ul", "datapath_type=netdev", "--", "add-port", "br-ul", under.NsIf);
        ovs.Vsctl("add-br", "br-ov", "--", "set", "bridge", "br-ov", "datapath_type=netdev", "--", "add-port", "br-ov", hostB.HostIf,
            "--", "add-port", "br-ov", "tun0", "--", "set", "interface", "tun0", "type=geneve", "options:remote_ip=10.97.0.1",
            "options:local_ip=10.97.0.2", $"options:key={Key}");
        Sh.Check("ip", "-n", under.Name, "addr", "add", "10.97.0.2/24", "dev", "br-ul");
        Sh.Check("ip", "-n", under.Name, "link", "set", "br-ul", "up");
        // Open vSwitch learns the underlay's route from the kernel's netlink messages, a moment after the address is
        // set: until then it has no route back to 10.97.0.1 and drops what it would send into its tunnel.
        Assert.True(Wait.Until(() => ovs.Appctl("ovs/route/show").Contains("10.97.0.0/24", StringComparison.Ordinal), 10_000, everyMs: 100),
            "Open vSwitch never learned the underlay's route: " + ovs.Appctl("ovs/route/show"));

        using var db = OvsdbServer.Start("ssw-vsdgnv-");
        int pid = VswitchdBridgesTests.StartDaemon(db);
        string br = $"gnv{s_id}", gv = $"gnvt{s_id}";
        string pcap = Path.Combine(ovs.RunDir, "underlay.pcap");
        try
        {
            db.Vsctl("add-br", br, "--", "set-fail-mode", br, "secure",
                "--", "add-port", br, hostA.HostIf, "--", "set", "Interface", hostA.HostIf, "ofport_request=1",
                "--", "add-port", br, under.HostIf, "--", "set", "Interface", under.HostIf, "ofport_request=2",
                "--", "add-port", br, gv, "--", "set", "Interface", gv, "type=geneve", "ofport_request=3",
                "options:remote_ip=10.97.0.2", "options:local_ip=10.97.0.1", $"options:key={Key}", "options:underlay=2");
            // Interfaces open in name order: a tunnel tried before its underlay is open is tried again a second later.
            Assert.True(Wait.Until(() => db.Vsctl("get", "Interface", gv, "ofport").Trim() == "3"
                                                        && db.Vsctl("get", "Interface", gv, "error").Trim() == "[]", 10_000, everyMs: 100),
                db.Vsctl("get", "Interface", gv, "error") + VswitchdBridgesTests.Log(db));
            Assert.Contains("geneve", db.Vsctl("get", "Open_vSwitch", ".", "iface_types"));
            foreach (var flow in new[] { "in_port=1,actions=output:3", "in_port=3,actions=output:1" })
                Assert.True(db.Tool("ovs-ofctl", "add-flow", br, flow).Ok);

            using (var cap = Tcpdump.Start(under.NsIf, pcap, under.Name))
            {
                string Describe() => db.Tool("ovs-ofctl", "dump-ports", br).Stdout + "\nOVS tnl/arp: " + ovs.Appctl("tnl/arp/show") + "\nOVS routes: " + ovs.Appctl("ovs/route/show") + "\n" + ovs.LogTail
                                     + "\n" + VswitchdBridgesTests.Log(db);
                var ping = hostA.Exec("ping", "-c", "3", "-i", "0.2", "-w", "10", "10.96.0.2");
                Assert.True(ping.Ok && ping.Stdout.Contains(" 0% packet loss"), $"host A to host B over Geneve: {ping.Stdout}{ping.Stderr}\n{Describe()}");
                ping = hostB.Exec("ping", "-c", "3", "-i", "0.2", "-w", "10", "10.96.0.1");
                Assert.True(ping.Ok && ping.Stdout.Contains(" 0% packet loss"), $"host B to host A over Geneve: {ping.Stdout}{ping.Stderr}\n{Describe()}");
                Assert.Matches(@"rx pkts=([6-9]|\d\d)", db.Tool("ovs-ofctl", "dump-ports", br, "3").Stdout);
                cap.Stop();
            }
            // 3 echo requests and 3 replies went out through our Geneve port.
            TunnelFrameCheck.AssertOurFrames(Tshark.Dissect(pcap), "geneve", "10.97.0.1", Key, 6);
            db.Vsctl("del-br", br);
        }
        finally
        {
            VswitchdBridgesTests.StopDaemon(pid);
            Sh.Run("ip", "link", "del", br);
        }
    }
}
