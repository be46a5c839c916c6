using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.Extensions.Logging;

namespace Softswitch.OfAgent.Session;

/// <summary>
/// A plain (TCP, Unix) connection's turns on <see cref="ConnectionWorkers"/>: no thread of its own (see the type's remarks).
/// </summary>
/// <remarks>
/// <para><b>Scheduling</b>: <c>_work</c> holds what there is to do (read, write, finish), <c>_owned</c> whether the
/// connection is queued or running. <see cref="Schedule"/> adds work and queues the connection unless it is already
/// queued or running; a turn takes all the work at once, and on its way out looks again, so work added meanwhile is
/// never left without a turn. One turn at a time: the messages of a connection are handled in arrival order, and its
/// receive buffer, its framing state and the flow-mod run are its turn's alone.</para>
/// <para><b>Reading</b>: <see cref="SocketReadiness"/> calls the connection (<c>OnReady</c>) once the socket is readable (a
/// one-shot interest); the turn reads with recv(2) and MSG_DONTWAIT until nothing is left (at most
/// <see cref="MaxReadsPerTurn"/> reads, then it queues itself behind the others), handles every whole message, and
/// leaves the interest to its pool thread, which waits for the peer's next message itself while it has nothing else to
/// do (<see cref="ConnectionWorkers.LingerMs"/>) and arms it again once other work comes. The receive buffer is rented while a message is incomplete or a turn reads, and goes back
/// to the pool when a turn leaves nothing buffered (an idle connection holds none).</para>
/// <para><b>Writing</b>: a message queued while nothing is (a reply) is still written at once by its queueing thread;
/// otherwise the turn writes the queue (<see cref="FlushNow"/>), coalesced as the send loop does, with sends that never
/// block. What the socket does not take waits first in line, and a write interest brings the next turn once the socket
/// has room. A long reply waiting for room (<see cref="WaitForRoom"/>) and the close's last flush do block their
/// turn: they wait for the socket with poll(2), telling the pool, which may run the others' turns on an extra thread
/// meanwhile.</para>
/// <para><b>Closing</b>: <see cref="Close"/> from any thread queues a finishing turn; it counts what was not
/// delivered, returns the buffers and completes <see cref="Completion"/>'s close report, after any turn in progress.</para>
/// </remarks>
public sealed partial class OfConnection : SocketReadiness.ITarget, ConnectionWorkers.IWork
{
    private const int WorkRead = 1, WorkFlush = 2, WorkFinish = 4;

    /// <summary>Reads one turn makes before it lets the other connections' turns go first.</summary>
    internal const int MaxReadsPerTurn = 4;

    // A plain channel on Linux: turns on the pool; otherwise (TLS) a receive loop and a send loop on threads of their own.
    private readonly bool _pooled;
    private int _work, _owned, _finished, _writeArmed;
    // The turn read all there was and left the readable interest to its pool thread (which lingers, then arms it).
    private bool _lingerWanted;
    private SocketReadiness.Interest? _readInterest, _writeInterest;
    private readonly TaskCompletionSource _turnsDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private byte[]? _rxBuf;
    private int _rxStart, _rxEnd;

    /// <summary>The coalescing buffer of a pool thread's writes (each pool thread its own, kept for its life).</summary>
    [ThreadStatic]
    private static byte[]? s_sendBuffer;

    /// <summary>Whether this connection runs as turns on <see cref="ConnectionWorkers"/> (a plain channel), not on threads of its own.</summary>
    internal bool Pooled => _pooled;

    private void StartTurns()
    {
        _readInterest = new SocketReadiness.Interest(_transport.Socket, this, write: false);
        _writeInterest = new SocketReadiness.Interest(_transport.Socket, this, write: true);
        _run = _turnsDone.Task.ContinueWith(_ => OnClosed(), TaskScheduler.Default);
        // The first turn handles what the opening phase read, then reads or arms the readable interest.
        Schedule(WorkRead | WorkFlush);
    }

    void SocketReadiness.ITarget.OnReady(SocketReadiness.Interest interest)
    {
        if (interest.Write)
        {
            Volatile.Write(ref _writeArmed, 0);
            Schedule(WorkFlush);
        }
        else
        {
            Schedule(WorkRead);
        }
    }

