using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Of13;

/// <summary>OpenFlow 1.3 over a real socket with a codec-built controller: roles, async configuration, errors.</summary>
public sealed class Of13SessionTests
{
    /// <summary>A minimal OpenFlow 1.3 controller: HELLO with a bitmap of 1.3 only, then raw messages.</summary>
    internal sealed class Controller13 : IDisposable
    {
        private readonly Socket _s = new(SocketType.Stream, ProtocolType.Tcp);
        private readonly List<byte> _buf = new();
        private uint _xid = 1000;

        public static async Task<Controller13> ConnectAsync(int port)
        {
            var c = new Controller13();
            await c._s.ConnectAsync(IPAddress.Loopback, port);
            var hello = await c.NextAsync();
            Assert.Equal(4, hello![0]);
            c._s.Send(OfpHelloVersions.Hello(1u << 4, 1));
            return c;
        }

        public uint Send(byte[] msg)
        {
            uint xid = ++_xid;
            BinaryPrimitives.WriteUInt32BigEndian(msg.AsSpan(4), xid);
            _s.Send(msg);
            return xid;
        }

        public async Task<byte[]?> NextAsync(int ms = 5000)
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

        /// <summary>The reply to <paramref name="xid"/> (asynchronous messages before it are skipped).</summary>
        public async Task<byte[]> ReplyAsync(uint xid)
        {
            while (true)
            {
                var m = await NextAsync() ?? throw new Xunit.Sdk.XunitException("no reply");
                if (BinaryPrimitives.ReadUInt32BigEndian(m.AsSpan(4)) == xid) return m;
            }
        }

        public void Dispose() => _s.Dispose();
    }

