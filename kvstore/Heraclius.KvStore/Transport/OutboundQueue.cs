using System.Threading.Channels;
using Heraclius.KvStore.Topology;
using Microsoft.Extensions.Logging;

namespace Heraclius.KvStore.Transport;

/// <summary>
/// A peer's bounded queue and its counters. When the queue is full the oldest message is dropped:
/// consensus messages age fast (a newer view or height supersedes them), and the protocol recovers
/// lost ones by retransmission and catch-up, so the newest are the ones worth keeping.
/// </summary>
internal sealed class OutboundQueue
{
    private readonly string _localNodeId;
    private readonly NodeInfo _peer;
    private readonly TransportMetrics _metrics;
    private readonly ILogger _logger;
    private readonly LogRateLimiter _dropLog = new(TimeSpan.FromSeconds(5));
    private long _sent;
    private long _dropped;
    private long _droppedQueueFull;

    public OutboundQueue(string localNodeId, NodeInfo peer, int capacity, TransportMetrics metrics, ILogger logger)
    {
        _localNodeId = localNodeId;
        _peer = peer;
        _metrics = metrics;
        _logger = logger;
        Channel = System.Threading.Channels.Channel.CreateBounded<ReadOnlyMemory<byte>>(
            new BoundedChannelOptions(capacity)
            {
                FullMode = BoundedChannelFullMode.DropOldest,
                SingleReader = true,
                SingleWriter = false,
                AllowSynchronousContinuations = false,
            },
            _ =>
            {
                Interlocked.Increment(ref _droppedQueueFull);
                CountDropped("queue_full", 1);
            });
    }

    public Channel<ReadOnlyMemory<byte>> Channel { get; }

    public NodeInfo Peer => _peer;

    public long Sent => Interlocked.Read(ref _sent);

    public long Dropped => Interlocked.Read(ref _dropped);

    public long DroppedQueueFull => Interlocked.Read(ref _droppedQueueFull);

    public int Count => Channel.Reader.Count;

    public void Enqueue(ReadOnlyMemory<byte> message)
    {
        if (!Channel.Writer.TryWrite(message))
        {
            CountDropped("closed", 1);
        }
    }

    public void CountSent(int messages, long bytes)
    {
        Interlocked.Add(ref _sent, messages);
        _metrics.MessagesSent(_peer.Id, messages, bytes);
    }

    public void CountDropped(string reason, long count)
    {
        var total = Interlocked.Add(ref _dropped, count);
        _metrics.MessagesDropped(_peer.Id, reason, count);
        if (_dropLog.TryAcquire(out _))
        {
            _logger.MessagesDropped(_localNodeId, _peer.Id, reason, total);
        }
    }
}
