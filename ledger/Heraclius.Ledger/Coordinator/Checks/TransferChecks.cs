using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Coordinator.Checks;

/// <summary>
/// The stateless checks of a chain, made by the coordinator before any shard sees it (codes up to
/// <see cref="CreateTransferResult.WrongCoordinator"/>, never stored). Each leg gets its smallest
/// failing code; the chain's failed leg is the first leg that fails, and every other leg gets
/// <see cref="CreateTransferResult.LinkedEventFailed"/>, the same shape a shard-side refusal has.
/// </summary>
internal static class TransferChecks
{
    private const TransferFlags KnownFlags = TransferFlags.Linked | TransferFlags.Pending | TransferFlags.PostPending | TransferFlags.VoidPending;

    /// <summary>
    /// Whether the request is one chain: every leg but the last linked. The last leg may be linked too:
    /// that chain is a result (<see cref="CreateTransferResult.LinkedEventChainOpen"/>), while an unlinked
    /// leg before the end would make the request several chains, which the format does not allow.
    /// </summary>
    public static bool IsOneChain(ReadOnlySpan<Transfer> chain)
    {
        for (var i = 0; i < chain.Length - 1; i++)
        {
            if (!chain[i].IsLinked)
            {
                return false;
            }
        }

        return chain.Length > 0;
    }

    /// <summary>
    /// The leg that fails the coordinator's checks and its code, or −1 when the chain passes. An open chain
    /// (last leg linked) is refused as a whole before any leg is checked: its last leg gets
    /// <see cref="CreateTransferResult.LinkedEventChainOpen"/>. Otherwise the first leg in chain order that
    /// fails a stateless check gets its smallest failing code.
    /// </summary>
    public static int FirstFailure(ReadOnlySpan<Transfer> chain, out CreateTransferResult code)
    {
        if (chain[^1].IsLinked)
        {
            code = CreateTransferResult.LinkedEventChainOpen;
            return chain.Length - 1;
        }

        for (var i = 0; i < chain.Length; i++)
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

    /// <summary>The smallest failing stateless code of one transfer, ignoring chain position; Ok if none.</summary>
    public static CreateTransferResult Check(in Transfer t)
    {
        // Checks in precedence order: the first failure is the smallest code.
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
        if (!postOrVoid)
        {
            if (t.PendingId != UInt128.Zero)
            {
                return CreateTransferResult.PendingIdMustBeZero;
            }
        }
        else
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

        // Unlike TigerBeetle a post or void must name ledger and code too; the shard compares them with the pending transfer.
        if (t.Ledger == 0)
        {
            return CreateTransferResult.LedgerMustNotBeZero;
        }

        if (t.Code == 0)
        {
            return CreateTransferResult.CodeMustNotBeZero;
        }

        // Numbered after the others (it was added later; codes are stable), so it is the last stateless check.
        if (t.Timestamp != 0)
        {
            return CreateTransferResult.TimestampMustBeZero;
        }

        return CreateTransferResult.Ok;
    }
}
