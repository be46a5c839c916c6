using System.Net;
using System.Net.Sockets;
using Softswitch.OfWire.Of10;

namespace Softswitch.E2E.Tests;

/// <summary>
/// A small OpenFlow 1.0 controller for end-to-end scenarios, built on the project's codec: it listens on a private
/// loopback port, accepts the daemon's active connection (`--controller tcp:127.0.0.1:PORT`), does HELLO,
/// FEATURES_REQUEST and SET_CONFIG, and then sends and receives whatever the scenario needs. Echo requests are
/// answered while waiting; messages a wait does not ask for are kept in <see cref="Seen"/>.
/// </summary>
internal sealed class OfTestController : IDisposable
{
    private readonly TcpListener _listener;
    private Socket? _s;
    private readonly byte[] _buf = new byte[1 << 17];
    private int _start, _end;
    private uint _xid = 1000;
    private readonly Lock _sendLock = new();
    private Thread? _reader;
    private volatile bool _stopReader;
    private readonly Dictionary<OfpType, long> _counts = new();
    private Exception? _readerFailure;

    public readonly List<OfpMessage> Seen = new();
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
    public string Target => $"tcp:127.0.0.1:{Port}";
    public OfpFeaturesReply? Features { get; private set; }

    public OfTestController()
    {
        _listener = new TcpListener(IPAddress.Loopback, SwitchProcess.FreePort());
        _listener.Start(1);
    }

    /// <summary>
    /// Accepts the switch and completes the handshake (miss_send_len <paramref name="missSendLen"/>). A connection the
    /// switch gave up on before it was accepted (its connect timer fired first on a loaded machine, and it will connect
    /// again) is closed by the time the handshake runs: it is dropped and the next one taken, as a controller does.
    /// </summary>
    public void Accept(ushort missSendLen = 128, int timeoutMs = 20_000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (true)
        {
            var accept = _listener.AcceptSocketAsync();
            int wait = Math.Max(0, (int)(deadline - DateTime.UtcNow).TotalMilliseconds);
            if (!accept.Wait(wait)) throw new TimeoutException("the switch did not connect to the controller");
            _s = accept.Result;
            _s.NoDelay = true;
            _start = _end = 0;
            try
            {
                Send(new OfpHello());
                Receive<OfpHello>();
                break;
            }
            catch (Exception e) when (e is SocketException or InvalidOperationException && DateTime.UtcNow < deadline)
            {
                Console.WriteLine($"OfTestController: a connection closed before its hello ({e.Message}); taking the next");
                _s.Dispose();
            }
        }
        Send(new OfpFeaturesRequest());
        Features = Receive<OfpFeaturesReply>();
        Send(new OfpSetConfig { MissSendLen = missSendLen });
        Barrier();
    }

    public uint Send(OfpMessage m)
    {
        lock (_sendLock)
        {
            if (m.Xid == 0) m.Xid = ++_xid;
            _s!.Send(m.ToArray());
            return m.Xid;
        }
    }

    /// <summary>BARRIER_REQUEST, then waits for its reply (everything before it has taken effect).</summary>
    public void Barrier(int timeoutMs = 10_000)
    {
        uint x = Send(new OfpBarrierRequest());
        Receive<OfpBarrierReply>(m => m.Xid == x, timeoutMs);
    }

    /// <summary>The next message of type <typeparamref name="T"/> matching <paramref name="match"/>; an OFPT_ERROR fails.</summary>
    public T Receive<T>(Func<T, bool>? match = null, int timeoutMs = 10_000) where T : OfpMessage
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (true)
        {
            var m = ReceiveAny(deadline) ?? throw new TimeoutException($"no {typeof(T).Name} from the switch; seen: {string.Join(", ", Seen.Select(s => s.Type))}");
            if (m is T t && (match is null || match(t))) return t;
            if (m is OfpErrorMsg e && typeof(T) != typeof(OfpErrorMsg))
                throw new InvalidOperationException($"switch sent error {e.ErrorType}/{e.Code} for xid {e.Xid}");
            Seen.Add(m);
        }
    }

    /// <summary>
    /// Reads on a thread of its own until <see cref="StopReading"/>: answers echo requests (so a long operation on
    /// another connection does not make the switch drop this one) and only counts what arrives, by type, without
    /// keeping it (a mass delete sends a million FLOW_REMOVED).
    /// </summary>
    public void StartReading()
    {
        _stopReader = false;
        _reader = new Thread(() =>
        {
            try
            {
                while (!_stopReader)
                {
                    var m = ReceiveAny(DateTime.UtcNow.AddMilliseconds(200));
                    if (m is null) continue;
                    lock (_counts) _counts[m.Type] = _counts.GetValueOrDefault(m.Type) + 1;
                }
            }
            catch (Exception e)
            {
                _readerFailure = e;
            }
        }) { IsBackground = true, Name = "of-test-controller" };
        _reader.Start();
    }

    /// <summary>Stops the reading thread; rethrows what ended it early (the switch closing the connection).</summary>
    public void StopReading()
    {
        _stopReader = true;
        _reader?.Join();
        _reader = null;
        if (_readerFailure is { } e) throw new InvalidOperationException("the controller connection failed while reading", e);
    }

    /// <summary>Messages of <paramref name="type"/> counted by <see cref="StartReading"/>.</summary>
    public long Count(OfpType type)
    {
        lock (_counts) return _counts.GetValueOrDefault(type);
    }

    private OfpMessage? ReceiveAny(DateTime deadline)
    {
        while (true)
        {
            int have = _end - _start;
            if (have >= 8)
            {
                int len = (_buf[_start + 2] << 8) | _buf[_start + 3];
                if (have >= len)
                {
                    var raw = _buf.AsSpan(_start, len).ToArray();
                    _start += len;
                    if (!OfpMessage.TryDecode(raw, out var m, out var err))
                        throw new InvalidOperationException($"switch sent an undecodable message ({err}): {Convert.ToHexString(raw)}");
                    if (m is OfpEchoRequest echo)
                    {
                        Send(new OfpEchoReply { Xid = echo.Xid, Data = echo.Data });
                        continue;
                    }
                    return m;
                }
            }
            int wait = (int)(deadline - DateTime.UtcNow).TotalMilliseconds;
            if (wait <= 0) return null;
            if (_start > 0)
            {
                _buf.AsSpan(_start, have).CopyTo(_buf);
                _start = 0;
                _end = have;
            }
            _s!.ReceiveTimeout = wait;
            int n;
            try { n = _s.Receive(_buf, _end, _buf.Length - _end, SocketFlags.None); }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut) { return null; }
            if (n == 0) throw new InvalidOperationException("the switch closed the controller connection");
            _end += n;
        }
    }

    public void Dispose()
    {
        _stopReader = true;
        _reader?.Join(1000);
        _s?.Dispose();
        _listener.Stop();
    }
}
