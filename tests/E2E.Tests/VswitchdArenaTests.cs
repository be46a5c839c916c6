using System.Globalization;
using System.Text.RegularExpressions;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// `softswitch vswitchd`'s packet arena (docs/ports.md, "The packet pool as the UMEM"), driven by the real ovs-vsctl and
/// ovs-appctl over a private ovsdb-server: AF_XDP interfaces added at run time over veth pairs receive into the bridge's
/// pool buffers in place and forward a ping's bytes unchanged; an interface whose MTU leaves no room in a slot, and one
/// whose queue no longer fits the arena (sized to one queue by other_config:afxdp-arena-queues), open with UMEMs of their
/// own, say why in dp/show, and forward all the same; a port removed gives its slots back, so the refused one added again
/// fits.
/// </summary>
[RequiresTool("ovsdb-server")]
[RequiresTool("ovs-vsctl")]
[RequiresTool("ovs-ofctl")]
public sealed class VswitchdArenaTests
{
    private static string Softswitch => Path.Combine(AppContext.BaseDirectory, "softswitch");

    private static string Id => (Environment.ProcessId % 10000).ToString(CultureInfo.InvariantCulture);

    [E2EFact]
    public void AfXdpInterfacesAddedAtRunTime_ReceiveInTheArena_OrSayWhyNot_AndGiveTheirSlotsBack()
    {
        string id = Id, bridge = $"xa-br{id}";
        string[] names = ["a", "b", "c", "d"];
        var ns = names.Select(n => $"xa-ns{n}{id}").ToArray();
        var host = names.Select(n => $"xa-{n}{id}").ToArray();
        using var db = OvsdbServer.Start("ssw-xa-");
        int pid = 0;
        try
        {
            for (int i = 0; i < names.Length; i++) VswitchdBridgesTests.AddHost(ns[i], host[i], $"10.83.0.{i + 1}/24");
            // C's MTU leaves no room in an arena slot (1,792 bytes for a frame with two VLAN tags).
            Sh.Check("ip", "link", "set", host[2], "mtu", "2000");
            Sh.Check("ip", "-n", ns[2], "link", "set", "eth0", "mtu", "2000");
            // One forwarding thread, and an arena with room for one AF_XDP queue: set before the daemon reads them.
            db.Vsctl("--no-wait", "set", "Open_vSwitch", ".", "other_config:n-pmd-threads=1", "other_config:afxdp-arena-queues=1");
            var start = Sh.Run("env", [$"OVS_RUNDIR={db.RunDir}", Softswitch, "vswitchd", "--pidfile", "--detach", $"--log-file={db.RunDir}/vswitchd.log"], 60_000);
            Assert.True(start.Ok, $"vswitchd did not start ({start.ExitCode}): {start.Stderr}{start.Stdout}");
            pid = int.Parse(File.ReadAllText(Path.Combine(db.RunDir, "ovs-vswitchd.pid")).Trim(), CultureInfo.InvariantCulture);

            // The bridge first, with an AF_PACKET port: no arena yet (nothing spent on it).
            db.Vsctl("add-br", bridge, "--", "set", "bridge", bridge, "fail_mode=secure",
                "--", "add-port", bridge, host[1], "--", "set", "Interface", host[1], "ofport_request=2");
            Assert.True(db.Tool("ovs-ofctl", "add-flow", bridge, "actions=NORMAL").Ok);
            Assert.StartsWith("packet arena: none", DpShow(db));
            Assert.DoesNotContain("packet arena made", Log(db.RunDir));

            // A's AF_XDP port makes the arena; the running bridge's pool moves onto it; A's frames are received in place.
            db.Vsctl("add-port", bridge, host[0], "--", "set", "Interface", host[0], "type=afxdp", "ofport_request=1");
            Assert.Contains("packet arena made for the first AF_XDP interface", Log(db.RunDir));
            Assert.Contains("against RLIMIT_MEMLOCK per socket", Log(db.RunDir));
            Assert.Contains("umem packet arena (received in place)", XdpLine(db, host[0]));
            PingExact(ns[0], "10.83.0.2", db);
            Assert.True(Counter(XdpLine(db, host[0]), "rx_in_place") >= 3, XdpLine(db, host[0]));

            // C: its MTU leaves no room in a slot, so its own UMEM, said; it forwards all the same.
            db.Vsctl("add-port", bridge, host[2], "--", "set", "Interface", host[2], "type=afxdp", "ofport_request=3");
            Assert.Contains("umem own (mtu 2000: a frame of 2022 bytes with two VLAN tags does not fit the 1792 a packet arena slot receives)", XdpLine(db, host[2]));
            PingExact(ns[2], "10.83.0.2", db);

            // D: the arena holds one queue, A's: its own UMEM, said; it forwards all the same.
            db.Vsctl("add-port", bridge, host[3], "--", "set", "Interface", host[3], "type=afxdp", "ofport_request=4");
            Assert.Matches("umem own \\(the packet arena has [0-9]+ free slots, 1 queue\\(s\\) of 9216 frames need more\\)", XdpLine(db, host[3]));
            PingExact(ns[3], "10.83.0.2", db);

            // A removed gives its slots back: D added again fits, and receives in place.
            db.Vsctl("del-port", bridge, host[0]);
            db.Vsctl("del-port", bridge, host[3]);
            db.Vsctl("add-port", bridge, host[3], "--", "set", "Interface", host[3], "type=afxdp", "ofport_request=4");
            Assert.Contains("umem packet arena (received in place)", XdpLine(db, host[3]));
            PingExact(ns[3], "10.83.0.2", db);
            Assert.True(Counter(XdpLine(db, host[3]), "rx_in_place") >= 3, XdpLine(db, host[3]));
            // And A again, now that D holds the one queue's room: its own UMEM.
            db.Vsctl("add-port", bridge, host[0], "--", "set", "Interface", host[0], "type=afxdp", "ofport_request=1");
            Assert.Contains("umem own (the packet arena has", XdpLine(db, host[0]));
            PingExact(ns[0], "10.83.0.4", db);
        }
        finally
        {
            if (pid != 0) VswitchdBridgesTests.StopDaemon(pid);
            foreach (var h in host) Sh.Run("ip", "link", "del", h);
            foreach (var n in ns) Sh.Run("ip", "netns", "del", n);
        }
    }

