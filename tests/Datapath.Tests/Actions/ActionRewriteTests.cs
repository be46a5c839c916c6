using System.Buffers.Binary;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Tests.Actions;
using Cs = Softswitch.Datapath.Packets.Checksum;

namespace Softswitch.Datapath.Tests
{
    /// <summary>
    /// Every rewrite action on every kind of frame, run through <see cref="ActionExecutor"/>: checksums equal a
    /// from-scratch recomputation, the re-parsed key equals the OF1.0 model, only the expected bytes change, and
    /// the executor's updated layers equal a fresh parse.
    /// </summary>
    public class ActionRewriteTests
    {
        public static readonly string[] Kinds =
        [
            "tcp", "udp", "udp-nocsum", "udp-csum-ffff", "icmp", "gre", "ipopts-tcp", "ipopts-udp", "ipopts-icmp",
            "vlan-tcp", "vlan-udp", "vlan-pcp-cfi-udp", "later-frag-tcp", "later-frag-udp", "first-frag-tcp",
            "tcp-padded", "udp-ecn", "arp-request", "arp-reply", "vlan-arp", "llc", "ipv6-ethertype",
        ];

        public static readonly FlowAction[] ActionsUnderTest =
        [
            FlowAction.SetDlSrc(new MacAddress(0x0A0B_0C0D_0E0F)),
            FlowAction.SetDlDst(new MacAddress(0xFFFF_FFFF_FFFF)),
            FlowAction.SetNwSrc(0xC0A8_4D01),
            FlowAction.SetNwDst(0xAC10_0509),
            FlowAction.SetNwSrc(0x0A00_0001),  // same as the frame: no change at all
            FlowAction.SetNwTos(0xB8),
            FlowAction.SetNwTos(0x00),
            FlowAction.SetNwTos(0xFF),         // low bits ignored: only DSCP is written
            FlowAction.SetTpSrc(40000),
            FlowAction.SetTpDst(53),
            FlowAction.SetTpDst(0),
            FlowAction.SetVlanVid(100),
            FlowAction.SetVlanVid(0xFFFF),     // only 12 bits used
            FlowAction.SetVlanPcp(5),
            FlowAction.StripVlan(),
        ];

        public static TheoryData<string, int> Cases()
        {
            var d = new TheoryData<string, int>();
            foreach (var k in Kinds)
                for (int a = 0; a < ActionsUnderTest.Length; a++) d.Add(k, a);
            return d;
        }

