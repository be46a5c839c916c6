using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Softswitch.OfAgent.Wire;

namespace Softswitch.OfAgent.Session;

/// <summary>
/// One OpenFlow channel to a controller or a tool (ovs-ofctl): framing, HELLO negotiation, keepalive, and a
/// bounded send queue.
/// </summary>
/// <remarks>
/// Design (Kestrel's SocketConnection): one receive loop reading a <see cref="PipeReader"/> over the socket,
/// framing on the 8-byte ofp_header and bounding the length before buffering, and one send loop draining a
/// channel. Requests are handled in arrival order on the receive loop, so a BARRIER_REPLY is queued only after
/// every earlier request took effect. Asynchronous messages (packet-in) are dropped and counted once the
/// queued bytes pass <see cref="AgentOptions.SendQueueSoftLimit"/>; past the hard limit the peer is not reading
/// at all and the connection is closed, so a slow controller never makes memory grow without bound.
/// </remarks>
public sealed class OfConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly OfSwitchAgent _agent;
    private readonly ILogger _log;
    private readonly Channel<byte[]> _out = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _cts = new();
    private long _queuedBytes;
    private long _lastRxTicks;
    private bool _helloReceived;
    private Task? _run;
    private uint _xid = 0x5353_0000;

    public OfConnection(Socket socket, OfSwitchAgent agent, bool primary, string name, ILogger log)
    {
        _socket = socket;
        _agent = agent;
        IsPrimary = primary;
        Name = name;
        _log = log;
        _lastRxTicks = Environment.TickCount64;
    }

    public string Name { get; }
    /// <summary>A controller connection (receives asynchronous messages and decides the fail mode), not a tool's.</summary>
    public bool IsPrimary { get; }
    public bool IsOpen => !_cts.IsCancellationRequested;
    public bool Negotiated => _helloReceived;
    public long PacketInsDropped;
    public long MessagesReceived;
    public Task Completion => _run ?? Task.CompletedTask;

    public void Start()
    {
        _socket.NoDelay = true;
        Send(new OfpHello { Xid = NextXid() });
        _run = Task.WhenAll(Task.Run(ReceiveLoop), Task.Run(SendLoop), Task.Run(KeepaliveLoop)).ContinueWith(_ => OnClosed(), TaskScheduler.Default);
    }

    public uint NextXid() => Interlocked.Increment(ref _xid);

    /// <summary>Queues a reply or request (never dropped; past the hard limit the connection closes).</summary>
    public void Send(OfpMessage msg) => Enqueue(msg.ToArray(), droppable: false);

    /// <summary>Queues an asynchronous message; false when dropped because the peer is behind.</summary>
    public bool SendAsync(OfpMessage msg) => Enqueue(msg.ToArray(), droppable: true);

    public void SendRaw(byte[] bytes) => Enqueue(bytes, droppable: false);

    private bool Enqueue(byte[] bytes, bool droppable)
    {
        if (!IsOpen) return false;
        long q = Interlocked.Read(ref _queuedBytes);
        if (droppable && q > _agent.Options.SendQueueSoftLimit)
        {
            Interlocked.Increment(ref PacketInsDropped);
            return false;
        }
        if (q > _agent.Options.SendQueueHardLimit)
        {
            _log.LogWarning("{Conn}: peer is not reading ({Bytes} bytes queued); closing", Name, q);
            Close();
            return false;
        }
        Interlocked.Add(ref _queuedBytes, bytes.Length);
        return _out.Writer.TryWrite(bytes);
    }

    private async Task SendLoop()
    {
        try
        {
            var reader = _out.Reader;
            while (await reader.WaitToReadAsync(_cts.Token).ConfigureAwait(false))
            {
                while (reader.TryRead(out var bytes))
                {
                    int sent = 0;
                    while (sent < bytes.Length)
                        sent += await _socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None, _cts.Token).ConfigureAwait(false);
                    Interlocked.Add(ref _queuedBytes, -bytes.Length);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            Close();
        }
    }

    private async Task ReceiveLoop()
    {
        var stream = new NetworkStream(_socket, ownsSocket: false);
        var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 65536));
        try
        {
            while (!_cts.IsCancellationRequested)
            {
                var result = await reader.ReadAsync(_cts.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                while (true)
                {
                    var st = OfpFraming.TryGetFrame(buffer, out var header, out int len, _agent.Options.MaxMessageSize);
                    if (st == OfpFrameStatus.Incomplete) break;
                    if (st == OfpFrameStatus.Invalid)
                    {
                        // A length below 8 (or above what we accept) leaves no way to find the next message.
                        var head = buffer.Slice(0, Math.Min(buffer.Length, 64)).ToArray();
                        SendRaw(OfpErrorMsg.ForRequest(OfpError.BadRequest(OfpBadRequestCode.BadLen), head).ToArray());
                        _log.LogWarning("{Conn}: malformed stream (message length {Len}); closing", Name, header.Length);
                        await FlushAndClose().ConfigureAwait(false);
                        return;
                    }
                    var frame = buffer.Slice(0, len);
                    byte[] msg = frame.ToArray();
                    buffer = buffer.Slice(len);
                    Volatile.Write(ref _lastRxTicks, Environment.TickCount64);
                    MessagesReceived++;
                    if (!Handle(msg))
                    {
                        reader.AdvanceTo(buffer.Start);
                        await FlushAndClose().ConfigureAwait(false);
                        return;
                    }
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted) break;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
        }
        catch (Exception e)
        {
            _log.LogError(e, "{Conn}: unexpected error; closing", Name);
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
            Close();
        }
    }

    /// <summary>Handles one framed message; false closes the connection.</summary>
    private bool Handle(byte[] msg)
    {
        OfpHeader.TryRead(msg, out var header);
        if (!_helloReceived)
        {
            if (header.Type == OfpType.Hello)
            {
                if (header.Version < OfpConstants.Version)
                {
                    SendRaw(OfpErrorMsg.ForRequest(OfpError.HelloFailed(OfpHelloFailedCode.Incompatible), msg).ToArray());
                    _log.LogWarning("{Conn}: peer HELLO version {Version} is below 1.0; closing", Name, header.Version);
                    return false;
                }
                _helloReceived = true;
                _log.LogInformation("{Conn}: negotiated OpenFlow 1.0 (peer offered version 0x{Version:x2})", Name, header.Version);
                _agent.OnNegotiated(this);
                return true;
            }
            // Tolerate a peer that starts without HELLO if it speaks 1.0; anything else cannot be understood.
            if (header.Version != OfpConstants.Version)
            {
                SendRaw(OfpErrorMsg.ForRequest(OfpError.HelloFailed(OfpHelloFailedCode.Incompatible), msg).ToArray());
                return false;
            }
            _helloReceived = true;
            _agent.OnNegotiated(this);
        }
        if (header.Type == OfpType.Hello) return true; // a repeated HELLO is harmless
        _agent.Dispatch(this, msg);
        return true;
    }

    private async Task KeepaliveLoop()
    {
        var probe = _agent.Options.InactivityProbe;
        if (probe <= TimeSpan.Zero) return;
        try
        {
            while (!_cts.IsCancellationRequested)
            {
                await Task.Delay(probe / 2, _cts.Token).ConfigureAwait(false);
                long idle = Environment.TickCount64 - Volatile.Read(ref _lastRxTicks);
                if (idle > 2 * probe.TotalMilliseconds)
                {
                    _log.LogWarning("{Conn}: no answer for {Seconds:F1} s; closing", Name, idle / 1000.0);
                    Close();
                    return;
                }
                if (idle > probe.TotalMilliseconds) Send(new OfpEchoRequest { Xid = NextXid() });
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task FlushAndClose()
    {
        // Give the send loop a moment to deliver a final error before closing.
        for (int i = 0; i < 50 && Interlocked.Read(ref _queuedBytes) > 0; i++) await Task.Delay(10).ConfigureAwait(false);
        Close();
    }

    public void Close()
    {
        if (_cts.IsCancellationRequested) return;
        try { _cts.Cancel(); } catch (ObjectDisposedException) { }
        _out.Writer.TryComplete();
        try { _socket.Shutdown(SocketShutdown.Both); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        _socket.Dispose();
    }

    private void OnClosed()
    {
        _log.LogInformation("{Conn}: connection closed", Name);
        _agent.OnClosed(this);
    }

    public async ValueTask DisposeAsync()
    {
        Close();
        if (_run is not null) await _run.ConfigureAwait(false);
        _cts.Dispose();
    }
}
