using Microsoft.Extensions.Logging;
using Softswitch.Datapath;
using Softswitch.Datapath.Forwarding;
using Softswitch.Ports.NetFpga;

namespace Softswitch.Offload;

/// <summary>
/// The host's composition of hardware offload: which target an <c>--offload</c> value names, and that target
/// assembled with the host's logger (<see cref="OffloadLogger"/>) as the log of its placement.
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
        var interval = summaryInterval ?? TimeSpan.FromSeconds(10);
        return NetFpgaOffload.Attach(dp, ports, mode, new NetFpgaOffloadOptions
        {
            Log = manager => new OffloadLogger(logger, manager, () => dp.Clock.NowNanos) { SummaryInterval = interval },
        });
    }
}
