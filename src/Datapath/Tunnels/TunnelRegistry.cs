using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Tunnels;

/// <summary>
/// A datapath's tunnel ports: adds them as OpenFlow ports and keeps, per underlay port, the
/// <see cref="UnderlayBinding"/> the receive path decapsulates with.
/// </summary>
/// <remarks>
/// Design: bindings are published as an immutable array indexed by the underlay's <see cref="PortSlot.Index"/>
/// and replaced whole on every change, so a forwarder tests "is this port an underlay?" with one load, a bounds
/// check and a null check per burst. Changes (add, remove, a removed underlay) are serialised on a lock.
/// Removing a tunnel's OpenFlow port unbinds it; removing an underlay port detaches its tunnels (their link goes
/// down and output to them is dropped as <see cref="TunnelDropReason.NoUnderlay"/>); re-adding the underlay does
/// not re-attach them (remove and add the tunnel again).
/// </remarks>
public sealed class TunnelRegistry
{
    private readonly SwitchDatapath _dp;
    private readonly Lock _lock = new();
    private readonly List<TunnelPort> _tunnels = new();
    private volatile UnderlayBinding?[] _byIndex = [];

    internal TunnelRegistry(SwitchDatapath dp) => _dp = dp;

    /// <summary>Drops on the receive path that belong to no tunnel port (unknown VNI/key, malformed, bad checksum, fragment).</summary>
    public TunnelDropCounters ReceiveDrops { get; } = new();

    /// <summary>The registered tunnel ports.</summary>
    public IReadOnlyList<TunnelPort> List
    {
        get { lock (_lock) return _tunnels.ToArray(); }
    }

    /// <summary>A drop counter summed over the receive path and every tunnel port.</summary>
    public long DropCount(TunnelDropReason r)
    {
        long n = ReceiveDrops[r];
        lock (_lock) foreach (var t in _tunnels) n += t.Drops[r];
        return n;
    }

    /// <summary>The binding for the port with slot index <paramref name="index"/>, or null when it carries no tunnel.</summary>
    internal UnderlayBinding? UnderlayOf(int index)
    {
        var a = _byIndex;
        return (uint)index < (uint)a.Length ? a[index] : null;
    }

    /// <summary>
    /// Adds a tunnel port over its underlay (which must already be a port of this datapath) with the configured
    /// OpenFlow number, and sends the first ARP request for its next hop when the MAC is not configured.
    /// Throws <see cref="DatapathConfigurationException"/> with a message naming the problem: an inconsistent config
    /// (<see cref="TunnelConfig.Problem"/>), a missing underlay, a taken port number or name, traffic another tunnel
    /// already receives.
    /// </summary>
    public TunnelPort Add(TunnelConfig cfg)
    {
        ArgumentNullException.ThrowIfNull(cfg);
        if (cfg.Problem() is { } problem) throw new DatapathConfigurationException($"tunnel {cfg.Name}: {problem}");
        TunnelPort port;
        lock (_lock)
        {
            var ports = _dp.Ports;
            PortSlot? underlay;
            if (cfg.Underlay != 0)
            {
                underlay = ports.Get(cfg.Underlay);
                if (underlay is null) throw new DatapathConfigurationException($"tunnel {cfg.Name}: underlay port {cfg.Underlay} does not exist");
                if (underlay.Port is TunnelPort) throw new DatapathConfigurationException($"tunnel {cfg.Name}: underlay port {cfg.Underlay} is a tunnel");
            }
            else
            {
                underlay = null;
                int candidates = 0;
                foreach (var s in ports.List)
                {
                    if (s.Port is TunnelPort) continue;
                    underlay = s;
                    candidates++;
                }
                if (candidates != 1)
                    throw new DatapathConfigurationException($"tunnel {cfg.Name}: give underlay=N (the datapath has {candidates} non-tunnel ports to choose from)");
            }
            foreach (var t in _tunnels)
            {
                var c = t.Config;
                if (c.Name == cfg.Name) throw new DatapathConfigurationException($"tunnel {cfg.Name}: a tunnel with that name exists");
                if (ReferenceEquals(t.UnderlaySlot, underlay) && SameDemux(c, cfg))
                    throw new DatapathConfigurationException($"tunnel {cfg.Name}: {c.Name} already receives {cfg.Kind} from {Ipv4.Format(cfg.RemoteIp)} to {Ipv4.Format(cfg.LocalIp)} with that {(cfg.IsUdp ? "VNI" : "key")}");
            }
            port = new TunnelPort(cfg, underlay!.Port, _dp.Clock);
            port.Attach(underlay);
            var byIndex = Build([.. _tunnels, port]);   // validates (one MAC per local address) before the port is added
            PortSlot slot;
            try
            {
                slot = _dp.AddPort(port, cfg.PortNo);
            }
            catch (DatapathConfigurationException e)
            {
                throw new DatapathConfigurationException($"tunnel {cfg.Name}: {e.Message}", e);
            }
            port.Slot = slot;
            _tunnels.Add(port);
            _byIndex = byIndex;
        }
        port.RequestNextHop();
        return port;
    }

    private static bool SameDemux(TunnelConfig a, TunnelConfig b)
    {
        if (a.Kind != b.Kind || a.LocalIp != b.LocalIp || a.RemoteIp != b.RemoteIp) return false;
        if (a.IsUdp && a.DstPort != b.DstPort) return false;
        if (a.FlowKey || b.FlowKey) return a.FlowKey == b.FlowKey;
        return a.Kind == TunnelKind.Ipip || (a.HasKey == b.HasKey && a.Key == b.Key);
    }

    /// <summary>Removes tunnel port <paramref name="portNo"/> from the datapath.</summary>
    public bool Remove(ushort portNo)
    {
        var slot = _dp.Ports.Get(portNo);
        if (slot?.Port is not TunnelPort) return false;
        return _dp.RemovePort(portNo);
    }

    /// <summary>Called by the datapath after any port is removed.</summary>
    internal void OnPortRemoved(PortSlot slot)
    {
        lock (_lock)
        {
            bool changed = false;
            if (slot.Port is TunnelPort tp && _tunnels.Remove(tp))
            {
                tp.Detach();
                tp.Slot = null;
                changed = true;
            }
            foreach (var t in _tunnels)
            {
                if (ReferenceEquals(t.UnderlaySlot, slot))
                {
                    t.Detach();
                    changed = true;
                }
            }
            if (changed) _byIndex = Build(_tunnels);
        }
    }

    private UnderlayBinding?[] Build(List<TunnelPort> tunnels)
    {
        int max = -1;
        var groups = new Dictionary<PortSlot, List<TunnelPort>>();
        foreach (var t in tunnels)
        {
            var u = t.UnderlaySlot;
            if (u is null) continue;
            if (!groups.TryGetValue(u, out var list)) groups[u] = list = new List<TunnelPort>();
            list.Add(t);
            max = Math.Max(max, u.Index);
        }
        var a = new UnderlayBinding?[max + 1];
        foreach (var (slot, list) in groups)
        {
            try
            {
                a[slot.Index] = new UnderlayBinding(slot, list, ReceiveDrops);
            }
            catch (ArgumentException e)
            {
                throw new DatapathConfigurationException(e.Message, e);
            }
        }
        return a;
    }
}
