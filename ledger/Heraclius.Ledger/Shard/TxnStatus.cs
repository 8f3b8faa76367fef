namespace Heraclius.Ledger.Shard;

/// <summary>Where a two-phase transaction is on this shard (u8 in its stored record).</summary>
internal enum TxnStatus : byte
{
    /// <summary>Voted Prepared: reservations and locks are held until Commit or Abort.</summary>
    Prepared = 1,

    /// <summary>Voted Refused: nothing reserved, the chain's new ids are held until Abort stores their results.</summary>
    Refused = 2,

    Committed = 3,
    Aborted = 4,
}
