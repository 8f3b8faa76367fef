namespace Heraclius.Ledger.Model;

/// <summary>
/// One movement of one account, in commit order on its shard. <see cref="Sequence"/> is the cursor;
/// balances after the movement are filled only for accounts with <see cref="AccountFlags.History"/>.
/// </summary>
public readonly record struct HistoryEntry(
    ulong Sequence,
    UInt128 TransferId,
    TransferSide Side,
    TransferMovement Movement,
    ulong Amount,
    ulong DebitsPending,
    ulong DebitsPosted,
    ulong CreditsPending,
    ulong CreditsPosted,
    ulong Timestamp);
