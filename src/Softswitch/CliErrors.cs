using System.CommandLine;
using System.CommandLine.Parsing;

namespace Softswitch;

/// <summary>
/// A command line System.CommandLine could not parse, said in one line as the user would say it: an unknown command
/// lists the commands, an unknown option names the nearest one, a bad number names its option and the form it wants.
/// </summary>
internal static class CliErrors
{
    /// <summary>The first mistake in <paramref name="parsed"/> (which has errors), with where to read more.</summary>
    public static string Describe(ParseResult parsed, RootCommand root, IReadOnlyList<string> args)
    {
        var command = parsed.CommandResult.Command;
        string commands = string.Join(", ", root.Subcommands.Select(c => c.Name));
        if (command == root && args.Count > 0 && !args[0].StartsWith('-'))
        {
            string? near = ConfigFile.Nearest(args[0], root.Subcommands.Select(c => c.Name));
            return $"unknown command '{args[0]}' ({(near is null ? "" : $"did you mean {near}? ")}commands: {commands})";
        }
        string help = command == root ? "softswitch --help" : $"softswitch {command.Name} --help";
        foreach (var e in parsed.Errors)
        {
            if (e.SymbolResult is not (OptionResult or ArgumentResult { Parent: OptionResult })) continue;
            var option = e.SymbolResult as OptionResult ?? (OptionResult)((ArgumentResult)e.SymbolResult).Parent!;
            var type = Nullable.GetUnderlyingType(option.Option.ValueType) ?? option.Option.ValueType;
            string? want = type == typeof(int) || type == typeof(long) ? "a whole number, e.g. 4"
                         : type == typeof(double) ? "a number, e.g. 2.5"
                         : null;
            if (want is null || e.SymbolResult.Tokens.Count == 0) continue;
            return $"{option.Option.Name} wants {want}, not '{e.SymbolResult.Tokens[^1].Value}' (see `{help}`)";
        }
        foreach (var token in parsed.UnmatchedTokens)
        {
            if (!token.StartsWith('-')) return $"unexpected argument '{token}' (see `{help}`)";
            var names = command.Options.SelectMany(o => o.Aliases.Prepend(o.Name)).Where(n => n.StartsWith("--", StringComparison.Ordinal));
            string? near = ConfigFile.Nearest(token, names) ?? names.FirstOrDefault(n => n.StartsWith(token, StringComparison.Ordinal));
            return near is null ? $"unknown option '{token}' (see `{help}`)" : $"unknown option '{token}' (did you mean {near}?)";
        }
        if (command == root) return $"give a command: {commands} (see `{help}`)";
        return $"{parsed.Errors[0].Message} (see `{help}`)";
    }
}
