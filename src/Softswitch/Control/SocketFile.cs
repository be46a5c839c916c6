using System.Runtime.InteropServices;

namespace Softswitch.Control;

/// <summary>
/// What the control socket needs to know about the file at its path, and a umask around bind(2), through libc.
/// </summary>
/// <remarks>
/// statx(2) because its struct layout is the same on every architecture (struct stat is not): stx_uid at byte 20,
/// stx_mode at 28, stx_ino at 32 of a 256-byte buffer. Linux only; elsewhere <see cref="TryStat"/> returns false.
/// </remarks>
internal static partial class SocketFile
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1, StatxMode = 0x2, StatxUid = 0x8, StatxIno = 0x100;
    private const int TypeMask = 0xF000, TypeSocket = 0xC000;

    /// <summary>The file's type, owner, inode and permission bits (of the path itself, symlinks not followed).</summary>
    public readonly record struct Info(bool IsSocket, uint Uid, ulong Inode, uint Mode = 0)
    {
        /// <summary>The low 12 bits of st_mode: permissions, setuid/setgid and sticky.</summary>
        public uint Permissions => Mode & 0xFFF;
    }

    public static bool TryStat(string path, out Info info)
    {
        info = default;
        if (!OperatingSystem.IsLinux()) return false;
        Span<byte> buf = stackalloc byte[256];
        buf.Clear();
        unsafe
        {
            fixed (byte* p = buf)
            {
                if (Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType | StatxMode | StatxUid | StatxIno, p) != 0) return false;
            }
        }
        uint uid = BitConverter.ToUInt32(buf[20..]);
        ushort mode = BitConverter.ToUInt16(buf[28..]);
        ulong ino = BitConverter.ToUInt64(buf[32..]);
        info = new Info((mode & TypeMask) == TypeSocket, uid, ino, mode);
        return true;
    }

    /// <summary>Runs <paramref name="action"/> with the process umask set to <paramref name="mask"/> (Linux; elsewhere just runs it).</summary>
    public static void WithUmask(uint mask, Action action)
    {
        if (!OperatingSystem.IsLinux())
        {
            action();
            return;
        }
        uint old = Umask(mask);
        try { action(); }
        finally { Umask(old); }
    }

    public static uint EffectiveUid => OperatingSystem.IsLinux() ? GetEuid() : 0;

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int Statx(int dirfd, string path, int flags, uint mask, byte* buf);

    [LibraryImport("libc", EntryPoint = "umask")]
    private static partial uint Umask(uint mask);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();
}
