using System.Collections;
using System.Reflection;

namespace Softswitch.OfWire.Tests.Of10;

/// <summary>
/// Structural comparison of decoded messages: public readable properties recursively, lists element by
/// element, ReadOnlyMemory&lt;byte&gt; by content, other value types by their own Equals.
/// Returns the path of the first difference, or null.
/// </summary>
public static class DeepEqual
{
    public static string? Diff(object? expected, object? actual, string path = "$")
    {
        if (expected is null || actual is null)
        {
            return expected is null && actual is null ? null : $"{path}: {Show(expected)} vs {Show(actual)}";
        }
        Type type = expected.GetType();
        if (type != actual.GetType())
        {
            return $"{path}: type {type.Name} vs {actual.GetType().Name}";
        }
        if (expected is ReadOnlyMemory<byte> em)
        {
            var am = (ReadOnlyMemory<byte>)actual;
            return em.Span.SequenceEqual(am.Span) ? null : $"{path}: {Convert.ToHexString(em.Span)} vs {Convert.ToHexString(am.Span)}";
        }
        if (type.IsPrimitive || type.IsEnum || expected is string || type.IsValueType)
        {
            return Equals(expected, actual) ? null : $"{path}: {Show(expected)} vs {Show(actual)}";
        }
        if (expected is IList el)
        {
            var al = (IList)actual;
            if (el.Count != al.Count)
            {
                return $"{path}: count {el.Count} vs {al.Count}";
            }
            for (int i = 0; i < el.Count; i++)
            {
                if (Diff(el[i], al[i], $"{path}[{i}]") is string d)
                {
                    return d;
                }
            }
            return null;
        }
        foreach (PropertyInfo p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetIndexParameters().Length > 0 || !p.CanRead)
            {
                continue;
            }
            if (Diff(p.GetValue(expected), p.GetValue(actual), $"{path}.{p.Name}") is string d)
            {
                return d;
            }
        }
        return null;
    }

    private static string Show(object? o) => o switch
    {
        null => "null",
        string s => $"\"{s}\"",
        _ => o.ToString() ?? "?",
    };
}
