using System.Buffers.Binary;
using System.Collections.Concurrent;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ports.NetFpga;

/// <summary>
/// A register-level model of a NetFPGA-1G running the OpenFlow 1.0 switch bitfile: the register file (exact table in
/// SRAM, wildcard rows behind their staging registers, lookup and MAC counters) and the packet path it implies.
/// </summary>
/// <remarks>
/// It exists to test <see cref="NetFpgaDriver"/>, so it shares none of the driver's encoding: its own header parser,
/// CRCs and action decoding (only frame rewriting reuses <see cref="PacketRewriter"/>). Keep it that way, or the tests
/// check the driver against itself. Unknown register addresses read 0 and are counted in
/// <see cref="UnknownRegisterAccesses"/>. Thread safety: one lock around the register file and every lookup.
/// The packet path, CPU path, counters and known differences it models: docs/offload.md, "The NetFPGA-1G emulator".
/// </remarks>
public sealed class EmulatedNetFpga : IRegisterBus
{
    private const int Rows = NetFpgaRegisters.WildcardTableRows;
    private const int SramWordsPerRow = NetFpgaRegisters.ExactRowSize / 4;

    private readonly Lock _lock = new();
    private readonly Func<long> _nowNanos;
    private readonly uint[] _sram = new uint[NetFpgaRegisters.ExactTableRows * SramWordsPerRow];
    private readonly uint[][] _cmp = NewRows(8), _mask = NewRows(8), _act = NewRows(10);
    private readonly uint[] _stCmp = new uint[8], _stMask = new uint[8], _stAct = new uint[10];
    private readonly uint[] _bytesHit = new uint[Rows], _pktsHit = new uint[Rows], _lastSeen = new uint[Rows];
    private uint _readAddr, _writeAddr;
    private uint _wildHits, _wildMisses, _exactHits, _exactMisses;
    private readonly uint[] _dropped = new uint[8];
    private uint _cpciCtrl, _wdtEnable;
    private long _wdtClearedAt;
    private readonly uint[][] _macRegs = NewRows((int)(NetFpgaRegisters.MacGroupSize / 4), NetFpgaRegisters.MaxPorts);

    private readonly IPort?[] _macs = new IPort?[NetFpgaRegisters.MaxPorts];
    private readonly ConcurrentQueue<byte[]>[] _toCpu = new ConcurrentQueue<byte[]>[NetFpgaRegisters.MaxPorts];
    private readonly ThreadLocal<Scratch> _scratch = new(() => new Scratch());

    private long _unknown, _reads, _writes, _exactLookupHits, _wildLookupHits, _cpuFrames, _forwarded;

    public EmulatedNetFpga(Func<long>? nowNanos = null)
    {
        _nowNanos = nowNanos ?? (() => System.Diagnostics.Stopwatch.GetTimestamp() * (1_000_000_000L / System.Diagnostics.Stopwatch.Frequency));
        for (int i = 0; i < _toCpu.Length; i++) _toCpu[i] = new ConcurrentQueue<byte[]>();
    }

    public EmulatedNetFpga(IClock clock) : this(() => clock.NowNanos) { }

    public string Name => "emulated";

    /// <summary>Register accesses to addresses the bitfile does not decode (a driver bug when non-zero).</summary>
    public long UnknownRegisterAccesses => Interlocked.Read(ref _unknown);
    public long RegisterReads => Interlocked.Read(ref _reads);
    public long RegisterWrites => Interlocked.Read(ref _writes);
    /// <summary>Frames from the MACs answered by an exact row / a wildcard flow row (rows 0..23).</summary>
    public long ExactRowHits => Interlocked.Read(ref _exactLookupHits);
    public long FlowRowHits => Interlocked.Read(ref _wildLookupHits);
    /// <summary>Frames handed to the software (CPU queues).</summary>
    public long FramesToCpu => Interlocked.Read(ref _cpuFrames);
    /// <summary>Frames the board sent out of a MAC on its own (hardware forwarding).</summary>
    public long FramesForwarded => Interlocked.Read(ref _forwarded);

