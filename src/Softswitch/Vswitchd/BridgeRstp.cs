using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Softswitch.Datapath.Ports;
using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Forwarding;
using Softswitch.Stp;

namespace Softswitch.Vswitchd;

/// <summary>One port a bridge's rapid spanning tree is told of: its OpenFlow number, name, Port row settings, whether it
/// may take part (not the LOCAL port, another internal interface or a mirror's output) and its link speed in Mbit/s
/// (0: unknown).</summary>
internal readonly record struct RstpPortInput(ushort No, string Name, Guid PortUuid, PortRstpConfig Settings, bool Eligible, long Mbps);

/// <summary>
/// A bridge's 802.1w rapid spanning tree (Bridge rstp_enable=true) between its <see cref="RstpBridge"/> engine and its
/// datapath, as Open vSwitch's ofproto-dpif drives lib/rstp.c, and built as <see cref="BridgeStp"/> is: BPDUs the
/// datapath consumes come here (<see cref="IBpduSink"/>), the engine's BPDUs go out through a packet-out to their port,
/// the ports' links are the engine's MAC operational state, and each port's state becomes its datapath gate and
/// OpenFlow state (<see cref="SwitchDatapath.SetPortStp"/>, a PORT_STATUS per change: discarding is 1.0's STP_LISTEN
/// and 1.3's BLOCKED, as Open vSwitch's update_rstp_port_state maps it); a topology change flushes the addresses
/// learned on the ports the engine names.
/// </summary>
/// <remarks>Threads, rings and the timer: <see cref="BridgeTreeDriver"/>.</remarks>
internal sealed class BridgeRstp : BridgeTreeDriver
{
    private readonly RstpBridge _rstp;
    /// <summary>Engine port number → OpenFlow port number (0: unused), and the Port row each serves.</summary>
    private readonly ushort[] _ofport = new ushort[RstpBridge.MaxPorts + 1];
    private readonly Guid[] _portUuid = new Guid[RstpBridge.MaxPorts + 1];
    /// <summary>OpenFlow port number → engine port number (0: none).</summary>
    private readonly Dictionary<ushort, int> _byOfport = [];
    /// <summary>Ports with rstp-port-mcheck=true as last applied (mcheck runs when it becomes true).</summary>
    private readonly HashSet<ushort> _mcheck = [];

    public BridgeRstp(string bridge, SwitchDatapath dp, ulong address, ILogger log)
        : base(bridge, dp, log, RstpBridge.MaxPorts + 1, "rapid spanning tree")
    {
        _rstp = new RstpBridge(bridge, address, this);
        Start();
    }

