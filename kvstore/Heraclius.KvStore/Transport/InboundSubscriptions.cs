using Heraclius.KvStore.Topology;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Heraclius.KvStore.Transport;

/// <summary>
/// All of one node's decision subscriptions: a <see cref="DecisionSubscriber"/> for every cluster
/// its cluster exchanges groups with (a coordinator receives from every shard, a shard from every
/// coordinator; a topology without the other kind gives none). Live once constructed; dispose to
/// stop them all.
/// </summary>
public sealed class InboundSubscriptions : IAsyncDisposable
{
    private readonly DecisionSubscriber[] _subscribers;
    private readonly InboundMetrics _metrics;
    private readonly bool _ownsMetrics;
    private int _disposed;

    /// <param name="topology">The topology; the source clusters are taken from it.</param>
    /// <param name="self">The receiving node, a member of <paramref name="topology"/>.</param>
    /// <param name="sink">Verifies and takes what every subscription receives.</param>
    /// <param name="options">Stall timeout and back-off; defaults when null.</param>
    /// <param name="loggerFactory">Logging; none when null.</param>
    /// <param name="metrics">The node's inbound instruments; when null the instance owns its own.</param>
    public InboundSubscriptions(
        ClusterTopology topology,
        NodeInfo self,
        IInboundSink sink,
        InboundSubscriptionOptions? options = null,
        ILoggerFactory? loggerFactory = null,
        InboundMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(topology);
        ArgumentNullException.ThrowIfNull(self);
        ArgumentNullException.ThrowIfNull(sink);
        if (!topology.TryGetCluster(self.ClusterId, out var own) || self.Index >= own.N || own.Nodes[self.Index].Id != self.Id)
        {
            throw new ArgumentException($"node {self.Id} is not in the topology", nameof(self));
        }

        options ??= new InboundSubscriptionOptions();
        if (options.Validate() is { } error)
        {
            throw new ArgumentException(error, nameof(options));
        }

        loggerFactory ??= NullLoggerFactory.Instance;
        _ownsMetrics = metrics is null;
        _metrics = metrics ?? new InboundMetrics(self.Id);
        var sources = SourcesOf(topology, own);

        // Every argument a subscriber checks was checked above, so none of them throws half-way.
        _subscribers = new DecisionSubscriber[sources.Count];
        for (var i = 0; i < sources.Count; i++)
        {
            _subscribers[i] = new DecisionSubscriber(self, sources[i], sink, options, _metrics, loggerFactory);
        }

        Sources = [.. sources.Select(s => s.Id)];
        var logger = loggerFactory.CreateLogger<InboundSubscriptions>();
        if (sources.Count > 0 && logger.IsEnabled(LogLevel.Information))
        {
            logger.SubscriptionsStarted(self.Id, sources.Count, string.Join(", ", Sources));
        }
    }

    /// <summary>The ids of the clusters subscribed to, in topology order.</summary>
    public IReadOnlyList<string> Sources { get; }

    /// <summary>The clusters <paramref name="cluster"/> receives groups from: those of the other kind.</summary>
    public static IReadOnlyList<ClusterInfo> SourcesOf(ClusterTopology topology, ClusterInfo cluster)
    {
        ArgumentNullException.ThrowIfNull(topology);
        return topology.PeersOf(cluster);
    }

    /// <summary>The state of every subscription, in the order of <see cref="Sources"/>.</summary>
    public IReadOnlyList<InboundSubscriptionStats> GetStats()
    {
        var stats = new InboundSubscriptionStats[_subscribers.Length];
        for (var i = 0; i < _subscribers.Length; i++)
        {
            stats[i] = _subscribers[i].Stats;
        }

        return stats;
    }

    /// <summary>The state of the subscription to <paramref name="sourceCluster"/>.</summary>
    /// <exception cref="KeyNotFoundException">This node does not subscribe to that cluster.</exception>
    public InboundSubscriptionStats GetStats(string sourceCluster)
    {
        foreach (var s in _subscribers)
        {
            if (s.Source.Id == sourceCluster)
            {
                return s.Stats;
            }
        }

        throw new KeyNotFoundException($"no subscription to cluster {sourceCluster}");
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        var tasks = new Task[_subscribers.Length];
        for (var i = 0; i < _subscribers.Length; i++)
        {
            tasks[i] = _subscribers[i].DisposeAsync().AsTask();
        }

        await Task.WhenAll(tasks);
        if (_ownsMetrics)
        {
            _metrics.Dispose();
        }
    }
}
