using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Softswitch.Control;

/// <summary>
/// Open vSwitch's unixctl protocol on the control socket, so that <c>ovs-appctl -t SOCKET COMMAND ARGS</c> works: a
/// stream of JSON-RPC 1.0 objects, one request answered at a time.
/// </summary>
/// <remarks>
/// <code>
///   client → daemon   {"method":"fdb/show","params":["ARG",...],"id":ID}       params: strings only
///   daemon → client   {"result":"TEXT\n","error":null,"id":ID}                 the command's output
///                   | {"result":null,"error":"MESSAGE\n","id":ID}              what was wrong
/// </code>
/// As ovs's unixctl server: a non-empty text gets a final LF when it lacks one, the id is echoed as sent (any JSON
/// value), a message that is not a request (no method, a reply, a notification with a null id) ends the connection,
/// and the connection stays open for the next request until the client closes it. A request is one JSON object of
/// at most <see cref="MaxMessageSize"/> bytes; <see cref="ControlServer"/> tells the two protocols apart by the first
/// byte (<c>{</c> here; a line request starts with a command name). Stateless, safe from any thread, never throws on
/// bad input.
/// </remarks>
internal static class UnixctlJsonRpc
{
    public const int MaxMessageSize = 64 << 10;

    /// <summary>What <see cref="TryRead"/> found at the start of the buffer.</summary>
    public enum ReadStatus { Incomplete, Request, Invalid }

    /// <summary>
    /// Looks for one complete JSON value at the start of <paramref name="buffer"/> (after whitespace). A complete
    /// request fills <paramref name="request"/> and <paramref name="id"/> (the raw JSON of its id);
    /// <paramref name="consumed"/> is the bytes used. <see cref="ReadStatus.Invalid"/> (with <paramref name="error"/>)
    /// ends the connection; a request with a non-empty <paramref name="error"/> (bad params) is answered with it.
    /// </summary>
    public static ReadStatus TryRead(ReadOnlySpan<byte> buffer, out int consumed, out ControlRequest request, out byte[] id, out string error)
    {
        consumed = 0;
        request = default;
        id = [];
        error = "";
        var reader = new Utf8JsonReader(buffer, isFinalBlock: false, new JsonReaderState(new JsonReaderOptions { MaxDepth = 16 }));
        try
        {
            if (!reader.Read()) return ReadStatus.Incomplete;
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                error = "a JSON-RPC message must be a JSON object";
                return ReadStatus.Invalid;
            }
            if (!reader.TrySkip()) return ReadStatus.Incomplete;
        }
        catch (JsonException e)
        {
            error = $"not JSON: {e.Message}";
            return ReadStatus.Invalid;
        }
        consumed = (int)reader.BytesConsumed;
        using var doc = JsonDocument.Parse(buffer[..consumed].ToArray());
        var root = doc.RootElement;
        if (!root.TryGetProperty("method", out var method) || method.ValueKind != JsonValueKind.String)
        {
            error = "received a JSON-RPC message that is not a request (no method)";
            return ReadStatus.Invalid;
        }
        if (!root.TryGetProperty("id", out var idElement) || idElement.ValueKind == JsonValueKind.Null)
        {
            error = "received a JSON-RPC notification (no id); only requests are answered";
            return ReadStatus.Invalid;
        }
        id = Raw(idElement);
        string name = method.GetString()!;
        if (!root.TryGetProperty("params", out var ps) || ps.ValueKind != JsonValueKind.Array)
        {
            error = $"\"{name}\" request has no params array";
            request = new ControlRequest(name, []);
            return ReadStatus.Request;
        }
        var args = new string[ps.GetArrayLength()];
        int i = 0;
        foreach (var p in ps.EnumerateArray())
        {
            if (p.ValueKind != JsonValueKind.String)
            {
                error = $"\"{name}\" command has non-string argument";
                break;
            }
            args[i++] = p.GetString()!;
        }
        request = new ControlRequest(name, args);
        return ReadStatus.Request;
    }

    /// <summary>The reply object for request <paramref name="id"/>, as ovs's unixctl server writes it.</summary>
    public static byte[] EncodeReply(ReadOnlySpan<byte> id, ControlReply reply)
    {
        string text = reply.Text;
        if (text.Length > 0 && text[^1] != '\n') text += "\n";
        var buffer = new ArrayBufferWriter<byte>(text.Length + 64);
        // Minimal escaping (quotes, backslashes, control characters), as ovs writes JSON: the text is no HTML.
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (reply.Ok)
            {
                w.WriteString("result", text);
                w.WriteNull("error");
            }
            else
            {
                w.WriteNull("result");
                w.WriteString("error", text);
            }
            w.WritePropertyName("id");
            if (id.Length == 0) w.WriteNullValue();
            else w.WriteRawValue(id, skipInputValidation: true);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The element's JSON text (no reflection: trimming and NativeAOT keep it).</summary>
    private static byte[] Raw(JsonElement e)
    {
        var buffer = new ArrayBufferWriter<byte>(32);
        using (var w = new Utf8JsonWriter(buffer)) e.WriteTo(w);
        return buffer.WrittenSpan.ToArray();
    }
}
