using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Softswitch.Ports.Linux;

/// <summary>
/// Whether frames an XDP program redirects into a veth (DEVMAP redirect or XDP_TX) reach its peer. The kernel
/// (veth_ndo_xdp_xmit) queues them to the peer's NAPI, which exists only while the peer runs an XDP program or has GRO
/// on; otherwise it drops them (counted in the veth's <c>xdp_xmit_err</c>, nowhere the switch sees).
/// </summary>
/// <remarks>
/// Read with one RTM_GETLINK for the veth (its kind, IFLA_LINK: the peer's ifindex, IFLA_LINK_NETNSID when the peer is
/// in another network namespace) and one for the peer (IFLA_XDP; in another namespace through IFLA_TARGET_NETNSID),
/// then the peer's GRO with the ethtool ioctl (ETHTOOL_GGRO). The ioctl names an interface of this namespace, so the
/// GRO of a peer in another namespace without an XDP program cannot be read from here: that peer is taken to receive
/// (hosts in namespaces, Mininet's among them, are where the offload is used; refusing every one left it nothing to
/// place), and the refusal stands only where this namespace can see that the frames would be dropped. Reading GRO there
/// (a thread entering the peer's namespace) would close the gap. A snapshot: a program attached or GRO switched later
/// is not seen until asked again.
/// Thread safe (a socket per call); needs CAP_NET_ADMIN for a peer in another namespace.
/// </remarks>
public static unsafe class VethPeer
{
    private const int AF_NETLINK = 16, NETLINK_ROUTE = 0;
    private const ushort RTM_GETLINK = 18, NLM_F_REQUEST = 1, NLMSG_ERROR = 2;
    private const ushort IFLA_IFNAME = 3, IFLA_LINK = 5, IFLA_LINKINFO = 18, IFLA_LINK_NETNSID = 37, IFLA_XDP = 43, IFLA_TARGET_NETNSID = 46;
    private const ushort IFLA_INFO_KIND = 1, IFLA_XDP_ATTACHED = 2, IFLA_XDP_PROG_ID = 4;
    private const uint ETHTOOL_GGRO = 0x2b;

    /// <summary>
    /// Null when <paramref name="ifIndex"/> (an interface of this namespace) is not a veth, or its peer takes redirected
    /// frames (an XDP program, or GRO on); otherwise why not, in words ("peer vethb (ifindex 7) has no XDP program and
    /// GRO off").
    /// </summary>
    public static string? RedirectRefusal(int ifIndex)
    {
        var self = GetLink(ifIndex, null, out string? error);
        if (self is null) return $"cannot read the interface: {error}";
        if (self.Kind != "veth") return null;
        if (self.PeerIndex is not int peerIndex || peerIndex == 0) return "the veth's peer is unknown";
        var peer = GetLink(peerIndex, self.LinkNetnsId, out error);
        if (peer is null)
        {
            return self.LinkNetnsId is { } ns
                ? $"peer ifindex {peerIndex} is in another network namespace (nsid {ns}) and cannot be read ({error})"
                : $"cannot read peer ifindex {peerIndex}: {error}";
        }
        string name = $"peer {peer.Name ?? "?"} (ifindex {peerIndex}{(self.LinkNetnsId is { } id ? $", nsid {id}" : "")})";
        if (peer.XdpAttached) return null;
        if (self.LinkNetnsId is not null) return null;   // its GRO cannot be read from here (see the remarks)
        return GroOn(peer.Name) switch
        {
            true => null,
            false => $"{name} has no XDP program and GRO off",
            null => $"{name} has no XDP program and its GRO cannot be read",
        };
    }

    private sealed record Link(string? Kind, string? Name, int? PeerIndex, int? LinkNetnsId, bool XdpAttached);

    [StructLayout(LayoutKind.Sequential)]
    private struct SockaddrNl
    {
        public ushort Family;
        public ushort Pad;
        public uint Pid;
        public uint Groups;
    }

