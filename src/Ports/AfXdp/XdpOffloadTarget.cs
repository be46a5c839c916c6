using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Ports.Linux;

namespace Softswitch.Ports.AfXdp;

/// <summary>The XDP target's own refusal reasons (counters <c>offload-sw-NAME</c>). Names are stable: scripts match on them.</summary>
public static class XdpReasons
{
    public static readonly OffloadReason NonExactMatch = OffloadReason.Define("non-exact-match", "a wildcarded match: the XDP flow map is looked up by exact key");
    public static readonly OffloadReason NotParsed = OffloadReason.Define("not-parsed-by-xdp",
        "a match on frames the XDP program leaves to software (not IPv4 or IPv6, SCTP, neighbour discovery)");
    public static readonly OffloadReason ToController = OffloadReason.Define("to-controller", "an output to the controller");
    public static readonly OffloadReason Flood = OffloadReason.Define("flood", "an output to FLOOD or ALL (many ports)");
    public static readonly OffloadReason MultiOutput = OffloadReason.Define("multi-output", "more than one output: the XDP program sends a frame to one port");
    public static readonly OffloadReason Group = OffloadReason.Define("group", "a group action");
    public static readonly OffloadReason Meter = OffloadReason.Define("meter", "a meter");
    public static readonly OffloadReason Queue = OffloadReason.Define("queue", "an output through a queue");
    public static readonly OffloadReason Tunnel = OffloadReason.Define("tunnel", "a tunnel action");
    public static readonly OffloadReason ActionAfterOutput = OffloadReason.Define("action-after-output", "an action after the output");
    public static readonly OffloadReason UntaggedPcp = OffloadReason.Define("untagged-pcp",
        "a PCP other than 0 on untagged frames: no frame matches it in software, and the XDP key of an untagged frame has no PCP");
    public static readonly OffloadReason BucketFull = OffloadReason.Define("bucket-full",
        "the flow's bucket in the XDP flow table has no free way (retried when one is freed)", retryable: true);
    public static readonly OffloadReason VethPeerDropsRedirect = OffloadReason.Define("veth-peer-drops-redirect",
        "an output to a veth whose peer would drop the kernel's redirected frames (no XDP program and GRO off, or not seen)");
    public static readonly OffloadReason PortReopened = OffloadReason.Define("port-reopened",
        "an in_port or output whose port was removed or re-opened since the XDP offload was attached (the program is not on it)");

    public static IReadOnlyList<OffloadReason> All { get; } =
        [NonExactMatch, NotParsed, ToController, Flood, MultiOutput, Group, Meter, Queue, Tunnel, ActionAfterOutput, UntaggedPcp, BucketFull, VethPeerDropsRedirect, PortReopened];
}

/// <summary>
/// Flows in an XDP flow map (<see cref="XdpFlowMaps"/>, run by <see cref="XdpFlowProgram"/> on every AF_XDP port of the
/// switch): what the kernel forwards before any frame reaches the sockets.
/// </summary>
/// <remarks>
/// Holds exact flows (OpenFlow 1.0's twelve fields, no tunnel id) on IPv4 frames, or IPv6 frames with TCP, UDP or
/// ICMPv6 (not neighbour discovery), the latter also with both IPv6 addresses matched (wildcard rows to the manager,
/// looked up after the exact ones), from one of its ports whose actions reduce to one record
/// (<see cref="XdpFlowAction"/>): set Ethernet addresses, strip, push (0x8100) or set a tag, set IPv4 addresses and
/// DSCP (IPv4), IPv6 addresses (IPv6), TTL or hop limit, TCP/UDP ports, then at most one output to one of its ports
/// or IN_PORT (none: drop), unless that port is a veth whose peer would drop what the program redirects into it
/// (<see cref="VethPeer"/>: given at construction, <see cref="XdpReasons.VethPeerDropsRedirect"/>).
/// Everything else is refused with a reason (<see cref="XdpReasons"/>). The map is exact and consulted first:
/// <see cref="OffloadLookupModel.ExactFirst"/>, so the manager keeps out exact flows that a wildcard flow outranks.
/// Each flow owns a slot of the per-CPU counter array, cleared when it is installed; a removed flow's slot is read
/// again after an RCU grace period (<see cref="Settle"/>: a program that found the flow before the delete counts it
/// after) and only then reused. What a flow's slot counted is
/// also added to its ports' counters when read (received on the in_port, sent on the output port, 4 bytes more or
/// less a frame when it pushes or strips a tag), so port statistics include what the kernel forwarded. Not thread
/// safe (the manager serialises calls).
/// </remarks>
public sealed class XdpOffloadTarget : IOffloadTarget
{
    private readonly XdpFlowMaps _maps;
    private readonly Dictionary<ushort, int> _ifIndexByPort;
    private readonly Dictionary<ushort, PortCounters> _portCounters;
    private readonly ushort[] _ports;
    private readonly Dictionary<ushort, string> _noRedirect;
    private readonly Dictionary<ushort, string> _forgotten = new();
    private readonly Dictionary<FlowEntry, Installed> _installed = new(ReferenceEqualityComparer.Instance);
    private readonly Stack<uint> _freeSlots = new();
    /// <summary>Flows deleted from the map whose slots are not yet read a last time (<see cref="Reap"/>), and what those reads found.</summary>
    private readonly List<(FlowEntry Entry, Installed Flow)> _retired = new();
    private readonly List<(FlowEntry Entry, OffloadCounts Counts)> _late = new();
    private long _writes;

