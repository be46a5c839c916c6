using System.Runtime.InteropServices;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of15;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of13.Translate;

/// <summary>
/// OpenFlow 1.5's groups in the model's terms and back: GROUP_MOD with bucket ids, bucket properties and the command
/// bucket id (<see cref="Ofp15GroupMod"/>) as a <see cref="GroupModRequest"/>, and a group as 1.5's GROUP_DESC entry.
/// </summary>
/// <remarks>Stateless. Whether the group, its buckets and their ids may be is the switch's to say (<see cref="OfSwitch.GroupMod"/>).</remarks>
internal static class GroupTranslator
{
    /// <summary>The group-mod commands 1.5 adds (OFPGC_INSERT_BUCKET, OFPGC_REMOVE_BUCKET); 1.1's are <see cref="GroupModCommandMap"/>'s.</summary>
    public static readonly (ushort Wire, GroupModCommand Model)[] Commands15 =
        [(Ofp15GroupMod.InsertBucket, GroupModCommand.InsertBuckets), (Ofp15GroupMod.RemoveBucket, GroupModCommand.RemoveBuckets)];

    /// <summary>
    /// A decoded 1.5 GROUP_MOD as the switch's request. As Open vSwitch: a bucket without a weight property weighs 1 in
    /// a select group and 0 in others; without watch properties it watches nothing; REMOVE_BUCKET with buckets is
    /// BAD_BUCKET; a command outside 1.5's BAD_COMMAND, a type outside its BAD_TYPE.
    /// </summary>
    public static bool TryToModel(Ofp15GroupMod mod, out GroupModRequest request, out Ofp13Error error)
    {
        request = default;
        if (!GroupModCommandMap.TryToModel(mod.Command, out var command) && !Maps.TryFind(Commands15, mod.Command, out command))
        {
            error = Ofp13Error.GroupModFailed(Ofp13Codes.GroupBadCommand);
            return false;
        }
        if (!GroupTypeMap.TryToModel(mod.GroupType, out var type))
        {
            error = Ofp13Error.GroupModFailed(Ofp13Codes.GroupBadType);
            return false;
        }
        if (command == GroupModCommand.RemoveBuckets && mod.Buckets.Count != 0)
        {
            error = Ofp13Error.GroupModFailed(Ofp13Codes.GroupBadBucket);
            return false;
        }
        var buckets = new OfBucket[mod.Buckets.Count];
        for (int i = 0; i < buckets.Length; i++)
        {
            var b = mod.Buckets[i];
            if (!ActionTranslator.TryToOf(CollectionsMarshal.AsSpan(b.Actions), out var actions, out error, maskedSetField: true)) return false;
            ushort weight = b.Weight ?? (ushort)(type == OfGroupType.Select ? 1 : 0);
            buckets[i] = new OfBucket(weight, b.WatchPort ?? OfPort.Any, b.WatchGroup ?? GroupModRequest.AnyGroup, actions, b.BucketId);
        }
        OfSelectionMethod? selection = null;
        if (mod.Selection is { } sel && !TryToModel(sel, out selection, out error)) return false;
        error = default;
        request = new GroupModRequest(command, type, mod.GroupId, buckets, mod.CommandBucketId, selection);
        return true;
    }

    /// <summary>
    /// Open vSwitch's selection method as the model's: the fields as a match of their masks
    /// (<see cref="MatchTranslator.TryHashFieldsToOf"/>; a field the switch does not hash BAD_MATCH/BAD_FIELD, an
    /// all-zero mask or one the field cannot take BAD_MATCH/BAD_MASK).
    /// </summary>
    private static bool TryToModel(NtrSelectionMethod sel, out OfSelectionMethod? model, out Ofp13Error error)
    {
        model = null;
        var fields = CollectionsMarshal.AsSpan(sel.Fields);
        var problem = MatchTranslator.TryHashFieldsToOf(fields, out var match, out _);
        if (problem != OxmProblem.None)
        {
            error = Ofp13Error.BadMatch(problem == OxmProblem.BadField ? Ofp13Codes.MatchBadField : Ofp13Codes.MatchBadMask);
            return false;
        }
        var named = new (byte, UInt128)[fields.Length];
        for (int i = 0; i < named.Length; i++) named[i] = (fields[i].Field, fields[i].Value);
        model = new OfSelectionMethod(sel.Method, sel.Param, match, named);
        error = default;
        return true;
    }

    /// <summary>
    /// A group as 1.5's GROUP_DESC entry: each bucket with its id, its weight in a select group (or when not 0) and its
    /// watches when it has them (Open vSwitch's ofputil_put_ofp15_bucket), then its selection method as it was given.
    /// </summary>
    public static Ofp15GroupDesc ToWire15(OfGroupDesc g)
    {
        var buckets = new List<Ofp15Bucket>(g.Buckets.Count);
        for (int i = 0; i < g.Buckets.Count; i++)
        {
            var b = g.Buckets[i];
            var actions = new List<Ofp13Action>();
            ActionTranslator.ToWire(b.Actions.Span, false, actions, of15: true);
            buckets.Add(new Ofp15Bucket(b.IdAt(i), actions,
                g.Type == OfGroupType.Select || b.Weight != 0 ? b.Weight : null,
                b.WatchPort != OfPort.Any ? b.WatchPort : null,
                b.WatchGroup != GroupModRequest.AnyGroup ? b.WatchGroup : null));
        }
        NtrSelectionMethod? selection = null;
        if (g.Selection is { } sel)
        {
            var fields = new List<Ofp13Oxm>(sel.Named.Count);
            foreach (var (field, mask) in sel.Named) fields.Add(new Ofp13Oxm(field, false, mask, mask));
            selection = new NtrSelectionMethod(sel.Name, sel.Param, fields);
        }
        return new Ofp15GroupDesc(GroupTypeMap.ToWire(g.Type), g.GroupId, buckets, selection);
    }
}
