using System.Diagnostics.CodeAnalysis;

namespace Softswitch.Ipfix;

/// <summary>Why a flow record was exported (RFC 7012's flowEndReason, as Open vSwitch gives it).</summary>
internal enum IpfixEndReason : byte
{
    ActiveTimeout = 2,
    ForcedEnd = 4,
    LackOfResources = 5,
}

/// <summary>The exporter's running totals, as each record reports them at its last sample (Open vSwitch's
/// dpif_ipfix_global_stats).</summary>
internal struct IpfixTotals
{
    public ulong DroppedPackets, Packets, InUnicast, InMulticast, InBroadcast, OutUnicast, OutBroadcast, PostMcastPackets, Layer2Octets;
    public ulong DroppedOctets, Octets, OctetSumOfSquares, PostMcastOctets;
    public ulong TcpAck, TcpFin, TcpPsh, TcpRst, TcpSyn, TcpUrg;
}

/// <summary>One flow of the cache: its key (as <see cref="IpfixFlowKey"/> wrote it) and what its samples add up to.</summary>
internal sealed class IpfixFlow
{
    public readonly byte[] Key = new byte[IpfixFlowKey.MaxSize];
    public int KeyLength;
    public IpfixTemplate Template;
    /// <summary>Wall-clock microseconds of the first and the last sample.</summary>
    public long StartUs, EndUs;
    public ulong DroppedPacketDelta, PacketDelta, Layer2OctetDelta, PostMcastPacketDelta;
    public ulong DroppedOctetDelta, OctetDelta, OctetDeltaSumOfSquares, PostMcastOctetDelta, MinIpLength, MaxIpLength;
    public ulong TcpPacketDelta;
    public IpfixTotals Totals;
    internal IpfixFlow? Older, Newer;
}

/// <summary>
/// Open vSwitch's IPFIX flow cache (ofproto-dpif-ipfix.c: ipfix_cache_update, dpif_ipfix_cache_expire): sampled
/// packets of one flow key are aggregated into one flow, and flows leave the cache, oldest first, when their first
/// sample is <c>cache_active_timeout</c> seconds old (active timeout), while the cache holds more than
/// <c>cache_max_flows</c> flows (lack of resources), or all of them when the exporter stops (forced end). With both
/// settings 0 (their default) caching is off: each sample leaves as its own record at once.
/// </summary>
/// <remarks>
/// <para>Each sample stands for <c>sampling</c> packets of its length (packetDeltaCount; octets are that many times its
/// length), as Open vSwitch approximates. Flows are kept in order of their first sample (a new flow is the youngest),
/// so expiry looks at the oldest only.</para>
/// <para>Allocation: a flow's entry and key buffer are reused after it is exported (<see cref="Release"/>); once the
/// cache has held its most flows, a sample allocates nothing. Not thread-safe: the exporter thread only.</para>
/// </remarks>
internal sealed class IpfixCache
{
    private readonly long _activeTimeoutUs;
    private readonly long _maxFlows;
    private readonly Dictionary<FlowKey, IpfixFlow> _flows = new(KeyComparer.Instance);
    private readonly Dictionary<FlowKey, IpfixFlow>.AlternateLookup<ReadOnlySpan<byte>> _lookup;
    private readonly Stack<IpfixFlow> _free = new();
    private IpfixFlow? _oldest, _youngest;
    private IpfixTotals _totals;

