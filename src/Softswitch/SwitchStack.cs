using Microsoft.Extensions.Logging;
using Softswitch.Datapath;
using Softswitch.OfAgent;
using Softswitch.Ofproto;

namespace Softswitch;

/// <summary>
/// The OpenFlow layers over a datapath, composed one way for `softswitch run` and for each bridge of
/// `softswitch vswitchd`: the table set, the OpenFlow switch (datapath id, fail mode) and its agent (controllers,
/// versions, listeners), with the agent's counters in the datapath's registry.
/// </summary>
internal static class SwitchStack
{
    /// <summary>
    /// The OpenFlow tables over <paramref name="dp"/>. <paramref name="recycle"/>: removed entries are reused once every
    /// reader has passed (flow churn then allocates nothing); not with an offload target, which keeps flows beyond any hold.
    /// </summary>
    public static OfFlowTables CreateTables(SwitchDatapath dp, int maxFlows, bool recycle)
        => new(dp, new FlowTableOptions { MaxFlows = maxFlows, RecycleEntries = recycle });

    /// <summary>The switch and its agent, not started (<see cref="OfSwitchAgent.Start"/> opens the listeners and connects).</summary>
    public static OfSwitchAgent CreateAgent(SwitchDatapath dp, OfFlowTables tables, ulong dpid, FailMode failMode, AgentOptions options, ILoggerFactory loggers,
        string? dpDesc = null)
    {
        var switchOptions = new OfSwitchOptions { DatapathId = dpid, FailMode = failMode };
        if (dpDesc is not null) switchOptions.DatapathDescription = dpDesc;
        var ofproto = new OfSwitch(dp, switchOptions, tables, loggers);
        var agent = new OfSwitchAgent(ofproto, options, loggers);
        AgentCounters.Register(dp.Counters, agent);
        return agent;
    }

    /// <summary><see cref="CreateAgent"/> and start it; a listener that cannot be opened throws (after the agent is disposed).</summary>
    public static OfSwitchAgent StartAgent(SwitchDatapath dp, OfFlowTables tables, ulong dpid, FailMode failMode, AgentOptions options, ILoggerFactory loggers,
        string? dpDesc = null)
    {
        var agent = CreateAgent(dp, tables, dpid, failMode, options, loggers, dpDesc);
        try
        {
            agent.Start();
            return agent;
        }
        catch
        {
            dp.Counters.RemoveSources(agent);
            agent.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
    }
}