        internal static byte[] Frame(string kind) => kind switch
        {
            "tcp" => Frames.Build(new FrameSpec()),
            "udp" => Frames.Build(new FrameSpec { Proto = 17, TpSrc = 5353, TpDst = 5353, PayloadSize = 33 }),
            "udp-nocsum" => Frames.Build(new FrameSpec { Proto = 17, UdpNoChecksum = true }),
            "udp-csum-ffff" => UdpWithComputedZeroChecksum(),
            "icmp" => Frames.Build(new FrameSpec { Proto = 1, PayloadSize = 40 }),
            "gre" => Frames.Build(new FrameSpec { Proto = 47, PayloadSize = 24 }),
            "ipopts-tcp" => Frames.Build(new FrameSpec { OptionWords = 3, PayloadSize = 7 }),
            "ipopts-udp" => Frames.Build(new FrameSpec { Proto = 17, OptionWords = 10, PayloadSize = 1 }),
            "ipopts-icmp" => Frames.Build(new FrameSpec { Proto = 1, OptionWords = 1 }),
            "vlan-tcp" => Frames.Build(new FrameSpec { VlanTci = 0x0064 }),
            "vlan-udp" => Frames.Build(new FrameSpec { Proto = 17, VlanTci = 0x0FFE }),
            "vlan-pcp-cfi-udp" => Frames.Build(new FrameSpec { Proto = 17, VlanTci = 0x7 << 13 | 0x1000 | 0x123 }),
            "later-frag-tcp" => Frames.Build(new FrameSpec { FragWord = 0x2000 | 185, PayloadSize = 64 }),
            "later-frag-udp" => Frames.Build(new FrameSpec { Proto = 17, FragWord = 0x0010, PayloadSize = 64 }),
            "first-frag-tcp" => FirstFragment(Frames.Build(new FrameSpec { PayloadSize = 100 }), 48).Fragment,
            "tcp-padded" => Frames.Build(new FrameSpec { PayloadSize = 0, Padding = 6 }),
            "udp-ecn" => Frames.Build(new FrameSpec { Proto = 17, Tos = 0x03 | 0x28 }),
            "arp-request" => Frames.Arp(1, 0x0200_0000_0001, 0x0A00_0001, 0, 0x0A00_0002),
            "arp-reply" => Frames.Arp(2, 0x0200_0000_0002, 0x0A00_0002, 0x0200_0000_0001, 0x0A00_0001),
            "vlan-arp" => Frames.Arp(1, 0x0200_0000_0001, 0x0A00_0001, 0, 0x0A00_0002, vlanTci: 0x2005),
            "llc" => Frames.Eth(0x0180_C200_0000, 0x0200_0000_0001, null, 38, Frames.Hex("424203000000000000000000000000000000000000000000000000000000000000000000000000")),
            "ipv6-ethertype" => Frames.Eth(0x3333_0000_0001, 0x0200_0000_0001, null, 0x86DD, new byte[60]),
            _ => throw new ArgumentException(kind),
        };

