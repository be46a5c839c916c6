using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Softswitch.Datapath.Flow;

/// <summary>
/// The pipeline's register file: Open vSwitch's <c>reg0</c>-<c>reg15</c> (64 bytes that no packet carries, zeroed at
/// the start of every pipeline run and written only by the register actions of the rules a packet hits, seen 32 bits
/// (<c>reg0</c>-<c>reg15</c>), 64 bits (<c>xreg0</c>-<c>xreg7</c>) and 128 bits (<c>xxreg0</c>-<c>xxreg3</c>) at a
/// time), then four pipeline words that the 128-byte <see cref="FlowKey"/> has no room for: <c>pkt_mark</c> and
/// <c>actset_output</c> (<see cref="PipelineWord"/>), the tunnel endpoints <c>tun_src</c>/<c>tun_dst</c>
/// (<see cref="TunnelWord"/>), <c>nw_ttl</c>/<c>tcp_flags</c> (<see cref="PacketWord"/>) and <c>dp_hash</c>
/// (<see cref="HashWord"/>).
/// </summary>
/// <remarks>
/// <para>Held as twelve 64-bit words. Words 0-7: word k is <c>xreg k</c>, <c>reg 2k</c> its upper 32 bits and
/// <c>reg 2k+1</c> its lower, and <c>xxreg j</c> words 2j (upper) and 2j+1 (lower), as Open vSwitch's flow_get_xreg and
/// flow_get_xxreg compose them. Word 8: pkt_mark in the upper 32 bits (0 when a run starts, written by load, move and
/// set_field as a register is), the action set's output port in the lower (<see cref="ActsetCode"/>: 0 when the set
/// holds no output, which the walk maintains as write-actions and clear-actions change the set). Words 9 and 10 are the
/// packet's: tun_src (upper) and tun_dst (lower) of the tunnel that decapsulated it (0 for a packet that came on no
/// tunnel), the IP TTL or hop limit (bits 32-39) and the TCP flags (bits 0-11); the walk puts them in the file only
/// for the lookup of a table whose rules test them (<see cref="PacketWordsMask"/>), so every other lookup sees them 0.
/// Word 11: dp_hash in the lower 32 bits (0 when a run starts; the walk writes the hash a select group of selection
/// method dp_hash computed for the packet; no action writes it), the upper 32 unused.</para>
/// <para>A rule's register match (<see cref="FlowMatch.RegisterMask"/>) has the same layout, so the classifier matches
/// all of these as it matches registers (a subtable hashes and compares only the words its mask tests). Mutable value
/// type; docs/datapath.md, "Registers" and "Pipeline words".</para>
/// </remarks>
[StructLayout(LayoutKind.Sequential, Size = Size)]
public struct Registers : IEquatable<Registers>
{
    public const int Size = 96, Words = 12;
    /// <summary>The word of pkt_mark (upper 32 bits) and actset_output (lower 32: <see cref="ActsetCode"/>).</summary>
    public const int PipelineWord = 8;
    /// <summary>The word of the decapsulating tunnel's endpoints: tun_src (upper 32 bits) and tun_dst (lower 32).</summary>
    public const int TunnelWord = 9;
    /// <summary>The word of the packet's IP TTL (bits 32-39) and TCP flags (bits 0-11).</summary>
    public const int PacketWord = 10;
    /// <summary>The word of dp_hash (lower 32 bits).</summary>
    public const int HashWord = 11;
    /// <summary>The words that come from the packet (bit i: word i), which a verdict cached by key must check.</summary>
    public const ushort PacketWordsMask = 1 << TunnelWord | 1 << PacketWord;
    /// <summary>Bits of <see cref="PacketWord"/>: the TTL's shift and the TCP flags' mask (Open vSwitch's 12 bits).</summary>
    public const int TtlShift = 32;
    public const ushort TcpFlagsMask = 0x0FFF;
    /// <summary>OpenFlow 1.0's OFPP_NONE-style "no port" of Open vSwitch's actset_output (OFPP_UNSET, 0xfff7).</summary>
    public const ushort ActsetUnset = 0xFFF7;
    /// <summary>32-bit registers (reg0-reg15), 64-bit views (xreg0-xreg7) and 128-bit views (xxreg0-xxreg3).</summary>
    public const int RegCount = 16, XRegCount = 8, XXRegCount = 4;

    private WordArray _w;

    [InlineArray(Words)]
    private struct WordArray
    {
        private ulong _e;
    }

    /// <summary>Word <paramref name="i"/> (xreg i).</summary>
    public readonly ulong Word(int i) => _w[i];

    /// <summary>Which words are non-zero (bit i: word i).</summary>
    public readonly ushort NonZeroWords
    {
        get
        {
            int map = 0;
            for (int i = 0; i < Words; i++)
                if (_w[i] != 0) map |= 1 << i;
            return (ushort)map;
        }
    }

    public readonly bool IsZero
    {
        get
        {
            ulong any = 0;
            for (int i = 0; i < Words; i++) any |= _w[i];
            return any == 0;
        }
    }

    /// <summary>Open vSwitch's pkt_mark (<see cref="PipelineWord"/>'s upper 32 bits).</summary>
    public uint PktMark
    {
        readonly get => (uint)(_w[PipelineWord] >> 32);
        set => _w[PipelineWord] = (_w[PipelineWord] & 0xFFFF_FFFFUL) | (ulong)value << 32;
    }

    /// <summary>Open vSwitch's dp_hash (<see cref="HashWord"/>'s lower 32 bits): 0 until a dp_hash select group picks a bucket.</summary>
    public uint DpHash
    {
        readonly get => (uint)_w[HashWord];
        set => _w[HashWord] = (_w[HashWord] & 0xFFFF_FFFF_0000_0000UL) | value;
    }

