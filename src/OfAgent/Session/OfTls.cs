using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Softswitch.OfAgent.Session;

/// <summary>The files of the TLS channel, named as Open vSwitch names its options.</summary>
public sealed class OfTlsOptions
{
    /// <summary>PEM private key of this switch (<c>--private-key</c>).</summary>
    public string? PrivateKeyFile { get; set; }
    /// <summary>PEM certificate of this switch, signed by a CA its peers trust (<c>--certificate</c>).</summary>
    public string? CertificateFile { get; set; }
    /// <summary>PEM certificate(s) of the CA that must have signed every peer's certificate (<c>--ca-cert</c>).</summary>
    public string? CaCertFile { get; set; }
    /// <summary>
    /// <c>--bootstrap-ca-cert</c>: the CA file, which may not exist yet. When it exists it is read like
    /// <see cref="CaCertFile"/>; when it does not, the first <c>ssl:</c> controller's CA certificate (the self-signed
    /// top of the chain it presents) is trusted without verification, saved here, and required from then on.
    /// </summary>
    public string? BootstrapCaCertFile { get; set; }

    public bool IsEmpty => PrivateKeyFile is null && CertificateFile is null && CaCertFile is null && BootstrapCaCertFile is null;
}

/// <summary>TLS material that cannot be used (the message names the file and says why, for the user).</summary>
public sealed class OfTlsException(string message) : Exception(message);

/// <summary>
/// The TLS side of <c>ssl:</c> and <c>pssl:</c> endpoints: this switch's certificate and key, and the CA a peer's
/// certificate must chain to. Both directions authenticate mutually: a listener demands a client certificate,
/// and an active connection presents ours and checks the controller's. TLS 1.2 and 1.3 only; the crypto is the
/// platform's (SslStream over OpenSSL).
/// </summary>
/// <remarks>
/// As in Open vSwitch, a peer is trusted when its certificate chains to the configured CA and is within its
/// validity period; its name is not compared with the host name (OpenFlow peers are identified by their CA, and
/// ovs-pki certificates carry an id, not a host name). Revocation is not checked (no CRL is configured).
/// Bootstrap (<see cref="OfTlsOptions.BootstrapCaCertFile"/> naming a file that does not exist): until a CA is
/// known, listeners refuse every peer, and the first controller we connect to (<c>ssl:</c>) must present a chain
/// whose top certificate is self-signed; that certificate is written to the file (created exclusively, mode 0444,
/// as Open vSwitch does; a file another process created meanwhile is read instead), logged as a warning with its
/// SHA-256 fingerprint, and from then on it is the CA: the same connection's certificate is verified against it
/// at once (Open vSwitch drops that connection and reconnects; the outcome is the same, one backoff sooner).
/// Thread safety: the CA collection is published once (null while bootstrapping) with a volatile write under
/// <c>_bootstrapLock</c>, which only bootstrapping takes; validations read it once and build their own chain.
/// </remarks>
public sealed class OfTlsContext
{
    private volatile X509Certificate2Collection? _ca;
    private readonly SslStreamCertificateContext _own;
    private readonly string? _bootstrapFile;
    private readonly ILogger _log;
    private readonly Lock _bootstrapLock = new();

