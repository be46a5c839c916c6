using System.Runtime.InteropServices;
using Softswitch.OfWire;
using Softswitch.OfAgent.Of13.Translate;
using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;
using Oxm = Softswitch.OfAgent.Of13.Translate.MatchTranslator;

namespace Softswitch.OfAgent.Of10.Translate;

/// <summary>
/// Open vSwitch's NXM match (<see cref="NxMatch"/>) of an OpenFlow 1.0 connection to and from the OpenFlow layer's
/// <see cref="OfMatch"/>: the entries in the OXM codec's form go through OpenFlow 1.3's translator
/// (<see cref="Oxm"/>), so every field the OXM side matches is matched here, with the same slots and values.
/// </summary>
/// <remarks>
/// <para>Reading follows Open vSwitch's nx_pull_raw entry by entry: an entry's own errors (<see cref="NxMatch.TryReadEntry"/>),
/// then its prerequisites against the entries before it (NXM's ordering rule: "an nxm_entry that has prerequisite
/// restrictions must appear after the entries for its prerequisites"; BAD_PREREQ), then a field or register bits
/// matched twice (DUP_FIELD). NXM_OF_VLAN_TCI sets the VLAN id with its present bit and the PCP as its bits say
/// (OpenFlow 1.0's dl_vlan_pcp implies a tag, so its CFI bit comes with it); NXM_NX_COOKIE is the request's cookie filter
/// where a cookie may be (else BAD_FIELD, as Open vSwitch's).</para>
/// <para>Writing follows nx_put_raw's order for the fields this switch matches: conj_id, in_port, Ethernet source and
/// destination, ethertype, VLAN TCI, MPLS, then IPv4 or IPv6 addresses, ip_frag, DSCP, ECN, flow label, protocol and its ports or
/// ICMP type and code (with ND's target and link-layer address when the type says ND), or ARP's fields; the tunnel id,
/// the registers (reg0-reg15, whatever view set them), metadata. So the text ovs-ofctl prints from it is the text Open
/// vSwitch's own dump gives for the same flow. An untagged match (VLAN id 0 with the present bit in its mask) is TCI
/// 0x0000/0xffff, OpenFlow 1.0's OFP_VLAN_NONE in Open vSwitch.</para>
/// <para>Stateless and thread safe; reading uses a per-thread scratch list.</para>
/// </remarks>
internal static class NxmMatchTranslator
{
    /// <summary>The most entries <see cref="ToNxm"/> writes.</summary>
    public const int MaxEntries = 72;

    private const ushort VlanCfi = 0x1000;
    private const ushort Ipv4 = 0x0800, Ipv6 = 0x86dd, Arp = 0x0806, Rarp = 0x8035, Mpls = 0x8847, MplsMc = 0x8848, Pbb = 0x88e7;

    [ThreadStatic] private static List<Ofp13Oxm>? s_entries;

