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
    /// <summary>Controllers: <c>tcp:HOST:PORT</c> (we connect) or <c>ptcp:PORT[:IP]</c> (they connect to us).</summary>
    public List<string> Controllers { get; set; } = new();
    /// <summary>Service listeners (<c>ptcp:PORT[:IP]</c>): tools such as ovs-ofctl; never the controller.</summary>
    public List<string> Listeners { get; set; } = new();
    /// <summary>Service listeners on unix sockets (paths), like Open vSwitch's <c>br0.mgmt</c>; the socket file is removed on dispose.</summary>
    public List<string> ServiceSockets { get; set; } = new();
    /// <summary>Send ECHO_REQUEST after this long without traffic; close after twice as long.</summary>
    public TimeSpan InactivityProbe { get; set; } = TimeSpan.FromSeconds(5);
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(8);
    public int PacketBuffers { get; set; } = 256;
    public TimeSpan PacketBufferLifetime { get; set; } = TimeSpan.FromSeconds(5);
    public int MaxMessageSize { get; set; } = 65535;
    /// <summary>Queued bytes beyond which packet-ins to a connection are dropped (and counted).</summary>
    public long SendQueueSoftLimit { get; set; } = 1 << 20;
    /// <summary>Queued bytes beyond which the peer is considered stuck and the connection is closed.</summary>
    public long SendQueueHardLimit { get; set; } = 64 << 20;
    public string DatapathDescription { get; set; } = "Softswitch datapath";
}
