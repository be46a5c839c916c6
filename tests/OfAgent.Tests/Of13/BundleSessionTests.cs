using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.OfWire;
using Softswitch.OfWire.Of13;

namespace Softswitch.OfAgent.Tests.Of13;

/// <summary>
/// Bundles over a real 1.3 connection (the ONF extension, as <c>ovs-ofctl -O OpenFlow13 --bundle</c> sends them): every
/// reply, every OFPBFC error the switch gives, and a commit whose failing flow-mod leaves the tables as they were.
/// </summary>
public sealed class BundleSessionTests
{
    private const byte V13 = 4;

    /// <summary>A 1.3 controller that sends messages as built (their xids untouched: an ADD's must match its message's).</summary>
    private sealed class Client : IDisposable
    {
        private readonly Socket _s = new(SocketType.Stream, ProtocolType.Tcp);
        private readonly List<byte> _buf = new();

        public static async Task<Client> ConnectAsync(int port)
        {
            var c = new Client();
            await c._s.ConnectAsync(IPAddress.Loopback, port);
            Assert.Equal(V13, (await c.NextAsync())![0]);
            c._s.Send(OfpHelloVersions.Hello(1u << V13, 1));
            return c;
        }

        public void Send(byte[] msg) => _s.Send(msg);

        public async Task<byte[]> NextAsync(int ms = 5000)
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
                int n = await _s.ReceiveAsync(tmp, SocketFlags.None, cts.Token);
                Assert.NotEqual(0, n);
                _buf.AddRange(tmp.AsSpan(0, n).ToArray());
            }
        }

        /// <summary>A barrier's reply: everything sent before it was answered (what came back in between is returned).</summary>
        public async Task<List<byte[]>> SyncAsync()
        {
            var barrier = Ofp13Messages.Empty(V13, Ofp13Type.BarrierRequest, 0xbbbb);
            Send(barrier);
            var got = new List<byte[]>();
            while (true)
            {
                var m = await NextAsync();
                if (m[1] == (byte)Ofp13Type.BarrierReply) return got;
                got.Add(m);
            }
        }

        public void Dispose() => _s.Dispose();
    }

    private static uint Xid(byte[] m) => BinaryPrimitives.ReadUInt32BigEndian(m.AsSpan(4));

    private static byte[] Control(uint xid, uint id, Ofp13BundleCtrlType type, ushort flags = 0)
        => Ofp13Bundle.ControlRequest(V13, xid, id, type, flags);

    private static byte[] FlowMod(uint xid, byte table, uint inPort, ushort priority = 10)
    {
        var fm = new Ofp13FlowMod { TableId = table, Priority = priority, BufferId = Ofp13.NoBuffer, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny };
        fm.Match.Add(Ofp13Oxm.Exact(0, inPort));
        var m = fm.Encode();
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(4), xid);
        return m;
    }

    private static byte[] Add(uint id, ushort flags, byte[] inner) => Ofp13Bundle.AddMessage(V13, id, flags, inner);

    /// <summary>Asserts <paramref name="m"/> is the ONF1.3 bundle error <paramref name="code"/> answering xid <paramref name="xid"/>.</summary>
    private static void AssertBundleError(byte[] m, Ofp13BundleError code, uint xid)
    {
        Assert.Equal((byte)Ofp13Type.Error, m[1]);
        Assert.Equal(xid, Xid(m));
        Assert.Equal(0xffff, BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(8)));
        Assert.Equal(Ofp13Bundle.OnfBundleErrorBase + (int)code, BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(10)));
        Assert.Equal(Ofp13Bundle.OnfExperimenter, BinaryPrimitives.ReadUInt32BigEndian(m.AsSpan(12)));
    }

    private static void AssertReply(byte[] m, Ofp13BundleCtrlType type, uint xid, uint id, ushort flags)
    {
        Assert.Equal(Ofp13Bundle.Of14BundleControl, Ofp13Bundle.Kind(m));
        Assert.Equal(xid, Xid(m));
        Assert.True(Ofp13Bundle.TryDecodeControl(m, out uint gotId, out var gotType, out ushort gotFlags, out _));
        Assert.Equal((id, type, flags), (gotId, gotType, gotFlags));
    }

    [Fact]
    public async Task ControlMessages_AreAnswered_AndEachMisuseHasItsError()
    {
        await using var rig = new AgentRig();
        using var c = await Client.ConnectAsync(rig.ListenPort);
        const ushort Atomic = Ofp13Bundle.FlagAtomic, Ordered = Ofp13Bundle.FlagOrdered;

        c.Send(Control(1, 7, Ofp13BundleCtrlType.OpenRequest, Atomic));
        AssertReply(await c.NextAsync(), Ofp13BundleCtrlType.OpenReply, 1, 7, Atomic);
        c.Send(Control(2, 7, Ofp13BundleCtrlType.OpenRequest, Atomic));
        AssertBundleError(await c.NextAsync(), Ofp13BundleError.BundleExist, 2);
        c.Send(Control(3, 8, Ofp13BundleCtrlType.OpenRequest, 4));
        AssertBundleError(await c.NextAsync(), Ofp13BundleError.BadFlags, 3);
        foreach (var (xid, type) in new[] { (4u, Ofp13BundleCtrlType.CloseRequest), (5u, Ofp13BundleCtrlType.CommitRequest), (6u, Ofp13BundleCtrlType.DiscardRequest) })
        {
            c.Send(Control(xid, 99, type));
            AssertBundleError(await c.NextAsync(), Ofp13BundleError.BadId, xid);
        }
        c.Send(Control(7, 7, Ofp13BundleCtrlType.OpenReply));
        AssertBundleError(await c.NextAsync(), Ofp13BundleError.BadType, 7);
        c.Send(Control(8, 7, (Ofp13BundleCtrlType)99));
        AssertBundleError(await c.NextAsync(), Ofp13BundleError.BadType, 8);

        // An ADD with other flags than the bundle's drops the bundle.
        c.Send(Add(7, Ordered, FlowMod(9, 0, 1)));
        AssertBundleError(await c.NextAsync(), Ofp13BundleError.BadFlags, 9);
        c.Send(Control(10, 7, Ofp13BundleCtrlType.DiscardRequest));
        AssertBundleError(await c.NextAsync(), Ofp13BundleError.BadId, 10);

        // Closed: no more ADDs, and a second CLOSE is refused (each drops the bundle, as Open vSwitch does).
        c.Send(Control(11, 5, Ofp13BundleCtrlType.OpenRequest));
        AssertReply(await c.NextAsync(), Ofp13BundleCtrlType.OpenReply, 11, 5, 0);
        c.Send(Control(12, 5, Ofp13BundleCtrlType.CloseRequest));
        AssertReply(await c.NextAsync(), Ofp13BundleCtrlType.CloseReply, 12, 5, 0);
        c.Send(Add(5, 0, FlowMod(13, 0, 1)));
        AssertBundleError(await c.NextAsync(), Ofp13BundleError.BundleClosed, 13);
        c.Send(Control(14, 6, Ofp13BundleCtrlType.OpenRequest));
        AssertReply(await c.NextAsync(), Ofp13BundleCtrlType.OpenReply, 14, 6, 0);
        c.Send(Control(15, 6, Ofp13BundleCtrlType.CloseRequest));
        AssertReply(await c.NextAsync(), Ofp13BundleCtrlType.CloseReply, 15, 6, 0);
        c.Send(Control(16, 6, Ofp13BundleCtrlType.CloseRequest));
        AssertBundleError(await c.NextAsync(), Ofp13BundleError.BundleClosed, 16);

        // Out of bundles: the connection's limit, then one more.
        for (uint i = 0; i < 64; i++) c.Send(Control(100 + i, 1000 + i, Ofp13BundleCtrlType.OpenRequest));
        c.Send(Control(200, 2000, Ofp13BundleCtrlType.OpenRequest));
        var answers = new List<byte[]>();
        for (int i = 0; i < 65; i++) answers.Add(await c.NextAsync());
        // Every bundle before was dropped by its error: the 64 open, the 65th is refused.
        Assert.Equal(64, answers.Count(a => Ofp13Bundle.Kind(a) == Ofp13Bundle.Of14BundleControl));
        AssertBundleError(answers[^1], Ofp13BundleError.OutOfBundles, 200);
        Assert.Empty(await c.SyncAsync());
    }

    [Fact]
    public async Task AMalformedControlOrAdd_IsAnsweredWithTheCodecsError()
    {
        await using var rig = new AgentRig();
        using var c = await Client.ConnectAsync(rig.ListenPort);

        // A control whose properties are not whole 8-byte units (4 bytes after the body): OFPBRC_BAD_LEN, as Open
        // vSwitch's ofpraw layer refuses it; no bundle opens.
        var control = Control(21, 5, Ofp13BundleCtrlType.OpenRequest);
        var padded = new byte[control.Length + 4];
        control.CopyTo(padded, 0);
        BinaryPrimitives.WriteUInt16BigEndian(padded.AsSpan(2), (ushort)padded.Length);
        c.Send(padded);
        var error = await c.NextAsync();
        Assert.Equal(((byte)Ofp13Type.Error, 21u), (error[1], Xid(error)));
        Assert.Equal((1, 6), (BinaryPrimitives.ReadUInt16BigEndian(error.AsSpan(8)), BinaryPrimitives.ReadUInt16BigEndian(error.AsSpan(10))));
        c.Send(Control(22, 5, Ofp13BundleCtrlType.CloseRequest));
        AssertBundleError(await c.NextAsync(), Ofp13BundleError.BadId, 22);

        // An ADD whose message is of another version, with a length past the ADD: the version is checked first
        // (Open vSwitch's order), OFPBFC_MSG_UNSUP.
        var inner = FlowMod(23, 0, 1);
        inner[0] = 5;
        BinaryPrimitives.WriteUInt16BigEndian(inner.AsSpan(2), (ushort)(inner.Length + 8));
        c.Send(Add(5, 0, inner));
        AssertBundleError(await c.NextAsync(), Ofp13BundleError.MsgUnsup, 23);
        // Too short a header, BAD_REQUEST/BAD_LEN.
        var shortAdd = Add(5, 0, FlowMod(24, 0, 1)).AsSpan(0, 20).ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(shortAdd.AsSpan(2), 20);
        c.Send(shortAdd);
        error = await c.NextAsync();
        Assert.Equal(((byte)Ofp13Type.Error, 24u), (error[1], Xid(error)));
        Assert.Equal((1, 6), (BinaryPrimitives.ReadUInt16BigEndian(error.AsSpan(8)), BinaryPrimitives.ReadUInt16BigEndian(error.AsSpan(10))));
    }

    [Fact]
    public async Task AddedMessages_ThatCannotGoInABundle_AreRefusedWhenAdded()
    {
        await using var rig = new AgentRig();
        using var c = await Client.ConnectAsync(rig.ListenPort);
        var fm = FlowMod(21, 0, 1);

        // The inner message longer than what follows, or shorter than a header.
        var cut = Add(1, 0, fm);
        BinaryPrimitives.WriteUInt16BigEndian(cut.AsSpan(16 + 8 + 2), (ushort)(fm.Length + 8));
        c.Send(cut);
        AssertBundleError(await c.NextAsync(), Ofp13BundleError.MsgBadLen, 21);
        var tiny = Add(1, 0, fm);
        BinaryPrimitives.WriteUInt16BigEndian(tiny.AsSpan(16 + 8 + 2), 4);
        c.Send(tiny);
        AssertBundleError(await c.NextAsync(), Ofp13BundleError.MsgBadLen, 21);
        // Another xid inside than outside.
        var xid = Add(1, 0, fm);
        BinaryPrimitives.WriteUInt32BigEndian(xid.AsSpan(4), 22);
        c.Send(xid);
        AssertBundleError(await c.NextAsync(), Ofp13BundleError.MsgBadXid, 22);
        // Another version inside.
        var v10 = Add(1, 0, fm);
        v10[16 + 8] = 1;
        c.Send(v10);
        AssertBundleError(await c.NextAsync(), Ofp13BundleError.MsgUnsup, 21);
        // A message no bundle holds here (nor in Open vSwitch): a set-config, a meter-mod.
        var setConfig = new byte[12];
        setConfig[0] = V13;
        setConfig[1] = (byte)Ofp13Type.SetConfig;
        setConfig[3] = 12;
        BinaryPrimitives.WriteUInt32BigEndian(setConfig.AsSpan(4), 23);
        c.Send(Add(1, 0, setConfig));
        AssertBundleError(await c.NextAsync(), Ofp13BundleError.MsgUnsup, 23);
        var meterMod = new byte[16];
        meterMod[0] = V13;
        meterMod[1] = 29; // OFPT_METER_MOD
        meterMod[3] = 16;
        BinaryPrimitives.WriteUInt32BigEndian(meterMod.AsSpan(4), 24);
        BinaryPrimitives.WriteUInt32BigEndian(meterMod.AsSpan(12), 1);
        c.Send(Add(1, 0, meterMod));
        AssertBundleError(await c.NextAsync(), Ofp13BundleError.MsgUnsup, 24);
        // A port-mod in an ATOMIC bundle: port changes are not undone.
        var pm = new byte[40];
        pm[0] = V13;
        pm[1] = (byte)Ofp13Type.PortMod;
        BinaryPrimitives.WriteUInt16BigEndian(pm.AsSpan(2), 40);
        BinaryPrimitives.WriteUInt32BigEndian(pm.AsSpan(4), 25);
        BinaryPrimitives.WriteUInt32BigEndian(pm.AsSpan(8), 1);
        c.Send(Add(2, Ofp13Bundle.FlagAtomic, pm));
        AssertBundleError(await c.NextAsync(), Ofp13BundleError.MsgConflict, 25);
        // A flow-mod that does not decode: its own error, for the ADD.
        var bad = FlowMod(26, 0, 1);
        bad[25] = 9; // command 9
        c.Send(Add(1, 0, bad));
        var e = await c.NextAsync();
        Assert.Equal((byte)Ofp13Type.Error, e[1]);
        Assert.Equal((26u, (ushort)Ofp13ErrorType.FlowModFailed), (Xid(e), BinaryPrimitives.ReadUInt16BigEndian(e.AsSpan(8))));
        Assert.Empty(await c.SyncAsync());
        Assert.Equal(0, rig.Switch.Flows.GetTableStats(0).ActiveCount);
    }

    [Fact]
    public async Task ACommit_AppliesEveryFlowMod_OrNoneAndAnswersWithTheFailingOnesError()
    {
        await using var rig = new AgentRig(tables: new Softswitch.Ofproto.FlowTableOptions { MaxFlows = 3 });
        using var c = await Client.ConnectAsync(rig.ListenPort);
        c.Send(FlowMod(1, 0, 9));
        Assert.Empty(await c.SyncAsync());
        var flows = rig.Switch.Flows;

        // Four adds where three fit: the third refuses (TABLE_FULL), and the two before it are reverted.
        c.Send(Control(10, 1, Ofp13BundleCtrlType.OpenRequest, Ofp13Bundle.FlagAtomic));
        AssertReply(await c.NextAsync(), Ofp13BundleCtrlType.OpenReply, 10, 1, Ofp13Bundle.FlagAtomic);
        for (uint i = 1; i <= 4; i++) c.Send(Add(1, Ofp13Bundle.FlagAtomic, FlowMod(10 + i, 0, i)));
        c.Send(Control(20, 1, Ofp13BundleCtrlType.CloseRequest, Ofp13Bundle.FlagAtomic));
        AssertReply(await c.NextAsync(), Ofp13BundleCtrlType.CloseReply, 20, 1, Ofp13Bundle.FlagAtomic);
        // Nothing is applied before the commit.
        Assert.Equal(1, flows.GetTableStats(0).ActiveCount);
        c.Send(Control(21, 1, Ofp13BundleCtrlType.CommitRequest, Ofp13Bundle.FlagAtomic));
        var failed = await c.NextAsync();
        Assert.Equal((byte)Ofp13Type.Error, failed[1]);
        Assert.Equal(13u, Xid(failed)); // the third ADD's
        Assert.Equal((ushort)Ofp13ErrorType.FlowModFailed, BinaryPrimitives.ReadUInt16BigEndian(failed.AsSpan(8)));
        Assert.Equal(Ofp13Codes.FlowModTableFull, BinaryPrimitives.ReadUInt16BigEndian(failed.AsSpan(10)));
        AssertBundleError(await c.NextAsync(), Ofp13BundleError.MsgFailed, 21);
        Assert.Equal(1, flows.GetTableStats(0).ActiveCount);
        // The bundle is gone either way.
        c.Send(Control(22, 1, Ofp13BundleCtrlType.DiscardRequest));
        AssertBundleError(await c.NextAsync(), Ofp13BundleError.BadId, 22);

        // A delete of the existing flow and two adds: three fit once the delete is counted out. Implicitly opened.
        c.Send(Add(2, 0, Delete(31, 9)));
        c.Send(Add(2, 0, FlowMod(32, 0, 1)));
        c.Send(Add(2, 0, FlowMod(33, 0, 2)));
        c.Send(Add(2, 0, FlowMod(34, 0, 3)));
        c.Send(Control(35, 2, Ofp13BundleCtrlType.CommitRequest));
        AssertReply(await c.NextAsync(), Ofp13BundleCtrlType.CommitReply, 35, 2, 0);
        Assert.Equal(3, flows.GetTableStats(0).ActiveCount);
        Assert.Empty(await c.SyncAsync());
    }

    /// <summary>
    /// Requests that change nothing (echo, features, a table statistics request, barrier) ride in a bundle and are
    /// answered at its commit, in order, each after the bundle's changes (the statistics count the flow the bundle adds),
    /// before the commit's reply; before the commit they get nothing, and a discarded bundle's get nothing ever. A
    /// connection's bundles hold at most <see cref="Softswitch.Ofproto.OfBundles.ByteLimit"/> bytes: past it, MSG_TOO_MANY.
    /// </summary>
    [Fact]
    public async Task RequestsThatChangeNothing_AreAnsweredAtTheCommit_InOrder()
    {
        await using var rig = new AgentRig();
        using var c = await Client.ConnectAsync(rig.ListenPort);
        var echo = Ofp13Messages.Empty(V13, Ofp13Type.EchoRequest, 40);
        var tableStats = new byte[16];
        tableStats[0] = V13;
        tableStats[1] = (byte)Ofp13Type.MultipartRequest;
        tableStats[3] = 16;
        BinaryPrimitives.WriteUInt32BigEndian(tableStats.AsSpan(4), 43);
        BinaryPrimitives.WriteUInt16BigEndian(tableStats.AsSpan(8), (ushort)Ofp13MultipartType.Table);
        c.Send(Add(3, 0, echo));
        c.Send(Add(3, 0, FlowMod(41, 0, 5)));
        c.Send(Add(3, 0, Ofp13Messages.Empty(V13, Ofp13Type.FeaturesRequest, 42)));
        c.Send(Add(3, 0, tableStats));
        c.Send(Add(3, 0, Ofp13Messages.Empty(V13, Ofp13Type.BarrierRequest, 44)));
        Assert.Empty(await c.SyncAsync());
        Assert.Equal(0, rig.Switch.Flows.GetTableStats(0).ActiveCount);

        c.Send(Control(45, 3, Ofp13BundleCtrlType.CommitRequest));
        var got = new List<byte[]>();
        for (int i = 0; i < 5; i++) got.Add(await c.NextAsync());
        Assert.Equal([(Ofp13Type.EchoReply, 40u), (Ofp13Type.FeaturesReply, 42u), (Ofp13Type.MultipartReply, 43u), (Ofp13Type.BarrierReply, 44u)],
            got.Take(4).Select(m => ((Ofp13Type)m[1], Xid(m))));
        Assert.Equal(0, got[2][16]);                                                     // table 0's entry
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32BigEndian(got[2].AsSpan(16 + 4)));  // its active count: the bundle's flow
        AssertReply(got[4], Ofp13BundleCtrlType.CommitReply, 45, 3, 0);

        c.Send(Add(4, 0, Ofp13Messages.Empty(V13, Ofp13Type.EchoRequest, 50)));
        c.Send(Control(51, 4, Ofp13BundleCtrlType.DiscardRequest));
        AssertReply(await c.NextAsync(), Ofp13BundleCtrlType.DiscardReply, 51, 4, 0);
        Assert.Empty(await c.SyncAsync());

        // 50 MiB of echoes (the messages, not their ADD_MESSAGEs) fill the connection's bundles: the next is refused.
        var big = new byte[65_000];
        big[0] = V13;
        big[1] = (byte)Ofp13Type.EchoRequest;
        BinaryPrimitives.WriteUInt16BigEndian(big.AsSpan(2), (ushort)(big.Length - 16));
        var fill = Add(5, 0, big.AsSpan(0, big.Length - 16).ToArray());
        int fits = (int)(Softswitch.Ofproto.OfBundles.MaxBytes / (big.Length - 16));
        for (int i = 0; i < fits; i++) c.Send(fill);
        Assert.Empty(await c.SyncAsync());
        c.Send(fill);
        AssertBundleError(await c.NextAsync(), Ofp13BundleError.MsgTooMany, 0);
        c.Send(Control(52, 5, Ofp13BundleCtrlType.DiscardRequest));
        AssertReply(await c.NextAsync(), Ofp13BundleCtrlType.DiscardReply, 52, 5, 0);
    }

    /// <summary>
    /// A packet-out in a bundle (as Open vSwitch bundles them) is sent after the commit, through the tables as the whole
    /// bundle left them (here through a flow the bundle adds after it); before the commit nothing is sent, and a bundle
    /// that is discarded or fails sends nothing. A group DELETE rides in a bundle too.
    /// </summary>
    [Fact]
    public async Task APacketOut_InABundle_IsSentAfterTheCommit_ThroughTheBundlesFlows()
    {
        await using var rig = new AgentRig();
        using var c = await Client.ConnectAsync(rig.ListenPort);
        const ushort Atomic = Ofp13Bundle.FlagAtomic;
        var frame = FrameBuilder.Udp(MacAddress.Parse("00:00:00:00:00:01"), MacAddress.Parse("00:00:00:00:00:02"), 0x0a000001, 0x0a000002, 1, 2, 10);
        static byte[] WithXid(byte[] m, uint xid)
        {
            BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(4), xid);
            return m;
        }
        byte[] PacketOut(uint xid, uint output)
        {
            var po = new Ofp13PacketOut { BufferId = Ofp13.NoBuffer, InPort = 1, Data = frame };
            po.Actions.Add(Ofp13Action.Output(output, 0xffff));
            return WithXid(po.Encode(), xid);
        }
        static byte[] InPort1To(uint xid, uint port)
        {
            var fm = new Ofp13FlowMod { Priority = 10, BufferId = Ofp13.NoBuffer, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny };
            fm.Match.Add(Ofp13Oxm.Exact(0, 1));
            fm.Instructions.Add(new Ofp13Instruction(Ofp13InstructionType.ApplyActions, Actions: [Ofp13Action.Output(port, 0xffff)]));
            return WithXid(fm.Encode(), xid);
        }

        c.Send(Add(6, Atomic, PacketOut(60, Ofp13.PortTable)));
        c.Send(Add(6, Atomic, InPort1To(61, 2)));
        Assert.Empty(await c.SyncAsync());
        Assert.Empty(rig.Ports[1].TakeSent());
        c.Send(Control(62, 6, Ofp13BundleCtrlType.CommitRequest, Atomic));
        AssertReply(await c.NextAsync(), Ofp13BundleCtrlType.CommitReply, 62, 6, Atomic);
        Assert.Equal(frame, Assert.Single(rig.Ports[1].TakeSent()));

        // Discarded: never sent.
        c.Send(Add(7, 0, PacketOut(70, 3)));
        c.Send(Control(71, 7, Ofp13BundleCtrlType.DiscardRequest));
        AssertReply(await c.NextAsync(), Ofp13BundleCtrlType.DiscardReply, 71, 7, 0);
        // Failing: the packet-out before the failing flow-mod (to no port) is not sent, the flow-mod's error and
        // MSG_FAILED come back, and the table is as it was.
        c.Send(Add(8, 0, PacketOut(80, 3)));
        c.Send(Add(8, 0, InPort1To(81, 77)));
        c.Send(Control(82, 8, Ofp13BundleCtrlType.CommitRequest));
        var failed = await c.NextAsync();
        Assert.Equal(((byte)Ofp13Type.Error, 81u), (failed[1], Xid(failed)));
        AssertBundleError(await c.NextAsync(), Ofp13BundleError.MsgFailed, 82);
        // A packet-out that cannot be sent (to no port) fails its bundle the same way.
        c.Send(Add(9, 0, InPort1To(90, 3)));
        c.Send(Add(9, 0, PacketOut(91, 77)));
        c.Send(Control(92, 9, Ofp13BundleCtrlType.CommitRequest));
        failed = await c.NextAsync();
        Assert.Equal(((byte)Ofp13Type.Error, 91u), (failed[1], Xid(failed)));
        AssertBundleError(await c.NextAsync(), Ofp13BundleError.MsgFailed, 92);
        Assert.Empty(await c.SyncAsync());
        Assert.Empty(rig.Ports[2].TakeSent());
        rig.Ports[0].Inject(frame);
        rig.Poll();
        Assert.Equal(frame, Assert.Single(rig.Ports[1].TakeSent()));

        // A group DELETE is taken into a bundle and committed.
        var group = new Ofp13GroupMod { Command = 0, GroupType = 0, GroupId = 5 };
        group.Buckets.Add(new Ofp13Bucket(0, 0xffffffff, 0xffffffff, [Ofp13Action.Output(3, 0xffff)]));
        c.Send(WithXid(group.Encode(), 100));
        Assert.Empty(await c.SyncAsync());
        c.Send(Add(10, Atomic, WithXid(new Ofp13GroupMod { Command = 2, GroupType = 0, GroupId = 5 }.Encode(), 101)));
        c.Send(Control(102, 10, Ofp13BundleCtrlType.CommitRequest, Atomic));
        AssertReply(await c.NextAsync(), Ofp13BundleCtrlType.CommitReply, 102, 10, Atomic);
        Assert.Empty(rig.Switch.GroupDescriptions());
    }

    private static byte[] Delete(uint xid, uint inPort)
    {
        var fm = new Ofp13FlowMod { Command = 4, TableId = 0, Priority = 10, BufferId = Ofp13.NoBuffer, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny };
        fm.Match.Add(Ofp13Oxm.Exact(0, inPort));
        var m = fm.Encode();
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(4), xid);
        return m;
    }

    [Fact]
    public async Task ASlavesBundleMessages_AreRefused()
    {
        await using var rig = new AgentRig();
        using var c = await Client.ConnectAsync(rig.ListenPort);
        var role = new byte[24];
        role[0] = V13;
        role[1] = (byte)Ofp13Type.RoleRequest;
        BinaryPrimitives.WriteUInt16BigEndian(role.AsSpan(2), 24);
        BinaryPrimitives.WriteUInt32BigEndian(role.AsSpan(4), 1);
        BinaryPrimitives.WriteUInt32BigEndian(role.AsSpan(8), 3); // OFPCR_ROLE_SLAVE
        c.Send(role);
        Assert.Equal((byte)Ofp13Type.RoleReply, (await c.NextAsync())[1]);
        c.Send(Control(2, 1, Ofp13BundleCtrlType.OpenRequest));
        var e = await c.NextAsync();
        Assert.Equal((2u, (ushort)Ofp13ErrorType.BadRequest, Ofp13Codes.IsSlave),
                     (Xid(e), BinaryPrimitives.ReadUInt16BigEndian(e.AsSpan(8)), BinaryPrimitives.ReadUInt16BigEndian(e.AsSpan(10))));
    }
}