    /// <summary>
    /// The match of the nx_match <paramref name="nxm"/> (exactly match_len bytes), and its cookie filter
    /// (<paramref name="cookieMask"/> 0: none) where <paramref name="allowCookie"/>; <see cref="NxmError.None"/> or why not.
    /// </summary>
    public static NxmError TryToOf(ReadOnlySpan<byte> nxm, bool allowCookie, out OfMatch match, out ulong cookie, out ulong cookieMask)
    {
        match = OfMatch.Any;
        cookie = cookieMask = 0;
        var list = s_entries ??= new List<Ofp13Oxm>(32);
        list.Clear();
        ulong seen = 0;
        uint regs = 0;
        bool conjId = false, haveCookie = false, haveTci = false;
        ushort tci = 0, tciMask = 0;
        while (!nxm.IsEmpty)
        {
            if (!NxMatch.TryReadEntry(nxm, out var e, out int n, out var err)) return err;
            nxm = nxm[n..];
            switch (e.Field)
            {
                case NxMatch.Cookie:
                    if (!allowCookie) return NxmError.BadField;
                    if (haveCookie) return NxmError.DupField;
                    haveCookie = true;
                    cookie = (ulong)e.Value & (ulong)e.Mask;
                    cookieMask = (ulong)e.Mask;
                    continue;
                case NxMatch.VlanTci:
                    // The TCI covers the VLAN id and PCP: either matched before is a duplicate.
                    if ((seen & ((1UL << Oxm.VlanVid) | (1UL << Oxm.VlanPcp))) != 0) return NxmError.DupField;
                    seen |= (1UL << Oxm.VlanVid) | (1UL << Oxm.VlanPcp);
                    haveTci = true;
                    tci = (ushort)e.Value;
                    tciMask = (ushort)e.Mask;
                    continue;
            }
            if (!Oxm.PrerequisiteHolds(e.Field, Oxm.Shape(CollectionsMarshal.AsSpan(list)))) return NxmError.BadPrereq;
            if (Ofp13Match.IsRegister(e.Field))
            {
                uint spans = RegistersOf(e.Field);
                if ((regs & spans) != 0) return NxmError.DupField;
                regs |= spans;
            }
            else if (e.Field == Ofp13Match.NxConjId)
            {
                if (conjId) return NxmError.DupField;
                conjId = true;
            }
            else if (e.Field < 64)
            {
                if ((seen & (1UL << e.Field)) != 0) return NxmError.DupField;
                seen |= 1UL << e.Field;
            }
            list.Add(e);
        }
        var problem = Oxm.TryToOf(CollectionsMarshal.AsSpan(list), out match, out _);
        if (problem != OxmProblem.None)
        {
            return problem switch
            {
                OxmProblem.BadPrereq => NxmError.BadPrereq,
                OxmProblem.DupField => NxmError.DupField,
                OxmProblem.BadValue => NxmError.BadValue,
                _ => NxmError.BadField,
            };
        }
        if (haveTci) ApplyTci(ref match, tci, tciMask);
        // NXM's transport ports take masks (OXM's do not, so the OXM translator set them exact).
        foreach (var e in list)
        {
            if (!e.HasMask) continue;
            if (e.Field is Oxm.TcpSrc or Oxm.UdpSrc or Oxm.SctpSrc) match.TpSrc((ushort)e.Value, (ushort)e.Mask);
            else if (e.Field is Oxm.TcpDst or Oxm.UdpDst or Oxm.SctpDst) match.TpDst((ushort)e.Value, (ushort)e.Mask);
        }
        return NxmError.None;
    }

    /// <summary>The 32-bit registers (bit i: reg i) a register field spans, whatever its mask.</summary>
    private static uint RegistersOf(byte field) => field < Ofp13Match.PktReg0 ? 1u << (field - Ofp13Match.NxReg0)
        : field < Ofp13Match.NxXxReg0 ? 3u << (2 * (field - Ofp13Match.PktReg0))
        : 15u << (4 * (field - Ofp13Match.NxXxReg0));

    /// <summary>NXM_OF_VLAN_TCI's value and mask into the VLAN id (OFPVID_PRESENT as CFI) and PCP slots.</summary>
    private static void ApplyTci(ref OfMatch m, ushort tci, ushort mask)
    {
        ushort vidMask = (ushort)(mask & OfMatch.VlanVidMask);
        m.Value.VlanVid = (ushort)(tci & vidMask);
        m.Mask.VlanVid = vidMask;
        // An untagged packet has no PCP: the PCP bits of an untagged match say nothing.
        bool untagged = (mask & VlanCfi) != 0 && (tci & VlanCfi) == 0;
        byte pcpMask = untagged ? (byte)0 : (byte)((mask >> 13) & 7);
        m.Value.VlanPcp = (byte)((tci >> 13) & pcpMask);
        m.Mask.VlanPcp = pcpMask;
    }

