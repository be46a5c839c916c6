using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath;
using Softswitch.Datapath.Forwarding;
using Softswitch.OfAgent.Session;
using Softswitch.OfAgent.Translate;
using Softswitch.OfAgent.Wire;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent;

/// <summary>
/// The OpenFlow 1.0 agent: connections to controllers and tools, and the translation of every OF1.0 request
/// into datapath operations (ovs ofproto/ofproto.c handle_* in spirit).
/// </summary>
/// <remarks>
/// Design: each connection's receive loop calls <see cref="Dispatch"/> for its messages in order; the
/// datapath's control operations are synchronous and thread-safe, so a request has taken effect when its
/// handler returns (which is what makes BARRIER_REPLY truthful). Packet-ins come from the datapath's upcall
/// rings through one pump thread; flow-removed and port-status events arrive through
/// <see cref="IDatapathEvents"/>. As in Open vSwitch's connmgr, there are two kinds of connection. Primary
/// (controller) connections are those of <see cref="AgentOptions.Controllers"/>, active (<c>tcp:</c>) or passive
/// (<c>ptcp:</c>): they alone decide the fail mode (it applies while none has completed HELLO) and get asynchronous
/// messages with miss_send_len 128 to start with. Service connections (<see cref="AgentOptions.Listeners"/>, the
/// management socket: ovs-ofctl and other tools) never change the fail mode and get asynchronous messages only
/// after a SET_CONFIG with a non-zero miss_send_len; miss_send_len is per connection. The fail mode's state is
/// computed and written under one lock, so two connections closing at once cannot leave it stale.
/// <para>Channels: each passive endpoint is an <see cref="OfListener"/> (connection cap, opening deadline, no thread
/// before HELLO); each active one a connect loop with backoff. Both run the same <see cref="OfHandshake"/> (TLS with
/// mutual authentication for ssl:/pssl: through <see cref="OfTlsContext"/>, then HELLO) before an
/// <see cref="OfConnection"/> with its own threads exists.</para>
/// </remarks>
public sealed class OfSwitchAgent : IDatapathEvents, IAsyncDisposable
{
    private readonly SwitchDatapath _dp;
    private readonly ILogger _log;
    private readonly ILoggerFactory _loggers;
    private readonly List<OfConnection> _conns = new();
    private readonly Lock _connLock = new();
    private readonly List<OfListener> _listeners = new();
    private readonly Lock _failModeLock = new();
    private readonly CancellationTokenSource _cts = new();
    private readonly List<Task> _tasks = new();
    private readonly PacketBufferPool _buffers;
    private Thread? _pump;
    private volatile OfpConfigFlags _configFlags = OfpConfigFlags.FragNormal;
    private bool _failModeLogged;
    private OfTlsContext? _tls;

    /// <param name="flows">The OpenFlow table set over <paramref name="dp"/>; null creates it.</param>
    public OfSwitchAgent(SwitchDatapath dp, AgentOptions options, ILoggerFactory? loggers = null, OfFlowTables? flows = null)
    {
        _dp = dp;
        Flows = flows ?? new OfFlowTables(dp);
        Options = options;
        _loggers = loggers ?? NullLoggerFactory.Instance;
        _log = _loggers.CreateLogger("ofagent");
        _buffers = new PacketBufferPool(options.PacketBuffers, options.PacketBufferLifetime);
        dp.Subscribe(this);
        AgentCounters.Register(dp.Counters, this);
        ApplyFailMode();
    }

    public AgentOptions Options { get; }
    public SwitchDatapath SwitchDatapath => _dp;
    /// <summary>The OpenFlow table set this agent applies flow-mods to.</summary>
    public OfFlowTables Flows { get; }
    public long PacketInsSent, PacketInsDropped, ErrorsSent, FlowModsApplied;
    /// <summary>FLOW_REMOVED and PORT_STATUS messages dropped because their connection was behind.</summary>
    public long AsyncMessagesDropped;

