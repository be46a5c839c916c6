using System.Diagnostics;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Ports.PcapFile;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// The VM-migration papers' scenarios (the seed scenarios) replayed through the daemon with their own flow tables,
/// pushed by ovs-ofctl, and checked with real packets between namespaces.
/// </summary>
public sealed class SeedScenarioTests
{
    internal static readonly MacAddress VmS = MacAddress.Parse("00:15:17:8f:ca:37");
    internal static readonly MacAddress VmT = MacAddress.Parse("08:00:27:9b:b3:12");
    internal static readonly MacAddress Cr1 = MacAddress.Parse("00:15:fa:fe:34:41");
    internal static readonly MacAddress Cr2 = MacAddress.Parse("00:15:fa:fe:34:42");

    internal static List<Netns> Namespaces(int n)
    {
        var list = new List<Netns>();
        try
        {
            for (int i = 0; i < n; i++) list.Add(Netns.Create());
            return list;
        }
        catch
        {
            foreach (var ns in list) ns.Dispose();
            throw;
        }
    }

    private static string Spec(List<Netns> ns) => string.Join(',', ns.Select(n => "afpacket:" + n.HostIf));

    /// <summary>seeds/000 (TWAREN), table 2 at AcS2: port 1 = domain 1 (CR1), port 2 = VM-T's side, port 3 = VM-S.</summary>
    [E2EFact]
    public void Twaren_AcS2_Flows1To4()
    {
        var ns = Namespaces(3);
        try
        {
            using var sw = new SwitchProcess(Spec(ns));
            sw.Ofctl("add-flow", "priority=32768,ip,nw_src=10.27.82.0/24,dl_dst=00:15:fa:fe:34:42,nw_dst=192.168.1.101,actions=mod_dl_dst:00:15:17:8f:ca:37,output:3");
            sw.Ofctl("add-flow", "priority=30000,ip,nw_src=192.168.1.101,dl_src=00:15:17:8f:ca:37,dl_dst=00:15:fa:fe:34:41,nw_dst=10.27.82.0/24,actions=CONTROLLER:65535");
            sw.Ofctl("add-flow", "priority=100,arp,dl_dst=ff:ff:ff:ff:ff:ff,nw_dst=192.168.1.254,actions=output:1");

            // flow1: VM-T's traffic for VM-S, sent to CR2's MAC, reaches VM-S with VM-S's MAC on port 3.
            var toVmS = FrameBuilder.Udp(VmT, Cr2, Ipv4.Parse("10.27.82.101"), Ipv4.Parse("192.168.1.101"), 4000, 5000);
            using (var cap = ns[2].StartCapture(0x0800, 1, 3))
            {
                ns[1].SendFrames([toVmS]);
                var got = Assert.Single(cap.Finish());
                Assert.Equal(VmS, MacAddress.Read(got));
                Assert.Equal(toVmS.AsSpan(6).ToArray(), got.AsSpan(6, toVmS.Length - 6).ToArray());
            }

            // flow2: VM-S's traffic for 10.27.82.0/24 via CR1 goes to the controller, not to port 2, until flow4.
            var fromVmS = FrameBuilder.Udp(VmS, Cr1, Ipv4.Parse("192.168.1.101"), Ipv4.Parse("10.27.82.101"), 5000, 4000);
            var mon = Monitor(sw);
            try
            {
                Thread.Sleep(500);
                using var cap = ns[1].StartCapture(0x0800, 1, 1.5);
                ns[2].SendFrames([fromVmS]);
                Assert.Empty(cap.Finish());
                var t = Stopwatch.StartNew();
                while (!mon.Text.Contains("OFPT_PACKET_IN") && t.ElapsedMilliseconds < 3000) Thread.Sleep(50);
                Assert.Contains("(via action)", mon.Text);
            }
            finally
            {
                mon.Dispose();
            }

            // flow4: now VM-S reaches VM-T directly on port 2, with VM-T's MAC (priority 32768 beats flow2's 30000).
            sw.Ofctl("add-flow", "priority=32768,ip,nw_src=192.168.1.101,dl_src=00:15:17:8f:ca:37,dl_dst=00:15:fa:fe:34:41,nw_dst=10.27.82.101,actions=mod_dl_dst:08:00:27:9b:b3:12,output:2");
            using (var cap = ns[1].StartCapture(0x0800, 1, 3))
            {
                ns[2].SendFrames([fromVmS]);
                var got = Assert.Single(cap.Finish());
                Assert.Equal(VmT, MacAddress.Read(got));
            }

            // flow3: VM-S's ARP request for the CR1 gateway goes out of port 1.
            var arp = FrameBuilder.Arp(1, VmS, Ipv4.Parse("192.168.1.101"), default, Ipv4.Parse("192.168.1.254"));
            using (var cap = ns[0].StartCapture(0x0806, 1, 3))
            {
                ns[2].SendFrames([arp]);
                Assert.Equal(arp, Assert.Single(cap.Finish()).AsSpan(0, arp.Length).ToArray());
            }
            Assert.Contains("n_packets=1", sw.Ofctl("dump-flows"));
        }
        finally
        {
            foreach (var n in ns) n.Dispose();
        }
    }

