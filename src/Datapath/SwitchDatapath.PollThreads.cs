using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath;

// The forwarding threads: their creation and CPU placement, the receive queues dealt to them, and the poll loop.
public sealed partial class SwitchDatapath
{
    /// <summary>Starts the forwarding threads and the maintenance timer (with <see cref="SharedThreads"/>: joins theirs).</summary>
    public void Start()
    {
        if (_running) return;
        _running = true;
        if (SharedThreads is { } shared)
        {
            // The shared threads forward and maintain: their one maintenance thread runs this datapath's turns.
            StartMaintenance();
            shared.Attach(this);
            return;
        }
        StartThreads();
        _maintenance = new Thread(MaintenanceLoop) { IsBackground = true, Name = "dp-maint" };
        _maintenance.Start();
    }

    private void StartThreads()
    {
        // Not disposed: a thread that starts after the wait below gave up still signals it (it holds no kernel handle).
        var placed = new CountdownEvent(_forwarders.Length);
        for (int i = 0; i < _forwarders.Length; i++)
        {
            int idx = i;
            var t = new Thread(() => PollLoop(idx, placed)) { IsBackground = true, Name = $"fwd-{idx}" };
            _threads.Add(t);
            t.Start();
        }
        // Returns with every forwarding thread on its CPU (or its reason in PlacementErrors), so the host reports placement as it is.
        placed.Wait(TimeSpan.FromSeconds(5));
    }

    /// <summary>Per forwarding thread, why it is not on its CPU of <see cref="DatapathOptions.ForwardingCpus"/> (null: it is, or none was asked).</summary>
    public IReadOnlyList<string?> PlacementErrors => SharedThreads?.PlacementErrors ?? _placementErrors;

    /// <summary>The receive queues dealt to forwarder <paramref name="idx"/> (an immutable snapshot).</summary>
    internal RxQueue[] QueuesOf(int idx) => _assignedSnapshot[idx];

    private void PollLoop(int idx, CountdownEvent placed)
    {
        if (Options.ForwardingCpus is { Length: > 0 } cpus)
        {
            int cpu = cpus[idx % cpus.Length];
            if (!CpuPlacement.PinCurrentThread(cpu, out var why)) Volatile.Write(ref _placementErrors[idx], $"CPU {cpu}: {why}");
        }
        placed.Signal();
        TransmitThread.Set(idx);   // ports with per-thread transmit queues pick this thread's (AF_XDP: idx mod Q)
        // Every round starts at a quiescent point (no rule of an earlier round is held); the thread is offline while
        // it waits (see Classifier.QuiescentDomain).
        var reader = Pipeline.Reclamation.Register();
        try
        {
            PollRounds(idx, reader);
        }
        finally
        {
            Pipeline.Reclamation.Unregister(reader);
        }
    }

    private void PollRounds(int idx, Classifier.QuiescentDomain.Reader reader)
    {
        var f = _forwarders[idx];
        var waiter = _waiters[idx];
        var window = PollWindow.FromMicros(Options.BusyPollMicros, Options.LingerMicros, System.Diagnostics.Stopwatch.Frequency,
                                           System.Diagnostics.Stopwatch.GetTimestamp());
        // A stall: the gap between the starts of two rounds of which the first had packets (more were likely waiting).
        long prevBusyStart = 0;
        while (_running)
        {
            reader.Quiesce();
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            var ports = _assignedSnapshot[idx];
            int got = 0;
            foreach (var q in ports) got += f.Poll(q.Slot, q.Receiver);
            if (got > 0)
            {
                if (prevBusyStart != 0) f.RecordBusyGap(start - prevBusyStart);
                prevBusyStart = start;
                window.Work(start);
                waiter.NoteWork();
                continue;
            }
            prevBusyStart = 0;
            if (window.KeepPolling(start)) continue;
            if (!PrepareWait(ports)) continue;
            if (!_running) break;
            // No busy-poll window after a wake-up by itself: the next round polls once, and only frames it finds
            // (got > 0) open the window (or the linger, see PollWindow) again, so stray wake-ups (a timeout, a
            // readable socket with nothing for us) cost one poll round, not BusyPollMicros of spinning. The epoll set is brought up to date while the
            // thread is still online: it reads the ports' descriptors, so a removed port is not disposed meanwhile.
            waiter.Watch(ports);
            reader.Offline();
            window.Blocking();
            waiter.Wait(ports, Options.IdleWakeMs);
        }
    }

    /// <summary>Arms every port's wake-up; false when one has frames already.</summary>
    private static bool PrepareWait(RxQueue[] ports)
    {
        bool idle = true;
        foreach (var q in ports)
            if (!q.Receiver.PrepareWait()) idle = false;
        return idle;
    }

    /// <summary>Deals a new port's receive queues to the forwarding threads (under the port lock).</summary>
    private void AssignReceiveQueues(PortSlot slot, IPort port)
    {
        // With several threads a port may split its receiving (AF_PACKET fanout by flow hash): receiver i is
        // thread i's. Otherwise the port goes to one thread, round-robin. The receivers are the port's: they are
        // disposed with it.
        var receivers = _forwarders.Length > 1 ? port.OpenReceivers(_forwarders.Length) : [port];
        if (receivers.Length > 1)
        {
            slot.Receivers = receivers;
            for (int i = 0; i < receivers.Length; i++) _assigned[i % _forwarders.Length].Add(new RxQueue(slot, receivers[i]));
        }
        else
        {
            slot.Receivers = [port];
            _assigned[slot.Index % _forwarders.Length].Add(new RxQueue(slot, port));
        }
        PublishAssignments();
    }

    /// <summary>Takes a removed port's receive queues from the forwarding threads (under the port lock).</summary>
    private void UnassignReceiveQueues(PortSlot slot)
    {
        foreach (var l in _assigned) l.RemoveAll(q => q.Slot == slot);
        PublishAssignments();
    }

    private void PublishAssignments()
    {
        var snap = new RxQueue[_assigned.Length][];
        for (int i = 0; i < snap.Length; i++) snap[i] = _assigned[i].ToArray();
        _assignedSnapshot = snap;
        foreach (var w in _waiters) w.Wake();
        SharedThreads?.Changed();
    }

    /// <summary>Runs one poll round over every port on the calling thread (tests and single-threaded harnesses).</summary>
    public int PollOnce(int forwarder = 0)
    {
        var f = _forwarders[forwarder];
        int got = 0;
        foreach (var q in _assignedSnapshot[forwarder]) got += f.Poll(q.Slot, q.Receiver);
        return got;
    }

    /// <summary>Polls until no port has anything to receive (tests).</summary>
    public int PollUntilIdle(int maxRounds = 10_000)
    {
        int total = 0;
        for (int r = 0; r < maxRounds; r++)
        {
            int got = 0;
            for (int i = 0; i < _forwarders.Length; i++) got += PollOnce(i);
            if (got == 0) break;
            total += got;
        }
        return total;
    }
}
