using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ports.NetFpga;

/// <summary>
/// The driver's encoding of OpenFlow 1.0 matches and actions into the bitfile's 248-bit flow key (8 words), key
/// mask (8 words) and 320-bit action (10 words).
/// </summary>
/// <remarks>
/// Bit positions are the constants below (LSB-first over little-endian words, as the bitfile's packed C structs
/// nf2_of_entry and nf2_of_action); a mask bit of 1 means "don't care". <see cref="CheckMatch"/> and the action check
/// refuse what the board cannot run with the software's meaning, so such flows stay in software rather than answer
/// differently. Stateless; the emulator (<see cref="EmulatedNetFpga"/>) deliberately decodes with code of its own.
/// Layouts, values and the VLAN choices: docs/offload.md, "The NetFPGA-1G encoding".
/// </remarks>
public static class NetFpgaEncoding
{
    // Key bit positions.
    public const int TpDstPos = 0, TpSrcPos = 16, IpProtoPos = 32, IpDstPos = 40, IpSrcPos = 72, EthTypePos = 104;
    public const int EthDstPos = 120, EthSrcPos = 168, SrcPortPos = 216, IpTosPos = 224, VlanPos = 232, PadPos = 248;
    public const byte ValidBit = 0x80;

    // Action bit positions.
    public const int ForwardBitmaskPos = 0, ActionFlagPos = 16, VlanVidPos = 32, VlanPcpPos = 48, DlSrcPos = 56, DlDstPos = 104;
    public const int NwSrcPos = 152, NwDstPos = 184, NwTosPos = 216, ActTpSrcPos = 224, ActTpDstPos = 240;

    public const ushort VlanNone = 0xFFFF;
    public const byte TosBits = 0xFC;

    /// <summary>Writes <paramref name="width"/> (&lt;= 64) bits of <paramref name="value"/> at bit <paramref name="pos"/>.</summary>
    public static void PutBits(Span<uint> words, int pos, int width, ulong value)
    {
        for (int i = 0; i < width; i++)
        {
            int b = pos + i;
            uint bit = 1u << (b & 31);
            if (((value >> i) & 1) != 0) words[b >> 5] |= bit;
            else words[b >> 5] &= ~bit;
        }
    }

    /// <summary>Reads <paramref name="width"/> (&lt;= 64) bits at bit <paramref name="pos"/>.</summary>
    public static ulong GetBits(ReadOnlySpan<uint> words, int pos, int width)
    {
        ulong v = 0;
        for (int i = 0; i < width; i++)
        {
            int b = pos + i;
            if ((words[b >> 5] & (1u << (b & 31))) != 0) v |= 1UL << i;
        }
        return v;
    }

    /// <summary>The key's src_port of OpenFlow port <paramref name="ofPort"/> (1-based): its MAC queue, (of_port − 1) × 2.</summary>
    public static byte SrcPortOf(ushort ofPort) => (byte)((ofPort - 1) * 2);

    /// <summary>The 16-bit vlan field of a frame or rule: PCP &lt;&lt; 13 | VID, or 0xFFFF when untagged.</summary>
    public static ushort VlanField(ushort dlVlan, byte pcp) => dlVlan == VlanNone ? VlanNone : (ushort)(((pcp & 7) << 13) | (dlVlan & 0x0FFF));

