using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Simulation;
using Heraclius.KvStore.Topology;

namespace Heraclius.KvStore.Tests.MultiCluster;

/// <summary>C coordinator and S shard clusters of real Ed25519 keys, built in memory for tests.</summary>
public sealed class MultiTopology
{
    private readonly SimulatedTopology _inner;

    public MultiTopology(int coordinators, int shards, int nodes = 4, int clients = 2, Func<string, int, string>? endpoint = null)
    {
        _inner = new SimulatedTopology(coordinators, shards, nodes, clients, endpoint);
    }

    public ClusterTopology Topology => _inner.Topology;

    public Dictionary<string, SigningKey[]> NodeKeys => _inner.NodeKeys;

    public SigningKey[] ClientKeys => _inner.ClientKeys;
}
