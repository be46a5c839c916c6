using System.Buffers.Binary;
using System.Text;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Ofproto;
using Softswitch.TestKit;
using Xunit.Abstractions;

namespace Softswitch.Ports.Tests.NetFpga;

/// <summary>
/// The same random flow-mods and packets through (A) the software datapath alone and (B) the software datapath behind
/// the emulated NetFPGA board with the offload manager: the same frames must leave the same ports, the same packets
/// must reach the controller, and after a counter poll every flow must have the same packet and byte counts, also
/// across idle/hard expiry (ManualClock) and flow-mod churn. Failures name the seed (SOFTSWITCH_NETFPGA_SEED=n reruns
/// one; SOFTSWITCH_NETFPGA_SEEDS=n runs more).
/// </summary>
public sealed class NetFpgaDifferentialTests(ITestOutputHelper output)
{
    private const int DefaultSeeds = 24;
    private const int Steps = 160;

    [Fact]
    public void SoftwareAndOffloadedSwitchesAgree()
    {
        var seeds = new List<int>();
        if (int.TryParse(Environment.GetEnvironmentVariable("SOFTSWITCH_NETFPGA_SEED"), out int one))
        {
            seeds.Add(one);
        }
        else
        {
            int n = int.TryParse(Environment.GetEnvironmentVariable("SOFTSWITCH_NETFPGA_SEEDS"), out int m) ? m : DefaultSeeds;
            for (int i = 1; i <= n; i++) seeds.Add(i);
        }
        var total = new Totals();
        foreach (int seed in seeds)
        {
            try
            {
                Run(seed, total);
            }
            catch (Exception e)
            {
                throw new Xunit.Sdk.XunitException($"seed {seed} (rerun with SOFTSWITCH_NETFPGA_SEED={seed}): {e.Message}\n{e.StackTrace}");
            }
        }
        output.WriteLine($"{seeds.Count} seeds x {Steps} steps: {total.Packets} packets injected, {total.HwExact} exact-row hits, " +
                         $"{total.HwWild} wildcard-row hits, {total.ToCpu} to software; {total.FlowMods} flow-mods, " +
                         $"{total.Evictions} evictions, {total.Promotions} promotions, {total.Expired} expired; " +
                         $"max {total.MaxHwFlows} flows in hardware at once");
        // The comparison is only worth something if the board answered a good share of the packets.
        Assert.True(total.HwExact > total.Packets / 20, $"exact-row hits {total.HwExact} of {total.Packets}");
        Assert.True(total.HwWild > total.Packets / 20, $"wildcard-row hits {total.HwWild} of {total.Packets}");
        Assert.True(total.Evictions > 0 && total.Promotions > 0);
    }

    private sealed class Totals
    {
        public long Packets, HwExact, HwWild, ToCpu, FlowMods, Evictions, Promotions, Expired;
        public int MaxHwFlows;
    }

