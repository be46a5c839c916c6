namespace Softswitch.Ofproto;

/// <summary>A group's type, version-independent (OpenFlow 1.3.5 section 5.6.1).</summary>
public enum OfGroupType : byte { All, Select, Indirect, FastFailover }

/// <summary>
/// What a group-mod does: OpenFlow 1.1's three, and 1.5's INSERT_BUCKET and REMOVE_BUCKET, which change a group's
/// buckets at <see cref="GroupModRequest.CommandBucketId"/> and keep its type.
/// </summary>
public enum GroupModCommand : byte { Add, Modify, Delete, InsertBuckets, RemoveBuckets }

/// <summary>
/// A bucket as a controller gives it and reads it back: its weight (select groups), the port and group whose liveness
/// it watches (<see cref="OfPort.Any"/> and <see cref="GroupModRequest.AnyGroup"/>: none), and its actions.
/// </summary>
/// <para><see cref="Id"/> is the bucket id OpenFlow 1.5 gives and reads back; a bucket given without one
/// (<see cref="NoId"/>: every version before 1.5) reads back as its place in the group, 0 first, as Open vSwitch numbers
/// them.</para>
public sealed record OfBucket(ushort Weight, uint WatchPort, uint WatchGroup, ReadOnlyMemory<OfAction> Actions, uint Id = OfBucket.NoId)
{
    /// <summary>OFPG_BUCKET_MAX: the highest id a bucket may have.</summary>
    public const uint MaxId = 0xffffff00;
    /// <summary>OFPG_BUCKET_FIRST, OFPG_BUCKET_LAST, OFPG_BUCKET_ALL: where an insert or a removal acts.</summary>
    public const uint First = 0xfffffffd, Last = 0xfffffffe, All = 0xffffffff;
    /// <summary>No id given: the bucket's place in its group is its id.</summary>
    public const uint NoId = All;

    /// <summary>The id of the bucket at <paramref name="index"/> of its group: its own, else its place.</summary>
    public uint IdAt(int index) => Id <= MaxId ? Id : (uint)index;
}

/// <summary>A group-mod, version-independent: what a codec decodes any version's GROUP_MOD into.</summary>
/// <param name="CommandBucketId">Where INSERT_BUCKET puts its buckets (after the bucket of that id, or
/// <see cref="OfBucket.First"/>, <see cref="OfBucket.Last"/>) and which bucket REMOVE_BUCKET removes (those, or
/// <see cref="OfBucket.All"/>); <see cref="OfBucket.All"/> for the other commands.</param>
/// <param name="Selection">Open vSwitch's selection method of a select group (null: the switch's own).</param>
public readonly record struct GroupModRequest(GroupModCommand Command, OfGroupType Type, uint GroupId, IReadOnlyList<OfBucket> Buckets,
                                              uint CommandBucketId = OfBucket.All, OfSelectionMethod? Selection = null)
{
    /// <summary>OFPG_MAX: the highest group id a controller may use.</summary>
    public const uint MaxId = 0xffffff00;
    /// <summary>OFPG_ALL: every group (delete, statistics).</summary>
    public const uint AllGroups = 0xfffffffc;
    /// <summary>OFPG_ANY: no group (a bucket's watch, a filter).</summary>
    public const uint AnyGroup = 0xffffffff;
}

/// <summary>
/// Open vSwitch's selection method of a select group (its group property NTRT_SELECTION_METHOD; ovs-ofctl's
/// <c>selection_method</c>, <c>selection_method_param</c>, <c>fields</c>): <see cref="Hash"/> hashes the fields of
/// <see cref="Fields"/> (each under its mask) from a basis of <see cref="Param"/>; <see cref="DpHash"/> hashes the
/// packet's flow (its low 32 bits of <see cref="Param"/> the basis) into a table of 2^n hash values spread over the
/// buckets by weight.
/// </summary>
/// <param name="Name"><see cref="Hash"/> or <see cref="DpHash"/>.</param>
/// <param name="Fields">The fields hashed: a match whose mask holds each field's mask (values unused); none: the
/// switch's own hash.</param>
/// <param name="Named">The fields as the controller named them (its codec's field numbers and masks, in its order), given
/// back as they came.</param>
public sealed record OfSelectionMethod(string Name, ulong Param, OfMatch Fields, IReadOnlyList<(byte Field, UInt128 Mask)> Named)
{
    public const string Hash = "hash", DpHash = "dp_hash";
}

/// <summary>A group as GROUP_DESC reports it: exactly the buckets it was given, and its selection method.</summary>
public sealed record OfGroupDesc(uint GroupId, OfGroupType Type, IReadOnlyList<OfBucket> Buckets, OfSelectionMethod? Selection = null);

/// <summary>One bucket's counters.</summary>
public readonly record struct OfBucketStats(ulong Packets, ulong Bytes);

/// <summary>A group's statistics: the flows and groups that apply it, its counters, its age, its buckets' counters.</summary>
public sealed record OfGroupStats(uint GroupId, uint RefCount, ulong Packets, ulong Bytes, long DurationNanos, OfBucketStats[] Buckets);

/// <summary>What the switch's groups can do (GROUP_FEATURES), version-independent.</summary>
/// <param name="MaxGroups">Most groups of each type (all, select, indirect, fast failover).</param>
/// <param name="MaxBuckets">Most buckets in one group.</param>
/// <param name="SelectWeight">Select buckets have weights.</param>
/// <param name="SelectLiveness">Select groups skip dead buckets.</param>
/// <param name="Chaining">A bucket may apply a group.</param>
/// <param name="ChainingChecks">Chains are checked for loops.</param>
public readonly record struct OfGroupFeatures(int MaxGroups, int MaxBuckets, bool SelectWeight, bool SelectLiveness, bool Chaining, bool ChainingChecks);
