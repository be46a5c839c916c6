using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.Extensions.Logging;
using Softswitch.OfWire.Of10;

namespace Softswitch.OfAgent.Session;

/// <summary>The send queue of a connection (its two accounts, the TLS send loop and the plain connection's writes: see the type's remarks).</summary>
public sealed partial class OfConnection
{
    // Made on first use: a tool's connection whose replies all go out at once from their queueing thread never needs
    // one, and a queue's first segment is the largest object a connection would otherwise make.
    private System.Collections.Concurrent.ConcurrentQueue<Outgoing>? _out;
    private readonly ManualResetEventSlim _outSignal = new(false, spinCount: 1); // a TLS connection's send loop's
    private readonly Lock _writeLock = new();
    // Under _writeLock: the unsent rest of a message written in part by its queueing thread (or, on a plain connection,
    // of a coalesced write the socket took in part), and the packet-in bytes still in it.
    private Outgoing? _pendingHead;
    private long _pendingPacketIn;
    private long _queuedBytes;   // every queued byte not yet written, of all kinds
    private long _packetInBytes; // the packet-ins among them
    private readonly ManualResetEventSlim _drained = new(true);
    /// <summary>Bytes the send loop coalesces into one write (a larger message is written on its own).</summary>
    private const int SendBufferSize = 256 * 1024;

    /// <summary>Queues a reply or request (never dropped; past the hard limit the connection closes).</summary>
    public void Send(OfpMessage msg) => Enqueue(msg.ToArray());

    /// <summary>
    /// Queues FLOW_REMOVED or PORT_STATUS: accounted as a reply, never dropped (false only when the connection is
    /// closed, or closes because the queue passed the hard limit).
    /// </summary>
    public bool SendNotification(OfpMessage msg) => SendNotification(msg.ToArray());

    /// <summary>As <see cref="SendNotification(OfpMessage)"/>, for a whole encoded message (shared by the connections it goes to, never changed).</summary>
    public bool SendNotification(byte[] msg) => Enqueue(new Outgoing(msg, 0, msg.Length, Pooled: false, OutKind.Notification));

    public void SendRaw(byte[] bytes) => Enqueue(bytes);

    /// <summary>
    /// Queues the first <paramref name="count"/> bytes of an array rented from <see cref="MessagePool"/> (a
    /// reply, never dropped); the connection returns the array to the pool once written (or drops it when it closes).
    /// </summary>
    public void SendPooled(byte[] rented, int count) => Enqueue(new Outgoing(rented, 0, count, Pooled: true, OutKind.Reply));

    /// <summary>
    /// As <see cref="SendPooled"/>, for a PACKET_IN: dropped and counted in <see cref="PacketInsDropped"/> (the array
    /// returned) when the packet-ins queued to this peer are past <see cref="AgentOptions.PacketInQueueLimit"/>.
    /// </summary>
    public bool SendPacketInPooled(byte[] rented, int count) => Enqueue(new Outgoing(rented, 0, count, Pooled: true, OutKind.PacketIn));

    /// <summary>
    /// A queued message: Bytes[Offset..Offset+Count), whether the array goes back to <see cref="MessagePool"/> once
    /// written, and its kind. Offset is not 0 only for the rest of a message its queueing thread wrote in part.
    /// </summary>
    private readonly record struct Outgoing(byte[] Bytes, int Offset, int Count, bool Pooled, OutKind Kind)
    {
        /// <summary>A packet-in: its own account.</summary>
        public bool PacketIn => Kind == OutKind.PacketIn;

        public void Release()
        {
            if (Pooled) s_buffers.Return(Bytes);
        }
    }

    /// <summary>
    /// What a queued message is: a reply or request of ours, a FLOW_REMOVED or PORT_STATUS (counted when lost), a
    /// PACKET_IN (its own account), or the keepalive's ECHO_REQUEST (which starts no wait for the peer: an idle peer
    /// must answer it).
    /// </summary>
    private enum OutKind : byte
    {
        Reply,
        Notification,
        PacketIn,
        Probe,
    }

    private bool Enqueue(byte[] bytes) => Enqueue(new Outgoing(bytes, 0, bytes.Length, Pooled: false, OutKind.Reply));

