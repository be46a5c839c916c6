using System.Buffers.Binary;

namespace Softswitch.OfWire;

/// <summary>NXAST_SAMPLE, NXAST_SAMPLE2 and NXAST_SAMPLE3 (ovs lib/ofp-actions.c, struct nx_action_sample, nx_action_sample2).</summary>
public readonly partial record struct NxAction
{
    // As Open vSwitch decodes them: probability 0 is BAD_ARGUMENT; SAMPLE2 reads neither its direction byte nor its
    // zeros (its direction is the default); SAMPLE3's zeros not zero are NXBRC_MUST_BE_ZERO, a direction other than
    // 0 (default), 1 (ingress) or 2 (egress) BAD_ARGUMENT. SAMPLE's sampling port is OFPP_NONE.

    /// <summary>NX_ACTION_SAMPLE_DEFAULT, _INGRESS and _EGRESS: which way a sample's record is said to go.</summary>
    public const byte SampleDefault = 0, SampleIngress = 1, SampleEgress = 2;
    /// <summary>OFPP_NONE as a sample's 16-bit sampling_port: none.</summary>
    public const ushort SampleNoPort = 0xffff;

    /// <summary>
    /// sample(probability=...,collector_set_id=...,obs_domain_id=...,obs_point_id=...[,sampling_port=...][,ingress|egress]) as
    /// Open vSwitch's encode_SAMPLE writes it: SAMPLE3 when <paramref name="raw"/> is SAMPLE3 or a direction is given,
    /// else SAMPLE2 when <paramref name="raw"/> is SAMPLE2 or a sampling port is given, else SAMPLE.
    /// </summary>
    public static NxAction Sample(ushort probability, uint collectorSetId, uint obsDomainId, uint obsPointId, ushort samplingPort = SampleNoPort,
                                  byte direction = SampleDefault, NxActionSubtype raw = NxActionSubtype.Sample)
    {
        var subtype = raw == NxActionSubtype.Sample3 || direction != SampleDefault ? NxActionSubtype.Sample3
            : raw == NxActionSubtype.Sample2 || samplingPort != SampleNoPort ? NxActionSubtype.Sample2
            : NxActionSubtype.Sample;
        return new(subtype, Arg: collectorSetId, MaxLen: probability, Value: obsDomainId | (UInt128)obsPointId << 32, InPort: samplingPort, Table: direction);
    }

    /// <summary>A sample's probability: packets sampled out of 65535 (1 to 65535).</summary>
    public ushort SampleProbability => MaxLen;
    /// <summary>A sample's collector set id (a Flow_Sample_Collector_Set row's id).</summary>
    public uint SampleCollectorSetId => (uint)Arg;
    /// <summary>A sample's observation domain id.</summary>
    public uint SampleObsDomainId => (uint)Value;
    /// <summary>A sample's observation point id.</summary>
    public uint SampleObsPointId => (uint)(Value >> 32);
    /// <summary>A sample's sampling port (<see cref="SampleNoPort"/>: none).</summary>
    public ushort SamplingPort => InPort;
    /// <summary>A sample's direction (<see cref="SampleDefault"/>, <see cref="SampleIngress"/>, <see cref="SampleEgress"/>).</summary>
    public byte SampleDirection => Table;

    // b, what the decoder reads, is the action from its subtype (offset 8): b[k] is offset 8 + k.
    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |          type: 0xffff         |              len              |   0
    // +-------------------------------+-------------------------------+
    // |                       vendor: 0x00002320                      |   4
    // +-------------------------------+-------------------------------+
    // |     subtype: 29 / 38 / 41     |          probability          |   8
    // +-------------------------------+-------------------------------+
    // |                        collector_set_id                       |  12
    // +---------------------------------------------------------------+
    // |                         obs_domain_id                         |  16
    // +---------------------------------------------------------------+
    // |                          obs_point_id                         |  20
    // +-------------------------------+---------------+---------------+
    // |         sampling_port         |   direction   |     zeros     |  24
    // +-------------------------------+---------------+---------------+
    // |                             zeros                             |  28
    // +---------------------------------------------------------------+
    // SAMPLE (29) ends at 24; SAMPLE2 (38) and SAMPLE3 (41) are 32 bytes.
    private static bool TrySample(ReadOnlySpan<byte> b, NxActionSubtype subtype, out NxAction nx, out NxActionError error)
    {
        nx = default;
        if (b.Length != (subtype == NxActionSubtype.Sample ? 16 : 24)) return Fail(NxActionError.BadLen, out error);
        ushort port = SampleNoPort;
        byte direction = SampleDefault;
        if (subtype != NxActionSubtype.Sample) port = BinaryPrimitives.ReadUInt16BigEndian(b[16..]);
        if (subtype == NxActionSubtype.Sample3)
        {
            if (b[19..24].ContainsAnyExcept((byte)0)) return Fail(NxActionError.MustBeZero, out error);
            direction = b[18];
            if (direction > SampleEgress) return Fail(NxActionError.BadArgument, out error);
        }
        ushort probability = BinaryPrimitives.ReadUInt16BigEndian(b[2..]);
        if (probability == 0) return Fail(NxActionError.BadArgument, out error);
        error = default;
        nx = new(subtype, Arg: BinaryPrimitives.ReadUInt32BigEndian(b[4..]), MaxLen: probability,
                 Value: BinaryPrimitives.ReadUInt32BigEndian(b[8..]) | (UInt128)BinaryPrimitives.ReadUInt32BigEndian(b[12..]) << 32,
                 InPort: port, Table: direction);
        return true;
    }

    private void WriteSample(Span<byte> dest)
    {
        BinaryPrimitives.WriteUInt16BigEndian(dest[2..], SampleProbability);
        BinaryPrimitives.WriteUInt32BigEndian(dest[4..], SampleCollectorSetId);
        BinaryPrimitives.WriteUInt32BigEndian(dest[8..], SampleObsDomainId);
        BinaryPrimitives.WriteUInt32BigEndian(dest[12..], SampleObsPointId);
        if (Subtype == NxActionSubtype.Sample) return;
        BinaryPrimitives.WriteUInt16BigEndian(dest[16..], SamplingPort);
        dest[18] = SampleDirection; // as encode_SAMPLE2, for SAMPLE2 too (0 there)
    }
}
