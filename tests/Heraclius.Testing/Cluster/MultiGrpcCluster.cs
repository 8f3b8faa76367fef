using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Hosting;
using Heraclius.KvStore.Routing;
using Heraclius.KvStore.StateMachine;
using Heraclius.KvStore.Topology;
using Heraclius.KvStore.Transport;
using Heraclius.Testing.Faults;
using Microsoft.Extensions.Logging;

namespace Heraclius.Testing.Cluster;

/// <summary>
/// The whole store in this process: C coordinator and S shard clusters of four real nodes each,
/// over real gRPC on loopback ports, with their data in a temporary directory. Faults are chosen
/// per node before it starts: crashed (never started), lying in consensus, or serving a faulty
/// decision feed to the other clusters. Every cluster runs the store's key-value roles unless a
/// service factory says otherwise (the ledger's tests run their own services on it).
/// </summary>
public sealed class MultiGrpcCluster : IAsyncDisposable
{
    public const int NodesPerCluster = 4;

    private readonly string _root = Path.Combine(Path.GetTempPath(), "heraclius-multi-" + Guid.NewGuid().ToString("N"));
    private readonly Dictionary<string, ClusterNode?[]> _nodes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FaultyPeerNetwork?[]> _networks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, GrpcPeerNetwork?[]> _links = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FaultyDecisionFeed?[]> _feeds = new(StringComparer.Ordinal);
    private readonly List<GrpcNodeClient> _clientChannels = [];
    private readonly ILoggerFactory? _loggerFactory;
    private readonly Func<ClusterTopology, ClusterInfo, IReplicatedService> _serviceFactory;

