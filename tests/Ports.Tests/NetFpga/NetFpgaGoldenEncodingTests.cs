using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Ports;
using Softswitch.Ofproto;
using Softswitch.Ports.NetFpga;
using static Softswitch.TestKit.FlowFrames;

namespace Softswitch.Ports.Tests.NetFpga;

/// <summary>
/// Register words for the flows of the seed scenarios, written by hand from the NETFPGA.md layouts (key: tp_dst 0-15,
/// tp_src 16-31, ip_proto 32-39, ip_dst 40-71, ip_src 72-103, eth_type 104-119, eth_dst 120-167, eth_src 168-215,
/// src_port 216-223, ip_tos 224-231, vlan 232-247, pad 248-255; action: forward_bitmask 0-15, flag 16-31, vlan_vid
/// 32-47, vlan_pcp 48-55, dl_src 56-103, dl_dst 104-151, nw_src 152-183, nw_dst 184-215, nw_tos 216-223, tp_src
/// 224-239, tp_dst 240-255), never by calling the encoder.
/// </summary>
public sealed class NetFpgaGoldenEncodingTests
{
    // seeds/000 (TWAREN, AcS2, "表 2"):
    //   flow1 = ether-type 0800, priority 32768, src-ip 10.27.82.0/24, dst-mac 00:15:fa:fe:34:42, dst-ip 192.168.1.101,
    //           actions set-dst-mac=00:15:17:8f:ca:37, output=3
    //   flow2 = ether-type 0800, priority 30000, src-ip 192.168.1.101, src-mac 00:15:17:8f:ca:37, dst-mac 00:15:fa:fe:34:41,
    //           dst-ip 10.27.82.0/24, actions output=controller2
    //   flow3 = ether-type 0806, dst-mac ff:ff:ff:ff:ff:ff, dst-ip 192.168.1.254, actions output=1
    //   flow4 = ether-type 0800, priority 32768, src-ip 192.168.1.101, src-mac 00:15:17:8f:ca:37, dst-mac 00:15:fa:fe:34:41,
    //           dst-ip 10.27.82.101, actions set-dst-mac=08:00:27:9b:b3:12, output=2
    internal static FlowMod Flow1 => new(FlowModCommand.Add,
        Match(dlType: 0x0800, nwSrc: "10.27.82.0/24", dlDst: "00:15:fa:fe:34:42", nwDst: "192.168.1.101"), 32768,
        new FlowActions([FlowAction.SetDlDst(Mac("00:15:17:8f:ca:37")), FlowAction.Output(3)]));
    internal static FlowMod Flow2 => new(FlowModCommand.Add,
        Match(dlType: 0x0800, nwSrc: "192.168.1.101", dlSrc: "00:15:17:8f:ca:37", dlDst: "00:15:fa:fe:34:41", nwDst: "10.27.82.0/24"), 30000,
        new FlowActions([FlowAction.Output(PortNumber.Controller, 0xFFFF)]));
    internal static FlowMod Flow3 => new(FlowModCommand.Add,
        Match(dlType: 0x0806, dlDst: "ff:ff:ff:ff:ff:ff", nwDst: "192.168.1.254"), 32768,
        new FlowActions([FlowAction.Output(1)]));
    internal static FlowMod Flow4 => new(FlowModCommand.Add,
        Match(dlType: 0x0800, nwSrc: "192.168.1.101", dlSrc: "00:15:17:8f:ca:37", dlDst: "00:15:fa:fe:34:41", nwDst: "10.27.82.101"), 32768,
        new FlowActions([FlowAction.SetDlDst(Mac("08:00:27:9b:b3:12")), FlowAction.Output(2)]));

