using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.Consensus;

// Checkpoints: the snapshot is written in the background, and the WAL is compacted only down to a
// snapshot that is durable.
public sealed partial class Replica
{
    // The snapshot being saved and its height. Until the save completes, the WAL keeps every record
    // it had: after a crash, the previous snapshot plus the WAL's decisions rebuild the state.
    private Task? _pendingSave;
    private ulong _pendingSaveHeight;
    // The checkpoint captured but whose save this member starts later (see SaveDelay), and the height it starts at.
    private Checkpoint? _deferredSave;
    private ulong _deferredSaveAt;

    /// <summary>Whether a snapshot save has been started and not yet followed by its WAL compaction.</summary>
    public bool SnapshotSavePending => _pendingSave is not null;

    /// <summary>
    /// Work for the time between messages, a slice per call; whether there is more. Before a checkpoint height (the next
    /// height, or the one after the height in progress), encodes and hashes some of the buckets written since the
    /// last root. The proposal at the checkpoint height waits for that root, on the leader and then on each follower,
    /// and a replica is idle meanwhile: waiting for the commits of the height before, or for the leader's proposal.
    /// Only the buckets the checkpoint height itself writes are then left (a sixth of them with 125 requests per
    /// decision, random keys and 1,024 buckets). Buckets the heights in progress write again are encoded twice, so not
    /// when the last decision wrote to half the buckets or more: with 1,000 requests per decision it wrote to three
    /// quarters, and `bench kv` at 2,048 users lost throughput to encoding ahead.
    /// </summary>
    public bool WorkWhileIdle()
    {
        var next = _decided + 1;
        return (IsCheckpointHeight(next) || IsCheckpointHeight(next + 1))
            && _lastDecisionWrittenBuckets * 2 < _state.BucketCount
            && _state.RehashSome(IdleRehashBuckets);
    }

    // How many of the state's buckets the last decision wrote to.
    private int _lastDecisionWrittenBuckets;

    // Buckets per slice: ~40 µs each with 300 entries, so a slice ends well before the next tick (1 ms).
    private const int IdleRehashBuckets = 4;

    /// <summary>After each decision (state applied, slot reset): a checkpoint, or the compaction a finished save allows.</summary>
    private void CheckpointAfterDecision(Decision decision)
    {
        _lastDecisionWrittenBuckets = _state.TakeWrittenBucketCount();
        if (IsCheckpointHeight(decision.Height))
        {
            TakeCheckpoint(decision);
            return;
        }

        if (_deferredSave is { } due && decision.Height >= _deferredSaveAt)
        {
            BeginSave(due);
        }

        if (_pendingSave is { IsCompleted: true })
        {
            FinishPendingSave();
        }
    }

    /// <summary>
    /// How many decisions after a checkpoint this member starts saving it: its index times
    /// <see cref="ReplicaOptions.SaveStaggerDecisions"/>, if that is under half the interval (else at once).
    /// </summary>
    /// <remarks>
    /// The members of a cluster reach a checkpoint at the same height, and when they share a machine (a
    /// local cluster, the benchmarks) their saves, each writing the whole state, then compete for its cores
    /// all at once: staggered, `bench kv` at 2,048 users measured a p99 of 131-140 ms against 206-222 ms in
    /// alternated runs. The checkpoint is served from its height on; only its save, and the WAL compaction
    /// that waits for it, start later. Until then the previous snapshot and the whole WAL rebuild the state,
    /// as during any save. Under half the interval, a save begins well before the next checkpoint waits for it.
    /// </remarks>
    private ulong SaveDelay
    {
        get
        {
            var delay = (long)_self * _options.SaveStaggerDecisions;
            return delay > 0 && delay < _options.CheckpointInterval / 2 ? (ulong)delay : 0;
        }
    }

    private void TakeCheckpoint(Decision decision)
    {
        // A save not yet begun (of the checkpoint before) would have its buffers reused by this capture: this
        // checkpoint is saved instead.
        if (SavesCheckpoint(decision.Height) || _deferredSave is not null)
        {
            StartSave(decision.Header, decision.Qc, _state, SaveDelay);
        }
        else
        {
            // Captured only, to be served. The capture reuses the buffers of the one before, which a save still
            // running must have finished writing (it normally finished an interval ago).
            FinishPendingSave();
            _checkpoint = Checkpoint.Capture(decision.Header, decision.Qc, _state);
        }

        if (_pendingSave is { IsCompleted: true })
        {
            FinishPendingSave();
        }
    }

