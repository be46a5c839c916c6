using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Ports;
using Softswitch.Stp;

namespace Softswitch.Vswitchd;

/// <summary>One port a bridge's spanning tree is told of: its OpenFlow number, name, Port row settings, whether it may
/// take part (not the LOCAL port or another internal interface) and its link speed in Mbit/s (0: unknown).</summary>
internal readonly record struct StpPortInput(ushort No, string Name, Guid PortUuid, PortStpConfig Settings, bool Eligible, long Mbps);

/// <summary>
/// A bridge's 802.1D spanning tree (Bridge stp_enable=true) between its <see cref="StpBridge"/> engine and its
/// datapath, as Open vSwitch's ofproto-dpif drives lib/stp.c: BPDUs the datapath consumes come here
/// (<see cref="IBpduSink"/>), the engine's BPDUs go out through a packet-out to their port, the ports' links enable and
/// disable them in the protocol, and each port's state becomes its datapath gate and OpenFlow state
/// (<see cref="SwitchDatapath.SetPortStp"/>: a PORT_STATUS per change); a topology change flushes the MAC table.
/// </summary>
/// <remarks>Threads, rings and the timer: <see cref="BridgeTreeDriver"/>.</remarks>
internal sealed class BridgeStp : BridgeTreeDriver
{
    private readonly StpBridge _stp;
    /// <summary>Engine port index → OpenFlow port number (0: unused), and the Port row each serves.</summary>
    private readonly ushort[] _ofport = new ushort[StpBridge.MaxPorts];
    private readonly Guid[] _portUuid = new Guid[StpBridge.MaxPorts];
    /// <summary>Engine port index → when (<see cref="Environment.TickCount64"/>) its state was entered (stp_sec_in_state).</summary>
    private readonly long[] _entered = new long[StpBridge.MaxPorts];

    public BridgeStp(string bridge, SwitchDatapath dp, ulong bridgeId, ILogger log)
        : base(bridge, dp, log, StpBridge.MaxPorts, "spanning tree")
    {
        _stp = new StpBridge(bridge, bridgeId, this);
        Start();
    }

    /// <summary>
    /// Why the ports cannot run a spanning tree together, or null: as Open vSwitch's bridge_configure_stp, stp-port-num
    /// is set on every eligible port with stp-enable or on none ("must manually configure all STP port IDs or none");
    /// a port whose number is not one of 1 to 255 counts as neither (it takes no part).
    /// </summary>
    public static string? MixedPortNumbers(IReadOnlyList<StpPortInput> ports)
    {
        var set = new List<string>();
        var unset = new List<string>();
        foreach (var p in ports.OrderBy(p => p.No))
        {
            if (!p.Eligible || !p.Settings.Enabled) continue;
            if (p.Settings.PortNum is null) unset.Add(p.Name);
            else if (p.Settings.PortNum > 0) set.Add(p.Name);
        }
        if (set.Count == 0 || unset.Count == 0) return null;
        return $"stp-port-num must be set on all spanning tree ports or none (set on {string.Join(", ", set)}; not on {string.Join(", ", unset)}): spanning tree disabled";
    }

