using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Topology;
using Heraclius.KvStore.Transport;
using Heraclius.Testing.Cluster;
using Microsoft.Extensions.Logging;

namespace Heraclius.KvStore.Tests.Transport;

/// <summary>
/// Coordinator and shard clusters of 4 nodes with real Ed25519 keys on free loopback ports, chains
/// of compact decisions certified by real QCs, and real <see cref="NodeServer"/>s that serve them
/// through a <see cref="ScriptedDecisionFeed"/>. Ids carry a random suffix so parallel tests can
/// tell their metrics apart.
/// </summary>
internal sealed class SubscriptionTestbed : IAsyncDisposable
{
    private readonly Dictionary<string, SigningKey[]> _keys;
    private readonly List<NodeServer> _servers = [];

    private SubscriptionTestbed(ClusterTopology topology, Dictionary<string, SigningKey[]> keys)
    {
        Topology = topology;
        _keys = keys;
    }

    public ClusterTopology Topology { get; }

    /// <summary>
    /// Settings that make every path happen within a test's patience. The stall clock also covers
    /// connecting, and the first HTTP/2 connection of a cold test process can take a few hundred
    /// milliseconds, so the default stall timeout stays well above that.
    /// </summary>
    public static InboundSubscriptionOptions FastOptions(int stallTimeoutMs = 1000) => new()
    {
        StallTimeoutMs = stallTimeoutMs,
        RetryBackoffMs = 20,
        MaxBackoffMs = 200,
    };

    public static SubscriptionTestbed Create(int coordinators = 1, int shards = 1)
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var ports = FreePorts.Reserve((coordinators + shards) * 4);
        var keys = new Dictionary<string, SigningKey[]>(StringComparer.Ordinal);
        var clusters = new List<ClusterInfo>();
        var next = 0;
        foreach (var (prefix, kind, count) in new[] { ("c", ClusterKind.Coordinator, coordinators), ("s", ClusterKind.Shard, shards) })
        {
            for (var c = 0; c < count; c++)
            {
                var id = $"{prefix}{c}-{suffix}";
                var clusterKeys = keys[id] = [.. Enumerable.Range(0, 4).Select(_ => SigningKey.Generate())];
                var nodes = clusterKeys.Select((k, i) => new NodeInfo($"{id}-n{i}", id, i, k.PublicKey, $"http://127.0.0.1:{ports[next++]}")).ToList();
                clusters.Add(new ClusterInfo(id, kind, nodes));
            }
        }

        return new SubscriptionTestbed(new ClusterTopology(clusters, []), keys);
    }

    public ClusterInfo Coordinator(int index = 0) => Topology.Coordinators.ElementAt(index);

    public ClusterInfo Shard(int index = 0) => Topology.Shards.ElementAt(index);

    /// <summary>
    /// Decisions 1..<paramref name="count"/> of <paramref name="source"/>, each with a group for
    /// <paramref name="destination"/> chained by prevHeight and one for "audit", certified by 2f+1
    /// members (a different quorum each time), as compact decisions for the destination.
    /// </summary>
    public IReadOnlyList<(ulong Height, byte[] Bytes)> Decisions(ClusterInfo source, string destination, int count)
    {
        var keys = _keys[source.Id];
        var result = new List<(ulong, byte[])>();
        var prev = Hash32.Zero;
        for (var h = 1UL; h <= (ulong)count; h++)
        {
            var groups = new List<OutputGroup>
            {
                new("audit", h - 1, 0, (byte[])[0, 0, 0, 0]),
                new(destination, h - 1, 0, (byte[])[0, 0, 0, 1, (byte)h, .. destination.Select(c => (byte)c)]),
            };
            groups.Sort((a, b) => string.CompareOrdinal(a.Destination, b.Destination));
            var inputs = BitConverter.GetBytes(h);
            var header = new DecisionHeader(source.Id, h, prev, Hash32.Of(inputs), Proposal.OutputsRoot(groups), Hash32.Zero);
            var proposal = new Proposal(header, inputs, groups);
            const ulong view = 1;
            var statement = VoteStatement.Bytes(VoteKind.Commit, source.Id, view, h, header.Hash);
            var signers = Enumerable.Range(0, source.Quorum).Select(i => (int)((h + (ulong)i) % (ulong)source.N));
            var qc = new QuorumCertificate(view, [.. signers.Select(s => new QcSignature(s, keys[s].Sign(statement)))]);
            result.Add((h, proposal.Compact(qc, groups.FindIndex(g => g.Destination == destination)).ToBytes()));
            prev = header.Hash;
        }

        return result;
    }

    /// <summary>Starts source node <paramref name="index"/> of <paramref name="cluster"/> on its topology port, serving <paramref name="feed"/>.</summary>
    public async Task<NodeServer> StartNodeAsync(ClusterInfo cluster, int index, IDecisionFeed feed)
    {
        var node = cluster.Nodes[index];
        var server = await NodeServer.StartAsync(
            new NodeServerOptions
            {
                Node = new LocalNode(Topology, node.Id, _keys[cluster.Id][index]),
                PeerHandler = new RecordingHandler(),
                DecisionFeed = feed,
                ClientGateway = new FakeClientGateway(),
                StatusSource = new FakeStatusSource(node),
            },
            builder => builder.Logging.ClearProviders(),
            ct: TestContext.Current.CancellationToken);
        _servers.Add(server);
        return server;
    }

    /// <summary>Starts every node of <paramref name="cluster"/>, each with its own feed; node i gets <paramref name="behaviours"/>[i] (honest when absent).</summary>
    public async Task<ScriptedDecisionFeed[]> StartClusterAsync(
        ClusterInfo cluster,
        string destination,
        IReadOnlyList<(ulong Height, byte[] Bytes)> items,
        params FeedBehaviour[] behaviours)
    {
        var feeds = new ScriptedDecisionFeed[cluster.N];
        for (var i = 0; i < cluster.N; i++)
        {
            feeds[i] = new ScriptedDecisionFeed(destination, items, i < behaviours.Length ? behaviours[i] : FeedBehaviour.Honest);
            await StartNodeAsync(cluster, i, feeds[i]);
        }

        return feeds;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }

        foreach (var key in _keys.Values.SelectMany(k => k))
        {
            key.Dispose();
        }
    }
}
