using System.Buffers.Binary;
using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire.Tests.Of13;

/// <summary>
/// Random and mutated OpenFlow 1.3 messages through <see cref="Of13FuzzOracle"/>: every decoder answers true or an error,
/// never throws, never reads past the message, and what decodes re-encodes to a fixed point.
/// </summary>
public sealed class Of13FuzzTests
{
    private static int DecodeAll(byte[] m) => Of13FuzzOracle.Check(m);

    [Fact]
    public void RandomBytesOfEveryLength()
    {
        var rng = new Random(1303);
        for (int i = 0; i < 20_000; i++)
        {
            var m = new byte[rng.Next(0, 160)];
            rng.NextBytes(m);
            if (m.Length >= 4)
            {
                m[0] = 4;
                BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(2), (ushort)m.Length);
            }
            DecodeAll(m);
        }
    }

    [Fact]
    public void BundleMessagesInBothFramings_Mutated()
    {
        var rng = new Random(1314);
        var inner = new Ofp13FlowMod { TableId = 1, Priority = 7, BufferId = Ofp13.NoBuffer, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny }.Encode();
        int decoded = 0;
        foreach (byte version in new byte[] { 4, 5, 6 })
        {
            var seeds = new[]
            {
                Ofp13Bundle.ControlRequest(version, 9, 3, Ofp13BundleCtrlType.CommitRequest, 3),
                Ofp13Bundle.AddMessage(version, 3, 1, [version, .. inner.AsSpan(1)]),
            };
            foreach (var seed in seeds)
            {
                decoded += DecodeAll(seed);
                for (int i = 0; i < 2_000; i++)
                {
                    var m = (byte[])seed.Clone();
                    for (int k = rng.Next(1, 4); k > 0; k--) m[rng.Next(8, m.Length)] ^= (byte)rng.Next(1, 256);
                    if (rng.Next(4) == 0) m = m[..rng.Next(8, m.Length)];
                    BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(2), (ushort)m.Length);
                    decoded += DecodeAll(m);
                }
            }
        }
        Assert.True(decoded > 3000, $"only {decoded} bundle mutations decoded");
    }

    [Fact]
    public void EveryPublicVectorDecodesToAFixedPoint()
    {
        int decoded = 0;
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Vectors", "of13"), "*.packet")) decoded += DecodeAll(File.ReadAllBytes(file));
        Assert.True(decoded >= 60, $"only {decoded} decodes of the public vectors");
    }

    [Fact]
    public void EveryPublicVectorWithBytesFlipped()
    {
        var rng = new Random(1304);
        int decoded = 0;
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Vectors", "of13"), "*.packet"))
        {
            var original = File.ReadAllBytes(file);
            if (original.Length <= 8) continue;
            for (int i = 0; i < 300; i++)
            {
                var m = (byte[])original.Clone();
                for (int k = rng.Next(1, 4); k > 0; k--) m[rng.Next(8, m.Length)] ^= (byte)rng.Next(1, 256);
                decoded += DecodeAll(m);
            }
        }
        Assert.True(decoded > 5000, $"only {decoded} mutations decoded: the fuzzer is not reaching the decoders");
    }

    /// <summary>
    /// Open vSwitch's packet-in extension (its ofp-print.at vectors: NXT_SET_PACKET_IN_FORMAT, NXT_PACKET_IN,
    /// NXT_PACKET_IN2, NXT_RESUME) in versions 1, 4, 5 and 6, mutated, through the oracle: every decode a fixed point,
    /// every refusal of SET_PACKET_IN_FORMAT a defined error.
    /// </summary>
    [Fact]
    public void NiciraPacketInMessages_Mutated()
    {
        var rng = new Random(1330);
        string[] names = ["ovs NXT_SET_PACKET_IN (line 3079)", "ovs NXT_PACKET_IN (line 3089)", "ovs NX_PACKET_IN2 (line 3135)", "ovs NXT_RESUME (line 3492)"];
        var vectors = names.Select(n => Of10.VectorFile.All.Single(v => v.Name == n).Bytes).ToArray();
        int decoded = 0;
        foreach (byte version in new byte[] { 1, 4, 5, 6 })
        {
            foreach (var vector in vectors)
            {
                byte[] seed = [version, .. vector.AsSpan(1)];
                decoded += MutateThroughTheOracle(seed, rng, 1_000, flipFrom: 16, cutFrom: 16);
            }
        }
        Assert.True(decoded > 2000, $"only {decoded} packet-in extension mutations decoded");
    }

    /// <summary>
    /// Open vSwitch's asynchronous configuration and request forwarding before 1.4 (NXT_SET_ASYNC_CONFIG,
    /// NXT_SET_ASYNC_CONFIG2, NXT_REQUESTFORWARD, ONFT13_REQUESTFORWARD: <see cref="Nicira.NxAsyncConfigTests"/>) in
    /// versions 1, 4, 5 and 6, mutated, through the oracle: every decode a fixed point, every refusal Open vSwitch's error, whole.
    /// </summary>
    [Fact]
    public void NiciraAsyncConfigMessages_Mutated()
    {
        var rng = new Random(1340);
        int decoded = 0;
        foreach (byte version in new byte[] { 1, 4, 5, 6 })
        {
            foreach (var vector in Nicira.NxAsyncConfigTests.Seeds())
            {
                byte[] seed = [version, .. vector.AsSpan(1)];
                // A request forward's inner request carries the outer's version.
                if (NxPacketIn.TryReadSubtype(vector, out uint st) && st == NxAsyncConfig.RequestForward || vector[8] == 0x4f) seed[16] = version;
                decoded += MutateThroughTheOracle(seed, rng, 1_000, flipFrom: 8, cutFrom: 16);
            }
        }
        Assert.True(decoded > 2000, $"only {decoded} asynchronous configuration mutations decoded");
    }

    /// <summary>
    /// Packet-outs carrying Open vSwitch's bundle, bundle_load and fin_timeout actions (ofp-actions.at) in versions 4, 5 and
    /// 6, mutated, through the oracle: every decode a fixed point, every refusal a defined error.
    /// </summary>
    [Fact]
    public void NiciraBundleAndFinTimeoutActions_Mutated()
    {
        var rng = new Random(1312);
        string[] vectors = [Nicira.NxBundleTests.BundleVector, Nicira.NxBundleTests.BundleLoadVector, "ffff 0010 00002320 0013 000a 0014 0000"];
        int decoded = 0;
        foreach (byte version in new byte[] { 4, 5, 6 })
        {
            foreach (var hex in vectors)
            {
                var actions = new List<Ofp13Action>();
                Assert.True(Ofp13Actions.TryDecode(Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal)), actions, out var e), e.ToString());
                var po = new Ofp13PacketOut { Version = version, Xid = 7, BufferId = Ofp13.NoBuffer, InPort = Ofp13.PortController };
                po.Actions.AddRange(actions);
                decoded += MutateThroughTheOracle(po.Encode(), rng, 2_000, flipFrom: 8, cutFrom: 8);
            }
        }
        Assert.True(decoded > 3000, $"only {decoded} bundle and fin_timeout mutations decoded");
    }

    /// <summary>
    /// The seed, then <paramref name="rounds"/> mutations of it through the oracle: 1 to 3 bytes flipped at offset
    /// <paramref name="flipFrom"/> or later, one in four cut short at <paramref name="cutFrom"/> or later, the header's
    /// length kept true. Returns how many decoded.
    /// </summary>
    private static int MutateThroughTheOracle(byte[] seed, Random rng, int rounds, int flipFrom, int cutFrom)
    {
        int decoded = DecodeAll(seed);
        for (int i = 0; i < rounds; i++)
        {
            var m = (byte[])seed.Clone();
            for (int k = rng.Next(1, 4); k > 0; k--) m[rng.Next(flipFrom, m.Length)] ^= (byte)rng.Next(1, 256);
            if (rng.Next(4) == 0) m = m[..rng.Next(cutFrom, m.Length)];
            BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(2), (ushort)m.Length);
            decoded += DecodeAll(m);
        }
        return decoded;
    }

    [Fact]
    public void MutatedVectorsThroughTheOracle()
    {
        // The reliability suite runs this at 10,000,000 messages (bench fuzz13); here a modest count, same seed scheme.
        var files = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Vectors", "of13"), "*.packet").Order().Select(File.ReadAllBytes).ToArray();
        var rng = new Random(1305);
        int decoded = 0, refused = 0;
        for (int i = 0; i < 50_000; i++)
        {
            var m = Of13FuzzOracle.Mutate(files[rng.Next(files.Length)], files[rng.Next(files.Length)], rng);
            try
            {
                decoded += Of13FuzzOracle.Check(m, out bool r);
                refused += r ? 1 : 0;
            }
            catch (InvalidOperationException e)
            {
                Assert.Fail($"seed 1305, message {i}: {e.Message}\ninput: {Convert.ToHexString(m)}");
            }
        }
        Assert.True(decoded > 10_000, $"only {decoded} decodes in 50,000 mutations: the fuzzer is not reaching the decoders");
        Assert.True(refused > 5_000, $"only {refused} refusals in 50,000 mutations: the error replies are hardly checked");
    }

    [Fact]
    public void NamesThatAreNotUtf8OrFillTheirFieldReadBackTheSame()
    {
        // A port name of bytes that are not UTF-8, and one without a terminating NUL: what is read writes back as it reads.
        foreach (var name in new[] { "4b ff 47 6b 34 c3 28 e2 82", "61 62 63 64 65 66 67 68 69 6a 6b 6c 6d 6e 6f 70" })
        {
            var bytes = Convert.FromHexString(name.Replace(" ", ""));
            var wire = new byte[Ofp13Port.Size];
            bytes.CopyTo(wire, 16);
            Assert.True(Ofp13Port.TryRead(wire, out var port, out _));
            var w = new Ofp13Writer();
            port.Write(w);
            Assert.True(Ofp13Port.TryRead(w.ToArray(), out var back, out _));
            Assert.Equal(port, back);
        }
        Assert.True(Ofp13Port.TryRead(Convert.FromHexString("00000000000000000000000000000000" + "4bff" + new string('0', 92)), out var k, out _));
        Assert.Equal("K", k.Name);
    }
}
