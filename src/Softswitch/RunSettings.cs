using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Softswitch;

/// <summary>
/// Settings of `softswitch run`. Each command-line option has a key of the same name in the JSON file given with
/// <c>--config</c> (<c>--fail-mode</c> is <c>failMode</c>, <c>--controller</c> is <c>controllers</c>); the command line wins.
/// </summary>
public sealed class RunSettings
{
    /// <summary>The ports (<c>afpacket:eth1,3=afxdp:eth3,mem:2</c>); required.</summary>
    public string? Ports { get; set; }
    public List<string> Controllers { get; set; } = new();
    public List<string> Listen { get; set; } = new();
    /// <summary>The longest wait in milliseconds between attempts to reach an active controller (Open vSwitch's max_backoff).</summary>
    public int MaxBackoff { get; set; } = 8000;
    /// <summary>The OpenFlow versions spoken, as Open vSwitch spells them (<c>OpenFlow10,OpenFlow13,OpenFlow14</c>); null: the default set (<see cref="Softswitch.OfAgent.AgentOptions.DefaultVersions"/>).</summary>
    public string? Protocols { get; set; }
    /// <summary>Tunnel ports, e.g. <c>vx1:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=100,port=5</c>.</summary>
    public List<string> Tunnels { get; set; } = new();
    /// <summary>none, xdp (an XDP flow map on the AF_XDP ports), netfpga (a real NetFPGA-1G board) or netfpga-emulated.</summary>
    public string Offload { get; set; } = "none";
    public string? Dpid { get; set; }
    /// <summary>standalone (the OVS and reference-switch default: a learning switch while no controller is connected) or secure.</summary>
    public string FailMode { get; set; } = "standalone";
    public int Threads { get; set; } = 1;
    /// <summary>
    /// CPUs for the forwarding threads, a taskset list (<c>1</c>, <c>2-3</c>); every other thread is kept off them. Null:
    /// placement is the scheduler's.
    /// </summary>
    public string? ForwardingCpus { get; set; }
    /// <summary>Microseconds a forwarding thread keeps polling after its last packet before it blocks in the kernel.</summary>
    public int BusyPollUs { get; set; } = Datapath.DatapathOptions.DefaultBusyPollMicros;
    /// <summary>Microseconds a forwarding thread keeps polling after its last packet when an earlier spell of traffic
    /// came less than a second before (0: never longer than <see cref="BusyPollUs"/>).</summary>
    public int LingerUs { get; set; } = Datapath.DatapathOptions.DefaultLingerMicros;
    /// <summary>How receive queues are placed on the forwarding threads: cycles (by measured load, the default),
    /// roundrobin or group, as Open vSwitch's other_config:pmd-rxq-assign.</summary>
    public string PmdRxqAssign { get; set; } = "cycles";
    /// <summary>Automatic rebalance of the receive queues when a thread stays busy (other_config:pmd-auto-lb).</summary>
    public bool PmdAutoLb { get; set; }
    /// <summary>Busy percentage a thread must keep for a rebalance check (other_config:pmd-auto-lb-load-threshold).</summary>
    public int PmdAutoLbLoadThreshold { get; set; } = Datapath.Forwarding.RxqScheduler.DefaultLoadThreshold;
    /// <summary>Percentage by which a rebalance must lower the threads' load variance (other_config:pmd-auto-lb-improvement-threshold).</summary>
    public int PmdAutoLbImprovementThreshold { get; set; } = Datapath.Forwarding.RxqScheduler.DefaultImprovementThreshold;
    /// <summary>Minutes between rebalance checks, 0 read as 1 (other_config:pmd-auto-lb-rebal-interval).</summary>
    public int PmdAutoLbRebalInterval { get; set; } = Datapath.Forwarding.RxqScheduler.DefaultRebalanceIntervalMinutes;
    public int EmcEntries { get; set; } = 8192;
    public double PacketInRate { get; set; } = 20_000;
    public string? PcapDir { get; set; }
    public bool Stats { get; set; }
    /// <summary>A level for every module, or MODULE:LEVEL items (<c>info,ofagent:dbg</c>).</summary>
    public string LogLevel { get; set; } = "info";
    public string? LogFile { get; set; }
    /// <summary>The control socket: a path, "none", or null for RUNDIR/DPID.ctl (see <see cref="Control.ControlPaths"/>).</summary>
    public string? Unixctl { get; set; }
    public string? Pidfile { get; set; }
    public bool Detach { get; set; }
    /// <summary>PEM private key, certificate and CA certificate for ssl: and pssl: endpoints.</summary>
    public string? PrivateKey { get; set; }
    public string? Certificate { get; set; }
    public string? CaCert { get; set; }
    /// <summary>The CA file learned from the first ssl: controller when it does not exist (--bootstrap-ca-cert), instead of CaCert.</summary>
    public string? BootstrapCaCert { get; set; }
    /// <summary>The OpenMetrics endpoint, HOST:PORT (e.g. 127.0.0.1:9477), or null.</summary>
    public string? Metrics { get; set; }
    /// <summary>The LOCAL port's tap name, "none" for no LOCAL port, or null for ss-DPID (see <see cref="Ports.LocalPort"/>).</summary>
    public string? LocalPort { get; set; }
    /// <summary>The sFlow collector, HOST[:PORT] (port 6343 when left out), or null for no sFlow export.</summary>
    public string? Sflow { get; set; }
    /// <summary>sFlow packet sampling: 1 in this many received packets (Open vSwitch's default).</summary>
    public int SflowSampling { get; set; } = 400;
    /// <summary>Seconds between sFlow counter samples of each port; 0 sends none.</summary>
    public int SflowPolling { get; set; } = 30;
    /// <summary>Egress shaping: ports' ceilings and queues (<see cref="QosConfig"/>'s syntax), or null.</summary>
    public string? Queues { get; set; }
    /// <summary>The most flows a table holds, exact or not (Open vSwitch's flow_limit); an add past it gets TABLE_FULL.</summary>
    public int FlowLimit { get; set; } = Ofproto.FlowTableOptions.DefaultMaxFlows;
}

