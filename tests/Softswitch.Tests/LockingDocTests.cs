using System.Reflection;

namespace Softswitch.Tests;

/// <summary>
/// docs/locking.md names every lock of the switch: each field or property of type <see cref="Lock"/> (and each
/// <see cref="object"/> one named as a lock or gate, kept for Monitor.Wait) in the six assemblies under src/ appears there
/// as its type and its name in one table row or paragraph, so a lock added without its place in the order fails here.
/// </summary>
public sealed class LockingDocTests
{
    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "docs", "locking.md"))) return d.FullName;
        throw new InvalidOperationException("no docs/locking.md above " + AppContext.BaseDirectory);
    }

    /// <summary>The page's blocks: each table row on its own, otherwise paragraphs (lines up to a blank one).</summary>
    private static List<string> Blocks(string page)
    {
        var blocks = new List<string>();
        var paragraph = new List<string>();
        foreach (var line in page.Split('\n'))
        {
            if (line.StartsWith('|'))
            {
                blocks.Add(line);
            }
            else if (string.IsNullOrWhiteSpace(line))
            {
                if (paragraph.Count > 0) blocks.Add(string.Join('\n', paragraph));
                paragraph.Clear();
            }
            else
            {
                paragraph.Add(line);
            }
        }
        if (paragraph.Count > 0) blocks.Add(string.Join('\n', paragraph));
        return blocks;
    }

    /// <summary>Every lock of the assemblies under src/: (declaring type, member name), nested types by their own name.</summary>
    internal static List<(string Type, string Member)> Locks()
    {
        Assembly[] assemblies =
        [
            typeof(Datapath.SwitchDatapath).Assembly, typeof(Ports.Patch.PatchPanel).Assembly,
            typeof(OfWire.Of10.OfpType).Assembly, typeof(Ofproto.OfSwitch).Assembly, typeof(OfAgent.OfSwitchAgent).Assembly,
            typeof(Softswitch.Vswitchd.Bridge).Assembly,
        ];
        var locks = new List<(string, string)>();
        const BindingFlags all = BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;
        foreach (var assembly in assemblies)
        {
            foreach (var type in assembly.GetTypes())
            {
                if (type.IsDefined(typeof(System.Runtime.CompilerServices.CompilerGeneratedAttribute)) || type.Name.Contains('<')) continue;
                foreach (var field in type.GetFields(all))
                {
                    bool isLock = field.FieldType == typeof(Lock)
                        || (field.FieldType == typeof(object) && (field.Name.EndsWith("Lock", StringComparison.OrdinalIgnoreCase) || field.Name.EndsWith("Gate", StringComparison.OrdinalIgnoreCase)));
                    if (!isLock) continue;
                    // An auto-property's backing field: the property's name.
                    string name = field.Name.StartsWith('<') ? field.Name[1..field.Name.IndexOf('>')] : field.Name;
                    locks.Add((type.Name, name));
                }
            }
        }
        return locks;
    }

    [Fact]
    public void EveryLockOfTheSwitchIsOnTheLockingPage()
    {
        var blocks = Blocks(File.ReadAllText(Path.Combine(RepoRoot(), "docs", "locking.md")));
        var locks = Locks();
        Assert.True(locks.Count > 40, $"only {locks.Count} locks found: the scan is broken");
        var missing = locks.Where(l => !blocks.Any(b => b.Contains(l.Type, StringComparison.Ordinal) && b.Contains(l.Member, StringComparison.Ordinal)))
                           .Select(l => $"{l.Type}.{l.Member}").Distinct().Order().ToList();
        Assert.True(missing.Count == 0, "docs/locking.md does not name (type and member in one row or paragraph): " + string.Join(", ", missing));
    }

    [Fact]
    public void TheScanFindsLocksOfEveryKind()
    {
        var locks = Locks();
        Assert.Contains(("Meter", "_lock"), locks);                  // a private Lock field
        Assert.Contains(("Ring", "SendLock"), locks);                // a public field of a nested type
        Assert.Contains(("VswitchdService", "BridgesLock"), locks);  // an auto-property
        Assert.Contains(("OffloadManager", "_queueGate"), locks);    // an object kept for Monitor.Wait
    }
}
