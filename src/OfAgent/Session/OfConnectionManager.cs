using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Session;

/// <summary>
/// The switch's OpenFlow channels (ovs ofproto/connmgr.c): passive listeners and active connect loops, the set of
/// established connections, primaries versus service connections, the fail mode, and the fan-out of asynchronous
/// messages with its drop counters.
/// </summary>
/// <remarks>
/// Only primaries (<see cref="AgentOptions.Controllers"/>) decide the fail mode, told to the switch
/// (<see cref="OfSwitch.SetControllerConnected"/>) under <c>_failModeLock</c>. Asynchronous messages go to every
/// connection that <see cref="OfConnection.ReceivesAsync"/> and whose <see cref="OfController.Wants"/> them; only
/// PACKET_IN is ever dropped for a connection that is behind (<see cref="PacketInsDropped"/>). It decodes no request
/// and changes no flow. <c>_connLock</c> is a leaf taken under <c>_failModeLock</c> or alone, never while sending.
/// Design: docs/agent.md, "Channels".
/// </remarks>
internal sealed class OfConnectionManager : IAsyncDisposable, IOfFlowMonitorSink
{
    private readonly OfSwitch _switch;
    private readonly ILogger _log;
    private readonly ILoggerFactory _loggers;
    private readonly List<OfConnection> _conns = new();
    /// <summary>A copy of <see cref="_conns"/>, replaced under <c>_connLock</c> whenever it changes: read per packet-in without a lock or a list.</summary>
    private volatile OfConnection[] _connSnapshot = [];
    private readonly Lock _connLock = new();
    private readonly List<OfListener> _listeners = new();
    private readonly Lock _failModeLock = new();
    private readonly CancellationTokenSource _cts = new();
    private readonly List<Task> _tasks = new();
    private readonly OfProtocol?[] _protocols = new OfProtocol?[32];
    private volatile OfTlsContext? _tls;

    private static readonly TimeSpan s_connectTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_initialBackoff = TimeSpan.FromSeconds(1);

    /// <summary>The switch the connections serve.</summary>
    internal OfSwitch Switch => _switch;

    public OfConnectionManager(OfSwitch ofproto, AgentOptions options, ILoggerFactory loggers)
    {
        _switch = ofproto;
        Options = options;
        _loggers = loggers;
        _log = loggers.CreateLogger("ofagent");
        _switch.Roles.Demoted += SendRoleStatus;
        ApplyFailMode();
    }

    public AgentOptions Options { get; }

    /// <summary>PACKET_IN messages queued to connections.</summary>
    public long PacketInsSent;
    /// <summary>PACKET_IN messages dropped: no connection took asynchronous messages, or one's packet-in backlog was full.</summary>
    public long PacketInsDropped;
    /// <summary>
    /// FLOW_REMOVED and PORT_STATUS messages lost to a connection that closed: refused once it was closing, or still
    /// queued when it closed (never dropped because it was behind).
    /// </summary>
    public long AsyncMessagesDropped;

    /// <summary>The local endpoints of the passive TCP listeners: the passive controller ones first, then the service ones.</summary>
    public IReadOnlyList<IPEndPoint> ListenEndpoints => _listeners.Select(l => l.LocalEndPoint).OfType<IPEndPoint>().ToList();

    public IReadOnlyList<OfListener> Listeners => _listeners;

    public IReadOnlyList<OfConnection> Connections
    {
        get { lock (_connLock) return _conns.ToList(); }
    }

    /// <summary>The active controllers (tcp:, ssl:, unix: in <see cref="AgentOptions.Controllers"/>), each as its connect loop last saw it.</summary>
    public IReadOnlyList<OfControllerStatus> ActiveControllers { get; private set; } = [];

    public bool ControllerConnected
    {
        get { lock (_connLock) return _conns.Any(c => c.IsPrimary && c.Negotiated && c.IsOpen); }
    }

