using System.Net;
using System.Net.Sockets;

namespace Softswitch.TestKit;

/// <summary>Free TCP ports on loopback for the programs a test starts.</summary>
public static class FreePorts
{
    /// <summary>
    /// A free TCP port in [<paramref name="min"/>, <paramref name="max"/>), by default below Linux's ephemeral range
    /// (32768+), so listeners that other tests open on port 0 can never take it between our check and the program
    /// binding it.
    /// </summary>
    public static int Tcp(int min = 20_000, int max = 32_000)
    {
        for (int attempt = 0; ; attempt++)
        {
            int port = Random.Shared.Next(min, max);
            try
            {
                var l = new TcpListener(IPAddress.Loopback, port);
                l.Start();
                l.Stop();
                return port;
            }
            catch (SocketException) when (attempt < 100)
            {
            }
        }
    }
}