    /// <summary>Connects MAC port <paramref name="index"/> to a wire (the switch's physical port).</summary>
    public void AttachMac(int index, IPort port)
    {
        if ((uint)index >= NetFpgaRegisters.MaxPorts) throw new ArgumentOutOfRangeException(nameof(index));
        _macs[index] = port;
    }

    // ================================================================ register file

    public uint Read(uint address)
    {
        lock (_lock)
        {
            _reads++;
            if (TrySram(address, out int word))
            {
                uint v = _sram[word];
                int inRow = word & (SramWordsPerRow - 1);
                if (inRow is 8 or 9) _sram[word] = 0; // counter words clear on read
                return v;
            }
            switch (address)
            {
                case NetFpgaRegisters.CpciRegCtrl: return _cpciCtrl;
                case NetFpgaRegisters.WildcardMisses: return _wildMisses;
                case NetFpgaRegisters.WildcardHits: return _wildHits;
                case NetFpgaRegisters.ExactMisses: return _exactMisses;
                case NetFpgaRegisters.ExactHits: return _exactHits;
                case NetFpgaRegisters.LookupTimer: return Timer();
                case NetFpgaRegisters.WdtEnableFlag: return _wdtEnable;
                case NetFpgaRegisters.WdtCounter: return (uint)((_nowNanos() - _wdtClearedAt) / 8);
                case NetFpgaRegisters.WildcardReadAddr: return _readAddr;
                case NetFpgaRegisters.WildcardWriteAddr: return _writeAddr;
            }
            if (InRange(address, NetFpgaRegisters.NumPktsDropped0, 8, out int q)) return _dropped[q];
            if (InRange(address, NetFpgaRegisters.WildcardAction0, 10, out int a)) return _stAct[a];
            if (InRange(address, NetFpgaRegisters.WildcardCmpMask0, 8, out int m)) return _stMask[m];
            if (InRange(address, NetFpgaRegisters.WildcardCmp0, 8, out int c)) return _stCmp[c];
            if (InRange(address, NetFpgaRegisters.WildcardBytesHit0, Rows, out int r)) return _bytesHit[r];
            if (InRange(address, NetFpgaRegisters.WildcardPktsHit0, Rows, out r)) return _pktsHit[r];
            if (InRange(address, NetFpgaRegisters.WildcardLastSeen0, Rows, out r)) return _lastSeen[r];
            if (TryMac(address, out int port, out int reg)) return _macRegs[port][reg];
            _unknown++;
            return 0;
        }
    }

    public void Write(uint address, uint value)
    {
        lock (_lock)
        {
            _writes++;
            if (TrySram(address, out int word))
            {
                _sram[word] = value;
                return;
            }
            switch (address)
            {
                case NetFpgaRegisters.CpciRegCtrl:
                    if ((value & NetFpgaRegisters.CpciResetBit) != 0) ResetLocked();
                    _cpciCtrl = value & ~NetFpgaRegisters.CpciResetBit;
                    return;
                case NetFpgaRegisters.WildcardWriteAddr:
                    _writeAddr = value;
                    if (value < Rows)
                    {
                        _stCmp.CopyTo(_cmp[value], 0);
                        _stMask.CopyTo(_mask[value], 0);
                        _stAct.CopyTo(_act[value], 0);
                    }
                    else
                    {
                        _unknown++;
                    }

                    return;
                case NetFpgaRegisters.WildcardReadAddr:
                    _readAddr = value;
                    if (value < Rows)
                    {
                        _cmp[value].CopyTo(_stCmp, 0);
                        _mask[value].CopyTo(_stMask, 0);
                        _act[value].CopyTo(_stAct, 0);
                    }
                    else
                    {
                        _unknown++;
                    }

                    return;
                case NetFpgaRegisters.WildcardMisses: _wildMisses = value; return;
                case NetFpgaRegisters.WildcardHits: _wildHits = value; return;
                case NetFpgaRegisters.ExactMisses: _exactMisses = value; return;
                case NetFpgaRegisters.ExactHits: _exactHits = value; return;
                case NetFpgaRegisters.WdtEnableFlag:
                    _wdtEnable = value & 1;
                    _wdtClearedAt = _nowNanos();
                    return;
            }
            if (InRange(address, NetFpgaRegisters.NumPktsDropped0, 8, out int q)) { _dropped[q] = value; return; }
            if (InRange(address, NetFpgaRegisters.WildcardAction0, 10, out int a)) { _stAct[a] = value; return; }
            if (InRange(address, NetFpgaRegisters.WildcardCmpMask0, 8, out int m)) { _stMask[m] = value; return; }
            if (InRange(address, NetFpgaRegisters.WildcardCmp0, 8, out int c)) { _stCmp[c] = value; return; }
            if (InRange(address, NetFpgaRegisters.WildcardBytesHit0, Rows, out int r)) { _bytesHit[r] = value; return; }
            if (InRange(address, NetFpgaRegisters.WildcardPktsHit0, Rows, out r)) { _pktsHit[r] = value; return; }
            if (InRange(address, NetFpgaRegisters.WildcardLastSeen0, Rows, out r)) { _lastSeen[r] = value; return; }
            if (TryMac(address, out int port, out int reg)) { _macRegs[port][reg] = value; return; }
            _unknown++;
        }
    }

