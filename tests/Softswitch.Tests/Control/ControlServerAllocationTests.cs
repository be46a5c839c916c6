using System.Net;
using System.Net.Sockets;
using System.Text;
using Softswitch.Control;

namespace Softswitch.Tests.Control;

/// <summary>Runs alone: it reads the process-wide allocation counter, which other tests running at the same time would move.</summary>
[CollectionDefinition(nameof(ControlServerAllocationTests), DisableParallelization = true)]
public sealed class ControlServerAllocationCollection;

/// <summary>What serving a control request costs the daemon's managed heap (each collection pauses forwarding).</summary>
[Collection(nameof(ControlServerAllocationTests))]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ControlServerAllocationTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ssw-ctl-alloc-");
    private string SocketPath => Path.Combine(_dir.FullName, "sw.ctl");

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>One request with buffers made by the caller; returns the reply's length.</summary>
    private static int Request(EndPoint endpoint, byte[] request, byte[] reply)
    {
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 10_000 };
        s.Connect(endpoint);
        s.Send(request);
        s.Shutdown(SocketShutdown.Send);
        int length = 0, n;
        while ((n = s.Receive(reply, length, reply.Length - length, SocketFlags.None)) > 0) length += n;
        return length;
    }

    [Fact]
    public void ARequest_CostsTheServerLittleMoreThanItsReply()
    {
        const int requests = 200;
        // A reply of about 1 KB, made once: what the command builds is not the server's cost.
        string text = new('x', 1000);
        var commands = new ControlCommands();
        commands.Register("fixed", "", "the same text every time", 0, 0, _ => ControlReply.Success(text));
        using var server = ControlServer.Start(SocketPath, commands);
        var endpoint = new UnixDomainSocketEndPoint(SocketPath);
        var request = "fixed\n"u8.ToArray();
        var reply = new byte[4096];
        string expected = "OK\n" + text + "\n";
        for (int i = 0; i < 50; i++) Request(endpoint, request, reply);  // warm-up: the workers' first use, tiered JIT
        Thread.Sleep(200);

        long total0 = GC.GetTotalAllocatedBytes(precise: true), mine0 = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < requests; i++)
        {
            int length = Request(endpoint, request, reply);
            Assert.Equal(expected, Encoding.ASCII.GetString(reply, 0, length));
        }
        Thread.Sleep(200);  // the last drain and close
        long mine = GC.GetAllocatedBytesForCurrentThread() - mine0;
        long served = GC.GetTotalAllocatedBytes(precise: true) - total0 - mine;
        long perRequest = served / requests;
        Console.WriteLine($"control server: {perRequest} bytes allocated per request ({served} over {requests})");
        // The reply text is made by the command, once here; the accepted socket and the request line's parse make a few
        // small objects. An async accept, a task per request, timers and sockets in the epoll engine cost about 7 KB.
        Assert.True(perRequest < 2500, $"{perRequest} bytes allocated per request (the server's own machinery)");
    }
}