    /// <summary>
    /// Applies the bridge's settings and its ports, as Open vSwitch's bridge_configure_rstp and port_configure_rstp:
    /// eligible ports with rstp-enable take part, numbered by rstp-port-num (a number another port has already: the
    /// first free one, as rstp_port_set_port_number__) or else the first free number, in OpenFlow port order; the
    /// others are excluded (they forward; BPDUs they receive are consumed); a port no longer given leaves the protocol.
    /// </summary>
    public void Configure(RstpConfig config, ulong bridgeAddress, IReadOnlyList<RstpPortInput> ports)
    {
        lock (Sync)
        {
            if (Disposed) return;
            _rstp.SetAddress(config.Address ?? bridgeAddress);
            _rstp.SetPriority(config.Priority);
            _rstp.SetAgeingTime(config.AgeingTime);
            _rstp.SetForceProtocolVersion(config.ForceProtocolVersion);
            _rstp.SetTimes(config.MaxAge, config.ForwardDelay);
            _rstp.SetTransmitHoldCount(config.TransmitHoldCount);

            var taking = ports.Where(p => p.Eligible && p.Settings.Enabled).OrderBy(p => p.No).ToList();
            var keep = taking.Select(p => p.No).ToHashSet();
            // Ports that left the protocol, or whose number is to change.
            foreach (var (no, number) in _byOfport.ToList())
            {
                var wanted = taking.FirstOrDefault(p => p.No == no);
                if (keep.Contains(no) && (wanted.Settings.PortNum is not { } n || n == number)) continue;
                if (_rstp.Port(number) is { } gone) _rstp.RemovePort(gone);
                _ofport[number] = 0;
                Output[number] = null;
                _byOfport.Remove(no);
            }
            var taken = _byOfport.Values.ToHashSet();
            int FirstFree()
            {
                for (int n = 1; n <= RstpBridge.MaxPorts; n++)
                    if (!taken.Contains(n)) return n;
                return 0;
            }
            foreach (var p in taking.OrderBy(p => p.Settings.PortNum is null))
            {
                if (_byOfport.ContainsKey(p.No)) continue;
                int number = p.Settings.PortNum is { } n && !taken.Contains(n) ? n : FirstFree();
                if (number == 0)
                {
                    Log.LogError("bridge {Bridge}: port {Port}: more than {Max} RSTP ports: it takes no part", BridgeName, p.Name, RstpBridge.MaxPorts);
                    continue;
                }
                if (p.Settings.PortNum is { } asked && asked != number)
                    Log.LogError("bridge {Bridge}: port {Port}: rstp-port-num {Num} is another port's: it is number {Used}", BridgeName, p.Name, asked, number);
                taken.Add(number);
                _rstp.AddPort(number);
                _byOfport[p.No] = number;
                _ofport[number] = p.No;
                Output[number] = new FlowActions([FlowAction.Output(p.No)]);
                SetState(p.No, PortStpState.Disabled);
            }
            foreach (var p in taking)
            {
                if (!_byOfport.TryGetValue(p.No, out int number) || _rstp.Port(number) is not { } port) continue;
                var s = p.Settings;
                port.Name = p.Name;
                _portUuid[number] = p.PortUuid;
                _rstp.SetPortPriority(port, s.Priority);
                _rstp.SetPathCost(port, s.PathCost ?? RstpBridge.SpeedToCost(p.Mbps));
                _rstp.SetEdge(port, s.AdminEdge, s.AutoEdge);
                _rstp.SetPointToPoint(port, s.PointToPoint);
                _rstp.SetAdminPortState(port, s.AdminPortState);
                if (s.Mcheck && _mcheck.Add(p.No)) _rstp.Mcheck(port);
                else if (!s.Mcheck) _mcheck.Remove(p.No);
            }
            _mcheck.IntersectWith(keep);
            foreach (var p in ports)
            {
                if (_byOfport.ContainsKey(p.No)) continue;
                SetState(p.No, PortStpState.Excluded);
            }
            Gated.IntersectWith(ports.Select(p => p.No));
            RunLocked();
        }
    }

    protected override ushort OfPort(int enginePort) => _ofport[enginePort];

    /// <summary>One round (under <see cref="BridgeTreeDriver.Sync"/>): links, received BPDUs, time, then states, flushes and BPDUs out.</summary>
    protected override void RunLocked()
    {
        var ports = _rstp.Ports;
        for (int i = 0; i < ports.Count; i++)
        {
            var port = ports[i];
            var slot = Dp.Ports.Get(_ofport[port.Number]);
            bool up = slot is not null && slot.LinkUp && (slot.Config & PortConfig.PortDown) == 0;
            _rstp.SetMacOperational(port, up);
        }
        while (TakeReceived(out ushort no, out bool parsed, out var bpdu))
        {
            // An excluded port's BPDU: consumed, not heard.
            if (!_byOfport.TryGetValue(no, out int number) || _rstp.Port(number) is not { } port) continue;
            if (parsed) _rstp.Received(port, bpdu);
            else port.ErrorCount++;
        }
        _rstp.Tick(TakeElapsedMs());
        while (_rstp.TryTakeChangedPort(out var changed))
        {
            ushort no = _ofport[changed.Number];
            if (no == 0) continue;
            SetState(no, Map(changed.State));
            Log.LogInformation("bridge {Bridge}: port {Port}: RSTP state {State} (role {Role})", BridgeName, changed.Name, Name(changed.State), Name(changed.Role));
        }
        // A port reopened under its number (a new slot, no gate) takes its state again.
        for (int i = 0; i < ports.Count; i++)
        {
            var port = ports[i];
            if (Dp.Ports.Get(_ofport[port.Number]) is not { } slot || slot.Stp == Map(port.State)) continue;
            SetState(slot.No, Map(port.State));
        }
        while (_rstp.TryTakeFdbFlush(out var flushed))
        {
            if (_ofport[flushed.Number] is var no and not 0) Dp.MacTable.Age(Dp.Clock.NowNanos, no);
        }
        SendQueued();
    }