    /// <summary>
    /// A target over <paramref name="maps"/> forwarding between <paramref name="ports"/> (OpenFlow number, ifindex),
    /// adding what it forwards to <paramref name="portCounters"/> (by OpenFlow number; a port not there counts nothing).
    /// <paramref name="noRedirect"/> names the ports frames redirected into would not leave by (OpenFlow number, why):
    /// flows that output there, or to IN_PORT from there, stay in software.
    /// </summary>
    public XdpOffloadTarget(XdpFlowMaps maps, IReadOnlyList<(ushort PortNo, int IfIndex)> ports, IReadOnlyDictionary<ushort, PortCounters>? portCounters = null,
                            IReadOnlyDictionary<ushort, string>? noRedirect = null)
    {
        _noRedirect = noRedirect is null ? [] : new Dictionary<ushort, string>(noRedirect);
        _maps = maps ?? throw new ArgumentNullException(nameof(maps));
        _ifIndexByPort = ports.ToDictionary(p => p.PortNo, p => p.IfIndex);
        _portCounters = portCounters is null ? [] : new Dictionary<ushort, PortCounters>(portCounters);
        _ports = [.. ports.Select(p => p.PortNo)];
        for (int s = maps.Capacity - 1; s >= 0; s--) _freeSlots.Push((uint)s);
    }

    public string Name => "xdp";
    public OffloadLookupModel LookupModel => OffloadLookupModel.ExactFirst;
    public IReadOnlyList<OffloadReason> Reasons => XdpReasons.All;
    public string Description => $"XDP flow map, {_ports.Length} AF_XDP port(s) ({string.Join(',', _ports)}), {_maps.Capacity} flows" +
        (_noRedirect.Count == 0 ? "" : "; no redirect into " + string.Join("; ", _noRedirect.OrderBy(p => p.Key).Select(p => $"port {p.Key} ({p.Value})")));
    public IReadOnlyList<ushort> Ports => _ports;

    /// <summary>BPF map writes (updates and deletes) so far.</summary>
    public long RegisterWrites => _writes;

    public IReadOnlyList<OffloadTableUsage> Occupancy => [new OffloadTableUsage("xdp-flows", _installed.Count, _maps.Capacity)];

    public string? Location(FlowEntry entry) => _installed.TryGetValue(entry, out var i) ? $"xdp-flows,slot={i.Slot}" : null;

    /// <summary>
    /// Stops using port <paramref name="portNo"/> (removed from the datapath, or re-opened over a new interface the
    /// program is not on): flows from it or to it are refused (<see cref="XdpReasons.PortReopened"/>, with
    /// <paramref name="why"/>). The caller then takes placed flows out and re-places them (the manager's
    /// <see cref="OffloadManager.Reconfigure"/>, which serialises this call with the others).
    /// </summary>
    public void ForgetPort(ushort portNo, string why)
    {
        if (_ifIndexByPort.Remove(portNo) || _forgotten.ContainsKey(portNo)) _forgotten[portNo] = why;
    }

