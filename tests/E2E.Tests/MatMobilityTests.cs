using System.Buffers.Binary;
using System.Diagnostics;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// seeds/001 (MAT, IP mobility through OpenFlow): a VM migrates to another network; the controller learns it from
/// the RARP the VM sends (PACKET_IN), asks its home address with an ARP request (PACKET_OUT to the port the RARP came
/// in on), installs flows that rewrite between the home address (HoA) and the new one (MoA) on both sides of a
/// legacy network, and announces the move only after BARRIER_REPLY. A TCP session opened before the move keeps
/// working after it.
/// </summary>
/// <remarks>
/// One daemon plays both OpenFlow switches of the paper's figure: ports 1 and 4 are the correspondent's switch,
/// ports 3 and 5 the destination's, and the veth pair between ports 4 and 5 is the legacy network that carries
/// MoA. Port 2 is the VM's home link. The VM is one namespace with an interface on each link (the same MAC), so
/// its TCP socket survives the move as a migrated VM's does.
/// </remarks>
public sealed class MatMobilityTests
{
    private const string Cn = "10.61.0.10", HoA = "10.61.0.20", MoA = "10.62.0.20", Gw = "10.61.0.254";
    private static readonly MacAddress GwMac = MacAddress.Parse("02:00:00:00:00:fe");
    private static readonly MacAddress LrMac4 = MacAddress.Parse("02:00:00:00:0b:04"), LrMac5 = MacAddress.Parse("02:00:00:00:0b:05");

