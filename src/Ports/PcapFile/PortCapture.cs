using System.Runtime.CompilerServices;
using Softswitch.Datapath.Packets;

namespace Softswitch.Ports.PcapFile;

/// <summary>
/// A run-time capture of one port into one pcapng file (<c>pcap/start</c>): both directions, told apart by each
/// packet's epb_flags, the port's name in the interface description.
/// </summary>
/// <remarks>
/// <para><b>The ring</b>: two buffers of <see cref="BufferSize"/> bytes. Forwarding threads append whole pcapng packet
/// blocks to the active one under a lock held for the copy of one burst (<see cref="Append"/>): no allocation, no
/// system call, no I/O. The writer (one thread for all captures, off the forwarding path) swaps the buffers under the
/// same lock and writes the full one out (<see cref="Drain"/>). A packet that does not fit the active buffer is
/// dropped from the capture and counted (<see cref="Dropped"/>), never waited for: forwarding does not slow down for a
/// slow disk. <see cref="WantsDrain"/> turns true once the active buffer is half full, so the writer can be woken
/// early.</para>
/// <para><b>The file</b>: section header and interface description at start; at <see cref="Close"/> the rest of the
/// ring and an interface statistics block (packets offered, packets dropped) close it.</para>
/// <para><b>Thread safety</b>: <see cref="Append"/> from any thread; <see cref="Drain"/> and <see cref="Close"/> from
/// one thread at a time (the owner's). After Close, Append does nothing.</para>
/// </remarks>
[SkipLocalsInit]
public sealed class PortCapture
{
    public const int DefaultBufferSize = 1 << 20;
    public const int SnapLen = 65535;

    private readonly Lock _lock = new();
    private readonly FileStream _file;
    private byte[] _active, _spare;
    private int _used;
    private bool _closed;
    private long _packets, _dropped, _written;
    private readonly long _startMicros;

    public string Path { get; }
    public string PortName { get; }
    public ushort PortNo { get; }
    public int BufferSize => _active.Length;
    /// <summary>Packets written to the file (or waiting in the ring to be).</summary>
    public long Packets => Volatile.Read(ref _packets);
    /// <summary>Packets the ring had no room for.</summary>
    public long Dropped => Volatile.Read(ref _dropped);
    /// <summary>Bytes written to the file so far.</summary>
    public long BytesWritten => Volatile.Read(ref _written);
    /// <summary>The active buffer is at least half full.</summary>
    public bool WantsDrain => Volatile.Read(ref _used) >= _active.Length / 2;

    /// <summary>Creates (or replaces) <paramref name="path"/> with the file's header; throws on I/O errors.</summary>
    public PortCapture(string path, ushort portNo, string portName, int bufferSize = DefaultBufferSize)
    {
        Path = path;
        PortName = portName;
        PortNo = portNo;
        _active = new byte[Math.Max(bufferSize, 256)];
        _spare = new byte[_active.Length];
        _startMicros = PcapWriter.NowMicros();
        _file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1, FileOptions.None);
        var header = PcapNg.Header(portName, $"softswitch port {portNo}", SnapLen);
        _file.Write(header);
        _file.Flush();
        _written = header.Length;
    }

    /// <summary>Copies a burst into the ring (one timestamp, one lock), counting what does not fit. Forwarding threads.</summary>
    public void Append(PacketPool pool, ReadOnlySpan<int> pkts, uint direction)
    {
        if (pkts.IsEmpty) return;
        long ts = PcapWriter.NowMicros();
        lock (_lock)
        {
            if (_closed) return;
            var buf = _active;
            int used = _used, kept = 0;
            foreach (int p in pkts)
            {
                var frame = pool.Frame(p);
                int size = PcapNg.EnhancedPacketSize(Math.Min(frame.Length, SnapLen));
                if (size > buf.Length - used) continue;
                used += PcapNg.WriteEnhancedPacket(buf.AsSpan(used), frame, SnapLen, ts, direction);
                kept++;
            }
            Volatile.Write(ref _used, used);
            _packets += kept;
            _dropped += pkts.Length - kept;
        }
    }

    /// <summary>Writes what the ring holds to the file. The owner's thread.</summary>
    public void Drain()
    {
        byte[] full;
        int n;
        lock (_lock)
        {
            if (_closed || _used == 0) return;
            full = _active;
            n = _used;
            _active = _spare;
            _spare = full;
            Volatile.Write(ref _used, 0);
        }
        _file.Write(full, 0, n);
        _file.Flush();
        Volatile.Write(ref _written, _written + n);
    }

    /// <summary>Writes the rest, the statistics block, and closes the file. The owner's thread.</summary>
    public void Close()
    {
        Drain();
        byte[] rest;
        int n;
        long packets, dropped;
        lock (_lock)
        {
            if (_closed) return;
            _closed = true;
            rest = _active;
            n = _used;
            Volatile.Write(ref _used, 0);
            packets = _packets;
            dropped = _dropped;
        }
        try
        {
            _file.Write(rest, 0, n);
            var stats = PcapNg.Statistics(_startMicros, PcapWriter.NowMicros(), (ulong)(packets + dropped), (ulong)dropped);
            _file.Write(stats);
            _file.Flush();
            Volatile.Write(ref _written, _written + n + stats.Length);
        }
        finally
        {
            _file.Dispose();
        }
    }
}
