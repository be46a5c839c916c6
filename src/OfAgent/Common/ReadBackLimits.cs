using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;
using Of10Reports = Softswitch.OfAgent.Of10.Translate.ReportTranslator;
using Of13Reports = Softswitch.OfAgent.Of13.Translate.ReportTranslator;

namespace Softswitch.OfAgent.Common;

/// <summary>
/// Whether what the switch writes back for a flow or a group fits the multipart entry it is read in: an entry's length
/// is 16 bits and a reply holds at most 65,535 bytes with its header, so a longer entry could only wrap. A flow is read
/// back by either version whichever added it (an OpenFlow 1.0 output of 8 bytes is 16 in 1.3), so both are checked
/// against the model's request; the handlers refuse one that does not fit before it takes effect (OFPBAC_TOO_MANY).
/// </summary>
/// <remarks>Stateless but for the translators' per-thread scratch; allocates nothing in steady state.</remarks>
internal static class ReadBackLimits
{
    /// <summary>The flow of <paramref name="r"/> reads back whole in OpenFlow 1.0's and 1.3's flow statistics.</summary>
    public static bool FlowFits(in FlowModRequest r)
        => Of10Reports.FlowStatsSize(r.Instructions) <= OfpStatsReplies.MaxEntriesSize
           && Of13Reports.FlowStatsSize(r.Match, r.Instructions) <= Ofp13Multipart.MaxEntrySize;

    /// <summary>A group of <paramref name="buckets"/> reads back whole in GROUP_DESC.</summary>
    public static bool GroupFits(ReadOnlySpan<OfBucket> buckets) => Of13Reports.GroupDescSize(buckets) <= Ofp13Multipart.MaxEntrySize;
}
