using Microsoft.Extensions.Logging;
using Softswitch.Datapath;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Ports;
using Softswitch.Ports.AfXdp;
using Softswitch.Ports.NetFpga;

namespace Softswitch.Offload;

/// <summary>
/// The host's composition of hardware offload: which target an <c>--offload</c> value names, and any target
/// (<see cref="IOffloadTarget"/>: the board, its emulation, a dummy) attached through one path and held as an
/// <see cref="IOffloadAttachment"/>, with the host's logger (<see cref="OffloadLogger"/>) as the log of its placement.
/// </summary>
/// <remarks>
/// The drivers and the datapath's offload manager are mechanism; choosing one by name and deciding where its decisions
/// are logged is the host's. Stateless; thread safe.
/// </remarks>
public static class OffloadSetup
{
    /// <summary>Parses <c>netfpga</c> / <c>netfpga-emulated</c> (the NetFPGA values of <c>--offload</c>).</summary>
    public static bool TryParseNetFpgaMode(string? text, out NetFpgaMode mode)
    {
        switch (text)
        {
            case "netfpga": mode = NetFpgaMode.Hardware; return true;
            case "netfpga-emulated": mode = NetFpgaMode.Emulated; return true;
            default: mode = default; return false;
        }
    }

    /// <summary>Whether the target <paramref name="offload"/> names takes the opened ports itself (a board wraps them), so
    /// it is attached before the datapath has ports; the others (<c>xdp</c>) attach to the datapath's ports after.</summary>
    public static bool TakesPorts(string offload) => TryParseNetFpgaMode(offload, out _);

    /// <summary>
    /// Attaches what <paramref name="offload"/> (an <c>--offload</c> value) names, through the one generic path every
    /// target takes: null for <c>none</c>; false (with <paramref name="error"/>) for a name it does not know.
    /// <c>xdp</c> attaches to the AF_XDP ports already in <paramref name="dp"/> (<paramref name="ports"/> unused).
    /// </summary>
    public static bool TryAttach(string offload, SwitchDatapath dp, IReadOnlyList<IPort> ports, ILogger logger, out IOffloadAttachment? attached,
                                 out string? error)
    {
        attached = null;
        error = null;
        if (offload == "none") return true;
        if (offload == "xdp")
        {
            attached = XdpOffload.Attach(dp, XdpOffload.DefaultCapacity, LogFor(dp, logger, null));
            return true;
        }
        if (!TryParseNetFpgaMode(offload, out var mode))
        {
            error = $"--offload must be none, xdp, netfpga or netfpga-emulated, not '{offload}'";
            return false;
        }
        if (ports.Count is < 1 or > NetFpgaRegisters.MaxPorts)
        {
            error = $"--offload {offload}: a NetFPGA-1G has 1 to {NetFpgaRegisters.MaxPorts} ports, not {ports.Count}";
            return false;
        }
        attached = AttachNetFpga(dp, ports, mode, logger);
        return true;
    }

    /// <summary>
    /// Attaches any <paramref name="target"/> that needs no assembly of its own (a dummy, a software model) to
    /// <paramref name="dp"/>, its placement logged as a board's is (<see cref="AttachNetFpga"/>).
    /// </summary>
    public static IOffloadAttachment AttachTarget(SwitchDatapath dp, IOffloadTarget target, ILogger logger, TimeSpan? summaryInterval = null)
    {
        ArgumentNullException.ThrowIfNull(dp);
        ArgumentNullException.ThrowIfNull(logger);
        return OffloadAttachment.Attach(dp, target, LogFor(dp, logger, summaryInterval));
    }

    private static Func<OffloadManager, IOffloadLog> LogFor(SwitchDatapath dp, ILogger logger, TimeSpan? summaryInterval)
    {
        var interval = summaryInterval ?? TimeSpan.FromSeconds(10);
        return manager => new OffloadLogger(logger, manager, () => dp.Clock.NowNanos) { SummaryInterval = interval };
    }

    /// <summary>
    /// Attaches a NetFPGA board (<see cref="NetFpgaOffload.Attach"/>) whose placement is logged to
    /// <paramref name="logger"/>: decisions at Debug, a summary at Information when it changed (at most once per
    /// <paramref name="summaryInterval"/>, default 10 s), board errors as rate-limited Warnings.
    /// </summary>
    public static NetFpgaOffload AttachNetFpga(SwitchDatapath dp, IReadOnlyList<IPort> ports, NetFpgaMode mode, ILogger logger,
                                               TimeSpan? summaryInterval = null)
    {
        ArgumentNullException.ThrowIfNull(dp);
        ArgumentNullException.ThrowIfNull(logger);
        return NetFpgaOffload.Attach(dp, ports, mode, new NetFpgaOffloadOptions { Log = LogFor(dp, logger, summaryInterval) });
    }
}