    /// <param name="service">The topology's service name (<see cref="ClusterTopology.KeyValueService"/> by default).</param>
    /// <param name="serviceFactory">What each node runs, made anew per node; <see cref="ClusterNode.DefaultService"/> when null.</param>
    public MultiGrpcCluster(int coordinators, int shards, int clients, string service = ClusterTopology.KeyValueService,
        Func<ClusterTopology, ClusterInfo, IReplicatedService>? serviceFactory = null)
    {
        _serviceFactory = serviceFactory ?? ClusterNode.DefaultService;
        var ports = FreePorts.Reserve((coordinators + shards) * NodesPerCluster);
        var assigned = new Dictionary<string, string>(StringComparer.Ordinal);
        string Endpoint(string cluster, int index)
        {
            var name = $"{cluster}/{index}";
            if (!assigned.TryGetValue(name, out var endpoint))
            {
                endpoint = $"http://127.0.0.1:{ports[assigned.Count]}";
                assigned[name] = endpoint;
            }

            return endpoint;
        }

        Keys = new MultiTopology(coordinators, shards, NodesPerCluster, clients, Endpoint, service);
        Router = new ShardRouter(Keys.Topology);
        foreach (var c in Keys.Topology.Clusters)
        {
            _nodes[c.Id] = new ClusterNode?[NodesPerCluster];
            _networks[c.Id] = new FaultyPeerNetwork?[NodesPerCluster];
            _links[c.Id] = new GrpcPeerNetwork?[NodesPerCluster];
            _feeds[c.Id] = new FaultyDecisionFeed?[NodesPerCluster];
        }

        // Opt-in, because twenty nodes at Information drown a test run.
        if (Environment.GetEnvironmentVariable("HERACLIUS_TEST_LOG") is not null)
        {
            _loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole().SetMinimumLevel(LogLevel.Information));
        }
    }

    public MultiTopology Keys { get; }

    public ClusterTopology Topology => Keys.Topology;

    public ShardRouter Router { get; }

    public IEnumerable<string> ClusterIds => Topology.Clusters.Select(c => c.Id);

    /// <summary>Short timers so faults are noticed in well under a second; mutable until the nodes start.</summary>
    public ReplicaOptions Options { get; } = new() { ViewChangeTimeoutMs = 500, CheckpointInterval = 16, RetainDecisions = 48, ResendIntervalMs = 100 };

    /// <summary>A subscription that gets nothing for a second moves to the next source node.</summary>
    public InboundSubscriptionOptions InboundOptions { get; } = new() { StallTimeoutMs = 1000, RetryBackoffMs = 50, MaxBackoffMs = 500 };

    /// <summary>Nodes <see cref="StartAsync"/> leaves down.</summary>
    public HashSet<(string Cluster, int Index)> Crashed { get; } = [];

    /// <summary>Nodes whose consensus traffic lies, and how; set before they start.</summary>
    public Dictionary<(string Cluster, int Index), ByzantineMode> Lying { get; } = [];

    /// <summary>Nodes whose decision queues serve the other clusters faultily; set before they start.</summary>
    public Dictionary<(string Cluster, int Index), DecisionFeedFault> FeedFaults { get; } = [];

    public ClusterNode? Node(string cluster, int index) => _nodes[cluster][index];

    /// <summary>The node's decision feed wrapper, when a feed fault was chosen for it.</summary>
    public FaultyDecisionFeed? Feed(string cluster, int index) => _feeds[cluster][index];

    /// <summary>The node's peer network as its replica sees it, to cut and heal links.</summary>
    public FaultyPeerNetwork? Network(string cluster, int index) => _networks[cluster][index];

    /// <summary>Running and not lying in consensus (a faulty feed alone leaves a node's consensus honest).</summary>
    public bool IsHonestAndRunning(string cluster, int index) => _nodes[cluster][index] is not null && !Lying.ContainsKey((cluster, index));

    /// <summary>
    /// Starts every node not marked crashed, concurrently (subscriptions retry until their sources are
    /// up), and waits until the running members of every cluster are linked to each other.
    /// </summary>
    public async Task StartAsync()
    {
        var starts = new List<Task>();
        foreach (var cluster in ClusterIds)
        {
            for (var i = 0; i < NodesPerCluster; i++)
            {
                if (!Crashed.Contains((cluster, i)))
                {
                    starts.Add(StartNodeAsync(cluster, i));
                }
            }
        }

        await Task.WhenAll(starts);
        await WaitForLinksAsync(TimeSpan.FromSeconds(20));
    }

    /// <summary>
    /// Waits until every running node has an open stream to every other running member of its cluster.
    /// A node that started before its peers dials them again only after a back-off, so without this wait
    /// a test would begin with view changes caused by start-up order rather than by its faults.
    /// </summary>
    public async Task WaitForLinksAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var missing = new List<string>();
            foreach (var cluster in ClusterIds)
            {
                for (var i = 0; i < NodesPerCluster; i++)
                {
                    if (_nodes[cluster][i] is null || _links[cluster][i] is not { } links)
                    {
                        continue;
                    }

                    missing.AddRange(Enumerable.Range(0, NodesPerCluster)
                        .Where(j => j != i && _nodes[cluster][j] is not null && !links.GetStats(j).Connected)
                        .Select(j => $"{cluster}-n{i}->n{j}"));
                }
            }

            if (missing.Count == 0)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"peer links still down: {string.Join(", ", missing)}");
            await Task.Delay(20);
        }
    }

    /// <summary>Starts (or restarts, from its WAL and snapshots) one node with the faults chosen for it.</summary>
    public async Task StartNodeAsync(string cluster, int index)
    {
        var clusterInfo = Topology.Cluster(cluster);
        var info = clusterInfo.Nodes[index];
        var key = Keys.NodeKeys[cluster][index];
        FaultyDecisionFeed? feed = null;
        Func<IDecisionFeed, IDecisionFeed>? wrapFeed = FeedFaults.TryGetValue((cluster, index), out var fault)
            ? inner => feed = new FaultyDecisionFeed(inner, Topology, fault)
            : null;
        _nodes[cluster][index] = await ClusterNode.StartAsync(Topology, info.Id, key, Path.Combine(_root, cluster, $"n{index}"), Options,
            service: _serviceFactory(Topology, clusterInfo),
            loggerFactory: _loggerFactory,
            wrapNetwork: inner =>
            {
                _links[cluster][index] = inner as GrpcPeerNetwork;
                return _networks[cluster][index] = new FaultyPeerNetwork(inner, Lying.TryGetValue((cluster, index), out var mode)
                    ? new ByzantineRewriter(mode, key, cluster, index, new Random(index))
                    : null);
            },
            inboundOptions: InboundOptions,
            wrapFeed: wrapFeed);
        _feeds[cluster][index] = feed;
    }

    public async Task StopNodeAsync(string cluster, int index)
    {
        var node = _nodes[cluster][index];
        _nodes[cluster][index] = null;
        _links[cluster][index] = null;
        if (node is not null)
        {
            await node.DisposeAsync();
        }
    }

    public Task StopClusterAsync(string cluster) =>
        Task.WhenAll(Enumerable.Range(0, NodesPerCluster).Select(i => StopNodeAsync(cluster, i)));

    /// <summary>Starts (or restarts) every node of <paramref name="cluster"/> and waits until they are linked.</summary>
    public async Task StartClusterAsync(string cluster)
    {
        await Task.WhenAll(Enumerable.Range(0, NodesPerCluster).Select(i => StartNodeAsync(cluster, i)));
        await WaitForLinksAsync(TimeSpan.FromSeconds(20));
    }

    /// <summary>A started BFT client with its own client id, talking to one node of a coordinator cluster.</summary>
    public async Task<BftClient> ClientAsync(string coordinator, int node, int client)
    {
        var grpc = new GrpcNodeClient(new Uri(Topology.Cluster(coordinator).Nodes[node].Endpoint));
        _clientChannels.Add(grpc);
        var c = new BftClient(Topology, coordinator, $"client-{client}", Keys.ClientKeys[client], grpc,
            new BftClientOptions { RetryAfter = TimeSpan.FromSeconds(1) });
        await c.StartAsync();
        return c;
    }

    /// <summary>Keys named <paramref name="prefix"/>-i that the router places on <paramref name="shard"/>.</summary>
    public string[] KeysOn(string shard, string prefix, int count) =>
        [.. Enumerable.Range(0, 10_000).Select(i => $"{prefix}-{i}").Where(k => Router.ShardOf(System.Text.Encoding.UTF8.GetBytes(k)) == shard).Take(count)];

    /// <summary>
    /// Waits until a quorum of <paramref name="cluster"/>'s honest running nodes work in one view (not
    /// changing views), and returns it: a slow start can cause a view change before a test begins, so a
    /// test that stops "the leader" must name the one the quorum follows.
    /// </summary>
    public async Task<ulong> StableViewAsync(string cluster, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var running = Enumerable.Range(0, NodesPerCluster).Where(i => IsHonestAndRunning(cluster, i)).Select(i => _nodes[cluster][i]!).ToList();
            var views = await Task.WhenAll(running.Select(n => n.Host.QueryAsync(r => (r.View, r.InViewChange))));
            var working = views.Where(v => !v.InViewChange).GroupBy(v => v.View).OrderByDescending(g => g.Count()).FirstOrDefault();
            if (working is not null && working.Count() >= 3)
            {
                return working.Key;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{cluster} has no stable view: {string.Join(", ", views)}");
            await Task.Delay(20);
        }
    }

    /// <summary>
    /// Waits until the honest running nodes of <paramref name="cluster"/> have decided the same height
    /// with nothing pooled, then checks they hold one state root and one header per retained height.
    /// </summary>
    public async Task AssertConvergedAsync(string cluster, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var running = Enumerable.Range(0, NodesPerCluster).Where(i => IsHonestAndRunning(cluster, i)).Select(i => _nodes[cluster][i]!).ToList();
        Assert.True(running.Count >= 3, $"{cluster} has only {running.Count} honest running nodes");
        while (true)
        {
            var heights = await Task.WhenAll(running.Select(n => n.Host.QueryAsync(r => r.DecidedHeight)));
            if (heights.Distinct().Count() == 1)
            {
                var roots = await Task.WhenAll(running.Select(n => n.Host.QueryAsync(r =>
                    r.PoolBatches == 0 && r.InboundPooled == 0 ? $"{r.DecidedHeight}:{r.ComputeDecidedStateRoot()}" : "busy")));
                if (roots.All(r => r != "busy") && roots.Distinct().Count() == 1)
                {
                    var logs = await Task.WhenAll(running.Select(n => n.Host.QueryAsync(r => r.RetainedHeaders.ToDictionary(h => h.Height, h => h.Hash))));
                    foreach (var h in logs.SelectMany(l => l.Keys).Distinct())
                    {
                        Assert.Single(logs.Where(l => l.ContainsKey(h)).Select(l => l[h]).Distinct());
                    }

                    return;
                }

                // Equal heights but different roots would be divergence; a later decision may still be in flight, so only fail at the deadline.
            }

            if (DateTime.UtcNow >= deadline)
            {
                Assert.Fail($"{cluster} did not converge:\n{await DescribeAsync(cluster)}");
            }

            await Task.Delay(50);
        }
    }

    public async Task AssertAllConvergedAsync(TimeSpan timeout)
    {
        foreach (var cluster in ClusterIds)
        {
            await AssertConvergedAsync(cluster, timeout);
        }
    }

    /// <summary>
    /// Rejections only a faulty peer can cause, per running node of every cluster with no lying member:
    /// timing effects (old views, heights already passed, resent votes) are left out.
    /// </summary>
    public async Task<string[]> EvidenceOfFaultsAmongHonestAsync()
    {
        var found = new List<string>();
        foreach (var cluster in ClusterIds.Where(c => !Lying.Keys.Any(k => k.Cluster == c)))
        {
            foreach (var node in _nodes[cluster].Where(n => n is not null))
            {
                found.AddRange(await node!.Host.QueryAsync(r => r.Rejections
                    .Where(kv => kv.Key is not (RejectReason.OldView or RejectReason.WrongHeight or RejectReason.Duplicate))
                    .Select(kv => $"{r.NodeId}: {kv.Key}={kv.Value}").ToList()));
            }
        }

        return [.. found];
    }

    /// <summary>One line per running node of <paramref name="cluster"/> (every cluster when null), for failure messages.</summary>
    public async Task<string> DescribeAsync(string? cluster = null)
    {
        var lines = new List<string>();
        foreach (var c in cluster is null ? ClusterIds : [cluster])
        {
            for (var i = 0; i < NodesPerCluster; i++)
            {
                var node = _nodes[c][i];
                if (node is null)
                {
                    lines.Add($"{c}-n{i}: down");
                    continue;
                }

                var tag = Lying.TryGetValue((c, i), out var mode) ? $" [lying {mode}]" : "";
                tag += FeedFaults.TryGetValue((c, i), out var fault) ? $" [feed {fault}]" : "";
                var state = await node.Host.QueryAsync(r =>
                    $"height {r.DecidedHeight} view {r.View} inVC {r.InViewChange} pool {r.PoolBatches} inbound {r.InboundPooled} "
                    + $"cursors [{string.Join(" ", r.PeerClusters.Order(StringComparer.Ordinal).Select(p => $"{p}={r.InboundCursor(p)}"))}] "
                    + $"rejections [{string.Join(" ", r.Rejections.Select(kv => $"{kv.Key}={kv.Value}"))}]");
                var subs = string.Join(" ", node.Subscriptions.GetStats().Select(s =>
                    $"{s.SourceCluster}@n{s.NodeIndex}(acc {s.Accepted} stale {s.Stale} inv {s.Invalid} rot {s.Rotations} fail {s.Failures}"
                    + (s.LastFailure is null ? ")" : $", last: {s.LastFailure[..Math.Min(s.LastFailure.Length, 60)]})")));
                lines.Add($"{c}-n{i}{tag}: {state} subs {subs}");
            }
        }

        return string.Join("\n", lines);
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(ClusterIds.Select(StopClusterAsync));
        foreach (var channel in _clientChannels)
        {
            channel.Dispose();
        }

        _loggerFactory?.Dispose();
        try
        {
            Directory.Delete(_root, true);
        }
        catch (IOException)
        {
            // A leftover temp directory must not fail the test that produced it.
        }
    }
}
