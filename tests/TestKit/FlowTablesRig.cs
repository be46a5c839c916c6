using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Ofproto;

namespace Softswitch.TestKit;

/// <summary>A <see cref="DatapathRig"/> with OpenFlow flow tables on top: rules go in as a controller's flow-mods.</summary>
public class FlowTablesRig : DatapathRig
{
    public readonly OfFlowTables Flows;

    public FlowTablesRig(int ports = 4, DatapathOptions? options = null, ManualClock? clock = null, bool addPorts = true, bool capture = true)
        : base(ports, options, clock, addPorts, capture)
        => Flows = new OfFlowTables(Dp);

    /// <summary>An add flow-mod of <paramref name="m"/> at <paramref name="prio"/> with <paramref name="actions"/>.</summary>
    public FlowModStatus Add(FlowMatch m, ushort prio, params FlowAction[] actions)
        => Flows.Apply(new FlowMod(FlowModCommand.Add, m, prio, new FlowActions(actions)));
}