    /// <summary>
    /// seeds/002 (VICTOR), table 1 "IP forwarding on FE2": nw_dst flows rewrite the destination MAC and pick the port
    /// (the paper's out:0, its uplink, is our port 1); ARP goes to the controller as the registration of a new node;
    /// after a migration the controller re-points the VM's flow and traffic follows.
    /// </summary>
    [E2EFact]
    public void Victor_Fe2_IpForwardingAndArpRegistration()
    {
        var ns = Namespaces(3);
        try
        {
            var fe2 = MacAddress.Parse("02:fe:00:00:00:02");
            var vm = MacAddress.Parse("02:0a:0a:00:00:0b");
            var a1 = MacAddress.Parse("02:0a:02:03:00:01");
            var b1 = MacAddress.Parse("02:0a:0a:00:00:24");
            using var sw = new SwitchProcess(Spec(ns));
            sw.Ofctl("add-flow", $"ip,nw_dst=10.2.3.1,actions=mod_dl_dst:{a1},output:2");
            sw.Ofctl("add-flow", $"ip,nw_dst=10.10.0.11,actions=mod_dl_dst:{vm},output:2");
            sw.Ofctl("add-flow", $"ip,nw_dst=10.10.0.36,actions=mod_dl_dst:{b1},output:3");
            sw.Ofctl("add-flow", "ip,nw_dst=10.4.5.1,actions=output:1");
            sw.Ofctl("add-flow", "arp,actions=CONTROLLER:65535");

            var ext = MacAddress.Parse("02:00:00:00:0e:01");
            byte[] To(string dst) => FrameBuilder.Udp(ext, fe2, Ipv4.Parse("10.4.5.1"), Ipv4.Parse(dst), 1000, 2000);
            using (var cap = ns[1].StartCapture(0x0800, 2, 3))
            {
                ns[0].SendFrames([To("10.10.0.11"), To("10.2.3.1")]);
                var got = cap.Finish();
                Assert.Equal(2, got.Count);
                Assert.Contains(got, f => MacAddress.Read(f) == vm);
                Assert.Contains(got, f => MacAddress.Read(f) == a1);
            }
            using (var cap = ns[2].StartCapture(0x0800, 1, 3))
            {
                ns[0].SendFrames([To("10.10.0.36")]);
                Assert.Equal(b1, MacAddress.Read(Assert.Single(cap.Finish())));
            }
            var back = FrameBuilder.Udp(b1, fe2, Ipv4.Parse("10.10.0.36"), Ipv4.Parse("10.4.5.1"), 2000, 1000);
            using (var cap = ns[0].StartCapture(0x0800, 1, 3))
            {
                ns[2].SendFrames([back]);
                Assert.Equal(back, Assert.Single(cap.Finish()).AsSpan(0, back.Length).ToArray());
            }

            // A node attached on port 3 announces itself with ARP: the controller gets it as PACKET_IN.
            var mon = Monitor(sw);
            try
            {
                Thread.Sleep(500);
                ns[2].SendFrames([FrameBuilder.Arp(1, vm, Ipv4.Parse("10.10.0.11"), default, Ipv4.Parse("10.10.0.11"))]);
                var t = Stopwatch.StartNew();
                while (!mon.Text.Contains("OFPT_PACKET_IN") && t.ElapsedMilliseconds < 3000) Thread.Sleep(50);
                Assert.Contains("in_port=3 (via action)", mon.Text);
                Assert.Contains("arp", mon.Text);
            }
            finally
            {
                mon.Dispose();
            }

            // The controller moves the VM's flow to port 3; traffic for it follows.
            sw.Ofctl("--strict", "mod-flows", $"ip,nw_dst=10.10.0.11,actions=mod_dl_dst:{vm},output:3");
            using (var cap = ns[2].StartCapture(0x0800, 1, 3))
            {
                ns[0].SendFrames([To("10.10.0.11")]);
                Assert.Equal(vm, MacAddress.Read(Assert.Single(cap.Finish())));
            }
        }
        finally
        {
            foreach (var n in ns) n.Dispose();
        }
    }

