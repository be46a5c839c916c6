using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Groups;
using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Actions;

/// <summary>Groups: the <see cref="ActionKind.Group"/> action (OpenFlow 1.3.5 section 5.6).</summary>
/// <remarks>
/// <para>A group runs at the batch's turn in the list, as any action: its buckets' lists run on the batch one group
/// depth deeper (<see cref="GroupTable.MaxDepth"/> bounds chains), each with the set-queue that was in force. A bucket
/// works on a copy of the packets (<see cref="PacketPool.Clone"/>, released after it) whenever something could see its
/// changes that should not: a later action of the list that applied the group, or a later bucket of an ALL group. So the
/// common cases copy nothing: a group ending a list or an action set, an INDIRECT or FAST_FAILOVER group, the last bucket
/// of an ALL group, and a SELECT group (each packet goes to one bucket: the batch is split, not copied).</para>
/// <para>SELECT hashes each packet's flow fields (Ethernet addresses, VLAN id and type; IPv4/IPv6 addresses and protocol,
/// TCP/UDP/SCTP ports unless the packet is a fragment; ARP's addresses) into the group's weighted slot table; a dead bucket's
/// packets pick again among the live buckets, weighted, by a second hash. FAST_FAILOVER takes the first live bucket.
/// Liveness is read once per batch. One action list runs at most <see cref="MaxBucketRuns"/> buckets, so ALL groups
/// fanning out through a chain (n buckets over k levels run n^k) cannot hold up a forwarding thread. Counters: the
/// group's and the bucket's packets and bytes, one atomic add each per batch; packets dropped for a group that does not
/// exist, a group with no live bucket, a chain too deep, a bucket past the runs allowed, or no free buffer for a copy
/// are counted by reason.</para>
/// </remarks>
public sealed partial class ActionExecutor
{
    /// <summary>The groups that group actions name (null: every group action finds none and drops).</summary>
    public GroupTable? Groups { get; init; }

    /// <summary>The tables version group actions look groups up at (<see cref="GroupTable.CurrentVersion"/>: the current
    /// one at each lookup): a forwarding thread sets its burst's, so a group an atomic batch changes is seen with the
    /// batch's flows (<see cref="GroupTable"/>'s versions).</summary>
    public long GroupsVersion { get; set; } = GroupTable.CurrentVersion;

    /// <summary>Told every bucket a batch runs, before it runs (a trace's record of the buckets a packet took), or null.</summary>
    public Action<GroupBucket>? BucketTrace { get; init; }

    /// <summary>Whether groups and buckets count the packets they run (false for a trace, which must not change statistics).</summary>
    public bool CountsGroups { get; init; } = true;

    public static readonly Counter GroupMissing = Coverage.Define("action-group-missing", "packets that met a group action naming no group (deleted since): the group applies nothing");
    public static readonly Counter GroupNoLiveBucket = Coverage.Define("action-group-no-live-bucket", "packets of a select or fast-failover group with no live bucket: the group applies nothing");
    public static readonly Counter GroupTooDeep = Coverage.Define("action-group-too-deep", "packets of a group chained deeper than the datapath follows: the group applies nothing");
    public static readonly Counter GroupLivenessCutShort = Coverage.Define("action-group-liveness-cut-short", "liveness questions that checked as many buckets as they may: the buckets not yet answered counted as dead");
    public static readonly Counter GroupBucketRunsExceeded = Coverage.Define("action-group-bucket-runs-exceeded", "packets of group buckets past the 4,096 bucket runs one action list may make (groups fanning out through chains): those buckets run none");
    public static readonly Counter GroupCopyFailed = Coverage.Define("action-group-copy-failed", "packets a group bucket could not copy (no free buffer): that bucket skips them");

    /// <summary>
    /// The most group buckets one action list runs, its groups' chains included (Open vSwitch checks its translation's
    /// limits at each group action, and ends a fan-out once its datapath actions pass 64 kB, some 8,000 outputs).
    /// </summary>
    public const int MaxBucketRuns = 4096;

