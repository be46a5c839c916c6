using Microsoft.Extensions.Logging;

namespace Softswitch.Control;

/// <summary>
/// The control socket's commands: name, usage, argument counts and handler (like ovs unixctl_command_register), and
/// the dispatch of one request line to them. <c>help</c> is built in and lists the others.
/// </summary>
/// <remarks>
/// Handlers run on the control server's worker threads (<see cref="ControlServer"/>), possibly several at once, while
/// the switch runs: they read snapshots (counters, <c>OffloadManager.Placements</c>) and never block the datapath. A handler that throws is answered with
/// an ERROR reply and logged; it never takes the daemon down. Register everything before the server starts;
/// afterwards the set is only read.
/// </remarks>
internal sealed class ControlCommands
{
    private readonly Dictionary<string, Command> _commands = new(StringComparer.Ordinal);
    private readonly ILogger? _logger;

    private sealed record Command(string Name, string Usage, string Description, int MinArgs, int MaxArgs, Func<string[], ControlReply> Handler);

    public ControlCommands(ILogger? logger = null)
    {
        _logger = logger;
        Register("help", "", "this list", 0, 0, _ => ControlReply.Success(Help()));
    }

    public IReadOnlyCollection<string> Names => _commands.Keys;

    /// <param name="name">Lower-case, '/'-separated (<c>offload/show</c>); see <see cref="ControlProtocol.IsCommandName"/>.</param>
    /// <param name="usage">The arguments, as shown by <c>help</c> (e.g. <c>[hw|sw]</c>), or "".</param>
    /// <param name="description">What it prints, in a few words, for <c>help</c>.</param>
    public void Register(string name, string usage, string description, int minArgs, int maxArgs, Func<string[], ControlReply> handler)
    {
        if (!ControlProtocol.IsCommandName(name)) throw new ArgumentException($"bad command name '{name}'", nameof(name));
        if (minArgs < 0 || maxArgs < minArgs || maxArgs > ControlProtocol.MaxArgs) throw new ArgumentOutOfRangeException(nameof(maxArgs));
        ArgumentNullException.ThrowIfNull(handler);
        if (!_commands.TryAdd(name, new Command(name, usage, description, minArgs, maxArgs, handler)))
            throw new InvalidOperationException($"command '{name}' is already registered");
    }

    /// <summary>Parses <paramref name="line"/> and runs the command; every failure is an ERROR reply.</summary>
    public ControlReply Execute(ReadOnlySpan<byte> line)
        => ControlProtocol.TryParseRequest(line, out var request, out string error) ? Execute(request) : ControlReply.Error(error);

    public ControlReply Execute(in ControlRequest request)
    {
        if (!_commands.TryGetValue(request.Command, out var c))
        {
            return ControlReply.Error(Near(request.Command) is { Count: > 0 } near
                ? $"unknown command '{request.Command}' (did you mean {string.Join(" or ", near)}?); 'help' lists the commands"
                : $"unknown command '{request.Command}'; 'help' lists the commands");
        }
        int n = request.Args.Length;
        if (n < c.MinArgs || n > c.MaxArgs)
        {
            string want = c.MinArgs == c.MaxArgs ? $"{c.MinArgs}" : $"{c.MinArgs} to {c.MaxArgs}";
            return ControlReply.Error($"'{c.Name}' takes {want} argument(s), not {n}; usage: {UsageLine(c)}");
        }
        try
        {
            return c.Handler(request.Args);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _logger?.LogWarning(e, "control command {Command} failed", c.Name);
            return ControlReply.Error($"'{c.Name}' failed: {e.Message}");
        }
    }

    /// <summary>
    /// Commands the user may have meant: the same words in another order or joined otherwise (<c>add-port</c>:
    /// <c>port/add</c>, as ovs-vsctl users type it), else one a typo away, else those sharing a word (at most three).
    /// </summary>
    internal List<string> Near(string word)
    {
        static string[] Parts(string w) => w.ToLowerInvariant().Split(['/', '-', '_', '.'], StringSplitOptions.RemoveEmptyEntries);
        var parts = Parts(word);
        var names = _commands.Keys.Where(n => n != word).Order(StringComparer.Ordinal).ToList();
        var same = names.Where(n => Parts(n).Order().SequenceEqual(parts.Order())).ToList();
        if (same.Count > 0) return same;
        if (ConfigFile.Nearest(word, names) is { } typo) return [typo];
        return names.Where(n => Parts(n).Intersect(parts).Any()).Take(3).ToList();
    }

    private string Help()
    {
        var names = _commands.Keys.ToList();
        names.Sort(StringComparer.Ordinal);
        int width = names.Max(n => UsageLine(_commands[n]).Length);
        var sb = new System.Text.StringBuilder("The available commands are:\n");
        foreach (var name in names)
        {
            var c = _commands[name];
            sb.Append("  ").Append(UsageLine(c).PadRight(width)).Append("  ").Append(c.Description).Append('\n');
        }
        return sb.ToString();
    }

    private static string UsageLine(Command c) => c.Usage.Length == 0 ? c.Name : $"{c.Name} {c.Usage}";
}
