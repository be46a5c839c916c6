using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Forwarding;

/// <summary>
/// Where NORMAL hands the IGMP and MLD membership reports and queries it receives on a bridge with multicast snooping
/// (<see cref="SwitchDatapath.McastSnooping"/>, <see cref="SwitchDatapath.McastSink"/>): snooping's room above the
/// datapath, which parses them and publishes the groups NORMAL reads. NORMAL forwards the frame itself as well (reports
/// to the router and flood-reports ports, queries flooded). Called on the forwarding thread that received the frame, for
/// each one: it must copy what it keeps, take no lock a forwarding thread may wait on for long, and not allocate.
/// </summary>
public interface IMcastSnoopingSink
{
    /// <param name="port">NORMAL's input port: the port's number, or its bond's <see cref="Bond.Key"/>.</param>
    /// <param name="vlan">The frame's VLAN as NORMAL gave it (an access port's, else its tag's; 0 untagged).</param>
    /// <param name="frame">The frame as received (with its 802.1Q tag, if it had one).</param>
    void Received(ushort port, ushort vlan, ReadOnlySpan<byte> frame);
}
