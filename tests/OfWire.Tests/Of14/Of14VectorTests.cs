using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of14;
using Softswitch.OfWire.Tests.Of13;

namespace Softswitch.OfWire.Tests.Of14;

/// <summary>
/// The OpenFlow 1.4 codec against Open vSwitch's own byte vectors (tests/ofp-print.at, the OF1.4 cases: the bytes
/// ovs-ofctl ofp-print decodes into the text quoted beside each), written and read back.
/// </summary>
public sealed class Of14VectorTests
{
    private static byte[] Hex(string s) => Convert.FromHexString(s.Replace(" ", "").Replace("\n", ""));

    /// <summary>ofp-print.at's port 3(eth0): 100MB-FD AUTO_NEG, advertising and supporting 10/100 copper with autoneg, 100 Mbps.</summary>
    private static readonly Ofp13Port Eth0 = new(3, 0x5054_0000_0001, "eth0", 0, 0, 0x2008, 0x280f, 0x280f, 0, 100_000, 100_000);

    private const string Eth0Wire =
        "00 00 00 03 00 48 00 00 50 54 00 00 00 01 00 00 65 74 68 30 00 00 00 00 00 00 00 00 00 00 00 00 " +
        "00 00 00 00 00 00 00 00 00 00 00 20 00 00 00 00 00 00 20 08 00 00 28 0f 00 00 28 0f 00 00 00 00 " +
        "00 01 86 a0 00 01 86 a0";

    private static byte[] Reply<T>(byte version, Ofp13MultipartType type, uint xid, params T[] entries) where T : IOfp13Entry<T>
    {
        byte[]? sent = null;
        var r = new Ofp13ReplyWriter(version, type, xid, part => sent = part);
        foreach (var e in entries) r.Add(e);
        r.Finish();
        return sent!;
    }

    [Fact]
    public void PortStatus_AsOpenVSwitchPrintsIt()
    {
        // "OFPT_PORT_STATUS (OF1.4) (xid=0x0): MOD: 3(eth0): addr:50:54:00:00:00:01 ... speed: 100 Mbps now, 100 Mbps max"
        var wire = Hex("05 0c 00 58 00 00 00 00 02 00 00 00 00 00 00 00 " + Eth0Wire);
        Assert.Equal(wire, Ofp14Messages.PortStatus(Ofp13.Version14, 0, 2, Eth0));
        Assert.True(Ofp14PortDesc.TryRead(wire.AsSpan(16), out var read, out int size));
        Assert.Equal(Ofp14PortDesc.Size, size);
        Assert.Equal(Eth0, read.Port);
    }

    [Fact]
    public void PortDescReply_AsOpenVSwitchPrintsIt()
    {
        // "OFPST_PORT_DESC reply (OF1.4) (xid=0x2): 3(eth0): ..."
        var wire = Hex("05 13 00 58 00 00 00 02 00 0d 00 00 00 00 00 00 " + Eth0Wire);
        Assert.Equal(wire, Reply(Ofp13.Version14, Ofp13MultipartType.PortDesc, 2, new Ofp14PortDesc(Eth0)));
        var list = new List<Ofp14PortDesc>();
        Assert.True(Ofp13Entries.TryReadAll(wire.AsSpan(16), list));
        Assert.Equal(Eth0, Assert.Single(list).Port);
    }

    [Fact]
    public void PortStatsReply_AsOpenVSwitchPrintsIt()
    {
        // "port  2: rx pkts=103766, bytes=39651480, drop=0, errs=0, frame=252, over=253, crc=254
        //           tx pkts=136, bytes=11512, drop=0, errs=0, coll=255  duration=1.001s"
        var wire = Hex(
            "05 13 00 88 00 00 00 02 00 04 00 00 00 00 00 00 00 78 00 00 00 00 00 02 00 00 00 01 00 0f 42 40 " +
            "00 00 00 00 00 01 95 56 00 00 00 00 00 00 00 88 00 00 00 00 02 5d 08 98 00 00 00 00 00 00 2c f8 " +
            "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 " +
            "00 00 00 28 00 00 00 00 00 00 00 00 00 00 00 fc 00 00 00 00 00 00 00 fd 00 00 00 00 00 00 00 fe " +
            "00 00 00 00 00 00 00 ff");
        var stats = new Ofp13PortStats(2, 103766, 136, 39651480, 11512, 0, 0, 0, 0, 252, 253, 254, 255, 1, 1_000_000);
        Assert.Equal(wire, Reply(Ofp13.Version14, Ofp13MultipartType.PortStats, 2, new Ofp14PortStats(stats)));
        Assert.True(Ofp14PortStats.TryRead(wire.AsSpan(16), out var read, out int size));
        Assert.Equal(Ofp14PortStats.Size, size);
        Assert.Equal(stats, read.Stats);
    }

