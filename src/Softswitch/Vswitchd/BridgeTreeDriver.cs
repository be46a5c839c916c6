using Microsoft.Extensions.Logging;
using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Ports;
using Softswitch.Stp;

namespace Softswitch.Vswitchd;

/// <summary>
/// What a bridge's spanning tree (<see cref="BridgeStp"/>, 802.1D) and rapid spanning tree (<see cref="BridgeRstp"/>,
/// 802.1w) share between their engine and the datapath: the timer that runs a protocol round every
/// <see cref="TickMs"/> ms under one lock, the ring of BPDUs the datapath consumed (<see cref="IBpduSink"/>), the ring of
/// BPDUs the engine sent (framed from the port's address, sent by a packet-out once the round applied the states, so a
/// port's gate opens before a BPDU that needs it goes out), the ports whose datapath state it set, and the stop that
/// opens every gate again.
/// </summary>
/// <remarks>
/// <para>Threads: the timer runs <see cref="RunLocked"/>; the configuration thread calls the derived Configure (under
/// <see cref="Sync"/>); forwarding threads call <see cref="Received"/>, which takes only the receive ring's own short lock
/// (<see cref="ReceivedFrames"/>'s, never held with the other), so a forwarding thread never waits on the protocol.
/// Nothing is allocated per BPDU or per tick (the rings and the packet-out actions are made once).</para>
/// </remarks>
internal abstract class BridgeTreeDriver : IBpduSink, IStpTransmit, IDisposable
{
    public const int TickMs = 100;
    protected const int RxSlots = 64, FrameSize = 128, TxSlots = 64;

    protected readonly SwitchDatapath Dp;
    protected readonly ILogger Log;
    protected readonly string BridgeName;
    protected readonly Lock Sync = new();
    /// <summary>The ports of the datapath this spanning tree has set a state on (participating or excluded).</summary>
    protected readonly HashSet<ushort> Gated = [];
    /// <summary>Engine port → the packet-out that sends its BPDUs (null: the engine port is unused).</summary>
    protected readonly FlowActions?[] Output;

    private readonly ReceivedFrames _received = new(RxSlots, FrameSize);
    private readonly byte[][] _txFrame = new byte[TxSlots][];
    private readonly int[] _txPort = new int[TxSlots];
    private readonly int[] _txSize = new int[TxSlots];
    private int _txCount;
    private readonly byte[] _scratch = new byte[FrameSize];
    private readonly string _roundName;
    private Timer? _timer;
    private long _lastTick;

    protected bool Disposed { get; private set; }

    /// <param name="enginePorts">How many engine port numbers there are (the size of <see cref="Output"/>).</param>
    /// <param name="roundName">What a failed round's log line calls the protocol ("spanning tree").</param>
    protected BridgeTreeDriver(string bridge, SwitchDatapath dp, ILogger log, int enginePorts, string roundName)
    {
        BridgeName = bridge;
        Dp = dp;
        Log = log;
        Output = new FlowActions?[enginePorts];
        _roundName = roundName;
        for (int i = 0; i < TxSlots; i++) _txFrame[i] = new byte[FrameSize];
        _lastTick = Environment.TickCount64;
    }

    /// <summary>Takes the datapath's BPDUs and starts the timer: the derived constructor's last step, once its engine exists.</summary>
    protected void Start()
    {
        Dp.BpduSink = this;
        _timer = new Timer(static s => ((BridgeTreeDriver)s!).Run(), this, TickMs, TickMs);
    }

    /// <summary>BPDUs dropped because the receive ring was full (the protocol is late by more than <see cref="RxSlots"/> BPDUs).</summary>
    public long RxOverflow => _received.Overflow;

    /// <summary>Takes a BPDU the datapath consumed (a forwarding thread): copied into the ring, or counted when it is full.</summary>
    public void Received(PortSlot port, ReadOnlySpan<byte> frame) => _received.Add(port.No, frame);

    /// <summary>The OpenFlow port of engine port <paramref name="enginePort"/> (0: unused).</summary>
    protected abstract ushort OfPort(int enginePort);

    /// <summary>The engine's BPDU for engine port <paramref name="enginePort"/>: framed from the port's address and kept
    /// until the states are applied (see <see cref="SendQueued"/>).</summary>
    void IStpTransmit.Send(int enginePort, ReadOnlySpan<byte> bpdu)
    {
        ushort no = OfPort(enginePort);
        if (_txCount == TxSlots || no == 0) return;
        ulong mac = Dp.Ports.Get(no)?.Port.Info.HwAddr.Value ?? 0;
        _txSize[_txCount] = StpFrame.Write(_txFrame[_txCount], mac, bpdu);
        _txPort[_txCount] = enginePort;
        _txCount++;
    }

    /// <summary>The next BPDU the datapath consumed: its OpenFlow port and whether it parses, with the BPDU itself
    /// (valid until the next call); logged at debug.</summary>
    protected bool TakeReceived(out ushort no, out bool parsed, out ReadOnlySpan<byte> bpdu)
    {
        bpdu = default;
        parsed = false;
        if (!_received.TryTake(_scratch, out no, out int size)) return false;
        parsed = StpFrame.TryGetBpdu(_scratch.AsSpan(0, size), out bpdu);
        if (Log.IsEnabled(LogLevel.Debug))
            Log.LogDebug("bridge {Bridge}: OpenFlow port {Port}: BPDU {Hex}", BridgeName, no, Convert.ToHexString(_scratch, 0, size));
        return true;
    }

    /// <summary>Milliseconds since the last round (at most 10 s, so a stalled timer does not age everything out at once).</summary>
    protected int TakeElapsedMs()
    {
        long now = Environment.TickCount64;
        int ms = (int)Math.Min(now - _lastTick, 10_000);
        _lastTick = now;
        return ms;
    }

    /// <summary>Sends the BPDUs the round's engine queued, through their ports' packet-outs.</summary>
    protected void SendQueued()
    {
        for (int t = 0; t < _txCount; t++)
        {
            if (Output[_txPort[t]] is { } output) Dp.PacketOut(_txFrame[t].AsSpan(0, _txSize[t]), PortNumber.None, output);
        }
        _txCount = 0;
    }

    /// <summary>Sets a datapath port's state (its gate and OpenFlow state) and remembers it for <see cref="Dispose"/>.</summary>
    protected void SetState(ushort no, PortStpState state)
    {
        Gated.Add(no);
        Dp.SetPortStp(no, state);
    }

    private void Run()
    {
        lock (Sync)
        {
            if (Disposed) return;
            try
            {
                RunLocked();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Log.LogError(e, "bridge {Bridge}: {Protocol} round failed", BridgeName, _roundName);
            }
        }
    }

    /// <summary>One round (under <see cref="Sync"/>): links, received BPDUs, time, then states, flushes and BPDUs out.</summary>
    protected abstract void RunLocked();

    /// <summary>Stops the protocol: every port's gate opened (spanning tree off), BPDUs forwarded as any frame again.</summary>
    public void Dispose()
    {
        _timer?.Dispose();
        lock (Sync)
        {
            if (Disposed) return;
            Disposed = true;
            if (ReferenceEquals(Dp.BpduSink, this)) Dp.BpduSink = null;
            foreach (var no in Gated) Dp.SetPortStp(no, PortStpState.Off);
            Gated.Clear();
        }
    }
}