    /// <summary>Whether the hardware key can express <paramref name="m"/> with the software's meaning.</summary>
    public static OffloadReason CheckMatch(in FlowMatch m, out OffloadDetail detail)
    {
        detail = default;
        if (m.UsesExtension)
        {
            // The board's key holds the OpenFlow 1.0 twelve-tuple only: metadata, IPv6, ND, ARP hardware addresses,
            // MPLS and PBB stay in software.
            detail = "matches a field beyond the OpenFlow 1.0 twelve-tuple";
            return OffloadReason.UnsupportedMatch;
        }
        var k = m.Mask;
        if (!FieldsWholeOrNone(k))
        {
            // Bit masks the wildcards cannot say (a partial MAC or port, a non-prefix address, ip_ecn, the flow label).
            detail = "matches with a mask OpenFlow 1.0 wildcards cannot say";
            return OffloadReason.UnsupportedMatch;
        }
        if (k.TunId != 0)
        {
            detail = "matches a tunnel id";
            return OffloadReason.UnsupportedMatch;
        }
        bool vlanWild = k.VlanVid == 0, pcpWild = k.DlVlanPcp == 0;
        ushort vlan = m.Value.DlVlan;
        if (vlanWild && !pcpWild)
        {
            // Software gives untagged frames PCP 0; the board's key gives them 0xFFFF (PCP 7).
            detail = "matches dl_vlan_pcp with dl_vlan wildcarded";
            return OffloadReason.UnsupportedMatch;
        }
        if (!vlanWild && vlan != VlanNone && vlan > 0x0FFF)
        {
            detail = $"dl_vlan {vlan} is not a VLAN id";
            return OffloadReason.UnsupportedMatch;
        }
        if (!vlanWild && vlan == VlanNone && !pcpWild && m.Value.DlVlanPcp != 0)
        {
            detail = "matches untagged frames with a non-zero dl_vlan_pcp";
            return OffloadReason.UnsupportedMatch;
        }
        return OffloadReason.None;
    }

    /// <summary>
    /// True when <paramref name="k"/> (a mask without extension words) takes each field of the board's key whole or not
    /// at all (nw_src and nw_dst as prefixes, nw_tos as its DSCP bits, the VLAN id as 0x1FFF) and no other bit: what
    /// OpenFlow 1.0's wildcards, and so the board's key, can say.
    /// </summary>
    private static bool FieldsWholeOrNone(in FlowKey k)
    {
        if (k.InPort is not (0 or 0xFFFF) || k.VlanVid is not (0 or FlowMask.VlanBits) || k.DlType is not (0 or 0xFFFF)
            || k.DlVlanPcp is not (0 or 0xFF) || k.NwTos is not (0 or 0xFC) || k.DlSrc.Value is not (0 or 0xFFFF_FFFF_FFFFUL)
            || k.DlDst.Value is not (0 or 0xFFFF_FFFF_FFFFUL) || k.NwProto is not (0 or 0xFF) || !IsPrefix(k.NwSrc)
            || !IsPrefix(k.NwDst) || k.TpSrc is not (0 or 0xFFFF) || k.TpDst is not (0 or 0xFFFF) || k.TunId is not (0 or ulong.MaxValue))
        {
            return false;
        }
        var fields = new FlowKeyBuilder().InPort(k.InPort).VlanVid(k.VlanVid).DlType(k.DlType).DlVlanPcp(k.DlVlanPcp)
            .NwTos(k.NwTos).DlSrc(k.DlSrc).DlDst(k.DlDst).NwProto(k.NwProto).NwSrc(k.NwSrc).NwDst(k.NwDst)
            .TpSrc(k.TpSrc).TpDst(k.TpDst).TunId(k.TunId).Key;
        return fields.Equals(k);
    }

    /// <summary>True when <paramref name="mask"/> is some number of leading ones (0 to 32).</summary>
    private static bool IsPrefix(uint mask) => (~mask & (~mask + 1)) == 0;