    [Fact]
    public void QueueStatsAndQueueDesc_AsOpenVSwitchPrintsThem()
    {
        // "port 3 queue 1: bytes=302, pkts=1, errors=0, duration=100.500s" (the first of the vector's six entries)
        var entry = Hex("00 30 00 00 00 00 00 00 00 00 00 03 00 00 00 01 00 00 00 00 00 00 01 2e 00 00 00 00 00 00 00 01 " +
                        "00 00 00 00 00 00 00 00 00 00 00 64 1d cd 65 00");
        var w = new Ofp13Writer();
        new Ofp14QueueStats(new Ofp13QueueStats(3, 1, 302, 1, 0, 100, 500_000_000)).Write(w);
        Assert.Equal(entry, w.ToArray());
        // "OFPST_QUEUE_DESC reply (OF1.4) (xid=0x1): port=1 queue 21845: min_rate:50.0% max_rate:75.0%  port=2 queue 17476: max_rate:10.0%"
        var desc = Hex("05 13 00 48 00 00 00 01 00 0f 00 00 00 00 00 00 " +
                       "00 00 00 01 00 00 55 55 00 20 00 00 00 00 00 00 00 01 00 08 01 f4 00 00 00 02 00 08 02 ee 00 00 " +
                       "00 00 00 02 00 00 44 44 00 18 00 00 00 00 00 00 00 02 00 08 00 64 00 00");
        Assert.Equal(desc, Reply(Ofp13.Version14, Ofp13MultipartType.QueueDesc, 1,
                                 new Ofp14QueueDesc(1, 0x5555, 500, 750), new Ofp14QueueDesc(2, 0x4444, null, 100)));
        var list = new List<Ofp14QueueDesc>();
        Assert.True(Ofp13Entries.TryReadAll(desc.AsSpan(16), list));
        Assert.Equal(new[] { new Ofp14QueueDesc(1, 0x5555, 500, 750), new Ofp14QueueDesc(2, 0x4444, null, 100) }, list);
    }

    [Fact]
    public void PortMod_WithItsEthernetProperty()
    {
        // "OFPT_PORT_MOD (OF1.4) (xid=0x3): port: 3: addr:50:54:00:00:00:01 config: PORT_DOWN mask: PORT_DOWN advertise: 10MB-HD"
        var wire = Hex("05 10 00 28 00 00 00 03 00 00 00 03 00 00 00 00 50 54 00 00 00 01 00 00 00 00 00 01 00 00 00 01 " +
                       "00 00 00 08 00 00 00 01");
        Ofp14PortMod mod = default;
        Assert.True(mod.TryDecode(wire, out _));
        Assert.Equal((3u, 0x5054_0000_0001UL, 1u, 1u, (uint?)1u, 3u), (mod.PortNo, mod.HwAddr, mod.Config, mod.Mask, mod.Advertise, mod.Xid));
        Assert.Equal(wire, mod.Encode());
        // A property of another type is BAD_PROPERTY/BAD_TYPE; one whose length overruns the message BAD_PROPERTY/BAD_LEN;
        // 1.3's layout (version 4) is not this decoder's: BAD_VERSION.
        var optical = (byte[])wire.Clone();
        optical[33] = 1;
        Assert.False(mod.TryDecode(optical, out var e));
        Assert.Equal(new Ofp13Error(Ofp13ErrorType.BadProperty, Ofp13Codes.PropBadType), e);
        var overrun = (byte[])wire.Clone();
        overrun[35] = 16;
        Assert.False(mod.TryDecode(overrun, out e));
        Assert.Equal(new Ofp13Error(Ofp13ErrorType.BadProperty, Ofp13Codes.PropBadLen), e);
        var v13 = (byte[])wire.Clone();
        v13[0] = 4;
        Assert.False(mod.TryDecode(v13, out e));
        Assert.Equal(Ofp13Error.BadRequest(Ofp13Codes.BadVersion), e);
    }

