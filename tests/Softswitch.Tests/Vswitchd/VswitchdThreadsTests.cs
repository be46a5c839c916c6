using Microsoft.Extensions.Logging.Abstractions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Memory;
using Softswitch.Ports;
using Softswitch.Vswitchd;

namespace Softswitch.Tests.Vswitchd;

/// <summary>
/// Many bridges in one daemon share its threads: fifteen bridges (a Mininet tree), each with its LOCAL port, two
/// ports, a controller to connect to and a listener (as Mininet's stock switch asks) and its management socket, add no
/// thread per bridge. The threads are read from the whole process, so this class runs alone.
/// </summary>
[Collection(nameof(VswitchdThreadsCollection))]
public sealed class VswitchdThreadsTests : IDisposable
{
    private readonly DirectoryInfo _run = Directory.CreateTempSubdirectory("ssw-vsth-");

    public void Dispose() => _run.Delete(recursive: true);

    private static readonly IReadOnlyDictionary<string, string> NoOptions = new Dictionary<string, string>();

    /// <summary>The process's threads but the runtime's own (thread pool, timers, the JIT: they come and go with load).</summary>
    private static int ThreadsOfProcess()
    {
        int n = 0;
        foreach (var dir in Directory.GetDirectories($"/proc/{Environment.ProcessId}/task"))
        {
            try
            {
                if (!File.ReadAllText(Path.Combine(dir, "comm")).StartsWith(".NET", StringComparison.Ordinal)) n++;
            }
            catch (IOException) { }   // the thread ended meanwhile
        }
        return n;
    }

    private static BridgeConfig Config(int i)
    {
        string name = $"vs{i}";
        InterfaceConfig Iface(string n, string type) => new(Guid.NewGuid(), n, type, null, NoOptions);
        return new BridgeConfig(Guid.NewGuid(), name, null, null, "secure", [],
            [new ControllerConfig(Guid.NewGuid(), "tcp:127.0.0.1:1"), new ControllerConfig(Guid.NewGuid(), "ptcp:0:127.0.0.1")],
            [Iface(name, "internal"), Iface($"vs{i}-eth1", "system"), Iface($"vs{i}-eth2", "system")], []);
    }

    [Fact]
    public void FifteenBridges_OnSharedThreads_AddNoThreadPerBridge()
    {
        using var shared = new ForwardingThreads(1, busyPollMicros: 0);
        var host = new BridgeHost(NullLoggerFactory.Instance, _run.FullName, shared)
        {
            OpenPort = r => r.Kind == PortKind.Tap
                ? new MemoryPort(r.Name, r.Tap?.Mac ?? new MacAddress(0x02_00_00_00_00_01UL))
                : new MemoryPort(r.Name, new MacAddress(0x02_00_00_00_01_00UL + (ulong)r.Name.Length)),
        };
        // One bridge first: the process-wide threads (readiness, the shared upcall pump) start with it.
        var bridges = new List<Bridge> { Bridge.Create(Config(0), host) };
        try
        {
            int one = ThreadsOfProcess();
            for (int i = 1; i < 15; i++) bridges.Add(Bridge.Create(Config(i), host));
            Assert.All(bridges, b => Assert.True(File.Exists(b.ManagementSocket), $"{b.Name}: no management socket"));
            int more = ThreadsOfProcess() - one;
            Assert.True(more <= 1, $"fourteen more bridges added {more} threads");
        }
        finally
        {
            foreach (var b in bridges) b.Dispose();
        }
    }
}

[CollectionDefinition(nameof(VswitchdThreadsCollection), DisableParallelization = true)]
public sealed class VswitchdThreadsCollection;