    /// <summary>
    /// Applies the bridge's settings and its ports: eligible ports with stp-enable take part, numbered by stp-port-num
    /// (a number another port has, the one with the lower OpenFlow number keeps it) or, when none has one, in port
    /// order (see <see cref="MixedPortNumbers"/> for both at once); the others are excluded (they forward; BPDUs they
    /// receive are consumed), also a port whose stp-port-num is not one of 1 to 255; a port no longer given loses its
    /// state.
    /// </summary>
    public void Configure(StpConfig config, ulong bridgeAddress, IReadOnlyList<StpPortInput> ports)
    {
        lock (Sync)
        {
            if (Disposed) return;
            _stp.SetBridgePriority(config.Priority);
            _stp.SetBridgeAddress(config.SystemId ?? bridgeAddress);
            _stp.SetTimes(config.HelloTimeMs, config.MaxAgeMs, config.ForwardDelayMs);

            var taken = new HashSet<int>();
            var wanted = new Dictionary<int, StpPortInput>();
            foreach (var p in ports.OrderBy(p => p.No))
            {
                if (!p.Eligible || !p.Settings.Enabled || p.Settings.PortNum is not { } n || n == 0) continue;
                if (!taken.Add(n - 1))
                {
                    Log.LogError("bridge {Bridge}: port {Port}: duplicate stp-port-num {Num} (another port's): it takes no part in spanning tree", BridgeName, p.Name, n);
                    continue;
                }
                wanted[n - 1] = p;
            }
            int next = 0;
            foreach (var p in ports.OrderBy(p => p.No))
            {
                if (!p.Eligible || !p.Settings.Enabled || p.Settings.PortNum is not null) continue;
                while (next < StpBridge.MaxPorts && taken.Contains(next)) next++;
                if (next == StpBridge.MaxPorts)
                {
                    Log.LogError("bridge {Bridge}: port {Port}: more than {Max} spanning tree ports: it takes no part", BridgeName, p.Name, StpBridge.MaxPorts);
                    continue;
                }
                taken.Add(next);
                wanted[next] = p;
            }

            // Ports that left the protocol, or moved to another number.
            for (int i = 0; i < StpBridge.MaxPorts; i++)
            {
                if (_ofport[i] == 0 || (wanted.TryGetValue(i, out var w) && w.No == _ofport[i])) continue;
                _stp.DisablePort(_stp.Port(i));
                _ofport[i] = 0;
                Output[i] = null;
            }
            var given = new HashSet<ushort>();
            foreach (var (i, p) in wanted)
            {
                given.Add(p.No);
                var port = _stp.Port(i);
                port.Name = p.Name;
                _portUuid[i] = p.PortUuid;
                _stp.SetPortPriority(port, p.Settings.Priority);
                _stp.SetPathCost(port, p.Settings.PathCost is { } cost and > 0 ? cost : StpBridge.SpeedToCost(p.Mbps));
                if (_ofport[i] == p.No) continue;
                _ofport[i] = p.No;
                Output[i] = new FlowActions([FlowAction.Output(p.No)]);
                _entered[i] = Environment.TickCount64;
                SetState(p.No, PortStpState.Disabled);
            }
            foreach (var p in ports)
            {
                if (given.Contains(p.No)) continue;
                SetState(p.No, PortStpState.Excluded);
            }
            // Ports gone from the bridge: nothing to reset (their slots went with them).
            Gated.IntersectWith(ports.Select(p => p.No));
            RunLocked();
        }
    }

    protected override ushort OfPort(int enginePort) => _ofport[enginePort];

    /// <summary>One round (under <see cref="BridgeTreeDriver.Sync"/>): links, received BPDUs, time, then states, flush and BPDUs out.</summary>
    protected override void RunLocked()
    {
        for (int i = 0; i < StpBridge.MaxPorts; i++)
        {
            if (_ofport[i] == 0) continue;
            var slot = Dp.Ports.Get(_ofport[i]);
            var port = _stp.Port(i);
            bool up = slot is not null && slot.LinkUp && (slot.Config & PortConfig.PortDown) == 0;
            if (up && port.State == StpState.Disabled) _stp.EnablePort(port);
            else if (!up && port.State != StpState.Disabled) _stp.DisablePort(port);
        }
        while (TakeReceived(out ushort no, out bool parsed, out var bpdu))
        {
            int i = Array.IndexOf(_ofport, no);
            if (i < 0) continue; // an excluded port's BPDU: consumed, not heard (as Open vSwitch sinks them)
            var port = _stp.Port(i);
            if (parsed) _stp.Received(port, bpdu);
            else port.ErrorCount++;
        }
        long now = Environment.TickCount64;
        _stp.Tick(TakeElapsedMs());
        while (_stp.TryTakeChangedPort(out var changed))
        {
            ushort no = _ofport[changed.No];
            if (no == 0) continue;
            _entered[changed.No] = now;
            SetState(no, Map(changed.State));
            Log.LogInformation("bridge {Bridge}: port {Port}: spanning tree state {State}", BridgeName, changed.Name, Name(changed.State));
        }
        // A port reopened under its number (a new slot, no gate) takes its state again.
        for (int i = 0; i < StpBridge.MaxPorts; i++)
        {
            if (_ofport[i] == 0 || Dp.Ports.Get(_ofport[i]) is not { } slot) continue;
            var port = _stp.Port(i);
            if (slot.Stp == Map(port.State)) continue;
            Log.LogInformation("bridge {Bridge}: port {Port}: datapath state {Was} set to the spanning tree's {State}", BridgeName, port.Name, slot.Stp, Name(port.State));
            SetState(slot.No, Map(port.State));
        }
        if (_stp.TakeFdbFlush()) Dp.MacTable.Clear();
        SendQueued();
    }

