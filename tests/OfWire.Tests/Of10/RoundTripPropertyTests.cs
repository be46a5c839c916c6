using FsCheck;
using FsCheck.Fluent;
using Softswitch.OfWire.Of10;

namespace Softswitch.OfWire.Tests.Of10;

/// <summary>FsCheck generators of valid OpenFlow 1.0 messages (plain FsCheck API, no FsCheck.Xunit).</summary>
public static class WireGen
{
    public static readonly Gen<byte> U8 = Gen.Choose(0, 255).Select(i => (byte)i);
    public static readonly Gen<ushort> U16 = Gen.Choose(0, 0xffff).Select(i => (ushort)i);
    public static readonly Gen<uint> U32 = U16.SelectMany(_ => U16, (hi, lo) => (uint)hi << 16 | lo);
    public static readonly Gen<ulong> U64 = U32.SelectMany(_ => U32, (hi, lo) => (ulong)hi << 32 | lo);

    /// <summary>Numbers biased towards the edges (0, max, powers of two) as well as uniform ones.</summary>
    public static Gen<ulong> Edgy(ulong max) => Gen.Frequency(
        (3, U64.Select(v => max == ulong.MaxValue ? v : v % (max + 1))),
        (1, Gen.Elements(0UL, 1UL, max, max - 1, (max >> 1) + 1)));

    public static readonly Gen<ushort> E16 = Edgy(0xffff).Select(v => (ushort)v);
    public static readonly Gen<uint> E32 = Edgy(0xffffffff).Select(v => (uint)v);
    public static readonly Gen<ulong> E64 = Edgy(ulong.MaxValue);

    public static Gen<byte[]> Bytes(int max) => Gen.Choose(0, max).SelectMany(n => Gen.ArrayOf(U8, n));

    public static readonly Gen<OfpMac> Mac = U64.Select(v => (OfpMac)v);

    /// <summary>Latin-1 text without NUL, at most <paramref name="max"/> chars (fits its field exactly or shorter).</summary>
    public static Gen<string> Name(int max) =>
        Gen.Choose(0, max).SelectMany(n => Gen.ArrayOf(Gen.Choose(1, 255).Select(c => (char)c), n)).Select(cs => new string(cs));

    public static readonly Gen<OfpMatch> Match =
        from w in Gen.Frequency((2, E32), (1, Gen.Constant((uint)OfpFlowWildcards.All)))
        from inPort in E16
        from src in Mac
        from dst in Mac
        from vlan in E16
        from pcp in U8
        from dlType in E16
        from tos in U8
        from proto in U8
        from nwSrc in E32
        from nwDst in E32
        from tpSrc in E16
        from tpDst in E16
        select new OfpMatch
        {
            Wildcards = (OfpFlowWildcards)w, InPort = inPort, DlSrc = src, DlDst = dst, DlVlan = vlan, DlVlanPcp = pcp,
            DlType = dlType, NwTos = tos, NwProto = proto, NwSrc = nwSrc, NwDst = nwDst, TpSrc = tpSrc, TpDst = tpDst,
        };

    public static readonly Gen<ushort> OutputPort = Gen.OneOf(
        Gen.Choose(0, 0xfeff).Select(p => (ushort)p),
        Gen.Elements((ushort)0xfff8, (ushort)0xfff9, (ushort)0xfffa, (ushort)0xfffb, (ushort)0xfffc, (ushort)0xfffd, (ushort)0xfffe));

    public static readonly Gen<ushort> EnqueuePort = Gen.OneOf(
        Gen.Choose(0, 0xfeff).Select(p => (ushort)p), Gen.Elements((ushort)OfpPort.InPort, (ushort)OfpPort.Local));