/// <summary>The JSON of <see cref="RunSettings"/>, generated at build time (no reflection, so NativeAOT has nothing to warn about).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true, PropertyNameCaseInsensitive = true, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(RunSettings))]
internal sealed partial class RunSettingsJson : JsonSerializerContext;

/// <summary>
/// Reads a --config file: every key and type is checked first, so a mistake is one line in the user's words
/// (<c>unknown setting 'port' (did you mean 'ports'?)</c>, <c>controllers must be a list of strings</c>), then the
/// file is deserialized by <see cref="RunSettingsJson"/>.
/// </summary>
internal static class ConfigFile
{
    private enum Kind { String, StringList, Integer, Number, Boolean }

    private static readonly (string Key, Kind Kind)[] s_keys =
    [
        ("ports", Kind.String), ("controllers", Kind.StringList), ("listen", Kind.StringList), ("protocols", Kind.String), ("maxBackoff", Kind.Integer), ("tunnels", Kind.StringList),
        ("offload", Kind.String), ("dpid", Kind.String), ("failMode", Kind.String), ("threads", Kind.Integer), ("forwardingCpus", Kind.String), ("busyPollUs", Kind.Integer), ("lingerUs", Kind.Integer),
        ("pmdRxqAssign", Kind.String), ("pmdAutoLb", Kind.Boolean), ("pmdAutoLbLoadThreshold", Kind.Integer),
        ("pmdAutoLbImprovementThreshold", Kind.Integer), ("pmdAutoLbRebalInterval", Kind.Integer),
        ("emcEntries", Kind.Integer), ("packetInRate", Kind.Number), ("pcapDir", Kind.String), ("stats", Kind.Boolean),
        ("logLevel", Kind.String), ("logFile", Kind.String), ("unixctl", Kind.String), ("pidfile", Kind.String),
        ("detach", Kind.Boolean), ("metrics", Kind.String), ("privateKey", Kind.String), ("certificate", Kind.String),
        ("caCert", Kind.String), ("bootstrapCaCert", Kind.String), ("localPort", Kind.String), ("sflow", Kind.String),
        ("sflowSampling", Kind.Integer), ("sflowPolling", Kind.Integer), ("queues", Kind.String), ("flowLimit", Kind.Integer),
    ];

