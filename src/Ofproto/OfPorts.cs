using Softswitch.Datapath.Ports;

namespace Softswitch.Ofproto;

/// <summary>
/// The datapath's ports as controllers see them: descriptions, counters and config bits, each mapped by name (the
/// datapath's bits and the OpenFlow layer's share no numbering). Stateless and thread-safe.
/// </summary>
internal static class OfPorts
{
    private static readonly (OfPortConfig Of, PortConfig Datapath)[] s_config =
    [
        (OfPortConfig.PortDown, PortConfig.PortDown),
        (OfPortConfig.NoStp, PortConfig.NoStp),
        (OfPortConfig.NoRecv, PortConfig.NoRecv),
        (OfPortConfig.NoRecvStp, PortConfig.NoRecvStp),
        (OfPortConfig.NoFlood, PortConfig.NoFlood),
        (OfPortConfig.NoFwd, PortConfig.NoFwd),
        (OfPortConfig.NoPacketIn, PortConfig.NoPacketIn),
    ];

    private static readonly (OfPortFeatures Of, PortFeatures Datapath, uint Kbps)[] s_features =
    [
        (OfPortFeatures.Rate10MbHd, PortFeatures.Rate10MbHd, 10_000),
        (OfPortFeatures.Rate10MbFd, PortFeatures.Rate10MbFd, 10_000),
        (OfPortFeatures.Rate100MbHd, PortFeatures.Rate100MbHd, 100_000),
        (OfPortFeatures.Rate100MbFd, PortFeatures.Rate100MbFd, 100_000),
        (OfPortFeatures.Rate1GbHd, PortFeatures.Rate1GbHd, 1_000_000),
        (OfPortFeatures.Rate1GbFd, PortFeatures.Rate1GbFd, 1_000_000),
        (OfPortFeatures.Rate10GbFd, PortFeatures.Rate10GbFd, 10_000_000),
        (OfPortFeatures.Copper, PortFeatures.Copper, 0),
        (OfPortFeatures.Fiber, PortFeatures.Fiber, 0),
        (OfPortFeatures.Autoneg, PortFeatures.Autoneg, 0),
        (OfPortFeatures.Pause, PortFeatures.Pause, 0),
        (OfPortFeatures.PauseAsym, PortFeatures.PauseAsym, 0),
    ];

    public static PortConfig ToDatapath(OfPortConfig c)
    {
        var dp = PortConfig.None;
        foreach (var (of, d) in s_config)
            if ((c & of) != 0) dp |= d;
        return dp;
    }

    public static OfPortConfig FromDatapath(PortConfig c)
    {
        var of = OfPortConfig.None;
        foreach (var (o, d) in s_config)
            if ((c & d) != 0) of |= o;
        return of;
    }

    public static OfPortFeatures FromDatapath(PortFeatures f)
    {
        var of = OfPortFeatures.None;
        foreach (var (o, d, _) in s_features)
            if ((f & d) != 0) of |= o;
        return of;
    }

    /// <summary>The fastest rate among <paramref name="f"/>'s, in kbit/s (0 when none is set).</summary>
    internal static uint Kbps(PortFeatures f)
    {
        uint best = 0;
        foreach (var (_, d, kbps) in s_features)
            if ((f & d) != 0 && kbps > best) best = kbps;
        return best;
    }

    public static OfPortDesc Describe(PortSlot p)
    {
        var info = p.Port.Info;
        var stp = p.Stp switch
        {
            PortStpState.Listening => OfPortState.StpListen,
            PortStpState.Learning => OfPortState.StpLearn,
            PortStpState.Forwarding => OfPortState.StpForward,
            PortStpState.Blocking => OfPortState.StpBlock,
            _ => OfPortState.None,
        };
        return new OfPortDesc(OfPort.FromDatapath(p.No), info.HwAddr.Value, info.Name, FromDatapath(p.Config),
                              ((p.State & PortState.LinkDown) != 0 ? OfPortState.LinkDown : OfPortState.None) | stp,
                              FromDatapath(info.Current), FromDatapath(info.Advertised), FromDatapath(info.Supported), FromDatapath(info.Peer),
                              Kbps(info.Current), Kbps(info.Supported));
    }

    public static OfPortStats Stats(PortSlot p, long nowNanos)
    {
        var s = p.Port.Counters.Snapshot();
        return new OfPortStats(OfPort.FromDatapath(p.No), (ulong)s.RxPackets, (ulong)s.TxPackets, (ulong)s.RxBytes, (ulong)s.TxBytes,
                               (ulong)s.RxDropped, (ulong)s.TxDropped, (ulong)s.RxErrors, (ulong)s.TxErrors, (ulong)s.RxFrameErrors,
                               (ulong)s.RxOverErrors, (ulong)s.RxCrcErrors, (ulong)s.Collisions, Math.Max(0, nowNanos - p.AddedNanos));
    }
}