    /// <summary>The datapath state of an RSTP state: discarding gates as listening does (neither learns nor forwards,
    /// and is OpenFlow 1.0's STP_LISTEN, as Open vSwitch reports it).</summary>
    private static PortStpState Map(RstpState s) => s switch
    {
        RstpState.Learning => PortStpState.Learning,
        RstpState.Forwarding => PortStpState.Forwarding,
        RstpState.Discarding => PortStpState.Listening,
        _ => PortStpState.Disabled,
    };

    /// <summary>A state's name as Open vSwitch writes it (rstp_state_name).</summary>
    public static string Name(RstpState s) => s switch
    {
        RstpState.Disabled => "Disabled",
        RstpState.Learning => "Learning",
        RstpState.Forwarding => "Forwarding",
        _ => "Discarding",
    };

    /// <summary>A role's name as Open vSwitch writes it (rstp_port_role_name).</summary>
    public static string Name(RstpRole r) => r switch
    {
        RstpRole.Root => "Root",
        RstpRole.Designated => "Designated",
        RstpRole.Alternate => "Alternate",
        RstpRole.Backup => "Backup",
        _ => "Disabled",
    };

    /// <summary>An identifier as Open vSwitch prints it (RSTP_ID_FMT): the priority's top 4 bits, the system ID
    /// extension (12 bits), the address, in hex: 8.000.aabbccddeeff.</summary>
    public static string Id(ulong id) => $"{id >> 60:x1}.{(id >> 48) & 0xfff:x3}.{id & ((1UL << 48) - 1):x12}";

    /// <summary>A port identifier as Open vSwitch prints it (RSTP_PORT_ID_FMT: four hex digits).</summary>
    public static string PortId(ushort id) => id.ToString("x4", CultureInfo.InvariantCulture);

    /// <summary>The Bridge rstp_status keys Open vSwitch writes (br_refresh_rstp_status).</summary>
    public Dictionary<string, string> BridgeStatus()
    {
        lock (Sync)
        {
            return new Dictionary<string, string>
            {
                ["rstp_bridge_id"] = Id(_rstp.BridgeId),
                ["rstp_root_path_cost"] = _rstp.RootPathCost.ToString(CultureInfo.InvariantCulture),
                ["rstp_root_id"] = Id(_rstp.RootId),
                ["rstp_designated_id"] = Id(_rstp.DesignatedId),
                ["rstp_designated_port_id"] = PortId(_rstp.DesignatedPortId),
                ["rstp_bridge_port_id"] = PortId(_rstp.BridgePortId),
            };
        }
    }

    /// <summary>Each participating Port row's rstp_status (port_refresh_rstp_status: rstp_port_id, rstp_port_role,
    /// rstp_port_state, rstp_designated_bridge_id, rstp_designated_port_id, rstp_designated_path_cost) and
    /// rstp_statistics (rstp_tx_count, rstp_rx_count, rstp_uptime, rstp_error_count).</summary>
    public List<(Guid Port, Dictionary<string, string> Status, Dictionary<string, long> Statistics)> PortStatus()
    {
        var list = new List<(Guid, Dictionary<string, string>, Dictionary<string, long>)>();
        lock (Sync)
        {
            foreach (var p in _rstp.Ports)
            {
                list.Add((_portUuid[p.Number], new Dictionary<string, string>
                {
                    ["rstp_port_id"] = PortId(p.PortId),
                    ["rstp_port_role"] = Name(p.Role),
                    ["rstp_port_state"] = Name(p.State),
                    ["rstp_designated_bridge_id"] = Id(p.DesignatedBridgeId),
                    ["rstp_designated_port_id"] = PortId(p.DesignatedPortId),
                    ["rstp_designated_path_cost"] = p.DesignatedPathCost.ToString(CultureInfo.InvariantCulture),
                }, new Dictionary<string, long>
                {
                    ["rstp_tx_count"] = p.TxCount,
                    ["rstp_rx_count"] = p.RxCount,
                    ["rstp_uptime"] = p.Uptime,
                    ["rstp_error_count"] = p.ErrorCount,
                }));
            }
        }
        return list;
    }

