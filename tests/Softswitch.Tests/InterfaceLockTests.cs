using System.Globalization;

namespace Softswitch.Tests;

/// <summary>Interface claims: a second claimant is refused with the holder's pid, and the holder's files go with it.</summary>
public sealed class InterfaceLockTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ssw-iflock-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string[] Files() => Directory.GetFiles(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    [Fact]
    public void ASecondClaimIsRefusedWithTheHoldersPid_AndTheHoldersFilesGoWithIt()
    {
        var first = InterfaceLock.TryClaim(["eth7", "eth8"], out string? error, _dir);
        Assert.NotNull(first);
        Assert.Null(error);
        Assert.Equal(4, Files().Length);
        Assert.Contains(Files(), f => f.StartsWith("eth7.", StringComparison.Ordinal) && f.EndsWith(".iface.lock", StringComparison.Ordinal));

        Assert.Null(InterfaceLock.TryClaim(["eth9", "eth8"], out error, _dir));
        Assert.Equal($"interface eth8 is already used by softswitch pid {Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}", error);
        Assert.Equal(4, Files().Length); // the refused claim let go of eth9 and left nothing behind

        first.Dispose();
        Assert.Empty(Files());

        using var again = InterfaceLock.TryClaim(["eth8"], out error, _dir);
        Assert.NotNull(again);
        Assert.Null(error);
    }

    [Fact]
    public void ADeadHoldersFilesAreTakenOver_AndRemovedByTheNewHolder()
    {
        // A holder that died leaves its files, with no lock held on them: the interface is free.
        var probe = InterfaceLock.TryClaim(["eth7"], out _, _dir)!;
        string stem = Path.Combine(_dir, Files()[0][..^".lock".Length]);
        probe.Dispose();
        File.WriteAllText(stem + ".lock", "");
        File.WriteAllText(stem + ".pid", "999999\n");
        Assert.Equal(2, Files().Length);

        var claim = InterfaceLock.TryClaim(["eth7"], out string? error, _dir);
        Assert.NotNull(claim);
        Assert.Null(error);
        Assert.Equal(Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
                     File.ReadAllText(Directory.GetFiles(_dir, "*.pid").Single()).Trim());
        claim.Dispose();
        Assert.Empty(Files());
    }
}