    private static void Run(int seed, Totals total)
    {
        var rng = new Random(seed);
        using var a = new SwitchRig(offload: false);
        using var b = new SwitchRig(offload: true);
        var g = new Gen(rng);
        int step = 0;
        void Fail(string what) => throw new Xunit.Sdk.XunitException($"step {step}: {what}");

        for (step = 0; step < Steps; step++)
        {
            int op = rng.Next(100);
            if (op < 40)
            {
                int mods = rng.Next(10) == 0 ? rng.Next(10, 30) : 1; // sometimes a burst of churn
                for (int i = 0; i < mods; i++)
                {
                    var mod = g.FlowMod(a.Flows());
                    if (mod.Command is FlowModCommand.Delete or FlowModCommand.DeleteStrict) b.PollCounters();
                    var sa = a.Apply(mod);
                    var sb = b.Apply(mod);
                    if (sa != sb) Fail($"flow-mod {mod.Command} status {sa} vs {sb}");
                    total.FlowMods++;
                }
                CompareRemoved(a, b, Fail);
            }
            else if (op < 85)
            {
                int n = rng.Next(1, 25);
                for (int i = 0; i < n; i++)
                {
                    var (port, frame) = g.Packet();
                    a.Inject(port, frame);
                    b.Inject(port, frame);
                }
                total.Packets += n;
                a.Run();
                b.Run();
                CompareOutputs(a, b, Fail);
            }
            else if (op < 90)
            {
                b.PollCounters();
                CompareFlows(a, b, Fail);
            }
            else if (op < 93)
            {
                // An excursion: a port config bit or the emergency table changes for one burst of traffic. The offload
                // notices at its next poll (done at once here; maintenance does it every 100 ms).
                ushort port = (ushort)rng.Next(1, 5);
                var bits = (PortConfig)(rng.Next(3) switch { 0 => (int)PortConfig.NoFwd, 1 => (int)PortConfig.NoFlood, _ => (int)PortConfig.NoRecv });
                bool emergency = rng.Next(4) == 0;
                void Set(bool on)
                {
                    foreach (var r in new[] { a, b })
                    {
                        if (emergency) r.Tables.UseEmergencyTable = on;
                        else r.Dp.SetPortConfig(port, on ? bits : PortConfig.None, bits);
                    }
                    b.PollCounters();
                }
                Set(true);
                for (int i = 0; i < 10; i++)
                {
                    var (p, frame) = g.Packet();
                    a.Inject(p, frame);
                    b.Inject(p, frame);
                }
                total.Packets += 10;
                a.Run();
                b.Run();
                CompareOutputs(a, b, Fail);
                Set(false);
                CompareFlows(a, b, Fail);
            }
            else
            {
                // Time passes: hardware counts are read at the time the packets arrived, then both expire.
                b.PollCounters();
                var by = TimeSpan.FromMilliseconds(rng.Next(500, 4000));
                a.Clock.Advance(by);
                b.Clock.Advance(by);
                a.RunMaintenance();
                b.RunMaintenance();
                total.Expired += a.Removed.Count(r => r.Reason != FlowRemovedReason.Delete);
                CompareRemoved(a, b, Fail);
                CompareFlows(a, b, Fail);
            }
            total.MaxHwFlows = Math.Max(total.MaxHwFlows, b.Offload!.Manager.Stats.HardwareFlows);
        }
        b.PollCounters();
        CompareFlows(a, b, Fail);
        Assert.Equal(0, b.Board.UnknownRegisterAccesses);
        total.HwExact += b.Board.ExactRowHits;
        total.HwWild += b.Board.FlowRowHits;
        total.ToCpu += b.Board.FramesToCpu;
        var st = b.Offload!.Manager.Stats;
        total.Evictions += st.Evictions;
        total.Promotions += st.Promotions;
    }

    private static void CompareOutputs(SwitchRig a, SwitchRig b, Action<string> fail)
    {
        for (int port = 1; port <= a.Wires.Length; port++)
        {
            var sa = a.Sent(port).Select(f => FlowFrames.Hex(f)).OrderBy(x => x, StringComparer.Ordinal).ToList();
            var sb = b.Sent(port).Select(f => FlowFrames.Hex(f)).OrderBy(x => x, StringComparer.Ordinal).ToList();
            if (!sa.SequenceEqual(sb))
            {
                var onlyA = sa.Except(sb).Take(2);
                var onlyB = sb.Except(sa).Take(2);
                fail($"port {port}: software sent {sa.Count} frames, offloaded {sb.Count}; only software: [{string.Join(", ", onlyA)}] only offloaded: [{string.Join(", ", onlyB)}]\n{Dump(b)}");
            }
        }
        var ua = a.Upcalls().Select(u => $"{u.InPort}/{u.Reason}/{FlowFrames.Hex(u.Frame)}").OrderBy(x => x, StringComparer.Ordinal).ToList();
        var ub = b.Upcalls().Select(u => $"{u.InPort}/{u.Reason}/{FlowFrames.Hex(u.Frame)}").OrderBy(x => x, StringComparer.Ordinal).ToList();
        if (!ua.SequenceEqual(ub)) fail($"packet-ins differ: software {ua.Count}, offloaded {ub.Count}\n{Dump(b)}");
    }