    private static PortStpState Map(StpState s) => s switch
    {
        StpState.Listening => PortStpState.Listening,
        StpState.Learning => PortStpState.Learning,
        StpState.Forwarding => PortStpState.Forwarding,
        StpState.Blocking => PortStpState.Blocking,
        _ => PortStpState.Disabled,
    };

    /// <summary>A state's name as Open vSwitch writes it (stp_state_name).</summary>
    public static string Name(StpState s) => s switch
    {
        StpState.Disabled => "disabled",
        StpState.Listening => "listening",
        StpState.Learning => "learning",
        StpState.Forwarding => "forwarding",
        _ => "blocking",
    };

    /// <summary>A role's name as Open vSwitch writes it (stp_role_name).</summary>
    public static string Name(StpRole r) => r switch
    {
        StpRole.Root => "root",
        StpRole.Designated => "designated",
        StpRole.Alternate => "alternate",
        _ => "disabled",
    };

    /// <summary>An identifier as Open vSwitch prints it (STP_ID_FMT): priority, a dot, the address, in hex.</summary>
    public static string Id(ulong id) => $"{id >> 48:x4}.{id & ((1UL << 48) - 1):x12}";

    /// <summary>The Bridge status keys Open vSwitch writes for its spanning tree.</summary>
    public void AddBridgeStatus(IDictionary<string, string> status)
    {
        lock (Sync)
        {
            status["stp_bridge_id"] = Id(_stp.BridgeId);
            status["stp_designated_root"] = Id(_stp.DesignatedRoot);
            status["stp_root_path_cost"] = _stp.RootPathCost.ToString(CultureInfo.InvariantCulture);
        }
    }

    /// <summary>Each participating Port row's status keys (stp_port_id, stp_state, stp_sec_in_state, stp_role) and
    /// statistics (stp_tx_count, stp_rx_count, stp_error_count), as Open vSwitch writes them: stp_sec_in_state is the
    /// whole seconds since the port entered its state, as of this call (Open vSwitch's get_stp_port_status, written
    /// with the status).</summary>
    public List<(Guid Port, Dictionary<string, string> Status, Dictionary<string, long> Statistics)> PortStatus()
    {
        var list = new List<(Guid, Dictionary<string, string>, Dictionary<string, long>)>();
        lock (Sync)
        {
            long now = Environment.TickCount64;
            for (int i = 0; i < StpBridge.MaxPorts; i++)
            {
                if (_ofport[i] == 0) continue;
                var p = _stp.Port(i);
                list.Add((_portUuid[i], new Dictionary<string, string>
                {
                    ["stp_port_id"] = p.PortId.ToString(CultureInfo.InvariantCulture),
                    ["stp_state"] = Name(p.State),
                    ["stp_sec_in_state"] = ((ulong)Math.Max(0, now - _entered[i]) / 1000).ToString(CultureInfo.InvariantCulture),
                    ["stp_role"] = Name(p.Role),
                }, new Dictionary<string, long>
                {
                    ["stp_tx_count"] = p.TxCount,
                    ["stp_rx_count"] = p.RxCount,
                    ["stp_error_count"] = p.ErrorCount,
                }));
            }
        }
        return list;
    }

    /// <summary>Mixes what the status shows into <paramref name="stamp"/> (see <see cref="Bridge.AddStatusStamp"/>): the
    /// root, its cost, and each port's state, role and BPDU counts (so the statistics are written on the once-a-second
    /// status round that sees them move; a bridge whose counts stand still costs that round nothing). Not
    /// stp_sec_in_state, which moves every second: it is written with whatever else is, as Open vSwitch writes it with
    /// the status.</summary>
    public void AddStatusStamp(ref StatusStamp stamp)
    {
        lock (Sync)
        {
            stamp.Add((long)_stp.BridgeId);
            stamp.Add((long)_stp.DesignatedRoot);
            stamp.Add(_stp.RootPathCost);
            for (int i = 0; i < StpBridge.MaxPorts; i++)
            {
                if (_ofport[i] == 0) continue;
                var p = _stp.Port(i);
                stamp.Add(p.PortId);
                stamp.Add((long)p.State << 8 | (long)p.Role);
                stamp.Add(p.TxCount);
                stamp.Add(p.RxCount);
                stamp.Add(p.ErrorCount);
            }
        }
    }