    private static (OfFlowTables Table, NetFpgaDriver Driver, RecordingBus Bus, EmulatedNetFpga Board, OffloadManager Manager) Setup()
    {
        var board = new EmulatedNetFpga(new ManualClock());
        var bus = new RecordingBus(board);
        var driver = new NetFpgaDriver(bus);
        driver.Initialize();
        bus.Writes.Clear();
        var table = new OfFlowTables(new ManualClock());
        var manager = new OffloadManager(table.Main, driver);
        manager.Attach();
        return (table, driver, bus, board, manager);
    }

    [Fact]
    public void Flow1_KeyMaskAction_FieldByField()
    {
        var m = Flow1.Match;
        var key = new uint[8];
        var mask = new uint[8];
        var act = new uint[10];
        NetFpgaEncoding.EncodeKey(m, srcPort: 0, pad: 0, key);
        NetFpgaEncoding.EncodeMask(m, srcPortMask: 0xFF, mask);
        Assert.True(NetFpgaEncoding.EncodeAction(Flow1.Actions, inPort: 0, portCount: 4, act, out _));

        // ip_dst 192.168.1.101 = 0xC0A80165 at 40..71: word1[31:8] = 0xA80165, word2[7:0] = 0xC0.
        // ip_src 10.27.82.0 = 0x0A1B5200 at 72..103: word2[31:8] = 0x1B5200, word3[7:0] = 0x0A.
        // eth_type 0x0800 at 104..119: word3[23:8]. eth_dst 0x0015FAFE3442 at 120..167: word3[31:24] = 0x42,
        // word4 = 0x15FAFE34, word5[7:0] = 0x00.
        uint[] expectedKey = [0x00000000, 0xA8016500, 0x1B5200C0, 0x4208000A, 0x15FAFE34, 0x00000000, 0x00000000, 0x00000000];
        Assert.Equal(expectedKey, key);

        // 1 = don't care. tp ports all ones; ip_proto 0xFF (word1[7:0]); ip_dst exact; ip_src /24 -> low 8 bits
        // (word2[15:8]); eth_type, eth_dst exact; eth_src all ones (word5[31:8], word6[23:0]); src_port 0xFF
        // (word6[31:24]); ip_tos 0xFC, vlan 0xFFFF (word7[23:8]); pad 0.
        uint[] expectedMask = [0xFFFFFFFF, 0x000000FF, 0x0000FF00, 0x00000000, 0x00000000, 0xFFFFFF00, 0xFFFFFFFF, 0x00FFFFFC];
        Assert.Equal(expectedMask, mask);

        // in_port 1 (board port 0): output=3 -> bit 2*2 = 0x0010; flags OUTPUT 0x1 | SET_DL_DST 0x20.
        // dl_dst 0x0015178FCA37 at 104..151: word3[31:8] = 0x8FCA37, word4[23:0] = 0x001517.
        uint[] expectedAction = [0x00210010, 0, 0, 0x8FCA3700, 0x00001517, 0, 0, 0, 0, 0];
        Assert.Equal(expectedAction, act);

        // Arriving on port 3 itself, software drops the output: no forward bit, no OUTPUT flag.
        Assert.True(NetFpgaEncoding.EncodeAction(Flow1.Actions, inPort: 2, portCount: 4, act, out _));
        Assert.Equal(0x00200000u, act[0]);
    }

