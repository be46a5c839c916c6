using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Abstractions;
using Softswitch.Datapath;
using Softswitch.Ports;
using Softswitch.TestKit;

namespace Softswitch.Tests;

/// <summary>Alone: it counts the process's packet sockets.</summary>
[CollectionDefinition(nameof(PortReopenerCollection), DisableParallelization = true)]
public sealed class PortReopenerCollection;

/// <summary>A port whose interface is deleted and re-created is re-opened; nothing of the old port stays open.</summary>
[Collection(nameof(PortReopenerCollection))]
public sealed class PortReopenerTests
{
    /// <summary>Packet sockets (AF_PACKET) among this process's descriptors.</summary>
    private static int PacketSockets()
    {
        var inodes = File.ReadLines("/proc/net/packet").Skip(1)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1]).ToHashSet();
        int n = 0;
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            string? target;
            try { target = new FileInfo(fd).LinkTarget; }
            catch (IOException) { continue; }   // closed meanwhile
            if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal) && inodes.Contains(target[8..^1])) n++;
        }
        return n;
    }

    [NetnsFact]
    public void ReopeningAnAfPacketPortWithTwoThreadsLeavesNoSocketBehind()
    {
        string tag = Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).ToLowerInvariant();
        string a = "pt" + tag + "a", b = "pt" + tag + "b";
        Sh.Check("ip", "link", "add", a, "type", "veth", "peer", "name", b);
        var dp = new SwitchDatapath(new DatapathOptions { Threads = 2, PoolSize = 1024 });
        try
        {
            int before = PacketSockets();
            var options = new PortFactoryOptions();
            var opened = PortSpec.Open([new PortSpecEntry(PortKind.AfPacket, a, 1, 1)], options);
            dp.AddPort(opened[0].Port, 1);
            dp.Start();
            int open = PacketSockets() - before;
            Assert.Equal(2, open);   // the port and the fanout receiver of the second thread
            using var reopener = new PortReopener(dp, opened, options, NullLogger.Instance, TimeSpan.FromHours(1));
            for (int i = 0; i < 5; i++)
            {
                Sh.Check("ip", "link", "del", a);
                reopener.Check();
                Assert.Null(dp.Ports.Get(1));
                Sh.Check("ip", "link", "add", a, "type", "veth", "peer", "name", b);
                reopener.Check();
                Assert.NotNull(dp.Ports.Get(1));
            }
            // The five removed ports are disposed with their receivers: the re-opened port's two sockets stay.
            var sw = Stopwatch.StartNew();
            while (PacketSockets() - before != open)
            {
                Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), $"{PacketSockets() - before} packet sockets open after 5 re-opens, {open} expected");
                Thread.Sleep(10);
            }
        }
        finally
        {
            dp.Dispose();
            Sh.Run("ip", "link", "del", a);
        }
    }
}