    /// <summary>
    /// seeds/003 (gateway NAT for cross-site migration): two flows rewrite source IP, MAC and TCP port on the way
    /// out and reverse them on the way back; a real TCP connection succeeds, so every checksum is right.
    /// </summary>
    [E2EFact]
    public void GatewayNatFlowsCarryATcpConnection()
    {
        var ns = Namespaces(2);
        try
        {
            ns[0].Exec("ip", "addr", "add", "172.16.5.1/24", "dev", ns[0].NsIf);
            ns[1].Exec("ip", "addr", "add", "172.16.5.2/24", "dev", ns[1].NsIf);
            ns[1].Exec("ip", "neigh", "add", "172.16.5.50", "lladdr", "02:aa:bb:cc:dd:50", "dev", ns[1].NsIf);
            string clientMac = ns[0].NsMac;
            using var sw = new SwitchProcess(Spec(ns));
            sw.Ofctl("add-flow", "priority=10,arp,actions=flood");
            sw.Ofctl("add-flow", "priority=100,tcp,in_port=1,nw_src=172.16.5.1,nw_dst=172.16.5.2,tp_src=34567,tp_dst=5001," +
                                 "actions=mod_nw_src:172.16.5.50,mod_dl_src:02:aa:bb:cc:dd:50,mod_tp_src:40000,output:2");
            sw.Ofctl("add-flow", $"priority=100,tcp,in_port=2,nw_src=172.16.5.2,nw_dst=172.16.5.50,tp_src=5001,tp_dst=40000," +
                                 $"actions=mod_nw_dst:172.16.5.1,mod_dl_dst:{clientMac},mod_tp_dst:34567,output:1");

            const string server = "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n" +
                                  "s.bind(('172.16.5.2',5001))\ns.listen(1)\ns.settimeout(15)\nc,a=s.accept()\nd=c.recv(100)\nc.sendall(d.upper())\nprint(a[0],a[1])\n";
            var srv = Process.Start(new ProcessStartInfo("ip") { ArgumentList = { "netns", "exec", ns[1].Name, "/usr/bin/python3", "-c", server }, RedirectStandardOutput = true, RedirectStandardError = true })!;
            try
            {
                Thread.Sleep(500);
                const string client = "import socket\ns=socket.socket()\ns.settimeout(10)\ns.bind(('172.16.5.1',34567))\n" +
                                      "s.connect(('172.16.5.2',5001))\ns.sendall(b'hello-nat')\nprint(s.recv(100).decode())\n";
                var r = ns[0].Exec("/usr/bin/python3", "-c", client);
                Assert.True(r.Ok, "TCP through the NAT flows failed: " + r.Stderr + "\n" + sw.Ofctl("dump-flows"));
                Assert.Equal("HELLO-NAT", r.Stdout.Trim());
                Assert.True(srv.WaitForExit(5000));
                // The server saw the translated source: 172.16.5.50:40000.
                Assert.Equal("172.16.5.50 40000", srv.StandardOutput.ReadToEnd().Trim());
            }
            finally
            {
                if (!srv.HasExited) srv.Kill(true);
                srv.Dispose();
            }
        }
        finally
        {
            foreach (var n in ns) n.Dispose();
        }
    }

    /// <summary>
    /// seeds/004 (XenFlow): a 20,000 pps stream crosses the switch while its flow moves to a new output path,
    /// make-before-break (add the new path, modify the first hop, delete the old): not one packet is lost.
    /// </summary>
    [E2EFact]
    [RequiresTool("tcpreplay")]
    public void XenFlowZeroLossFlowMove() => XenFlowMove(64);

