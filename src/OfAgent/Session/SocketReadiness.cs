using System.Net.Sockets;

namespace Softswitch.OfAgent.Session;

/// <summary>
/// Waits for many blocking-mode sockets to become readable or writable on one thread (poll(2) through <see cref="Socket.Select(System.Collections.IList, System.Collections.IList, System.Collections.IList, int)"/>),
/// so that channels in their opening phase, and established plain channels between their turns on
/// <see cref="ConnectionWorkers"/>, cost no thread while their sockets stay in blocking mode.
/// </summary>
/// <remarks>
/// Why not the runtime's asynchronous socket calls: on Linux the first one switches the descriptor to non-blocking
/// for good, and every later blocking call on it is emulated through the runtime's event loop. Measured here with a
/// controller doing FLOW_MOD+BARRIER round trips over loopback, that emulation took the median from 0.26 to
/// 0.35-0.45 ms and the 99th percentile from about 0.6 to 4-9 ms. A connection's receive and send loops are
/// read and written with blocking calls, or with send(2) and recv(2) given MSG_DONTWAIT once this thread said they
/// would not block (see <see cref="OfConnection"/>), so nothing may make the socket non-blocking.
/// <para>Two kinds of waiting: a task (<see cref="WaitReadableAsync"/>, the opening phase and the listeners) and an
/// armed <see cref="Interest"/> (<see cref="Arm"/>, an established connection's readable or writable): one-shot, its
/// target is called on this thread once the socket is ready, and it is armed again only by its owner, after its turn.</para>
/// <para>Thread safety: <see cref="WaitReadableAsync"/> and <see cref="Arm"/> may be called from any thread; one
/// background thread owns the lists. A waiter whose token fires is completed as cancelled at once and dropped from the
/// list on the next turn; a socket disposed while waited on completes its waiter (the caller's next call then fails)
/// and drops its interests without calling their targets (whoever closed it finishes the connection).</para>
/// </remarks>
public sealed class SocketReadiness
{
    private static readonly Lazy<SocketReadiness> s_shared = new(() => new SocketReadiness());

    /// <summary>The process-wide instance (its thread starts on first use).</summary>
    public static SocketReadiness Shared => s_shared.Value;

    private readonly Lock _lock = new();
    private readonly List<Waiter> _incoming = new();
    private readonly List<Interest> _incomingInterests = new();
    private readonly Socket _wakeRead;
    private readonly Socket _wakeWrite;
    private int _wakePending;

    private sealed class Waiter(Socket socket)
    {
        public readonly Socket Socket = socket;
        public readonly TaskCompletionSource Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public CancellationTokenRegistration Registration;
    }

    /// <summary>What <see cref="Interest"/> calls when its socket is ready: on the readiness thread, so it only schedules work.</summary>
    internal interface ITarget
    {
        /// <summary>The socket of <paramref name="interest"/> is ready (readable, or writable for a write interest).</summary>
        void OnReady(Interest interest);
    }

    /// <summary>
    /// A one-shot wait for a socket to become readable (or writable, <see cref="Write"/>), made once by its owner and
    /// armed again after each time it fired; armed at most once at a time (its owner's rule).
    /// </summary>
    internal sealed class Interest(Socket socket, ITarget target, bool write)
    {
        public readonly Socket Socket = socket;
        public readonly ITarget Target = target;
        public readonly bool Write = write;
    }

    /// <summary>Calls <paramref name="interest"/>'s target once its socket is ready (or never, if the socket closes first).</summary>
    internal void Arm(Interest interest)
    {
        lock (_lock) _incomingInterests.Add(interest);
        Wake();
    }

    private SocketReadiness()
    {
        // A connected pair of Unix sockets (abstract name, nothing on disk): a byte on it ends a poll early.
        using var l = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        l.Bind(new UnixDomainSocketEndPoint($"\0softswitch-readiness-{Environment.ProcessId}-{Guid.NewGuid():N}"));
        l.Listen(1);
        _wakeWrite = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _wakeWrite.Connect(l.LocalEndPoint!);
        _wakeRead = l.Accept();
        new Thread(Run) { IsBackground = true, Name = "of-readiness" }.Start();
    }

    /// <summary>Completes when <paramref name="socket"/> has data, end of stream or an error to report, or is cancelled by <paramref name="ct"/>.</summary>
    public Task WaitReadableAsync(Socket socket, CancellationToken ct)
    {
        if (ct.IsCancellationRequested) return Task.FromCanceled(ct);
        var w = new Waiter(socket);
        w.Registration = ct.Register(static (o, token) => ((Waiter)o!).Done.TrySetCanceled(token), w);
        lock (_lock) _incoming.Add(w);
        Wake();
        return w.Done.Task;
    }

    private void Wake()
    {
        if (Interlocked.Exchange(ref _wakePending, 1) != 0) return;
        try { _wakeWrite.Send([1]); } catch (SocketException) { }
    }

    private void Run()
    {
        var waiters = new List<Waiter>();
        var interests = new List<Interest>();
        var check = new List<Socket>();
        var checkWrite = new List<Socket>();
        var ready = new HashSet<Socket>(ReferenceEqualityComparer.Instance);
        var readyWrite = new HashSet<Socket>(ReferenceEqualityComparer.Instance);
        var fired = new List<Interest>();
        var wakeBuf = new byte[64];
        while (true)
        {
            lock (_lock)
            {
                waiters.AddRange(_incoming);
                _incoming.Clear();
                interests.AddRange(_incomingInterests);
                _incomingInterests.Clear();
            }
            interests.RemoveAll(static i => i.Socket.SafeHandle.IsClosed);
            waiters.RemoveAll(static w =>
            {
                if (!w.Done.Task.IsCompleted && !w.Socket.SafeHandle.IsClosed) return false;
                w.Done.TrySetResult();
                w.Registration.Dispose();
                return true;
            });
            check.Clear();
            check.Add(_wakeRead);
            foreach (var w in waiters) check.Add(w.Socket);
            checkWrite.Clear();
            foreach (var i in interests) (i.Write ? checkWrite : check).Add(i.Socket);
            try
            {
                Socket.Select(check, checkWrite.Count > 0 ? checkWrite : null, null, 1_000_000);
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException)
            {
                // A socket was closed under us: the next turn drops its waiter.
                Thread.Sleep(1);
                continue;
            }
            if (check.Remove(_wakeRead))
            {
                // Drain first, then re-arm: a waiter added meanwhile is in _incoming before the next turn reads it.
                try { _wakeRead.Receive(wakeBuf); } catch (SocketException) { }
                Volatile.Write(ref _wakePending, 0);
            }
            if (check.Count == 0 && checkWrite.Count == 0) continue;
            ready.Clear();
            ready.UnionWith(check);
            readyWrite.Clear();
            readyWrite.UnionWith(checkWrite);
            foreach (var w in waiters)
                if (ready.Contains(w.Socket)) w.Done.TrySetResult();
            // Fired interests leave the list before their targets run: a target may arm again at once (from another thread).
            fired.Clear();
            int kept = 0;
            for (int k = 0; k < interests.Count; k++)
            {
                var i = interests[k];
                if ((i.Write ? readyWrite : ready).Contains(i.Socket)) fired.Add(i);
                else interests[kept++] = i;
            }
            interests.RemoveRange(kept, interests.Count - kept);
            foreach (var i in fired) i.Target.OnReady(i);
        }
    }
}
