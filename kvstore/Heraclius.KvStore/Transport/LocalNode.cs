using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Topology;

namespace Heraclius.KvStore.Transport;

/// <summary>
/// Who this process speaks as on the wire: one node of the topology together with its private
/// key. The transport signs handshakes with the key and looks peers up by id.
/// </summary>
public sealed class LocalNode
{
    private readonly Dictionary<string, NodeInfo> _nodesById;

    public LocalNode(ClusterTopology topology, string nodeId, SigningKey key)
    {
        ArgumentNullException.ThrowIfNull(topology);
        ArgumentNullException.ThrowIfNull(key);
        _nodesById = new Dictionary<string, NodeInfo>(StringComparer.Ordinal);
        foreach (var cluster in topology.Clusters)
        {
            foreach (var node in cluster.Nodes)
            {
                if (!_nodesById.TryAdd(node.Id, node))
                {
                    throw new ArgumentException($"node id {node.Id} appears twice in the topology", nameof(topology));
                }
            }
        }

        if (!_nodesById.TryGetValue(nodeId, out var self))
        {
            throw new ArgumentException($"node {nodeId} is not in the topology", nameof(nodeId));
        }

        if (!key.PublicKey.Equals(self.PublicKey))
        {
            throw new ArgumentException($"the signing key does not match node {nodeId}'s public key in the topology", nameof(key));
        }

        Topology = topology;
        Node = self;
        Cluster = topology.Cluster(self.ClusterId);
        Key = key;
    }

    public ClusterTopology Topology { get; }

    public NodeInfo Node { get; }

    public ClusterInfo Cluster { get; }

    /// <summary>The node's private key; owned by the caller, who disposes it.</summary>
    public SigningKey Key { get; }

    public bool TryGetNode(string nodeId, out NodeInfo node) => _nodesById.TryGetValue(nodeId, out node!);
}