    public OffloadResult Check(FlowEntry entry)
    {
        if (Compile(entry, 0, out var key, out _) is { } refused) return refused;
        if (_freeSlots.Count + _retired.Count == 0) return Full();
        return _maps.HasRoom(key) ? new OffloadResult(true, OffloadReason.None, default, 1, 0) : BucketFull();
    }

    public OffloadResult TryInstall(FlowEntry entry)
    {
        if (_installed.ContainsKey(entry)) throw new InvalidOperationException("flow installed twice");
        if (_freeSlots.Count == 0) Reap();
        if (_freeSlots.Count == 0) return Compile(entry, 0, out _, out _) ?? Full();
        uint slot = _freeSlots.Peek();
        if (Compile(entry, slot, out var key, out var action) is { } refused) return refused;
        if (!_maps.HasRoom(key)) return BucketFull();
        var route = Route(entry, action);
        _freeSlots.Pop();
        try
        {
            _maps.ClearCounters(slot);
            if (!_maps.Put(key, action)) throw new InvalidOperationException("the table refused a key it had room for");
        }
        catch
        {
            _freeSlots.Push(slot);
            throw;
        }
        _writes += 2;
        _installed[entry] = new Installed(key, slot) { InPort = route.In, OutPort = route.Out, TxSizeChange = route.SizeChange };
        return new OffloadResult(true, OffloadReason.None, default, 1, 2);
    }

    public OffloadResult Modify(FlowEntry entry)
    {
        if (!_installed.TryGetValue(entry, out var i)) throw new InvalidOperationException("modify of a flow not installed");
        if (Compile(entry, i.Slot, out var key, out var action) is { } refused) return refused;
        // What the old actions sent goes to the old output port.
        var (p, b) = _maps.ReadCounters(i.Slot);
        CountPorts(i, p, b);
        if (!_maps.Put(key, action)) throw new InvalidOperationException("a placed flow's key lost its way in the table");
        _writes++;
        (i.InPort, i.OutPort, i.TxSizeChange) = Route(entry, action);
        return new OffloadResult(true, OffloadReason.None, default, 1, 1);
    }

    public OffloadCounts Remove(FlowEntry entry)
    {
        if (!_installed.Remove(entry, out var i)) return default;
        _maps.Delete(i.Key);
        _writes++;
        var c = Take(i);
        // A program that found the flow before the delete may still count it: the slot is read again by Reap.
        _retired.Add((entry, i));
        return c;
    }

    public void Settle(List<(FlowEntry Entry, OffloadCounts Counts)> into)
    {
        Reap();
        into.AddRange(_late);
        _late.Clear();
    }

    /// <summary>
    /// Once every program run that could have found a removed flow has ended (an RCU grace period: XDP programs run
    /// inside RCU read-side sections), reads the removed flows' slots a last time and frees them, and with them the
    /// table entries retired before the wait.
    /// </summary>
    private void Reap()
    {
        if (_retired.Count == 0) return;
        int entries = _maps.Table.RetiredCount;
        Bpf.WaitForProgramsInFlight();
        _maps.Table.Reclaim(entries);
        foreach (var (e, i) in _retired)
        {
            var c = Take(i);
            if (!c.IsZero) _late.Add((e, c));
            _freeSlots.Push(i.Slot);
        }
        _retired.Clear();
    }

    public OffloadCounts ReadCounters(FlowEntry entry) => _installed.TryGetValue(entry, out var i) ? Take(i) : default;

    private OffloadCounts Take(Installed i)
    {
        var (p, b) = _maps.ReadCounters(i.Slot);
        var c = new OffloadCounts(p - i.Packets, b - i.Bytes);
        i.Packets = p;
        i.Bytes = b;
        CountPorts(i, p, b);
        return c;
    }

