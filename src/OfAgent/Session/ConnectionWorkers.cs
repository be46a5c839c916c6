namespace Softswitch.OfAgent.Session;

/// <summary>
/// The process's small fixed pool of threads ("of-work") that run established plain (TCP, Unix) connections' turns:
/// reading what a readable socket holds, handling the messages it completes, writing what is queued. However many
/// connections there are (a vswitchd serving a hundred bridges, each with its controller), the pool has
/// <see cref="Size"/> threads, all made with its first work; a connection costs a thread only while one of its turns
/// runs.
/// </summary>
/// <remarks>
/// <para><b>Work</b>: an <see cref="IWork"/> (a connection) is queued by <see cref="Enqueue"/> when it becomes
/// ready (<see cref="SocketReadiness"/> said its socket is readable or writable, or a thread queued bytes for it)
/// and is not already queued or running: its own state says so, so it is in the queue at most once and runs on at
/// most one thread at a time, which keeps its messages in order. Turns are short (a bounded read, the handling of
/// what it completed, a write that never blocks); a connection with more to do queues itself again behind the
/// others.</para>
/// <para><b>Blocking</b>: a turn may still have to wait: a long reply waiting for its peer to take the parts before
/// (<see cref="OfConnection.WaitForRoom"/>), a request waiting for another connection's run of flow-mods. The first
/// says so (<see cref="BeginBlocking"/>): while a thread waits that way the pool may make one more thread for the
/// others' work, and that extra thread ends once it finds nothing to do and the waiting is over. So a peer that
/// stops reading a dump cannot stall the other connections; the pool grows with such waits, never with connections.</para>
/// <para><b>Lingering</b>: a thread with nothing else to do waits on the socket of the connection it served last
/// (poll(2) on it and the pool's eventfd, which queued work writes to; <see cref="LingerMs"/>), and runs that
/// connection's next turn itself when its peer sends: a request-reply peer costs no hop through the readiness thread.
/// Once other work is queued the connection's readable interest goes back to the readiness thread. So at most
/// <see cref="Size"/> connections are waited on by a pool thread, the others by the readiness thread.</para>
/// <para><b>Thread safety</b>: every member from any thread. The queue is lock-free; <c>_lock</c> (a leaf) guards
/// the thread count when a thread is made or ends.</para>
/// </remarks>
internal sealed partial class ConnectionWorkers
{
    /// <summary>A connection's turn, run by one pool thread at a time.</summary>
    internal interface IWork
    {
        /// <summary>
        /// Runs a turn; true when it ended with nothing left to read and left its readable interest to the pool: the
        /// pool then calls <see cref="EndLinger"/> exactly once, at once or after waiting on <see cref="TryLinger"/>.
        /// </summary>
        bool RunTurn();

        /// <summary>Waits at most <paramref name="timeoutMs"/> for the work's socket to be readable, or for <paramref name="wakeFd"/> to be; true when the socket is.</summary>
        bool TryLinger(int wakeFd, int timeoutMs);

        /// <summary>
        /// The pool stopped lingering: <paramref name="readable"/> says the socket is readable, otherwise the work arms its
        /// readable interest. True when the calling thread is to run the work's turn now (it took the work's turn).
        /// </summary>
        bool EndLinger(bool readable);
    }

    /// <summary>
    /// How long a pool thread with nothing else to do waits on the socket of the connection whose turn it ran last, for
    /// that peer's next message, before it leaves the socket to the readiness thread: until other work is queued (which
    /// ends the wait at once through <c>_wakeFd</c>), without a timeout. A controller waiting for a reply (a barrier, a
    /// packet-out after its packet-in) answers within a round trip, and catching its answer here saves the readiness
    /// thread's hop; a timed wait cost more than that hop saved (measured: a FLOW_MOD+BARRIER round trip's median 35-38
    /// us with 1 ms, 27-29 us without, 22-25 us with a thread per connection, on loopback).
    /// </summary>
    internal const int LingerMs = Timeout.Infinite;

    private static readonly Lazy<ConnectionWorkers> s_shared = new(() => new ConnectionWorkers(Math.Max(2, Environment.ProcessorCount)));

    /// <summary>The process-wide pool (its threads all start with its first work).</summary>
    public static ConnectionWorkers Shared => s_shared.Value;

    private readonly System.Collections.Concurrent.ConcurrentQueue<IWork> _queue = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly Lock _lock = new();
    private int _threads, _idle, _blocked, _created, _lingering;
    // An eventfd that work queued while threads linger writes to (-1 off Linux: no lingering).
    private readonly int _wakeFd;

    private readonly string _name;

    /// <param name="size">The threads the pool keeps.</param>
    /// <param name="name">Its threads' name.</param>
    public ConnectionWorkers(int size, string name = "of-work")
    {
        Size = size;
        _name = name;
        _wakeFd = OperatingSystem.IsLinux() ? EventFdNative(0, EfdNonBlock | EfdCloexec) : -1;
    }

