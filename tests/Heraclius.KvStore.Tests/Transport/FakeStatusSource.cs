using Heraclius.KvStore.Topology;
using Heraclius.KvStore.Transport;

namespace Heraclius.KvStore.Tests.Transport;

/// <summary>Stands in for the replica's status: fixed, distinct values in every field.</summary>
internal sealed class FakeStatusSource(NodeInfo node) : INodeStatusSource
{
    public NodeStatus Status { get; } = new(
        node.Id,
        node.ClusterId,
        Environment.ProcessId,
        View: 7,
        DecidedHeight: 1234567890123,
        LeaderIndex: 3,
        IsLeader: node.Index == 3,
        LastCheckpointHeight: 1234567890000,
        PoolSize: 42,
        Lag: 5);

    public NodeStatus GetStatus() => Status;
}
