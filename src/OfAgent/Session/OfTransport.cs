using System.Net.Security;
using System.Net.Sockets;

namespace Softswitch.OfAgent.Session;

/// <summary>
/// The byte stream under one OpenFlow channel: a connected TCP or Unix socket, optionally wrapped in TLS.
/// </summary>
/// <remarks>
/// The socket stays in blocking mode for its whole life (see <see cref="SocketReadiness"/> for why): the opening
/// phase's asynchronous reads wait for readiness on the shared poller and then read what is there, and TLS runs
/// over <see cref="BlockingSocketStream"/>, which does the same.
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
    public Task AuthenticateAsServerAsync(SslServerAuthenticationOptions options, CancellationToken ct)
    {
        _tls = new SslStream(new BlockingSocketStream(_socket), leaveInnerStreamOpen: false);
        return _tls.AuthenticateAsServerAsync(options, ct);
    }

    /// <summary>Runs the TLS handshake as the connecting side, presenting our certificate.</summary>
    public Task AuthenticateAsClientAsync(SslClientAuthenticationOptions options, CancellationToken ct)
    {
        _tls = new SslStream(new BlockingSocketStream(_socket), leaveInnerStreamOpen: false);
        return _tls.AuthenticateAsClientAsync(options, ct);
    }

    public int Receive(byte[] buffer, int offset, int count)
        => _tls is { } t ? t.Read(buffer, offset, count) : _socket.Receive(buffer, offset, count, SocketFlags.None);

    public void Send(byte[] buffer, int offset, int count)
    {
        if (_tls is { } t) t.Write(buffer, offset, count);
        else BlockingSocketStream.SendAll(_socket, buffer.AsSpan(offset, count));
    }

    /// <summary>Reads what is there once the socket is readable, without a thread waiting meanwhile.</summary>
    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct)
    {
        if (_tls is { } t) return await t.ReadAsync(buffer, ct).ConfigureAwait(false);
        await SocketReadiness.Shared.WaitReadableAsync(_socket, ct).ConfigureAwait(false);
        return _socket.Receive(buffer.Span, SocketFlags.None);
    }

    /// <summary>Sends a short message (our HELLO) in the opening phase; a fresh socket's buffer takes it without blocking.</summary>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct)
    {
        if (_tls is { } t) await t.WriteAsync(buffer, ct).ConfigureAwait(false);
        else BlockingSocketStream.SendAll(_socket, buffer.Span);
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

/// <summary>
/// A stream over a blocking-mode socket whose asynchronous reads wait on <see cref="SocketReadiness"/> instead of
/// switching the socket to non-blocking mode; writes block (they are TLS records of a connection's send loop, or
/// the few kilobytes of a handshake, which a fresh socket's buffer takes at once). Same threading as a socket.
/// </summary>
internal sealed class BlockingSocketStream(Socket socket) : Stream
{
    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Flush() { }

    public override int Read(byte[] buffer, int offset, int count) => socket.Receive(buffer, offset, count, SocketFlags.None);
    public override int Read(Span<byte> buffer) => socket.Receive(buffer, SocketFlags.None);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        await SocketReadiness.Shared.WaitReadableAsync(socket, ct).ConfigureAwait(false);
        return socket.Receive(buffer.Span, SocketFlags.None);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct)
        => ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => SendAll(socket, buffer.AsSpan(offset, count));
    public override void Write(ReadOnlySpan<byte> buffer) => SendAll(socket, buffer);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default)
    {
        SendAll(socket, buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct)
    {
        SendAll(socket, buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    public static void SendAll(Socket s, ReadOnlySpan<byte> bytes)
    {
        while (bytes.Length > 0) bytes = bytes[s.Send(bytes, SocketFlags.None)..];
    }
}
