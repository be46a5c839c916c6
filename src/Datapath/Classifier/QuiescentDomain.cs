namespace Softswitch.Datapath.Classifier;

/// <summary>
/// Quiescent-state reclamation for the rules of a <see cref="Pipeline"/>'s tables: tells a table's writer when an
/// entry it removed can no longer be held by any registered reader, so it may be given a new incarnation (see
/// <see cref="FlowTable.RecycleEntries"/>) instead of being left to the garbage collector.
/// </summary>
/// <remarks>
/// Forwarding threads are <see cref="Reader"/>s that <see cref="Reader.Quiesce"/> between poll rounds and go
/// <see cref="Reader.Offline"/> before blocking; other threads touch rules inside a <see cref="Hold"/>. An entry retired
/// in epoch e may be reused once <see cref="SafeEpoch"/> is above e. A reference kept across quiescent points must be
/// checked against <see cref="Flow.FlowEntry.Serial"/>. Quiesce, Offline and holds are wait-free and allocate nothing.
/// Design: docs/datapath.md, "Reusing removed rules".
/// </remarks>
public sealed class QuiescentDomain
{
    /// <summary>Holds with a slot of their own; more join the overflow group.</summary>
    public const int HoldSlots = 64;
    private const long Claimed = long.MaxValue;

    private readonly Lock _lock = new();
    private volatile Reader[] _readers = [];
    private readonly long[] _holds = new long[HoldSlots];
    private readonly Lock _overflowLock = new();
    private int _overflowCount;
    private long _overflowEpoch; // 0: no overflow hold
    private long _epoch = 1;

    /// <summary>Registered readers.</summary>
    public int ReaderCount => _readers.Length;

    /// <summary>The epoch a writer tags the entries it retires now with.</summary>
    public long CurrentEpoch => Volatile.Read(ref _epoch);

    /// <summary>Writer: ends the current epoch (after the entries retired in it were unlinked); a full fence.</summary>
    public long Advance() => Interlocked.Increment(ref _epoch);

    /// <summary>
    /// Writer: the oldest epoch an online reader may still be in, or <see cref="CurrentEpoch"/> when every reader is
    /// offline or past it: entries retired in an earlier epoch can be held by no reader.
    /// </summary>
    public long SafeEpoch()
    {
        Interlocked.MemoryBarrier();
        long min = Volatile.Read(ref _epoch);
        foreach (var r in _readers)
        {
            long a = Volatile.Read(ref r.Announced);
            if (a != 0 && a < min) min = a;
        }
        for (int i = 0; i < _holds.Length; i++)
        {
            long a = Volatile.Read(ref _holds[i]);
            if (a != 0 && a < min) min = a;
        }
        long o = Volatile.Read(ref _overflowEpoch);
        if (o != 0 && o < min) min = o;
        return min;
    }

