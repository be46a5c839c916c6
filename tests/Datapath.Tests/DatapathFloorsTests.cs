using System.Text.RegularExpressions;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// The datapath's floors (docs/datapath.md, "Folders"): the port types, packets, flows, the classifier, actions, groups,
/// meters, QoS and the counters stand below the forwarder, so no file of theirs names
/// <c>Softswitch.Datapath.Forwarding</c>: no using of it (alias, static or global), no name qualified by it, no
/// documentation reference to it; and the port types, the lowest floor, name neither QoS nor the meters. Read from the
/// sources, which say all three (an assembly keeps no usings or crefs).
/// </summary>
public sealed partial class DatapathFloorsTests
{
    /// <summary>The folders of src/Datapath below Forwarding.</summary>
    private static readonly string[] s_below = ["Ports", "Packets", "Flow", "Classifier", "Actions", "Groups", "Meters", "Qos", "Counters"];

    private static string DatapathSource()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string src = Path.Combine(d.FullName, "src", "Datapath");
            if (File.Exists(Path.Combine(src, "Datapath.csproj"))) return src;
        }
        throw new InvalidOperationException("no src/Datapath/Datapath.csproj above " + AppContext.BaseDirectory);
    }

    // The namespace by its full name (a using, a global:: name), or a name qualified by its last part (Forwarding.Forwarder,
    // as a file under Softswitch.Datapath may write it).
    [GeneratedRegex(@"\bDatapath\.Forwarding\b|(?<![\w.])Forwarding\.[A-Za-z_]")]
    private static partial Regex NamesForwardingPattern();

    internal static bool NamesForwarding(string line) => NamesForwardingPattern().IsMatch(line);

    /// <summary>Each line of the files under <paramref name="folders"/> that names the forwarder's namespace, as file:line: text.</summary>
    private static List<string> LinesNamingForwarding(string src, IEnumerable<string> folders, out int files)
    {
        var hits = new List<string>();
        files = 0;
        foreach (var folder in folders)
        {
            foreach (var file in Directory.GetFiles(Path.Combine(src, folder), "*.cs", SearchOption.AllDirectories))
            {
                files++;
                var lines = File.ReadAllLines(file);
                for (int i = 0; i < lines.Length; i++)
                    if (NamesForwarding(lines[i])) hits.Add($"{Path.GetRelativePath(src, file)}:{i + 1}: {lines[i].Trim()}");
            }
        }
        return hits;
    }

    [Fact]
    public void NoFileBelowTheForwarder_NamesItsNamespace()
    {
        string src = DatapathSource();
        var hits = LinesNamingForwarding(src, s_below, out int files);
        Assert.True(files >= 60, $"only {files} files under {string.Join(", ", s_below)}: the scan is broken");
        Assert.True(hits.Count == 0, "files below the forwarder that name Softswitch.Datapath.Forwarding:\n" + string.Join('\n', hits));
    }

    // QoS's or the meters' namespace by its full name, or a name qualified by its last part (Qos.PortShaper, Meters.Meter).
    [GeneratedRegex(@"\bDatapath\.(Qos|Meters)\b|(?<![\w.])(Qos|Meters)\.[A-Za-z_]")]
    private static partial Regex NamesQosOrMetersPattern();

    internal static bool NamesQosOrMeters(string line) => NamesQosOrMetersPattern().IsMatch(line);

    /// <summary>
    /// The port floor is the lowest: a port's shaping and policer are kept beside its slot (<c>Qos.PortQosTable</c>), so
    /// no file of Ports names QoS or the meters (a using, a qualified name, a documentation reference).
    /// </summary>
    [Fact]
    public void ThePortFloor_NamesNeitherQosNorMeters()
    {
        string src = DatapathSource();
        var hits = new List<string>();
        var files = Directory.GetFiles(Path.Combine(src, "Ports"), "*.cs", SearchOption.AllDirectories);
        Assert.True(files.Length >= 8, $"only {files.Length} files under Ports: the scan is broken");
        foreach (var file in files)
        {
            var lines = File.ReadAllLines(file);
            for (int i = 0; i < lines.Length; i++)
                if (NamesQosOrMeters(lines[i])) hits.Add($"{Path.GetRelativePath(src, file)}:{i + 1}: {lines[i].Trim()}");
        }
        Assert.True(hits.Count == 0, "files of the port floor that name QoS or the meters:\n" + string.Join('\n', hits));
        // The check can fail: it finds what PortSlot held, and passes words that only contain the names.
        Assert.True(NamesQosOrMeters("    private volatile Qos.PortShaper? _shaper;"));
        Assert.True(NamesQosOrMeters("    public Meters.Meter? Policer"));
        Assert.True(NamesQosOrMeters("using Softswitch.Datapath.Meters;"));
        Assert.False(NamesQosOrMeters("/// <summary>Per-queue transmit counters (ENQUEUE); QosScheduler reads them.</summary>"));
        Assert.False(NamesQosOrMeters("    public readonly QueueCounters[] Queues;"));
    }

    [Fact]
    public void NoGlobalUsing_BringsTheForwarderIntoEveryFile()
    {
        string src = DatapathSource();
        var hits = new List<string>();
        foreach (var file in Directory.GetFiles(src, "*.cs", SearchOption.AllDirectories))
        {
            if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)) continue;
            foreach (var line in File.ReadLines(file))
            {
                if (line.TrimStart().StartsWith("global using", StringComparison.Ordinal) && NamesForwarding(line))
                    hits.Add($"{Path.GetRelativePath(src, file)}: {line.Trim()}");
            }
        }
        // The project's own file and the Directory.Build files above it (src/, the repository's root).
        string[] projectFiles = [Path.Combine(src, "Datapath.csproj"), Path.Combine(src, "..", "Directory.Build.props"),
                                 Path.Combine(src, "..", "Directory.Build.targets"), Path.Combine(src, "..", "..", "Directory.Build.props")];
        foreach (var file in projectFiles.Where(File.Exists))
            if (NamesForwarding(File.ReadAllText(file))) hits.Add(Path.GetFullPath(file));
        Assert.True(hits.Count == 0, "global usings of the forwarder's namespace:\n" + string.Join('\n', hits));
    }

    /// <summary>The check can fail: it finds the forwarder's own files (their namespace line), a using of the namespace,
    /// a qualified name and a documentation reference, and passes other names that only contain the word.</summary>
    [Fact]
    public void TheCheck_FindsEveryWayOfNamingTheForwarder()
    {
        var hits = LinesNamingForwarding(DatapathSource(), ["Forwarding"], out int files);
        Assert.True(files > 10);
        Assert.Contains(hits, h => h.Contains("namespace Softswitch.Datapath.Forwarding;", StringComparison.Ordinal));
        Assert.True(NamesForwarding("using Softswitch.Datapath.Forwarding;"));
        Assert.True(NamesForwarding("using Fwd = Softswitch.Datapath.Forwarding.Forwarder;"));
        Assert.True(NamesForwarding("global using static global::Softswitch.Datapath.Forwarding.CpuPlacement;"));
        Assert.True(NamesForwarding("        bool own = a.Port != Forwarding.PortNumber.InPort;"));
        Assert.True(NamesForwarding("/// as <see cref=\"Forwarding.Forwarder\"/> does"));
        Assert.False(NamesForwarding("/// the forwarding threads (ForwardingThreads) read it"));
        Assert.False(NamesForwarding("using Softswitch.Datapath.Ports;"));
        Assert.False(NamesForwarding("var x = Tests.Forwarding.Rig;"));
    }
}