    private static void CompareFlows(SwitchRig a, SwitchRig b, Action<string> fail)
    {
        var fa = a.Flows().ToDictionary(f => (f.Match, f.Priority));
        var fb = b.Flows().ToDictionary(f => (f.Match, f.Priority));
        if (fa.Count != fb.Count) fail($"{fa.Count} flows vs {fb.Count}");
        foreach (var (k, ea) in fa)
        {
            if (!fb.TryGetValue(k, out var eb)) fail($"flow missing in offloaded switch: {ea}");
            if (ea.Packets != eb!.Packets || ea.Bytes != eb.Bytes)
            {
                b.Offload!.Manager.TryGetPlacement(eb, out var p);
                fail($"counts differ for {ea}: software {ea.Packets}/{ea.Bytes}, offloaded {eb.Packets}/{eb.Bytes} (hardware={p.InHardware}, {p.Reason})\n{Dump(b)}");
            }
        }
    }

    private static void CompareRemoved(SwitchRig a, SwitchRig b, Action<string> fail)
    {
        static string Key(FlowRemoved r) => $"{r.Entry.Priority}/{r.Entry.Match}/{r.Reason}/{r.Packets}/{r.Bytes}";
        var ra = a.Removed.Select(Key).OrderBy(x => x, StringComparer.Ordinal).ToList();
        var rb = b.Removed.Select(Key).OrderBy(x => x, StringComparer.Ordinal).ToList();
        a.Removed.Clear();
        b.Removed.Clear();
        if (!ra.SequenceEqual(rb))
            fail($"flow-removed differ: software [{string.Join("; ", ra.Except(rb).Take(3))}] offloaded [{string.Join("; ", rb.Except(ra).Take(3))}]");
    }

    private static string Dump(SwitchRig b)
    {
        var sb = new StringBuilder();
        foreach (var p in b.Offload!.Manager.Placements().OrderByDescending(p => p.Entry.Priority))
            sb.AppendLine($"  {(p.InHardware ? $"HW x{p.Rows}" : $"SW {p.Reason}")}: {p.Entry}");
        return sb.ToString();
    }

    /// <summary>Random flow-mods and packets over a small universe of addresses, so rules overlap and packets hit them.</summary>
    private sealed class Gen
    {
        private readonly Random _r;
        private readonly byte[][] _templates;
        private static readonly string[] Macs = ["00:00:00:00:00:01", "00:00:00:00:00:02", "00:00:00:00:00:03", "00:15:17:8f:ca:37", "00:15:fa:fe:34:41", "ff:ff:ff:ff:ff:ff"];
        private static readonly string[] Ips = ["10.0.0.1", "10.0.0.2", "10.0.1.7", "10.27.82.101", "192.168.1.101", "192.168.1.254"];
        private static readonly ushort[] TpPorts = [53, 80, 443, 5000];
        private static readonly ushort[] Prios = [1, 100, 100, 200, 300, 0x8000];

        public Gen(Random r)
        {
            _r = r;
            _templates = new byte[24][];
            for (int i = 0; i < _templates.Length; i++) _templates[i] = Template();
            _pairs = new (int, int)[32];
            for (int i = 0; i < _pairs.Length; i++) _pairs[i] = (_r.Next(1, 5), _r.Next(_templates.Length));
        }

        // The traffic: a fixed set of (in_port, frame) pairs, so exact flows built from them get hit.
        private readonly (int Port, int Template)[] _pairs;

        private T Pick<T>(T[] a) => a[_r.Next(a.Length)];

