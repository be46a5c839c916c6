namespace Softswitch;

/// <summary>
/// A mistake of the person running the switch (an address already in use, a setting that cannot work), with a
/// message written for them: the host reports it as one line, <c>softswitch: MESSAGE</c>, and exit code 2. Every other
/// exception that reaches the host is a bug and is reported as one (with its stack trace), never as the user's
/// mistake; in particular <see cref="InvalidOperationException"/> means a bug here.
/// </summary>
/// <remarks>Components of the host throw it where they turn a library's failure into words for the user, keeping the
/// library's exception as <see cref="Exception.InnerException"/>. Libraries below the host have their own types
/// (<c>DatapathConfigurationException</c>, <c>PortOpenException</c>, <c>OfTlsException</c>), which the host maps here.</remarks>
internal sealed class UserErrorException : Exception
{
    public UserErrorException(string message) : base(message) { }

    public UserErrorException(string message, Exception inner) : base(message, inner) { }
}
