using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of15;
using Softswitch.OfWire.Tests.Of13;

namespace Softswitch.OfWire.Tests.Of15;

/// <summary>
/// The OpenFlow 1.5 codec against Open vSwitch's own byte vectors (tests/ofp-print.at, the OF1.5 cases, Vectors/of15
/// with their provenance): read, and written back to the same bytes where the codec writes that message.
/// </summary>
public sealed class Of15VectorTests
{
    private static byte[] Vector(string name) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Vectors", "of15", name + ".packet"));

    [Fact]
    public void FlowRemoved_WrittenAsOpenVSwitchWritesIt()
    {
        // "OFPT_FLOW_REMOVED (OF1.5) (xid=0x2): priority=0,ip,metadata=0,in_port=2,dl_dst=52:54:00:c3:00:89,nw_tos=0
        //  reason=idle table_id=1 cookie:0x1 duration152.703s idle4352 hard8704 pkts2 bytes128"
        var wire = Vector("flow_removed");
        var match = new List<Ofp13Oxm>();
        Assert.True(Ofp13Match.TryDecode(wire.AsSpan(24), match, out int matchSize, out _));
        Assert.Equal(48, matchSize);
        Assert.True(Ofp15Stats.TryRead(wire.AsSpan(24 + matchSize), out var stats, out int statsSize, out _));
        Assert.Equal(56, statsSize);
        Assert.Equal((152u, 703_000_000u), stats.DurationValue);
        Assert.Equal(2ul, stats.Packets);
        Assert.Equal(128ul, stats.Bytes);
        Assert.Equal(152u, stats.IdleSec);
        Assert.Null(stats.Flows);
        Assert.Equal(wire, Ofp15FlowRemoved.Encode(Ofp15.Version, 2, tableId: 1, reason: 0, priority: 0, idleTimeout: 0x1100, hardTimeout: 0x2200,
            cookie: 1, match.ToArray(), stats));
    }

    [Fact]
    public void PacketOut_TheMatchCarriesInPort()
    {
        // "OFPT_PACKET_OUT (OF1.5) (xid=0x11223344): in_port=1 actions=FLOOD buffer=0xffffff00"
        var wire = Vector("packet_out");
        var po = new Ofp15PacketOut();
        Assert.True(po.TryDecode(wire, out _));
        Assert.Equal(0x11223344u, po.Xid);
        Assert.Equal(0xffffff00u, po.BufferId);
        Assert.Equal(Ofp13Oxm.Exact(0, 1), Assert.Single(po.Match));
        Assert.Equal(Ofp13Action.Output(0xfffffffb, 1500), Assert.Single(po.Actions));
        Assert.True(po.Data.IsEmpty);
        // The vector's match length (16) counts its 4 pad bytes, which Open vSwitch's loose packet-out match reads as an
        // unknown field and skips, as this decoder does; written back, the length counts the fields only (12).
        var written = po.Encode();
        Assert.Equal(0x0c, written[19]);
        written[19] = 0x10;
        Assert.Equal(wire, written);
        // "metadata=0x3,in_port=1 actions=FLOOD data_len=60"
        wire = Vector("packet_out_data");
        Assert.True(po.TryDecode(wire, out _));
        Assert.Equal(2, po.Match.Count);
        Assert.Equal(60, po.Data.Length);
        Assert.Equal(wire, po.Encode());
        // A 1.3 PACKET_OUT is not this layout.
        wire[0] = Ofp13.Version;
        Assert.False(po.TryDecode(wire, out var e));
        Assert.Equal(Ofp13Error.BadRequest(Ofp13Codes.BadVersion), e);
    }

    [Fact]
    public void FlowReply_EntriesWithOxsStatistics_ReadAndWrittenBack()
    {
        // "cookie=0x0, duration=196.185s, table=0, n_packets=2, n_bytes=128, send_flow_rem reset_counts idle_age=196, in_port=2 actions=NORMAL"
        // "cookie=0x0, duration=179.625s, table=0, n_packets=2, n_bytes=128, send_flow_rem reset_counts idle_age=179, priority=4000,in_port=3 actions=NORMAL"
        var wire = Vector("flow_reply");
        var entries = new List<Ofp15FlowDesc>();
        Assert.True(Ofp13Entries.TryReadAll(wire.AsSpan(16), entries));
        Assert.Equal(2, entries.Count);
        Assert.Equal((196u, 185_000_000u), entries[0].Stats.DurationValue);
        Assert.Equal(2ul, entries[0].Stats.Packets);
        Assert.Equal(128ul, entries[0].Stats.Bytes);
        Assert.Equal((ushort)0x8000, entries[0].Priority);
        Assert.Equal((ushort)4000, entries[1].Priority);
        Assert.Equal(Ofp13Oxm.Exact(0, 3), Assert.Single(entries[1].Match));
        Assert.Equal(Ofp13Action.Output(0xfffffffa), Assert.Single(Assert.Single(entries[1].Instructions).Actions!));
        byte[]? sent = null;
        var r = new Ofp13ReplyWriter(Ofp15.Version, Ofp13MultipartType.Flow, 4, part => sent = part);
        foreach (var e in entries) r.Add(e);
        r.Finish();
        Assert.Equal(wire, sent);
    }

