using System.Buffers;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.Extensions.Logging;
using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Session;

/// <summary>
/// One established OpenFlow channel to a controller or a tool (ovs-ofctl): framing, HELLO negotiation, keepalive,
/// and a bounded send queue, over an <see cref="OfTransport"/> (TCP, TLS or a Unix socket).
/// </summary>
/// <remarks>
/// Made only after <see cref="OfHandshake"/>. Requests are handled in arrival order, one at a time (a BARRIER_REPLY is
/// queued after every earlier request took effect), and the queue is written in order. A plain channel (TCP, Unix) on
/// Linux has no thread of its own: the readiness thread (<see cref="SocketReadiness"/>) says when its socket is
/// readable or has room, and its turns run on the process's small pool (<see cref="ConnectionWorkers"/>; see
/// OfConnection.Turns.cs), with recv(2) and send(2) given MSG_DONTWAIT on a socket that stays in blocking mode. A TLS
/// channel keeps a receive loop and a send loop on blocking threads (<see cref="ConnectionThreads"/>): an
/// <see cref="System.Net.Security.SslStream"/> read may need more than one record's worth of reads, which a turn cannot
/// wait for. Replies, FLOW_REMOVED and
/// PORT_STATUS are never dropped: past <see cref="AgentOptions.ReplyQueueLimit"/> the receive loop or turn waits for room
/// (<see cref="WaitForRoom"/>); PACKET_IN past <see cref="AgentOptions.PacketInQueueLimit"/> is dropped and counted
/// (<see cref="PacketInsDropped"/>). A peer that takes none of our bytes, or stays silent, is closed.
/// Design: docs/agent.md, "A connection".
/// </remarks>
public sealed partial class OfConnection : IAsyncDisposable
{
    private readonly OfTransport _transport;
    private byte[]? _initial;
    private readonly int _initialCount;
    private readonly OfConnectionManager _owner;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _cts = new();
    // _lastRxTicks: a whole message received; _lastTxTicks: waiting bytes last seen taken, or the moment they began to wait.
    private long _lastRxTicks, _lastTxTicks;
    private bool _handling;
    private bool _helloReceived, _negotiated;
    private byte _peerHelloVersion;
    private uint? _peerBitmap;
    private byte _version;
    private OfProtocol? _protocol;
    private long _lastRequestTicks;
    private Task? _run;
    private ITimer? _keepalive;
    private uint _xid = FirstXid;

    /// <summary>Where the xids of the switch's own requests (HELLO, ECHO_REQUEST) start: "SS" in the high bytes.</summary>
    internal const uint FirstXid = 0x5353_0000;

    /// <summary>
    /// The connections' receive and send buffers: a pool without per-thread caches (the shared pool keeps an array
    /// returned by a thread in that thread's cache, lost when a tool's short-lived connection threads end).
    /// </summary>
    private static readonly ArrayPool<byte> s_buffers = ArrayPool<byte>.Create(1 << 20, 64);

    /// <summary>
    /// Where the arrays of pooled messages (<see cref="SendPooled"/>, <see cref="SendPacketInPooled"/>) come from and go
    /// back to: the connections' buffer pool, without per-thread caches (the shared pool would keep an array returned by
    /// a short-lived connection's send thread in that thread's cache, lost when the thread ends: a flow-stats reply
    /// buffer per ovs-ofctl dump-flows).
    /// </summary>
    internal static ArrayPool<byte> MessagePool => s_buffers;

    /// <summary>The receive buffer holds two of the larger of this and the largest message accepted, so a read always has room.</summary>
    private const int MinReceiveBufferSize = 64 * 1024;