    [Fact]
    public void Flow1_RowWrites_TwoRowsCoverInPorts124()
    {
        var (table, driver, bus, board, manager) = Setup();
        Assert.Equal(FlowModStatus.Ok, table.Apply(Flow1, null));
        manager.WaitForPlacement();
        var e = table.Lookup(KeyOf(Flow1.Match, inPort: 1), 0)!;
        Assert.True(manager.TryGetPlacement(e, out var p));
        Assert.True(p.InHardware);
        Assert.Equal(2, p.Rows);
        // In_ports 2 and 4 (src_port 2 and 6: value 2, mask 0x04) then in_port 1 (src_port 0); in_port 3 stays software.
        Assert.Equal(60, bus.Writes.Count);
        var row0 = bus.Writes.Take(30).ToList();
        uint W(int i) => row0[i].Value;
        for (int i = 0; i < 8; i++) Assert.Equal(0x2001048u + 4u * (uint)i, row0[i].Address);       // CMP_0..7
        for (int i = 0; i < 8; i++) Assert.Equal(0x2001028u + 4u * (uint)i, row0[8 + i].Address);   // CMP_MASK_0..7
        for (int i = 0; i < 10; i++) Assert.Equal(0x2001000u + 4u * (uint)i, row0[16 + i].Address); // ACTION_0..9
        Assert.Equal(0x02000000u, W(6));                 // src_port 2 in word6[31:24]
        Assert.Equal(0x04FFFFFFu, W(8 + 6));             // src_port mask 0x04, eth_src don't care
        Assert.Equal(0x00210010u, W(16));                // output port 3, SET_DL_DST
        Assert.Equal((0x2001070u, 0u), row0[26]);        // BYTES_HIT_0
        Assert.Equal((0x20010F0u, 0u), row0[27]);        // PKTS_HIT_0
        Assert.Equal((0x2001178u, 0u), row0[28]);        // LAST_SEEN_TS_0
        Assert.Equal((0x200106Cu, 0u), row0[29]);        // WRITE_ADDR = row 0
        var row1 = bus.Writes.Skip(30).ToList();
        Assert.Equal(0x00000000u, row1[6].Value);        // src_port 0
        Assert.Equal(0x00FFFFFFu, row1[8 + 6].Value);    // src_port exact
        Assert.Equal((0x200106Cu, 1u), row1[29]);        // WRITE_ADDR = row 1
        // The emulator committed what was written.
        var (cmp, mask, act) = board.WildcardRow(0);
        Assert.Equal(0xA8016500u, cmp[1]);
        Assert.Equal(0x00FFFFFCu, mask[7]);
        Assert.Equal(0x00001517u, act[4]);
        Assert.Equal(0, board.UnknownRegisterAccesses);
    }

    [Fact]
    public void Flow2_ToController_StaysInSoftware()
    {
        var (table, _, bus, _, manager) = Setup();
        table.Apply(Flow2, null);
        manager.WaitForPlacement();
        var e = table.Lookup(KeyOf(Flow2.Match, inPort: 1), 0)!;
        Assert.True(manager.TryGetPlacement(e, out var p));
        Assert.False(p.InHardware);
        Assert.Equal(OffloadReason.UnsupportedAction, p.Reason);
        Assert.Equal(FlowAction.Output(PortNumber.Controller, 0xFFFF), p.Detail.Action);
        Assert.Empty(bus.Writes);
    }