    private static byte[] Role(uint role, ulong generation)
    {
        var m = new byte[24];
        m[0] = 4; m[1] = (byte)Ofp13Type.RoleRequest; m[3] = 24;
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(8), role);
        BinaryPrimitives.WriteUInt64BigEndian(m.AsSpan(16), generation);
        return m;
    }

    private static (uint Role, ulong Generation) RoleOf(byte[] reply)
    {
        Assert.Equal((byte)Ofp13Type.RoleReply, reply[1]);
        return (BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(8)), BinaryPrimitives.ReadUInt64BigEndian(reply.AsSpan(16)));
    }

    private static (Ofp13ErrorType, ushort) ErrorOf(byte[] m)
    {
        Assert.Equal((byte)Ofp13Type.Error, m[1]);
        return ((Ofp13ErrorType)BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(8)), BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(10)));
    }

    private static byte[] FlowModAddAny() => new Ofp13FlowMod { Priority = 1, BufferId = Ofp13.NoBuffer, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny }.Encode();

    [Fact]
    public async Task ATableAtTheFlowLimit_RefusesAnAddWithTableFull_AndTableFeaturesReportTheLimit()
    {
        await using var rig = new AgentRig(tables: new Softswitch.Ofproto.FlowTableOptions { MaxFlows = 2 });
        using var c = await Controller13.ConnectAsync(rig.ListenPort);
        byte[] AddInPort(uint inPort)
        {
            var fm = new Ofp13FlowMod { TableId = 3, Priority = 10, BufferId = Ofp13.NoBuffer, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny };
            fm.Match.Add(Ofp13Oxm.Exact(0, inPort));
            return fm.Encode();
        }
        c.Send(AddInPort(1));
        c.Send(AddInPort(2));
        c.Send(Ofp13Messages.Empty(Ofp13.Version, Ofp13Type.BarrierRequest, 0));
        Assert.Equal((byte)Ofp13Type.BarrierReply, (await c.NextAsync())![1]); // both taken: no error before the barrier's reply
        Assert.Equal((Ofp13ErrorType.FlowModFailed, Ofp13Codes.FlowModTableFull), ErrorOf(await c.ReplyAsync(c.Send(AddInPort(3)))));

        // TABLE_FEATURES: every table's max_entries is the limit (ofp_table_features: max_entries 60 bytes into an entry).
        var request = new byte[16];
        request[0] = 4; request[1] = (byte)Ofp13Type.MultipartRequest; request[3] = 16; request[9] = 12; // OFPMP_TABLE_FEATURES
        uint xid = c.Send(request);
        var maxEntries = new List<uint>();
        while (true)
        {
            var reply = await c.ReplyAsync(xid);
            for (int at = 16; at < reply.Length; at += BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(at)))
                maxEntries.Add(BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(at + 60)));
            if ((BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(10)) & 1) == 0) break; // no REPLY_MORE
        }
        Assert.Equal(254, maxEntries.Count);
        Assert.All(maxEntries, m => Assert.Equal(2u, m));
    }

    [Fact]
    public async Task FlowModsReadTogether_TakeEffectTogether_WithoutABarrier()
    {
        await using var rig = new AgentRig();
        using var c = await Controller13.ConnectAsync(rig.ListenPort);
        var flows = rig.Switch.Flows;
        // Tables 1 and 2 exist before the burst (so the burst's publications are the tables' own).
        c.Send(FlowModIn(1, 100));
        c.Send(FlowModIn(2, 100));
        c.Send(Ofp13Messages.Empty(Ofp13.Version, Ofp13Type.BarrierRequest, 0));
        Assert.Equal((byte)Ofp13Type.BarrierReply, (await c.NextAsync())![1]);
        long changes = flows.Pipeline.Changes.Version;

        // 400 flow-mods over two tables in one write, and nothing after them: the connection ends its run when it has
        // handled what it read, so they take effect without a barrier, published a few times (once per run), not 400.
        const int n = 200;
        var burst = new List<byte>();
        for (uint i = 0; i < n; i++)
        {
            burst.AddRange(FlowModIn(1, i + 1));
            burst.AddRange(FlowModIn(2, i + 1));
        }
        c.Send(burst.ToArray());
        // (in_port 100 is one of them: it replaces the flow added first.)
        // A run publishes every table it holds as one change of the pipeline (counts are live before it publishes).
        Assert.True(await Wait.UntilAsync(() => flows.GetTableStats(1).ActiveCount == n && flows.GetTableStats(2).ActiveCount == n
                                                && flows.Pipeline.Changes.Version > changes));
        long published = flows.Pipeline.Changes.Version - changes;
        Assert.InRange(published, 1, n);

        // Another kind of message ends the run before it is handled: a barrier in the middle of a write is answered
        // with the flow-mods before it published (table 1's), while those after it (table 2's) are still being applied.
        burst.Clear();
        for (uint i = 0; i < n; i++) burst.AddRange(FlowModIn(1, 1000 + i));
        burst.AddRange(Ofp13Messages.Empty(Ofp13.Version, Ofp13Type.BarrierRequest, 77));
        for (uint i = 0; i < 5 * n; i++) burst.AddRange(FlowModIn(2, 1000 + i));
        long table1 = flows.Pipeline.Stage(1)!.Version;
        c.Send(burst.ToArray());
        byte[]? reply;
        do reply = await c.NextAsync(); while (reply is not null && reply[1] != (byte)Ofp13Type.BarrierReply);
        Assert.NotNull(reply);
        Assert.True(flows.Pipeline.Stage(1)!.Version > table1);
        Assert.True(await Wait.UntilAsync(() => flows.GetTableStats(2).ActiveCount == 6 * n));
        Assert.Equal(2 * n, flows.GetTableStats(1).ActiveCount);
    }

    private static byte[] FlowModIn(byte table, uint inPort)
    {
        var fm = new Ofp13FlowMod { TableId = table, Priority = 10, BufferId = Ofp13.NoBuffer, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny };
        fm.Match.Add(Ofp13Oxm.Exact(0, inPort));
        return fm.Encode();
    }

    [Fact]
    public async Task RoleRequestFirst_ThenMasterAndSlave_AsOnosDoes()
    {
        await using var rig = new AgentRig();
        using var a = await Controller13.ConnectAsync(rig.ListenPort);
        using var b = await Controller13.ConnectAsync(rig.ListenPort);
        // A role request as the first message after HELLO: master, generation 5.
        Assert.Equal((2u, 5UL), RoleOf(await a.ReplyAsync(a.Send(Role(2, 5)))));
        // Another master with a later generation demotes the first to slave.
        Assert.Equal((2u, 6UL), RoleOf(await b.ReplyAsync(b.Send(Role(2, 6)))));
        Assert.Equal((3u, 6UL), RoleOf(await a.ReplyAsync(a.Send(Role(0, 0))))); // NOCHANGE reports the current role
        // The slave may not write; the master may.
        Assert.Equal((Ofp13ErrorType.BadRequest, Ofp13Codes.IsSlave), ErrorOf(await a.ReplyAsync(a.Send(FlowModAddAny()))));
        uint ok = b.Send(FlowModAddAny());
        var barrier = b.Send(Ofp13Messages.Empty(Ofp13.Version, Ofp13Type.BarrierRequest, 0));
        var next = await b.NextAsync();
        Assert.Equal((byte)Ofp13Type.BarrierReply, next![1]);
        Assert.NotEqual(ok, barrier);
        // A stale generation is refused; an unknown role is BAD_ROLE.
        Assert.Equal((Ofp13ErrorType.RoleRequestFailed, Ofp13Codes.RoleStale), ErrorOf(await a.ReplyAsync(a.Send(Role(2, 4)))));
        Assert.Equal((Ofp13ErrorType.RoleRequestFailed, Ofp13Codes.RoleBadRole), ErrorOf(await a.ReplyAsync(a.Send(Role(9, 7)))));
    }

    [Fact]
    public async Task AsyncConfigIsKeptPerConnection()
    {
        await using var rig = new AgentRig();
        using var c = await Controller13.ConnectAsync(rig.ListenPort);
        var get = await c.ReplyAsync(c.Send(Ofp13Messages.Empty(Ofp13.Version, Ofp13Type.GetAsyncRequest, 0)));
        Assert.Equal((byte)Ofp13Type.GetAsyncReply, get[1]);
        // OpenFlow 1.3.5 section 6.1.1 defaults: master packet-in NO_MATCH|ACTION, port status all, flow removed all; slave port status only.
        // The wire masks: flow removed all of OFPRR_IDLE_TIMEOUT, HARD_TIMEOUT, DELETE and GROUP_DELETE (bits 0-3).
        uint[] want = [3, 0, 7, 7, 15, 0];
        for (int i = 0; i < 6; i++) Assert.Equal(want[i], BinaryPrimitives.ReadUInt32BigEndian(get.AsSpan(8 + 4 * i)));
        var set = new byte[32];
        set[0] = 4; set[1] = (byte)Ofp13Type.SetAsync; set[3] = 32;
        uint[] mine = [4, 0, 1, 0, 2, 0];
        for (int i = 0; i < 6; i++) BinaryPrimitives.WriteUInt32BigEndian(set.AsSpan(8 + 4 * i), mine[i]);
        c.Send(set);
        get = await c.ReplyAsync(c.Send(Ofp13Messages.Empty(Ofp13.Version, Ofp13Type.GetAsyncRequest, 0)));
        for (int i = 0; i < 6; i++) Assert.Equal(mine[i], BinaryPrimitives.ReadUInt32BigEndian(get.AsSpan(8 + 4 * i)));
    }

    private static byte[] SetAsync(ReadOnlySpan<uint> masks)
    {
        var set = new byte[32];
        set[0] = 4; set[1] = (byte)Ofp13Type.SetAsync; set[3] = 32;
        for (int i = 0; i < 6; i++) BinaryPrimitives.WriteUInt32BigEndian(set.AsSpan(8 + 4 * i), masks[i]);
        return set;
    }

    /// <summary>OFPT_METER_MOD: OFPMC_ADD with one drop band, or OFPMC_DELETE.</summary>
    private static byte[] MeterMod(ushort command, uint meter)
    {
        int len = command == 2 ? 16 : 32;
        var m = new byte[len];
        m[0] = 4; m[1] = (byte)Ofp13Type.MeterMod; m[3] = (byte)len;
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(8), command);
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(10), 1); // OFPMF_KBPS
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(12), meter);
        if (len == 32)
        {
            BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(16), 1);  // OFPMBT_DROP
            BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(18), 16);
            BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(20), 1000);
        }
        return m;
    }

    /// <summary>The messages before the reply to a barrier sent now.</summary>
    private static async Task<List<byte[]>> BeforeBarrierAsync(Controller13 c)
    {
        uint xid = c.Send(Ofp13Messages.Empty(Ofp13.Version, Ofp13Type.BarrierRequest, 0));
        var before = new List<byte[]>();
        while (true)
        {
            var m = await c.NextAsync() ?? throw new Xunit.Sdk.XunitException("no barrier reply");
            if (m[1] == (byte)Ofp13Type.BarrierReply && BinaryPrimitives.ReadUInt32BigEndian(m.AsSpan(4)) == xid) return before;
            before.Add(m);
        }
    }

    [Theory]
    [InlineData(0u)] // OFPRR_IDLE_TIMEOUT
    [InlineData(1u)] // OFPRR_HARD_TIMEOUT
    [InlineData(2u)] // OFPRR_DELETE
    [InlineData(3u)] // OFPRR_GROUP_DELETE
    public async Task AFlowRemovedMaskBit_SelectsTheRemovalsSentWithThatWireReason(uint wireReason)
    {
        await using var rig = new AgentRig();
        using var c = await Controller13.ConnectAsync(rig.ListenPort);
        c.Send(SetAsync([3, 0, 7, 7, 1u << (int)wireReason, 0]));
        // A flow that uses meter 1 and asks for its removal: deleting the meter removes it, sent as OFPRR_DELETE
        // (OpenFlow 1.3 has no METER_DELETE).
        c.Send(MeterMod(0, 1));
        var fm = new Ofp13FlowMod { Priority = 10, Flags = 1, BufferId = Ofp13.NoBuffer, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny };
        fm.Instructions.Add(new Ofp13Instruction(Ofp13InstructionType.Meter, MeterId: 1));
        c.Send(fm.Encode());
        Assert.DoesNotContain(await BeforeBarrierAsync(c), m => m[1] == (byte)Ofp13Type.Error);
        c.Send(MeterMod(2, 1));
        var removed = (await BeforeBarrierAsync(c)).Where(m => m[1] == (byte)Ofp13Type.FlowRemoved).ToList();
        if (wireReason == 2)
        {
            var r = Assert.Single(removed);
            Assert.Equal(2, r[18]); // ofp_flow_removed.reason
        }
        else
        {
            Assert.Empty(removed);
        }
    }

    private static byte[] SetConfig(ushort flags, ushort missSendLen)
    {
        var m = new byte[12];
        m[0] = 4; m[1] = (byte)Ofp13Type.SetConfig; m[3] = 12;
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(8), flags);
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(10), missSendLen);
        return m;
    }

    private static async Task<(ushort Flags, ushort MissSendLen)> GetConfigAsync(Controller13 c)
    {
        var reply = await c.ReplyAsync(c.Send(Ofp13Messages.Empty(Ofp13.Version, Ofp13Type.GetConfigRequest, 0)));
        Assert.Equal((byte)Ofp13Type.GetConfigReply, reply[1]);
        return (BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(8)), BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(10)));
    }

    [Fact]
    public async Task SetConfig_WithFragReasm_IsAcceptedWithoutAnError_AndGetConfigShowsWhatIsTrue()
    {
        // As Open vSwitch: reassembly is not supported, the fragment handling stays as it was; miss_send_len of the
        // same message is taken.
        await using var rig = new AgentRig();
        using var a = await Controller13.ConnectAsync(rig.ListenPort);
        a.Send(SetConfig(1, 128));
        a.Send(SetConfig(2, 300));
        var before = await BeforeBarrierAsync(a);
        Assert.DoesNotContain(before, m => m[1] == (byte)Ofp13Type.Error);
        Assert.Equal(((ushort)1, (ushort)300), await GetConfigAsync(a));
    }

    [Theory]
    [InlineData(4)]      // OFPC_INVALID_TTL_TO_CONTROLLER: OpenFlow 1.1's and 1.2's, not 1.3's
    [InlineData(8)]
    [InlineData(0x8001)]
    public async Task SetConfig_WithABitOpenFlow13DoesNotDefine_IsBadFlags_AndChangesNothing(ushort flags)
    {
        // As Open vSwitch's ofputil_decode_set_config: SWITCH_CONFIG_FAILED/BAD_FLAGS, nothing taken.
        await using var rig = new AgentRig();
        using var a = await Controller13.ConnectAsync(rig.ListenPort);
        a.Send(SetConfig(1, 200));
        Assert.Equal((Ofp13ErrorType.SwitchConfigFailed, Ofp13Codes.ConfigBadFlags), ErrorOf(await a.ReplyAsync(a.Send(SetConfig(flags, 300)))));
        Assert.Equal(((ushort)1, (ushort)200), await GetConfigAsync(a));
        Assert.False(rig.Switch.InvalidTtlToController);
    }

    [Fact]
    public async Task InvalidTtlPacketIns_AreAskedForWithSetAsync_AndGetConfigNeverShowsTheOldFlag()
    {
        await using var rig = new AgentRig();
        using var a = await Controller13.ConnectAsync(rig.ListenPort);
        // OFPR_INVALID_TTL (bit 2) in the master packet-in mask: the switch sends such packets up.
        a.Send(SetAsync([3 | 4, 0, 7, 7, 15, 0]));
        Assert.Equal(0, (await GetConfigAsync(a)).Flags);
        Assert.True(rig.Switch.InvalidTtlToController);
        a.Send(SetAsync([3, 0, 7, 7, 15, 0]));
        Assert.Equal(0, (await GetConfigAsync(a)).Flags);
        Assert.False(rig.Switch.InvalidTtlToController);
        // Asked for again, then the connection closes: nobody asks any more.
        a.Send(SetAsync([3 | 4, 0, 7, 7, 15, 0]));
        await GetConfigAsync(a);
        Assert.True(rig.Switch.InvalidTtlToController);
        a.Dispose();
        Assert.True(await Wait.UntilAsync(() => !rig.Switch.InvalidTtlToController));
    }

    [Fact]
    public async Task SetConfig_StoresASlavesMissSendLen_AndLeavesItTheFragments()
    {
        await using var rig = new AgentRig();
        using var b = await Controller13.ConnectAsync(rig.ListenPort);
        // A slave's miss_send_len is its own and is stored (as Open vSwitch does); the fragment handling is not its
        // to change, and it gets no error.
        Assert.Equal((3u, 1UL), RoleOf(await b.ReplyAsync(b.Send(Role(3, 1)))));
        b.Send(SetConfig(1, 64));
        var before = await BeforeBarrierAsync(b);
        Assert.DoesNotContain(before, m => m[1] == (byte)Ofp13Type.Error);
        Assert.Equal(((ushort)0, (ushort)64), await GetConfigAsync(b));
        Assert.Equal(Softswitch.Ofproto.FragmentHandling.Normal, rig.Switch.Fragments);
    }

    [Theory]
    [InlineData(1u)] // equal, asked for
    [InlineData(2u)] // master
    public async Task ANewcomerAtTheCapNeverClosesAQuietControllerInCharge(uint role)
    {
        await using var rig = new AgentRig(options: new AgentOptions { MaxConnectionsPerListener = 2 });
        var listener = rig.Agent.Listeners[0];
        using var inCharge = await Controller13.ConnectAsync(rig.ListenPort);
        Assert.Equal(role, RoleOf(await inCharge.ReplyAsync(inCharge.Send(Role(role, 0)))).Role);
        await Task.Delay(50);
        // A tool asks later: the controller in charge is the one idle longest.
        using var tool = await rig.ConnectAsync();
        await tool.BarrierAsync();
        await Task.Delay(50);
        using var newcomer = await rig.ConnectAsync();
        await newcomer.BarrierAsync();
        Assert.Equal(1, listener.EvictedIdle);
        tool.Send(new OfpFeaturesRequest());
        Assert.Null(await tool.ReceiveRawAsync(5000));
        var echo = Ofp13Messages.Empty(Ofp13.Version, Ofp13Type.EchoRequest, 0);
        Assert.Equal((byte)Ofp13Type.EchoReply, (await inCharge.ReplyAsync(inCharge.Send(echo)))[1]);
    }

    [Fact]
    public async Task TablesOutOfRange_GetTheirOwn13Errors_InFlowMods_TableMods_AndFlowStatistics()
    {
        await using var rig = new AgentRig();
        using var c = await Controller13.ConnectAsync(rig.ListenPort);
        var fm = new Ofp13FlowMod { TableId = 254, Priority = 1, BufferId = Ofp13.NoBuffer, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny };
        Assert.Equal((Ofp13ErrorType.FlowModFailed, Ofp13Codes.FlowModBadTableId), ErrorOf(await c.ReplyAsync(c.Send(fm.Encode()))));
        fm.TableId = Ofp13.TableAll;
        Assert.Equal((Ofp13ErrorType.FlowModFailed, Ofp13Codes.FlowModBadTableId), ErrorOf(await c.ReplyAsync(c.Send(fm.Encode()))));
        fm.TableId = 1;
        fm.Instructions.Add(new Ofp13Instruction(Ofp13InstructionType.GotoTable, TableId: 254));
        Assert.Equal((Ofp13ErrorType.BadInstruction, Ofp13Codes.InstBadTableId), ErrorOf(await c.ReplyAsync(c.Send(fm.Encode()))));

        Assert.Equal((Ofp13ErrorType.TableModFailed, Ofp13Codes.TableModBadTable), ErrorOf(await c.ReplyAsync(c.Send(new Ofp13TableMod { Version = Ofp13.Version, TableId = 254 }.Encode()))));
        Assert.Equal((Ofp13ErrorType.TableModFailed, Ofp13Codes.TableModBadConfig), ErrorOf(await c.ReplyAsync(c.Send(new Ofp13TableMod { Version = Ofp13.Version, Config = 4 }.Encode()))));
        // The deprecated bits, on a table that may be used and on every table: accepted (nothing before the barrier's reply).
        c.Send(new Ofp13TableMod { Version = Ofp13.Version, TableId = 253, Config = 3 }.Encode());
        c.Send(new Ofp13TableMod { Version = Ofp13.Version, TableId = Ofp13.TableAll }.Encode());
        Assert.Equal((byte)Ofp13Type.BarrierReply, (await c.ReplyAsync(c.Send(Ofp13Messages.Empty(Ofp13.Version, Ofp13Type.BarrierRequest, 0))))[1]);

        var fr = new Ofp13FlowStatsRequest { TableId = 254, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny };
        foreach (var type in new[] { Ofp13MultipartType.Flow, Ofp13MultipartType.Aggregate })
        {
            var mp = new Ofp13MultipartRequest { Version = Ofp13.Version, Type = type }.Encode(fr.Encode());
            Assert.Equal((Ofp13ErrorType.BadRequest, Ofp13Codes.BadTableId), ErrorOf(await c.ReplyAsync(c.Send(mp))));
        }
        // A table that may be used but holds nothing: an empty reply, no error.
        fr.TableId = 9;
        var empty = await c.ReplyAsync(c.Send(new Ofp13MultipartRequest { Version = Ofp13.Version, Type = Ofp13MultipartType.Flow }.Encode(fr.Encode())));
        Assert.Equal(((byte)Ofp13Type.MultipartReply, (ushort)Ofp13Multipart.HeaderSize), (empty[1], BinaryPrimitives.ReadUInt16BigEndian(empty.AsSpan(2))));
    }

    [Fact]
    public async Task AMalformedStreamOnA13Connection_IsAnsweredIn13_ThenClosed()
    {
        await using var rig = new AgentRig();
        using var c = await Controller13.ConnectAsync(rig.ListenPort);
        await c.ReplyAsync(c.Send(Ofp13Messages.Empty(Ofp13.Version, Ofp13Type.BarrierRequest, 0)));
        uint xid = c.Send([4, (byte)Ofp13Type.EchoRequest, 0, 4, 0, 0, 0, 0]); // length 4 < 8: the stream cannot be followed
        var error = await c.ReplyAsync(xid);
        Assert.Equal(Ofp13.Version, error[0]);
        Assert.Equal((Ofp13ErrorType.BadRequest, Ofp13Codes.BadLen), ErrorOf(error));
        Assert.Null(await c.NextAsync(2000));
    }

    [Fact]
    public async Task AMalformedFirstMessage_IsAnsweredInItsHeadersVersion()
    {
        await using var rig = new AgentRig();
        using var s = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await s.ConnectAsync(IPAddress.Loopback, rig.ListenPort);
        // No HELLO from this peer: nothing is agreed, so the error speaks the version the malformed header names.
        s.Send([4, (byte)Ofp13Type.FeaturesRequest, 0, 5, 0, 0, 0, 77]);
        var got = new List<byte>();
        var tmp = new byte[4096];
        using var cts = new CancellationTokenSource(5000);
        while (true)
        {
            int n;
            try { n = await s.ReceiveAsync(tmp, SocketFlags.None, cts.Token); }
            catch (OperationCanceledException) { break; }
            if (n == 0) break;
            got.AddRange(tmp.AsSpan(0, n).ToArray());
        }
        var all = got.ToArray();
        int at = (all[2] << 8) | all[3]; // the switch's HELLO comes first
        Assert.Equal((byte)Ofp13Type.Hello, all[1]);
        var error = all[at..];
        Assert.Equal((Ofp13.Version, (byte)Ofp13Type.Error, 77u), (error[0], error[1], BinaryPrimitives.ReadUInt32BigEndian(error.AsSpan(4))));
        Assert.Equal((Ofp13ErrorType.BadRequest, Ofp13Codes.BadLen), ErrorOf(error));
    }

    [Fact]
    public async Task MalformedRequestsGetTheir13Errors_AndTheConnectionGoesOn()
    {
        await using var rig = new AgentRig();
        using var c = await Controller13.ConnectAsync(rig.ListenPort);
        byte[] Header(Ofp13Type t, int len)
        {
            var m = new byte[len];
            m[0] = 4; m[1] = (byte)t; m[2] = (byte)(len >> 8); m[3] = (byte)len;
            return m;
        }
        Assert.Equal((Ofp13ErrorType.BadRequest, Ofp13Codes.BadLen), ErrorOf(await c.ReplyAsync(c.Send(Header(Ofp13Type.FlowMod, 20)))));
        Assert.Equal((Ofp13ErrorType.BadRequest, Ofp13Codes.BadType), ErrorOf(await c.ReplyAsync(c.Send(Header(Ofp13Type.PacketIn, 8)))));
        Assert.Equal((Ofp13ErrorType.BadRequest, Ofp13Codes.BadType), ErrorOf(await c.ReplyAsync(c.Send(Header((Ofp13Type)40, 8)))));
        Assert.Equal((Ofp13ErrorType.BadRequest, Ofp13Codes.BadExperimenter), ErrorOf(await c.ReplyAsync(c.Send(Header(Ofp13Type.Experimenter, 16)))));
        var mp = Header(Ofp13Type.MultipartRequest, 16);
        mp[9] = 99;
        Assert.Equal((Ofp13ErrorType.BadRequest, Ofp13Codes.BadMultipart), ErrorOf(await c.ReplyAsync(c.Send(mp))));
        // A match with a field twice, and one without its prerequisite.
        var fm = new Ofp13FlowMod { BufferId = Ofp13.NoBuffer, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny };
        fm.Match.Add(Ofp13Oxm.Exact(5, 0x0800));
        fm.Match.Add(Ofp13Oxm.Exact(5, 0x0800));
        Assert.Equal((Ofp13ErrorType.BadMatch, Ofp13Codes.MatchDupField), ErrorOf(await c.ReplyAsync(c.Send(fm.Encode()))));
        fm.Match.Clear();
        fm.Match.Add(Ofp13Oxm.Exact(14, 80));
        Assert.Equal((Ofp13ErrorType.BadMatch, Ofp13Codes.MatchBadPrereq), ErrorOf(await c.ReplyAsync(c.Send(fm.Encode()))));
        // A set-field whose prerequisite the match lacks (ipv4_src on a flow of any ethertype); with it, accepted.
        fm.Match.Clear();
        fm.Instructions.Add(new Ofp13Instruction(Ofp13InstructionType.ApplyActions, Actions: [Ofp13Action.SetField(Ofp13Oxm.Exact(11, 0x0a000001))]));
        Assert.Equal((Ofp13ErrorType.BadAction, Ofp13Codes.ActionMatchInconsistent), ErrorOf(await c.ReplyAsync(c.Send(fm.Encode()))));
        fm.Match.Add(Ofp13Oxm.Exact(5, 0x0800));
        c.Send(fm.Encode());
        var barrier = await c.ReplyAsync(c.Send(Ofp13Messages.Empty(Ofp13.Version, Ofp13Type.BarrierRequest, 0)));
        Assert.Equal((byte)Ofp13Type.BarrierReply, barrier[1]);
        var all = new Softswitch.Ofproto.FlowStatsRequest(Softswitch.Ofproto.OfMatch.Any, Rules: Softswitch.Ofproto.MatchRules.OpenFlow13);
        Assert.Equal(1u, rig.Switch.Totals(all).FlowCount);
        // Still connected: an echo comes back.
        var echo = Header(Ofp13Type.EchoRequest, 8);
        uint x = c.Send(echo);
        Assert.Equal((byte)Ofp13Type.EchoReply, (await c.ReplyAsync(x))[1]);
    }

    [Fact]
    public async Task MutatedPublicVectorsNeverBreakTheSwitch()
    {
        // Every vector of the corpus with a few bytes flipped (the header kept), to a live switch: each gets an answer
        // or nothing, the connection stays up, and nothing is logged as an unexpected error.
        await using var rig = new AgentRig();
        using var c = await Controller13.ConnectAsync(rig.ListenPort);
        var rng = new Random(1313);
        int sent = 0;
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Vectors", "of13"), "*.packet").Order())
        {
            var original = File.ReadAllBytes(file);
            // Messages a controller sends only: requests and their mutations (HELLO would be harmless, ERROR is never answered).
            if (original[1] is (byte)Ofp13Type.Hello or (byte)Ofp13Type.Error || original.Length <= 8) continue;
            for (int i = 0; i < 20; i++)
            {
                var m = (byte[])original.Clone();
                for (int k = rng.Next(1, 4); k > 0; k--) m[rng.Next(8, m.Length)] ^= (byte)rng.Next(1, 256);
                c.Send(m);
                sent++;
            }
            var echo = new byte[8];
            echo[0] = 4; echo[1] = (byte)Ofp13Type.EchoRequest; echo[3] = 8;
            uint xid = c.Send(echo);
            var reply = await c.ReplyAsync(xid);
            Assert.Equal((byte)Ofp13Type.EchoReply, reply[1]);
        }
        Assert.True(sent > 1000);
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    [Fact]
    public async Task FeaturesAndTableFeatures_AdvertiseEachWireValueTheSwitchTakes()
    {
        await using var rig = new AgentRig();
        using var c = await Controller13.ConnectAsync(rig.ListenPort);
        // FEATURES_REPLY capabilities (ofp_switch_features.capabilities, 24 bytes in), bit by bit.
        var features = await c.ReplyAsync(c.Send(Ofp13Messages.Empty(Ofp13.Version, Ofp13Type.FeaturesRequest, 0)));
        uint caps = BinaryPrimitives.ReadUInt32BigEndian(features.AsSpan(24));
        foreach (var (bit, name, expected) in new (uint, string, bool)[]
                 {
                     (1, "FLOW_STATS", true), (2, "TABLE_STATS", true), (4, "PORT_STATS", true), (8, "GROUP_STATS", true),
                     (32, "IP_REASM", false), (64, "QUEUE_STATS", true), (256, "PORT_BLOCKED", false),
                 })
        {
            Assert.True(((caps & bit) != 0) == expected, $"OFPC_{name}: advertised {(caps & bit) != 0}, expected {expected}");
        }

        // TABLE_FEATURES of table 0: its properties, type -> the ids listed (4 bytes each for instructions and actions).
        var request = new byte[16];
        request[0] = 4; request[1] = (byte)Ofp13Type.MultipartRequest; request[3] = 16; request[9] = 12;
        var reply = await c.ReplyAsync(c.Send(request));
        int entry = 16, entryLen = BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(entry));
        var props = new Dictionary<ushort, List<ushort>>();
        for (int at = entry + 64; at < entry + entryLen;)
        {
            ushort type = BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(at)), len = BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(at + 2));
            var ids = new List<ushort>();
            if (type is 0 or 4 or 6)
            {
                for (int k = at + 4; k < at + len; k += 4) ids.Add(BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(k)));
            }
            props[type] = ids;
            at += (len + 7) & ~7;
        }
        foreach (var t in Enum.GetValues<Ofp13InstructionType>())
        {
            bool expected = t != Ofp13InstructionType.Experimenter;
            Assert.True(props[0].Contains((ushort)t) == expected, $"instruction {t}: expected listed {expected}");
        }
        foreach (var t in Enum.GetValues<Ofp13ActionType>())
        {
            bool expected = t is not Ofp13ActionType.Experimenter and not Ofp13ActionType.Meter and not Ofp13ActionType.CopyField; // 1.5's meter and copy-field are not 1.3's
            Assert.True(props[4].Contains((ushort)t) == expected, $"write-actions {t}: expected listed {expected}");
            Assert.True(props[6].Contains((ushort)t) == expected, $"apply-actions {t}: expected listed {expected}");
        }
    }

    [Fact]
    public async Task FlowAndGroupModsTooLongToReadBack_AreRefused()
    {
        await using var rig = new AgentRig();
        using var c = await Controller13.ConnectAsync(rig.ListenPort);
        byte[] FlowMod(int outputs)
        {
            var fm = new Ofp13FlowMod { Priority = 1, BufferId = Ofp13.NoBuffer, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny };
            fm.Instructions.Add(new Ofp13Instruction(Ofp13InstructionType.ApplyActions, Actions: [.. Enumerable.Repeat(Ofp13Action.Output(1), outputs)]));
            return fm.Encode();
        }
        // 64 bytes before the actions, 16 per output: 4090 make a 65504-byte flow, 4091 one of 65520 (a stats entry's length holds 65519).
        Assert.Equal(65504, FlowMod(4090).Length);
        Assert.Equal((Ofp13ErrorType.BadAction, Ofp13Codes.ActionTooMany), ErrorOf(await c.ReplyAsync(c.Send(FlowMod(4091)))));
        c.Send(FlowMod(4090));
        Assert.Equal((byte)Ofp13Type.BarrierReply, (await c.ReplyAsync(c.Send(Ofp13Messages.Empty(Ofp13.Version, Ofp13Type.BarrierRequest, 0))))[1]);
        var all = new Softswitch.Ofproto.FlowStatsRequest(Softswitch.Ofproto.OfMatch.Any, Rules: Softswitch.Ofproto.MatchRules.OpenFlow13);
        Assert.Equal(1u, rig.Switch.Totals(all).FlowCount);

        // A group: 16 bytes, a 16-byte bucket header, an output and N set_queues (8 bytes each): 8185 make 65528 bytes, a
        // GROUP_DESC entry of 65520.
        var w = new Ofp13Writer(70000);
        int start = w.Begin(Ofp13.Version, Ofp13Type.GroupMod, 0);
        w.U16(0); w.U8(0); w.U8(0); w.U32(1);                       // ADD, ALL, group 1
        int bucket = w.Position;
        w.U16(0); w.U16(0); w.U32(Ofp13.PortAny); w.U32(Ofp13.GroupAny); w.Zeros(4);
        w.U16(0); w.U16(16); w.U32(1); w.U16(0xffe5); w.Zeros(6);   // output:1
        for (int i = 0; i < 8185; i++) { w.U16(21); w.U16(8); w.U32(0); } // set_queue:0
        w.PatchU16(bucket, (ushort)(w.Position - bucket));
        w.Finish(start);
        var groupMod = w.ToArray();
        Assert.Equal(65528, groupMod.Length);
        Assert.Equal((Ofp13ErrorType.BadAction, Ofp13Codes.ActionTooMany), ErrorOf(await c.ReplyAsync(c.Send(groupMod))));
        Assert.Empty(rig.Switch.GroupDescriptions());

        // One set_queue fewer: a GROUP_DESC entry of 65512 bytes, read back whole.
        var fits = groupMod[..^8];
        BinaryPrimitives.WriteUInt16BigEndian(fits.AsSpan(2), (ushort)fits.Length);
        BinaryPrimitives.WriteUInt16BigEndian(fits.AsSpan(16), (ushort)(fits.Length - 16));
        c.Send(fits);
        var desc = await c.ReplyAsync(c.Send(MultipartRequest(Ofp13MultipartType.GroupDesc)));
        Assert.Equal((byte)Ofp13Type.MultipartReply, desc[1]);
        Assert.Equal(65512, BinaryPrimitives.ReadUInt16BigEndian(desc.AsSpan(16)));
        Assert.Equal(16 + 65512, desc.Length);
    }

    private static byte[] MultipartRequest(Ofp13MultipartType type, int bodySize = 0)
    {
        var m = new byte[16 + bodySize];
        m[0] = 4; m[1] = (byte)Ofp13Type.MultipartRequest;
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(2), (ushort)m.Length);
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(8), (ushort)type);
        return m;
    }

    /// <summary>A 1.3 flow-stats request for every flow (table all, out_port and out_group any, an empty match).</summary>
    private static byte[] AllFlowsRequest()
    {
        var m = MultipartRequest(Ofp13MultipartType.Flow, 40);
        m[16] = 0xff;
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(20), Ofp13.PortAny);
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(24), Ofp13.GroupAny);
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(48), 1); // OFPMT_OXM
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(50), 4);
        return m;
    }

    [Fact]
    public async Task AnOpenFlow10FlowTooLongForOneThreesReadBack_IsRefused()
    {
        await using var rig = new AgentRig();
        using var of10 = await rig.ConnectAsync();
        using var of13 = await Controller13.ConnectAsync(rig.ListenPort);
        OfpFlowMod Outputs(int n)
        {
            var fm = new OfpFlowMod { Command = OfpFlowModCommand.Add, Priority = 7, Match = OfpMatch.All };
            fm.Actions.AddRange(Enumerable.Repeat(OfpAction.Output(2), n));
            return fm;
        }
        // 8 bytes an output in 1.0, 16 in 1.3: 4091 outputs make a 1.3 entry of 48 + 8 (empty match) + 8 + 65456 = 65520 bytes.
        uint x = of10.Send(Outputs(4091));
        var e = await of10.ReceiveAsync<OfpErrorMsg>();
        Assert.Equal((OfpErrorType.BadAction, (ushort)OfpBadActionCode.TooMany, x), (e.ErrorType, e.Code, e.Xid));
        of10.Send(Outputs(4090));
        await of10.BarrierAsync();
        var reply = await of13.ReplyAsync(of13.Send(AllFlowsRequest()));
        Assert.True((byte)Ofp13Type.MultipartReply == reply[1], Convert.ToHexString(reply.AsSpan(0, Math.Min(reply.Length, 80))));
        Assert.Equal(65504, BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(16)));
        Assert.Equal(16 + 65504, reply.Length);
    }

    [Fact]
    public async Task AnOpenFlow13FlowTooLongForOneZerosReadBack_IsRefused()
    {
        await using var rig = new AgentRig();
        using var of13 = await Controller13.ConnectAsync(rig.ListenPort);
        using var of10 = await rig.ConnectAsync();
        byte[] TunnelIds(int n)
        {
            var fm = new Ofp13FlowMod { Priority = 7, BufferId = Ofp13.NoBuffer, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny };
            var set = Ofp13Action.SetField(Ofp13Oxm.Exact(38, 0x1_0000_0001)); // tunnel_id past 32 bits
            fm.Instructions.Add(new Ofp13Instruction(Ofp13InstructionType.ApplyActions, Actions: [.. Enumerable.Repeat(set, n)]));
            return fm.Encode();
        }
        // 16 bytes a set_field in 1.3, 24 (the NXAST_REG_LOAD Open vSwitch writes for it) in 1.0: 2727 make a 1.0 entry of 88 + 65448 = 65536 bytes.
        Assert.Equal((Ofp13ErrorType.BadAction, Ofp13Codes.ActionTooMany), ErrorOf(await of13.ReplyAsync(of13.Send(TunnelIds(2727)))));
        of13.Send(TunnelIds(2726));
        Assert.Equal((byte)Ofp13Type.BarrierReply, (await of13.ReplyAsync(of13.Send(Ofp13Messages.Empty(Ofp13.Version, Ofp13Type.BarrierRequest, 0))))[1]);
        of10.Send(new OfpFlowStatsRequest { Match = OfpMatch.All, TableId = 0xFF, OutPort = (ushort)OfpPort.None });
        Assert.Equal(2726, (await of10.ReceiveAsync<OfpFlowStatsReply>()).Flows.Single().Actions.Count);
    }

    public static TheoryData<Ofp13MultipartType> MultipartTypes => [.. Enum.GetValues<Ofp13MultipartType>()];

    /// <summary>The statistics handler's list of what it answers (FEATURES_REPLY's bits come from it), held to what it does per type.</summary>
    [Theory]
    [MemberData(nameof(MultipartTypes))]
    public async Task AMultipartType_IsAnsweredExactlyWhenTheHandlerSaysSo(Ofp13MultipartType type)
    {
        await using var rig = new AgentRig();
        using var c = await Controller13.ConnectAsync(rig.ListenPort);
        // The header alone: a type that needs a body is answered BAD_LEN, one not answered at all BAD_MULTIPART (or BAD_EXPERIMENTER).
        var reply = await c.ReplyAsync(c.Send(MultipartRequest(type)));
        bool refused = reply[1] == (byte)Ofp13Type.Error
                       && ErrorOf(reply) is (Ofp13ErrorType.BadRequest, Ofp13Codes.BadMultipart or Ofp13Codes.BadExperimenter);
        Assert.Equal(OfAgent.Of13.Handlers.StatsHandler.Answers(type), !refused);
    }

    private static byte[] GroupMod(byte type, uint groupId, params Ofp13Action[] actions)
    {
        var w = new Ofp13Writer();
        int start = w.Begin(Ofp13.Version, Ofp13Type.GroupMod, 0);
        w.U16(0); w.U8(type); w.U8(0); w.U32(groupId);
        // A bucket every type takes: weight 1 (select), watching port 1 (fast failover).
        Ofp13Buckets.Encode(w, [new Ofp13Bucket(type == 1 ? (ushort)1 : (ushort)0, type == 3 ? 1u : Ofp13.PortAny, Ofp13.GroupAny, [.. actions])]);
        w.Finish(start);
        return w.ToArray();
    }

    private static async Task<Ofp13GroupFeatures> GroupFeaturesAsync(Controller13 c)
    {
        var reply = await c.ReplyAsync(c.Send(MultipartRequest(Ofp13MultipartType.GroupFeatures)));
        Assert.True(Ofp13GroupFeatures.TryRead(reply.AsSpan(16), out var features, out _));
        return features!;
    }

    private static async Task<bool> TakenAsync(Controller13 c, byte[] msg)
    {
        uint xid = c.Send(msg), barrier = c.Send(Ofp13Messages.Empty(Ofp13.Version, Ofp13Type.BarrierRequest, 0));
        while (true)
        {
            var m = await c.NextAsync() ?? throw new Xunit.Sdk.XunitException("no barrier reply");
            uint of = BinaryPrimitives.ReadUInt32BigEndian(m.AsSpan(4));
            if (of == xid && m[1] == (byte)Ofp13Type.Error) return false;
            if (of == barrier) return true;
        }
    }

    public static TheoryData<byte> GroupTypes => [0, 1, 2, 3, 4];

    [Theory]
    [MemberData(nameof(GroupTypes))]
    public async Task AGroupTypesBit_IsSetExactlyWhenAGroupOfItIsTaken(byte type)
    {
        await using var rig = new AgentRig();
        using var c = await Controller13.ConnectAsync(rig.ListenPort);
        bool taken = await TakenAsync(c, GroupMod(type, 1, Ofp13Action.Output(2)));
        Assert.Equal(taken, ((await GroupFeaturesAsync(c)).Types & (1u << type)) != 0);
        Assert.Equal(type < 4, taken);
    }

    // 1.5's meter action is no bucket action (BAD_TYPE, as Open vSwitch), nor a 1.3 action: not listed; nor is 1.5's
    // copy-field (a move: no bucket action either).
    public static TheoryData<Ofp13ActionType> BucketActionTypes
        => [.. Enum.GetValues<Ofp13ActionType>().Where(t => t is not Ofp13ActionType.Experimenter and not Ofp13ActionType.Meter and not Ofp13ActionType.CopyField)];

    [Theory]
    [MemberData(nameof(BucketActionTypes))]
    public async Task AGroupActionBit_IsSetExactlyWhenABucketWithItIsTaken(Ofp13ActionType type)
    {
        await using var rig = new AgentRig();
        using var c = await Controller13.ConnectAsync(rig.ListenPort);
        Assert.True(await TakenAsync(c, GroupMod(0, 2, Ofp13Action.Output(3))));
        var action = type switch
        {
            Ofp13ActionType.Output => Ofp13Action.Output(2),
            Ofp13ActionType.SetMplsTtl or Ofp13ActionType.SetNwTtl => new Ofp13Action(type, 5),
            Ofp13ActionType.PushVlan => new Ofp13Action(type, 0x8100),
            Ofp13ActionType.PushMpls => new Ofp13Action(type, 0x8847),
            Ofp13ActionType.PopMpls => new Ofp13Action(type, 0x0800),
            Ofp13ActionType.PushPbb => new Ofp13Action(type, 0x88e7),
            Ofp13ActionType.SetQueue => new Ofp13Action(type, 0),
            Ofp13ActionType.Group => new Ofp13Action(type, 2),
            Ofp13ActionType.SetField => Ofp13Action.SetField(Ofp13Oxm.Exact(3, 0x0200_0000_0009)),
            _ => new Ofp13Action(type),
        };
        bool taken = await TakenAsync(c, GroupMod(0, 1, action));
        var features = await GroupFeaturesAsync(c);
        Assert.True(taken, $"{type}: a bucket with it was refused");
        Assert.All(features.Actions, bits => Assert.Equal(taken, (bits & (1u << (int)type)) != 0));
    }

    /// <summary>The OXM fields table 0's TABLE_FEATURES lists in property <paramref name="propType"/> (12 write-setfield, 14 apply-setfield).</summary>
    private static async Task<List<byte>> Table0FieldsAsync(Controller13 c, ushort propType)
    {
        var reply = await c.ReplyAsync(c.Send(MultipartRequest(Ofp13MultipartType.TableFeatures)));
        int entry = 16, entryLen = BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(entry));
        Assert.Equal(0, reply[entry + 2]);
        var fields = new List<byte>();
        for (int at = entry + 64; at < entry + entryLen;)
        {
            ushort type = BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(at)), len = BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(at + 2));
            if (type == propType)
            {
                for (int k = at + 4; k < at + len; k += 4) fields.Add((byte)(reply[k + 2] >> 1));
            }
            at += (len + 7) & ~7;
        }
        return fields;
    }

    /// <summary>Every OXM field, with a match its set-field's prerequisites hold for (ethertype, IP protocol, ICMPv6 type, a VLAN).</summary>
    public static TheoryData<byte> OxmFields => [.. Enumerable.Range(0, 40).Select(f => (byte)f)];

    private static Ofp13Oxm[] PrerequisitesOf(byte field)
    {
        Ofp13Oxm Type(ushort t) => Ofp13Oxm.Exact(5, t);
        Ofp13Oxm Proto(byte p) => Ofp13Oxm.Exact(10, p);
        return field switch
        {
            6 or 7 => [Ofp13Oxm.Exact(6, 0x1000 | 10)],
            8 or 9 or 10 or 11 or 12 => [Type(0x0800)],
            13 or 14 => [Type(0x0800), Proto(6)],
            15 or 16 => [Type(0x0800), Proto(17)],
            17 or 18 => [Type(0x0800), Proto(132)],
            19 or 20 => [Type(0x0800), Proto(1)],
            >= 21 and <= 25 => [Type(0x0806)],
            26 or 27 or 28 => [Type(0x86dd)],
            29 or 30 => [Type(0x86dd), Proto(58)],
            31 or 32 => [Type(0x86dd), Proto(58), Ofp13Oxm.Exact(29, 135)],
            33 => [Type(0x86dd), Proto(58), Ofp13Oxm.Exact(29, 136)],
            34 or 35 or 36 => [Type(0x8847)],
            37 => [Type(0x88e7)],
            _ => [],
        };
    }

    [Theory]
    [MemberData(nameof(OxmFields))]
    public async Task ASetFieldsField_IsListedExactlyWhenAFlowSettingItIsTaken(byte field)
    {
        await using var rig = new AgentRig();
        using var c = await Controller13.ConnectAsync(rig.ListenPort);
        var fm = new Ofp13FlowMod { Priority = 5, BufferId = Ofp13.NoBuffer, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny };
        fm.Match.AddRange(PrerequisitesOf(field));
        // A value every field takes (a VLAN id with OFPVID_PRESENT, a one elsewhere).
        fm.Instructions.Add(new Ofp13Instruction(Ofp13InstructionType.ApplyActions, Actions: [Ofp13Action.SetField(Ofp13Oxm.Exact(field, field == 6 ? 0x1001u : 1u))]));
        bool taken = await TakenAsync(c, fm.Encode());
        Assert.Equal(taken, (await Table0FieldsAsync(c, 14)).Contains(field));
        Assert.Equal(taken, (await Table0FieldsAsync(c, 12)).Contains(field));
        Assert.Equal(field is not (0 or 1 or 2 or 39), taken);
    }

    [Fact]
    public async Task WatchCyclesAreRefusedWithBadWatch_AndChainsTooDeepWithChainingUnsupported()
    {
        await using var rig = new AgentRig();
        using var c = await Controller13.ConnectAsync(rig.ListenPort);
        // A fast-failover group of one bucket (output:1) watching a port or a group.
        static byte[] FastFailover(ushort command, uint id, uint watchPort, uint watchGroup)
        {
            var w = new Ofp13Writer(128);
            int start = w.Begin(Ofp13.Version, Ofp13Type.GroupMod, 0);
            w.U16(command); w.U8(3); w.U8(0); w.U32(id);
            w.U16(32); w.U16(0); w.U32(watchPort); w.U32(watchGroup); w.Zeros(4);
            w.U16(0); w.U16(16); w.U32(1); w.U16(0xffe5); w.Zeros(6);
            w.Finish(start);
            return w.ToArray();
        }
        // An indirect group of one bucket applying a group.
        static byte[] Indirect(ushort command, uint id, uint applies)
        {
            var w = new Ofp13Writer(128);
            int start = w.Begin(Ofp13.Version, Ofp13Type.GroupMod, 0);
            w.U16(command); w.U8(2); w.U8(0); w.U32(id);
            w.U16(24); w.U16(0); w.U32(Ofp13.PortAny); w.U32(Ofp13.GroupAny); w.Zeros(4);
            w.U16(22); w.U16(8); w.U32(applies);
            w.Finish(start);
            return w.ToArray();
        }
        var badWatch = (Ofp13ErrorType.GroupModFailed, Ofp13Codes.GroupBadWatch);
        Assert.Equal(badWatch, ErrorOf(await c.ReplyAsync(c.Send(FastFailover(0, 1, Ofp13.PortAny, 1)))));
        c.Send(FastFailover(0, 1, 1, Ofp13.GroupAny));
        c.Send(FastFailover(0, 2, Ofp13.PortAny, 1));
        Assert.Equal(badWatch, ErrorOf(await c.ReplyAsync(c.Send(FastFailover(1, 1, Ofp13.PortAny, 2)))));
        Assert.Equal(2, rig.Switch.GroupDescriptions().Count);

        // A chain of eight indirect groups (10 at the bottom applies 1): no group may come above 17.
        c.Send(FastFailover(0, 9, 1, Ofp13.GroupAny));
        for (uint id = 10; id < 17; id++) c.Send(Indirect(0, id, id == 10 ? 9 : id - 1));
        Assert.Equal((Ofp13ErrorType.GroupModFailed, Ofp13Codes.GroupChainingUnsupported), ErrorOf(await c.ReplyAsync(c.Send(Indirect(0, 17, 16)))));
        Assert.Equal(10, rig.Switch.GroupDescriptions().Count);
    }

    /// <summary>
    /// A 1.3 flow-mod with a flag bit 1.3 does not define (past NO_BYT_COUNTS, 0x10) is FLOW_MOD_FAILED/BAD_FLAGS, as
    /// Open vSwitch's ofputil_decode_flow_mod_flags answers (OF1.2+(5,7)); the five it defines pass, 1.0's EMERG being
    /// 1.3's RESET_COUNTS.
    /// </summary>
    [Fact]
    public void FlowModWithAFlagOneThreeDoesNotDefine_IsBadFlags()
    {
        foreach (ushort flags in new ushort[] { 0x20, 0x80, 0x8000 })
        {
            var fm = new Ofp13FlowMod { Priority = 1, Flags = flags, BufferId = Ofp13.NoBuffer, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny };
            Assert.False(Softswitch.OfAgent.Of13.Handlers.FlowModHandler.TryFlowMod(fm.Encode(), out _, out var error));
            Assert.Equal(Ofp13Error.FlowModFailed(Ofp13Codes.FlowModBadFlags), error);
        }
        var all = new Ofp13FlowMod { Priority = 1, Flags = 0x1f, BufferId = Ofp13.NoBuffer, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny };
        Assert.True(Softswitch.OfAgent.Of13.Handlers.FlowModHandler.TryFlowMod(all.Encode(), out _, out var e), e.ToString());
    }
}
