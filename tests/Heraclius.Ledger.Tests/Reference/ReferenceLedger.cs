using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Tests.Reference;

/// <summary>
/// The executable specification of the ledger (docs/design.md, "Ledger as built"): one sequential,
/// in-memory ledger with no shards, no coordinator and no clock, written to be read rather than to be
/// fast. The shard engine and the coordinator's 2PC must give the same answers for the same operations
/// (<see cref="ModelConformance"/>); the design says a cross-shard transfer gets the code a same-shard
/// one would, so this single-ledger view is the whole contract.
/// <para>
/// Every check is written as "collect every failing check, answer the smallest code" (the enums' numeric
/// order is their precedence), on purpose unlike an engine's early returns, so that the two are
/// independent. Choices where the design is silent are documented on the members that make them:
/// </para>
/// <list type="bullet">
/// <item>Chains: <see cref="CreateTransfers"/> (chain open, stateless checks first, what is stored).</item>
/// <item>Idempotency: <see cref="CreateTransfers"/> and <see cref="ExistsCode"/>.</item>
/// <item>Post and void: <see cref="PostOrVoidChecks"/> and <see cref="Apply"/>.</item>
/// <item>Time and expiry: <see cref="AdvanceTo"/>.</item>
/// <item>History entries: <see cref="History"/>.</item>
/// <item>Accounts: <see cref="CreateAccount"/>.</item>
/// </list>
/// The model never answers <see cref="CreateTransferResult.WrongCoordinator"/>,
/// <see cref="CreateTransferResult.Exists"/>, <see cref="CreateTransferResult.PendingTransferLocked"/> or
/// <see cref="CreateTransferResult.PrepareTimedOut"/>: they come from routing and from concurrent or
/// timed-out chains, which a sequential ledger has none of. The last three are transient and never stored
/// (<see cref="IsStoredRefusal"/>), so a model that answers none of them also stores none of them.
/// </summary>
public sealed class ReferenceLedger : ILedgerUnderTest
{
    /// <summary>The most legs one CreateTransfers request may carry.</summary>
    public const int MaxChainLength = 64;

    private const AccountFlags KnownAccountFlags =
        AccountFlags.DebitsMustNotExceedCredits | AccountFlags.CreditsMustNotExceedDebits |
        AccountFlags.History | AccountFlags.Closed | AccountFlags.Issuance;

    private const AccountFlags LimitFlags = AccountFlags.DebitsMustNotExceedCredits | AccountFlags.CreditsMustNotExceedDebits;

    private const TransferFlags KnownTransferFlags =
        TransferFlags.Linked | TransferFlags.Pending | TransferFlags.PostPending | TransferFlags.VoidPending;

    private const TransferFlags KindFlags = TransferFlags.Pending | TransferFlags.PostPending | TransferFlags.VoidPending;

    private State _state = new();
    private readonly Dictionary<UInt128, List<HistoryEntry>> _history = [];
    private ulong _sequence;

    // Only ever grows, so it orders pending transfers by the moment they were applied, across chains.
    private long _pendingOrder;

    /// <summary>The ledger's time in ms: the last <see cref="AdvanceTo"/>, 0 before the first.</summary>
    public ulong Now { get; private set; }

    private enum PendingStatus
    {
        Pending,
        Posted,
        Voided,
        Expired,
    }

    /// <summary>The state of a transfer created pending. <c>ExpiresAt</c> 0 means it never expires.</summary>
    private readonly record struct PendingInfo(PendingStatus Status, ulong ExpiresAt, long Order);

    /// <summary>
    /// Everything a chain can change, copied whole for each chain: the chain runs on the copy, which
    /// replaces the state only if every leg succeeded. Copying is slow and impossible to get wrong.
    /// </summary>
    private sealed class State
    {
        public Dictionary<UInt128, Account> Accounts { get; init; } = [];

        public Dictionary<UInt128, (Transfer Transfer, CreateTransferResult Result)> Transfers { get; init; } = [];

        public Dictionary<UInt128, PendingInfo> Pending { get; init; } = [];

        public State Clone() => new() { Accounts = new(Accounts), Transfers = new(Transfers), Pending = new(Pending) };
    }

    /// <summary>
    /// Moves time forward; time never goes back (that would be a broken test, so it throws). Every pending
    /// transfer with <c>expiresAt ≤ timestampMs</c>, where <c>expiresAt</c> = the time it was applied +
    /// timeout × 1000 ms, expires here, before any later operation: its hold is released and each side gets
    /// a <see cref="TransferMovement.PendingExpired"/> history entry (transfer id = the pending transfer's,
    /// amount = its amount, timestamp = <paramref name="timestampMs"/>). "At or before" follows TigerBeetle
    /// (<c>expires_at &lt;= timestamp</c>). Several expiring at once go in order of expiresAt, then of
    /// application, debit side before credit side.
    /// </summary>
    public void AdvanceTo(ulong timestampMs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timestampMs, Now);
        Now = timestampMs;

