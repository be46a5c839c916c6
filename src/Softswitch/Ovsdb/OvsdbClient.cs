using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace Softswitch.Ovsdb;

/// <summary>An OVSDB call that failed: an error reply, a closed connection or no reply in time.</summary>
internal sealed class OvsdbException(string message) : Exception(message);

/// <summary>
/// One JSON-RPC session with an ovsdb-server (RFC 7047) over <c>unix:FILE</c> or <c>tcp:IP:PORT</c>: calls with
/// replies matched by id, the server's <c>echo</c> answered, notifications (<c>update</c>, <c>update2</c>, <c>locked</c>,
/// <c>stolen</c>) handed to <see cref="Notified"/>.
/// </summary>
/// <remarks>
/// One receive thread reads and frames messages and runs <see cref="Notified"/> in order, so a handler sees updates as
/// the server sent them; calls may come from any thread (a send lock keeps messages whole) and must not be made
/// synchronously from a handler (the reply would wait behind it). When the connection ends, every pending call fails
/// and <see cref="Closed"/> runs once with the reason.
/// </remarks>
internal sealed class OvsdbClient : IDisposable
{
    private readonly Socket _socket;
    private readonly Lock _sendLock = new();
    private readonly ConcurrentDictionary<long, TaskCompletionSource<JsonRpcMessage>> _pending = new();
    private readonly Thread _receiver;
    private long _nextId;
    private int _closed;

    /// <summary>A notification: its method and params, on the receive thread.</summary>
    public event Action<string, JsonArray>? Notified;

    /// <summary>The connection ended (the reason), once, on the receive thread or the disposing one.</summary>
    public event Action<string>? Closed;

    public string Remote { get; }

    public bool IsOpen => Volatile.Read(ref _closed) == 0;

    private OvsdbClient(Socket socket, string remote)
    {
        _socket = socket;
        Remote = remote;
        _receiver = new Thread(Receive) { IsBackground = true, Name = "ovsdb-rx" };
    }

    /// <summary>Parses a remote: <c>unix:FILE</c> or <c>tcp:IP:PORT</c> (IPv6 as <c>[ADDR]</c>).</summary>
    public static bool TryParseRemote(string remote, out EndPoint endPoint, out string error)
    {
        endPoint = null!;
        error = "";
        if (remote.StartsWith("unix:", StringComparison.Ordinal) && remote.Length > 5)
        {
            endPoint = new UnixDomainSocketEndPoint(remote[5..]);
            return true;
        }
        if (remote.StartsWith("tcp:", StringComparison.Ordinal))
        {
            string rest = remote[4..];
            int colon = rest.LastIndexOf(':');
            if (colon > 0 && IPAddress.TryParse(rest[..colon].Trim('[', ']'), out var ip) && ushort.TryParse(rest[(colon + 1)..], out ushort port) && port != 0)
            {
                endPoint = new IPEndPoint(ip, port);
                return true;
            }
        }
        error = $"database '{remote}': want unix:FILE or tcp:IP:PORT";
        return false;
    }

    /// <summary>Connects and starts receiving; throws <see cref="OvsdbException"/> when the server cannot be reached.</summary>
    public static OvsdbClient Connect(string remote, TimeSpan timeout)
    {
        if (!TryParseRemote(remote, out var ep, out var error)) throw new OvsdbException(error);
        var socket = ep is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(ep.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var cts = new CancellationTokenSource(timeout);
            socket.ConnectAsync(ep, cts.Token).AsTask().GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            socket.Dispose();
            throw new OvsdbException($"cannot connect to {remote}: {(e is OperationCanceledException ? "timed out" : e.Message)}");
        }
        var client = new OvsdbClient(socket, remote);
        client._receiver.Start();
        return client;
    }

    /// <summary>Calls <paramref name="method"/> and waits for its result; an error reply, a closed connection or the timeout throws.</summary>
    public JsonNode? Call(string method, JsonArray parameters, TimeSpan timeout)
    {
        JsonRpcMessage reply;
        try
        {
            reply = CallAsync(method, parameters).WaitAsync(timeout).GetAwaiter().GetResult();
        }
        catch (TimeoutException)
        {
            throw new OvsdbException($"{method}: no reply from {Remote} within {timeout.TotalSeconds:0} s");
        }
        if (reply.IsError) throw new OvsdbException($"{method}: {JsonRpc.Describe(reply.Error)}");
        return reply.Result;
    }

