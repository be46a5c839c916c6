using System.Collections.Concurrent;
using System.Diagnostics;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Forwarding;

/// <summary>
/// The forwarding threads and their one poll loop. One set serves many datapaths (Open vSwitch's PMD threads serve every
/// bridge so): a datapath built with <see cref="SwitchDatapath.SharedThreads"/> starts no thread of its own, and thread
/// i polls, in each round, the receive queues every attached datapath dealt to its forwarder i. A datapath without
/// shared threads runs a set of its own while it is started (made by <see cref="SwitchDatapath.Start"/> with that
/// datapath's waiters, loads, balancer and maintenance wake-up, and no caches of its own: its forwarders keep theirs).
/// </summary>
/// <remarks>
/// Design: the attached datapaths are an immutable array of members, replaced under a lock and read once per round.
/// Each member keeps one <see cref="QuiescentDomain.Reader"/> per thread in its datapath's reclamation domain; a thread
/// announces a quiescent point in every member's domain before it polls that member, and goes offline in all of them
/// before it blocks, so each datapath's rule recycling and port disposal work as with threads of its own.
/// A thread blocks in one <see cref="PortWaiter"/> over the queues of every member (its array is rebuilt when the
/// members or a member's queues change: <see cref="Changed"/> bumps a version and wakes every thread).
/// <see cref="Detach"/> returns only when no thread is inside a round that could still hold the datapath: each thread's
/// round counter is odd inside a round (a full fence each way), and a detach waits for an odd counter to move.
/// The set also keeps what would otherwise be a thread per datapath: one maintenance thread (<c>dp-maint</c>) runs every
/// attached datapath's maintenance turns, woken by <see cref="MaintenanceWake"/> (every member's port removals and link
/// events set it) or by the earliest member's due time; and one signal, <see cref="UpcallSignal"/>, tells the one
/// <see cref="Upcalls"/> pump that some member queued a packet for its controller. And one exact-match cache per thread
/// (as an Open vSwitch PMD thread has one for every bridge): each member's forwarder i takes a view of thread i's
/// (<see cref="ExactMatchCache.Share"/>), so a hundred switches keep two caches' slots, not a hundred, and never see each
/// other's entries; a detached member's entries are cleared by the thread itself at the start of its next round.
/// Each thread keeps its measured load (<see cref="Loads"/>) and ends its queues' load intervals; one
/// <see cref="Balancer"/> places every member's receive queues on the threads by load, and the maintenance thread runs
/// its automatic check (docs/datapath.md, "Receive queues by load").
/// The round, per thread: a quiescent point in each member's domain, the member's queues polled once each (a poll that
/// returned frames charged to its queue, <see cref="PollQueues"/>), the load intervals ended when due, then either the
/// next round (frames found, or the <see cref="PollWindow"/> still open) or the queues' wake-ups armed
/// (<see cref="IRxQueue.PrepareWait"/>), every reader offline, and a block in the thread's <see cref="PortWaiter"/>.
/// Nothing in it allocates: the wait set is rebuilt only when the members or their queues changed.
/// Thread safety: <see cref="Attach"/>, <see cref="Detach"/> and <see cref="Changed"/> from any thread; the rest belongs
/// to the pool's threads. A member's maintenance turns run under <c>_maintenanceLock</c>, so <see cref="Detach"/>
/// returns with none of them running.
/// </remarks>
public sealed class ForwardingThreads : IDisposable
{
    private sealed record Member(SwitchDatapath Dp, QuiescentDomain.Reader[] Readers);

    private readonly Thread[] _threads;
    private readonly PortWaiter[] _waiters;
    // One thread's round counter (and allocation reading) per 64-byte line, RoundStride longs apart: each thread writes
    // its own every round, and adjacent ones would pass one line between the cores.
    private const int RoundStride = 8;
    private readonly long[] _roundSeq;
    private readonly string?[] _placementErrors;
    private readonly int[]? _cpus;
    private readonly int _busyPollMicros, _lingerMicros;
    private readonly int _idleWakeMs;
    private readonly Lock _lock = new();
    private volatile Member[] _members = [];
    private int _version;
    private volatile bool _running = true;
    private readonly Thread _maintenance;
    private readonly Lock _maintenanceLock = new();
    private readonly ExactMatchCache?[] _caches;
    // Views of a thread's cache whose switch was detached: that thread clears them (it alone may touch its slots).
    private readonly ConcurrentQueue<ExactMatchCache>[] _purges;
    // Each thread's own allocation count (GC.GetAllocatedBytesForCurrentThread), taken as it is about to block:
    // index i forwarding thread i, then the maintenance thread. Written by that thread only.
    private readonly long[] _allocated;
    private readonly ThreadLoad[] _loads;
    // A datapath's own set borrows its waiters (the datapath disposes them).
    private readonly bool _ownsWaiters = true;