    /// <summary>The committed contents of wildcard row <paramref name="row"/> (tests and diagnostics).</summary>
    public (uint[] Cmp, uint[] Mask, uint[] Action) WildcardRow(int row)
    {
        lock (_lock) return ((uint[])_cmp[row].Clone(), (uint[])_mask[row].Clone(), (uint[])_act[row].Clone());
    }

    /// <summary>The 32 SRAM words of exact row <paramref name="row"/>, read without clearing counters (tests).</summary>
    public uint[] ExactRowWords(int row)
    {
        lock (_lock) return _sram.AsSpan(row * SramWordsPerRow, SramWordsPerRow).ToArray();
    }

    public void Dispose() => _scratch.Dispose();

    private void ResetLocked()
    {
        Array.Clear(_sram);
        foreach (var x in _cmp) Array.Clear(x);
        foreach (var x in _mask) Array.Clear(x);
        foreach (var x in _act) Array.Clear(x);
        Array.Clear(_stCmp); Array.Clear(_stMask); Array.Clear(_stAct);
        Array.Clear(_bytesHit); Array.Clear(_pktsHit); Array.Clear(_lastSeen);
        Array.Clear(_dropped);
        foreach (var x in _macRegs) Array.Clear(x);
        _wildHits = _wildMisses = _exactHits = _exactMisses = 0;
        _readAddr = _writeAddr = 0;
    }

    private uint Timer() => (uint)(_nowNanos() / 8);

    private static bool TrySram(uint address, out int word)
    {
        uint off = address - NetFpgaRegisters.SramBase;
        word = (int)(off >> 2);
        return address >= NetFpgaRegisters.SramBase && off < (uint)(NetFpgaRegisters.ExactTableRows * NetFpgaRegisters.ExactRowSize) && (off & 3) == 0;
    }

    private static bool InRange(uint address, uint first, int count, out int index)
    {
        uint off = address - first;
        index = (int)(off >> 2);
        return address >= first && (off & 3) == 0 && index < count;
    }

    private static bool TryMac(uint address, out int port, out int reg)
    {
        port = reg = 0;
        if (address < NetFpgaRegisters.MacGroupBase) return false;
        uint off = address - NetFpgaRegisters.MacGroupBase;
        uint p = off / NetFpgaRegisters.MacGroupStride, r = off % NetFpgaRegisters.MacGroupStride;
        if (p >= NetFpgaRegisters.MaxPorts || r >= NetFpgaRegisters.MacGroupSize || (r & 3) != 0) return false;
        port = (int)p;
        reg = (int)(r >> 2);
        return true;
    }

    private static uint[][] NewRows(int width, int rows = Rows)
    {
        var a = new uint[rows][];
        for (int i = 0; i < rows; i++) a[i] = new uint[width];
        return a;
    }

