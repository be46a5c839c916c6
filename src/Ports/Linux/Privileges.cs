namespace Softswitch.Ports.Linux;

/// <summary>Who we run as (for error messages and test skips).</summary>
public static class Privileges
{
    public static uint EffectiveUid => OperatingSystem.IsLinux() ? LibC.geteuid() : uint.MaxValue;
}
