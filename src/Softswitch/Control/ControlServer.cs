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
/// The socket is born 0600 in a directory nobody else may write to (<see cref="CheckDirectory"/>); a live socket at the
/// path is never taken over. At most <see cref="MaxConnections"/> requests run at once (more are answered "busy"), each
/// on a long-lived worker thread with blocking calls on buffers made once, so a request allocates little more than its
/// reply (every collection pauses the forwarding threads). Every failure of one connection stays in it; nothing here
/// runs on a forwarding thread. Design: docs/host.md, "The control socket".
/// </remarks>
internal sealed class ControlServer : IDisposable
{
    public const int MaxConnections = 4;
    private const int MaxPathBytes = 107; // sun_path is 108 bytes with its NUL
    private const int SendTimeoutMs = 30_000;
    private const int DrainTimeoutMs = 1_000;
    private const int DrainLimit = 1 << 20;
    private const int StopWaitMs = 2_000;

    private readonly Socket _listener;
    private readonly ControlCommands _commands;
    private readonly ILogger? _logger;
    private readonly ulong _inode;
    private readonly object _gate = new();
    // Connections accepted and not yet taken by a worker, a ring (never more than MaxConnections are admitted).
    private readonly Socket?[] _pending = new Socket?[MaxConnections];
    private int _pendingHead, _pendingCount;
    private int _admitted;  // queued, or being served until its reply is sent; under _gate
    private readonly Worker[] _workers = new Worker[MaxConnections];
    private readonly Worker _acceptScratch = new();
    private Thread? _acceptThread;
    private volatile bool _stopping;
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
        server.StartThreads();
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

    /// <summary>A thread's reused buffers: the request line and the drain share one; the reply has its own.</summary>
    private sealed class Worker
    {
        public readonly byte[] Buffer = new byte[ControlProtocol.MaxRequestSize + 1];
        public byte[]? ReplyBuffer;  // the encoded reply, grown to the longest kept (ReplyBuilders.MaxKeptBytes)
        public byte[]? JsonBuffer;  // made by the worker's first JSON-RPC connection, then kept
        public Socket? Client;      // the connection being served; under _gate
        public bool Admitted;       // the connection being served still counts in _admitted; under _gate
        public Thread? Thread;
    }

    private void StartThreads()
    {
        for (int i = 0; i < MaxConnections; i++)
        {
            var w = _workers[i] = new Worker();
            w.Thread = new Thread(() => WorkerLoop(w)) { IsBackground = true, Name = "ctl-worker" };
        }
        _acceptThread = new Thread(AcceptLoop) { IsBackground = true, Name = "ctl-accept" };
        foreach (var w in _workers) w.Thread!.Start();
        _acceptThread.Start();
    }

    private void AcceptLoop()
    {
        while (!_stopping)
        {
            Socket client;
            try
            {
                client = _listener.Accept();
            }
            catch (ObjectDisposedException) { break; }
            catch (SocketException e)
            {
                if (_stopping) break;
                _logger?.LogWarning("control socket: accept failed: {Error}", e.Message);
                Thread.Sleep(100);
                continue;
            }
            if (TryHandOff(client)) continue;
            try
            {
                if (!_stopping) ReplyAndClose(client, ControlReply.Error($"busy: {MaxConnections} requests are running; try again"), _acceptScratch);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                _logger?.LogWarning(e, "control socket: answering busy failed");
            }
            finally
            {
                client.Dispose();
            }
        }
    }

    /// <summary>The worker's connection stops counting against <see cref="MaxConnections"/> (once; the accept thread's scratch never counts).</summary>
    private void Release(Worker w)
    {
        lock (_gate)
        {
            if (!w.Admitted) return;
            w.Admitted = false;
            _admitted--;
        }
    }

    /// <summary>Queues <paramref name="client"/> for a worker; false when every worker has a connection (or the server stops).</summary>
    private bool TryHandOff(Socket client)
    {
        lock (_gate)
        {
            if (_stopping || _admitted >= MaxConnections) return false;
            _admitted++;
            _pending[(_pendingHead + _pendingCount) % MaxConnections] = client;
            _pendingCount++;
            Monitor.Pulse(_gate);
            return true;
        }
    }