    public static readonly Gen<OfpAction> Action = Gen.OneOf(
        from p in OutputPort from m in E16 select OfpAction.Output(p, m),
        Gen.Choose(0, 0xfff).Select(v => OfpAction.SetVlanVid((ushort)v)),
        Gen.Choose(0, 7).Select(v => OfpAction.SetVlanPcp((byte)v)),
        Gen.Constant(OfpAction.StripVlan()),
        Mac.Select(OfpAction.SetDlSrc),
        Mac.Select(OfpAction.SetDlDst),
        E32.Select(OfpAction.SetNwSrc),
        E32.Select(OfpAction.SetNwDst),
        Gen.Choose(0, 63).Select(v => OfpAction.SetNwTos((byte)(v << 2))),
        E16.Select(OfpAction.SetTpSrc),
        E16.Select(OfpAction.SetTpDst),
        from p in EnqueuePort from q in E32 select OfpAction.Enqueue(p, q),
        from v in E32 from n in Gen.Choose(0, 3) from body in Gen.ArrayOf(U8, n * 8) select OfpAction.VendorAction(v, body),
        E32.Select(OfpAction.NxSetTunnel),
        E64.Select(OfpAction.NxSetTunnel64));

    public static Gen<List<OfpAction>> Actions(int max) =>
        Gen.Choose(0, max).SelectMany(n => Gen.ListOf(Action, n)).Select(l => new List<OfpAction>(l));

    public static readonly Gen<OfpPhyPort> PhyPort =
        from no in E16
        from hw in Mac
        from name in Name(OfpConstants.MaxPortNameSize)
        from c in E32
        from s in E32
        from cur in E32
        from adv in E32
        from sup in E32
        from peer in E32
        select new OfpPhyPort
        {
            PortNo = no, HwAddr = hw, Name = name, Config = (OfpPortConfig)c, State = (OfpPortState)s,
            Curr = (OfpPortFeatures)cur, Advertised = (OfpPortFeatures)adv, Supported = (OfpPortFeatures)sup, Peer = (OfpPortFeatures)peer,
        };

    public static readonly Gen<OfpFlowStats> FlowStats =
        from table in U8
        from match in Match
        from ds in E32
        from dn in E32
        from prio in E16
        from idle in E16
        from hard in E16
        from cookie in E64
        from pk in E64
        from bc in E64
        from actions in Actions(4)
        select new OfpFlowStats
        {
            TableId = table, Match = match, DurationSec = ds, DurationNsec = dn, Priority = prio, IdleTimeout = idle,
            HardTimeout = hard, Cookie = cookie, PacketCount = pk, ByteCount = bc, Actions = actions,
        };

    public static readonly Gen<OfpTableStats> TableStats =
        from id in U8
        from name in Name(OfpConstants.MaxTableNameSize)
        from w in E32
        from max in E32
        from active in E32
        from lookup in E64
        from matched in E64
        select new OfpTableStats
        {
            TableId = id, Name = name, Wildcards = (OfpFlowWildcards)w, MaxEntries = max, ActiveCount = active,
            LookupCount = lookup, MatchedCount = matched,
        };

    public static readonly Gen<OfpPortStats> PortStats =
        from no in E16
        from c in Gen.ArrayOf(E64, 12)
        select new OfpPortStats
        {
            PortNo = no, RxPackets = c[0], TxPackets = c[1], RxBytes = c[2], TxBytes = c[3], RxDropped = c[4], TxDropped = c[5],
            RxErrors = c[6], TxErrors = c[7], RxFrameErr = c[8], RxOverErr = c[9], RxCrcErr = c[10], Collisions = c[11],
        };

    public static readonly Gen<OfpQueueStats> QueueStats =
        from no in E16 from q in E32 from b in E64 from p in E64 from e in E64
        select new OfpQueueStats { PortNo = no, QueueId = q, TxBytes = b, TxPackets = p, TxErrors = e };

    public static readonly Gen<OfpQueueProperty> QueueProperty = Gen.OneOf(
        E16.Select(OfpQueueProperty.MinRate),
        from t in Gen.Choose(2, 0xffff) from body in Bytes(24) select OfpQueueProperty.Other((OfpQueueProperties)t, body),
        Gen.Constant(OfpQueueProperty.Other(OfpQueueProperties.None, ReadOnlyMemory<byte>.Empty)));

    public static readonly Gen<OfpPacketQueue> PacketQueue =
        from id in E32
        from n in Gen.Choose(0, 3)
        from props in Gen.ListOf(QueueProperty, n)
        select new OfpPacketQueue { QueueId = id, Properties = new List<OfpQueueProperty>(props) };