    /// <summary>Adds <paramref name="work"/> and queues a turn unless one is queued or running (it will see the work).</summary>
    private void Schedule(int work)
    {
        Interlocked.Or(ref _work, work);
        if (Interlocked.CompareExchange(ref _owned, 1, 0) == 0) ConnectionWorkers.Shared.Enqueue(this);
    }

    bool ConnectionWorkers.IWork.RunTurn()
    {
        while (true)
        {
            int work = Interlocked.Exchange(ref _work, 0);
            bool more = work != 0 && Turn(work);
            bool linger = _lingerWanted;
            _lingerWanted = false;
            Interlocked.Exchange(ref _owned, 0);
            if (more)
            {
                // More to read: behind the connections already waiting.
                Schedule(WorkRead);
                return false;
            }
            // Work added after the exchange above found the connection still owned and did not queue it: take it here
            // (a read is not among it: the readable interest is not armed, this turn holds it).
            if (Volatile.Read(ref _work) == 0 || Interlocked.CompareExchange(ref _owned, 1, 0) != 0) return linger;
            _lingerWanted = linger;
        }
    }

    bool ConnectionWorkers.IWork.TryLinger(int wakeFd, int timeoutMs) => IsOpen && _transport.WaitReadable(wakeFd, timeoutMs);

    bool ConnectionWorkers.IWork.EndLinger(bool readable)
    {
        if (!readable)
        {
            SocketReadiness.Shared.Arm(_readInterest!);
            return false;
        }
        // The caller runs the turn unless one is queued or running (which then sees the read).
        Interlocked.Or(ref _work, WorkRead);
        return Interlocked.CompareExchange(ref _owned, 1, 0) == 0;
    }

    /// <summary>One turn; true when the socket may hold more to read.</summary>
    private bool Turn(int work)
    {
        bool more = false;
        try
        {
            if (IsOpen && (work & WorkRead) != 0) more = ReadTurn();
            if (IsOpen && (work & WorkFlush) != 0 && !FlushNow()) Close();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException or AuthenticationException or OperationCanceledException)
        {
            Close();
        }
        catch (Exception e)
        {
            _log.LogError(e, "{Conn}: unexpected error; closing", Name);
            Close();
        }
        if (IsOpen) return more;
        Finish();
        return false;
    }