    /// <summary>Adds what the slot counted since its ports were last credited (<paramref name="packets"/>, <paramref name="bytes"/>: its totals) to them.</summary>
    private void CountPorts(Installed i, long packets, long bytes)
    {
        long dp = packets - i.PortPackets, db = bytes - i.PortBytes;
        i.PortPackets = packets;
        i.PortBytes = bytes;
        if (dp == 0) return;
        if (_portCounters.TryGetValue(i.InPort, out var rx))
        {
            rx.AddRx(dp, db);
        }
        if (i.OutPort != PortNumber.None && _portCounters.TryGetValue(i.OutPort, out var tx))
        {
            tx.AddTx(dp, db + dp * i.TxSizeChange);
        }
    }

    /// <summary>The ports a flow's frames cross (the output: none when dropped) and how a tag changes their size.</summary>
    private static (ushort In, ushort Out, int SizeChange) Route(FlowEntry e, in XdpFlowAction action)
    {
        ushort inPort = e.Match.Value.InPort, outPort = PortNumber.None;
        foreach (var a in e.Actions.Items)
            if (a.Kind == ActionKind.Output) outPort = a.Port == PortNumber.InPort ? inPort : a.Port;
        int change = (action.Flags & XdpFlowProgram.PushVlan) != 0 ? 4 : (action.Flags & XdpFlowProgram.PopVlan) != 0 ? -4 : 0;
        return (inPort, outPort, change);
    }

    private OffloadResult Full() => OffloadResult.Refused(OffloadReason.TableFull, $"{_maps.Capacity} flows");

    private static OffloadResult BucketFull() => OffloadResult.Refused(XdpReasons.BucketFull, $"{XdpFlowTable.Ways} ways");