    // ================================================================ key (the bitfile's header parser)

    /// <summary>
    /// The 8 key words the bitfile builds for <paramref name="frame"/> arriving on input queue <paramref name="srcPort"/>
    /// (pad byte zero). Written against the field list, independently of <see cref="NetFpgaEncoding"/>.
    /// </summary>
    public static void BuildKey(ReadOnlySpan<byte> frame, byte srcPort, Span<uint> key)
    {
        ulong dlDst = 0, dlSrc = 0;
        ushort type = 0, vlan = 0xFFFF, tpSrc = 0, tpDst = 0;
        byte tos = 0, proto = 0;
        uint nwSrc = 0, nwDst = 0;
        if (frame.Length >= 14)
        {
            dlDst = ((ulong)BinaryPrimitives.ReadUInt16BigEndian(frame) << 32) | BinaryPrimitives.ReadUInt32BigEndian(frame[2..]);
            dlSrc = ((ulong)BinaryPrimitives.ReadUInt16BigEndian(frame[6..]) << 32) | BinaryPrimitives.ReadUInt32BigEndian(frame[8..]);
            type = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
            int off = 14;
            if (type == 0x8100 && frame.Length >= 18)
            {
                ushort tci = BinaryPrimitives.ReadUInt16BigEndian(frame[14..]);
                vlan = (ushort)(tci & 0xEFFF); // PCP and VID; the CFI bit is not part of the key
                type = BinaryPrimitives.ReadUInt16BigEndian(frame[16..]);
                off = 18;
            }
            if (type == 0x0800 && frame.Length >= off + 20)
            {
                int ihl = frame[off] & 0x0F;
                if (ihl < 5)
                {
                    // The parser gives up on a bad header length: the default entry.
                    dlDst = dlSrc = 0;
                    type = 0;
                    vlan = 0xFFFF;
                    srcPort = 0;
                }
                else
                {
                    tos = (byte)(frame[off + 1] & 0xFC);
                    proto = frame[off + 9];
                    nwSrc = BinaryPrimitives.ReadUInt32BigEndian(frame[(off + 12)..]);
                    nwDst = BinaryPrimitives.ReadUInt32BigEndian(frame[(off + 16)..]);
                    int l4 = off + ihl * 4;
                    if ((proto == 6 || proto == 17) && frame.Length >= l4 + 4)
                    {
                        tpSrc = BinaryPrimitives.ReadUInt16BigEndian(frame[l4..]);
                        tpDst = BinaryPrimitives.ReadUInt16BigEndian(frame[(l4 + 2)..]);
                    }
                    else if (proto == 1 && frame.Length >= l4 + 2)
                    {
                        tpSrc = frame[l4];
                        tpDst = frame[l4 + 1];
                    }
                }
            }
            else if (type == 0x0806 && frame.Length >= off + 28)
            {
                proto = frame[off + 7];                                                // opcode, low byte
                nwSrc = BinaryPrimitives.ReadUInt32BigEndian(frame[(off + 14)..]);     // sender protocol address
                nwDst = BinaryPrimitives.ReadUInt32BigEndian(frame[(off + 24)..]);     // target protocol address
            }
        }
        // Pack: tp_dst 0 | tp_src 16 | proto 32 | nw_dst 40 | nw_src 72 | type 104 | dl_dst 120 | dl_src 168 |
        // src_port 216 | tos 224 | vlan 232 | pad 248.
        key[0] = tpDst | ((uint)tpSrc << 16);
        key[1] = proto | (nwDst << 8);
        key[2] = (nwDst >> 24) | (nwSrc << 8);
        key[3] = (nwSrc >> 24) | ((uint)type << 8) | ((uint)(dlDst & 0xFF) << 24);
        key[4] = (uint)(dlDst >> 8);
        key[5] = (uint)(dlDst >> 40) | ((uint)(dlSrc & 0xFF_FFFF) << 8);
        key[6] = (uint)(dlSrc >> 24) | ((uint)srcPort << 24);
        key[7] = tos | ((uint)vlan << 8);
    }

