namespace Heraclius.Ledger.Model;

/// <summary>
/// The stateless checks of a transfer and of a chain (codes below <see cref="CreateTransferResult.WrongCoordinator"/>,
/// and <see cref="CreateTransferResult.TimestampMustBeZero"/>):
/// the same fields always give the same code, so they are never stored. The coordinator makes them
/// before routing; the shard makes them again so it never applies a malformed transfer.
/// </summary>
public static class TransferValidation
{
    private const TransferFlags KnownFlags = TransferFlags.Linked | TransferFlags.Pending | TransferFlags.PostPending | TransferFlags.VoidPending;

    /// <summary>The smallest stateless code of one leg's own fields (the chain's shape is <see cref="CheckChain"/>'s).</summary>
    public static CreateTransferResult Check(in Transfer t)
    {
        if ((t.Flags & ~KnownFlags) != 0)
        {
            return CreateTransferResult.ReservedFlag;
        }

        if (t.Id == UInt128.Zero)
        {
            return CreateTransferResult.IdMustNotBeZero;
        }

        if (t.Id == UInt128.MaxValue)
        {
            return CreateTransferResult.IdMustNotBeIntMax;
        }

        var kinds = (t.IsPending ? 1 : 0) + (t.IsPost ? 1 : 0) + (t.IsVoid ? 1 : 0);
        if (kinds > 1)
        {
            return CreateTransferResult.FlagsAreMutuallyExclusive;
        }

        if (t.DebitAccountId == UInt128.Zero)
        {
            return CreateTransferResult.DebitAccountIdMustNotBeZero;
        }

        if (t.DebitAccountId == UInt128.MaxValue)
        {
            return CreateTransferResult.DebitAccountIdMustNotBeIntMax;
        }

        if (t.CreditAccountId == UInt128.Zero)
        {
            return CreateTransferResult.CreditAccountIdMustNotBeZero;
        }

        if (t.CreditAccountId == UInt128.MaxValue)
        {
            return CreateTransferResult.CreditAccountIdMustNotBeIntMax;
        }

        if (t.DebitAccountId == t.CreditAccountId)
        {
            return CreateTransferResult.AccountsMustBeDifferent;
        }

        var postOrVoid = t.IsPost || t.IsVoid;
        if (!postOrVoid && t.PendingId != UInt128.Zero)
        {
            return CreateTransferResult.PendingIdMustBeZero;
        }

        if (postOrVoid)
        {
            if (t.PendingId == UInt128.Zero)
            {
                return CreateTransferResult.PendingIdMustNotBeZero;
            }

            if (t.PendingId == UInt128.MaxValue)
            {
                return CreateTransferResult.PendingIdMustNotBeIntMax;
            }

            if (t.PendingId == t.Id)
            {
                return CreateTransferResult.PendingIdMustBeDifferent;
            }
        }

        if (t.Timeout != 0 && !t.IsPending)
        {
            return CreateTransferResult.TimeoutReservedForPendingTransfer;
        }

        if (t.Amount == 0 && !postOrVoid)
        {
            return CreateTransferResult.AmountMustNotBeZero;
        }

        if (t.Amount > Transfer.MaxAmount)
        {
            return CreateTransferResult.AmountTooLarge;
        }

        if (t.Ledger == 0)
        {
            return CreateTransferResult.LedgerMustNotBeZero;
        }

        if (t.Code == 0)
        {
            return CreateTransferResult.CodeMustNotBeZero;
        }

        // Numbered after the others (codes are stable), yet a stateless check like them: it comes last.
        return t.Timestamp != 0 ? CreateTransferResult.TimestampMustBeZero : CreateTransferResult.Ok;
    }

    /// <summary>
    /// The leg that fails the chain's stateless checks and its code, or −1 and Ok. A chain whose last leg
    /// is linked is open: its last leg fails <see cref="CreateTransferResult.LinkedEventChainOpen"/>
    /// before any leg's own fields are looked at (the coordinator refuses the chain as a whole); otherwise
    /// the first leg in chain order with a failing field gets its smallest code.
    /// </summary>
    public static int CheckChain(IReadOnlyList<Transfer> chain, out CreateTransferResult code)
    {
        ArgumentNullException.ThrowIfNull(chain);
        if (chain.Count > 0 && chain[^1].IsLinked)
        {
            code = CreateTransferResult.LinkedEventChainOpen;
            return chain.Count - 1;
        }

        for (var i = 0; i < chain.Count; i++)
        {
            code = Check(chain[i]);
            if (code != CreateTransferResult.Ok)
            {
                return i;
            }
        }

        code = CreateTransferResult.Ok;
        return -1;
    }

    /// <summary>The stateless code of an account create request (codes below <see cref="CreateAccountResult.ExistsWithDifferentFlags"/>).</summary>
    public static CreateAccountResult CheckAccount(in Account a)
    {
        const AccountFlags known = AccountFlags.DebitsMustNotExceedCredits | AccountFlags.CreditsMustNotExceedDebits | AccountFlags.History | AccountFlags.Issuance;
        const AccountFlags limits = AccountFlags.DebitsMustNotExceedCredits | AccountFlags.CreditsMustNotExceedDebits;
        if ((a.Flags & ~known) != 0)
        {
            return CreateAccountResult.ReservedFlag;
        }

        if ((a.DebitsPending | a.DebitsPosted | a.CreditsPending | a.CreditsPosted | a.Timestamp) != 0)
        {
            return CreateAccountResult.BalancesMustBeZero;
        }

        if (a.Id == UInt128.Zero)
        {
            return CreateAccountResult.IdMustNotBeZero;
        }

        if (a.Id == UInt128.MaxValue)
        {
            return CreateAccountResult.IdMustNotBeIntMax;
        }

        if ((a.Flags & limits) == limits)
        {
            return CreateAccountResult.FlagsAreMutuallyExclusive;
        }

        if (a.Ledger == 0)
        {
            return CreateAccountResult.LedgerMustNotBeZero;
        }

        if (a.Code == 0)
        {
            return CreateAccountResult.CodeMustNotBeZero;
        }

        if (a.IsIssuance && a.Id != a.Ledger)
        {
            return CreateAccountResult.IssuanceIdMustEqualLedger;
        }

        return a.IsIssuance && (a.Flags & limits) != 0 ? CreateAccountResult.IssuanceMustNotHaveLimits : CreateAccountResult.Ok;
    }
}
