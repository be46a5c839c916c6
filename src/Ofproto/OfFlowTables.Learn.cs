namespace Softswitch.Ofproto;

public sealed partial class OfFlowTables
{
    /// <summary>
    /// A learn's re-learn of a flow already there (Open vSwitch's ofproto_flow_mod_learn_refresh): when
    /// <paramref name="mod"/>'s table holds a flow of the same match and priority with the same actions, cookie and
    /// timeouts, its idle and hard timers restart from <paramref name="now"/> (the hard timeout counts from the refresh, as Open
    /// vSwitch's rule->modified; the duration flow statistics report still counts from the creation) and nothing else changes (no new incarnation, no
    /// cached verdict invalidated). False when there is no such flow: the caller installs it.
    /// </summary>
    internal bool TryRefreshLearned(in FlowMod mod, long now)
    {
        if (_pipeline.Stage(mod.TableId) is not { } table) return false;
        var t = new Target(mod);
        using var w = table.Write();
        var e = w.Find(t.Match, t.Rank);
        if (e is null || e.IsRemoved || OfFlowRule.CookieOf(e) != mod.Cookie || e.IdleTimeout != mod.IdleTimeout || e.HardTimeout != mod.HardTimeout
            || !e.Actions.Items.AsSpan().SequenceEqual(mod.Actions.Items))
        {
            return false;
        }
        w.Refresh(e, now);
        return true;
    }
}
