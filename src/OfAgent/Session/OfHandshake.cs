using System.Net.Sockets;
using System.Security.Authentication;
using Softswitch.OfWire;

namespace Softswitch.OfAgent.Session;

/// <summary>What a channel's opening phase produced: the peer's first message (and anything after it), or why not.</summary>
/// <param name="PeerSilent">
/// The peer closed or reset the channel without sending a byte: a liveness probe (another daemon checking whether a
/// socket file is in use, a port scanner, a health check). Listeners log these at debug, not as refusals.
/// </param>
public readonly record struct OfHandshakeResult(string? Failure, byte[] Received, int Count, bool PeerSilent = false)
{
    public bool Ok => Failure is null;
}

/// <summary>
/// The opening phase of every OpenFlow channel, before it gets threads of its own: the TLS handshake (for
/// <c>ssl:</c>/<c>pssl:</c>), our HELLO (<see cref="OfpHelloVersions.Hello"/>), and the peer's first complete message, all within one deadline.
/// </summary>
/// <remarks>
/// Everything here is asynchronous (waiting on <see cref="SocketReadiness"/>), so a peer that connects and then stays silent, or trickles bytes, costs a
/// socket, a small buffer and a timer, never a thread; when the deadline passes the channel is closed whatever
/// the peer sent meanwhile (bytes do not extend it). The buffer starts at 64 bytes and grows only to the length
/// the peer's first header announces (bounded by the maximum message size). Stateless; one call per channel.
/// </remarks>
public static class OfHandshake
{
    /// <summary>The opening read buffer: a HELLO and then some; it grows to a longer first message.</summary>
    private const int FirstReadSize = 64;

    private const byte TlsHandshakeRecord = 0x16;

    /// <summary>
    /// Runs the opening phase on <paramref name="transport"/>. <paramref name="ct"/> carries the deadline (and the
    /// agent's shutdown); when it fires the failure says so. Never throws for what the peer does.
    /// </summary>
    public static async Task<OfHandshakeResult> RunAsync(OfTransport transport, OfTlsContext? tls, bool asServer, string targetHost,
        int maxMessageSize, byte[] hello, CancellationToken ct)
    {
        string? certificateRefusal = null;
        string stage = "waiting for the TLS handshake";
        int count = 0;
        try
        {
            if (tls is not null)
            {
                if (asServer)
                {
                    // A first byte that is not a TLS handshake record gets a clearer reason than the TLS stack's.
                    var first = new byte[1];
                    await SocketReadiness.Shared.WaitReadableAsync(transport.Socket, ct).ConfigureAwait(false);
                    int n = transport.Socket.Receive(first, SocketFlags.Peek);
                    if (n == 0) return Fail("closed before the TLS handshake", silent: true);
                    if (first[0] != TlsHandshakeRecord)
                    {
                        return Fail(first[0] is >= 1 and <= 6
                            ? "plaintext OpenFlow on a TLS listener (the peer did not start TLS)"
                            : $"not a TLS handshake (first byte 0x{first[0]:x2})");
                    }

                    stage = "in the TLS handshake";
                    await transport.AuthenticateAsServerAsync(tls.ServerOptions(why => certificateRefusal = why), ct).ConfigureAwait(false);
                }
                else
                {
                    stage = "in the TLS handshake";
                    await transport.AuthenticateAsClientAsync(tls.ClientOptions(targetHost, why => certificateRefusal = why), ct).ConfigureAwait(false);
                }
            }
            stage = "waiting for the peer's HELLO";
            await transport.SendAsync(hello, ct).ConfigureAwait(false);
            var buf = new byte[FirstReadSize];
            while (true)
            {
                var st = OfpFraming.TryGetFrame(buf.AsSpan(0, count), out var header, out int len, maxMessageSize);
                if (st == OfpFrameStatus.Invalid) return new OfHandshakeResult(null, buf, count); // the connection answers it
                if (st == OfpFrameStatus.Complete) return new OfHandshakeResult(null, buf, count);
                int want = count < OfpHeader.Size ? OfpHeader.Size : header.Length;
                if (want > buf.Length) Array.Resize(ref buf, Math.Max(want, buf.Length * 2));
                int n = await transport.ReceiveAsync(buf.AsMemory(count, buf.Length - count), ct).ConfigureAwait(false);
                if (n == 0) return count == 0 ? Fail("closed before sending HELLO", silent: true) : Fail($"closed after {count} byte(s) of its first message");
                count += n;
            }
        }
        catch (OperationCanceledException)
        {
            return Fail($"timed out {stage}");
        }
        catch (AuthenticationException e)
        {
            return Fail(certificateRefusal is not null ? $"TLS: {certificateRefusal}" : $"TLS handshake failed: {Inner(e)}");
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            if (certificateRefusal is not null) return Fail($"TLS: {certificateRefusal}");
            // A reset or broken pipe before the peer's first byte (it closed with our HELLO unread) is a probe too.
            return Fail($"connection failed {stage}: {Inner(e)}", silent: tls is null && count == 0 && stage == "waiting for the peer's HELLO");
        }
    }

    private static OfHandshakeResult Fail(string why, bool silent = false) => new(why, [], 0, silent);

    private static string Inner(Exception e)
    {
        while (e.InnerException is { } i) e = i;
        return e.Message;
    }
}
