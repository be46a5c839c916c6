using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace Softswitch.Logging;

/// <summary>
/// Log lines in Open vSwitch's shape, <c>2026-11-22T15:12:50.123Z|00042|ofagent|INFO|message</c> (UTC time, a
/// sequence number, the module, the level), with a level per module that can change while the switch runs
/// (<c>--log-level ofagent:dbg,afpacket:warn</c>, <c>softswitch ctl vlog/set</c>), written to stderr or to a file
/// that <see cref="Reopen"/> opens anew after logrotate moved it.
/// </summary>
/// <remarks>
/// A module is the logger category's last dot-separated word, lower-cased (<c>Softswitch.Ports.AfPacket</c> →
/// <c>afpacket</c>); modules appear when their first logger is made. Levels are OVS's (<c>off</c>, <c>emer</c>,
/// <c>err</c>, <c>warn</c>, <c>info</c>, <c>dbg</c>); the .NET names are accepted too (Trace and Debug are dbg,
/// Critical is emer). Thread safety: a module's level is one volatile int read by IsEnabled without locks; lines are
/// formatted by the caller and written under one lock, so they never interleave and the sequence numbers appear in
/// order. Logging is never on the per-packet path. Values read as OVS users read them: booleans lower case
/// (<c>true</c>), IPv4 addresses without the <c>::ffff:</c> of an IPv4-mapped IPv6 socket (<c>127.0.0.1:6653</c>).
/// </remarks>
internal sealed partial class Vlog : ILoggerProvider
{
    /// <summary>OVS's levels, most severe first; a module logs a line when the line's level is at most the module's.</summary>
    public enum Level
    {
        Off = 0,
        Emer = 1,
        Err = 2,
        Warn = 3,
        Info = 4,
        Dbg = 5,
    }

    private sealed class Module(string name, Level level)
    {
        public readonly string Name = name;
        private volatile int _level = (int)level;
        public Level Level { get => (Level)_level; set => _level = (int)value; }
    }

    private readonly ConcurrentDictionary<string, Module> _modules = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Level> _requested = new(StringComparer.Ordinal);
    private readonly Lock _writeLock = new();
    private readonly Func<DateTime> _clock;
    private Level _default;
    private TextWriter _out;
    private readonly string? _file;
    private long _sequence;

    /// <param name="file">The log file (appended to), or null for <paramref name="console"/> (stderr by default).</param>
    public Vlog(Level defaultLevel = Level.Info, string? file = null, TextWriter? console = null, Func<DateTime>? clock = null)
    {
        _default = defaultLevel;
        _file = file;
        _clock = clock ?? (() => DateTime.UtcNow);
        _out = file is null ? console ?? Console.Error : OpenFile(file);
    }

    public string? File => _file;

    /// <summary>Lines written so far (the last sequence number).</summary>
    public long Sequence => Interlocked.Read(ref _sequence);