    /// <summary>Wakes the maintenance thread: a member's removed port or link event, a member attached, or Dispose.</summary>
    internal ManualResetEventSlim MaintenanceWake { get; }

    /// <summary>Set by every member's forwarders when a packet for the controller is queued (see <see cref="Upcalls"/>).</summary>
    internal ManualResetEventSlim UpcallSignal { get; }

    /// <summary>The one consumer of every member's packets for the controller.</summary>
    public SharedUpcallPump Upcalls { get; }

    /// <summary>Starts <paramref name="count"/> threads (fwd-0 ..), thread i on CPU <paramref name="cpus"/>[i mod n] when given,
    /// each with an exact-match cache of <paramref name="emcEntries"/> slots that every member shares (0: none).</summary>
    public ForwardingThreads(int count, int[]? cpus = null, int busyPollMicros = DatapathOptions.DefaultBusyPollMicros, int idleWakeMs = 1000,
                             int emcEntries = ExactMatchCache.DefaultCapacity, int lingerMicros = DatapathOptions.DefaultLingerMicros)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        _caches = new ExactMatchCache?[count];
        for (int i = 0; i < count; i++) _caches[i] = emcEntries > 0 ? new ExactMatchCache(emcEntries) : null;
        _cpus = cpus is { Length: > 0 } ? cpus : null;
        _busyPollMicros = busyPollMicros;
        _lingerMicros = lingerMicros;
        _idleWakeMs = idleWakeMs;
        _waiters = new PortWaiter[count];
        for (int i = 0; i < count; i++) _waiters[i] = new PortWaiter();
        _placementErrors = new string?[count];
        long now = Stopwatch.GetTimestamp();
        _loads = new ThreadLoad[count];
        for (int i = 0; i < count; i++) _loads[i] = new ThreadLoad(now);
        Balancer = new RxqBalancer(() => Array.ConvertAll(_members, m => m.Dp), _loads, _cpus);
        MaintenanceWake = new ManualResetEventSlim(false);
        UpcallSignal = new ManualResetEventSlim(false);
        (_threads, _roundSeq, _allocated, _purges) = Arrays(count);
        StartThreads(out _maintenance);
        Upcalls = new SharedUpcallPump(UpcallSignal);
    }

    /// <summary>
    /// The threads of <paramref name="dp"/> alone (its <see cref="SwitchDatapath.Start"/>): its options' thread count,
    /// CPUs, busy-poll window, linger and idle wake-up, and its <paramref name="waiters"/>, <paramref name="loads"/>,
    /// <paramref name="balancer"/>, <paramref name="placementErrors"/> and <paramref name="maintenanceWake"/>, which
    /// outlive a stop. Its forwarders keep their own caches; its upcalls go to its own consumer (its signal).
    /// </summary>
    internal ForwardingThreads(SwitchDatapath dp, PortWaiter[] waiters, ThreadLoad[] loads, RxqBalancer balancer,
                               string?[] placementErrors, ManualResetEventSlim maintenanceWake)
    {
        int count = dp.Forwarders.Count;
        _caches = new ExactMatchCache?[count];
        _cpus = dp.Options.ForwardingCpus is { Length: > 0 } cpus ? cpus : null;
        _busyPollMicros = dp.Options.BusyPollMicros;
        _lingerMicros = dp.Options.LingerMicros;
        _idleWakeMs = dp.Options.IdleWakeMs;
        _waiters = waiters;
        _ownsWaiters = false;
        _placementErrors = placementErrors;
        _loads = loads;
        Balancer = balancer;
        MaintenanceWake = maintenanceWake;
        UpcallSignal = dp.UpcallSignal;
        (_threads, _roundSeq, _allocated, _purges) = Arrays(count);
        _members = [NewMember(dp)];   // before the threads start: their first round polls it
        StartThreads(out _maintenance);
        Upcalls = new SharedUpcallPump(UpcallSignal);
    }

    private static (Thread[], long[], long[], ConcurrentQueue<ExactMatchCache>[]) Arrays(int count)
    {
        var purges = new ConcurrentQueue<ExactMatchCache>[count];
        for (int i = 0; i < count; i++) purges[i] = new ConcurrentQueue<ExactMatchCache>();
        return (new Thread[count], new long[count * RoundStride], new long[(count + 1) * RoundStride], purges);
    }

    /// <summary>Starts the forwarding threads, waits (up to 5 s) until each is on its CPU, then starts the maintenance thread.</summary>
    private void StartThreads(out Thread maintenance)
    {
        // Not disposed: a thread that starts after the wait below gave up still signals it (it holds no kernel handle).
        var placed = new CountdownEvent(_threads.Length);
        for (int i = 0; i < _threads.Length; i++)
        {
            int idx = i;
            _threads[i] = new Thread(() => Run(idx, placed)) { IsBackground = true, Name = $"fwd-{idx}" };
            _threads[i].Start();
        }
        placed.Wait(TimeSpan.FromSeconds(5));
        maintenance = new Thread(MaintenanceLoop) { IsBackground = true, Name = "dp-maint" };
        maintenance.Start();
    }

    private Member NewMember(SwitchDatapath dp)
    {
        var readers = new QuiescentDomain.Reader[_threads.Length];
        for (int i = 0; i < readers.Length; i++) readers[i] = dp.Pipeline.Reclamation.Register();
        return new Member(dp, readers);
    }

    /// <summary>The threads: each attached datapath has as many forwarders.</summary>
    public int Count => _threads.Length;

    /// <summary>How many of this set's forwarding threads are running (tests: a stopped set leaves none).</summary>
    internal int LiveThreads => _threads.Count(t => t is { IsAlive: true });

    /// <summary>How many of this set's other threads are running: its maintenance thread and its upcall pump (tests).</summary>
    internal int LiveHelperThreads => (_maintenance.IsAlive ? 1 : 0) + (Upcalls.Running ? 1 : 0);

    /// <summary>A new view of thread <paramref name="idx"/>'s exact-match cache for a member's forwarder, or null when the
    /// threads keep none.</summary>
    internal ExactMatchCache? ShareCache(int idx) => _caches[idx]?.Share();

    /// <summary>Places every member's receive queues on the threads by measured load (one assignment over all of them,
    /// as Open vSwitch places every bridge's queues), and shows the loads.</summary>
    public RxqBalancer Balancer { get; }

    /// <summary>Each thread's measured load (index = thread).</summary>
    public IReadOnlyList<ThreadLoad> Loads => _loads;

    /// <summary>Datapaths served now.</summary>
    public int Attached => _members.Length;

    /// <summary>Where each thread blocks when idle (index = thread), for its sleep counters.</summary>
    public IReadOnlyList<PortWaiter> Waiters => _waiters;

    /// <summary>Per thread, why it is not on its CPU (null: it is, or none was asked).</summary>
    public IReadOnlyList<string?> PlacementErrors => _placementErrors;

    /// <summary>Starts serving <paramref name="dp"/> (its forwarder count must be <see cref="Count"/>).</summary>
    internal void Attach(SwitchDatapath dp)
    {
        if (dp.Forwarders.Count != _threads.Length) throw new ArgumentException($"the datapath has {dp.Forwarders.Count} forwarders, the shared threads are {_threads.Length}", nameof(dp));
        lock (_lock) _members = [.. _members, NewMember(dp)];
        Changed();
        MaintenanceWake.Set();   // its first turn may be due before the thread would wake
    }

    /// <summary>Stops serving <paramref name="dp"/>; returns once no thread can still be polling it.</summary>
    internal void Detach(SwitchDatapath dp)
    {
        Member? gone;
        lock (_lock)
        {
            gone = Array.Find(_members, m => m.Dp == dp);
            if (gone is null) return;
            _members = Array.FindAll(_members, m => m != gone);
        }
        Changed();   // a full fence between the new members and the reads of the round counters
        var spin = new SpinWait();
        for (int i = 0; i < _threads.Length; i++)
        {
            long seq = Interlocked.Read(ref _roundSeq[i * RoundStride]);
            if ((seq & 1) == 0 || Thread.CurrentThread == _threads[i]) continue;
            while (_running && _threads[i].IsAlive && Interlocked.Read(ref _roundSeq[i * RoundStride]) == seq) spin.SpinOnce();
        }
        foreach (var r in gone.Readers) dp.Pipeline.Reclamation.Unregister(r);
        // Its cache entries go with it (they hold its rules and verdicts); each thread clears them in its next round.
        for (int i = 0; i < _purges.Length; i++)
            if (_caches[i] is not null && dp.Forwarders[i].Cache is { } c) _purges[i].Enqueue(c);
        foreach (var w in _waiters) w.Wake();
        if (Thread.CurrentThread != _maintenance) lock (_maintenanceLock) { }   // its turn, if one is running, has ended
    }

    /// <summary>Runs every member's maintenance turns, sleeping until the earliest is due or <see cref="MaintenanceWake"/> is set.</summary>
    private void MaintenanceLoop()
    {
        while (_running)
        {
            long now = Environment.TickCount64;
            long wait = long.MaxValue;
            foreach (var m in _members) wait = Math.Min(wait, m.Dp.MaintenanceWaitMs(now));
            if (wait > 0)
            {
                Volatile.Write(ref _allocated[_threads.Length * RoundStride], GC.GetAllocatedBytesForCurrentThread());
                MaintenanceWake.Wait(wait >= int.MaxValue ? Timeout.Infinite : (int)wait);
            }
            MaintenanceWake.Reset();
            if (!_running) break;
            lock (_maintenanceLock)
            {
                // Each turn does only what its datapath has due (removed ports, link events, its round).
                foreach (var m in _members) m.Dp.MaintenanceTurn();
                Balancer.Tick(Environment.TickCount64);
            }
        }
    }

    /// <summary>The members or a member's receive queues changed: every thread rebuilds its wait set and polls again.</summary>
    internal void Changed()
    {
        Interlocked.Increment(ref _version);
        foreach (var w in _waiters) w.Wake();
    }

    private void Run(int idx, CountdownEvent placed)
    {
        if (_cpus is { } cpus)
        {
            int cpu = cpus[idx % cpus.Length];
            if (!CpuPlacement.PinCurrentThread(cpu, out var why)) Volatile.Write(ref _placementErrors[idx], $"CPU {cpu}: {why}");
        }
        placed.Signal();
        TransmitThread.Set(idx);   // thread idx is forwarder idx of every member datapath (their ports' transmit queues)
        var waiter = _waiters[idx];
        RxQueue[] waitSet = [];
        int waitVersion = -1;
        Member[]? waitMembers = null;
        var window = PollWindow.FromMicros(_busyPollMicros, _lingerMicros, Stopwatch.Frequency, Stopwatch.GetTimestamp());
        var load = _loads[idx];
        long prevBusyStart = 0;
        while (_running)
        {
            Interlocked.Increment(ref _roundSeq[idx * RoundStride]);   // odd: inside a round
            if (!_purges[idx].IsEmpty) Purge(idx);
            var members = _members;
            long start = Stopwatch.GetTimestamp();
            bool due = load.Due(start);
            long mark = start;
            int got = 0;
            foreach (var m in members)
            {
                m.Readers[idx].Quiesce();
                var f = m.Dp.Forwarders[idx];
                var queues = m.Dp.QueuesOf(idx);
                if (due)
                    foreach (var q in queues) q.EndInterval();
                int mine = PollQueues(f, queues, ref mark);
                if (mine > 0 && prevBusyStart != 0) f.RecordBusyGap(start - prevBusyStart);
                got += mine;
            }
            if (due) load.EndOwnInterval(start, Balancer.LoadThresholdForThreads);
            if (got > 0)
            {
                prevBusyStart = start;
                window.Work(start);
                waiter.NoteWork();
                load.AddBusy(Stopwatch.GetTimestamp() - start);
                Interlocked.Increment(ref _roundSeq[idx * RoundStride]);
                continue;
            }
            prevBusyStart = 0;
            if (window.KeepPolling(start) || !PrepareWait(members, idx))
            {
                Interlocked.Increment(ref _roundSeq[idx * RoundStride]);
                continue;
            }
            int version = Volatile.Read(ref _version);
            if (members.Length == 1)
            {
                waitSet = members[0].Dp.QueuesOf(idx);   // one datapath's snapshot as it is
            }
            else if (version != waitVersion || !ReferenceEquals(members, waitMembers))
            {
                var all = new List<RxQueue>();
                foreach (var m in members) all.AddRange(m.Dp.QueuesOf(idx));
                waitSet = [.. all];
                waitVersion = version;
                waitMembers = members;
            }
            // The epoll set is brought up to date while the thread is still inside its round (and online): it reads
            // the queues' descriptors, so a removed port is not disposed meanwhile. No busy-poll window after a
            // wake-up by itself: only a round that finds frames opens it (or the linger, see PollWindow) again, so a
            // stray wake-up (a timeout, a readable socket with nothing for us) costs one poll round.
            waiter.Watch(waitSet);
            foreach (var m in members) m.Readers[idx].Offline();
            Interlocked.Increment(ref _roundSeq[idx * RoundStride]);   // even: out of every datapath
            if (!_running) break;
            Volatile.Write(ref _allocated[idx * RoundStride], GC.GetAllocatedBytesForCurrentThread());
            window.Blocking();
            waiter.Wait(waitSet, _idleWakeMs);
        }
        // Stopped: no member's reader stays online (a removal's report waits for online readers).
        foreach (var m in _members) m.Readers[idx].Offline();
    }

    /// <summary>
    /// Polls each of <paramref name="queues"/> once; a poll that returned frames is charged to its queue with the ticks
    /// since <paramref name="mark"/> (the round's start, or the end of the last poll that returned frames, which it
    /// becomes): one timestamp per poll with frames, none for empty ones, whose time goes to the next queue that has
    /// frames (or to no queue: the thread's overhead, at the end of a round).
    /// </summary>
    internal static int PollQueues(Forwarder f, RxQueue[] queues, ref long mark)
    {
        int got = 0;
        foreach (var q in queues)
        {
            int n = f.Poll(q.Slot, q.Receiver);
            if (n <= 0) continue;
            long now = Stopwatch.GetTimestamp();
            q.AddBusy(now - mark);
            mark = now;
            got += n;
        }
        return got;
    }

    /// <summary>Clears the views of thread <paramref name="idx"/>'s cache that detached switches left (on that thread).</summary>
    private void Purge(int idx)
    {
        while (_purges[idx].TryDequeue(out var c)) c.Clear();
    }

    /// <summary>
    /// Bytes of managed memory thread <paramref name="thread"/> (0 .. <see cref="Count"/>-1 a forwarding thread,
    /// <see cref="Count"/> the maintenance thread) had allocated in its life when it last went to sleep: an idle set's
    /// counts stay still (its threads allocate nothing per round), which a monitor or test can see from outside.
    /// </summary>
    public long AllocatedBytes(int thread) => Volatile.Read(ref _allocated[thread * RoundStride]);

    /// <summary>Detached switches' cache views waiting for their thread to clear them (tests).</summary>
    internal int PendingPurges => _purges.Sum(q => q.Count);

    private static bool PrepareWait(Member[] members, int idx)
    {
        bool idle = true;
        foreach (var m in members)
        {
            foreach (var q in m.Dp.QueuesOf(idx))
                if (!q.Receiver.PrepareWait()) idle = false;
        }
        return idle;
    }

    /// <summary>Stops the threads (every datapath should be detached first).</summary>
    public void Dispose()
    {
        _running = false;
        foreach (var w in _waiters) w.Wake();
        MaintenanceWake.Set();
        foreach (var t in _threads)
            if (t != Thread.CurrentThread) t.Join();
        if (_maintenance != Thread.CurrentThread) _maintenance.Join();
        Upcalls.Dispose();
        if (_ownsWaiters)
            foreach (var w in _waiters) w.Dispose();
    }
}
