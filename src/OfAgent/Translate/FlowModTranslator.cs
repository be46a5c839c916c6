using Softswitch.OfWire;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Translate;

/// <summary>
/// OpenFlow 1.0 flow-mod commands and flags to the OpenFlow layer's version-independent ones, value by value (the
/// two enums share no numbering). Stateless and thread-safe.
/// </summary>
public static class FlowModTranslator
{
    /// <summary>The command, or false for a value OpenFlow 1.0 does not define.</summary>
    public static bool TryCommand(OfpFlowModCommand wire, out FlowModCommand command)
    {
        switch (wire)
        {
            case OfpFlowModCommand.Add: command = FlowModCommand.Add; return true;
            case OfpFlowModCommand.Modify: command = FlowModCommand.Modify; return true;
            case OfpFlowModCommand.ModifyStrict: command = FlowModCommand.ModifyStrict; return true;
            case OfpFlowModCommand.Delete: command = FlowModCommand.Delete; return true;
            case OfpFlowModCommand.DeleteStrict: command = FlowModCommand.DeleteStrict; return true;
            default: command = default; return false;
        }
    }

    /// <summary>The flags OpenFlow 1.0 defines; other bits are ignored.</summary>
    public static FlowModFlags ToFlags(OfpFlowModFlags wire)
    {
        var flags = FlowModFlags.None;
        if ((wire & OfpFlowModFlags.SendFlowRem) != 0) flags |= FlowModFlags.SendFlowRemoved;
        if ((wire & OfpFlowModFlags.CheckOverlap) != 0) flags |= FlowModFlags.CheckOverlap;
        if ((wire & OfpFlowModFlags.Emerg) != 0) flags |= FlowModFlags.Emergency;
        return flags;
    }
}
