namespace Heraclius.KvStore.Transport;

/// <summary>What one subscription to a source cluster has done so far; read by tests, the status page and health checks.</summary>
/// <param name="SourceCluster">The cluster the subscription receives from.</param>
/// <param name="NodeIndex">The index, in the source cluster, of the node subscribed to now (or next).</param>
/// <param name="NodeId">That node's id.</param>
/// <param name="Subscribed">Whether a call to that node is open now.</param>
/// <param name="Accepted">Compact decisions the sink took.</param>
/// <param name="Stale">Valid compact decisions the sink already held.</param>
/// <param name="Invalid">Compact decisions that failed verification; each one moved the subscription on.</param>
/// <param name="Overloaded">Compact decisions the sink could not take yet; each one paused the subscription.</param>
/// <param name="Rotations">Moves to the next node, for any reason.</param>
/// <param name="Failures">Streams that failed or ended, including unreachable nodes.</param>
/// <param name="LastFailure">What ended the last failed stream, or null.</param>
public sealed record InboundSubscriptionStats(
    string SourceCluster,
    int NodeIndex,
    string NodeId,
    bool Subscribed,
    long Accepted,
    long Stale,
    long Invalid,
    long Overloaded,
    long Rotations,
    long Failures,
    string? LastFailure);
