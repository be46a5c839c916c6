using System.Buffers.Binary;
using System.Net;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Ports;

namespace Softswitch.Sflow;

/// <summary>The generic interface counters of one port, as a counter sample reports them (ifTable's words).</summary>
internal readonly record struct SflowInterfaceCounters(uint IfIndex, ulong Speed, uint Direction, uint Status,
    ulong InOctets, uint InPackets, uint InDiscards, uint InErrors, ulong OutOctets, uint OutPackets, uint OutDiscards, uint OutErrors);

/// <summary>
/// Builds one sFlow version 5 datagram (sflow.org, "sFlow Version 5", section 5): a header, then flow samples and
/// counter samples until the next would not fit in <see cref="MaxSize"/> bytes. Every field is a big-endian 32-bit
/// word (64-bit counters two words), opaque data padded to 4 bytes.
/// </summary>
/// <remarks>
/// <code>
/// datagram:      version=5 | agent address type (1 IPv4, 2 IPv6) | agent address (4 or 16) | sub_agent_id |
///                sequence_number | uptime (ms) | number of samples | samples...
/// sample:        data_format (enterprise &lt;&lt; 12 | format) | length | body
/// flow_sample (0:1):    sequence_number | source_id (type &lt;&lt; 24 | index) | sampling_rate | sample_pool | drops |
///                       input | output | number of records | records...
/// counters_sample (0:2): sequence_number | source_id | number of records | records...
/// record:        data_format | length | body
/// sampled_header (0:1):  header_protocol (1 Ethernet) | frame_length | stripped | header length | header bytes, padded
/// if_counters (0:1):     ifIndex | ifType | ifSpeed (64) | ifDirection | ifStatus | ifInOctets (64) | ifInUcastPkts |
///                        ifInMulticastPkts | ifInBroadcastPkts | ifInDiscards | ifInErrors | ifInUnknownProtos |
///                        ifOutOctets (64) | ifOutUcastPkts | ifOutMulticastPkts | ifOutBroadcastPkts | ifOutDiscards |
///                        ifOutErrors | ifPromiscuousMode
/// </code>
/// Interface indexes are OpenFlow port numbers. A flow sample's output is the port, 0x40000000 | 256 for a dropped
/// packet, 0x80000000 | n for n outputs (0x80000000 alone when the number is not known: flood, NORMAL), and 0 when not
/// known (a table miss), as Open vSwitch reports them. Not thread safe: the exporter thread's own.
/// </remarks>
internal sealed class SflowDatagram
{
    /// <summary>The largest datagram (Open vSwitch's default): fits an Ethernet MTU with room for tunnels.</summary>
    public const int MaxSize = 1400;
    /// <summary>A counter sample: sample header, its fields, one record header and the 88-byte generic counters.</summary>
    public const int CounterSampleSize = 8 + 12 + 8 + 88;
    /// <summary>The unknown value of a 32-bit counter.</summary>
    private const uint Unknown = uint.MaxValue;

    private readonly byte[] _buf = new byte[MaxSize];
    private readonly byte[] _agent;
    private readonly uint _subAgent;
    private int _length;
    private int _headerLength;
    private uint _samples;

    public SflowDatagram(IPAddress agent, uint subAgent = 0)
    {
        _agent = agent.IsIPv4MappedToIPv6 ? agent.MapToIPv4().GetAddressBytes() : agent.GetAddressBytes();
        _subAgent = subAgent;
    }

    /// <summary>Samples in the datagram being built.</summary>
    public int SampleCount => (int)_samples;
    public int Length => _length;

    /// <summary>Starts a datagram: the header, with 0 samples so far.</summary>
    public void Begin(uint sequence, uint uptimeMs)
    {
        _length = 0;
        _samples = 0;
        Word(5);
        Word(_agent.Length == 4 ? 1u : 2u);
        _agent.CopyTo(_buf.AsSpan(_length));
        _length += _agent.Length;
        Word(_subAgent);
        Word(sequence);
        Word(uptimeMs);
        Word(0); // samples, set by Finish
        _headerLength = _length;
    }

    /// <summary>Bytes a flow sample with <paramref name="headerLength"/> header bytes takes.</summary>
    public static int FlowSampleSize(int headerLength) => 8 + 32 + 8 + 16 + ((headerLength + 3) & ~3);

    public bool Fits(int size) => _length + size <= MaxSize;

