namespace Softswitch.OfAgent.Session;

/// <summary>
/// An active controller (<c>tcp:</c>, <c>ssl:</c>, <c>unix:</c>) as its connect loop last saw it: connected (and on
/// which version), or why the attempts since the last session failed, and how many. <c>dp/show</c> prints it
/// (<see cref="Describe"/>), so a tool waiting for the switch to connect (Mininet's switch class) can say why it does not.
/// </summary>
/// <remarks>Written by the endpoint's connect loop only; read by anyone (one immutable snapshot, swapped whole).</remarks>
public sealed class OfControllerStatus
{
    /// <summary>Where the last failure happened.</summary>
    public enum Stage
    {
        /// <summary>No attempt has ended yet.</summary>
        None,
        /// <summary>The connect itself (nothing accepts: refused, unreachable, timed out).</summary>
        Connect,
        /// <summary>Connected, but no OpenFlow session was agreed (TLS, HELLO, versions).</summary>
        Session,
        /// <summary>A session was agreed and then closed.</summary>
        Closed,
    }

    private sealed record State(OfConnection? Conn, Stage Stage, string? Reason, long Failures);

    private volatile State _state = new(null, Stage.None, null, 0);

    public OfControllerStatus(string endpoint) => Endpoint = endpoint;

    /// <summary>The endpoint as configured (<c>tcp:127.0.0.1:6653</c>).</summary>
    public string Endpoint { get; }

    /// <summary>A session is open and a version agreed.</summary>
    public bool Connected => _state.Conn is { Negotiated: true, IsOpen: true };

    /// <summary>The connection of the current attempt (open or agreeing on a version), or null between attempts.</summary>
    public OfConnection? Connection => _state.Conn;

    /// <summary>Where the last failure happened (<see cref="Stage.None"/> before the first attempt ends).</summary>
    public Stage LastStage => _state.Stage;

    /// <summary>Failed attempts since the last session that stayed up (0 while connected).</summary>
    public long FailedAttempts => _state.Failures;

    /// <summary>The opening phase passed: the connection now runs (agreeing on a version, then the session).</summary>
    internal void OnOpened(OfConnection conn)
    {
        var s = _state;
        _state = s with { Conn = conn };
    }

    /// <summary>An attempt ended: <paramref name="stayedUp"/> (an agreed session that lasted) starts the count again.</summary>
    internal void OnEnded(Stage stage, string reason, bool stayedUp)
    {
        var s = _state;
        _state = new(null, stage, reason, stayedUp ? 0 : s.Failures + 1);
    }

    /// <summary>
    /// One line: <c>controller tcp:127.0.0.1:6653: connected, OpenFlow 1.3</c>, or <c>controller tcp:127.0.0.1:6653:
    /// not connected, 3 failed attempt(s), last: connect failed: Connection refused</c> (the stage is <c>connect
    /// failed</c>, <c>no OpenFlow session</c> or <c>session closed</c>; <c>not connected, connecting</c> before the
    /// first attempt ends, <c>agreeing on a version</c> while its HELLO is answered).
    /// </summary>
    public string Describe()
    {
        var s = _state;
        if (s.Conn is { Negotiated: true, IsOpen: true } c) return $"controller {Endpoint}: connected, OpenFlow {OfWire.OfpHelloVersions.Name(c.Version)}";
        if (s.Stage == Stage.None) return $"controller {Endpoint}: not connected, {(s.Conn is null ? "connecting" : "agreeing on a version")}";
        string stage = s.Stage switch { Stage.Connect => "connect failed", Stage.Session => "no OpenFlow session", _ => "session closed" };
        return $"controller {Endpoint}: not connected, {s.Failures} failed attempt(s), last: {stage}: {s.Reason}";
    }
}
