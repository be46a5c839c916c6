using System.Net.Security;
using System.Net.Sockets;

namespace Softswitch.OfAgent.Session;

/// <summary>
/// The byte stream under one OpenFlow channel: a connected TCP or Unix socket, optionally wrapped in TLS.
/// </summary>
/// <remarks>
/// Thread safety: one reader and one writer may run at once (the connection's receive and send loops), which both
/// a socket and <see cref="SslStream"/> allow; <see cref="Close"/> may come from any thread and makes blocked calls
/// on the other threads fail (with <see cref="SocketException"/>, <see cref="IOException"/> or
/// <see cref="ObjectDisposedException"/>, which callers treat as the end of the channel).
/// </remarks>
public sealed class OfTransport
{
    private readonly Socket _socket;
    private SslStream? _tls;
    private int _closed;

    public OfTransport(Socket socket)
    {
        _socket = socket;
        Remote = socket.RemoteEndPoint?.ToString() is { Length: > 0 } r ? r : "unix";
    }

    public Socket Socket => _socket;
    public bool IsTls => _tls is not null;
    /// <summary>The peer, for logs (<c>127.0.0.1:40112</c>, <c>[::1]:40112</c>, or <c>unix</c>).</summary>
    public string Remote { get; }
    /// <summary>The negotiated TLS version and cipher, for logs (empty without TLS).</summary>
    public string TlsDescription => _tls is { } t ? $"{t.SslProtocol}, {t.NegotiatedCipherSuite}" : "";

    /// <summary>Runs the TLS handshake as the accepting side, demanding a client certificate.</summary>
    public async Task AuthenticateAsServerAsync(SslServerAuthenticationOptions options, CancellationToken ct)
    {
        var tls = new SslStream(new NetworkStream(_socket, ownsSocket: false), leaveInnerStreamOpen: false);
        _tls = tls;
        await tls.AuthenticateAsServerAsync(options, ct).ConfigureAwait(false);
    }

    /// <summary>Runs the TLS handshake as the connecting side, presenting our certificate.</summary>
    public async Task AuthenticateAsClientAsync(SslClientAuthenticationOptions options, CancellationToken ct)
    {
        var tls = new SslStream(new NetworkStream(_socket, ownsSocket: false), leaveInnerStreamOpen: false);
        _tls = tls;
        await tls.AuthenticateAsClientAsync(options, ct).ConfigureAwait(false);
    }

    public int Receive(byte[] buffer, int offset, int count)
        => _tls is { } t ? t.Read(buffer, offset, count) : _socket.Receive(buffer, offset, count, SocketFlags.None);

    public void Send(byte[] buffer, int offset, int count)
    {
        if (_tls is { } t)
        {
            t.Write(buffer, offset, count);
            return;
        }
        int sent = 0;
        while (sent < count) sent += _socket.Send(buffer, offset + sent, count - sent, SocketFlags.None);
    }

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct)
        => _tls is { } t ? t.ReadAsync(buffer, ct) : _socket.ReceiveAsync(buffer, SocketFlags.None, ct);

    public async ValueTask SendAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct)
    {
        if (_tls is { } t)
        {
            await t.WriteAsync(buffer, ct).ConfigureAwait(false);
            return;
        }
        while (buffer.Length > 0)
        {
            int n = await _socket.SendAsync(buffer, SocketFlags.None, ct).ConfigureAwait(false);
            buffer = buffer[n..];
        }
    }

    /// <summary>Closes the channel (idempotent, any thread).</summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        try { _socket.Shutdown(SocketShutdown.Both); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        try { _tls?.Dispose(); } catch (Exception e) when (e is IOException or ObjectDisposedException) { }
        _socket.Dispose();
    }
}
