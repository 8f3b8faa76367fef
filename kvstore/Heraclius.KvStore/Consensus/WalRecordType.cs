namespace Heraclius.KvStore.Consensus;

/// <summary>Record types of the consensus WAL.</summary>
internal enum WalRecordType : byte
{
    /// <summary>u64 view: the node entered this view; it never signs in a lower one.</summary>
    View = 1,

    /// <summary>u64 view ‖ proposal: the node sent a prepare for this proposal in this view.</summary>
    PrepareSent = 2,

    /// <summary>prepared certificate: the node holds it and sent a commit for it.</summary>
    CommitSent = 3,

    /// <summary>the node's signed VIEW-CHANGE as sent.</summary>
    ViewChangeSent = 4,

    /// <summary>decision with its QC.</summary>
    Decision = 5,

    /// <summary>checkpoint header ‖ QC: the snapshot store holds the state of this height.</summary>
    Checkpoint = 6,

    /// <summary>an unacknowledged compact decision for another cluster, kept across a WAL rewrite.</summary>
    Outbound = 7,
}