    /// <summary>Mixes what the status shows into <paramref name="stamp"/> (see <see cref="Bridge.AddStatusStamp"/>):
    /// the root priority vector and each port's identifier, state, role, designated vector and counts (rstp_uptime moves
    /// every second: it is written with whatever else is).</summary>
    public void AddStatusStamp(ref StatusStamp stamp)
    {
        lock (Sync)
        {
            stamp.Add((long)_rstp.BridgeId);
            stamp.Add((long)_rstp.RootId);
            stamp.Add(_rstp.RootPathCost);
            stamp.Add((long)_rstp.DesignatedId);
            stamp.Add(_rstp.DesignatedPortId << 16 | _rstp.BridgePortId);
            foreach (var p in _rstp.Ports)
            {
                stamp.Add(p.PortId);
                stamp.Add((long)p.State << 8 | (long)p.Role);
                stamp.Add((long)p.DesignatedBridgeId);
                stamp.Add((long)p.DesignatedPortId << 32 | p.DesignatedPathCost);
                stamp.Add(p.TxCount);
                stamp.Add(p.RxCount);
                stamp.Add(p.ErrorCount);
            }
        }
    }

    /// <summary>The bridge as Open vSwitch's <c>ovs-appctl rstp/show</c> prints it (lib/rstp.c rstp_print_details).</summary>
    public void Show(StringBuilder s)
    {
        lock (Sync)
        {
            s.Append("---- ").Append(BridgeName).Append(" ----\n");
            s.Append("Root ID:\n");
            if (_rstp.IsRoot)
            {
                IdDetails(s, _rstp.BridgeId, RstpBridge.HelloTime, _rstp.BridgeMaxAge, _rstp.BridgeForwardDelay);
                s.Append("  This bridge is the root\n");
            }
            else if (_rstp.RootPort is not { } root)
            {
                s.Append("unknown root port\n");
                return;
            }
            else
            {
                IdDetails(s, _rstp.RootId, _rstp.RootHelloTime, _rstp.RootMaxAge, _rstp.RootForwardDelay);
                s.Append("  root-port       ").Append(root.Name).Append('\n');
                s.Append("  root-path-cost  ").Append(_rstp.RootPathCost.ToString(CultureInfo.InvariantCulture)).Append('\n');
            }
            s.Append('\n');
            s.Append("Bridge ID:\n");
            IdDetails(s, _rstp.BridgeId, RstpBridge.HelloTime, _rstp.BridgeMaxAge, _rstp.BridgeForwardDelay);
            s.Append('\n');
            s.Append(CultureInfo.InvariantCulture, $"  {"Interface",-11}{"Role",-11}{"State",-11}{"Cost",-9}{"Pri.Nbr",-8}\n");
            s.Append("  ---------- ---------- ---------- -------- -------\n");
            foreach (var p in _rstp.Ports.OrderBy(p => p.Number))
            {
                if (p.State == RstpState.Disabled) continue;
                s.Append(CultureInfo.InvariantCulture, $"  {Cut(p.Name),-11}{Cut(Name(p.Role)),-11}{Cut(Name(p.State)),-11}{p.PathCost,-9}{p.Priority}.{p.Number}\n");
            }
            s.Append('\n');
        }
    }

    private static string Cut(string s) => s.Length > 10 ? s[..10] : s;

    private static void IdDetails(StringBuilder s, ulong id, int hello, int maxAge, int forwardDelay)
    {
        ulong mac = id & ((1UL << 48) - 1);
        s.Append(CultureInfo.InvariantCulture, $"  stp-priority    {id >> 48}\n");
        s.Append(CultureInfo.InvariantCulture, $"  stp-system-id   {mac >> 40:x2}:{(mac >> 32) & 0xff:x2}:{(mac >> 24) & 0xff:x2}:{(mac >> 16) & 0xff:x2}:{(mac >> 8) & 0xff:x2}:{mac & 0xff:x2}\n");
        s.Append(CultureInfo.InvariantCulture, $"  stp-hello-time  {hello}s\n");
        s.Append(CultureInfo.InvariantCulture, $"  stp-max-age     {maxAge}s\n");
        s.Append(CultureInfo.InvariantCulture, $"  stp-fwd-delay   {forwardDelay}s\n");
    }
}
