using FsCheck;
using FsCheck.Fluent;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;
using static Softswitch.Datapath.Tests.Forwarding.PipelineStageTests;
using static Softswitch.Datapath.Tests.Forwarding.ReparseTests;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// Random small pipelines whose apply-actions change which headers packets have (pops and pushes of MPLS, PBB and VLAN
/// tags, set eth_type, with rewrites and outputs around them), random packets (IPv4, IPv6, ARP; under MPLS labels, a
/// backbone header, one or two tags), sent twice each: the cached switch (verdicts cached per key and per continuation,
/// re-parsing only where the key cannot follow) must send the same frames on every port, make the same packet-ins
/// and count the same on every rule and table as the reference, which runs every packet table by table with no cache
/// and parses the packet anew at every goto-table. FsCheck chooses the seeds.
/// </summary>
public sealed class ReparseDifferentialTests
{
    private static readonly int[] TableIds = [0, 1, 2, 3];
    private static readonly ushort[] EthTypes = [PacketParser.EthTypeIpv4, PacketParser.EthTypeArp, PacketParser.EthTypeIpv6, PacketParser.EthTypeMpls];

    [Fact]
    public void RandomHeaderChangingPipelines_CachedEqualsReparsedAtEveryTable()
    {
        var gen = from seed in Gen.Choose(0, int.MaxValue) select seed;
        Prop.ForAll(gen.ToArbitrary(), seed => RunCase(seed, out _)).Check(Config.QuickThrowOnFailure.WithMaxTest(200));
    }

    [Fact]
    public void Cases_Reparse()
    {
        long recirculated = 0, skipped = 0;
        for (int seed = 1; seed <= 10; seed++)
        {
            RunCase(seed, out long n, out int s);
            recirculated += n;
            skipped += s;
        }
        Assert.True(recirculated > 50, $"{recirculated} packets re-parsed");
        Assert.True(skipped < 100, $"{skipped} frames of about 400 left out");
    }

    private sealed record Rule(int Table, FlowEntry A, FlowEntry B);

    /// <summary>
    /// Whether some table would meet <paramref name="frame"/> with a header the parser cannot read (an IP header of
    /// another version, cut short...: what a pop or a set of eth_type over another header leaves). Such a key holds zero
    /// for the header's fields and a rewrite of them changes the key but not the frame, which the executor leaves as it
    /// is: those packets are outside the property (the key cannot say that its header was unreadable).
    /// </summary>
    private static bool Unreadable(DatapathRig probe, byte[] frame, ushort port)
    {
        long before = ParseErrors(probe);
        probe.Port(port).Inject(frame);
        probe.Dp.PollUntilIdle();
        for (ushort p = 1; p <= 4; p++) probe.Sent(p);
        probe.Dp.DrainUpcalls((in Upcall _) => { });
        return ParseErrors(probe) != before;
    }

    private static long ParseErrors(DatapathRig r)
    {
        long n = 0;
        foreach (var e in Enum.GetValues<ParseError>())
            if (e is not (ParseError.None or ParseError.Count)) n += r.Fwd.ParseErrors[e];
        return n;
    }

    private static bool RunCase(int seed, out long recirculated) => RunCase(seed, out recirculated, out _);

