namespace Softswitch.Datapath.Packets;

/// <summary>Burst size used through every stage: ports receive, the pipeline classifies and runs actions, ports send.</summary>
public static class Burst
{
    public const int Size = 32;
}
