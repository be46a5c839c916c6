namespace Softswitch.Control;

/// <summary>A command failed in a way the caller should see (bad arguments, a feature that is off).</summary>
internal sealed class ControlCommandException(string message) : Exception(message);

/// <summary>
/// The commands a running daemon answers on its control socket (<c>softswitch ctl COMMAND [ARGS]</c>), by name.
/// Handlers return the text to print; they throw <see cref="ControlCommandException"/> for a user-facing error.
/// </summary>
internal sealed class ControlCommands
{
    private sealed record Entry(string Usage, string Help, Func<string[], string> Handler);

    private readonly SortedDictionary<string, Entry> _commands = new(StringComparer.Ordinal);

    public ControlCommands()
    {
        Add("help", "", "list the commands", _ => Help());
    }

    /// <summary>Registers <paramref name="name"/>; <paramref name="usage"/> names its arguments for `help`.</summary>
    public void Add(string name, string usage, string help, Func<string[], string> handler)
        => _commands[name] = new Entry(usage, help, handler);

    public IEnumerable<string> Names => _commands.Keys;

    /// <summary>Runs one request line; returns false with the error text when it failed.</summary>
    public bool TryRun(string line, out string output)
    {
        var words = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0)
        {
            output = "empty request (try: help)";
            return false;
        }
        if (!_commands.TryGetValue(words[0], out var cmd))
        {
            output = $"unknown command '{Printable(words[0])}' (try: help)";
            return false;
        }
        try
        {
            output = cmd.Handler(words[1..]);
            return true;
        }
        catch (ControlCommandException e)
        {
            output = e.Message;
            return false;
        }
    }

    private string Help()
    {
        var lines = _commands.Select(kv => (Left: (kv.Key + " " + kv.Value.Usage).TrimEnd(), kv.Value.Help)).ToList();
        int w = lines.Max(l => l.Left.Length);
        return "commands:\n" + string.Concat(lines.Select(l => $"  {l.Left.PadRight(w)}  {l.Help}\n"));
    }

    /// <summary>At most 64 printable ASCII characters of what a client sent, for echoing it in an error.</summary>
    public static string Printable(string s)
    {
        var chars = s.Take(64).Select(c => c is >= ' ' and <= '~' ? c : '?').ToArray();
        return new string(chars) + (s.Length > 64 ? "..." : "");
    }

    /// <summary>Throws unless <paramref name="args"/> is empty (for commands without arguments).</summary>
    public static void NoArguments(string[] args)
    {
        if (args.Length > 0) throw new ControlCommandException($"this command takes no arguments (got '{Printable(string.Join(' ', args))}')");
    }
}
