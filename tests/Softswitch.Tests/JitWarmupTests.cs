using System.Runtime;
using Softswitch.Datapath;

namespace Softswitch.Tests;

/// <summary>The start-up warm-up compiles the forwarding path's methods on the calling thread, ahead of any call.</summary>
public sealed class JitWarmupTests
{
    [Fact]
    public void Prepare_CompilesTheDatapathAndPortMethods_OnItsThread()
    {
        var assemblies = new[] { typeof(SwitchDatapath).Assembly, typeof(Ports.PortSpec).Assembly };
        long before = JitInfo.GetCompiledMethodCount(currentThread: true);
        int prepared = JitWarmup.Prepare(assemblies);
        long compiled = JitInfo.GetCompiledMethodCount(currentThread: true) - before;
        Assert.True(prepared > 1000, $"prepared {prepared}");
        // Methods other tests of this process already ran are not compiled again; the rest were compiled here.
        Assert.True(compiled > 200, $"compiled {compiled} of {prepared} on this thread");
        Assert.Equal(prepared, JitWarmup.Prepare(assemblies));   // the same methods, nothing fails the second time
    }
}
