using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of14;

namespace Softswitch.OfAgent.Tests.Of13;

/// <summary>
/// OpenFlow 1.4 over a real socket beside 1.0 and 1.3 on one switch: negotiation in any mix, the 1.4 layouts, the
/// asynchronous configuration as properties, and ROLE_STATUS to the master another controller demotes.
/// </summary>
public sealed class Of14SessionTests
{
    private const uint V10 = 1u << 1, V13 = 1u << 4, V14 = 1u << 5;

    /// <summary>A minimal controller: HELLO with the bitmap it is given, then raw messages of the version agreed.</summary>
    internal sealed class Controller : IDisposable
    {
        private readonly Socket _s = new(SocketType.Stream, ProtocolType.Tcp);
        private readonly List<byte> _buf = new();
        private readonly Queue<byte[]> _early = new();
        private uint _xid = 2000;

        public byte Version { get; private set; }

        public static async Task<Controller> ConnectAsync(int port, uint versions)
        {
            var c = new Controller();
            await c._s.ConnectAsync(IPAddress.Loopback, port);
            var hello = await c.NextAsync() ?? throw new Xunit.Sdk.XunitException("no HELLO");
            Assert.True(OfpHelloVersions.TryReadBitmap(hello, out uint ours));
            c.Version = OfpHelloVersions.Highest(ours & versions);
            c._s.Send(OfpHelloVersions.Hello(versions, 1));
            if ((ours & versions) != 0)
            {
                // An echo's reply is sent after our HELLO was taken, so the switch has this connection's version and
                // sends it asynchronous messages from here on; what came before the reply is kept for NextAsync.
                uint xid = c.Send(Ofp13Messages.Empty(Ofp13.Version, Ofp13Type.EchoRequest, 0));
                while (true)
                {
                    var m = await c.ReadAsync(5000) ?? throw new Xunit.Sdk.XunitException("no ECHO_REPLY");
                    if (m[1] == (byte)Ofp13Type.EchoReply && BinaryPrimitives.ReadUInt32BigEndian(m.AsSpan(4)) == xid) break;
                    c._early.Enqueue(m);
                }
            }
            return c;
        }

        public uint Send(byte[] msg)
        {
            uint xid = ++_xid;
            msg[0] = Version;
            BinaryPrimitives.WriteUInt32BigEndian(msg.AsSpan(4), xid);
            _s.Send(msg);
            return xid;
        }

        public Task<byte[]?> NextAsync(int ms = 5000)
            => _early.TryDequeue(out var first) ? Task.FromResult<byte[]?>(first) : ReadAsync(ms);

        private async Task<byte[]?> ReadAsync(int ms)
        {
            var tmp = new byte[65536];
            using var cts = new CancellationTokenSource(ms);
            while (true)
            {
                if (_buf.Count >= 8 && _buf.Count >= ((_buf[2] << 8) | _buf[3]))
                {
                    int len = (_buf[2] << 8) | _buf[3];
                    var m = _buf.GetRange(0, len).ToArray();
                    _buf.RemoveRange(0, len);
                    if (m[1] == (byte)Ofp13Type.EchoRequest) continue;
                    return m;
                }
                int n;
                try { n = await _s.ReceiveAsync(tmp, SocketFlags.None, cts.Token); }
                catch (Exception e) when (e is OperationCanceledException or SocketException) { return null; }
                if (n == 0) return null;
                _buf.AddRange(tmp.AsSpan(0, n).ToArray());
            }
        }

        /// <summary>The reply to <paramref name="xid"/>; the messages before it are collected in <paramref name="before"/>.</summary>
        public async Task<byte[]> ReplyAsync(uint xid, List<byte[]>? before = null)
        {
            while (true)
            {
                var m = await NextAsync() ?? throw new Xunit.Sdk.XunitException("no reply");
                if (BinaryPrimitives.ReadUInt32BigEndian(m.AsSpan(4)) == xid) return m;
                before?.Add(m);
            }
        }

        public void Dispose() => _s.Dispose();
    }

    private static AgentRig Rig(uint versions = AgentOptions.AllVersions) => new(options: new AgentOptions { Versions = versions });

    private static byte[] Empty(Ofp13Type type) => Ofp13Messages.Empty(Ofp13.Version, type, 0);

