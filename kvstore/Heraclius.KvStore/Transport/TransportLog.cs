using Microsoft.Extensions.Logging;

namespace Heraclius.KvStore.Transport;

/// <summary>The transport's log lines. Event ids 7100-7199 are reserved for the transport.</summary>
internal static partial class TransportLog
{
    [LoggerMessage(EventId = 7100, Level = LogLevel.Information, Message = "{Node}: connected to peer {Peer} at {Endpoint}")]
    public static partial void PeerConnected(this ILogger logger, string node, string peer, string endpoint);

    [LoggerMessage(EventId = 7101, Level = LogLevel.Warning, Message = "{Node}: lost the stream to peer {Peer}; reconnecting ({Suppressed} similar lines suppressed)")]
    public static partial void PeerDisconnected(this ILogger logger, string node, string peer, long suppressed, Exception? exception);

    [LoggerMessage(EventId = 7102, Level = LogLevel.Debug, Message = "{Node}: could not reach peer {Peer} at {Endpoint}")]
    public static partial void PeerDialFailed(this ILogger logger, string node, string peer, string endpoint, Exception exception);

    [LoggerMessage(EventId = 7103, Level = LogLevel.Warning, Message = "{Node}: handshake with peer {Peer} failed: {Reason} ({Suppressed} similar lines suppressed)")]
    public static partial void DialerHandshakeFailed(this ILogger logger, string node, string peer, string reason, long suppressed, Exception exception);

    [LoggerMessage(EventId = 7104, Level = LogLevel.Warning, Message = "{Node}: refused a peer stream from {Remote} claiming {ClaimedNode}: {Reason} ({Suppressed} similar lines suppressed)")]
    public static partial void HandshakeRejected(this ILogger logger, string node, string remote, string claimedNode, string reason, long suppressed);

    [LoggerMessage(EventId = 7105, Level = LogLevel.Information, Message = "{Node}: accepted a peer stream from {Peer} ({Remote})")]
    public static partial void PeerAccepted(this ILogger logger, string node, string peer, string remote);

    [LoggerMessage(EventId = 7106, Level = LogLevel.Debug, Message = "{Node}: the inbound stream from {Peer} ended")]
    public static partial void InboundStreamEnded(this ILogger logger, string node, string peer, Exception? exception);

    [LoggerMessage(EventId = 7107, Level = LogLevel.Warning, Message = "{Node}: dropping messages for peer {Peer} ({Reason}); {Total} dropped so far")]
    public static partial void MessagesDropped(this ILogger logger, string node, string peer, string reason, long total);

    [LoggerMessage(EventId = 7108, Level = LogLevel.Error, Message = "{Node}: the message handler threw on a message from node index {FromIndex} ({Suppressed} similar lines suppressed)")]
    public static partial void HandlerFailed(this ILogger logger, string node, int fromIndex, long suppressed, Exception exception);

    [LoggerMessage(EventId = 7109, Level = LogLevel.Warning, Message = "{Node}: peer {Peer} broke the stream protocol: {Detail}")]
    public static partial void ProtocolViolation(this ILogger logger, string node, string peer, string detail);

    [LoggerMessage(EventId = 7110, Level = LogLevel.Information, Message = "{Node}: transport listening on {Address}")]
    public static partial void Listening(this ILogger logger, string node, Uri address);

    [LoggerMessage(EventId = 7111, Level = LogLevel.Warning, Message = "{Node}: the decision feed for {Destination} failed")]
    public static partial void SubscriptionFailed(this ILogger logger, string node, string destination, Exception exception);
}
