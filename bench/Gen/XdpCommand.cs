using System.Runtime.InteropServices;
using Softswitch.Ports.AfXdp;
using Softswitch.Ports.Linux;

namespace Softswitch.Bench.Gen;

/// <summary>
/// `bench xdp`: the bench's own minimal XDP programs, hand-assembled and attached through BPF links (as the AF_XDP
/// port's program is), held until the process gets SIGTERM or SIGINT (closing the link detaches them):
/// <list type="bullet">
/// <item><c>redirect --from A --to B</c>: every frame received on A leaves through B (<c>bpf_redirect(B, 0)</c>): the
/// kernel's own forwarding limit between two interfaces, no user space involved.</item>
/// <item><c>drop --dev X</c>: every frame received on X is dropped (<c>XDP_DROP</c>): a sink that costs one program
/// run per frame, counted by the driver (a veth's <c>ethtool -S</c> <c>xdp_drops</c>).</item>
/// <item><c>pass --dev X</c>: <c>XDP_PASS</c> (native XDP_REDIRECT into a veth needs a program on its peer).</item>
/// </list>
/// </summary>
public static unsafe class XdpCommand
{
    private const int XDP_DROP = 1;
    private const int XDP_PASS = 2;
    private const int BPF_FUNC_redirect = 23;

    /// <summary>The program returning <paramref name="action"/> for every frame.</summary>
    public static ulong[] ActionProgram(int action) =>
    [
        Bpf.Insn(0xb7, dst: 0, src: 0, off: 0, imm: action),   // r0 = action
        Bpf.Insn(0x95, dst: 0, src: 0, off: 0, imm: 0),        // exit
    ];

    /// <summary>The program redirecting every frame to interface <paramref name="ifindex"/>.</summary>
    public static ulong[] RedirectProgram(int ifindex) =>
    [
        Bpf.Insn(0xb7, dst: 1, src: 0, off: 0, imm: ifindex),  // r1 = ifindex
        Bpf.Insn(0xb7, dst: 2, src: 0, off: 0, imm: 0),        // r2 = flags
        Bpf.Insn(0x85, dst: 0, src: 0, off: 0, imm: BPF_FUNC_redirect), // r0 = bpf_redirect(r1, r2): XDP_REDIRECT
        Bpf.Insn(0x95, dst: 0, src: 0, off: 0, imm: 0),        // exit
    ];

    public static int Run(string[] args)
    {
        if (args.Length == 0) return Usage();
        string? dev = null, from = null, to = null, mode = "native";
        for (int i = 1; i < args.Length; i++)
        {
            string V() => i + 1 < args.Length ? args[++i] : "";
            switch (args[i])
            {
                case "--dev": dev = V(); break;
                case "--from": from = V(); break;
                case "--to": to = V(); break;
                case "--mode": mode = V(); break;
                default: return Usage();
            }
        }
        uint flags = mode switch { "native" => Bpf.XDP_FLAGS_DRV_MODE, "generic" => Bpf.XDP_FLAGS_SKB_MODE, _ => 0 };
        if (flags == 0) return Usage();
        var links = new List<int>();
        try
        {
            switch (args[0])
            {
                case "drop" when dev is not null:
                    links.Add(Attach(dev, ActionProgram(XDP_DROP), "bench_drop", flags));
                    break;
                case "pass" when dev is not null:
                    links.Add(Attach(dev, ActionProgram(XDP_PASS), "bench_pass", flags));
                    break;
                case "redirect" when from is not null && to is not null:
                    links.Add(Attach(from, RedirectProgram(IfIndex(to)), "bench_redir", flags));
                    break;
                default:
                    return Usage();
            }
            Console.WriteLine($"xdp {args[0]} attached ({mode}); SIGTERM detaches");
            using var done = new ManualResetEventSlim();
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; done.Set(); });
            using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; done.Set(); });
            done.Wait();
            return 0;
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"xdp: {e.Message}");
            return 1;
        }
        finally
        {
            foreach (int l in links) LibC.close(l);
        }
    }

    private static int IfIndex(string name) => NetInterface.Open(name).Index;

    private static int Attach(string dev, ulong[] insns, string name, uint flags)
    {
        int prog = Bpf.LoadXdpProgram(insns, name, out string log);
        if (prog < 0) throw new IOException($"loading {name}: {LibC.StrError(-prog)} {log}");
        int link = Bpf.AttachXdp(prog, IfIndex(dev), flags);
        LibC.close(prog);   // the link holds the program
        if (link < 0) throw new IOException($"attaching {name} to {dev}: {LibC.StrError(-link)}");
        return link;
    }

    private static int Usage()
    {
        Console.Error.WriteLine("usage: Softswitch.Bench xdp drop --dev IF | pass --dev IF | redirect --from IF --to IF   [--mode native|generic]");
        return 2;
    }
}
