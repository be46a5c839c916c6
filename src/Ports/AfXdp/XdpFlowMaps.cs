using System.Buffers.Binary;
using Softswitch.Ports.Linux;

namespace Softswitch.Ports.AfXdp;

/// <summary>A flow program's key (<see cref="XdpFlowProgram"/>): the fields it parses, host order here.</summary>
/// <param name="Tci">The outer tag's TCI with bit 0x1000 set, or 0 when untagged.</param>
/// <param name="TpSrc">TCP/UDP source port, or the ICMP type.</param>
/// <param name="TpDst">TCP/UDP destination port, or the ICMP code.</param>
internal readonly record struct XdpFlowKey(int IfIndex, ushort Tci, ushort EthType, ulong DlDst, ulong DlSrc, byte Proto, byte Dscp,
                                           ushort TpSrc, ushort TpDst, uint NwSrc, uint NwDst)
{
    /// <summary>IPv6 addresses: a key of the IPv6 map, which the program looks up second (else they are zero).</summary>
    public (UInt128 Src, UInt128 Dst)? Ipv6Addresses { get; init; }

    /// <summary>The key's size in its map: <see cref="XdpFlowProgram.Ipv6KeySize"/> with IPv6 addresses, else <see cref="XdpFlowProgram.KeySize"/>.</summary>
    public int Size => Ipv6Addresses is null ? XdpFlowProgram.KeySize : XdpFlowProgram.Ipv6KeySize;

    /// <summary>Writes the key as the program builds it (<see cref="Size"/> bytes).</summary>
    public void Write(Span<byte> k)
    {
        k[..Size].Clear();
        BinaryPrimitives.WriteInt32LittleEndian(k, IfIndex);
        BinaryPrimitives.WriteUInt16BigEndian(k[4..], Tci);
        BinaryPrimitives.WriteUInt16BigEndian(k[6..], EthType);
        WriteMac(k[8..], DlDst);
        WriteMac(k[14..], DlSrc);
        k[20] = Proto;
        k[21] = Dscp;
        BinaryPrimitives.WriteUInt16BigEndian(k[24..], TpSrc);
        BinaryPrimitives.WriteUInt16BigEndian(k[26..], TpDst);
        if (Ipv6Addresses is { } a)
        {
            BinaryPrimitives.WriteUInt128BigEndian(k[28..], a.Src);
            BinaryPrimitives.WriteUInt128BigEndian(k[44..], a.Dst);
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(k[28..], NwSrc);
            BinaryPrimitives.WriteUInt32BigEndian(k[32..], NwDst);
        }
    }

    /// <summary>Writes a MAC held as the datapath does (first octet in the most significant of the low 48 bits).</summary>
    internal static void WriteMac(Span<byte> dst, ulong mac)
    {
        for (int i = 0; i < 6; i++) dst[i] = (byte)(mac >> (40 - (8 * i)));
    }
}

/// <summary>A flow program's action record: the net effect of a flow's actions (flags from <see cref="XdpFlowProgram"/>).</summary>
/// <param name="Tci">The TCI written (set or pushed), DEI clear.</param>
/// <param name="Dscp">The TOS byte's DSCP bits (ECN kept from the frame).</param>
/// <param name="Slot">The flow's row in the per-CPU counter array.</param>
internal readonly record struct XdpFlowAction(uint Flags, int OutIfIndex, ulong DlDst, ulong DlSrc, ushort Tci, uint NwSrc, uint NwDst,
                                              ushort TpSrc, ushort TpDst, byte Ttl, byte Dscp, uint Slot)
{
    /// <summary>The new IPv6 source and destination (with <see cref="XdpFlowProgram.SetIpv6Src"/>, <see cref="XdpFlowProgram.SetIpv6Dst"/>).</summary>
    public UInt128 Ipv6Src { get; init; }
    public UInt128 Ipv6Dst { get; init; }

    public void Write(Span<byte> v)
    {
        v[..XdpFlowProgram.ValueSize].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(v, Flags);
        BinaryPrimitives.WriteInt32LittleEndian(v[4..], OutIfIndex);
        XdpFlowKey.WriteMac(v[8..], DlDst);
        XdpFlowKey.WriteMac(v[14..], DlSrc);
        BinaryPrimitives.WriteUInt16BigEndian(v[20..], Tci);
        BinaryPrimitives.WriteUInt32BigEndian(v[24..], NwSrc);
        BinaryPrimitives.WriteUInt32BigEndian(v[28..], NwDst);
        BinaryPrimitives.WriteUInt16BigEndian(v[32..], TpSrc);
        BinaryPrimitives.WriteUInt16BigEndian(v[34..], TpDst);
        v[36] = Ttl;
        v[37] = Dscp;
        BinaryPrimitives.WriteUInt32LittleEndian(v[40..], Slot);
        BinaryPrimitives.WriteUInt128BigEndian(v[48..], Ipv6Src);
        BinaryPrimitives.WriteUInt128BigEndian(v[64..], Ipv6Dst);
    }
}

/// <summary>
/// The maps the flow programs of one switch share: the flows (<see cref="XdpFlowTable"/>, an exact-match table the
/// program looks up inline: key → action record; the flows keyed by IPv6 addresses in a BPF hash map, looked up
/// second), their counters (a per-CPU array: slot → packets, bytes) and the output ports (a DEVMAP_HASH: ifindex →
/// ifindex). Each port's program adds its own XSKMAP (<see cref="AfXdpPort.UseFlowProgram"/>).
/// </summary>
/// <remarks>Not thread safe (the offload target's caller serialises calls). Closing the fds frees the maps once no program holds them.</remarks>
public sealed unsafe class XdpFlowMaps : IDisposable
{
    private readonly int _cpus;
    private readonly byte[] _counters;