    /// <param name="active">A connection of a connect loop, which reports the peer's refusal of our HELLO itself (with its retry).</param>
    /// <param name="quiet">Lifecycle lines at Debug whatever the kind (a connect loop retrying after failed attempts).</param>
    internal OfConnection(OfTransport transport, OfHandshakeResult opening, OfConnectionManager owner, bool primary, string name, ILogger log,
        bool active = false, bool quiet = false)
    {
        _transport = transport;
        _pooled = transport.CanSendNow;
        _initial = opening.Received;
        _initialCount = opening.Count;
        _owner = owner;
        Controller = owner.JoinController();
        IsPrimary = primary;
        MissSendLen = primary ? OfpConstants.DefaultMissSendLen : (ushort)0;
        Name = name;
        _log = log;
        _lastRxTicks = _lastRequestTicks = Now();
        _active = active;
        // A tool's connection to a listener (ovs-ofctl makes one per command) is a debug line, as in OVS; a controller's is news.
        // A tool's (service) connection logs its lifecycle at Debug, a controller's at Information.
        _lifecycleLevel = primary && !quiet ? LogLevel.Information : LogLevel.Debug;
    }

    private readonly LogLevel _lifecycleLevel;
    private readonly bool _active;

    /// <summary>Errors from peers written to the log: a peer that sends nothing but errors cannot flood it.</summary>
    private static readonly LogLimiter s_peerErrorLog = new(20, TimeSpan.FromSeconds(10));

    /// <summary>
    /// The peer's HELLO_FAILED, described (its type, code and text, and the version it speaks), once it refused our
    /// HELLO; the connection closes on it. Null otherwise.
    /// </summary>
    public string? PeerRefusal { get; private set; }

    /// <summary>
    /// Why this switch refused the peer's HELLO (no version in common: the versions each side speaks), once it sent
    /// HELLO_FAILED and closed. Null otherwise.
    /// </summary>
    public string? LocalRefusal { get; private set; }

    public string Name { get; }
    /// <summary>This connection's bundles (OpenFlow 1.4's, and the ONF extension's under 1.3): they end with it.</summary>
    public OfBundles Bundles => _bundles ??= new OfBundles();
    private OfBundles? _bundles;
    /// <summary>This connection as the OpenFlow layer sees it: its role and which asynchronous messages it wants.</summary>
    public OfController Controller { get; }
    /// <summary>A controller connection (receives asynchronous messages and decides the fail mode), not a tool's.</summary>
    public bool IsPrimary { get; }
    /// <summary>
    /// This connection's miss_send_len (SET_CONFIG): 128 on a controller connection, 0 on a service connection,
    /// which receives no asynchronous message until it asks with a non-zero value (as Open vSwitch's connmgr).
    /// </summary>
    public ushort MissSendLen { get; set; }

    /// <summary>
    /// Open vSwitch's flow format of an OpenFlow 1.0 connection (NXT_SET_FLOW_FORMAT): false for OpenFlow 1.0's ofp_match,
    /// the default, true for NXM once the peer asked. Only FLOW_REMOVED's form depends on it (a request of either form is
    /// served in either format). Set on the receive loop; read by whichever thread sends a FLOW_REMOVED.
    /// </summary>
    public bool NxmFlowFormat
    {
        get => Volatile.Read(ref _nxmFlowFormat);
        set => Volatile.Write(ref _nxmFlowFormat, value);
    }
    private bool _nxmFlowFormat;

    /// <summary>
    /// Open vSwitch's packet-in format of this connection (NXT_SET_PACKET_IN_FORMAT, any version): the version's own
    /// PACKET_IN (the default), NXT_PACKET_IN or NXT_PACKET_IN2. Set on the receive loop; read by the upcall pump that
    /// sends packet-ins.
    /// </summary>
    public NxPacketInFormat PacketInFormat
    {
        get => (NxPacketInFormat)Volatile.Read(ref _packetInFormat);
        set => Volatile.Write(ref _packetInFormat, (byte)value);
    }
    private byte _packetInFormat;

    /// <summary>
    /// Open vSwitch's flow_mod_table_id extension on an OpenFlow 1.0 connection (NXT_FLOW_MOD_TABLE_ID): a flow-mod's
    /// command carries its table in the high byte. Off until the peer enables it. Read and written on the receive loop only.
    /// </summary>
    public bool FlowModTableId { get; set; }