    public static IEnumerable<string> Keys => s_keys.Select(k => k.Key);

    public static RunSettings? Load(string path, out string error)
    {
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = $"cannot read config '{path}': {e.Message}";
            return null;
        }
        return Parse(json, path, out error);
    }

    public static RunSettings? Parse(string json, string path, out string error)
    {
        error = "";
        var docOptions = new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };
        try
        {
            using var doc = JsonDocument.Parse(json, docOptions);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                error = $"config '{path}': want a JSON object of settings ({{\"ports\": \"afpacket:eth1,afpacket:eth2\", ...}})";
                return null;
            }
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                int i = Array.FindIndex(s_keys, k => string.Equals(k.Key, p.Name, StringComparison.OrdinalIgnoreCase));
                if (i < 0)
                {
                    string? near = Suggest(p.Name);
                    error = $"config '{path}': unknown setting '{p.Name}'" + (near is null ? $" (settings: {string.Join(", ", Keys)})" : $" (did you mean '{near}'?)");
                    return null;
                }
                var (key, kind) = s_keys[i];
                if (!seen.Add(key))
                {
                    error = $"config '{path}': '{key}' is set twice";
                    return null;
                }
                if (!TypeFits(p.Value, kind))
                {
                    error = $"config '{path}': {key} must be {Describe(kind)}" + (p.Value.ValueKind == JsonValueKind.Null ? ", not null" : $", not {Shorten(p.Value.GetRawText())}");
                    return null;
                }
            }
        }
        catch (JsonException e)
        {
            error = $"config '{path}': not valid JSON: {FirstSentence(e.Message)}";
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize(json, RunSettingsJson.Default.RunSettings) ?? new RunSettings();
        }
        catch (JsonException e)
        {
            error = $"config '{path}': {FirstSentence(e.Message)}";
            return null;
        }
    }

    private static bool TypeFits(JsonElement v, Kind kind) => kind switch
    {
        Kind.String => v.ValueKind == JsonValueKind.String,
        Kind.StringList => v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String),
        Kind.Integer => v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out _),
        Kind.Number => v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out _),
        Kind.Boolean => v.ValueKind is JsonValueKind.True or JsonValueKind.False,
        _ => false,
    };

    private static string Describe(Kind kind) => kind switch
    {
        Kind.String => "a string",
        Kind.StringList => "a list of strings",
        Kind.Integer => "a whole number",
        Kind.Number => "a number",
        _ => "true or false",
    };

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..37] + "...";

    private static string FirstSentence(string s)
    {
        int dot = s.IndexOf(". ", StringComparison.Ordinal);
        return dot < 0 ? s : s[..(dot + 1)];
    }

    /// <summary>The known key nearest to <paramref name="key"/> by edit distance, if it is near enough to be a typo.</summary>
    public static string? Suggest(string key) => Nearest(key, Keys);

    public static string? Nearest(string word, IEnumerable<string> candidates)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (var c in candidates)
        {
            int d = Distance(word.ToLowerInvariant(), c.ToLowerInvariant());
            if (d < bestDistance)
            {
                best = c;
                bestDistance = d;
            }
        }
        return bestDistance <= Math.Max(2, word.Length / 3) ? best : null;
    }

    private static int Distance(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) prev[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (int j = 1; j <= b.Length; j++)
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }

    /// <summary>Parses a datapath id: <c>0x1</c>, <c>1</c> (hex, as OVS's other-config:datapath-id) or <c>00:00:00:00:00:00:00:01</c>.</summary>
    public static bool TryParseDpid(string text, out ulong dpid)
    {
        dpid = 0;
        string t = text.Trim();
        if (t.Contains(':'))
        {
            var parts = t.Split(':');
            if (parts.Length != 8 || parts.Any(p => p.Length != 2)) return false;
            t = string.Concat(parts);
        }
        else if (t.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            t = t[2..];
        }
        return t.Length is > 0 and <= 16 && t.All(char.IsAsciiHexDigit)
            && ulong.TryParse(t, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out dpid);
    }
}
