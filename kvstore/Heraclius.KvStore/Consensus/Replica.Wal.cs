using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Consensus;

// The records a height leaves in the WAL, one fsync per height: the commit's (Replica.Abstain.cs says why the
// prepare's may wait for it). A proposal (100–300 KB under load) is written whole once,
// normally in the PrepareSent; the commit and decision records that follow name it by reference when
// this log is sure to hold it in an earlier record, so a decision costs the disk one copy instead of three.
public sealed partial class Replica
{
    // Reused for every WAL record: the records that hold a whole proposal are written and copied
    // into the log at once, so a buffer kept at its largest size saves an allocation per record.
    private readonly CanonicalWriter _walRecord = new(0);

    // Past this many unflushed bytes what waits goes to disk before the next record: a node that prepares or learns
    // decisions but sends no commit (an abstainer, a laggard) would otherwise buffer without bound, and one flush
    // holds at most 64 MiB (a large proposal's PrepareSent then gets a flush of its own).
    private const long MaxUnflushedWalBytes = 8L << 20;

    /// <summary>Every record this replica writes comes through here.</summary>
    private void AppendRecord(WalRecordType type, ReadOnlySpan<byte> payload)
    {
        var pending = _wal.PendingBytes;
        if (pending > 0 && pending + payload.Length + (2 * Storage.WalFormat.RecordOverhead) > MaxUnflushedWalBytes)
        {
            _wal.Flush();
        }

        _wal.Append((byte)type, payload);
    }

    /// <summary>Before a prepare: the view and the whole proposal, appended (the commit's fsync or the next makes it durable).</summary>
    private void LogPrepareSent(ulong view, Proposal proposal)
    {
        var w = _walRecord;
        w.Clear();
        w.U64(view);
        proposal.Write(w);
        AppendRecord(WalRecordType.PrepareSent, w.WrittenSpan);
        _slot.InWal.Add(proposal.Header.Hash);
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
            AppendRecord(WalRecordType.CommitSentRef, w.WrittenSpan);
        }
        else
        {
            cert.Write(w);
            AppendRecord(WalRecordType.CommitSent, w.WrittenSpan);
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
            AppendRecord(WalRecordType.DecisionRef, w.WrittenSpan);
        }
        else
        {
            decision.Write(w);
            AppendRecord(WalRecordType.Decision, w.WrittenSpan);
            _slot.InWal.Add(decision.Header.Hash);
        }
    }
}
