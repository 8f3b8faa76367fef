using Heraclius.KvStore.Hosting;
using Heraclius.KvStore.StateMachine;
using Heraclius.KvStore.Topology;
using Heraclius.Ledger.Coordinator;
using Heraclius.Ledger.Shard;

namespace Heraclius.Node.Services;

/// <summary>Maps a topology's service name to the replicated service each of its clusters runs.</summary>
internal static class NodeServices
{
    public const string Ledger = "ledger";

    public static IReplicatedService For(ClusterTopology topology, ClusterInfo cluster) => topology.Service switch
    {
        ClusterTopology.KeyValueService => ClusterNode.DefaultService(topology, cluster),
        Ledger => cluster.Kind == ClusterKind.Coordinator
            ? new LedgerCoordinatorService(topology, cluster.Id)
            : new LedgerShardService(topology, cluster.Id),
        _ => throw new ArgumentException($"topology service {topology.Service} is not one this node runs (kv, ledger)"),
    };
}