    /// <summary>
    /// Writes the NXM entries of <paramref name="m"/> into <paramref name="into"/> (at least <see cref="MaxEntries"/>
    /// long) in Open vSwitch's nx_put_raw order; returns the count.
    /// </summary>
    public static int ToNxm(in OfMatch m, Span<Ofp13Oxm> into)
    {
        ref readonly var v = ref m.Value;
        ref readonly var k = ref m.Mask;
        int n = 0;
        ushort type = k.EthType == ushort.MaxValue ? v.EthType : (ushort)0;
        byte proto = k.NwProto == byte.MaxValue ? v.NwProto : (byte)0;

        if (k.ConjId != 0) Put(into, ref n, Ofp13Match.NxConjId, v.ConjId, uint.MaxValue, uint.MaxValue);
        if (k.InPort != 0) Put(into, ref n, Oxm.InPort, v.InPort, uint.MaxValue, uint.MaxValue);
        // actset_output has no NXM header: ONF's OXM one, with a 32-bit port (Open vSwitch's nx_put_raw).
        if (k.ActsetOutput != 0) Put(into, ref n, Ofp13Match.OnfActsetOutput, Oxm.Port32(v.ActsetOutput), uint.MaxValue, uint.MaxValue);
        Put(into, ref n, Oxm.EthSrc, v.EthSrc, k.EthSrc, OfMatch.MacMask);
        Put(into, ref n, Oxm.EthDst, v.EthDst, k.EthDst, OfMatch.MacMask);
        Put(into, ref n, Oxm.EthType, v.EthType, k.EthType, ushort.MaxValue);
        PutTci(into, ref n, m);
        if (type is Mpls or MplsMc)
        {
            Put(into, ref n, Oxm.MplsTc, v.MplsTc, k.MplsTc, OfMatch.MplsTcMask);
            Put(into, ref n, Oxm.MplsBos, v.MplsBos, k.MplsBos, OfMatch.MplsBosMask);
            Put(into, ref n, Oxm.MplsLabel, v.MplsLabel, k.MplsLabel, OfMatch.MplsLabelMask);
        }
        if (type is Ipv4 or Ipv6)
        {
            if (type == Ipv4)
            {
                Put(into, ref n, Oxm.Ipv4Src, v.NwSrc, k.NwSrc, uint.MaxValue);
                Put(into, ref n, Oxm.Ipv4Dst, v.NwDst, k.NwDst, uint.MaxValue);
            }
            else
            {
                Put(into, ref n, Oxm.Ipv6Src, v.Ipv6Src, k.Ipv6Src, UInt128.MaxValue);
                Put(into, ref n, Oxm.Ipv6Dst, v.Ipv6Dst, k.Ipv6Dst, UInt128.MaxValue);
            }
            Put(into, ref n, Ofp13Match.NxIpFrag, v.IpFrag, Oxm.IpFragWireMask(k.IpFrag), byte.MaxValue);
            // DSCP and ECN are exact or absent (OpenFlow's masks on them are whole).
            if ((k.NwTos & OfMatch.TosMask) != 0) Put(into, ref n, Oxm.IpDscp, (uint)(v.NwTos >> 2), 0x3f, 0x3f);
            if ((k.IpEcn & OfMatch.EcnMask) != 0) Put(into, ref n, Oxm.IpEcn, v.IpEcn, OfMatch.EcnMask, OfMatch.EcnMask);
            Put(into, ref n, Ofp13Match.NxIpTtl, v.NwTtl, k.NwTtl, byte.MaxValue);
            Put(into, ref n, Oxm.Ipv6Flabel, v.Ipv6Flabel, k.Ipv6Flabel, OfMatch.FlabelMask);
            if (k.NwProto != 0)
            {
                Put(into, ref n, Oxm.IpProto, v.NwProto, byte.MaxValue, byte.MaxValue);
                PutTransport(into, ref n, m, type, proto);
            }
        }
        else if (type is Arp or Rarp)
        {
            if (k.NwProto != 0) Put(into, ref n, Oxm.ArpOp, v.NwProto, ushort.MaxValue, ushort.MaxValue);
            Put(into, ref n, Oxm.ArpSpa, v.NwSrc, k.NwSrc, uint.MaxValue);
            Put(into, ref n, Oxm.ArpTpa, v.NwDst, k.NwDst, uint.MaxValue);
            Put(into, ref n, Oxm.ArpSha, v.ArpSha, k.ArpSha, OfMatch.MacMask);
            Put(into, ref n, Oxm.ArpTha, v.ArpTha, k.ArpTha, OfMatch.MacMask);
        }
        Put(into, ref n, Oxm.TunnelId, v.TunnelId, k.TunnelId, ulong.MaxValue);
        Put(into, ref n, Ofp13Match.NxTunSrc, v.TunSrc, k.TunSrc, uint.MaxValue);
        Put(into, ref n, Ofp13Match.NxTunDst, v.TunDst, k.TunDst, uint.MaxValue);
        // Fields Open vSwitch has no NXM header for, under their OXM headers (it matches neither).
        if (type == Pbb) Put(into, ref n, Oxm.PbbIsid, v.PbbIsid, k.PbbIsid, OfMatch.PbbIsidMask);
        if (type == Ipv6) Put(into, ref n, Oxm.Ipv6Exthdr, v.Ipv6ExtHdr, k.Ipv6ExtHdr, OfMatch.Ipv6ExtHdrMask);
        for (int i = 0; i < OfRegisters.RegCount; i++)
            Put(into, ref n, (byte)(Ofp13Match.NxReg0 + i), v.Regs.Reg(i), k.Regs.Reg(i), uint.MaxValue);
        Put(into, ref n, Ofp13Match.NxPktMark, v.PktMark, k.PktMark, uint.MaxValue);
        Put(into, ref n, Ofp13Match.NxDpHash, v.DpHash, k.DpHash, uint.MaxValue);
        Put(into, ref n, Oxm.Metadata, v.Metadata, k.Metadata, ulong.MaxValue);
        return n;
    }