    /// <summary>
    /// The key words of <paramref name="m"/>'s values (fields it wildcards hold whatever the match holds, i.e. zero),
    /// with src_port = <paramref name="srcPort"/> and pad = <paramref name="pad"/>.
    /// </summary>
    public static void EncodeKey(in FlowMatch m, byte srcPort, byte pad, Span<uint> key)
    {
        key[..NetFpgaRegisters.KeyWords].Clear();
        var v = m.Value;
        PutBits(key, TpDstPos, 16, v.TpDst);
        PutBits(key, TpSrcPos, 16, v.TpSrc);
        PutBits(key, IpProtoPos, 8, v.NwProto);
        PutBits(key, IpDstPos, 32, v.NwDst);
        PutBits(key, IpSrcPos, 32, v.NwSrc);
        PutBits(key, EthTypePos, 16, v.DlType);
        PutBits(key, EthDstPos, 48, v.DlDst.Value);
        PutBits(key, EthSrcPos, 48, v.DlSrc.Value);
        PutBits(key, SrcPortPos, 8, srcPort);
        PutBits(key, IpTosPos, 8, (byte)(v.NwTos & TosBits));
        bool vlanWild = m.Mask.VlanVid == 0;
        PutBits(key, VlanPos, 16, vlanWild ? 0u : VlanField(v.DlVlan, v.DlVlanPcp));
        PutBits(key, PadPos, 8, pad);
    }

    /// <summary>The mask words of <paramref name="m"/> (1 = don't care), with the src_port mask <paramref name="srcPortMask"/>.</summary>
    public static void EncodeMask(in FlowMatch m, byte srcPortMask, Span<uint> mask)
    {
        mask[..NetFpgaRegisters.KeyWords].Clear();
        var k = m.Mask;
        PutBits(mask, TpDstPos, 16, (ushort)~k.TpDst);
        PutBits(mask, TpSrcPos, 16, (ushort)~k.TpSrc);
        PutBits(mask, IpProtoPos, 8, (byte)~k.NwProto);
        PutBits(mask, IpDstPos, 32, ~k.NwDst);  // n wildcarded bits: the low n bits set
        PutBits(mask, IpSrcPos, 32, ~k.NwSrc);
        PutBits(mask, EthTypePos, 16, (ushort)~k.DlType);
        PutBits(mask, EthDstPos, 48, ~k.DlDst.Value & 0xFFFF_FFFF_FFFFUL);
        PutBits(mask, EthSrcPos, 48, ~k.DlSrc.Value & 0xFFFF_FFFF_FFFFUL);
        PutBits(mask, SrcPortPos, 8, srcPortMask);
        PutBits(mask, IpTosPos, 8, k.NwTos == 0 ? TosBits : (byte)0);
        bool vlanWild = k.VlanVid == 0, pcpWild = k.DlVlanPcp == 0;
        PutBits(mask, VlanPos, 16, vlanWild ? 0xFFFFu : pcpWild ? 0xE000u : 0u);
        PutBits(mask, PadPos, 8, 0);
    }

