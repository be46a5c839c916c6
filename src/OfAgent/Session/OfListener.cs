using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Softswitch.OfWire;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Session;

/// <summary>
/// One passive OpenFlow endpoint (<c>ptcp:</c>, <c>pssl:</c>, <c>punix:</c>): accepts connections, runs each
/// one's opening phase (<see cref="OfHandshake"/>) without a thread, and hands the ones that complete it to
/// the agent.
/// </summary>
/// <remarks>
/// Bounded, never locked out: at most <see cref="AgentOptions.MaxConnectionsPerListener"/> connections of this listener
/// are established at once, peers in their opening phase (no thread, a hard <see cref="AgentOptions.HelloTimeout"/>)
/// share that cap with a reserve kept for them, and a newcomer at the cap displaces the longest-idle connection
/// (<see cref="EvictedIdle"/>) but never one whose controller is <see cref="OfConnection.InCharge"/>. Only an
/// established connection owns threads; the accept loop and opening phases wait on the process's one
/// <see cref="SocketReadiness"/> thread. <c>_lock</c> guards the slot count and both peer lists; a connection is closed
/// outside it. Design: docs/agent.md, "Listeners".
/// </remarks>
public sealed class OfListener : IAsyncDisposable
{
    private readonly OfEndpoint _endpoint;
    private volatile OfTlsContext? _tls;
    private readonly AgentOptions _options;
    private readonly Func<OfTransport, OfHandshakeResult, OfConnection> _establish;
    private readonly ILogger _log;
    private readonly Socket _socket;
    private readonly CancellationTokenSource _cts = new();
    private readonly Lock _lock = new();
    private readonly LinkedList<Slot> _opening = new();
    private readonly List<Slot> _established = new();
    private readonly LogLimiter _refusalLog = new(20, TimeSpan.FromSeconds(10));
    private Task _acceptLoop = Task.CompletedTask;
    private int _live;

    /// <summary>
    /// Peers accepted; refused after their HELLO because every established connection was handling a request; dropped
    /// in their opening phase to make room; failed in their opening phase; established.
    /// </summary>
    public long Accepted, RefusedFull, Evicted, OpeningFailed, Established;
    /// <summary>Established connections closed, the longest idle first, to make room for a newcomer that completed HELLO.</summary>
    public long EvictedIdle;
    /// <summary>Openings that failed because the peer closed without sending a byte (also in <see cref="OpeningFailed"/>).</summary>
    public long Probes;

    /// <summary>A peer's place in the listener: in its opening phase, then established (under <c>_lock</c> but the token).</summary>
    private sealed class Slot(CancellationTokenSource cts)
    {
        public readonly CancellationTokenSource Cts = cts;
        /// <summary>Dropped or closed to make room (set under <c>_lock</c>).</summary>
        public bool Evicted;
        /// <summary>The connection once made (set under <c>_lock</c>; null while it is being made).</summary>
        public OfConnection? Connection;
    }

    /// <summary>Opening-phase places kept beyond the established connections: a quarter of the cap, at least one.</summary>
    private int OpeningReserve => Math.Max(1, _options.MaxConnectionsPerListener / 4);

    private OfListener(OfEndpoint endpoint, OfTlsContext? tls, AgentOptions options, Socket socket,
        Func<OfTransport, OfHandshakeResult, OfConnection> establish, ILogger log)
    {
        _endpoint = endpoint;
        _tls = tls;
        _options = options;
        _socket = socket;
        _establish = establish;
        _log = log;
    }

    public OfEndpoint Endpoint => _endpoint;

    /// <summary>The TLS material of a pssl: listener's next openings (connections established keep theirs).</summary>
    internal void SetTls(OfTlsContext tls) => _tls = tls;
    /// <summary>The bound address (an <see cref="IPEndPoint"/> for TCP, with the real port when 0 was asked).</summary>
    public EndPoint? LocalEndPoint => _socket.LocalEndPoint;
    /// <summary>Connections of this listener alive now, in their opening phase or established.</summary>
    public int Live { get { lock (_lock) return _live; } }