    private static string DpShow(OvsdbServer db)
    {
        var show = db.Tool("ovs-appctl", "dp/show");
        Assert.True(show.Ok, show.Stderr);
        return show.Stdout;
    }

    /// <summary>The afxdp line dp/show prints under port <paramref name="name"/>.</summary>
    private static string XdpLine(OvsdbServer db, string name)
    {
        var lines = DpShow(db).Split('\n');
        int at = Array.FindIndex(lines, l => l.Contains($" {name}: link", StringComparison.Ordinal));
        Assert.True(at >= 0, $"no port {name} in dp/show:\n{string.Join('\n', lines)}\nthe daemon's log:\n{Log(db.RunDir)}");
        // The port's own lines are indented four spaces: offloads, then afxdp.
        for (int i = at + 1; i < lines.Length && lines[i].StartsWith("    ", StringComparison.Ordinal); i++)
            if (lines[i].StartsWith("    afxdp: ", StringComparison.Ordinal)) return lines[i];
        Assert.Fail($"no afxdp line for {name}:\n" + string.Join('\n', lines) + "\nthe daemon's log:\n" + Log(db.RunDir));
        return "";
    }

    private static long Counter(string line, string name)
        => long.Parse(Regex.Match(line, $" {name} ([0-9]+)").Groups[1].Value, CultureInfo.InvariantCulture);

    /// <summary>Three pings of 1,000 bytes of a pattern: every reply must come back with the bytes sent (ping checks them).</summary>
    private static void PingExact(string ns, string ip, OvsdbServer db)
    {
        var r = Sh.Run("ip", ["netns", "exec", ns, "ping", "-c", "3", "-W", "2", "-i", "0.3", "-s", "1000", "-p", "a55a0ff0c3", ip], 30_000);
        Assert.True(r.Ok && r.Stdout.Contains("3 received", StringComparison.Ordinal), $"ping {ip} from {ns}: {r.Stdout}{r.Stderr}\n{DpShow(db)}{Log(db.RunDir)}");
        Assert.DoesNotContain("wrong data", r.Stdout);
    }

    private static string Log(string run)
    {
        try
        {
            return File.ReadAllText(Path.Combine(run, "vswitchd.log"));
        }
        catch (IOException e)
        {
            return e.Message;
        }
    }
}
