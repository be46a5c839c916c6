using System.Text;

namespace Softswitch.Control;

/// <summary>A parsed control request: the command name and its arguments.</summary>
internal readonly record struct ControlRequest(string Command, string[] Args);

/// <summary>A control reply: success with the command's text, or an error message.</summary>
internal readonly record struct ControlReply(bool Ok, string Text)
{
    public static ControlReply Success(string text) => new(true, text);
    public static ControlReply Error(string message) => new(false, message);
}

/// <summary>
/// The control socket's wire format (the daemon's `softswitch ctl` channel, like ovs-appctl's unixctl but plain text).
/// </summary>
/// <remarks>
/// <code>
///   client → daemon   COMMAND [ARG ...] LF          one line, UTF-8, at most MaxRequestSize bytes with the LF;
///                                                  words separated by spaces or tabs; no other control characters
///   daemon → client   "OK" LF TEXT                  the command's output
///                   | "ERROR" LF MESSAGE LF        what was wrong (bad request, unknown command, failed command)
///   then the daemon closes the connection (one request per connection; the reply ends at EOF)
/// </code>
/// Bounds: a request longer than <see cref="MaxRequestSize"/>, with more than <see cref="MaxArgs"/> arguments, or
/// not sent within the daemon's read timeout gets an ERROR reply; a reply is cut at <see cref="MaxReplySize"/> bytes
/// (with a last line saying so). A request without the final LF is accepted when the client shuts its side down.
/// Stateless; every method is safe from any thread and never throws on bad input.
/// </remarks>
internal static class ControlProtocol
{
    public const int MaxRequestSize = 4096;
    public const int MaxArgs = 16;
    public const int MaxCommandLength = 64;
    public const int MaxReplySize = 64 << 20;
    public const string OkStatus = "OK";
    public const string ErrorStatus = "ERROR";

    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Parses one request line (with or without its LF); false with a message for the client on bad input.</summary>
    public static bool TryParseRequest(ReadOnlySpan<byte> line, out ControlRequest request, out string error)
    {
        request = default;
        if (line.Length > MaxRequestSize)
        {
            error = $"request longer than {MaxRequestSize} bytes";
            return false;
        }
        if (line.Length > 0 && line[^1] == (byte)'\n') line = line[..^1];
        if (line.Length > 0 && line[^1] == (byte)'\r') line = line[..^1];
        string text;
        try
        {
            text = s_strictUtf8.GetString(line);
        }
        catch (DecoderFallbackException)
        {
            error = "request is not UTF-8 text";
            return false;
        }
        foreach (char c in text)
        {
            if (c != '\t' && char.IsControl(c))
            {
                error = "request contains control characters (one line per request)";
                return false;
            }
        }
        var words = text.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0)
        {
            error = "empty request; 'help' lists the commands";
            return false;
        }
        if (words.Length - 1 > MaxArgs)
        {
            error = $"too many arguments (at most {MaxArgs})";
            return false;
        }
        if (!IsCommandName(words[0]))
        {
            error = $"'{Shorten(words[0])}' is not a command name; 'help' lists the commands";
            return false;
        }
        request = new ControlRequest(words[0], words[1..]);
        error = "";
        return true;
    }

    /// <summary>Lower-case letters, digits, '/', '-', '_', at most <see cref="MaxCommandLength"/> characters.</summary>
    public static bool IsCommandName(string name)
    {
        if (name.Length is 0 or > MaxCommandLength) return false;
        foreach (char c in name)
            if (c is not ((>= 'a' and <= 'z') or (>= '0' and <= '9') or '/' or '-' or '_')) return false;
        return true;
    }

    /// <summary>The request line a client sends (false when an argument cannot be sent as one word).</summary>
    public static bool TryFormatRequest(string command, IReadOnlyList<string> args, out byte[] bytes, out string error)
    {
        bytes = [];
        if (!IsCommandName(command))
        {
            error = $"'{Shorten(command)}' is not a command name";
            return false;
        }
        if (args.Count > MaxArgs)
        {
            error = $"too many arguments (at most {MaxArgs})";
            return false;
        }
        var sb = new StringBuilder(command);
        foreach (var a in args)
        {
            if (a.Length == 0 || a.Any(c => c is ' ' or '\t' || char.IsControl(c)))
            {
                error = $"argument '{Shorten(a)}' is empty or contains spaces or control characters";
                return false;
            }
            sb.Append(' ').Append(a);
        }
        sb.Append('\n');
        bytes = Encoding.UTF8.GetBytes(sb.ToString());
        if (bytes.Length > MaxRequestSize)
        {
            error = $"request longer than {MaxRequestSize} bytes";
            bytes = [];
            return false;
        }
        error = "";
        return true;
    }

    /// <summary>The reply's bytes: status line, then the text (ending in LF), cut at <see cref="MaxReplySize"/>.</summary>
    public static byte[] EncodeReply(in ControlReply reply)
    {
        long size = EncodedReplySize(reply);
        if (size <= MaxReplySize)
        {
            // Written in place: no concatenated copy of the text.
            var result = new byte[size];
            EncodeReply(reply, result);
            return result;
        }
        string text = reply.Text.Length > 0 && reply.Text[^1] != '\n' ? reply.Text + "\n" : reply.Text;
        var bytes = Encoding.UTF8.GetBytes((reply.Ok ? OkStatus : ErrorStatus) + "\n" + text);
        var note = Encoding.UTF8.GetBytes($"\n... reply cut at {MaxReplySize} bytes\n");
        var cut = new byte[MaxReplySize];
        bytes.AsSpan(0, MaxReplySize - note.Length).CopyTo(cut);
        note.CopyTo(cut.AsSpan(MaxReplySize - note.Length));
        return cut;
    }

    /// <summary>The bytes <see cref="EncodeReply(in ControlReply, Span{byte})"/> writes, before any cut at <see cref="MaxReplySize"/>.</summary>
    public static long EncodedReplySize(in ControlReply reply)
    {
        string text = reply.Text;
        bool newline = text.Length > 0 && text[^1] != '\n';
        return (reply.Ok ? OkStatus : ErrorStatus).Length + 1L + Encoding.UTF8.GetByteCount(text) + (newline ? 1 : 0);
    }

    /// <summary>
    /// Writes the reply (status line, then the text ending in LF) into <paramref name="destination"/>, which holds at
    /// least <see cref="EncodedReplySize"/> bytes; returns the count. For a caller that keeps its own buffer.
    /// </summary>
    public static int EncodeReply(in ControlReply reply, Span<byte> destination)
    {
        string text = reply.Text;
        int n = Encoding.UTF8.GetBytes(reply.Ok ? OkStatus : ErrorStatus, destination);
        destination[n++] = (byte)'\n';
        n += Encoding.UTF8.GetBytes(text, destination[n..]);
        if (text.Length > 0 && text[^1] != '\n') destination[n++] = (byte)'\n';
        return n;
    }

    /// <summary>Splits a complete reply into status and text; false when it does not start with a status line.</summary>
    public static bool TryDecodeReply(ReadOnlySpan<byte> bytes, out ControlReply reply)
    {
        reply = default;
        int nl = bytes.IndexOf((byte)'\n');
        if (nl < 0) return false;
        var status = bytes[..nl];
        string text = Encoding.UTF8.GetString(bytes[(nl + 1)..]);
        if (status.SequenceEqual("OK"u8)) reply = ControlReply.Success(text);
        else if (status.SequenceEqual("ERROR"u8)) reply = ControlReply.Error(text);
        else return false;
        return true;
    }

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "...";
}
