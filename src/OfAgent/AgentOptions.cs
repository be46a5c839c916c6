using Softswitch.OfAgent.Session;
using Softswitch.OfWire;

namespace Softswitch.OfAgent;

/// <summary>What the switch does when no controller is connected.</summary>
public enum FailMode : byte
{
    /// <summary>Keep flows, drop table misses (and use emergency flows when there are any).</summary>
    Secure,
    /// <summary>Keep flows, and forward misses as an L2 learning switch until a controller returns.</summary>
    Standalone,
}

public sealed class AgentOptions
{
    public ulong DatapathId { get; set; }
    public FailMode FailMode { get; set; } = FailMode.Secure;
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
    /// <summary>Packet buffers for PACKET_IN buffer ids (OF1.0 n_buffers), at most <see cref="PacketBufferPool.MaxCount"/>.</summary>
    public int PacketBuffers { get; set; } = PacketBufferPool.MaxCount;
    public TimeSpan PacketBufferLifetime { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>Largest message accepted from a peer (bytes); a longer one is a framing error that closes the connection.</summary>
    public int MaxMessageSize { get; set; } = OfpConstants.MaxMessageSize;
    /// <summary>Queued bytes beyond which packet-ins to a connection are dropped (and counted).</summary>
    public long SendQueueSoftLimit { get; set; } = 1 << 20;
    /// <summary>Queued bytes beyond which the peer is considered stuck and the connection is closed.</summary>
    public long SendQueueHardLimit { get; set; } = 64 << 20;
    public string DatapathDescription { get; set; } = "Softswitch datapath";
}
