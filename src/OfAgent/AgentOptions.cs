using Softswitch.OfAgent.Session;
using Softswitch.OfWire;
using Softswitch.OfWire.Of10;

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
    /// The OpenFlow versions the switch speaks, a bitmap of ofp_header versions (bit 1: OpenFlow 1.0, bit 4: OpenFlow
    /// 1.3, bit 5: OpenFlow 1.4, bit 6: OpenFlow 1.5; <see cref="OfpHelloVersions"/>): what our HELLO offers and what negotiation may agree
    /// on, per connection.
    /// </summary>
    public uint Versions { get; set; } = DefaultVersions;

    /// <summary>Every version this switch speaks: OpenFlow 1.0, 1.3, 1.4 and 1.5.</summary>
    public const uint AllVersions = (1u << 0x01) | (1u << 0x04) | (1u << 0x05) | (1u << 0x06);

    /// <summary>
    /// The versions offered when none is asked for (no <c>--protocols</c>, an empty <c>protocols</c> column): OpenFlow
    /// 1.0 and 1.3. Open vSwitch offers 1.0 to 1.5 by default; 1.4 and 1.5 are offered here only when asked for, because
    /// a controller that offers every version would leave 1.3 for them, and they still lack flow monitors, table status
    /// and request forwarding (their bundles are served, as under 1.3).
    /// </summary>
    public const uint DefaultVersions = (1u << 0x01) | (1u << 0x04);

    /// <summary>
    /// The versions a bridge of <c>softswitch vswitchd</c> offers when its <c>protocols</c> column is empty: OpenFlow 1.0,
    /// 1.3 and 1.4, Open vSwitch's default there (its <c>OFPUTIL_DEFAULT_VERSIONS</c>, 1.0 to 1.4, less 1.1 and 1.2,
    /// which this switch does not speak). <c>ovs-save</c> saves and restores a bridge of an empty column under 1.4 with
    /// <c>--bundle</c>, so a bridge that did not offer 1.4 would lose its flows across <c>ovs-ctl restart</c>.
    /// </summary>
    public const uint OvsBridgeDefaultVersions = DefaultVersions | (1u << 0x05);

    /// <summary>
    /// Reads a version list as Open vSwitch spells it (<c>OpenFlow10,OpenFlow13</c>, the bridge's <c>protocols</c>
    /// column and ovs-ofctl's <c>-O</c>; case does not matter) into a bitmap for <see cref="Versions"/>; false with
    /// the reason for an unknown name, a version this switch does not speak, or an empty list.
    /// </summary>
    public static bool TryParseVersions(string text, out uint versions, out string error)
    {
        versions = 0;
        error = "";
        foreach (var word in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            byte v = word.ToLowerInvariant() switch
            {
                "openflow10" => 1, "openflow11" => 2, "openflow12" => 3, "openflow13" => 4, "openflow14" => 5, "openflow15" => 6,
                _ => 0,
            };
            if (v == 0)
            {
                error = $"unknown protocol '{word}' (this switch speaks {Spell(AllVersions)})";
                return false;
            }
            if ((AllVersions & OfpHelloVersions.Bit(v)) == 0)
            {
                error = $"{word} is not spoken by this switch (it speaks {Spell(AllVersions)})";
                return false;
            }
            versions |= OfpHelloVersions.Bit(v);
        }
        if (versions == 0)
        {
            error = $"no protocol given (this switch speaks {Spell(AllVersions)})";
            return false;
        }
        return true;
    }

    /// <summary>"OpenFlow10,OpenFlow13": a version bitmap as <see cref="TryParseVersions"/> reads it.</summary>
    public static string Spell(uint versions)
        => string.Join(",", Enumerable.Range(1, 6).Where(v => (versions & OfpHelloVersions.Bit((byte)v)) != 0).Select(v => $"OpenFlow1{v - 1}"));

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
    /// <summary>
    /// The connections' clock: the keepalive's ticks and the silences they measure, a listener's idle times, and the
    /// moment a closing connection gives its last bytes. The system's; tests substitute one they move.
    /// </summary>
    public TimeProvider Time { get; set; } = TimeProvider.System;
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
