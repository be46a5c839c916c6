using System.Globalization;
using Softswitch.Ports;
using Softswitch.Ports.AfXdp;

namespace Softswitch.Vswitchd;

/// <summary>
/// An Interface row of type <c>afxdp</c> read into the AF_XDP port's options, with Open vSwitch's option names
/// (netdev-afxdp): <c>xdp-mode</c>, <c>n_rxq</c>, <c>use-need-wakeup</c>, and this switch's <c>rx-frames</c>.
/// </summary>
/// <remarks>
/// <para><c>xdp-mode</c> (any case, as Open vSwitch compares it): <c>best-effort</c> (the default: native XDP with
/// zero-copy where the driver offers it, else copy mode, else generic XDP), <c>native-with-zerocopy</c> (native and
/// zero-copy, or the open fails), <c>native</c> (native, copy mode), <c>generic</c> (skb mode, copy mode);
/// <c>native-with-pointers</c> and <c>generic-with-pointers</c>, older spellings, read as <c>native</c> and
/// <c>generic</c> (the log and <see cref="Describe"/> say the plain mode).</para>
/// <para><c>n_rxq=N</c>: RX queues 0 to N-1, one socket each (0 reads as 1, as Open vSwitch takes it; above 16 is
/// refused, as there; more than the interface has fails the open). Without it every RX queue is served (Open vSwitch
/// serves queue 0 only), so frames on the other queues are not left to the kernel stack.</para>
/// <para><c>use-need-wakeup</c>: true (the default) or false. <c>rx-frames=N</c>: each queue's receive depth in UMEM
/// frames (a power of two, as <c>afxdp:IF:rx-frames=N</c> takes it).</para>
/// <para>A value out of these is an error: the port is not opened, and the Interface's error column says why, in
/// Open vSwitch's words first ("could not set configuration (Invalid argument)", where Open vSwitch's set_config
/// fails with EINVAL) and then which option. An option this switch does not know is not refused (Open vSwitch
/// ignores options it does not read) but said: the port opens, and the error column names the option ignored.</para>
/// Stateless; thread safe.
/// </remarks>
internal static class AfXdpInterface
{
    /// <summary>Open vSwitch's bound on n_rxq for afxdp ports (MAX_XSKQ).</summary>
    public const int MaxQueues = 16;

    public const string Mode = "xdp-mode", QueueCount = "n_rxq", NeedWakeup = "use-need-wakeup", RxFrames = "rx-frames";

    private static readonly string[] s_known = [Mode, QueueCount, NeedWakeup, RxFrames];

    /// <summary>
    /// The port options <paramref name="options"/> ask for, over <paramref name="defaults"/>; null with
    /// <paramref name="error"/> when a value cannot be honoured. <paramref name="ignored"/>: options not read here
    /// (null when none), the port opened all the same.
    /// </summary>
    public static AfXdpOptions? Read(string name, IReadOnlyDictionary<string, string> options, AfXdpOptions defaults, out string? error, out string? ignored)
    {
        error = null;
        var unknown = options.Keys.Where(k => Array.IndexOf(s_known, k) < 0).Order(StringComparer.Ordinal).ToList();
        ignored = unknown.Count == 0 ? null
            : $"options {string.Join(", ", unknown.Select(k => "'" + k + "'"))} not read by softswitch vswitchd for type afxdp (it reads {string.Join(", ", s_known)}): ignored";
        var o = defaults;
        if (options.GetValueOrDefault(Mode) is { } mode)
        {
            if (XdpModes.Apply(o, mode) is not { } withMode)
                return Refuse(name, $"options:{Mode} '{mode}' is not {XdpModes.Known}", out error);
            o = withMode;
        }
        if (options.GetValueOrDefault(QueueCount) is { } n)
        {
            if (!int.TryParse(n, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int count))
                return Refuse(name, $"options:{QueueCount} '{n}' is not a number of RX queues", out error);
            if (count > MaxQueues) return Refuse(name, $"options:{QueueCount} {count} is above {MaxQueues}", out error);
            o = o with { QueueCount = Math.Max(count, 1), QueueId = null };
        }
        if (options.GetValueOrDefault(NeedWakeup) is { } wakeup)
        {
            if (wakeup.Equals("true", StringComparison.OrdinalIgnoreCase)) o = o with { NeedWakeup = true };
            else if (wakeup.Equals("false", StringComparison.OrdinalIgnoreCase)) o = o with { NeedWakeup = false };
            else return Refuse(name, $"options:{NeedWakeup} '{wakeup}' is not true or false", out error);
        }
        if (options.GetValueOrDefault(RxFrames) is { } frames)
        {
            if (!int.TryParse(frames, NumberStyles.None, CultureInfo.InvariantCulture, out int depth)
                || depth < PortSpec.MinRxFrames || depth > PortSpec.MaxRxFrames || (depth & (depth - 1)) != 0)
            {
                return Refuse(name, $"options:{RxFrames} '{frames}' is not a power of two from {PortSpec.MinRxFrames} to {PortSpec.MaxRxFrames} (UMEM frames per RX queue)", out error);
            }
            o = o with { RxFrames = depth };
        }
        return o;
    }

    private static AfXdpOptions? Refuse(string name, string why, out string error)
    {
        error = $"{name}: could not set configuration (Invalid argument): {why}";
        return null;
    }

    /// <summary>How the options read (<see cref="Read"/>) are said in the log: mode, queues, wakeup, depth.</summary>
    public static string Describe(AfXdpOptions o)
        => (o.Mode switch { XdpAttachMode.Native => o.RequireZeroCopy ? "native-with-zerocopy" : "native", XdpAttachMode.Generic => "generic", _ => "best-effort" })
           + (o.QueueCount is { } q ? $", {q} rx queue(s)" : ", every rx queue")
           + $", use-need-wakeup {(o.NeedWakeup ? "true" : "false")}, {o.RxFrames} rx frames";
}
