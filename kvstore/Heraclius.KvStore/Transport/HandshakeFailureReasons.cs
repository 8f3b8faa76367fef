namespace Heraclius.KvStore.Transport;

/// <summary>
/// Why a peer handshake failed; the <c>reason</c> tag of the handshake-failure counter. The first
/// group is seen by the listener, the second by the dialer.
/// </summary>
public static class HandshakeFailureReasons
{
    /// <summary>A frame was missing, of the wrong kind, or had a field of the wrong size.</summary>
    public const string Malformed = "malformed";

    /// <summary>The dialer claimed a node id that is not in the topology.</summary>
    public const string UnknownNode = "unknown_node";

    /// <summary>The dialer is in the topology but the admission rule refuses it (by default: another cluster).</summary>
    public const string NotMember = "not_member";

    /// <summary>The dialer claimed the listener's own id.</summary>
    public const string Self = "self";

    /// <summary>The dialer's signature does not verify with the claimed node's public key.</summary>
    public const string BadSignature = "bad_signature";

    /// <summary>The other side did not finish the handshake within the handshake timeout.</summary>
    public const string Timeout = "timeout";

    /// <summary>The listener answered as a node other than the one dialled.</summary>
    public const string WrongListener = "wrong_listener";

    /// <summary>The listener's signature does not verify with the dialled node's public key.</summary>
    public const string ListenerBadSignature = "listener_bad_signature";

    /// <summary>The listener refused this dialer (it closed the call with a status).</summary>
    public const string Rejected = "rejected";

    /// <summary>The listener ended the call before the handshake finished.</summary>
    public const string StreamClosed = "stream_closed";
}
