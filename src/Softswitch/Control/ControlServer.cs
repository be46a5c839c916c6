using System.Buffers;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Softswitch.Control;

/// <summary>A control socket could not be created (the message is for the user).</summary>
internal sealed class ControlSocketException(string message, bool inUse = false) : Exception(message)
{
    /// <summary>A live socket is already at the path (another daemon answers there).</summary>
    public bool InUse { get; } = inUse;
}

/// <summary>
/// The daemon's control socket: a Unix domain stream socket that answers one <see cref="ControlProtocol"/> request per
/// connection with <see cref="ControlCommands"/>, or, when a connection's first byte opens a JSON object, Open vSwitch's
/// unixctl JSON-RPC (<see cref="UnixctlJsonRpc"/>, for <c>ovs-appctl -t SOCKET</c>), several requests per connection.
/// </summary>
/// <remarks>
/// <para><b>The file</b>: the parent directory is created (mode 0750) when missing, and refused when another user (not
/// root) owns it or others may write to it without the sticky bit (<see cref="CheckDirectory"/>); the socket is bound under umask 0177,
/// so it is born 0600 (only its owner, normally root, may connect). A socket file already at the path is taken over
/// only when nobody answers on it (a daemon that died); a live one, or a path that is not a socket, is an error.
/// <see cref="Dispose"/> removes the file, unless another process has put a socket of its own there since.</para>
/// <para><b>Robustness</b>: at most <see cref="MaxConnections"/> requests run at once (more are answered "busy");
/// a client has <see cref="RequestTimeout"/> to send its line (a JSON-RPC client, each request); every failure of one connection stays in that
/// connection. Nothing here runs on a forwarding thread.</para>
/// </remarks>
internal sealed class ControlServer : IDisposable
{
    public const int MaxConnections = 4;
    private const int MaxPathBytes = 107; // sun_path is 108 bytes with its NUL

    private readonly Socket _listener;
    private readonly ControlCommands _commands;
    private readonly ILogger? _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly ulong _inode;
    private Task? _acceptLoop;
    private int _active;
    private int _disposed;

    public string Path { get; }

    /// <summary>How long a client has to send its request line (default 5 s).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    private ControlServer(string path, Socket listener, ulong inode, ControlCommands commands, ILogger? logger)
    {
        Path = path;
        _listener = listener;
        _inode = inode;
        _commands = commands;
        _logger = logger;
    }