    [Fact]
    public void Flow3_ArpBroadcast_KeyMaskAction()
    {
        var m = Flow3.Match;
        var key = new uint[8];
        var mask = new uint[8];
        var act = new uint[10];
        NetFpgaEncoding.EncodeKey(m, srcPort: 2, pad: 0, key);
        NetFpgaEncoding.EncodeMask(m, srcPortMask: 0, mask);
        Assert.True(NetFpgaEncoding.EncodeAction(Flow3.Actions, inPort: 1, portCount: 4, act, out _));
        // ip_dst 192.168.1.254 = 0xC0A801FE; eth_type 0x0806; eth_dst ff:ff:ff:ff:ff:ff; src_port 2.
        uint[] expectedKey = [0, 0xA801FE00, 0x000000C0, 0xFF080600, 0xFFFFFFFF, 0x000000FF, 0x02000000, 0];
        Assert.Equal(expectedKey, key);
        // ip_src fully wildcarded (/0): word2[31:8] and word3[7:0] all ones.
        uint[] expectedMask = [0xFFFFFFFF, 0x000000FF, 0xFFFFFF00, 0x000000FF, 0, 0xFFFFFF00, 0x00FFFFFF, 0x00FFFFFC];
        Assert.Equal(expectedMask, mask);
        // output=1 from port 2: bit 0; flag OUTPUT.
        Assert.Equal(new uint[] { 0x00010001, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, act);
    }

    [Fact]
    public void Flow4_OutranksOverlappingFlow2_SoItIsOffloaded()
    {
        var (table, _, _, _, manager) = Setup();
        table.Apply(Flow2, null);
        table.Apply(Flow4, null);
        manager.WaitForPlacement();
        var f4 = table.Lookup(KeyOf(Flow4.Match, inPort: 1), 0)!;
        Assert.Equal(32768, f4.Priority);
        Assert.True(manager.TryGetPlacement(f4, out var p));
        Assert.True(p.InHardware, p.Detail.Note);

        var key = new uint[8];
        var act = new uint[10];
        NetFpgaEncoding.EncodeKey(Flow4.Match, srcPort: 0, pad: 0, key);
        Assert.True(NetFpgaEncoding.EncodeAction(Flow4.Actions, inPort: 0, portCount: 4, act, out _));
        // ip_dst 10.27.82.101 = 0x0A1B5265, ip_src 192.168.1.101 = 0xC0A80165, eth_dst 0x0015FAFE3441,
        // eth_src 0x0015178FCA37: word5 = eth_dst[47:40] | eth_src[23:0] << 8 = 0x8FCA3700, word6 = eth_src[47:24] = 0x001517.
        uint[] expectedKey = [0, 0x1B526500, 0xA801650A, 0x410800C0, 0x15FAFE34, 0x8FCA3700, 0x00001517, 0];
        Assert.Equal(expectedKey, key);
        // from port 1: output=2 -> bit 2; flags OUTPUT | SET_DL_DST; dl_dst 0x0800279BB312: word3[31:8] = 0x9BB312,
        // word4[23:0] = 0x080027.
        uint[] expectedAction = [0x00210004, 0, 0, 0x9BB31200, 0x00080027, 0, 0, 0, 0, 0];
        Assert.Equal(expectedAction, act);
    }

    // seeds/002 (VICTOR), "Table 1: IP forwarding on FE2": nw_dst=10.2.3.1 mod_dl_dst,out:2; nw_dst=10.10.0.11
    // mod_dl_dst,out:2; nw_dst=10.10.0.36 mod_dl_dst,out:3; nw_dst=10.4.5.1 out:0. The paper numbers the NetFPGA
    // ports from 0 (nf2c0..nf2c3), so out:n is OpenFlow port n + 1; it does not print the new MACs (ours are 02:00:...).
    internal static readonly (string NwDst, string? NewMac, int PaperPort)[] VictorTable1 =
    [
        ("10.2.3.1", "02:00:0a:02:03:01", 2),
        ("10.10.0.11", "02:00:0a:0a:00:0b", 2),
        ("10.10.0.36", "02:00:0a:0a:00:24", 3),
        ("10.4.5.1", null, 0),
    ];

    internal static FlowMod VictorFlow(int i)
    {
        var (dst, mac, port) = VictorTable1[i];
        var actions = new List<FlowAction>();
        if (mac is not null) actions.Add(FlowAction.SetDlDst(Mac(mac)));
        actions.Add(FlowAction.Output((ushort)(port + 1)));
        return new FlowMod(FlowModCommand.Add, Match(dlType: 0x0800, nwDst: dst), 100, new FlowActions(actions.ToArray()));
    }

    [Theory]
    [InlineData(0, 0x02030100u, 0x00210010u)]   // 10.2.3.1 = 0x0A020301; out:2 -> OF port 3 -> bit 4; SET_DL_DST
    [InlineData(1, 0x0A000B00u, 0x00210010u)]   // 10.10.0.11 = 0x0A0A000B
    [InlineData(2, 0x0A002400u, 0x00210040u)]   // 10.10.0.36 = 0x0A0A0024; out:3 -> OF port 4 -> bit 6
    [InlineData(3, 0x04050100u, 0x00010001u)]   // 10.4.5.1 = 0x0A040501; out:0 -> OF port 1 -> bit 0; no rewrite
    public void VictorTable1_KeyMaskAction(int i, uint key1, uint action0)
    {
        var mod = VictorFlow(i);
        var key = new uint[8];
        var mask = new uint[8];
        var act = new uint[10];
        NetFpgaEncoding.EncodeKey(mod.Match, srcPort: 2, pad: 0, key);   // the row for in_port 2 (src_port 2)
        NetFpgaEncoding.EncodeMask(mod.Match, srcPortMask: 0, mask);
        Assert.True(NetFpgaEncoding.EncodeAction(mod.Actions, inPort: 1, portCount: 4, act, out _));
        Assert.Equal(new uint[] { 0, key1, 0x0000000A, 0x00080000, 0, 0, 0x02000000, 0 }, key);
        // tp ports, ip_proto, ip_src, eth_dst, eth_src, tos, vlan don't care; ip_dst, eth_type, src_port compared.
        Assert.Equal(new uint[] { 0xFFFFFFFF, 0x000000FF, 0xFFFFFF00, 0xFF0000FF, 0xFFFFFFFF, 0xFFFFFFFF, 0x00FFFFFF, 0x00FFFFFC }, mask);
        Assert.Equal(action0, act[0]);
        if (VictorTable1[i].NewMac is { } mac)
        {
            ulong v = Mac(mac).Value;
            Assert.Equal((uint)(v & 0xFFFFFF) << 8, act[3]);        // dl_dst[23:0] in word3[31:8]
            Assert.Equal((uint)(v >> 24), act[4]);                  // dl_dst[47:24] in word4[23:0]
        }
        else
        {
            Assert.Equal(0u, act[3] | act[4]);
        }
    }

    [Fact]
    public void ExactRow_Layout_ActionThenCountersThenKeyWithValidBitLast()
    {
        var (table, driver, bus, board, manager) = Setup();
        var frame = Udp("00:15:17:8f:ca:37", "00:15:fa:fe:34:41", "192.168.1.101", "10.27.82.101", 5000, 80);
        var m = MatchOf(frame, 2, OfWildcards.None);
        Assert.True(m.IsExact);
        table.Apply(new FlowMod(FlowModCommand.Add, m, 0, new FlowActions([FlowAction.Output(4)])), null);
        manager.WaitForPlacement();
        Assert.Equal(20, bus.Writes.Count);
        // Every write lands in one 128-byte SRAM row: 0x1000000 + (row << 7).
        uint rowBase = bus.Writes[0].Address - 40;
        Assert.Equal(0u, (rowBase - 0x1000000u) & 0x7F);
        int row = (int)((rowBase - 0x1000000u) >> 7);
        for (int i = 0; i < 10; i++) Assert.Equal(rowBase + 40 + 4u * (uint)i, bus.Writes[i].Address);
        Assert.Equal(0x00010040u, bus.Writes[0].Value);          // output port 4 = bit 6 (from port 2), OUTPUT
        Assert.Equal((rowBase + 32, 0u), bus.Writes[10]);
        Assert.Equal((rowBase + 36, 0u), bus.Writes[11]);
        for (int i = 0; i < 8; i++) Assert.Equal(rowBase + 4u * (uint)i, bus.Writes[12 + i].Address);
        // tp_dst 80 | tp_src 5000 << 16; ip_proto 17; src_port 2; vlan 0xFFFF (untagged) in word7[23:8]; valid bit.
        Assert.Equal(80u | 5000u << 16, bus.Writes[12].Value);
        Assert.Equal(17u | (0x0A1B5265u & 0xFFFFFF) << 8, bus.Writes[13].Value);
        Assert.Equal(0x02001517u, bus.Writes[18].Value);
        Assert.Equal(0x80FFFF00u, bus.Writes[19].Value);
        // The row is the first CRC position: CRC-32 (poly 0x04C11DB7, MSB first, init 0) of the key bytes, low 15 bits.
        var key = bus.Writes.Skip(12).Take(8).Select(w => w.Value).ToArray();
        key[7] &= 0x00FFFFFF;
        Assert.Equal((int)(Crc(key, 0x04C11DB7) & 0x7FFF), row);
        Assert.Equal(0x80FFFF00u, board.ExactRowWords(row)[7]);
    }

    private static uint Crc(uint[] words, uint poly)
    {
        uint crc = 0;
        foreach (uint w in words)
        {
            for (int b = 0; b < 4; b++)
            {
                crc ^= ((w >> (8 * b)) & 0xFF) << 24;
                for (int k = 0; k < 8; k++) crc = (crc & 0x80000000) != 0 ? (crc << 1) ^ poly : crc << 1;
            }
        }

        return crc;
    }

    [Fact]
    public void ReservedRows_CatchAllToCpuAndCpuToMac()
    {
        var board = new EmulatedNetFpga(new ManualClock());
        var driver = new NetFpgaDriver(board);
        driver.Initialize();
        for (int i = 0; i < 4; i++)
        {
            var (cmp, mask, act) = board.WildcardRow(24 + i);
            Assert.Equal((uint)(2 * i + 1) << 24, cmp[6]);           // from CPU queue i
            Assert.Equal(0x00FFFFFFu, mask[6]);                        // only src_port compared
            Assert.Equal(0xFFFFFFFFu, mask[0]);
            Assert.Equal(0x00FFFFFFu, mask[7]);                        // pad compared (zero)
            Assert.Equal(0x00010000u | (1u << (2 * i)), act[0]);      // to MAC i
            (cmp, mask, act) = board.WildcardRow(28 + i);
            Assert.Equal((uint)(2 * i) << 24, cmp[6]);                 // from MAC i
            Assert.Equal(0x00010000u | (1u << (2 * i + 1)), act[0]);  // to CPU queue i
        }
        for (int r = 0; r < 24; r++) Assert.All(board.WildcardRow(r).Mask, w => Assert.Equal(0u, w));
    }

    private static FlowKey KeyOf(in FlowMatch m, ushort inPort)
    {
        var b = new FlowKeyBuilder(m.Value);
        b.InPort(inPort);
        return b.Key;
    }

    /// <summary>A mask the board's key cannot say (any mask that is not whole fields, prefixes and the DSCP) stays in software.</summary>
    [Theory]
    [InlineData("dl_src 00:00:00:00:ff:ff", false)]
    [InlineData("nw_src 255.0.255.0", false)]
    [InlineData("ip_ecn", false)]
    [InlineData("nw_tos 0xff", false)]
    [InlineData("tun_id half", false)]
    [InlineData("tun_id whole", false)]
    [InlineData("nw_src /12 and tp_dst", true)]
    public void CheckMatch_MaskTheKeyCannotSay_IsRefused(string what, bool offloadable)
    {
        var fields = new FlowKeyBuilder().DlType(0x0800).NwProto(6).NwSrc(Ip("10.1.2.3")).TpDst(80).Key;
        var mask = new FlowKeyBuilder().DlType(0xFFFF).NwProto(0xFF);
        _ = what switch
        {
            "dl_src 00:00:00:00:ff:ff" => mask.DlSrc(new MacAddress(0xFFFF)),
            "nw_src 255.0.255.0" => mask.NwSrc(0xFF00FF00),
            "ip_ecn" => mask.IpEcn(3),
            "nw_tos 0xff" => mask.NwTos(0xFF),
            "tun_id half" => mask.TunId(0xFFFF_FFFF),
            "tun_id whole" => mask.TunId(ulong.MaxValue),
            _ => mask.NwSrc(0xFFF0_0000).TpDst(0xFFFF),
        };
        var why = NetFpgaEncoding.CheckMatch(new FlowMatch(mask.Key, fields), out var detail);
        Assert.True(offloadable == (why == OffloadReason.None), $"{what}: {why} {detail}");
    }
}
