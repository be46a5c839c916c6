using System.Runtime.CompilerServices;
using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Packets;

/// <summary>
/// The packet fields that the 128-byte <see cref="FlowKey"/> has no room for, read from a parsed frame for the pipeline
/// walk's register file (<see cref="Registers.PacketWord"/>): the IP TTL (IPv4's TTL, IPv6's hop limit) and the TCP
/// flags (Open vSwitch's 12 bits: the data offset byte's low nibble and the flags byte). Read only for a walk and for a
/// cached verdict whose tables test them (<see cref="Classifier.PipelineVerdict.PacketDependent"/>); stateless,
/// allocates nothing.
/// </summary>
public static class PacketWords
{
    /// <summary>The packet word of <paramref name="frame"/> as <paramref name="l"/> parsed it (0 for a frame without IP).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Fields(ReadOnlySpan<byte> frame, in PacketLayers l)
    {
        if ((l.Flags & (LayerFlags.Ipv4 | LayerFlags.Ipv6)) == 0 || l.L3 == PacketLayers.Absent) return 0;
        return FieldsOfIp(frame, l);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ulong FieldsOfIp(ReadOnlySpan<byte> frame, in PacketLayers l)
    {
        int ttlAt = l.L3 + ((l.Flags & LayerFlags.Ipv4) != 0 ? 8 : 7);
        byte ttl = (uint)ttlAt < (uint)frame.Length ? frame[ttlAt] : (byte)0;
        ushort flags = 0;
        int f = l.L4 + 12;
        if ((l.Flags & LayerFlags.Tcp) != 0 && l.L4 != PacketLayers.Absent && (uint)(f + 1) < (uint)frame.Length)
            flags = (ushort)((frame[f] & 0x0F) << 8 | frame[f + 1]);
        return Registers.PacketFieldsOf(ttl, flags);
    }
}
