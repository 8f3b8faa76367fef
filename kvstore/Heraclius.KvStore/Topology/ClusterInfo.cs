namespace Heraclius.KvStore.Topology;

/// <summary>A cluster of n = 3f+1 nodes; the leader of view v is node v mod n.</summary>
public sealed class ClusterInfo
{
    public ClusterInfo(string id, ClusterKind kind, IReadOnlyList<NodeInfo> nodes)
    {
        if (nodes.Count < 1 || (nodes.Count - 1) % 3 != 0)
        {
            throw new ArgumentException($"cluster {id} has {nodes.Count} nodes; it needs 3f+1", nameof(nodes));
        }

        for (var i = 0; i < nodes.Count; i++)
        {
            if (nodes[i].Index != i || nodes[i].ClusterId != id)
            {
                throw new ArgumentException($"node {nodes[i].Id} is out of place in cluster {id}", nameof(nodes));
            }
        }

        Id = id;
        Kind = kind;
        Nodes = nodes;
    }

    public string Id { get; }

    public ClusterKind Kind { get; }

    public IReadOnlyList<NodeInfo> Nodes { get; }

    public int N => Nodes.Count;

    public int F => (Nodes.Count - 1) / 3;

    public int Quorum => (2 * F) + 1;

    public int LeaderOf(ulong view) => (int)(view % (ulong)N);
}
