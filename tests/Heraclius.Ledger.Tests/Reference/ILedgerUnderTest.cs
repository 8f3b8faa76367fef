using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Tests.Reference;

/// <summary>
/// What a ledger implementation is adapted to so that <see cref="ModelConformance"/> can run the same
/// operations on it and on <see cref="ReferenceLedger"/>. Calls are sequential: each one has finished
/// (answered, and every effect visible to lookups) before the next is made.
/// </summary>
public interface ILedgerUnderTest
{
    /// <summary>
    /// Sets the ledger's time to <paramref name="timestampMs"/> (never earlier than before). Every pending
    /// transfer whose expiry is at or before that time expires here, before the next operation; the
    /// operations that follow are decided at this time until the next call. An adapter over the replicated
    /// engine runs a decision with this timestamp (its timers run at its end) and gives the following
    /// operations this timestamp, or compares with <c>compareTimestamps: false</c> if it cannot.
    /// </summary>
    void AdvanceTo(ulong timestampMs);

    CreateAccountResult CreateAccount(Account account);

    /// <summary>
    /// One transfer, or one linked chain: 1 to 64 legs, every leg but the last with
    /// <see cref="TransferFlags.Linked"/> (the last may carry it too: that chain is refused as open).
    /// Any other shape is a malformed request, not a result; implementations throw
    /// <see cref="ArgumentException"/> for it.
    /// </summary>
    IReadOnlyList<CreateTransferResult> CreateTransfers(IReadOnlyList<Transfer> chain);

    CloseAccountResult CloseAccount(UInt128 id);

    Account? LookupAccount(UInt128 id);

    /// <summary>The stored transfer (fields as requested, the ledger's timestamp) and its final result.</summary>
    (Transfer Transfer, CreateTransferResult Result)? LookupTransfer(UInt128 id);

    /// <summary>Every account, in id order (for the invariants and the final comparison).</summary>
    IReadOnlyList<Account> AllAccounts();
}
