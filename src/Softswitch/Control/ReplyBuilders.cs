using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Softswitch.Control;

/// <summary>
/// Builders for command replies that each thread keeps and reuses: a <see cref="StringBuilder"/> for text, a buffer
/// and a <see cref="Utf8JsonWriter"/> for JSON. So a reply polled every few seconds costs its string and little else.
/// </summary>
/// <remarks>
/// The control server's workers are long-lived threads (<see cref="ControlServer"/>), so each keeps one set. A builder
/// is taken out while in use (a command that runs another, as list-commands runs help, gets a fresh one) and kept
/// again only when it stayed under <see cref="MaxKeptChars"/> / <see cref="MaxKeptBytes"/>: a long dump-flows does
/// not pin megabytes per thread.
/// </remarks>
internal static class ReplyBuilders
{
    public const int MaxKeptChars = 32 << 10;
    public const int MaxKeptBytes = 64 << 10;

    [ThreadStatic] private static StringBuilder? s_text;
    [ThreadStatic] private static ArrayBufferWriter<byte>? s_jsonBuffer;
    [ThreadStatic] private static Utf8JsonWriter? s_jsonWriter;

    /// <summary>An empty builder; give it back with <see cref="ToStringAndReturn"/>.</summary>
    public static StringBuilder RentText()
    {
        var sb = s_text ?? new StringBuilder(4096);
        s_text = null;
        sb.Clear();
        return sb;
    }

    /// <summary>The text built, and the builder kept for this thread's next reply.</summary>
    public static string ToStringAndReturn(StringBuilder sb)
    {
        string text = sb.ToString();
        if (sb.Capacity <= MaxKeptChars) s_text = sb;
        return text;
    }

    /// <summary>What <paramref name="write"/> writes (compact JSON) followed by a LF, as a string.</summary>
    public static string Json(Action<Utf8JsonWriter> write)
    {
        var buffer = s_jsonBuffer ?? new ArrayBufferWriter<byte>(8192);
        var writer = s_jsonWriter;
        s_jsonBuffer = null;
        s_jsonWriter = null;
        buffer.ResetWrittenCount();
        if (writer is null) writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false });
        else writer.Reset(buffer);
        write(writer);
        writer.Flush();
        buffer.Write("\n"u8);
        string text = Encoding.UTF8.GetString(buffer.WrittenSpan);
        if (buffer.Capacity <= MaxKeptBytes)
        {
            writer.Reset();
            s_jsonBuffer = buffer;
            s_jsonWriter = writer;
        }
        return text;
    }
}
