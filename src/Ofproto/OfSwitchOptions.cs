namespace Softswitch.Ofproto;

/// <summary>What the switch does when no controller is connected.</summary>
public enum FailMode : byte
{
    /// <summary>Keep flows, drop table misses (and use emergency flows when there are any).</summary>
    Secure,
    /// <summary>Keep flows, and forward misses as an L2 learning switch until a controller returns.</summary>
    Standalone,
}

/// <summary>The settings of an <see cref="OfSwitch"/>: who the switch says it is, its fail mode and its packet buffers.</summary>
public sealed class OfSwitchOptions
{
    public ulong DatapathId { get; set; }
    public FailMode FailMode { get; set; } = FailMode.Secure;
    /// <summary>Packet buffers for packet-in buffer ids (n_buffers), at most <see cref="Ofproto.PacketBuffers.MaxCount"/>.</summary>
    public int PacketBuffers { get; set; } = Ofproto.PacketBuffers.MaxCount;
    public TimeSpan PacketBufferLifetime { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>The datapath's description in description statistics (dp_desc).</summary>
    public string DatapathDescription { get; set; } = "Softswitch datapath";
}

/// <summary>The switch's description statistics (ofp_desc).</summary>
public sealed record OfSwitchDescription(string Manufacturer, string Hardware, string Software, string SerialNumber, string Datapath);