    private OfTlsContext(X509Certificate2 certificate, X509Certificate2Collection? ca, string? bootstrapFile, ILogger log)
    {
        Certificate = certificate;
        _ca = ca;
        _bootstrapFile = bootstrapFile;
        _log = log;
        _own = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true);
    }

    /// <summary>Whether a CA is known (false only while <c>--bootstrap-ca-cert</c> waits for its first controller).</summary>
    public bool HasCa => _ca is not null;

    public const SslProtocols Protocols = SslProtocols.Tls12 | SslProtocols.Tls13;

    public X509Certificate2 Certificate { get; }

    /// <summary>Reads the PEM files; throws <see cref="OfTlsException"/> with a line for the user.</summary>
    public static OfTlsContext Load(OfTlsOptions o, ILogger? log = null)
    {
        if (o.CaCertFile is not null && o.BootstrapCaCertFile is not null)
            throw new OfTlsException("--ca-cert and --bootstrap-ca-cert both name the CA file: give one of them");
        if (o.PrivateKeyFile is null || o.CertificateFile is null || (o.CaCertFile ?? o.BootstrapCaCertFile) is null)
        {
            var missing = new List<string>();
            if (o.PrivateKeyFile is null) missing.Add("--private-key");
            if (o.CertificateFile is null) missing.Add("--certificate");
            if ((o.CaCertFile ?? o.BootstrapCaCertFile) is null) missing.Add("--ca-cert (or --bootstrap-ca-cert)");
            throw new OfTlsException($"ssl: and pssl: need {string.Join(", ", missing)}");
        }
        X509Certificate2 cert;
        try
        {
            using var pem = X509Certificate2.CreateFromPemFile(o.CertificateFile, o.PrivateKeyFile);
            // Round-trip through PKCS#12 so the key is usable by the TLS stack on every platform.
            cert = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw new OfTlsException($"cannot use --certificate '{o.CertificateFile}' with --private-key '{o.PrivateKeyFile}': {e.Message}");
        }
        log ??= NullLogger.Instance;
        if (o.CaCertFile is { } caFile) return new OfTlsContext(cert, ReadCa(caFile, "--ca-cert"), null, log);
        string boot = o.BootstrapCaCertFile!;
        if (File.Exists(boot)) return new OfTlsContext(cert, ReadCa(boot, "--bootstrap-ca-cert"), null, log);
        log.LogWarning("--bootstrap-ca-cert {File} does not exist: the first ssl: controller's CA certificate will be trusted without verification and saved there", boot);
        return new OfTlsContext(cert, null, boot, log);
    }

    private static X509Certificate2Collection ReadCa(string file, string option)
    {
        var ca = new X509Certificate2Collection();
        try
        {
            ca.ImportFromPemFile(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw new OfTlsException($"cannot read {option} '{file}': {e.Message}");
        }
        if (ca.Count == 0) throw new OfTlsException($"{option} '{file}' holds no PEM certificate");
        return ca;
    }

    public SslServerAuthenticationOptions ServerOptions(Action<string> refused) => new()
    {
        ServerCertificateContext = _own,
        ClientCertificateRequired = true,
        EnabledSslProtocols = Protocols,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = (_, cert, chain, _) => Accept(cert, chain, refused, bootstrapFrom: null),
    };

    public SslClientAuthenticationOptions ClientOptions(string targetHost, Action<string> refused) => new()
    {
        TargetHost = targetHost,
        ClientCertificateContext = _own,
        EnabledSslProtocols = Protocols,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = (_, cert, chain, _) => Accept(cert, chain, refused, bootstrapFrom: targetHost),
    };

    private bool Accept(X509Certificate? cert, X509Chain? presented, Action<string> refused, string? bootstrapFrom)
    {
        string? why = _ca is null
            ? bootstrapFrom is null
                ? $"no CA certificate to verify peers with yet (--bootstrap-ca-cert {_bootstrapFile} is learned from the first ssl: controller)"
                : Bootstrap(cert, presented, bootstrapFrom) ?? Verify(cert, presented)
            : Verify(cert, presented);
        if (why is null) return true;
        refused(why);
        return false;
    }

    /// <summary>
    /// Learns the CA from a controller's chain (see the remarks): null when a CA is known afterwards (learned here, or
    /// by another connection or process meanwhile), otherwise why the peer is refused.
    /// </summary>
    public string? Bootstrap(X509Certificate? cert, X509Chain? presented, string peer)
    {
        if (cert is null) return "could not bootstrap the CA certificate: the controller presented no certificate";
        lock (_bootstrapLock)
        {
            if (_ca is not null) return null;
            string file = _bootstrapFile!;
            var leaf = cert as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(cert.GetRawCertData());
            // The top of the chain the peer presented: the platform builds it from the certificates the peer sent.
            var top = presented is { ChainElements.Count: > 0 } ? presented.ChainElements[^1].Certificate : leaf;
            if (!IsSelfSigned(top))
            {
                return $"could not bootstrap the CA certificate: the top of the controller's chain, '{top.Subject}', is not self-signed"
                    + (ReferenceEquals(top, leaf) || top.Equals(leaf)
                        ? " (only its own certificate arrived: the controller probably does not send its CA certificate, --peer-ca-cert in Open vSwitch)"
                        : "");
            }
            try
            {
                var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
                if (!OperatingSystem.IsWindows()) create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
                using (var w = new StreamWriter(file, create)) w.Write(top.ExportCertificatePem() + "\n");
            }
            catch (IOException) when (File.Exists(file))
            {
                _log.LogInformation("reading CA certificate {File} created by another process", file);
                try
                {
                    _ca = ReadCa(file, "--bootstrap-ca-cert");
                    return null;
                }
                catch (OfTlsException e)
                {
                    return "could not bootstrap the CA certificate: " + e.Message;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return $"could not bootstrap the CA certificate: creating {file} failed: {e.Message}";
            }
            _ca = [X509CertificateLoader.LoadCertificate(top.RawData)];
            _log.LogWarning("TRUSTING CA certificate '{Subject}' (SHA-256 fingerprint {Fingerprint}) presented by the controller at {Peer}, "
                + "accepted WITHOUT VERIFICATION (--bootstrap-ca-cert) and saved to {File}; every TLS peer must now be signed by it",
                top.Subject, top.GetCertHashString(HashAlgorithmName.SHA256), peer, file);
            return null;
        }
    }

    /// <summary>Whether <paramref name="c"/> is issued by itself: its own public key verifies its signature (a chain
    /// that trusts only <paramref name="c"/> builds), and it is within its validity period.</summary>
    private static bool IsSelfSigned(X509Certificate2 c)
    {
        if (!c.SubjectName.RawData.AsSpan().SequenceEqual(c.IssuerName.RawData)) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(c);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = DateTime.Now;
        return chain.Build(c);
    }

    /// <summary>Null when <paramref name="cert"/> chains to our CA and is valid now; otherwise why not.</summary>
    public string? Verify(X509Certificate? cert, X509Chain? presented = null)
    {
        if (cert is null) return "the peer sent no certificate";
        if (_ca is not { } ca) return "no CA certificate to verify peers with yet (--bootstrap-ca-cert)";
        var leaf = cert as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(cert.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = DateTime.Now;
        if (presented is not null)
        {
            foreach (var el in presented.ChainElements)
                if (!el.Certificate.Equals(leaf)) chain.ChainPolicy.ExtraStore.Add(el.Certificate);
        }

        if (chain.Build(leaf)) return null;
        var reasons = new List<string>();
        foreach (var s in chain.ChainStatus)
        {
            reasons.Add(s.Status switch
            {
                X509ChainStatusFlags.NotTimeValid => leaf.NotAfter < DateTime.Now
                    ? $"certificate '{leaf.Subject}' expired on {leaf.NotAfter.ToUniversalTime():yyyy-MM-ddTHH:mm:ssZ}"
                    : $"certificate '{leaf.Subject}' is not valid before {leaf.NotBefore.ToUniversalTime():yyyy-MM-ddTHH:mm:ssZ}",
                X509ChainStatusFlags.UntrustedRoot or X509ChainStatusFlags.PartialChain
                    => $"certificate '{leaf.Subject}' (issuer '{leaf.Issuer}') is not signed by a trusted CA (--ca-cert)",
                _ => $"certificate '{leaf.Subject}': {s.StatusInformation.Trim()}",
            });
        }
        return reasons.Count == 0 ? $"certificate '{leaf.Subject}' does not verify" : string.Join("; ", reasons.Distinct());
    }
}
