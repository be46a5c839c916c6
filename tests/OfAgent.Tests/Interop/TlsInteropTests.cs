using System.Diagnostics;
using Softswitch.OfAgent.Session;
using Softswitch.OfAgent.Tests.Session;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>TLS against Debian's Open vSwitch: ovs-ofctl over ssl: to our pssl:, and our ssl: to ovs-testcontroller's pssl:.</summary>
public sealed class TlsInteropTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task OvsOfctlOverSslToPssl_AndWithoutACertificateItIsRefused()
    {
        if (!ExternalTool.Require("ovs-ofctl")) return;
        var switchCa = _pki.NewCa("switchca");
        var controllerCa = _pki.NewCa("controllerca");
        var sw = _pki.Issue(switchCa, "switch");
        var ctl = _pki.Issue(controllerCa, "ofctl");
        await using var rig = new AgentRig(options: new AgentOptions
        {
            Listeners = { "pssl:0" },
            Tls = new OfTlsOptions { PrivateKeyFile = sw.KeyFile, CertificateFile = sw.CertFile, CaCertFile = controllerCa.CertFile },
        });
        string target = $"ssl:127.0.0.1:{rig.Port}";
        string[] tls = ["--private-key", ctl.KeyFile, "--certificate", ctl.CertFile, "--ca-cert", switchCa.CertFile];

        var (code, so, se) = ExternalTool.Run("ovs-ofctl", ["-O", "OpenFlow10", .. tls, "show", target]);
        Assert.True(code == 0, $"ovs-ofctl show over ssl: failed ({code}): {se}{so}");
        Assert.Contains("dpid:0000000000001234", so);
        (code, so, se) = ExternalTool.Run("ovs-ofctl", ["-O", "OpenFlow10", .. tls, "add-flow", target, "priority=5,ip,nw_dst=10.0.0.9,actions=output:2"]);
        Assert.True(code == 0, $"add-flow over ssl: failed: {se}{so}");
        (code, so, se) = ExternalTool.Run("ovs-ofctl", ["-O", "OpenFlow10", .. tls, "dump-flows", target]);
        Assert.True(code == 0, se);
        Assert.Contains("nw_dst=10.0.0.9 actions=output:2", so);

        // ovs-ofctl with a certificate from the switch's own CA (not the one trusted for peers) is refused.
        var wrong = _pki.Issue(switchCa, "not-a-controller");
        (code, so, se) = ExternalTool.Run("ovs-ofctl", ["-O", "OpenFlow10", "--private-key", wrong.KeyFile, "--certificate", wrong.CertFile, "--ca-cert", switchCa.CertFile,
                                                        "--timeout=5", "show", target]);
        Assert.NotEqual(0, code);
        Assert.True(await AgentRig.WaitFor(() => rig.Log.Contains("CN=not-a-controller") && rig.Log.Contains("is not signed by a trusted CA")), rig.Log.Dump());
    }

    [Fact]
    public async Task SoftswitchOverSslToOvsTestcontrollerPssl_LearnsAndAllPairsPing()
    {
        if (!ExternalTool.Require("ovs-testcontroller")) return;
        var switchCa = _pki.NewCa("switchca");
        var controllerCa = _pki.NewCa("controllerca");
        var sw = _pki.Issue(switchCa, "switch");
        var tcCert = _pki.Issue(controllerCa, "controller");
        int port = ControllerInteropTests.FreePort();
        var dir = Directory.CreateTempSubdirectory("ssw-tls-tc");
        var psi = new ProcessStartInfo("ovs-testcontroller")
        {
            ArgumentList =
            {
                "-O", "OpenFlow10", "-p", tcCert.KeyFile, "-c", tcCert.CertFile, "-C", switchCa.CertFile, $"pssl:{port}:127.0.0.1",
                "--no-chdir", $"--pidfile={dir}/tc.pid", $"--log-file={dir}/tc.log", $"--unixctl={dir}/tc.ctl",
            },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using var tc = Process.Start(psi)!;
        try
        {
            await Task.Delay(300);
            await using var rig = new AgentRig(options: new AgentOptions
            {
                Controllers = { $"ssl:127.0.0.1:{port}" },
                Tls = new OfTlsOptions { PrivateKeyFile = sw.KeyFile, CertificateFile = sw.CertFile, CaCertFile = controllerCa.CertFile },
            });
            rig.Dp.Start();
            Assert.True(await AgentRig.WaitFor(() => rig.Agent.ControllerConnected, 10_000),
                "ovs-testcontroller did not complete the handshake over TLS:\n" + rig.Log.Dump() + "\n" + File.ReadAllText($"{dir}/tc.log"));
            Assert.True(rig.Log.Contains("TLS established (Tls1"), rig.Log.Dump());
            await ControllerInteropTests.AllPairsPing(ControllerInteropTests.Hosts(rig));
        }
        finally
        {
            tc.Kill(true);
            tc.WaitForExit(5000);
            dir.Delete(true);
        }
    }
}
