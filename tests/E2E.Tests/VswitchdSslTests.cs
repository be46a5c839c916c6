using System.Globalization;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// The SSL table under `softswitch vswitchd`, as ovs-vswitchd serves it: `ovs-vsctl set-ssl KEY CERT CACERT` gives
/// ssl: controllers and pssl: listeners their TLS material (ovs-pki's, made here), a new SSL row serves the
/// connections that follow while those established keep theirs, and a Manager row (ovsdb-server's) changes nothing.
/// </summary>
[RequiresTool("ovsdb-server")]
[RequiresTool("ovs-vsctl")]
[RequiresTool("ovs-pki")]
[RequiresTool("ovs-testcontroller")]
public sealed class VswitchdSslTests
{
    private static readonly string s_id = (Environment.ProcessId % 10000).ToString(CultureInfo.InvariantCulture);

    /// <summary>ovs-pki's two CAs and a controller's and a switch's keys and certificates signed by them.</summary>
    private sealed record Pki(string Dir)
    {
        public string SwitchKey => $"{Dir}/sw-privkey.pem";
        public string SwitchCert => $"{Dir}/sw-cert.pem";
        public string ControllerKey => $"{Dir}/ctl-privkey.pem";
        public string ControllerCert => $"{Dir}/ctl-cert.pem";
        public string ControllerCa => $"{Dir}/pki/controllerca/cacert.pem";
        public string SwitchCa => $"{Dir}/pki/switchca/cacert.pem";

        public static Pki Make(string dir)
        {
            Directory.CreateDirectory(dir);
            OvsdbServer.Check(Sh.Run("ovs-pki", ["init", $"--dir={dir}/pki", "--force"], 60_000));
            foreach (var (name, type) in new[] { ("ctl", "controller"), ("sw", "switch") })
                OvsdbServer.Check(Sh.Run("sh", ["-c", $"cd '{dir}' && ovs-pki req+sign --dir='{dir}/pki' {name} {type}"], 60_000));
            return new Pki(dir);
        }

        /// <summary>ovs-ofctl as a controller holding this material, against a pssl: listener.</summary>
        public Sh.Result Ofctl(string command, string target)
            => Sh.Run("ovs-ofctl", ["-O", "OpenFlow13", $"--private-key={ControllerKey}", $"--certificate={ControllerCert}", $"--ca-cert={SwitchCa}", command, target], 30_000);
    }

    [E2EFact]
    public void SetSsl_ServesSslControllersAndPsslListeners_AndANewRowServesNewConnections()
    {
        using var db = OvsdbServer.Start("ssw-vsdssl-");
        var pki = Pki.Make(Path.Combine(db.RunDir, "pki1"));
        var other = Pki.Make(Path.Combine(db.RunDir, "pki2"));
        int pid = VswitchdBridgesTests.StartDaemon(db);
        string br = $"vtsl{s_id}", tcPid = Path.Combine(db.RunDir, "tc.pid");
        try
        {
            db.Vsctl("add-br", br, "--", "set", "bridge", br, "fail_mode=secure", "protocols=OpenFlow10,OpenFlow13");

            // A controller that speaks TLS only, trusting the switch CA.
            int port = FreePorts.Tcp();
            var tc = Sh.Run("ovs-testcontroller", ["-O", "OpenFlow13", $"--private-key={pki.ControllerKey}", $"--certificate={pki.ControllerCert}",
                $"--ca-cert={pki.SwitchCa}", $"pssl:{port}:127.0.0.1", "--detach", "--no-chdir", $"--pidfile={tcPid}",
                $"--log-file={db.RunDir}/tc.log", $"--unixctl={db.RunDir}/tc.ctl"]);
            Assert.True(tc.Ok, tc.Stderr);
            string ssl = $"ssl:127.0.0.1:{port}";

            // No SSL row yet: the target waits, said once, and every other part of the daemon answers.
            db.Vsctl("set-controller", br, ssl);
            Assert.True(Wait.Until(() => VswitchdBridgesTests.Log(db).Contains($"bridge {br}: controller target(s) {ssl} not served: no SSL configuration"), 10_000, everyMs: 100),
                VswitchdBridgesTests.Log(db));
            Assert.Equal("false", db.Vsctl("get", "Controller", br, "is_connected").Trim());

            db.Vsctl("set-ssl", pki.SwitchKey, pki.SwitchCert, pki.ControllerCa);
            Assert.True(Wait.Until(() => db.Vsctl("get", "Controller", br, "is_connected").Trim() == "true", 20_000, everyMs: 100),
                "the ssl: controller never connected: " + db.Vsctl("list", "Controller") + VswitchdBridgesTests.Log(db));

            // A pssl: listener beside it, with the same material: a controller with ovs-pki's files is served.
            int listen = FreePorts.Tcp();
            string pssl = $"pssl:{listen}:127.0.0.1";
            db.Vsctl("set-controller", br, ssl, pssl);
            var show = pki.Ofctl("show", $"ssl:127.0.0.1:{listen}");
            Assert.True(show.Ok, $"ovs-ofctl show over pssl: {show.Stderr}\n{VswitchdBridgesTests.Log(db)}");
            Assert.Contains($"LOCAL({br})", show.Stdout);
            Assert.True(Wait.Until(() => Connected(db, ssl) == "true", 20_000, everyMs: 100), "the ssl: controller did not connect again after set-controller");

            // Another PKI's row: new connections take it (the old controller material is refused, the new one served);
            // the ssl: connection established with the old material stays.
            db.Vsctl("set-ssl", other.SwitchKey, other.SwitchCert, other.ControllerCa);
            Assert.False(pki.Ofctl("show", $"ssl:127.0.0.1:{listen}").Ok, "a pssl: opening after set-ssl took the material before");
            var again = other.Ofctl("show", $"ssl:127.0.0.1:{listen}");
            Assert.True(again.Ok, $"the new SSL row does not serve a new pssl: connection: {again.Stderr}\n{VswitchdBridgesTests.Log(db)}");
            Thread.Sleep(2000);
            Assert.Equal("true", Connected(db, ssl));

            // A Manager row names ovsdb-server's remotes: said once, nothing else changes.
            int manager = FreePorts.Tcp();
            db.Vsctl("set-manager", $"ptcp:{manager}:127.0.0.1");
            Assert.True(Wait.Until(() => VswitchdBridgesTests.Log(db).Contains($"manager ptcp:{manager}:127.0.0.1: a remote of ovsdb-server"), 10_000, everyMs: 100),
                VswitchdBridgesTests.Log(db));
            db.Vsctl("set", "bridge", br, "other-config:dp-desc=after-manager");
            Assert.True(db.Tool("ovs-ofctl", "-O", "OpenFlow13", "show", br).Ok);
            Assert.True(other.Ofctl("show", $"ssl:127.0.0.1:{listen}").Ok);
            Assert.Single(VswitchdBridgesTests.Log(db).Split('\n'), l => l.Contains($"manager ptcp:{manager}:127.0.0.1:", StringComparison.Ordinal));
        }
        finally
        {
            if (File.Exists(tcPid)) Sh.Run("kill", "-TERM", File.ReadAllText(tcPid).Trim());
            VswitchdBridgesTests.StopDaemon(pid);
            Sh.Run("ip", "link", "del", br);
        }
    }

    /// <summary>The Controller row of <paramref name="target"/>: is_connected.</summary>
    private static string Connected(OvsdbServer db, string target)
        => db.Vsctl("--bare", "--columns=is_connected", "find", "Controller", $"target=\"{target}\"").Trim();
}