    /// <summary>
    /// The action set's output as the file holds it (<see cref="PipelineWord"/>'s lower 32 bits): the port number
    /// XOR <see cref="ActsetUnset"/> (<see cref="ActsetCode"/>), so a run's zeroed file says "no output".
    /// </summary>
    public uint ActsetOutputCode
    {
        readonly get => (uint)_w[PipelineWord];
        set => _w[PipelineWord] = (_w[PipelineWord] & 0xFFFF_FFFF_0000_0000UL) | value;
    }

    /// <summary>The port actset_output names (OpenFlow 1.0's 16-bit numbers; <see cref="ActsetUnset"/> when the set holds no output).</summary>
    public readonly ushort ActsetOutput => (ushort)(ActsetOutputCode ^ ActsetUnset);

    /// <summary>How actset_output <paramref name="port"/> is held (and matched): <c>port ^ 0xfff7</c>, 0 for OFPP_UNSET.</summary>
    public static uint ActsetCode(ushort port) => (uint)(port ^ ActsetUnset);

    /// <summary>The tunnel endpoints word (tun_src upper, tun_dst lower; IPv4 addresses as host-order numbers).</summary>
    public ulong TunnelEndpoints
    {
        readonly get => _w[TunnelWord];
        set => _w[TunnelWord] = value;
    }

    /// <summary>The packet word (TTL at bits 32-39, TCP flags at 0-11).</summary>
    public ulong PacketFields
    {
        readonly get => _w[PacketWord];
        set => _w[PacketWord] = value;
    }

    /// <summary>A packet word of <paramref name="ttl"/> and <paramref name="tcpFlags"/>.</summary>
    public static ulong PacketFieldsOf(byte ttl, ushort tcpFlags) => (ulong)ttl << TtlShift | (uint)(tcpFlags & TcpFlagsMask);

    /// <summary>A tunnel word of <paramref name="src"/> and <paramref name="dst"/>.</summary>
    public static ulong TunnelEndpointsOf(uint src, uint dst) => (ulong)src << 32 | dst;

    public readonly uint Reg(int i) => (uint)(_w[i >> 1] >> ((~i & 1) * 32));

    public void SetReg(int i, uint v)
    {
        int shift = (~i & 1) * 32;
        ref ulong w = ref _w[i >> 1];
        w = (w & ~(0xFFFF_FFFFUL << shift)) | ((ulong)v << shift);
    }

    public readonly ulong XReg(int i) => _w[i];
    public void SetXReg(int i, ulong v) => _w[i] = v;
    public readonly UInt128 XXReg(int i) => new(_w[2 * i], _w[2 * i + 1]);

    public void SetXXReg(int i, UInt128 v)
    {
        _w[2 * i] = (ulong)(v >> 64);
        _w[2 * i + 1] = (ulong)v;
    }

    /// <summary>True when <c>(this &amp; mask) == value</c> over every word.</summary>
    public readonly bool MatchesMasked(in Registers mask, in Registers value)
    {
        ulong d = 0;
        for (int i = 0; i < Words; i++) d |= (_w[i] & mask._w[i]) ^ value._w[i];
        return d == 0;
    }

    /// <summary><c>this &amp; mask</c>, word by word.</summary>
    public readonly Registers And(in Registers mask)
    {
        var r = new Registers();
        for (int i = 0; i < Words; i++) r._w[i] = _w[i] & mask._w[i];
        return r;
    }

    /// <summary>True when every bit set in <paramref name="inner"/> is set here.</summary>
    public readonly bool Covers(in Registers inner)
    {
        ulong d = 0;
        for (int i = 0; i < Words; i++) d |= inner._w[i] & ~_w[i];
        return d == 0;
    }

    public readonly int PopCount()
    {
        int n = 0;
        for (int i = 0; i < Words; i++) n += BitOperations.PopCount(_w[i]);
        return n;
    }

    /// <summary>Word-by-word unsigned comparison (a total order for tie-breaking).</summary>
    public readonly int CompareWords(in Registers other)
    {
        for (int i = 0; i < Words; i++)
        {
            int c = _w[i].CompareTo(other._w[i]);
            if (c != 0) return c;
        }
        return 0;
    }

    public readonly bool Equals(Registers other)
    {
        ulong d = 0;
        for (int i = 0; i < Words; i++) d |= _w[i] ^ other._w[i];
        return d == 0;
    }

    public override readonly bool Equals(object? obj) => obj is Registers r && Equals(r);

    public override readonly int GetHashCode()
    {
        uint h = 0x2545F491u;
        for (int i = 0; i < Words; i++) h = BitOperations.Crc32C(h, _w[i]);
        return (int)h;
    }

    public static bool operator ==(in Registers a, in Registers b) => a.Equals(b);
    public static bool operator !=(in Registers a, in Registers b) => !a.Equals(b);

    /// <summary>
    /// The non-zero registers as Open vSwitch's trace prints them (<c>reg0=0x1,reg3=0x2a</c>), then pkt_mark,
    /// actset_output and dp_hash when set; empty when none is (the packet words are the packet's: the trace shows them with it).
    /// </summary>
    public override readonly string ToString()
    {
        var parts = new List<string>();
        for (int i = 0; i < RegCount; i++)
            if (Reg(i) != 0) parts.Add($"reg{i}=0x{Reg(i):x}");
        if (PktMark != 0) parts.Add($"pkt_mark=0x{PktMark:x}");
        if (ActsetOutputCode != 0) parts.Add($"actset_output={ActsetOutput}");
        if (DpHash != 0) parts.Add($"dp_hash=0x{DpHash:x}");
        return string.Join(',', parts);
    }
}