    /// <summary>Appends a flow sample; the caller has checked <see cref="Fits"/>.</summary>
    public void AddFlowSample(uint sequence, uint sourceId, uint rate, uint pool, uint drops, uint input, uint output,
        int frameLength, ReadOnlySpan<byte> header)
    {
        int size = FlowSampleSize(header.Length);
        Word(1);
        Word((uint)(size - 8));
        Word(sequence);
        Word(sourceId);
        Word(rate);
        Word(pool);
        Word(drops);
        Word(input);
        Word(output);
        Word(1);
        Word(1); // sampled_header
        Word((uint)(16 + ((header.Length + 3) & ~3)));
        Word(1); // Ethernet (ISO 8023)
        // The frame as on the wire had a 4-byte FCS, which the port stripped (as Open vSwitch reports it).
        Word((uint)frameLength + 4);
        Word(4);
        Word((uint)header.Length);
        header.CopyTo(_buf.AsSpan(_length));
        _buf.AsSpan(_length + header.Length, ((header.Length + 3) & ~3) - header.Length).Clear();
        _length += (header.Length + 3) & ~3;
        _samples++;
    }

    /// <summary>Appends a counter sample with one generic interface counters record; the caller has checked <see cref="Fits"/>.</summary>
    public void AddCounterSample(uint sequence, in SflowInterfaceCounters c)
    {
        Word(2);
        Word(CounterSampleSize - 8);
        Word(sequence);
        Word(c.IfIndex); // source: ifIndex class (0)
        Word(1);
        Word(1); // if_counters
        Word(88);
        Word(c.IfIndex);
        Word(6); // ethernetCsmacd
        Long(c.Speed);
        Word(c.Direction);
        Word(c.Status);
        Long(c.InOctets);
        Word(c.InPackets);
        Word(Unknown); // multicast
        Word(Unknown); // broadcast
        Word(c.InDiscards);
        Word(c.InErrors);
        Word(Unknown); // unknown protocols
        Long(c.OutOctets);
        Word(c.OutPackets);
        Word(Unknown);
        Word(Unknown);
        Word(c.OutDiscards);
        Word(c.OutErrors);
        Word(0); // promiscuous mode
        _samples++;
    }

    /// <summary>The finished datagram (sample count filled in).</summary>
    public ReadOnlySpan<byte> Finish()
    {
        BinaryPrimitives.WriteUInt32BigEndian(_buf.AsSpan(_headerLength - 4), _samples);
        return _buf.AsSpan(0, _length);
    }

    /// <summary>OpenFlow 1.0's number of the LOCAL port (OFPP_LOCAL), its ifIndex here.</summary>
    public const uint LocalIfIndex = 0xFFFE;

    /// <summary>The ifIndex of a datapath port: its OpenFlow port number (the local port's is OFPP_LOCAL).</summary>
    public static uint IfIndex(ushort no) => no == PortNumber.Local ? LocalIfIndex : no;

    /// <summary>A flow sample's output word for a sample's flow (see the remarks).</summary>
    public static uint OutputWord(in PacketSample s)
    {
        if (s.OutputCount < 0) return 0;
        if (s.OutputCount == 0) return 0x4000_0000 | 256;
        if (s.OutputCount > 1) return 0x8000_0000 | (uint)Math.Min(s.OutputCount, 0x3FFF_FFFF);
        return s.OutPort switch
        {
            PortNumber.Flood or PortNumber.All or PortNumber.Normal => 0x8000_0000,
            PortNumber.Local => LocalIfIndex,
            _ when PortNumber.IsNumbered(s.OutPort) => s.OutPort,
            _ => 0x4000_0000 | 256, // controller, table, no port: not sent on any interface
        };
    }

    /// <summary>ifSpeed (bit/s) and ifDirection (1 full, 2 half, 0 unknown) of a port's current link mode.</summary>
    public static (ulong Speed, uint Direction) SpeedOf(PortFeatures f)
    {
        if ((f & PortFeatures.Rate10GbFd) != 0) return (10_000_000_000, 1);
        if ((f & (PortFeatures.Rate1GbFd | PortFeatures.Rate1GbHd)) != 0) return (1_000_000_000, (f & PortFeatures.Rate1GbFd) != 0 ? 1u : 2u);
        if ((f & (PortFeatures.Rate100MbFd | PortFeatures.Rate100MbHd)) != 0) return (100_000_000, (f & PortFeatures.Rate100MbFd) != 0 ? 1u : 2u);
        if ((f & (PortFeatures.Rate10MbFd | PortFeatures.Rate10MbHd)) != 0) return (10_000_000, (f & PortFeatures.Rate10MbFd) != 0 ? 1u : 2u);
        return (0, 0);
    }

    private void Word(uint v)
    {
        BinaryPrimitives.WriteUInt32BigEndian(_buf.AsSpan(_length), v);
        _length += 4;
    }

    private void Long(ulong v)
    {
        BinaryPrimitives.WriteUInt64BigEndian(_buf.AsSpan(_length), v);
        _length += 8;
    }
}