    /// <summary>Binds and starts accepting. Throws <see cref="IOException"/> naming the endpoint (address in use, a live socket file, ...).</summary>
    public static OfListener Start(OfEndpoint endpoint, OfTlsContext? tls, AgentOptions options,
        Func<OfTransport, OfHandshakeResult, OfConnection> establish, ILogger log)
    {
        Socket s;
        if (endpoint.Kind == OfTransportKind.Unix)
        {
            TakeOverStaleSocketFile(endpoint.Path);
            s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try { s.Bind(new UnixDomainSocketEndPoint(endpoint.Path)); }
            catch (SocketException e)
            {
                s.Dispose();
                throw new IOException($"cannot listen on {endpoint}: {e.Message}", e);
            }
        }
        else
        {
            var ip = IPAddress.Parse(endpoint.Host);
            s = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                // SO_REUSEADDR alone (a restart binds over TIME_WAIT connections): the runtime's ReuseAddress option also
                // sets SO_REUSEPORT on Linux, which would let a second switch bind the same port without an error.
                if (OperatingSystem.IsLinux()) s.SetRawSocketOption(1 /* SOL_SOCKET */, 2 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
                else s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                if (ip.AddressFamily == AddressFamily.InterNetworkV6) s.DualMode = false;
                s.Bind(new IPEndPoint(ip, endpoint.Port));
            }
            catch (SocketException e)
            {
                s.Dispose();
                // The address as the user reads it (127.0.0.1:6634, [::1]:6634), the reason in the kernel's words.
                string why = e.SocketErrorCode switch
                {
                    SocketError.AddressAlreadyInUse => "address already in use",
                    SocketError.AddressNotAvailable => "address not available on this host",
                    SocketError.AccessDenied => "permission denied",
                    _ => e.Message,
                };
                throw new IOException($"cannot listen on {new IPEndPoint(ip, endpoint.Port)}: {why}", e);
            }
            if (!IPAddress.IsLoopback(ip) && !endpoint.IsTls)
                log.LogWarning("{Endpoint}: listening on a non-loopback address without TLS: anyone who can reach it controls the switch (use pssl:)", endpoint);
        }
        s.Listen(128);
        // The loop waits for readiness on the process's one readiness thread (a listener costs no thread of its own).
        var l = new OfListener(endpoint, tls, options, s, establish, log);
        l._acceptLoop = Task.Run(l.AcceptLoopAsync);
        return l;
    }

