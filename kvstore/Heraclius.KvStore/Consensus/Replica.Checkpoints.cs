using Heraclius.KvStore.Crypto;
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
    private StateCapture? _pendingSaveSource;
    // The captures whose chunks this replica may still read or hand out (its capture, its served checkpoint's, a
    // save's): each is retired, its buffers given back for later captures, once none of those fields holds it.
    private readonly List<StateCapture> _heldCaptures = new(4);
    // The checkpoint captured but whose save this member starts later (see SaveDelay), and the height it starts at.
    private Checkpoint? _deferredSave;
    private ulong _deferredSaveAt;

    /// <summary>Whether a snapshot save has been started and not yet followed by its WAL compaction.</summary>
    public bool SnapshotSavePending => _pendingSave is not null;

    // The capture of the state at the last checkpoint height c (0 at genesis), whose root the header at c + I carries,
    // and the decided header and QC of c (none at genesis, whose capture is never served or saved).
    private StateCapture _capture = null!;
    private DecisionHeader? _captureAt;
    private QuorumCertificate? _captureAtQc;

    /// <summary>
    /// Captures the state, which must be the state after <paramref name="height"/> (a checkpoint height, or 0 at
    /// genesis) with no execution open, as the one whose root the header at <paramref name="height"/> + I carries;
    /// <paramref name="ready"/> when a complete capture of it is at hand (a snapshot loaded or installed).
    /// </summary>
    private void BeginCapture(ulong height, DecisionHeader? at, QuorumCertificate? atQc, StateCapture? ready = null)
    {
        if (height != _decided || !IsCheckpointHeight(height) || _slot.Exec is not null)
        {
            throw new InvalidOperationException($"capture at height {height} with {_decided} decided (or an execution open)");
        }

        // Retired first, so that this capture encodes into the buffers of those no longer held.
        RetireUnheldCaptures();
        // Buckets the previous capture holds unchanged are shared with it: its chunks are never written.
        _capture = ready ?? _state.Capture(height, _capture is { IsComplete: true } previous ? previous : null);
        _captureAt = at;
        _captureAtQc = atQc;
        RetireUnheldCaptures();
        if (!_capture.IsComplete)
        {
            _capture.StartInBackground();
        }
    }

    /// <summary>
    /// Retires each capture this replica held and no longer holds (see <see cref="StateCapture.Retire"/>), and notes
    /// the ones it holds now. Any call is safe: a capture is retired only once no field names it.
    /// </summary>
    private void RetireUnheldCaptures()
    {
        for (var i = _heldCaptures.Count - 1; i >= 0; i--)
        {
            // One not yet complete (an install replaced it) is retired at a later capture, once its encoders are done.
            if (!Holds(_heldCaptures[i]))
            {
                _heldCaptures[i].Retire();
                if (_heldCaptures[i].IsRetired)
                {
                    _heldCaptures.RemoveAt(i);
                }
            }
        }

        Note(_capture);
        Note(_checkpoint?.Source);
        Note(_deferredSave?.Source);
        Note(_pendingSaveSource);

        void Note(StateCapture? capture)
        {
            if (capture is not null && !_heldCaptures.Contains(capture))
            {
                _heldCaptures.Add(capture);
            }
        }
    }

    /// <summary>
    /// Refuses to save or serve a checkpoint whose capture was retired: a later capture may be encoding into its
    /// chunks. Never so while <see cref="Holds"/> names every field that keeps a checkpoint.
    /// </summary>
    private static void ThrowIfRetired(Checkpoint checkpoint)
    {
        if (checkpoint.Source is { IsRetired: true })
        {
            throw new InvalidOperationException($"the checkpoint at {checkpoint.Height} was retired: its chunks may be rewritten");
        }
    }

    private bool Holds(StateCapture capture) =>
        ReferenceEquals(capture, _capture)
        || ReferenceEquals(capture, _checkpoint?.Source)
        || ReferenceEquals(capture, _deferredSave?.Source)
        || ReferenceEquals(capture, _pendingSaveSource);

    /// <summary>
    /// The stateRoot the header at <paramref name="height"/> carries: at a checkpoint height, the root of the state an
    /// interval before (waiting for what of its encoding is left); zero elsewhere.
    /// </summary>
    private Hash32 StateRootFor(ulong height)
    {
        if (!IsCheckpointHeight(height))
        {
            return Hash32.Zero;
        }

        if (_capture.Height + (ulong)_options.CheckpointInterval != height)
        {
            throw new InvalidOperationException($"the root for height {height} needs the capture of {height - (ulong)_options.CheckpointInterval}, not {_capture.Height}");
        }

        return _capture.Root();
    }

    /// <summary>After each decision (state applied, slot reset): a checkpoint, or the compaction a finished save allows.</summary>
    private void CheckpointAfterDecision(Decision decision)
    {
        FinishWalRewriteIfReady();
        if (IsCheckpointHeight(decision.Height))
        {
            TakeCheckpoint(decision, save: true);
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
    /// alternated runs. The checkpoint is served once the interval after it is decided (that header certifies its
    /// root); its save, and the WAL compaction that waits for it, start that many decisions later. Until then the
    /// previous snapshot and the whole WAL rebuild the state, as during any save. Under half the interval, a save begins well before the next checkpoint waits for it.
    /// </remarks>
    private ulong SaveDelay
    {
        get
        {
            var delay = (long)_self * _options.SaveStaggerDecisions;
            return delay > 0 && delay < _options.CheckpointInterval / 2 ? (ulong)delay : 0;
        }
    }

    /// <summary>
    /// At a checkpoint height H: the capture of H − I, whose root H's header certified, becomes the checkpoint served
    /// to peers (and saved, at this member's turn, when <paramref name="save"/>), and the state after H is captured.
    /// </summary>
    private void TakeCheckpoint(Decision decision, bool save)
    {
        // A capture that came with its certificates (a snapshot installed, or loaded at recovery) is served already,
        // and saved or being saved: H certifies it once more. Saving it again wrote the whole state a second time, and
        // after an install first waited on this thread for the install's own save: the decisions an installing node
        // takes next always reach H.
        var servedAlready = _checkpoint?.Height == _capture.Height;
        if (!servedAlready && _captureAt is { } at && _captureAtQc is { } atQc)
        {
            var checkpoint = Checkpoint.Of(_capture, at, atQc, decision.Header, decision.Qc);
            // A save not yet begun (of the checkpoint before) is superseded: this one is saved instead.
            if (save && (SavesCheckpoint(checkpoint.Height) || _deferredSave is not null))
            {
                StartSave(checkpoint, SaveDelay);
            }
            else
            {
                _checkpoint = checkpoint;
            }
        }

        BeginCapture(decision.Height, decision.Header, decision.Qc);
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

    /// <summary>Serves <paramref name="checkpoint"/> to peers, and starts saving it (after <paramref name="delay"/> decisions).</summary>
    private void StartSave(Checkpoint checkpoint, ulong delay = 0)
    {
        // Saves never overlap: each deletes the older snapshots once durable, so a late older save
        // would delete a newer one. The last save normally finished long ago (a whole interval
        // earlier); it is superseded, so the WAL is compacted once the new one is durable.
        if (_pendingSave is { } previous)
        {
            previous.GetAwaiter().GetResult();
            _durableSnapshotHeight = Math.Max(_durableSnapshotHeight, _pendingSaveHeight);
            _pendingSave = null;
            _pendingSaveSource = null;
        }

        // A save not yet begun is superseded too.
        _deferredSave = null;
        _checkpoint = checkpoint;
        if (delay > 0)
        {
            _deferredSave = checkpoint;
            _deferredSaveAt = checkpoint.Certifier.Height + delay;
        }
        else
        {
            BeginSave(checkpoint);
        }
    }

    private void BeginSave(Checkpoint checkpoint)
    {
        // A later checkpoint (an installed snapshot) supersedes a save not yet begun.
        _deferredSave = null;
        ThrowIfRetired(checkpoint);
        _pendingSave = _snapshots.SaveAsync(checkpoint.Height, checkpoint.Parts());
        _pendingSaveHeight = checkpoint.Height;
        _pendingSaveSource = checkpoint.Source;
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
        _pendingSaveSource = null;
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
            // The in-memory log no longer holds every decision since the snapshot: keep the whole WAL rather than
            // lose any. With RetainDecisions ≥ 3 intervals it does unless the save took longer than two intervals less
            // the stagger (it starts an interval after its capture, plus the stagger, and the log holds 3 intervals);
            // counted and logged, since the WAL then grows until a later save compacts it.
            WalCompactionsSkipped++;
            ReplicaLog.WalCompactionSkipped(_logger, NodeId, snapshotHeight, WalCompactionsSkipped);
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
        var kept = firstKept < 0 ? [] : _log.GetRange(firstKept, _log.Count - firstKept).ToArray();

        // One rewrite at a time: the one before (a save finished quickly after another) is swapped in first.
        if (_wal.RewriteInFlight)
        {
            FinishWalRewrite();
        }

        _wal.Flush();
        // Written on another thread (encoding the kept decisions and writing them took this thread 25-60 ms per compaction
        // in `bench kv --vus 512`, and a leader's pause is every member's); swapped in by FinishWalRewriteIfReady, after a
        // later decision or tick, with everything flushed meanwhile after it. Decisions are immutable, so the
        // enumeration may read them there. From here on nothing refers to a proposal by a record written before.
        _wal.BeginRewrite(KeptWalRecords(records, kept));
        _slot.InWal.Clear();
    }

    /// <summary>The compacted log's records: <paramref name="head"/>, then every kept decision whole (encoded as enumerated).</summary>
    private static IEnumerable<Storage.WalRecord> KeptWalRecords(List<Storage.WalRecord> head, Decision[] decisions)
    {
        foreach (var record in head)
        {
            yield return record;
        }

        foreach (var decision in decisions)
        {
            yield return new((byte)WalRecordType.Decision, decision.ToBytes());
        }
    }

    /// <summary>Swaps in the compacted log once its writing is done (checked after each decision and each tick).</summary>
    private void FinishWalRewriteIfReady()
    {
        if (_wal.RewriteReady)
        {
            FinishWalRewrite();
        }
    }

    private void FinishWalRewrite()
    {
        if (!_wal.CompleteRewrite())
        {
            // The current log holds everything and stays; it grows until a later save compacts it.
            WalCompactionsFailed++;
            ReplicaLog.WalCompactionFailed(_logger, NodeId, WalCompactionsFailed);
        }
    }
}