    [Fact]
    public void FlowModAndFlowStats_CarryTheImportance_In14Only()
    {
        // ovs-ofctl 3.1 ofp-print: "OFPT_FLOW_MOD (OF1.4) (xid=0x1): ADD priority=7 hard:30 importance:9 send_flow_rem actions=drop"
        var wire = Hex("05 0e 00 38 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 1e 00 07 " +
                       "ff ff ff ff ff ff ff ff ff ff ff ff 00 01 00 09 00 01 00 04 00 00 00 00");
        var fm = new Ofp13FlowMod();
        Assert.True(fm.TryDecode(wire, out _));
        Assert.Equal(((ushort)9, (ushort)7, (ushort)30, (ushort)1), (fm.Importance, fm.Priority, fm.HardTimeout, fm.Flags));
        Assert.Equal(wire, fm.Encode());
        // 1.3's pad: read as no importance, written as zeros.
        wire[0] = 4;
        Assert.True(fm.TryDecode(wire, out _));
        Assert.Equal(0, fm.Importance);
        fm.Importance = 9;
        Assert.Equal(0, fm.Encode()[47]);

        // "OFPST_FLOW reply (OF1.4) (xid=0x2): cookie=0x0, duration=5.000000006s, table=0, n_packets=3, n_bytes=4,
        //  hard_timeout=30, send_flow_rem importance=9, priority=7 actions=drop"
        var stats = new Ofp13FlowStats { DurationSec = 5, DurationNsec = 6, Priority = 7, HardTimeout = 30, Flags = 1, Importance = 9, PacketCount = 3, ByteCount = 4 };
        var reply = Reply(Ofp13.Version14, Ofp13MultipartType.Flow, 2, stats);
        Assert.Equal(Hex("05 13 00 48 00 00 00 02 00 01 00 00 00 00 00 00 00 38 00 00 00 00 00 05 00 00 00 06 00 07 00 00 00 1e 00 01 00 09 00 00 " +
                         "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 03 00 00 00 00 00 00 00 04 00 01 00 04 00 00 00 00"), reply);
        Assert.True(Ofp13FlowStats.TryRead(reply.AsSpan(16), out var back, out _));
        Assert.Equal(9, back!.Importance);
    }

    [Fact]
    public void TableStatusAndTableDesc_AsOpenVSwitchPrintsThem()
    {
        // ovs-ofctl 3.1 ofp-print: "OFPT_TABLE_STATUS (OF1.4) (xid=0x0): reason=VACANCY_DOWN / table_desc:- / table 0: /
        //  eviction=off eviction_flags=OTHER|IMPORTANCE|LIFETIME / vacancy=on vacancy_down=20% vacancy_up=80% vacancy=25%"
        var wire = Hex("05 1f 00 28 00 00 00 00 03 00 00 00 00 00 00 00 00 18 00 00 00 00 00 08 00 02 00 08 00 00 00 07 00 03 00 08 14 50 19 00");
        var desc = new Ofp14TableDesc(0, Ofp14TableMod.ConfigVacancyEvents, 7, (20, 80, 25));
        Assert.Equal(wire, Ofp14Messages.TableStatus(Ofp13.Version14, 0, Ofp14Messages.TableReasonVacancyDown, desc));
        Assert.True(Ofp14TableDesc.TryRead(wire.AsSpan(16), out var back, out int size));
        Assert.Equal((desc, 24), (back, size));
        // Without vacancy events: the eviction flags alone.
        Assert.True(Ofp14TableDesc.TryRead(Hex("00 10 05 00 00 00 00 04 00 02 00 08 00 00 00 07"), out back, out _));
        Assert.Equal(new Ofp14TableDesc(5, Ofp14TableMod.ConfigEviction, 7), back);
    }

    [Fact]
    public void TableMod_WithoutAndWithProperties()
    {
        // "OFPT_TABLE_MOD (OF1.4) (xid=0x2): table_id=2, eviction=off, vacancy=off"
        var wire = Hex("05 11 00 10 00 00 00 02 02 00 00 00 00 00 00 00");
        Ofp14TableMod mod = default;
        Assert.True(mod.TryDecode(wire, out _));
        Assert.Equal(((byte)2, 0u, (uint?)null), (mod.TableId, mod.Config, mod.EvictionFlags));
        Assert.Equal(wire, mod.Encode());
        var vacancy = Hex("05 11 00 18 00 00 00 02 02 00 00 00 00 00 00 08 00 03 00 08 0a 14 00 00");
        Assert.True(mod.TryDecode(vacancy, out _));
        Assert.Equal(((byte)10, (byte)20), mod.Vacancy!.Value);
        Assert.Equal(vacancy, mod.Encode());
        vacancy[20] = 30; // down above up
        Assert.False(mod.TryDecode(vacancy, out var e));
        Assert.Equal(new Ofp13Error(Ofp13ErrorType.BadProperty, Ofp13Codes.PropBadValue), e);
        vacancy[20] = 10;
        vacancy[22] = 50; // a vacancy: a table-mod sets none (Open vSwitch's parse_table_mod_vacancy_property)
        Assert.False(mod.TryDecode(vacancy, out e));
        Assert.Equal(new Ofp13Error(Ofp13ErrorType.BadProperty, Ofp13Codes.PropBadValue), e);
    }

