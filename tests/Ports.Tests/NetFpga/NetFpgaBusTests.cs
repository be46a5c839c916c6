using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Ports;
using Softswitch.Ofproto;
using Softswitch.Ports.NetFpga;
using Softswitch.TestKit;

namespace Softswitch.Ports.Tests.NetFpga;

public sealed class NetFpgaBusTests
{
    [Fact]
    public void RealBoardBus_WithoutABoard_FailsWithAClearMessage()
    {
        Assert.False(Directory.Exists("/sys/class/net/nf2c0"), "this machine has a NetFPGA: the test expects none");
        var e = Assert.Throws<NetFpgaUnavailableException>(() => Nf2RegisterBus.Open());
        Assert.StartsWith("no NetFPGA board: interface nf2c0 not found", e.Message);
        Assert.Equal("nf2c0", e.Interface);

        // The composition helper fails the same way, before touching the datapath.
        using var dp = new SwitchDatapath(new DatapathOptions(), new ManualClock());
        var ports = new IPort[] { new MemoryPort("p1", new MacAddress(1)) };
        var e2 = Assert.Throws<NetFpgaUnavailableException>(() => NetFpgaOffload.Attach(dp, ports, NetFpgaMode.Hardware));
        Assert.StartsWith("no NetFPGA board: interface nf2c0 not found", e2.Message);
        Assert.Empty(dp.Ports.List);
    }

    [Fact]
    public void Emulator_CounterWordsClearOnRead_ResetClearsEverything_UnknownAddressesCounted()
    {
        var board = new EmulatedNetFpga(new ManualClock());
        uint counters = NetFpgaRegisters.ExactRow(5, NetFpgaRegisters.ExactCountersOffset);
        uint key0 = NetFpgaRegisters.ExactRow(5);
        board.Write(counters, 7);
        board.Write(key0, 0x1234);
        Assert.Equal(7u, board.Read(counters));
        Assert.Equal(0u, board.Read(counters));     // read-to-clear: the library reads deltas
        Assert.Equal(0x1234u, board.Read(key0));
        Assert.Equal(0x1234u, board.Read(key0));    // key words do not clear

        // Staging registers commit on WRITE_ADDR and load on READ_ADDR.
        board.Write(NetFpgaRegisters.WildcardCmp0 + 4, 0xAB);
        board.Write(NetFpgaRegisters.WildcardWriteAddr, 3);
        board.Write(NetFpgaRegisters.WildcardCmp0 + 4, 0);
        board.Write(NetFpgaRegisters.WildcardReadAddr, 3);
        Assert.Equal(0xABu, board.Read(NetFpgaRegisters.WildcardCmp0 + 4));

        board.Write(NetFpgaRegisters.CpciRegCtrl, NetFpgaRegisters.CpciResetBit);
        Assert.Equal(0u, board.Read(key0));
        Assert.All(board.WildcardRow(3).Cmp, w => Assert.Equal(0u, w));
        Assert.Equal(0, board.UnknownRegisterAccesses);
        board.Read(0x0300_0000);
        board.Write(NetFpgaRegisters.WildcardWriteAddr, 99);
        Assert.Equal(2, board.UnknownRegisterAccesses);
    }

    [Fact]
    public void Emulator_WithoutReservedRows_DropsMissesAndCpuFrames()
    {
        // A driver that forgot Initialize: no catch-all rows, so the software never sees a miss.
        var clock = new ManualClock();
        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 }, clock);
        var board = new EmulatedNetFpga(clock);
        var wire = new MemoryPort("p1", new MacAddress(1)) { CaptureSent = true };
        var port = new NetFpgaBoardPort(0, wire, board);
        dp.AddPort(port, 1);
        wire.Inject(FlowFrames.Udp("00:00:00:00:00:01", "00:00:00:00:00:02", "10.0.0.1", "10.0.0.2"));
        dp.PollUntilIdle();
        Assert.Equal(0, dp.Forwarders[0].Packets);
        Assert.Equal(1u, board.Read(NetFpgaRegisters.NumPktsDropped0));
        dp.PacketOut(FlowFrames.Udp("00:00:00:00:00:01", "00:00:00:00:00:02", "10.0.0.1", "10.0.0.2"), PortNumber.Controller, new FlowActions([FlowAction.Output(1)]));
        Assert.Empty(wire.TakeSent());
        Assert.Equal(1u, board.Read(NetFpgaRegisters.NumPktsDropped0 + 4));

        new NetFpgaDriver(board, 1).Initialize();
        wire.Inject(FlowFrames.Udp("00:00:00:00:00:01", "00:00:00:00:00:02", "10.0.0.1", "10.0.0.2"));
        dp.PollUntilIdle();
        Assert.Equal(1, dp.Forwarders[0].Packets);
        dp.PacketOut(FlowFrames.Udp("00:00:00:00:00:01", "00:00:00:00:00:02", "10.0.0.1", "10.0.0.2"), PortNumber.Controller, new FlowActions([FlowAction.Output(1)]));
        Assert.Single(wire.TakeSent());
    }

    private sealed class FailingBus(IRegisterBus inner) : IRegisterBus
    {
        public bool Fail;
        public string Name => inner.Name;
        public uint Read(uint address) => Fail ? throw new NetFpgaRegisterException("register read failed", 5) : inner.Read(address);
        public void Write(uint address, uint value)
        {
            if (Fail) throw new NetFpgaRegisterException("register write failed", 5);
            inner.Write(address, value);
        }
        public void Dispose() { }
    }

    [Fact]
    public void FailingBoard_FlowModsStillSucceed_FlowsStayInSoftware()
    {
        var table = new OfFlowTables(new ManualClock());
        var bus = new FailingBus(new EmulatedNetFpga(new ManualClock()));
        var driver = new NetFpgaDriver(bus);
        driver.Initialize();
        var manager = new Softswitch.Datapath.Offload.OffloadManager(table.Main, driver);
        manager.Attach();
        bus.Fail = true;
        var m = FlowFrames.Match(inPort: 1, dlType: 0x0800);
        Assert.Equal(FlowModStatus.Ok, table.Apply(new FlowMod(FlowModCommand.Add, m, 10, new FlowActions([FlowAction.Output(2)])), null));
        manager.WaitForPlacement();
        var e = table.Lookup(m.Value, 0)!;
        Assert.True(manager.TryGetPlacement(e, out var p));
        Assert.False(p.InHardware);
        Assert.Equal(Softswitch.Datapath.Offload.OffloadReason.TargetError, p.Reason);
        Assert.Equal(1, manager.TargetErrors);
        Assert.Contains("register write failed", manager.LastError);
    }
}
