using System.Globalization;
using BenchmarkDotNet.Attributes;
using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.OfAgent.Of10.Translate;
using Softswitch.OfWire.Of10;
using Softswitch.Ofproto;

namespace Softswitch.Bench.Micro;

/// <summary>
/// The agent's flow-mod path without the socket, on a table of 5,000 flows: an OFPT_FLOW_MOD's bytes decoded (into
/// fields and a reused action list, as the agent does), translated (match, actions) and applied; one ADD and one DELETE_STRICT of
/// the same flow per operation pair, each inside a hold of the tables' reclamation domain and with entry recycling
/// on, as the daemon runs them. Its allocations per flow-mod (MemoryDiagnoser) are what churn costs the GC.
/// `bench flowmod-alloc` prints the bytes allocated per flow-mod by each stage without BenchmarkDotNet.
/// </summary>
[MemoryDiagnoser]
public class FlowModPathBenchmarks
{
    private FlowModPath _path = null!;

    [GlobalSetup]
    public void Setup() => _path = new FlowModPath(5000);

    /// <summary>Decode only (the wire object and its action list).</summary>
    [Benchmark(OperationsPerInvoke = 2)]
    public void Decode() => _path.Step(FlowModPath.Stage.Decode);

    /// <summary>Decode and translate (the version-independent flow-mod request).</summary>
    [Benchmark(OperationsPerInvoke = 2)]
    public void DecodeTranslate() => _path.Step(FlowModPath.Stage.Translate);

    /// <summary>Decode, translate and apply through the switch (checks, compile, table): the whole path of a flow-mod in the agent.</summary>
    [Benchmark(OperationsPerInvoke = 2)]
    public void DecodeTranslateApply() => _path.Step(FlowModPath.Stage.Apply);

    /// <summary>`bench flowmod-alloc [--pairs N]`: bytes allocated per flow-mod by each stage (this thread's allocations).</summary>
    public static int RunAllocations(string[] args)
    {
        int pairs = args.Length == 2 && args[0] == "--pairs" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 200_000;
        var path = new FlowModPath(5000);
        foreach (var stage in Enum.GetValues<FlowModPath.Stage>())
        {
            for (int i = 0; i < 20_000; i++) path.Step(stage);   // warm-up: JIT, the table's arrays at their size
            long b0 = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < pairs; i++) path.Step(stage);
            double perMod = (GC.GetAllocatedBytesForCurrentThread() - b0) / (2.0 * pairs);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{stage,-10} {perMod,8:F1} bytes per flow-mod ({pairs:N0} ADD+DELETE_STRICT pairs)"));
        }
        return 0;
    }
}

/// <summary>The flow-mod path of the agent over encoded messages (see <see cref="FlowModPathBenchmarks"/>).</summary>
internal sealed class FlowModPath
{
    public enum Stage { Decode, Translate, Apply }

    private readonly byte[][] _add, _del;
    private readonly SwitchDatapath _dp = new(new DatapathOptions(), new ManualClock());
    private readonly OfSwitch _switch;
    private readonly List<OfpAction> _actions = new(16);
    private int _next;

    public FlowModPath(int window)
    {
        _switch = new OfSwitch(_dp, null, new OfFlowTables(_dp, new FlowTableOptions { RecycleEntries = true }));
        _dp.AddPort(new MemoryPort("p1", MacAddress.Parse("02:00:00:00:00:01")));
        _dp.AddPort(new MemoryPort("p2", MacAddress.Parse("02:00:00:00:00:02")));
        _add = new byte[window][];
        _del = new byte[window][];
        for (int i = 0; i < window; i++)
        {
            var match = FlowMatch.Exact(new FlowKeyBuilder().DlType(0x0800).NwDst(0x0AC80000u + (uint)i).Key);
            var fm = new OfpFlowMod
            {
                Command = OfpFlowModCommand.DeleteStrict, Match = MatchTranslator.ToOfpMatch(OfMatchCompiler.ToOfMatch(match)), Priority = 20, Xid = (uint)i,
                BufferId = 0xFFFFFFFF, OutPort = 0xFFFF,
            };
            _del[i] = fm.ToArray();
            fm.Command = OfpFlowModCommand.Add;
            fm.Cookie = 0x55;
            fm.Actions = [OfpAction.Output(2)];
            _add[i] = fm.ToArray();
            Step(Stage.Apply, i);
        }
    }

    public void Step(Stage stage) => Step(stage, _next++ % _add.Length);

    private void Step(Stage stage, int i)
    {
        One(stage, _del[i]);
        One(stage, _add[i]);
    }

    private void One(Stage stage, byte[] msg)
    {
        _actions.Clear();
        if (!OfpFlowMod.TryDecode(msg, _actions, out var fm, out _)) throw new InvalidOperationException("not a flow-mod");
        if (stage == Stage.Decode) return;
        var actions = ReadOnlyMemory<OfAction>.Empty;
        bool add = fm.Command == OfpFlowModCommand.Add;
        if (add && !ActionTranslator.TryDecode(_actions, out actions, out _)) throw new InvalidOperationException("bad actions");
        FlowModTranslator.TryCommand(fm.Command, out var command);
        var request = FlowModTranslator.ToRequest(fm, command, actions);
        if (stage == Stage.Translate) return;
        using var scope = _switch.BeginRequest();
        if (_switch.FlowMod(request) != OfError.None) throw new InvalidOperationException("flow-mod refused");
    }
}
