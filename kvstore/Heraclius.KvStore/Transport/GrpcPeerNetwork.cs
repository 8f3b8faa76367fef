using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Heraclius.KvStore.Transport;

/// <summary>
/// The peer transport of one local node over gRPC: one authenticated outbound stream per other
/// member of its cluster, each behind a bounded queue drained by its own loop. Live once
/// constructed; dispose to close the streams.
/// <para>
/// <see cref="Send"/> never blocks. When a peer's queue is full its oldest message is dropped and
/// counted (consensus messages age fast and are retransmitted); a message larger than
/// <see cref="PeerNetworkOptions.MaxMessageBytes"/> is dropped and counted as oversized. A message
/// to the node's own index is delivered to the local handler through the same kind of queue, on
/// another thread, never from inside <see cref="Send"/>.
/// </para>
/// <para>
/// The transport does not copy a message: the memory passed to <see cref="Send"/> must not change
/// afterwards (consensus messages are immutable signed bytes, so this costs nothing).
/// </para>
/// </summary>
public sealed class GrpcPeerNetwork : IPeerNetwork, IAsyncDisposable
{
    private readonly LocalNode _local;
    private readonly PeerNetworkOptions _options;
    private readonly TransportMetrics _metrics;
    private readonly bool _ownsMetrics;
    private readonly IOutboundLink[] _links;
    private readonly Random _random;
    private readonly Lock _randomLock = new();
    private int _disposed;

    /// <param name="local">The node this network speaks as.</param>
    /// <param name="localHandler">Receives the messages the node sends to itself.</param>
    /// <param name="options">Queue, back-off and batching settings; defaults when null.</param>
    /// <param name="metrics">Shared with the node's server side when given; otherwise the network owns its own.</param>
    /// <param name="loggerFactory">Logging; none when null.</param>
    public GrpcPeerNetwork(
        LocalNode local,
        IPeerMessageHandler localHandler,
        PeerNetworkOptions? options = null,
        TransportMetrics? metrics = null,
        ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(local);
        ArgumentNullException.ThrowIfNull(localHandler);
        _local = local;
        _options = options ?? new PeerNetworkOptions();
        _options.Validate();
        _ownsMetrics = metrics is null;
        _metrics = metrics ?? new TransportMetrics(local.Node.Id);
        _random = _options.Random ?? Random.Shared;
        loggerFactory ??= NullLoggerFactory.Instance;
        var logger = loggerFactory.CreateLogger<GrpcPeerNetwork>();

        var nodes = local.Cluster.Nodes;
        _links = new IOutboundLink[nodes.Count];
        for (var i = 0; i < nodes.Count; i++)
        {
            _links[i] = i == local.Node.Index
                ? new LoopbackLink(nodes[i], localHandler, _options.QueueCapacity, _metrics, logger)
                : new PeerLink(local, nodes[i], _options, _metrics, loggerFactory, Jitter);
        }
    }

    public LocalNode Local => _local;

    /// <summary>Queues <paramref name="message"/> for the cluster member at <paramref name="toNodeIndex"/>. Never blocks.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The index is not a member of this node's cluster.</exception>
    public void Send(int toNodeIndex, ReadOnlyMemory<byte> message)
    {
        if ((uint)toNodeIndex >= (uint)_links.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(toNodeIndex), toNodeIndex, $"cluster {_local.Cluster.Id} has {_links.Length} nodes");
        }

        var link = _links[toNodeIndex];
        if (message.Length > _options.MaxMessageBytes)
        {
            link.CountDropped("oversized");
            return;
        }

        link.Enqueue(message);
    }

    /// <summary>The counters of the link to the member at <paramref name="nodeIndex"/>.</summary>
    public PeerLinkStats GetStats(int nodeIndex) => _links[nodeIndex].Stats;

    /// <summary>The counters of every link, by node index.</summary>
    public IReadOnlyList<PeerLinkStats> GetStats()
    {
        var stats = new PeerLinkStats[_links.Length];
        for (var i = 0; i < _links.Length; i++)
        {
            stats[i] = _links[i].Stats;
        }

        return stats;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        var tasks = new Task[_links.Length];
        for (var i = 0; i < _links.Length; i++)
        {
            tasks[i] = _links[i].DisposeAsync().AsTask();
        }

        await Task.WhenAll(tasks);
        if (_ownsMetrics)
        {
            _metrics.Dispose();
        }
    }

    /// <summary>Equal jitter: a uniformly random wait in [d/2, d], so that peers that failed together do not redial together.</summary>
    private TimeSpan Jitter(TimeSpan delay)
    {
        double fraction;
        lock (_randomLock)
        {
            fraction = _random.NextDouble();
        }

        return TimeSpan.FromTicks((long)(delay.Ticks * (0.5 + (fraction / 2))));
    }
}
