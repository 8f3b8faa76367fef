using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.StateMachine;
using Heraclius.KvStore.Storage;
using Heraclius.KvStore.Topology;
using Heraclius.KvStore.Transport;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Heraclius.KvStore.Hosting;

/// <summary>
/// One node put together: its WAL and snapshots on disk, the replica on its own thread, the gRPC
/// peer network and the node's gRPC server. The node process runs one; tests run several in one process.
/// </summary>
public sealed class ClusterNode : IAsyncDisposable
{
    private readonly FileWriteAheadLog _wal;
    private readonly GrpcPeerNetwork _network;

    private readonly ReplicaMetrics _metrics;

    private readonly InboundSubscriptions _subscriptions;

    private ClusterNode(ReplicaHost host, GrpcPeerNetwork network, FileWriteAheadLog wal, NodeServer server, NodeInfo node, ReplicaMetrics metrics, InboundSubscriptions subscriptions)
    {
        _subscriptions = subscriptions;
        _metrics = metrics;
        Host = host;
        _network = network;
        _wal = wal;
        Server = server;
        Node = node;
    }

    public ReplicaHost Host { get; }

    public NodeServer Server { get; }

    public NodeInfo Node { get; }

    /// <summary>This node's subscriptions to the other clusters' decision queues.</summary>
    public InboundSubscriptions Subscriptions => _subscriptions;

    public long WalFsyncs => _wal.FlushCount;

    public long WalBytes => _wal.BytesWritten;

    public static async Task<ClusterNode> StartAsync(
        ClusterTopology topology,
        string nodeId,
        SigningKey key,
        string dataDirectory,
        ReplicaOptions? replicaOptions = null,
        IReplicatedService? service = null,
        ILoggerFactory? loggerFactory = null,
        Action<WebApplicationBuilder>? configureBuilder = null,
        Action<WebApplication>? configureApp = null,
        Func<IPeerNetwork, IPeerNetwork>? wrapNetwork = null,
        InboundSubscriptionOptions? inboundOptions = null,
        Func<IDecisionFeed, IDecisionFeed>? wrapFeed = null,
        CancellationToken ct = default)
    {
        loggerFactory ??= NullLoggerFactory.Instance;
        replicaOptions ??= new ReplicaOptions();
        var local = new LocalNode(topology, nodeId, key);
        Directory.CreateDirectory(dataDirectory);
        var wal = new FileWriteAheadLog(Path.Combine(dataDirectory, "wal"));
        var snapshots = new FileSnapshotStore(Path.Combine(dataDirectory, "snapshots"));
        var host = new ReplicaHost(topology, local.Cluster.Id);
        var replica = new Replica(topology, local.Cluster.Id, local.Node.Index, key, service ?? DefaultService(topology, local.Cluster), wal, snapshots, host,
            replicaOptions, loggerFactory.CreateLogger<Replica>());
        var network = new GrpcPeerNetwork(local, host, loggerFactory: loggerFactory);
        // Fault injection (a lossy or lying network in tests) wraps the real network; production passes none.
        host.Start(replica, wrapNetwork?.Invoke(network) ?? network, replicaOptions.MaxPoolBatches);
        var metrics = new ReplicaMetrics(host);
        var server = await NodeServer.StartAsync(new NodeServerOptions
        {
            Node = local,
            PeerHandler = host,
            // Fault injection (a source node that withholds or serves garbage) wraps the real feed; production passes none.
            DecisionFeed = wrapFeed?.Invoke(host) ?? host,
            ClientGateway = host,
            StatusSource = host,
        }, builder =>
        {
            builder.Services.AddHealthChecks().AddCheck("consensus", new ReplicaHealthCheck(host));
            configureBuilder?.Invoke(builder);
        }, configureApp, ct);
        // Subscriptions to the other clusters' decision queues start once the replica can say where to resume.
        var subscriptions = new InboundSubscriptions(topology, local.Node, host, inboundOptions, loggerFactory);
        return new ClusterNode(host, network, wal, server, local.Node, metrics, subscriptions);
    }

    public async ValueTask DisposeAsync()
    {
        await _subscriptions.DisposeAsync();
        await Server.DisposeAsync();
        await Host.DisposeAsync();

        // The replica thread has stopped: its last records durable, then the mark that spares a restart from
        // abstaining (Replica.Abstain.cs).
        Host.RecordCleanStop();
        await _network.DisposeAsync();
        _metrics.Dispose();
        _wal.Dispose();
    }

    /// <summary>
    /// The key-value role of a cluster: the whole store when the topology has no shards, otherwise a
    /// coordinator routes operations and a shard holds the keys.
    /// </summary>
    public static IReplicatedService DefaultService(ClusterTopology topology, ClusterInfo cluster) =>
        !topology.Shards.Any() ? new KeyValueService()
        : cluster.Kind == ClusterKind.Coordinator ? new KvCoordinatorService(new Routing.ShardRouter(topology))
        : new KvShardService();
}
