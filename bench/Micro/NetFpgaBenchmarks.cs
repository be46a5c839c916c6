using BenchmarkDotNet.Attributes;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Offload;
using Softswitch.Ofproto;
using Softswitch.Ports.NetFpga;

namespace Softswitch.Bench.Micro;

/// <summary>
/// Flow-mods into the emulated NetFPGA board through the offload manager and the register-level driver, per
/// flow-mod; the software table alone is the baseline. Each invocation adds then deletes (or modifies) a batch, so the
/// board ends where it started. Register writes per flow-mod are printed at cleanup (they are deterministic:
/// exact add 20, exact delete 1 + 2 reads, exact modify 10, wildcard row add 30, wildcard row delete 27 + READ_ADDR).
/// On the real board every register access is one ioctl, so writes per flow-mod bound its flow-mod rate.
/// </summary>
[MemoryDiagnoser]
[InProcess] // the bench project's assembly name differs from its file name, which BenchmarkDotNet's out-of-process build needs
[WarmupCount(2)]
[IterationCount(5)]
public class NetFpgaBenchmarks
{
    private const int ExactBatch = 1000;
    private const int WildBatch = 24;

    private OfFlowTables _table = null!;
    private OfFlowTables _swOnly = null!;
    private EmulatedNetFpga _board = null!;
    private NetFpgaDriver _driver = null!;
    private OffloadManager _manager = null!;
    private FlowMod[] _exactAdds = [], _exactDeletes = [], _exactMods = [], _exactModsBack = [];
    private FlowMod[] _wildAdds = [], _wildDeletes = [];
    private long _mods, _writes0;

    [GlobalSetup]
    public void Setup()
    {
        var clock = new ManualClock();
        _table = new OfFlowTables(clock);
        _swOnly = new OfFlowTables(clock);
        _board = new EmulatedNetFpga(clock);
        _driver = new NetFpgaDriver(_board);
        _driver.Initialize();
        _manager = new OffloadManager(_table.Main, _driver);
        // No worker thread: each batch is placed on the benchmark's thread right after it is applied, so the figures
        // are the placement's own cost (and a batch of adds is placed before the deletes that follow it).
        _manager.Attach(startWorker: false);

        var out2 = new FlowActions([FlowAction.Output(2)]);
        var out3 = new FlowActions([FlowAction.SetDlDst(new MacAddress(0x02_00_00_00_00_09)), FlowAction.Output(3)]);
        _exactAdds = new FlowMod[ExactBatch];
        _exactDeletes = new FlowMod[ExactBatch];
        _exactMods = new FlowMod[ExactBatch];
        _exactModsBack = new FlowMod[ExactBatch];
        for (int i = 0; i < ExactBatch; i++)
        {
            var b = new FlowKeyBuilder();
            // (FlowKeyBuilder is a struct: set each field on the variable, not on a chain of copies.)
            b.InPort((ushort)(1 + i % 4));
            b.DlVlan(0xFFFF);
            b.DlType(0x0800);
            b.NwProto(6);
            b.DlSrc(new MacAddress(0x02_00_00_00_10_00UL + (ulong)i));
            b.DlDst(new MacAddress(0x02_00_00_00_20_00UL));
            b.NwSrc(0x0A00_0000u + (uint)i);
            b.NwDst(0xC0A8_0101u);
            b.TpSrc((ushort)(1024 + i));
            b.TpDst(443);
            var m = FlowMatch.Exact(b.Key);
            _exactAdds[i] = new FlowMod(FlowModCommand.Add, m, 0, out2);
            _exactDeletes[i] = new FlowMod(FlowModCommand.DeleteStrict, m, 0, FlowActions.Drop);
            _exactMods[i] = new FlowMod(FlowModCommand.ModifyStrict, m, 0, out3);
            _exactModsBack[i] = new FlowMod(FlowModCommand.ModifyStrict, m, 0, out2);
        }
        _wildAdds = new FlowMod[WildBatch];
        _wildDeletes = new FlowMod[WildBatch];
        for (int i = 0; i < WildBatch; i++)
        {
            var b = new FlowKeyBuilder();
            b.InPort((ushort)(1 + i % 4));
            b.DlType(0x0800);
            b.NwDst(0x0A01_0000u + (uint)(i << 8));
            var w = OfWildcards.All & ~(OfWildcards.InPort | OfWildcards.DlType | OfWildcards.NwDstMask) | (OfWildcards)(8u << (int)OfWildcards.NwDstShift) | OfWildcards.TunIdExt;
            var m = FlowMatch.FromOpenFlow(w, b.Key);
            _wildAdds[i] = new FlowMod(FlowModCommand.Add, m, 100, out2);
            _wildDeletes[i] = new FlowMod(FlowModCommand.DeleteStrict, m, 100, FlowActions.Drop);
        }
        _writes0 = _driver.RegisterWrites;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        long writes = _driver.RegisterWrites - _writes0;
        var st = _manager.Stats;
        Console.WriteLine($"// netfpga: {_table.ActiveExact + _table.ActiveWildcard} flows, {st.HardwareFlows} in hardware; {_mods} flow-mods, {writes} register writes ({(_mods == 0 ? 0 : (double)writes / _mods):F1} per flow-mod; " +
                          $"manager: {st.RegisterWritesPerFlowMod:F1} per table change), {_board.RegisterWrites} bus writes in all");
    }

    private void Run(OfFlowTables t, FlowMod[] mods)
    {
        foreach (ref readonly var m in mods.AsSpan()) t.Apply(m, null);
        if (!ReferenceEquals(t, _table)) return;
        _manager.ProcessPending();
        _mods += mods.Length;
    }

    [Benchmark(OperationsPerInvoke = 2 * ExactBatch, Description = "exact add+delete, software table only")]
    public void ExactAddDelete_Software()
    {
        Run(_swOnly, _exactAdds);
        Run(_swOnly, _exactDeletes);
    }

    [Benchmark(OperationsPerInvoke = 2 * ExactBatch, Description = "exact add+delete, offloaded to emulated board")]
    public void ExactAddDelete_Offload()
    {
        Run(_table, _exactAdds);
        Run(_table, _exactDeletes);
    }

    [Benchmark(OperationsPerInvoke = 2 * ExactBatch, Description = "exact modify (actions rewritten in place)")]
    public void ExactModify_Offload()
    {
        if (_table.ActiveExact == 0) Run(_table, _exactAdds);
        Run(_table, _exactMods);
        Run(_table, _exactModsBack);
    }

    [Benchmark(OperationsPerInvoke = 2 * WildBatch, Description = "wildcard add+delete (24 rows), offloaded")]
    public void WildcardAddDelete_Offload()
    {
        if (_table.ActiveExact != 0) Run(_table, _exactDeletes);
        Run(_table, _wildAdds);
        Run(_table, _wildDeletes);
    }

    [Benchmark(OperationsPerInvoke = ExactBatch, Description = "counter poll per offloaded exact flow")]
    public void Poll_Offload()
    {
        if (_table.ActiveExact == 0) Run(_table, _exactAdds);
        _manager.Poll();
    }
}