    /// <summary>The threads the pool keeps (more only while some of them wait, <see cref="BeginBlocking"/>).</summary>
    public int Size { get; }

    /// <summary>Threads made so far (a thread that runs many connections' turns counts once).</summary>
    public int Created => Volatile.Read(ref _created);

    /// <summary>Threads alive now.</summary>
    public int Threads => Volatile.Read(ref _threads);

    /// <summary>Queues <paramref name="work"/> for a turn (its caller made sure it is not queued or running already).</summary>
    public void Enqueue(IWork work)
    {
        _queue.Enqueue(work);
        // The first work starts every thread the pool keeps, so the process has as many threads with one connection
        // as with a hundred (a thread made later, when a second connection first had work, was one more for it).
        if (Volatile.Read(ref _threads) < Size) Fill();
        else if (Volatile.Read(ref _idle) > 0) _signal.Release();
        else Grow();
        if (Volatile.Read(ref _lingering) > 0) WakeLingering();
    }

    private void WakeLingering()
    {
        ulong one = 1;
        unsafe { _ = WriteNative(_wakeFd, &one, 8); }
    }

    private void DrainWake()
    {
        ulong value;
        unsafe { _ = ReadNative(_wakeFd, &value, 8); }
    }

    /// <summary>
    /// After <paramref name="work"/>'s turn left its readable interest to this thread: waits a moment on its socket
    /// (<see cref="LingerMs"/>) when there is nothing else to do, then hands the interest back.
    /// </summary>
    /// <returns>Whether this thread is to run the work's turn now (its peer answered).</returns>
    private bool Linger(IWork work)
    {
        // A thread made for the time others wait (BeginBlocking) does not linger: it is to end once idle.
        if (_wakeFd < 0 || !_queue.IsEmpty || Volatile.Read(ref _threads) > Size + Volatile.Read(ref _blocked)) return work.EndLinger(false);
        Interlocked.Increment(ref _lingering);
        // Work queued before the increment did not wake us: look again.
        bool readable = _queue.IsEmpty && work.TryLinger(_wakeFd, LingerMs);
        Interlocked.Decrement(ref _lingering);
        DrainWake();
        return work.EndLinger(readable);
    }

    /// <summary>
    /// The calling pool thread is about to wait for something other than the pool's work (a peer to take our bytes):
    /// the others' work must not wait behind it. Pair with <see cref="EndBlocking"/>.
    /// </summary>
    public void BeginBlocking()
    {
        Interlocked.Increment(ref _blocked);
        if (!_queue.IsEmpty && Volatile.Read(ref _idle) == 0) Grow();
    }

    public void EndBlocking() => Interlocked.Decrement(ref _blocked);

    /// <summary>Makes a thread if fewer run than the pool's size plus the threads that wait (<see cref="BeginBlocking"/>).</summary>
    private bool Grow()
    {
        lock (_lock)
        {
            if (_threads >= Size + Volatile.Read(ref _blocked)) return false;
            _threads++;
            _created++;
        }
        new Thread(Loop) { IsBackground = true, Name = _name }.Start();
        return true;
    }

    /// <summary>Makes threads until the pool has its size.</summary>
    private void Fill()
    {
        while (Volatile.Read(ref _threads) < Size && Grow()) { }
    }

    /// <summary>Whether this idle thread ends: more threads than the pool keeps while none waits.</summary>
    private bool Retire()
    {
        lock (_lock)
        {
            if (_threads <= Size + Volatile.Read(ref _blocked)) return false;
            _threads--;
            return true;
        }
    }

    private void Loop()
    {
        while (true)
        {
            // A turn handles the failures it expects; anything else escapes and ends the process, as on a thread of its own.
            IWork? last = null;
            while (true)
            {
                if (_queue.TryDequeue(out var work))
                {
                    // Other work first: the last one's socket goes back to the readiness thread.
                    last?.EndLinger(false);
                    last = work.RunTurn() ? work : null;
                }
                else if (last is not null)
                {
                    // Its turn runs here, without a hop through the queue, when its peer answers meanwhile.
                    var lingered = last;
                    last = Linger(lingered) && lingered.RunTurn() ? lingered : null;
                }
                else
                {
                    break;
                }
            }
            // Idle first, then look again: work queued after the look sees this thread idle and releases the signal.
            Interlocked.Increment(ref _idle);
            if (!_queue.IsEmpty)
            {
                Interlocked.Decrement(ref _idle);
                continue;
            }
            if (Retire())
            {
                Interlocked.Decrement(ref _idle);
                // Work queued while this thread still counted as idle released the signal for it: pass it on.
                if (!_queue.IsEmpty) Grow();
                return;
            }
            _signal.Wait();
            Interlocked.Decrement(ref _idle);
        }
    }

    private const int EfdNonBlock = 0x800, EfdCloexec = 0x80000;

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventFdNative(uint initval, int flags);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint WriteNative(int fd, void* buf, nuint count);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static unsafe partial nint ReadNative(int fd, void* buf, nuint count);
}