    private static void TakeOverStaleSocketFile(string path)
    {
        if (!UnixSocketFile.TryIsSocket(path, out bool isSocket)) return; // nothing there
        if (!isSocket) throw new IOException($"cannot listen on punix:{path}: the file exists and is not a socket");
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException)
        {
            File.Delete(path); // nobody answers: left behind by a process that died
            return;
        }
        throw new IOException($"cannot listen on punix:{path}: another process answers there");
    }

    /// <summary>
    /// The accept loop: waits until the listening socket is readable (<see cref="SocketReadiness"/>: no thread of its
    /// own), then accepts one connection. The socket stays in blocking mode, and so do the sockets it accepts (they
    /// must, see <see cref="SocketReadiness"/>; the runtime's asynchronous accept would not promise that): a readable
    /// listener has a connection queued (Linux keeps one reset meanwhile in the queue), so the accept returns at once.
    /// </summary>
    private async Task AcceptLoopAsync()
    {
        while (!_cts.IsCancellationRequested)
        {
            try
            {
                await SocketReadiness.Shared.WaitReadableAsync(_socket, _cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            Socket s;
            try
            {
                s = _socket.Accept();
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                if (_cts.IsCancellationRequested) return;
                // Out of descriptors and the like: say so (rate-limited), breathe, and keep accepting.
                if (_refusalLog.TryTake(out long suppressed))
                    _log.LogWarning("{Endpoint}: accept failed: {Reason}{Suppressed}", _endpoint, e.Message, Suppressed(suppressed));
                try { await Task.Delay(100, _cts.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { return; }
                continue;
            }
            Interlocked.Increment(ref Accepted);
            Admit(s);
        }
    }

    private void Admit(Socket s)
    {
        Slot? evict = null;
        LinkedListNode<Slot> node;
        var cts = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token);
        lock (_lock)
        {
            // At the cap, a newcomer's opening phase takes the place of the oldest one once the reserve is in use;
            // while established connections fill the cap it opens in the reserve and displaces nobody before its HELLO.
            if (_opening.Count + _established.Count >= _options.MaxConnectionsPerListener && _opening.Count >= OpeningReserve)
            {
                evict = _opening.First!.Value;
                evict.Evicted = true;
                _opening.RemoveFirst();
            }
            _live++;
            node = _opening.AddLast(new Slot(cts));
        }
        if (evict is not null)
        {
            Interlocked.Increment(ref Evicted);
            try { evict.Cts.Cancel(); } catch (ObjectDisposedException) { }
        }
        _ = RunAsync(s, node);
    }

    /// <summary>
    /// The established slot idle longest (under <c>_lock</c>), never a controller in charge
    /// (<see cref="OfConnection.InCharge"/>); null when every other one is handling a request.
    /// </summary>
    private Slot? LongestIdle(long now, out long idleMs)
    {
        Slot? victim = null;
        idleMs = -1;   // a connection idle for less than a millisecond (the clock's grain) is still idle; one handling is not
        foreach (var slot in _established)
        {
            long idle = slot.Connection is { InCharge: false } c ? c.IdleMilliseconds(now) : -1;
            if (idle > idleMs)
            {
                idleMs = idle;
                victim = slot;
            }
        }
        return victim;
    }

    private async Task RunAsync(Socket s, LinkedListNode<Slot> node)
    {
        var slot = node.Value;
        var transport = new OfTransport(s);
        OfConnection? conn = null;
        try
        {
            if (_endpoint.Kind != OfTransportKind.Unix) s.NoDelay = true;
            slot.Cts.CancelAfter(_options.HelloTimeout);
            var r = await OfHandshake.RunAsync(transport, _endpoint.IsTls ? _tls : null, asServer: true, "", _options.MaxMessageSize, OfpHelloVersions.Hello(_options.Versions, OfConnection.FirstXid), slot.Cts.Token)
                .ConfigureAwait(false);
            bool evicted, full = false;
            Slot? victim = null;
            long victimIdleMs = 0;
            lock (_lock)
            {
                if (node.List is not null) _opening.Remove(node);
                evicted = slot.Evicted;
                if (r.Ok && !evicted && !_cts.IsCancellationRequested)
                {
                    if (_established.Count >= _options.MaxConnectionsPerListener)
                    {
                        victim = LongestIdle(OfConnection.Milliseconds(_options.Time), out victimIdleMs);
                        if (victim is null)
                        {
                            full = true;
                        }
                        else
                        {
                            victim.Evicted = true;
                            _established.Remove(victim);
                        }
                    }
                    if (!full) _established.Add(slot);
                }
            }
            if (!r.Ok || evicted || full || _cts.IsCancellationRequested)
            {
                transport.Close();
                if (_cts.IsCancellationRequested) return;
                if (full)
                {
                    Interlocked.Increment(ref RefusedFull);
                    if (_refusalLog.TryTake(out long dropped))
                    {
                        _log.LogWarning("{Endpoint}: refused {Remote}: {Max} connections are established (the listener's cap) and each is handling a request or is a controller in charge{Suppressed}",
                            _endpoint, transport.Remote, _options.MaxConnectionsPerListener, Suppressed(dropped));
                    }

                    return;
                }
                Interlocked.Increment(ref OpeningFailed);
                string why = evicted
                    ? $"dropped before its HELLO to make room ({_options.MaxConnectionsPerListener} connections is the listener's cap)"
                    : r.Failure!;
                if (r.PeerSilent && !evicted)
                {
                    // A probe (connect and close without a byte: another daemon checking the socket, a health
                    // check) is not a refusal worth a warning.
                    Interlocked.Increment(ref Probes);
                    _log.LogDebug("{Endpoint}: {Remote} closed without sending anything ({Reason})", _endpoint, transport.Remote, why);
                }
                else if (_refusalLog.TryTake(out long suppressed))
                {
                    _log.LogWarning("{Endpoint}: refused {Remote}: {Reason}{Suppressed}", _endpoint, transport.Remote, why, Suppressed(suppressed));
                }

                return;
            }
            if (victim is not null)
            {
                Interlocked.Increment(ref EvictedIdle);
                OfConnection? closing;
                lock (_lock) closing = victim.Connection; // null: still being made, and it closes itself on seeing the mark
                closing?.Close();
                if (_refusalLog.TryTake(out long suppressed))
                {
                    _log.LogWarning("{Endpoint}: closed {Victim}, idle {Seconds:F1} s (the longest), to make room for {Remote} ({Max} connections is the listener's cap){Suppressed}",
                        _endpoint, closing?.Name ?? "a connection", victimIdleMs / 1000.0, transport.Remote, _options.MaxConnectionsPerListener, Suppressed(suppressed));
                }
            }
            Interlocked.Increment(ref Established);
            if (transport.IsTls) _log.LogDebug("{Endpoint}: {Remote}: TLS established ({Tls})", _endpoint, transport.Remote, transport.TlsDescription);
            conn = _establish(transport, r);
            bool closeNow;
            lock (_lock)
            {
                slot.Connection = conn;
                closeNow = slot.Evicted;
            }
            if (closeNow) conn.Close();
            await conn.Completion.ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
        {
            transport.Close();
        }
        finally
        {
            slot.Cts.Dispose();
            lock (_lock)
            {
                if (node.List is not null) _opening.Remove(node);
                _established.Remove(slot);
                _live--;
            }
        }
    }

    private static string Suppressed(long n) => n > 0 ? $" ({n} similar line(s) suppressed)" : "";

    public async ValueTask DisposeAsync()
    {
        _cts.Cancel();
        try { _socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } // wakes an accept under way
        _socket.Dispose();
        try { await _acceptLoop.ConfigureAwait(false); } catch (OperationCanceledException) { }
        if (_endpoint.Kind == OfTransportKind.Unix)
        {
            try { File.Delete(_endpoint.Path); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }
}

