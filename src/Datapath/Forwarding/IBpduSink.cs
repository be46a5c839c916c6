using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Forwarding;

/// <summary>
/// Where a datapath hands the protocol frames its ports receive for a protocol running above it: BPDUs while a spanning
/// tree runs (ports with <see cref="PortConfig.StpBpdu"/>, <see cref="SwitchDatapath.BpduSink"/>), slow-protocol frames
/// while LACP runs (ports with <see cref="PortConfig.Lacp"/>, <see cref="SwitchDatapath.LacpSink"/>): the protocol's
/// room above the datapath. Called on the forwarding thread that received the frame, for each one: it must copy what it keeps, take no lock a forwarding thread may wait on for
/// long, and not allocate (a bounded queue of buffers made once).
/// </summary>
public interface IBpduSink
{
    void Received(PortSlot port, ReadOnlySpan<byte> frame);
}
