using System.Buffers.Binary;
using Softswitch.Bench.Gen;

namespace Softswitch.Bench.Tests;

/// <summary>The generator's pacing arithmetic and frames, on a synthetic clock (no timing).</summary>
public class GenTests
{
    private const long Freq = 1_000_000_000;   // ns ticks

    [Fact]
    public void PacerGrantsFramesInProportionToElapsedTime()
    {
        var p = new Pacer(1_000_000, depth: 32, Freq, now: 0);   // 1 Mpps: one frame per 1,000 ns
        Assert.Equal(0, p.Take(999, 32));
        Assert.Equal(1, p.Take(1_000, 32));
        Assert.Equal(0, p.Take(1_999, 32));
        Assert.Equal(5, p.Take(6_000, 32));
        Assert.Equal(0, p.Missed);
    }

    [Fact]
    public void PacerKeepsTheAverageRateExactOverManySmallSteps()
    {
        var p = new Pacer(333_333, depth: 32, Freq, now: 0);
        long granted = 0;
        for (long t = 0; t <= Freq; t += 777) granted += p.Take(t, 32);
        long last = Freq / 777 * 777;
        long expected = last * 333_333 / Freq;
        Assert.Equal(expected, granted);
        Assert.Equal(0, p.Missed);
    }

    [Fact]
    public void PacerDoesNotCatchUpWithABurstAfterFallingBehind()
    {
        var p = new Pacer(1_000_000, depth: 32, Freq, now: 0);
        // 1 ms without a call: 1,000 frames were due; only the bucket's 32 are granted, the rest is counted as missed.
        Assert.Equal(32, p.Take(1_000_000, 1_000));
        Assert.Equal(968, p.Missed);
        Assert.Equal(0, p.Take(1_000_000, 1_000));
        Assert.Equal(1, p.Take(1_001_000, 1_000));
    }

    [Fact]
    public void PacerGrantsNoMoreThanAskedAndKeepsTheRest()
    {
        var p = new Pacer(1_000_000, depth: 32, Freq, now: 0);
        Assert.Equal(4, p.Take(10_000, 4));
        Assert.Equal(6, p.Take(10_000, 32));
        Assert.Equal(0, p.Take(10_000, 32));
    }

    [Fact]
    public void UnthrottledPacerGrantsEveryRequest()
    {
        var p = new Pacer(0, depth: 32, Freq, now: 0);
        Assert.Equal(32, p.Take(0, 32));
        Assert.Equal(7, p.Take(0, 7));
        Assert.Equal(0, p.TicksUntilNext(0));
    }

    [Fact]
    public void PacerSaysWhenTheNextFrameIsDue()
    {
        var p = new Pacer(4_000, depth: 8, Freq, now: 0);       // one frame per 250,000 ns
        Assert.Equal(250_000, p.TicksUntilNext(0));
        Assert.Equal(50_000, p.TicksUntilNext(200_000));
        Assert.Equal(0, p.TicksUntilNext(250_000));
    }

    [Fact]
    public void PacerSurvivesALongGapAtAHighRateWithoutOverflow()
    {
        var p = new Pacer(100_000_000, depth: 64, Freq, now: 0);
        Assert.Equal(64, p.Take(long.MaxValue / 2, 1_000));
        Assert.True(p.Missed > 0);
    }