    /// <summary>Every message type and every stats body, one generator each.</summary>
    public static readonly (string Name, Gen<OfpMessage> Gen)[] Messages =
    [
        ("Hello", from v in Gen.Frequency((4, Gen.Constant((byte)1)), (1, U8)) from b in Bytes(32) select (OfpMessage)new OfpHello { Version = v, Body = b }),
        ("Error", from t in E16 from c in E16 from d in Bytes(80) select (OfpMessage)new OfpErrorMsg { ErrorType = (OfpErrorType)t, Code = c, Data = d }),
        ("EchoRequest", Bytes(64).Select(d => (OfpMessage)new OfpEchoRequest { Data = d })),
        ("EchoReply", Bytes(64).Select(d => (OfpMessage)new OfpEchoReply { Data = d })),
        ("Vendor", from v in E32 from d in Bytes(64) select (OfpMessage)new OfpVendor { Vendor = v, Data = d }),
        ("FeaturesRequest", Gen.Constant(0).Select(_ => (OfpMessage)new OfpFeaturesRequest())),
        ("FeaturesReply",
            from dp in E64 from nb in E32 from nt in U8 from cap in E32 from act in E32
            from n in Gen.Choose(0, 6) from ports in Gen.ListOf(PhyPort, n)
            select (OfpMessage)new OfpFeaturesReply
            {
                DatapathId = dp, NBuffers = nb, NTables = nt, Capabilities = (OfpCapabilities)cap, Actions = act, Ports = new List<OfpPhyPort>(ports),
            }),
        ("GetConfigRequest", Gen.Constant(0).Select(_ => (OfpMessage)new OfpGetConfigRequest())),
        ("GetConfigReply", from f in E16 from m in E16 select (OfpMessage)new OfpGetConfigReply { Flags = (OfpConfigFlags)f, MissSendLen = m }),
        ("SetConfig", from f in E16 from m in E16 select (OfpMessage)new OfpSetConfig { Flags = (OfpConfigFlags)f, MissSendLen = m }),
        ("PacketIn",
            from b in E32 from t in E16 from p in E16 from r in U8 from d in Bytes(128)
            select (OfpMessage)new OfpPacketIn { BufferId = b, TotalLen = t, InPort = p, Reason = (OfpPacketInReason)r, Data = d }),
        ("FlowRemoved",
            from m in Match from c in E64 from p in E16 from r in U8 from ds in E32 from dn in E32 from i in E16 from pk in E64 from bc in E64
            select (OfpMessage)new OfpFlowRemoved
            {
                Match = m, Cookie = c, Priority = p, Reason = (OfpFlowRemovedReason)r, DurationSec = ds, DurationNsec = dn,
                IdleTimeout = i, PacketCount = pk, ByteCount = bc,
            }),
        ("PortStatus", from r in U8 from d in PhyPort select (OfpMessage)new OfpPortStatus { Reason = (OfpPortReason)r, Desc = d }),
        ("PacketOut",
            from b in E32 from p in E16 from a in Actions(6) from d in Bytes(128)
            select (OfpMessage)new OfpPacketOut { BufferId = b, InPort = p, Actions = a, Data = d }),
        ("FlowMod",
            from m in Match from c in E64 from cmd in Gen.Choose(0, 4) from i in E16 from h in E16 from p in E16
            from b in E32 from o in E16 from f in Gen.Choose(0, (int)OfpFlowMod.KnownFlags) from a in Actions(8)
            select (OfpMessage)new OfpFlowMod
            {
                Match = m, Cookie = c, Command = (OfpFlowModCommand)cmd, IdleTimeout = i, HardTimeout = h, Priority = p,
                BufferId = b, OutPort = o, Flags = (OfpFlowModFlags)f, Actions = a,
            }),
        ("PortMod",
            from p in E16 from hw in Mac from c in E32 from m in E32 from a in E32
            select (OfpMessage)new OfpPortMod { PortNo = p, HwAddr = hw, Config = (OfpPortConfig)c, Mask = (OfpPortConfig)m, Advertise = (OfpPortFeatures)a }),
        ("DescStatsRequest", E16.Select(f => (OfpMessage)new OfpDescStatsRequest { Flags = f })),
        ("FlowStatsRequest", from f in E16 from m in Match from t in U8 from o in E16 select (OfpMessage)new OfpFlowStatsRequest { Flags = f, Match = m, TableId = t, OutPort = o }),
        ("AggregateStatsRequest", from f in E16 from m in Match from t in U8 from o in E16 select (OfpMessage)new OfpAggregateStatsRequest { Flags = f, Match = m, TableId = t, OutPort = o }),
        ("TableStatsRequest", E16.Select(f => (OfpMessage)new OfpTableStatsRequest { Flags = f })),
        ("PortStatsRequest", from f in E16 from p in E16 select (OfpMessage)new OfpPortStatsRequest { Flags = f, PortNo = p }),
        ("QueueStatsRequest", from f in E16 from p in E16 from q in E32 select (OfpMessage)new OfpQueueStatsRequest { Flags = f, PortNo = p, QueueId = q }),
        ("VendorStatsRequest", from f in E16 from v in E32 from d in Bytes(40) select (OfpMessage)new OfpVendorStatsRequest { Flags = f, Vendor = v, Data = d }),
        ("DescStatsReply",
            from f in E16 from a in Name(256) from b in Name(256) from c in Name(256) from s in Name(32) from d in Name(256)
            select (OfpMessage)new OfpDescStatsReply { Flags = (OfpStatsReplyFlags)f, MfrDesc = a, HwDesc = b, SwDesc = c, SerialNum = s, DpDesc = d }),
        ("FlowStatsReply", from f in E16 from n in Gen.Choose(0, 4) from l in Gen.ListOf(FlowStats, n)
            select (OfpMessage)new OfpFlowStatsReply { Flags = (OfpStatsReplyFlags)f, Flows = new List<OfpFlowStats>(l) }),
        ("AggregateStatsReply", from f in E16 from p in E64 from b in E64 from c in E32
            select (OfpMessage)new OfpAggregateStatsReply { Flags = (OfpStatsReplyFlags)f, PacketCount = p, ByteCount = b, FlowCount = c }),
        ("TableStatsReply", from f in E16 from n in Gen.Choose(0, 4) from l in Gen.ListOf(TableStats, n)
            select (OfpMessage)new OfpTableStatsReply { Flags = (OfpStatsReplyFlags)f, Tables = new List<OfpTableStats>(l) }),
        ("PortStatsReply", from f in E16 from n in Gen.Choose(0, 4) from l in Gen.ListOf(PortStats, n)
            select (OfpMessage)new OfpPortStatsReply { Flags = (OfpStatsReplyFlags)f, Ports = new List<OfpPortStats>(l) }),
        ("QueueStatsReply", from f in E16 from n in Gen.Choose(0, 4) from l in Gen.ListOf(QueueStats, n)
            select (OfpMessage)new OfpQueueStatsReply { Flags = (OfpStatsReplyFlags)f, Queues = new List<OfpQueueStats>(l) }),
        ("VendorStatsReply", from f in E16 from v in E32 from d in Bytes(40)
            select (OfpMessage)new OfpVendorStatsReply { Flags = (OfpStatsReplyFlags)f, Vendor = v, Data = d }),
        ("BarrierRequest", Gen.Constant(0).Select(_ => (OfpMessage)new OfpBarrierRequest())),
        ("BarrierReply", Gen.Constant(0).Select(_ => (OfpMessage)new OfpBarrierReply())),
        ("QueueGetConfigRequest", E16.Select(p => (OfpMessage)new OfpQueueGetConfigRequest { Port = p })),
        ("QueueGetConfigReply", from p in E16 from n in Gen.Choose(0, 4) from l in Gen.ListOf(PacketQueue, n)
            select (OfpMessage)new OfpQueueGetConfigReply { Port = p, Queues = new List<OfpPacketQueue>(l) }),
    ];

