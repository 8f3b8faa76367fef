namespace Heraclius.KvStore.Consensus;

/// <summary>
/// Record types of the consensus WAL. A proposal is written whole in the first record of a height that
/// needs it; later records of that height that this log is sure to hold it before name it by a
/// <see cref="ProposalReference"/> (the "Ref" types), which recovery resolves against earlier records.
/// Only the records before a commit or VIEW-CHANGE are fsync'd before the message leaves; a prepare's record is
/// not, so a node restarted after a crash signs no prepare or pre-prepare in the views it had entered
/// (<see cref="Replica"/>, "abstain").
/// </summary>
internal enum WalRecordType : byte
{
    /// <summary>u64 view: the node entered this view; it never signs in a lower one.</summary>
    View = 1,

    /// <summary>u64 view ‖ proposal: the node sent a prepare for this proposal in this view.</summary>
    PrepareSent = 2,

    /// <summary>prepared certificate (u64 view ‖ proposal ‖ QC of the prepares): the node holds it and sent a commit for it.</summary>
    CommitSent = 3,

    /// <summary>the node's signed VIEW-CHANGE as sent.</summary>
    ViewChangeSent = 4,

    /// <summary>decision with its QC: proposal ‖ QC.</summary>
    Decision = 5,

    /// <summary>checkpoint header ‖ QC: the snapshot store holds the state of this height.</summary>
    Checkpoint = 6,

    /// <summary>an unacknowledged compact decision for another cluster, kept across a WAL rewrite.</summary>
    Outbound = 7,

    /// <summary><see cref="CommitSent"/> with the proposal replaced by its reference: u64 view ‖ u64 height ‖ H(header) ‖ QC of the prepares.</summary>
    CommitSentRef = 8,

    /// <summary><see cref="Decision"/> with the proposal replaced by its reference: u64 height ‖ H(header) ‖ QC.</summary>
    DecisionRef = 9,

    /// <summary>empty: the node stopped gracefully after this record; every record before it is durable and it signed nothing after.</summary>
    CleanStop = 10,

    /// <summary>empty, fsync'd when a node starts: a crash from now on is not taken for the clean stop that may precede it.</summary>
    Started = 11,
}