    /// <summary>
    /// The local endpoints of the passive TCP listeners (after <see cref="Start"/>; port 0 gets a free port): the passive
    /// controller ones (<c>ptcp:</c> in <see cref="AgentOptions.Controllers"/>) first, then the service ones.
    /// </summary>
    public IReadOnlyList<IPEndPoint> ListenEndpoints => _listeners.Select(l => l.LocalEndPoint).OfType<IPEndPoint>().ToList();

    /// <summary>The passive listeners, with their counters (after <see cref="Start"/>).</summary>
    public IReadOnlyList<OfListener> Listeners => _listeners;

    public IReadOnlyList<OfConnection> Connections
    {
        get { lock (_connLock) return _conns.ToList(); }
    }

    public bool ControllerConnected
    {
        get { lock (_connLock) return _conns.Any(c => c.IsPrimary && c.Negotiated && c.IsOpen); }
    }

    /// <summary>
    /// Opens the listeners and starts connecting to the controllers. Throws <see cref="IOException"/> naming the
    /// endpoint when a listener cannot be opened (the address is in use, ...), and
    /// <see cref="OfTlsException"/> when an ssl:/pssl: endpoint is configured without usable TLS files.
    /// </summary>
    public void Start()
    {
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
        foreach (var ep in controllers.Where(e => !e.Passive)) _tasks.Add(Task.Run(() => ConnectLoop(ep)));
        _pump = new Thread(PumpUpcalls) { IsBackground = true, Name = "ofagent-upcalls" };
        _pump.Start();
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
        lock (_connLock) _conns.Add(conn);
        conn.Start();
        return conn;
    }