    /// <summary>Bucket runs left to the action list being executed.</summary>
    private int _bucketRunsLeft;

    private DepthScratch[] _scratch = [];

    /// <summary>A group depth's scratch lists, grown (rarely: batches are 32 packets) to hold <paramref name="n"/> packets.</summary>
    private DepthScratch Scratch(int depth, int n)
    {
        if (depth >= _scratch.Length) Array.Resize(ref _scratch, depth + 1);
        var s = _scratch[depth] ??= new DepthScratch(Math.Max(32, n));
        if (s.Live.Length < n) s.Grow(n);
        return s;
    }

    private sealed class DepthScratch(int n)
    {
        public int[] Live = new int[n], Dead = new int[n], Copies = new int[n], Sub = new int[n];
        public short[] Choice = new short[n];
        public PacketLayers[] CopyLayers = new PacketLayers[n], SubLayers = new PacketLayers[n];
        public bool[] BucketLive = new bool[16];

        public void Grow(int size)
        {
            Live = new int[size]; Dead = new int[size]; Copies = new int[size]; Sub = new int[size];
            Choice = new short[size];
            CopyLayers = new PacketLayers[size]; SubLayers = new PacketLayers[size];
        }
    }

    /// <summary>
    /// The rule visit plus one of the rule whose actions applied the group being run (0: none, a packet-out's group):
    /// the rule a bucket's fin_timeout lowers, as Open vSwitch's translation keeps its rule through a group's buckets.
    /// </summary>
    private int _groupVisit;

    /// <summary>Runs group <paramref name="id"/>, applied by the rule of composed visit <paramref name="visit"/> (0: a
    /// bucket's or a packet-out's group action: the outer rule, if any, stays the one).</summary>
    private void ExecuteGroup<TSink>(uint id, int visit, PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers, uint queue, int depth, bool copy, ref TSink sink,
                                     in ComposedBuckets composed = default)
        where TSink : struct, IActionSink
    {
        int outer = _groupVisit;
        if (visit != 0) _groupVisit = visit;
        RunGroup(id, pool, pkts, layers, queue, depth, copy, ref sink, composed);
        _groupVisit = outer;
    }

    /// <summary>
    /// The buckets the pipeline walk composed for a <see cref="ActionKind.ComposedGroup"/> (docs/datapath.md,
    /// "Resubmit"): its head's index in <see cref="Actions"/>' plan and the index past its last item; null
    /// <see cref="Actions"/>: run the buckets' own lists. A group's run keeps one copy as a cursor: the bucket it last
    /// found and where that bucket's marker stands, so buckets asked in order (an ALL group's) are found by stepping
    /// from the last one, each marker passed once a run (<see cref="Hops"/>), not from the head each time.
    /// </summary>
    internal struct ComposedBuckets(FlowActions? actions, int head, int end)
    {
        public readonly FlowActions? Actions = actions;
        public readonly int Head = head, End = end;
        /// <summary>The bucket the cursor stands at, and its marker's index (both relative: 0 is bucket 0 at Head + 1).</summary>
        private int _bucket, _offset;

        /// <summary>Markers stepped over since this copy was made (tests: n buckets asked in order step n - 1).</summary>
        public int Hops { get; private set; }

        /// <summary>Bucket <paramref name="b"/>'s composed items, <paramref name="from"/> to <paramref name="to"/>; false
        /// when the composition has no such bucket (the group changed since: the verdict is stale and walked anew). A
        /// bucket before the cursor's (a select group's packets may ask in any order) starts again from the first.</summary>
        public bool TryBucket(int b, out int from, out int to)
        {
            var plan = Actions!.Plan;
            if (b < _bucket)
            {
                _bucket = 0;
                _offset = 0;
            }
            int i = Head + 1 + _offset;
            for (; i < End && _bucket < b; _bucket++, Hops++) i += 1 + (int)plan[i].QueueId;
            _offset = i - Head - 1;
            from = i + 1;
            to = i < End ? Math.Min(End, from + (int)plan[i].QueueId) : i;
            return i < End && plan[i].Kind == ActionKind.Bucket;
        }
    }

