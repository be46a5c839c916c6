using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Session;

/// <summary>OpenFlow 1.3 over a real socket with a codec-built controller: roles, async configuration, errors.</summary>
public sealed class Of13SessionTests
{
    /// <summary>A minimal OpenFlow 1.3 controller: HELLO with a bitmap of 1.3 only, then raw messages.</summary>
    private sealed class Controller13 : IDisposable
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
        c.Send(Ofp13Messages.Empty(Ofp13Type.BarrierRequest, 0));
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
        c.Send(Ofp13Messages.Empty(Ofp13Type.BarrierRequest, 0));
        Assert.Equal((byte)Ofp13Type.BarrierReply, (await c.NextAsync())![1]);
        long changes = flows.Pipeline.Changes.Version;

        // 400 flow-mods over two tables in one write, and nothing after them: the connection ends its run when it has
        // handled what it read, so they take effect without a barrier, published a few times, not 400.
        const int n = 200;
        var burst = new List<byte>();
        for (uint i = 0; i < n; i++)
        {
            burst.AddRange(FlowModIn(1, i + 1));
            burst.AddRange(FlowModIn(2, i + 1));
        }
        c.Send(burst.ToArray());
        // (in_port 100 is one of them: it replaces the flow added first.)
        Assert.True(await Wait.UntilAsync(() => flows.GetTableStats(1).ActiveCount == n && flows.GetTableStats(2).ActiveCount == n));
        long published = flows.Pipeline.Changes.Version - changes;
        Assert.InRange(published, 2, n);

        // Another kind of message ends the run before it is handled: a barrier in the middle of a write is answered
        // with the flow-mods before it published (table 1's), while those after it (table 2's) are still being applied.
        burst.Clear();
        for (uint i = 0; i < n; i++) burst.AddRange(FlowModIn(1, 1000 + i));
        burst.AddRange(Ofp13Messages.Empty(Ofp13Type.BarrierRequest, 77));
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
        var barrier = b.Send(Ofp13Messages.Empty(Ofp13Type.BarrierRequest, 0));
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
        var get = await c.ReplyAsync(c.Send(Ofp13Messages.Empty(Ofp13Type.GetAsyncRequest, 0)));
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
        get = await c.ReplyAsync(c.Send(Ofp13Messages.Empty(Ofp13Type.GetAsyncRequest, 0)));
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
        uint xid = c.Send(Ofp13Messages.Empty(Ofp13Type.BarrierRequest, 0));
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
        var reply = await c.ReplyAsync(c.Send(Ofp13Messages.Empty(Ofp13Type.GetConfigRequest, 0)));
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
        var echo = Ofp13Messages.Empty(Ofp13Type.EchoRequest, 0);
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

        Assert.Equal((Ofp13ErrorType.TableModFailed, Ofp13Codes.TableModBadTable), ErrorOf(await c.ReplyAsync(c.Send(Ofp13Requests.TableMod(0, 254, 0)))));
        Assert.Equal((Ofp13ErrorType.TableModFailed, Ofp13Codes.TableModBadConfig), ErrorOf(await c.ReplyAsync(c.Send(Ofp13Requests.TableMod(0, 0, 4)))));
        // The deprecated bits, on a table that may be used and on every table: accepted (nothing before the barrier's reply).
        c.Send(Ofp13Requests.TableMod(0, 253, 3));
        c.Send(Ofp13Requests.TableMod(0, Ofp13.TableAll, 0));
        Assert.Equal((byte)Ofp13Type.BarrierReply, (await c.ReplyAsync(c.Send(Ofp13Messages.Empty(Ofp13Type.BarrierRequest, 0))))[1]);

        var fr = new Ofp13FlowStatsRequest { TableId = 254, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny };
        foreach (var type in new[] { Ofp13MultipartType.Flow, Ofp13MultipartType.Aggregate })
        {
            var mp = Ofp13Requests.Multipart(0, type, 0, Ofp13Requests.FlowStatsRequest(fr));
            Assert.Equal((Ofp13ErrorType.BadRequest, Ofp13Codes.BadTableId), ErrorOf(await c.ReplyAsync(c.Send(mp))));
        }
        // A table that may be used but holds nothing: an empty reply, no error.
        fr.TableId = 9;
        var empty = await c.ReplyAsync(c.Send(Ofp13Requests.Multipart(0, Ofp13MultipartType.Flow, 0, Ofp13Requests.FlowStatsRequest(fr))));
        Assert.Equal(((byte)Ofp13Type.MultipartReply, (ushort)Ofp13Multipart.HeaderSize), (empty[1], BinaryPrimitives.ReadUInt16BigEndian(empty.AsSpan(2))));
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
        var barrier = await c.ReplyAsync(c.Send(Ofp13Messages.Empty(Ofp13Type.BarrierRequest, 0)));
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
        var features = await c.ReplyAsync(c.Send(Ofp13Messages.Empty(Ofp13Type.FeaturesRequest, 0)));
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
            bool expected = t != Ofp13ActionType.Experimenter;
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
        Assert.Equal((Ofp13ErrorType.BadRequest, Ofp13Codes.BadLen), ErrorOf(await c.ReplyAsync(c.Send(FlowMod(4091)))));
        c.Send(FlowMod(4090));
        Assert.Equal((byte)Ofp13Type.BarrierReply, (await c.ReplyAsync(c.Send(Ofp13Messages.Empty(Ofp13Type.BarrierRequest, 0))))[1]);
        var all = new Softswitch.Ofproto.FlowStatsRequest(Softswitch.Ofproto.OfMatch.Any, Rules: Softswitch.Ofproto.MatchRules.OpenFlow13);
        Assert.Equal(1u, rig.Switch.Totals(all).FlowCount);

        // A group: 16 bytes, a 16-byte bucket header, an output and N set_queues (8 bytes each): 8185 make 65528 bytes, a
        // GROUP_DESC entry of 65520.
        var w = new Ofp13Writer(70000);
        int start = w.Begin(Ofp13Type.GroupMod, 0);
        w.U16(0); w.U8(0); w.U8(0); w.U32(1);                       // ADD, ALL, group 1
        int bucket = w.Position;
        w.U16(0); w.U16(0); w.U32(Ofp13.PortAny); w.U32(Ofp13.GroupAny); w.Zeros(4);
        w.U16(0); w.U16(16); w.U32(1); w.U16(0xffe5); w.Zeros(6);   // output:1
        for (int i = 0; i < 8185; i++) { w.U16(21); w.U16(8); w.U32(0); } // set_queue:0
        w.PatchU16(bucket, (ushort)(w.Position - bucket));
        w.Finish(start);
        var groupMod = w.ToArray();
        Assert.Equal(65528, groupMod.Length);
        Assert.Equal((Ofp13ErrorType.BadRequest, Ofp13Codes.BadLen), ErrorOf(await c.ReplyAsync(c.Send(groupMod))));
        Assert.Empty(rig.Switch.GroupDescriptions());
    }
}
