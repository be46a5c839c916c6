using System.Runtime.InteropServices;

namespace Softswitch.OfWire.Of13;

/// <summary>
/// Encoders of the OpenFlow 1.3 messages a controller sends and <see cref="Ofp13Messages"/> decodes (FLOW_MOD and
/// PACKET_OUT encode themselves): each writes what its decoder reads, pads as zero, so that a decoded message written
/// again decodes to the same fields.
/// </summary>
public static class Ofp13Requests
{
    public static byte[] GroupMod(Ofp13GroupMod m)
    {
        var w = new Ofp13Writer(64);
        int start = w.Begin(Ofp13.Version, Ofp13Type.GroupMod, m.Xid);
        w.U16(m.Command); w.U8(m.GroupType); w.U8(0); w.U32(m.GroupId);
        Ofp13Messages.WriteBuckets(w, m.Buckets);
        w.Finish(start);
        return w.ToArray();
    }

    public static byte[] MeterMod(Ofp13MeterMod m)
    {
        var w = new Ofp13Writer(64);
        int start = w.Begin(Ofp13.Version, Ofp13Type.MeterMod, m.Xid);
        w.U16(m.Command); w.U16(m.Flags); w.U32(m.MeterId);
        Ofp13Messages.WriteBands(w, m.Bands);
        w.Finish(start);
        return w.ToArray();
    }

    public static byte[] PortMod(uint xid, uint port, ulong hwAddr, uint config, uint mask, uint advertise)
    {
        var w = new Ofp13Writer(40);
        int start = w.Begin(Ofp13.Version, Ofp13Type.PortMod, xid);
        w.U32(port); w.Zeros(4); w.Mac(hwAddr); w.Zeros(2); w.U32(config); w.U32(mask); w.U32(advertise); w.Zeros(4);
        w.Finish(start);
        return w.ToArray();
    }

    public static byte[] TableMod(uint xid, byte tableId, uint config)
    {
        var w = new Ofp13Writer(16);
        int start = w.Begin(Ofp13.Version, Ofp13Type.TableMod, xid);
        w.U8(tableId); w.Zeros(3); w.U32(config);
        w.Finish(start);
        return w.ToArray();
    }

    public static byte[] SetConfig(uint xid, ushort flags, ushort missSendLen)
    {
        var w = new Ofp13Writer(12);
        int start = w.Begin(Ofp13.Version, Ofp13Type.SetConfig, xid);
        w.U16(flags); w.U16(missSendLen);
        w.Finish(start);
        return w.ToArray();
    }

    public static byte[] RoleRequest(uint xid, uint role, ulong generationId)
    {
        var w = new Ofp13Writer(24);
        int start = w.Begin(Ofp13.Version, Ofp13Type.RoleRequest, xid);
        w.U32(role); w.Zeros(4); w.U64(generationId);
        w.Finish(start);
        return w.ToArray();
    }

    public static byte[] SetAsync(uint xid, ReadOnlySpan<uint> masks)
    {
        var w = new Ofp13Writer(32);
        int start = w.Begin(Ofp13.Version, Ofp13Type.SetAsync, xid);
        foreach (uint m in masks[..6]) w.U32(m);
        w.Finish(start);
        return w.ToArray();
    }

    public static byte[] QueueGetConfig(uint xid, uint port)
    {
        var w = new Ofp13Writer(16);
        int start = w.Begin(Ofp13.Version, Ofp13Type.QueueGetConfigRequest, xid);
        w.U32(port); w.Zeros(4);
        w.Finish(start);
        return w.ToArray();
    }

    /// <summary>A MULTIPART_REQUEST of <paramref name="type"/> with <paramref name="body"/>.</summary>
    public static byte[] Multipart(uint xid, Ofp13MultipartType type, ushort flags, ReadOnlySpan<byte> body)
    {
        var w = new Ofp13Writer(Ofp13Multipart.HeaderSize + body.Length);
        int start = w.Begin(Ofp13.Version, Ofp13Type.MultipartRequest, xid);
        w.U16((ushort)type); w.U16(flags); w.Zeros(4);
        w.Bytes(body);
        w.Finish(start);
        return w.ToArray();
    }

    /// <summary>The body of a FLOW or AGGREGATE request.</summary>
    public static byte[] FlowStatsRequest(Ofp13FlowStatsRequest r)
    {
        var w = new Ofp13Writer(48);
        w.U8(r.TableId); w.Zeros(3); w.U32(r.OutPort); w.U32(r.OutGroup); w.Zeros(4); w.U64(r.Cookie); w.U64(r.CookieMask);
        Ofp13Match.Encode(w, CollectionsMarshal.AsSpan(r.Match));
        return w.ToArray();
    }

    /// <summary>The body of PORT_STATS, GROUP, METER and METER_CONFIG requests.</summary>
    public static byte[] IdRequest(uint id)
    {
        var w = new Ofp13Writer(8);
        w.U32(id); w.Zeros(4);
        return w.ToArray();
    }

    /// <summary>The body of a QUEUE request.</summary>
    public static byte[] QueueRequest(uint port, uint queue)
    {
        var w = new Ofp13Writer(8);
        w.U32(port); w.U32(queue);
        return w.ToArray();
    }
}
