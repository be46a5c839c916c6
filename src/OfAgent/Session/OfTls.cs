using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

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

    public bool IsEmpty => PrivateKeyFile is null && CertificateFile is null && CaCertFile is null;
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
/// Immutable after <see cref="Load"/>; thread-safe (each validation builds its own chain).
/// </remarks>
public sealed class OfTlsContext
{
    private readonly X509Certificate2Collection _ca;
    private readonly SslStreamCertificateContext _own;

    private OfTlsContext(X509Certificate2 certificate, X509Certificate2Collection ca)
    {
        Certificate = certificate;
        _ca = ca;
        _own = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true);
    }

    public const SslProtocols Protocols = SslProtocols.Tls12 | SslProtocols.Tls13;

    public X509Certificate2 Certificate { get; }

    /// <summary>Reads the three PEM files; throws <see cref="OfTlsException"/> with a line for the user.</summary>
    public static OfTlsContext Load(OfTlsOptions o)
    {
        if (o.PrivateKeyFile is null || o.CertificateFile is null || o.CaCertFile is null)
        {
            var missing = new List<string>();
            if (o.PrivateKeyFile is null) missing.Add("--private-key");
            if (o.CertificateFile is null) missing.Add("--certificate");
            if (o.CaCertFile is null) missing.Add("--ca-cert");
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
        var ca = new X509Certificate2Collection();
        try
        {
            ca.ImportFromPemFile(o.CaCertFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw new OfTlsException($"cannot read --ca-cert '{o.CaCertFile}': {e.Message}");
        }
        if (ca.Count == 0) throw new OfTlsException($"--ca-cert '{o.CaCertFile}' holds no PEM certificate");
        return new OfTlsContext(cert, ca);
    }

    public SslServerAuthenticationOptions ServerOptions(Action<string> refused) => new()
    {
        ServerCertificateContext = _own,
        ClientCertificateRequired = true,
        EnabledSslProtocols = Protocols,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = (_, cert, chain, _) => Accept(cert, chain, refused),
    };

    public SslClientAuthenticationOptions ClientOptions(string targetHost, Action<string> refused) => new()
    {
        TargetHost = targetHost,
        ClientCertificateContext = _own,
        EnabledSslProtocols = Protocols,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = (_, cert, chain, _) => Accept(cert, chain, refused),
    };

    private bool Accept(X509Certificate? cert, X509Chain? presented, Action<string> refused)
    {
        string? why = Verify(cert, presented);
        if (why is null) return true;
        refused(why);
        return false;
    }

    /// <summary>Null when <paramref name="cert"/> chains to our CA and is valid now; otherwise why not.</summary>
    public string? Verify(X509Certificate? cert, X509Chain? presented = null)
    {
        if (cert is null) return "the peer sent no certificate";
        var leaf = cert as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(cert.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = DateTime.Now;
        if (presented is not null)
            foreach (var el in presented.ChainElements)
                if (!el.Certificate.Equals(leaf)) chain.ChainPolicy.ExtraStore.Add(el.Certificate);
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