    [Fact]
    public void AggregateReply_ReadInAnyOrder_WrittenAsOpenVSwitchOrdersIt()
    {
        // "OFPST_AGGREGATE reply (OF1.5) (xid=0x4): packet_count=121 byte_count=19279 flow_count=3" (flow count first here)
        var wire = Vector("aggregate_reply");
        Assert.True(Ofp15AggregateStats.TryRead(wire.AsSpan(16), out var a, out int size));
        Assert.Equal(40, size);
        Assert.Equal(Ofp15AggregateStats.Of(121, 19279, 3), a);
        var w = new Ofp13Writer();
        a.Write(w);
        // Open vSwitch's oxs_put_stats: packets, bytes, then the flow count; 36 bytes padded to 40.
        Assert.Equal("00000024" + "80020808" + "0000000000000079" + "80020A08" + "0000000000004B4F" + "80020604" + "00000003" + "00000000",
            Convert.ToHexString(w.Written));
    }

    [Fact]
    public void GroupModInsertBucket_BucketsWithProperties()
    {
        // "INSERT_BUCKET command_bucket_id:first,group_id=2271560481,bucket=bucket_id:0,weight:100,watch_port:1,actions=output:1,
        //  bucket=bucket_id:1,weight:200,watch_port:2,actions=output:2,bucket=bucket_id:2,weight:200,watch_port:3,actions=output:3"
        var wire = Vector("group_mod_insert");
        var g = new Ofp15GroupMod();
        Assert.True(g.TryDecode(wire, out _));
        Assert.Equal(Ofp15GroupMod.InsertBucket, g.Command);
        Assert.Equal(Ofp15Bucket.First, g.CommandBucketId);
        Assert.Equal(2271560481u, g.GroupId);
        Assert.Equal(3, g.Buckets.Count);
        Assert.Equal((ushort)200, g.Buckets[2].Weight);
        Assert.Equal(3u, g.Buckets[2].WatchPort);
        Assert.Null(g.Buckets[2].WatchGroup);
        Assert.Equal(2u, g.Buckets[2].BucketId);
        Assert.Equal(wire, g.Encode());

        // As Open vSwitch: ADD with a command bucket id other than ALL, two buckets of one id, a bucket id above
        // OFPG_BUCKET_MAX are BAD_BUCKET; an unknown bucket property BAD_PROPERTY/BAD_TYPE.
        var add = (byte[])wire.Clone();
        add[9] = 0;
        Assert.False(new Ofp15GroupMod().TryDecode(add, out var e));
        Assert.Equal(Ofp13Error.GroupModFailed(Ofp13Codes.GroupBadBucket), e);
        var dup = (byte[])wire.Clone();
        dup[0x47] = 0; // the second bucket's id (at 0x44) becomes 0, the first's
        Assert.False(new Ofp15GroupMod().TryDecode(dup, out e));
        Assert.Equal(Ofp13Error.GroupModFailed(Ofp13Codes.GroupBadBucket), e);
        var prop = (byte[])wire.Clone();
        prop[0x39] = 9; // the first bucket's watch_port property becomes type 9
        Assert.False(new Ofp15GroupMod().TryDecode(prop, out e));
        Assert.Equal(new Ofp13Error(Ofp13ErrorType.BadProperty, Ofp13Codes.PropBadType), e);
    }

    /// <summary>A select group-mod of one bucket with Open vSwitch's selection method property, as the switch writes it.</summary>
    private static byte[] SelectGroupMod(string method, ulong param, params Ofp13Oxm[] fields)
    {
        var g = new Ofp15GroupMod { Xid = 3, Command = 0, GroupType = 1, GroupId = 1, Selection = new NtrSelectionMethod(method, param, [.. fields]) };
        g.Buckets.Add(new Ofp15Bucket(0, [Ofp13Action.Output(1)], Weight: 1));
        return g.Encode();
    }