    private const string EchoServer = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
s.settimeout(60)
print('listening', flush=True)
c, a = s.accept()
c.settimeout(60)
print('peer', a[0], flush=True)
while True:
    d = c.recv(65536)
    if not d:
        break
    c.sendall(d)
""";

    private const string Client = """
import os, socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
print('connected', flush=True)
for line in sys.stdin:
    n = int(line)
    data = os.urandom(n)
    s.sendall(data)
    buf = b''
    while len(buf) < n:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    print('echoed' if buf == data else 'mismatch after %d bytes' % len(buf), flush=True)
""";

    [E2EFact]
    public void VmMoveLearnedFromRarpKeepsItsTcpSession()
    {
        var cn = Netns.Create();
        var vm = Netns.Create();
        var newLink = VethPair.Create();
        var lr = VethPair.Create();
        Process? server = null, client = null;
        try
        {
            cn.Exec("ip", "addr", "add", Cn + "/24", "dev", cn.NsIf);
            vm.Exec("ip", "addr", "add", HoA + "/24", "dev", vm.NsIf);
            string vmMacText = vm.NsMac, cnMacText = cn.NsMac;
            var vmMac = MacAddress.Parse(vmMacText);
            var cnMac = MacAddress.Parse(cnMacText);
            vm.Adopt(newLink.B);
            Sh.Check("ip", "-n", vm.Name, "link", "set", newLink.B, "address", vmMacText); // a migrated VM keeps its MAC
            cn.Exec("ip", "neigh", "replace", HoA, "lladdr", vmMacText, "dev", cn.NsIf, "nud", "permanent");
            vm.Exec("ip", "neigh", "replace", Cn, "lladdr", cnMacText, "dev", vm.NsIf, "nud", "permanent");

            using var ctl = new OfTestController();
            string ports = string.Join(',', "afpacket:" + cn.HostIf, "afpacket:" + vm.HostIf, "afpacket:" + newLink.A, "afpacket:" + lr.A, "afpacket:" + lr.B);
            using var sw = new SwitchProcess(ports, "--controller", ctl.Target, "--local-port", "none");
            ctl.Accept(missSendLen: 128);
            Assert.Equal(5, ctl.Features!.Ports.Count);

            // Before the move: the VM at home (port 2) talks to the correspondent (port 1).
            AddFlow(ctl, 100, new OfpMatch { Wildcards = OfpFlowWildcards.All & ~OfpFlowWildcards.InPort, InPort = 1 }, OfpAction.Output(2));
            AddFlow(ctl, 100, new OfpMatch { Wildcards = OfpFlowWildcards.All & ~OfpFlowWildcards.InPort, InPort = 2 }, OfpAction.Output(1));
            ctl.Barrier();

            server = Start(cn, EchoServer, Cn, "7001");
            Assert.Equal("listening", server.StandardOutput.ReadLine());
            client = Start(vm, Client, Cn, "7001");
            Assert.Equal("connected", client.StandardOutput.ReadLine());
            Assert.Equal($"peer {HoA}", server.StandardOutput.ReadLine());
            Assert.Equal("echoed", Exchange(client, 20_000));

            // The migration: the VM's address leaves the home link and appears on the new one.
            vm.Exec("ip", "addr", "del", HoA + "/24", "dev", vm.NsIf);
            vm.Exec("ip", "link", "set", vm.NsIf, "down");
            vm.Exec("ip", "addr", "add", HoA + "/24", "dev", newLink.B);
            vm.Exec("ip", "neigh", "replace", Cn, "lladdr", cnMacText, "dev", newLink.B, "nud", "permanent");

            // (1) The VM announces itself with a RARP (as a hypervisor does after migration): a table miss, so a
            // PACKET_IN with the whole 60-byte frame and a buffer id the controller can use.
            var rarp = Rarp(vmMac);
            vm.SendFrames([rarp], newLink.B);
            var pin = ctl.Receive<OfpPacketIn>(p => p.Data.Length >= 14 && BinaryPrimitives.ReadUInt16BigEndian(p.Data.Span[12..]) == 0x8035);
            Assert.Equal(OfpPacketInReason.NoMatch, pin.Reason);
            Assert.Equal((ushort)3, pin.InPort);
            Assert.Equal((ushort)rarp.Length, pin.TotalLen);
            Assert.Equal(Convert.ToHexString(rarp), Convert.ToHexString(pin.Data.Span));
            Assert.NotEqual(OfpConstants.NoBuffer, pin.BufferId);
            var learnedMac = MacAddress.Read(pin.Data.Span[(14 + 8)..]);   // RARP sha
            Assert.Equal(vmMac, learnedMac);
            // The buffered RARP goes on to the correspondent's side through its buffer id.
            using (var cap = cn.StartCapture(0x8035, 1, 5))
            {
                var po = new OfpPacketOut { BufferId = pin.BufferId, InPort = pin.InPort };
                po.Actions.Add(OfpAction.Output(1));
                ctl.Send(po);
                Assert.Equal(Convert.ToHexString(rarp), Convert.ToHexString(Assert.Single(cap.Finish()).AsSpan(0, rarp.Length)));
            }

            // (2) ARP request for the VM's home address, PACKET_OUT to the port the RARP came in on; the VM answers.
            var arpReq = FrameBuilder.Arp(1, GwMac, Ipv4.Parse(Gw), default, Ipv4.Parse(HoA), learnedMac);
            using (var cap = vm.StartCapture(0x0806, 1, 5, newLink.B))
            {
                var po = new OfpPacketOut { InPort = (ushort)OfpPort.None, Data = arpReq };
                po.Actions.Add(OfpAction.Output(pin.InPort));
                ctl.Send(po);
                Assert.Equal(Convert.ToHexString(arpReq), Convert.ToHexString(Assert.Single(cap.Finish()).AsSpan(0, arpReq.Length)));
            }
            // (3) The reply comes back as a PACKET_IN: the VM's MAC has HoA, now behind port 3, reachable as MoA.
            var reply = ctl.Receive<OfpPacketIn>(p => p.Data.Length >= 42 && BinaryPrimitives.ReadUInt16BigEndian(p.Data.Span[12..]) == 0x0806
                                                      && BinaryPrimitives.ReadUInt16BigEndian(p.Data.Span[20..]) == 2);
            Assert.Equal((ushort)3, reply.InPort);
            Assert.Equal(vmMac, MacAddress.Read(reply.Data.Span[22..]));
            Assert.Equal(Ipv4.Parse(HoA), BinaryPrimitives.ReadUInt32BigEndian(reply.Data.Span[28..]));

            // (4) Rewrite flows on both switches, then BARRIER; (5) only after BARRIER_REPLY is the move announced.
            uint hoa = Ipv4.Parse(HoA), moa = Ipv4.Parse(MoA);
            var ip = OfpFlowWildcards.All & ~(OfpFlowWildcards.InPort | OfpFlowWildcards.DlType);
            // Correspondent's switch: towards the VM, HoA becomes MoA across the legacy network; back, MoA becomes HoA.
            AddFlow(ctl, 200, new OfpMatch { Wildcards = OfpMatch.WithNwDstPrefix(ip, 32), InPort = 1, DlType = 0x0800, NwDst = hoa },
                OfpAction.SetNwDst(moa), OfpAction.SetDlDst(new OfpMac(LrMac5.Value)), OfpAction.Output(4));
            AddFlow(ctl, 200, new OfpMatch { Wildcards = OfpMatch.WithNwSrcPrefix(ip, 32), InPort = 4, DlType = 0x0800, NwSrc = moa },
                OfpAction.SetNwSrc(hoa), OfpAction.SetDlSrc(new OfpMac(vmMac.Value)), OfpAction.Output(1));
            // Destination switch: MoA back to HoA towards the VM, HoA to MoA from it.
            AddFlow(ctl, 200, new OfpMatch { Wildcards = OfpMatch.WithNwDstPrefix(ip, 32), InPort = 5, DlType = 0x0800, NwDst = moa },
                OfpAction.SetNwDst(hoa), OfpAction.SetDlDst(new OfpMac(vmMac.Value)), OfpAction.Output(3));
            AddFlow(ctl, 200, new OfpMatch { Wildcards = OfpMatch.WithNwSrcPrefix(ip, 32), InPort = 3, DlType = 0x0800, NwSrc = hoa },
                OfpAction.SetNwSrc(moa), OfpAction.SetDlSrc(new OfpMac(LrMac4.Value)), OfpAction.Output(5));
            ctl.Barrier();

            // The session opened before the move carries data both ways after it.
            Assert.Equal("echoed", Exchange(client, 200_000));
            Assert.Equal("echoed", Exchange(client, 1_000));

            // Checksums after the two rewrites: a UDP datagram from the VM reaches the correspondent valid.
            var udp = FrameBuilder.Udp(vmMac, cnMac, hoa, Ipv4.Parse(Cn), 5353, 9999, 200);
            // The capture takes every IPv4 frame for 3 s and picks our datagram: the TCP session's own segments
            // (a delayed ACK, a retransmission) also reach the correspondent from HoA with the VM's MAC.
            using (var cap = cn.StartCapture(0x0800, 64, 3))
            {
                vm.SendFrames([udp], newLink.B);
                var all = cap.Finish();
                var got = Assert.Single(all, f => f.Length >= 42 && f[14 + 9] == 17 && BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(36)) == 9999);
                Assert.Equal(vmMac, MacAddress.Read(got.AsSpan(6)));
                Assert.Equal(hoa, BinaryPrimitives.ReadUInt32BigEndian(got.AsSpan(14 + 12)));
                Assert.Equal(0, Checksum.Compute(got.AsSpan(14, 20)));
                int ipLen = BinaryPrimitives.ReadUInt16BigEndian(got.AsSpan(16));
                Assert.True(0 == Checksum.ComputeL4(BinaryPrimitives.ReadUInt32BigEndian(got.AsSpan(26)), BinaryPrimitives.ReadUInt32BigEndian(got.AsSpan(30)), 17, got.AsSpan(34, ipLen - 20)), Convert.ToHexString(got));
            }
            // Every rewrite flow carried traffic (the legacy network saw MoA both ways).
            var rewrites = sw.Ofctl("dump-flows").Split('\n').Where(l => l.Contains("priority=200")).ToList();
            Assert.Equal(4, rewrites.Count);
            Assert.DoesNotContain(rewrites, l => l.Contains("n_packets=0,"));
        }
        finally
        {
            if (client is { HasExited: false }) client.Kill(true);
            if (server is { HasExited: false }) server.Kill(true);
            client?.Dispose();
            server?.Dispose();
            lr.Dispose();
            newLink.Dispose();
            vm.Dispose();
            cn.Dispose();
        }
    }

    private static void AddFlow(OfTestController ctl, ushort priority, OfpMatch match, params OfpAction[] actions)
    {
        var fm = new OfpFlowMod { Command = OfpFlowModCommand.Add, Priority = priority, Match = match };
        fm.Actions.AddRange(actions);
        ctl.Send(fm);
    }

    /// <summary>A RARP request (reverse request, opcode 3) for <paramref name="mac"/>, padded to 60 bytes as QEMU sends it.</summary>
    private static byte[] Rarp(MacAddress mac)
    {
        var f = new byte[60];
        MacAddress.Parse("ff:ff:ff:ff:ff:ff").Write(f);
        mac.Write(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x8035);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), 1);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 0x0800);
        f[18] = 6;
        f[19] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(20), 3);
        mac.Write(f.AsSpan(22));
        mac.Write(f.AsSpan(32));
        return f;
    }

    private static Process Start(Netns ns, string script, string ip, string port)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", ns.Name, NsToolPython, "-c", script, ip, port }) psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    private static string NsToolPython => File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    private static string Exchange(Process client, int bytes)
    {
        client.StandardInput.WriteLine(bytes);
        client.StandardInput.Flush();
        var line = client.StandardOutput.ReadLineAsync();
        if (!line.Wait(30_000)) return "no answer within 30 s";
        return line.Result ?? "client ended: " + client.StandardError.ReadToEnd();
    }
}