    private void RunGroup<TSink>(uint id, PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers, uint queue, int depth, bool copy, ref TSink sink,
                                 in ComposedBuckets composed)
        where TSink : struct, IActionSink
    {
        var table = Groups;
        if (table is null || !table.TryGet(id, GroupsVersion, out var g))
        {
            _counters.Add(GroupMissing, pkts.Length);
            return;
        }
        if (depth >= GroupTable.MaxDepth)
        {
            _counters.Add(GroupTooDeep, pkts.Length);
            return;
        }
        long bytes = Bytes(pool, pkts);
        if (CountsGroups) g.Count(pkts.Length, bytes);
        var buckets = g.Buckets;
        var cursor = composed; // this run's own cursor through the composition
        switch (g.Type)
        {
            case GroupType.Indirect:
                if (buckets.Length != 0) RunBucket(buckets[0], 0, pool, pkts, layers, bytes, queue, depth, copy, ref sink, ref cursor);
                return;
            case GroupType.FastFailover:
            {
                int live = table.FirstLive(g, GroupsVersion);
                if (GroupTable.LastQuestionCutShort) _counters.Add(GroupLivenessCutShort);
                if (live < 0) _counters.Add(GroupNoLiveBucket, pkts.Length);
                else RunBucket(buckets[live], live, pool, pkts, layers, bytes, queue, depth, copy, ref sink, ref cursor);
                return;
            }
            case GroupType.All:
                for (int b = 0; b < buckets.Length; b++)
                    RunBucket(buckets[b], b, pool, pkts, layers, bytes, queue, depth, copy || b < buckets.Length - 1, ref sink, ref cursor);
                return;
            default:
            {
                // A select group the walk composed picked its bucket as it composed it (its key's hash: the verdict's
                // packets are of one flow) and composed that bucket alone: it runs the whole batch.
                int pick = composed.Actions is { } walked ? walked.Plan[composed.Head].ComposedPick : FlowAction.NotPicked;
                if (pick == FlowAction.NotPicked) Select(table, g, pool, pkts, layers, queue, depth, copy, ref sink, ref cursor);
                else if ((uint)pick < (uint)buckets.Length) RunBucket(buckets[pick], pick, pool, pkts, layers, bytes, queue, depth, copy, ref sink, ref cursor);
                else _counters.Add(GroupNoLiveBucket, pkts.Length);
                return;
            }
        }
    }

    private static long Bytes(PacketPool pool, ReadOnlySpan<int> pkts)
    {
        long bytes = 0;
        foreach (int p in pkts) bytes += pool.Length[p];
        return bytes;
    }

    private void RunBucket<TSink>(GroupBucket bucket, int index, PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers, long bytes, uint queue, int depth, bool copy,
                                  ref TSink sink, ref ComposedBuckets composed)
        where TSink : struct, IActionSink
    {
        if (--_bucketRunsLeft < 0)
        {
            _counters.Add(GroupBucketRunsExceeded, pkts.Length);
            return;
        }
        if (CountsGroups) bucket.Count(pkts.Length, bytes);
        BucketTrace?.Invoke(bucket);
        // A bucket's set_tunnel is the bucket's: the outputs after the group (or of a later bucket) use the caller's.
        ulong tunnel = _tunnel;
        // A composed bucket starts with the packet-in metadata the group met (the walk composed it so), and leaves it so.
        ulong pin = PacketInMetadata;
        try
        {
            if (composed.Actions is null) RunBucketActions(bucket.Actions, 0, bucket.Actions.Plan.Length, pool, pkts, layers, queue, depth, copy, ref sink);
            else if (composed.TryBucket(index, out int from, out int to)) RunBucketActions(composed.Actions, from, to, pool, pkts, layers, queue, depth, copy, ref sink);
        }
        finally
        {
            PacketInMetadata = pin;
            if (_tunnel != tunnel)
            {
                _tunnel = tunnel;
                sink.SetTunnel(tunnel);
            }
        }
    }

