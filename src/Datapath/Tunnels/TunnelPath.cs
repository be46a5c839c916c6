using System.Runtime.CompilerServices;
using Softswitch.Datapath.Actions;
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
/// tunnel packets are stripped in place and set aside, ARP requests for a local endpoint are answered in place
/// through the underlay's transmit queue, and everything else stays in the burst, compacted. The decapsulated
/// packets then run through the pipeline as sub-bursts, one per tunnel port, with that port as in_port and
/// their VNI/key as tun_id; the forwarder continues with the rest.</item>
/// </list>
/// No locks or allocation, except a tunnel's hold queue while its next hop is unresolved.
/// </remarks>
internal sealed class TunnelPath
{
    private readonly Forwarder _f;
    private readonly TunnelRegistry _registry;
    private readonly int[] _decPkts = new int[Burst.Size];
    private readonly TunnelPort?[] _decPort = new TunnelPort?[Burst.Size];
    private readonly ulong[] _decIds = new ulong[Burst.Size];
    private readonly int[] _subPkts = new int[Burst.Size];
    private readonly ulong[] _subIds = new ulong[Burst.Size];

    public TunnelPath(Forwarder f, TunnelRegistry registry)
    {
        _f = f;
        _registry = registry;
    }

    /// <summary>The underlay binding of <paramref name="slot"/>, or null for ports that carry no tunnel (the common case).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public UnderlayBinding? UnderlayOf(PortSlot slot) => _registry.UnderlayOf(slot.Index);

    /// <summary>
    /// Splits a burst received on an underlay: decapsulates and forwards tunnel packets (as sub-bursts on their tunnel
    /// ports), answers ARP for the endpoints, and returns the remaining packets (compacted at the front of <paramref name="pkts"/>).
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
                    _decPkts[dec] = p;
                    _decIds[dec] = id;
                    dec++;
                    break;
                case RxVerdict.ArpReply:
                    _f.Output.StageTxSlot(slot, p, false, ActionExecutor.NoQueue);
                    pool.Release(p);
                    break;
                default:
                    pool.Release(p);
                    break;
            }
        }
        if (dec > 0)
        {
            if (mixed) Deliver(dec);
            else DeliverOne(first!, dec);
        }
        return pkts[..keep];
    }

    /// <summary>The decapsulated packets [0, dec) all came through <paramref name="t"/>: one sub-burst, no partitioning.</summary>
    private void DeliverOne(TunnelPort t, int dec)
    {
        var pool = _f.Pool;
        var sub = _decPkts.AsSpan(0, dec);
        var ts = t.Slot;
        if (ts is null)
        {
            _registry.ReceiveDrops.Add(TunnelDropReason.NoPort, dec);
            pool.Release(sub);
            return;
        }
        long bytes = 0;
        foreach (int p in sub) bytes += pool.Length[p];
        t.CountRx(dec, bytes);
        _f.Process(ts, sub, _decIds.AsSpan(0, dec));
    }

    /// <summary>The decapsulated packets [0, dec) came through several tunnels (<c>_decPort</c>): one sub-burst per tunnel.</summary>
    private void Deliver(int dec)
    {
        var pool = _f.Pool;
        while (dec > 0)
        {
            var t = _decPort[0]!;
            int m = 0, rest = 0;
            long bytes = 0;
            for (int i = 0; i < dec; i++)
            {
                int p = _decPkts[i];
                if (ReferenceEquals(_decPort[i], t))
                {
                    _subPkts[m] = p;
                    _subIds[m] = _decIds[i];
                    bytes += pool.Length[p];
                    m++;
                }
                else
                {
                    _decPkts[rest] = p;
                    _decPort[rest] = _decPort[i];
                    _decIds[rest] = _decIds[i];
                    rest++;
                }
            }
            for (int i = rest; i < dec; i++) _decPort[i] = null;
            dec = rest;
            var sub = _subPkts.AsSpan(0, m);
            var ts = t.Slot;
            if (ts is null)
            {
                _registry.ReceiveDrops.Add(TunnelDropReason.NoPort, m);
                pool.Release(sub);
                continue;
            }
            t.CountRx(m, bytes);
            _f.Process(ts, sub, _subIds.AsSpan(0, m));
        }
    }
}
