using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Softswitch.OfAgent.Session;

/// <summary>How an OpenFlow channel is carried.</summary>
public enum OfTransportKind : byte
{
    Tcp,
    /// <summary>TLS over TCP (<c>ssl:</c>, <c>pssl:</c>).</summary>
    Ssl,
    /// <summary>A Unix domain stream socket (<c>unix:</c>, <c>punix:</c>).</summary>
    Unix,
}

/// <summary>
/// An OpenFlow endpoint spelled as Open vSwitch spells it: active <c>tcp:HOST[:PORT]</c>, <c>ssl:HOST[:PORT]</c>,
/// <c>unix:FILE</c>; passive <c>ptcp:[PORT][:IP]</c>, <c>pssl:[PORT][:IP]</c>, <c>punix:FILE</c>. An IPv6 address is
/// written in brackets (<c>tcp:[::1]:6653</c>, <c>ptcp:6653:[::1]</c>). The port defaults to 6653; a passive TCP
/// endpoint binds 127.0.0.1 unless an address is given (Open vSwitch binds every address; binding loopback by
/// default keeps an unauthenticated listener off the network unless asked for).
/// </summary>
/// <remarks>Immutable. Every parse error reads <c>bad OpenFlow endpoint 'TEXT': REASON</c>.</remarks>
public sealed record OfEndpoint(OfTransportKind Kind, bool Passive, string Host, int Port, string Path = "")
{
    public const int DefaultPort = 6653;

    public bool IsTls => Kind == OfTransportKind.Ssl;

    public static OfEndpoint Parse(string text)
    {
        if (!TryParse(text, out var e, out var why)) throw new FormatException(why);
        return e!;
    }

    public static bool TryParse(string text, out OfEndpoint? endpoint, out string error)
    {
        endpoint = null;
        error = "";
        text ??= "";
        int colon = text.IndexOf(':');
        string scheme = colon < 0 ? text : text[..colon];
        string rest = colon < 0 ? "" : text[(colon + 1)..];
        string? why;
        switch (scheme)
        {
            case "tcp":
            case "ssl":
                why = TryActive(rest, out string host, out int port);
                if (why is null) endpoint = new OfEndpoint(scheme == "ssl" ? OfTransportKind.Ssl : OfTransportKind.Tcp, false, host, port);
                break;
            case "ptcp":
            case "pssl":
                why = TryPassive(rest, out host, out port);
                if (why is null) endpoint = new OfEndpoint(scheme == "pssl" ? OfTransportKind.Ssl : OfTransportKind.Tcp, true, host, port);
                break;
            case "unix":
            case "punix":
                why = rest.Length == 0 ? "expected a socket file after the colon" : null;
                if (why is null) endpoint = new OfEndpoint(OfTransportKind.Unix, scheme == "punix", "", 0, rest);
                break;
            default:
                why = "expected tcp:HOST[:PORT], ssl:HOST[:PORT], unix:FILE, ptcp:[PORT][:IP], pssl:[PORT][:IP] or punix:FILE";
                break;
        }
        if (why is null) return true;
        error = $"bad OpenFlow endpoint '{text}': {why}";
        endpoint = null;
        return false;
    }

    /// <summary>HOST[:PORT], HOST being a name, an IPv4 address or a bracketed IPv6 address.</summary>
    private static string? TryActive(string rest, out string host, out int port)
    {
        port = DefaultPort;
        host = "";
        string? portText = null;
        if (rest.StartsWith('['))
        {
            int close = rest.IndexOf(']');
            if (close < 0) return "an IPv6 address needs its closing ']'";
            host = rest[1..close];
            if (!IPAddress.TryParse(host, out var a) || a.AddressFamily != AddressFamily.InterNetworkV6) return $"'{host}' is not an IPv6 address";
            string after = rest[(close + 1)..];
            if (after.Length > 0)
            {
                if (after[0] != ':') return "expected ':PORT' after the IPv6 address";
                portText = after[1..];
            }
        }
        else
        {
            int c = rest.IndexOf(':');
            if (c >= 0 && rest.IndexOf(':', c + 1) >= 0) return "an IPv6 address is written in brackets: tcp:[ADDR]:PORT";
            host = c < 0 ? rest : rest[..c];
            if (c >= 0) portText = rest[(c + 1)..];
        }
        if (host.Length == 0) return "expected a host after the colon";
        if (portText is not null && !TryPort(portText, allowZero: false, out port)) return $"'{portText}' is not a port (1-{IPEndPoint.MaxPort})";
        return null;
    }

    /// <summary>[PORT][:IP], IP being an IPv4 address or a bracketed IPv6 address.</summary>
    private static string? TryPassive(string rest, out string host, out int port)
    {
        port = DefaultPort;
        host = "127.0.0.1";
        int c = rest.IndexOf(':');
        string portText = c < 0 ? rest : rest[..c];
        if (portText.Length > 0 && !TryPort(portText, allowZero: true, out port)) return $"'{portText}' is not a port (0-{IPEndPoint.MaxPort})";
        if (c < 0) return null;
        string ip = rest[(c + 1)..];
        bool bracketed = ip.Length >= 2 && ip[0] == '[' && ip[^1] == ']';
        if (bracketed) ip = ip[1..^1];
        else if (ip.Contains(':')) return "an IPv6 address is written in brackets: ptcp:PORT:[ADDR]";
        var family = bracketed ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        if (!IPAddress.TryParse(ip, out var addr) || addr.AddressFamily != family) return $"'{ip}' is not an IP address";
        host = addr.ToString();
        return null;
    }

    private static bool TryPort(string s, bool allowZero, out int port)
        => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port <= IPEndPoint.MaxPort && (allowZero || port > 0);

    private string HostText => Host.Contains(':') ? $"[{Host}]" : Host;

    public override string ToString() => (Kind, Passive) switch
    {
        (OfTransportKind.Unix, false) => $"unix:{Path}",
        (OfTransportKind.Unix, true) => $"punix:{Path}",
        (_, false) => $"{(IsTls ? "ssl" : "tcp")}:{HostText}:{Port}",
        _ => $"{(IsTls ? "pssl" : "ptcp")}:{Port}:{HostText}",
    };
}
