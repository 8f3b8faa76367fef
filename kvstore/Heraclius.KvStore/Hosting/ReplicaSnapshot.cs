using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Transport;

namespace Heraclius.KvStore.Hosting;

/// <summary>
/// An immutable copy of a replica's counters, published by the replica thread and read by metrics,
/// health checks and status calls on other threads (the replica itself is single-threaded).
/// </summary>
public sealed record ReplicaSnapshot(
    NodeStatus Status,
    bool InViewChange,
    long DecisionsApplied,
    long RequestsDecided,
    long ViewChangesStarted,
    long LeaderSuspicions,
    long SnapshotsInstalled,
    long? AbstainsThroughView,
    long ProposalsAbstained,
    long WalCompactionsSkipped,
    long WalCompactionsFailed,
    IReadOnlyDictionary<RejectReason, long> Rejections,
    long PublishedAtMs);
