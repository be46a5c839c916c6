using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Softswitch.OfAgent.Tests.Session;

/// <summary>
/// Certificates made in the test with the BCL's CertificateRequest, written as PEM files the way ovs-pki lays
/// them out (NAME-privkey.pem, NAME-cert.pem, CA cacert.pem), so Softswitch and Open vSwitch's tools read the same files.
/// </summary>
internal sealed class TestPki : IDisposable
{
    public readonly string Dir = Directory.CreateTempSubdirectory("ssw-pki").FullName;

    public sealed record Ca(string Name, X509Certificate2 Cert, RSA Key, string CertFile);
    public sealed record Identity(string Name, string KeyFile, string CertFile, X509Certificate2 Cert);

    public Ca NewCa(string name)
    {
        var key = RSA.Create(2048);
        var req = new CertificateRequest($"CN={name}, O=Softswitch test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        req.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(req.PublicKey, false));
        var cert = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        string file = Path.Combine(Dir, $"{name}-cacert.pem");
        File.WriteAllText(file, cert.ExportCertificatePem() + "\n");
        return new Ca(name, cert, key, file);
    }

    /// <summary>A certificate for <paramref name="name"/> signed by <paramref name="ca"/>, valid from/to the given offsets from now.</summary>
    public Identity Issue(Ca ca, string name, TimeSpan? notBefore = null, TimeSpan? notAfter = null)
    {
        using var key = RSA.Create(2048);
        var req = new CertificateRequest($"CN={name} id:{Guid.NewGuid():N}, O=Softswitch test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, false));
        req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        req.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca.Cert, true, false));
        var from = DateTimeOffset.UtcNow + (notBefore ?? TimeSpan.FromDays(-1));
        var to = DateTimeOffset.UtcNow + (notAfter ?? TimeSpan.FromDays(30));
        var serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7F;
        using var signed = req.Create(ca.Cert.SubjectName, X509SignatureGenerator.CreateForRSA(ca.Key, RSASignaturePadding.Pkcs1), from, to, serial);
        var cert = signed.CopyWithPrivateKey(key);
        string keyFile = Path.Combine(Dir, $"{name}-privkey.pem"), certFile = Path.Combine(Dir, $"{name}-cert.pem");
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem() + "\n");
        File.WriteAllText(certFile, cert.ExportCertificatePem() + "\n");
        return new Identity(name, keyFile, certFile, cert);
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, true); } catch (IOException) { }
    }
}
