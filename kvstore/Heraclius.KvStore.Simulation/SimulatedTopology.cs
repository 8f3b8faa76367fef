using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Topology;

namespace Heraclius.KvStore.Simulation;

/// <summary>C coordinator clusters c0.. and S shard clusters s0.. of fresh Ed25519 keys, and clients client-0.., built in memory.</summary>
public sealed class SimulatedTopology
{
    public SimulatedTopology(int coordinators, int shards, int nodes = 4, int clients = 2, Func<string, int, string>? endpoint = null)
    {
        var clusters = new List<ClusterInfo>();
        void Add(string id, ClusterKind kind)
        {
            var keys = Enumerable.Range(0, nodes).Select(_ => SigningKey.Generate()).ToArray();
            NodeKeys[id] = keys;
            clusters.Add(new ClusterInfo(id, kind, [.. keys.Select((k, i) => new NodeInfo($"{id}-n{i}", id, i, k.PublicKey, endpoint?.Invoke(id, i) ?? $"http://127.0.0.1:{17000 + i}"))]));
        }

        for (var c = 0; c < coordinators; c++)
        {
            Add($"c{c}", ClusterKind.Coordinator);
        }

        for (var s = 0; s < shards; s++)
        {
            Add($"s{s}", ClusterKind.Shard);
        }

        ClientKeys = [.. Enumerable.Range(0, clients).Select(_ => SigningKey.Generate())];
        Topology = new ClusterTopology(clusters, ClientKeys.Select((k, i) => new ClientInfo($"client-{i}", k.PublicKey)));
    }

    public ClusterTopology Topology { get; }

    public Dictionary<string, SigningKey[]> NodeKeys { get; } = new(StringComparer.Ordinal);

    public SigningKey[] ClientKeys { get; }
}