    /// <summary>Any message, xid included.</summary>
    public static readonly Gen<OfpMessage> AnyMessage =
        from m in Gen.OneOf(Messages.Select(m => m.Gen))
        from xid in E32
        select WithXid(m, xid);

    private static OfpMessage WithXid(OfpMessage m, uint xid)
    {
        m.Xid = xid;
        return m;
    }
}

/// <summary>encode -> decode -> equal, for random valid messages of every type.</summary>
public class RoundTripPropertyTests
{
    private const int CasesPerType = 150;

    /// <summary>Fixed seed so a failure reproduces; FsCheck prints the replay seed on failure too.</summary>
    private static Config Config(int maxTest) =>
        FsCheck.Config.QuickThrowOnFailure
            .WithMaxTest(maxTest)
            .WithQuietOnSuccess(true)
            .WithReplay(Microsoft.FSharp.Core.FSharpOption<Replay>.Some(new Replay(new Rnd(0x0f10c0dec0ffeeUL, 0x9e3779b97f4a7c15UL), null)));

    public static string? RoundTrip(OfpMessage original)
    {
        byte[] wire = original.ToArray();
        if (wire.Length != original.EncodedSize)
        {
            return $"ToArray gave {wire.Length} bytes, EncodedSize {original.EncodedSize}";
        }
        if (!OfpMessage.TryDecode(wire, out OfpMessage? decoded, out OfpError err))
        {
            return $"{original.GetType().Name} did not decode: {err}; wire {Convert.ToHexString(wire)}";
        }
        if (DeepEqual.Diff(original, decoded) is string diff)
        {
            return $"{original.GetType().Name}: {diff}; wire {Convert.ToHexString(wire)}";
        }
        byte[] again = decoded.ToArray();
        return wire.AsSpan().SequenceEqual(again) ? null : $"re-encode differs: {Convert.ToHexString(wire)} vs {Convert.ToHexString(again)}";
    }