    /// <summary>Copies <paramref name="pkts"/> (and their layers) into this depth's scratch; a packet no buffer is left for is
    /// counted in <paramref name="failedCounter"/> and left out. Returns how many were copied.</summary>
    private int CopyPackets(DepthScratch s, PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers, Counter failedCounter)
    {
        int k = 0;
        for (int i = 0; i < pkts.Length; i++)
        {
            int c = pool.Clone(pkts[i]);
            if (c < 0) continue;
            s.Copies[k] = c;
            s.CopyLayers[k++] = layers[i];
        }
        if (k != pkts.Length) _counters.Add(failedCounter, pkts.Length - k);
        return k;
    }

    private void RunBucketActions<TSink>(FlowActions actions, int from, int to, PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers, uint queue, int depth, bool copy,
                                         ref TSink sink)
        where TSink : struct, IActionSink
    {
        if (!copy)
        {
            Execute(actions, from, to, pool, pkts, layers, queue, depth + 1, ref sink);
            return;
        }
        var s = Scratch(depth, pkts.Length);
        int k = CopyPackets(s, pool, pkts, layers, GroupCopyFailed);
        if (k == 0) return;
        // The scratch of this depth is not touched by the bucket's list (it runs one deeper), so the copies stay listed.
        Execute(actions, from, to, pool, s.Copies.AsSpan(0, k), s.CopyLayers.AsSpan(0, k), queue, depth + 1, ref sink);
        pool.Release(s.Copies.AsSpan(0, k));
    }

    public static readonly Counter CloneCopyFailed = Coverage.Define("action-clone-copy-failed", "packets a clone could not copy (no free buffer): its actions skip them");
    public static readonly Counter CloneTooDeep = Coverage.Define("action-clone-too-deep", "packets of a clone nested in groups and clones deeper than the datapath follows: its actions run on none");

    /// <summary>
    /// A clone's steps <paramref name="from"/> to <paramref name="to"/> on copies of the packets (released after them),
    /// one depth deeper, as a group's bucket that something after the group could see: the set-queue in force goes in,
    /// and the clone's set_tunnel stays the clone's.
    /// </summary>
    private void ExecuteClone<TSink>(FlowActions actions, int from, int to, PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers,
                                     uint queue, int depth, ref TSink sink)
        where TSink : struct, IActionSink
    {
        if (depth >= GroupTable.MaxDepth)
        {
            _counters.Add(CloneTooDeep, pkts.Length);
            return;
        }
        var s = Scratch(depth, pkts.Length);
        int k = CopyPackets(s, pool, pkts, layers, CloneCopyFailed);
        if (k == 0) return;
        ulong tunnel = _tunnel;
        try
        {
            // The scratch of this depth is not touched by the clone's steps (they run one deeper), so the copies stay listed.
            Execute(actions, from, to, pool, s.Copies.AsSpan(0, k), s.CopyLayers.AsSpan(0, k), queue, depth + 1, ref sink);
        }
        finally
        {
            pool.Release(s.Copies.AsSpan(0, k));
            if (_tunnel != tunnel)
            {
                _tunnel = tunnel;
                sink.SetTunnel(tunnel);
            }
        }
    }