        private byte[] Template()
        {
            var src = FlowFrames.Mac(Pick(Macs[..5]));
            var dst = FlowFrames.Mac(Pick(Macs));
            uint ipS = FlowFrames.Ip(Pick(Ips)), ipD = FlowFrames.Ip(Pick(Ips));
            ushort? vlan = _r.Next(4) == 0 ? (ushort)(_r.Next(2) == 0 ? 10 : 20) : null;
            byte pcp = (byte)(_r.Next(2) == 0 ? 0 : 5);
            byte tos = (byte)(_r.Next(3) == 0 ? 0x20 : 0);
            int size = 64 + 4 * _r.Next(40);
            int kind = _r.Next(100);
            if (kind < 45) return FrameBuilder.Udp(src, dst, ipS, ipD, Pick(TpPorts), Pick(TpPorts), size, vlan, pcp, tos);
            if (kind < 65) return FrameBuilder.Tcp(src, dst, ipS, ipD, Pick(TpPorts), Pick(TpPorts), size, vlan, pcp, tos);
            if (kind < 75) return FrameBuilder.IcmpEcho(src, dst, ipS, ipD, _r.Next(2) == 0, 7, 1, 32, vlan);
            if (kind < 92) return FrameBuilder.Arp((ushort)(_r.Next(2) + 1), src, ipS, dst, ipD);
            var raw = new byte[60];
            dst.Write(raw);
            src.Write(raw.AsSpan(6));
            BinaryPrimitives.WriteUInt16BigEndian(raw.AsSpan(12), 0x88CC);
            raw[20] = (byte)_r.Next(256);
            return raw;
        }

        public (int Port, byte[] Frame) Packet()
        {
            var (port, t) = Pick(_pairs);
            return _r.Next(10) == 0 ? (_r.Next(1, 5), _templates[t]) : (port, _templates[t]);
        }

        private FlowKey KeyOf(byte[] frame, ushort port)
        {
            PacketParser.Parse(frame, port, out var key, out _);
            return key;
        }

        private FlowMatch RandomMatch(bool broad)
        {
            var (port, t) = Pick(_pairs);
            var key = KeyOf(_templates[t], (ushort)port);
            if (!broad && _r.Next(100) < 35) return FlowMatch.Exact(key);
            double s = broad ? 1.5 : 1.0;
            var w = OfWildcards.TunIdExt;
            bool Wild(double p) => _r.NextDouble() < Math.Min(1, p * s);
            if (Wild(0.6)) w |= OfWildcards.InPort;
            if (Wild(0.7)) w |= OfWildcards.DlVlan | OfWildcards.DlVlanPcp;
            else if (Wild(0.7)) w |= OfWildcards.DlVlanPcp;
            if (Wild(0.8)) w |= OfWildcards.DlSrc;
            if (Wild(0.6)) w |= OfWildcards.DlDst;
            if (Wild(0.15)) w |= OfWildcards.DlType;
            if (Wild(0.6)) w |= OfWildcards.NwProto;
            if (Wild(0.85)) w |= OfWildcards.TpSrc;
            if (Wild(0.7)) w |= OfWildcards.TpDst;
            if (Wild(0.9)) w |= OfWildcards.NwTos;
            int[] srcBits = [32, 32, 16, 8, 0], dstBits = [32, 24, 8, 0, 0, 0];
            w |= (OfWildcards)((uint)(broad ? 32 : Pick(srcBits)) << (int)OfWildcards.NwSrcShift);
            w |= (OfWildcards)((uint)(broad && _r.Next(2) == 0 ? 32 : Pick(dstBits)) << (int)OfWildcards.NwDstShift);
            var m = FlowMatch.FromOpenFlow(w, key);
            return m.IsExact ? FlowMatch.FromOpenFlow(w | OfWildcards.TpSrc, key) : m;
        }