    /// <summary>seeds/004 with full-size frames (1514 bytes on the wire, 1500-byte IP datagrams): still no loss.</summary>
    [E2EFact]
    [RequiresTool("tcpreplay")]
    public void XenFlowZeroLossFlowMoveAt1500Bytes() => XenFlowMove(1514);

    private static void XenFlowMove(int frameSize)
    {
        var ns = Namespaces(3);
        string pcap = Path.Combine(Path.GetTempPath(), $"ssw-xenflow-{Environment.ProcessId}.pcap");
        try
        {
            const int count = 40_000;
            using (var w = new PcapWriter(pcap))
            {
                for (int i = 0; i < count; i++)
                {
                    w.Write(FrameBuilder.Udp(new MacAddress(0x02_00_00_00_00_10), new MacAddress(0x02_00_00_00_00_20),
                        Ipv4.Parse("10.40.0.1"), Ipv4.Parse("10.40.0.2"), 7000, (ushort)(8000 + i % 100), frameSize));
                }
            }

            using var sw = new SwitchProcess(Spec(ns));
            sw.Ofctl("add-flow", "priority=100,in_port=1,actions=output:2");
            sw.Ofctl("add-flow", "priority=100,in_port=2,actions=output:1");
            long a0 = RxPackets(ns[1]), b0 = RxPackets(ns[2]);

            var replay = Process.Start(new ProcessStartInfo("ip")
            {
                ArgumentList = { "netns", "exec", ns[0].Name, "tcpreplay", "-i", ns[0].NsIf, "--pps", "20000", pcap },
                RedirectStandardOutput = true, RedirectStandardError = true,
            })!;
            Thread.Sleep(700);
            sw.Ofctl("add-flow", "priority=100,in_port=3,actions=output:1");      // 1. the new path
            sw.Ofctl("mod-flows", "in_port=1,actions=output:3");                  // 2. the first hop moves
            sw.Ofctl("--strict", "del-flows", "priority=100,in_port=2");          // 3. the old path goes
            string replayOut = replay.StandardOutput.ReadToEnd();
            Assert.True(replay.WaitForExit(30_000), "tcpreplay did not finish");
            Thread.Sleep(500);
            long a = RxPackets(ns[1]) - a0, b = RxPackets(ns[2]) - b0;
            Console.WriteLine($"XenFlow move at 20,000 pps of {frameSize}-byte frames: {a} packets on the old path, {b} on the new, {a + b} of {count}");
            Assert.Contains($"Successful packets:        {count}", replayOut);
            Assert.True(a > 0 && b > 0, $"the move did not happen mid-stream: old {a}, new {b}");
            Assert.True(count == a + b, $"lost {count - a - b} of {count}\n{sw.Ofctl("dump-ports")}\n{sw.Ofctl("dump-flows")}\n{replayOut}");
        }
        finally
        {
            foreach (var n in ns) n.Dispose();
            File.Delete(pcap);
        }
    }

    private static long RxPackets(Netns n) => long.Parse(n.Exec("cat", $"/sys/class/net/{n.NsIf}/statistics/rx_packets").Stdout.Trim());

    private sealed class MonitorProcess(Process p, System.Text.StringBuilder sb) : IDisposable
    {
        public string Text
        {
            get { lock (sb) return sb.ToString(); }
        }

        public void Dispose()
        {
            try { p.Kill(true); } catch (InvalidOperationException) { }
            p.Dispose();
        }
    }

    private static MonitorProcess Monitor(SwitchProcess sw)
    {
        var p = Process.Start(new ProcessStartInfo("stdbuf")
        {
            // -P standard: ovs-ofctl monitor asks for NXT_PACKET_IN2 unless told, and the switch serves it (as Open vSwitch).
            ArgumentList = { "-oL", "ovs-ofctl", "-O", "OpenFlow10", "-P", "standard", "monitor", sw.Endpoint, "65535", $"--unixctl={Path.Combine(Path.GetTempPath(), $"ssw-mon-{Environment.ProcessId}.ctl")}" },
            RedirectStandardOutput = true, RedirectStandardError = true,
        })!;
        var sb = new System.Text.StringBuilder();
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (sb) sb.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (sb) sb.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return new MonitorProcess(p, sb);
    }
}
