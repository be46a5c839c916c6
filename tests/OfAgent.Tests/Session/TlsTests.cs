using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Softswitch.OfAgent.Session;
using Softswitch.TestKit;
using Softswitch.OfWire.Of10;

namespace Softswitch.OfAgent.Tests.Session;

/// <summary>
/// The TLS channel (ssl:, pssl:) with certificates made in the test: mutual authentication, TLS 1.2+ only, and every
/// refusal logged with its reason.
/// </summary>
public sealed class TlsTests : IDisposable
{
    private readonly TestPki _pki = new();
    private readonly TestPki.Ca _ca;
    private readonly TestPki.Ca _otherCa;
    private readonly TestPki.Identity _switch;

    public TlsTests()
    {
        _ca = _pki.NewCa("switchca");
        _otherCa = _pki.NewCa("otherca");
        _switch = _pki.Issue(_ca, "switch");
    }

    public void Dispose() => _pki.Dispose();

    private AgentOptions Options(params string[] listeners)
    {
        var o = new AgentOptions { Tls = new OfTlsOptions { PrivateKeyFile = _switch.KeyFile, CertificateFile = _switch.CertFile, CaCertFile = _ca.CertFile } };
        o.Listeners.AddRange(listeners);
        return o;
    }

    /// <summary>A TLS client: presents <paramref name="client"/> (or nothing) and checks the switch against our CA.</summary>
    private async Task<SslStream> TlsConnectAsync(int port, TestPki.Identity? client, SslProtocols protocols = SslProtocols.Tls12 | SslProtocols.Tls13)
    {
        var s = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await s.ConnectAsync(IPAddress.Loopback, port);
        var ssl = new SslStream(new NetworkStream(s, ownsSocket: true));
        string? serverProblem = null;
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "softswitch",
            EnabledSslProtocols = protocols,
            ClientCertificates = client is null ? null : new X509CertificateCollection { client.Cert },
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, cert, _, _) =>
            {
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(_ca.Cert);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                bool ok = cert is not null && chain.Build(X509CertificateLoader.LoadCertificate(cert.GetRawCertData()));
                if (!ok) serverProblem = "the switch's certificate does not chain to its CA";
                return ok;
            },
        });
        Assert.Null(serverProblem);
        return ssl;
    }

    /// <summary>Expects the switch to end the channel without ever sending its HELLO (TLS refused).</summary>
    private static async Task ExpectNoHello(Func<Task<Stream>> open)
    {
        Stream stream;
        try
        {
            stream = await open();
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            return; // refused inside the handshake (TLS 1.2 checks the client certificate before finishing)
        }
        using (stream)
        {
            var buf = new byte[64];
            using var cts = new CancellationTokenSource(5000);
            try
            {
                int n = await stream.ReadAsync(buf, cts.Token);
                Assert.True(n == 0, $"the switch sent {n} bytes (a HELLO?) to a peer it should have refused");
            }
            catch (Exception e) when (e is IOException or AuthenticationException)
            {
            }
        }
    }

    [Fact]
    public async Task MutualTls_AClientSignedByTheCaGetsIn_OverTls12AndTls13()
    {
        await using var rig = new AgentRig(options: Options("pssl:0"));
        var client = _pki.Issue(_ca, "controller");
        foreach (var protocol in new[] { SslProtocols.Tls13, SslProtocols.Tls12 })
        {
            var ssl = await TlsConnectAsync(rig.ListenPort, client, protocol);
            Assert.Equal(protocol, ssl.SslProtocol);
            using var c = new TestController();
            await c.ConnectAsync(ssl);
            c.Send(new OfpFeaturesRequest());
            var f = await c.ReceiveAsync<OfpFeaturesReply>();
            Assert.Equal(0x1234ul, f.DatapathId);
            c.Send(new OfpEchoRequest { Data = new byte[3000] });
            Assert.Equal(3000, (await c.ReceiveAsync<OfpEchoReply>()).Data.Length);
        }
        Assert.Equal(2, rig.Agent.Listeners[0].Established);
    }

    [Fact]
    public async Task ASilentTlsPeer_IsClosedByTheProbe_ThoughItsKernelTakesOurEchoes()
    {
        var options = Options("pssl:0");
        options.InactivityProbe = TimeSpan.FromMilliseconds(300);
        // The connections' clock is the test's: it moves only once the peer has gone silent.
        var time = new ManualTimeProvider();
        options.Time = time;
        await using var rig = new AgentRig(options: options);
        using var ssl = await TlsConnectAsync(rig.ListenPort, _pki.Issue(_ca, "controller"));
        using var c = new TestController();
        await c.ConnectAsync(ssl);
        await c.BarrierAsync();
        var conn = Assert.Single(rig.Agent.Connections);
        // From now on the peer reads and answers nothing; its socket stays open, and its kernel acknowledges our echo
        // requests (a hung controller process).
        for (int i = 0; i < 40 && conn.IsOpen; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(150));
            // Between two ticks the send loop writes an echo request and the peer's kernel takes it, as it would in
            // 150 ms of a quiet machine.
            Wait.Until(() => !conn.IsOpen || (conn.QueuedBytes == 0 && conn.SocketUnsentBytes == 0), 5000);
        }
        Assert.False(conn.IsOpen, rig.Log.Dump());
        Assert.True(rig.Log.Contains("no answer"), rig.Log.Dump());
    }

    [Fact]
    public async Task WrongCaExpiredNoCertificateAndPlaintextAreRefused_AndTheLogSaysWhy()
    {
        await using var rig = new AgentRig(options: Options("pssl:0"));
        var listener = rig.Agent.Listeners[0];

        await ExpectNoHello(async () => await TlsConnectAsync(rig.ListenPort, _pki.Issue(_otherCa, "intruder")));
        Assert.True(await Wait.UntilAsync(() => rig.Log.Contains("is not signed by a trusted CA")), rig.Log.Dump());

        await ExpectNoHello(async () => await TlsConnectAsync(rig.ListenPort, _pki.Issue(_ca, "stale", TimeSpan.FromDays(-30), TimeSpan.FromDays(-1))));
        Assert.True(await Wait.UntilAsync(() => rig.Log.Contains("expired on")), rig.Log.Dump());

        await ExpectNoHello(async () => await TlsConnectAsync(rig.ListenPort, null));
        Assert.True(await Wait.UntilAsync(() => rig.Log.Contains("the peer sent no certificate")), rig.Log.Dump());

        // A plaintext OpenFlow client: it sends HELLO and gets nothing back but the end of the connection.
        using (var s = new Socket(SocketType.Stream, ProtocolType.Tcp))
        {
            await s.ConnectAsync(IPAddress.Loopback, rig.ListenPort);
            s.Send([1, 0, 0, 8, 0, 0, 0, 1]);
            await ExpectNoHello(() => Task.FromResult<Stream>(new NetworkStream(s)));
        }
        Assert.True(await Wait.UntilAsync(() => rig.Log.Contains("plaintext OpenFlow on a TLS listener")), rig.Log.Dump());

        Assert.True(await Wait.UntilAsync(() => listener.OpeningFailed == 4), $"opening failures: {listener.OpeningFailed}\n{rig.Log.Dump()}");
        Assert.Equal(0, listener.Established);
        Assert.Empty(rig.Agent.Connections);
        Assert.All(rig.Log.Lines.Where(l => l.Message.Contains("refused")), l => Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, l.Level));

        // TLS 1.0/1.1 are not offered: a client limited to them cannot get in (when the platform still lets it try).
        // And the listener still serves a good client after all that.
        var ssl = await TlsConnectAsync(rig.ListenPort, _pki.Issue(_ca, "controller"));
        using var c = new TestController();
        await c.ConnectAsync(ssl);
        c.Send(new OfpBarrierRequest());
        await c.ReceiveAsync<OfpBarrierReply>();
    }

    [Fact]
    public async Task AnActiveSslConnectionRefusesAControllerFromAnotherCa()
    {
        // A TLS "controller" whose certificate is signed by a CA the switch does not trust.
        var rogue = _pki.Issue(_otherCa, "rogue-controller");
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        var o = Options();
        o.Controllers.Add($"ssl:127.0.0.1:{port}");
        o.Listeners.Add("ptcp:0");
        await using var rig = new AgentRig(options: o);
        using var s = await l.AcceptSocketAsync();
        using var ssl = new SslStream(new NetworkStream(s, ownsSocket: false));
        try
        {
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = rogue.Cert,
                ClientCertificateRequired = true,
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
            });
            await ssl.ReadAtLeastAsync(new byte[8], 1, throwOnEndOfStream: false); // until the switch gives up on us
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
        }
        Assert.True(await Wait.UntilAsync(() => rig.Log.Contains($"controller ssl:127.0.0.1:{port}: not connected (TLS: certificate 'CN=rogue-controller")
                                                 && rig.Log.Contains("is not signed by a trusted CA")), rig.Log.Dump());
        Assert.False(rig.Agent.ControllerConnected);
    }

    [Fact]
    public void MissingOrBadTlsFilesAreOneClearError()
    {
        var o = new AgentOptions { Listeners = { "pssl:0" } };
        var e = Assert.Throws<OfTlsException>(() => new AgentRig(options: o));
        Assert.Equal("ssl: and pssl: need --private-key, --certificate, --ca-cert (or --bootstrap-ca-cert)", e.Message);

        o = Options("pssl:0");
        o.Tls.CaCertFile = Path.Combine(_pki.Dir, "missing.pem");
        e = Assert.Throws<OfTlsException>(() => new AgentRig(options: o));
        Assert.StartsWith($"cannot read --ca-cert '{o.Tls.CaCertFile}'", e.Message);

        o = Options("pssl:0");
        o.Tls.PrivateKeyFile = _pki.Issue(_ca, "other").KeyFile; // a key that does not match the certificate
        e = Assert.Throws<OfTlsException>(() => new AgentRig(options: o));
        Assert.StartsWith($"cannot use --certificate '{_switch.CertFile}'", e.Message);
    }
}