    private async Task ConnectLoop(OfEndpoint ep)
    {
        var backoff = TimeSpan.FromSeconds(1);
        while (!_cts.IsCancellationRequested)
        {
            string? failure = null;
            OfConnection? conn = null;
            var s = ep.Kind == OfTransportKind.Unix
                ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
                : new Socket(SocketType.Stream, ProtocolType.Tcp);
            OfTransport? transport = null;
            using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token))
            {
                try
                {
                    // A blocking connect (on this pool thread) keeps the socket in blocking mode for the connection's
                    // dedicated threads (see SocketReadiness); a timer aborts it after 5 s.
                    using var abort = new Timer(_ => s.Dispose(), null, TimeSpan.FromSeconds(5), Timeout.InfiniteTimeSpan);
                    using var reg = _cts.Token.Register(() => s.Dispose());
                    if (ep.Kind == OfTransportKind.Unix) s.Connect(new UnixDomainSocketEndPoint(ep.Path));
                    else
                    {
                        s.Connect(ep.Host, ep.Port);
                        s.NoDelay = true;
                    }
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    failure = e is SocketException se ? se.Message : "timed out";
                }
                if (failure is null)
                {
                    // The same opening phase as a listener's: TLS (we present our certificate and check theirs), HELLO.
                    transport = new OfTransport(s);
                    deadline.CancelAfter(Options.HelloTimeout);
                    var r = await OfHandshake.RunAsync(transport, ep.IsTls ? _tls : null, asServer: false, ep.Host, Options.MaxMessageSize, 0x5353_0000, deadline.Token)
                        .ConfigureAwait(false);
                    if (r.Ok)
                    {
                        conn = new OfConnection(transport, r, this, primary: true, $"controller {ep}", _loggers.CreateLogger("ofconn"));
                        if (transport.IsTls) _log.LogInformation("controller {Endpoint}: TLS established ({Tls})", ep, transport.TlsDescription);
                    }
                    else failure = r.Failure;
                }
            }
            if (conn is null)
            {
                if (transport is not null) transport.Close();
                else s.Dispose();
                if (_cts.IsCancellationRequested) return;
                _log.LogWarning("controller {Endpoint}: not connected ({Reason}); retrying in {Seconds} s", ep, failure, backoff.TotalSeconds);
                try { await Task.Delay(backoff, _cts.Token).ConfigureAwait(false); } catch (OperationCanceledException) { return; }
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, Options.MaxBackoff.Ticks));
                continue;
            }
            _log.LogInformation("controller {Endpoint}: connected", ep);
            lock (_connLock) _conns.Add(conn);
            conn.Start();
            await conn.Completion.ConfigureAwait(false);
            if (conn.Negotiated) backoff = TimeSpan.FromSeconds(1);
            if (_cts.IsCancellationRequested) return;
            try { await Task.Delay(backoff, _cts.Token).ConfigureAwait(false); } catch (OperationCanceledException) { return; }
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, Options.MaxBackoff.Ticks));
        }
    }

    internal void OnNegotiated(OfConnection c)
    {
        if (c.IsPrimary) ApplyFailMode();
    }

    internal void OnClosed(OfConnection c)
    {
        lock (_connLock) _conns.Remove(c);
        if (c.IsPrimary) ApplyFailMode();
    }

    /// <summary>Sets the datapath's miss behaviour from the controller connection state and the fail mode.</summary>
    private void ApplyFailMode()
    {
        // One lock around reading the connection state and writing the datapath's: otherwise a connection that
        // negotiates while another closes can leave the older computation written last.
        lock (_failModeLock)
        {
            bool connected = ControllerConnected;
            var before = _dp.MissBehavior;
            _dp.MissBehavior = connected ? MissBehavior.Controller
                             : Options.FailMode == FailMode.Standalone ? MissBehavior.Normal : MissBehavior.Drop;
            // Emergency flows (OFPFF_EMERG) take over only while no controller is connected, and only if there are any.
            Flows.UseEmergencyTable = !connected && Options.FailMode == FailMode.Secure && Flows.Emergency > 0;
            if (_dp.MissBehavior != before || !_failModeLogged)
                _log.LogInformation("controller {State}: table misses {Behavior}", connected ? "connected" : "not connected",
                    _dp.MissBehavior switch { MissBehavior.Controller => "go to the controller", MissBehavior.Normal => "are switched by MAC learning (standalone)", _ => "are dropped (secure)" });
            _failModeLogged = true;
        }
    }

    // ------------------------------------------------------------------ asynchronous messages

    private void PumpUpcalls()
    {
        UpcallHandler handler = OnUpcall;
        while (!_cts.IsCancellationRequested)
        {
            // DrainUpcalls resets the signal, then drains (a bounded number per ring): drain until a round finds
            // nothing, then sleep. Forwarders set the signal after each packet for the controller (fenced against
            // that Reset), so an idle pump sleeps until one arrives or the agent stops.
            if (_dp.DrainUpcalls(handler) > 0) continue;
            try { _dp.UpcallSignal.Wait(Timeout.Infinite, _cts.Token); }
            catch (OperationCanceledException) { return; }
        }
    }

    private void OnUpcall(in Upcall u)
    {
        List<OfConnection> targets;
        lock (_connLock) targets = _conns.Where(c => c.ReceivesAsync).ToList();
        if (targets.Count == 0)
        {
            Interlocked.Increment(ref PacketInsDropped);
            return;
        }
        uint bufferId = _buffers.Store(u.Frame, u.InPort);
        foreach (var c in targets)
        {
            // miss_send_len is per connection (a tool that asked for 65535 gets whole frames, a controller 128 bytes).
            int limit = u.Reason == PacketInReason.NoMatch ? c.MissSendLen : u.MaxLen;
            int dataLen = bufferId == PacketBufferPool.NoBuffer ? u.Frame.Length : Math.Min(u.Frame.Length, limit);
            var pin = new OfpPacketIn
            {
                BufferId = bufferId,
                TotalLen = (ushort)u.Frame.Length,
                InPort = u.InPort,
                Reason = WireMap.ToWire(u.Reason),
                Data = u.Frame[..dataLen].ToArray(),
            };
            if (c.SendAsync(pin)) Interlocked.Increment(ref PacketInsSent);
            else Interlocked.Increment(ref PacketInsDropped);
        }
    }

    private void SendAsyncMessage(OfpMessage msg)
    {
        List<OfConnection> targets;
        lock (_connLock) targets = _conns.Where(c => c.ReceivesAsync).ToList();
        // Droppable: a mass delete's FLOW_REMOVED burst to a controller that is behind is dropped and counted
        // (AsyncMessagesDropped), never a reason to close its connection.
        foreach (var c in targets)
            if (!c.SendAsync(msg)) Interlocked.Increment(ref AsyncMessagesDropped);
    }

    public void OnFlowExpired(in FlowRemoved expired) => SendFlowRemoved(expired);

    /// <summary>OFPT_FLOW_REMOVED for a flow installed with SendFlowRemoved (expired, or deleted by a flow-mod).</summary>
    private void SendFlowRemoved(in FlowRemoved r)
    {
        var e = r.Entry;
        if (OfFlowRule.Of(e) is not { SendFlowRemoved: true }) return;
        long dur = Math.Max(0, r.DurationNanos);
        SendAsyncMessage(new OfpFlowRemoved
        {
            Match = MatchTranslator.ToOfpMatch(e.Match),
            Cookie = OfFlowRule.CookieOf(e),
            Priority = e.RequestedPriority,
            Reason = WireMap.ToWire(r.Reason),
            DurationSec = (uint)(dur / 1_000_000_000),
            DurationNsec = (uint)(dur % 1_000_000_000),
            IdleTimeout = e.IdleTimeout,
            PacketCount = (ulong)r.Packets,
            ByteCount = (ulong)r.Bytes,
        });
    }

    public void OnMaintenanceError(Exception error)
        => _log.LogError(error, "datapath maintenance step failed (flow expiry, link monitoring, MAC aging); retrying at the next interval");

    public void OnPortStatus(PortStatusReason reason, PortSlot port)
        => SendAsyncMessage(new OfpPortStatus
        {
            Reason = WireMap.ToWire(reason),
            Desc = PhyPort(port),
        });

    // ------------------------------------------------------------------ requests

    internal void Dispatch(OfConnection c, byte[] msg)
    {
        if (!OfpMessage.TryDecode(msg, out var m, out var err))
        {
            SendError(c, err, msg);
            return;
        }
        switch (m)
        {
            case OfpEchoRequest echo:
                c.Send(new OfpEchoReply { Xid = echo.Xid, Data = echo.Data });
                break;
            case OfpEchoReply:
                break;
            case OfpErrorMsg e:
                _log.LogWarning("{Conn}: peer sent error {Type}/{Code}", c.Name, e.ErrorType, e.Code);
                break;
            case OfpFeaturesRequest fr:
                c.Send(FeaturesReply(fr.Xid));
                break;
            case OfpGetConfigRequest gc:
                c.Send(new OfpGetConfigReply { Xid = gc.Xid, Flags = _configFlags, MissSendLen = c.MissSendLen });
                break;
            case OfpSetConfig sc:
                HandleSetConfig(c, sc, msg);
                break;
            case OfpPacketOut po:
                HandlePacketOut(c, po, msg);
                break;
            case OfpFlowMod fm:
                HandleFlowMod(c, fm, msg);
                break;
            case OfpPortMod pm:
                HandlePortMod(c, pm, msg);
                break;
            case OfpStatsRequest sr:
                HandleStats(c, sr, msg);
                break;
            case OfpBarrierRequest br:
                c.Send(new OfpBarrierReply { Xid = br.Xid });
                break;
            case OfpQueueGetConfigRequest qc:
                HandleQueueGetConfig(c, qc, msg);
                break;
            case OfpVendor:
                SendError(c, OfpError.BadRequest(OfpBadRequestCode.BadVendor), msg);
                break;
            default:
                // Messages only a switch sends (FEATURES_REPLY, PACKET_IN, ...) are not requests.
                SendError(c, OfpError.BadRequest(OfpBadRequestCode.BadType), msg);
                break;
        }
    }

    private void SendError(OfConnection c, OfpError error, byte[] request)
    {
        Interlocked.Increment(ref ErrorsSent);
        _log.LogDebug("{Conn}: error {Type}/{Code} for a {Len}-byte request", c.Name, error.Type, error.Code, request.Length);
        c.SendRaw(OfpErrorMsg.ForRequest(error, request).ToArray());
    }

    private OfpFeaturesReply FeaturesReply(uint xid)
    {
        var reply = new OfpFeaturesReply
        {
            Xid = xid,
            DatapathId = Options.DatapathId,
            NBuffers = (uint)_buffers.Count,
            NTables = 1, // one logical table (see HandleStats)
            Capabilities = OfpCapabilities.FlowStats | OfpCapabilities.TableStats | OfpCapabilities.PortStats
                         | OfpCapabilities.QueueStats | OfpCapabilities.ArpMatchIp,
            Actions = (1u << 12) - 1, // OUTPUT .. ENQUEUE: every OF1.0 action
        };
        foreach (var p in _dp.Ports.List) reply.Ports.Add(PhyPort(p));
        if (_dp.Ports.Local is { } local) reply.Ports.Add(PhyPort(local));
        return reply;
    }

    internal static OfpPhyPort PhyPort(PortSlot p)
    {
        var info = p.Port.Info;
        return new OfpPhyPort
        {
            PortNo = p.No,
            HwAddr = new OfpMac(info.HwAddr.Value),
            Name = info.Name.Length > 15 ? info.Name[..15] : info.Name,
            Config = WireMap.ToWire(p.Config),
            State = WireMap.ToWire(p.State),
            Curr = WireMap.ToWire(info.Current),
            Advertised = WireMap.ToWire(info.Advertised),
            Supported = WireMap.ToWire(info.Supported),
            Peer = WireMap.ToWire(info.Peer),
        };
    }

    private void HandleSetConfig(OfConnection c, OfpSetConfig sc, byte[] msg)
    {
        var frag = sc.Flags & OfpConfigFlags.FragMask;
        if (frag == OfpConfigFlags.FragReasm || frag == OfpConfigFlags.FragMask)
        {
            // We do not reassemble fragments (OFPC_IP_REASM is not in our capabilities).
            SendError(c, OfpError.BadRequest(OfpBadRequestCode.Eperm), msg);
            c.MissSendLen = sc.MissSendLen;
            return;
        }
        _configFlags = frag;
        c.MissSendLen = sc.MissSendLen;
        _dp.FragmentMode = frag == OfpConfigFlags.FragDrop ? FragmentMode.Drop : FragmentMode.Normal;
    }

    private void HandlePacketOut(OfConnection c, OfpPacketOut po, byte[] msg)
    {
        if (!ActionTranslator.TryTranslate(po.Actions, _dp.Ports, ActionContext.PacketOut, _dp.Options.QueuesPerPort, out var actions, out var err))
        {
            SendError(c, err, msg);
            return;
        }
        ushort inPort = po.InPort;
        if (po.BufferId != PacketBufferPool.NoBuffer)
        {
            if (!TryTakeBuffer(c, po.BufferId, msg, out var frame, out _)) return;
            _dp.PacketOut(frame, inPort, actions);
            return;
        }
        if (po.Data.Length == 0 || po.Data.Length > _dp.MaxFrameSize)
        {
            // OF1.0 has no code for "too big to carry"; BAD_LEN (as for missing data) tells the controller the
            // frame was not sent rather than dropping it silently.
            SendError(c, OfpError.BadRequest(OfpBadRequestCode.BadLen), msg);
            return;
        }
        _dp.PacketOut(po.Data.Span, inPort, actions);
    }

    /// <summary>
    /// Takes a buffered packet for PACKET_OUT or FLOW_MOD; answers BAD_REQUEST BUFFER_EMPTY (already used or expired)
    /// or BUFFER_UNKNOWN (never handed out) and returns false when it cannot.
    /// </summary>
    private bool TryTakeBuffer(OfConnection c, uint bufferId, byte[] msg, out byte[] frame, out ushort inPort)
    {
        var r = _buffers.Take(bufferId, out frame, out inPort);
        if (r == PacketBufferPool.TakeResult.Ok) return true;
        SendError(c, OfpError.BadRequest(r == PacketBufferPool.TakeResult.Empty ? OfpBadRequestCode.BufferEmpty : OfpBadRequestCode.BufferUnknown), msg);
        return false;
    }

    private void HandleFlowMod(OfConnection c, OfpFlowMod fm, byte[] msg)
    {
        var match = MatchTranslator.ToFlowMatch(fm.Match);
        FlowActions actions = FlowActions.Drop;
        bool addOrModify = fm.Command is OfpFlowModCommand.Add or OfpFlowModCommand.Modify or OfpFlowModCommand.ModifyStrict;
        if (addOrModify && !ActionTranslator.TryTranslate(fm.Actions, _dp.Ports, ActionContext.FlowMod, _dp.Options.QueuesPerPort, out actions, out var err))
        {
            SendError(c, err, msg);
            return;
        }
        if (addOrModify && !OfpStatsReplies.FlowEntryFits(fm.Actions))
        {
            // Its flow-stats entry could not be encoded in any reply: refuse it rather than break every dump-flows.
            SendError(c, OfpError.BadAction(OfpBadActionCode.TooMany), msg);
            return;
        }
        if (!FlowModTranslator.TryCommand(fm.Command, out var command))
        {
            SendError(c, OfpError.FlowModFailed(OfpFlowModFailedCode.BadCommand), msg);
            return;
        }
        var mod = new FlowMod(command, match, fm.Priority, actions, fm.Cookie, fm.IdleTimeout,
                              fm.HardTimeout, FlowModTranslator.ToFlags(fm.Flags), fm.OutPort);
        var removed = new List<FlowRemoved>();
        var st = Flows.Apply(mod, removed, out var flow);
        Interlocked.Increment(ref FlowModsApplied);
        foreach (var r in removed) SendFlowRemoved(r);
        if (st != FlowModStatus.Ok)
        {
            SendError(c, OfpError.FlowModFailed(st switch
            {
                FlowModStatus.TableFull => OfpFlowModFailedCode.AllTablesFull,
                FlowModStatus.Overlap => OfpFlowModFailedCode.Overlap,
                FlowModStatus.BadEmergencyTimeout => OfpFlowModFailedCode.BadEmergTimeout,
                FlowModStatus.BadCommand => OfpFlowModFailedCode.BadCommand,
                _ => OfpFlowModFailedCode.Unsupported,
            }), msg);
            return;
        }
        if ((mod.Flags & FlowModFlags.Emergency) != 0 && !ControllerConnected) ApplyFailMode();
        if (addOrModify && fm.BufferId != PacketBufferPool.NoBuffer)
        {
            // The buffered packet is processed by this flow's actions (as the reference switch and Open vSwitch do),
            // not resubmitted to the table: a packet the new flow does not match must not come back as a new
            // PACKET_IN (with a mis-built match that loops thousands of times a second).
            if (!TryTakeBuffer(c, fm.BufferId, msg, out var frame, out var inPort)) return;
            _dp.PacketOut(frame, inPort, actions);
            // The packet was processed by the flow's actions, so it counts in that flow's statistics (the reference
            // switch's add_flow does the same): the flow with exactly the request's match and priority.
            flow?.Hit(1, frame.Length, _dp.Clock.NowNanos);
        }
    }

    private void HandlePortMod(OfConnection c, OfpPortMod pm, byte[] msg)
    {
        var slot = _dp.Ports.Get(pm.PortNo);
        if (slot is null)
        {
            SendError(c, OfpError.PortModFailed(OfpPortModFailedCode.BadPort), msg);
            return;
        }
        if (pm.HwAddr.Value != slot.Port.Info.HwAddr.Value)
        {
            SendError(c, OfpError.PortModFailed(OfpPortModFailedCode.BadHwAddr), msg);
            return;
        }
        _dp.SetPortConfig(pm.PortNo, WireMap.ToDatapath(pm.Config), WireMap.ToDatapath(pm.Mask));
    }

    private void HandleQueueGetConfig(OfConnection c, OfpQueueGetConfigRequest qc, byte[] msg)
    {
        var slot = _dp.Ports.Get(qc.Port);
        if (slot is null)
        {
            SendError(c, OfpError.QueueOpFailed(OfpQueueOpFailedCode.BadPort), msg);
            return;
        }
        var reply = new OfpQueueGetConfigReply { Xid = qc.Xid, Port = qc.Port };
        for (uint q = 0; q < (uint)slot.Queues.Length; q++) reply.Queues.Add(new OfpPacketQueue { QueueId = q });
        c.Send(reply);
    }

    private void HandleStats(OfConnection c, OfpStatsRequest sr, byte[] msg)
    {
        switch (sr)
        {
            case OfpDescStatsRequest:
                c.Send(new OfpDescStatsReply
                {
                    Xid = sr.Xid,
                    MfrDesc = "Softswitch project",
                    HwDesc = "Softswitch user-space datapath",
                    SwDesc = "Softswitch " + (typeof(OfSwitchAgent).Assembly.GetName().Version?.ToString(3) ?? "1.0.0"),
                    SerialNum = "None",
                    DpDesc = Options.DatapathDescription,
                });
                break;
            case OfpFlowStatsRequest fr:
                SendFlowStats(c, fr);
                break;
            case OfpAggregateStatsRequest ar:
            {
                var flows = CollectFlows(ar);
                ulong packets = 0, bytes = 0;
                foreach (var e in flows)
                {
                    packets += (ulong)e.Packets;
                    bytes += (ulong)e.Bytes;
                }
                c.Send(new OfpAggregateStatsReply { Xid = sr.Xid, PacketCount = packets, ByteCount = bytes, FlowCount = (uint)flows.Count });
                break;
            }
            case OfpTableStatsRequest:
            {
                // One logical OpenFlow table 0: the exact hash table and the wildcard tuple space are how it is
                // stored, not two tables. Every lookup consults the exact part first, so its lookup count is the
                // table's (the wildcard part's lookups are the same packets again); matches are the sum.
                var exact = Flows.GetTableStats(0);
                var wild = Flows.GetTableStats(1);
                var reply = new OfpTableStatsReply { Xid = sr.Xid };
                reply.Tables.Add(new OfpTableStats
                {
                    TableId = 0,
                    Name = "classifier",
                    Wildcards = OfpFlowWildcards.All,
                    MaxEntries = (uint)Math.Min(uint.MaxValue, (long)exact.MaxEntries + wild.MaxEntries),
                    ActiveCount = (uint)(exact.ActiveCount + wild.ActiveCount),
                    LookupCount = (ulong)exact.LookupCount,
                    MatchedCount = (ulong)(exact.MatchedCount + wild.MatchedCount),
                });
                c.Send(reply);
                break;
            }
            case OfpPortStatsRequest pr:
            {
                var all = new List<OfpPortStats>();
                foreach (var p in _dp.Ports.List)
                    if (pr.PortNo == OfPort.None || pr.PortNo == p.No) all.Add(PortStats(p));
                if (_dp.Ports.Local is { } local && (pr.PortNo == OfPort.None || pr.PortNo == OfPort.Local)) all.Add(PortStats(local));
                foreach (var reply in OfpStatsReplies.Ports(sr.Xid, all)) c.Send(reply);
                break;
            }
            case OfpQueueStatsRequest qr:
            {
                var list = new List<OfpQueueStats>();
                bool anyPort = qr.PortNo == OfPort.All;
                if (!anyPort && _dp.Ports.Get(qr.PortNo) is null)
                {
                    SendError(c, OfpError.QueueOpFailed(OfpQueueOpFailedCode.BadPort), msg);
                    return;
                }
                foreach (var p in _dp.Ports.List)
                {
                    if (!anyPort && p.No != qr.PortNo) continue;
                    if (qr.QueueId != OfpConstants.QueueAll && qr.QueueId >= (uint)p.Queues.Length)
                    {
                        SendError(c, OfpError.QueueOpFailed(OfpQueueOpFailedCode.BadQueue), msg);
                        return;
                    }
                    for (uint q = 0; q < (uint)p.Queues.Length; q++)
                    {
                        if (qr.QueueId != OfpConstants.QueueAll && q != qr.QueueId) continue;
                        var qc = p.Queues[q];
                        list.Add(new OfpQueueStats
                        {
                            PortNo = p.No,
                            QueueId = q,
                            TxPackets = (ulong)Interlocked.Read(ref qc.TxPackets),
                            TxBytes = (ulong)Interlocked.Read(ref qc.TxBytes),
                            TxErrors = (ulong)Interlocked.Read(ref qc.TxErrors),
                        });
                    }
                }
                foreach (var reply in OfpStatsReplies.Queues(sr.Xid, list)) c.Send(reply);
                break;
            }
            default:
                // OFPST_VENDOR: no vendor statistics are supported.
                SendError(c, OfpError.BadRequest(OfpBadRequestCode.BadVendor), msg);
                break;
        }
    }

    private List<FlowEntry> CollectFlows(OfpFlowStatsRequestBase req)
    {
        var into = new List<FlowEntry>();
        if (req.TableId != 0xFF && req.TableId != 0) return into; // table 0 is the only table
        Flows.Collect(MatchTranslator.ToFlowMatch(req.Match), req.OutPort, false, into);
        return into;
    }

    /// <summary>
    /// Flow stats as a stream of replies (OFPSF_REPLY_MORE on all but the last), each built only when the previous
    /// ones have drained below the connection's soft limit: a million-flow dump is paced by the reader, never queued
    /// whole (and never a reason to close a connection that is reading).
    /// </summary>
    private void SendFlowStats(OfConnection c, OfpFlowStatsRequest req)
    {
        var flows = CollectFlows(req);
        foreach (var reply in OfpStatsReplies.Flows(req.Xid, flows.Select(FlowStats)))
        {
            if (!c.WaitForRoom()) return;
            c.Send(reply);
        }
    }

    private OfpFlowStats FlowStats(FlowEntry e)
    {
        long dur = Math.Max(0, _dp.Clock.NowNanos - e.CreatedNanos);
        return new OfpFlowStats
        {
            TableId = 0,
            Match = MatchTranslator.ToOfpMatch(e.Match),
            DurationSec = (uint)(dur / 1_000_000_000),
            DurationNsec = (uint)(dur % 1_000_000_000),
            // The controller's priority, also for an exact flow (which still beats every wildcard flow, OF1.0 3.4).
            Priority = e.RequestedPriority,
            IdleTimeout = e.IdleTimeout,
            HardTimeout = e.HardTimeout,
            Cookie = OfFlowRule.CookieOf(e),
            PacketCount = (ulong)e.Packets,
            ByteCount = (ulong)e.Bytes,
            Actions = ActionTranslator.ToOfp(e.Actions),
        };
    }

    private static OfpPortStats PortStats(PortSlot p)
    {
        var s = p.Port.Counters.Snapshot();
        return new OfpPortStats
        {
            PortNo = p.No,
            RxPackets = (ulong)s.RxPackets,
            TxPackets = (ulong)s.TxPackets,
            RxBytes = (ulong)s.RxBytes,
            TxBytes = (ulong)s.TxBytes,
            RxDropped = (ulong)s.RxDropped,
            TxDropped = (ulong)s.TxDropped,
            RxErrors = (ulong)s.RxErrors,
            TxErrors = (ulong)s.TxErrors,
            RxFrameErr = (ulong)s.RxFrameErrors,
            RxOverErr = (ulong)s.RxOverErrors,
            RxCrcErr = (ulong)s.RxCrcErrors,
            Collisions = (ulong)s.Collisions,
        };
    }

    public async ValueTask DisposeAsync()
    {
        _cts.Cancel();
        foreach (var l in _listeners) await l.DisposeAsync().ConfigureAwait(false);
        foreach (var c in Connections) await c.DisposeAsync().ConfigureAwait(false);
        try { await Task.WhenAll(_tasks).ConfigureAwait(false); } catch (OperationCanceledException) { }
        _pump?.Join();
        _dp.Unsubscribe(this);
        _dp.Counters.RemoveSources(this);
    }
}