    /// <summary>
    /// Opens the listeners and starts connecting to the controllers; established connections hand their requests to
    /// the protocol of the version they agree on (<paramref name="protocols"/>: one per version of <see cref="AgentOptions.Versions"/>). Throws <see cref="IOException"/> naming the endpoint when a listener cannot be
    /// opened (the address is in use, ...), and <see cref="OfTlsException"/> when an ssl:/pssl: endpoint is configured
    /// without usable TLS files.
    /// </summary>
    public void Start(IEnumerable<OfProtocol> protocols)
    {
        foreach (var p in protocols) _protocols[p.Version] = p;
        for (byte v = 1; v < 32; v++)
        {
            if ((Options.Versions & OfpHelloVersions.Bit(v)) != 0 && _protocols[v] is null)
            {
                throw new ArgumentException($"OpenFlow {OfpHelloVersions.Name(v)} is offered but has no protocol");
            }
        }
        var listeners = Options.Listeners.Select(OfEndpoint.Parse).ToList();
        var controllers = Options.Controllers.Select(OfEndpoint.Parse).ToList();
        if (listeners.Any(e => e.IsTls) || controllers.Any(e => e.IsTls)) _tls = OfTlsContext.Load(Options.Tls, _log);
        // Passive controllers (ptcp:/pssl:/punix: in Controllers) are primaries; --listen endpoints are services.
        var passive = controllers.Where(e => e.Passive).Select(e => (Ep: e, Primary: true))
                                 .Concat(listeners.Select(e => (Ep: e, Primary: false))).ToList();
        try
        {
            foreach (var (ep, primary) in passive)
            {
                var listener = OfListener.Start(ep, ep.IsTls ? _tls : null, Options, (t, o) => Establish(t, o, primary), _loggers.CreateLogger("oflistener"));
                _listeners.Add(listener);
                _log.LogInformation("listening for OpenFlow {Kind} connections on {Endpoint}", primary ? "controller" : "service (tool)", Describe(listener));
            }
        }
        catch
        {
            foreach (var l in _listeners) l.DisposeAsync().AsTask().GetAwaiter().GetResult();
            _listeners.Clear();
            throw;
        }
        var active = controllers.Where(e => !e.Passive).Select(e => (Ep: e, Status: new OfControllerStatus(e.ToString()))).ToList();
        ActiveControllers = active.Select(a => a.Status).ToList();
        foreach (var (ep, status) in active) _tasks.Add(Task.Run(() => ConnectLoop(ep, status)));
    }

    /// <summary>
    /// New TLS material (files read now): the ssl: connections and pssl: openings that follow use it, connections
    /// established keep theirs. Throws <see cref="OfTlsException"/> when the files cannot be used (the material before stays).
    /// </summary>
    public void ReloadTls(OfTlsOptions tls)
    {
        var ctx = OfTlsContext.Load(tls, _log);
        Options.Tls = tls;
        _tls = ctx;
        foreach (var l in _listeners)
            if (l.Endpoint.IsTls) l.SetTls(ctx);
    }

    private static string Describe(OfListener l) => l.Endpoint.Kind switch
    {
        OfTransportKind.Unix => l.Endpoint.ToString(),
        _ => $"{(l.Endpoint.IsTls ? "pssl" : "ptcp")}:{((IPEndPoint)l.LocalEndPoint!).Port}:{(l.Endpoint.Host.Contains(':') ? $"[{l.Endpoint.Host}]" : l.Endpoint.Host)}",
    };

    /// <summary>A passive channel completed its opening phase: it becomes a connection with threads of its own.</summary>
    private OfConnection Establish(OfTransport transport, OfHandshakeResult opening, bool primary)
    {
        string kind = transport.IsTls ? "pssl" : transport.Socket.AddressFamily == AddressFamily.Unix ? "punix" : "ptcp";
        var conn = new OfConnection(transport, opening, this, primary, $"{(primary ? "controller" : "service")} {kind} {transport.Remote}", _loggers.CreateLogger("ofconn"));
        lock (_connLock)
        {
            _conns.Add(conn);
            _connSnapshot = [.. _conns];
        }
        conn.Start();
        return conn;
    }