    /// <summary>The key and action record of <paramref name="e"/>, or why the program cannot run it.</summary>
    private OffloadResult? Compile(FlowEntry e, uint slot, out XdpFlowKey key, out XdpFlowAction action)
    {
        key = default;
        action = default;
        var m = e.Match;
        // OpenFlow 1.3 cannot match the PCP of an untagged frame, whose key's PCP is always zero: the same flow.
        bool withAddresses = !m.IsExact && (m.Mask.Equals(s_exactWithIpv6Addresses.Bits) ||
                                            (m.Value.VlanVid == 0 && m.Mask.Equals(s_exactWithIpv6AddressesAnyPcp.Bits)));
        if (!m.IsExact && !withAddresses) return OffloadResult.Refused(XdpReasons.NonExactMatch);
        var k = m.Value;
        if (!_ifIndexByPort.TryGetValue(k.InPort, out int inIf))
        {
            return _forgotten.TryGetValue(k.InPort, out var gone)
                ? OffloadResult.Refused(XdpReasons.PortReopened, $"in_port {k.InPort}: {gone}")
                : OffloadResult.Refused(OffloadReason.InPortNotOffloadable, $"in_port {k.InPort}");
        }
        bool ipv6 = k.DlType == PacketParser.EthTypeIpv6;
        if (withAddresses && !ipv6) return OffloadResult.Refused(XdpReasons.NonExactMatch, "IPv6 addresses on a frame that is not IPv6");
        if (ipv6 ? !ParsedIpv6(k) : k.DlType != PacketParser.EthTypeIpv4 || k.NwProto == PacketParser.ProtoSctp)
            return OffloadResult.Refused(XdpReasons.NotParsed, $"dl_type 0x{k.DlType:x4}, nw_proto {k.NwProto}");
        bool tcpUdp = k.NwProto is PacketParser.ProtoTcp or PacketParser.ProtoUdp;
        bool wasTagged = (k.VlanVid & FlowKey.VlanPresent) != 0, tagged = wasTagged;
        // The key of an untagged frame has no PCP (two such flows would share its row).
        if (!wasTagged && k.DlVlanPcp != 0) return OffloadResult.Refused(XdpReasons.UntaggedPcp, $"dl_vlan_pcp {k.DlVlanPcp}");
        int vid = k.VlanVid & 0x0FFF, pcp = k.DlVlanPcp;
        ushort keyTci = wasTagged ? (ushort)(FlowKey.VlanPresent | (pcp << 13) | vid) : (ushort)0;
        uint flags = 0;
        int outIf = 0;
        ulong dlSrc = 0, dlDst = 0;
        uint nwSrc = 0, nwDst = 0;
        UInt128 ip6Src = 0, ip6Dst = 0;
        ushort tpSrc = 0, tpDst = 0;
        byte ttl = 0, dscp = 0;
        bool output = false;
        foreach (var a in e.Actions.Items)
        {
            if (output)
                return a.IsOutput ? OffloadResult.Refused(XdpReasons.MultiOutput, new OffloadDetail(null, a)) : OffloadResult.Refused(XdpReasons.ActionAfterOutput, new OffloadDetail(null, a));
            // IPv4 addresses and DSCP on IPv6 frames: not rewritten by the program.
            if (ipv6 && a.Kind is ActionKind.SetNwSrc or ActionKind.SetNwDst or ActionKind.SetNwTos)
                return OffloadResult.Refused(OffloadReason.UnsupportedAction, new OffloadDetail("on IPv6", a));
            switch (a.Kind)
            {
                case ActionKind.Output:
                    output = true;
                    switch (a.Port)
                    {
                        case PortNumber.InPort:
                            if (_noRedirect.TryGetValue(k.InPort, out var whyIn))
                                return OffloadResult.Refused(XdpReasons.VethPeerDropsRedirect, new OffloadDetail($"port {k.InPort}: {whyIn}", a));
                            flags |= XdpFlowProgram.OutInPort;
                            break;
                        case PortNumber.Controller: return OffloadResult.Refused(XdpReasons.ToController, new OffloadDetail(null, a));
                        case PortNumber.Flood or PortNumber.All: return OffloadResult.Refused(XdpReasons.Flood, new OffloadDetail(null, a));
                        default:
                            if (_forgotten.TryGetValue(a.Port, out var goneOut))
                                return OffloadResult.Refused(XdpReasons.PortReopened, new OffloadDetail($"port {a.Port}: {goneOut}", a));
                            if (a.Port == k.InPort || !_ifIndexByPort.TryGetValue(a.Port, out outIf))
                                return OffloadResult.Refused(OffloadReason.UnsupportedOutputPort, $"port {a.Port}");
                            if (_noRedirect.TryGetValue(a.Port, out var why))
                                return OffloadResult.Refused(XdpReasons.VethPeerDropsRedirect, new OffloadDetail($"port {a.Port}: {why}", a));
                            flags |= XdpFlowProgram.OutPort;
                            break;
                    }
                    break;
                case ActionKind.Enqueue or ActionKind.SetQueue: return OffloadResult.Refused(XdpReasons.Queue, new OffloadDetail(null, a));
                case ActionKind.Group: return OffloadResult.Refused(XdpReasons.Group, new OffloadDetail(null, a));
                case ActionKind.Meter: return OffloadResult.Refused(XdpReasons.Meter, new OffloadDetail(null, a));
                case ActionKind.SetTunnel: return OffloadResult.Refused(XdpReasons.Tunnel, new OffloadDetail(null, a));
                case ActionKind.SetDlSrc: flags |= XdpFlowProgram.SetDlSrc; dlSrc = a.Value; break;
                case ActionKind.SetDlDst: flags |= XdpFlowProgram.SetDlDst; dlDst = a.Value; break;
                case ActionKind.StripVlan: tagged = false; break;
                case ActionKind.PushVlan when a.Value == PacketParser.EthTypeVlan && !tagged: tagged = true; vid = 0; pcp = 0; break;
                case ActionKind.SetVlanVid when tagged: vid = (int)(a.Value & 0x0FFF); break;
                case ActionKind.SetVlanPcp when tagged: pcp = (int)(a.Value & 7); break;
                case ActionKind.SetNwSrc: flags |= XdpFlowProgram.SetNwSrc; nwSrc = (uint)a.Value; break;
                case ActionKind.SetNwDst: flags |= XdpFlowProgram.SetNwDst; nwDst = (uint)a.Value; break;
                case ActionKind.SetNwTos: flags |= XdpFlowProgram.SetTos; dscp = (byte)(a.Value & 0xFC); break;
                case ActionKind.SetNwTtl: flags |= XdpFlowProgram.SetTtl; ttl = (byte)a.Value; break;
                case ActionKind.SetIpv6Src when ipv6: flags |= XdpFlowProgram.SetIpv6Src; ip6Src = a.Wide; break;
                case ActionKind.SetIpv6Dst when ipv6: flags |= XdpFlowProgram.SetIpv6Dst; ip6Dst = a.Wide; break;
                case ActionKind.SetTpSrc when tcpUdp: flags |= XdpFlowProgram.SetTpSrc; tpSrc = (ushort)a.Value; break;
                case ActionKind.SetTpDst when tcpUdp: flags |= XdpFlowProgram.SetTpDst; tpDst = (ushort)a.Value; break;
                default: return OffloadResult.Refused(OffloadReason.UnsupportedAction, new OffloadDetail(null, a));
            }
        }
        ushort tci = (ushort)((pcp << 13) | vid);
        if (wasTagged && !tagged) flags |= XdpFlowProgram.PopVlan;
        else if (!wasTagged && tagged) flags |= XdpFlowProgram.PushVlan;
        else if (tagged && (ushort)(keyTci & ~FlowKey.VlanPresent) != tci) flags |= XdpFlowProgram.SetVlanTci;
        key = KeyOf(k, inIf, withAddresses);
        action = new XdpFlowAction(flags, outIf, dlDst, dlSrc, tci, nwSrc, nwDst, tpSrc, tpDst, ttl, dscp, slot) { Ipv6Src = ip6Src, Ipv6Dst = ip6Dst };
        return null;
    }

