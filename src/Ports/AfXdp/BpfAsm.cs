namespace Softswitch.Ports.AfXdp;

/// <summary>A BPF register: R0 return value, R1-R5 arguments (clobbered by calls), R6-R9 kept across calls, R10 the frame pointer (read only).</summary>
internal enum Reg : byte { R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, Fp }

/// <summary>Size of a memory access.</summary>
internal enum Size : byte { W = 0x00, H = 0x08, B = 0x10, DW = 0x18 }

/// <summary>A jump condition (unsigned unless named signed).</summary>
internal enum Cond : byte { Eq = 0x10, Gt = 0x20, Ge = 0x30, Set = 0x40, Ne = 0x50, Lt = 0xa0, Le = 0xb0 }

/// <summary>
/// A small BPF assembler: one method per instruction form, named registers, and labels resolved when the program is
/// taken (<see cref="Assemble"/>), so a hand-written program reads as a listing and a jump never counts instructions.
/// </summary>
/// <remarks>
/// Encoding per the kernel's Documentation/bpf/standardization/instruction-set.rst: { u8 opcode; u8 dst:4, src:4;
/// s16 off; s32 imm }. ALU operations are 64-bit (BPF_ALU64) unless named 32. Not thread safe; one per program.
/// </remarks>
internal sealed class BpfAsm
{
    private const byte Ld = 0x00, Ldx = 0x01, St = 0x02, Stx = 0x03, Alu = 0x04, Jmp = 0x05, Alu64 = 0x07;
    private const byte Mem = 0x60, Imm = 0x00, K = 0x00, X = 0x08;
    private const byte OpAdd = 0x00, OpSub = 0x10, OpMul = 0x20, OpOr = 0x40, OpAnd = 0x50, OpLsh = 0x60, OpRsh = 0x70, OpXor = 0xa0, OpMov = 0xb0, OpEnd = 0xd0;

    private readonly List<ulong> _insns = [];
    private readonly Dictionary<string, int> _labels = [];
    private readonly List<(int At, string Label)> _fixups = [];

    /// <summary>Instructions so far.</summary>
    public int Count => _insns.Count;

    private BpfAsm Emit(byte code, Reg dst, Reg src, short off, int imm)
    {
        _insns.Add(Bpf.Insn(code, (int)dst, (int)src, off, imm));
        return this;
    }

    /// <summary>Marks the next instruction as <paramref name="name"/>.</summary>
    public BpfAsm Label(string name)
    {
        if (!_labels.TryAdd(name, _insns.Count)) throw new InvalidOperationException($"label '{name}' defined twice");
        return this;
    }

    public BpfAsm Mov(Reg dst, int imm) => Emit(Alu64 | OpMov | K, dst, 0, 0, imm);
    public BpfAsm Mov(Reg dst, Reg src) => Emit(Alu64 | OpMov | X, dst, src, 0, 0);
    public BpfAsm Add(Reg dst, int imm) => Emit(Alu64 | OpAdd | K, dst, 0, 0, imm);
    public BpfAsm Add(Reg dst, Reg src) => Emit(Alu64 | OpAdd | X, dst, src, 0, 0);
    public BpfAsm Sub(Reg dst, Reg src) => Emit(Alu64 | OpSub | X, dst, src, 0, 0);
    public BpfAsm And(Reg dst, int imm) => Emit(Alu64 | OpAnd | K, dst, 0, 0, imm);
    public BpfAsm Or(Reg dst, int imm) => Emit(Alu64 | OpOr | K, dst, 0, 0, imm);
    public BpfAsm Or(Reg dst, Reg src) => Emit(Alu64 | OpOr | X, dst, src, 0, 0);
    public BpfAsm Xor(Reg dst, int imm) => Emit(Alu64 | OpXor | K, dst, 0, 0, imm);
    public BpfAsm Xor(Reg dst, Reg src) => Emit(Alu64 | OpXor | X, dst, src, 0, 0);
    public BpfAsm Mul(Reg dst, Reg src) => Emit(Alu64 | OpMul | X, dst, src, 0, 0);
    public BpfAsm Lsh(Reg dst, int imm) => Emit(Alu64 | OpLsh | K, dst, 0, 0, imm);
    public BpfAsm Rsh(Reg dst, int imm) => Emit(Alu64 | OpRsh | K, dst, 0, 0, imm);

