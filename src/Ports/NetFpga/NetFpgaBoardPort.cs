using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ports.NetFpga;

/// <summary>
/// One MAC port of a NetFPGA board as the software datapath sees it: the CPU side of the board (nf2cX).
/// </summary>
/// <remarks>
/// Receive returns only what the board sends up to the CPU (table misses via the catch-all rows); frames the board's
/// tables answer never reach the software. Send hands frames to the board's CPU queue, which the reserved CPU → MAC
/// row sends out of the MAC. On the real board the wrapped port is the kernel's nf2cX interface (AF_PACKET) and the
/// board forwards in hardware; with an <see cref="EmulatedNetFpga"/> the wrapped port is the wire and the emulator
/// does the hardware's part. <see cref="Counters"/> are the board's MAC counters (MAC_GRP, refreshed by
/// <see cref="RefreshCounters"/> from maintenance), so port stats include hardware-forwarded traffic.
/// Thread safety: as <see cref="IPort"/> (one receiver, concurrent senders).
/// </remarks>
public sealed class NetFpgaBoardPort : IPort
{
    private readonly IPort _inner;
    private readonly EmulatedNetFpga? _emulator;

    public NetFpgaBoardPort(int index, IPort inner, EmulatedNetFpga? emulator)
    {
        if ((uint)index >= NetFpgaRegisters.MaxPorts) throw new ArgumentOutOfRangeException(nameof(index));
        Index = index;
        _inner = inner ?? throw new ArgumentNullException(nameof(inner));
        _emulator = emulator;
        emulator?.AttachMac(index, inner);
    }

    /// <summary>The board's MAC port number (0..3); OpenFlow port Index + 1.</summary>
    public int Index { get; }
    public IPort Inner => _inner;
    public PortInfo Info => _inner.Info;
    public PortCounters Counters { get; } = new();
    public bool LinkUp => _inner.LinkUp;

    public int Receive(PacketPool pool, Span<int> pkts)
        => _emulator is null ? _inner.Receive(pool, pkts) : _emulator.ReceiveFromMac(Index, pool, pkts);

    public void Send(PacketPool pool, ReadOnlySpan<int> pkts)
    {
        if (_emulator is null) _inner.Send(pool, pkts);
        else _emulator.SendFromCpu(Index, pool, pkts);
    }

    private readonly uint[] _raw = new uint[5];
    private readonly long[] _total = new long[5];

    /// <summary>
    /// Adds the board's MAC counters of this port (32-bit registers, accumulated modulo 2^32 into 64 bits) to
    /// <see cref="Counters"/>; what the board does not count is −1. Call from one thread (maintenance).
    /// </summary>
    public void RefreshCounters(NetFpgaDriver driver)
    {
        var s = driver.ReadPortStats(Index);
        Span<long> now = [s.RxPackets, s.RxBytes, s.TxPackets, s.TxBytes, s.RxDropped];
        for (int i = 0; i < now.Length; i++)
        {
            uint raw = (uint)now[i];
            _total[i] += unchecked(raw - _raw[i]);
            _raw[i] = raw;
        }
        var c = Counters;
        c.Store(_total[0], _total[1], _total[2], _total[3], _total[4], s.TxDropped);
        Volatile.Write(ref c.RxErrors, s.RxErrors);
        Volatile.Write(ref c.TxErrors, s.TxErrors);
        Volatile.Write(ref c.RxFrameErrors, s.RxFrameErrors);
        Volatile.Write(ref c.RxOverErrors, s.RxOverErrors);
        Volatile.Write(ref c.RxCrcErrors, s.RxCrcErrors);
        Volatile.Write(ref c.Collisions, s.Collisions);
    }

    public void Dispose() => _inner.Dispose();

    public override string ToString() => $"netfpga:{Index}({_inner})";
}
