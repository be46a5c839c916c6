using System.Text.Json;

namespace Softswitch.OfWire.Tests.Of10;

/// <summary>One line of Vectors/of10-vectors.jsonl.</summary>
public sealed record WireVector(
    string Id,
    string Name,
    string Kind,
    string Type,
    bool Malformed,
    byte[] Bytes,
    JsonElement Expect,
    string? ExpectedErrorType,
    string? ExpectedErrorCode,
    string[] AltCodes,
    string Source);

/// <summary>
/// Loads the OpenFlow 1.0 golden vectors: tests/OfWire.Tests/Vectors/of10-vectors.jsonl (provenance in the README
/// beside it), copied next to the test binaries at build time. OF10_VECTORS overrides it. A missing file fails the tests.
/// </summary>
public static class VectorFile
{
    public const string FileName = "of10-vectors.jsonl";

    private static readonly Lazy<IReadOnlyList<WireVector>> s_all = new(Load);
    private static readonly Lazy<Dictionary<string, WireVector>> s_byId = new(() => s_all.Value.ToDictionary(v => v.Id));

    public static IReadOnlyList<WireVector> All => s_all.Value;

    public static WireVector Get(string id) => s_byId.Value[id];

    public static string Locate()
    {
        string? env = Environment.GetEnvironmentVariable("OF10_VECTORS");
        if (!string.IsNullOrEmpty(env))
        {
            if (File.Exists(env))
            {
                return env;
            }
            throw new FileNotFoundException($"OF10_VECTORS points at '{env}', which does not exist.");
        }

        string path = Path.Combine(AppContext.BaseDirectory, "Vectors", FileName);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The OpenFlow 1.0 golden vectors are missing: expected '{path}' (copied from tests/OfWire.Tests/Vectors by the build).");
        }
        return path;
    }

    private static IReadOnlyList<WireVector> Load()
    {
        string path = Locate();
        var vectors = new List<WireVector>();
        int index = 0;
        foreach (string line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            using JsonDocument doc = JsonDocument.Parse(line);
            JsonElement root = doc.RootElement;
            string name = root.GetProperty("name").GetString()!;
            string? errType = null, errCode = null;
            string[] alt = [];
            if (root.TryGetProperty("expected_error", out JsonElement ee))
            {
                errType = ee.GetProperty("type").GetString();
                errCode = ee.GetProperty("code").GetString();
                if (ee.TryGetProperty("alt_codes", out JsonElement altCodes))
                {
                    alt = altCodes.EnumerateArray().Select(a => a.GetString()!).ToArray();
                }
            }
            vectors.Add(new WireVector(
                Id: $"{index:D3} {name}",
                Name: name,
                Kind: root.GetProperty("kind").GetString()!,
                Type: root.GetProperty("type").GetString()!,
                Malformed: root.GetProperty("malformed").GetBoolean(),
                Bytes: Convert.FromHexString(root.GetProperty("hex").GetString()!),
                Expect: root.GetProperty("expect").Clone(),
                ExpectedErrorType: errType,
                ExpectedErrorCode: errCode,
                AltCodes: alt,
                Source: root.GetProperty("source").GetString()!));
            index++;
        }
        return vectors;
    }
}
