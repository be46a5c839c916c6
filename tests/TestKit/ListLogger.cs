using Microsoft.Extensions.Logging;

namespace Softswitch.TestKit;

/// <summary>A logger that keeps every line (level and rendered message) for assertions.</summary>
public sealed class ListLogger(LogLevel min) : ILogger
{
    public readonly List<(LogLevel Level, string Text)> Lines = new();
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(LogLevel level) => level >= min;
    public void Log<TState>(LogLevel level, EventId id, TState state, Exception? e, Func<TState, Exception?, string> format)
    {
        if (!IsEnabled(level)) return;
        lock (Lines) Lines.Add((level, format(state, e)));
    }
    public List<string> At(LogLevel level)
    {
        lock (Lines) return Lines.Where(l => l.Level == level).Select(l => l.Text).ToList();
    }
}
