using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.InteropServices;

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
public sealed partial class OfTransport
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

    /// <summary>
    /// Whether <see cref="TrySendNow"/> can write without blocking: a plain socket on Linux (a TLS record cannot be
    /// written in part, so a TLS channel always writes from its send loop).
    /// </summary>
    public bool CanSendNow => _tls is null && OperatingSystem.IsLinux();

    /// <summary>
    /// Writes what the socket's buffer takes now, never blocking (send(2) with MSG_DONTWAIT): the bytes written, 0
    /// when the buffer is full, -1 when the channel failed (the send loop then meets the same failure and closes).
    /// Only when <see cref="CanSendNow"/>; the caller holds the connection's write lock.
    /// </summary>
    public int TrySendNow(ReadOnlySpan<byte> bytes)
    {
        if (Volatile.Read(ref _closed) != 0) return -1;
        // The reference keeps the descriptor open (and its number not reused) across the call, even if another
        // thread closes the channel meanwhile.
        var handle = _socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            nint r;
            unsafe
            {
                fixed (byte* p = bytes) r = SendNative((int)handle.DangerousGetHandle(), p, (nuint)bytes.Length, MsgDontWait | MsgNoSignal);
            }
            if (r >= 0) return (int)r;
            int errno = Marshal.GetLastPInvokeError();
            return errno is EAgain or EIntr ? 0 : -1;
        }
        catch (ObjectDisposedException)
        {
            return -1;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    private const int MsgDontWait = 0x40, MsgNoSignal = 0x4000, EAgain = 11, EIntr = 4;

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static unsafe partial nint SendNative(int fd, byte* buf, nuint len, int flags);

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