    /// <summary>Creates the maps for <paramref name="capacity"/> flows; throws <see cref="IOException"/> when the kernel refuses.</summary>
    public XdpFlowMaps(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _cpus = Bpf.PossibleCpus();
        _counters = new byte[_cpus * XdpFlowProgram.CounterSize];
        try
        {
            Table = new XdpFlowTable(capacity);
            Ipv6FlowsFd = Check(Bpf.CreateMap(Bpf.BPF_MAP_TYPE_HASH, XdpFlowProgram.Ipv6KeySize, XdpFlowProgram.ValueSize, capacity, "ssw_flows6"),
                                "the IPv6 flow map");
            CountersFd = Check(Bpf.CreateMap(Bpf.BPF_MAP_TYPE_PERCPU_ARRAY, 4, XdpFlowProgram.CounterSize, capacity, "ssw_flow_cnt"), "the flow counters");
            DevMapFd = Check(Bpf.CreateMap(Bpf.BPF_MAP_TYPE_DEVMAP_HASH, 4, 4, 256, "ssw_ports"), "the port map");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int Capacity { get; }

    /// <summary>The exact-match table of the flows without IPv6 addresses in their key.</summary>
    internal XdpFlowTable Table { get; } = null!;
    internal int Ipv6FlowsFd { get; private set; } = -1;
    internal int CountersFd { get; private set; } = -1;
    internal int DevMapFd { get; private set; } = -1;

    private static int Check(int fd, string what)
        => fd >= 0 ? fd : throw new IOException($"creating {what} (BPF map) failed: {LibC.StrError(-fd)} (errno {-fd})");

    /// <summary>Makes <paramref name="ifindex"/> an output of the programs' redirects.</summary>
    public void AddPort(int ifindex)
    {
        int rc = Bpf.UpdateElem(DevMapFd, (uint)ifindex, (uint)ifindex);
        if (rc < 0) throw new IOException($"adding ifindex {ifindex} to the port map failed: {LibC.StrError(-rc)}");
    }

    /// <summary>Whether <see cref="Put"/> of <paramref name="key"/> finds room (a key of the table: a free way in its bucket, or its own).</summary>
    internal bool HasRoom(in XdpFlowKey key)
    {
        if (key.Ipv6Addresses is not null) return true;
        Span<byte> k = stackalloc byte[XdpFlowProgram.KeySize];
        key.Write(k);
        return Table.HasRoom(k);
    }

    /// <summary>Writes (adds or replaces) a flow; false when the table has no room for its key (<see cref="HasRoom"/>).</summary>
    internal bool Put(in XdpFlowKey key, in XdpFlowAction action)
    {
        Span<byte> k = stackalloc byte[key.Size];
        Span<byte> v = stackalloc byte[XdpFlowProgram.ValueSize];
        key.Write(k);
        action.Write(v);
        if (key.Ipv6Addresses is null) return Table.Put(k, v);
        int rc = Bpf.UpdateElem(Ipv6FlowsFd, k, v);
        if (rc < 0) throw new IOException($"writing a flow to the IPv6 flow map failed: {LibC.StrError(-rc)}");
        return true;
    }

    /// <summary>Removes a flow; true when it was there.</summary>
    internal bool Delete(in XdpFlowKey key)
    {
        Span<byte> k = stackalloc byte[key.Size];
        key.Write(k);
        if (key.Ipv6Addresses is null) return Table.Delete(k);
        int rc = Bpf.DeleteElem(Ipv6FlowsFd, k);
        if (rc < 0 && rc != -LibC.ENOENT) throw new IOException($"deleting a flow from the IPv6 flow map failed: {LibC.StrError(-rc)}");
        return rc == 0;
    }

    /// <summary>The packets and bytes counted in <paramref name="slot"/>, summed over the CPUs.</summary>
    public (long Packets, long Bytes) ReadCounters(uint slot)
    {
        int rc = Bpf.LookupElem(CountersFd, MemoryMarshalBytes(ref slot), _counters);
        if (rc < 0) throw new IOException($"reading flow counters failed: {LibC.StrError(-rc)}");
        long p = 0, b = 0;
        for (int c = 0; c < _cpus; c++)
        {
            p += BinaryPrimitives.ReadInt64LittleEndian(_counters.AsSpan(c * XdpFlowProgram.CounterSize));
            b += BinaryPrimitives.ReadInt64LittleEndian(_counters.AsSpan((c * XdpFlowProgram.CounterSize) + 8));
        }
        return (p, b);
    }

    /// <summary>Sets <paramref name="slot"/>'s counters to zero on every CPU.</summary>
    public void ClearCounters(uint slot)
    {
        Array.Clear(_counters);
        int rc = Bpf.UpdateElem(CountersFd, MemoryMarshalBytes(ref slot), _counters);
        if (rc < 0) throw new IOException($"clearing flow counters failed: {LibC.StrError(-rc)}");
    }

    private static Span<byte> MemoryMarshalBytes(ref uint v) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(new Span<uint>(ref v));

    public void Dispose()
    {
        Table?.Dispose();
        if (Ipv6FlowsFd >= 0) { LibC.close(Ipv6FlowsFd); Ipv6FlowsFd = -1; }
        if (CountersFd >= 0) { LibC.close(CountersFd); CountersFd = -1; }
        if (DevMapFd >= 0) { LibC.close(DevMapFd); DevMapFd = -1; }
    }
}
