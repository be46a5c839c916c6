using Softswitch.Datapath;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Ports;
using Softswitch.Ports.Linux;

namespace Softswitch.Ports.AfXdp;

/// <summary>
/// Puts the XDP flow program on every AF_XDP port of a <see cref="SwitchDatapath"/> and keeps its flow table in step with
/// the flow table (an <see cref="XdpOffloadTarget"/> under an <see cref="OffloadManager"/>).
/// </summary>
/// <remarks>
/// <code>
///   wire ─► veth/NIC ─► XDP flow program ─┬─ hit ──► rewrite ─► DEVMAP redirect / XDP_TX / drop   (never seen by software)
///                                          └─ miss ─► XSKMAP ─► AF_XDP socket ─► SwitchDatapath (as without offload)
///   FlowTable ─(observer: queue)─► OffloadManager (dp-offload thread) ─► XdpOffloadTarget ─(mmap stores)─► flow table
/// </code>
/// The ports stay the datapath's (added by the host as usual); the program is swapped into each port's BPF link, so it
/// goes with the port's file descriptors (on exit and on a crash). At attach, each veth port's peer is looked at
/// (<see cref="VethPeer"/>): when it would drop the frames the program redirects into the veth (no XDP program and GRO
/// off, or a peer in another namespace without one, whose GRO cannot be read from here), flows to that port stay in
/// software (<see cref="XdpReasons.VethPeerDropsRedirect"/>) until the next attach. Each maintenance step reads the per-flow counters
/// into the flows first (<see cref="OffloadAttachment"/>), and so does every statistics request; a barrier returns once
/// the map holds the flow-mods before it. <see cref="Dispose"/> takes every flow out of the map, puts
/// the plain redirect back and frees the maps.
/// </remarks>
public sealed class XdpOffload : IOffloadAttachment, IDatapathEvents
{
    /// <summary>Flows the map holds unless told otherwise.</summary>
    public const int DefaultCapacity = 65536;

    private readonly OffloadAttachment _attachment;
    private readonly AfXdpPort[] _ports;
    private readonly SwitchDatapath _dp;
    private readonly HashSet<ushort> _portNos;

    private XdpOffload(SwitchDatapath dp, OffloadAttachment attachment, XdpOffloadTarget target, XdpFlowMaps maps, AfXdpPort[] ports, IEnumerable<ushort> portNos)
    {
        _dp = dp;
        _portNos = [.. portNos];
        _attachment = attachment;
        Target = target;
        Maps = maps;
        _ports = ports;
    }

    public OffloadManager Manager => _attachment.Manager;
    public XdpOffloadTarget Target { get; }
    public XdpFlowMaps Maps { get; }

    /// <summary>
    /// Attaches to <paramref name="dp"/>'s AF_XDP ports (at least one; others stay software-only); throws
    /// <see cref="DatapathConfigurationException"/> when there is none and <see cref="PortOpenException"/> or
    /// <see cref="IOException"/> when the kernel refuses the maps or the program.
    /// </summary>
    public static XdpOffload Attach(SwitchDatapath dp, int capacity = DefaultCapacity, Func<OffloadManager, IOffloadLog>? log = null)
    {
        ArgumentNullException.ThrowIfNull(dp);
        var slots = dp.Ports.List.Where(s => s.Port is AfXdpPort).ToArray();
        if (slots.Length == 0) throw new DatapathConfigurationException("XDP offload needs at least one afxdp: port");
        var maps = new XdpFlowMaps(capacity);
        var ports = new List<AfXdpPort>();
        try
        {
            foreach (var s in slots)
            {
                var p = (AfXdpPort)s.Port;
                maps.AddPort(p.Interface.Index);
                p.UseFlowProgram(maps);
                ports.Add(p);
            }
            // A veth whose peer would drop redirected frames is no output of placed flows (read once, here).
            var noRedirect = new Dictionary<ushort, string>();
            foreach (var s in slots)
                if (VethPeer.RedirectRefusal(((AfXdpPort)s.Port).Interface.Index) is { } why) noRedirect[s.No] = why;
            var target = new XdpOffloadTarget(maps, [.. slots.Select(s => (s.No, ((AfXdpPort)s.Port).Interface.Index))],
                                              slots.ToDictionary(s => s.No, s => s.Port.Counters), noRedirect);
            var attachment = OffloadAttachment.Attach(dp, target, log, syncOnRequests: true);
            var offload = new XdpOffload(dp, attachment, target, maps, [.. ports], slots.Select(s => s.No));
            dp.Subscribe(offload);
            return offload;
        }
        catch
        {
            foreach (var p in ports) RestoreRedirect(p);
            maps.Dispose();
            throw;
        }
    }

    public string Describe()
        => _attachment.Describe() + $"xdp: flow program on {string.Join(", ", _ports.Select(p => p.Interface.Name + " (" + p.AttachedMode.ToString().ToLowerInvariant() + ")"))}; " +
           $"{Target.RegisterWrites} map writes\n";

    private static void RestoreRedirect(AfXdpPort p)
    {
        try
        {
            p.UseFlowProgram(null);
        }
        catch (Exception e) when (e is PortOpenException or ObjectDisposedException)
        {
            // The port is closing: its link, and with it the program, goes with its fds.
        }
    }

    /// <summary>
    /// One of the program's ports left the datapath (its interface went away): the target forgets it, so flows from or
    /// to that number stay in software, also once a port of that number is re-opened over the new interface (the
    /// program is not on it; attaching the offload again takes it in).
    /// </summary>
    void IDatapathEvents.OnPortStatus(PortStatusReason reason, PortSlot port)
    {
        if (reason != PortStatusReason.Delete || !_portNos.Contains(port.No)) return;
        string why = $"port {port.No} ({port.Port.Info.Name}) left the datapath after the XDP offload was attached";
        try
        {
            Manager.Reconfigure(() => Target.ForgetPort(port.No, why));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Manager.Log?.OnMaintenance($"offload: forgetting port {port.No} on target {Target.Name} failed: {e.Message}");
        }
    }

    public void Dispose()
    {
        _dp.Unsubscribe(this);
        _attachment.Dispose();
        foreach (var p in _ports) RestoreRedirect(p);
        Maps.Dispose();
    }
}