    /// <summary>
    /// OpenFlow 1.4's role-status, table-status and request-forward masks (OFPACPT_ROLE_STATUS_SLAVE to
    /// OFPACPT_REQUESTFORWARD_MASTER, in that order) as SET_ASYNC left them; 0 until then, as Open vSwitch's defaults.
    /// Written on the connection's receive loop only; the table-status masks are also read by the threads that send
    /// TABLE_STATUS (each mask is one word: a reader sees the old one or the new one).
    /// </summary>
    internal uint[] Async14Masks { get; } = new uint[6];

    /// <summary>
    /// OpenFlow 1.5's controller-status masks (OFPACPT_CONT_STATUS_SLAVE, then _MASTER) as SET_ASYNC left them; 0 until
    /// then (no OFPT_CONTROLLER_STATUS unasked). Written on the connection's receive loop only; read by whichever thread
    /// reports another connection's change (one word each).
    /// </summary>
    internal uint[] ContStatusMasks { get; } = new uint[2];

    /// <summary>
    /// A SET_ASYNC of any form (1.3's, 1.4's, Open vSwitch's NXT_SET_ASYNC_CONFIG and _CONFIG2) was taken: a service
    /// connection (a listener's, miss_send_len 0) starts receiving asynchronous messages, with miss_send_len 128, as Open
    /// vSwitch's handle_nxt_set_async_config does. Called on the receive loop.
    /// </summary>
    internal void AsyncConfigured()
    {
        if (!IsPrimary && MissSendLen == 0) MissSendLen = OfpConstants.DefaultMissSendLen;
    }

    /// <summary>Tells the other connections that asked (OFPT_CONTROLLER_STATUS) that this one's role changed.</summary>
    internal void ReportRoleChange() => _owner.SendControllerStatus(this, OfControllerStatusReason.Role);

    /// <summary>The switch's connections and configured controllers, for an OFPMP_CONTROLLER_STATUS reply.</summary>
    internal (IReadOnlyList<OfConnection> Connections, IReadOnlyList<OfControllerStatus> Active) Peers => (_owner.Connections, _owner.ActiveControllers);

    /// <summary>Forwards a GROUP_MOD or METER_MOD this connection made to the other connections that asked (<see cref="OfConnectionManager.ForwardRequest"/>).</summary>
    internal void ForwardRequest(byte reason, Func<byte, byte[]?> inner) => _owner.ForwardRequest(this, reason, inner);
    /// <summary>
    /// Open vSwitch's controller id of the connection: a controller action's packet-ins go only to the connections of
    /// its id. Open vSwitch's default, 0, for every connection: NXT_SET_CONTROLLER_ID, which would change it, is not served.
    /// </summary>
    public ushort ControllerId => 0;
    /// <summary>Whether PACKET_IN, FLOW_REMOVED and PORT_STATUS go to this connection.</summary>
    public bool ReceivesAsync => (IsPrimary || MissSendLen != 0) && _negotiated && IsOpen;
    public bool IsOpen => !_cts.IsCancellationRequested;
    /// <summary>
    /// A version is agreed (<see cref="Version"/>): both HELLOs carried version bitmaps with a version in common, the
    /// peer's HELLO named the agreed version, or (a HELLO without a bitmap naming a later version) the peer went on
    /// with a message other than an ERROR; a peer that speaks only a later version answers HELLO_FAILED instead, and never was.
    /// </summary>
    public bool Negotiated => _negotiated;

    /// <summary>The OpenFlow version (ofp_header.version) agreed with the peer; 0 before its HELLO.</summary>
    public byte Version => _version;

    /// <summary>The protocol of <see cref="Version"/>, once a version is agreed.</summary>
    internal OfProtocol Protocol => _protocol ?? throw new InvalidOperationException("no version agreed yet");

    /// <summary>Bytes of ours in the socket the peer has not acknowledged (diagnostics, tests).</summary>
    internal long SocketUnsentBytes => _transport.Progress(out _);