    [Fact]
    public void GroupMod_SelectionMethodProperty_RoundTripsAndIsCheckedAsOpenVSwitchChecksIt()
    {
        // hash, parameter 7, fields(ip_dst=255.255.255.0): the property is 40 bytes and one 8-byte OXM, last in the message.
        var wire = SelectGroupMod("hash", 7, Ofp13Oxm.Exact(12, 0xffffff00));
        int prop = wire.Length - 48;
        Assert.Equal("FFFF0030" + "0000154D" + "00000001" + "00000000" + "68617368000000000000000000000000" + "0000000000000007" + "80001804FFFFFF00",
            Convert.ToHexString(wire.AsSpan(prop)));
        var g = new Ofp15GroupMod();
        Assert.True(g.TryDecode(wire, out _));
        Assert.Equal("hash", g.Selection!.Method);
        Assert.Equal(7ul, g.Selection.Param);
        Assert.Equal((byte)12, Assert.Single(g.Selection.Fields).Field);
        Assert.Equal(wire, g.Encode());

        // GROUP_DESC carries it after the buckets.
        var w = new Ofp13Writer();
        new Ofp15GroupDesc(1, 1, g.Buckets, g.Selection).Write(w);
        Assert.True(Ofp15GroupDesc.TryRead(w.Written, out var desc, out int size));
        Assert.Equal(w.Written.Length, size);
        Assert.Equal("hash", desc!.Selection!.Method);
        Assert.Equal(0xffffff00u, (uint)desc.Selection.Fields[0].Value);

        // Open vSwitch 2.4's experimenter id is read too.
        var compat = (byte[])wire.Clone();
        compat[prop + 7] = 0x40;
        Assert.True(new Ofp15GroupMod().TryDecode(compat, out _));

        void Refused(byte[] msg, Ofp13Error expected)
        {
            Assert.False(new Ofp15GroupMod().TryDecode(msg, out var e));
            Assert.Equal(expected, e);
        }
        Ofp13Error Prop(ushort code) => new(Ofp13ErrorType.BadProperty, code);
        var all = (byte[])wire.Clone();
        all[10] = 0; // type ALL
        Refused(all, Prop(Ofp13Codes.PropBadValue));
        var delete = (byte[])wire.Clone();
        delete[9] = 2; // DELETE
        Refused(delete, Prop(Ofp13Codes.PropBadValue));
        var vendor = (byte[])wire.Clone();
        vendor[prop + 6] = 0x23; // 0x0000234d
        Refused(vendor, Prop(Ofp13Codes.PropBadExperimenter));
        var expType = (byte[])wire.Clone();
        expType[prop + 11] = 2;
        Refused(expType, Prop(Ofp13Codes.PropBadExpType));
        var unknown = (byte[])wire.Clone();
        unknown[prop + 16] = (byte)'c'; // "cash"
        Refused(unknown, Prop(Ofp13Codes.PropBadValue));
        var unterminated = (byte[])wire.Clone();
        unterminated.AsSpan(prop + 16, 16).Fill((byte)'h');
        Refused(unterminated, Prop(Ofp13Codes.PropBadValue));
        Refused(SelectGroupMod("dp_hash", 0, Ofp13Oxm.Exact(12, 0xffffffff)), Prop(Ofp13Codes.PropBadValue));
        Refused(SelectGroupMod("hash", 0, new Ofp13Oxm(12, true, 0xffffff00, 0xffffff00)), Ofp13Error.BadMatch(Ofp13Codes.MatchBadMask));
        Refused(SelectGroupMod("hash", 0, Ofp13Oxm.Exact(12, 1), Ofp13Oxm.Exact(12, 2)), Ofp13Error.BadMatch(Ofp13Codes.MatchDupField));
        var shortProp = (byte[])wire.Clone();
        shortProp[prop + 3] = 0x1c; // 28 bytes: less than the property's 40
        Refused(shortProp, Prop(Ofp13Codes.PropBadLen));
        Assert.True(new Ofp15GroupMod().TryDecode(SelectGroupMod("dp_hash", 1ul << 32), out _));
    }

    /// <summary>The 1.5 vectors as files, the fuzz seeds.</summary>
    private static byte[][] Seeds15() => Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Vectors", "of15"), "*.packet").Order().Select(File.ReadAllBytes).ToArray();

    [Fact]
    public void MutatedOpenFlow15MessagesThroughTheOracle()
    {
        // As the 1.3 and 1.4 oracle tests, in version 6: every decoder a fixed point, every refusal an error the version defines.
        var seeds = Seeds15();
        Assert.Equal(7, seeds.Length);
        foreach (var m in seeds) Assert.True(Of13FuzzOracle.Check(m) > 0, Convert.ToHexString(m));
        var files = seeds
            .Concat(Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Vectors", "of14"), "*.packet").Order().Select(File.ReadAllBytes))
            .Concat(Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Vectors", "of13"), "*.packet").Order().Select(File.ReadAllBytes)).ToArray();
        var rng = new Random(1506);
        int decoded = 0, refused = 0, of15 = 0;
        for (int i = 0; i < 30_000; i++)
        {
            // Every other message from a 1.5 seed, so the 1.5 decoders are reached often.
            var source = i % 2 == 0 ? seeds[rng.Next(seeds.Length)] : files[rng.Next(files.Length)];
            var m = Of13FuzzOracle.Mutate(source, files[rng.Next(files.Length)], rng, Ofp15.Version);
            try
            {
                int n = Of13FuzzOracle.Check(m, out bool r);
                decoded += n;
                refused += r ? 1 : 0;
                if (i % 2 == 0) of15 += n;
            }
            catch (InvalidOperationException e)
            {
                Assert.Fail($"seed 1506, message {i}: {e.Message}\ninput: {Convert.ToHexString(m)}");
            }
        }
        Assert.True(decoded > 5_000, $"only {decoded} decodes in 30,000 mutations");
        Assert.True(refused > 3_000, $"only {refused} refusals in 30,000 mutations");
        Assert.True(of15 > 1_000, $"only {of15} decodes of mutated 1.5 messages");
    }
}
