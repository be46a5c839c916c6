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
/// On Linux every write is made with send(2) and MSG_DONTWAIT, waiting for room with poll(2) when the socket's buffer
/// is full, so the bytes the kernel has taken are known at every moment (<c>_handed</c>), not only when a whole
/// write returns: with the socket's unsent-byte count (SIOCOUTQ) they give <see cref="Progress"/>, what the peer
/// has taken so far, which the connection's keepalive reads as liveness.
/// A plain channel's established connection reads with <see cref="TryReceiveNow"/> (recv(2) with MSG_DONTWAIT) once
/// <see cref="SocketReadiness"/> said the socket is readable, and its writes never block (<see cref="TrySendNow"/>),
/// so neither needs a thread of its own.
/// Thread safety: one reader and one writer may run at once (a connection's turn and a thread queueing bytes, or a TLS
/// connection's receive and send loops), which both
/// a socket and <see cref="SslStream"/> allow; <see cref="Close"/> may come from any thread and makes blocked calls
/// on the other threads fail (with <see cref="SocketException"/>, <see cref="IOException"/> or
/// <see cref="ObjectDisposedException"/>, which callers treat as the end of the channel). Writes come from one
/// thread at a time (the connection's write lock); <see cref="Progress"/> may be read from any thread.
/// </remarks>
public sealed partial class OfTransport
{
    private readonly Socket _socket;
    private SslStream? _tls;
    private int _closed;
    private long _handed; // bytes the kernel has taken from our writes (the writer's alone to change)

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
        _tls = new SslStream(new BlockingSocketStream(this), leaveInnerStreamOpen: false);
        return _tls.AuthenticateAsServerAsync(options, ct);
    }

    /// <summary>Runs the TLS handshake as the connecting side, presenting our certificate.</summary>
    public Task AuthenticateAsClientAsync(SslClientAuthenticationOptions options, CancellationToken ct)
    {
        _tls = new SslStream(new BlockingSocketStream(this), leaveInnerStreamOpen: false);
        return _tls.AuthenticateAsClientAsync(options, ct);
    }

    public int Receive(byte[] buffer, int offset, int count)
        => _tls is { } t ? t.Read(buffer, offset, count) : _socket.Receive(buffer, offset, count, SocketFlags.None);

    public void Send(byte[] buffer, int offset, int count)
    {
        if (_tls is { } t) t.Write(buffer, offset, count);
        else SendAll(buffer.AsSpan(offset, count));
    }

    /// <summary>
    /// Writes every byte to the socket (a TLS record's, or the plain stream's), counting what the kernel takes as it
    /// takes it; blocks while the socket's buffer is full.
    /// </summary>
    internal void SendAll(ReadOnlySpan<byte> bytes)
    {
        if (!OperatingSystem.IsLinux())
        {
            while (bytes.Length > 0)
            {
                int n = _socket.Send(bytes, SocketFlags.None);
                Volatile.Write(ref _handed, _handed + n);
                bytes = bytes[n..];
            }
            return;
        }
        while (bytes.Length > 0)
        {
            int n = TrySendNow(bytes);
            if (n < 0) throw new SocketException((int)SocketError.ConnectionReset);
            if (n == 0) WaitWritable();
            bytes = bytes[n..];
        }
    }

    /// <summary>
    /// Bytes of this channel the peer has taken (<paramref name="taken"/>: what the kernel took from our writes less
    /// what its send queue still holds, which grows while the peer takes bytes, however slowly and however large the
    /// write in progress, and stands still while it takes none) and the bytes still in the socket's send queue, the
    /// return value (SIOCOUTQ: not yet acknowledged over TCP, not yet read over a Unix socket). Without the queue's
    /// count (not Linux, or the channel closed) the peer is taken to have what the kernel took, and 0 is returned.
    /// </summary>
    public long Progress(out long taken)
    {
        long handed = Volatile.Read(ref _handed);
        long unsent = OperatingSystem.IsLinux() ? UnsentBytes() : -1;
        if (unsent < 0) unsent = 0;
        taken = handed - unsent;
        return unsent;
    }

    /// <summary>The socket's unsent (or unacknowledged) bytes, -1 when unknown.</summary>
    private int UnsentBytes()
    {
        var handle = _socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int value = 0;
            int r;
            unsafe { r = IoctlNative((int)handle.DangerousGetHandle(), SiocOutq, &value); }
            return r == 0 ? value : -1;
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

    /// <summary>Waits until the socket's buffer has room (or the channel failed or closed: the next send says which).</summary>
    private void WaitWritable() => WaitWritable(Timeout.Infinite);

    /// <summary>
    /// As <see cref="WaitWritable()"/>, for at most <paramref name="timeoutMs"/> (infinite: -1); true when the socket's
    /// buffer has room, or the channel failed or closed (the next send says which). Linux only.
    /// </summary>
    internal bool WaitWritable(int timeoutMs)
    {
        long deadline = timeoutMs < 0 ? long.MaxValue : Environment.TickCount64 + timeoutMs;
        var handle = _socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var fd = new PollFd { Fd = (int)handle.DangerousGetHandle(), Events = PollOut };
            // Bounded waits: a channel closed meanwhile is noticed within one.
            while (Volatile.Read(ref _closed) == 0)
            {
                long left = deadline - Environment.TickCount64;
                if (left <= 0) return false;
                int r;
                unsafe { r = PollNative(&fd, 1, (int)Math.Min(left, 500)); }
                if (r != 0 && !(r < 0 && Marshal.GetLastPInvokeError() == EIntr)) return true;
            }
            return true;
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    /// <summary>
    /// Whether <see cref="TrySendNow"/> can write without blocking: a plain socket on Linux (a TLS record cannot be
    /// written in part, so a TLS channel always writes from its send loop).
    /// </summary>
    public bool CanSendNow => _tls is null && OperatingSystem.IsLinux();

    /// <summary>
    /// Writes what the socket's buffer takes now, never blocking (send(2) with MSG_DONTWAIT): the bytes written, 0
    /// when the buffer is full, -1 when the channel failed (the send loop then meets the same failure and closes).
    /// Linux only; the caller holds the connection's write lock.
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
            if (r >= 0)
            {
                Volatile.Write(ref _handed, _handed + r);
                return (int)r;
            }
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

    /// <summary>
    /// Waits at most <paramref name="timeoutMs"/> for the socket to be readable (or at its end, or failed), or for
    /// <paramref name="otherFd"/> to be readable; true when the socket is. Linux only.
    /// </summary>
    internal bool WaitReadable(int otherFd, int timeoutMs)
    {
        if (Volatile.Read(ref _closed) != 0) return false;
        var handle = _socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int r;
            unsafe
            {
                var fds = stackalloc PollFd[2];
                fds[0] = new PollFd { Fd = (int)handle.DangerousGetHandle(), Events = PollIn };
                fds[1] = new PollFd { Fd = otherFd, Events = PollIn };
                r = PollNative(fds, 2, timeoutMs);
                return r > 0 && fds[0].REvents != 0;
            }
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    /// <summary>
    /// Reads what the socket holds now, never blocking (recv(2) with MSG_DONTWAIT; the socket stays in blocking mode):
    /// the bytes read, 0 at the end of the stream, -1 when nothing is there yet, -2 when the channel failed or closed.
    /// Linux only, plain channels (<see cref="CanSendNow"/>); one reader at a time.
    /// </summary>
    public int TryReceiveNow(Span<byte> buffer)
    {
        if (Volatile.Read(ref _closed) != 0) return -2;
        var handle = _socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            nint r;
            unsafe
            {
                fixed (byte* p = buffer) r = RecvNative((int)handle.DangerousGetHandle(), p, (nuint)buffer.Length, MsgDontWait);
            }
            if (r >= 0) return (int)r;
            int errno = Marshal.GetLastPInvokeError();
            return errno is EAgain or EIntr ? -1 : -2;
        }
        catch (ObjectDisposedException)
        {
            return -2;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    private const int MsgDontWait = 0x40, MsgNoSignal = 0x4000, EAgain = 11, EIntr = 4;
    private const short PollIn = 1, PollOut = 4;
    /// <summary>SIOCOUTQ (TIOCOUTQ): the bytes in a socket's send queue.</summary>
    private const nuint SiocOutq = 0x5411;

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short REvents;
    }

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static unsafe partial nint SendNative(int fd, byte* buf, nuint len, int flags);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static unsafe partial nint RecvNative(int fd, byte* buf, nuint len, int flags);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static unsafe partial int PollNative(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static unsafe partial int IoctlNative(int fd, nuint request, int* value);

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
        else SendAll(buffer.Span);
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
/// the few kilobytes of a handshake, which a fresh socket's buffer takes at once) and are counted by the transport
/// (<see cref="OfTransport.Progress"/>). Same threading as a socket.
/// </summary>
internal sealed class BlockingSocketStream(OfTransport transport) : Stream
{
    private readonly Socket _socket = transport.Socket;

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Flush() { }

    public override int Read(byte[] buffer, int offset, int count) => _socket.Receive(buffer, offset, count, SocketFlags.None);
    public override int Read(Span<byte> buffer) => _socket.Receive(buffer, SocketFlags.None);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        await SocketReadiness.Shared.WaitReadableAsync(_socket, ct).ConfigureAwait(false);
        return _socket.Receive(buffer.Span, SocketFlags.None);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct)
        => ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => transport.SendAll(buffer.AsSpan(offset, count));
    public override void Write(ReadOnlySpan<byte> buffer) => transport.SendAll(buffer);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default)
    {
        transport.SendAll(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct)
    {
        transport.SendAll(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }
}
