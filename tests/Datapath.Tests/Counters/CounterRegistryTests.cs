using System.Text.RegularExpressions;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Datapath.Tunnels;

namespace Softswitch.Datapath.Tests;

/// <summary>The one counter registry: names, descriptions, families, per-thread sets summed when read.</summary>
public sealed class CounterRegistryTests
{
    // Registering a counter is one line (what another family does next to the code that counts).
    private static readonly Counter s_probe = Coverage.Define("test-registry-probe", "counted by the registry's own tests");

    [Fact]
    public void EveryCounter_HasAStableHyphenatedUniqueName_AndADescription()
    {
        DatapathCounters.EnsureDefined();
        _ = OffloadCounters.Pending;
        var all = Coverage.All;
        Assert.True(all.Count > 40, $"only {all.Count} counters registered");
        Assert.Equal(all.Count, all.Select(c => c.Name).Distinct().Count());
        for (int i = 0; i < all.Count; i++)
        {
            Assert.Equal(i, all[i].Index);
            Assert.True(Coverage.IsValidName(all[i].Name), all[i].Name);
            Assert.False(string.IsNullOrWhiteSpace(all[i].Description), all[i].Name);
            Assert.DoesNotContain('\n', all[i].Description);
        }
    }

    [Fact]
    public void EnumFamilies_HaveOneCounterPerValue_WithTheFamilyPrefix()
    {
        var names = new HashSet<string>();
        for (var r = (DropReason)0; r < DropReason.Count; r++)
        {
            Assert.StartsWith("drop-", DatapathCounters.Drop(r).Info.Name);
            Assert.True(names.Add(DatapathCounters.Drop(r).Info.Name));
        }
        for (var e = (ParseError)1; e < ParseError.Count; e++)
        {
            Assert.StartsWith("parse-", DatapathCounters.Parse(e).Info.Name);
            Assert.True(names.Add(DatapathCounters.Parse(e).Info.Name));
        }
        for (var r = (TunnelDropReason)0; r < TunnelDropReason.Count; r++)
        {
            Assert.StartsWith("tunnel-", DatapathCounters.Tunnel(r).Info.Name);
            Assert.True(names.Add(DatapathCounters.Tunnel(r).Info.Name));
        }
        foreach (var r in OffloadReason.All) Assert.Equal("offload-sw-" + r.Name, OffloadCounters.Software(r).Info.Name);
        // Stable names scripts match on.
        Assert.Equal("drop-miss-secure", DatapathCounters.Drop(DropReason.MissSecure).Info.Name);
        Assert.Equal("parse-runt", DatapathCounters.Parse(ParseError.Runt).Info.Name);
        Assert.Equal("tunnel-unknown-key", DatapathCounters.Tunnel(TunnelDropReason.UnknownKey).Info.Name);
        Assert.True(Coverage.TryFind("emc-hit", out _));
        Assert.True(Coverage.TryFind("mac-table-full", out _));
        Assert.True(Coverage.TryFind("vlan-push-failed", out _));
    }

