using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// IGMP snooping made with the stock ovs-vsctl under `softswitch vswitchd` (mcast_snooping_enable=true): three
/// receivers in namespaces, two of which join a group with IP_ADD_MEMBERSHIP (their kernels send IGMPv3 reports), and
/// a sender's datagrams to the group reach exactly the two that joined, none the third (counted on each receiver's
/// veth with a packet socket, which sees every frame the switch sends it); after one leaves (its kernel's report), it
/// gets none either. ovs-appctl mdb/show lists the members as Open vSwitch prints them. Each datagram a receiver that
/// joined did not get must be counted: dropped on the sender's port (its receive ring full while the forwarding thread
/// waited for a CPU, on a loaded machine) or on the receiver's (transmit), as ovs-ofctl dump-ports shows.
/// </summary>
[RequiresTool("ovsdb-server")]
[RequiresTool("ovs-ofctl")]
[RequiresTool("ovs-vsctl")]
[RequiresTool("ovs-appctl")]
public sealed class VswitchdMcastSnoopingTests
{
    private static readonly string s_id = (Environment.ProcessId % 10000).ToString(CultureInfo.InvariantCulture);
    private const string Group = "239.81.1.1";
    private const int Datagrams = 50, UdpPort = 5081;
    private const double CaptureWindowSeconds = 8;

    /// <summary>Joins the group on the namespace's address and holds it until a line on stdin; then leaves, says so, and waits for EOF.</summary>
    private const string Joiner = """
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
mreq = struct.pack('4s4s', socket.inet_aton(sys.argv[1]), socket.inet_aton(sys.argv[2]))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
print('joined', flush=True)
sys.stdin.readline()
s.setsockopt(socket.IPPROTO_IP, socket.IP_DROP_MEMBERSHIP, mreq)
print('left', flush=True)
sys.stdin.read()
""";

    /// <summary>Sends COUNT datagrams to GROUP:PORT from the namespace's address (TTL 1), a millisecond apart.</summary>
    private const string Sender = """
import socket, sys, time
group, port, local, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(local))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
for i in range(count):
    s.sendto(b'softswitch snooping %d' % i, (group, port))
    time.sleep(0.001)
print(count)
""";

