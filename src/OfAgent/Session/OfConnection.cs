using System.Buffers;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.Extensions.Logging;
using Softswitch.OfWire;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Session;

/// <summary>
/// One established OpenFlow channel to a controller or a tool (ovs-ofctl): framing, HELLO negotiation, keepalive,
/// and a bounded send queue, over an <see cref="OfTransport"/> (TCP, TLS or a Unix socket).
/// </summary>
/// <remarks>
/// Design: a connection is made only after <see cref="OfHandshake"/> (TLS, our HELLO sent, the peer's first message
/// received, all without a thread); it starts by handling those first bytes. Then one receive loop, framing on the 8-byte ofp_header and bounding the length before buffering, and
/// one send loop draining a queue, each on a thread of its own while the connection lives, with blocking socket calls
/// (the threads outlive the connection and serve the next one: <see cref="ConnectionThreads"/>). (Measured here: the
/// async socket path costs an event-loop wake-up and thread-pool hops per segment, which made a peer that
/// writes one flow-mod per segment CPU-bound on our side.) A message queued while nothing else is (a reply to a
/// tool waiting on it: ovs-ofctl add-flows waits for a BARRIER_REPLY after every flow-mod) is written at once by the
/// thread that queues it, with a send that never blocks (<see cref="OfTransport.TrySendNow"/>), saving the send
/// loop's wake-up on every round trip; what the socket does not take at once stays first in line for the send loop
/// (<c>_pendingHead</c>). Whoever writes holds <c>_writeLock</c>: the send loop for its whole batch, the queueing
/// thread only if it gets the lock without waiting; so bytes reach the socket in queue order and no queueing thread
/// ever waits for a slow peer. Requests are handled in arrival order on the receive loop, so a BARRIER_REPLY is queued only after
/// every earlier request took effect. The queued byte counts fall with every write, not when the queue empties.
/// A message is a whole array or, for messages built in an array rented from <see cref="MessagePool"/>
/// (<see cref="SendPooled"/>: flow stats, barrier and echo replies, packet-ins), a prefix of it that the send loop gives
/// back to the pool once written, so frequent messages allocate nothing. That pool keeps no per-thread caches: a
/// tool's connection threads (ovs-ofctl connects per command) rent and return arrays and then end.
/// <para><b>Two accounts</b> (as Open vSwitch's connmgr: flow expirations are accounted as replies, port status is
/// never dropped, only packet-ins are, against a packet-in backlog of their own). Replies, FLOW_REMOVED and
/// PORT_STATUS are never dropped: their queued bytes (<c>_queuedBytes</c> less <c>_packetInBytes</c>) pace the peer
/// instead. Past <see cref="AgentOptions.ReplyQueueLimit"/> the receive loop reads no further request until they
/// drain below it (<see cref="WaitForRoom"/> before each message), so what a peer's requests make us queue past the
/// limit is what one request produces; a long reply (a flow-stats dump) waits in <see cref="WaitForRoom"/> before each part,
/// so a million-flow dump never sits in memory at once. PACKET_IN is dropped once the packet-ins queued to this
/// connection pass <see cref="AgentOptions.PacketInQueueLimit"/>, and counted (<see cref="PacketInsDropped"/>); replies
/// queued ahead of them do not count. Past <see cref="AgentOptions.SendQueueHardLimit"/> (all kinds together: only an
/// asynchronous burst larger than it, a mass delete's FLOW_REMOVED, can get there) the connection is closed.</para>
/// <para><b>Liveness</b> is a whole message received, or our writes being taken. While bytes are queued, the peer is
/// alive as long as the send loop gets them into the socket (progress is marked per chunk of
/// <see cref="ProgressChunkSize"/>, so a slow reader of a large write shows progress): a peer that takes none for twice
/// the inactivity probe is closed, also while one of its requests is being handled (a dump waiting for room gives up
/// when the connection closes, and the request's hold of the tables' reclamation domain goes with it). While nothing is
/// queued and a request is being handled (a delete of a million flows takes longer than the probe), the peer waits on
/// us: a tool such as ovs-ofctl waits for its BARRIER_REPLY without answering echoes, and the idle clock restarts when
/// the handler returns. Otherwise the peer answers our ECHO_REQUEST after one probe interval or is closed after two; a
/// peer that trickles a message byte by byte is as silent as one that sends nothing.</para>
/// <para>An OFPT_ERROR from the peer, in any state and of any version, is handled here and never reaches the request
/// dispatcher: it is logged (rate-limited, the peer's text in printable ASCII) and never answered with an error; a
/// HELLO_FAILED closes the connection and is kept in <see cref="PeerRefusal"/> for the connect loop's retry line. A peer
/// whose HELLO names a later version counts as <see cref="Negotiated"/> only from its next message, so a controller
/// that answers HELLO_FAILED never takes the fail mode, even for an instant.</para>
/// </remarks>
public sealed class OfConnection : IAsyncDisposable
{
    private readonly OfTransport _transport;
    private byte[]? _initial;
    private readonly int _initialCount;
    private readonly OfConnectionManager _owner;
    private readonly ILogger _log;
    // Made on first use: a tool's connection whose replies all go out at once from their queueing thread never needs
    // one, and a queue's first segment is the largest object a connection would otherwise make.
    private System.Collections.Concurrent.ConcurrentQueue<Outgoing>? _out;
    private readonly ManualResetEventSlim _outSignal = new(false, spinCount: 1);
    private readonly Lock _writeLock = new();
    private Outgoing? _pendingHead; // under _writeLock: the unsent rest of a message written in part by its queueing thread
    private readonly CancellationTokenSource _cts = new();
    private long _queuedBytes;   // every queued byte not yet written, of all kinds
    private long _packetInBytes; // the packet-ins among them
    // _lastRxTicks: a whole message received; _lastTxTicks: our writes last taken, or the moment bytes began to wait.
    private long _lastRxTicks, _lastTxTicks;
    private bool _handling;
    private bool _helloReceived, _negotiated;
    private byte _peerHelloVersion;
    private uint? _peerBitmap;
    private byte _version;
    private OfProtocol? _protocol;
    private long _lastRequestTicks;
    private Task? _run;
    private Timer? _keepalive;
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

