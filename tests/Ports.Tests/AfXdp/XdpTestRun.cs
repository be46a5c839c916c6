using Softswitch.Ports.AfXdp;
using Softswitch.Ports.Linux;

namespace Softswitch.Ports.Tests.AfXdp;

/// <summary>
/// A flow program run by the kernel on one frame at a time (<c>BPF_PROG_TEST_RUN</c>): its verdict and the frame as
/// it left the program, as if it had arrived on the interface of <see cref="IfIndex"/>. No socket is bound to the
/// program's XSKMAP, so a miss returns XDP_PASS; a redirect through the DEVMAP returns XDP_REDIRECT without sending.
/// </summary>
internal sealed unsafe class XdpTestRun : IDisposable
{
    public const int XdpPass = 2, XdpTx = 3, XdpRedirect = 4;
    private const int BPF_PROG_TEST_RUN = 10, AttrSize = 128;
    private readonly int _xsk, _prog;

    public XdpTestRun(XdpFlowMaps maps, int ifindex)
    {
        IfIndex = ifindex;
        _xsk = Bpf.CreateXskMap(1);
        if (_xsk < 0) throw new IOException($"xskmap: {LibC.StrError(-_xsk)}");
        _prog = Bpf.LoadXdpProgram(XdpFlowProgram.Build(_xsk, maps), "ssw_xdp_flows", out string log);
        if (_prog < 0) throw new IOException($"loading the flow program: {LibC.StrError(-_prog)} {log}");
    }

    public int IfIndex { get; }

    /// <summary>Runs the program once on <paramref name="frame"/>; its verdict, the frame it left in <paramref name="output"/> (as long as the input).</summary>
    public int Run(ReadOnlySpan<byte> frame, Span<byte> output)
    {
        byte* a = stackalloc byte[AttrSize];
        uint* ctx = stackalloc uint[6];   // struct xdp_md
        new Span<byte>(a, AttrSize).Clear();
        new Span<uint>(ctx, 6).Clear();
        ctx[1] = (uint)frame.Length;      // data_end
        ctx[3] = (uint)IfIndex;           // ingress_ifindex
        fixed (byte* d = frame)
        fixed (byte* o = output)
        {
            *(uint*)(a + 0) = (uint)_prog;
            *(uint*)(a + 8) = (uint)frame.Length;    // data_size_in
            *(uint*)(a + 12) = (uint)output.Length;  // data_size_out
            *(ulong*)(a + 16) = (ulong)d;
            *(ulong*)(a + 24) = (ulong)o;
            *(uint*)(a + 32) = 1;                    // repeat
            *(uint*)(a + 40) = 24;                   // ctx_size_in
            *(ulong*)(a + 48) = (ulong)ctx;
            long r = LibC.syscall3(LibC.SYS_bpf, BPF_PROG_TEST_RUN, (long)a, AttrSize);
            if (r < 0) throw new IOException($"test run: {LibC.StrError(LibC.LastErrno)}");
            return (int)*(uint*)(a + 4);             // retval
        }
    }

    public void Dispose()
    {
        LibC.close(_prog);
        LibC.close(_xsk);
    }
}
