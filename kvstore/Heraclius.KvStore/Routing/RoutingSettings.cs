using Heraclius.KvStore.Topology;

namespace Heraclius.KvStore.Routing;

/// <summary>
/// What execution needs to know about the other clusters: this cluster's id, the clusters it
/// exchanges groups with (coordinators with every shard, shards with every coordinator), and the
/// window W of unacknowledged groups per destination. Part of the replicated configuration: every
/// replica of a cluster must use the same values.
/// </summary>
public sealed class RoutingSettings
{
    public RoutingSettings(string clusterId, IEnumerable<string> peerClusters, int outboundWindow)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(outboundWindow, 1);
        ClusterId = clusterId;
        PeerClusters = new SortedSet<string>(peerClusters, StringComparer.Ordinal);
        OutboundWindow = outboundWindow;
    }

    public string ClusterId { get; }

    /// <summary>Clusters this one sends groups to and accepts groups from, in ordinal order.</summary>
    public SortedSet<string> PeerClusters { get; }

    public int OutboundWindow { get; }

    /// <summary>Ack-only threshold K: non-empty groups received from a peer since our last group to it.</summary>
    public int AckOnlyAfter => Math.Max(1, OutboundWindow / 4);

    /// <summary>Heights of the last R groups per destination are kept to map an ackHeight to a count.</summary>
    public int RingSize => 2 * OutboundWindow;

    public bool IsPeer(string cluster) => PeerClusters.Contains(cluster);

    /// <summary>Coordinators exchange groups with every shard, shards with every coordinator.</summary>
    public static RoutingSettings For(ClusterTopology topology, string clusterId, int outboundWindow)
    {
        return new RoutingSettings(clusterId, topology.PeersOf(topology.Cluster(clusterId)).Select(c => c.Id), outboundWindow);
    }
}