    /// <summary>One RTM_GETLINK by index (in the namespace of <paramref name="netnsId"/>, or this one), or null with why.</summary>
    private static Link? GetLink(int ifIndex, int? netnsId, out string? error)
    {
        int fd = LibC.socket(AF_NETLINK, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0)
        {
            error = "rtnetlink socket: " + LibC.StrError(LibC.LastErrno);
            return null;
        }
        try
        {
            // nlmsghdr (16) + ifinfomsg (16) + [IFLA_TARGET_NETNSID s32 (8)]
            int len = 32 + (netnsId is null ? 0 : 8);
            byte* req = stackalloc byte[40];
            var r = new Span<byte>(req, 40);
            r.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(r, (uint)len);
            BinaryPrimitives.WriteUInt16LittleEndian(r[4..], RTM_GETLINK);
            BinaryPrimitives.WriteUInt16LittleEndian(r[6..], NLM_F_REQUEST);
            BinaryPrimitives.WriteUInt32LittleEndian(r[8..], 1);
            BinaryPrimitives.WriteInt32LittleEndian(r[20..], ifIndex);   // ifi_family 0, ifi_type, ifi_index at 4
            if (netnsId is int ns)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(r[32..], 8);
                BinaryPrimitives.WriteUInt16LittleEndian(r[34..], IFLA_TARGET_NETNSID);
                BinaryPrimitives.WriteInt32LittleEndian(r[36..], ns);
            }
            var kernel = new SockaddrNl { Family = AF_NETLINK };
            if (LibC.sendto(fd, req, (nuint)len, 0, &kernel, (uint)sizeof(SockaddrNl)) != len)
            {
                error = "rtnetlink send: " + LibC.StrError(LibC.LastErrno);
                return null;
            }
            var buffer = new byte[32768];
            nint n;
            fixed (byte* b = buffer) n = LibC.recvfrom(fd, b, (nuint)buffer.Length, 0, null, null);
            if (n < 16)
            {
                error = "rtnetlink receive: " + (n < 0 ? LibC.StrError(LibC.LastErrno) : "a short reply");
                return null;
            }
            return Parse(buffer.AsSpan(0, (int)n), out error);
        }
        finally
        {
            LibC.close(fd);
        }
    }

    private static Link? Parse(ReadOnlySpan<byte> msg, out string? error)
    {
        int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(msg);
        ushort type = BinaryPrimitives.ReadUInt16LittleEndian(msg[4..]);
        if (type == NLMSG_ERROR)
        {
            int errno = msg.Length >= 20 ? -BinaryPrimitives.ReadInt32LittleEndian(msg[16..]) : 0;
            error = LibC.StrError(errno);
            return null;
        }
        if (len > msg.Length || len < 32)
        {
            error = "a malformed reply";
            return null;
        }
        string? kind = null, name = null;
        int? link = null, netns = null;
        bool xdp = false;
        foreach (var (t, v) in Attributes(msg[32..len]))
        {
            switch (t)
            {
                case IFLA_IFNAME: name = CString(v); break;
                case IFLA_LINK when v.Length >= 4: link = BinaryPrimitives.ReadInt32LittleEndian(v); break;
                case IFLA_LINK_NETNSID when v.Length >= 4: netns = BinaryPrimitives.ReadInt32LittleEndian(v); break;
                case IFLA_LINKINFO:
                    foreach (var (it, iv) in Attributes(v))
                        if (it == IFLA_INFO_KIND) kind = CString(iv);
                    break;
                case IFLA_XDP:
                    foreach (var (xt, xv) in Attributes(v))
                    {
                        if (xt == IFLA_XDP_ATTACHED && xv.Length >= 1 && xv[0] != 0) xdp = true;
                        if (xt == IFLA_XDP_PROG_ID && xv.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(xv) != 0) xdp = true;
                    }
                    break;
            }
        }
        error = null;
        return new Link(kind, name, link, netns, xdp);
    }

    private static List<(ushort Type, byte[] Value)> Attributes(ReadOnlySpan<byte> data)
    {
        var list = new List<(ushort, byte[])>();
        while (data.Length >= 4)
        {
            int alen = BinaryPrimitives.ReadUInt16LittleEndian(data);
            ushort atype = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(data[2..]) & 0x3FFF);   // without NLA_F_NESTED, NLA_F_NET_BYTEORDER
            if (alen < 4 || alen > data.Length) break;
            list.Add((atype, data[4..alen].ToArray()));
            int step = (alen + 3) & ~3;
            if (step >= data.Length) break;
            data = data[step..];
        }
        return list;
    }

    private static string CString(ReadOnlySpan<byte> v)
    {
        int z = v.IndexOf((byte)0);
        return Encoding.ASCII.GetString(z < 0 ? v : v[..z]);
    }

    /// <summary>The GRO flag of <paramref name="name"/> (an interface of this namespace), or null when it cannot be read.</summary>
    private static bool? GroOn(string? name)
    {
        if (name is null || name.Length >= LibC.IFNAMSIZ) return null;
        int fd = LibC.socket(LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
        if (fd < 0) return null;
        try
        {
            uint* value = stackalloc uint[2];
            value[0] = ETHTOOL_GGRO;
            value[1] = 0;
            byte* ifr = stackalloc byte[LibC.IfReqSize];
            new Span<byte>(ifr, LibC.IfReqSize).Clear();
            Encoding.ASCII.GetBytes(name, new Span<byte>(ifr, LibC.IFNAMSIZ));
            *(uint**)(ifr + 16) = value;
            if (LibC.ioctl(fd, LibC.SIOCETHTOOL, ifr) != 0) return null;
            return value[1] != 0;
        }
        finally
        {
            LibC.close(fd);
        }
    }
}
