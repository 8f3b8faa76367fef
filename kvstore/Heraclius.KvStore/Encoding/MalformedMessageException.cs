namespace Heraclius.KvStore.Encoding;

/// <summary>Bytes that do not decode to a well-formed message; the receiver drops and counts them.</summary>
public sealed class MalformedMessageException : Exception
{
    public MalformedMessageException() : base("malformed message")
    {
    }

    public MalformedMessageException(string message) : base(message)
    {
    }

    public MalformedMessageException(string message, Exception inner) : base(message, inner)
    {
    }
}