    private void Select<TSink>(GroupTable table, Group g, PacketPool pool, ReadOnlySpan<int> pkts, Span<PacketLayers> layers, uint queue, int depth, bool copy, ref TSink sink,
                               ref ComposedBuckets composed)
        where TSink : struct, IActionSink
    {
        var buckets = g.Buckets;
        if (g.SlotCount == 0)
        {
            _counters.Add(GroupNoLiveBucket, pkts.Length);
            return;
        }
        var s = Scratch(depth, pkts.Length);
        bool allLive = true;
        long liveWeight = 0;
        if (g.AnyLiveness)
        {
            if (s.BucketLive.Length < buckets.Length) s.BucketLive = new bool[Math.Max(buckets.Length, s.BucketLive.Length * 2)];
            liveWeight = table.MarkLive(g, s.BucketLive, GroupsVersion);
            if (GroupTable.LastQuestionCutShort) _counters.Add(GroupLivenessCutShort);
            for (int b = 0; b < buckets.Length; b++) allLive &= s.BucketLive[b];
        }
        int none = 0;
        var live = allLive ? null : s.BucketLive;
        for (int i = 0; i < pkts.Length; i++)
        {
            int p = pkts[i];
            uint h = g.Method switch
            {
                SelectMethod.Default => FlowHashOf(pool.Frame(p), layers[i]),
                SelectMethod.DpHash => DpHashOf(FlowHashOf(pool.Frame(p), layers[i]), g.HashBasis),
                _ => FieldsHashOf(g, pool.Frame(p), pool.InPort[p], pool.TunId[p]),
            };
            int b = g.Pick(h, live, liveWeight);
            s.Choice[i] = (short)b;
            if (b < 0) none++;
        }
        if (none != 0) _counters.Add(GroupNoLiveBucket, none);
        for (int i = 0; i < pkts.Length; i++)
        {
            int b = s.Choice[i];
            if (b < 0) continue;
            int n = 0;
            long bytes = 0;
            for (int j = i; j < pkts.Length; j++)
            {
                if (s.Choice[j] != b) continue;
                s.Choice[j] = -1;
                s.Sub[n] = pkts[j];
                s.SubLayers[n++] = layers[j];
                bytes += pool.Length[pkts[j]];
            }
            // One bucket per packet: the split batch is the packets' own, copied only if the list goes on after the group.
            RunBucket(buckets[b], b, pool, s.Sub.AsSpan(0, n), s.SubLayers.AsSpan(0, n), bytes, queue, depth, copy, ref sink, ref composed);
        }
    }

    /// <summary>
    /// A <see cref="SelectMethod.DpHash"/> group's hash of a packet of flow hash <paramref name="flowHash"/>: mixed with
    /// the group's basis, never 0 (Open vSwitch's dp_hash: 0 means "not computed").
    /// </summary>
    internal static uint DpHashOf(uint flowHash, uint basis)
    {
        uint h = Mix(flowHash ^ Mix(basis ^ 0x9E3779B9u));
        return h == 0 ? 1 : h;
    }

    /// <summary>
    /// A <see cref="SelectMethod.Hash"/> group's hash of a key: the words of <paramref name="k"/> under the group's field
    /// masks (<see cref="Group.HashFields"/>), those the masks use, from the group's basis (Open vSwitch's
    /// pick_hash_fields_select_group hashes each named field's masked value).
    /// </summary>
    internal static uint FieldsHashOf(Group g, in FlowKey k)
    {
        var key = System.Runtime.InteropServices.MemoryMarshal.Cast<FlowKey, ulong>(new ReadOnlySpan<FlowKey>(in k));
        var fields = g.HashFields;
        var mask = System.Runtime.InteropServices.MemoryMarshal.Cast<FlowKey, ulong>(new ReadOnlySpan<FlowKey>(in fields));
        uint h = g.HashBasis ^ 0x2545F491u;
        for (int i = 0; i < mask.Length; i++)
            if (mask[i] != 0) h = BitOperations.Crc32C(h, key[i] & mask[i]);
        return Mix(h);
    }

    /// <summary><see cref="FieldsHashOf(Group, in FlowKey)"/> of a frame: its key as the parser reads it (paid only by
    /// groups of that method).</summary>
    private static uint FieldsHashOf(Group g, ReadOnlySpan<byte> frame, ushort inPort, ulong tunId)
    {
        PacketParser.Parse(frame, inPort, out var k, out _, tunId);
        return FieldsHashOf(g, k);
    }

    /// <summary>The hash a select group <paramref name="g"/> picks by for a packet of key <paramref name="k"/> (the
    /// pipeline walk's pick; the executor's from the frame agrees).</summary>
    internal static uint SelectHashOf(Group g, in FlowKey k) => g.Method switch
    {
        SelectMethod.Default => FlowHashOf(k),
        SelectMethod.DpHash => DpHashOf(FlowHashOf(k), g.HashBasis),
        _ => FieldsHashOf(g, k),
    };

