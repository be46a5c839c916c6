using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Softswitch.Datapath;
using Softswitch.OfAgent.Handlers;
using Softswitch.OfAgent.Session;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent;

/// <summary>
/// The OpenFlow 1.0 agent as the host sees it: one object that connects a datapath and its OpenFlow table set to
/// controllers and tools. It composes the parts and owns their lifetime; it does no work of its own.
/// </summary>
/// <remarks>
/// <para><b>Layer</b>: the agent owns the controller side: channels and connections, roles, fail mode, packet buffers,
/// the relay of datapath events, and the translation between wire structs and the switch's models (Translate, with
/// WireMap the one map of wire values). It uses the codec (Softswitch.OfWire) for bytes, the table set
/// (Softswitch.Ofproto) for everything a flow-mod or a flow or table statistics request means, and the datapath's
/// control surface (ports, packet-out, miss behaviour, event subscription). It must not encode or parse bytes itself,
/// decide flow-table semantics (flow-mods go through <see cref="OfFlowTables"/>, never straight to a datapath table),
/// or touch forwarding threads' state.</para>
/// <para>Design: the composition root of the agent (ovs ofproto's split): the connection manager
/// (<see cref="OfConnectionManager"/>: listeners, connect loops, primaries and services, fail mode, asynchronous
/// fan-out; ovs connmgr.c), the request handlers (<see cref="OfRequestDispatcher"/> and its areas; ovs ofproto.c
/// handle_*), the relay of the datapath's events (<see cref="OfEventRelay"/>: packet-ins, expiry, port status), and
/// the packet buffers that packet-ins fill and packet-outs and flow-mods take (<see cref="PacketBufferPool"/>).
/// Each part's design note says what it owns and its thread safety; the lock order of the agent is the manager's
/// (<c>_failModeLock</c> → <c>_connLock</c>), then the table set's and the datapath's, then the buffer pool's.</para>
/// <para>Life: the constructor subscribes to the datapath and sets the fail mode (no controller yet);
/// <see cref="Start"/> opens the channels and the upcall pump; <see cref="DisposeAsync"/> closes every channel, stops
/// the pump and unsubscribes. The counters are read from the parts (atomic reads) and registered in the datapath's
/// counter registry.</para>
/// </remarks>
public sealed class OfSwitchAgent : IAsyncDisposable
{
    private readonly SwitchDatapath _dp;
    private readonly OfConnectionManager _connections;
    private readonly OfRequestContext _requests;
    private readonly OfEventRelay _events;

    /// <param name="flows">The OpenFlow table set over <paramref name="dp"/>; null creates it.</param>
    public OfSwitchAgent(SwitchDatapath dp, AgentOptions options, ILoggerFactory? loggers = null, OfFlowTables? flows = null)
    {
        _dp = dp;
        Flows = flows ?? new OfFlowTables(dp);
        Options = options;
        loggers ??= NullLoggerFactory.Instance;
        var log = loggers.CreateLogger("ofagent");
        var buffers = new PacketBufferPool(options.PacketBuffers, options.PacketBufferLifetime);
        _connections = new OfConnectionManager(dp, Flows, options, buffers, loggers);
        _requests = new OfRequestContext(dp, Flows, options, buffers, log);
        _events = new OfEventRelay(dp, _connections, log);
        AgentCounters.Register(dp.Counters, this);
    }

    public AgentOptions Options { get; }
    public SwitchDatapath SwitchDatapath => _dp;
    /// <summary>The OpenFlow table set this agent applies flow-mods to.</summary>
    public OfFlowTables Flows { get; }

    /// <summary>PACKET_IN messages queued to connections.</summary>
    public long PacketInsSent => Interlocked.Read(ref _connections.PacketInsSent);
    /// <summary>PACKET_IN messages dropped (no connection took them, or one's packet-in backlog was full).</summary>
    public long PacketInsDropped => Interlocked.Read(ref _connections.PacketInsDropped);
    /// <summary>FLOW_REMOVED and PORT_STATUS messages lost because their connection was closed or closing (never for one that is behind).</summary>
    public long AsyncMessagesDropped => Interlocked.Read(ref _connections.AsyncMessagesDropped);
    /// <summary>OFPT_ERROR messages sent in answer to requests.</summary>
    public long ErrorsSent => Interlocked.Read(ref _requests.ErrorsSent);
    /// <summary>Flow-mods applied (whatever their outcome).</summary>
    public long FlowModsApplied => Interlocked.Read(ref _requests.FlowModsApplied);

    /// <summary>
    /// The local endpoints of the passive TCP listeners (after <see cref="Start"/>; port 0 gets a free port): the passive
    /// controller ones (<c>ptcp:</c> in <see cref="AgentOptions.Controllers"/>) first, then the service ones.
    /// </summary>
    public IReadOnlyList<IPEndPoint> ListenEndpoints => _connections.ListenEndpoints;

    /// <summary>The passive listeners, with their counters (after <see cref="Start"/>).</summary>
    public IReadOnlyList<OfListener> Listeners => _connections.Listeners;

    public IReadOnlyList<OfConnection> Connections => _connections.Connections;

    public bool ControllerConnected => _connections.ControllerConnected;

    /// <summary>
    /// Opens the listeners and starts connecting to the controllers, then starts relaying packet-ins. Throws
    /// <see cref="IOException"/> naming the endpoint when a listener cannot be opened (the address is in use, ...), and
    /// <see cref="OfTlsException"/> when an ssl:/pssl: endpoint is configured without usable TLS files.
    /// </summary>
    public void Start()
    {
        _connections.Start(new OfRequestDispatcher(_requests, _connections));
        _events.Start();
    }

    public async ValueTask DisposeAsync()
    {
        await _connections.DisposeAsync().ConfigureAwait(false);
        _events.Dispose();
        _dp.Counters.RemoveSources(this);
    }
}