    private static bool RunCase(int seed, out long recirculated, out int skipped)
    {
        var rng = new Random(seed);
        using var cached = new DatapathRig(options: new DatapathOptions { PacketInRate = 0, EmcEntries = 8192 });
        using var reference = new DatapathRig(options: new DatapathOptions { PacketInRate = 0, EmcEntries = 0 });
        reference.Fwd.BypassVerdictCaches = true;
        reference.Fwd.ReparseAtEveryGoto = true;
        using var probe = new DatapathRig(options: new DatapathOptions { PacketInRate = 0, EmcEntries = 0 });
        probe.Fwd.BypassVerdictCaches = true;
        probe.Fwd.ReparseAtEveryGoto = true;
        var rigs = new[] { cached, reference, probe };
        var rules = new List<Rule>();
        foreach (int t in TableIds)
        {
            var mode = rng.Next(2) == 0 ? TableMissMode.Drop : TableMissMode.Controller;
            foreach (var r in rigs)
            {
                var stage = t == 0 ? r.Dp.Pipeline.Stage(0)! : r.Dp.Pipeline.GetOrCreateStage(t);
                stage.MissMode = mode;
                r.Dp.Pipeline.EnableStages();
            }
        }
        for (int i = 0; i < 20; i++)
        {
            // The first rules: a catch-all per table, so most packets go through a few tables.
            int t = i < TableIds.Length ? TableIds[i] : TableIds[rng.Next(TableIds.Length)];
            ushort known = 0;
            var match = i < TableIds.Length ? Any : RandomMatch(rng, out known);
            ushort prio = (ushort)(i < TableIds.Length ? 1 : rng.Next(2, 6));
            var apply = RandomActions(rng, known);
            var later = TableIds.Where(x => x > t).ToArray();
            int go = later.Length > 0 && (i < TableIds.Length || rng.Next(5) != 0) ? later[rng.Next(later.Length)] : FlowInstructions.NoGoto;
            var write = rng.Next(3) == 0 ? new FlowActions([FlowAction.Output((ushort)rng.Next(1, 5))]) : null;
            ulong md = rng.Next(3) == 0 ? (ulong)rng.Next(1, 4) : 0;
            var ins = new FlowInstructions(write, false, md, md == 0 ? 0 : 0xFFUL, go);
            rules.Add(new Rule(t, cached.Insert(t, match, prio, apply, ins), reference.Insert(t, match, prio, apply, ins)));
            probe.Insert(t, match, prio, apply, ins);
        }
        cached.Dp.MissBehavior = reference.Dp.MissBehavior = probe.Dp.MissBehavior = MissBehavior.Controller;
        skipped = 0;
        for (int round = 0; round < 3; round++)
        {
            for (int i = rng.Next(4, 24); i > 0; i--)
            {
                var frame = RandomFrame(rng);
                ushort port = (ushort)rng.Next(1, 5);
                if (Unreadable(probe, frame, port))
                {
                    skipped++;
                    continue;
                }
                cached.Port(port).Inject(frame);
                reference.Port(port).Inject(frame);
                cached.Port(port).Inject(frame);
                reference.Port(port).Inject(frame);
            }
            cached.Dp.PollUntilIdle();
            reference.Dp.PollUntilIdle();
            string where = $"seed {seed}, round {round}";
            for (ushort p = 1; p <= 4; p++)
            {
                var sa = cached.Sent(p).Select(Convert.ToHexString).Order().ToList();
                var sb = reference.Sent(p).Select(Convert.ToHexString).Order().ToList();
                Assert.True(sa.SequenceEqual(sb), $"{where}: port {p} sent {sa.Count} frames cached, {sb.Count} reparsed at every table:\n"
                                                  + string.Join("\n", sa.Except(sb).Take(2)) + "\nvs\n" + string.Join("\n", sb.Except(sa).Take(2)));
            }
            var pa = new List<string>();
            var pb = new List<string>();
            cached.Dp.DrainUpcalls((in Upcall u) => pa.Add(Convert.ToHexString(u.Frame.ToArray())));
            reference.Dp.DrainUpcalls((in Upcall u) => pb.Add(Convert.ToHexString(u.Frame.ToArray())));
            Assert.True(pa.Order().SequenceEqual(pb.Order()), $"{where}: {pa.Count} packet-ins cached, {pb.Count} reparsed at every table");
            if (rules.Any(r => r.A.Packets != r.B.Packets))
            {
                throw new Exception(string.Join("\n", rules.Select(r => $"t{r.Table} p{r.A.Priority} {r.A.Match} [{string.Join(",", r.A.Actions.Items.Select(a => a.Kind + ":" + a.Value.ToString("x")))}] goto {r.A.Instructions?.GotoTable} md {r.A.Instructions?.MetadataValue} w {r.A.Instructions?.WriteActions?.Count}: {r.A.Packets} vs {r.B.Packets}"))
                    + "\n" + string.Join(" ", TableIds.Select(t => $"{cached.Dp.Pipeline.GetStageTotals(t)}/{reference.Dp.Pipeline.GetStageTotals(t)}")));
            }
            foreach (var r in rules)
                Assert.True(r.A.Packets == r.B.Packets, $"{where}: table {r.Table} rule {r.A} {string.Join(",", r.A.Actions.Items)} goto {r.A.Instructions?.GotoTable} counted {r.A.Packets} cached, {r.B.Packets} reparsed at every table");
            foreach (int t in TableIds) Assert.Equal(reference.Dp.Pipeline.GetStageTotals(t), cached.Dp.Pipeline.GetStageTotals(t));
        }
        recirculated = cached.Fwd.Recirculations;
        return true;
    }

