using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Shard;

/// <summary>
/// One balance movement of one account, with the account's four balances after it. The movement says
/// which balances moved by <see cref="Amount"/>: Posted +posted; PendingHold +pending; PendingPosted
/// −pending +posted; PendingVoided, PendingExpired, Released −pending; Reserved +pending (debits on the
/// debit side, credits on the credit side). A post of less than its hold is PendingPosted (the posted
/// amount) followed by PendingVoided (the rest).
/// </summary>
public readonly record struct AuditPosting(
    UInt128 TransferId,
    UInt128 AccountId,
    TransferSide Side,
    TransferMovement Movement,
    ulong Amount,
    ulong DebitsPending,
    ulong DebitsPosted,
    ulong CreditsPending,
    ulong CreditsPosted,
    ulong Timestamp);
