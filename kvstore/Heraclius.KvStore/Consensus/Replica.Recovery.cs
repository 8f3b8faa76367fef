using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.Consensus;

// Restart: the latest snapshot, then the WAL replayed on top of it.
public sealed partial class Replica
{
    private void Recover()
    {
        var snapshot = _snapshots.LoadLatest();
        if (snapshot is { } s)
        {
            var (checkpoint, state, capture) = Checkpoint.Decode(s.Bytes, _options.StateBuckets);
            if (checkpoint.Height != s.Height
                || !Checkpoint.IsValidPair(_cluster, _options.CheckpointInterval, checkpoint.At, checkpoint.AtQc, checkpoint.Certifier, checkpoint.CertifierQc)
                || capture.Root() != checkpoint.CertifiedRoot)
            {
                throw new InvalidOperationException($"snapshot at height {s.Height} does not match its certified state root");
            }

            _state = state;
            _decided = checkpoint.Height;
            _lastHeader = checkpoint.At;
            _lastHeaderHash = checkpoint.At.Hash;
            _lastQc = checkpoint.AtQc;
            _checkpoint = checkpoint;
            _durableSnapshotHeight = checkpoint.Height;
            BeginCapture(checkpoint.Height, checkpoint.At, checkpoint.AtQc, capture);
        }
        else
        {
            // The initial state, whose root the header at the first checkpoint height carries (never served nor saved).
            BeginCapture(0, at: null, atQc: null);
        }

        (ulong View, Proposal Proposal)? prepared = null;
        PreparedCertificate? committed = null;
        byte[]? lastViewChange = null;
        ulong lastViewChangeView = 0;
        // A View record of the last VIEW-CHANGE's view after it: the node entered that view by its NEW-VIEW
        // (starting a view change logs the view before the VIEW-CHANGE, entering one logs it alone).
        var enteredAfterViewChange = false;
        // Read as views of the records' payloads, which stay alive anyway: a proposal read whole is
        // indexed for the by-reference records after it and shared with them, never copied.
        var proposals = new WalProposalIndex();
        var records = _wal.ReadAll();
        if (records.Count == 0 && snapshot is not null)
        {
            // Every node that ever ran has a Started record at least, and a compaction keeps its view: without them
            // the views this node signed in are unknown, so it cannot tell where a lost prepare may have been sent.
            throw new InvalidOperationException($"a snapshot at height {snapshot.Value.Height} but an empty WAL: the views this node signed in are unknown; restore the WAL or start from an empty data directory");
        }

        foreach (var record in records)
        {
            var r = CanonicalReader.Over(record.Payload);
            var type = (WalRecordType)record.Type;
            switch (type)
            {
                case WalRecordType.View:
                    var logged = r.U64();
                    r.End();
                    _view = Math.Max(_view, logged);
                    enteredAfterViewChange = lastViewChange is not null && logged == lastViewChangeView;
                    break;
                case WalRecordType.PrepareSent:
                    var view = r.U64();
                    prepared = (view, proposals.Add(Proposal.Read(ref r)));
                    r.End();
                    break;
                case WalRecordType.CommitSent:
                    committed = PreparedCertificate.Read(ref r);
                    proposals.Add(committed.Proposal);
                    r.End();
                    break;
                case WalRecordType.CommitSentRef:
                    committed = ReadCommitSentRef(ref r, proposals);
                    r.End();
                    break;
                case WalRecordType.ViewChangeSent:
                    lastViewChange = record.Payload;
                    lastViewChangeView = ViewChangeMessage.Parse(record.Payload).NewView;
                    _view = Math.Max(_view, lastViewChangeView);
                    enteredAfterViewChange = false;
                    break;
                case WalRecordType.Decision:
                    var decision = Decision.Read(ref r);
                    r.End();
                    proposals.Add(decision.Proposal);
                    RecoverDecision(decision);
                    break;
                case WalRecordType.DecisionRef:
                    var proposal = proposals.Resolve(ProposalReference.Read(ref r), type);
                    var qc = QuorumCertificate.Read(ref r);
                    r.End();
                    RecoverDecision(new Decision(proposal, qc));
                    break;
                case WalRecordType.Checkpoint:
                case WalRecordType.CleanStop:
                case WalRecordType.Started:
                    break;
                case WalRecordType.Outbound:
                    RecoverOutbound(record.Payload);
                    break;
                default:
                    throw new Storage.WalCorruptedException($"unknown WAL record type {record.Type}");
            }
        }

        // Both come from records that stay in the WAL, ahead of anything appended from now on, until
        // this height is decided: the records of this height that follow may name them by reference.
        if (prepared is { } p && p.Proposal.Header.Height == _decided + 1)
        {
            _slot.Accepted = p.Proposal;
            _slot.AcceptedView = p.View;
            _slot.Known[p.Proposal.Header.Hash] = p.Proposal;
            _slot.InWal.Add(p.Proposal.Header.Hash);

            // Our prepare of it counts towards our own certificate again: the same statement signed again (Ed25519
            // is deterministic), not a new vote. Without it a restarted member needed every other member's prepare.
            var h = p.Proposal.Header;
            var prepare = SignVote(VoteKind.Prepare, p.View, h.Height, h.Hash);
            _slot.Prepares.Add(p.View, _self, h.Hash, prepare, out _);
            if (p.View == _view && _cluster.LeaderOf(_view) == _self)
            {
                // Our own proposal, durable before its pre-prepare left, which may never have left: the
                // same message again, carrying that prepare, for the retransmission to send (a copy, never a second header).
                _slot.OwnPrePrepareSignature = prepare;
            }
        }

        if (committed is not null && committed.Height == _decided + 1)
        {
            _slot.Prepared = committed;
            _slot.CommitSentView = committed.View;
            _slot.Known[committed.Proposal.Header.Hash] = committed.Proposal;
            _slot.InWal.Add(committed.Proposal.Header.Hash);
        }

        if (lastViewChange is not null && lastViewChangeView == _view)
        {
            _inViewChange = true;
            _myViewChange = lastViewChange;
            _viewChangeSince = _now;
            StoreViewChange(ViewChangeMessage.Parse(lastViewChange));
            if (enteredAfterViewChange)
            {
                // It had entered this view (its VIEW-CHANGE of it is still in the WAL, not yet compacted away):
                // resumed like a node whose WAL no longer holds that VIEW-CHANGE, with the same timer that moves
                // it up when no peer re-sends the NEW-VIEW. Otherwise two such nodes, changing to a view whose
                // third VIEW-CHANGE was never sent (that member entered it by the NEW-VIEW alone), waited for
                // good below an honest member that had moved on (crash fuzzer seed 80).
                _resumedView = _view;
            }
        }
        else if (_view > 0)
        {
            // We entered this view through a NEW-VIEW we did not keep: act as if still changing to it,
            // re-sending a VIEW-CHANGE; peers answer with the NEW-VIEW, and we never sign in a lower view.
            // A certificate of this very view cannot travel in VIEW-CHANGE(view) (it must be older); the
            // leader of this view already proposed, and our restored vote keeps us from preparing anything
            // else in it, so leaving it out cannot let a second header be prepared here.
            _inViewChange = true;
            _viewChangeSince = _now;
            _resumedView = _view;
            var carried = _slot.Prepared is { } p2 && p2.View < _view ? p2 : null;
            _myViewChange = ViewChangeMessage.Encode(_self, _view, _lastHeader, _lastQc, carried, _cluster.Id, _key, SuspicionProofFor(_view));
            AppendRecord(WalRecordType.ViewChangeSent, _myViewChange);
            // The view after it: a second restart recovers as having entered the view again, timer included.
            AppendRecord(WalRecordType.View, U64Bytes(_view));
            _wal.Flush();
            StoreViewChange(ViewChangeMessage.Parse(_myViewChange));
        }

        if (records.Count > 0 && records[^1].Type != (byte)WalRecordType.CleanStop)
        {
            // A crash: the last prepares this node sent may not have reached the disk (Replica.Abstain.cs).
            _abstainThrough = _view;
            ReplicaLog.AbstainsThrough(_logger, NodeId, _view);
        }

        // Durable before anything is signed: a crash from here on must not pass for the clean stop before it.
        AppendRecord(WalRecordType.Started, []);
        _wal.Flush();
        RefreshFlow();
        ReplicaLog.Recovered(_logger, NodeId, _decided, _view);
    }