    /// <summary>CRC-32, MSB first, initial 0, no final xor, bit by bit over the key's 32 bytes in memory order.</summary>
    private static uint Crc(ReadOnlySpan<uint> key, uint poly)
    {
        uint crc = 0;
        for (int w = 0; w < 8; w++)
        {
            uint word = key[w];
            for (int b = 0; b < 4; b++)
            {
                crc ^= ((word >> (8 * b)) & 0xFF) << 24;
                for (int bit = 0; bit < 8; bit++) crc = (crc & 0x8000_0000) != 0 ? (crc << 1) ^ poly : crc << 1;
            }
        }
        return crc;
    }

    /// <summary>Looks a key up (exact, then wildcard rows in order), counts the hit, copies the action. False on a miss.</summary>
    private bool LookupLocked(ReadOnlySpan<uint> key, int length, bool cpuPath, Span<uint> action)
    {
        uint now = Timer();
        if (!cpuPath)
        {
            Span<int> candidates = [(int)(Crc(key, NetFpgaRegisters.CrcPoly1) & 0x7FFF), (int)(Crc(key, NetFpgaRegisters.CrcPoly2) & 0x7FFF)];
            foreach (int row in candidates)
            {
                int b = row * SramWordsPerRow;
                bool hit = true;
                for (int w = 0; w < 8 && hit; w++)
                {
                    uint k = w == 7 ? key[7] | 0x8000_0000u : key[w];
                    hit = _sram[b + w] == k;
                }
                if (!hit) continue;
                _exactHits++;
                _exactLookupHits++;
                uint pkts = ((_sram[b + 8] & NetFpgaRegisters.ExactPacketCounterMask) + 1) & NetFpgaRegisters.ExactPacketCounterMask;
                _sram[b + 8] = pkts | ((now & 0x7F) << 25);
                _sram[b + 9] += (uint)length;
                _sram.AsSpan(b + 10, 10).CopyTo(action);
                return true;
            }
            _exactMisses++;
        }
        for (int r = cpuPath ? NetFpgaRegisters.CpuToMacRow0 : 0; r < Rows; r++)
        {
            var cmp = _cmp[r];
            var mask = _mask[r];
            uint diff = 0;
            for (int w = 0; w < 8; w++)
            {
                uint d = (key[w] ^ cmp[w]) & ~mask[w];
                diff |= w == 7 ? d & 0x00FF_FFFF : d; // 248 bits are compared
            }
            if (diff != 0) continue;
            _wildHits++;
            if (r < NetFpgaRegisters.UsableWildcardRows) _wildLookupHits++;
            _pktsHit[r]++;
            _bytesHit[r] += (uint)length;
            _lastSeen[r] = now;
            _act[r].CopyTo(action);
            return true;
        }
        _wildMisses++;
        return false;
    }

    // ================================================================ packet path

