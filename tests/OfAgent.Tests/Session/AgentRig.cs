using System.Net;
using System.Net.Sockets;
using Softswitch.Datapath;
using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Session;

/// <summary>A running agent over a <see cref="DatapathRig"/> (memory ports named memN), listening on a free loopback port.</summary>
internal sealed class AgentRig : DatapathRig, IAsyncDisposable
{
    public readonly Softswitch.Ofproto.OfSwitch Switch;
    public readonly OfSwitchAgent Agent;

    public readonly LogCapture Log = new();

    /// <param name="tables">Options of the OpenFlow table set (e.g. entry recycling); null: the defaults.</param>
    /// <param name="failMode">The switch's fail mode.</param>
    public AgentRig(int ports = 4, AgentOptions? options = null, Softswitch.Ofproto.FlowTableOptions? tables = null,
                    Softswitch.Ofproto.FailMode failMode = Softswitch.Ofproto.FailMode.Secure)
        : base(MemoryPorts(ports, "mem"), new DatapathOptions { PacketInRate = 0 })
    {
        options ??= new AgentOptions();
        // The test controller connects in as a controller (ptcp), unless the test configures its own connections.
        if (options.Listeners.Count == 0 && !options.Controllers.Any(c => c.StartsWith("ptcp:", StringComparison.Ordinal)))
        {
            if (options.Controllers.Count == 0) options.Controllers.Add("ptcp:0");
            else options.Listeners.Add("ptcp:0");
        }
        Switch = new Softswitch.Ofproto.OfSwitch(Dp, new Softswitch.Ofproto.OfSwitchOptions { DatapathId = 0x1234, FailMode = failMode },
                                                 tables is null ? null : new Softswitch.Ofproto.OfFlowTables(Dp, tables), Log);
        Agent = new OfSwitchAgent(Switch, options, Log);
        Agent.Start();
    }

    /// <summary>The TCP port of the first listener.</summary>
    public int ListenPort => Agent.ListenEndpoints[0].Port;

    /// <summary>Receives from memory ports until idle (the datapath's threads are not started; tests drive it).</summary>
    public void Poll() => Dp.PollUntilIdle();

    /// <param name="receiveBufferSize">The controller socket's SO_RCVBUF, set before it connects (0: the system's).</param>
    public async Task<TestController> ConnectAsync(byte helloVersion = 1, int receiveBufferSize = 0) => await ConnectToAsync(ListenPort, helloVersion, receiveBufferSize);

    /// <summary>Connects to listener <paramref name="port"/> (e.g. a service listener of <see cref="OfSwitchAgent.ListenEndpoints"/>).</summary>
    public static async Task<TestController> ConnectToAsync(int port, byte helloVersion = 1, int receiveBufferSize = 0)
    {
        var c = new TestController();
        if (receiveBufferSize > 0) c.ReceiveBufferSize = receiveBufferSize;
        await c.ConnectAsync(port, helloVersion);
        return c;
    }


    public async ValueTask DisposeAsync()
    {
        await Agent.DisposeAsync();
        base.Dispose();
    }

    public override void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}

/// <summary>A minimal OpenFlow 1.0 controller over a real loopback socket, built on the codec.</summary>
internal sealed class TestController : IDisposable
{
    private Socket _s = new(SocketType.Stream, ProtocolType.Tcp);
    private readonly List<byte> _buf = new();
    private Stream? _stream;
    private uint _xid = 100;

    /// <summary>The socket's receive buffer (SO_RCVBUF); set it before connecting for the window to follow.</summary>
    public int ReceiveBufferSize
    {
        get => _s.ReceiveBufferSize;
        set => _s.ReceiveBufferSize = value;
    }

    public async Task ConnectAsync(int port, byte helloVersion)
    {
        await _s.ConnectAsync(IPAddress.Loopback, port);
        await OpenAsync(helloVersion);
    }