    private static StreamWriter OpenFile(string path)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        return new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete), new UTF8Encoding(false)) { AutoFlush = true };
    }

    /// <summary>Parses an OVS or .NET level name (case-insensitive).</summary>
    public static bool TryParseLevel(string text, out Level level)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "off": case "none": level = Level.Off; return true;
            case "emer": case "critical": case "crit": level = Level.Emer; return true;
            case "err": case "error": level = Level.Err; return true;
            case "warn": case "warning": level = Level.Warn; return true;
            case "info": case "information": level = Level.Info; return true;
            case "dbg": case "debug": case "trace": level = Level.Dbg; return true;
            default: level = default; return false;
        }
    }

    public static string LevelName(Level level) => level switch
    {
        Level.Off => "OFF",
        Level.Emer => "EMER",
        Level.Err => "ERR",
        Level.Warn => "WARN",
        Level.Info => "INFO",
        _ => "DBG",
    };

    private static Level FromDotNet(LogLevel l) => l switch
    {
        LogLevel.Trace or LogLevel.Debug => Level.Dbg,
        LogLevel.Information => Level.Info,
        LogLevel.Warning => Level.Warn,
        LogLevel.Error => Level.Err,
        LogLevel.Critical => Level.Emer,
        _ => Level.Off,
    };

    public static string ModuleName(string category)
    {
        int dot = category.LastIndexOf('.');
        return (dot >= 0 ? category[(dot + 1)..] : category).ToLowerInvariant();
    }

    /// <summary>
    /// Applies a level spec: <c>LEVEL</c> (every module), <c>MODULE:LEVEL</c>, <c>ANY:LEVEL</c>, comma-separated
    /// (<c>info,ofagent:dbg,afpacket:warn</c>). Nothing changes when any part is wrong; false with the user's message.
    /// A module not seen yet is remembered and applies when its first logger is made.
    /// </summary>
    public bool TrySet(string spec, out string error)
    {
        error = "";
        var changes = new List<(string? Module, Level Level)>();
        foreach (var raw in spec.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            int colon = raw.LastIndexOf(':');
            string? module = colon < 0 ? null : raw[..colon].Trim().ToLowerInvariant();
            string levelText = colon < 0 ? raw : raw[(colon + 1)..];
            if (module is { Length: 0 } || !TryParseLevel(levelText, out var level))
            {
                error = $"bad log level '{raw}': want LEVEL or MODULE:LEVEL, LEVEL one of off, emer, err, warn, info, dbg (or Critical, Error, Warning, Information, Debug, Trace)";
                return false;
            }
            if (module is "any" or "all") module = null;
            if (module is not null && module.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_')))
            {
                error = $"bad log module '{module}' in '{raw}' (vlog/list shows the modules)";
                return false;
            }
            changes.Add((module, level));
        }
        if (changes.Count == 0)
        {
            error = "empty log level: want LEVEL or MODULE:LEVEL[,...]";
            return false;
        }
        lock (_requested)
        {
            foreach (var (module, level) in changes)
            {
                if (module is null)
                {
                    _default = level;
                    _requested.Clear();
                    foreach (var m in _modules.Values) m.Level = level;
                }
                else
                {
                    _requested[module] = level;
                    if (_modules.TryGetValue(module, out var m)) m.Level = level;
                }
            }
        }
        return true;
    }

    /// <summary>The modules and their levels, as <c>vlog/list</c> prints them.</summary>
    public IReadOnlyList<(string Module, Level Level)> List()
    {
        var list = new List<(string, Level)>();
        lock (_requested)
        {
            foreach (var m in _modules.Values) list.Add((m.Name, m.Level));
            foreach (var (name, level) in _requested)
                if (!_modules.ContainsKey(name)) list.Add((name, level));
        }
        list.Sort((a, b) => string.CompareOrdinal(a.Item1, b.Item1));
        return list;
    }

    public string Describe()
    {
        var sb = new StringBuilder("                 level\n                 -----\n");
        foreach (var (module, level) in List()) sb.Append(CultureInfo.InvariantCulture, $"{module,-16} {LevelName(level).ToLowerInvariant()}\n");
        if (_file is not null) sb.Append(CultureInfo.InvariantCulture, $"log file: {_file}\n");
        return sb.ToString();
    }

    /// <summary>Closes and reopens the log file (after logrotate moved it); false with a message when there is no file or it cannot be opened.</summary>
    public bool Reopen(out string error)
    {
        error = "";
        if (_file is null)
        {
            error = "logging to stderr, there is no log file to reopen (run with --log-file FILE)";
            return false;
        }
        StreamWriter fresh;
        try
        {
            fresh = OpenFile(_file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = $"cannot reopen log file '{_file}': {e.Message}";
            return false;
        }
        TextWriter old;
        lock (_writeLock)
        {
            old = _out;
            _out = fresh;
        }
        old.Dispose();
        return true;
    }

    /// <summary>Sends console output elsewhere from now on (a detached daemon without a log file drops it).</summary>
    public void RedirectConsole(TextWriter writer)
    {
        if (_file is not null) return;
        lock (_writeLock) _out = writer;
    }

    private Module GetModule(string category)
    {
        string name = ModuleName(category);
        return _modules.GetOrAdd(name, n =>
        {
            lock (_requested) return new Module(n, _requested.TryGetValue(n, out var l) ? l : _default);
        });
    }

    /// <summary>Writes one line as module <paramref name="module"/> (for tests and the host's own messages).</summary>
    public void Write(string module, Level level, string message)
    {
        var sb = new StringBuilder(64 + message.Length);
        lock (_writeLock)
        {
            long seq = ++_sequence;
            sb.Append(_clock().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture))
              .Append('|').Append(seq.ToString("D5", CultureInfo.InvariantCulture))
              .Append('|').Append(module)
              .Append('|').Append(LevelName(level))
              .Append('|').Append(message);
            try
            {
                _out.WriteLine(sb.ToString());
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                // The log's reader went away (a detached daemon's stderr); logging must not take the switch down.
            }
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, GetModule(categoryName));

    public void Dispose()
    {
        lock (_writeLock)
        {
            if (_file is not null) _out.Dispose();
            else _out.Flush();
        }
    }

    private static bool NeedsPlainValues(IReadOnlyList<KeyValuePair<string, object?>> values)
    {
        for (int i = 0; i < values.Count; i++)
        {
            if (values[i].Value is bool or IPAddress or IPEndPoint) return true;
        }
        return false;
    }

    /// <summary>The message template with each hole filled in order, booleans and addresses written plainly (see the remarks).</summary>
    internal static string Render(IReadOnlyList<KeyValuePair<string, object?>> values)
    {
        string? template = null;
        for (int i = 0; i < values.Count; i++)
        {
            if (values[i].Key == "{OriginalFormat}") template = values[i].Value as string;
        }
        if (template is null) return string.Join(", ", values.Select(v => $"{v.Key}={Plain(v.Value, null)}"));
        var sb = new StringBuilder(template.Length + 32);
        int hole = 0;
        for (int i = 0; i < template.Length; i++)
        {
            char c = template[i];
            if ((c == '{' || c == '}') && i + 1 < template.Length && template[i + 1] == c)
            {
                sb.Append(c);
                i++;
                continue;
            }
            int close = c == '{' ? template.IndexOf('}', i + 1) : -1;
            if (close < 0)
            {
                sb.Append(c);
                continue;
            }
            string inside = template[(i + 1)..close];
            int colon = inside.IndexOf(':');
            string? format = colon >= 0 ? inside[(colon + 1)..] : null;
            sb.Append(hole < values.Count && values[hole].Key != "{OriginalFormat}" ? Plain(values[hole].Value, format) : template[i..(close + 1)]);
            hole++;
            i = close;
        }
        return sb.ToString();
    }

    private static string Plain(object? value, string? format) => value switch
    {
        null => "(null)",
        bool b => b ? "true" : "false",
        IPAddress a => (a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a).ToString(),
        IPEndPoint e when e.Address.IsIPv4MappedToIPv6 => $"{e.Address.MapToIPv4()}:{e.Port}",
        IFormattable f => f.ToString(format, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>IPv4-mapped IPv6 addresses in text (<c>[::ffff:10.0.0.1]:6653</c>, <c>::ffff:10.0.0.1</c>) as IPv4.</summary>
    internal static string PlainAddresses(string text) => MappedAddress().Replace(text, "${a}");

    [GeneratedRegex(@"\[::ffff:(?<a>\d{1,3}(?:\.\d{1,3}){3})\]|::ffff:(?<a>\d{1,3}(?:\.\d{1,3}){3})", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex MappedAddress();

    private sealed class Logger(Vlog owner, Module module) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && FromDotNet(logLevel) <= module.Level;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            string message = state is IReadOnlyList<KeyValuePair<string, object?>> values && NeedsPlainValues(values) ? Render(values) : formatter(state, exception);
            if (message.Contains("::ffff:", StringComparison.OrdinalIgnoreCase)) message = PlainAddresses(message);
            if (exception is not null) message += $" ({exception.GetType().Name}: {exception.Message})";
            owner.Write(module.Name, FromDotNet(logLevel), message.ReplaceLineEndings(" "));
        }
    }
}
