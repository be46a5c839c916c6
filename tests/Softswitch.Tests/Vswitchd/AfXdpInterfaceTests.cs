using Softswitch.Ports.AfXdp;
using Softswitch.Vswitchd;

namespace Softswitch.Tests.Vswitchd;

/// <summary>An Interface of type afxdp: Open vSwitch's options (xdp-mode, n_rxq, use-need-wakeup) and rx-frames read
/// into the AF_XDP port's options; what cannot be honoured is the error, in Open vSwitch's words first.</summary>
public sealed class AfXdpInterfaceTests
{
    private static AfXdpOptions? Read(out string? error, out string? ignored, params (string Key, string Value)[] options)
        => AfXdpInterface.Read("p1", options.ToDictionary(o => o.Key, o => o.Value), new AfXdpOptions(), out error, out ignored);

    [Fact]
    public void NoOptions_AreTheRunDefaults_BestEffortOnEveryQueue()
    {
        var o = Read(out var error, out var ignored)!;
        Assert.Null(error);
        Assert.Null(ignored);
        Assert.Equal(new AfXdpOptions(), o);
        Assert.Equal(XdpAttachMode.Auto, o.Mode);
        Assert.True(o.ZeroCopy);
        Assert.Null(o.QueueCount);
        Assert.True(o.NeedWakeup);
        Assert.Equal("best-effort, every rx queue, use-need-wakeup true, 8192 rx frames", AfXdpInterface.Describe(o));
    }

    [Theory]
    [InlineData("best-effort", XdpAttachMode.Auto, true, false)]
    [InlineData("native-with-zerocopy", XdpAttachMode.Native, true, true)]
    [InlineData("native", XdpAttachMode.Native, false, false)]
    [InlineData("generic", XdpAttachMode.Generic, false, false)]
    [InlineData("Native", XdpAttachMode.Native, false, false)]   // Open vSwitch compares with strcasecmp
    [InlineData("GENERIC", XdpAttachMode.Generic, false, false)]
    public void XdpMode_MapsOntoTheAttachModeAndCopyMode(string mode, XdpAttachMode attach, bool zeroCopy, bool requireZeroCopy)
    {
        var o = Read(out var error, out _, ("xdp-mode", mode))!;
        Assert.Null(error);
        Assert.Equal(attach, o.Mode);
        Assert.Equal(zeroCopy, o.ZeroCopy);
        Assert.Equal(requireZeroCopy, o.RequireZeroCopy);
        Assert.StartsWith(mode.ToLowerInvariant() + ",", AfXdpInterface.Describe(o));
    }

    [Theory]
    [InlineData("native-with-pointers", XdpAttachMode.Native, "native")]
    [InlineData("Native-With-Pointers", XdpAttachMode.Native, "native")]
    [InlineData("generic-with-pointers", XdpAttachMode.Generic, "generic")]
    [InlineData("GENERIC-WITH-POINTERS", XdpAttachMode.Generic, "generic")]
    public void TheWithPointersSpellings_ReadAsThePlainModes(string mode, XdpAttachMode attach, string plain)
    {
        var o = Read(out var error, out var ignored, ("xdp-mode", mode))!;
        Assert.Null(error);
        Assert.Null(ignored);
        Assert.Equal(Read(out _, out _, ("xdp-mode", plain)), o);
        Assert.Equal(attach, o.Mode);
        Assert.False(o.ZeroCopy);
        Assert.False(o.RequireZeroCopy);
        Assert.StartsWith(plain + ",", AfXdpInterface.Describe(o));
    }

    [Fact]
    public void QueuesWakeupAndDepth_AreTheirPortOptions()
    {
        var o = Read(out var error, out var ignored, ("n_rxq", "4"), ("use-need-wakeup", "false"), ("rx-frames", "65536"))!;
        Assert.Null(error);
        Assert.Null(ignored);
        Assert.Equal(4, o.QueueCount);
        Assert.Null(o.QueueId);
        Assert.False(o.NeedWakeup);
        Assert.Equal(65536, o.RxFrames);
        Assert.Equal("best-effort, 4 rx queue(s), use-need-wakeup false, 65536 rx frames", AfXdpInterface.Describe(o));
        // n_rxq 0 reads as 1, as Open vSwitch's MAX(n_rxq, 1); use-need-wakeup in any case.
        Assert.Equal(1, Read(out _, out _, ("n_rxq", "0"))!.QueueCount);
        Assert.True(Read(out _, out _, ("use-need-wakeup", "TRUE"))!.NeedWakeup);
    }

    [Theory]
    [InlineData("xdp-mode", "turbo", "options:xdp-mode 'turbo' is not best-effort, native-with-zerocopy, native or generic")]
    [InlineData("xdp-mode", "unspecified", "options:xdp-mode 'unspecified' is not")]
    [InlineData("xdp-mode", "native-with", "options:xdp-mode 'native-with' is not")]
    [InlineData("xdp-mode", "best-effort-with-pointers", "options:xdp-mode 'best-effort-with-pointers' is not")]
    [InlineData("n_rxq", "17", "options:n_rxq 17 is above 16")]
    [InlineData("n_rxq", "two", "options:n_rxq 'two' is not a number of RX queues")]
    [InlineData("use-need-wakeup", "yes", "options:use-need-wakeup 'yes' is not true or false")]
    [InlineData("rx-frames", "1000", "options:rx-frames '1000' is not a power of two from 256 to 1048576")]
    [InlineData("rx-frames", "128", "options:rx-frames '128' is not a power of two")]
    [InlineData("rx-frames", "2097152", "options:rx-frames '2097152' is not a power of two")]
    public void ABadValue_IsTheError_InOpenVswitchsWordsFirst(string key, string value, string why)
    {
        Assert.Null(Read(out var error, out _, (key, value)));
        Assert.StartsWith("p1: could not set configuration (Invalid argument): ", error);
        Assert.Contains(why, error);
    }

    [Fact]
    public void AnOptionNotReadHere_IsSaid_ThePortStillOpens()
    {
        var o = Read(out var error, out var ignored, ("xdp-mode", "generic"), ("colour", "blue"), ("n_txq", "2"));
        Assert.NotNull(o);
        Assert.Null(error);
        Assert.Equal("options 'colour', 'n_txq' not read by softswitch vswitchd for type afxdp (it reads xdp-mode, n_rxq, use-need-wakeup, rx-frames): ignored", ignored);
    }
}
