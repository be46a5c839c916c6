using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Softswitch.Ovsdb;

/// <summary>
/// JSON-RPC 1.0 as OVSDB speaks it (RFC 7047 section 4): a stream of JSON objects with nothing between them, each a
/// request, a reply or a notification.
/// </summary>
/// <remarks>
/// <code>
///   request        {"method":"transact","params":[...],"id":ID}      any id but null; answered once
///   notification   {"method":"update2","params":[...],"id":null}     never answered
///   reply          {"result":VALUE,"error":null,"id":ID}             or "result":null with "error" set
/// </code>
/// A message is framed by finding the end of one complete JSON value at the start of the buffer; it is bounded by
/// <see cref="MaxMessageSize"/> (a full database's first monitor reply is the largest). Stateless, never throws on bad
/// input.
/// </remarks>
internal static class JsonRpc
{
    /// <summary>The largest message accepted: the initial monitor reply of a large database fits.</summary>
    public const int MaxMessageSize = 64 << 20;

    public enum FrameStatus { Incomplete, Message, Invalid }

    /// <summary>
    /// Finds one complete JSON object at the start of <paramref name="buffer"/> (after whitespace):
    /// <paramref name="start"/> and <paramref name="length"/> are its bytes, <paramref name="consumed"/> what the caller
    /// may drop. Anything other than an object, or bytes that cannot start JSON, is <see cref="FrameStatus.Invalid"/>.
    /// </summary>
    public static FrameStatus TryFrame(ReadOnlySpan<byte> buffer, out int start, out int length, out int consumed, out string error)
    {
        start = length = consumed = 0;
        error = "";
        int i = 0;
        while (i < buffer.Length && buffer[i] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') i++;
        if (i == buffer.Length)
        {
            consumed = i;
            return FrameStatus.Incomplete;
        }
        if (buffer[i] != (byte)'{')
        {
            error = $"a JSON-RPC message must be a JSON object, not one starting with '{(char)buffer[i]}'";
            return FrameStatus.Invalid;
        }
        var reader = new Utf8JsonReader(buffer[i..], isFinalBlock: false, new JsonReaderState(new JsonReaderOptions { MaxDepth = 64 }));
        try
        {
            if (!reader.Read() || !reader.TrySkip()) return FrameStatus.Incomplete;
        }
        catch (JsonException e)
        {
            error = $"not JSON: {e.Message}";
            return FrameStatus.Invalid;
        }
        start = i;
        length = (int)reader.BytesConsumed;
        consumed = i + length;
        return FrameStatus.Message;
    }

    /// <summary>Reads one framed object as a message; false with the reason when it is none of the three kinds.</summary>
    public static bool TryParse(ReadOnlySpan<byte> json, out JsonRpcMessage message, out string error)
    {
        message = default;
        error = "";
        JsonObject obj;
        try
        {
            if (JsonNode.Parse(json) is not JsonObject o)
            {
                error = "a JSON-RPC message must be a JSON object";
                return false;
            }
            obj = o;
        }
        catch (JsonException e)
        {
            error = $"not JSON: {e.Message}";
            return false;
        }
        obj.TryGetPropertyValue("id", out var id);
        if (obj.TryGetPropertyValue("method", out var method))
        {
            if (method is not JsonValue mv || !mv.TryGetValue(out string? name))
            {
                error = "a JSON-RPC method must be a string";
                return false;
            }
            if (!obj.TryGetPropertyValue("params", out var ps) || ps is not JsonArray array)
            {
                error = $"\"{name}\" has no params array";
                return false;
            }
            message = new JsonRpcMessage(id is null ? JsonRpcKind.Notification : JsonRpcKind.Request, name, array, id, null, null);
            return true;
        }
        if (!obj.ContainsKey("result") && !obj.ContainsKey("error"))
        {
            error = "a JSON-RPC message with neither method nor result";
            return false;
        }
        if (id is null)
        {
            error = "a JSON-RPC reply with a null id";
            return false;
        }
        obj.TryGetPropertyValue("result", out var result);
        obj.TryGetPropertyValue("error", out var err);
        message = new JsonRpcMessage(JsonRpcKind.Reply, null, null, id, result, err);
        return true;
    }

    /// <summary>A request or (with a null id) a notification, as bytes.</summary>
    public static byte[] Request(string method, JsonArray parameters, JsonNode? id)
        => Encode(new JsonObject { ["method"] = method, ["params"] = parameters, ["id"] = id });

    /// <summary>A reply: <paramref name="result"/> or, when <paramref name="error"/> is set, an error.</summary>
    public static byte[] Reply(JsonNode? result, JsonNode? error, JsonNode? id)
        => Encode(new JsonObject { ["result"] = result, ["error"] = error, ["id"] = id });

    private static byte[] Encode(JsonObject obj)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms)) obj.WriteTo(w);
        return ms.ToArray();
    }

    /// <summary>An error value as text: RFC 7047's <c>{"error":"...","details":"..."}</c> or any JSON.</summary>
    public static string Describe(JsonNode? error)
    {
        if (error is JsonObject o && o["error"] is JsonValue e && e.TryGetValue(out string? name))
            return o["details"] is JsonValue d && d.TryGetValue(out string? details) ? $"{name}: {details}" : name;
        if (error is JsonValue v && v.TryGetValue(out string? s)) return s;
        return Text(error);
    }

    /// <summary>A value's JSON text, for comparing atoms and logging.</summary>
    public static string Text(JsonNode? node)
    {
        if (node is null) return "null";
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms)) node.WriteTo(w);
        return Encoding.UTF8.GetString(ms.GetBuffer(), 0, (int)ms.Length);
    }
}

internal enum JsonRpcKind { Request, Notification, Reply }

/// <summary>One message: a request or notification (<see cref="Method"/>, <see cref="Params"/>) or a reply (<see cref="Result"/>, <see cref="Error"/>).</summary>
internal readonly record struct JsonRpcMessage(JsonRpcKind Kind, string? Method, JsonArray? Params, JsonNode? Id, JsonNode? Result, JsonNode? Error)
{
    /// <summary>A reply that carries an error (a non-null error member).</summary>
    public bool IsError => Kind == JsonRpcKind.Reply && Error is not null;
}
