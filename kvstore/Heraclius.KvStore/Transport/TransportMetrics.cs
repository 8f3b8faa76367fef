using System.Diagnostics.Metrics;

namespace Heraclius.KvStore.Transport;

/// <summary>
/// The transport's instruments, on the one meter <see cref="MeterName"/>. Every measurement is
/// tagged with the local <c>node</c> id, because tests and development runs host several nodes in
/// one process; peer counters are also tagged with the remote <c>peer</c> id.
/// </summary>
public sealed class TransportMetrics : IDisposable
{
    public const string MeterName = "Heraclius.Transport";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly KeyValuePair<string, object?> _node;
    private readonly Counter<long> _messagesSent;
    private readonly Counter<long> _framesSent;
    private readonly Counter<long> _bytesSent;
    private readonly Counter<long> _messagesReceived;
    private readonly Counter<long> _framesReceived;
    private readonly Counter<long> _bytesReceived;
    private readonly Counter<long> _messagesDropped;
    private readonly Counter<long> _handshakeFailures;
    private readonly Counter<long> _reconnects;
    private readonly Counter<long> _handlerErrors;
    private readonly Counter<long> _submits;
    private readonly UpDownCounter<long> _peerStreams;
    private readonly UpDownCounter<long> _subscriptions;

    /// <param name="nodeId">The local node, the <c>node</c> tag of every measurement.</param>
    /// <param name="meterFactory">The host's meter factory; without one the instance owns its meter.</param>
    public TransportMetrics(string nodeId, IMeterFactory? meterFactory = null)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _node = new("node", nodeId);
        _messagesSent = _meter.CreateCounter<long>("heraclius.transport.peer.messages.sent", "{message}", "Consensus messages written to a peer stream (or delivered to self).");
        _framesSent = _meter.CreateCounter<long>("heraclius.transport.peer.frames.sent", "{frame}", "Peer frames written; one frame carries one or more messages.");
        _bytesSent = _meter.CreateCounter<long>("heraclius.transport.peer.bytes.sent", "By", "Payload bytes written to peer streams.");
        _messagesReceived = _meter.CreateCounter<long>("heraclius.transport.peer.messages.received", "{message}", "Consensus messages received from authenticated peers.");
        _framesReceived = _meter.CreateCounter<long>("heraclius.transport.peer.frames.received", "{frame}", "Peer frames received from authenticated peers.");
        _bytesReceived = _meter.CreateCounter<long>("heraclius.transport.peer.bytes.received", "By", "Payload bytes received from authenticated peers.");
        _messagesDropped = _meter.CreateCounter<long>("heraclius.transport.peer.messages.dropped", "{message}", "Outbound messages dropped, by peer and reason (queue_full, oversized, send_failed, closed).");
        _handshakeFailures = _meter.CreateCounter<long>("heraclius.transport.handshake.failures", "{handshake}", "Failed peer handshakes, by side (listener, dialer) and reason.");
        _reconnects = _meter.CreateCounter<long>("heraclius.transport.peer.reconnects", "{attempt}", "Dial attempts to a peer after the first one.");
        _handlerErrors = _meter.CreateCounter<long>("heraclius.transport.peer.handler_errors", "{message}", "Inbound messages whose handler threw.");
        _submits = _meter.CreateCounter<long>("heraclius.transport.client.submits", "{batch}", "Client batches submitted, by result (accepted or the error code).");
        _peerStreams = _meter.CreateUpDownCounter<long>("heraclius.transport.peer.streams", "{stream}", "Authenticated peer streams open, by direction (inbound, outbound).");
        _subscriptions = _meter.CreateUpDownCounter<long>("heraclius.transport.decisions.subscriptions", "{subscription}", "Decision-queue subscriptions being served.");
    }

    internal void MessagesSent(string peer, int messages, long bytes)
    {
        var tags = Peer(peer);
        _framesSent.Add(1, tags);
        _messagesSent.Add(messages, tags);
        _bytesSent.Add(bytes, tags);
    }

    internal void MessagesReceived(string peer, int messages, long bytes)
    {
        var tags = Peer(peer);
        _framesReceived.Add(1, tags);
        _messagesReceived.Add(messages, tags);
        _bytesReceived.Add(bytes, tags);
    }

    internal void MessagesDropped(string peer, string reason, long count) =>
        _messagesDropped.Add(count, _node, new("peer", peer), new("reason", reason));

    internal void HandshakeFailed(string side, string reason) =>
        _handshakeFailures.Add(1, _node, new("side", side), new("reason", reason));

    internal void Reconnect(string peer) => _reconnects.Add(1, _node, new("peer", peer));

    internal void HandlerError(string peer) => _handlerErrors.Add(1, _node, new("peer", peer));

    internal void Submitted(string result) => _submits.Add(1, _node, new("result", result));

    internal void PeerStreamOpened(string direction) => _peerStreams.Add(1, _node, new("direction", direction));

    internal void PeerStreamClosed(string direction) => _peerStreams.Add(-1, _node, new("direction", direction));

    internal void SubscriptionStarted() => _subscriptions.Add(1, _node);

    internal void SubscriptionEnded() => _subscriptions.Add(-1, _node);

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private System.Diagnostics.TagList Peer(string peer) => new() { _node, new("peer", peer) };
}