    /// <summary>
    /// Receives a burst on MAC port <paramref name="port"/>: looks every frame up, forwards hits out of the other
    /// MACs, and returns in <paramref name="pkts"/> only the frames for CPU queue <paramref name="port"/> (misses sent
    /// up by the catch-all row), plus frames other ports' rows sent to this queue.
    /// </summary>
    internal int ReceiveFromMac(int port, PacketPool pool, Span<int> pkts)
    {
        var mac = _macs[port] ?? throw new InvalidOperationException($"MAC port {port} has no wire attached");
        int kept = 0;
        // Frames another port's rows sent to this CPU queue.
        while (kept < pkts.Length && _toCpu[port].TryDequeue(out var queued))
        {
            int p = pool.Alloc();
            if (p < 0) break;
            if (!pool.Write(p, queued))
            {
                pool.Release(p);
                continue;
            }
            pkts[kept++] = p;
        }
        int n = mac.Receive(pool, pkts[kept..]);
        if (n <= 0) return kept;
        var s = _scratch.Value!;
        s.Ensure(n);
        Span<uint> key = stackalloc uint[8];
        var incoming = pkts.Slice(kept, n);
        lock (_lock)
        {
            var regs = _macRegs[port];
            for (int i = 0; i < n; i++)
            {
                var frame = pool.Frame(incoming[i]);
                regs[(int)(NetFpgaRegisters.MacRxPktsStored >> 2)]++;
                regs[(int)(NetFpgaRegisters.MacRxPktsDequeued >> 2)]++;
                regs[(int)(NetFpgaRegisters.MacRxBytesPushed >> 2)] += (uint)frame.Length;
                regs[(int)(NetFpgaRegisters.MacRxWordsPushed >> 2)] += (uint)((frame.Length + 7) / 8);
                BuildKey(frame, (byte)(2 * port), key);
                var act = s.Actions.AsSpan(i * 10, 10);
                if (!LookupLocked(key, frame.Length, cpuPath: false, act)) act.Clear();
            }
        }

        for (int j = 0; j < NetFpgaRegisters.MaxPorts; j++) s.TxCount[j] = 0;
        incoming.CopyTo(s.Pkts);
        int drops = 0, toCpu = 0, forwarded = 0;
        for (int i = 0; i < n; i++)
        {
            int p = s.Pkts[i];
            var act = s.Actions.AsSpan(i * 10, 10);
            uint bitmask = act[0] & 0xFFFF;
            s.Release[i] = true;
            if (bitmask == 0)
            {
                drops++;
                continue;
            }
            ApplyModifications(pool, p, act);
            for (int j = 0; j < NetFpgaRegisters.MaxPorts; j++)
            {
                if ((bitmask & (1u << (2 * j))) != 0 && _macs[j] is not null)
                {
                    s.Tx[j][s.TxCount[j]++] = p;
                    forwarded++;
                }
                if ((bitmask & (1u << (2 * j + 1))) != 0)
                {
                    toCpu++;
                    if (j == port) s.Release[i] = false;
                    else _toCpu[j].Enqueue(pool.Frame(p).ToArray());
                }
            }
            if (!s.Release[i]) pkts[kept++] = p; // kept <= the slot of packet i: compaction never overtakes
        }
        for (int j = 0; j < NetFpgaRegisters.MaxPorts; j++)
            if (s.TxCount[j] > 0) Transmit(j, pool, s.Tx[j].AsSpan(0, s.TxCount[j]));
        for (int i = 0; i < n; i++)
            if (s.Release[i]) pool.Release(s.Pkts[i]);
        if (drops > 0)
            lock (_lock) _dropped[2 * port] += (uint)drops;
        Interlocked.Add(ref _cpuFrames, toCpu);
        Interlocked.Add(ref _forwarded, forwarded);
        return kept;
    }

    /// <summary>A burst the software sends on board port <paramref name="port"/> (CPU queue <paramref name="port"/>).</summary>
    internal void SendFromCpu(int port, PacketPool pool, ReadOnlySpan<int> pkts)
    {
        var s = _scratch.Value!;
        s.Ensure(pkts.Length);
        for (int j = 0; j < NetFpgaRegisters.MaxPorts; j++) s.TxCount[j] = 0;
        Span<uint> key = stackalloc uint[8];
        Span<uint> act = stackalloc uint[10];
        int drops = 0;
        lock (_lock)
        {
            foreach (int p in pkts)
            {
                var frame = pool.Frame(p);
                BuildKey(frame, (byte)(2 * port + 1), key);
                uint bitmask = LookupLocked(key, frame.Length, cpuPath: true, act) ? act[0] & 0xFFFF : 0;
                bool any = false;
                for (int j = 0; j < NetFpgaRegisters.MaxPorts; j++)
                {
                    if ((bitmask & (1u << (2 * j))) == 0 || _macs[j] is null) continue;
                    s.Tx[j][s.TxCount[j]++] = p;
                    any = true;
                }
                if (!any) drops++;
            }
            _dropped[2 * port + 1] += (uint)drops;
        }
        for (int j = 0; j < NetFpgaRegisters.MaxPorts; j++)
            if (s.TxCount[j] > 0) Transmit(j, pool, s.Tx[j].AsSpan(0, s.TxCount[j]));
    }