        /// <summary>A UDP datagram whose checksum computes to 0 and is therefore sent as 0xFFFF.</summary>
        internal static byte[] UdpWithComputedZeroChecksum()
        {
            byte[] f = Frames.Build(new FrameSpec { Proto = 17, PayloadSize = 20 });
            PacketParser.Parse(f, 0, out _, out var l);
            int end = f.Length;
            // Zero the checksum and the last payload word, then choose that word so the sum is 0xFFFF.
            f[l.L4 + 6] = f[l.L4 + 7] = 0;
            f[end - 2] = f[end - 1] = 0;
            ushort scratch = Ref.L4FromScratch(f, l);   // ~sum, with 0 mapped to 0xFFFF
            ushort sum = (ushort)~scratch;
            ushort w = (ushort)(0xFFFF - sum);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(end - 2), w);
            Assert.Equal(0xFFFF, Ref.L4FromScratch(f, l));
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l.L4 + 6), 0xFFFF);
            return f;
        }

        /// <summary>Cuts an unfragmented IPv4 frame after <paramref name="dataBytes"/> of IP payload (a multiple of 8)
        /// and marks it as a first fragment (MF), fixing total length and header checksum.</summary>
        internal static (byte[] Fragment, byte[] Whole) FirstFragment(byte[] whole, int dataBytes)
        {
            PacketParser.Parse(whole, 0, out _, out var l);
            int ihl = (whole[l.L3] & 0xF) * 4;
            byte[] frag = whole.AsSpan(0, l.L3 + ihl + dataBytes).ToArray();
            BinaryPrimitives.WriteUInt16BigEndian(frag.AsSpan(l.L3 + 2), (ushort)(ihl + dataBytes));
            BinaryPrimitives.WriteUInt16BigEndian(frag.AsSpan(l.L3 + 6), 0x2000);
            frag[l.L3 + 10] = frag[l.L3 + 11] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(frag.AsSpan(l.L3 + 10), Ref.Checksum(frag.AsSpan(l.L3, ihl)));
            return (frag, whole);
        }

        [Theory]
        [MemberData(nameof(Cases))]
        public void RewriteKeepsFrameValid(string kind, int actionIndex)
        {
            FlowAction action = ActionsUnderTest[actionIndex];
            byte[] before = Frame(kind);
            Ref.AssertChecksums(before, "input " + kind);
            PacketParser.Parse(before, 1, out FlowKey keyBefore, out PacketLayers lb);

            var batch = new Batch(before);
            batch.Run(action);
            byte[] after = batch.Frame(0);

            ActionModel.Check(before, keyBefore, lb, after, batch.Layers[0], action, $"{kind} {action}");
        }

        [Fact]
        public void UdpChecksumZeroStaysZero()
        {
            byte[] f = Frame("udp-nocsum");
            var b = new Batch(f);
            b.Run(FlowAction.SetNwSrc(0x01020304), FlowAction.SetNwDst(0x05060708), FlowAction.SetTpSrc(1), FlowAction.SetTpDst(2));
            byte[] a = b.Frame(0);
            Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(a.AsSpan(14 + 20 + 6)));
            Ref.AssertChecksums(a);
            PacketParser.Parse(a, 0, out var k, out _);
            Assert.Equal((0x01020304u, 0x05060708u, (ushort)1, (ushort)2), (k.NwSrc, k.NwDst, k.TpSrc, k.TpDst));
        }

        [Fact]
        public void UdpChecksumThatUpdatesToZeroIsWrittenAsAllOnes()
        {
            // Start from a valid UDP frame, and choose a new source port so the incremental result is 0.
            byte[] f = Frame("udp");
            PacketParser.Parse(f, 0, out _, out var l);
            ushort hc = BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(l.L4 + 6));
            ushort oldPort = BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(l.L4));
            // ~(~hc + ~old + new) == 0  <=>  ~hc + ~old + new == 0xFFFF (one's complement).
            ushort newPort = (ushort)(0xFFFF - Cs.Add((ushort)~hc, (ushort)~oldPort));
            Assert.Equal(0, Cs.Update16(hc, oldPort, newPort));
            var b = new Batch(f);
            b.Run(FlowAction.SetTpSrc(newPort));
            byte[] a = b.Frame(0);
            Assert.Equal(0xFFFF, BinaryPrimitives.ReadUInt16BigEndian(a.AsSpan(l.L4 + 6)));
            Ref.AssertChecksums(a);
            // The same for an address rewrite: keep the high word, choose the low word.
            uint oldAddr = BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(l.L3 + 12));
            ushort loNew = (ushort)(0xFFFF - Cs.Add((ushort)~hc, (ushort)~(ushort)oldAddr));
            uint newAddr = (oldAddr & 0xFFFF_0000) | loNew;
            Assert.NotEqual(oldAddr, newAddr);
            Assert.Equal(0, Cs.Update32(hc, oldAddr, newAddr));
            var b2 = new Batch(f);
            b2.Run(FlowAction.SetNwSrc(newAddr));
            byte[] a2 = b2.Frame(0);
            Assert.Equal(0xFFFF, BinaryPrimitives.ReadUInt16BigEndian(a2.AsSpan(l.L4 + 6)));
            Ref.AssertChecksums(a2);
        }

        [Fact]
        public void FirstFragmentL4ChecksumMatchesWholeDatagram()
        {
            foreach (var spec in new[] { new FrameSpec { PayloadSize = 100 }, new FrameSpec { Proto = 17, PayloadSize = 100, VlanTci = 7 } })
            {
                var (frag, whole) = FirstFragment(Frames.Build(spec), 48);
                var actions = new[] { FlowAction.SetNwSrc(0xC0000201), FlowAction.SetNwDst(0xC6336401), FlowAction.SetTpSrc(7), FlowAction.SetTpDst(9) };
                var bf = new Batch(frag);
                bf.Run(actions);
                var bw = new Batch(whole);
                bw.Run(actions);
                byte[] af = bf.Frame(0), aw = bw.Frame(0);
                Ref.AssertChecksums(aw);
                Ref.AssertChecksums(af);   // IP header of the fragment
                PacketParser.Parse(af, 0, out _, out var lf);
                Assert.True(lf.Has(LayerFlags.Fragment) && !lf.Has(LayerFlags.LaterFragment));
                // The fragment is a prefix of the whole datagram except total length, flags and the IP checksum.
                int l3 = lf.L3;
                Assert.Equal(aw.AsSpan(l3 + 12, af.Length - l3 - 12).ToArray(), af.AsSpan(l3 + 12).ToArray());
            }
        }

        [Fact]
        public void LaterFragmentOnlyIpHeaderChanges()
        {
            byte[] f = Frame("later-frag-udp");
            var b = new Batch(f);
            b.Run(FlowAction.SetNwSrc(0x08080808), FlowAction.SetTpSrc(1), FlowAction.SetTpDst(2));
            byte[] a = b.Frame(0);
            Assert.Equal(f.AsSpan(34).ToArray(), a.AsSpan(34).ToArray());
            Assert.NotEqual(f.AsSpan(14, 20).ToArray(), a.AsSpan(14, 20).ToArray());
            Ref.AssertChecksums(a);
        }

        [Fact]
        public void TosKeepsEcnBits()
        {
            for (int ecn = 0; ecn < 4; ecn++)
            {
                byte[] f = Frames.Build(new FrameSpec { Tos = (byte)(0x10 | ecn) });
                var b = new Batch(f);
                b.Run(FlowAction.SetNwTos(0xFF));
                byte[] a = b.Frame(0);
                Assert.Equal(0xFC | ecn, a[15]);
                Ref.AssertChecksums(a);
            }
        }

        [Fact]
        public void ArpIsNotRewrittenByNetworkActions()
        {
            byte[] f = Frame("arp-reply");
            var b = new Batch(f);
            b.Run(FlowAction.SetNwSrc(1), FlowAction.SetNwDst(2), FlowAction.SetNwTos(0xFC), FlowAction.SetTpSrc(3), FlowAction.SetTpDst(4));
            Assert.Equal(f, b.Frame(0));
        }

        [Fact]
        public void MacRewriteExactBytes()
        {
            byte[] f = Frame("tcp");
            var b = new Batch(f);
            b.Run(FlowAction.SetDlSrc(MacAddress.Parse("00:11:22:33:44:55")), FlowAction.SetDlDst(MacAddress.Parse("66:77:88:99:aa:bb")));
            byte[] a = b.Frame(0);
            Assert.Equal(Frames.Hex("66778899aabb 001122334455 0800"), a.AsSpan(0, 14).ToArray());
            Assert.Equal(f.AsSpan(14).ToArray(), a.AsSpan(14).ToArray());
        }

        [Fact]
        public void GoldenTcpRewriteBytes()
        {
            // 10.0.0.1:1234 -> 10.0.0.2:80, rewritten to 192.168.1.1:1111 -> 10.0.0.2:8080; expected checksums
            // computed from scratch by the reference implementation on the rewritten bytes.
            byte[] f = Frames.Build(new FrameSpec { PayloadSize = 5, Seed = 3 });
            var b = new Batch(f);
            b.Run(FlowAction.SetNwSrc(0xC0A80101), FlowAction.SetTpSrc(1111), FlowAction.SetTpDst(8080));
            byte[] a = b.Frame(0);
            byte[] expect = Frames.Build(new FrameSpec { PayloadSize = 5, Seed = 3, NwSrc = 0xC0A80101, TpSrc = 1111, TpDst = 8080 });
            Assert.Equal(Convert.ToHexString(expect), Convert.ToHexString(a));
        }

        [Fact]
        public void MultipleRewritesInSequence()
        {
            foreach (var kind in new[] { "tcp", "udp", "vlan-udp", "ipopts-tcp", "icmp", "udp-csum-ffff" })
            {
                byte[] f = Frame(kind);
                PacketParser.Parse(f, 1, out var k0, out var l0);
                FlowAction[] seq =
                [
                    FlowAction.SetNwSrc(0x01010101), FlowAction.SetTpDst(443), FlowAction.SetNwTos(0x48),
                    FlowAction.SetVlanVid(300), FlowAction.SetNwDst(0x02020202), FlowAction.SetVlanPcp(6),
                    FlowAction.SetTpSrc(65535), FlowAction.SetNwSrc(0xFFFFFFFF), FlowAction.StripVlan(),
                    FlowAction.SetDlSrc(new MacAddress(0x0000_0000_0001)), FlowAction.SetVlanPcp(2), FlowAction.SetNwTos(0x04),
                ];
                var b = new Batch(f);
                b.Run(seq);
                byte[] a = b.Frame(0);
                Ref.AssertChecksums(a, kind);
                FlowKey expect = k0;
                PacketLayers lm = l0;
                foreach (var act in seq) expect = ActionModel.Apply(expect, lm, act);
                PacketParser.Parse(a, 1, out var k1, out var l1);
                Assert.Equal(expect.ToString(), k1.ToString());
                Assert.Equal(l1, b.Layers[0]);
            }
        }
    }
}

