using System.Buffers.Binary;
using Softswitch.Datapath.Packets;
using Softswitch.Ports.AfXdp;
using Softswitch.TestKit;
using Xunit.Abstractions;
using static Softswitch.TestKit.FlowFrames;

namespace Softswitch.Ports.Tests.AfXdp;

/// <summary>
/// The flow program's TCP and UDP checksums, run by the kernel on one frame at a time (<see cref="XdpTestRun"/>): a
/// frame whose checksum field holds only its pseudo-header's sum (what a local sender's CHECKSUM_PARTIAL frame carries,
/// for the NIC to finish) leaves with its full checksum; a valid checksum leaves valid; a corrupt one leaves exactly as
/// corrupt as it came (the incremental update); a UDP checksum of 0 stays 0. IPv4 and IPv6, TCP and UDP, with and
/// without address and port rewrites, segments of every length modulo 16 (odd ones too) up to a full-sized frame.
/// </summary>
public sealed class XdpChecksumFillTests(ITestOutputHelper output)
{
    private const string SrcMac = "02:00:00:00:00:01", DstMac = "02:00:00:00:00:02";
    private const byte Tcp = 6, Udp = 17;
    private static readonly int[] s_payloads = [0, 1, 2, 3, 4, 5, 7, 11, 13, 16, 17, 100, 1001, 1440];

    private enum Field { Partial, Valid, Corrupt, Zero }

    /// <summary>Frames of one kind through the program, each checked by <paramref name="check"/> (input, output).</summary>
    private void RunAll(Field field, Action<byte[], byte[], string> check, bool udpOnly = false)
    {
        using var ns = Netns.Create();
        int ifindex = int.Parse(File.ReadAllText($"/sys/class/net/{ns.HostIf}/ifindex"));
        using var maps = new XdpFlowMaps(16);
        maps.AddPort(ifindex);
        using var run = new XdpTestRun(maps, ifindex);
        int n = 0;
        var kinds = from v6 in new[] { false, true }
                    from proto in udpOnly ? new[] { Udp } : new[] { Tcp, Udp }
                    from rewrite in new[] { false, true }
                    select (v6, proto, rewrite);
        foreach (var (v6, proto, rewrite) in kinds)
        {
            var key = new XdpFlowKey(ifindex, 0, (ushort)(v6 ? 0x86DD : 0x0800), Mac(DstMac).Value, Mac(SrcMac).Value, proto, 0, 1000, 2000,
                v6 ? 0 : Ip("10.0.0.1"), v6 ? 0 : Ip("10.0.0.2"));
            uint flags = XdpFlowProgram.OutPort | (!rewrite ? 0 : v6
                ? XdpFlowProgram.SetIpv6Src | XdpFlowProgram.SetIpv6Dst | XdpFlowProgram.SetTpSrc
                : XdpFlowProgram.SetNwSrc | XdpFlowProgram.SetNwDst | XdpFlowProgram.SetTpDst);
            maps.ClearCounters(1);
            Assert.True(maps.Put(key, new XdpFlowAction(flags, ifindex, 0, 0, 0, Ip("192.168.7.1"), Ip("172.16.0.9"), 4321, 5353, 0, 0, 1)
                { Ipv6Src = Ip6("fd00::77"), Ipv6Dst = Ip6("2001:db8:ffff::1:2") }));
            foreach (int payload in s_payloads)
            {
                var frame = Frame(v6, proto, payload, field);
                var o = new byte[frame.Length];
                string what = $"{(v6 ? "IPv6" : "IPv4")} {(proto == Tcp ? "TCP" : "UDP")} {(rewrite ? "rewritten" : "output only")}, {payload} B payload";
                Assert.True(XdpTestRun.XdpRedirect == run.Run(frame, o), what);
                check(frame, o, what);
                n++;
            }
            Assert.Equal(s_payloads.Length, maps.ReadCounters(1).Packets);
            Assert.True(maps.Delete(key));
        }
        output.WriteLine($"{n} frames checked");
    }

    [NetnsFact]
    public void PartialChecksum_LeavesWithTheFullChecksum()
        => RunAll(Field.Partial, (i, o, what) =>
        {
            Assert.True(Verify(i) != 0xFFFF, what + ": the partial checksum is not a valid one");
            Assert.True(Verify(o) == 0xFFFF, $"{what}: {Convert.ToHexString(o)}");
        });

    [NetnsFact]
    public void ValidChecksum_LeavesValid()
        => RunAll(Field.Valid, (i, o, what) => Assert.True(Verify(o) == 0xFFFF, $"{what}: {Convert.ToHexString(o)}"));

    /// <summary>A checksum that is neither valid nor the pseudo-header's sum is updated, not recomputed: the receiver still sees the error.</summary>
    [NetnsFact]
    public void CorruptChecksum_LeavesAsCorruptAsItCame()
        => RunAll(Field.Corrupt, (i, o, what) =>
        {
            Assert.True(Verify(i) != 0xFFFF, what);
            Assert.Equal(Verify(i), Verify(o));
        });

