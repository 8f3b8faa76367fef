using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Hosting;
using Heraclius.KvStore.Topology;
using Heraclius.KvStore.Transport;
using Heraclius.Node.Services;

namespace Heraclius.Node.Commands;

/// <summary>
/// A local topology started inside the benchmark's process over real gRPC, Ed25519 and fsync'd
/// WALs in a temporary directory, with client connections spread over every coordinator node:
/// connection i (its own client id bench-i) submits to node (i / C) mod n of coordinator c(i mod C).
/// </summary>
internal sealed class BenchCluster : IAsyncDisposable
{
    private readonly string _root;
    private readonly List<ClusterNode> _nodes = [];
    private readonly List<(BftClient Client, GrpcNodeClient Grpc, SigningKey Key)> _clients = [];
    private readonly List<SigningKey> _nodeKeys = [];
    private ILoggerFactory? _logs;

    private BenchCluster(string root, ClusterTopology topology)
    {
        _root = root;
        Topology = topology;
    }

    public ClusterTopology Topology { get; }

    public IReadOnlyList<ClusterNode> Nodes => _nodes;

    public List<BftClient> Clients => [.. _clients.Select(c => c.Client)];

    /// <param name="logReplicas">Print the replicas' own log lines (view changes with their reason, rejected messages) to stderr.</param>
    public static async Task<BenchCluster> StartAsync(TopologyShape shape, int clientCount, ReplicaOptions options, bool logReplicas = false)
    {
        var basePort = LoopbackPorts.PickRange(shape.TotalNodes);
        shape.Validate(basePort);
        var root = Path.Combine(Path.GetTempPath(), "heraclius-bench-" + Guid.NewGuid().ToString("N"));
        var dir = new DataDirectory(root);

        // A client id per connection: sessions are per client id, and one id spread over connections with
        // disjoint sequence ranges would make every range but the highest "too old" at the cluster.
        var clientIds = Enumerable.Range(0, clientCount).Select(i => $"{KeygenCommand.BenchClientId}-{i}").ToList();
        var topology = KeygenCommand.Generate(dir, shape, basePort, clientIds, replace: false);
        var cluster = new BenchCluster(root, topology);
        cluster._logs = logReplicas ? LoggerFactory.Create(b => b
            .AddFilter((category, level) => category?.StartsWith("Heraclius", StringComparison.Ordinal) == true && level >= LogLevel.Information)
            .AddSimpleConsole(c => { c.SingleLine = true; c.TimestampFormat = "HH:mm:ss.fff "; })
            .Services.Configure<ConsoleLoggerOptions>(c => c.LogToStandardErrorThreshold = LogLevel.Trace)) : null;
        try
        {
            foreach (var n in topology.Clusters.SelectMany(c => c.Nodes))
            {
                var key = dir.LoadKey(n.Id);
                cluster._nodeKeys.Add(key);
                cluster._nodes.Add(await ClusterNode.StartAsync(topology, n.Id, key, dir.NodeDataPath(n.Id), options,
                    service: NodeServices.For(topology, topology.Cluster(n.ClusterId)), loggerFactory: cluster._logs, configureBuilder: b => b.Logging.ClearProviders()));
            }

            var coordinators = topology.Coordinators.ToList();
            // The clients are one process, as a gateway's connections are: a signature one has verified, the others need not.
            var signatures = new VerifiedSignatureCache();
            for (var i = 0; i < clientCount; i++)
            {
                var c = coordinators[i % coordinators.Count];
                var key = dir.LoadKey(clientIds[i]);
                var grpc = new GrpcNodeClient(new Uri(c.Nodes[(i / coordinators.Count) % c.N].Endpoint));
                var client = new BftClient(topology, c.Id, clientIds[i], key, grpc, new BftClientOptions { MaxBatch = 2048, SignatureCache = signatures });
                cluster._clients.Add((client, grpc, key));
                await client.StartAsync();
            }

            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Per cluster, in topology order: WAL fsyncs and bytes of all its nodes, and decisions, requests and view changes seen by its node 0.</summary>
    public async Task<ClusterCounters[]> CountersAsync()
    {
        var result = new ClusterCounters[Topology.Clusters.Count];
        for (var i = 0; i < result.Length; i++)
        {
            var id = Topology.Clusters[i].Id;
            var members = _nodes.Where(n => n.Node.ClusterId == id).ToList();
            var (decisions, requests, viewChanges) = await members[0].Host.QueryAsync(r => (r.DecisionsApplied, r.RequestsDecided, r.ViewChangesStarted));
            long used = 0, wasted = 0, withoutInputs = 0;
            foreach (var m in members)
            {
                var (u, w, x) = await m.Host.QueryAsync(r => (r.InputsAheadUsed, r.InputsAheadWasted, r.PrePreparesWithoutInputs));
                used += u;
                wasted += w;
                withoutInputs += x;
            }

            result[i] = new ClusterCounters(members.Sum(n => n.WalFsyncs), members.Sum(n => n.WalBytes), decisions, requests, viewChanges, used, wasted,
                members.Sum(n => n.Host.InboundVerifications), withoutInputs);
        }

        return result;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (c, g, k) in _clients)
        {
            await c.DisposeAsync();
            g.Dispose();
            k.Dispose();
        }

        foreach (var n in _nodes)
        {
            await n.DisposeAsync();
        }

        foreach (var k in _nodeKeys)
        {
            k.Dispose();
        }

        _logs?.Dispose();

        try
        {
            Directory.Delete(_root, true);
        }
        catch (IOException)
        {
        }
    }
}
