using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath;

// The forwarding threads (the one poll loop is ForwardingThreads': shared, or this datapath's own), and the receive
// queues dealt to them.
public sealed partial class SwitchDatapath
{
    /// <summary>Starts the forwarding threads and the maintenance timer: threads of its own (a
    /// <see cref="ForwardingThreads"/> serving this datapath alone), or, with <see cref="SharedThreads"/>, joins theirs.</summary>
    public void Start()
    {
        if (_running) return;
        _running = true;
        // The threads' one maintenance thread runs this datapath's turns: the first is due one interval from now.
        StartMaintenance();
        if (SharedThreads is { } shared)
        {
            shared.Attach(this);
            return;
        }
        // Returns with every thread on its CPU (or its reason in PlacementErrors), so the host reports placement as it is.
        _ownThreads = new ForwardingThreads(this, _waiters, _loads, _balancer!, _placementErrors, _maintenanceWake);
    }

    /// <summary>The threads of this datapath alone while it runs (null with <see cref="SharedThreads"/>, or stopped): tests.</summary>
    internal ForwardingThreads? OwnThreads => _ownThreads;

    /// <summary>Per forwarding thread, why it is not on its CPU of <see cref="DatapathOptions.ForwardingCpus"/> (null: it is, or none was asked).</summary>
    public IReadOnlyList<string?> PlacementErrors => SharedThreads?.PlacementErrors ?? _placementErrors;

    /// <summary>The receive queues dealt to forwarder <paramref name="idx"/> (an immutable snapshot).</summary>
    internal RxQueue[] QueuesOf(int idx) => _assignedSnapshot[idx];

    /// <summary>Places the receive queues on the forwarding threads by measured load and shows the loads
    /// (dpif-netdev/pmd-rxq-show, pmd-rxq-rebalance, pmd-auto-lb): this datapath's own, or its shared threads'.</summary>
    public RxqBalancer Balancer => SharedThreads?.Balancer ?? _balancer!;

    /// <summary>Each forwarding thread's measured load (index = thread): this datapath's own threads', or the shared ones'.</summary>
    public IReadOnlyList<ThreadLoad> ThreadLoads => SharedThreads?.Loads ?? _loads;

    /// <summary>Deals a new port's receive queues to the forwarding threads (under the port lock).</summary>
    private void AssignReceiveQueues(PortSlot slot, IPort port)
    {
        // With several threads a port may split its receiving (AF_PACKET fanout by flow hash, AF_XDP queues): each
        // receiver is a queue of its own. The receivers are the port's: they are disposed with it.
        IRxQueue[] receivers = _forwarders.Length > 1 ? port.OpenReceivers(_forwarders.Length) : [port];
        slot.Receivers = receivers.Length > 1 ? receivers : [port];
        if (Balancer.Assignment == RxqAssignment.RoundRobin)
        {
            // Round-robin: receiver i to thread i mod N, a port that does not split by its index.
            if (receivers.Length > 1)
                for (int i = 0; i < receivers.Length; i++) _assigned[i % _forwarders.Length].Add(new RxQueue(slot, receivers[i], i));
            else _assigned[slot.Index % _forwarders.Length].Add(new RxQueue(slot, port));
        }
        else
        {
            // By load: each new queue to the thread with the fewest of this port's queues so far (a split port
            // spreads), then the least measured load; on a tie, round-robin's thread (so with no load measured yet,
            // the placement is round-robin's). Queues already placed stay: a rebalance moves them.
            var loads = ThreadLoads;
            var mine = new int[_forwarders.Length];
            for (int i = 0; i < slot.Receivers.Length; i++)
            {
                int best = (slot.Receivers.Length > 1 ? i : slot.Index) % mine.Length;
                for (int t = 0; t < mine.Length; t++)
                    if (mine[t] < mine[best] || (mine[t] == mine[best] && loads[t].BusyHistoryTicks < loads[best].BusyHistoryTicks)) best = t;
                mine[best]++;
                _assigned[best].Add(new RxQueue(slot, slot.Receivers[i], i));
            }
        }
        PublishAssignments();
    }

    /// <summary>Each thread's receive queues now (copies, under the port lock).</summary>
    internal RxQueue[][] ReceiveQueueAssignment()
    {
        lock (_portLock)
        {
            var r = new RxQueue[_assigned.Length][];
            for (int i = 0; i < r.Length; i++) r[i] = [.. _assigned[i]];
            return r;
        }
    }

    /// <summary>Longest wait, in milliseconds, for the forwarding threads to pass a quiescent point in a queue's move.</summary>
    internal const int MoveWaitMs = 2000;

    /// <summary>
    /// Moves receive queues to other forwarding threads at a quiescent point: the queues leave their threads' lists
    /// (published), every forwarding thread passes a quiescent point or is offline (so none is still inside a round
    /// that polls them), and only then do they join their new threads' lists. A queue is thus never polled by two
    /// threads, and what its old thread received it forwarded before the new one receives more: no frame is lost or
    /// reordered within the queue. Returns the queues moved; when a thread stays inside one round for
    /// <see cref="MoveWaitMs"/>, the queues go back where they were and <paramref name="error"/> says so.
    /// </summary>
    internal int MoveReceiveQueues(IReadOnlyList<(RxQueue Queue, int Thread)> moves, out string? error)
    {
        error = null;
        lock (_portLock)
        {
            var taken = new List<(RxQueue Queue, int From, int To)>();
            foreach (var (q, to) in moves)
            {
                if ((uint)to >= (uint)_assigned.Length) continue;
                for (int t = 0; t < _assigned.Length; t++)
                {
                    if (t == to || !_assigned[t].Remove(q)) continue;
                    taken.Add((q, t, to));
                    break;
                }
            }
            if (taken.Count == 0) return 0;
            PublishAssignments();
            var domain = Pipeline.Reclamation;
            bool quiet = domain.WaitForReaders(domain.Advance(), MoveWaitMs);
            foreach (var (q, from, to) in taken) _assigned[quiet ? to : from].Add(q);
            PublishAssignments();
            if (quiet) return taken.Count;
            error = $"a forwarding thread stayed inside one poll round for {MoveWaitMs} ms: {taken.Count} receive queue(s) left where they were";
            return 0;
        }
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
        // Its own threads block in its waiters (woken here even while a start or stop is replacing the set); shared
        // threads rebuild their wait sets.
        foreach (var w in _waiters) w.Wake();
        SharedThreads?.Changed();
    }

    /// <summary>Runs one poll round over every port on the calling thread (tests and single-threaded harnesses): inside a
    /// hold of the reclamation domain, unless the thread is online as a reader of it (a harness that polls as a
    /// forwarding thread does, quiescent between rounds).</summary>
    public int PollOnce(int forwarder = 0)
    {
        var f = _forwarders[forwarder];
        var reclamation = Pipeline.Reclamation;
        if (reclamation.CallerIsOnlineReader) return PollRound(f, forwarder);
        // In a hold: what the round finds (a hash-stage record, a rule) is not reused under it.
        using var hold = reclamation.Enter();
        return PollRound(f, forwarder);
    }

    private int PollRound(Forwarder f, int forwarder)
    {
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