    private static void PutTransport(Span<Ofp13Oxm> into, ref int n, in OfMatch m, ushort type, byte proto)
    {
        ref readonly var v = ref m.Value;
        ref readonly var k = ref m.Mask;
        switch (proto)
        {
            case Oxm.Tcp:
                Put(into, ref n, Oxm.TcpSrc, v.TpSrc, k.TpSrc, ushort.MaxValue);
                Put(into, ref n, Oxm.TcpDst, v.TpDst, k.TpDst, ushort.MaxValue);
                Put(into, ref n, Ofp13Match.NxTcpFlags, v.TcpFlags, k.TcpFlags, ushort.MaxValue); // unmasked over 16 bits, as Open vSwitch writes it
                break;
            case Oxm.Udp:
                Put(into, ref n, Oxm.UdpSrc, v.TpSrc, k.TpSrc, ushort.MaxValue);
                Put(into, ref n, Oxm.UdpDst, v.TpDst, k.TpDst, ushort.MaxValue);
                break;
            case Oxm.Sctp:
                Put(into, ref n, Oxm.SctpSrc, v.TpSrc, k.TpSrc, ushort.MaxValue);
                Put(into, ref n, Oxm.SctpDst, v.TpDst, k.TpDst, ushort.MaxValue);
                break;
            case Oxm.Icmp when type == Ipv4:
                if (k.TpSrc != 0) Put(into, ref n, Oxm.Icmpv4Type, (byte)v.TpSrc, byte.MaxValue, byte.MaxValue);
                if (k.TpDst != 0) Put(into, ref n, Oxm.Icmpv4Code, (byte)v.TpDst, byte.MaxValue, byte.MaxValue);
                break;
            case Oxm.Icmpv6 when type == Ipv6:
                if (k.TpSrc != 0) Put(into, ref n, Oxm.Icmpv6Type, (byte)v.TpSrc, byte.MaxValue, byte.MaxValue);
                if (k.TpDst != 0) Put(into, ref n, Oxm.Icmpv6Code, (byte)v.TpDst, byte.MaxValue, byte.MaxValue);
                // Open vSwitch's is_nd: a neighbour solicitation or advertisement, code 0.
                bool nd = (v.TpSrc is 135 or 136) && v.TpDst == 0;
                if (nd)
                {
                    Put(into, ref n, Oxm.Ipv6NdTarget, v.NdTarget, k.NdTarget, UInt128.MaxValue);
                    if (v.TpSrc == 135) Put(into, ref n, Oxm.Ipv6NdSll, v.ArpSha, k.ArpSha, OfMatch.MacMask);
                    else Put(into, ref n, Oxm.Ipv6NdTll, v.ArpTha, k.ArpTha, OfMatch.MacMask);
                }
                break;
        }
    }

    /// <summary>The VLAN id and PCP slots as NXM_OF_VLAN_TCI: OFPVID_PRESENT is CFI; a PCP implies a tag; untagged is 0x0000/0xffff.</summary>
    private static void PutTci(Span<Ofp13Oxm> into, ref int n, in OfMatch m)
    {
        ushort vidMask = (ushort)(m.Mask.VlanVid & OfMatch.VlanVidMask);
        byte pcpMask = (byte)(m.Mask.VlanPcp & 7);
        ushort value = (ushort)((m.Value.VlanVid & vidMask) | ((m.Value.VlanPcp & pcpMask) << 13));
        ushort mask = (ushort)(vidMask | (pcpMask << 13));
        if (mask == 0) return;
        if ((vidMask & VlanCfi) != 0 && (value & VlanCfi) == 0)
        {
            // Untagged: no PCP to speak of; an exact id (OFP_VLAN_NONE) is the whole TCI.
            value = 0;
            mask = vidMask == OfMatch.VlanVidMask ? ushort.MaxValue : VlanCfi;
        }
        else if (pcpMask != 0)
        {
            value |= VlanCfi;
            mask |= VlanCfi;
        }
        into[n++] = new Ofp13Oxm(NxMatch.VlanTci, mask != ushort.MaxValue, value, mask);
    }

    private static void Put(Span<Ofp13Oxm> into, ref int n, byte field, UInt128 value, UInt128 mask, UInt128 full)
    {
        if (mask == 0) return;
        bool masked = mask != full;
        into[n++] = new Ofp13Oxm(field, masked, value & mask, masked ? mask : Ofp13Match.AllOnes(field));
    }
}
