using Softswitch.Datapath.Actions;

namespace Softswitch.Datapath.Flow;

/// <summary>
/// What a rule does besides its apply-actions (<see cref="FlowEntry.Actions"/>) in a pipeline of several tables
/// (OpenFlow 1.3.5 section 5.9): clear and write the action set, write the metadata word, go to a later table, and the
/// meter to run packets through.
/// </summary>
/// <remarks>
/// <para>Order of the instructions for one rule (the spec's): meter, apply-actions, clear-actions, write-actions,
/// write-metadata, goto-table. A rule without instructions (<see cref="FlowEntry.Instructions"/> null, every OpenFlow
/// 1.0 rule) ends the pipeline after its apply-actions, and the action set, empty unless an earlier table wrote it,
/// runs then.</para>
/// <para><see cref="Meter"/> names a meter of the datapath's <see cref="Meters.MeterTable"/>: the pipeline runs the
/// rule's packets through it (<see cref="Actions.ActionKind.Meter"/>) before its apply-actions.</para>
/// <para>Immutable; swapped whole on an entry (<see cref="Classifier.FlowTable.WriteScope.SetInstructions"/>).</para>
/// </remarks>
public sealed class FlowInstructions
{
    /// <summary><see cref="GotoTable"/> when the rule ends the pipeline.</summary>
    public const int NoGoto = -1;

    /// <summary>The highest table id of a pipeline (OFPTT_MAX).</summary>
    public const int MaxTableId = 254;

    /// <param name="writeActions">Actions merged into the action set (null: no write-actions).</param>
    /// <param name="clearActions">Empty the action set before writing.</param>
    /// <param name="metadataValue">write-metadata's value (only the bits of <paramref name="metadataMask"/> are kept).</param>
    /// <param name="metadataMask">write-metadata's mask (0: no write-metadata).</param>
    /// <param name="gotoTable">The table to continue in, or <see cref="NoGoto"/>.</param>
    /// <param name="meter">The meter id (0: none).</param>
    public FlowInstructions(FlowActions? writeActions = null, bool clearActions = false, ulong metadataValue = 0, ulong metadataMask = 0,
                            int gotoTable = NoGoto, uint meter = 0)
    {
        if (gotoTable is < NoGoto or > MaxTableId) ThrowHelper.ArgumentOutOfRange(nameof(gotoTable));
        WriteActions = writeActions;
        ClearActions = clearActions;
        MetadataMask = metadataMask;
        MetadataValue = metadataValue & metadataMask;
        GotoTable = gotoTable;
        Meter = meter;
    }

    /// <summary>Actions merged into the action set (one per kind: a later write of a kind replaces the earlier), or null.</summary>
    public FlowActions? WriteActions { get; }

    /// <summary>Whether the action set is emptied (before <see cref="WriteActions"/> is merged).</summary>
    public bool ClearActions { get; }

    /// <summary>write-metadata's value, already masked by <see cref="MetadataMask"/>.</summary>
    public ulong MetadataValue { get; }

    /// <summary>Bits of the metadata word that write-metadata sets (0: none).</summary>
    public ulong MetadataMask { get; }

    /// <summary>The table the packet continues in (strictly greater than the rule's), or <see cref="NoGoto"/>.</summary>
    public int GotoTable { get; }

    /// <summary>The meter the rule's packets run through first (0: none).</summary>
    public uint Meter { get; }

    /// <summary>The metadata word after write-metadata: <c>(old &amp; ~mask) | (value &amp; mask)</c>.</summary>
    public ulong ApplyMetadata(ulong metadata) => (metadata & ~MetadataMask) | MetadataValue;

    public override string ToString()
    {
        var parts = new List<string>();
        if (Meter != 0) parts.Add($"meter:{Meter}");
        if (ClearActions) parts.Add("clear_actions");
        if (WriteActions is { } w) parts.Add($"write_actions({w.Count} actions)");
        if (MetadataMask != 0) parts.Add($"write_metadata:0x{MetadataValue:x}/0x{MetadataMask:x}");
        if (GotoTable != NoGoto) parts.Add($"goto_table:{GotoTable}");
        return string.Join(",", parts);
    }
}