    private void WorkerLoop(Worker w)
    {
        while (true)
        {
            Socket client;
            lock (_gate)
            {
                while (_pendingCount == 0 && !_stopping) Monitor.Wait(_gate);
                if (_stopping) return;  // Dispose closes what is still queued
                client = _pending[_pendingHead]!;
                _pending[_pendingHead] = null;
                _pendingHead = (_pendingHead + 1) % MaxConnections;
                _pendingCount--;
                w.Client = client;
                w.Admitted = true;
            }
            try
            {
                Serve(client, w);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Whatever went wrong stays in this connection; the worker serves the next one.
                _logger?.LogWarning(e, "control socket: serving a connection failed");
            }
            finally
            {
                lock (_gate) w.Client = null;
                Release(w);
                client.Dispose();
            }
        }
    }

    /// <summary>
    /// Reads one request line (bounded, within <see cref="RequestTimeout"/>), runs it, replies; or, when the first
    /// byte opens a JSON object, serves ovs-appctl's JSON-RPC (<see cref="ServeJsonRpc"/>). The caller closes.
    /// </summary>
    private void Serve(Socket client, Worker w)
    {
        var buffer = w.Buffer;
        const int limit = ControlProtocol.MaxRequestSize + 1;
        long deadline = Environment.TickCount64 + (long)RequestTimeout.TotalMilliseconds;
        int length = 0;
        bool complete = false, timedOut = false, stopping = false;
        try
        {
            while (length < limit)
            {
                if (!WaitReadable(client, deadline))
                {
                    timedOut = true;
                    break;
                }
                int n = client.Receive(buffer.AsSpan(length, limit - length), SocketFlags.None);
                if (_stopping)
                {
                    // Dispose shut the read side: no half line is run as a request.
                    stopping = true;
                    break;
                }
                if (n == 0) break;
                if (length == 0 && buffer[0] == (byte)'{')
                {
                    ServeJsonRpc(client, w, n);
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
        }
        catch (SocketException)
        {
            return;  // the client went away
        }
        ControlReply reply;
        if (stopping)
        {
            if (length == 0) return;
            reply = ControlReply.Error("the daemon is stopping; request not run");
        }
        else if (timedOut)
        {
            reply = ControlReply.Error($"no request line within {RequestTimeout.TotalSeconds:0.###} s");
        }
        else if (!complete && length == 0)
        {
            return;
        }
        else if (!complete && length >= limit)
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
        ReplyAndClose(client, reply, w);
    }

    /// <summary>
    /// ovs-appctl's unixctl JSON-RPC: requests one after another on the connection, each answered before the next is
    /// read, until the client closes, sends something that is not a request, or is silent for
    /// <see cref="RequestTimeout"/>. The first <paramref name="firstLength"/> bytes are in the worker's line buffer.
    /// The caller closes.
    /// </summary>
    private void ServeJsonRpc(Socket client, Worker w, int firstLength)
    {
        var buffer = w.JsonBuffer ??= new byte[UnixctlJsonRpc.MaxMessageSize];
        w.Buffer.AsSpan(0, firstLength).CopyTo(buffer);
        int length = firstLength;
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
                    if (!WaitReadable(client, Environment.TickCount64 + (long)RequestTimeout.TotalMilliseconds)) break;
                    int n = client.Receive(buffer.AsSpan(length), SocketFlags.None);
                    if (n == 0 || _stopping) break;
                    length += n;
                    continue;
                }
                if (status == UnixctlJsonRpc.ReadStatus.Invalid)
                {
                    _logger?.LogDebug("control socket: {Error}; closing", error);
                    break;
                }
                var reply = error.Length > 0 ? ControlReply.Error(error) : _commands.Execute(request);
                if (_logger?.IsEnabled(LogLevel.Debug) == true)
                    _logger.LogDebug("control socket: {Request} (JSON-RPC) -> {Status}", string.Join(' ', [request.Command, .. request.Args]), reply.Ok ? "ok" : "error");
                SendAll(client, UnixctlJsonRpc.EncodeReply(id, reply), Environment.TickCount64 + SendTimeoutMs);
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
        catch (SocketException)
        {
            // The client went away, or took longer than 30 s to take a reply.
        }
    }

    /// <summary>
    /// Sends the reply (within 30 s), shuts the send side down and reads what the client still sends (at most 1 MB,
    /// for at most 1 s) before the caller closes: closing with unread input resets the connection, and the client
    /// could lose the reply (a request that was too long, a "busy" answer).
    /// </summary>
    private void ReplyAndClose(Socket client, in ControlReply reply, Worker w)
    {
        try
        {
            SendReply(client, reply, w, Environment.TickCount64 + SendTimeoutMs);
            client.Shutdown(SocketShutdown.Send);
            // Answered: the client may connect again at once (a monitor's next request), and a connection that is only
            // draining must not make it "busy".
            Release(w);
            long deadline = Environment.TickCount64 + DrainTimeoutMs;
            int drained = 0;
            while (drained < DrainLimit && WaitReadable(client, deadline))
            {
                int n = client.Receive(w.Buffer, SocketFlags.None);
                if (n == 0) break;
                drained += n;
            }
        }
        catch (SocketException)
        {
            // The client went away; nothing to tell it.
        }
    }

    /// <summary>
    /// Sends <see cref="ControlProtocol.EncodeReply(in ControlReply)"/>'s bytes, written into the worker's reply buffer
    /// (kept while it stays under <see cref="ReplyBuilders.MaxKeptBytes"/>; a longer reply gets an array of its own).
    /// </summary>
    private static void SendReply(Socket client, in ControlReply reply, Worker w, long deadline)
    {
        long size = ControlProtocol.EncodedReplySize(reply);
        if (size > ReplyBuilders.MaxKeptBytes)
        {
            SendAll(client, ControlProtocol.EncodeReply(reply), deadline);
            return;
        }
        if (w.ReplyBuffer is not { } buffer || buffer.Length < size) w.ReplyBuffer = buffer = new byte[Math.Max(size, 4096)];
        int length = ControlProtocol.EncodeReply(reply, buffer);
        SendAll(client, buffer.AsSpan(0, length), deadline);
    }

    /// <summary>Sends everything before <paramref name="deadline"/> (Environment.TickCount64); a SocketException otherwise.</summary>
    private static void SendAll(Socket client, ReadOnlySpan<byte> bytes, long deadline)
    {
        while (bytes.Length > 0)
        {
            long left = deadline - Environment.TickCount64;
            if (left <= 0) throw new SocketException((int)SocketError.TimedOut);
            client.SendTimeout = (int)Math.Min(left, int.MaxValue);
            bytes = bytes[client.Send(bytes, SocketFlags.None)..];
        }
    }

    /// <summary>Waits until <paramref name="client"/> has input (or EOF, or an error) before <paramref name="deadline"/>.</summary>
    private static bool WaitReadable(Socket client, long deadline)
    {
        while (true)
        {
            long left = deadline - Environment.TickCount64;
            if (left <= 0) return false;
            if (client.Poll((int)Math.Min(left, int.MaxValue / 1000) * 1000, SelectMode.SelectRead)) return true;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        lock (_gate)
        {
            _stopping = true;
            Monitor.PulseAll(_gate);
            for (; _pendingCount > 0; _pendingCount--)
            {
                _pending[_pendingHead]!.Dispose();
                _pending[_pendingHead] = null;
                _pendingHead = (_pendingHead + 1) % MaxConnections;
                _admitted--;
            }
            // A worker waiting for a request wakes with an end of input; one that replies finishes (its drain ends).
            foreach (var w in _workers)
            {
                try { w?.Client?.Shutdown(SocketShutdown.Receive); }
                catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
            }
        }
        // shutdown(2) wakes the thread blocked in accept(2); closing alone might not.
        try { _listener.Shutdown(SocketShutdown.Both); }
        catch (SocketException) { }
        _listener.Dispose();
        long deadline = Environment.TickCount64 + StopWaitMs;
        Join(_acceptThread, deadline);
        foreach (var w in _workers) Join(w?.Thread, deadline);
        // Remove the file only if it is still ours (a newer daemon may have taken the path over).
        if (SocketFile.TryStat(Path, out var info) && info.IsSocket && (_inode == 0 || info.Inode == _inode))
        {
            try { File.Delete(Path); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    /// <summary>Waits for <paramref name="thread"/> until <paramref name="deadline"/>, unless it is this thread or never started.</summary>
    private static void Join(Thread? thread, long deadline)
    {
        if (thread is null || thread == Thread.CurrentThread || (thread.ThreadState & ThreadState.Unstarted) != 0) return;
        thread.Join((int)Math.Max(0, deadline - Environment.TickCount64));
    }
}
