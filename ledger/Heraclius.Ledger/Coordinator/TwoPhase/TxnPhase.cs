namespace Heraclius.Ledger.Coordinator.TwoPhase;

/// <summary>Where a 2PC record is (u8 in the record).</summary>
internal enum TxnPhase : byte
{
    /// <summary>Prepare sent; waiting for every participant's vote or the deadline.</summary>
    Preparing = 1,

    /// <summary>Commit sent; waiting for every participant's ack.</summary>
    Committing = 2,

    /// <summary>Abort sent (refused, or timed out); waiting for every participant's ack.</summary>
    Aborting = 3,
}
