using System.Diagnostics.Metrics;

namespace Heraclius.KvStore.Hosting;

/// <summary>
/// The consensus meter ("Heraclius.Consensus"): decisions, requests, view, height, lag, pool,
/// view changes, snapshots installed, and rejected messages by reason, tagged with the node id.
/// Every instrument reads the replica's latest published snapshot, never the replica itself.
/// </summary>
public sealed class ReplicaMetrics : IDisposable
{
    public const string MeterName = "Heraclius.Consensus";

    private readonly Meter _meter = new(MeterName);

    public ReplicaMetrics(ReplicaHost host)
    {
        var node = new KeyValuePair<string, object?>("node", null);
        KeyValuePair<string, object?> Tag(ReplicaSnapshot s) => new("node", s.Status.NodeId);
        Measurement<long> Long(Func<ReplicaSnapshot, long> read)
        {
            var s = host.Snapshot;
            return s is null ? new Measurement<long>(0, node) : new Measurement<long>(read(s), Tag(s));
        }

        _meter.CreateObservableCounter("heraclius.consensus.decisions", () => Long(s => s.DecisionsApplied), description: "Decisions applied");
        _meter.CreateObservableCounter("heraclius.consensus.requests", () => Long(s => s.RequestsDecided), description: "Client requests decided");
        _meter.CreateObservableCounter("heraclius.consensus.view_changes", () => Long(s => s.ViewChangesStarted), description: "View changes this node started or joined");
        _meter.CreateObservableCounter("heraclius.consensus.leader_suspicions", () => Long(s => s.LeaderSuspicions), description: "Views whose leader this node's timers suspected (it changes view when f+1 members do)");
        _meter.CreateObservableCounter("heraclius.consensus.snapshots_installed", () => Long(s => s.SnapshotsInstalled), description: "Snapshots fetched from peers and installed");
        _meter.CreateObservableGauge("heraclius.consensus.abstains_through_view", () => Long(s => s.AbstainsThroughView ?? -1), description: "After a crash: the highest view in which this node signs no prepare or pre-prepare (rule R); -1 when it abstains in none");
        _meter.CreateObservableCounter("heraclius.consensus.proposals_abstained", () => Long(s => s.ProposalsAbstained), description: "Proposals this node left unprepared because it abstains in their view after a crash (a re-sent pre-prepare counts again)");
        _meter.CreateObservableCounter("heraclius.storage.wal_compactions_skipped", () => Long(s => s.WalCompactionsSkipped), description: "Snapshots saved after which the WAL was kept whole, its decisions since the snapshot no longer all in memory (should stay 0; the WAL grows until a later save compacts it)");
        _meter.CreateObservableCounter("heraclius.storage.wal_compactions_failed", () => Long(s => s.WalCompactionsFailed), description: "Compacted WALs that could not be written on their own thread; the current log was kept whole (should stay 0; the WAL grows until a later save compacts it)");
        _meter.CreateObservableGauge("heraclius.consensus.view", () => Long(s => (long)s.Status.View), description: "Current view");
        _meter.CreateObservableGauge("heraclius.consensus.height", () => Long(s => (long)s.Status.DecidedHeight), description: "Last decided height");
        _meter.CreateObservableGauge("heraclius.consensus.lag", () => Long(s => (long)s.Status.Lag), description: "Decisions behind the highest height a peer reported");
        _meter.CreateObservableGauge("heraclius.consensus.pool_requests", () => Long(s => s.Status.PoolSize), description: "Requests waiting in the pool");
        _meter.CreateObservableGauge("heraclius.consensus.leader", () => Long(s => s.Status.IsLeader ? 1 : 0), description: "1 when this node leads its view");
        _meter.CreateObservableGauge("heraclius.consensus.inbox_dropped", () => new Measurement<long>(host.DroppedInbound, node), description: "Inbound events dropped because the inbox was full");
        _meter.CreateObservableGauge("heraclius.checkpoint.encoder_queue", () => new Measurement<long>(StateMachine.CaptureEncoders.Queued, node), description: "Checkpoint captures waiting for this process's low-priority encoder threads");
        _meter.CreateObservableGauge("heraclius.checkpoint.encoders_lowered", () => new Measurement<long>(StateMachine.CaptureEncoders.Lowered, node), description: "Encoder threads running at the lowest OS priority (one per core once a capture was encoded; fewer means the OS refused)");
        _meter.CreateObservableCounter("heraclius.consensus.inbound_verifications", () => new Measurement<long>(host.InboundVerifications, node), description: "Compact decisions of other clusters verified (QC and Merkle proof) by this node, each distinct one once");
        _meter.CreateObservableCounter("heraclius.consensus.rejected", () =>
        {
            var s = host.Snapshot;
            return s is null
                ? []
                : s.Rejections.Select(kv => new Measurement<long>(kv.Value, Tag(s), new KeyValuePair<string, object?>("reason", kv.Key.ToString())));
        }, description: "Peer messages dropped, by reason");
    }

    public void Dispose() => _meter.Dispose();
}