    /// <summary>
    /// Milliseconds since the peer's last request other than an echo (HELLO counts; -1 while one is being handled):
    /// how a full listener picks the connection to close for a newcomer.
    /// </summary>
    internal long IdleMilliseconds(long now) => Volatile.Read(ref _handling) ? -1 : now - Volatile.Read(ref _lastRequestTicks);

    /// <summary>
    /// A controller in charge of the switch: a controller connection that asked for the master or equal role. A full
    /// listener never closes it for a newcomer, however quiet (a master may send nothing but echo replies for hours).
    /// </summary>
    internal bool InCharge => IsPrimary && _negotiated && IsOpen && Controller is { RoleChosen: true, Role: not OfRole.Slave };

    /// <summary>PACKET_IN messages dropped because the packet-ins queued to this peer were past their limit.</summary>
    public long PacketInsDropped;
    public long MessagesReceived;
    private long _bytesReceived;   // written by the receive loop only
    /// <summary>Bytes read from the peer after the opening phase, whole messages or not (diagnostics, tests).</summary>
    internal long BytesReceived => Volatile.Read(ref _bytesReceived);
    public Task Completion => _run ?? Task.CompletedTask;

    public void Start()
    {
        var probe = _owner.Options.InactivityProbe;
        if (probe > TimeSpan.Zero) _keepalive = _owner.Options.Time.CreateTimer(_ => Keepalive(), null, probe / 2, probe / 2);
        if (_pooled)
        {
            StartTurns();
            return;
        }
        _run = Task.WhenAll(s_rxThreads.Run(ReceiveLoop), s_txThreads.Run(SendLoop)).ContinueWith(_ => OnClosed(), TaskScheduler.Default);
    }

    /// <summary>The threads of TLS connections' receive and send loops, kept for the next connection when one ends.</summary>
    private static readonly ConnectionThreads s_rxThreads = new("of-rx"), s_txThreads = new("of-tx");

    /// <summary>
    /// Threads created so far for connections: the pool's, and the TLS connections' receive and send loops' (a thread
    /// reused by a later connection counts once).
    /// </summary>
    internal static int ThreadsCreated => s_rxThreads.Created + s_txThreads.Created + ConnectionWorkers.Shared.Created;

    public uint NextXid() => Interlocked.Increment(ref _xid);