    /// <summary>Creates the socket file at <paramref name="path"/> and starts answering; throws <see cref="ControlSocketException"/>.</summary>
    public static ControlServer Start(string path, ControlCommands commands, ILogger? logger = null, TimeSpan? requestTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(commands);
        if (string.IsNullOrWhiteSpace(path)) throw new ControlSocketException("the control socket path is empty");
        path = System.IO.Path.GetFullPath(path);
        if (Encoding.UTF8.GetByteCount(path) > MaxPathBytes)
            throw new ControlSocketException($"control socket path '{path}' is longer than {MaxPathBytes} bytes");
        string dir = System.IO.Path.GetDirectoryName(path)!;
        try
        {
            if (!Directory.Exists(dir))
            {
                if (OperatingSystem.IsWindows()) Directory.CreateDirectory(dir);
                else Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ControlSocketException($"cannot create directory '{dir}' for the control socket: {e.Message}");
        }
        CheckDirectory(dir);
        TakeOverStale(path);

        // Bound under a private name, then linked into place: the runtime unlinks a Unix socket's bound name when the
        // socket is disposed, and that must never be the public path (a newer daemon may own it by then).
        string staging = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        if (Encoding.UTF8.GetByteCount(staging) > MaxPathBytes) staging = System.IO.Path.Combine(dir, $".{Guid.NewGuid():N}.tmp");
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            SocketFile.WithUmask(0x7F, () => listener.Bind(new UnixDomainSocketEndPoint(staging)));  // 0177: born 0600
            listener.Listen(16);
            File.Move(staging, path, overwrite: false);
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            listener.Dispose();
            try { File.Delete(staging); }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException) { }
            throw new ControlSocketException($"cannot create control socket '{path}': {e.Message}");
        }
        ulong inode = SocketFile.TryStat(path, out var info) ? info.Inode : 0;
        var server = new ControlServer(path, listener, inode, commands, logger) { RequestTimeout = requestTimeout ?? TimeSpan.FromSeconds(5) };
        server._acceptLoop = Task.Run(server.AcceptLoop);
        return server;
    }

    /// <summary>
    /// Refuses a run directory that someone else could use to put their own socket in our name: owned by a user other
    /// than us or root, or writable by group or others without the sticky bit (as /tmp has).
    /// </summary>
    internal static void CheckDirectory(string dir)
    {
        if (!SocketFile.TryStat(dir, out var info)) return; // not Linux: nothing to check with
        uint me = SocketFile.EffectiveUid;
        if (info.Uid != me && info.Uid != 0)
            throw new ControlSocketException($"run directory '{dir}' is owned by uid {info.Uid}, not by this user (uid {me}) or root; not using it");
        const uint groupOrOtherWrite = 0x12, sticky = 0x200; // 0022, 01000
        if ((info.Permissions & groupOrOtherWrite) != 0 && (info.Permissions & sticky) == 0)
            throw new ControlSocketException($"run directory '{dir}' is writable by others (mode {Convert.ToString(info.Permissions, 8).PadLeft(4, '0')}) without the sticky bit; not using it");
    }

    /// <summary>Removes a socket file nobody answers on; refuses a live socket and anything that is not a socket.</summary>
    private static void TakeOverStale(string path)
    {
        if (SocketFile.TryStat(path, out var info))
        {
            if (!info.IsSocket) throw new ControlSocketException($"'{path}' exists and is not a socket; not touching it");
        }
        else if (!File.Exists(path))
        {
            return;
        }
        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new ControlSocketException($"control socket '{path}' is in use by a running process (another softswitch?)", inUse: true);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable)
            {
                // Nobody listens: a previous daemon died without removing it.
            }
            catch (SocketException e)
            {
                throw new ControlSocketException($"cannot check control socket '{path}': {e.Message}");
            }
        }
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ControlSocketException($"cannot remove stale control socket '{path}': {e.Message}");
        }
    }

    private async Task AcceptLoop()
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) { break; }
            catch (ObjectDisposedException) { break; }
            catch (SocketException e)
            {
                _logger?.LogWarning("control socket: accept failed: {Error}", e.Message);
                try { await Task.Delay(100, token).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
                continue;
            }
            if (Interlocked.Increment(ref _active) > MaxConnections)
            {
                Interlocked.Decrement(ref _active);
                _ = ReplyAndClose(client, ControlReply.Error($"busy: {MaxConnections} requests are running; try again"));
                continue;
            }
            _ = Task.Run(async () =>
            {
                try { await Serve(client).ConfigureAwait(false); }
                finally { Interlocked.Decrement(ref _active); }
            });
        }
    }

    /// <summary>
    /// Reads one request line (bounded, with a timeout), runs it, replies, closes; or, when the first byte opens a JSON
    /// object, serves ovs-appctl's JSON-RPC (<see cref="ServeJsonRpc"/>).
    /// </summary>
    private async Task Serve(Socket client)
    {
        // The request buffer is pooled (a monitoring script asks every few seconds); the requests run on pool threads.
        var buffer = ArrayPool<byte>.Shared.Rent(ControlProtocol.MaxRequestSize + 1);
        try
        {
            await Serve(client, buffer).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task Serve(Socket client, byte[] buffer)
    {
        ControlReply reply;
        const int limit = ControlProtocol.MaxRequestSize + 1;
        int length = 0;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(RequestTimeout);
            bool complete = false;
            while (length < limit)
            {
                int n = await client.ReceiveAsync(buffer.AsMemory(length, limit - length), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                if (n == 0) break;
                if (length == 0 && buffer[0] == (byte)'{')
                {
                    await ServeJsonRpc(client, buffer.AsMemory(0, n)).ConfigureAwait(false);
                    return;
                }
                int nl = buffer.AsSpan(length, n).IndexOf((byte)'\n');
                length += n;
                if (nl >= 0)
                {
                    length = length - n + nl + 1;
                    complete = true;
                    break;
                }
            }
            if (!complete && length == 0)
            {
                client.Dispose();
                return;
            }
            if (!complete && length >= limit)
            {
                reply = ControlReply.Error($"request longer than {ControlProtocol.MaxRequestSize} bytes");
            }
            else
            {
                reply = _commands.Execute(buffer.AsSpan(0, length));
                // Only formatted when wanted: monitors ask every few seconds.
                if (_logger?.IsEnabled(LogLevel.Debug) == true)
                    _logger.LogDebug("control socket: {Request} -> {Status}", Encoding.UTF8.GetString(buffer, 0, Math.Min(length, 200)).TrimEnd(), reply.Ok ? "ok" : "error");
            }
        }
        catch (OperationCanceledException)
        {
            reply = ControlReply.Error($"no request line within {RequestTimeout.TotalSeconds:0.###} s");
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            client.Dispose();
            return;
        }
        await ReplyAndClose(client, reply).ConfigureAwait(false);
    }

    /// <summary>
    /// ovs-appctl's unixctl JSON-RPC: requests one after another on the connection, each answered before the next is
    /// read, until the client closes, sends something that is not a request, or is silent for
    /// <see cref="RequestTimeout"/>. Always disposes <paramref name="client"/>.
    /// </summary>
    private async Task ServeJsonRpc(Socket client, ReadOnlyMemory<byte> first)
    {
        var buffer = new byte[UnixctlJsonRpc.MaxMessageSize];
        first.CopyTo(buffer);
        int length = first.Length;
        try
        {
            while (true)
            {
                var status = UnixctlJsonRpc.TryRead(buffer.AsSpan(0, length), out int consumed, out var request, out byte[] id, out string error);
                if (status == UnixctlJsonRpc.ReadStatus.Incomplete)
                {
                    if (length == buffer.Length)
                    {
                        _logger?.LogDebug("control socket: JSON-RPC request longer than {Max} bytes; closing", UnixctlJsonRpc.MaxMessageSize);
                        break;
                    }
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                    timeout.CancelAfter(RequestTimeout);
                    int n = await client.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                    if (n == 0) break;
                    length += n;
                    continue;
                }
                if (status == UnixctlJsonRpc.ReadStatus.Invalid)
                {
                    _logger?.LogDebug("control socket: {Error}; closing", error);
                    break;
                }
                var reply = error.Length > 0 ? ControlReply.Error(error) : _commands.Execute(request);
                _logger?.LogDebug("control socket: {Request} (JSON-RPC) -> {Status}", string.Join(' ', [request.Command, .. request.Args]), reply.Ok ? "ok" : "error");
                var bytes = UnixctlJsonRpc.EncodeReply(id, reply);
                using (var sendTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
                {
                    int sent = 0;
                    while (sent < bytes.Length)
                        sent += await client.SendAsync(bytes.AsMemory(sent), SocketFlags.None, sendTimeout.Token).ConfigureAwait(false);
                }
                buffer.AsSpan(consumed, length - consumed).CopyTo(buffer);
                length -= consumed;
                // Whitespace between messages is allowed.
                int skip = 0;
                while (skip < length && buffer[skip] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t') skip++;
                if (skip > 0)
                {
                    buffer.AsSpan(skip, length - skip).CopyTo(buffer);
                    length -= skip;
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The client went away or fell silent.
        }
        finally
        {
            client.Dispose();
        }
    }

    private static async Task ReplyAndClose(Socket client, ControlReply reply)
    {
        try
        {
            var bytes = ControlProtocol.EncodeReply(reply);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            int sent = 0;
            while (sent < bytes.Length)
                sent += await client.SendAsync(bytes.AsMemory(sent), SocketFlags.None, timeout.Token).ConfigureAwait(false);
            client.Shutdown(SocketShutdown.Send);
            // Read what the client still sends (bounded) before closing: closing with unread input resets the
            // connection, and the client could lose the reply (a request that was too long, a "busy" answer).
            var sink = ArrayPool<byte>.Shared.Rent(4096);
            try
            {
                int drained = 0;
                using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                while (drained < 1 << 20)
                {
                    int n = await client.ReceiveAsync(sink, SocketFlags.None, drain.Token).ConfigureAwait(false);
                    if (n == 0) break;
                    drained += n;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(sink);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The client went away; nothing to tell it.
        }
        finally
        {
            client.Dispose();
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        _listener.Dispose();
        try { _acceptLoop?.Wait(TimeSpan.FromSeconds(2)); }
        catch (AggregateException) { }
        // Remove the file only if it is still ours (a newer daemon may have taken the path over).
        if (SocketFile.TryStat(Path, out var info) && info.IsSocket && (_inode == 0 || info.Inode == _inode))
        {
            try { File.Delete(Path); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        _stop.Dispose();
    }
}
