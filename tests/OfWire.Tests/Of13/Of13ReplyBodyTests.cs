using System.Buffers.Binary;
using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire.Tests.Of13;

/// <summary>
/// The multipart reply bodies of OpenFlow 1.3 from the public corpus (Vectors/of13): each decodes into typed entries and
/// those entries, written by the switch's encoders, give the vector back byte for byte; every truncation of a body is
/// refused without a throw.
/// </summary>
public sealed class Of13ReplyBodyTests
{
    private static string Dir => Path.Combine(AppContext.BaseDirectory, "Vectors", "of13");

    public static TheoryData<string> Replies => [.. Directory.GetFiles(Dir, "*.packet").Select(f => Path.GetFileName(f)).Order()
        .Where(f => { var m = File.ReadAllBytes(Path.Combine(Dir, f)); return m[1] == (byte)Ofp13Type.MultipartReply; })];

    /// <summary>Reads the body as a list of the type's entries and writes it back; null for a type without entries here.</summary>
    internal static byte[]? ReEncode(Ofp13MultipartType type, ReadOnlySpan<byte> body) => type switch
    {
        Ofp13MultipartType.Desc => Round<Ofp13Desc>(body),
        Ofp13MultipartType.Flow => Round<Ofp13FlowStats>(body),
        Ofp13MultipartType.Aggregate => Round<Ofp13AggregateStats>(body),
        Ofp13MultipartType.Table => Round<Ofp13TableStats>(body),
        Ofp13MultipartType.PortStats => Round<Ofp13PortStats>(body),
        Ofp13MultipartType.Queue => Round<Ofp13QueueStats>(body),
        Ofp13MultipartType.Group => Round<Ofp13GroupStats>(body),
        Ofp13MultipartType.GroupDesc => Round<Ofp13GroupDesc>(body),
        Ofp13MultipartType.GroupFeatures => Round<Ofp13GroupFeatures>(body),
        Ofp13MultipartType.Meter => Round<Ofp13MeterStats>(body),
        Ofp13MultipartType.MeterConfig => Round<Ofp13MeterConfig>(body),
        Ofp13MultipartType.MeterFeatures => Round<Ofp13MeterFeatures>(body),
        Ofp13MultipartType.TableFeatures => Round<Ofp13TableFeatures>(body),
        Ofp13MultipartType.PortDesc => Round<Ofp13PortDesc>(body),
        _ => null,
    };

    private static byte[]? Round<T>(ReadOnlySpan<byte> body) where T : IOfp13Entry<T>
    {
        var list = new List<T>();
        if (!Ofp13Entries.TryReadAll(body, list)) return null;
        var w = new Ofp13Writer();
        foreach (var e in list) e.Write(w);
        return w.ToArray();
    }

    /// <summary>Bodies that carry what this switch has not (and so never writes): their entries do not all decode.</summary>
    private static readonly Dictionary<string, string> s_notWritten = new()
    {
        ["4-12-ofp_flow_stats_reply.packet"] = "an experimenter action in the fourth flow",
        ["4-56-ofp_table_features_reply.packet"] = "experimenter properties",
        ["4-62-ofp_experimenter_reply.packet"] = "an experimenter body",
    };

    [Theory]
    [MemberData(nameof(Replies))]
    public void ReplyBodiesDecodeIntoEntriesAndReEncodeByteForByte(string file)
    {
        var m = File.ReadAllBytes(Path.Combine(Dir, file));
        var type = (Ofp13MultipartType)BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(8));
        var body = m.AsSpan(Ofp13Multipart.HeaderSize);
        var again = ReEncode(type, body);
        if (s_notWritten.TryGetValue(file, out var why))
        {
            Assert.True(again is null, $"{file} decoded, though it carries {why}");
            return;
        }
        Assert.True(again is not null, $"{file}: the {type} body does not decode");
        Assert.Equal(Convert.ToHexString(body), Convert.ToHexString(again));
    }

    [Theory]
    [MemberData(nameof(Replies))]
    public void EveryTruncatedBodyIsRefusedOrReadsFewerEntries_NeverAThrow(string file)
    {
        var m = File.ReadAllBytes(Path.Combine(Dir, file));
        var type = (Ofp13MultipartType)BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(8));
        var body = m.AsSpan(Ofp13Multipart.HeaderSize);
        for (int len = 0; len < body.Length; len++)
        {
            // A cut on an entry boundary is a shorter valid body; any other cut is refused.
            if (ReEncode(type, body[..len]) is { } again) Assert.Equal(Convert.ToHexString(body[..len]), Convert.ToHexString(again));
        }
    }
}
