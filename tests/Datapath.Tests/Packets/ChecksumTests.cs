using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;
using Softswitch.Datapath.Tests.Actions;
using Cs = Softswitch.Datapath.Packets.Checksum;

namespace Softswitch.Datapath.Tests;

public class ChecksumTests
{
    [Fact]
    public void Rfc1071Example()
    {
        // RFC 1071 section 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
        byte[] d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        Assert.Equal(0xddf2, Cs.Sum(d));
        Assert.Equal(0xFFFF - 0xddf2, Cs.Compute(d));
    }

    [Fact]
    public void KnownIpv4Header()
    {
        // A textbook header (wikipedia "IPv4 header checksum"): checksum 0xb861.
        byte[] h = Frames.Hex("4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7");
        Assert.Equal(0xb861, Cs.Compute(h));
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(10), 0xb861);
        Assert.True(Cs.IsValid(h));
        Assert.Equal(0xFFFF, Cs.Sum(h));
    }

    [Fact]
    public void EmptyAndZeroAndOddLengths()
    {
        Assert.Equal(0, Cs.Sum([]));
        Assert.Equal(0xFFFF, Cs.Compute([]));
        Assert.Equal(0, Cs.Sum(new byte[37]));
        Assert.Equal(0xAB00, Cs.Sum([0xAB]));
        Assert.Equal(0x0102 + 0x0300, Cs.Sum([1, 2, 3]));
        // Carries wrap around: 0xFFFF + 0x0001 = 0x0001 (one's complement), never 0.
        Assert.Equal(0x0001, Cs.Sum([0xFF, 0xFF, 0x00, 0x01]));
        Assert.Equal(0xFFFF, Cs.Sum([0xFF, 0xFF, 0xFF, 0xFF]));
    }

    [Fact]
    public void SumMatchesReferenceForEveryLengthAndAlignment()
    {
        var rnd = new Random(7);
        var buf = new byte[300];
        for (int trial = 0; trial < 20; trial++)
        {
            rnd.NextBytes(buf);
            if (trial == 0) Array.Fill(buf, (byte)0xFF);
            for (int start = 0; start < 9; start++)
            {
                for (int len = 0; len + start <= 280; len++)
                {
                    var s = buf.AsSpan(start, len);
                    Assert.Equal(Ref.FoldSum(Ref.RawSum(s)), Cs.Sum(s));
                }
            }
        }
    }

    [Fact]
    public void LargeAllOnesDoesNotOverflow()
    {
        var big = new byte[1 << 20];
        Array.Fill(big, (byte)0xFF);
        Assert.Equal(0xFFFF, Cs.Sum(big));
        Assert.Equal(Ref.FoldSum(Ref.RawSum(big.AsSpan(0, 65535))), Cs.Sum(big.AsSpan(0, 65535)));
    }

    [Fact]
    public void AddAndFold()
    {
        Assert.Equal(0x0002, Cs.Add(0xFFFF, 0x0002));
        Assert.Equal(0xFFFF, Cs.Add(0xFFFF, 0x0000));
        Assert.Equal(0xFFFF, Cs.Add(0x8000, 0x7FFF));
        Assert.Equal(0x0002, Cs.Add(0x8000, 0x8001));
        Assert.Equal(0xFFFF, Cs.Fold(0xFFFF_FFFF_FFFF_FFFFUL));
        Assert.Equal(0, Cs.Fold(0));
        Assert.Equal(Ref.FoldSum(0x1_FFFE), Cs.Fold(0x1_FFFE));
    }

    [Fact]
    public void PseudoHeaderAndL4AgainstReference()
    {
        byte[] seg = Frames.Hex("04d2 0050 0000 0001 0000 0000 5018 ffff 0000 0000 6869");
        Assert.Equal(Ref.L4Checksum(0x0A000001, 0x0A000002, 6, seg), Cs.ComputeL4(0x0A000001, 0x0A000002, 6, seg));
        Assert.Equal(Ref.FoldSum(0x0A00 + 0x0001 + 0xC0A8 + 0x0101 + 17 + 28), Cs.PseudoHeaderSum(0x0A000001, 0xC0A80101, 17, 28));
    }

    [Fact]
    public void Rfc1624Example()
    {
        // RFC 1624 section 4: HC = 0xDD2F, m = 0x5555 -> m' = 0x3285 gives HC' = 0x0000 (eqn. 2 would give 0xFFFF).
        Assert.Equal(0x0000, Cs.Update16(0xDD2F, 0x5555, 0x3285));
    }

    [Fact]
    public void UpdateWithUnchangedValueKeepsChecksum()
    {
        foreach (ushort hc in new ushort[] { 0x0000, 0x1234, 0xFFFE })
        {
            Assert.Equal(hc, Cs.Update16(hc, 0x5555, 0x5555));
            Assert.Equal(hc, Cs.Update32(hc, 0xDEADBEEF, 0xDEADBEEF));
        }
    }

    /// <summary>Property: for random data with a valid checksum, replacing a random aligned 16- or 32-bit field and
    /// updating incrementally gives exactly the from-scratch checksum.</summary>
    [Fact]
    public void IncrementalEqualsFromScratch_Property()
    {
        var gen =
            from len in Gen.Choose(2, 120)
            from seed in Gen.Choose(0, int.MaxValue)
            from pos in Gen.Choose(0, 1000)
            from nv in Gen.Choose(int.MinValue, int.MaxValue)
            from wide in Gen.Elements(false, true)
            from special in Gen.Choose(0, 5)
            select (len, seed, pos, nv, wide, special);
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var (len, seed, pos, nv, wide, special) = t;
            var rnd = new Random(seed);
            int n = len * 2 + 2 + (wide ? 4 : 0);      // even: checksum field at 0, the field elsewhere
            var d = new byte[n];
            rnd.NextBytes(d);
            if (special == 0) Array.Fill(d, (byte)0xFF);            // sums at the edges of one's complement
            if (special == 1) Array.Fill(d, (byte)0x00, 2, n - 2);
            d[0] = d[1] = 0;
            if (special == 1) d[^1] = 1;                             // keep data non-zero
            BinaryPrimitives.WriteUInt16BigEndian(d, Ref.Checksum(d));
            int fieldSize = wide ? 4 : 2;
            int f = 2 + 2 * (pos % ((n - 2 - fieldSize) / 2 + 1));
            ushort hc = BinaryPrimitives.ReadUInt16BigEndian(d);
            ushort updated;
            if (wide)
            {
                uint old = BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(f));
                uint nw = special == 2 ? ~old : (uint)nv;
                if (special == 3) // the value that makes the correct result +0 (where RFC 1141's eqn. 2 gives -0)
                    nw = (old & 0xFFFF_0000) | (ushort)(0xFFFF - Cs.Add((ushort)~hc, (ushort)~(ushort)old));
                BinaryPrimitives.WriteUInt32BigEndian(d.AsSpan(f), nw);
                updated = Cs.Update32(hc, old, nw);
            }
            else
            {
                ushort old = BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(f));
                ushort nw = special == 2 ? (ushort)~old : (ushort)nv;
                if (special == 3) nw = (ushort)(0xFFFF - Cs.Add((ushort)~hc, (ushort)~old));
                BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(f), nw);
                updated = Cs.Update16(hc, old, nw);
            }
            d[0] = d[1] = 0;
            ushort scratch = Ref.Checksum(d);
            bool allZero = d.AsSpan(2).IndexOfAnyExcept((byte)0) < 0;
            // All-zero data is the one case where from-scratch gives 0xFFFF (-0) and eqn. 3 gives +0: both verify.
            return updated == scratch || (allZero && updated == 0 && scratch == 0xFFFF);
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(3000));
    }

    [Fact]
    public void SumMatchesReference_Property()
    {
        Prop.ForAll(Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b)).ToArbitrary(), data =>
            Cs.Sum(data) == Ref.FoldSum(Ref.RawSum(data)))
            .Check(Config.QuickThrowOnFailure.WithMaxTest(2000).WithEndSize(2000));
    }
}
