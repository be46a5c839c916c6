using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Tests.Actions;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// FsCheck properties over random frames and random rewrite sequences: incremental checksums always equal
/// from-scratch ones, the re-parsed key equals the OF1.0 model, offsets stay exact, payload bytes never change.
/// FsCheck prints the failing input (the seed) and its replay seed on failure.
/// </summary>
public class ActionPropertyTests
{
    internal static FrameSpec RandomSpec(Random r)
    {
        byte[] protos = [6, 6, 17, 17, 1, 47, 132];
        ushort frag = r.Next(6) switch
        {
            0 => (ushort)(0x2000 | r.Next(1, 0x1FFF)),   // later fragment, MF
            1 => (ushort)r.Next(1, 0x1FFF),              // last fragment
            2 => 0x4000,                                 // DF
            _ => 0,
        };
        return new FrameSpec
        {
            DlDst = (ulong)r.NextInt64(0, 1L << 48),
            DlSrc = (ulong)r.NextInt64(0, 1L << 48),
            VlanTci = r.Next(2) == 0 ? null : (ushort)r.Next(0x10000),
            Proto = protos[r.Next(protos.Length)],
            NwSrc = (uint)r.NextInt64(0, 1L << 32),
            NwDst = (uint)r.NextInt64(0, 1L << 32),
            Tos = (byte)r.Next(256),
            Ttl = (byte)r.Next(256),
            IpId = (ushort)r.Next(0x10000),
            OptionWords = r.Next(3) == 0 ? r.Next(1, 11) : 0,
            FragWord = frag,
            TpSrc = (ushort)r.Next(0x10000),
            TpDst = (ushort)r.Next(0x10000),
            IcmpType = (byte)r.Next(256),
            IcmpCode = (byte)r.Next(256),
            PayloadSize = r.Next(4) == 0 ? r.Next(0, 1400) : r.Next(0, 64),
            UdpNoChecksum = r.Next(5) == 0,
            Padding = r.Next(3) == 0 ? r.Next(1, 30) : 0,
            Seed = r.Next(),
        };
    }

    internal static FlowAction RandomAction(Random r)
    {
        // Values biased towards edges (0, all ones) where one's-complement bugs live.
        ulong v = r.Next(4) switch { 0 => 0, 1 => ulong.MaxValue, _ => (ulong)r.NextInt64() };
        return r.Next(11) switch
        {
            0 => FlowAction.SetDlSrc(new MacAddress(v & 0xFFFF_FFFF_FFFF)),
            1 => FlowAction.SetDlDst(new MacAddress(v & 0xFFFF_FFFF_FFFF)),
            2 => FlowAction.SetNwSrc((uint)v),
            3 => FlowAction.SetNwDst((uint)v),
            4 => FlowAction.SetNwTos((byte)(v & 0xFC)),
            5 => FlowAction.SetTpSrc((ushort)v),
            6 => FlowAction.SetTpDst((ushort)v),
            7 => FlowAction.SetVlanVid((ushort)(v & 0xFFF)),
            8 => FlowAction.SetVlanPcp((byte)(v & 7)),
            9 => FlowAction.StripVlan(),
            _ => FlowAction.Output((ushort)(v & 0xFF)),
        };
    }

