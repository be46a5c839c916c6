using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath;

/// <summary>How a <see cref="SwitchDatapath"/> is built: its threads, buffers, caches, rates and timers.</summary>
public sealed class DatapathOptions
{
    /// <summary>Forwarding threads; ports' receive queues are dealt round-robin to them at first, then placed by measured
    /// load (<see cref="SwitchDatapath.Balancer"/>). A datapath given shared threads
    /// (<see cref="SwitchDatapath.SharedThreads"/>) has theirs: this, <see cref="ForwardingCpus"/>, <see cref="BusyPollMicros"/>,
    /// <see cref="LingerMicros"/> and <see cref="IdleWakeMs"/> are then the shared threads'.</summary>
    public int Threads { get; set; } = 1;
    /// <summary>
    /// CPUs for the forwarding threads (thread i on the (i mod n)-th), or null to leave them to the scheduler. Keeping
    /// the other threads off these CPUs is the host's part (<see cref="CpuPlacement.KeepEveryThreadOff"/>).
    /// </summary>
    public int[]? ForwardingCpus { get; set; }
    /// <summary>Packet buffers per forwarding thread (over <see cref="Arena"/>: the most free buffers its cache keeps).</summary>
    public int PoolSize { get; set; } = 4096;
    /// <summary>
    /// Memory to carve the forwarding threads' pools from (null: a slab per thread), the UMEM of the AF_XDP ports that
    /// registered it: their frames are then received in place, the buffer the kernel wrote them into
    /// (docs/ports.md, "The packet pool as the UMEM"). Its slots hold frames of 1,920 bytes (2,048 less the pool's
    /// headroom), so the host sets it only when every port's MTU fits; its large buffers should cover
    /// <see cref="LargeBuffers"/> per forwarding thread (a pool short of them has fewer).
    /// </summary>
    public PacketArena? Arena { get; set; }
    /// <summary>Bytes of frame a packet buffer holds (besides its headroom): at least the largest port MTU plus the
    /// Ethernet header and two VLAN tags, so jumbo frames fit.</summary>
    public int FrameSize { get; set; } = PacketPool.DefaultDataSize;
    /// <summary>Large (64 KiB) packet buffers per forwarding thread, for GSO super-frames received whole from ports that
    /// speak the kernel's offloads and handed on whole to ports that take them (0: super-frames are always segmented
    /// on receive). When they run out, a port segments on receive.</summary>
    public int LargeBuffers { get; set; } = 32;
    /// <summary>EMC entries per forwarding thread (0 = no EMC). With <see cref="SwitchDatapath.SharedThreads"/> the datapath takes a view of
    /// each shared thread's one cache, sized by them: non-zero here only says it uses it.</summary>
    public int EmcEntries { get; set; } = 8192;
    public int UpcallSlots { get; set; } = 1024;
    /// <summary>Packet-ins per second across the datapath (0 = unlimited), and the burst allowance.</summary>
    public double PacketInRate { get; set; } = 20_000;
    public double PacketInBurst { get; set; } = 2_000;
    /// <summary>
    /// Learn requests per second across the datapath (0 = unlimited; Open vSwitch's learn action): requests beyond it
    /// are dropped and counted (<c>learn-rate-limited</c>), the next packet of the flow asks again. Each forwarder may
    /// burst a tenth of its share.
    /// </summary>
    public double LearnRate { get; set; } = 10_000;
    /// <summary>ENQUEUE queues per port (queue ids 0..N-1).</summary>
    public int QueuesPerPort { get; set; } = 8;
    /// <summary>How often maintenance runs while some flow has a timeout (expiry is at most this late).</summary>
    public TimeSpan MaintenanceInterval { get; set; } = TimeSpan.FromMilliseconds(100);
    /// <summary>How often maintenance runs while no flow has a timeout (links, MAC aging, offload counters): an idle
    /// switch wakes seldom. A flow added with a timeout is first seen at most this late, well within its first second.</summary>
    public TimeSpan IdleMaintenanceInterval { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>
    /// How long a forwarding thread keeps polling after its last packet before it blocks in the kernel on its
    /// ports (microseconds; 0 blocks as soon as a poll round finds nothing).
    /// </summary>
    public int BusyPollMicros { get; set; } = DefaultBusyPollMicros;
    /// <summary>
    /// How long a forwarding thread keeps polling after its last packet when an earlier spell of traffic came less
    /// than a second before (microseconds; at most <see cref="BusyPollMicros"/>, or that 0: no linger, the thread polls
    /// for the busy-poll window only): the reply to a ping then finds the thread awake (<see cref="Forwarding.PollWindow"/>).
    /// </summary>
    public int LingerMicros { get; set; } = DefaultLingerMicros;
    /// <summary>Longest time a blocked forwarding thread sleeps without a signal (ports refresh kernel counters then).</summary>
    public int IdleWakeMs { get; set; } = 1000;
    /// <summary>The length of an interval of measured receive-queue load (<see cref="ThreadLoad.IntervalMs"/>, Open vSwitch's
    /// 10 s, by default; shorter in tests) of this datapath's own threads (shared threads keep 10 s). Six are kept
    /// (<see cref="Ports.RxQueue.Intervals"/>).</summary>
    public int RxqIntervalMs { get; set; } = ThreadLoad.IntervalMs;
    /// <summary>sFlow: sample 1 in N received packets on each forwarding thread (<see cref="Forwarder.Sampler"/>); 0: off. The
    /// rate the datapath starts with (<see cref="SwitchDatapath.SetSamplingRate(int)"/> changes it).</summary>
    public int SamplingRate { get; set; }
    /// <summary>Samples each forwarding thread's ring (one per sampling channel on) holds until an exporter reads them (more are counted as drops): 4096 hold 100 ms of 1-in-400 sampling at 16 Mpps.</summary>
    public int SampleRingSlots { get; set; } = 4096;
    /// <summary>The sample action's generators' seed (each forwarding thread's derived from it); 0: random. Tests fix it.</summary>
    public ulong FlowSampleSeed { get; set; }
    /// <summary>The default busy-poll window (see bench/netns/compare.sh for the measurement behind it).</summary>
    public const int DefaultBusyPollMicros = 50;
    /// <summary>The default linger (see docs/datapath.md, "Idle threads", for the measurement behind it).</summary>
    public const int DefaultLingerMicros = 1000;
}
