using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Classifier;

/// <summary>
/// A pipeline run traced as the forwarder runs it, its re-parse points included: at each one (a verdict that ends in
/// <see cref="PipelineEnd.Recirculate"/>) the pass's actions run on the frame, the frame is parsed anew, and the run
/// goes on from the continuation under the new key, as <c>Forwarder</c> does with the packet. Holds
/// every table step, the composed actions of each pass and the frame the last pass starts from. A tool of the control
/// path (it allocates), for traces such as <c>ofproto/trace</c>; never on the packet path.
/// </summary>
public sealed class PipelineTrace
{
    private PipelineTrace(PipelineWalk last, byte[]? frame)
    {
        Last = last;
        Frame = frame;
    }

    /// <summary>Every table looked up, in order, across the passes.</summary>
    public List<PipelineTraceStep> Steps { get; } = [];
    /// <summary>The composed actions of each pass, in order; the last pass's ends with the action set when the run
    /// ended in actions.</summary>
    public List<FlowActions> Passes { get; } = [];
    /// <summary>The walk of the last pass: how the run ended (<see cref="PipelineWalk.End"/>), where it would go on
    /// (<see cref="PipelineWalk.Next"/>: a re-parse point not followed, for want of a frame).</summary>
    public PipelineWalk Last { get; }
    /// <summary>The frame the last pass starts from (the passes before it ran on it), or null: traced without a frame.</summary>
    public byte[]? Frame { get; }

    /// <summary>
    /// Traces <paramref name="key"/> through <paramref name="pipeline"/>, following each re-parse point on
    /// <paramref name="frame"/> (null: the trace stops at the first): <paramref name="run"/> runs a pass's actions on a
    /// frame and returns the frame after them, which is parsed anew on <paramref name="key"/>'s in_port. The packet's
    /// words the key has no room for (<see cref="Registers.PacketWord"/>: TTL, TCP flags) are the frame's when there is
    /// one, else <paramref name="packet"/>; <paramref name="tunnel"/> is the tunnel endpoints' word, <paramref name="dpHash"/>
    /// the dp_hash the run starts with (<see cref="PipelineWalk.Run"/>).
    /// </summary>
    public static PipelineTrace Follow(Pipeline pipeline, in FlowKey key, byte[]? frame, Func<FlowActions, byte[], byte[]> run,
                                       ulong tunnel = 0, ulong packet = 0, uint dpHash = 0)
    {
        var walk = new PipelineWalk();
        var steps = new List<PipelineTraceStep>();
        var passes = new List<FlowActions>();
        if (frame is not null)
        {
            PacketParser.Parse(frame, key.InPort, out _, out var layers);
            packet = PacketWords.Fields(frame, layers);
        }
        walk.Run(pipeline, key, steps, null, tunnel, packet, dpHash);
        passes.Add(new FlowActions([.. walk.Composed]));
        byte[]? current = frame;
        while (walk.End == PipelineEnd.Recirculate && walk.Next is { } next && current is not null)
        {
            current = run(passes[^1], current);
            PacketParser.Parse(current, key.InPort, out var reparsed, out var layers);
            walk.Run(pipeline, next.Apply(reparsed), steps, next, tunnel, PacketWords.Fields(current, layers));
            passes.Add(new FlowActions([.. walk.Composed]));
        }
        var trace = new PipelineTrace(walk, current);
        trace.Steps.AddRange(steps);
        trace.Passes.AddRange(passes);
        return trace;
    }
}
