namespace Softswitch.Ports.NetFpga;

/// <summary>
/// 32-bit register access to a NetFPGA board, one register per call (the board's driver offers nothing wider).
/// </summary>
/// <remarks>
/// Implementations: <see cref="Nf2RegisterBus"/> (the real board, one ioctl per register) and
/// <see cref="EmulatedNetFpga"/> (a register-level model of the OpenFlow bitfile). Callers serialise access
/// (<see cref="NetFpgaDriver"/> holds a lock around every sequence).
/// </remarks>
public interface IRegisterBus : IDisposable
{
    /// <summary>What the bus talks to ("nf2c0", "emulated").</summary>
    string Name { get; }
    uint Read(uint address);
    void Write(uint address, uint value);
}

/// <summary>The NetFPGA board could not be reached. The message is a complete user-facing sentence.</summary>
public sealed class NetFpgaUnavailableException : Exception
{
    public string Interface { get; }
    public int Errno { get; }

    public NetFpgaUnavailableException(string iface, string message, int errno = 0) : base(message)
    {
        Interface = iface;
        Errno = errno;
    }
}

/// <summary>A register access on the board failed (the ioctl returned an error).</summary>
public sealed class NetFpgaRegisterException(string message, int errno) : IOException(message)
{
    public int Errno { get; } = errno;
}