    private static byte[] Multipart(Ofp13MultipartType type, byte[]? body = null)
        => new Ofp13MultipartRequest { Version = Ofp13.Version, Type = type }.Encode(body ?? []);

    private static byte[] Role(uint role, ulong generation)
        => new Ofp13RoleRequest { Version = Ofp13.Version, Role = role, GenerationId = generation }.Encode();

    private static (Ofp13ErrorType, ushort) ErrorOf(byte[] m)
    {
        Assert.Equal((byte)Ofp13Type.Error, m[1]);
        return ((Ofp13ErrorType)BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(8)), BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(10)));
    }

    [Fact]
    public async Task OneSwitch_ConnectionsOf10_13And14AtOnce_EachInItsVersion()
    {
        await using var rig = Rig();
        // 1.0 (a plain HELLO), 1.3 and 1.4 (bitmaps), connected together: each agrees on its own version.
        using var of10 = await rig.ConnectAsync(1);
        using var of13 = await Controller.ConnectAsync(rig.ListenPort, V10 | V13);
        using var of14 = await Controller.ConnectAsync(rig.ListenPort, V10 | V13 | V14);
        Assert.Equal((byte)4, of13.Version);
        Assert.Equal((byte)5, of14.Version);
        var f14 = await of14.ReplyAsync(of14.Send(Empty(Ofp13Type.FeaturesRequest)));
        Assert.Equal((byte)5, f14[0]);
        Assert.Equal(32, f14.Length); // 1.3's FEATURES_REPLY, no ports, in version 5
        var f13 = await of13.ReplyAsync(of13.Send(Empty(Ofp13Type.FeaturesRequest)));
        Assert.Equal((byte)4, f13[0]);
        of10.Send(new OfpFeaturesRequest());
        var f10 = await of10.ReceiveRawAsync();
        Assert.Equal((byte)1, f10![0]);
        Assert.Equal((byte)OfpType.FeaturesReply, f10[1]);

        // PORT_DESC: 64-byte ports to 1.3, 72-byte ports (Ethernet property) to 1.4.
        var d13 = await of13.ReplyAsync(of13.Send(Multipart(Ofp13MultipartType.PortDesc)));
        Assert.Equal(16 + 4 * Ofp13Port.Size, d13.Length);
        var d14 = await of14.ReplyAsync(of14.Send(Multipart(Ofp13MultipartType.PortDesc)));
        var ports = new List<Ofp14PortDesc>();
        Assert.True(Ofp13Entries.TryReadAll(d14.AsSpan(16), ports));
        Assert.Equal([1u, 2u, 3u, 4u], ports.Select(p => p.Port.PortNo));
        Assert.Equal("mem1", ports[0].Port.Name);
        Assert.True(Ofp13Port.TryRead(d13.AsSpan(16), out var port13, out _));
        Assert.Equal(port13, ports[0].Port);

        // PORT_STATS: 1.4's 120-byte entries; the 1.3 connection still gets 112.
        var s14 = await of14.ReplyAsync(of14.Send(Multipart(Ofp13MultipartType.PortStats, new Ofp13IdRequest { Id = Ofp13.PortAny }.Encode())));
        Assert.Equal(16 + 4 * Ofp14PortStats.Size, s14.Length);
        var s13 = await of13.ReplyAsync(of13.Send(Multipart(Ofp13MultipartType.PortStats, new Ofp13IdRequest { Id = Ofp13.PortAny }.Encode())));
        Assert.Equal(16 + 4 * Ofp13PortStats.Size, s13.Length);

        // A port change reaches the other connections, each in its layout (the requester is not told, as in Open vSwitch).
        of13.Send(new Ofp13PortMod { Version = 4, PortNo = 2, HwAddr = ports[1].Port.HwAddr, Config = 1, Mask = 1 }.Encode());
        byte[]? status14;
        do status14 = await of14.NextAsync(); while (status14 is not null && status14[1] != (byte)Ofp13Type.PortStatus);
        Assert.Equal(16 + Ofp14PortDesc.Size, status14!.Length);
        Assert.True(Ofp14PortDesc.TryRead(status14.AsSpan(16), out var changed, out _));
        Assert.Equal((2u, 1u), (changed.Port.PortNo, changed.Port.Config));
        // 1.4's PORT_MOD, with its Ethernet property, brings the port up again.
        var errors = new List<byte[]>();
        of14.Send(new Ofp14PortMod { Version = 5, PortNo = 2, HwAddr = ports[1].Port.HwAddr, Config = 0, Mask = 1, Advertise = 0 }.Encode());
        await of14.ReplyAsync(of14.Send(Empty(Ofp13Type.BarrierRequest)), errors);
        Assert.DoesNotContain(errors, m => m[1] == (byte)Ofp13Type.Error);
        byte[]? status13;
        do status13 = await of13.NextAsync(); while (status13 is not null && status13[1] != (byte)Ofp13Type.PortStatus);
        Assert.Equal(16 + Ofp13Port.Size, status13!.Length);
        Assert.True(Ofp13Port.TryRead(status13.AsSpan(16), out var statusPort, out _));
        Assert.Equal(0u, statusPort.Config);
    }

    [Fact]
    public async Task AMasterRequest_SendsRoleStatusToTheMasterItDemotes_OnlyIn14()
    {
        await using var rig = Rig();
        using var a = await Controller.ConnectAsync(rig.ListenPort, V14);
        using var b = await Controller.ConnectAsync(rig.ListenPort, V14);
        using var c13 = await Controller.ConnectAsync(rig.ListenPort, V13);
        await a.ReplyAsync(a.Send(Role(2, 5)));
        // b becomes master: a, the master it demotes, is told (OFPCRR_MASTER_REQUEST, slave, b's generation id).
        await b.ReplyAsync(b.Send(Role(2, 6)));
        var status = await a.NextAsync();
        Assert.NotNull(status);
        Assert.Equal((byte)Ofp13Type.RoleStatus, status![1]);
        Ofp14RoleStatus rs = default;
        Assert.True(rs.TryDecode(status, out _));
        Assert.Equal((3u, Ofp14RoleStatus.ReasonMasterRequest, 6UL), (rs.Role, rs.Reason, rs.GenerationId));
        // b, the new master, gets none: its barrier's reply is the next message.
        var bBarrier = b.Send(Empty(Ofp13Type.BarrierRequest));
        Assert.Equal(bBarrier, BinaryPrimitives.ReadUInt32BigEndian((await b.NextAsync())!.AsSpan(4)));
        // A 1.3 master demoted by a 1.4 one is told nothing (1.3 has no ROLE_STATUS).
        await c13.ReplyAsync(c13.Send(Role(2, 7)));
        var cBarrier = c13.Send(Empty(Ofp13Type.BarrierRequest));
        var bStatus = new List<byte[]>();
        await b.ReplyAsync(b.Send(Role(2, 8)), bStatus);
        Assert.Equal(cBarrier, BinaryPrimitives.ReadUInt32BigEndian((await c13.NextAsync())!.AsSpan(4)));
        Assert.Null(await c13.NextAsync(300));
        // b was demoted by c13's request at generation 7, and told before it asked again.
        Assert.Contains(bStatus, m => m[1] == (byte)Ofp13Type.RoleStatus && rs.TryDecode(m, out _) && rs.GenerationId == 7);
    }

    [Fact]
    public async Task AsyncConfigAsProperties_SetChangesWhatItNames_GetShowsAll_BadOnesRefused()
    {
        await using var rig = Rig();
        using var c = await Controller.ConnectAsync(rig.ListenPort, V14);
        var get = new Ofp14AsyncConfig();
        Assert.True(get.TryDecode(await c.ReplyAsync(c.Send(Empty(Ofp13Type.GetAsyncRequest))), out _));
        Assert.Equal(Ofp13Type.GetAsyncReply, get.Type);
        Assert.Equal(0xfffu, get.Present);
        // The defaults: a master's packet-ins for no-match, action, action set, group and packet-out (Open vSwitch's
        // OFPR14_BITS less INVALID_TTL), flow removals of every 1.4 reason (meter delete and eviction included).
        Assert.Equal((0x3bu, 0u, 7u, 7u, 0x3fu, 0u), (get[Ofp14AsyncProp.PacketInMaster], get[Ofp14AsyncProp.PacketInSlave], get[Ofp14AsyncProp.PortStatusMaster],
                                                 get[Ofp14AsyncProp.PortStatusSlave], get[Ofp14AsyncProp.FlowRemovedMaster], get[Ofp14AsyncProp.FlowRemovedSlave]));
        var set = new Ofp14AsyncConfig { Version = 5 };
        set.Set(Ofp14AsyncProp.FlowRemovedMaster, 1u << 4); // METER_DELETE only
        set.Set(Ofp14AsyncProp.RoleStatusMaster, 1);
        c.Send(set.Encode());
        Assert.True(get.TryDecode(await c.ReplyAsync(c.Send(Empty(Ofp13Type.GetAsyncRequest))), out _));
        Assert.Equal((0x3bu, 1u << 4, 1u, 7u), (get[Ofp14AsyncProp.PacketInMaster], get[Ofp14AsyncProp.FlowRemovedMaster], get[Ofp14AsyncProp.RoleStatusMaster],
                                            get[Ofp14AsyncProp.PortStatusSlave]));
        Assert.Equal(Softswitch.Ofproto.OfAsyncConfig.Bit(Softswitch.Ofproto.OfFlowRemovedReason.MeterDelete),
                     rig.Agent.Connections.Single(x => x.Negotiated).Controller.Async.FlowRemovedMaster);
        // A mask bit its kind lacks, an unknown property type.
        var bad = new byte[] { 5, 28, 0, 16, 0, 0, 0, 0, 0, 1, 0, 8, 0, 0, 0, 0x40 };
        Assert.Equal((Ofp13ErrorType.AsyncConfigFailed, Ofp13Codes.AsyncInvalid), ErrorOf(await c.ReplyAsync(c.Send(bad))));
        bad[9] = 17;
        bad[15] = 1;
        Assert.Equal((Ofp13ErrorType.AsyncConfigFailed, Ofp13Codes.AsyncUnsupported), ErrorOf(await c.ReplyAsync(c.Send(bad))));
    }

    [Fact]
    public async Task RequestsOf14_QueueDescTableDescTableMod_AndWhat14Dropped()
    {
        await using var rig = Rig();
        using var c = await Controller.ConnectAsync(rig.ListenPort, V14);
        var queues = await c.ReplyAsync(c.Send(Multipart(Ofp13MultipartType.QueueDesc, new Ofp14QueueDescRequest { Port = Ofp13.PortAny, Queue = Ofp13.QueueAll }.Encode())));
        var list = new List<Ofp14QueueDesc>();
        Assert.True(Ofp13Entries.TryReadAll(queues.AsSpan(16), list));
        Assert.Contains(new Ofp14QueueDesc(1, 0, null, null), list);
        Assert.Equal((Ofp13ErrorType.QueueOpFailed, Ofp13Codes.QueueBadPort),
                     ErrorOf(await c.ReplyAsync(c.Send(Multipart(Ofp13MultipartType.QueueDesc, new Ofp14QueueDescRequest { Port = 99, Queue = Ofp13.QueueAll }.Encode())))));
        // Every table: eviction and vacancy events off, the switch's eviction flags (OTHER|IMPORTANCE|LIFETIME), as Open vSwitch's.
        var tables = await c.ReplyAsync(c.Send(Multipart(Ofp13MultipartType.TableDesc)));
        var descs = new List<Ofp14TableDesc>();
        Assert.True(Ofp13Entries.TryReadAll(tables.AsSpan(16), descs));
        Assert.Equal(254, descs.Count);
        Assert.All(descs, d => Assert.Equal((0u, (uint?)7, ((byte, byte, byte)?)null), (d.Config, d.EvictionFlags, d.Vacancy)));
        // 1.4 asks queues with QUEUE_DESC: QUEUE_GET_CONFIG is BAD_TYPE, as in Open vSwitch.
        Assert.Equal((Ofp13ErrorType.BadRequest, Ofp13Codes.BadType),
                     ErrorOf(await c.ReplyAsync(c.Send(new Ofp13QueueGetConfigRequest { Version = 4, Port = 1 }.Encode()))));
        // "mod-table br0 0 evict" and "mod-table br0 0 vacancy:20,80" (each TABLE_MOD sets both), then TABLE_DESC shows
        // them (ofproto.at "ofproto - table description (OpenFlow 1.4)").
        uint ok = c.Send(new Ofp14TableMod { Version = 5, TableId = 0, Config = Ofp14TableMod.ConfigEviction }.Encode());
        uint ok2 = c.Send(new Ofp14TableMod { Version = 5, TableId = 0, Config = Ofp14TableMod.ConfigEviction | Ofp14TableMod.ConfigVacancyEvents, Vacancy = (20, 80) }.Encode());
        uint after = c.Send(Empty(Ofp13Type.BarrierRequest));
        Assert.Equal(after, BinaryPrimitives.ReadUInt32BigEndian((await c.NextAsync())!.AsSpan(4)));
        Assert.NotEqual(ok, after);
        Assert.NotEqual(ok2, after);
        descs.Clear();
        Assert.True(Ofp13Entries.TryReadAll((await c.ReplyAsync(c.Send(Multipart(Ofp13MultipartType.TableDesc)))).AsSpan(16), descs));
        Assert.Equal(new Ofp14TableDesc(0, Ofp14TableMod.ConfigEviction | Ofp14TableMod.ConfigVacancyEvents, 7, (20, 80, 100)), descs[0]);
        Assert.Equal(new Ofp14TableDesc(1, 0, 7), descs[1]);
        // Eviction flags other than the switch's, a config bit 1.4 does not define: BAD_CONFIG, and nothing changes.
        Assert.Equal((Ofp13ErrorType.TableModFailed, Ofp13Codes.TableModBadConfig),
                     ErrorOf(await c.ReplyAsync(c.Send(new Ofp14TableMod { Version = 5, TableId = 0, EvictionFlags = 1 }.Encode()))));
        Assert.Equal((Ofp13ErrorType.TableModFailed, Ofp13Codes.TableModBadConfig),
                     ErrorOf(await c.ReplyAsync(c.Send(new Ofp14TableMod { Version = 5, TableId = 0, Config = 1u << 4 }.Encode()))));
        Assert.True(rig.Switch.TableDescription(0).Eviction);
        // 1.4's own bundle messages: an OPEN_REQUEST (OFPT_BUNDLE_CONTROL, type 0) of bundle 1 is answered with an
        // OFPT_BUNDLE_CONTROL OPEN_REPLY (type 1) of the same bundle.
        var opened = await c.ReplyAsync(c.Send([5, 33, 0, 16, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]));
        Assert.Equal([5, 33], opened.AsSpan(0, 2).ToArray());
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32BigEndian(opened.AsSpan(8)));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(opened.AsSpan(12)));
    }

    /// <summary>The one message of <paramref name="got"/> that <paramref name="want"/> takes, or the next ones until it
    /// comes: an asynchronous message travels its connection's own queue, so it may follow a barrier's reply.</summary>
    private static async Task<byte[]> Awaited(Controller k, List<byte[]> got, Func<byte[], bool> want)
    {
        while (!got.Exists(m => want(m))) got.Add(await k.NextAsync() ?? throw new Xunit.Sdk.XunitException("the message did not come"));
        return Assert.Single(got, m => want(m));
    }

    private static byte[] FlowMod14(ushort priority, ushort hard, ushort importance)
    {
        var fm = new Ofp13FlowMod
        {
            Version = Ofp13.Version14, Priority = priority, HardTimeout = hard, Importance = importance, Flags = 1, // SEND_FLOW_REM
            BufferId = Ofp13.NoBuffer, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny,
        };
        return fm.Encode();
    }

    [Fact]
    public async Task AFullTableWithEviction_Evicts_Tells14WithEviction_13Nothing_AndTableStatusGoesWhereAsyncAsksIt()
    {
        await using var rig = new AgentRig(options: new AgentOptions { Versions = AgentOptions.AllVersions },
                                           tables: new Softswitch.Ofproto.FlowTableOptions { MaxFlows = 4 });
        using var c = await Controller.ConnectAsync(rig.ListenPort, V14);
        using var c13 = await Controller.ConnectAsync(rig.ListenPort, V13);
        using var quiet = await Controller.ConnectAsync(rig.ListenPort, V14);
        // Each connection taken in (a barrier answered) before the first flow-mod, so each is among those told.
        foreach (var k in new[] { c, c13, quiet }) await k.ReplyAsync(k.Send(Empty(Ofp13Type.BarrierRequest)));
        // c asks for TABLE_STATUS (VACANCY_DOWN and VACANCY_UP: the mask 0x18), quiet keeps the default (none).
        var set = new Ofp14AsyncConfig { Version = 5 };
        set.Set(Ofp14AsyncProp.TableStatusMaster, 0x18);
        c.Send(set.Encode());
        c.Send(new Ofp14TableMod { Version = 5, TableId = 0, Config = Ofp14TableMod.ConfigEviction | Ofp14TableMod.ConfigVacancyEvents, Vacancy = (30, 60) }.Encode());
        // Four flows fill the table; the one of priority 3 is the least important.
        for (ushort p = 1; p <= 4; p++) c.Send(FlowMod14(p, (ushort)(100 + p), (ushort)(p == 3 ? 1 : 5)));
        var seen = new List<byte[]>();
        await c.ReplyAsync(c.Send(Empty(Ofp13Type.BarrierRequest)), seen);
        // 25% free after the third: VACANCY_DOWN (reason 3) with table 0's description (eviction flags, then 30/60 and 25%).
        var status = await Awaited(c, seen, m => m[1] == (byte)Ofp13Type.TableStatus);
        Assert.Equal(3, status[8]);
        Assert.True(Ofp14TableDesc.TryRead(status.AsSpan(16), out var desc, out _));
        Assert.Equal(new Ofp14TableDesc(0, Ofp14TableMod.ConfigEviction | Ofp14TableMod.ConfigVacancyEvents, 7, (30, 60, 25)), desc);

        // A fifth evicts priority 3: FLOW_REMOVED with OFPRR_EVICTION (5) to 1.4; nothing to 1.3 (its masks leave it out).
        seen.Clear();
        c.Send(FlowMod14(5, 100, 5));
        await c.ReplyAsync(c.Send(Empty(Ofp13Type.BarrierRequest)), seen);
        var removed = await Awaited(c, seen, m => m[1] == (byte)Ofp13Type.FlowRemoved);
        Assert.Equal((3, 5), (BinaryPrimitives.ReadUInt16BigEndian(removed.AsSpan(16)), (int)removed[18]));
        var before13 = new List<byte[]>();
        await c13.ReplyAsync(c13.Send(Empty(Ofp13Type.BarrierRequest)), before13);
        Assert.DoesNotContain(before13, m => m[1] == (byte)Ofp13Type.FlowRemoved);
        var beforeQuiet = new List<byte[]>();
        await quiet.ReplyAsync(quiet.Send(Empty(Ofp13Type.BarrierRequest)), beforeQuiet);
        Assert.DoesNotContain(beforeQuiet, m => m[1] == (byte)Ofp13Type.TableStatus);
        await Awaited(quiet, beforeQuiet, m => m[1] == (byte)Ofp13Type.FlowRemoved && m[18] == 5);

        // Flow statistics of 1.4 give each flow's importance back.
        var stats = await c.ReplyAsync(c.Send(Multipart(Ofp13MultipartType.Flow, new Ofp13FlowStatsRequest { TableId = Ofp13.TableAll, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny }.Encode())));
        var flows = new List<Ofp13FlowStats>();
        Assert.True(Ofp13Entries.TryReadAll(stats.AsSpan(16), flows));
        Assert.Equal([(1, 5), (2, 5), (4, 5), (5, 5)], flows.Select(f => ((int)f.Priority, (int)f.Importance)).Order());
    }

    [Fact]
    public async Task TheDefaultOffersOf10And13_A14OnlyPeerIsRefused()
    {
        await using var rig = Rig(AgentOptions.DefaultVersions);
        using var s = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await s.ConnectAsync(IPAddress.Loopback, rig.ListenPort);
        var buf = new byte[64];
        int n = await s.ReceiveAsync(buf);
        Assert.True(OfpHelloVersions.TryReadBitmap(buf.AsSpan(0, n), out uint offered));
        Assert.Equal(V10 | V13, offered);
        s.Send(OfpHelloVersions.Hello(V14, 1));
        n = await s.ReceiveAsync(buf);
        Assert.Equal((byte)OfpType.Error, buf[1]);
        Assert.Equal((ushort)OfpErrorType.HelloFailed, BinaryPrimitives.ReadUInt16BigEndian(buf.AsSpan(8)));
    }
}
