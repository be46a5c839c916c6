using System.Buffers.Binary;

namespace Softswitch.TestKit;

/// <summary>One field specifier of a template: element id (enterprise bit cleared), length (65535: variable), enterprise number (0: IANA).</summary>
public readonly record struct IpfixFieldSpec(ushort Id, ushort Length, uint Enterprise);

/// <summary>One IPFIX message's header and what it held.</summary>
public sealed record IpfixMessageInfo(ushort Version, int Length, uint ExportTime, uint Sequence, uint Domain, int DataRecords, IReadOnlyList<ushort> TemplateIds,
    IReadOnlyList<ushort> SetIds);

/// <summary>One data record: its template, its domain and its values in template order (element id, bytes).</summary>
public sealed record IpfixDataRecord(ushort TemplateId, uint Domain, IReadOnlyList<(IpfixFieldSpec Field, byte[] Value)> Values)
{
    /// <summary>The first value of element <paramref name="id"/> (IANA's) as an unsigned big-endian number.</summary>
    public ulong U(ushort id)
    {
        foreach (var (f, v) in Values)
        {
            if (f.Id != id || f.Enterprise != 0) continue;
            ulong n = 0;
            foreach (byte b in v) n = (n << 8) | b;
            return n;
        }
        throw new KeyNotFoundException($"template {TemplateId} has no element {id}");
    }

    /// <summary>The values of element <paramref name="id"/>, in order.</summary>
    public IEnumerable<byte[]> All(ushort id, uint enterprise = 0) => Values.Where(p => p.Field.Id == id && p.Field.Enterprise == enterprise).Select(p => p.Value);
}

/// <summary>
/// A test's own IPFIX (RFC 7011) decoder, written from the RFC and independent of the exporter: it reads messages,
/// template and options template sets, and data sets by their templates, and lists every inconsistency it finds
/// (a version other than 10, a length that does not match, a set that overruns, a data set without a template, a
/// record that does not fill its set but for padding under the shortest record).
/// </summary>
public sealed class IpfixDecoder
{
    public Dictionary<(uint Domain, ushort Id), IReadOnlyList<IpfixFieldSpec>> Templates { get; } = [];
    public List<IpfixMessageInfo> Messages { get; } = [];
    public List<IpfixDataRecord> Records { get; } = [];
    public List<string> Errors { get; } = [];

    public static IpfixDecoder Decode(IEnumerable<byte[]> messages)
    {
        var d = new IpfixDecoder();
        foreach (var m in messages) d.Read(m);
        return d;
    }

    public void Read(byte[] m)
    {
        if (m.Length < 16)
        {
            Errors.Add($"message of {m.Length} bytes");
            return;
        }
        ushort version = BinaryPrimitives.ReadUInt16BigEndian(m);
        int length = BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(2));
        uint export = BinaryPrimitives.ReadUInt32BigEndian(m.AsSpan(4));
        uint seq = BinaryPrimitives.ReadUInt32BigEndian(m.AsSpan(8));
        uint domain = BinaryPrimitives.ReadUInt32BigEndian(m.AsSpan(12));
        if (version != 10) Errors.Add($"version {version}");
        if (length != m.Length) Errors.Add($"header length {length}, datagram {m.Length}");
        int records = 0;
        var templateIds = new List<ushort>();
        var setIds = new List<ushort>();
        int at = 16;
        while (at < m.Length)
        {
            if (at + 4 > m.Length)
            {
                Errors.Add($"set header cut at {at}");
                break;
            }
            ushort setId = BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(at));
            int setLength = BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(at + 2));
            setIds.Add(setId);
            if (setLength < 4 || at + setLength > m.Length)
            {
                Errors.Add($"set {setId} of length {setLength} at {at} overruns the message");
                break;
            }
            var body = m.AsSpan(at + 4, setLength - 4);
            if (setId is 2 or 3) ReadTemplates(body, domain, options: setId == 3, templateIds);
            else if (setId >= 256) records += ReadData(body, domain, setId);
            else Errors.Add($"set id {setId}");
            at += setLength;
        }
        Messages.Add(new IpfixMessageInfo(version, length, export, seq, domain, records, templateIds, setIds));
    }

    private void ReadTemplates(ReadOnlySpan<byte> body, uint domain, bool options, List<ushort> ids)
    {
        int at = 0;
        while (at + 4 <= body.Length)
        {
            ushort id = BinaryPrimitives.ReadUInt16BigEndian(body[at..]);
            int count = BinaryPrimitives.ReadUInt16BigEndian(body[(at + 2)..]);
            at += options ? 6 : 4;
            var fields = new List<IpfixFieldSpec>();
            for (int i = 0; i < count; i++)
            {
                if (at + 4 > body.Length)
                {
                    Errors.Add($"template {id} cut");
                    return;
                }
                ushort e = BinaryPrimitives.ReadUInt16BigEndian(body[at..]);
                ushort len = BinaryPrimitives.ReadUInt16BigEndian(body[(at + 2)..]);
                at += 4;
                uint ent = 0;
                if ((e & 0x8000) != 0)
                {
                    ent = BinaryPrimitives.ReadUInt32BigEndian(body[at..]);
                    at += 4;
                }
                fields.Add(new IpfixFieldSpec((ushort)(e & 0x7FFF), len, ent));
            }
            if (id < 256) Errors.Add($"template id {id}");
            Templates[(domain, id)] = fields;
            ids.Add(id);
        }
        if (at != body.Length) Errors.Add($"{body.Length - at} bytes left in a template set");
    }

    private int ReadData(ReadOnlySpan<byte> body, uint domain, ushort id)
    {
        if (!Templates.TryGetValue((domain, id), out var fields))
        {
            Errors.Add($"data set {id} in domain {domain} before its template");
            return 0;
        }
        int at = 0, n = 0;
        int shortest = fields.Sum(f => f.Length == 0xFFFF ? 1 : f.Length);
        while (body.Length - at >= shortest)
        {
            var values = new List<(IpfixFieldSpec, byte[])>();
            foreach (var f in fields)
            {
                int len = f.Length;
                if (len == 0xFFFF)
                {
                    if (at >= body.Length)
                    {
                        Errors.Add($"record of {id} cut");
                        return n;
                    }
                    len = body[at++];
                    if (len == 255)
                    {
                        len = BinaryPrimitives.ReadUInt16BigEndian(body[at..]);
                        at += 2;
                    }
                }
                if (at + len > body.Length)
                {
                    Errors.Add($"record of {id} overruns its set");
                    return n;
                }
                values.Add((f, body.Slice(at, len).ToArray()));
                at += len;
            }
            Records.Add(new IpfixDataRecord(id, domain, values));
            n++;
        }
        if (at != body.Length) Errors.Add($"{body.Length - at} bytes left after the records of set {id}");
        return n;
    }
}