namespace Softswitch.Datapath.Tests.Actions
{
    /// <summary>The OF1.0 meaning of each action on a <see cref="FlowKey"/>, and a checker built on it.</summary>
    internal static class ActionModel
    {
        public static FlowKey Apply(FlowKey k, in PacketLayers l, FlowAction a)
        {
            var b = new FlowKeyBuilder(k);
            bool ip = l.Has(LayerFlags.Ipv4);
            // A first fragment's ports are rewritten in the frame but its key keeps tp 0 (FRAG_NORMAL).
            bool tp = l.L4 != PacketLayers.Absent && (l.Has(LayerFlags.Tcp) || l.Has(LayerFlags.Udp) || l.Has(LayerFlags.Sctp)) && !l.Has(LayerFlags.Fragment);
            bool tagged = k.DlVlan != PacketParser.VlanNone;
            switch (a.Kind)
            {
                case ActionKind.SetDlSrc: b.DlSrc(new MacAddress(a.Value)); break;
                case ActionKind.SetDlDst: b.DlDst(new MacAddress(a.Value)); break;
                case ActionKind.SetNwSrc: if (ip) b.NwSrc((uint)a.Value); break;
                case ActionKind.SetNwDst: if (ip) b.NwDst((uint)a.Value); break;
                case ActionKind.SetNwTos: if (ip) b.NwTos((byte)(a.Value & 0xFC)); break;
                case ActionKind.SetTpSrc: if (tp) b.TpSrc((ushort)a.Value); break;
                case ActionKind.SetTpDst: if (tp) b.TpDst((ushort)a.Value); break;
                case ActionKind.SetVlanVid:
                    b.DlVlan((ushort)(a.Value & 0xFFF));
                    if (!tagged) b.DlVlanPcp(0);
                    break;
                case ActionKind.SetVlanPcp:
                    b.DlVlanPcp((byte)(a.Value & 7));
                    if (!tagged) b.DlVlan(0);
                    break;
                case ActionKind.StripVlan:
                    b.DlVlan(PacketParser.VlanNone);
                    b.DlVlanPcp(0);
                    break;
            }
            return b.Key;
        }

