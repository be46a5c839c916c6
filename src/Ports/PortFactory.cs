using Microsoft.Extensions.Logging;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;
using Softswitch.Ports.AfPacket;
using Softswitch.Ports.AfXdp;
using Softswitch.Ports.Linux;
using Softswitch.Ports.Pcap;

namespace Softswitch.Ports;

/// <summary>A tap port's device settings.</summary>
/// <param name="AdminUp">Bring the interface up (a tap port between hosts); false leaves it down (a switch's LOCAL or
/// internal port: the host decides when it carries traffic).</param>
/// <param name="Mac">Its Ethernet address (null: the kernel's random one).</param>
/// <param name="Mtu">Its MTU (0: the kernel's default).</param>
public sealed record TapOptions(bool AdminUp = true, MacAddress? Mac = null, int Mtu = 0);

/// <summary>
/// What port to open: its backend, its interface's name, and that backend's options (null: the backend's defaults).
/// The one vocabulary both hosts speak: `softswitch run` turns each <c>--ports</c> item into one
/// (<see cref="PortSpec.Open"/>), vswitchd each Interface row of type "", system, internal or afxdp.
/// </summary>
public sealed record PortRequest(PortKind Kind, string Name)
{
    /// <summary>Where the port logs (null: the backend's own category of <see cref="PortFactory"/>'s caller, or none).</summary>
    public ILogger? Logger { get; init; }
    public AfPacketOptions? AfPacket { get; init; }
    public AfXdpOptions? AfXdp { get; init; }
    public PcapOptions? Pcap { get; init; }
    public TapOptions? Tap { get; init; }
}

/// <summary>Opens the port a <see cref="PortRequest"/> names: an AF_PACKET, AF_XDP, libpcap or tap port behind the
/// datapath's <see cref="IPort"/>. In-memory ports are the datapath's, made by their host (<see cref="PortFactoryOptions.Memory"/>).</summary>
public static class PortFactory
{
    /// <summary>Opens <paramref name="r"/>; throws <see cref="PortOpenException"/> with a message naming the interface and the fix.</summary>
    public static IPort Open(PortRequest r)
    {
        switch (r.Kind)
        {
            case PortKind.AfPacket:
                var ap = r.AfPacket ?? new AfPacketOptions();
                return new AfPacketPort(r.Name, ap with { Logger = r.Logger ?? ap.Logger });
            case PortKind.AfXdp:
                var xdp = r.AfXdp ?? new AfXdpOptions();
                return new AfXdpPort(r.Name, xdp with { Logger = r.Logger ?? xdp.Logger });
            case PortKind.Pcap:
                var pcap = r.Pcap ?? new PcapOptions();
                return new PcapPort(r.Name, pcap with { Logger = r.Logger ?? pcap.Logger });
            case PortKind.Tap:
                var tap = r.Tap ?? new TapOptions();
                return new TapPort(r.Name, r.Logger, tap.AdminUp, tap.Mac, tap.Mtu);
            case PortKind.Memory:
                throw new PortOpenException(PortOpenError.Unsupported, null, "in-memory ports are made by their host (PortFactoryOptions.Memory), not opened by name.");
            default:
                throw new PortOpenException(PortOpenError.InvalidSpec, r.Name, $"unknown port kind {r.Kind}");
        }
    }
}
