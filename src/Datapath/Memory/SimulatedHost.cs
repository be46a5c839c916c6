using System.Buffers.Binary;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Memory;

/// <summary>
/// A minimal IPv4 host behind a <see cref="MemoryPort"/>: answers ARP for its address and ICMP echo
/// requests, resolves peers with ARP, sends pings and counts the replies. For the demo and tests.
/// </summary>
/// <remarks>
/// Frames the switch sends out of the port reach <see cref="OnFrame"/> (the port's OnSend, on the
/// switch's thread); the host's own frames are injected into the port's receive queue. Thread-safe.
/// </remarks>
public sealed class SimulatedHost
{
    private readonly MemoryPort _port;
    private readonly Dictionary<uint, MacAddress> _arp = new();
    private readonly Dictionary<uint, Queue<(ushort id, ushort seq)>> _pending = new();
    private readonly Lock _lock = new();
    private long _echoRepliesReceived, _echoRequestsAnswered, _framesReceived;

    public MacAddress Mac { get; }
    public uint Ip { get; }
    public string Name { get; }

    public SimulatedHost(string name, MemoryPort port, MacAddress mac, uint ip)
    {
        Name = name;
        _port = port;
        Mac = mac;
        Ip = ip;
        port.OnSend = OnFrame;
    }

    public long EchoRepliesReceived => Interlocked.Read(ref _echoRepliesReceived);
    public long EchoRequestsAnswered => Interlocked.Read(ref _echoRequestsAnswered);
    public long FramesReceived => Interlocked.Read(ref _framesReceived);

    /// <summary>Sends an ICMP echo request to <paramref name="dst"/> (ARP first when its MAC is unknown).</summary>
    public void Ping(uint dst, ushort id, ushort seq)
    {
        MacAddress mac;
        lock (_lock)
        {
            if (!_arp.TryGetValue(dst, out mac))
            {
                if (!_pending.TryGetValue(dst, out var q)) _pending[dst] = q = new Queue<(ushort, ushort)>();
                q.Enqueue((id, seq));
                _port.Inject(FrameBuilder.Arp(1, Mac, Ip, default, dst));
                return;
            }
        }
        _port.Inject(FrameBuilder.IcmpEcho(Mac, mac, Ip, dst, false, id, seq));
    }

    public void OnFrame(ReadOnlySpan<byte> frame)
    {
        Interlocked.Increment(ref _framesReceived);
        var err = PacketParser.Parse(frame, 0, out var key, out var layers);
        if (err != ParseError.None) return;
        var dstMac = key.DlDst;
        if (dstMac != Mac && !dstMac.IsBroadcast) return;
        if (layers.Has(LayerFlags.Arp))
        {
            HandleArp(key, frame[layers.L3..]);
            return;
        }
        if (layers.Has(LayerFlags.Icmp) && key.NwDst == Ip)
        {
            int l4 = layers.L4;
            byte type = frame[l4];
            if (type == 8)
            {
                ushort id = BinaryPrimitives.ReadUInt16BigEndian(frame[(l4 + 4)..]);
                ushort seq = BinaryPrimitives.ReadUInt16BigEndian(frame[(l4 + 6)..]);
                int ipLen = BinaryPrimitives.ReadUInt16BigEndian(frame[(layers.L3 + 2)..]);
                int payload = Math.Max(0, ipLen - 20 - 8);
                _port.Inject(FrameBuilder.IcmpEcho(Mac, key.DlSrc, Ip, key.NwSrc, true, id, seq, payload));
                Interlocked.Increment(ref _echoRequestsAnswered);
            }
            else if (type == 0)
            {
                Interlocked.Increment(ref _echoRepliesReceived);
            }
        }
    }

    private void HandleArp(in FlowKey key, ReadOnlySpan<byte> arp)
    {
        ushort op = BinaryPrimitives.ReadUInt16BigEndian(arp[6..]);
        var sha = MacAddress.Read(arp[8..]);
        uint spa = key.NwSrc, tpa = key.NwDst;
        List<(ushort, ushort)>? flush = null;
        lock (_lock)
        {
            _arp[spa] = sha;
            if (_pending.Remove(spa, out var q)) flush = [.. q];
        }
        if (op == 1 && tpa == Ip) _port.Inject(FrameBuilder.Arp(2, Mac, Ip, sha, spa));
        if (flush is not null)
            foreach (var (id, seq) in flush) _port.Inject(FrameBuilder.IcmpEcho(Mac, sha, Ip, spa, false, id, seq));
    }
}
