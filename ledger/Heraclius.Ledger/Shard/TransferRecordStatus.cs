namespace Heraclius.Ledger.Shard;

/// <summary>Whether a stored transfer id has its final result yet (u8 in its stored record).</summary>
internal enum TransferRecordStatus : byte
{
    /// <summary>Held by a prepared two-phase transaction that has not been committed or aborted.</summary>
    InFlight = 0,

    /// <summary>The result is the first and final one: a repeat of the id gets it.</summary>
    Final = 1,
}