    /// <summary>Reads and handles what the socket holds; true when it may hold more (the turn's reads ran out).</summary>
    private bool ReadTurn()
    {
        // Pooled: a connection's buffers are large (the large-object heap), and tools connect often.
        var buf = _rxBuf ??= s_buffers.Rent(Math.Max(MinReceiveBufferSize, _owner.Options.MaxMessageSize) * 2);
        if (_initial is { } first)
        {
            // What the opening phase read: the peer's first message, perhaps more.
            Buffer.BlockCopy(first, 0, buf, 0, _initialCount);
            _rxEnd = _initialCount;
            _initial = null;
            if (FrameLoop(buf, ref _rxStart, _rxEnd))
            {
                Close();
                return false;
            }
        }
        for (int reads = 0; reads < MaxReadsPerTurn; reads++)
        {
            if (!IsOpen) return false;
            if (_rxStart > 0 && (_rxEnd == buf.Length || _rxStart == _rxEnd))
            {
                Buffer.BlockCopy(buf, _rxStart, buf, 0, _rxEnd - _rxStart);
                _rxEnd -= _rxStart;
                _rxStart = 0;
            }
            int n = _transport.TryReceiveNow(buf.AsSpan(_rxEnd));
            if (n == -1)
            {
                // Nothing more for now: an idle connection keeps no buffer, and waits on the readiness thread.
                if (_rxStart == _rxEnd)
                {
                    _rxBuf = null;
                    _rxStart = _rxEnd = 0;
                    s_buffers.Return(buf);
                }
                _lingerWanted = true;
                return false;
            }
            if (n <= 0)
            {
                // The end of the stream, or the channel failed.
                Close();
                return false;
            }
            _rxEnd += n;
            if (FrameLoop(buf, ref _rxStart, _rxEnd))
            {
                Close();
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Writes what is queued without blocking, coalesced into the pool thread's buffer (a message larger than it on its
    /// own); what the socket does not take stays first in line and arms the writable interest. False when the channel
    /// failed (the caller closes).
    /// </summary>
    private bool FlushNow()
    {
        var buf = s_sendBuffer ??= s_buffers.Rent(SendBufferSize);
        using var writing = _writeLock.EnterScope();
        while (IsOpen)
        {
            if (_pendingHead is { } head)
            {
                int sent = _transport.TrySendNow(head.Bytes.AsSpan(head.Offset, head.Count));
                if (sent < 0) return false;
                long packetIn = Math.Min(_pendingPacketIn, sent);
                _pendingPacketIn -= packetIn;
                Written(sent, packetIn);
                if (sent < head.Count)
                {
                    _pendingHead = head with { Offset = head.Offset + sent, Count = head.Count - sent };
                    ArmWritable();
                    return true;
                }
                _pendingHead = null;
                head.Release();
            }
            var queue = Volatile.Read(ref _out);
            if (queue is null || !queue.TryPeek(out var next)) return true;
            if (next.Count > buf.Length)
            {
                // Written on its own, from its own array (only this turn takes from the queue: the peek is still first).
                queue.TryDequeue(out _);
                _pendingHead = next;
                _pendingPacketIn = next.PacketIn ? next.Count : 0;
                continue;
            }
            int used = 0, usedPacketIn = 0;
            while (queue.TryPeek(out var m) && m.Count <= buf.Length - used)
            {
                queue.TryDequeue(out _);
                Buffer.BlockCopy(m.Bytes, m.Offset, buf, used, m.Count);
                used += m.Count;
                if (m.PacketIn) usedPacketIn += m.Count;
                m.Release();
            }
            int n = _transport.TrySendNow(buf.AsSpan(0, used));
            // A failed channel loses the coalesced bytes, as a send loop's failed write does.
            if (n < 0) return false;
            long inSent = Math.Min(usedPacketIn, n);
            Written(n, inSent);
            if (n < used)
            {
                // The rest waits first in line, in an array of its own (the coalescing buffer is the thread's).
                var rest = s_buffers.Rent(used - n);
                Buffer.BlockCopy(buf, n, rest, 0, used - n);
                _pendingHead = new Outgoing(rest, 0, used - n, Pooled: true, OutKind.Reply);
                _pendingPacketIn = usedPacketIn - inSent;
                ArmWritable();
                return true;
            }
        }
        return true;
    }

    /// <summary>Asks the readiness thread for a turn once the socket has room (once: an armed interest is not armed again).</summary>
    private void ArmWritable()
    {
        if (Interlocked.Exchange(ref _writeArmed, 1) == 0) SocketReadiness.Shared.Arm(_writeInterest!);
    }

    /// <summary><see cref="WaitForRoom"/> in a turn: writes the queue itself, waiting for the socket's room with poll(2) between writes.</summary>
    private bool WaitForRoomInTurn(long limit)
    {
        while (IsOpen)
        {
            if (ReplyBytes <= limit) return true;
            if (!FlushNow())
            {
                Close();
                return false;
            }
            if (ReplyBytes <= limit) return true;
            WaitWritable(100);
        }
        return false;
    }

    /// <summary>Waits (a turn's thread, telling the pool) until the socket has room, at most <paramref name="timeoutMs"/>.</summary>
    private void WaitWritable(int timeoutMs)
    {
        var pool = ConnectionWorkers.Shared;
        pool.BeginBlocking();
        try
        {
            _transport.WaitWritable(timeoutMs);
        }
        finally
        {
            pool.EndBlocking();
        }
    }

    /// <summary>A turn's last flush before closing: a final error gets a moment to reach the peer (at most half a second).</summary>
    private void FlushInTurnAndClose()
    {
        for (int i = 0; i < 50 && IsOpen && Interlocked.Read(ref _queuedBytes) > 0; i++)
        {
            if (!FlushNow()) break;
            if (Interlocked.Read(ref _queuedBytes) > 0) WaitWritable(10);
        }
        Close();
    }

    /// <summary>Once closed, after the last turn: what was not delivered is counted, the buffers go back, the close is reported.</summary>
    private void Finish()
    {
        if (Interlocked.Exchange(ref _finished, 1) != 0) return;
        Undelivered();
        if (_rxBuf is { } b)
        {
            _rxBuf = null;
            s_buffers.Return(b);
        }
        _turnsDone.TrySetResult();
    }
}
