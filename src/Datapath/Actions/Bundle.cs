using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Actions;

/// <summary>
/// Open vSwitch's bundle member choice (ovs lib/bundle.c bundle_execute): active_backup takes the first live member in
/// list order; hrw (highest random weight) hashes the packet's fields as multipath does (<see cref="Multipath.HashFields"/>)
/// and takes the live member i of the highest hash_2words(i, hash). Members are 16-bit OpenFlow port numbers, as on the
/// wire; none live: OFPP_NONE (0xffff).
/// </summary>
/// <remarks>
/// Liveness is Open vSwitch's member_enabled_cb: IN_PORT, TABLE, NORMAL, FLOOD, ALL and NONE are always live, the
/// controller never, any other member when the port exists, its link is up and it is not administratively down
/// (the pipeline's <see cref="Classifier.Pipeline.PortLiveness"/> on the datapath's number, <see cref="Classifier.PipelineWalk.OutputPort"/>). Stateless;
/// allocates nothing.
/// </remarks>
public static class Bundle
{
    /// <summary>NX_BD_ALG_* values.</summary>
    public const int ActiveBackup = 0, Hrw = 1;
    /// <summary>OFPP_NONE in 16 bits: what a bundle picks when no member is live.</summary>
    public const ushort None = 0xffff;

    /// <summary>The member (a 16-bit OpenFlow port number) a packet of key <paramref name="k"/> takes.</summary>
    public static ushort Pick(in FlowKey k, int fields, ushort basis, int algorithm, ReadOnlySpan<ushort> members, Func<ushort, bool>? isLive)
    {
        if (algorithm == ActiveBackup)
        {
            foreach (ushort m in members)
                if (IsLive(m, isLive)) return m;
            return None;
        }
        uint hash = Multipath.HashFields(k, fields, basis);
        int best = -1;
        uint bestHash = 0;
        for (int i = 0; i < members.Length; i++)
        {
            if (!IsLive(members[i], isLive)) continue;
            uint h = Multipath.Hash2Words((uint)i, hash);
            if (best < 0 || h > bestHash)
            {
                best = i;
                bestHash = h;
            }
        }
        return best >= 0 ? members[best] : None;
    }

    /// <summary>Open vSwitch's member_enabled_cb (see the type remarks).</summary>
    public static bool IsLive(ushort member, Func<ushort, bool>? isLive)
    {
        switch (member)
        {
            case 0xfff8 or 0xfff9 or 0xfffa or 0xfffb or 0xfffc or None: return true; // IN_PORT, TABLE, NORMAL, FLOOD, ALL, NONE
            case 0xfffd: return false; // the controller: refused where the action is built
        }
        ushort port = Classifier.PipelineWalk.OutputPort(member);
        return port != 0 && isLive is not null && isLive(port);
    }
}

/// <summary>
/// Every bundle member list the switch has been given, each once (equal lists share an id): a flat
/// <see cref="FlowAction"/> names its members by id (<see cref="FlowAction.Bundle"/>). Ids are never reused; the
/// registry keeps at most <see cref="MaxLists"/> distinct lists for the life of the process (a bundle beyond is refused
/// by the layer above).
/// </summary>
/// <remarks>Thread safety: <see cref="Register"/> under a lock; <see cref="Get"/> lock-free (an array published whole).</remarks>
public static class BundleMembers
{
    /// <summary>Most distinct member lists the process keeps.</summary>
    public const int MaxLists = 1 << 16;

    private static readonly Lock s_lock = new();
    private static readonly Dictionary<string, int> s_ids = new(StringComparer.Ordinal);
    private static volatile ushort[][] s_all = [];

    /// <summary>The id of <paramref name="members"/> (the one an equal list got, else a new one); -1 when the registry is full.</summary>
    public static int Register(ReadOnlySpan<ushort> members)
    {
        string key = string.Join(',', members.ToArray());
        lock (s_lock)
        {
            if (s_ids.TryGetValue(key, out int id)) return id;
            var all = s_all;
            if (all.Length >= MaxLists) return -1;
            id = all.Length;
            s_all = [.. all, members.ToArray()];
            s_ids.Add(key, id);
            return id;
        }
    }

    /// <summary>The members of list <paramref name="id"/> (empty for an id never given).</summary>
    public static ReadOnlySpan<ushort> Get(int id)
    {
        var all = s_all;
        return (uint)id < (uint)all.Length ? all[id] : default;
    }
}
