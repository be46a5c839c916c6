using System.Diagnostics.CodeAnalysis;

namespace Softswitch.OfWire.Of13;

/// <summary>ofp_table_feature_prop_type.</summary>
public enum Ofp13TableFeatureType : ushort
{
    Instructions = 0, InstructionsMiss = 1, NextTables = 2, NextTablesMiss = 3, WriteActions = 4, WriteActionsMiss = 5,
    ApplyActions = 6, ApplyActionsMiss = 7, Match = 8, Wildcards = 10, WriteSetField = 12, WriteSetFieldMiss = 13,
    ApplySetField = 14, ApplySetFieldMiss = 15, Experimenter = 0xfffe, ExperimenterMiss = 0xffff,
}

/// <summary>
/// One table feature property: its type and its elements, each as wide as the type says: an instruction or action
/// type (ofp_instruction / ofp_action_header of 4 bytes, the value is the type), a table id (1 byte), or an OXM
/// header (4 bytes, the value is the whole header). The body is padded to 8; the length field leaves the pad out.
/// </summary>
public sealed record Ofp13TableFeatureProperty(Ofp13TableFeatureType Type, uint[] Items)
{
    /// <summary>Bytes per element of a property type; 0 for experimenter properties (not kept).</summary>
    public static int ItemSize(Ofp13TableFeatureType type) => type switch
    {
        Ofp13TableFeatureType.NextTables or Ofp13TableFeatureType.NextTablesMiss => 1,
        Ofp13TableFeatureType.Experimenter or Ofp13TableFeatureType.ExperimenterMiss => 0,
        _ when (ushort)type <= 15 && (ushort)type != 9 && (ushort)type != 11 => 4,
        _ => 0,
    };

    private static bool IsTypeList(Ofp13TableFeatureType type) => (ushort)type <= 7 && ItemSize(type) == 4;

    public void Write(Ofp13Writer w)
    {
        int start = w.Position;
        w.U16((ushort)Type); w.U16(0);
        int item = ItemSize(Type);
        bool typeList = IsTypeList(Type);
        foreach (uint v in Items)
        {
            if (item == 1)
            {
                w.U8((byte)v);
            }
            else if (typeList)
            {
                w.U16((ushort)v); w.U16(4);
            }
            else
            {
                w.U32(v);
            }
        }
        w.PatchU16(start + 2, (ushort)(w.Position - start));
        w.Pad8(start);
    }

    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |              type             |             length            |   0
    // +---------------------------------------------------------------+
    // |      instruction/action ids (type, len 4), table ids (1),     |   4
    // +---------------------------------------------------------------+
    // |               or OXM headers (4 each), to length              |   4
    // +---------------------------------------------------------------+
    // |                     pad to a multiple of 8                    | len
    // +---------------------------------------------------------------+
    /// <summary>Reads one property and its pad; false for a length that does not fit, an experimenter property or element.</summary>
    public static bool TryRead(ReadOnlySpan<byte> s, [MaybeNullWhen(false)] out Ofp13TableFeatureProperty prop, out int size)
    {
        prop = null;
        size = 0;
        if (s.Length < 4) return false;
        var type = (Ofp13TableFeatureType)Be.U16(s, 0);
        int len = Be.U16(s, 2);
        size = (len + 7) & ~7;
        int item = ItemSize(type);
        if (len < 4 || size > s.Length || item == 0 || (len - 4) % item != 0) return false;
        var body = s[4..len];
        var items = new uint[body.Length / item];
        bool typeList = IsTypeList(type);
        for (int i = 0; i < items.Length; i++)
        {
            if (item == 1)
            {
                items[i] = body[i];
            }
            else if (typeList)
            {
                if (Be.U16(body, 4 * i + 2) != 4) return false; // an experimenter instruction or action id
                items[i] = Be.U16(body, 4 * i);
            }
            else
            {
                items[i] = Be.U32(body, 4 * i);
                if (items[i] >> 16 == Ofp13.OxmClassExperimenter) return false;
            }
        }
        prop = new(type, items);
        return true;
    }
}

/// <summary>OFPMP_TABLE_FEATURES' entry, ofp_table_features: 64 bytes and the properties.</summary>
public sealed record Ofp13TableFeatures(byte TableId, string Name, ulong MetadataMatch, ulong MetadataWrite, uint Config, uint MaxEntries,
                                        List<Ofp13TableFeatureProperty> Properties) : IOfp13Entry<Ofp13TableFeatures>
{
    public void Write(Ofp13Writer w)
    {
        int start = w.Position;
        w.U16(0); w.U8(TableId); w.Zeros(5);
        w.FixedString(Name, Ofp13.MaxTableNameLen);
        w.U64(MetadataMatch); w.U64(MetadataWrite); w.U32(Config); w.U32(MaxEntries);
        foreach (var p in Properties) p.Write(w);
        w.PatchU16(start, (ushort)(w.Position - start));
    }

    //  0                   1                   2                   3
    // +-------------------------------+---------------+---------------+
    // |             length            |    table_id   |      pad      |   0
    // +---------------------------------------------------------------+
    // |                              pad                              |   4
    // +---------------------------------------------------------------+
    // |                           name (32)                           |   8
    // +---------------------------------------------------------------+
    // |                       metadata_match (8)                      |  40
    // +---------------------------------------------------------------+
    // |                       metadata_write (8)                      |  48
    // +---------------------------------------------------------------+
    // |                             config                            |  56
    // +---------------------------------------------------------------+
    // |                          max_entries                          |  60
    // +---------------------------------------------------------------+
    // |                     properties (to length)                    |  64
    // +---------------------------------------------------------------+
    public static bool TryRead(ReadOnlySpan<byte> s, [MaybeNullWhen(false)] out Ofp13TableFeatures entry, out int size)
    {
        entry = null;
        size = 0;
        if (s.Length < 64) return false;
        size = Be.U16(s, 0);
        if (size < 64 || size > s.Length) return false;
        var props = new List<Ofp13TableFeatureProperty>();
        var rest = s[64..size];
        while (!rest.IsEmpty)
        {
            if (!Ofp13TableFeatureProperty.TryRead(rest, out var p, out int n)) return false;
            props.Add(p);
            rest = rest[n..];
        }
        entry = new(s[2], Ofp13Entries.ReadFixedString(s.Slice(8, Ofp13.MaxTableNameLen)), Be.U64(s, 40), Be.U64(s, 48), Be.U32(s, 56),
                    Be.U32(s, 60), props);
        return true;
    }
}
