namespace Softswitch.Datapath;

/// <summary>
/// A configuration request (a port, a tunnel) conflicts with the datapath's state or with itself: the caller's
/// mistake, with a message meant for the person who made it. Hosts report it as a user error; any other exception
/// out of the datapath is a bug and is reported as one.
/// </summary>
public sealed class DatapathConfigurationException : Exception
{
    public DatapathConfigurationException(string message) : base(message) { }

    public DatapathConfigurationException(string message, Exception inner) : base(message, inner) { }
}
