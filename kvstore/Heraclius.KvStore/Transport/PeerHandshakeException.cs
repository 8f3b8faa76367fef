namespace Heraclius.KvStore.Transport;

/// <summary>A dialer-side handshake failure, with its <see cref="HandshakeFailureReasons"/> reason.</summary>
internal sealed class PeerHandshakeException : Exception
{
    public PeerHandshakeException(string reason, string message, Exception? inner = null)
        : base(message, inner)
    {
        Reason = reason;
    }

    public string Reason { get; }
}
