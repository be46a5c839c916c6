using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Sockets;

namespace Softswitch.Tests;

/// <summary>
/// An OpenFlow 1.0 peer for daemon tests: a thread of its own reads every message the switch sends, answers
/// ECHO_REQUEST at once (so the switch's inactivity probe never closes it, however long the test's other steps take
/// on a loaded machine) and keeps the rest for <see cref="WaitFor"/>.
/// </summary>
internal sealed class EchoingPeer : IDisposable
{
    private readonly NetworkStream _stream;
    private readonly BlockingCollection<byte[]> _received = new();
    private readonly Lock _writeLock = new();
    private readonly Thread _reader;

    public EchoingPeer(NetworkStream stream)
    {
        _stream = stream;
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "test OpenFlow peer" };
        _reader.Start();
    }

    public void Send(ReadOnlySpan<byte> message)
    {
        lock (_writeLock) _stream.Write(message);
    }

    /// <summary>The next message of <paramref name="type"/> the switch sent (earlier ones of other types are skipped).</summary>
    public byte[] WaitFor(byte type, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (!_received.TryTake(out var msg, left > TimeSpan.Zero ? left : TimeSpan.Zero))
            {
                Assert.Fail($"no OpenFlow message of type {type} within {timeout.TotalSeconds:0} s (the switch "
                            + (_received.IsAddingCompleted ? "closed the connection)" : "kept it open)"));
            }
            if (msg[1] == type) return msg;
        }
    }

    private void ReadLoop()
    {
        try
        {
            var header = new byte[8];
            while (true)
            {
                _stream.ReadExactly(header);
                int length = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2));
                if (length < 8) return;
                var msg = new byte[length];
                header.CopyTo(msg, 0);
                _stream.ReadExactly(msg, 8, length - 8);
                if (msg[1] == 2)   // ECHO_REQUEST: the reply carries its xid and data
                {
                    var reply = (byte[])msg.Clone();
                    reply[1] = 3;
                    Send(reply);
                    continue;
                }
                _received.Add(msg);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or EndOfStreamException)
        {
        }
        finally
        {
            _received.CompleteAdding();
        }
    }

    public void Dispose()
    {
        _stream.Dispose();
        _reader.Join(TimeSpan.FromSeconds(10));
        _received.Dispose();
    }
}