    /// <summary>A decision read from the WAL: replayed when it is the next height, and its groups queued again either way.</summary>
    private void RecoverDecision(Decision decision)
    {
        if (decision.Height == _decided + 1)
        {
            ReplayDecision(decision);
        }

        // Also decisions the snapshot already holds (a crash before the WAL rewrite): their groups may be unacknowledged.
        QueueOutbound(decision);
    }

    /// <summary>A <see cref="WalRecordType.CommitSentRef"/> payload, its proposal resolved against the records before it.</summary>
    private static PreparedCertificate ReadCommitSentRef(ref CanonicalReader r, WalProposalIndex proposals)
    {
        var view = r.U64();
        var proposal = proposals.Resolve(ProposalReference.Read(ref r), WalRecordType.CommitSentRef);
        var prepares = QuorumCertificate.Read(ref r);
        if (prepares.View != view)
        {
            throw new Storage.WalCorruptedException($"WAL {WalRecordType.CommitSentRef} record mixes views {view} and {prepares.View}");
        }

        return new PreparedCertificate(view, proposal, prepares.Signatures);
    }

    private void ReplayDecision(Decision decision)
    {
        var header = decision.Header;
        if (header.PrevHeaderHash != _lastHeaderHash)
        {
            throw new InvalidOperationException($"WAL decision {header} does not extend the recovered chain");
        }

        ExecuteCertified(decision.Proposal).Transaction.Complete();
        AdvanceChain(decision);
        if (IsCheckpointHeight(decision.Height))
        {
            // As when it was decided, but not saved: the snapshot and this WAL rebuild it already.
            TakeCheckpoint(decision, save: false);
        }
    }
}
