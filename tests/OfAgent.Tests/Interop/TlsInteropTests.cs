using System.Diagnostics;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Softswitch.OfAgent.Session;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>TLS against Debian's Open vSwitch: ovs-ofctl over ssl: to our pssl:, and our ssl: to ovs-testcontroller's pssl:.</summary>
public sealed class TlsInteropTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task OvsOfctlOverSslToPssl_AndWithoutACertificateItIsRefused()
    {
        var switchCa = _pki.NewCa("switchca");
        var controllerCa = _pki.NewCa("controllerca");
        var sw = _pki.Issue(switchCa, "switch");
        var ctl = _pki.Issue(controllerCa, "ofctl");
        await using var rig = new AgentRig(options: new AgentOptions
        {
            Listeners = { "pssl:0" },
            Tls = new OfTlsOptions { PrivateKeyFile = sw.KeyFile, CertificateFile = sw.CertFile, CaCertFile = controllerCa.CertFile },
        });
        string target = $"ssl:127.0.0.1:{rig.ListenPort}";
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
        Assert.True(await Wait.UntilAsync(() => rig.Log.Contains("CN=not-a-controller") && rig.Log.Contains("is not signed by a trusted CA")), rig.Log.Dump());
    }

    [ToolFact]
    [RequiresTool("ovs-testcontroller")]
    public async Task SoftswitchOverSslToOvsTestcontrollerPssl_LearnsAndAllPairsPing()
    {
        var switchCa = _pki.NewCa("switchca");
        var controllerCa = _pki.NewCa("controllerca");
        var sw = _pki.Issue(switchCa, "switch");
        var tcCert = _pki.Issue(controllerCa, "controller");
        int port = FreePorts.Tcp();
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
            Assert.True(await Wait.UntilAsync(() => rig.Agent.ControllerConnected, 10_000),
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

    /// <summary>ovs-testcontroller on pssl: with its certificate, and (with <paramref name="peerCa"/>) its CA sent in the chain.</summary>
    private static Process StartTestController(TestPki.Identity id, TestPki.Ca trusts, TestPki.Ca? peerCa, int port, string dir)
    {
        var psi = new ProcessStartInfo("ovs-testcontroller")
        {
            ArgumentList = { "-O", "OpenFlow10", "-p", id.KeyFile, "-c", id.CertFile, "-C", trusts.CertFile },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        if (peerCa is not null) psi.ArgumentList.Add($"--peer-ca-cert={peerCa.CertFile}");
        foreach (var a in new[] { $"pssl:{port}:127.0.0.1", "--no-chdir", $"--log-file={dir}/tc-{port}.log", $"--unixctl={dir}/tc-{port}.ctl" })
            psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    private static void Stop(Process p)
    {
        p.Kill(true);
        p.WaitForExit(5000);
        p.Dispose();
    }

    [ToolFact]
    [RequiresTool("ovs-testcontroller")]
    [SupportedOSPlatform("linux")] // the saved CA file's Unix mode is checked (ovs-testcontroller runs on Linux only anyway)
    public async Task BootstrapCaCert_LearnsTheControllersCaSavesItAndThenRequiresIt()
    {
        var switchCa = _pki.NewCa("switchca");
        var controllerCa = _pki.NewCa("controllerca");
        var otherCa = _pki.NewCa("otherca");
        var sw = _pki.Issue(switchCa, "switch");
        var dir = Directory.CreateTempSubdirectory("ssw-tls-boot").FullName;
        string boot = Path.Combine(dir, "cacert.pem");
        int port = FreePorts.Tcp();
        var tc = StartTestController(_pki.Issue(controllerCa, "controller"), switchCa, controllerCa, port, dir);
        try
        {
            await Task.Delay(300);
            await using var rig = new AgentRig(options: new AgentOptions
            {
                Controllers = { $"ssl:127.0.0.1:{port}" },
                Tls = new OfTlsOptions { PrivateKeyFile = sw.KeyFile, CertificateFile = sw.CertFile, BootstrapCaCertFile = boot },
                MaxBackoff = TimeSpan.FromSeconds(1),
            });
            Assert.True(await Wait.UntilAsync(() => rig.Agent.ControllerConnected, 10_000), "no connection after bootstrapping:\n" + rig.Log.Dump());
            Assert.True(File.Exists(boot), rig.Log.Dump());
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(boot));
            var saved = new X509Certificate2Collection();
            saved.ImportFromPemFile(boot);
            Assert.Equal(controllerCa.Cert.Thumbprint, Assert.Single(saved).Thumbprint);
            Assert.True(rig.Log.Contains("TRUSTING CA certificate 'CN=controllerca") && rig.Log.Contains(controllerCa.Cert.GetCertHashString(HashAlgorithmName.SHA256)),
                rig.Log.Dump());

            // From now on the learned CA is required: a controller whose certificate another CA signed is refused.
            Stop(tc);
            tc = StartTestController(_pki.Issue(otherCa, "impostor"), switchCa, otherCa, port, dir);
            Assert.True(await Wait.UntilAsync(() => rig.Log.Contains("CN=impostor") && rig.Log.Contains("is not signed by a trusted CA"), 15_000), rig.Log.Dump());
            Assert.False(rig.Agent.ControllerConnected);
            Assert.Equal(controllerCa.Cert.Thumbprint, X509CertificateLoader.LoadCertificate(Assert.Single(LoadPem(boot)).RawData).Thumbprint);
        }
        finally
        {
            Stop(tc);
            Directory.Delete(dir, true);
        }
    }

    private static X509Certificate2Collection LoadPem(string file)
    {
        var c = new X509Certificate2Collection();
        c.ImportFromPemFile(file);
        return c;
    }

    [ToolFact]
    [RequiresTool("ovs-testcontroller")]
    public async Task BootstrapCaCert_RefusesAControllerThatDoesNotSendItsCa_AndSavesNothing()
    {
        var switchCa = _pki.NewCa("switchca");
        var controllerCa = _pki.NewCa("controllerca");
        var sw = _pki.Issue(switchCa, "switch");
        var dir = Directory.CreateTempSubdirectory("ssw-tls-boot").FullName;
        string boot = Path.Combine(dir, "cacert.pem");
        int port = FreePorts.Tcp();
        var tc = StartTestController(_pki.Issue(controllerCa, "controller"), switchCa, peerCa: null, port, dir);
        try
        {
            await Task.Delay(300);
            await using var rig = new AgentRig(options: new AgentOptions
            {
                Controllers = { $"ssl:127.0.0.1:{port}" },
                Tls = new OfTlsOptions { PrivateKeyFile = sw.KeyFile, CertificateFile = sw.CertFile, BootstrapCaCertFile = boot },
            });
            Assert.True(await Wait.UntilAsync(() => rig.Log.Contains("is not self-signed") && rig.Log.Contains("--peer-ca-cert"), 10_000), rig.Log.Dump());
            Assert.False(rig.Agent.ControllerConnected);
            Assert.False(File.Exists(boot));
        }
        finally
        {
            Stop(tc);
            Directory.Delete(dir, true);
        }
    }

    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task BootstrapCaCert_PsslRefusesPeersUntilACaIsKnown()
    {
        var switchCa = _pki.NewCa("switchca");
        var controllerCa = _pki.NewCa("controllerca");
        var sw = _pki.Issue(switchCa, "switch");
        var ctl = _pki.Issue(controllerCa, "ofctl");
        string boot = Path.Combine(_pki.Dir, "not-yet-cacert.pem");
        await using var rig = new AgentRig(options: new AgentOptions
        {
            Listeners = { "pssl:0" },
            Tls = new OfTlsOptions { PrivateKeyFile = sw.KeyFile, CertificateFile = sw.CertFile, BootstrapCaCertFile = boot },
        });
        var (code, so, se) = ExternalTool.Run("ovs-ofctl", ["-O", "OpenFlow10", "--private-key", ctl.KeyFile, "--certificate", ctl.CertFile,
                                                            "--ca-cert", switchCa.CertFile, "--timeout=5", "show", $"ssl:127.0.0.1:{rig.ListenPort}"]);
        Assert.NotEqual(0, code);
        Assert.True(await Wait.UntilAsync(() => rig.Log.Contains("no CA certificate to verify peers with yet")), rig.Log.Dump() + se + so);
        Assert.False(File.Exists(boot));
    }

    [Fact]
    public void BootstrapCaCert_AnExistingFileIsTheCa_AndItExcludesCaCert()
    {
        var ca = _pki.NewCa("ca");
        var sw = _pki.Issue(ca, "switch");
        var tls = OfTlsContext.Load(new OfTlsOptions { PrivateKeyFile = sw.KeyFile, CertificateFile = sw.CertFile, BootstrapCaCertFile = ca.CertFile });
        Assert.True(tls.HasCa);
        Assert.Null(tls.Verify(sw.Cert));
        var pending = OfTlsContext.Load(new OfTlsOptions { PrivateKeyFile = sw.KeyFile, CertificateFile = sw.CertFile, BootstrapCaCertFile = ca.CertFile + ".absent" });
        Assert.False(pending.HasCa);
        Assert.Contains("no CA certificate", pending.Verify(sw.Cert));
        var e = Assert.Throws<OfTlsException>(() => OfTlsContext.Load(new OfTlsOptions
        {
            PrivateKeyFile = sw.KeyFile, CertificateFile = sw.CertFile, CaCertFile = ca.CertFile, BootstrapCaCertFile = ca.CertFile,
        }));
        Assert.Contains("give one of them", e.Message);
        e = Assert.Throws<OfTlsException>(() => OfTlsContext.Load(new OfTlsOptions { PrivateKeyFile = sw.KeyFile, CertificateFile = sw.CertFile }));
        Assert.Contains("--ca-cert (or --bootstrap-ca-cert)", e.Message);
    }
}