        var due = _state.Pending
            .Where(p => p.Value.Status == PendingStatus.Pending && p.Value.ExpiresAt != 0 && p.Value.ExpiresAt <= timestampMs)
            .OrderBy(p => p.Value.ExpiresAt)
            .ThenBy(p => p.Value.Order)
            .Select(p => p.Key)
            .ToList();
        var entries = new List<(UInt128 AccountId, HistoryEntry Entry)>();
        foreach (var id in due)
        {
            checked
            {
                var pending = _state.Transfers[id].Transfer;
                Change(_state, pending.DebitAccountId, a => a with { DebitsPending = a.DebitsPending - pending.Amount });
                Record(_state, entries, pending.DebitAccountId, id, TransferSide.Debit, TransferMovement.PendingExpired, pending.Amount);
                Change(_state, pending.CreditAccountId, a => a with { CreditsPending = a.CreditsPending - pending.Amount });
                Record(_state, entries, pending.CreditAccountId, id, TransferSide.Credit, TransferMovement.PendingExpired, pending.Amount);
                _state.Pending[id] = _state.Pending[id] with { Status = PendingStatus.Expired };
            }
        }

        Commit(entries);
    }

    /// <summary>
    /// Creates an account. Only two kinds of account exist: the issuance account of a ledger (may go
    /// negative, no limit flag) and customer accounts, each with exactly one of
    /// <see cref="AccountFlags.DebitsMustNotExceedCredits"/> and <see cref="AccountFlags.CreditsMustNotExceedDebits"/>,
    /// so no customer can go negative (<see cref="BalanceViolations"/> checks it of any implementation). A
    /// customer account without a limit flag is therefore stored with <see cref="AccountFlags.DebitsMustNotExceedCredits"/>. A repeat is compared after
    /// that default and without <see cref="AccountFlags.Closed"/> (the ledger's own flags), so the same
    /// request sent again answers <see cref="CreateAccountResult.Exists"/> even after a close.
    /// </summary>
    public CreateAccountResult CreateAccount(Account account)
    {
        var failed = new List<CreateAccountResult>();
        if ((account.Flags & ~KnownAccountFlags) != 0 || account.IsClosed)
        {
            failed.Add(CreateAccountResult.ReservedFlag);
        }

        if (account.DebitsPending != 0 || account.DebitsPosted != 0 || account.CreditsPending != 0 ||
            account.CreditsPosted != 0 || account.Timestamp != 0)
        {
            failed.Add(CreateAccountResult.BalancesMustBeZero);
        }

        if (account.Id == UInt128.Zero)
        {
            failed.Add(CreateAccountResult.IdMustNotBeZero);
        }

        if (account.Id == UInt128.MaxValue)
        {
            failed.Add(CreateAccountResult.IdMustNotBeIntMax);
        }

        if ((account.Flags & LimitFlags) == LimitFlags)
        {
            failed.Add(CreateAccountResult.FlagsAreMutuallyExclusive);
        }

        if (account.Ledger == 0)
        {
            failed.Add(CreateAccountResult.LedgerMustNotBeZero);
        }

        if (account.Code == 0)
        {
            failed.Add(CreateAccountResult.CodeMustNotBeZero);
        }

        if (account.IsIssuance && account.Id != account.Ledger)
        {
            failed.Add(CreateAccountResult.IssuanceIdMustEqualLedger);
        }

        if (account.IsIssuance && (account.Flags & LimitFlags) != 0)
        {
            failed.Add(CreateAccountResult.IssuanceMustNotHaveLimits);
        }

        var flags = WithDefaultLimit(account.Flags);
        if (_state.Accounts.TryGetValue(account.Id, out var existing))
        {
            if ((existing.Flags & ~AccountFlags.Closed) != flags)
            {
                failed.Add(CreateAccountResult.ExistsWithDifferentFlags);
            }

            if (existing.Owner != account.Owner)
            {
                failed.Add(CreateAccountResult.ExistsWithDifferentOwner);
            }

            if (existing.Ledger != account.Ledger)
            {
                failed.Add(CreateAccountResult.ExistsWithDifferentLedger);
            }

            if (existing.Code != account.Code)
            {
                failed.Add(CreateAccountResult.ExistsWithDifferentCode);
            }

            failed.Add(CreateAccountResult.Exists);
        }

        if (failed.Count > 0)
        {
            return failed.Min();
        }

        _state.Accounts.Add(account.Id, account with { Flags = flags, Timestamp = Now });
        return CreateAccountResult.Ok;
    }

    /// <summary>
    /// Runs one transfer or one linked chain (shape: see <see cref="ILedgerUnderTest.CreateTransfers"/>;
    /// any other shape throws <see cref="ArgumentException"/>). In this order:
    /// <list type="number">
    /// <item>Chain open (last leg linked): the last leg gets <see cref="CreateTransferResult.LinkedEventChainOpen"/>,
    /// every other <see cref="CreateTransferResult.LinkedEventFailed"/>, no leg is evaluated and nothing is
    /// stored. TigerBeetle also gives the last leg chain_open, but evaluates the others, so an earlier leg
    /// may carry its own code there; here the coordinator refuses the chain before any shard sees it.</item>
    /// <item>Stateless checks on every leg (the coordinator's, never stored): the first leg in chain order
    /// that fails gets its smallest code, every other leg linked_event_failed. So a stateless failure of a
    /// later leg wins over a stateful failure of an earlier one.</item>
    /// <item>The legs in order, each seeing the effects of the earlier ones (including their ids: a leg
    /// repeating an earlier leg's id is compared with it like a stored transfer). A stored id: a differing
    /// field answers <see cref="ExistsCode"/>; equal fields answer the stored first result, which for
    /// <see cref="CreateTransferResult.Ok"/> is a success that applies nothing. Otherwise the stateful
    /// checks.</item>
    /// <item>On the first failing leg: it gets its code, every other leg linked_event_failed, nothing is
    /// applied. Only that leg is stored (with its fields and code), and only if it was evaluated afresh
    /// (not an exists_* code or a replayed result: its id already holds its first result) and its code is
    /// one a finished chain stores (<see cref="IsStoredRefusal"/>: a shard's check, not transient). The legs
    /// answered linked_event_failed are not stored, as in TigerBeetle, so retrying the same chain answers
    /// the same (the failed leg replays its code) while the other ids stay free.</item>
    /// <item>If every leg succeeded, all are applied and stored with <see cref="CreateTransferResult.Ok"/>.</item>
    /// </list>
    /// The ledger assigns timestamps: a leg with a non-zero one is refused statelessly with
    /// <see cref="CreateTransferResult.TimestampMustBeZero"/>, and every stored leg is stamped with <see cref="Now"/>.
    /// </summary>
    public IReadOnlyList<CreateTransferResult> CreateTransfers(IReadOnlyList<Transfer> chain)
    {
        ArgumentNullException.ThrowIfNull(chain);
        if (chain.Count is 0 or > MaxChainLength)
        {
            throw new ArgumentException($"A chain has 1 to {MaxChainLength} legs, not {chain.Count}.", nameof(chain));
        }

        for (var i = 0; i < chain.Count - 1; i++)
        {
            if (!chain[i].IsLinked)
            {
                throw new ArgumentException($"Leg {i} is not linked but is not the last: this is not one chain.", nameof(chain));
            }
        }

        if (chain[^1].IsLinked)
        {
            return FailChain(chain.Count, chain.Count - 1, CreateTransferResult.LinkedEventChainOpen);
        }

        for (var i = 0; i < chain.Count; i++)
        {
            var code = StatelessCode(chain[i]);
            if (code != CreateTransferResult.Ok)
            {
                return FailChain(chain.Count, i, code);
            }
        }

        var scratch = _state.Clone();
        var entries = new List<(UInt128 AccountId, HistoryEntry Entry)>();
        for (var i = 0; i < chain.Count; i++)
        {
            var leg = chain[i] with { Timestamp = Now };
            if (scratch.Transfers.TryGetValue(leg.Id, out var stored))
            {
                var code = ExistsCode(leg, stored.Transfer);
                if (code == CreateTransferResult.Ok)
                {
                    code = stored.Result;
                }

                if (code != CreateTransferResult.Ok)
                {
                    return FailChain(chain.Count, i, code);
                }

                continue;
            }

            var failed = StatefulCode(scratch, leg);
            if (failed != CreateTransferResult.Ok)
            {
                // Always true here (the stateful checks give neither stateless nor transient codes); asked anyway
                // so that the storing rule is written once, where the engines' tests read it too.
                if (IsStoredRefusal(failed))
                {
                    _state.Transfers.Add(leg.Id, (leg, failed));
                }

                return FailChain(chain.Count, i, failed);
            }

            Apply(scratch, leg, entries);
        }

        _state = scratch;
        Commit(entries);
        return Enumerable.Repeat(CreateTransferResult.Ok, chain.Count).ToArray();
    }

    /// <summary>
    /// Whether a leg refused afresh with <paramref name="code"/> is stored with it when its chain finishes
    /// (design: "Which ids a finished chain stores"): only a shard's check (≥ exists_with_different_flags;
    /// timestamp_must_be_zero is numbered among them but is the coordinator's), and never a transient code
    /// (id in flight, pending_transfer_locked, prepare_timed_out): a stored transient result would answer every
    /// retry with the same ids for ever, and retrying with the same ids is the only safe retry.
    /// </summary>
    public static bool IsStoredRefusal(CreateTransferResult code) =>
        code >= CreateTransferResult.ExistsWithDifferentFlags &&
        code is not (CreateTransferResult.TimestampMustBeZero or CreateTransferResult.Exists or
            CreateTransferResult.PendingTransferLocked or CreateTransferResult.PrepareTimedOut);

    /// <summary>Closes an account; refused while it has any pending debits or credits.</summary>
    public CloseAccountResult CloseAccount(UInt128 id)
    {
        if (!_state.Accounts.TryGetValue(id, out var account))
        {
            return CloseAccountResult.AccountNotFound;
        }

        var failed = new List<CloseAccountResult>();
        if (account.DebitsPending != 0 || account.CreditsPending != 0)
        {
            failed.Add(CloseAccountResult.AccountHasPending);
        }

        if (account.IsClosed)
        {
            failed.Add(CloseAccountResult.AlreadyClosed);
        }

        if (failed.Count > 0)
        {
            return failed.Min();
        }

        _state.Accounts[id] = account with { Flags = account.Flags | AccountFlags.Closed };
        return CloseAccountResult.Ok;
    }

    public Account? LookupAccount(UInt128 id) => _state.Accounts.TryGetValue(id, out var account) ? account : null;

    public (Transfer Transfer, CreateTransferResult Result)? LookupTransfer(UInt128 id) =>
        _state.Transfers.TryGetValue(id, out var stored) ? stored : null;

    public IReadOnlyList<Account> AllAccounts() => _state.Accounts.Values.OrderBy(a => a.Id).ToList();

    /// <summary>Every stored transfer id (applied or failed), in id order.</summary>
    public IReadOnlyList<UInt128> AllTransferIds() => _state.Transfers.Keys.Order().ToList();

    /// <summary>
    /// The account's movements in commit order. Each applied leg gives one entry per side, debit side
    /// first, with the leg's id: a plain transfer <see cref="TransferMovement.Posted"/> (its amount), a
    /// pending one <see cref="TransferMovement.PendingHold"/> (its amount), a post
    /// <see cref="TransferMovement.PendingPosted"/> (the amount posted: the pending amount when the post's
    /// amount is 0; the rest of the hold is released by the same entry), a void
    /// <see cref="TransferMovement.PendingVoided"/> (the pending amount). Expiry: see <see cref="AdvanceTo"/>.
    /// A replayed or failed transfer and a close give none. Balances are the account's after the movement,
    /// only for accounts with <see cref="AccountFlags.History"/> (zero otherwise). Sequences here are one
    /// counter for the whole ledger; an engine numbers per shard, so only their order is comparable.
    /// </summary>
    public IReadOnlyList<HistoryEntry> History(UInt128 accountId) =>
        _history.TryGetValue(accountId, out var entries) ? entries.ToList() : [];

    /// <summary>Everything wrong with the ledger's invariants; empty when they hold.</summary>
    public IReadOnlyList<string> InvariantViolations() => [.. BalanceViolations(AllAccounts()), .. PendingViolations()];

    /// <summary>
    /// The invariants any implementation's accounts keep: per ledger, Σ creditsPosted = Σ debitsPosted and
    /// Σ creditsPending = Σ debitsPending; every customer account carries exactly one limit flag and is
    /// within it; an issuance account's id is its ledger and it has no limit flag.
    /// </summary>
    public static IReadOnlyList<string> BalanceViolations(IEnumerable<Account> accounts)
    {
        var violations = new List<string>();
        foreach (var ledger in accounts.GroupBy(a => a.Ledger))
        {
            var debitsPosted = Sum(ledger, a => a.DebitsPosted);
            var creditsPosted = Sum(ledger, a => a.CreditsPosted);
            var debitsPending = Sum(ledger, a => a.DebitsPending);
            var creditsPending = Sum(ledger, a => a.CreditsPending);
            if (debitsPosted != creditsPosted)
            {
                violations.Add($"ledger {ledger.Key}: Σ debitsPosted {debitsPosted} ≠ Σ creditsPosted {creditsPosted}");
            }

            if (debitsPending != creditsPending)
            {
                violations.Add($"ledger {ledger.Key}: Σ debitsPending {debitsPending} ≠ Σ creditsPending {creditsPending}");
            }

            foreach (var account in ledger)
            {
                var limits = account.Flags & LimitFlags;
                if (account.IsIssuance)
                {
                    if (limits != 0 || account.Id != account.Ledger)
                    {
                        violations.Add($"issuance account {account.Id}: limit flags {limits} or id ≠ ledger {account.Ledger}");
                    }
                }
                else if (limits == AccountFlags.DebitsMustNotExceedCredits)
                {
                    if ((UInt128)account.DebitsPosted + account.DebitsPending > account.CreditsPosted)
                    {
                        violations.Add($"account {account.Id}: debits {account.DebitsPosted}+{account.DebitsPending} exceed credits {account.CreditsPosted}");
                    }
                }
                else if (limits == AccountFlags.CreditsMustNotExceedDebits)
                {
                    if ((UInt128)account.CreditsPosted + account.CreditsPending > account.DebitsPosted)
                    {
                        violations.Add($"account {account.Id}: credits {account.CreditsPosted}+{account.CreditsPending} exceed debits {account.DebitsPosted}");
                    }
                }
                else
                {
                    violations.Add($"customer account {account.Id} has limit flags {limits}");
                }
            }
        }

        return violations;
    }

    /// <summary>Each account's pending balances equal the sums of the live pending transfers naming it.</summary>
    public IReadOnlyList<string> PendingViolations()
    {
        var live = _state.Pending.Where(p => p.Value.Status == PendingStatus.Pending).Select(p => _state.Transfers[p.Key].Transfer).ToList();
        var violations = new List<string>();
        foreach (var account in _state.Accounts.Values)
        {
            var debits = Sum(live.Where(t => t.DebitAccountId == account.Id), t => t.Amount);
            var credits = Sum(live.Where(t => t.CreditAccountId == account.Id), t => t.Amount);
            if (debits != account.DebitsPending || credits != account.CreditsPending)
            {
                violations.Add($"account {account.Id}: pending {account.DebitsPending}/{account.CreditsPending}, live pending transfers {debits}/{credits}");
            }
        }

        return violations;
    }

    /// <summary>
    /// The coordinator's checks: the transfer's own fields only. For a post or void, ledger and code must be
    /// given too (TigerBeetle lets them be 0 and inherits the pending transfer's); the design requires the
    /// accounts of a post or void and we require all four alike, then compare them with the pending transfer.
    /// </summary>
    private static CreateTransferResult StatelessCode(Transfer t)
    {
        var failed = new List<CreateTransferResult>();
        var postOrVoid = t.IsPost || t.IsVoid;
        if ((t.Flags & ~KnownTransferFlags) != 0)
        {
            failed.Add(CreateTransferResult.ReservedFlag);
        }

        if (t.Id == UInt128.Zero)
        {
            failed.Add(CreateTransferResult.IdMustNotBeZero);
        }

        if (t.Id == UInt128.MaxValue)
        {
            failed.Add(CreateTransferResult.IdMustNotBeIntMax);
        }

        if (ushort.PopCount((ushort)(t.Flags & KindFlags)) > 1)
        {
            failed.Add(CreateTransferResult.FlagsAreMutuallyExclusive);
        }

        if (t.DebitAccountId == UInt128.Zero)
        {
            failed.Add(CreateTransferResult.DebitAccountIdMustNotBeZero);
        }

        if (t.DebitAccountId == UInt128.MaxValue)
        {
            failed.Add(CreateTransferResult.DebitAccountIdMustNotBeIntMax);
        }

        if (t.CreditAccountId == UInt128.Zero)
        {
            failed.Add(CreateTransferResult.CreditAccountIdMustNotBeZero);
        }

        if (t.CreditAccountId == UInt128.MaxValue)
        {
            failed.Add(CreateTransferResult.CreditAccountIdMustNotBeIntMax);
        }

        if (t.DebitAccountId == t.CreditAccountId)
        {
            failed.Add(CreateTransferResult.AccountsMustBeDifferent);
        }

        if (!postOrVoid && t.PendingId != UInt128.Zero)
        {
            failed.Add(CreateTransferResult.PendingIdMustBeZero);
        }

        if (postOrVoid && t.PendingId == UInt128.Zero)
        {
            failed.Add(CreateTransferResult.PendingIdMustNotBeZero);
        }

        if (postOrVoid && t.PendingId == UInt128.MaxValue)
        {
            failed.Add(CreateTransferResult.PendingIdMustNotBeIntMax);
        }

        if (postOrVoid && t.PendingId == t.Id)
        {
            failed.Add(CreateTransferResult.PendingIdMustBeDifferent);
        }

        if (!t.IsPending && t.Timeout != 0)
        {
            failed.Add(CreateTransferResult.TimeoutReservedForPendingTransfer);
        }

        if (!postOrVoid && t.Amount == 0)
        {
            failed.Add(CreateTransferResult.AmountMustNotBeZero);
        }

        if (t.Amount > Transfer.MaxAmount)
        {
            failed.Add(CreateTransferResult.AmountTooLarge);
        }

        if (t.Ledger == 0)
        {
            failed.Add(CreateTransferResult.LedgerMustNotBeZero);
        }

        if (t.Code == 0)
        {
            failed.Add(CreateTransferResult.CodeMustNotBeZero);
        }

        if (t.Timestamp != 0)
        {
            failed.Add(CreateTransferResult.TimestampMustBeZero);
        }

        return failed.Count == 0 ? CreateTransferResult.Ok : failed.Min();
    }

    /// <summary>
    /// A stored id asked again: the first differing field in the order flags (all bits, linked included, as
    /// TigerBeetle), pendingId, timeout, debit, credit, amount (as requested: a post of 0 is stored as 0),
    /// userData, ledger, code; <see cref="CreateTransferResult.Ok"/> when all are equal. Timestamps are the
    /// ledger's and are not compared.
    /// </summary>
    private static CreateTransferResult ExistsCode(Transfer asked, Transfer stored)
    {
        var failed = new List<CreateTransferResult>();
        if (asked.Flags != stored.Flags)
        {
            failed.Add(CreateTransferResult.ExistsWithDifferentFlags);
        }

        if (asked.PendingId != stored.PendingId)
        {
            failed.Add(CreateTransferResult.ExistsWithDifferentPendingId);
        }

        if (asked.Timeout != stored.Timeout)
        {
            failed.Add(CreateTransferResult.ExistsWithDifferentTimeout);
        }

        if (asked.DebitAccountId != stored.DebitAccountId)
        {
            failed.Add(CreateTransferResult.ExistsWithDifferentDebitAccountId);
        }

        if (asked.CreditAccountId != stored.CreditAccountId)
        {
            failed.Add(CreateTransferResult.ExistsWithDifferentCreditAccountId);
        }

        if (asked.Amount != stored.Amount)
        {
            failed.Add(CreateTransferResult.ExistsWithDifferentAmount);
        }

        if (asked.UserData != stored.UserData)
        {
            failed.Add(CreateTransferResult.ExistsWithDifferentUserData);
        }

        if (asked.Ledger != stored.Ledger)
        {
            failed.Add(CreateTransferResult.ExistsWithDifferentLedger);
        }

        if (asked.Code != stored.Code)
        {
            failed.Add(CreateTransferResult.ExistsWithDifferentCode);
        }

        return failed.Count == 0 ? CreateTransferResult.Ok : failed.Min();
    }

    /// <summary>The shards' checks for a leg whose id is not stored, against the state after the earlier legs.</summary>
    private CreateTransferResult StatefulCode(State state, Transfer t)
    {
        var failed = new List<CreateTransferResult>();
        var hasDebit = state.Accounts.TryGetValue(t.DebitAccountId, out var debit);
        var hasCredit = state.Accounts.TryGetValue(t.CreditAccountId, out var credit);
        if (!hasDebit)
        {
            failed.Add(CreateTransferResult.DebitAccountNotFound);
        }

        if (!hasCredit)
        {
            failed.Add(CreateTransferResult.CreditAccountNotFound);
        }

        if (hasDebit && debit.IsClosed)
        {
            failed.Add(CreateTransferResult.DebitAccountClosed);
        }

        if (hasCredit && credit.IsClosed)
        {
            failed.Add(CreateTransferResult.CreditAccountClosed);
        }

        if (t.IsPost || t.IsVoid)
        {
            PostOrVoidChecks(state, t, hasDebit ? debit : null, hasCredit ? credit : null, failed);
        }
        else
        {
            NewTransferChecks(t, hasDebit ? debit : null, hasCredit ? credit : null, failed);
        }

        return failed.Count == 0 ? CreateTransferResult.Ok : failed.Min();
    }

    /// <summary>
    /// A plain or pending transfer. The overflow checks are TigerBeetle's: a pending transfer is also refused
    /// when posting it later could overflow debitsPosted/creditsPosted; debitsPending + debitsPosted (and the
    /// credits) must stay ≤ 2^64 − 1. Limits: pending credits never count for a debit, nor pending debits
    /// for a credit.
    /// </summary>
    private void NewTransferChecks(Transfer t, Account? debit, Account? credit, List<CreateTransferResult> failed)
    {
        UInt128 amount = t.Amount;
        if (debit is { } dr && credit is { } cr && dr.Ledger != cr.Ledger)
        {
            failed.Add(CreateTransferResult.AccountsMustHaveTheSameLedger);
        }

        if ((debit is { } d && d.Ledger != t.Ledger) || (credit is { } c && c.Ledger != t.Ledger))
        {
            failed.Add(CreateTransferResult.TransferMustHaveTheSameLedgerAsAccounts);
        }

        if (debit is { } dAccount)
        {
            if (t.IsPending && dAccount.DebitsPending + amount > ulong.MaxValue)
            {
                failed.Add(CreateTransferResult.OverflowsDebitsPending);
            }

            if (dAccount.DebitsPosted + amount > ulong.MaxValue)
            {
                failed.Add(CreateTransferResult.OverflowsDebitsPosted);
            }

            if ((UInt128)dAccount.DebitsPending + dAccount.DebitsPosted + amount > ulong.MaxValue)
            {
                failed.Add(CreateTransferResult.OverflowsDebits);
            }

            if ((dAccount.Flags & AccountFlags.DebitsMustNotExceedCredits) != 0 &&
                (UInt128)dAccount.DebitsPosted + dAccount.DebitsPending + amount > dAccount.CreditsPosted)
            {
                failed.Add(CreateTransferResult.ExceedsCredits);
            }
        }

        if (credit is { } cAccount)
        {
            if (t.IsPending && cAccount.CreditsPending + amount > ulong.MaxValue)
            {
                failed.Add(CreateTransferResult.OverflowsCreditsPending);
            }

            if (cAccount.CreditsPosted + amount > ulong.MaxValue)
            {
                failed.Add(CreateTransferResult.OverflowsCreditsPosted);
            }

            if ((UInt128)cAccount.CreditsPending + cAccount.CreditsPosted + amount > ulong.MaxValue)
            {
                failed.Add(CreateTransferResult.OverflowsCredits);
            }

            if ((cAccount.Flags & AccountFlags.CreditsMustNotExceedDebits) != 0 &&
                (UInt128)cAccount.CreditsPosted + cAccount.CreditsPending + amount > cAccount.DebitsPosted)
            {
                failed.Add(CreateTransferResult.ExceedsDebits);
            }
        }

        if (t.IsPending && (UInt128)Now + (UInt128)t.Timeout * 1000 > ulong.MaxValue)
        {
            failed.Add(CreateTransferResult.OverflowsTimeout);
        }
    }

    /// <summary>
    /// A post or void, checked against the pending transfer P. Not found, and nothing else checked against P,
    /// when P is not stored with result ok, or when neither named account is P's (debit ≠ P's debit and
    /// credit ≠ P's credit): the shards find P only through the named accounts (P's debit half on the named
    /// debit account, its credit half on the named credit account), so with neither named account P's, no
    /// shard can tell P exists and all answer not_found. When one is P's, the shard holding that half checks
    /// everything below, the other named account included (38/39), and its codes win over the other shard's
    /// not_found, so the answer is the smallest of TigerBeetle's checks. Its accounts are not checked for ledgers (accounts_must_have_the_same_ledger,
    /// transfer_must_have_the_same_ledger_as_accounts), as in TigerBeetle: the post must name the pending
    /// transfer's accounts (38/39) and ledger (40), which have one ledger, and were the ledger compared with
    /// the accounts too, code 35 would hide code 40 for ever. A post's amount 0 posts all of the hold and
    /// more than the hold is refused (42); a void's amount is 0 or the hold's (else 43). No limit check:
    /// the hold was checked, posting moves at most the held amount and credits posted only grow.
    /// </summary>
    private static void PostOrVoidChecks(State state, Transfer t, Account? debit, Account? credit, List<CreateTransferResult> failed)
    {
        if (!state.Transfers.TryGetValue(t.PendingId, out var found) || found.Result != CreateTransferResult.Ok ||
            (t.DebitAccountId != found.Transfer.DebitAccountId && t.CreditAccountId != found.Transfer.CreditAccountId))
        {
            failed.Add(CreateTransferResult.PendingTransferNotFound);
            return;
        }

        var pending = found.Transfer;
        if (!pending.IsPending)
        {
            failed.Add(CreateTransferResult.PendingTransferNotPending);
            return;
        }

        if (t.DebitAccountId != pending.DebitAccountId)
        {
            failed.Add(CreateTransferResult.PendingTransferHasDifferentDebitAccountId);
        }

        if (t.CreditAccountId != pending.CreditAccountId)
        {
            failed.Add(CreateTransferResult.PendingTransferHasDifferentCreditAccountId);
        }

        if (t.Ledger != pending.Ledger)
        {
            failed.Add(CreateTransferResult.PendingTransferHasDifferentLedger);
        }

        if (t.Code != pending.Code)
        {
            failed.Add(CreateTransferResult.PendingTransferHasDifferentCode);
        }

        if (t.IsPost && t.Amount > pending.Amount)
        {
            failed.Add(CreateTransferResult.ExceedsPendingTransferAmount);
        }

        if (t.IsVoid && t.Amount != 0 && t.Amount != pending.Amount)
        {
            failed.Add(CreateTransferResult.PendingTransferHasDifferentAmount);
        }

        switch (state.Pending[pending.Id].Status)
        {
            case PendingStatus.Posted:
                failed.Add(CreateTransferResult.PendingTransferAlreadyPosted);
                break;
            case PendingStatus.Voided:
                failed.Add(CreateTransferResult.PendingTransferAlreadyVoided);
                break;
            case PendingStatus.Expired:
                failed.Add(CreateTransferResult.PendingTransferExpired);
                break;
            case PendingStatus.Pending:
                break;
        }

        // Kept though it cannot fail while the pending transfer's own accounts are named (their pending +
        // posted sums were checked when the hold was made): it is TigerBeetle's check and costs nothing.
        UInt128 posted = t.IsVoid ? 0 : t.Amount == 0 ? pending.Amount : t.Amount;
        if (debit is { } dr && dr.DebitsPosted + posted > ulong.MaxValue)
        {
            failed.Add(CreateTransferResult.OverflowsDebitsPosted);
        }

        if (credit is { } cr && cr.CreditsPosted + posted > ulong.MaxValue)
        {
            failed.Add(CreateTransferResult.OverflowsCreditsPosted);
        }
    }

    /// <summary>
    /// Applies a leg that passed every check. A pending transfer's expiry is counted from the time it is
    /// applied (<see cref="Now"/>); a post releases the whole hold and posts its amount (0 = all), a void
    /// releases the whole hold.
    /// </summary>
    private void Apply(State state, Transfer t, List<(UInt128 AccountId, HistoryEntry Entry)> entries)
    {
        // Checked (lexically, lambdas included): a check missed above must break the oracle loudly, never wrap a balance.
        checked
        {
            if (t.IsPost || t.IsVoid)
            {
                var pending = state.Transfers[t.PendingId].Transfer;
                var posted = t.IsVoid ? 0 : t.Amount == 0 ? pending.Amount : t.Amount;
                var movement = t.IsPost ? TransferMovement.PendingPosted : TransferMovement.PendingVoided;
                var amount = t.IsPost ? posted : pending.Amount;
                Change(state, pending.DebitAccountId, a => a with { DebitsPending = a.DebitsPending - pending.Amount, DebitsPosted = a.DebitsPosted + posted });
                Record(state, entries, pending.DebitAccountId, t.Id, TransferSide.Debit, movement, amount);
                Change(state, pending.CreditAccountId, a => a with { CreditsPending = a.CreditsPending - pending.Amount, CreditsPosted = a.CreditsPosted + posted });
                Record(state, entries, pending.CreditAccountId, t.Id, TransferSide.Credit, movement, amount);
                state.Pending[pending.Id] = state.Pending[pending.Id] with { Status = t.IsPost ? PendingStatus.Posted : PendingStatus.Voided };
            }
            else if (t.IsPending)
            {
                Change(state, t.DebitAccountId, a => a with { DebitsPending = a.DebitsPending + t.Amount });
                Record(state, entries, t.DebitAccountId, t.Id, TransferSide.Debit, TransferMovement.PendingHold, t.Amount);
                Change(state, t.CreditAccountId, a => a with { CreditsPending = a.CreditsPending + t.Amount });
                Record(state, entries, t.CreditAccountId, t.Id, TransferSide.Credit, TransferMovement.PendingHold, t.Amount);
                var expiresAt = t.Timeout == 0 ? 0 : Now + (ulong)t.Timeout * 1000;
                state.Pending.Add(t.Id, new PendingInfo(PendingStatus.Pending, expiresAt, ++_pendingOrder));
            }
            else
            {
                Change(state, t.DebitAccountId, a => a with { DebitsPosted = a.DebitsPosted + t.Amount });
                Record(state, entries, t.DebitAccountId, t.Id, TransferSide.Debit, TransferMovement.Posted, t.Amount);
                Change(state, t.CreditAccountId, a => a with { CreditsPosted = a.CreditsPosted + t.Amount });
                Record(state, entries, t.CreditAccountId, t.Id, TransferSide.Credit, TransferMovement.Posted, t.Amount);
            }

            state.Transfers.Add(t.Id, (t, CreateTransferResult.Ok));
        }
    }

    private static void Change(State state, UInt128 accountId, Func<Account, Account> change) =>
        state.Accounts[accountId] = change(state.Accounts[accountId]);

    private void Record(State state, List<(UInt128 AccountId, HistoryEntry Entry)> entries, UInt128 accountId, UInt128 transferId, TransferSide side, TransferMovement movement, ulong amount)
    {
        var account = state.Accounts[accountId];
        var withBalances = (account.Flags & AccountFlags.History) != 0;
        entries.Add((accountId, new HistoryEntry(
            0,
            transferId,
            side,
            movement,
            amount,
            withBalances ? account.DebitsPending : 0,
            withBalances ? account.DebitsPosted : 0,
            withBalances ? account.CreditsPending : 0,
            withBalances ? account.CreditsPosted : 0,
            Now)));
    }

    private void Commit(List<(UInt128 AccountId, HistoryEntry Entry)> entries)
    {
        foreach (var (accountId, entry) in entries)
        {
            if (!_history.TryGetValue(accountId, out var list))
            {
                list = [];
                _history.Add(accountId, list);
            }

            list.Add(entry with { Sequence = ++_sequence });
        }
    }

    private static CreateTransferResult[] FailChain(int count, int failedLeg, CreateTransferResult code)
    {
        var results = Enumerable.Repeat(CreateTransferResult.LinkedEventFailed, count).ToArray();
        results[failedLeg] = code;
        return results;
    }

    private static AccountFlags WithDefaultLimit(AccountFlags flags) =>
        (flags & AccountFlags.Issuance) == 0 && (flags & LimitFlags) == 0 ? flags | AccountFlags.DebitsMustNotExceedCredits : flags;

    private static UInt128 Sum<T>(IEnumerable<T> items, Func<T, ulong> value)
    {
        UInt128 sum = 0;
        foreach (var item in items)
        {
            sum += value(item);
        }

        return sum;
    }
}
