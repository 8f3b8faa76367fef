using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Topology;
using Heraclius.KvStore.Transport;
using Heraclius.Testing.Cluster;
using Microsoft.Extensions.Logging;

namespace Heraclius.KvStore.Tests.Transport;

/// <summary>
/// Real Ed25519 keys and a topology of one or more 4-node clusters on free loopback ports, with
/// helpers to start real Kestrel servers and gRPC peer networks for its nodes. Ids carry a random
/// suffix so that parallel tests can tell their metrics apart.
/// </summary>
internal sealed class TestCluster : IAsyncDisposable
{
    private readonly SigningKey[][] _keys;
    private readonly List<NodeServer> _servers = [];
    private readonly List<GrpcPeerNetwork> _networks = [];

    private TestCluster(ClusterTopology topology, SigningKey[][] keys)
    {
        Topology = topology;
        _keys = keys;
        Handlers = [.. topology.Clusters.Select(c => c.Nodes.Select(_ => new RecordingHandler()).ToArray())];
    }

    public ClusterTopology Topology { get; }

    public RecordingHandler[][] Handlers { get; }

    public static PeerNetworkOptions FastOptions(int queueCapacity = 4096) => new()
    {
        QueueCapacity = queueCapacity,
        InitialBackoff = TimeSpan.FromMilliseconds(20),
        MaxBackoff = TimeSpan.FromMilliseconds(200),
        Random = new Random(1234),
    };

    public static TestCluster Create(int clusters = 1, int nodesPerCluster = 4)
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var ports = FreePorts.Reserve(clusters * nodesPerCluster);
        var keys = new SigningKey[clusters][];
        var infos = new List<ClusterInfo>();
        for (var c = 0; c < clusters; c++)
        {
            var clusterId = $"s{c}-{suffix}";
            keys[c] = new SigningKey[nodesPerCluster];
            var nodes = new List<NodeInfo>();
            for (var i = 0; i < nodesPerCluster; i++)
            {
                keys[c][i] = SigningKey.Generate();
                nodes.Add(new NodeInfo($"{clusterId}-n{i}", clusterId, i, keys[c][i].PublicKey, $"http://127.0.0.1:{ports[(c * nodesPerCluster) + i]}"));
            }

            infos.Add(new ClusterInfo(clusterId, ClusterKind.Shard, nodes));
        }

        return new TestCluster(new ClusterTopology(infos, []), keys);
    }

    public NodeInfo Node(int index, int cluster = 0) => Topology.Clusters[cluster].Nodes[index];

    public SigningKey Key(int index, int cluster = 0) => _keys[cluster][index];

    public LocalNode Local(int index, int cluster = 0) => new(Topology, Node(index, cluster).Id, Key(index, cluster));

    /// <summary>The same topology with one node's public key replaced, as an impostor would configure it.</summary>
    public ClusterTopology WithKey(int index, VerifyingKey key, int cluster = 0) =>
        new(
            Topology.Clusters.Select((c, ci) => new ClusterInfo(
                c.Id,
                c.Kind,
                [.. c.Nodes.Select(n => ci == cluster && n.Index == index ? n with { PublicKey = key } : n)])),
            Topology.Clients);

    public async Task<NodeServer> StartServerAsync(
        int index,
        int cluster = 0,
        Action<TransportServerOptions>? configure = null,
        LocalNode? asNode = null,
        IPeerMessageHandler? handler = null)
    {
        var server = await NodeServer.StartAsync(
            new NodeServerOptions
            {
                Node = asNode ?? Local(index, cluster),
                PeerHandler = handler ?? Handlers[cluster][index],
                DecisionFeed = new FakeDecisionFeed(),
                ClientGateway = new FakeClientGateway(),
                StatusSource = new FakeStatusSource(Node(index, cluster)),
                ConfigureTransport = configure,
            },
            builder => builder.Logging.ClearProviders(),
            ct: TestContext.Current.CancellationToken);
        _servers.Add(server);
        return server;
    }

    public async Task StopServerAsync(NodeServer server)
    {
        _servers.Remove(server);
        await server.DisposeAsync();
    }

    public GrpcPeerNetwork StartNetwork(int index, PeerNetworkOptions? options = null, int cluster = 0)
    {
        var network = new GrpcPeerNetwork(Local(index, cluster), Handlers[cluster][index], options ?? FastOptions());
        _networks.Add(network);
        return network;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var network in _networks)
        {
            await network.DisposeAsync();
        }

        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }

        foreach (var key in _keys.SelectMany(k => k))
        {
            key.Dispose();
        }
    }
}