    private static byte[] RandomFrame(Random rng)
    {
        byte[] f = rng.Next(4) switch
        {
            0 => Ipv4Tcp((byte)(rng.Next(2) * 0x28), (ushort)rng.Next(80, 82)),
            1 => FrameBuilder.Udp(MacA, MacB, rng.Next(2) == 0 ? IpA : IpB, IpB, 7, 80),
            2 => Ipv6Icmp((byte)rng.Next(128, 130)),
            _ => ArpRequest(),
        };
        switch (rng.Next(6))
        {
            case 0: f = Mpls(f, (uint)rng.Next(100, 102)); break;
            case 1:
                f = Mpls(Mpls(f, 200), 100);
                f[16] &= 0xFE; // the outer entry is not the bottom of the stack
                break;
            case 2: f = Pbb(f); break;
            case 3: f = Tag(f, (ushort)rng.Next(5, 7)); break;
            case 4: f = Tag(Tag(f, 5), 9); break;
        }
        return f;
    }

    private static FlowMatch RandomMatch(Random rng, out ushort dlType)
    {
        var m = new FlowKeyBuilder();
        var v = new FlowKeyBuilder();
        if (rng.Next(3) == 0) { m = m.InPort(0xFFFF); v = v.InPort((ushort)rng.Next(1, 5)); }
        switch (rng.Next(7))
        {
            case 0: m = m.DlType(0xFFFF).NwTos(0xFC); v = v.DlType(PacketParser.EthTypeIpv4).NwTos(0x28); break;
            case 1: m = m.DlType(0xFFFF).NwSrc(0xFFFFFFFF); v = v.DlType(PacketParser.EthTypeIpv4).NwSrc(rng.Next(2) == 0 ? IpA : IpB); break;
            case 2: m = m.DlType(0xFFFF).NwProto(0xFF); v = v.DlType(PacketParser.EthTypeArp).NwProto(1); break;
            case 3: m = m.DlType(0xFFFF).NwProto(0xFF).TpSrc(0xFFFF); v = v.DlType(PacketParser.EthTypeIpv6).NwProto(PacketParser.ProtoIcmpv6).TpSrc(128); break;
            case 4: m = m.DlType(0xFFFF).MplsLabel(0xFFFFF); v = v.DlType(PacketParser.EthTypeMpls).MplsLabel((uint)rng.Next(99, 102)); break;
            case 5: m = m.VlanVid(0x1FFF); v = v.VlanVid((ushort)(rng.Next(3) == 0 ? 0 : FlowKey.VlanPresent | rng.Next(5, 7))); break;
            default: m = m.DlType(0xFFFF); v = v.DlType(EthTypes[rng.Next(EthTypes.Length)]); break;
        }
        dlType = v.Key.DlType;
        return new FlowMatch(m.Key, v.Key);
    }

    /// <summary>
    /// Random apply-actions for a rule whose packets have ethertype <paramref name="known"/> (0: not known), with the
    /// set-fields and pops only where the header they need is known, as the OpenFlow layer requires (set ip_dscp or
    /// ipv4_src on IPv4, mpls_label and pop_mpls on MPLS; a push of MPLS hides the IP header, a pop of MPLS gives its
    /// ethertype). After a set of eth_type or a pop of PBB nothing is known here: the actions after them in the same
    /// list see the headers as the packet's last parse found them, which a table before may have parsed anew or not.
    /// </summary>
    private static FlowAction[] RandomActions(Random rng, ushort known)
    {
        var items = new List<FlowAction>();
        for (int i = rng.Next(0, 4); i > 0; i--)
        {
            var a = rng.Next(12) switch
            {
                0 => FlowAction.PopMpls(EthTypes[rng.Next(EthTypes.Length)]),
                1 => FlowAction.PushMpls(PacketParser.EthTypeMpls),
                2 => FlowAction.PopPbb(),
                3 => FlowAction.PushPbb(),
                4 => FlowAction.PushVlan(PacketParser.EthTypeVlan),
                5 => FlowAction.StripVlan(),
                6 => FlowAction.SetVlanVid((ushort)rng.Next(5, 7)),
                7 => FlowAction.SetEthType(EthTypes[rng.Next(EthTypes.Length)]),
                8 => FlowAction.SetNwTos(0x28),
                9 => FlowAction.SetMplsLabel(101),
                10 => FlowAction.SetNwSrc(IpB),
                _ => FlowAction.Output((ushort)rng.Next(1, 5)),
            };
            switch (a.Kind)
            {
                case ActionKind.SetNwTos or ActionKind.SetNwSrc when known != PacketParser.EthTypeIpv4:
                case ActionKind.SetMplsLabel or ActionKind.PopMpls when known != PacketParser.EthTypeMpls:
                    continue;
                case ActionKind.PushMpls: known = PacketParser.EthTypeMpls; break;
                case ActionKind.PopMpls: known = (ushort)a.Value; break;
                case ActionKind.PushPbb: known = PacketParser.EthTypePbb; break;
                case ActionKind.PopPbb or ActionKind.SetEthType: known = 0; break;
            }
            items.Add(a);
        }
        return [.. items];
    }
}