    public static TheoryData<string> MessageTypes()
    {
        var data = new TheoryData<string>();
        foreach ((string name, _) in WireGen.Messages)
        {
            data.Add(name);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(MessageTypes))]
    public void RandomValidMessageRoundTrips(string type)
    {
        Gen<OfpMessage> gen = WireGen.Messages.Single(m => m.Name == type).Gen;
        Gen<OfpMessage> withXid = from m in gen from xid in WireGen.E32 select Set(m, xid);
        Property property = Prop.ForAll(withXid.ToArbitrary(), (OfpMessage m) =>
        {
            string? failure = RoundTrip(m);
            return failure is null ? true.Label("ok") : false.Label(failure);
        });
        Check.One(Config(CasesPerType), property);
    }

    [Fact]
    public void RandomActionListsRoundTrip()
    {
        Property property = Prop.ForAll(WireGen.Actions(16).ToArbitrary(), (List<OfpAction> actions) =>
        {
            byte[] wire = new byte[OfpActions.GetEncodedSize(actions)];
            OfpActions.Encode(actions, wire);
            return OfpActions.TryDecode(wire, out List<OfpAction> back, out _) && back.SequenceEqual(actions);
        });
        Check.One(Config(500), property);
    }

    [Fact]
    public void RandomMatchesRoundTripByteExact()
    {
        Property property = Prop.ForAll(WireGen.Match.ToArbitrary(), (OfpMatch match) =>
        {
            byte[] wire = new byte[OfpMatch.Size];
            match.Write(wire);
            return OfpMatch.TryRead(wire, out OfpMatch back) && back == match;
        });
        Check.One(Config(500), property);
    }

    [Fact]
    public void AMixedStreamOfRandomMessagesFramesAndDecodesInOrder()
    {
        Gen<List<OfpMessage>> stream = Gen.Choose(1, 12).SelectMany(n => Gen.ListOf(WireGen.AnyMessage, n)).Select(l => new List<OfpMessage>(l));
        Property property = Prop.ForAll(stream.ToArbitrary(), (List<OfpMessage> messages) =>
        {
            byte[] wire = messages.SelectMany(m => m.ToArray()).ToArray();
            ReadOnlySpan<byte> rest = wire;
            int i = 0;
            while (OfpFraming.TryGetFrame(rest, out _, out int len) == OfpFrameStatus.Complete)
            {
                if (!OfpMessage.TryDecode(rest.Slice(0, len), out OfpMessage? m, out _) || DeepEqual.Diff(messages[i], m) is not null)
                {
                    return false;
                }
                rest = rest.Slice(len);
                i++;
            }
            return rest.IsEmpty && i == messages.Count;
        });
        Check.One(Config(100), property);
    }

    private static OfpMessage Set(OfpMessage m, uint xid)
    {
        m.Xid = xid;
        return m;
    }
}