    /// <summary>A live bucket by weight for a packet whose slot's bucket is dead, or -1 when none is live.</summary>
    internal static int PickLive(GroupBucket[] buckets, bool[] live, long liveWeight, uint hash)
    {
        if (liveWeight == 0) return -1;
        long r = Mix(hash ^ 0x5bd1e995u) % liveWeight;
        for (int b = 0; b < buckets.Length; b++)
        {
            if (!live[b]) continue;
            r -= buckets[b].Weight;
            if (r < 0) return b;
        }
        return -1;
    }

    /// <summary>
    /// A select group's hash of a packet's flow, over the fields Open vSwitch's default selection hashes: the Ethernet
    /// addresses, the outer VLAN id and the ethertype; then IPv4/IPv6 addresses and protocol with the L4 ports (TCP,
    /// UDP, SCTP; not for fragments, so every fragment of a datagram takes one bucket), or ARP's four addresses.
    /// </summary>
    internal static uint FlowHashOf(ReadOnlySpan<byte> f, in PacketLayers l)
    {
        uint h = 0x2545F491u;
        if (f.Length < 14) return Mix(h);
        h = BitOperations.Crc32C(h, BinaryPrimitives.ReadUInt64LittleEndian(f));
        h = BitOperations.Crc32C(h, BinaryPrimitives.ReadUInt32LittleEndian(f[8..]));
        if (l.Vlan != PacketLayers.Absent && l.Vlan + 4 <= f.Length)
            h = BitOperations.Crc32C(h, (ushort)(BinaryPrimitives.ReadUInt16BigEndian(f[(l.Vlan + 2)..]) & 0x0FFF));
        if (l.EthType + 2 <= f.Length) h = BitOperations.Crc32C(h, BinaryPrimitives.ReadUInt16LittleEndian(f[l.EthType..]));
        int l3 = l.L3;
        if (l.Has(LayerFlags.Ipv4) && l3 + 20 <= f.Length)
        {
            h = BitOperations.Crc32C(h, BinaryPrimitives.ReadUInt64LittleEndian(f[(l3 + 12)..]));
            h = BitOperations.Crc32C(h, f[l3 + 9]);
        }
        else if (l.Has(LayerFlags.Ipv6) && l3 + 40 <= f.Length)
        {
            var a = f.Slice(l3 + 8, 32);
            for (int i = 0; i < 32; i += 8) h = BitOperations.Crc32C(h, BinaryPrimitives.ReadUInt64LittleEndian(a[i..]));
            h = BitOperations.Crc32C(h, (uint)(l.Flags & (LayerFlags.Tcp | LayerFlags.Udp | LayerFlags.Sctp | LayerFlags.Icmpv6)));
        }
        else
        {
            // ARP: SHA, SPA, THA, TPA are the 20 bytes from offset 8.
            if (l.Has(LayerFlags.Arp) && l3 + 28 <= f.Length)
            {
                h = BitOperations.Crc32C(h, BinaryPrimitives.ReadUInt64LittleEndian(f[(l3 + 8)..]));
                h = BitOperations.Crc32C(h, BinaryPrimitives.ReadUInt64LittleEndian(f[(l3 + 16)..]));
                h = BitOperations.Crc32C(h, BinaryPrimitives.ReadUInt32LittleEndian(f[(l3 + 24)..]));
            }
            return Mix(h);
        }
        if ((l.Flags & (LayerFlags.Tcp | LayerFlags.Udp | LayerFlags.Sctp)) != 0 && !l.Has(LayerFlags.Fragment)
            && l.L4 != PacketLayers.Absent && l.L4 + 4 <= f.Length)
        {
            h = BitOperations.Crc32C(h, BinaryPrimitives.ReadUInt32LittleEndian(f[l.L4..]));
        }
        return Mix(h);
    }

