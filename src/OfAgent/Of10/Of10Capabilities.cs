using System.Buffers.Binary;
using Softswitch.OfAgent.Of10.Handlers;
using Softswitch.OfAgent.Of10.Translate;
using Softswitch.OfWire.Of10;

namespace Softswitch.OfAgent.Of10;

/// <summary>
/// What the switch tells an OpenFlow 1.0 controller it supports (FEATURES_REPLY), derived once from the code that
/// handles the wire values, never kept by hand: an action type's bit when the decoder and the action translator take an
/// action of that type, a statistics bit when the statistics handler answers the request the bit stands for, and
/// ARP_MATCH_IP when an ARP match's nw_src/nw_dst reach the switch's match as the ARP addresses.
/// </summary>
internal static class Of10Capabilities
{
    /// <summary>FEATURES_REPLY's actions: the bit 1 &lt;&lt; OFPAT_* of each action a flow-mod may carry.</summary>
    public static readonly uint Actions = Enum.GetValues<OfpActionType>().Where(t => t != OfpActionType.Vendor && TakesAction(t))
                                              .Aggregate(0u, (bits, t) => bits | 1u << (int)t);

    /// <summary>Each OFPC_* bit with what must hold for it (OpenFlow 1.0.0 section 5.3.1); null: nothing here does it.</summary>
    private static readonly (OfpCapabilities Bit, Func<bool>? Holds)[] s_capabilities =
    [
        (OfpCapabilities.FlowStats, () => StatsHandler.Answers(OfpStatsType.Flow)),
        (OfpCapabilities.TableStats, () => StatsHandler.Answers(OfpStatsType.Table)),
        (OfpCapabilities.PortStats, () => StatsHandler.Answers(OfpStatsType.Port)),
        (OfpCapabilities.Stp, null),      // no spanning tree runs here
        (OfpCapabilities.IpReasm, null),  // fragments are never reassembled
        (OfpCapabilities.QueueStats, () => StatsHandler.Answers(OfpStatsType.Queue)),
        (OfpCapabilities.ArpMatchIp, MatchesArpAddresses),
    ];

    /// <summary>FEATURES_REPLY's capabilities.</summary>
    public static readonly OfpCapabilities Features = s_capabilities.Where(c => c.Holds is { } holds && holds())
                                                                    .Aggregate(OfpCapabilities.None, (bits, c) => bits | c.Bit);

    /// <summary>An action of type <paramref name="t"/> (its wire size, argument 1) decodes and translates.</summary>
    private static bool TakesAction(OfpActionType t)
    {
        Span<byte> wire = stackalloc byte[16];
        foreach (int size in (ReadOnlySpan<int>)[8, 16])
        {
            wire.Clear();
            BinaryPrimitives.WriteUInt16BigEndian(wire, (ushort)t);
            BinaryPrimitives.WriteUInt16BigEndian(wire[2..], (ushort)size);
            BinaryPrimitives.WriteUInt16BigEndian(wire[4..], 1);
            if (OfpAction.TryDecode(wire[..size], out var action, out _, out _))
                return ActionTranslator.TryDecode([action], out _, out _);
        }
        return false;
    }

    /// <summary>An ARP match's nw_src and nw_dst (OpenFlow 1.0's ARP SPA and TPA) become the switch's.</summary>
    private static bool MatchesArpAddresses()
    {
        var m = OfpMatch.All;
        m.Wildcards &= ~(OfpFlowWildcards.DlType | OfpFlowWildcards.NwSrcMask | OfpFlowWildcards.NwDstMask);
        m.DlType = 0x0806;
        m.NwSrc = 0x0a000001;
        m.NwDst = 0x0a000002;
        var of = MatchTranslator.ToOfMatch(m);
        return of.Mask.NwSrc == uint.MaxValue && of.Value.NwSrc == m.NwSrc && of.Mask.NwDst == uint.MaxValue && of.Value.NwDst == m.NwDst;
    }
}