    [Theory]
    [InlineData(64, 60)]
    [InlineData(1518, 1514)]
    public void FramesHaveTheSizeAndValidHeaders(int size, int length)
    {
        var g = new GenFrames(size, 1000, GenFrames.ParseMac("02:00:00:00:00:02"), GenFrames.ParseMac("02:00:00:00:00:01"),
            GenFrames.ParseIp("10.88.0.1"), GenFrames.ParseIp("10.88.0.2"));
        Assert.Equal(length, g.Length);
        var f = g.Template.ToArray();
        Assert.Equal(0x0800, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(12)));
        Assert.Equal(length - 14, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(16)));
        Assert.Equal(length - 34, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(38)));
        var seen = new HashSet<(uint, ushort)>();
        for (int flow = 0; flow < 1000; flow++)
        {
            g.Patch(f, flow);
            Assert.Equal(0, GenFrames.Ipv4Checksum(f.AsSpan(14, 20)));   // a valid header sums to 0xffff
            seen.Add((BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(26)), BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(34))));
            Assert.Equal(0x0a580002u, BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(30)));
        }
        Assert.Equal(1000, seen.Count);
    }

    [Fact]
    public void RatesParseWithSuffixes()
    {
        Assert.Equal(500_000, PacketGen.ParseCount("500k"));
        Assert.Equal(1_500_000, PacketGen.ParseCount("1.5M"));
        Assert.Equal(2_000_000, PacketGen.ParseCount("2e6"));
        Assert.Equal(0, PacketGen.Parse(["--dev", "x", "--rate", "max"]).Rate);
        Assert.Throws<ArgumentException>(() => PacketGen.Parse(["--dev", "x", "--size", "2000"]));
    }

    [Fact]
    public void BenchXdpProgramsAreAssembledAsBpfInstructions()
    {
        var drop = XdpCommand.ActionProgram(1);
        Assert.Equal(new ulong[] { 0x00000001_000000b7UL, 0x95UL }, drop);
        var redir = XdpCommand.RedirectProgram(7);
        Assert.Equal(4, redir.Length);
        Assert.Equal(0x00000007_000001b7UL, redir[0]);   // mov64 r1, 7
        Assert.Equal(0x00000017_00000085UL, redir[2]);   // call 23 (bpf_redirect)
    }

    [Fact]
    public void RingSlotsAreAsSmallAsTheFrameAllows()
    {
        Assert.Equal(128, PacketGen.SlotSize(60));     // 32 B header + 60 B frame
        Assert.Equal(2048, PacketGen.SlotSize(1514));
    }

    [Fact]
    public void BatchIsLargeUnthrottledAndSmallPaced()
    {
        Assert.Equal(PacketGen.UnthrottledBatch, PacketGen.Parse(["--dev", "x"]).EffectiveBatch);
        Assert.Equal(PacketGen.PacedBatch, PacketGen.Parse(["--dev", "x", "--rate", "1M"]).EffectiveBatch);
        Assert.Equal(8, PacketGen.Parse(["--dev", "x", "--batch", "8"]).EffectiveBatch);
        Assert.Equal("xdp", PacketGen.Parse(["--dev", "x", "--mode", "xdp"]).Mode);
        Assert.Throws<ArgumentException>(() => PacketGen.Parse(["--dev", "x", "--mode", "tap"]));
    }

    [Fact]
    public void XdpTransmitsAreSummedOverQueues()
    {
        const string stats = "NIC statistics:\n     peer_ifindex: 7\n     rx_queue_0_xdp_drops: 5\n     tx_queue_0_xdp_xmit: 100\n" +
            "     tx_queue_0_xdp_xmit_errors: 3\n     tx_queue_1_xdp_xmit: 4\n";
        Assert.Equal(104, XdpGen.SumXdpXmit(stats));
        Assert.Null(XdpGen.SumXdpXmit("no stats available\n"));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(1000)]
    public void XdpGeneratorProgramJumpsStayInside_AndEndsInExit(int flows)
    {
        var p = XdpGen.Program(ifindex: 9, flows, stateFd: 3, patchesFd: 4);
        Assert.Equal(0x95UL, p[^1] & 0xff);
        for (int i = 0; i < p.Length; i++)
        {
            byte code = (byte)p[i];
            if ((code & 0x07) != 0x05 || code is 0x85 or 0x95) continue;   // BPF_JMP class, not call/exit
            short off = (short)(p[i] >> 16);
            Assert.InRange(i + 1 + off, i + 1, p.Length - 1);
        }
        Assert.Contains(p, insn => (byte)insn == 0x85 && (int)(insn >> 32) == 23);   // bpf_redirect
        Assert.Equal(flows > 1, p.Any(insn => (byte)insn == 0x97 && (int)(insn >> 32) == flows));   // sent % flows
    }
}
