using System.Buffers.Binary;
using Softswitch.Datapath.Packets;
using Softswitch.Ports.Linux;
using Softswitch.Ports.PcapFile;
using Softswitch.TestKit;
using Xunit.Abstractions;

namespace Softswitch.Ports.Tests;

/// <summary>
/// Checksum completion and GSO segmentation in software (what an AF_PACKET port does with frames a local sender left
/// to "hardware"): every field a segment must change, checked here and by tshark as an independent dissector.
/// </summary>
public sealed class SoftwareOffloadTests(ITestOutputHelper output)
{
    private static readonly byte[] SrcV4 = [10, 77, 0, 1], DstV4 = [10, 77, 0, 2];

    /// <summary>An Ethernet (+VLAN tags) + IPv4/IPv6 + TCP/UDP frame with <paramref name="payload"/> bytes and correct checksums.</summary>
    internal static byte[] Build(bool v6, bool tcp, int payload, ushort[]? vlans = null, ushort ipId = 0x1234, uint seq = 1000,
        byte tcpFlags = 0x18, bool partial = false)
    {
        vlans ??= [];
        int l2 = 14 + 4 * vlans.Length;
        int l3Len = v6 ? 40 : 20;
        int l4Len = tcp ? 32 : 8;   // TCP with 12 bytes of options (timestamps), as Linux sends
        var f = new byte[l2 + l3Len + l4Len + payload];
        byte[] dst = [0x02, 0, 0, 0, 0, 2], src = [0x02, 0, 0, 0, 0, 1];
        dst.CopyTo(f, 0);
        src.CopyTo(f, 6);
        int off = 12;
        foreach (var v in vlans)
        {
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(off), 0x8100);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(off + 2), v);
            off += 4;
        }
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(off), v6 ? (ushort)0x86DD : (ushort)0x0800);
        int l3 = l2, l4 = l2 + l3Len;
        byte proto = tcp ? (byte)6 : (byte)17;
        if (v6)
        {
            f[l3] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l3 + 4), (ushort)(l4Len + payload));
            f[l3 + 6] = proto;
            f[l3 + 7] = 64;
            f[l3 + 8] = 0xfd; f[l3 + 23] = 1;
            f[l3 + 24] = 0xfd; f[l3 + 39] = 2;
        }
        else
        {
            f[l3] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l3 + 2), (ushort)(l3Len + l4Len + payload));
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l3 + 4), ipId);
            f[l3 + 6] = 0x40;   // DF, as TCP sets it
            f[l3 + 8] = 64;
            f[l3 + 9] = proto;
            SrcV4.CopyTo(f, l3 + 12);
            DstV4.CopyTo(f, l3 + 16);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l3 + 10), Checksum.Compute(f.AsSpan(l3, 20)));
        }
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l4), 40000);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l4 + 2), 5201);
        int csumField;
        if (tcp)
        {
            BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(l4 + 4), seq);
            BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(l4 + 8), 777);
            f[l4 + 12] = 0x80;   // 8 words
            f[l4 + 13] = tcpFlags;
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l4 + 14), 502);
            f[l4 + 20] = 1; f[l4 + 21] = 1; f[l4 + 22] = 8; f[l4 + 23] = 10;   // NOP NOP TS
            csumField = l4 + 16;
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l4 + 4), (ushort)(8 + payload));
            csumField = l4 + 6;
        }
        for (int i = 0; i < payload; i++) f[l4 + l4Len + i] = (byte)(i * 7 + (i >> 8));
        ushort pseudo = v6
            ? SoftwareOffload.PseudoHeaderSumV6(f.AsSpan(l3 + 8, 32), proto, l4Len + payload)
            : Checksum.PseudoHeaderSum(BinaryPrimitives.ReadUInt32BigEndian(SrcV4), BinaryPrimitives.ReadUInt32BigEndian(DstV4), proto, (ushort)(l4Len + payload));
        ushort full = (ushort)~Checksum.Add(pseudo, Checksum.Sum(f.AsSpan(l4)));
        if (!tcp && full == 0) full = 0xFFFF;
        // CHECKSUM_PARTIAL as the kernel leaves it: the field holds the pseudo-header sum, not the checksum.
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(csumField), partial ? pseudo : full);
        return f;
    }

    private static bool L4ChecksumValid(byte[] f, int l3, bool v6, bool tcp)
    {
        int l4 = l3 + (v6 ? 40 : (f[l3] & 0xF) * 4);
        int len = f.Length - l4;
        byte proto = tcp ? (byte)6 : (byte)17;
        ushort pseudo = v6
            ? SoftwareOffload.PseudoHeaderSumV6(f.AsSpan(l3 + 8, 32), proto, len)
            : Checksum.PseudoHeaderSum(BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(l3 + 12)), BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(l3 + 16)), proto, (ushort)len);
        return Checksum.Add(pseudo, Checksum.Sum(f.AsSpan(l4))) == 0xFFFF;
    }

    private static List<byte[]> Segment(byte[] super, byte gsoType, int mss)
    {
        Assert.Equal(GsoRefusal.None, SoftwareOffload.Start(super, gsoType, mss, out var c));
        var list = new List<byte[]>();
        var buf = new byte[4096];
        int n;
        while ((n = SoftwareOffload.Next(super, ref c, buf)) > 0) list.Add(buf[..n]);
        Assert.Equal(0, n);
        Assert.False(c.Active);
        return list;
    }

    [Theory]
    [InlineData(false, true, 34)]     // TCP/IPv4: csum_start = 34, csum_offset = 16
    [InlineData(false, false, 34)]    // UDP/IPv4: csum_offset = 6
    [InlineData(true, true, 54)]      // TCP/IPv6
    public void CompleteChecksum_TurnsThePseudoHeaderSumIntoTheChecksum(bool v6, bool tcp, int csumStart)
    {
        var good = Build(v6, tcp, 333);
        var partial = Build(v6, tcp, 333, partial: true);
        Assert.NotEqual(good, partial);
        Assert.True(SoftwareOffload.CompleteChecksum(partial, csumStart, tcp ? 16 : 6));
        Assert.Equal(good, partial);
    }

    [Fact]
    public void CompleteChecksum_RefusesOffsetsOutsideTheFrame()
    {
        var f = Build(false, true, 10, partial: true);
        var copy = (byte[])f.Clone();
        Assert.False(SoftwareOffload.CompleteChecksum(f, f.Length, 0));
        Assert.False(SoftwareOffload.CompleteChecksum(f, 34, f.Length - 34 - 1));
        Assert.False(SoftwareOffload.CompleteChecksum(f, -1, 16));
        Assert.Equal(copy, f);
    }

    [Fact]
    public void TcpV4_SegmentsCarryIdsSequenceNumbersFlagsAndChecksums()
    {
        const int Payload = 5000, Mss = 1448;
        // PSH|ACK|FIN|CWR on the super-frame: CWR stays on the first segment, FIN and PSH on the last.
        var super = Build(false, true, Payload, ipId: 0xFFFE, seq: 0xFFFFF000, tcpFlags: 0x80 | 0x18 | 0x01, partial: true);
        var segs = Segment(super, VirtioNetHeader.GsoTcpV4, Mss);
        Assert.Equal(4, segs.Count);
        int hdr = 14 + 20 + 32;
        var payload = new List<byte>();
        for (int i = 0; i < segs.Count; i++)
        {
            var s = segs[i];
            int chunk = Math.Min(Mss, Payload - i * Mss);
            Assert.Equal(hdr + chunk, s.Length);
            Assert.Equal(super.AsSpan(0, 14).ToArray(), s[..14]);
            Assert.Equal(20 + 32 + chunk, BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(16)));
            Assert.Equal((ushort)(0xFFFE + i), BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(18)));   // wraps past 0xFFFF
            Assert.True(Checksum.IsValid(s.AsSpan(14, 20)), $"IP checksum of segment {i}");
            Assert.Equal(unchecked(0xFFFFF000u + (uint)(i * Mss)), BinaryPrimitives.ReadUInt32BigEndian(s.AsSpan(38)));
            byte flags = s[47];
            Assert.Equal(i == 0, (flags & 0x80) != 0);
            Assert.Equal(i == segs.Count - 1, (flags & 0x01) != 0);
            Assert.Equal(i == segs.Count - 1, (flags & 0x08) != 0);
            Assert.True((flags & 0x10) != 0, "ACK on every segment");
            Assert.True(L4ChecksumValid(s, 14, false, true), $"TCP checksum of segment {i}");
            Assert.Equal(super.AsSpan(54, 12).ToArray(), s.AsSpan(54, 12).ToArray());   // options copied
            payload.AddRange(s[hdr..]);
        }
        Assert.Equal(super[hdr..], payload.ToArray());
    }

    [Fact]
    public void UdpL4_WithTwoVlanTags_EachSegmentIsADatagram()
    {
        var super = Build(false, false, 4000, vlans: [0x2064, 0x0005], partial: true);
        var segs = Segment(super, VirtioNetHeader.GsoUdpL4, 1400);
        Assert.Equal(3, segs.Count);
        int l3 = 22, l4 = 42;
        for (int i = 0; i < segs.Count; i++)
        {
            var s = segs[i];
            int chunk = Math.Min(1400, 4000 - i * 1400);
            Assert.Equal(super.AsSpan(0, 22).ToArray(), s[..22]);
            Assert.Equal(8 + chunk, BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(l4 + 4)));
            Assert.Equal(28 + chunk, BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(l3 + 2)));
            Assert.True(Checksum.IsValid(s.AsSpan(l3, 20)));
            Assert.True(L4ChecksumValid(s, l3, false, false), $"UDP checksum of segment {i}");
        }
    }

    [Fact]
    public void TcpV6_PayloadLengthAndChecksum()
    {
        var super = Build(true, true, 3000, partial: true);
        var segs = Segment(super, VirtioNetHeader.GsoTcpV6, 1428);
        Assert.Equal(3, segs.Count);
        foreach (var s in segs)
        {
            Assert.Equal(s.Length - 14 - 40, BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(18)));
            Assert.True(L4ChecksumValid(s, 14, true, true));
        }
    }

    [Fact]
    public void Start_RefusesWhatItCannotCut()
    {
        var tcp4 = Build(false, true, 3000);
        Assert.Equal(GsoRefusal.UnsupportedType, SoftwareOffload.Start(tcp4, VirtioNetHeader.GsoUdp, 1400, out _));
        Assert.Equal(GsoRefusal.UnsupportedType, SoftwareOffload.Start(tcp4, 9, 1400, out _));
        Assert.Equal(GsoRefusal.BadSize, SoftwareOffload.Start(tcp4, VirtioNetHeader.GsoTcpV4, 0, out _));
        Assert.Equal(GsoRefusal.BadHeaders, SoftwareOffload.Start(tcp4, VirtioNetHeader.GsoTcpV6, 1400, out _));
        Assert.Equal(GsoRefusal.BadHeaders, SoftwareOffload.Start(tcp4.AsSpan(0, tcp4.Length - 1), VirtioNetHeader.GsoTcpV4, 1400, out _));
        Assert.Equal(GsoRefusal.BadHeaders, SoftwareOffload.Start(tcp4.AsSpan(0, 40), VirtioNetHeader.GsoTcpV4, 1400, out _));
        var udp4 = Build(false, false, 3000);
        Assert.Equal(GsoRefusal.BadHeaders, SoftwareOffload.Start(udp4, VirtioNetHeader.GsoTcpV4, 1400, out _));
        // A segment that does not fit the destination is reported, not truncated.
        Assert.Equal(GsoRefusal.None, SoftwareOffload.Start(tcp4, VirtioNetHeader.GsoTcpV4, 1448, out var c));
        Assert.Equal(-1, SoftwareOffload.Next(tcp4, ref c, new byte[100]));
        // Every prefix and random corruption of a super-frame either segments or is refused: never an exception.
        var rnd = new Random(13);
        for (int i = 0; i < 2000; i++)
        {
            var f = (byte[])tcp4.Clone();
            f[rnd.Next(60)] = (byte)rnd.Next(256);
            var span = f.AsSpan(0, rnd.Next(f.Length + 1));
            if (SoftwareOffload.Start(span, VirtioNetHeader.GsoTcpV4, 1 + rnd.Next(2000), out var cur) != GsoRefusal.None) continue;
            var buf = new byte[4096];
            while (SoftwareOffload.Next(span, ref cur, buf) > 0) { }
        }
    }

    /// <summary>tshark reads our segments as clean TCP and UDP (checksums verified, nothing malformed), VLAN-tagged
    /// and after a rewrite action (set nw_dst with incremental checksum updates) ran on a segment.</summary>
    [ToolFact]
    [RequiresTool("tshark")]
    public void Tshark_ReadsSegmentsAsValid()
    {
        var frames = new List<byte[]>();
        frames.AddRange(Segment(Build(false, true, 6000, partial: true), VirtioNetHeader.GsoTcpV4, 1448));
        frames.AddRange(Segment(Build(false, false, 3000, vlans: [0x0064], partial: true), VirtioNetHeader.GsoUdpL4, 1472));
        frames.AddRange(Segment(Build(false, true, 3000, vlans: [0x0ffe], partial: true), VirtioNetHeader.GsoTcpV4, 1000));
        var partial = Build(false, true, 700, partial: true);
        Assert.True(SoftwareOffload.CompleteChecksum(partial, 34, 16));
        frames.Add(partial);
        // Rewrite after segmentation: set nw_dst on a segment through the datapath's rewriter (incremental checksums).
        var rewritten = Segment(Build(false, true, 3000, partial: true), VirtioNetHeader.GsoTcpV4, 1448);
        foreach (var s in rewritten)
        {
            ushort ipc = BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(24));
            ushort tcpc = BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(50));
            uint old = BinaryPrimitives.ReadUInt32BigEndian(s.AsSpan(30)), now = 0x0A4D0063;
            BinaryPrimitives.WriteUInt32BigEndian(s.AsSpan(30), now);
            BinaryPrimitives.WriteUInt16BigEndian(s.AsSpan(24), Checksum.Update32(ipc, old, now));
            BinaryPrimitives.WriteUInt16BigEndian(s.AsSpan(50), Checksum.Update32(tcpc, old, now));
        }
        frames.AddRange(rewritten);

        string pcap = Path.Combine(Path.GetTempPath(), $"ssw-gso-{Environment.ProcessId:x}-{Random.Shared.Next():x}.pcap");
        try
        {
            using (var w = new PcapWriter(pcap))
                foreach (var f in frames) w.Write(f);
            var r = Sh.Run("tshark", ["-r", pcap, "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
                                      "-T", "fields", "-E", "separator=|", "-e", "frame.protocols", "-e", "ip.checksum.status",
                                      "-e", "tcp.checksum.status", "-e", "udp.checksum.status", "-e", "_ws.malformed"], 60_000);
            Assert.True(r.Ok, $"tshark: {r.Stderr}");
            output.WriteLine(r.Stdout);
            var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(frames.Count, lines.Length);
            foreach (var line in lines)
            {
                var f = line.Split('|');
                Assert.Contains(":ip:", f[0]);
                Assert.True(f[0].Contains(":tcp", StringComparison.Ordinal) || f[0].Contains(":udp", StringComparison.Ordinal), f[0]);
                Assert.Equal("1", f[1]);                                  // IPv4 header checksum good
                Assert.Equal("1", f[2].Length > 0 ? f[2] : f[3]);          // TCP or UDP checksum good
                Assert.Equal("", f[4]);                                   // nothing malformed
            }
        }
        finally
        {
            File.Delete(pcap);
        }
    }
}
