using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Topology;

namespace Heraclius.KvStore.Tests.Simulation;

/// <summary>A cluster of real Ed25519 keys built in memory for tests.</summary>
public sealed class TestTopology
{
    public TestTopology(int nodes = 4, int clients = 2, string clusterId = "c0", Func<int, string>? endpoint = null)
    {
        NodeKeys = [.. Enumerable.Range(0, nodes).Select(_ => SigningKey.Generate())];
        ClientKeys = [.. Enumerable.Range(0, clients).Select(_ => SigningKey.Generate())];
        var nodeInfos = NodeKeys.Select((k, i) => new NodeInfo($"{clusterId}-n{i}", clusterId, i, k.PublicKey, endpoint?.Invoke(i) ?? $"http://127.0.0.1:{17000 + i}")).ToList();
        Topology = new ClusterTopology(
            [new ClusterInfo(clusterId, ClusterKind.Coordinator, nodeInfos)],
            ClientKeys.Select((k, i) => new ClientInfo($"client-{i}", k.PublicKey)));
        ClusterId = clusterId;
    }

    public string ClusterId { get; }

    public ClusterTopology Topology { get; }

    public SigningKey[] NodeKeys { get; }

    public SigningKey[] ClientKeys { get; }

    public ClusterInfo Cluster => Topology.Cluster(ClusterId);
}
