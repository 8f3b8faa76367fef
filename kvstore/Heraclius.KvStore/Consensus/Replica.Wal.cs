using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Consensus;

// The records a height leaves in the WAL. A proposal (100–300 KB under load) is written whole once,
// normally in the PrepareSent; the commit and decision records that follow name it by reference when
// this log is sure to hold it in an earlier record, so a decision costs the disk one copy instead of three.
public sealed partial class Replica
{
    // Reused for every WAL record: the records that hold a whole proposal are written and copied
    // into the log at once, so a buffer kept at its largest size saves an allocation per record.
    private readonly CanonicalWriter _walRecord = new(0);

    /// <summary>Before a prepare: the view and the whole proposal, durable.</summary>
    private void LogPrepareSent(ulong view, Proposal proposal)
    {
        var w = _walRecord;
        w.Clear();
        w.U64(view);
        proposal.Write(w);
        _wal.Append((byte)WalRecordType.PrepareSent, w.WrittenSpan);
        _slot.InWal.Add(proposal.Header.Hash);
        _wal.Flush();
    }

    /// <summary>Before a commit: the prepared certificate, durable; its proposal by reference when the log holds it.</summary>
    private void LogCommitSent(PreparedCertificate cert)
    {
        var w = _walRecord;
        w.Clear();
        if (_slot.InWal.Contains(cert.Proposal.Header.Hash))
        {
            w.U64(cert.View);
            ProposalReference.Of(cert.Proposal.Header).Write(w);
            new QuorumCertificate(cert.View, cert.Prepares).Write(w);
            _wal.Append((byte)WalRecordType.CommitSentRef, w.WrittenSpan);
        }
        else
        {
            cert.Write(w);
            _wal.Append((byte)WalRecordType.CommitSent, w.WrittenSpan);
            _slot.InWal.Add(cert.Proposal.Header.Hash);
        }

        _wal.Flush();
    }

    /// <summary>
    /// A decision, appended without its own fsync (peers can resupply it). By reference when the log
    /// holds its proposal (this node prepared it); whole when it learned the proposal otherwise, as
    /// from a peer's decision batch.
    /// </summary>
    private void LogDecision(Decision decision)
    {
        var w = _walRecord;
        w.Clear();
        if (_slot.InWal.Contains(decision.Header.Hash))
        {
            ProposalReference.Of(decision.Header).Write(w);
            decision.Qc.Write(w);
            _wal.Append((byte)WalRecordType.DecisionRef, w.WrittenSpan);
        }
        else
        {
            decision.Write(w);
            _wal.Append((byte)WalRecordType.Decision, w.WrittenSpan);
            _slot.InWal.Add(decision.Header.Hash);
        }
    }
}
