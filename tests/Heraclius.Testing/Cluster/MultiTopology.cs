using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Simulation;
using Heraclius.KvStore.Topology;

namespace Heraclius.Testing.Cluster;

/// <summary>C coordinator and S shard clusters of real Ed25519 keys, built in memory for tests, running <c>service</c>.</summary>
public sealed class MultiTopology
{
    private readonly SimulatedTopology _inner;

    public MultiTopology(int coordinators, int shards, int nodes = 4, int clients = 2, Func<string, int, string>? endpoint = null,
        string service = ClusterTopology.KeyValueService)
    {
        _inner = new SimulatedTopology(coordinators, shards, nodes, clients, endpoint);
        Topology = service == _inner.Topology.Service ? _inner.Topology : new ClusterTopology(_inner.Topology.Clusters, _inner.Topology.Clients, service);
    }

    public ClusterTopology Topology { get; }

    public Dictionary<string, SigningKey[]> NodeKeys => _inner.NodeKeys;

    public SigningKey[] ClientKeys => _inner.ClientKeys;
}