    private bool Enqueue(Outgoing m)
    {
        if (!IsOpen)
        {
            m.Release();
            return false;
        }
        var options = _owner.Options;
        if (m.PacketIn && Interlocked.Read(ref _packetInBytes) > options.PacketInQueueLimit)
        {
            Interlocked.Increment(ref PacketInsDropped);
            m.Release();
            return false;
        }
        long q = Interlocked.Read(ref _queuedBytes);
        if (q > options.SendQueueHardLimit)
        {
            _log.LogWarning("{Conn}: {Bytes} bytes queued, past the send queue's hard limit; closing", Name, q);
            Close();
            m.Release();
            return false;
        }
        if (q == 0 && _transport.CanSendNow && _writeLock.TryEnter())
        {
            try
            {
                // Nothing queued and nothing being written (the send loop writes under the lock): this message is next.
                if (Interlocked.Read(ref _queuedBytes) == 0)
                {
                    int sent = _transport.TrySendNow(m.Bytes.AsSpan(m.Offset, m.Count));
                    if (sent == m.Count)
                    {
                        m.Release();
                        return true;
                    }
                    if (sent >= 0)
                    {
                        // The rest stays in the message's own array (a pooled one goes back once the send loop wrote it).
                        var rest = m with { Offset = m.Offset + sent, Count = m.Count - sent };
                        Queued(rest);
                        _pendingHead = rest;
                        _pendingPacketIn = rest.PacketIn ? rest.Count : 0;
                        Signal();
                        return true;
                    }
                    // The channel failed: queue it; the send loop meets the failure and closes.
                }
            }
            finally
            {
                _writeLock.Exit();
            }
        }
        Queued(m);
        (Volatile.Read(ref _out) ?? MakeQueue()).Enqueue(m);
        Signal();
        return true;
    }

    /// <summary>Bytes are queued: a plain connection's turn writes them (<see cref="FlushNow"/>), a TLS one's send loop.</summary>
    private void Signal()
    {
        if (_pooled) Schedule(WorkFlush);
        else _outSignal.Set();
    }

    /// <summary>Counts a message about to be queued in its account (before the send loop can see it).</summary>
    private void Queued(in Outgoing m)
    {
        long total = Interlocked.Add(ref _queuedBytes, m.Count);
        // Bytes begin to wait now: the peer's time to take them starts here, not at its last message (but not for our
        // echo request, which the peer must answer).
        if (total == m.Count && m.Kind != OutKind.Probe) Volatile.Write(ref _lastTxTicks, Now());
        if (m.PacketIn) Interlocked.Add(ref _packetInBytes, m.Count);
        else if (total - Interlocked.Read(ref _packetInBytes) > _owner.Options.ReplyQueueLimit) _drained.Reset();
    }

    /// <summary>Queued bytes of every kind not yet written (diagnostics, tests).</summary>
    internal long QueuedBytes => Interlocked.Read(ref _queuedBytes);

    /// <summary>Queued bytes of replies, FLOW_REMOVED and PORT_STATUS (what paces the peer).</summary>
    private long ReplyBytes => Interlocked.Read(ref _queuedBytes) - Interlocked.Read(ref _packetInBytes);

    /// <summary>One pooled part of a long reply, sent once there is room (<see cref="WaitForRoom"/>); false, with the part
    /// given back to the pool, when the connection closed meanwhile.</summary>
    public bool SendPooledWhenRoom(byte[] rented, int count)
    {
        if (!WaitForRoom())
        {
            MessagePool.Return(rented);
            return false;
        }
        SendPooled(rented, count);
        return true;
    }

    /// <summary>
    /// Blocks (this connection's receive loop or turn: before it handles the next message, and inside a long reply
    /// before each part) until the queued replies are below <see cref="AgentOptions.ReplyQueueLimit"/>; false when the
    /// connection closed meanwhile (the keepalive closes a peer that takes none of them, so this never waits for good).
    /// A plain connection's turn writes the queue itself meanwhile (no other thread may run its turn).
    /// </summary>
    public bool WaitForRoom()
    {
        long limit = _owner.Options.ReplyQueueLimit;
        if (_pooled) return WaitForRoomInTurn(limit);
        while (IsOpen)
        {
            if (ReplyBytes <= limit) return true;
            // A timed wait: a reset racing with the set of a write that drained the queue costs one interval, not a hang.
            try { _drained.Wait(100, _cts.Token); }
            catch (OperationCanceledException) { return false; }
        }
        return false;
    }

