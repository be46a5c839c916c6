namespace Softswitch.Datapath.Forwarding;

/// <summary>
/// Where a datapath hands the BPDUs its ports receive while a spanning tree runs on it (ports with
/// <see cref="PortConfig.StpBpdu"/>): the protocol's room above the datapath. Called on the forwarding thread that
/// received the frame, for each BPDU: it must copy what it keeps, take no lock a forwarding thread may wait on for
/// long, and not allocate (a bounded queue of buffers made once).
/// </summary>
public interface IBpduSink
{
    void Received(PortSlot port, ReadOnlySpan<byte> frame);
}
