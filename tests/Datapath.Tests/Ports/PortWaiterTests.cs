using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Tests.Ports;

/// <summary>
/// The forwarding thread's waiter: the ports' descriptors are in its epoll set only around sleeps, out of it while the
/// thread stays busy (their wake-up callbacks run per transmitted frame otherwise), and a frame that comes while they
/// are out still ends the next wait.
/// </summary>
public sealed class PortWaiterTests
{
    private static RxQueue[] Queues(params IPort[] ports) => [.. ports.Select(p => new RxQueue(null!, p))];

    [Fact]
    public void PortDescriptorsLeaveTheSetAfterBusyRounds_AndReturnBeforeTheNextWait()
    {
        using var a = new MemoryPort("a", new MacAddress(0x020000000001UL));
        using var b = new MemoryPort("b", new MacAddress(0x020000000002UL));
        using var w = new PortWaiter();
        var ports = Queues(a, b);

        w.Watch(ports);
        Assert.True(w.Armed);
        Assert.Subset(w.RegisteredDescriptors().ToHashSet(), new HashSet<int> { a.WaitFd, b.WaitFd });

        for (int i = 0; i < PortWaiter.DisarmAfterBusyRounds - 1; i++) w.NoteWork();
        Assert.True(w.Armed);   // a short spell keeps them: a ping-pong pays no epoll_ctl
        w.NoteWork();
        Assert.False(w.Armed);
        Assert.Equal(1, w.Disarms);
        Assert.DoesNotContain(a.WaitFd, w.RegisteredDescriptors());
        Assert.DoesNotContain(b.WaitFd, w.RegisteredDescriptors());

        w.Watch(ports);
        Assert.True(w.Armed);
        Assert.Contains(a.WaitFd, w.RegisteredDescriptors());
        Assert.Contains(b.WaitFd, w.RegisteredDescriptors());
    }

    [Fact]
    public async Task AFrameThatCameWhileTheDescriptorsWereOut_EndsTheNextWait()
    {
        using var a = new MemoryPort("a", new MacAddress(0x020000000001UL));
        using var w = new PortWaiter();
        var ports = Queues(a);
        w.Watch(ports);
        for (int i = 0; i < PortWaiter.DisarmAfterBusyRounds; i++) w.NoteWork();
        Assert.False(w.Armed);

        // The thread found no work and armed the port, then a frame came before its descriptor was back in the set.
        Assert.True(a.PrepareWait());
        a.Inject(new byte[60]);
        var wait = Task.Run(() => w.Wait(ports, -1));
        bool ended = await Task.WhenAny(wait, Task.Delay(TimeSpan.FromSeconds(30))) == wait;
        if (!ended)
        {
            w.Wake();   // release the thread before failing
            await wait;
        }
        Assert.True(ended, "the wait did not end for a frame that came while the port's descriptor was out of the set");
        Assert.Equal(1, w.Sleeps);
    }

    /// <summary>A receive queue whose descriptor moves (as an AF_PACKET port's does when it grows its ring onto a
    /// second socket).</summary>
    private sealed class MovingQueue(int fd) : IRxQueue
    {
        public int Fd = fd;
        public int Receive(Softswitch.Datapath.Packets.PacketPool pool, Span<int> pkts) => 0;
        public int WaitFd => Fd;
        public void Dispose() { }
    }

    [Fact]
    public void ADescriptorThatChangedWhileArmed_IsInTheSetBeforeTheNextWait_TheOldOneNotKept()
    {
        using var a = new MemoryPort("a", new MacAddress(0x020000000001UL));
        using var b = new MemoryPort("b", new MacAddress(0x020000000002UL));
        using var w = new PortWaiter();
        var q = new MovingQueue(a.WaitFd);
        RxQueue[] ports = [new RxQueue(null!, q)];
        w.Watch(ports);
        Assert.True(w.Armed);
        Assert.Contains(a.WaitFd, w.RegisteredDescriptors());

        // The port moves to another descriptor while the set is armed, and says so.
        q.Fd = b.WaitFd;
        PortWait.NoteWaitFdChanged();
        w.Watch(ports);
        Assert.True(w.Armed);
        Assert.Contains(b.WaitFd, w.RegisteredDescriptors());
        Assert.DoesNotContain(a.WaitFd, w.RegisteredDescriptors());
        Assert.Equal(0, w.Disarms);   // not a busy spell
    }

    [Fact]
    public void TwoPortsSharingADescriptorAreRegisteredOnce_AndTakenOutOnce()
    {
        using var a = new MemoryPort("a", new MacAddress(0x020000000001UL));
        using var w = new PortWaiter();
        var ports = Queues(a, a);
        w.Watch(ports);
        Assert.Single(w.RegisteredDescriptors(), fd => fd == a.WaitFd);
        for (int i = 0; i < PortWaiter.DisarmAfterBusyRounds; i++) w.NoteWork();
        Assert.DoesNotContain(a.WaitFd, w.RegisteredDescriptors());
        w.Watch(ports);
        Assert.Single(w.RegisteredDescriptors(), fd => fd == a.WaitFd);
    }
}
