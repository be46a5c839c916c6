using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Counters;

/// <summary>
/// Why the datapath dropped a packet (or a copy of one). Each value is a named counter of the registry
/// (<see cref="Counters.DatapathCounters.Drop"/>: <c>drop-no-recv</c>, ...); a new value needs its name there.
/// </summary>
public enum DropReason : byte
{
    /// <summary>Received on a port configured OFPPC_NO_RECV (anything but an 802.1D BPDU).</summary>
    NoRecv,
    /// <summary>Received on, or sent to, a port configured OFPPC_PORT_DOWN.</summary>
    PortDown,
    /// <summary>Sent to a port configured OFPPC_NO_FWD.</summary>
    NoFwd,
    /// <summary>Sent to a port whose link is down.</summary>
    LinkDown,
    /// <summary>An IPv4 fragment while the fragment mode is DROP.</summary>
    Fragment,
    /// <summary>No flow matched, no controller, fail mode secure.</summary>
    MissSecure,
    /// <summary>No flow matched and the receiving port has OFPPC_NO_PACKET_IN.</summary>
    MissNoPacketIn,
    /// <summary>A packet for the controller found its queue full (slow controller).</summary>
    UpcallQueueFull,
    /// <summary>A packet for the controller was over the packet-in rate limit.</summary>
    UpcallRateLimited,
    /// <summary>A copy was needed (output then rewrite) but the packet pool was empty.</summary>
    PoolExhausted,
    /// <summary>Output to a port number that does not exist.</summary>
    NoSuchPort,
    /// <summary>Output to the packet's own ingress port by number (OF1.0 requires OFPP_IN_PORT for that).</summary>
    OutputToInPort,
    /// <summary>OFPP_TABLE used in a flow's actions (only packet-out may use it).</summary>
    TableInFlow,
    /// <summary>A flow's action list had no output: the OF1.0 drop.</summary>
    FlowDrop,
    /// <summary>A frame larger than the egress port's MTU allows.</summary>
    TooBig,
    /// <summary>An output that needs a tunnel or feature the egress port lacks.</summary>
    Unsupported,
    /// <summary>NORMAL (or fail-standalone) got a frame shorter than an Ethernet header.</summary>
    NormalRunt,
    /// <summary>An 802.1D BPDU (to 01:80:c2:00:00:00) received on a port configured OFPPC_NO_RECV_STP.</summary>
    NoRecvStp,
    /// <summary>A GSO super-frame its output needed segmented in software, whose headers the GSO type does not allow.</summary>
    GsoRefused,
    /// <summary>A packet for the controller that the controller meter (OFPM_CONTROLLER) dropped: past its rate.</summary>
    ControllerMeter,
    /// <summary>Output through an egress queue of a shaped port that was full (or a frame longer than a queue holds).</summary>
    QueueFull,
    /// <summary>NORMAL (or fail-standalone) learned the destination behind the packet's own input port.</summary>
    NormalToInPort,
    /// <summary>NORMAL got a frame of a VLAN its input port does not carry (tagged on an access port, a VLAN a trunk does not list).</summary>
    NormalVlan,
    /// <summary>Received beyond the port's ingress policing rate and burst.</summary>
    IngressPolicing,
    /// <summary>NORMAL got a frame on, or for, a port a mirror outputs to (reserved for the mirror).</summary>
    MirrorPort,
    /// <summary>Received on, or sent to, a port the spanning tree keeps from forwarding (listening, learning, blocking, down).</summary>
    StpNotForwarding,
    /// <summary>
    /// A pipeline run past the resubmit limits (64 levels of nested resubmits, 4,096 resubmits a packet: a resubmit loop),
    /// as Open vSwitch drops it, or a resubmit after an action that changed which headers the packet has (the switch
    /// cannot look that packet up in the middle of a list).
    /// </summary>
    Resubmit,
    /// <summary>NORMAL got a frame on a bond member that the bond does not admit there (<see cref="Bond.Admit"/>).</summary>
    BondInadmissible,
    /// <summary>NORMAL had a frame for a bond with no member to send it by (<see cref="Bond.Choose"/>).</summary>
    BondNoMember,
    Count,
}

/// <summary>Per-thread drop counters: a view of the thread's <see cref="CounterSet"/> by <see cref="DropReason"/>; a reader sums the threads.</summary>
public sealed class DropCounters
{
    private readonly CounterSet _set;

    public DropCounters(CounterSet? set = null) => _set = set ?? new CounterSet();

    public void Add(DropReason r, long n = 1) => _set.Add(DatapathCounters.Drop(r), n);
    public void AddAtomic(DropReason r, long n = 1) => _set.AddAtomic(DatapathCounters.Drop(r), n);
    public long this[DropReason r] => _set[DatapathCounters.Drop(r)];

    public void AddTo(Span<long> totals)
    {
        for (int i = 0; i < (int)DropReason.Count && i < totals.Length; i++) totals[i] += this[(DropReason)i];
    }
}