    /// <summary>
    /// Whether this member saves the snapshot of the checkpoint at <paramref name="height"/>: one checkpoint in
    /// <see cref="ReplicaOptions.SaveEveryCheckpoints"/>, each member at another one.
    /// </summary>
    /// <remarks>
    /// A save writes (and checksums, and fsyncs) the whole state, whatever the interval changed, and the WAL
    /// rewrite after it copies what it keeps. With the state larger than the WAL an interval appends (`bench
    /// transfers`: 100,000 accounts and every transfer kept), that was the largest cost of a checkpoint after the
    /// root, and the members sharing a machine saved at the same checkpoint. The snapshot only shortens a restart:
    /// peers are served the captured checkpoint, saved or not. Each member at another checkpoint, so that members
    /// sharing a machine do not write at once.
    /// </remarks>
    private bool SavesCheckpoint(ulong height)
    {
        var every = (ulong)_options.SaveEveryCheckpoints;
        return every <= 1 || ((height / (ulong)_options.CheckpointInterval) + (ulong)_self) % every == 0;
    }

    /// <summary>Captures <paramref name="state"/> (as of <paramref name="header"/>) as the checkpoint served to peers, and starts saving it.</summary>
    private void StartSave(DecisionHeader header, QuorumCertificate qc, ReplicatedState state, ulong delay = 0)
    {
        // Saves never overlap: each deletes the older snapshots once durable, so a late older save
        // would delete a newer one; and a capture reuses the buffers of the one before, which the
        // save must have finished writing. The last save normally finished long ago (a whole
        // interval earlier); it is superseded, so the WAL is compacted once the new one is durable.
        if (_pendingSave is { } previous)
        {
            previous.GetAwaiter().GetResult();
            _durableSnapshotHeight = Math.Max(_durableSnapshotHeight, _pendingSaveHeight);
            _pendingSave = null;
        }

        // A save not yet begun is superseded too (this capture may reuse its buffers).
        _deferredSave = null;
        _checkpoint = Checkpoint.Capture(header, qc, state);
        if (delay > 0)
        {
            _deferredSave = _checkpoint;
            _deferredSaveAt = header.Height + delay;
        }
        else
        {
            BeginSave(_checkpoint);
        }
    }

    private void BeginSave(Checkpoint checkpoint)
    {
        // A later checkpoint (an installed snapshot) supersedes a save not yet begun.
        _deferredSave = null;
        _pendingSave = _snapshots.SaveAsync(checkpoint.Header.Height, checkpoint.Parts());
        _pendingSaveHeight = checkpoint.Header.Height;
    }

    /// <summary>
    /// Waits for the pending save (if any) and compacts the WAL down to it. A failed save throws
    /// here, on the replica's thread, as a synchronous save did, and the WAL stays as it was.
    /// Call only between decisions (the slot reset, no vote for an undecided height in the WAL).
    /// </summary>
    private void FinishPendingSave()
    {
        if (_pendingSave is not { } save)
        {
            return;
        }

        save.GetAwaiter().GetResult();
        _pendingSave = null;
        _durableSnapshotHeight = Math.Max(_durableSnapshotHeight, _pendingSaveHeight);
        CompactWal(_pendingSaveHeight);
    }

    /// <summary>
    /// After a snapshot at <paramref name="snapshotHeight"/> is durable, the WAL keeps only what it
    /// does not hold: the view, an outstanding view change, the compact decisions other clusters
    /// have not acknowledged yet, and the decisions made while it was being saved.
    /// </summary>
    /// <remarks>
    /// Called only between decisions (the slot is reset), so no vote for an undecided height is in
    /// the log to be lost. The rewrite drops every PrepareSent, so the kept decisions are written
    /// whole, never by reference. Records still buffered (the decision just made, by reference to a
    /// PrepareSent) would land after the new log and name a proposal it no longer holds: they are
    /// made durable in the old log first, and the new one holds all they hold (the decisions after
    /// the snapshot whole, the groups of those it covers in the Outbound records).
    /// </remarks>
    private void CompactWal(ulong snapshotHeight)
    {
        var firstKept = _log.FindIndex(d => d.Height > snapshotHeight);
        if (_decided > snapshotHeight && (firstKept < 0 || _log[firstKept].Height != snapshotHeight + 1))
        {
            // The in-memory log no longer holds every decision since the snapshot (it cannot, with
            // RetainDecisions ≥ CheckpointInterval): keep the whole WAL rather than lose any.
            return;
        }

        var records = new List<Storage.WalRecord> { new((byte)WalRecordType.View, U64Bytes(_view)) };
        if (_inViewChange && _myViewChange is not null)
        {
            records.Add(new((byte)WalRecordType.ViewChangeSent, _myViewChange));
            if (_resumedView == _view)
            {
                // Resumed after entering this view: the view again after the VIEW-CHANGE says so to the next recovery.
                records.Add(new((byte)WalRecordType.View, U64Bytes(_view)));
            }
        }

        records.AddRange(OutboundWalRecords());
        for (var i = firstKept; i >= 0 && i < _log.Count; i++)
        {
            records.Add(new((byte)WalRecordType.Decision, _log[i].ToBytes()));
        }

        _wal.Flush();
        _wal.Rewrite(records);
        _slot.InWal.Clear();
    }
}