    private static bool RunCase(int seed, int actionCount, bool oneByOne)
    {
        var r = new Random(seed);
        byte[] f = r.Next(10) == 0
            ? ActionRewriteTests.UdpWithComputedZeroChecksum()
            : Frames.Build(RandomSpec(r));
        var seq = new FlowAction[actionCount];
        for (int i = 0; i < seq.Length; i++) seq[i] = RandomAction(r);

        PacketParser.Parse(f, 1, out FlowKey k0, out PacketLayers l0);
        Assert.Equal(LayerFlags.Ipv4, l0.Flags & LayerFlags.Ipv4);
        var b = new Batch(f);
        if (oneByOne)
        {
            // Check after every single action, against the state before it.
            byte[] cur = f;
            FlowKey kc = k0;
            PacketLayers lc = l0;
            foreach (var a in seq)
            {
                b.Run(a);
                byte[] next = b.Frame(0);
                ActionModel.Check(cur, kc, lc, next, b.Layers[0], a, $"seed {seed} {a}");
                PacketParser.Parse(next, 1, out kc, out lc);
                cur = next;
            }
        }
        else
        {
            b.Run(seq);
            byte[] after = b.Frame(0);
            Ref.AssertChecksums(after, $"seed {seed}");
            FlowKey expect = k0;
            foreach (var a in seq) expect = ActionModel.Apply(expect, l0, a);
            PacketParser.Parse(after, 1, out var k1, out var l1);
            Assert.Equal(expect.ToString(), k1.ToString());
            Assert.Equal(l1, b.Layers[0]);
            // Payload after the L4 header (or after the IP header) is untouched: compare tails.
            int headerEnd = l0.L4 != PacketLayers.Absent
                ? l0.L4 + (l0.Has(LayerFlags.Tcp) ? 20 : l0.Has(LayerFlags.Udp) ? 8 : l0.Has(LayerFlags.Sctp) ? 12 : 4)
                : l0.L3 + (f[l0.L3] & 0xF) * 4;
            int tail = f.Length - headerEnd, shift = l1.L3 - l0.L3;
            Assert.Equal(f.AsSpan(headerEnd).ToArray(), after.AsSpan(headerEnd + shift, tail).ToArray());
            // Past them, nothing but the zeros a pop that took the frame below Ethernet's 60 bytes padded it with (a
            // tag a VLAN set pushed can take a shorter frame over them first, and a later push keeps the padding).
            int end = f.Length + shift, strips = seq.Count(a => a.Kind == ActionKind.StripVlan);
            Assert.True(after.Length == end || (after.Length > end && after.Length <= Math.Max(end, 60) + 4 * strips
                && !after.AsSpan(end).ContainsAnyExcept((byte)0)), $"seed {seed}: {after.Length} bytes after, {f.Length} before");
            if (l0.Has(LayerFlags.Udp) && l0.L4 != PacketLayers.Absent && Ref.StoredL4(f, l0) == 0)
                Assert.Equal(0, Ref.StoredL4(after, l1));
        }
        return true;
    }

    [Fact]
    public void RandomRewriteSequencesKeepChecksumsExact()
    {
        var gen = from seed in Gen.Choose(0, int.MaxValue)
                  from n in Gen.Choose(1, 12)
                  select (seed, n);
        Prop.ForAll(gen.ToArbitrary(), t => RunCase(t.seed, t.n, oneByOne: false))
            .Check(Config.QuickThrowOnFailure.WithMaxTest(3000));
    }

    [Fact]
    public void EachRandomRewriteChangesOnlyItsBytes()
    {
        var gen = from seed in Gen.Choose(0, int.MaxValue)
                  from n in Gen.Choose(1, 6)
                  select (seed, n);
        Prop.ForAll(gen.ToArbitrary(), t => RunCase(t.seed, t.n, oneByOne: true))
            .Check(Config.QuickThrowOnFailure.WithMaxTest(1500));
    }

    [Fact]
    public void RandomAddressAndPortValuesAgainstFromScratch()
    {
        // Straight at the rewriter, one field at a time, with FsCheck choosing the values.
        var gen = from seed in Gen.Choose(0, int.MaxValue)
                  from addr in Gen.Choose(int.MinValue, int.MaxValue)
                  from port in Gen.Choose(0, 0xFFFF)
                  from proto in Gen.Elements<byte>(6, 17)
                  select (seed, addr, port, proto);
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var spec = RandomSpec(new Random(t.seed)) with { Proto = t.proto, FragWord = 0 };
            byte[] f = Frames.Build(spec);
            PacketParser.Parse(f, 0, out _, out var l);
            PacketRewriter.SetNwSrc(f, l, (uint)t.addr);
            PacketRewriter.SetTpDst(f, l, (ushort)t.port);
            PacketRewriter.SetNwDst(f, l, ~(uint)t.addr);
            PacketRewriter.SetTpSrc(f, l, (ushort)~t.port);
            bool ipOk = Ref.StoredIp(f, l.L3) == Ref.IpHeaderFromScratch(f, l.L3);
            bool l4Ok = spec.UdpNoChecksum && t.proto == 17
                ? Ref.StoredL4(f, l) == 0
                : Ref.StoredL4(f, l) == Ref.L4FromScratch(f, l);
            return ipOk && l4Ok && BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(l.L3 + 12)) == (uint)t.addr;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(3000));
    }
}