    [Fact]
    public void KernelOffloadCounters_HaveTheirOwnNames_AndTheOffloadPrefixIsHardwareFlowOffloadAlone()
    {
        DatapathCounters.EnsureDefined();
        _ = OffloadCounters.Pending;
        Assert.Equal("kernel-csum-completed", DatapathCounters.KernelCsumCompleted.Info.Name);
        Assert.Equal("gso-segmented", DatapathCounters.GsoSegmented.Info.Name);
        Assert.Equal("gso-segments", DatapathCounters.GsoSegments.Info.Name);
        Assert.Equal("gso-received-whole", DatapathCounters.GsoReceivedWhole.Info.Name);
        Assert.Equal("gso-handed-on", DatapathCounters.GsoHandedOn.Info.Name);
        Assert.Equal("gso-refused", DatapathCounters.GsoRefused.Info.Name);
        Assert.Equal("kernel-rx-oversize", DatapathCounters.KernelRxOversize.Info.Name);
        foreach (var old in new[] { "offload-csum-completed", "offload-gso-segmented", "offload-gso-segments", "offload-gso-received-whole",
                                    "offload-handed-on", "offload-gso-refused", "offload-oversize" })
        {
            Assert.False(Coverage.TryFind(old, out _), old);
        }
        // What is left under offload- is the hardware flow offload family: software flows by reason, and the queue.
        foreach (var c in Coverage.All)
        {
            if (c.Name.StartsWith("offload-", StringComparison.Ordinal))
                Assert.True(c.Name.StartsWith("offload-sw-", StringComparison.Ordinal) || c.Name == "offload-pending", c.Name);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("Drop-x")]
    [InlineData("drop_x")]
    [InlineData("drop--x")]
    [InlineData("-drop")]
    [InlineData("drop-")]
    [InlineData("drop x")]
    public void BadNames_AreRefused(string name)
    {
        Assert.False(Coverage.IsValidName(name));
        Assert.Throws<ArgumentException>(() => Coverage.Define(name, "x"));
    }

    [Fact]
    public void DefiningANameTwice_IsRefused()
    {
        Assert.Equal("test-registry-probe", s_probe.Info.Name);
        Assert.Throws<ArgumentException>(() => Coverage.Define("test-registry-probe", "again"));
    }

    [Fact]
    public void Group_SumsThreadSets_TheSharedSet_AndSources()
    {
        var g = new CounterGroup();
        var a = g.CreateSet();
        var b = g.CreateSet();
        a.Add(s_probe);
        a.Add(s_probe, 4);
        b.Add(s_probe, 10);
        g.Shared.AddAtomic(s_probe, 100);
        var owner = new object();
        g.AddSource(s_probe, () => 1000, owner);
        Assert.Equal(1115, g.Read(s_probe));
        Assert.Contains(g.Snapshot(), c => c.Info.Name == "test-registry-probe" && c.Value == 1115);
        g.RemoveSources(owner);
        Assert.Equal(115, g.Read(s_probe));
        // A set of its own is counted nowhere else.
        var alone = new CounterSet();
        alone.Add(s_probe);
        Assert.Equal(115, g.Read(s_probe));
        Assert.Equal(1, alone[s_probe]);
    }

    [Fact]
    public void ACounterDefinedAfterASetWasMade_StillCounts()
    {
        var g = new CounterGroup();
        var set = g.CreateSet();
        var late = Coverage.Define($"test-late-{Guid.NewGuid():N}", "defined after the set");
        set.Add(late, 3);
        g.Shared.AddAtomic(late, 2);
        Assert.Equal(5, g.Read(late));
    }

    [Fact]
    public void Normal_ToTheInPort_IsADropWithItsOwnCounter()
    {
        using var dp = new SwitchDatapath();
        var dst = new MacAddress(0x02_00_00_00_00_0BUL);
        Assert.True(dp.MacTable.Learn(dst, 0, 1, dp.Clock.NowNanos));
        var frame = new byte[60];
        dst.Write(frame);
        new MacAddress(0x02_00_00_00_00_0AUL).Write(frame.AsSpan(6));
        frame[12] = 0x08;
        // NORMAL finds the destination behind the packet's own input port: a learning switch does not send it back.
        dp.PacketOut(frame, 1, new FlowActions([FlowAction.Output(PortNumber.Normal)]));
        Assert.Equal(1, dp.DropCount(DropReason.NormalToInPort));
        Assert.Contains(dp.Counters.Snapshot(), c => c.Info.Name == "drop-normal-to-in-port" && c.Value == 1);
    }

    [Fact]
    public void DatapathDrops_ReachTheRegistry_IncludingOnesNotCountedBefore()
    {
        using var dp = new SwitchDatapath();
        // NORMAL with a runt frame: dropped, and now counted.
        dp.PacketOut(new byte[10], 1, new FlowActions([FlowAction.Output(PortNumber.Normal)]));
        Assert.Equal(1, dp.Counters.Read(DatapathCounters.Drop(DropReason.NormalRunt)));
        Assert.Equal(1, dp.DropCount(DropReason.NormalRunt));
        // Output to a port that does not exist.
        dp.PacketOut(new byte[60], 1, new FlowActions([FlowAction.Output(7)]));
        Assert.Equal(1, dp.Counters.Read(DatapathCounters.Drop(DropReason.NoSuchPort)));
        var nonZero = dp.Counters.Snapshot().Where(c => c.Value != 0).Select(c => c.Info.Name).ToList();
        Assert.Contains("drop-normal-runt", nonZero);
        Assert.Contains("drop-no-such-port", nonZero);
    }

    [Theory]
    [InlineData(PacketPool.DefaultDataSize)]
    [InlineData(9216)]
    public void ControlPath_IsMadeAtTheFirstPacketOut_AndCountsFromThere(int frameSize)
    {
        using var dp = new SwitchDatapath(new DatapathOptions { FrameSize = frameSize });
        // Never sent a packet-out: no control forwarder, and nothing read from the datapath makes one.
        Assert.Equal(0, dp.DropCount(DropReason.NoSuchPort));
        Assert.Equal(0, dp.ParseErrorCount(ParseError.Runt));
        Assert.Equal(0, dp.DrainUpcalls((in Upcall _) => { }));
        Assert.Equal(frameSize, dp.MaxFrameSize);
        Assert.False(dp.HasControl);
        dp.PacketOut(new byte[60], 1, new FlowActions([FlowAction.Output(7)]));
        Assert.True(dp.HasControl);
        Assert.Equal(1, dp.DropCount(DropReason.NoSuchPort));
        Assert.Equal(dp.Control.Pool.MaxFrameSize, dp.MaxFrameSize);
    }

    [Fact]
    public void MacTableFull_IsReported_NotSilent()
    {
        var t = new MacLearningTable { MaxEntries = 1 };
        Assert.True(t.Learn(new Flow.MacAddress(0x0200_0000_0001UL), 0, 1, 0));
        Assert.True(t.Learn(new Flow.MacAddress(0x0200_0000_0001UL), 0, 2, 0)); // known: refreshed
        Assert.False(t.Learn(new Flow.MacAddress(0x0200_0000_0002UL), 0, 1, 0));
        Assert.True(t.Learn(new Flow.MacAddress(0x0100_0000_0002UL), 0, 1, 0)); // multicast: never learned, not a failure
    }

    [Fact]
    public void ReasonNames_AreDistinctStableAndHyphenated()
    {
        var names = new HashSet<string>();
        Assert.DoesNotContain(OffloadReason.None, OffloadReason.All);
        foreach (var r in OffloadReason.All)
        {
            string n = r.Name;
            Assert.Matches(new Regex("^[a-z]+(-[a-z]+)*$"), n);
            Assert.True(names.Add(n), $"{r}: '{n}' twice");
        }
        Assert.Equal("unsupported-action", OffloadReason.UnsupportedAction.Name);
        Assert.Equal("overlaps-software-rule", OffloadReason.OverlapsSoftwareRule.Name);
        Assert.Equal("other-table", OffloadReason.OtherTable.Name);
        Assert.Equal("table-full", OffloadReason.TableFull.Name);
        Assert.True(OffloadReason.TableFull.Retryable);
        Assert.False(OffloadReason.UnsupportedAction.Retryable);
        // A reason name is defined once (it names a counter).
        Assert.Throws<ArgumentException>(() => OffloadReason.Define("unsupported-action", "again"));
    }
}
