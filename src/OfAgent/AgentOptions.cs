using Softswitch.OfAgent.Session;
using Softswitch.OfWire;

namespace Softswitch.OfAgent;

/// <summary>
/// The agent's settings: its channels (controllers and service listeners), TLS, and connection limits. Who the switch is
/// (datapath id, description), its fail mode and its packet buffers are the switch's (<see cref="Ofproto.OfSwitchOptions"/>).
/// </summary>
public sealed class AgentOptions
{
    /// <summary>
    /// The controllers (primary connections: they alone decide the fail mode): active (<c>tcp:HOST[:PORT]</c>,
    /// <c>ssl:HOST[:PORT]</c>, <c>unix:FILE</c>) or passive (<c>ptcp:</c>, <c>pssl:</c>, <c>punix:</c>: they connect to us).
    /// </summary>
    public List<string> Controllers { get; set; } = new();
    /// <summary>
    /// Service listeners (<c>ptcp:[PORT][:IP]</c>, <c>pssl:[PORT][:IP]</c>, <c>punix:FILE</c>): tools such as ovs-ofctl,
    /// never the controller (miss_send_len 0 until they SET_CONFIG, as Open vSwitch's service connections).
    /// </summary>
    public List<string> Listeners { get; set; } = new();
    /// <summary>Key, certificate and CA for <c>ssl:</c> and <c>pssl:</c> endpoints.</summary>
    public OfTlsOptions Tls { get; set; } = new();
    /// <summary>
    /// Connections one listener keeps at once, in their opening phase or established (default 100: a controller or
    /// two and a burst of ovs-ofctl commands, with room to spare; each established connection owns two threads).
    /// </summary>
    public int MaxConnectionsPerListener { get; set; } = 100;
    /// <summary>
    /// How long a new channel has to complete its opening (TLS handshake and the peer's first message, normally
    /// HELLO) before it is closed; bytes received meanwhile do not extend it.
    /// </summary>
    public TimeSpan HelloTimeout { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>Send ECHO_REQUEST after this long without traffic; close after twice as long.</summary>
    public TimeSpan InactivityProbe { get; set; } = TimeSpan.FromSeconds(5);
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(8);
    /// <summary>Largest message accepted from a peer (bytes); a longer one is a framing error that closes the connection.</summary>
    public int MaxMessageSize { get; set; } = OfpConstants.MaxMessageSize;
    /// <summary>
    /// Queued bytes of replies, FLOW_REMOVED and PORT_STATUS to one connection beyond which it reads no further request
    /// until they drain, and a long reply (a flow-stats dump) waits before its next part. These are never dropped.
    /// </summary>
    public long ReplyQueueLimit { get; set; } = 1 << 20;
    /// <summary>Queued PACKET_IN bytes to one connection beyond which further packet-ins to it are dropped (and counted).</summary>
    public long PacketInQueueLimit { get; set; } = 1 << 20;
    /// <summary>
    /// Queued bytes of all kinds beyond which the connection is closed: a safety bound on memory, reached only by an
    /// asynchronous burst this large (about three million FLOW_REMOVED) that the peer has not taken yet. A peer that
    /// takes none of our writes is closed after twice the inactivity probe.
    /// </summary>
    public long SendQueueHardLimit { get; set; } = 256 << 20;
}
