using System.Buffers.Binary;
using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire.Tests.Of13;

/// <summary>
/// A multipart reply split into parts: each part's length and each entry's length say the bytes that follow, and an
/// entry longer than a part can hold is left out and counted rather than written with a wrapped length.
/// </summary>
public sealed class Of13ReplyWriterTests
{
    private static void Entry(Ofp13ReplyWriter reply, int size, byte fill)
    {
        reply.BeginEntry();
        var w = reply.Writer;
        w.U16((ushort)size);
        for (int i = 2; i < size; i++) w.U8(fill);
        reply.EndEntry();
    }

    /// <summary>The entries of every part, as (length field, fill byte), each checked against the part's bytes.</summary>
    private static List<(int Size, byte Fill)> Entries(List<byte[]> parts)
    {
        var entries = new List<(int, byte)>();
        for (int p = 0; p < parts.Count; p++)
        {
            var part = parts[p];
            Assert.Equal(part.Length, BinaryPrimitives.ReadUInt16BigEndian(part.AsSpan(2)));
            Assert.Equal(p < parts.Count - 1 ? Ofp13Multipart.More : 0, BinaryPrimitives.ReadUInt16BigEndian(part.AsSpan(10)));
            for (int at = Ofp13Multipart.HeaderSize; at < part.Length;)
            {
                int size = BinaryPrimitives.ReadUInt16BigEndian(part.AsSpan(at));
                Assert.InRange(size, 3, part.Length - at);
                entries.Add((size, part[at + 2]));
                at += size;
            }
        }
        return entries;
    }

    [Fact]
    public void EntriesUpToTheLimit_GoOutWhole_OnePartEach()
    {
        var parts = new List<byte[]>();
        var reply = new Ofp13ReplyWriter(Ofp13.Version, Ofp13MultipartType.Flow, 7, parts.Add);
        Entry(reply, Ofp13Multipart.MaxEntrySize, 1);
        Entry(reply, Ofp13Multipart.MaxEntrySize, 2);
        Entry(reply, 8, 3);
        reply.Finish();
        Assert.Equal([(Ofp13Multipart.MaxEntrySize, 1), (Ofp13Multipart.MaxEntrySize, 2), (8, 3)], Entries(parts));
        Assert.Equal(0, reply.SkippedCount);
    }

    [Fact]
    public void AnEntryPastTheLimit_IsLeftOutAndCounted_TheOthersGoOut()
    {
        var parts = new List<byte[]>();
        var reply = new Ofp13ReplyWriter(Ofp13.Version, Ofp13MultipartType.GroupDesc, 7, parts.Add);
        Entry(reply, 16, 1);
        Entry(reply, Ofp13Multipart.MaxEntrySize + 1, 2);
        Entry(reply, 4472, 3);
        reply.Finish();
        Assert.Equal([(16, 1), (4472, 3)], Entries(parts));
        Assert.Equal(1, reply.SkippedCount);
    }
}