    /// <summary>Sends a request; the task ends with its reply (error replies included) or faults when the connection ends.</summary>
    public Task<JsonRpcMessage> CallAsync(string method, JsonArray parameters)
    {
        long id = Interlocked.Increment(ref _nextId);
        var tcs = new TaskCompletionSource<JsonRpcMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = tcs;
        if (!Send(JsonRpc.Request(method, parameters, id)))
        {
            _pending.TryRemove(id, out _);
            tcs.TrySetException(new OvsdbException($"{method}: the connection to {Remote} is closed"));
        }
        return tcs.Task;
    }

    /// <summary>RFC 7047 4.1.11: echo; the server's liveness.</summary>
    public void Echo(TimeSpan timeout) => Call("echo", [], timeout);

    /// <summary>Runs a transaction (RFC 7047 4.1.3); returns the results array, or throws when an operation failed.</summary>
    public JsonArray Transact(string database, IEnumerable<JsonNode> operations, TimeSpan timeout)
    {
        var ps = new JsonArray(database);
        foreach (var op in operations) ps.Add(op);
        var result = Call("transact", ps, timeout) as JsonArray ?? throw new OvsdbException("transact: the result is not an array");
        foreach (var r in result)
            if (r is JsonObject o && o.ContainsKey("error")) throw new OvsdbException($"transact: {JsonRpc.Describe(o)}");
        return result;
    }

    private bool Send(byte[] bytes)
    {
        if (!IsOpen) return false;
        try
        {
            lock (_sendLock) _socket.Send(bytes);
            return true;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            Close($"send failed: {e.Message}");
            return false;
        }
    }

    private void Receive()
    {
        var buffer = new byte[64 << 10];
        int filled = 0;
        string reason = "closed by the server";
        try
        {
            while (true)
            {
                if (filled == buffer.Length)
                {
                    if (buffer.Length >= JsonRpc.MaxMessageSize)
                    {
                        reason = $"a message longer than {JsonRpc.MaxMessageSize} bytes";
                        break;
                    }
                    Array.Resize(ref buffer, Math.Min(buffer.Length * 2, JsonRpc.MaxMessageSize));
                }
                int n = _socket.Receive(buffer.AsSpan(filled));
                if (n == 0) break;
                filled += n;
                int used = 0;
                bool bad = false;
                while (true)
                {
                    var status = JsonRpc.TryFrame(buffer.AsSpan(used, filled - used), out int start, out int length, out int consumed, out var frameError);
                    if (status == JsonRpc.FrameStatus.Invalid)
                    {
                        reason = frameError;
                        bad = true;
                        break;
                    }
                    if (status == JsonRpc.FrameStatus.Incomplete)
                    {
                        used += consumed;
                        break;
                    }
                    var span = buffer.AsSpan(used + start, length);
                    used += consumed;
                    if (!JsonRpc.TryParse(span, out var msg, out var parseError))
                    {
                        reason = parseError;
                        bad = true;
                        break;
                    }
                    Dispatch(msg);
                }
                if (bad) break;
                Buffer.BlockCopy(buffer, used, buffer, 0, filled - used);
                filled -= used;
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            reason = e.Message;
        }
        Close(reason);
    }

    private void Dispatch(in JsonRpcMessage msg)
    {
        switch (msg.Kind)
        {
            case JsonRpcKind.Reply:
                if (msg.Id is JsonValue v && v.TryGetValue(out long id) && _pending.TryRemove(id, out var tcs)) tcs.TrySetResult(msg);
                break;
            case JsonRpcKind.Request when msg.Method == "echo":
                Send(JsonRpc.Reply(msg.Params!.DeepClone(), null, msg.Id!.DeepClone()));
                break;
            case JsonRpcKind.Request:
                Send(JsonRpc.Reply(null, new JsonObject { ["error"] = "unknown method", ["details"] = msg.Method }, msg.Id!.DeepClone()));
                break;
            default:
                Notified?.Invoke(msg.Method!, msg.Params!);
                break;
        }
    }

    private void Close(string reason)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException) { }
        _socket.Dispose();
        foreach (var id in _pending.Keys)
            if (_pending.TryRemove(id, out var tcs)) tcs.TrySetException(new OvsdbException($"the connection to {Remote} ended: {reason}"));
        Closed?.Invoke(reason);
    }

    public void Dispose()
    {
        Close("closed by this client");
        if (Thread.CurrentThread != _receiver && _receiver.IsAlive) _receiver.Join(TimeSpan.FromSeconds(2));
    }
}