    [NetnsFact]
    public void UdpChecksumZero_StaysZero()
        => RunAll(Field.Zero, (i, o, what) => Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(o.AsSpan(CsumAt(o)))), udpOnly: true);

    private static bool IsV6(ReadOnlySpan<byte> f) => BinaryPrimitives.ReadUInt16BigEndian(f[12..]) == 0x86DD;

    private static int L4At(ReadOnlySpan<byte> f) => 14 + (IsV6(f) ? 40 : 20);

    private static byte Proto(ReadOnlySpan<byte> f) => IsV6(f) ? f[14 + 6] : f[14 + 9];

    private static int CsumAt(ReadOnlySpan<byte> f) => L4At(f) + (Proto(f) == Tcp ? 16 : 6);

    private static int L4Length(ReadOnlySpan<byte> f)
        => IsV6(f) ? BinaryPrimitives.ReadUInt16BigEndian(f[18..]) : BinaryPrimitives.ReadUInt16BigEndian(f[16..]) - 20;

    /// <summary>The pseudo-header's one's complement sum, folded, not complemented (what a partial checksum field holds).</summary>
    private static ushort PseudoSum(ReadOnlySpan<byte> f)
    {
        var ip = f[14..];
        int len = L4Length(f);
        byte[] ph;
        if (IsV6(f))
        {
            ph = new byte[40];
            ip.Slice(8, 32).CopyTo(ph);
            BinaryPrimitives.WriteUInt32BigEndian(ph.AsSpan(32), (uint)len);
            ph[39] = ip[6];
        }
        else
        {
            ph = new byte[12];
            ip.Slice(12, 8).CopyTo(ph);
            ph[9] = ip[9];
            BinaryPrimitives.WriteUInt16BigEndian(ph.AsSpan(10), (ushort)len);
        }
        return Checksum.Sum(ph);
    }

    /// <summary>The pseudo-header and segment summed with the checksum field: 0xFFFF when the checksum is valid.</summary>
    private static ushort Verify(ReadOnlySpan<byte> f) => Checksum.Add(PseudoSum(f), Checksum.Sum(f.Slice(L4At(f), L4Length(f))));

    /// <summary>An untagged TCP or UDP frame (padded to 60 bytes when shorter) whose checksum field is of the kind asked.</summary>
    private static byte[] Frame(bool v6, byte proto, int payload, Field field)
    {
        int l3 = v6 ? 40 : 20, l4 = (proto == Tcp ? 20 : 8) + payload;
        var f = new byte[Math.Max(60, 14 + l3 + l4)];
        Mac(DstMac).Write(f);
        Mac(SrcMac).Write(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), (ushort)(v6 ? 0x86DD : 0x0800));
        var ip = f.AsSpan(14);
        if (v6)
        {
            ip[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)l4);
            ip[6] = proto;
            ip[7] = 64;
            BinaryPrimitives.WriteUInt128BigEndian(ip[8..], Ip6("2001:db8::1"));
            BinaryPrimitives.WriteUInt128BigEndian(ip[24..], Ip6("2001:db8::2"));
        }
        else
        {
            ip[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + l4));
            ip[8] = 64;
            ip[9] = proto;
            BinaryPrimitives.WriteUInt32BigEndian(ip[12..], Ip("10.0.0.1"));
            BinaryPrimitives.WriteUInt32BigEndian(ip[16..], Ip("10.0.0.2"));
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Compute(ip[..20]));
        }
        var seg = ip.Slice(l3, l4);
        BinaryPrimitives.WriteUInt16BigEndian(seg, 1000);
        BinaryPrimitives.WriteUInt16BigEndian(seg[2..], 2000);
        if (proto == Tcp)
        {
            BinaryPrimitives.WriteUInt32BigEndian(seg[4..], 0x01020304);
            seg[12] = 0x50;
            seg[13] = 0x18;
            BinaryPrimitives.WriteUInt16BigEndian(seg[14..], 502);
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(seg[4..], (ushort)l4);
        }
        for (int i = 0; i < payload; i++) seg[(proto == Tcp ? 20 : 8) + i] = (byte)((i * 37) + 11);
        var csum = f.AsSpan(CsumAt(f));
        ushort pseudo = PseudoSum(f);
        ushort valid = (ushort)~Checksum.Add(pseudo, Checksum.Sum(seg));
        if (proto == Udp && valid == 0) valid = 0xFFFF;
        ushort value = field switch
        {
            Field.Partial => pseudo,
            Field.Valid => valid,
            Field.Corrupt => (ushort)(valid ^ 0x0F0F),
            _ => 0,
        };
        Assert.True(field != Field.Corrupt || value != pseudo, "a corrupt checksum that happens to be the pseudo-header's sum");
        BinaryPrimitives.WriteUInt16BigEndian(csum, value);
        return f;
    }
}