    /// <summary>A topology change forced (<c>ovs-appctl stp/tcn</c>, lib/stp.c's stp_topology_change_detection): the
    /// root sets the topology change flag in its BPDUs for max-age plus forward-delay, another bridge sends a TCN to
    /// the root; the MAC table is flushed. The round runs at once, so the flush and a TCN do not wait for the timer.</summary>
    public void ForceTopologyChange()
    {
        lock (Sync)
        {
            if (Disposed) return;
            _stp.TopologyChangeDetection();
            Log.LogInformation("bridge {Bridge}: detected topology change (stp/tcn)", BridgeName);
            RunLocked();
        }
    }

    /// <summary>Whether the bridge signals a topology change in its BPDUs now (the root's topology change flag).</summary>
    public bool SignalsTopologyChange
    {
        get
        {
            lock (Sync) return _stp.TopologyChange;
        }
    }

    /// <summary>The bridge as Open vSwitch's <c>ovs-appctl stp/show</c> prints it (lib/stp.c stp_print_details).</summary>
    public void Show(StringBuilder s)
    {
        lock (Sync)
        {
            s.Append("---- ").Append(BridgeName).Append(" ----\n");
            s.Append("Root ID:\n");
            IdDetails(s, _stp.DesignatedRoot, _stp.BridgeHelloTime, _stp.BridgeMaxAge, _stp.BridgeForwardDelay);
            if (_stp.IsRoot || _stp.RootPort is null)
            {
                s.Append("  This bridge is the root\n");
            }
            else
            {
                s.Append("  root-port       ").Append(_stp.RootPort.Name).Append('\n');
                s.Append("  root-path-cost  ").Append(_stp.RootPathCost.ToString(CultureInfo.InvariantCulture)).Append('\n');
            }
            s.Append('\n');
            s.Append("Bridge ID:\n");
            IdDetails(s, _stp.BridgeId, _stp.HelloTime, _stp.MaxAge, _stp.ForwardDelay);
            s.Append('\n');
            s.Append(CultureInfo.InvariantCulture, $"  {"Interface",-11}{"Role",-11}{"State",-11}{"Cost",-6}{"Pri.Nbr",-8}\n");
            s.Append("  ---------- ---------- ---------- ----- -------\n");
            for (int i = 0; i < StpBridge.MaxPorts; i++)
            {
                var p = _stp.Port(i);
                if (_ofport[i] == 0 || p.State == StpState.Disabled) continue;
                string name = p.Name.Length > 10 ? p.Name[..10] : p.Name;
                s.Append(CultureInfo.InvariantCulture, $"  {name,-11}{Name(p.Role),-11}{Name(p.State),-11}{p.PathCost,-6}{p.PortId >> 8}.{p.PortId & 0xff}\n");
            }
            s.Append('\n');
        }
    }

    private static void IdDetails(StringBuilder s, ulong id, int hello, int maxAge, int forwardDelay)
    {
        ulong mac = id & ((1UL << 48) - 1);
        s.Append(CultureInfo.InvariantCulture, $"  stp-priority  {id >> 48}\n");
        s.Append(CultureInfo.InvariantCulture, $"  stp-system-id   {mac >> 40:x2}:{(mac >> 32) & 0xff:x2}:{(mac >> 24) & 0xff:x2}:{(mac >> 16) & 0xff:x2}:{(mac >> 8) & 0xff:x2}:{mac & 0xff:x2}\n");
        s.Append(CultureInfo.InvariantCulture, $"  stp-hello-time  {StpBridge.TimerToMs(hello) / 1000}s\n");
        s.Append(CultureInfo.InvariantCulture, $"  stp-max-age     {StpBridge.TimerToMs(maxAge) / 1000}s\n");
        s.Append(CultureInfo.InvariantCulture, $"  stp-fwd-delay   {StpBridge.TimerToMs(forwardDelay) / 1000}s\n");
    }
}