    [Fact]
    public void RoleStatus_AsOpenVSwitchPrintsIt()
    {
        // "OFPT_ROLE_STATUS (OF1.4) (xid=0xa): role=primary generation_id=16 reason=configuration_changed"
        var wire = Hex("05 1e 00 18 00 00 00 0a 00 00 00 02 01 00 00 00 00 00 00 00 00 00 00 10");
        Ofp14RoleStatus status = default;
        Assert.True(status.TryDecode(wire, out _));
        Assert.Equal((2u, Ofp14RoleStatus.ReasonConfig, 16UL), (status.Role, status.Reason, status.GenerationId));
        Assert.Equal(wire, status.Encode());
    }

    [Fact]
    public void SetAsync_RefusedAsOpenVSwitchRefusesIt()
    {
        // "bad value 0x40 for PACKET_IN (allowed mask 0x3f)": OFPACFC_INVALID.
        var invalid = Hex("05 1c 00 38 00 00 00 02 00 00 00 08 00 00 00 40 00 01 00 08 00 00 00 02 00 02 00 08 00 00 00 02 " +
                          "00 03 00 08 00 00 00 05 00 04 00 08 00 00 00 1c 00 05 00 08 00 00 00 05");
        var a = new Ofp14AsyncConfig();
        Assert.False(a.TryDecode(invalid, out var e));
        Assert.Equal(new Ofp13Error(Ofp13ErrorType.AsyncConfigFailed, Ofp13Codes.AsyncInvalid), e);
        // "unknown async config property type 17": OFPACFC_UNSUPPORTED.
        var unsupported = (byte[])invalid.Clone();
        unsupported[15] = 5;
        unsupported[17] = 0x11;
        Assert.False(a.TryDecode(unsupported, out e));
        Assert.Equal(new Ofp13Error(Ofp13ErrorType.AsyncConfigFailed, Ofp13Codes.AsyncUnsupported), e);
        // With the first mask in range the message decodes: the masks it names, nothing else.
        var valid = (byte[])invalid.Clone();
        valid[15] = 5;
        Assert.True(a.TryDecode(valid, out _));
        Assert.Equal(0x3fu, a.Present);
        Assert.Equal((5u, 2u, 2u, 5u, 0x1cu, 5u), (a[Ofp14AsyncProp.PacketInSlave], a[Ofp14AsyncProp.PacketInMaster], a[Ofp14AsyncProp.PortStatusSlave],
                                                   a[Ofp14AsyncProp.PortStatusMaster], a[Ofp14AsyncProp.FlowRemovedSlave], a[Ofp14AsyncProp.FlowRemovedMaster]));
        Assert.Equal(valid, a.Encode());
    }

    /// <summary>The 1.4 vectors above as files (Vectors/of14, their provenance beside them), the fuzz seeds.</summary>
    private static byte[][] Seeds14() => Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Vectors", "of14"), "*.packet").Order().Select(File.ReadAllBytes).ToArray();

    [Fact]
    public void TheSeedFilesAreTheVectorsAbove_EachDecodes()
    {
        var seeds = Seeds14();
        Assert.Equal(12, seeds.Length);
        foreach (var m in seeds) Assert.True(Of13FuzzOracle.Check(m) > 0, Convert.ToHexString(m));
    }

    [Fact]
    public void MutatedOpenFlow14MessagesThroughTheOracle()
    {
        // As the 1.3 oracle's test, in version 5: every decoder a fixed point, every refusal an error the version defines.
        var seeds = Seeds14();
        var files = seeds
            .Concat(Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Vectors", "of13"), "*.packet").Order().Select(File.ReadAllBytes)).ToArray();
        var rng = new Random(1405);
        int decoded = 0, refused = 0;
        for (int i = 0; i < 30_000; i++)
        {
            var m = Of13FuzzOracle.Mutate(files[rng.Next(files.Length)], files[rng.Next(files.Length)], rng, Ofp13.Version14);
            try
            {
                decoded += Of13FuzzOracle.Check(m, out bool r);
                refused += r ? 1 : 0;
            }
            catch (InvalidOperationException e)
            {
                Assert.Fail($"seed 1405, message {i}: {e.Message}\ninput: {Convert.ToHexString(m)}");
            }
        }
        Assert.True(decoded > 5_000, $"only {decoded} decodes in 30,000 mutations");
        Assert.True(refused > 3_000, $"only {refused} refusals in 30,000 mutations");
        // The 1.4 seeds, mutated with pieces of any vector, reach the 1.4 decoders.
        int of14 = 0;
        for (int i = 0; i < 5_000; i++)
        {
            var m = Of13FuzzOracle.Mutate(seeds[i % seeds.Length], files[rng.Next(files.Length)], rng, Ofp13.Version14);
            of14 += Of13FuzzOracle.Check(m, out _);
        }
        Assert.True(of14 > 1_000, $"only {of14} decodes of mutated 1.4 messages");
    }
}
