namespace Heraclius.Ledger.Model;

/// <summary>
/// The result of one transfer (u16 on the wire; stable, new codes are appended). The numeric order is
/// the precedence order: when several checks fail the smallest code is the result, so checks made on
/// different shards combine by taking the minimum. Codes up to <see cref="WrongCoordinator"/>, and
/// <see cref="TimestampMustBeZero"/>, are stateless (made by the coordinator, never stored); the rest
/// are made by the shards.
/// </summary>
public enum CreateTransferResult : ushort
{
    /// <summary>Applied (or, for a repeated id with equal fields, applied the first time).</summary>
    Ok = 0,

    /// <summary>Another leg of this linked chain failed; this one changed nothing.</summary>
    LinkedEventFailed = 1,

    /// <summary>The chain's last leg has the linked flag.</summary>
    LinkedEventChainOpen = 2,

    /// <summary>A flag bit outside <see cref="TransferFlags"/>.</summary>
    ReservedFlag = 3,

    IdMustNotBeZero = 4,
    IdMustNotBeIntMax = 5,

    /// <summary>More than one of pending, post_pending, void_pending.</summary>
    FlagsAreMutuallyExclusive = 6,

    DebitAccountIdMustNotBeZero = 7,
    DebitAccountIdMustNotBeIntMax = 8,
    CreditAccountIdMustNotBeZero = 9,
    CreditAccountIdMustNotBeIntMax = 10,
    AccountsMustBeDifferent = 11,

    /// <summary>A pending id on a transfer that is neither a post nor a void.</summary>
    PendingIdMustBeZero = 12,

    /// <summary>A post or void without the pending transfer's id.</summary>
    PendingIdMustNotBeZero = 13,

    PendingIdMustNotBeIntMax = 14,

    /// <summary>A post or void that names itself.</summary>
    PendingIdMustBeDifferent = 15,

    /// <summary>A timeout on a transfer that is not pending.</summary>
    TimeoutReservedForPendingTransfer = 16,

    /// <summary>Amount 0 on a transfer that is not a post or void.</summary>
    AmountMustNotBeZero = 17,

    /// <summary>Amount above 2^63 − 1.</summary>
    AmountTooLarge = 18,

    LedgerMustNotBeZero = 19,
    CodeMustNotBeZero = 20,

    /// <summary>The chain's first transfer id has another home coordinator: send it there.</summary>
    WrongCoordinator = 21,

    /// <summary>The id is stored with other flags.</summary>
    ExistsWithDifferentFlags = 22,
    ExistsWithDifferentPendingId = 23,
    ExistsWithDifferentTimeout = 24,
    ExistsWithDifferentDebitAccountId = 25,
    ExistsWithDifferentCreditAccountId = 26,
    ExistsWithDifferentAmount = 27,
    ExistsWithDifferentUserData = 28,
    ExistsWithDifferentLedger = 29,
    ExistsWithDifferentCode = 30,

    /// <summary>
    /// The id is in flight: held by another chain that has not finished (a client that sent overlapping
    /// chains). Transient and not stored: retry later with the same ids.
    /// </summary>
    Exists = 31,

    DebitAccountNotFound = 32,
    CreditAccountNotFound = 33,

    /// <summary>The debit and credit accounts are on different ledgers.</summary>
    AccountsMustHaveTheSameLedger = 34,

    /// <summary>The transfer's ledger is not its accounts' ledger.</summary>
    TransferMustHaveTheSameLedgerAsAccounts = 35,

    PendingTransferNotFound = 36,

    /// <summary>The referenced transfer was not created pending.</summary>
    PendingTransferNotPending = 37,

    PendingTransferHasDifferentDebitAccountId = 38,
    PendingTransferHasDifferentCreditAccountId = 39,
    PendingTransferHasDifferentLedger = 40,
    PendingTransferHasDifferentCode = 41,

    /// <summary>A post of more than the pending amount.</summary>
    ExceedsPendingTransferAmount = 42,

    /// <summary>A void whose amount is neither 0 nor the pending amount.</summary>
    PendingTransferHasDifferentAmount = 43,

    PendingTransferAlreadyPosted = 44,
    PendingTransferAlreadyVoided = 45,
    PendingTransferExpired = 46,

    /// <summary>A post or void of a pending transfer that another unfinished chain is posting or voiding. Transient and not stored: retry later.</summary>
    PendingTransferLocked = 47,

    DebitAccountClosed = 48,
    CreditAccountClosed = 49,

    OverflowsDebitsPending = 50,
    OverflowsCreditsPending = 51,
    OverflowsDebitsPosted = 52,
    OverflowsCreditsPosted = 53,

    /// <summary>debitsPending + debitsPosted would exceed 2^64 − 1.</summary>
    OverflowsDebits = 54,

    /// <summary>creditsPending + creditsPosted would exceed 2^64 − 1.</summary>
    OverflowsCredits = 55,

    /// <summary>The pending transfer's expiry time would exceed 2^64 − 1 ms.</summary>
    OverflowsTimeout = 56,

    /// <summary>The debit account has debits_must_not_exceed_credits and too little credit.</summary>
    ExceedsCredits = 57,

    /// <summary>The credit account has credits_must_not_exceed_debits and too little debit.</summary>
    ExceedsDebits = 58,

    /// <summary>
    /// Not all shards voted in time (the prepare timeout); nothing was applied and nothing stored.
    /// Transient: retry with the same ids (a new id could pay twice if an earlier attempt committed).
    /// </summary>
    PrepareTimedOut = 59,

    /// <summary>A client sent a non-zero timestamp: the ledger assigns timestamps. Stateless, made by the coordinator.</summary>
    TimestampMustBeZero = 60,
}
