using System.Runtime.CompilerServices;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Tunnels;

/// <summary>
/// A forwarder's tunnel receive step (one per <see cref="Forwarder"/>, owned by its thread); transmit is the tunnel
/// port's own (<see cref="TunnelPort.Encapsulate"/>, through the forwarder's <see cref="OutputContext"/>).
/// </summary>
/// <remarks>
/// Design:
/// <list type="bullet">
/// <item>Receive: a burst from an underlay port is classified packet by packet (<see cref="UnderlayBinding"/>);
/// tunnel packets are stripped in place, their VNI/key written as their <see cref="PacketPool.TunId"/>, and set aside;
/// ARP requests for a local endpoint are answered in place through the underlay's transmit queue, and everything else
/// stays in the burst, compacted. The forwarder then takes the set-aside packets back as sub-bursts, one per tunnel
/// port (<see cref="NextSubBurst"/>), and runs each through its pipeline as a burst received on that port, then the
/// rest. This step never calls back into the forwarder.</item>
/// </list>
/// No locks or allocation, except a tunnel's hold queue while its next hop is unresolved.
/// </remarks>
internal sealed class TunnelPath
{
    private readonly Forwarder _f;
    private readonly TunnelRegistry _registry;
    // The packets the last Receive decapsulated and not yet handed back, and (once a second tunnel showed up in the
    // burst) each one's tunnel; _subPkts holds the sub-burst handed back last.
    private readonly int[] _decPkts = new int[Burst.Size];
    private readonly TunnelPort?[] _decPort = new TunnelPort?[Burst.Size];
    private readonly int[] _subPkts = new int[Burst.Size];
    private int _dec;
    private TunnelPort? _first;
    private bool _mixed;

    public TunnelPath(Forwarder f, TunnelRegistry registry)
    {
        _f = f;
        _registry = registry;
    }

    /// <summary>The underlay binding of <paramref name="slot"/>, or null for ports that carry no tunnel (the common case).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public UnderlayBinding? UnderlayOf(PortSlot slot) => _registry.UnderlayOf(slot.Index);

    /// <summary>
    /// Splits a burst received on an underlay: decapsulates its tunnel packets and sets them aside for
    /// <see cref="NextSubBurst"/>, answers ARP for the endpoints, and returns the remaining packets (compacted at the
    /// front of <paramref name="pkts"/>).
    /// </summary>
    public Span<int> Receive(UnderlayBinding b, PortSlot slot, Span<int> pkts)
    {
        var pool = _f.Pool;
        int keep = 0, dec = 0;
        // Usually a burst's tunnel packets all belong to one tunnel: per-packet ports are recorded only once a second
        // tunnel shows up (reference stores cost a GC write barrier each).
        TunnelPort? first = null;
        bool mixed = false;
        for (int i = 0; i < pkts.Length; i++)
        {
            int p = pkts[i];
            switch (b.Classify(pool, p, out var t, out ulong id))
            {
                case RxVerdict.Pass:
                    pkts[keep++] = p;
                    break;
                case RxVerdict.Decapsulated:
                    if (first is null)
                    {
                        first = t;
                    }
                    else if (mixed)
                    {
                        _decPort[dec] = t;
                    }
                    else if (!ReferenceEquals(t, first))
                    {
                        mixed = true;
                        _decPort.AsSpan(0, dec).Fill(first);
                        _decPort[dec] = t;
                    }
                    pool.TunId[p] = id;
                    _decPkts[dec++] = p;
                    break;
                case RxVerdict.ArpReply:
                    _f.Output.Stage(slot, p);
                    pool.Release(p);
                    break;
                default:
                    pool.Release(p);
                    break;
            }
        }
        _dec = dec;
        _first = first;
        _mixed = mixed;
        return pkts[..keep];
    }

    /// <summary>
    /// The next sub-burst of the packets the last <see cref="Receive"/> decapsulated: those of one tunnel port, counted
    /// as received by it, and its slot; false when none is left. A tunnel whose port has no slot (being removed) drops its
    /// packets, counted. The packets are the caller's to release; the span is valid until the next call.
    /// </summary>
    public bool NextSubBurst(out PortSlot slot, out Span<int> pkts)
    {
        var pool = _f.Pool;
        while (_dec > 0)
        {
            TunnelPort t;
            Span<int> sub;
            if (!_mixed)
            {
                // One tunnel (the usual burst): the set-aside packets are the sub-burst, no partitioning.
                t = _first!;
                sub = _decPkts.AsSpan(0, _dec);
                _dec = 0;
                _first = null;
            }
            else
            {
                t = _decPort[0]!;
                int m = 0, rest = 0;
                for (int i = 0; i < _dec; i++)
                {
                    int p = _decPkts[i];
                    if (ReferenceEquals(_decPort[i], t))
                    {
                        _subPkts[m++] = p;
                    }
                    else
                    {
                        _decPkts[rest] = p;
                        _decPort[rest] = _decPort[i];
                        rest++;
                    }
                }
                _decPort.AsSpan(rest, _dec - rest).Clear();
                _dec = rest;
                if (rest == 0) _mixed = false;
                sub = _subPkts.AsSpan(0, m);
            }
            if (t.Slot is not { } ts)
            {
                _registry.ReceiveDrops.Add(TunnelDropReason.NoPort, sub.Length);
                pool.Release(sub);
                continue;
            }
            long bytes = 0;
            foreach (int p in sub) bytes += pool.Length[p];
            t.CountRx(sub.Length, bytes);
            slot = ts;
            pkts = sub;
            return true;
        }
        _first = null;
        slot = null!;
        pkts = default;
        return false;
    }
}