    private void Transmit(int j, PacketPool pool, ReadOnlySpan<int> pkts)
    {
        var mac = _macs[j]!;
        long bytes = 0;
        foreach (int p in pkts) bytes += pool.Length[p];
        lock (_lock)
        {
            var regs = _macRegs[j];
            regs[(int)(NetFpgaRegisters.MacTxPktsEnqueued >> 2)] += (uint)pkts.Length;
            regs[(int)(NetFpgaRegisters.MacTxPktsSent >> 2)] += (uint)pkts.Length;
            regs[(int)(NetFpgaRegisters.MacTxBytesPushed >> 2)] += (uint)bytes;
            regs[(int)(NetFpgaRegisters.MacTxWordsPushed >> 2)] += (uint)((bytes + 7) / 8);
        }
        mac.Send(pool, pkts);
    }

    /// <summary>Applies the modify actions of decoded action words to one frame, in the bitfile's fixed order.</summary>
    private static void ApplyModifications(PacketPool pool, int p, ReadOnlySpan<uint> a)
    {
        uint flags = a[0] >> 16;
        if ((flags & ~1u) == 0) return;
        ushort vid = (ushort)(a[1] & 0xFFFF);
        byte pcp = (byte)((a[1] >> 16) & 0xFF);
        ulong dlSrc = (a[1] >> 24) | ((ulong)a[2] << 8) | ((ulong)(a[3] & 0xFF) << 40);
        ulong dlDst = (a[3] >> 8) | ((ulong)(a[4] & 0xFF_FFFF) << 24);
        uint nwSrc = (a[4] >> 24) | ((a[5] & 0xFF_FFFF) << 8);
        uint nwDst = (a[5] >> 24) | ((a[6] & 0xFF_FFFF) << 8);
        byte tos = (byte)(a[6] >> 24);
        ushort tpSrc = (ushort)(a[7] & 0xFFFF);
        ushort tpDst = (ushort)(a[7] >> 16);

        PacketParser.Parse(pool.Frame(p), 0, out _, out var layers);
        if ((flags & 0x008) != 0) PacketRewriter.StripVlan(pool, p, ref layers);
        if ((flags & 0x002) != 0) PacketRewriter.PushOrSetVlanVid(pool, p, ref layers, (ushort)(vid & 0x0FFF));
        if ((flags & 0x004) != 0) PacketRewriter.PushOrSetVlanPcp(pool, p, ref layers, (byte)(pcp & 7));
        var f = pool.Frame(p);
        if ((flags & 0x010) != 0) PacketRewriter.SetDlSrc(f, dlSrc);
        if ((flags & 0x020) != 0) PacketRewriter.SetDlDst(f, dlDst);
        if ((flags & 0x040) != 0) PacketRewriter.SetNwSrc(f, layers, nwSrc);
        if ((flags & 0x080) != 0) PacketRewriter.SetNwDst(f, layers, nwDst);
        if ((flags & 0x100) != 0) PacketRewriter.SetNwTos(f, layers, tos);
        if ((flags & 0x200) != 0) PacketRewriter.SetTpSrc(f, layers, tpSrc);
        if ((flags & 0x400) != 0) PacketRewriter.SetTpDst(f, layers, tpDst);
    }

    private sealed class Scratch
    {
        public uint[] Actions = new uint[32 * 10];
        public bool[] Release = new bool[32];
        public int[] Pkts = new int[32];
        public readonly int[][] Tx = new int[NetFpgaRegisters.MaxPorts][];
        public readonly int[] TxCount = new int[NetFpgaRegisters.MaxPorts];

        public Scratch()
        {
            for (int i = 0; i < Tx.Length; i++) Tx[i] = new int[32];
        }

        public void Ensure(int n)
        {
            if (Actions.Length >= n * 10) return;
            Actions = new uint[n * 10];
            Release = new bool[n];
            Pkts = new int[n];
            for (int i = 0; i < Tx.Length; i++) Tx[i] = new int[n];
        }
    }
}