        private FlowActions RandomActions()
        {
            var list = new List<FlowAction>();
            int kind = _r.Next(100);
            if (kind < 8) return FlowActions.Drop;
            int sets = _r.Next(100) < 50 ? 0 : _r.Next(1, 3);
            for (int i = 0; i < sets; i++) list.Add(RandomSet());
            if (_r.Next(100) < 3) list.Add(list.Count > 0 ? list[0] : FlowAction.SetNwTos(0x40)); // a field set twice
            if (_r.Next(100) < 2) list.Add(FlowAction.Enqueue((ushort)_r.Next(1, 5), 1));
            if (_r.Next(100) < 2) list.Add(FlowAction.SetTunnel(9));
            int outs = _r.Next(100) < 80 ? 1 : 2;
            for (int i = 0; i < outs; i++)
            {
                int o = _r.Next(100);
                ushort port = o switch
                {
                    < 62 => (ushort)_r.Next(1, 5),
                    < 70 => PortNumber.Flood,
                    < 75 => PortNumber.All,
                    < 80 => PortNumber.InPort,
                    < 86 => PortNumber.Controller,
                    < 88 => PortNumber.Normal,
                    < 89 => PortNumber.Local,
                    < 90 => 7,
                    _ => (ushort)_r.Next(1, 5),
                };
                list.Add(FlowAction.Output(port, port == PortNumber.Controller ? (ushort)128 : (ushort)0));
                if (_r.Next(100) < 2) list.Add(RandomSet()); // output, modify, (output): hardware cannot
            }
            return new FlowActions(list.ToArray());
        }

        private FlowAction RandomSet() => _r.Next(10) switch
        {
            0 => FlowAction.SetDlDst(FlowFrames.Mac("02:aa:00:00:00:0" + _r.Next(1, 9))),
            1 => FlowAction.SetDlSrc(FlowFrames.Mac("02:bb:00:00:00:0" + _r.Next(1, 9))),
            2 => FlowAction.SetNwDst(FlowFrames.Ip("172.16.0." + _r.Next(1, 9))),
            3 => FlowAction.SetNwSrc(FlowFrames.Ip("172.17.0." + _r.Next(1, 9))),
            4 => FlowAction.SetTpDst((ushort)_r.Next(1, 9000)),
            5 => FlowAction.SetTpSrc((ushort)_r.Next(1, 9000)),
            6 => FlowAction.SetNwTos((byte)(_r.Next(64) << 2)),
            7 => FlowAction.SetVlanVid((ushort)_r.Next(1, 4095)),
            8 => FlowAction.SetVlanPcp((byte)_r.Next(8)),
            _ => FlowAction.StripVlan(),
        };

        public FlowMod FlowMod(List<FlowEntry> existing)
        {
            int op = _r.Next(100);
            ushort idle = (ushort)(_r.Next(100) < 20 ? _r.Next(2, 7) : 0);
            ushort hard = (ushort)(_r.Next(100) < 10 ? _r.Next(4, 11) : 0);
            var flags = FlowModFlags.SendFlowRemoved;
            if (op < 60 || existing.Count == 0)
                return new FlowMod(FlowModCommand.Add, RandomMatch(false), Pick(Prios), RandomActions(), (ulong)_r.Next(), idle, hard, flags);
            var e = existing[_r.Next(existing.Count)];
            if (op < 70) return new FlowMod(FlowModCommand.ModifyStrict, e.Match, e.Priority, RandomActions());
            if (op < 75) return new FlowMod(FlowModCommand.Modify, RandomMatch(true), 0, RandomActions());
            if (op < 90) return new FlowMod(FlowModCommand.DeleteStrict, e.Match, e.Priority, FlowActions.Drop);
            ushort outPort = _r.Next(3) == 0 ? (ushort)_r.Next(1, 5) : PortNumber.None;
            return new FlowMod(FlowModCommand.Delete, RandomMatch(true), 0, FlowActions.Drop, OutPort: outPort);
        }
    }
}
