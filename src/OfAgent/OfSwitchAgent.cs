using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Softswitch.OfAgent.Common;
using Softswitch.OfAgent.Of10;
using Softswitch.OfAgent.Session;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent;

/// <summary>
/// The OpenFlow 1.0 agent as the host sees it: one object that connects the switch (<see cref="OfSwitch"/>) to
/// controllers and tools. It composes the parts and owns their lifetime; it does no work of its own.
/// </summary>
/// <remarks>
/// <para><b>Layer</b>: the agent owns the controller side of one protocol version: channels and connections (with Open
/// vSwitch's connection semantics and TLS), the relay of the switch's reports to them, and the translation between
/// wire structs and the OpenFlow layer's version-independent model (Translate, with WireMap the one map of wire
/// values). It uses the codec (Softswitch.OfWire) for bytes and the switch (Softswitch.Ofproto's
/// <see cref="OfSwitch"/>) for everything a request means: its handlers decode, make one call, encode. It cannot see
/// the datapath (the project does not reference it: the compiler keeps the direction), must not encode or parse bytes
/// itself, and decides nothing a controller observes (buffers, validation, fail mode, roles, what is reported: the
/// switch's).</para>
/// <para>Design: the composition root of the agent (ovs ofproto's split): the connection manager
/// (<see cref="OfConnectionManager"/>: listeners, connect loops, primaries and services, asynchronous fan-out; ovs
/// connmgr.c), the request handlers (<see cref="Common.OfRequestDispatcher"/> and its areas; ovs ofproto.c handle_*), and the
/// relay of the switch's reports (<see cref="OfEventRelay"/>: packet-ins, flow removals, port status). Each part's
/// design note says what it owns and its thread safety; the lock order of the agent is the manager's
/// (<c>_failModeLock</c> → <c>_connLock</c>), then the switch's.</para>
/// <para>Life: <see cref="Start"/> opens the channels and starts the switch's reports; <see cref="DisposeAsync"/>
/// closes every channel and stops the switch's reports (the switch is disposed with the agent). The counters are read
/// from the parts (atomic reads); the host registers them.</para>
/// </remarks>
public sealed class OfSwitchAgent : IAsyncDisposable
{
    private readonly OfConnectionManager _connections;
    private readonly OfRequestContext _requests;
    private readonly OfEventRelay _events;

    /// <param name="ofproto">The switch the agent speaks for (it owns everything a controller observes).</param>
    public OfSwitchAgent(OfSwitch ofproto, AgentOptions options, ILoggerFactory? loggers = null)
    {
        Switch = ofproto;
        Options = options;
        loggers ??= NullLoggerFactory.Instance;
        var log = loggers.CreateLogger("ofagent");
        _connections = new OfConnectionManager(ofproto, options, loggers);
        _requests = new OfRequestContext(ofproto, options, log);
        _events = new OfEventRelay(_connections);
    }

    public AgentOptions Options { get; }
    /// <summary>The switch this agent speaks for.</summary>
    public OfSwitch Switch { get; }

    /// <summary>PACKET_IN messages queued to connections.</summary>
    public long PacketInsSent => Interlocked.Read(ref _connections.PacketInsSent);
    /// <summary>PACKET_IN messages dropped (no connection took them, or one's packet-in backlog was full).</summary>
    public long PacketInsDropped => Interlocked.Read(ref _connections.PacketInsDropped);
    /// <summary>FLOW_REMOVED and PORT_STATUS messages lost to a connection that closed, refused or still queued (never dropped for one that is behind).</summary>
    public long AsyncMessagesDropped => Interlocked.Read(ref _connections.AsyncMessagesDropped);
    /// <summary>OFPT_ERROR messages sent in answer to requests.</summary>
    public long ErrorsSent => Interlocked.Read(ref _requests.ErrorsSent);
    /// <summary>Flow-mods applied (whatever their outcome).</summary>
    public long FlowModsApplied => Switch.FlowModsApplied;

    /// <summary>
    /// The local endpoints of the passive TCP listeners (after <see cref="Start"/>; port 0 gets a free port): the passive
    /// controller ones (<c>ptcp:</c> in <see cref="AgentOptions.Controllers"/>) first, then the service ones.
    /// </summary>
    public IReadOnlyList<IPEndPoint> ListenEndpoints => _connections.ListenEndpoints;

    /// <summary>The passive listeners, with their counters (after <see cref="Start"/>).</summary>
    public IReadOnlyList<OfListener> Listeners => _connections.Listeners;

    public IReadOnlyList<OfConnection> Connections => _connections.Connections;

    public bool ControllerConnected => _connections.ControllerConnected;

    /// <summary>The active controllers (<c>tcp:</c>, <c>ssl:</c>, <c>unix:</c>), each connected or with why its last attempt failed (after <see cref="Start"/>).</summary>
    public IReadOnlyList<OfControllerStatus> ActiveControllers => _connections.ActiveControllers;

    /// <summary>
    /// Opens the listeners and starts connecting to the controllers, then starts relaying the switch's reports. Throws
    /// <see cref="IOException"/> naming the endpoint when a listener cannot be opened (the address is in use, ...), and
    /// <see cref="OfTlsException"/> when an ssl:/pssl: endpoint is configured without usable TLS files.
    /// </summary>
    public void Start()
    {
        _connections.Start([new OfProtocol10(_requests), new Of13.OfProtocol13(_requests, Softswitch.OfWire.Of13.Ofp13.Version),
                            new Of13.OfProtocol13(_requests, Softswitch.OfWire.Of13.Ofp13.Version14),
                            new Of13.OfProtocol13(_requests, Softswitch.OfWire.Of15.Ofp15.Version)]);
        Switch.Start(_events);
        Switch.FlowMonitors.Start(_connections);
    }

    /// <inheritdoc cref="OfConnectionManager.ReloadTls"/>
    public void ReloadTls(OfTlsOptions tls) => _connections.ReloadTls(tls);

    public async ValueTask DisposeAsync()
    {
        await _connections.DisposeAsync().ConfigureAwait(false);
        Switch.Dispose();
    }
}
