namespace Softswitch.Ports.AfXdp;

/// <summary>
/// Open vSwitch's <c>xdp-mode</c> spellings of an AF_XDP port's attach and copy modes: the Interface option under
/// <c>softswitch vswitchd</c> and the <c>afxdp:IF:xdp-mode=MODE</c> port option of <c>softswitch run</c>.
/// </summary>
public static class XdpModes
{
    /// <summary>The spellings taken (older ones too: <c>native-with-pointers</c> and <c>generic-with-pointers</c>).</summary>
    public const string Known = "best-effort, native-with-zerocopy, native or generic";

    /// <summary>
    /// <paramref name="options"/> in <paramref name="mode"/>, or null for a spelling not known: <c>best-effort</c> (native,
    /// else generic; zero-copy where the driver grants it), <c>native-with-zerocopy</c> (native and zero-copy, or the
    /// port is not opened), <c>native</c> (native, copy mode) or <c>generic</c> (the skb path, copy mode; on a veth the
    /// mode in which a local sender's TSO and checksum offload survive an in-kernel redirect of the XDP offload).
    /// </summary>
    public static AfXdpOptions? Apply(AfXdpOptions options, string mode) => mode.ToLowerInvariant() switch
    {
        "best-effort" => options with { Mode = XdpAttachMode.Auto, ZeroCopy = true, RequireZeroCopy = false },
        "native-with-zerocopy" => options with { Mode = XdpAttachMode.Native, ZeroCopy = true, RequireZeroCopy = true },
        "native" or "native-with-pointers" => options with { Mode = XdpAttachMode.Native, ZeroCopy = false, RequireZeroCopy = false },
        "generic" or "generic-with-pointers" => options with { Mode = XdpAttachMode.Generic, ZeroCopy = false, RequireZeroCopy = false },
        _ => null,
    };
}
