namespace Heraclius.KvStore.Topology;

public enum ClusterKind
{
    Coordinator,
    Shard,
}