    /// <summary>
    /// Whether the board can run <paramref name="actions"/> exactly as the software does, given its
    /// <paramref name="portCount"/> ports (OpenFlow ports 1..portCount).
    /// </summary>
    /// <remarks>
    /// <para>The board applies every modification, then outputs the one modified frame to every port of its bitmask:
    /// so a set-field after an output, a field set twice, a VLAN strip next to a VLAN set (order matters there) or two
    /// outputs that reach one port (checked per in_port in <see cref="EncodeAction"/>) run differently.</para>
    /// <para>Output back out the in_port: the register contract does not say what the bitfile does with a forward
    /// bitmask that includes the frame's own MAC port. The reference library sets that bit both for IN_PORT (expecting
    /// the frame to go back) and for an explicit output to the in_port (which OpenFlow 1.0 drops), so one of the two
    /// must behave differently on the real board, and nothing tells which. We never set that bit: an explicit output to
    /// the in_port and FLOOD/ALL leave it clear (the software drops those copies, and so does a board that sends nothing
    /// for a clear bit), and a flow with an IN_PORT output stays in software
    /// (<see cref="NetFpgaReasons.OutputToInPort"/>) rather than risk being answered differently.</para>
    /// </remarks>
    public static OffloadReason CheckActions(FlowActions actions, int portCount, out OffloadDetail detail)
    {
        detail = default;
        bool output = false, strip = false, setVlan = false;
        int seen = 0;
        foreach (var a in actions.Items)
        {
            switch (a.Kind)
            {
                case ActionKind.Output:
                    switch (a.Port)
                    {
                        case PortNumber.InPort:
                            // See the remarks: the one forward bit whose effect the contract leaves open.
                            detail = new OffloadDetail("(the board may not send a frame back out its in_port)", a);
                            return NetFpgaReasons.OutputToInPort;
                        case PortNumber.Flood or PortNumber.All:
                            break;
                        case PortNumber.Controller or PortNumber.Local or PortNumber.Normal or PortNumber.Table:
                            detail = new OffloadDetail(null, a);
                            return OffloadReason.UnsupportedAction;
                        default:
                            if (a.Port < 1 || a.Port > portCount)
                            {
                                detail = new OffloadDetail(null, a);
                                return OffloadReason.UnsupportedOutputPort;
                            }
                            break;
                    }
                    output = true;
                    continue;
                case ActionKind.Enqueue:
                case ActionKind.SetTunnel:
                    detail = new OffloadDetail(null, a);
                    return OffloadReason.UnsupportedAction;
                case ActionKind.SetVlanVid or ActionKind.SetVlanPcp:
                    setVlan = true;
                    break;
                case ActionKind.StripVlan:
                    strip = true;
                    break;
                case ActionKind.SetDlSrc or ActionKind.SetDlDst or ActionKind.SetNwSrc or ActionKind.SetNwDst
                    or ActionKind.SetNwTos or ActionKind.SetTpSrc or ActionKind.SetTpDst:
                    break;
                default:
                    detail = new OffloadDetail(null, a);
                    return OffloadReason.UnsupportedAction;
            }
            if (output)
            {
                detail = new OffloadDetail("after an output", a);
                return NetFpgaReasons.UnsupportedActionOrder;
            }
            int bit = 1 << (int)a.Kind;
            if ((seen & bit) != 0)
            {
                detail = $"{a.Kind} twice";
                return NetFpgaReasons.UnsupportedActionOrder;
            }
            seen |= bit;
        }
        if (strip && setVlan)
        {
            detail = "strip_vlan together with a VLAN set";
            return NetFpgaReasons.UnsupportedActionOrder;
        }
        return OffloadReason.None;
    }