    /// <summary>
    /// One active controller: connect, run the connection until it closes, wait the back-off, again. The back-off is
    /// Open vSwitch's (lib/rconn.c): 1 s after the first failure, doubled after each further one up to
    /// <see cref="AgentOptions.MaxBackoff"/>, and back to 1 s only after a connection that was agreed (not refused) and
    /// stayed up at least as long as the back-off before it. A controller that refuses our HELLO thus sees 1, 2, 4, 8,
    /// 8 ... s between attempts, and each attempt is one warning naming its reason (routine lines of the connections
    /// that follow a failure go to Debug until one works). Each attempt's outcome goes into <paramref name="status"/>
    /// (dp/show): the stage it failed at and the same reason.
    /// </summary>
    private async Task ConnectLoop(OfEndpoint ep, OfControllerStatus status)
    {
        var backoff = TimeSpan.Zero;
        bool failing = false;
        while (!_cts.IsCancellationRequested)
        {
            long started = Environment.TickCount64;
            string? failure = null, reason = null;
            var stage = OfControllerStatus.Stage.Connect;
            OfConnection? conn = null;
            var s = ep.Kind == OfTransportKind.Unix
                ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
                : new Socket(SocketType.Stream, ProtocolType.Tcp);
            OfTransport? transport = null;
            using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token))
            {
                try
                {
                    // The connection's threads want the socket in blocking mode (see SocketReadiness). A TCP connect to an
                    // address is made non-blocking and waited for on the readiness thread, then the socket is made blocking
                    // again: a hundred controllers connecting at once must not hold a hundred pool threads (a listener with
                    // a full backlog holds a connect for a SYN retransmit, a second or more), which starved the handshakes
                    // behind them until they timed out, over and over. A Unix socket's connect, or a name's, blocks this
                    // pool thread. A timer aborts either after s_connectTimeout.
                    using var abort = new Timer(_ => s.Dispose(), null, s_connectTimeout, Timeout.InfiniteTimeSpan);
                    using var reg = _cts.Token.Register(() => s.Dispose());
                    if (ep.Kind == OfTransportKind.Unix)
                    {
                        s.Connect(new UnixDomainSocketEndPoint(ep.Path));
                    }
                    else if (IPAddress.TryParse(ep.Host, out var address))
                    {
                        await ConnectNonBlocking(s, new IPEndPoint(address, ep.Port), _cts.Token).ConfigureAwait(false);
                        s.NoDelay = true;
                    }
                    else
                    {
                        s.Connect(ep.Host, ep.Port);
                        s.NoDelay = true;
                    }
                    // Still under the abort and the cancellation: a shutdown (or the timer) that disposes the socket as
                    // the connect completes leaves a socket whose peer can no longer be read, a failed connect like any.
                    transport = new OfTransport(s);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException or TimeoutException or OperationCanceledException)
                {
                    failure = $": not connected ({(e is SocketException se ? se.Message : "timed out")})";
                    reason = ConnectFailure(e);
                }
                if (failure is null && transport is not null)
                {
                    // The same opening phase as a listener's: TLS (we present our certificate and check theirs), HELLO.
                    deadline.CancelAfter(Options.HelloTimeout);
                    var r = await OfHandshake.RunAsync(transport, ep.IsTls ? _tls : null, asServer: false, ep.Host, Options.MaxMessageSize, OfpHelloVersions.Hello(Options.Versions, OfConnection.FirstXid), deadline.Token)
                        .ConfigureAwait(false);
                    if (r.Ok)
                    {
                        conn = new OfConnection(transport, r, this, primary: true, $"controller {ep}", _loggers.CreateLogger("ofconn"), active: true, quiet: failing);
                        if (transport.IsTls) _log.Log(failing ? LogLevel.Debug : LogLevel.Information, "controller {Endpoint}: TLS established ({Tls})", ep, transport.TlsDescription);
                    }
                    else
                    {
                        (stage, reason) = (OfControllerStatus.Stage.Session, r.Failure);
                        failure = $": not connected ({reason})";
                    }
                }
            }
            bool stayedUp = false;
            if (conn is null)
            {
                if (transport is not null) transport.Close();
                else s.Dispose();
            }
            else
            {
                _log.Log(failing ? LogLevel.Debug : LogLevel.Information, "controller {Endpoint}: connected", ep);
                lock (_connLock)
                {
                    _conns.Add(conn);
                    _connSnapshot = [.. _conns];
                }
                status.OnOpened(conn);
                conn.Start();
                await conn.Completion.ConfigureAwait(false);
                long lived = Environment.TickCount64 - started;
                stayedUp = conn.Negotiated && conn.PeerRefusal is null && lived >= (long)backoff.TotalMilliseconds;
                stage = conn.Negotiated && conn.PeerRefusal is null ? OfControllerStatus.Stage.Closed : OfControllerStatus.Stage.Session;
                reason = $"closed after {lived / 1000.0:F1} s{(conn.Negotiated ? "" : " without agreeing on a version")}";
                if (conn.PeerRefusal is { } refusal) (reason, failure) = ($"it refused our HELLO: {refusal}", $" refused our HELLO: {refusal}");
                else if (conn.LocalRefusal is { } ours) (reason, failure) = (ours, $": not connected ({ours})");
                else if (!stayedUp) failure = $": {reason}";
            }
            status.OnEnded(stage, reason!, stayedUp);
            backoff = NextBackoff(backoff, stayedUp, Options.MaxBackoff);
            failing = !stayedUp;
            if (_cts.IsCancellationRequested) return;
            if (failure is not null)
                _log.LogWarning("controller {Endpoint}{Failure}; retrying in {Seconds} s", ep, failure, backoff.TotalSeconds);
            try { await Task.Delay(backoff, _cts.Token).ConfigureAwait(false); } catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>
    /// Connects <paramref name="s"/> without blocking a thread: a non-blocking connect, its completion (the socket
    /// writable) waited for on the readiness thread, its outcome read from SO_ERROR; the socket is left blocking.
    /// Throws <see cref="SocketException"/> (refused, unreachable), <see cref="TimeoutException"/> after
    /// s_connectTimeout, or <see cref="ObjectDisposedException"/>/<see cref="OperationCanceledException"/> when stopped.
    /// </summary>
    private static async Task ConnectNonBlocking(Socket s, IPEndPoint to, CancellationToken ct)
    {
        s.Blocking = false;
        try
        {
            s.Connect(to);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
        {
            var writable = new WhenReady();
            SocketReadiness.Shared.Arm(new SocketReadiness.Interest(s, writable, write: true));
            await writable.Done.Task.WaitAsync(s_connectTimeout, ct).ConfigureAwait(false);
        }
        int error = (int)s.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!;
        if (error != 0) throw new SocketException(error);   // on Linux the runtime reads the number as an errno
        s.Poll(0, SelectMode.SelectWrite);   // the socket learns that its connect completed
        s.Blocking = true;
    }

    /// <summary>Completes when the readiness thread finds its socket ready.</summary>
    private sealed class WhenReady : SocketReadiness.ITarget
    {
        public readonly TaskCompletionSource Done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void OnReady(SocketReadiness.Interest interest) => Done.TrySetResult();
    }

    /// <summary>Why a connect failed, in a few words (the runtime's message adds the address, which dp/show has already).</summary>
    internal static string ConnectFailure(Exception e) => e is not SocketException se ? "timed out" : se.SocketErrorCode switch
    {
        SocketError.ConnectionRefused => "connection refused",
        SocketError.TimedOut => "timed out",
        SocketError.HostUnreachable => "host unreachable",
        SocketError.NetworkUnreachable => "network unreachable",
        SocketError.HostNotFound or SocketError.NoData => "host not found",
        SocketError.AccessDenied => "permission denied",
        SocketError.AddressNotAvailable => "address not available",
        _ => se.Message,
    };

    /// <summary>
    /// The wait before the next attempt (ovs lib/rconn.c disconnect()): 1 s after an attempt whose connection
    /// <paramref name="stayedUp"/> (agreed and up at least the previous back-off); otherwise the previous back-off
    /// doubled, at least 1 s, and <paramref name="max"/> once doubling would reach past half of it.
    /// </summary>
    internal static TimeSpan NextBackoff(TimeSpan previous, bool stayedUp, TimeSpan max)
    {
        if (stayedUp) return s_initialBackoff;
        if (previous < max / 2) return previous * 2 > s_initialBackoff ? previous * 2 : s_initialBackoff;
        return max > s_initialBackoff ? max : s_initialBackoff;
    }

    internal void OnNegotiated(OfConnection c)
    {
        if (c.IsPrimary) ApplyFailMode();
        SendControllerStatus(c, OfControllerStatusReason.ChannelStatus);
    }

    internal void OnClosed(OfConnection c)
    {
        lock (_connLock)
        {
            _conns.Remove(c);
            _connSnapshot = [.. _conns];
        }
        _switch.Roles.Leave(c.Controller);
        _switch.FlowMonitors.Forget(c.Controller);
        if (c.IsPrimary) ApplyFailMode();
        if (c.Negotiated) SendControllerStatus(c, OfControllerStatusReason.ChannelStatus);
    }

    /// <summary>
    /// OFPT_CONTROLLER_STATUS of <paramref name="about"/> (its channel came up or went down, or its role changed) to every
    /// other connection whose version has the message (1.5) and whose controller-status mask for its role has the
    /// reason's bit (none by default); encoded once.
    /// </summary>
    internal void SendControllerStatus(OfConnection about, OfControllerStatusReason reason)
    {
        byte[]? msg = null;
        foreach (var c in _connSnapshot)
        {
            if (ReferenceEquals(c, about) || !c.ReceivesAsync || !c.Protocol.WantsControllerStatus(c, reason)) continue;
            msg ??= c.Protocol.ControllerStatus(about, reason);
            if (msg is null) continue;
            if (!c.SendNotification(msg)) Interlocked.Increment(ref AsyncMessagesDropped);
        }
    }

    /// <summary>A new connection's controller state (equal, the default asynchronous messages).</summary>
    internal OfController JoinController() => _switch.Roles.Join();

    /// <summary>A connection's request, after HELLO (its receive loop).</summary>
    /// <summary>The protocol of an agreed version (one of <see cref="AgentOptions.Versions"/>).</summary>
    internal OfProtocol Protocol(byte version)
        => _protocols[version] ?? throw new InvalidOperationException($"no protocol for OpenFlow {OfpHelloVersions.Name(version)}");

    /// <summary>Tells the switch whether a controller is connected (it sets the fail mode).</summary>
    private void ApplyFailMode()
    {
        // One lock around reading the connection state and telling the switch: otherwise a connection that negotiates
        // while another closes can leave the older state told last.
        // The flows entering emergency mode deleted are reported after both fail-mode locks are let go (the report may
        // wait for an offload target).
        OfSwitch.DeletedFlows? deleted;
        lock (_failModeLock)
        {
            bool connected, before13 = false;
            lock (_connLock)
            {
                connected = _conns.Any(c => c.IsPrimary && c.Negotiated && c.IsOpen);
                before13 = _conns.Any(c => c.IsPrimary && c.Negotiated && c.IsOpen && c.Version < OpenFlow13);
            }
            deleted = _switch.SetControllerConnectedUnreported(connected, missToController: before13);
        }
        _switch.ReportDeleted(deleted);
    }

    /// <summary>
    /// A packet for the controllers: stored in a packet buffer (when any connection takes it) and sent to each
    /// connection that wants it, cut to its own miss_send_len (table misses) or to the action's max_len. Allocates
    /// nothing: the connections are read from a snapshot array, and each message is written into a pooled array.
    /// </summary>
    public void SendPacketIn(in OfPacketIn p)
    {
        var conns = _connSnapshot;
        int reason = (int)p.Reason.AsyncReason();
        bool any = false;
        foreach (var c in conns)
        {
            if (!c.ReceivesAsync || c.ControllerId != p.ControllerId || !c.Controller.Wants(OfAsyncKind.PacketIn, reason)) continue;
            any = true;
            break;
        }
        if (!any)
        {
            Interlocked.Increment(ref PacketInsDropped);
            return;
        }
        // OpenFlow 1.3's OFPCML_NO_BUFFER (max_len 0xffff in an output to the controller): the whole frame, unbuffered.
        bool buffer = !((p.ByAction || p.Reason != OfPacketInReason.NoMatch) && p.MaxLen == NoBufferMaxLen);
        uint bufferId = buffer ? _switch.BufferPacket(p.Frame, p.InPort) : PacketBuffers.NoBuffer;
        bool buffered = bufferId != PacketBuffers.NoBuffer;
        foreach (var c in conns)
        {
            if (!c.ReceivesAsync || c.ControllerId != p.ControllerId || !c.Controller.Wants(OfAsyncKind.PacketIn, reason)) continue;
            var proto = c.Protocol;
            // The connection's packet-in format (Open vSwitch's NXT_SET_PACKET_IN_FORMAT): the version's own, or a Nicira one.
            var format = c.PacketInFormat;
            int overhead = format switch
            {
                NxPacketInFormat.Nxt => NxPacketIn.PacketInOverhead,
                NxPacketInFormat.Nxt2 => NxPacketIn.PacketIn2Overhead + p.UserData.Length,
                _ => proto.PacketInOverhead,
            };
            if (overhead > OfpConstants.MaxMessageSize)
            {
                Interlocked.Increment(ref PacketInsDropped); // userdata that leaves no room for a message
                continue;
            }
            int dataLen = buffered ? Math.Min(p.Frame.Length, proto.PacketInDataLength(c, p, buffered)) : p.Frame.Length;
            // A frame too large for one message (a received super-frame) is cut to what fits; total_len tells.
            dataLen = Math.Min(dataLen, OfpConstants.MaxMessageSize - overhead);
            var buf = OfConnection.MessagePool.Rent(overhead + dataLen);
            int size = format == NxPacketInFormat.Standard ? proto.WritePacketIn(buf, bufferId, p, dataLen) : WriteNxPacketIn(buf, format, c.Version, proto, bufferId, p, dataLen);
            if (c.SendPacketInPooled(buf, size)) Interlocked.Increment(ref PacketInsSent);
            else Interlocked.Increment(ref PacketInsDropped);
        }
    }

    /// <summary>
    /// An NXT_PACKET_IN or NXT_PACKET_IN2 of <paramref name="p"/> in <paramref name="version"/>, as Open vSwitch's
    /// ofputil_encode_packet_in_private writes them: the reason as the version reports it, the context (in_port, tun_id,
    /// metadata) as a match, and in NXT_PACKET_IN2 the controller action's userdata. Allocation-free.
    /// </summary>
    private static int WriteNxPacketIn(Span<byte> dest, NxPacketInFormat format, byte version, OfProtocol proto, uint bufferId, in OfPacketIn p, int dataLen)
    {
        var fields = new NxPacketInFields(bufferId, p.Frame.Length, proto.PacketInReason(p.Reason), p.TableId, p.Cookie);
        return format == NxPacketInFormat.Nxt
            ? NxPacketIn.WritePacketIn(dest, version, fields, p.InPort, p.TunnelId, p.Metadata, p.Frame[..dataLen])
            : NxPacketIn.WritePacketIn2(dest, version, fields, p.InPort, p.TunnelId, p.Metadata, p.Frame[..dataLen], p.UserData);
    }

    /// <summary>The ofp_header version of OpenFlow 1.3, from which a table miss is the table-miss flow entry's.</summary>
    private const byte OpenFlow13 = 0x04, OpenFlow14 = 0x05, OpenFlow15 = 0x06;

    /// <summary>max_len of an output to the controller that asks for the whole frame without a buffer (OFPCML_NO_BUFFER).</summary>
    private const ushort NoBufferMaxLen = 0xffff;

    /// <summary>
    /// FLOW_REMOVED to every connection that wants it, encoded once per version in use. An eviction goes to OpenFlow 1.4
    /// and later only (Open vSwitch's 1.0 and 1.3 connections leave OFPRR_EVICTION out of their masks).
    /// </summary>
    public void SendFlowRemoved(in OfFlowRemoved removed)
        => SendAsync(OfAsyncKind.FlowRemoved, (int)removed.Reason, removed, static (proto, c, r) => proto.FlowRemoved(c, r),
                     minVersion: removed.Reason == OfFlowRemovedReason.Eviction ? OpenFlow14 : (byte)0);

    /// <summary>
    /// TABLE_STATUS to every OpenFlow 1.4 or later connection whose table-status mask (SET_ASYNC) takes the reason, as
    /// Open vSwitch's connmgr_send_table_status; encoded once per version in use.
    /// </summary>
    public void SendTableStatus(OfTableStatusReason reason, in OfTableDesc table)
    {
        byte[]? v1 = null, v2 = null;
        byte ver1 = 0, ver2 = 0;
        foreach (var c in _connSnapshot)
        {
            if (!c.ReceivesAsync || !c.Protocol.WantsTableStatus(c, reason)) continue;
            byte v = c.Version;
            byte[]? msg = v == ver1 && v1 is not null ? v1 : v == ver2 && v2 is not null ? v2 : c.Protocol.TableStatus(reason, table);
            if (msg is null) continue;
            if (v1 is null) (v1, ver1) = (msg, v);
            else if (v != ver1 && v2 is null) (v2, ver2) = (msg, v);
            if (!c.SendNotification(msg)) Interlocked.Increment(ref AsyncMessagesDropped);
        }
    }

    /// <summary>
    /// OFPT_REQUESTFORWARD of a GROUP_MOD or METER_MOD that <paramref name="source"/> sent and the switch carried out,
    /// to every other connection whose request-forward mask for its role (SET_ASYNC's OFPACPT_REQUESTFORWARD_SLAVE for a
    /// slave, _MASTER otherwise; before 1.4 Open vSwitch's NXT_SET_ASYNC_CONFIG2 sets them) has <paramref name="reason"/>'s
    /// bit, as Open vSwitch's connmgr_send_requestforward (none by default; the version's form of the message:
    /// <see cref="OfProtocol.RequestForward"/>). <paramref name="inner"/> writes the request in a
    /// version, with its sender's xid (null: it has no form there); encoded once per version in use.
    /// </summary>
    public void ForwardRequest(OfConnection source, byte reason, Func<byte, byte[]?> inner)
    {
        byte[]? v1 = null, v2 = null;
        byte ver1 = 0, ver2 = 0;
        foreach (var c in _connSnapshot)
        {
            if (ReferenceEquals(c, source) || !c.ReceivesAsync || !c.Protocol.WantsRequestForward(c, reason)) continue;
            byte v = c.Version;
            byte[]? msg = v == ver1 && v1 is not null ? v1 : v == ver2 && v2 is not null ? v2
                : inner(v) is { } request ? c.Protocol.RequestForward(request) : null;
            if (msg is null) continue;
            if (v1 is null) (v1, ver1) = (msg, v);
            else if (v != ver1 && v2 is null) (v2, ver2) = (msg, v);
            if (!c.SendNotification(msg)) Interlocked.Increment(ref AsyncMessagesDropped);
        }
    }

    /// <summary>
    /// PORT_STATUS to every connection that wants it, encoded once per version in use; not to <paramref name="except"/>'s
    /// (the sender of the PORT_MOD) before OpenFlow 1.5, as Open vSwitch's connmgr_send_port_status (1.5's EXT-338:
    /// a PORT_MOD's change goes to every controller, its sender too).
    /// </summary>
    public void SendPortStatus(OfPortReason reason, OfPortDesc port, OfController? except = null)
        => SendAsync(OfAsyncKind.PortStatus, (int)reason, (reason, port), static (proto, _, a) => proto.PortStatus(a.reason, a.port), except, exceptBefore: OpenFlow15);

    /// <param name="except">A controller whose connections of a version before <paramref name="exceptBefore"/> are left out.</param>
    /// <param name="minVersion">Connections of an earlier version are left out.</param>
    private void SendAsync<T>(OfAsyncKind kind, int reason, T report, Func<OfProtocol, OfConnection, T, byte[]> encode, OfController? except = null,
                              byte exceptBefore = byte.MaxValue, byte minVersion = 0)
    {
        byte[]? v1 = null, v2 = null;
        int ver1 = 0, ver2 = 0;
        foreach (var c in _connSnapshot)
        {
            bool excepted = ReferenceEquals(c.Controller, except) && c.Version < exceptBefore;
            if (!c.ReceivesAsync || c.Version < minVersion || !c.Controller.Wants(kind, reason) || excepted) continue;
            int v = c.Protocol.AsyncFormat(c);
            // Encoded at most once per format (a version, and OpenFlow 1.0's flow format): the connections of one format share the message.
            byte[] msg = v == ver1 && v1 is not null ? v1 : v == ver2 && v2 is not null ? v2 : encode(c.Protocol, c, report);
            if (v1 is null) (v1, ver1) = (msg, v);
            else if (v != ver1 && v2 is null) (v2, ver2) = (msg, v);
            if (!c.SendNotification(msg)) Interlocked.Increment(ref AsyncMessagesDropped);
        }
    }

    /// <summary>Flow monitor updates to the connection of <paramref name="to"/>, in its version (<see cref="IOfFlowMonitorSink"/>).</summary>
    void IOfFlowMonitorSink.Send(OfController to, IReadOnlyList<OfFlowUpdate> updates)
    {
        foreach (var c in _connSnapshot)
        {
            if (!ReferenceEquals(c.Controller, to) || !c.Negotiated) continue;
            if (c.Protocol.FlowUpdates(updates) is not { } messages) return;
            foreach (var m in messages)
                if (!c.SendNotification(m)) Interlocked.Increment(ref AsyncMessagesDropped);
            return;
        }
    }

    long IOfFlowMonitorSink.Backlog(OfController to)
    {
        foreach (var c in _connSnapshot)
            if (ReferenceEquals(c.Controller, to)) return c.QueuedBytes;
        return 0;
    }

    /// <summary>
    /// ROLE_STATUS to the connection of <paramref name="demoted"/>, a master another controller's request made a slave,
    /// where its version has the message (OpenFlow 1.4 and later), as Open vSwitch's ofconn_set_role: whatever its
    /// asynchronous configuration says.
    /// </summary>
    private void SendRoleStatus(OfController demoted, ulong generationId)
    {
        foreach (var c in _connSnapshot)
        {
            if (!ReferenceEquals(c.Controller, demoted) || !c.Negotiated) continue;
            if (c.Protocol.RoleStatus(demoted.Role, generationId) is { } msg && !c.SendNotification(msg))
                Interlocked.Increment(ref AsyncMessagesDropped);
            SendControllerStatus(c, OfControllerStatusReason.Role);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _switch.Roles.Demoted -= SendRoleStatus;
        _cts.Cancel();
        foreach (var l in _listeners) await l.DisposeAsync().ConfigureAwait(false);
        foreach (var c in Connections) await c.DisposeAsync().ConfigureAwait(false);
        try { await Task.WhenAll(_tasks).ConfigureAwait(false); } catch (OperationCanceledException) { }
    }
}
