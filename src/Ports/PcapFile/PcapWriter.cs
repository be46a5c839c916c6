using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Softswitch.Datapath.Packets;

namespace Softswitch.Ports.PcapFile;

/// <summary>
/// Writes frames to a classic pcap file (LINKTYPE_ETHERNET, microsecond timestamps, little-endian).
/// </summary>
/// <remarks>
/// File layout (https://www.tcpdump.org/manpages/pcap-savefile.5.html):
/// <code>
/// global header (24 B): magic a1b2c3d4 | ver 2.4 | thiszone 0 | sigfigs 0 | snaplen | linktype 1
/// record header (16 B): ts_sec | ts_usec | incl_len | orig_len, then incl_len frame bytes
/// </code>
/// Records are appended to a fixed buffer and written out when it fills, when <see cref="Flush"/> is called, about
/// once a second while writes continue (so a live capture stays readable), and on Dispose. Per frame there is no
/// allocation: header and bytes are copied into the buffer. A burst shares one timestamp and one lock.
/// Thread safety: all members may be called from any thread (one lock).
/// </remarks>
[SkipLocalsInit]
public sealed class PcapWriter : IDisposable
{
    public const uint Magic = 0xA1B2C3D4;
    public const uint LinkTypeEthernet = 1;
    private const int GlobalHeaderSize = 24;
    private const int RecordHeaderSize = 16;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly byte[] _buf;
    private readonly int _snapLen;
    private readonly Lock _lock = new();
    private int _used;
    private long _packets;
    private long _nextFlushTick;
    private bool _disposed;

    public string? Path { get; }
    public long PacketsWritten => Volatile.Read(ref _packets);

    public PcapWriter(string path, int snapLen = 65535, int bufferSize = 1 << 16)
        : this(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1, FileOptions.None), false, snapLen, bufferSize)
    {
        Path = path;
    }

    public PcapWriter(Stream stream, bool leaveOpen = false, int snapLen = 65535, int bufferSize = 1 << 16)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(snapLen, 14);
        _stream = stream;
        _leaveOpen = leaveOpen;
        _snapLen = snapLen;
        _buf = new byte[Math.Max(bufferSize, 4096)];
        Span<byte> h = _buf.AsSpan(0, GlobalHeaderSize);
        BinaryPrimitives.WriteUInt32LittleEndian(h, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(h[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(h[6..], 4);
        BinaryPrimitives.WriteInt32LittleEndian(h[8..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(h[12..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], (uint)snapLen);
        BinaryPrimitives.WriteUInt32LittleEndian(h[20..], LinkTypeEthernet);
        _used = GlobalHeaderSize;
        _nextFlushTick = Environment.TickCount64 + 1000;
    }

    /// <summary>Microseconds since the Unix epoch, now.</summary>
    public static long NowMicros() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / 10;

    public void Write(ReadOnlySpan<byte> frame) => Write(frame, NowMicros());

    public void Write(ReadOnlySpan<byte> frame, long unixMicros)
    {
        lock (_lock)
        {
            if (_disposed) return;
            Append(frame, unixMicros);
            MaybeTimedFlush();
        }
    }

    /// <summary>Writes the frames of a burst (one timestamp, one lock).</summary>
    public void Write(PacketPool pool, ReadOnlySpan<int> pkts)
    {
        if (pkts.IsEmpty) return;
        long ts = NowMicros();
        lock (_lock)
        {
            if (_disposed) return;
            foreach (int p in pkts) Append(pool.Frame(p), ts);
            MaybeTimedFlush();
        }
    }

    private void Append(ReadOnlySpan<byte> frame, long unixMicros)
    {
        int incl = Math.Min(frame.Length, _snapLen);
        if (_used + RecordHeaderSize + incl > _buf.Length) FlushBuffer();
        Span<byte> h = _buf.AsSpan(_used, RecordHeaderSize);
        BinaryPrimitives.WriteUInt32LittleEndian(h, (uint)(unixMicros / 1_000_000));
        BinaryPrimitives.WriteUInt32LittleEndian(h[4..], (uint)(unixMicros % 1_000_000));
        BinaryPrimitives.WriteUInt32LittleEndian(h[8..], (uint)incl);
        BinaryPrimitives.WriteUInt32LittleEndian(h[12..], (uint)frame.Length);
        _used += RecordHeaderSize;
        if (incl > _buf.Length - _used)
        {
            FlushBuffer();
            _stream.Write(frame[..incl]);   // larger than the whole buffer: straight through
        }
        else
        {
            frame[..incl].CopyTo(_buf.AsSpan(_used));
            _used += incl;
        }
        _packets++;
    }

    private void MaybeTimedFlush()
    {
        long now = Environment.TickCount64;
        if (now < _nextFlushTick) return;
        _nextFlushTick = now + 1000;
        FlushBuffer();
        _stream.Flush();
    }

    private void FlushBuffer()
    {
        if (_used == 0) return;
        _stream.Write(_buf, 0, _used);
        _used = 0;
    }

    /// <summary>Writes buffered records to the file.</summary>
    public void Flush()
    {
        lock (_lock)
        {
            if (_disposed) return;
            FlushBuffer();
            _stream.Flush();
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            FlushBuffer();
            _stream.Flush();
            _disposed = true;
            if (!_leaveOpen) _stream.Dispose();
        }
    }
}