    /// <summary>
    /// A TLS connection's receive loop, on a dedicated thread with blocking reads: each read takes everything the kernel has
    /// buffered, so a peer that writes one small message per segment (ovs-ofctl add-flows) costs one syscall
    /// per batch instead of an event-loop wake-up and a thread-pool hop per message.
    /// </summary>
    private void ReceiveLoop()
    {
        // Pooled: a connection's buffers are large (the large-object heap), and tools connect often (ovs-ofctl makes
        // a connection per command), so new arrays per connection would cost full collections.
        var buf = s_buffers.Rent(Math.Max(MinReceiveBufferSize, _owner.Options.MaxMessageSize) * 2);
        int start = 0, end = 0;
        if (_initial is { } first)
        {
            // What the opening phase read: the peer's first message, perhaps more.
            Buffer.BlockCopy(first, 0, buf, 0, _initialCount);
            end = _initialCount;
            _initial = null;
        }
        try
        {
            if (end > 0 && FrameLoop(buf, ref start, end)) return;
            while (!_cts.IsCancellationRequested)
            {
                if (start > 0 && (end == buf.Length || start == end))
                {
                    Buffer.BlockCopy(buf, start, buf, 0, end - start);
                    end -= start;
                    start = 0;
                }
                int n = _transport.Receive(buf, end, buf.Length - end);
                if (n == 0) break;
                Volatile.Write(ref _bytesReceived, _bytesReceived + n);
                end += n;
                if (FrameLoop(buf, ref start, end)) return;
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException or AuthenticationException)
        {
        }
        catch (Exception e)
        {
            _log.LogError(e, "{Conn}: unexpected error; closing", Name);
        }
        finally
        {
            Close();
            s_buffers.Return(buf);
        }
    }

    /// <summary>
    /// The version of an error that answers <paramref name="peer"/>'s message: the one this connection speaks once it
    /// is chosen (at the peer's HELLO, or its first message without one), else the header's, where this switch
    /// speaks it or a later one (as <see cref="HelloFailed"/>).
    /// </summary>
    private byte AnswerVersion(in OfpHeader peer) => _version != 0 ? _version : PeerVersion(peer, _owner.Options.Versions);

    /// <summary>The peer's version, or the highest of <paramref name="ours"/> when the peer's is later (1.0 for a version 0).</summary>
    private static byte PeerVersion(in OfpHeader peer, uint ours) =>
        Math.Min(peer.Version == 0 ? OfpConstants.Version : peer.Version, OfpHelloVersions.Highest(ours));

    /// <summary>HELLO_FAILED/INCOMPATIBLE with the ASCII explanation OF1.0 asks for (not the request's bytes).</summary>
    internal static OfpErrorMsg HelloFailed(in OfpHeader peer, uint ours, uint? peerBitmap) => new()
    {
        // The error's layout is the same in every version; it goes out in the peer's version when we speak it.
        Version = PeerVersion(peer, ours),
        Xid = peer.Xid,
        Error = OfpError.HelloFailed(OfpHelloFailedCode.Incompatible),
        Data = OfpHelloVersions.IncompatibleText(ours, peer.Version, peerBitmap),
    };

    /// <summary>
    /// Handles every whole message in buf[start..end); true when the connection is to close. Flow-mods read together
    /// are one run (<see cref="OfSwitch.BeginFlowModRun"/>, opened by the request dispatcher): they take effect
    /// together, when a message of another kind comes (the dispatcher ends the run), before the loop may wait (for
    /// room to reply, or to read), and at the latest when it has handled what it read.
    /// </summary>
    private bool FrameLoop(byte[] buf, ref int start, int end)
    {
        var sw = _owner.Switch;
        try
        {
            return FrameLoop(buf, ref start, end, sw);
        }
        finally
        {
            EndRun(sw);
        }
    }

    /// <summary>
    /// Ends this connection's run of flow-mods (<see cref="OfSwitch.EndFlowModRun"/>), marked handling meanwhile:
    /// publishing the run and reporting the flows it removed (an offload target taking them out of its hardware first)
    /// is work for the peer's requests, and the peer waits on us.
    /// </summary>
    private void EndRun(OfSwitch sw)
    {
        if (!sw.Flows.InRun) return;
        Volatile.Write(ref _handling, true);
        try
        {
            sw.EndFlowModRun();
        }
        finally
        {
            Volatile.Write(ref _lastRxTicks, Now());
            Volatile.Write(ref _handling, false);
        }
    }

    private bool FrameLoop(byte[] buf, ref int start, int end, OfSwitch sw)
    {
        while (true)
        {
            var st = OfpFraming.TryGetFrame(buf.AsSpan(start, end - start), out var header, out int len, _owner.Options.MaxMessageSize);
            if (st == OfpFrameStatus.Incomplete) return false;
            if (st == OfpFrameStatus.Invalid)
            {
                // A length below 8 (or above what we accept) leaves no way to find the next message. An ERROR is never
                // answered with one, even a malformed ERROR. BAD_REQUEST/BAD_LEN are 1/6 in every version; the error
                // goes out in the connection's version (AnswerVersion).
                var head = buf.AsSpan(start, Math.Min(end - start, OfpErrorEnvelope.DataSize));
                if (header.Type != OfpHeader.ErrorType)
                {
                    SendRaw(OfpErrorEnvelope.ForRequest(AnswerVersion(header), (ushort)OfpErrorType.BadRequest, (ushort)OfpBadRequestCode.BadLen, head));
                }
                _log.LogWarning("{Conn}: malformed stream (message length {Len}); closing", Name, header.Length);
                EndRun(sw);
                FlushAndClose();
                return true;
            }
            // The message stays in the receive buffer while it is handled (nothing else writes the buffer meanwhile); a
            // handler that keeps it copies it.
            ReadOnlySpan<byte> msg = buf.AsSpan(start, len);
            start += len;
            MessagesReceived++;
            long now = Now();
            Volatile.Write(ref _lastRxTicks, now);
            if (header.Type is not (OfpHeader.EchoRequestType or OfpHeader.EchoReplyType)) Volatile.Write(ref _lastRequestTicks, now);
            // A run of flow-mods never goes into a wait (the dispatcher opens and ends it by the messages it routes).
            if (ReplyBytes > _owner.Options.ReplyQueueLimit) EndRun(sw);
            // Back-pressure by not reading: no further request is taken while the replies already queued to this
            // peer are past their limit (the keepalive closes a peer that takes none of them).
            if (!WaitForRoom()) return true;
            // While a request is being handled (a delete of a million flows takes seconds), or waits for another
            // connection's run, the peer is waiting on us, not silent: the idle clock stops, and restarts when we are
            // ready to read again.
            Volatile.Write(ref _handling, true);
            bool keep;
            try
            {
                keep = Handle(msg);
            }
            finally
            {
                Volatile.Write(ref _lastRxTicks, Now());
                Volatile.Write(ref _handling, false);
            }
            if (!keep)
            {
                EndRun(sw);
                FlushAndClose();
                return true;
            }
        }
    }

    /// <summary>Handles one framed message; false closes the connection.</summary>
    private bool Handle(ReadOnlySpan<byte> msg)
    {
        OfpHeader.TryRead(msg, out var header);
        // An ERROR (type 1 in every version) is the peer's word, in any state: logged, never answered, never dispatched.
        if (header.Type == OfpHeader.ErrorType) return OnPeerError(msg, header);
        uint ours = _owner.Options.Versions;
        if (!_helloReceived)
        {
            if (header.Type == OfpHeader.HelloType)
            {
                uint? bitmap = OfpHelloVersions.TryReadBitmap(msg, out uint b) ? b : null;
                byte agreed = OfpHelloVersions.Negotiate(ours, header.Version, bitmap);
                _peerHelloVersion = header.Version;
                _peerBitmap = bitmap;
                if (agreed == 0)
                {
                    SendRaw(HelloFailed(header, ours, bitmap).ToArray());
                    LocalRefusal = $"the peer speaks OpenFlow {(bitmap is { } pb ? OfpHelloVersions.Describe(pb) : OfpHelloVersions.Name(header.Version))}, " +
                                   $"this switch {OfpHelloVersions.Describe(ours)} (--protocols); sent HELLO_FAILED";
                    _log.LogWarning("{Conn}: {Refusal}, closing", Name, LocalRefusal);
                    return false;
                }
                _helloReceived = true;
                Use(agreed);
                // A HELLO without a bitmap that names a later version than the one agreed is agreed by the peer's
                // next message: a controller that speaks only its own version answers HELLO_FAILED instead, and must
                // not count as connected meanwhile. With bitmaps both sides know the outcome already.
                if (bitmap is not null || header.Version == agreed) Negotiate();
                return true;
            }
            // Tolerate a peer that starts without HELLO if it speaks a version of ours; anything else cannot be understood.
            if ((ours & OfpHelloVersions.Bit(header.Version)) == 0)
            {
                SendRaw(HelloFailed(header, ours, null).ToArray());
                LocalRefusal = $"the peer sent OpenFlow {OfpHelloVersions.Name(header.Version)} without a HELLO, this switch speaks " +
                               $"{OfpHelloVersions.Describe(ours)} (--protocols); sent HELLO_FAILED";
                return false;
            }
            _helloReceived = true;
            _peerHelloVersion = header.Version;
            Use(header.Version);
        }
        if (!_negotiated) Negotiate();
        if (header.Type == OfpHeader.HelloType) return true; // a repeated HELLO is harmless
        if (header.Version != _version)
        {
            // OpenFlow 1.3.5 section 6.3.1 (and 1.0's BAD_VERSION): a message of another version than the agreed one.
            var head = msg[..Math.Min(msg.Length, OfpConstants.ErrorDataMinSize)];
            SendRaw(new OfpErrorMsg { Version = _version, Xid = header.Xid, Error = OfpError.BadRequest(OfpBadRequestCode.BadVersion), Data = head.ToArray() }.ToArray());
            return true;
        }
        _protocol!.Handle(this, msg);
        return true;
    }

    private void Use(byte version)
    {
        _version = version;
        _protocol = _owner.Protocol(version);
    }

    private void Negotiate()
    {
        _negotiated = true;
        string offered = _peerBitmap is { } b ? $"versions {OfpHelloVersions.Describe(b)}" : $"version 0x{_peerHelloVersion:x2}";
        _log.Log(_lifecycleLevel, "{Conn}: negotiated OpenFlow {Version} (peer offered {Offered})", Name, OfpHelloVersions.Name(_version), offered);
        _owner.OnNegotiated(this);
    }

    /// <summary>
    /// An ERROR from the peer: never answered (two peers answering each other's errors would never stop). A
    /// HELLO_FAILED is the peer refusing us: it is kept in <see cref="PeerRefusal"/>, reported, and closes the
    /// connection; any other error is logged (rate-limited) and the connection goes on.
    /// </summary>
    private bool OnPeerError(ReadOnlySpan<byte> msg, in OfpHeader header)
    {
        string what = OfPeerError.Describe(msg);
        if (OfPeerError.IsHelloFailed(msg))
        {
            uint ours = _owner.Options.Versions;
            string theirs = _peerBitmap is { } pb ? OfpHelloVersions.Describe(pb)
                : OfpHelloVersions.Name(_peerHelloVersion != 0 ? _peerHelloVersion : header.Version);
            PeerRefusal = $"{what} (it speaks OpenFlow {theirs}; this switch speaks {OfpHelloVersions.Describe(ours)})";
            // A connect loop reports the refusal with its retry, in one line per attempt.
            if (!_active && s_peerErrorLog.TryTake(out long dropped))
                _log.LogWarning("{Conn}: peer refused our HELLO: {Refusal}; closing{Suppressed}", Name, PeerRefusal, Suppressed(dropped));
            return false;
        }
        if (s_peerErrorLog.TryTake(out long suppressed))
            _log.LogWarning("{Conn}: peer sent error {Error}{Suppressed}", Name, what, Suppressed(suppressed));
        return true;
    }

    private static string Suppressed(long n) => n > 0 ? $" ({n} similar line(s) suppressed)" : "";

    // The keepalive's own: the most bytes the peer had taken at a tick, whether bytes waited at the last tick, and when
    // it last sent an echo request.
    private long _mostTaken;
    private bool _bytesWaited;
    private long _probeTicks;

    private void Keepalive() => Keepalive(Now());

    /// <summary>Milliseconds of <paramref name="time"/>: the connections' clock (<see cref="AgentOptions.Time"/>).</summary>
    internal static long Milliseconds(TimeProvider time) => (long)(time.GetTimestamp() * (1000.0 / time.TimestampFrequency));

    /// <summary>Now, in milliseconds of the connections' clock.</summary>
    private long Now() => Milliseconds(_owner.Options.Time);

    /// <summary>A keepalive tick at <paramref name="now"/> (<see cref="Now"/>; tests pass a late one).</summary>
    internal void Keepalive(long now)
    {
        if (!IsOpen) return;
        long probe = (long)_owner.Options.InactivityProbe.TotalMilliseconds;
        long queued = Interlocked.Read(ref _queuedBytes);
        // Every write was taken and we are producing an answer: the peer waits on us. With bytes waiting, a handler
        // (a dump waiting for room) does not stop the clock.
        if (queued == 0 && Volatile.Read(ref _handling)) return;
        // Alive: a message received, or waiting bytes being taken, ours or the socket's (a dump's reader whose echo
        // replies wait unread behind it; the idle clock restarts when a backlog drains). Bytes taken with none waiting
        // before (our echo request, which an idle peer's kernel acknowledges at once) mark nothing: an idle peer must
        // answer it.
        long unsent = _transport.Progress(out long taken);
        if (taken > _mostTaken)
        {
            _mostTaken = taken;
            if (_bytesWaited || queued > 0) Volatile.Write(ref _lastTxTicks, now);
        }
        bool waiting = queued > 0 || unsent > 0;
        // Bytes this tick is the first to see waiting (a write its queueing thread made at once marks no start): the
        // peer's time to take them starts now at the latest, however late the tick.
        if (waiting && !_bytesWaited) Volatile.Write(ref _lastTxTicks, now);
        _bytesWaited = waiting;
        long last = Math.Max(Volatile.Read(ref _lastRxTicks), Volatile.Read(ref _lastTxTicks));
        long quiet = now - last;
        // An idle peer is closed only a whole probe interval after an echo request it left unanswered, however late
        // this tick comes (a stalled timer must not close a peer it never asked); one that leaves our bytes waiting
        // untaken needs no echo (it would wait behind them).
        bool unanswered = _probeTicks > last && now - _probeTicks >= probe;
        if (quiet > 2 * probe && (waiting || unanswered))
        {
            if (waiting)
            {
                _log.LogWarning("{Conn}: none of our writes taken for {Seconds:F1} s ({Bytes} bytes queued, {Unsent} in the socket); closing",
                    Name, quiet / 1000.0, queued, unsent);
            }
            else
            {
                _log.LogWarning("{Conn}: no answer for {Seconds:F1} s; closing", Name, quiet / 1000.0);
            }
            Close();
            return;
        }
        if (quiet > probe && _probeTicks <= last)
        {
            _probeTicks = now;
            var echo = new OfpEchoRequest { Version = _version != 0 ? _version : OfpHelloVersions.Highest(_owner.Options.Versions), Xid = NextXid() }.ToArray();
            Enqueue(new Outgoing(echo, 0, echo.Length, Pooled: false, OutKind.Probe));
        }
    }

    /// <summary>How long a closing connection gives the send loop to deliver what is queued (a final error), in milliseconds.</summary>
    private const long FlushGraceMs = 500;

    private void FlushAndClose()
    {
        if (_pooled)
        {
            FlushInTurnAndClose();
            return;
        }
        // Give the send loop a moment to deliver a final error before closing (holding no run of flow-mods).
        long start = Now();
        while (IsOpen && Interlocked.Read(ref _queuedBytes) > 0 && Now() - start < FlushGraceMs) Thread.Sleep(10);
        Close();
    }

    public void Close()
    {
        if (_cts.IsCancellationRequested) return;
        try { _cts.Cancel(); } catch (ObjectDisposedException) { }
        _outSignal.Set();   // wakes the send loop, which sees the cancellation and ends
        _keepalive?.Dispose();
        _transport.Close();
        // A plain connection's finishing turn, after any turn in progress.
        if (_pooled) Schedule(WorkFinish);
    }

    private void OnClosed()
    {
        long lost = Interlocked.Read(ref _undelivered), lostAsync = Interlocked.Read(ref _undeliveredNotifications);
        if (lostAsync > 0)
        {
            _log.LogWarning("{Conn}: connection closed; {Messages} queued messages not delivered, {Async} of them FLOW_REMOVED or PORT_STATUS",
                Name, lost, lostAsync);
        }
        else if (lost > 0)
        {
            _log.Log(_lifecycleLevel, "{Conn}: connection closed; {Messages} queued messages not delivered", Name, lost);
        }
        else
        {
            _log.Log(_lifecycleLevel, "{Conn}: connection closed", Name);
        }
        _owner.OnClosed(this);
    }

    public async ValueTask DisposeAsync()
    {
        Close();
        if (_run is not null) await _run.ConfigureAwait(false);
        _cts.Dispose();
    }
}
