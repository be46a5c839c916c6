using System.Globalization;
using Microsoft.Extensions.Logging;
using Softswitch.Datapath;
using Softswitch.Datapath.Packets;
using Softswitch.Ports.AfXdp;

namespace Softswitch.Vswitchd;

/// <summary>
/// The daemon's one packet arena (docs/ports.md, "The packet pool as the UMEM"): registered whole as the UMEM of every
/// AF_XDP socket of every bridge, and the memory every bridge's forwarding threads' pools are carved from, so a frame an
/// AF_XDP port receives is a pool buffer (no copy).
/// </summary>
/// <remarks>
/// Ports arrive at run time, so the arena is sized by a setting, as Open vSwitch sizes its buffers: Open_vSwitch
/// other_config:afxdp-arena-queues (<see cref="QueuesKey"/>) AF_XDP receive queues of the default depth (each takes
/// <see cref="SlotsPerQueue"/> slots: its fill and TX frames in whole batches), and room for the caches of the forwarding
/// threads' pools of <see cref="BridgePools"/> bridges. It is made when the first AF_XDP interface is opened (a daemon
/// without one spends nothing on it), read from the setting as it is then; a later change takes effect at the next
/// restart. Once made, every bridge's datapath carves its forwarding threads' pools from it: one made later at once
/// (<see cref="Join"/> before it starts), one already running from each thread's next poll
/// (<see cref="SwitchDatapath.UseArena"/>). A port whose queues no longer fit in the arena's free slots, or whose MTU
/// leaves no room in a slot, opens with UMEMs of its own and says why (<see cref="AfXdpPort.ArenaRefusal"/>); a port
/// removed gives its slots back as its sockets close, and a bridge deleted its pools' cached slots.
/// Thread safety: every member is safe from any thread (bridges are made by several threads at once).
/// </remarks>
internal sealed class AfXdpArena
{
    /// <summary>The Open_vSwitch other_config key that sizes the arena.</summary>
    public const string QueuesKey = "afxdp-arena-queues";
    /// <summary>AF_XDP queues the arena holds unless other_config says otherwise: 4 (about 84 MiB with one forwarding thread).</summary>
    public const int DefaultQueues = 4;
    /// <summary>The most queues other_config may ask for (the arena stays under 1 GiB of slots at the default depth up to about 50).</summary>
    public const int MaxQueues = 50;
    /// <summary>Bridges whose forwarding threads' pools the arena has room for besides the queues' frames.</summary>
    public const int BridgePools = 4;

    /// <summary>Slots a queue of the default depth takes: its RX and TX frames, in whole batches.</summary>
    public static readonly int SlotsPerQueue = RoundUp(new AfXdpOptions().RxFrames + new AfXdpOptions().TxFrames);

    private readonly Lock _lock = new();
    private readonly List<SwitchDatapath> _datapaths = [];
    private PacketArena? _arena;
    private int _queues = DefaultQueues, _threads = 1;

    /// <summary>The arena, or null until the first AF_XDP interface is opened.</summary>
    public PacketArena? Current
    {
        get { lock (_lock) return _arena; }
    }

    /// <summary>The size asked for from now on (it applies when the arena is made): queues, and the forwarding threads.</summary>
    public void Configure(int queues, int threads)
    {
        lock (_lock)
        {
            _queues = queues;
            _threads = Math.Max(1, threads);
        }
    }

    /// <summary>
    /// The slots of an arena for <paramref name="queues"/> AF_XDP queues and <paramref name="threads"/> forwarding threads:
    /// each queue's frames and, per thread, <see cref="BridgePools"/> pools' caches (each up to <paramref name="poolSize"/>
    /// buffers and two batches).
    /// </summary>
    public static int SlotsFor(int queues, int threads, int poolSize)
        => RoundUp((long)queues * SlotsPerQueue + (long)Math.Max(1, threads) * BridgePools * (poolSize + 2 * PacketArena.Batch));

    private static int RoundUp(long slots) => (int)((slots + PacketArena.Batch - 1) / PacketArena.Batch * PacketArena.Batch);

    /// <summary>Makes <paramref name="dp"/> (not yet started, or running) one of the datapaths carved from the arena
    /// once there is one, at once if there is.</summary>
    public void Join(SwitchDatapath dp)
    {
        lock (_lock)
        {
            _datapaths.Add(dp);
            if (_arena is { } arena && dp.Options.Arena is null) dp.UseArena(arena);
        }
    }

    /// <summary>Forgets <paramref name="dp"/> (its bridge is deleted).</summary>
    public void Leave(SwitchDatapath dp)
    {
        lock (_lock) _datapaths.Remove(dp);
    }

    /// <summary>
    /// The arena, made at the first call (sized by <see cref="Configure"/>, said in <paramref name="log"/> with the memlock
    /// it needs), every joined datapath then carved from it.
    /// </summary>
    public PacketArena Get(ILogger log, int poolSize, int largeBuffers)
    {
        lock (_lock)
        {
            if (_arena is { } made) return made;
            int slots = SlotsFor(_queues, _threads, poolSize);
            var arena = new PacketArena(slots, Math.Min(4096, _threads * BridgePools * largeBuffers));
            long mib = arena.Length >> 20;
            log.LogInformation("packet arena made for the first AF_XDP interface: {Slots} slots of {Size} bytes ({Mib} MiB), room for {Queues} AF_XDP queue(s) of {PerQueue} frames "
                + "(other_config:{Key}) and the pools of {Threads} forwarding thread(s); every bridge's pools are carved from it, and its AF_XDP ports receive in place. "
                + "Each AF_XDP socket registers it whole as its UMEM: without CAP_IPC_LOCK that locks {PerSocket} MiB against RLIMIT_MEMLOCK per socket ({Total} MiB for {Sockets} sockets)",
                arena.SlotCount, PacketArena.SlotSize, mib, _queues, SlotsPerQueue, QueuesKey, _threads, mib, mib * _queues, _queues);
            _arena = arena;
            foreach (var dp in _datapaths) dp.UseArena(arena);
            return arena;
        }
    }

    /// <summary>One line for dp/show: the arena's slots and free ones, or that there is none.</summary>
    public string Describe()
    {
        var a = Current;
        return a is null
            ? "packet arena: none (made at the first AF_XDP interface)\n"
            : string.Create(CultureInfo.InvariantCulture, $"packet arena: {a.SlotCount} slots ({a.Length >> 20} MiB), {a.SharedFreeCount} free (not lent to a socket nor cached by a pool)\n");
    }
}
