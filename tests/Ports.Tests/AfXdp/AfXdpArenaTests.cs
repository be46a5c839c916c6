using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Ports.AfXdp;
using Softswitch.Ports.Linux;
using Softswitch.TestKit;
using Xunit.Abstractions;

namespace Softswitch.Ports.Tests.AfXdp;

/// <summary>
/// AF_XDP sockets whose UMEM is a <see cref="PacketArena"/> (registered whole, each socket on its own slots): the
/// port-backend suite (frames intact and in order, VLAN tags kept, a burst of 32 out, nothing allocated per packet)
/// over arena memory, and where the frames land.
/// </summary>
public sealed class AfXdpArenaTests(ITestOutputHelper output) : PortBackendTests(output)
{
    private const int Rx = 1024, Tx = 256, First = 1000;

    private static AfXdpOptions Options(PacketArena arena, int first = First, int? queueCount = null)
        => new() { Arena = arena, ArenaFirstSlot = first, RxFrames = Rx, TxFrames = Tx, QueueCount = queueCount };

    protected override IPort Open(string ifname) => new AfXdpPort(ifname, Options(new PacketArena(4096)));

    /// <summary>The kernel writes each received frame into one of the socket's arena slots, at its headroom: the
    /// arena is the UMEM, not memory of the socket's own.</summary>
    [NetnsFact]
    public void ReceivedFrames_LandInTheSocketsArenaSlots()
    {
        using var ns = Netns.Create();
        var arena = new PacketArena(4096);
        using var port = new AfXdpPort(ns.HostIf, Options(arena));
        var frames = new List<byte[]>();
        for (int i = 0; i < 20; i++) frames.Add(MakeFrame(RxType, 7000 + i, 64 + i * 70));
        ns.SendFrames(frames, ns.NsIf);
        var got = ReceiveUntil(port, new PacketPool(256), RxType, frames.Count, TimeSpan.FromSeconds(3));
        Assert.Equal(frames.Count, got.Count);
        foreach (var f in frames)
        {
            int found = -1;
            for (int s = First; s < First + Rx && found < 0; s++)
            {
                if (arena.Slab.AsSpan(arena.SlotOffset(s) + PacketArena.KernelHeadroom, f.Length).SequenceEqual(f)) found = s;
            }
            Assert.True(found >= 0, $"frame {f.Length} B is in none of the socket's receive slots");
        }
    }

    /// <summary>Two queues take disjoint slot ranges; an arena too small for them is refused, with the counts.</summary>
    [NetnsFact]
    public void AnArenaTooSmallForTheQueues_IsRefused()
    {
        using var ns = Netns.Create(queues: 2);
        var e = Assert.Throws<PortOpenException>(() => new AfXdpPort(ns.HostIf, Options(new PacketArena(2 * (Rx + Tx) + First - 1))));
        Assert.Equal(PortOpenError.InvalidSpec, e.Error);
        Assert.Contains("the arena has 3559 slots; 2 queue(s) of 1280 frames from slot 1000 need more", e.Message);
        using var port = new AfXdpPort(ns.HostIf, Options(new PacketArena(2 * (Rx + Tx) + First)));
        Assert.Equal([0, 1], port.Queues);
        var bad = Assert.Throws<PortOpenException>(() => new AfXdpPort(ns.HostIf, Options(new PacketArena(64)) with { FrameSize = 4096 }));
        Assert.Equal(PortOpenError.InvalidSpec, bad.Error);
    }
}