    /// <summary>32-bit AND (the upper half of <paramref name="dst"/> is cleared).</summary>
    public BpfAsm And32(Reg dst, int imm) => Emit(Alu | OpAnd | K, dst, 0, 0, imm);

    /// <summary>dst = the low 16 bits of dst read as big endian (a value loaded from a packet, as a number).</summary>
    public BpfAsm Be16(Reg dst) => Emit(Alu | OpEnd | X, dst, 0, 0, 16);

    /// <summary>dst = *(size *)(src + off).</summary>
    public BpfAsm Load(Size size, Reg dst, Reg src, short off) => Emit((byte)(Ldx | Mem | (byte)size), dst, src, off, 0);

    /// <summary>*(size *)(dst + off) = src.</summary>
    public BpfAsm Store(Size size, Reg dst, short off, Reg src) => Emit((byte)(Stx | Mem | (byte)size), dst, src, off, 0);

    /// <summary>*(size *)(dst + off) = imm.</summary>
    public BpfAsm Store(Size size, Reg dst, short off, int imm) => Emit((byte)(St | Mem | (byte)size), dst, 0, off, imm);

    /// <summary>dst = the map of file descriptor <paramref name="fd"/> (a 64-bit load the kernel resolves, two slots).</summary>
    public BpfAsm LoadMap(Reg dst, int fd)
    {
        Emit(Ld | Imm | (byte)Size.DW, dst, (Reg)1 /* BPF_PSEUDO_MAP_FD */, 0, fd);
        return Emit(0, 0, 0, 0, 0);
    }

    /// <summary>dst = <paramref name="value"/> (a 64-bit load, two slots).</summary>
    public BpfAsm LoadImm64(Reg dst, ulong value)
    {
        Emit(Ld | Imm | (byte)Size.DW, dst, 0, 0, (int)(uint)value);
        return Emit(0, 0, 0, 0, (int)(uint)(value >> 32));
    }

    public BpfAsm Call(int helper) => Emit(Jmp | 0x80, 0, 0, 0, helper);
    public BpfAsm Exit() => Emit(Jmp | 0x90, 0, 0, 0, 0);

    /// <summary>r0 = <paramref name="value"/>; exit.</summary>
    public BpfAsm Return(int value) => Mov(Reg.R0, value).Exit();

    public BpfAsm Goto(string label) => Jump(Jmp | 0x00, 0, 0, 0, label);

    /// <summary>if (dst COND imm) goto label.</summary>
    public BpfAsm If(Reg dst, Cond cond, int imm, string label) => Jump((byte)(Jmp | (byte)cond | K), dst, 0, imm, label);

    /// <summary>if (dst COND src) goto label.</summary>
    public BpfAsm If(Reg dst, Cond cond, Reg src, string label) => Jump((byte)(Jmp | (byte)cond | X), dst, src, 0, label);

    private BpfAsm Jump(byte code, Reg dst, Reg src, int imm, string label)
    {
        _fixups.Add((_insns.Count, label));
        return Emit(code, dst, src, 0, imm);
    }

    /// <summary>The program, jumps resolved; throws when a label is missing or out of a jump's reach.</summary>
    public ulong[] Assemble()
    {
        var code = _insns.ToArray();
        foreach (var (at, label) in _fixups)
        {
            if (!_labels.TryGetValue(label, out int target)) throw new InvalidOperationException($"undefined label '{label}'");
            int off = target - at - 1;
            if (off is < short.MinValue or > short.MaxValue) throw new InvalidOperationException($"jump to '{label}' out of reach");
            code[at] = (code[at] & ~(0xFFFFUL << 16)) | ((ulong)(ushort)(short)off << 16);
        }
        return code;
    }
}
