using Softswitch.Datapath.Flow;

namespace Softswitch.Ofproto.Tests;

/// <summary>Shorthands for what the OpenFlow layer records about a rule (<see cref="OfFlowRule"/>).</summary>
internal static class OfFlowEntryExtensions
{
    extension(FlowEntry e)
    {
        public ulong Cookie => OfFlowRule.CookieOf(e);
        public bool IsEmergency => OfFlowRule.Of(e)?.IsEmergency ?? false;
        public byte TableId => OfFlowRule.Of(e)!.TableId;
        public FlowModFlags Flags => OfFlowRule.Of(e)!.Flags;
    }
}