        /// <summary>A pop that takes a frame of at least Ethernet's 60 bytes below them pads it back with zeros.</summary>
        internal static byte[] EthernetMinimumAfterPop(byte[] before, byte[] popped)
            => before.Length >= 60 && popped.Length < 60 ? [.. popped, .. new byte[60 - popped.Length]] : popped;

        /// <summary>The bytes a frame should become, for actions that keep the length, as the set of
        /// positions allowed to change.</summary>
        private static HashSet<int> Allowed(in PacketLayers l, FlowAction a)
        {
            var s = new HashSet<int>();
            void Range(int from, int n) { for (int i = 0; i < n; i++) s.Add(from + i); }
            int l4c = l.L4 == PacketLayers.Absent ? -1 : l.L4 + (l.Has(LayerFlags.Udp) ? 6 : l.Has(LayerFlags.Sctp) ? 8 : 16);
            int l4cLen = l.Has(LayerFlags.Sctp) ? 4 : 2; // SCTP's CRC32c is 4 bytes
            switch (a.Kind)
            {
                case ActionKind.SetDlDst: Range(0, 6); break;
                case ActionKind.SetDlSrc: Range(6, 6); break;
                case ActionKind.SetNwSrc or ActionKind.SetNwDst:
                    if (l.L3 == PacketLayers.Absent) break;
                    Range(l.L3 + (a.Kind == ActionKind.SetNwSrc ? 12 : 16), 4);
                    Range(l.L3 + 10, 2);
                    if (l4c >= 0) Range(l4c, 2);
                    break;
                case ActionKind.SetNwTos:
                    if (l.L3 != PacketLayers.Absent) { Range(l.L3 + 1, 1); Range(l.L3 + 10, 2); }
                    break;
                case ActionKind.SetTpSrc or ActionKind.SetTpDst:
                    if (l4c < 0) break;
                    Range(l.L4 + (a.Kind == ActionKind.SetTpSrc ? 0 : 2), 2);
                    Range(l4c, l4cLen);
                    break;
            }
            return s;
        }

