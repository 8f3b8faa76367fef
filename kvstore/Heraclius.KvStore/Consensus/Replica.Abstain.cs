namespace Heraclius.KvStore.Consensus;

// One fsync per decision. A prepare's WAL record is appended but not fsync'd before the prepare leaves; the commit's
// record, fsync'd before the commit leaves, makes it durable (the WAL is one sequential file). A crash can therefore
// lose the record of a prepare this node sent, and a node that restarted without it could prepare a second header
// for the same (view, height): two honest members would then help certify different headers in one view. So a node
// restarted after a crash signs no prepare and no pre-prepare in any view up to the highest one it had entered (v*,
// from its own durable View and VIEW-CHANGE records, which are fsync'd before it signs anything in a view); it keeps
// its timers, signs suspicions, VIEW-CHANGEs and commits for durable prepares, takes decisions from QCs and
// catch-up, and signs again from v* + 1 on. A graceful stop leaves a CleanStop record after everything it appended,
// durable, so a node restarted from one knows every prepare it sent and does not abstain.
public sealed partial class Replica
{
    // v*: set at a restart that found records and no clean stop after them.
    private ulong? _abstainThrough;

    /// <summary>The highest view in which this node, restarted after a crash, signs no prepare or pre-prepare (null when none).</summary>
    public ulong? AbstainsThroughView => _abstainThrough;

    /// <summary>Times this node left a proposal (a leader's pre-prepare, a NEW-VIEW's forced proposal) unprepared because it abstains in its view; a re-sent pre-prepare counts again.</summary>
    public long ProposalsAbstained { get; private set; }

    private bool Abstains(ulong view) => _abstainThrough is { } through && view <= through;

    /// <summary>Called at a proposal this node would prepare: true (and counted) when it abstains in <paramref name="view"/>.</summary>
    private bool AbstainFrom(ulong view)
    {
        if (!Abstains(view))
        {
            return false;
        }

        ProposalsAbstained++;
        return true;
    }

    /// <summary>
    /// At a graceful stop, once this replica handles nothing more: every appended record durable, then the
    /// clean-stop mark, so a restart need not abstain.
    /// </summary>
    public void RecordCleanStop()
    {
        if (Abstains(_view))
        {
            // Still in a view it abstains from: this run's records are complete, but a prepare an earlier run lost may
            // be of this view, and a clean mark would make the next start forget it (review: a crash, then a graceful
            // stop before the next view change, then a second header). Without the mark the next start abstains
            // through this view again; once past it, the durable View record keeps the node above v* for good.
            _wal.Flush();
            return;
        }

        AppendRecord(WalRecordType.CleanStop, []);
        _wal.Flush();
    }
}
