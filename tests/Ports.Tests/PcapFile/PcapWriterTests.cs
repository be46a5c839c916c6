using System.Buffers.Binary;
using Softswitch.Datapath.Packets;
using Softswitch.Ports.PcapFile;
using Softswitch.TestKit;

namespace Softswitch.Ports.Tests.PcapFile;

public sealed class PcapWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ssw-pcap-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static byte[] Frame(int seq, int size)
    {
        var f = new byte[size];
        f[0] = 0xff; f[1] = 0xff; f[2] = 0xff; f[3] = 0xff; f[4] = 0xff; f[5] = 0xff;
        f[6] = 0x02; f[11] = 0x01;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x88B5);
        BinaryPrimitives.WriteInt32BigEndian(f.AsSpan(14), seq);
        for (int i = 18; i < size; i++) f[i] = (byte)(i + seq);
        return f;
    }

    [Fact]
    public void Writes_ConcurrentBursts_ReadableByOwnReader()
    {
        string path = Path.Combine(_dir, "p1-rx.pcap");
        var pool = new PacketPool(256);
        using (var w = new PcapWriter(path, bufferSize: 8192))
        {
            // Two writers, bursts and single frames, including a frame bigger than the buffer.
            var t = new Thread(() =>
            {
                for (int i = 0; i < 500; i++) w.Write(Frame(100_000 + i, 60 + i % 1400));
            });
            t.Start();
            Span<int> burst = stackalloc int[32];
            for (int b = 0; b < 20; b++)
            {
                Assert.Equal(32, pool.Alloc(burst));
                for (int i = 0; i < 32; i++) pool.Write(burst[i], Frame(b * 32 + i, 60 + (b * 32 + i) * 3 % 1454));
                w.Write(pool, burst);
                pool.Release(burst);
            }
            t.Join();
            w.Write(Frame(999_999, 9000));
            Assert.Equal(500 + 640 + 1, w.PacketsWritten);
        }
        var (header, records) = PcapReader.ReadAll(path);
        Assert.Equal(PcapWriter.LinkTypeEthernet, header.LinkType);
        Assert.Equal(1141, records.Count);
        var bySeq = records.ToDictionary(r => BinaryPrimitives.ReadInt32BigEndian(r.Data.AsSpan(14)));
        for (int i = 0; i < 640; i++) Assert.Equal(Frame(i, 60 + i * 3 % 1454), bySeq[i].Data);
        for (int i = 0; i < 500; i++) Assert.Equal(Frame(100_000 + i, 60 + i % 1400), bySeq[100_000 + i].Data);
        Assert.Equal(9000, bySeq[999_999].Data.Length);
        long now = PcapWriter.NowMicros();
        Assert.All(records, r => Assert.InRange(r.UnixMicros, now - 60_000_000, now + 1));
    }

    [Fact]
    public void Snaplen_TruncatesButKeepsOriginalLength()
    {
        var ms = new MemoryStream();
        using (var w = new PcapWriter(ms, leaveOpen: true, snapLen: 100)) w.Write(Frame(1, 300));
        var (header, records) = PcapReader.Read(ms.ToArray());
        Assert.Equal(100, header.SnapLen);
        Assert.Equal(100, records[0].Data.Length);
        Assert.Equal(300, records[0].OriginalLength);
    }

    [Fact]
    public void ThreeFrames_ReadBackWithTheirLengths()
        => Assert.Equal([60, 1514, 200], PcapReader.ReadAll(WriteThree()).Records.Select(r => r.Data.Length));

    [ToolFact]
    [RequiresTool("tshark")]
    public void Tshark_ReadsTheFile()
    {
        string path = WriteThree();
        var r = Sh.Run("tshark", ["-n", "-r", path, "-T", "fields", "-e", "frame.len", "-e", "eth.type", "-e", "eth.src"], 30_000);
        Assert.True(r.Ok, r.Stderr);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["60\t0x88b5\t02:00:00:00:00:01", "1514\t0x88b5\t02:00:00:00:00:01", "200\t0x88b5\t02:00:00:00:00:01"], lines);
    }

    private string WriteThree()
    {
        string path = Path.Combine(_dir, "three.pcap");
        using var w = new PcapWriter(path);
        w.Write(Frame(1, 60));
        w.Write(Frame(2, 1514));
        w.Write(Frame(3, 200));
        return path;
    }

    [Fact]
    public void CapturingPort_RecordsBothDirections()
    {
        var inner = new PortSpecTests.NullPort("x");
        inner.ToReceive.Enqueue(Frame(1, 64));
        inner.ToReceive.Enqueue(Frame(2, 70));
        var pool = new PacketPool(16);
        using (var port = CapturingPort.Create(inner, _dir))
        {
            Span<int> burst = stackalloc int[32];
            int n = port.Receive(pool, burst);
            Assert.Equal(2, n);
            port.Send(pool, burst[..1]);
            pool.Release(burst[..n]);
        }
        Assert.True(inner.Disposed);
        Assert.Equal(2, PcapReader.ReadAll(Path.Combine(_dir, "x-rx.pcap")).Records.Count);
        var tx = PcapReader.ReadAll(Path.Combine(_dir, "x-tx.pcap")).Records;
        Assert.Single(tx);
        Assert.Equal(Frame(1, 64), tx[0].Data);
        Assert.Equal(Frame(1, 64), inner.Sent[0]);
    }

    [Theory]
    [InlineData("eth1", "rx", "eth1-rx.pcap")]
    [InlineData("s1-eth3", "tx", "s1-eth3-tx.pcap")]
    [InlineData("vlan10@eth0", "rx", "vlan10@eth0-rx.pcap")]
    [InlineData("a b/c", "rx", "a_b_c-rx.pcap")]
    [InlineData("..", "tx", "_..-tx.pcap")]
    public void CaptureFiles_AreNamedAfterTheInterface(string ifname, string direction, string expected)
        => Assert.Equal(expected, CapturingPort.FileName(ifname, direction));
}