    [E2EFact]
    public void OnlyTheReceiversThatJoined_GetTheGroupsTraffic_AndOneThatLeftStops()
    {
        using var db = OvsdbServer.Start("ssw-vsdmcs-");
        int pid = VswitchdBridgesTests.StartDaemon(db);
        using var h1 = Netns.Create();
        using var h2 = Netns.Create();
        using var h3 = Netns.Create();
        using var src = Netns.Create();
        var hosts = new[] { h1, h2, h3, src };
        string br = $"mcs{s_id}";
        var joiners = new List<Process>();
        try
        {
            for (int i = 0; i < hosts.Length; i++) hosts[i].Exec("ip", "addr", "add", $"10.81.0.{i + 1}/24", "dev", hosts[i].NsIf);
            src.Exec("ip", "route", "add", "224.0.0.0/4", "dev", src.NsIf);
            db.Vsctl("add-br", br, "--", "set-fail-mode", br, "standalone", "--", "set", "Bridge", br, "mcast_snooping_enable=true",
                "--", "add-port", br, h1.HostIf, "--", "add-port", br, h2.HostIf, "--", "add-port", br, h3.HostIf, "--", "add-port", br, src.HostIf);
            string Ofport(Netns n) => db.Vsctl("get", "Interface", n.HostIf, "ofport").Trim();
            string p1 = Ofport(h1), p2 = Ofport(h2), p3 = Ofport(h3), ps = Ofport(src);
            // Rx drops on the sender's port and tx drops on each receiver's (ovs-ofctl dump-ports: "drop=N" on the rx
            // line, then on the tx line; "?" is a counter not kept).
            long[] Drops()
            {
                var r = db.Tool("ovs-ofctl", "dump-ports", br);
                Assert.True(r.Ok, r.Stderr);
                long Drop(string port, int line)
                {
                    var m = Regex.Match(r.Stdout, $@"port +{port}: rx .*?drop=(\d+|\?).*?\n.*?tx .*?drop=(\d+|\?)");
                    Assert.True(m.Success, r.Stdout);
                    string v = m.Groups[line].Value;
                    return v == "?" ? 0 : long.Parse(v, CultureInfo.InvariantCulture);
                }
                return [Drop(ps, 1), Drop(p1, 2), Drop(p2, 2), Drop(p3, 2)];
            }
            // Every datagram a joined receiver lacks is counted dropped (the counts follow within a second or two: the
            // kernel's ring drops are read at the next frame or idle second), also when the sender's port grows its
            // receive ring meanwhile (a grow moves to a second socket and loses nothing: docs/ports.md, "Ring growth").
            void Conserved(int[] got, bool[] joined, long[] before)
            {
                long[] now = [];
                bool Balanced()
                {
                    now = Drops();
                    for (int i = 0; i < 3; i++)
                        if (joined[i] && got[i] + (now[0] - before[0]) + (now[i + 1] - before[i + 1]) < Datagrams) return false;
                    return true;
                }
                bool balanced = Wait.Until(Balanced, 5_000, everyMs: 200);
                Assert.True(balanced,
                    $"got h1 {got[0]}, h2 {got[1]}, h3 {got[2]} of {Datagrams}; dropped: sender's port rx {now[0] - before[0]}, tx h1 {now[1] - before[1]}, h2 {now[2] - before[2]}, h3 {now[3] - before[3]}\n{db.Tool("ovs-ofctl", "dump-ports", br).Stdout}{VswitchdBridgesTests.Log(db)}");
                if (got.Where((g, i) => joined[i]).Any(g => g < Datagrams))
                    Console.WriteLine($"snooping: dropped on a loaded machine, each counted: sender's port rx {now[0] - before[0]}, tx {now[1] - before[1]}/{now[2] - before[2]}/{now[3] - before[3]}");
            }
            string Mdb()
            {
                var r = db.Tool("ovs-appctl", "mdb/show", br);
                Assert.True(r.Ok, r.Stderr + VswitchdBridgesTests.Log(db));
                return r.Stdout;
            }
            Assert.Equal(" port  VLAN  protocol  GROUP                Age\n", Mdb());
            Assert.Equal("", db.Vsctl("get", "Bridge", br, "status").Trim().Trim('{', '}'));

            joiners.Add(Join(h1, "10.81.0.1"));
            joiners.Add(Join(h2, "10.81.0.2"));
            Assert.True(Wait.Until(() => Members(Mdb()).SetEquals([p1, p2]), 10_000, everyMs: 100),
                $"mdb/show did not list ports {p1} and {p2} in {Group}:\n{Mdb()}{VswitchdBridgesTests.Log(db)}");
            Assert.Matches(new Regex($@"^ +{p1} +0  IGMPv3    {Regex.Escape(Group)} +\d+$", RegexOptions.Multiline), Mdb());

            var before = Drops();
            var (got1, got2, got3) = Round(src, [h1, h2, h3], [Datagrams, Datagrams, 0]);
            Console.WriteLine($"snooping: {Datagrams} datagrams to {Group}: joined h1 {got1}, joined h2 {got2}, h3 {got3}");
            Assert.Equal(0, got3);
            Assert.True(got1 > 0 && got2 > 0, $"joined h1 {got1}, h2 {got2}");
            Conserved([got1, got2, got3], [true, true, false], before);

            // h2 leaves (its kernel reports TO_IN {}): its port leaves the group at once, h1 stays.
            joiners[1].StandardInput.WriteLine("leave");
            joiners[1].StandardInput.Flush();
            Assert.Equal("left", joiners[1].StandardOutput.ReadLine());
            Assert.True(Wait.Until(() => Members(Mdb()).SetEquals([p1]), 10_000, everyMs: 100), $"mdb/show after h2 left:\n{Mdb()}");
            before = Drops();
            (got1, got2, got3) = Round(src, [h1, h2, h3], [Datagrams, 0, 0]);
            Console.WriteLine($"snooping after h2 left: h1 {got1}, h2 {got2}, h3 {got3}");
            Assert.Equal((0, 0), (got2, got3));
            Assert.True(got1 > 0, $"joined h1 {got1}");
            Conserved([got1, got2, got3], [true, false, false], before);

            Assert.Equal("table successfully flushed", db.Tool("ovs-appctl", "mdb/flush", br).Stdout.Trim());
            Assert.Empty(Members(Mdb()));
            db.Vsctl("del-br", br);
        }
        finally
        {
            foreach (var j in joiners)
            {
                try
                {
                    if (!j.HasExited) j.Kill(true);
                }
                catch (InvalidOperationException)
                {
                }
                j.Dispose();
            }
            VswitchdBridgesTests.StopDaemon(pid);
            Sh.Run("ip", "link", "del", br);
        }
    }

    /// <summary>The ports mdb/show lists in <see cref="Group"/>.</summary>
    private static HashSet<string> Members(string mdb)
        => [.. mdb.Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(w => w.Length == 5 && w[3] == Group).Select(w => w[0])];

    private static Process Join(Netns ns, string local)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", ns.Name, NsTool.Python, "-c", Joiner, Group, local }) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        Assert.Equal("joined", p.StandardOutput.ReadLine());
        return p;
    }

    /// <summary>
    /// The sender's datagrams to the group, as each receiver's veth got them (IPv4 frames to the group's UDP port). A
    /// receiver expected to get them all stops once it has; one expected to get none listens for the whole window, which
    /// is long enough for the sender to start and send on a loaded machine (a 3 s window once closed before it sent).
    /// </summary>
    private static (int, int, int) Round(Netns src, Netns[] receivers, int[] expected)
    {
        var captures = receivers.Select((h, i) => h.StartCapture(0x0800, expected[i] > 0 ? expected[i] : 10_000, CaptureWindowSeconds)).ToList();
        try
        {
            var sent = src.Exec(NsTool.Python, "-c", Sender, Group, UdpPort.ToString(CultureInfo.InvariantCulture), "10.81.0.4",
                Datagrams.ToString(CultureInfo.InvariantCulture));
            Assert.True(sent.Ok, sent.Stderr);
            int[] got = [.. captures.Select(c => c.Finish().Count(ToGroup))];
            return (got[0], got[1], got[2]);
        }
        finally
        {
            foreach (var c in captures) c.Dispose();
        }
    }

    private static bool ToGroup(byte[] f)
        => f.Length >= 42 && f[12] == 0x08 && f[13] == 0 && f[23] == 17
           && $"{f[30]}.{f[31]}.{f[32]}.{f[33]}" == Group && (f[36] << 8 | f[37]) == UdpPort;
}
