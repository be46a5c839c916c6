using Microsoft.Extensions.Logging;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Ports;
using Softswitch.Ports.Linux;

namespace Softswitch.Ports;

/// <summary>
/// The switch's OFPP_LOCAL port (OF1.0 4.5: every switch has one), like Open vSwitch's bridge-internal interface:
/// a tap device the host can use to reach the switch's networks.
/// </summary>
/// <remarks>
/// The tap is created administratively down and the switch itself never brings it up or sends on it, so the
/// host's own traffic (IPv6 router solicitations, DAD) reaches no controller until the user brings the interface up
/// and addresses it. Where no tap can be made (no /dev/net/tun, no CAP_NET_ADMIN) the LOCAL port is an in-memory
/// port that counts what it is sent and receives nothing; that is logged once.
/// </remarks>
public static class LocalPort
{
    /// <summary>Linux interface names hold at most 15 bytes.</summary>
    public const int MaxNameLength = 15;

    /// <summary>
    /// The default name, <c>ss-DPID</c> (the datapath id in hex without leading zeros); a datapath id too long for
    /// 15 characters keeps its last 12 hex digits (a MAC-derived id's distinguishing part).
    /// </summary>
    public static string DefaultName(ulong dpid)
    {
        string hex = dpid.ToString("x", System.Globalization.CultureInfo.InvariantCulture);
        if (3 + hex.Length > MaxNameLength) hex = hex[^(MaxNameLength - 3)..];
        return "ss-" + hex;
    }

    /// <summary>
    /// Opens the LOCAL port named <paramref name="name"/>: a tap device left administratively down, or, when the
    /// process may not create one, an in-memory port (logged once as a warning). A name the user chose
    /// (<paramref name="explicitName"/>) that cannot be a tap for another reason (an existing interface of another
    /// kind, a tap another process holds) throws <see cref="PortOpenException"/>; the default name falls back to
    /// memory then too. <paramref name="tap"/> overrides how the tap is made (tests).
    /// </summary>
    public static IPort Open(string name, ulong dpid, bool explicitName, ILogger? log = null, Func<string, IPort>? tap = null)
    {
        NetInterface.ValidateName(name);
        try
        {
            var port = tap is null ? new TapPort(name, null, adminUp: false) : tap(name);
            log?.LogInformation("LOCAL port: tap {Name} (administratively down until the host brings it up)", name);
            return port;
        }
        catch (PortOpenException e) when (!explicitName || e.Error is PortOpenError.Unsupported or PortOpenError.PermissionDenied)
        {
            log?.LogWarning("LOCAL port: cannot create tap {Name} ({Reason}); using an in-memory LOCAL port that counts what it is sent",
                name, e.Message);
            return InMemory(name, dpid);
        }
    }

    /// <summary>The in-memory LOCAL port: a locally administered MAC derived from the datapath id.</summary>
    public static IPort InMemory(string name, ulong dpid)
        => new MemoryPort(name, new MacAddress(0x02_00_00_00_00_00UL | (dpid & 0xFF_FFFF_FFFFUL)));
}