    private System.Collections.Concurrent.ConcurrentQueue<Outgoing> MakeQueue()
    {
        Interlocked.CompareExchange(ref _out, new(), null);
        return _out!;
    }

    /// <summary>The send loop wrote <paramref name="bytes"/>, <paramref name="packetInBytes"/> of them packet-ins.</summary>
    private void Written(long bytes, long packetInBytes)
    {
        if (packetInBytes != 0) Interlocked.Add(ref _packetInBytes, -packetInBytes);
        long total = Interlocked.Add(ref _queuedBytes, -bytes);
        if (total - Interlocked.Read(ref _packetInBytes) <= _owner.Options.ReplyQueueLimit) _drained.Set();
    }

    /// <summary>
    /// A TLS connection's send loop, on a dedicated thread with blocking writes (the socket stays in blocking mode). It coalesces
    /// whatever is queued into one write: ovs-ofctl add-flows sends a barrier after every flow-mod, and a reply
    /// per syscall would make the replies, not the flow-mods, the bottleneck.
    /// </summary>
    private void SendLoop()
    {
        var buf = s_buffers.Rent(SendBufferSize);
        try
        {
            while (true)
            {
                // Close sets the signal after cancelling: the loop ends without an exception per connection (tools
                // connect per command, and each thrown exception is garbage). The check follows the reset: a Close
                // that cancels after the check sets the signal after the reset, so the next wait returns at once.
                _outSignal.Wait();
                _outSignal.Reset();
                if (_cts.IsCancellationRequested) return;
                using var writing = _writeLock.EnterScope();
                if (_pendingHead is { } head)
                {
                    _pendingHead = null;
                    SendAll(head.Bytes, head.Offset, head.Count);
                    Written(head.Count, head.PacketIn ? head.Count : 0);
                    head.Release();
                }
                int used = 0, usedPacketIn = 0;
                var queue = Volatile.Read(ref _out);
                while (queue is not null && queue.TryDequeue(out var m))
                {
                    if (used + m.Count > buf.Length)
                    {
                        SendAll(buf, 0, used);
                        Written(used, usedPacketIn);
                        used = usedPacketIn = 0;
                    }
                    if (m.Count > buf.Length)
                    {
                        SendAll(m.Bytes, m.Offset, m.Count);
                        Written(m.Count, m.PacketIn ? m.Count : 0);
                    }
                    else
                    {
                        Buffer.BlockCopy(m.Bytes, m.Offset, buf, used, m.Count);
                        used += m.Count;
                        if (m.PacketIn) usedPacketIn += m.Count;
                    }
                    m.Release();
                }
                if (used > 0)
                {
                    SendAll(buf, 0, used);
                    Written(used, usedPacketIn);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException or IOException or AuthenticationException)
        {
        }
        finally
        {
            Close();
            Undelivered();
            s_buffers.Return(buf);
        }
    }

    // Messages still queued when the connection closed (set once its send loop ended): all of them, and the
    // FLOW_REMOVED and PORT_STATUS among them.
    private long _undelivered, _undeliveredNotifications;

    /// <summary>
    /// Once closed: takes every message still queued out of the queue, returning pooled arrays, and counts them; the
    /// FLOW_REMOVED and PORT_STATUS among them are the agent's lost asynchronous messages
    /// (<see cref="OfConnectionManager.AsyncMessagesDropped"/>), as those refused after the close are.
    /// </summary>
    private void Undelivered()
    {
        long all = 0, notifications = 0;
        void Drop(in Outgoing m)
        {
            all++;
            if (m.Kind == OutKind.Notification) notifications++;
            m.Release();
        }
        using (_writeLock.EnterScope())
        {
            if (_pendingHead is { } head)
            {
                _pendingHead = null;
                _pendingPacketIn = 0;
                Drop(head);
            }
            var queue = Volatile.Read(ref _out);
            while (queue is not null && queue.TryDequeue(out var m)) Drop(m);
        }
        Interlocked.Add(ref _undelivered, all);
        Interlocked.Add(ref _undeliveredNotifications, notifications);
        if (notifications > 0) Interlocked.Add(ref _owner.AsyncMessagesDropped, notifications);
    }

    /// <summary>Writes bytes whole, blocking while the peer takes them (it is alive while it takes any: <see cref="Keepalive(long)"/>).</summary>
    private void SendAll(byte[] bytes, int offset, int count) => _transport.Send(bytes, offset, count);
}
