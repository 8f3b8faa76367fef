using Heraclius.KvStore.Topology;
using Microsoft.Extensions.Logging;

namespace Heraclius.KvStore.Transport;

/// <summary>
/// Delivers a node's messages to itself. It goes through a queue and a loop, like a remote peer,
/// so that the handler is never re-entered from inside <see cref="IPeerNetwork.Send"/>.
/// </summary>
internal sealed class LoopbackLink : IOutboundLink
{
    private readonly NodeInfo _self;
    private readonly IPeerMessageHandler _handler;
    private readonly OutboundQueue _queue;
    private readonly ILogger _logger;
    private readonly LogRateLimiter _handlerLog = new(TimeSpan.FromSeconds(5));
    private readonly TransportMetrics _metrics;
    private readonly Task _loop;

    public LoopbackLink(NodeInfo self, IPeerMessageHandler handler, int capacity, TransportMetrics metrics, ILogger logger)
    {
        _self = self;
        _handler = handler;
        _metrics = metrics;
        _logger = logger;
        _queue = new OutboundQueue(self.Id, self, capacity, metrics, logger);
        _loop = Task.Run(RunAsync);
    }

    public PeerLinkStats Stats => new(
        _self.Index, _self.Id, Connected: true, _queue.Count, _queue.Sent, _queue.Dropped, _queue.DroppedQueueFull,
        Reconnects: 0, HandshakeFailures: 0, LastFailure: null);

    public void Enqueue(ReadOnlyMemory<byte> message) => _queue.Enqueue(message);

    public void CountDropped(string reason) => _queue.CountDropped(reason, 1);

    public async ValueTask DisposeAsync()
    {
        _queue.Channel.Writer.TryComplete();
        await _loop;
    }

    private async Task RunAsync()
    {
        var reader = _queue.Channel.Reader;
        while (await reader.WaitToReadAsync())
        {
            while (reader.TryRead(out var message))
            {
                try
                {
                    _handler.OnPeerMessage(_self.Index, message);
                }
                catch (Exception e)
                {
                    _metrics.HandlerError(_self.Id);
                    if (_handlerLog.TryAcquire(out var suppressed))
                    {
                        _logger.HandlerFailed(_self.Id, _self.Index, suppressed, e);
                    }
                }

                _queue.CountSent(1, message.Length);
            }
        }
    }
}
