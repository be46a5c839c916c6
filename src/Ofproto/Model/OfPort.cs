using Softswitch.Datapath.Ports;

namespace Softswitch.Ofproto;

/// <summary>
/// OpenFlow port numbers as the OpenFlow layer speaks them, whatever the version: 32 bits, the reserved ports at the top
/// (OpenFlow 1.3.5 section 7.2.1, ofp_port_no). A codec maps its own numbers onto these explicitly (OpenFlow 1.0's 16-bit
/// numbers from 0xff00 up become 0xffffff00 and up, as Open vSwitch's ofputil_port_from_ofp11 has it); this layer maps
/// them onto the datapath's (<see cref="ToDatapath"/>), so no wire value reaches the datapath.
/// </summary>
/// <remarks>Stateless and thread-safe.</remarks>
public static class OfPort
{
    /// <summary>The highest number a physical or logical port may have (OFPP_MAX).</summary>
    public const uint Max = 0xffffff00;
    public const uint InPort = 0xfffffff8;
    public const uint Table = 0xfffffff9;
    public const uint Normal = 0xfffffffa;
    public const uint Flood = 0xfffffffb;
    public const uint All = 0xfffffffc;
    public const uint Controller = 0xfffffffd;
    public const uint Local = 0xfffffffe;
    /// <summary>No port: "any port" in filters (OpenFlow 1.3 OFPP_ANY, OpenFlow 1.0 OFPP_NONE).</summary>
    public const uint Any = 0xffffffff;

    /// <summary>The reserved numbers and the datapath's names for the same ports and output targets.</summary>
    private static readonly (uint Of, ushort Datapath)[] s_reserved =
    [
        (InPort, PortNumber.InPort),
        (Table, PortNumber.Table),
        (Normal, PortNumber.Normal),
        (Flood, PortNumber.Flood),
        (All, PortNumber.All),
        (Controller, PortNumber.Controller),
        (Local, PortNumber.Local),
        (Any, PortNumber.None),
    ];

    /// <summary>True for a reserved number (IN_PORT .. ANY).</summary>
    public static bool IsReserved(uint port) => port >= InPort;

    /// <summary>
    /// The datapath's number for <paramref name="port"/>, or false when the datapath cannot name it (a number between
    /// 0xff00 and OFPP_MAX's range, which only OpenFlow 1.1+ can express). Below 0xff00 numbers are kept; from
    /// 0xffffff00 up the low 16 bits are the datapath's number, the reserved ports by name, one to one over those
    /// 256 values: a number without a name that happens to be one of the datapath's names takes the place of the name
    /// it stands for, so a match on any in_port reads back as the controller wrote it and no unnamed number reaches a
    /// reserved target.
    /// </summary>
    public static bool ToDatapath(uint port, out ushort datapath)
    {
        if (port < PortNumber.Highest)
        {
            datapath = (ushort)port;
            return true;
        }
        if (port < Max)
        {
            datapath = 0;
            return false;
        }
        foreach (var (of, dp) in s_reserved)
        {
            if (port == of)
            {
                datapath = dp;
                return true;
            }
        }
        ushort low = (ushort)port;
        foreach (var (of, dp) in s_reserved)
        {
            if (low == dp)
            {
                datapath = (ushort)of;
                return true;
            }
        }
        datapath = low;
        return true;
    }

    /// <summary>The datapath's number <paramref name="datapath"/> as an OpenFlow port (the inverse of <see cref="ToDatapath"/>).</summary>
    public static uint FromDatapath(ushort datapath)
    {
        if (datapath < PortNumber.Highest) return datapath;
        foreach (var (of, dp) in s_reserved)
            if (datapath == dp) return of;
        foreach (var (of, _) in s_reserved)
            if (datapath == (ushort)of) return 0xffff0000u | FindDatapathName(of);
        return 0xffff0000u | datapath;
    }

    private static ushort FindDatapathName(uint of)
    {
        foreach (var (o, dp) in s_reserved)
            if (o == of) return dp;
        return (ushort)of;
    }
}