    /// <summary>
    /// Waits until every reader has passed a quiescent point in epoch <paramref name="epoch"/> or later, or is offline:
    /// whatever a reader found in the tables before that epoch began (a removed rule it still credits a burst to) it no
    /// longer uses. Holds are not waited for (the caller may keep one). False when <paramref name="limitMs"/> passed
    /// first (a reader stuck inside a round). Call with the value <see cref="Advance"/> returned after the change.
    /// </summary>
    public bool WaitForReaders(long epoch, int limitMs)
    {
        long deadline = Environment.TickCount64 + limitMs;
        var spin = new SpinWait();
        while (true)
        {
            Interlocked.MemoryBarrier();
            bool behind = false;
            foreach (var r in _readers)
            {
                long a = Volatile.Read(ref r.Announced);
                if (a != 0 && a < epoch)
                {
                    behind = true;
                    break;
                }
            }
            if (!behind) return true;
            if (Environment.TickCount64 >= deadline) return false;
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>
    /// Announces the calling thread as a holder of rules until the hold is disposed; take it before
    /// reading a table or calling a writer whose results are kept. Never waits for another hold.
    /// </summary>
    public Hold Enter()
    {
        for (int i = 0; i < _holds.Length; i++)
        {
            if (Volatile.Read(ref _holds[i]) != 0 || Interlocked.CompareExchange(ref _holds[i], Claimed, 0) != 0) continue;
            // A claimed slot lowers no minimum; the exchange is the fence that orders the announcement before
            // the table reads that follow.
            Interlocked.Exchange(ref _holds[i], Volatile.Read(ref _epoch));
            return new Hold(this, i);
        }
        return EnterOverflow();
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private Hold EnterOverflow()
    {
        lock (_overflowLock)
        {
            // The group's epoch is its first member's: every later member entered in that epoch or after it.
            if (_overflowCount++ == 0) Interlocked.Exchange(ref _overflowEpoch, Volatile.Read(ref _epoch));
        }
        Interlocked.MemoryBarrier();
        return new Hold(this, -1);
    }

    private void ExitOverflow()
    {
        lock (_overflowLock)
        {
            if (--_overflowCount == 0) Volatile.Write(ref _overflowEpoch, 0);
        }
    }

    /// <summary>Holds taken now (diagnostics, tests).</summary>
    public int HoldCount
    {
        get
        {
            int n = 0;
            for (int i = 0; i < _holds.Length; i++) if (Volatile.Read(ref _holds[i]) != 0) n++;
            lock (_overflowLock) return n + _overflowCount;
        }
    }

    /// <summary>A taken hold (see <see cref="Enter"/>); disposing it gives the slot back. Dispose once.</summary>
    public readonly struct Hold : IDisposable
    {
        private readonly QuiescentDomain? _domain;
        private readonly int _slot;

        internal Hold(QuiescentDomain domain, int slot)
        {
            _domain = domain;
            _slot = slot;
        }

        public void Dispose()
        {
            if (_domain is null) return;
            if (_slot < 0) _domain.ExitOverflow();
            else Volatile.Write(ref _domain._holds[_slot], 0);
        }
    }

    // The reader the calling thread registered last (see CallerIsOnlineReader).
    [ThreadStatic] private static Reader? s_registered;

    /// <summary>A new reader, offline until its first <see cref="Reader.Quiesce"/>; meant for the calling thread.</summary>
    public Reader Register()
    {
        var r = new Reader(this);
        lock (_lock) _readers = [.. _readers, r];
        s_registered = r;
        return r;
    }

    /// <summary>
    /// Whether the calling thread is online as the reader it registered last in this domain (so what it reads until its
    /// next quiescent point is not reused under it, and it needs no <see cref="Hold"/>). False for a reader registered on
    /// another thread than the one using it, which then takes a hold as any other thread.
    /// </summary>
    public bool CallerIsOnlineReader => s_registered is { } r && ReferenceEquals(r.Domain, this) && r.IsOnline;

    /// <summary>Removes a reader (it must hold no entry any more).</summary>
    public void Unregister(Reader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        if (ReferenceEquals(s_registered, reader)) s_registered = null;
        lock (_lock)
        {
            reader.Offline();
            _readers = Array.FindAll(_readers, x => !ReferenceEquals(x, reader));
        }
    }

    /// <summary>One reader thread's announcement (used only by that thread).</summary>
    public sealed class Reader
    {
        private readonly QuiescentDomain _domain;
        /// <summary>0: offline; otherwise the epoch announced at the last quiescent point.</summary>
        internal long Announced;

        internal Reader(QuiescentDomain domain) => _domain = domain;

        internal QuiescentDomain Domain => _domain;

        public bool IsOnline => Volatile.Read(ref Announced) != 0;

        /// <summary>
        /// A quiescent point: the thread holds no entry found before this call; it goes online if it was offline.
        /// Call before reading a table (a full fence orders the announcement before the reads).
        /// </summary>
        /// <remarks>
        /// When the announcement already is the current epoch (no writer retired anything since the last quiescent
        /// point), nothing is stored and no fence is paid: what writers see is the value a store would write, made
        /// visible by the fence of the announcement that wrote it; and a writer that retires an entry now tags it
        /// with that epoch or a later one, which this announcement keeps from reuse. Only this thread writes
        /// <see cref="Announced"/>, so its plain read here is current.
        /// </remarks>
        public void Quiesce()
        {
            long epoch = Volatile.Read(ref _domain._epoch);
            if (Announced != epoch) Interlocked.Exchange(ref Announced, epoch);
        }

        /// <summary>The thread holds no entry and will announce again before it reads a table (e.g. before blocking).</summary>
        public void Offline() => Volatile.Write(ref Announced, 0);
    }
}
