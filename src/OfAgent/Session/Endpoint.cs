using System.Net;

namespace Softswitch.OfAgent.Session;

/// <summary>A controller target: active <c>tcp:HOST:PORT</c> or passive <c>ptcp:PORT[:IP]</c> (Open vSwitch syntax).</summary>
public sealed record OfEndpoint(bool Passive, string Host, int Port)
{
    public static OfEndpoint Parse(string text)
    {
        if (!TryParse(text, out var e, out var why)) throw new FormatException(why);
        return e!;
    }

    public static bool TryParse(string text, out OfEndpoint? endpoint, out string error)
    {
        endpoint = null;
        error = "";
        var parts = text.Split(':');
        if (parts.Length >= 2 && parts[0] == "tcp")
        {
            // tcp:HOST:PORT (PORT defaults to 6653)
            string host = parts[1];
            int port = 6653;
            if (parts.Length == 3 && !int.TryParse(parts[2], out port) || parts.Length > 3 || host.Length == 0 || port is <= 0 or > 65535)
            {
                error = $"bad controller '{text}': expected tcp:HOST:PORT";
                return false;
            }
            endpoint = new OfEndpoint(false, host, port);
            return true;
        }
        if (parts.Length >= 2 && parts[0] == "ptcp")
        {
            // ptcp:PORT[:IP] (binds 127.0.0.1 unless told otherwise)
            if (!int.TryParse(parts[1], out int port) || port is < 0 or > 65535 || parts.Length > 3)
            {
                error = $"bad listener '{text}': expected ptcp:PORT[:IP]";
                return false;
            }
            string ip = parts.Length == 3 ? parts[2] : "127.0.0.1";
            if (!IPAddress.TryParse(ip, out _))
            {
                error = $"bad listener '{text}': '{ip}' is not an IP address";
                return false;
            }
            endpoint = new OfEndpoint(true, ip, port);
            return true;
        }
        error = $"bad OpenFlow endpoint '{text}': expected tcp:HOST:PORT or ptcp:PORT[:IP]";
        return false;
    }

    public override string ToString() => Passive ? $"ptcp:{Port}:{Host}" : $"tcp:{Host}:{Port}";
}
