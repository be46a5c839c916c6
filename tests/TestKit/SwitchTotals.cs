using Softswitch.Ofproto;

namespace Softswitch.TestKit;

/// <summary>Aggregate statistics of a switch in one expression, for requests it must not refuse.</summary>
public static class SwitchTotals
{
    /// <summary>The totals <see cref="OfSwitch.Aggregate"/> gives for <paramref name="req"/>, asserting it was not refused.</summary>
    public static AggregateStats Totals(this OfSwitch sw, in FlowStatsRequest req)
    {
        Assert.Equal(OfError.None, sw.Aggregate(req, out var totals));
        return totals;
    }
}