    /// <summary>Bytes the send loop coalesces into one write (a larger message is written on its own).</summary>
    private const int SendBufferSize = 256 * 1024;
    /// <summary>A write is handed to the socket in pieces of this size, each one that is taken marking the peer alive.</summary>
    private const int ProgressChunkSize = 64 * 1024;
    /// <summary>The receive buffer holds two of the larger of this and the largest message accepted, so a read always has room.</summary>
    private const int MinReceiveBufferSize = 64 * 1024;

    /// <param name="active">A connection of a connect loop, which reports the peer's refusal of our HELLO itself (with its retry).</param>
    /// <param name="quiet">Lifecycle lines at Debug whatever the kind (a connect loop retrying after failed attempts).</param>
    internal OfConnection(OfTransport transport, OfHandshakeResult opening, OfConnectionManager owner, bool primary, string name, ILogger log,
        bool active = false, bool quiet = false)
    {
        _transport = transport;
        _initial = opening.Received;
        _initialCount = opening.Count;
        _owner = owner;
        Controller = owner.JoinController();
        IsPrimary = primary;
        MissSendLen = primary ? OfpConstants.DefaultMissSendLen : (ushort)0;
        Name = name;
        _log = log;
        _lastRxTicks = _lastRequestTicks = Environment.TickCount64;
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
    /// <summary>This connection as the OpenFlow layer sees it: its role and which asynchronous messages it wants.</summary>
    public OfController Controller { get; }
    /// <summary>A controller connection (receives asynchronous messages and decides the fail mode), not a tool's.</summary>
    public bool IsPrimary { get; }
    /// <summary>
    /// This connection's miss_send_len (SET_CONFIG): 128 on a controller connection, 0 on a service connection,
    /// which receives no asynchronous message until it asks with a non-zero value (as Open vSwitch's connmgr).
    /// </summary>
    public ushort MissSendLen { get; set; }
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

    /// <summary>
    /// Milliseconds since the peer's last request other than an echo (HELLO counts; -1 while one is being handled):
    /// how a full listener picks the connection to close for a newcomer.
    /// </summary>
    internal long IdleMilliseconds(long now) => Volatile.Read(ref _handling) ? -1 : now - Volatile.Read(ref _lastRequestTicks);
    /// <summary>PACKET_IN messages dropped because the packet-ins queued to this peer were past their limit.</summary>
    public long PacketInsDropped;
    private readonly ManualResetEventSlim _drained = new(true);
    public long MessagesReceived;
    public Task Completion => _run ?? Task.CompletedTask;

    public void Start()
    {
        var probe = _owner.Options.InactivityProbe;
        if (probe > TimeSpan.Zero) _keepalive = new Timer(_ => Keepalive(), null, probe / 2, probe / 2);
        _run = Task.WhenAll(s_rxThreads.Run(ReceiveLoop), s_txThreads.Run(SendLoop)).ContinueWith(_ => OnClosed(), TaskScheduler.Default);
    }

    /// <summary>The threads of connections' receive and send loops, kept for the next connection when one ends.</summary>
    private static readonly ConnectionThreads s_rxThreads = new("of-rx"), s_txThreads = new("of-tx");

    /// <summary>Threads created so far for receive and send loops (a thread reused by a later connection counts once).</summary>
    internal static int ThreadsCreated => s_rxThreads.Created + s_txThreads.Created;

    public uint NextXid() => Interlocked.Increment(ref _xid);

    /// <summary>Queues a reply or request (never dropped; past the hard limit the connection closes).</summary>
    public void Send(OfpMessage msg) => Enqueue(msg.ToArray());

    /// <summary>
    /// Queues FLOW_REMOVED or PORT_STATUS: accounted as a reply, never dropped (false only when the connection is
    /// closed, or closes because the queue passed the hard limit).
    /// </summary>
    public bool SendNotification(OfpMessage msg) => Enqueue(msg.ToArray());

    /// <summary>As <see cref="SendNotification(OfpMessage)"/>, for a whole encoded message (shared by the connections it goes to, never changed).</summary>
    public bool SendNotification(byte[] msg) => Enqueue(msg);

    public void SendRaw(byte[] bytes) => Enqueue(bytes);

    /// <summary>
    /// Queues the first <paramref name="count"/> bytes of an array rented from <see cref="MessagePool"/> (a
    /// reply, never dropped); the connection returns the array to the pool once written (or drops it when it closes).
    /// </summary>
    public void SendPooled(byte[] rented, int count) => Enqueue(new Outgoing(rented, 0, count, Pooled: true, PacketIn: false));

    /// <summary>
    /// As <see cref="SendPooled"/>, for a PACKET_IN: dropped and counted in <see cref="PacketInsDropped"/> (the array
    /// returned) when the packet-ins queued to this peer are past <see cref="AgentOptions.PacketInQueueLimit"/>.
    /// </summary>
    public bool SendPacketInPooled(byte[] rented, int count) => Enqueue(new Outgoing(rented, 0, count, Pooled: true, PacketIn: true));

    /// <summary>
    /// A queued message: Bytes[Offset..Offset+Count), whether the array goes back to <see cref="MessagePool"/> once
    /// written, and whether it is a packet-in (its own account). Offset is not 0 only for the rest of a message its
    /// queueing thread wrote in part.
    /// </summary>
    private readonly record struct Outgoing(byte[] Bytes, int Offset, int Count, bool Pooled, bool PacketIn)
    {
        public void Release()
        {
            if (Pooled) s_buffers.Return(Bytes);
        }
    }

    private bool Enqueue(byte[] bytes) => Enqueue(new Outgoing(bytes, 0, bytes.Length, Pooled: false, PacketIn: false));

    private bool Enqueue(Outgoing m)
    {
        if (!IsOpen)
        {
            m.Release();
            return false;
        }
        var options = _owner.Options;
        if (m.PacketIn && Interlocked.Read(ref _packetInBytes) > options.PacketInQueueLimit)
        {
            Interlocked.Increment(ref PacketInsDropped);
            m.Release();
            return false;
        }
        long q = Interlocked.Read(ref _queuedBytes);
        if (q > options.SendQueueHardLimit)
        {
            _log.LogWarning("{Conn}: peer is not reading ({Bytes} bytes queued); closing", Name, q);
            Close();
            m.Release();
            return false;
        }
        if (q == 0 && _transport.CanSendNow && _writeLock.TryEnter())
        {
            try
            {
                // Nothing queued and nothing being written (the send loop writes under the lock): this message is next.
                if (Interlocked.Read(ref _queuedBytes) == 0)
                {
                    int sent = _transport.TrySendNow(m.Bytes.AsSpan(m.Offset, m.Count));
                    if (sent == m.Count)
                    {
                        m.Release();
                        return true;
                    }
                    if (sent >= 0)
                    {
                        // The rest stays in the message's own array (a pooled one goes back once the send loop wrote it).
                        var rest = m with { Offset = m.Offset + sent, Count = m.Count - sent };
                        Queued(rest);
                        _pendingHead = rest;
                        _outSignal.Set();
                        return true;
                    }
                    // The channel failed: queue it; the send loop meets the failure and closes.
                }
            }
            finally
            {
                _writeLock.Exit();
            }
        }
        Queued(m);
        (Volatile.Read(ref _out) ?? MakeQueue()).Enqueue(m);
        _outSignal.Set();
        return true;
    }

    /// <summary>Counts a message about to be queued in its account (before the send loop can see it).</summary>
    private void Queued(in Outgoing m)
    {
        long total = Interlocked.Add(ref _queuedBytes, m.Count);
        // Bytes begin to wait now: the peer's time to take them starts here, not at its last message.
        if (total == m.Count) Volatile.Write(ref _lastTxTicks, Environment.TickCount64);
        if (m.PacketIn) Interlocked.Add(ref _packetInBytes, m.Count);
        else if (total - Interlocked.Read(ref _packetInBytes) > _owner.Options.ReplyQueueLimit) _drained.Reset();
    }

    /// <summary>Queued bytes of every kind not yet written (diagnostics, tests).</summary>
    internal long QueuedBytes => Interlocked.Read(ref _queuedBytes);

    /// <summary>Queued bytes of replies, FLOW_REMOVED and PORT_STATUS (what paces the peer).</summary>
    private long ReplyBytes => Interlocked.Read(ref _queuedBytes) - Interlocked.Read(ref _packetInBytes);

    /// <summary>
    /// Blocks (this connection's receive loop: before it handles the next message, and inside a long reply before each
    /// part) until the queued replies are below <see cref="AgentOptions.ReplyQueueLimit"/>; false when the connection
    /// closed meanwhile (the keepalive closes a peer that takes none of them, so this never waits for good).
    /// </summary>
    public bool WaitForRoom()
    {
        long limit = _owner.Options.ReplyQueueLimit;
        while (IsOpen)
        {
            if (ReplyBytes <= limit) return true;
            // A timed wait: a reset racing with the set of a write that drained the queue costs one interval, not a hang.
            try { _drained.Wait(100, _cts.Token); }
            catch (OperationCanceledException) { return false; }
        }
        return false;
    }

    private System.Collections.Concurrent.ConcurrentQueue<Outgoing> MakeQueue()
    {
        Interlocked.CompareExchange(ref _out, new(), null);
        return _out!;
    }

    /// <summary>The send loop wrote <paramref name="bytes"/>, <paramref name="packetInBytes"/> of them packet-ins.</summary>
    private void Written(long bytes, long packetInBytes)
    {
        if (packetInBytes != 0) Interlocked.Add(ref _packetInBytes, -packetInBytes);
        long total = Interlocked.Add(ref _queuedBytes, -bytes);
        Volatile.Write(ref _lastTxTicks, Environment.TickCount64);
        if (total - Interlocked.Read(ref _packetInBytes) <= _owner.Options.ReplyQueueLimit) _drained.Set();
    }

    /// <summary>
    /// The send loop, on a dedicated thread with blocking writes (the socket stays in blocking mode). It coalesces
    /// whatever is queued into one write: ovs-ofctl add-flows sends a barrier after every flow-mod, and a reply
    /// per syscall would make the replies, not the flow-mods, the bottleneck.
    /// </summary>
    private void SendLoop()
    {
        var buf = s_buffers.Rent(SendBufferSize);
        try
        {
            while (true)
            {
                // Close sets the signal after cancelling: the loop ends without an exception per connection (tools
                // connect per command, and each thrown exception is garbage). The check follows the reset: a Close
                // that cancels after the check sets the signal after the reset, so the next wait returns at once.
                _outSignal.Wait();
                _outSignal.Reset();
                if (_cts.IsCancellationRequested) return;
                using var writing = _writeLock.EnterScope();
                if (_pendingHead is { } head)
                {
                    _pendingHead = null;
                    SendAll(head.Bytes, head.Offset, head.Count);
                    Written(head.Count, head.PacketIn ? head.Count : 0);
                    head.Release();
                }
                int used = 0, usedPacketIn = 0;
                var queue = Volatile.Read(ref _out);
                while (queue is not null && queue.TryDequeue(out var m))
                {
                    if (used + m.Count > buf.Length)
                    {
                        SendAll(buf, 0, used);
                        Written(used, usedPacketIn);
                        used = usedPacketIn = 0;
                    }
                    if (m.Count > buf.Length)
                    {
                        SendAll(m.Bytes, m.Offset, m.Count);
                        Written(m.Count, m.PacketIn ? m.Count : 0);
                    }
                    else
                    {
                        Buffer.BlockCopy(m.Bytes, m.Offset, buf, used, m.Count);
                        used += m.Count;
                        if (m.PacketIn) usedPacketIn += m.Count;
                    }
                    m.Release();
                }
                if (used > 0)
                {
                    SendAll(buf, 0, used);
                    Written(used, usedPacketIn);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException or IOException or AuthenticationException)
        {
        }
        finally
        {
            Close();
            s_buffers.Return(buf);
        }
    }

    /// <summary>Writes in pieces, each one taken marking progress: a peer reading slowly through a large write is alive.</summary>
    private void SendAll(byte[] bytes, int offset, int count)
    {
        while (count > 0)
        {
            int n = Math.Min(count, ProgressChunkSize);
            _transport.Send(bytes, offset, n);
            Volatile.Write(ref _lastTxTicks, Environment.TickCount64);
            offset += n;
            count -= n;
        }
    }

    /// <summary>
    /// The receive loop, on a dedicated thread with blocking reads: each read takes everything the kernel has
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

    /// <summary>HELLO_FAILED/INCOMPATIBLE with the ASCII explanation OF1.0 asks for (not the request's bytes).</summary>
    internal static OfpErrorMsg HelloFailed(in OfpHeader peer, uint ours, uint? peerBitmap) => new()
    {
        // The error's layout is the same in every version; it goes out in the peer's version when we speak it.
        Version = Math.Min(peer.Version == 0 ? OfpConstants.Version : peer.Version, OfpHelloVersions.Highest(ours)),
        Xid = peer.Xid,
        Error = OfpError.HelloFailed(OfpHelloFailedCode.Incompatible),
        Data = OfpHelloVersions.IncompatibleText(ours, peer.Version, peerBitmap),
    };

    /// <summary>
    /// Handles every whole message in buf[start..end); true when the connection is to close. Flow-mods read together
    /// are one run (<see cref="OfSwitch.BeginFlowModRun"/>): they take effect together, when a message of another
    /// kind comes, before the loop may wait (for room to reply, or to read), and at the latest when it has handled
    /// what it read.
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
            sw.EndFlowModRun();
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
                // answered with one, even a malformed ERROR.
                var head = buf.AsSpan(start, Math.Min(end - start, OfpConstants.ErrorDataMinSize)).ToArray();
                if (header.Type != OfpType.Error) SendRaw(OfpErrorMsg.ForRequest(OfpError.BadRequest(OfpBadRequestCode.BadLen), head).ToArray());
                _log.LogWarning("{Conn}: malformed stream (message length {Len}); closing", Name, header.Length);
                FlushAndClose();
                return true;
            }
            // The message stays in the receive buffer while it is handled (nothing else writes the buffer meanwhile); a
            // handler that keeps it copies it.
            ReadOnlySpan<byte> msg = buf.AsSpan(start, len);
            start += len;
            MessagesReceived++;
            long now = Environment.TickCount64;
            Volatile.Write(ref _lastRxTicks, now);
            if (header.Type is not (OfpType.EchoRequest or OfpType.EchoReply)) Volatile.Write(ref _lastRequestTicks, now);
            // A run of flow-mods goes on only through flow-mods of a negotiated connection, and never into a wait.
            bool flowMod = header.Type == OfpType.FlowMod && _negotiated;
            if (!flowMod || ReplyBytes > _owner.Options.ReplyQueueLimit) sw.EndFlowModRun();
            // Back-pressure by not reading: no further request is taken while the replies already queued to this
            // peer are past their limit (the keepalive closes a peer that takes none of them).
            if (!WaitForRoom()) return true;
            if (flowMod) sw.BeginFlowModRun();
            // While a request is being handled (a delete of a million flows takes seconds) the peer is waiting on
            // us, not silent: the idle clock stops, and restarts when we are ready to read again.
            Volatile.Write(ref _handling, true);
            bool keep;
            try { keep = Handle(msg); }
            finally
            {
                Volatile.Write(ref _lastRxTicks, Environment.TickCount64);
                Volatile.Write(ref _handling, false);
            }
            if (!keep)
            {
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
        if (header.Type == OfpType.Error) return OnPeerError(msg, header);
        uint ours = _owner.Options.Versions;
        if (!_helloReceived)
        {
            if (header.Type == OfpType.Hello)
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
        if (header.Type == OfpType.Hello) return true; // a repeated HELLO is harmless
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

    private void Keepalive()
    {
        if (!IsOpen) return;
        long probe = (long)_owner.Options.InactivityProbe.TotalMilliseconds;
        long queued = Interlocked.Read(ref _queuedBytes);
        // Every write was taken and we are producing an answer: the peer waits on us. With bytes waiting, a handler
        // (a dump waiting for room) does not stop the clock.
        if (queued == 0 && Volatile.Read(ref _handling)) return;
        // Alive: a message received, or the send loop's writes taken (a dump's reader whose echo replies wait unread
        // behind it; the idle clock restarts when a backlog drains). A write made at once by its queueing thread
        // marks nothing: an idle peer must answer our echo.
        long quiet = Environment.TickCount64 - Math.Max(Volatile.Read(ref _lastRxTicks), Volatile.Read(ref _lastTxTicks));
        if (quiet > 2 * probe)
        {
            if (queued > 0) _log.LogWarning("{Conn}: none of our writes taken for {Seconds:F1} s ({Bytes} bytes queued); closing", Name, quiet / 1000.0, queued);
            else _log.LogWarning("{Conn}: no answer for {Seconds:F1} s; closing", Name, quiet / 1000.0);
            Close();
            return;
        }
        if (quiet > probe) Send(new OfpEchoRequest { Version = _version != 0 ? _version : OfpHelloVersions.Highest(_owner.Options.Versions), Xid = NextXid() });
    }

    private void FlushAndClose()
    {
        // Give the send loop a moment to deliver a final error before closing.
        for (int i = 0; i < 50 && Interlocked.Read(ref _queuedBytes) > 0; i++) Thread.Sleep(10);
        Close();
    }

    public void Close()
    {
        if (_cts.IsCancellationRequested) return;
        try { _cts.Cancel(); } catch (ObjectDisposedException) { }
        _outSignal.Set();   // wakes the send loop, which sees the cancellation and ends
        _keepalive?.Dispose();
        _transport.Close();
    }

    private void OnClosed()
    {
        _log.Log(_lifecycleLevel, "{Conn}: connection closed", Name);
        _owner.OnClosed(this);
    }

    public async ValueTask DisposeAsync()
    {
        Close();
        if (_run is not null) await _run.ConfigureAwait(false);
        _cts.Dispose();
    }
}
