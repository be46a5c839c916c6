namespace Softswitch.Ports.Linux;

/// <summary>Why a port could not be opened (lets callers and tests react without parsing text).</summary>
public enum PortOpenError
{
    Failed,
    InterfaceMissing,
    PermissionDenied,
    LibraryMissing,
    Unsupported,
    InvalidSpec,
}

/// <summary>
/// A port could not be opened. <see cref="Exception.Message"/> is a complete user-facing sentence (what failed,
/// on which interface, and what to do about it); callers print it as is, without a stack trace.
/// </summary>
public sealed class PortOpenException : Exception
{
    public PortOpenError Error { get; }
    public string? Interface { get; }
    /// <summary>The errno behind the failure, or 0.</summary>
    public int Errno { get; }

    public PortOpenException(PortOpenError error, string? iface, string message, int errno = 0, Exception? inner = null)
        : base(message, inner)
    {
        Error = error;
        Interface = iface;
        Errno = errno;
    }

    /// <summary>Maps a failed syscall to an exception with advice for the common errnos.</summary>
    internal static PortOpenException FromErrno(string iface, string what, int errno, string caps = "CAP_NET_RAW and CAP_NET_ADMIN", string setcap = "cap_net_raw,cap_net_admin")
    {
        string text = LibC.StrError(errno);
        return errno switch
        {
            LibC.EPERM or LibC.EACCES => new PortOpenException(PortOpenError.PermissionDenied, iface,
                $"{what} on '{iface}' was refused ({text}): run as root or grant {caps} (e.g. `setcap {setcap}+ep`).", errno),
            LibC.ENODEV or LibC.ENXIO => new PortOpenException(PortOpenError.InterfaceMissing, iface,
                $"{what} failed: no network interface named '{iface}' ({text}); see `ip link`.", errno),
            LibC.EAFNOSUPPORT or LibC.EPROTONOSUPPORT or LibC.ENOPROTOOPT or LibC.EOPNOTSUPP => new PortOpenException(PortOpenError.Unsupported, iface,
                $"{what} on '{iface}' is not supported by this kernel ({text}).", errno),
            _ => new PortOpenException(PortOpenError.Failed, iface, $"{what} on '{iface}' failed: {text} (errno {errno}).", errno),
        };
    }
}
