using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Forwarding;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// The upcall ring: packets come out in order and whole, a full ring refuses, and a ring that never holds more than k
/// packets writes only k frame slots (so only their pages become resident), however many packets pass through it.
/// </summary>
public sealed class UpcallRingTests
{
    private const int Slots = 16;
    private const int MaxFrame = 2048;

    private static byte[] Frame(int n, int length = 64)
    {
        var f = new byte[length];
        for (int i = 0; i < f.Length; i++) f[i] = (byte)(n + i);
        return f;
    }

    /// <summary>What the handler was given: each frame's first byte and length, and its port.</summary>
    private sealed class Seen
    {
        public readonly List<byte> FirstBytes = [];
        public readonly List<int> Lengths = [];
        public readonly List<ushort> InPorts = [];

        public void Add(in Upcall u)
        {
            FirstBytes.Add(u.Frame[0]);
            Lengths.Add(u.Frame.Length);
            InPorts.Add(u.InPort);
        }
    }

    [Fact]
    public void APacketAtATime_ReusesOneFrameSlot()
    {
        using var signal = new ManualResetEventSlim();
        var ring = new UpcallRing(Slots, MaxFrame, signal);
        var seen = new Seen();
        for (int n = 0; n < 10 * Slots; n++)
        {
            Assert.Null(ring.TryEnqueue(Frame(n, 60 + n), (ushort)(n + 1), UpcallReason.Miss, 128, 0, 0, 0));
            Assert.Equal(1, ring.Drain((in Upcall u) => seen.Add(u)));
        }
        // One frame slot for 160 packets: the ring's other slots were never written.
        Assert.Equal(1, ring.FrameSlotsWritten);
        for (int n = 0; n < 10 * Slots; n++)
        {
            Assert.Equal((byte)n, seen.FirstBytes[n]);
            Assert.Equal((ushort)(n + 1), seen.InPorts[n]);
            Assert.Equal(60 + n, seen.Lengths[n]);
        }
    }

    [Fact]
    public void FourHeldAtMost_UseFourFrameSlots_InOrder()
    {
        using var signal = new ManualResetEventSlim();
        var ring = new UpcallRing(Slots, MaxFrame, signal);
        var seen = new Seen();
        int next = 0;
        for (int round = 0; round < 20; round++)
        {
            for (int k = 0; k < 3; k++, next++) Assert.Null(ring.TryEnqueue(Frame(next), 1, UpcallReason.Miss, 128, 0, 0, 0));
            // Drain two and leave one queued into the next round (then four at most are held), or drain all: what is
            // left comes out first, intact.
            Assert.Equal(round % 2 == 0 ? 2 : 4, ring.Drain((in Upcall u) => seen.Add(u), max: round % 2 == 0 ? 2 : 4));
        }
        ring.Drain((in Upcall u) => seen.Add(u));
        Assert.Equal(4, ring.FrameSlotsWritten); // the most ever held at once: three, and the one left
        Assert.Equal(60, seen.FirstBytes.Count);
        for (int n = 0; n < 60; n++) Assert.Equal((byte)n, seen.FirstBytes[n]);
    }

    [Fact]
    public void AFullRing_Refuses_ThenTakesAgainOnceDrained()
    {
        using var signal = new ManualResetEventSlim();
        var ring = new UpcallRing(Slots, MaxFrame, signal);
        for (int n = 0; n < Slots; n++) Assert.Null(ring.TryEnqueue(Frame(n), 1, UpcallReason.Miss, 128, 0, 0, 0));
        Assert.Equal(DropReason.UpcallQueueFull, ring.TryEnqueue(Frame(99), 1, UpcallReason.Miss, 128, 0, 0, 0));
        var seen = new Seen();
        Assert.Equal(Slots, ring.Drain((in Upcall u) => seen.Add(u)));
        Assert.Equal(Slots, ring.FrameSlotsWritten); // all held at once: every slot
        for (int n = 0; n < Slots; n++) Assert.Null(ring.TryEnqueue(Frame(n), 1, UpcallReason.Miss, 128, 0, 0, 0));
        Assert.Equal(DropReason.UpcallQueueFull, ring.TryEnqueue(Frame(99), 1, UpcallReason.Miss, 128, 0, 0, 0));
        Assert.Equal(Slots, ring.Count);
    }
}