        private static byte[] ExpectedVlanFrame(byte[] before, in PacketLayers l, FlowAction a)
        {
            bool tagged = l.Vlan != PacketLayers.Absent;
            if (a.Kind == ActionKind.StripVlan)
                return tagged ? EthernetMinimumAfterPop(before, [.. before.AsSpan(0, 12), .. before.AsSpan(16)]) : before;
            ushort tci = tagged ? BinaryPrimitives.ReadUInt16BigEndian(before.AsSpan(14)) : (ushort)0;
            tci = a.Kind == ActionKind.SetVlanVid
                ? (ushort)((tci & 0xF000) | (int)(a.Value & 0xFFF))
                : (ushort)((tci & 0x1FFF) | (int)((a.Value & 7) << 13));
            byte[] tag = [0x81, 0x00, (byte)(tci >> 8), (byte)tci];
            return tagged
                ? [.. before.AsSpan(0, 14), .. tag.AsSpan(2), .. before.AsSpan(16)]
                : [.. before.AsSpan(0, 12), .. tag, .. before.AsSpan(12)];
        }

        /// <summary>Asserts everything we know about one action's effect on one frame.</summary>
        public static void Check(byte[] before, FlowKey keyBefore, PacketLayers lb, byte[] after, PacketLayers layersAfter, FlowAction a, string ctx)
        {
            Ref.AssertChecksums(after, ctx);

            PacketParser.Parse(after, 1, out FlowKey keyAfter, out PacketLayers lFresh);
            Assert.Equal(ActionModel.Apply(keyBefore, lb, a).ToString(), keyAfter.ToString());
            Assert.Equal(lFresh, layersAfter);

            if (a.Kind is ActionKind.SetVlanVid or ActionKind.SetVlanPcp or ActionKind.StripVlan)
            {
                Assert.Equal(Convert.ToHexString(ExpectedVlanFrame(before, lb, a)), Convert.ToHexString(after));
                return;
            }
            Assert.Equal(before.Length, after.Length);
            var allowed = Allowed(lb, a);
            for (int i = 0; i < before.Length; i++)
            {
                if (before[i] != after[i])
                    Assert.True(allowed.Contains(i), $"byte {i} changed 0x{before[i]:x2}->0x{after[i]:x2} ({ctx})");
            }

            // UDP without checksum keeps 0.
            if (lb.Has(LayerFlags.Udp) && lb.L4 != PacketLayers.Absent && Ref.StoredL4(before, lb) == 0)
                Assert.Equal(0, Ref.StoredL4(after, lb));
        }
    }
}