    /// <summary>
    /// <see cref="FlowHashOf(ReadOnlySpan{byte}, in PacketLayers)"/> of the frame <paramref name="k"/> is the key of,
    /// read from the key (the same bytes hashed in the same order, so a well-formed frame's two hashes agree): the pipeline
    /// walk picks a select group's bucket with it (docs/datapath.md, "Resubmit").
    /// </summary>
    internal static uint FlowHashOf(in FlowKey k)
    {
        Span<byte> b = stackalloc byte[32];
        uint h = 0x2545F491u;
        k.DlDst.Write(b);
        k.DlSrc.Write(b[6..]);
        h = BitOperations.Crc32C(h, BinaryPrimitives.ReadUInt64LittleEndian(b));
        h = BitOperations.Crc32C(h, BinaryPrimitives.ReadUInt32LittleEndian(b[8..]));
        if ((k.VlanVid & FlowKey.VlanPresent) != 0) h = BitOperations.Crc32C(h, (ushort)(k.VlanVid & 0x0FFF));
        ushort type = k.DlType;
        h = BitOperations.Crc32C(h, BinaryPrimitives.ReverseEndianness(type));
        byte proto = k.NwProto;
        if (type == PacketParser.EthTypeIpv4)
        {
            BinaryPrimitives.WriteUInt32BigEndian(b, k.NwSrc);
            BinaryPrimitives.WriteUInt32BigEndian(b[4..], k.NwDst);
            h = BitOperations.Crc32C(h, BinaryPrimitives.ReadUInt64LittleEndian(b));
            h = BitOperations.Crc32C(h, proto);
        }
        else if (type == PacketParser.EthTypeIpv6)
        {
            BinaryPrimitives.WriteUInt128BigEndian(b, k.Ipv6Src);
            BinaryPrimitives.WriteUInt128BigEndian(b[16..], k.Ipv6Dst);
            for (int i = 0; i < 32; i += 8) h = BitOperations.Crc32C(h, BinaryPrimitives.ReadUInt64LittleEndian(b[i..]));
            var l4 = k.IsLaterFragment ? LayerFlags.None : proto switch
            {
                PacketParser.ProtoTcp => LayerFlags.Tcp,
                PacketParser.ProtoUdp => LayerFlags.Udp,
                PacketParser.ProtoSctp => LayerFlags.Sctp,
                PacketParser.ProtoIcmpv6 => LayerFlags.Icmpv6,
                _ => LayerFlags.None,
            };
            h = BitOperations.Crc32C(h, (uint)l4);
        }
        else
        {
            if (type == PacketParser.EthTypeArp)
            {
                k.ArpSha.Write(b);
                BinaryPrimitives.WriteUInt32BigEndian(b[6..], k.NwSrc);
                k.ArpTha.Write(b[10..]);
                BinaryPrimitives.WriteUInt32BigEndian(b[16..], k.NwDst);
                h = BitOperations.Crc32C(h, BinaryPrimitives.ReadUInt64LittleEndian(b));
                h = BitOperations.Crc32C(h, BinaryPrimitives.ReadUInt64LittleEndian(b[8..]));
                h = BitOperations.Crc32C(h, BinaryPrimitives.ReadUInt32LittleEndian(b[16..]));
            }
            return Mix(h);
        }
        if ((proto is PacketParser.ProtoTcp or PacketParser.ProtoUdp or PacketParser.ProtoSctp) && k.NwFrag == 0)
        {
            BinaryPrimitives.WriteUInt16BigEndian(b, k.TpSrc);
            BinaryPrimitives.WriteUInt16BigEndian(b[2..], k.TpDst);
            h = BitOperations.Crc32C(h, BinaryPrimitives.ReadUInt32LittleEndian(b));
        }
        return Mix(h);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Mix(uint h)
    {
        h ^= h >> 16;
        h *= 0x85ebca6b;
        h ^= h >> 13;
        h *= 0xc2b2ae35;
        return h ^ (h >> 16);
    }
}