    /// <summary>Connects to any endpoint (IPv6, a Unix socket).</summary>
    public async Task ConnectAsync(EndPoint endpoint, byte helloVersion = 1)
    {
        _s.Dispose();
        _s = endpoint is UnixDomainSocketEndPoint ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
                                                  : new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await _s.ConnectAsync(endpoint);
        await OpenAsync(helloVersion);
    }

    /// <summary>Speaks over <paramref name="stream"/> (a TLS stream over a connected socket) instead of the socket.</summary>
    public async Task ConnectAsync(Stream stream, byte helloVersion = 1)
    {
        _stream = stream;
        await OpenAsync(helloVersion);
    }

    private async Task OpenAsync(byte helloVersion)
    {
        var hello = await ReceiveRawAsync() ?? throw new Xunit.Sdk.XunitException("no HELLO from the switch");
        Assert.Equal((byte)OfpType.Hello, hello[1]);
        // The switch offers its versions: a 1.0 HELLO when it speaks only 1.0, else its highest with a version bitmap that includes 1.0.
        Assert.True(hello[0] == 1 || (OfpHelloVersions.TryReadBitmap(hello, out uint bitmap) && (bitmap & 2) != 0), "the switch's HELLO offers no OpenFlow 1.0");
        SendRaw([helloVersion, 0, 0, 8, 0, 0, 0, 1]);
    }

    public uint Send(OfpMessage m)
    {
        m.Xid = ++_xid;
        SendRaw(m.ToArray());
        return m.Xid;
    }

    public void SendRaw(byte[] bytes)
    {
        if (_stream is { } st) st.Write(bytes);
        else _s.Send(bytes);
    }

    /// <summary>The next message (or null when the peer closed or nothing came within the timeout).</summary>
    /// <param name="maxRead">At most this many bytes taken from the socket per read (a slow reader's pace).</param>
    public async Task<byte[]?> ReceiveRawAsync(int timeoutMs = 5000, int maxRead = 65536)
    {
        using var cts = new CancellationTokenSource(timeoutMs);
        var tmp = new byte[maxRead];
        while (true)
        {
            if (_buf.Count >= 8)
            {
                int len = (_buf[2] << 8) | _buf[3];
                if (_buf.Count >= len)
                {
                    var msg = _buf.GetRange(0, len).ToArray();
                    _buf.RemoveRange(0, len);
                    return msg;
                }
            }
            int n;
            try { n = _stream is { } st ? await st.ReadAsync(tmp, cts.Token) : await _s.ReceiveAsync(tmp, SocketFlags.None, cts.Token); }
            catch (OperationCanceledException) { return null; }
            catch (SocketException) { return null; }
            catch (IOException) { return null; }
            if (n == 0) return null;
            _buf.AddRange(tmp.AsSpan(0, n).ToArray());
        }
    }

    /// <summary>The next message that is not an echo request (echo requests are answered).</summary>
    public async Task<OfpMessage> ReceiveAsync(int timeoutMs = 5000)
    {
        while (true)
        {
            var raw = await ReceiveRawAsync(timeoutMs) ?? throw new Xunit.Sdk.XunitException("no message from the switch");
            Assert.True(OfpMessage.TryDecode(raw, out var m, out var err), $"switch sent an undecodable message: {err}");
            if (m is OfpEchoRequest e)
            {
                Send(new OfpEchoReply { Data = e.Data });
                continue;
            }
            return m!;
        }
    }

    public async Task<T> ReceiveAsync<T>(int timeoutMs = 5000) where T : OfpMessage
    {
        var m = await ReceiveAsync(timeoutMs);
        return Assert.IsType<T>(m);
    }

    /// <summary>Sends a barrier and returns every message that arrived before its reply.</summary>
    public async Task<List<OfpMessage>> BarrierAsync()
    {
        uint xid = Send(new OfpBarrierRequest());
        var before = new List<OfpMessage>();
        while (true)
        {
            var m = await ReceiveAsync();
            if (m is OfpBarrierReply br && br.Xid == xid) return before;
            before.Add(m);
        }
    }

    public void Dispose()
    {
        _stream?.Dispose();
        _s.Dispose();
    }
}
