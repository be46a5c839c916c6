using System.Runtime.InteropServices;

namespace Softswitch.OfAgent.Session;

/// <summary>Whether a path is a Unix domain socket file, through statx(2) (its layout is the same on every architecture).</summary>
internal static partial class UnixSocketFile
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;
    private const int TypeMask = 0xF000, TypeSocket = 0xC000;

    /// <summary>False when nothing is at <paramref name="path"/> (or not on Linux); otherwise whether it is a socket.</summary>
    public static bool TryIsSocket(string path, out bool isSocket)
    {
        isSocket = false;
        if (!OperatingSystem.IsLinux()) return File.Exists(path) && (isSocket = true);
        Span<byte> buf = stackalloc byte[256];
        buf.Clear();
        unsafe
        {
            fixed (byte* p = buf)
            {
                if (Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType, p) != 0) return false;
            }
        }
        isSocket = (BitConverter.ToUInt16(buf[28..]) & TypeMask) == TypeSocket; // stx_mode at byte 28
        return true;
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int Statx(int dirfd, string path, int flags, uint mask, byte* buf);
}