    /// <summary>
    /// Encodes <paramref name="actions"/> (already accepted by <see cref="CheckActions"/>) for packets arriving on
    /// board port <paramref name="inPort"/> (0-based): the forward bitmask follows the software's output rules for that
    /// in_port (an output to the in_port itself is dropped, FLOOD/ALL send to every other port; IN_PORT, refused by
    /// <see cref="CheckActions"/>, would set the in_port's own bit).
    /// Returns false when two outputs reach the same port (the board would send one copy, the software two).
    /// </summary>
    public static bool EncodeAction(FlowActions actions, int inPort, int portCount, Span<uint> action, out OffloadDetail detail)
    {
        detail = default;
        action[..NetFpgaRegisters.ActionWords].Clear();
        ushort flags = 0;
        Span<byte> copies = stackalloc byte[NetFpgaRegisters.MaxPorts];
        copies.Clear();
        foreach (var a in actions.Items)
        {
            switch (a.Kind)
            {
                case ActionKind.Output:
                    switch (a.Port)
                    {
                        case PortNumber.InPort:
                            copies[inPort]++;
                            break;
                        case PortNumber.Flood:
                        case PortNumber.All:
                            for (int i = 0; i < portCount; i++)
                                if (i != inPort) copies[i]++;
                            break;
                        default:
                            int p = a.Port - 1;
                            if (p != inPort) copies[p]++;
                            break;
                    }
                    break;
                case ActionKind.SetVlanVid:
                    flags |= NetFpgaRegisters.FlagSetVlanVid;
                    PutBits(action, VlanVidPos, 16, a.Value & 0x0FFF);
                    break;
                case ActionKind.SetVlanPcp:
                    flags |= NetFpgaRegisters.FlagSetVlanPcp;
                    PutBits(action, VlanPcpPos, 8, a.Value & 7);
                    break;
                case ActionKind.StripVlan:
                    flags |= NetFpgaRegisters.FlagStripVlan;
                    break;
                case ActionKind.SetDlSrc:
                    flags |= NetFpgaRegisters.FlagSetDlSrc;
                    PutBits(action, DlSrcPos, 48, a.Value & 0xFFFF_FFFF_FFFFUL);
                    break;
                case ActionKind.SetDlDst:
                    flags |= NetFpgaRegisters.FlagSetDlDst;
                    PutBits(action, DlDstPos, 48, a.Value & 0xFFFF_FFFF_FFFFUL);
                    break;
                case ActionKind.SetNwSrc:
                    flags |= NetFpgaRegisters.FlagSetNwSrc;
                    PutBits(action, NwSrcPos, 32, (uint)a.Value);
                    break;
                case ActionKind.SetNwDst:
                    flags |= NetFpgaRegisters.FlagSetNwDst;
                    PutBits(action, NwDstPos, 32, (uint)a.Value);
                    break;
                case ActionKind.SetNwTos:
                    flags |= NetFpgaRegisters.FlagSetNwTos;
                    PutBits(action, NwTosPos, 8, a.Value & TosBits);
                    break;
                case ActionKind.SetTpSrc:
                    flags |= NetFpgaRegisters.FlagSetTpSrc;
                    PutBits(action, ActTpSrcPos, 16, a.Value & 0xFFFF);
                    break;
                case ActionKind.SetTpDst:
                    flags |= NetFpgaRegisters.FlagSetTpDst;
                    PutBits(action, ActTpDstPos, 16, a.Value & 0xFFFF);
                    break;
            }
        }
        ushort bitmask = 0;
        for (int i = 0; i < portCount; i++)
        {
            if (copies[i] > 1)
            {
                detail = $"two outputs reach port {i + 1}";
                return false;
            }
            if (copies[i] == 1) bitmask |= (ushort)(1 << (2 * i));
        }
        if (bitmask != 0) flags |= NetFpgaRegisters.FlagOutput;
        PutBits(action, ForwardBitmaskPos, 16, bitmask);
        PutBits(action, ActionFlagPos, 16, flags);
        return true;
    }

    /// <summary>The forward bitmask of encoded action words.</summary>
    public static ushort ForwardBitmask(ReadOnlySpan<uint> action) => (ushort)GetBits(action, ForwardBitmaskPos, 16);

    // ================================================================ exact-table hash

    private static readonly uint[] s_table1 = CrcTable(NetFpgaRegisters.CrcPoly1);
    private static readonly uint[] s_table2 = CrcTable(NetFpgaRegisters.CrcPoly2);

    private static uint[] CrcTable(uint poly)
    {
        var t = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint r = i << 24;
            for (int j = 0; j < 8; j++) r = (r & 0x8000_0000) != 0 ? (r << 1) ^ poly : r << 1;
            t[i] = r;
        }
        return t;
    }

    /// <summary>
    /// The two exact-table positions of a key: CRC-32 (MSB first, initial value 0, no final xor) over the 32 key bytes
    /// as they lie in memory (word 0's low byte first) with the pad byte zero, low 15 bits; first with the Ethernet
    /// polynomial, then with 0x1EDC6F41 (nf2_lib.c get_free_exact).
    /// </summary>
    public static (int First, int Second) ExactRows(ReadOnlySpan<uint> key)
    {
        uint c1 = 0, c2 = 0;
        for (int w = 0; w < NetFpgaRegisters.KeyWords; w++)
        {
            uint word = w == NetFpgaRegisters.KeyWords - 1 ? key[w] & 0x00FF_FFFF : key[w];
            for (int b = 0; b < 4; b++)
            {
                byte x = (byte)(word >> (8 * b));
                c1 = (c1 << 8) ^ s_table1[(c1 >> 24) ^ x];
                c2 = (c2 << 8) ^ s_table2[(c2 >> 24) ^ x];
            }
        }
        return ((int)(c1 & 0x7FFF), (int)(c2 & 0x7FFF));
    }
}