    public IpfixCache(uint activeTimeoutSeconds, uint maxFlows)
    {
        _activeTimeoutUs = activeTimeoutSeconds * 1_000_000L;
        _maxFlows = maxFlows;
        _lookup = _flows.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    /// <summary>Flows in the cache.</summary>
    public int Count => _flows.Count;
    /// <summary>Flows the cache has started (Open vSwitch's total_flows).</summary>
    public long TotalFlows { get; private set; }

    /// <summary>
    /// Adds a sample of a frame of <paramref name="frameLength"/> bytes standing for <paramref name="packets"/> packets,
    /// whose flow key is <paramref name="key"/>; <paramref name="dropped"/>: its flow sends it nowhere. True when it
    /// started a flow and the cache now holds more than its most flows: expire now.
    /// </summary>
    public bool Add(ReadOnlySpan<byte> key, in IpfixKeyInfo info, int frameLength, ulong packets, bool dropped, long nowUs)
    {
        var t = info.Template;
        ulong l2Octets = packets * (ulong)frameLength;
        ulong droppedPackets = dropped ? packets : 0;
        _totals.DroppedPackets += droppedPackets;
        _totals.Packets += packets;
        _totals.Layer2Octets += l2Octets;
        ulong postMcastPackets = 0, postMcastOctets = 0;
        if (info.Broadcast)
        {
            if (t.Egress) _totals.OutBroadcast += packets;
            else _totals.InBroadcast += packets;
        }
        else if (info.Multicast)
        {
            if (t.Egress)
            {
                postMcastPackets = packets;
                _totals.PostMcastPackets += packets;
            }
            else
            {
                _totals.InMulticast += packets;
            }
        }
        else if (t.Egress)
        {
            _totals.OutUnicast += packets;
        }
        else
        {
            _totals.InUnicast += packets;
        }
        ulong ipLength = 0, octets = 0, droppedOctets = 0, sumOfSquares = 0;
        if (t.IsIp)
        {
            ipLength = (ushort)(frameLength - info.EthHeaderLength);
            octets = packets * ipLength;
            droppedOctets = dropped ? octets : 0;
            sumOfSquares = octets * ipLength;
            _totals.DroppedOctets += droppedOctets;
            _totals.Octets += octets;
            _totals.OctetSumOfSquares += sumOfSquares;
            if (info.Multicast && t.Egress)
            {
                postMcastOctets = octets;
                _totals.PostMcastOctets += octets;
            }
        }
        ulong tcpPackets = 0;
        if (t.L4 == IpfixL4.Tcp)
        {
            tcpPackets = packets;
            byte f = info.TcpFlags;
            if ((f & 0x10) != 0) _totals.TcpAck += packets;
            if ((f & 0x01) != 0) _totals.TcpFin += packets;
            if ((f & 0x08) != 0) _totals.TcpPsh += packets;
            if ((f & 0x04) != 0) _totals.TcpRst += packets;
            if ((f & 0x02) != 0) _totals.TcpSyn += packets;
            if ((f & 0x20) != 0) _totals.TcpUrg += packets;
        }

        if (_lookup.TryGetValue(key, out var flow))
        {
            flow.EndUs = Math.Max(flow.EndUs, nowUs);
            flow.DroppedPacketDelta += droppedPackets;
            flow.PacketDelta += packets;
            flow.Layer2OctetDelta += l2Octets;
            flow.PostMcastPacketDelta += postMcastPackets;
            flow.DroppedOctetDelta += droppedOctets;
            flow.OctetDelta += octets;
            flow.OctetDeltaSumOfSquares += sumOfSquares;
            flow.PostMcastOctetDelta += postMcastOctets;
            if (flow.MinIpLength == 0 || (ipLength != 0 && flow.MinIpLength > ipLength)) flow.MinIpLength = ipLength;
            flow.MaxIpLength = Math.Max(flow.MaxIpLength, ipLength);
            flow.TcpPacketDelta += tcpPackets;
            flow.Totals = _totals;
            return false;
        }

        flow = _free.Count > 0 ? _free.Pop() : new IpfixFlow();
        key.CopyTo(flow.Key);
        flow.KeyLength = key.Length;
        flow.Template = t;
        flow.StartUs = flow.EndUs = nowUs;
        flow.DroppedPacketDelta = droppedPackets;
        flow.PacketDelta = packets;
        flow.Layer2OctetDelta = l2Octets;
        flow.PostMcastPacketDelta = postMcastPackets;
        flow.DroppedOctetDelta = droppedOctets;
        flow.OctetDelta = octets;
        flow.OctetDeltaSumOfSquares = sumOfSquares;
        flow.PostMcastOctetDelta = postMcastOctets;
        flow.MinIpLength = flow.MaxIpLength = ipLength;
        flow.TcpPacketDelta = tcpPackets;
        flow.Totals = _totals;
        _flows.Add(new FlowKey(flow.Key, flow.KeyLength), flow);
        flow.Older = _youngest;
        flow.Newer = null;
        if (_youngest is not null) _youngest.Newer = flow;
        else _oldest = flow;
        _youngest = flow;
        TotalFlows++;
        return _flows.Count > _maxFlows;
    }

    /// <summary>
    /// Takes the oldest flow out of the cache if it is due at <paramref name="nowUs"/> (<paramref name="forced"/>:
    /// every flow is), with why; give it back with <see cref="Release"/> once exported.
    /// </summary>
    public bool TryExpire(long nowUs, bool forced, [NotNullWhen(true)] out IpfixFlow? flow, out IpfixEndReason reason)
    {
        flow = _oldest;
        reason = 0;
        if (flow is null) return false;
        if (forced)
        {
            reason = IpfixEndReason.ForcedEnd;
        }
        else if (flow.StartUs <= nowUs - _activeTimeoutUs)
        {
            reason = IpfixEndReason.ActiveTimeout;
        }
        else if (_flows.Count > _maxFlows)
        {
            reason = IpfixEndReason.LackOfResources;
        }
        else
        {
            flow = null;
            return false;
        }
        _flows.Remove(new FlowKey(flow.Key, flow.KeyLength));
        _oldest = flow.Newer;
        if (_oldest is not null) _oldest.Older = null;
        else _youngest = null;
        flow.Newer = null;
        return true;
    }

    /// <summary>Gives an exported flow's entry back for reuse.</summary>
    public void Release(IpfixFlow flow) => _free.Push(flow);

    /// <summary>A flow's key: the used part of its buffer.</summary>
    private readonly record struct FlowKey(byte[] Buffer, int Length)
    {
        public ReadOnlySpan<byte> Span => Buffer.AsSpan(0, Length);
    }

    /// <summary>Compares keys byte by byte, also against a span (a lookup allocates nothing).</summary>
    private sealed class KeyComparer : IEqualityComparer<FlowKey>, IAlternateEqualityComparer<ReadOnlySpan<byte>, FlowKey>
    {
        public static readonly KeyComparer Instance = new();

        public bool Equals(FlowKey x, FlowKey y) => x.Span.SequenceEqual(y.Span);
        public int GetHashCode(FlowKey obj) => Hash(obj.Span);
        public bool Equals(ReadOnlySpan<byte> alternate, FlowKey other) => alternate.SequenceEqual(other.Span);
        public int GetHashCode(ReadOnlySpan<byte> alternate) => Hash(alternate);
        public FlowKey Create(ReadOnlySpan<byte> alternate) => new(alternate.ToArray(), alternate.Length);

        private static int Hash(ReadOnlySpan<byte> key)
        {
            var h = new HashCode();
            h.AddBytes(key);
            return h.ToHashCode();
        }
    }
}
