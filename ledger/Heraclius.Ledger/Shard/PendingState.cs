namespace Heraclius.Ledger.Shard;

/// <summary>Where a transfer created with the pending flag is in its life (u8 in its stored record).</summary>
internal enum PendingState : byte
{
    /// <summary>Not a pending transfer, or one whose hold does not exist yet (in flight, or failed).</summary>
    None = 0,

    /// <summary>Holding its amount in debitsPending/creditsPending.</summary>
    Live = 1,

    Posted = 2,
    Voided = 3,
    Expired = 4,
}