    /// <summary>The map key of a placed flow whose match is <paramref name="k"/> on the port of <paramref name="inIfIndex"/>
    /// (with <paramref name="withAddresses"/>, the key of the program's second lookup, holding the IPv6 addresses).</summary>
    internal static XdpFlowKey KeyOf(in FlowKey k, int inIfIndex, bool withAddresses)
    {
        ushort tci = (k.VlanVid & FlowKey.VlanPresent) != 0 ? (ushort)(FlowKey.VlanPresent | (k.DlVlanPcp << 13) | (k.VlanVid & 0x0FFF)) : (ushort)0;
        return new XdpFlowKey(inIfIndex, tci, k.DlType, k.DlDst.Value, k.DlSrc.Value, k.NwProto, k.NwTos, k.TpSrc, k.TpDst, k.NwSrc, k.NwDst)
        {
            Ipv6Addresses = withAddresses ? (k.Ipv6Src, k.Ipv6Dst) : null,
        };
    }

    /// <summary>The exact mask and both IPv6 addresses: the flows of the program's second lookup.</summary>
    private static readonly FlowMask s_exactWithIpv6Addresses =
        FlowMask.Intern(new FlowKeyBuilder(FlowMatch.ExactMaskNoTun).Ipv6Src(UInt128.MaxValue).Ipv6Dst(UInt128.MaxValue).Key);

    /// <summary>The same without the PCP (an untagged frame's flow as OpenFlow 1.3 says it).</summary>
    private static readonly FlowMask s_exactWithIpv6AddressesAnyPcp =
        FlowMask.Intern(new FlowKeyBuilder(s_exactWithIpv6Addresses.Bits).DlVlanPcp(0).Key);

    /// <summary>What the program parses of IPv6: TCP, UDP or ICMPv6 other than neighbour discovery (IPv4 addresses zero).</summary>
    private static bool ParsedIpv6(in FlowKey k)
        => k.NwSrc == 0 && k.NwDst == 0 &&
           (k.NwProto is PacketParser.ProtoTcp or PacketParser.ProtoUdp ||
            (k.NwProto == PacketParser.ProtoIcmpv6 && (k.TpSrc & 0xFF) is not (135 or 136)));

    private sealed class Installed(XdpFlowKey key, uint slot)
    {
        public readonly XdpFlowKey Key = key;
        public readonly uint Slot = slot;
        /// <summary>The slot's totals at the last read for the flow, and at the last credit to the ports.</summary>
        public long Packets, Bytes, PortPackets, PortBytes;
        public ushort InPort, OutPort;
        public int TxSizeChange;
    }
}
