namespace Heraclius.KvStore.Transport;

/// <summary>A snapshot of one node's consensus state, as answered by the Client.Status call.</summary>
/// <param name="NodeId">The node's id in the topology.</param>
/// <param name="ClusterId">The node's cluster.</param>
/// <param name="ProcessId">The operating-system process id of the node (several nodes may share one in tests).</param>
/// <param name="View">The node's current view.</param>
/// <param name="DecidedHeight">The height of the node's last decision.</param>
/// <param name="LeaderIndex">The index of the leader of <paramref name="View"/>.</param>
/// <param name="IsLeader">Whether this node leads the current view.</param>
/// <param name="LastCheckpointHeight">The height of the checkpoint served to peers: the last capture whose root a decided header certified (that header is an interval later).</param>
/// <param name="PoolSize">Requests waiting in the node's pool.</param>
/// <param name="Lag">Decisions this node is behind the highest decided height it knows of in its cluster.</param>
public sealed record NodeStatus(
    string NodeId,
    string ClusterId,
    int ProcessId,
    ulong View,
    ulong DecidedHeight,
    int LeaderIndex,
    bool IsLeader,
    ulong LastCheckpointHeight,
    int PoolSize,
    ulong Lag);
