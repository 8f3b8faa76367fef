using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Shard;

public sealed partial class ShardLedger
{
    /// <summary>
    /// One round for a chain whose accounts are all on this shard. The chain's stateless checks first;
    /// then every leg in order, each counting the earlier legs' effects. On the first failing leg: it
    /// gets its code, every other leg linked_event_failed, nothing is applied, and only that leg is stored
    /// (if it was evaluated afresh, not answered from a stored id, and its code is not the transient
    /// pending_transfer_locked; exists, the other transient code, is never fresh). Otherwise every leg is applied and
    /// stored with ok. A leg whose id is stored with equal fields answers the stored result; ok there is a
    /// success that applies nothing.
    /// </summary>
    public CreateTransferResult[] Apply(IReadOnlyList<Transfer> chain, ulong timestamp)
    {
        ArgumentNullException.ThrowIfNull(chain);
        if (chain.Count == 0)
        {
            throw new ArgumentException("an empty chain", nameof(chain));
        }

        var failed = TransferValidation.CheckChain(chain, out var stateless);
        if (failed >= 0)
        {
            return FailChain(chain.Count, failed, stateless);
        }

        var ws = Workspace.Rent(_state, chain.Count);
        for (var i = 0; i < chain.Count; i++)
        {
            var t = chain[i];
            var code = EvaluateLeg(ws, t, true, true, true, false, timestamp, out var fresh, out _);
            if (code != CreateTransferResult.Ok)
            {
                // A locked hold is transient: the id stays free for a retry once the other chain is done.
                if (fresh && code != CreateTransferResult.PendingTransferLocked)
                {
                    StoreFinal(t, code, timestamp);
                }

                EndTimerOperation();
                ws.Return();
                return FailChain(chain.Count, i, code);
            }
        }

        Flush(ws, timestamp);
        ws.Return();
        return new CreateTransferResult[chain.Count];
    }

    /// <summary>
    /// Evaluates one leg on the sides held here and, if it passes, applies it to the workspace: final
    /// effects, or with <paramref name="reserve"/> final effects on the images the checks see and
    /// reservations (and locks) on the images to be written. <paramref name="fresh"/>: the id was not
    /// stored, so the stateful checks ran; <paramref name="created"/>: the leg passed and its id is new.
    /// </summary>
    private static CreateTransferResult EvaluateLeg(Workspace ws, in Transfer t, bool idHere, bool debitHere, bool creditHere, bool reserve, ulong now, out bool fresh, out bool created)
    {
        fresh = false;
        created = false;
        var xi = ws.Transfer(t.Id);
        {
            ref readonly var x = ref ws.Transfers[xi];
            if (x.Exists)
            {
                var differs = ExistsCode(t, x.Virtual.Transfer);
                if (differs != CreateTransferResult.Ok)
                {
                    return differs;
                }

                return !x.NewInChain && x.Virtual.Status == TransferRecordStatus.InFlight
                    ? CreateTransferResult.Exists
                    : x.Virtual.Result;
            }
        }

        fresh = true;
        if (!debitHere && !creditHere)
        {
            // Only the id part is here: the id is free, so this chain holds it until it finishes.
            created = true;
            ref var idSlot = ref ws.Transfers[xi];
            idSlot.NewInChain = true;
            idSlot.Dirty = true;
            idSlot.Virtual = new TransferRecord { Transfer = t with { Timestamp = now }, Result = CreateTransferResult.Ok, Status = TransferRecordStatus.Final };
            idSlot.Stored = idSlot.Virtual with { Status = reserve ? TransferRecordStatus.InFlight : TransferRecordStatus.Final };
            if (!reserve && idHere)
            {
                ws.Audit.AddTransferResult(idSlot.Virtual.Transfer, CreateTransferResult.Ok);
            }

            return CreateTransferResult.Ok;
        }

        var kind = LegKinds.Of(t);
        var di = debitHere ? ws.Account(t.DebitAccountId) : -1;
        var ci = creditHere ? ws.Account(t.CreditAccountId) : -1;
        var pi = kind is LegKind.Post or LegKind.Void ? ws.Transfer(t.PendingId) : -1;

        if (di >= 0 && !ws.Accounts[di].Found)
        {
            return CreateTransferResult.DebitAccountNotFound;
        }

        if (ci >= 0 && !ws.Accounts[ci].Found)
        {
            return CreateTransferResult.CreditAccountNotFound;
        }

        ulong amount = t.Amount;
        ulong held = 0;
        var code = pi >= 0
            ? CheckPostOrVoid(ws, t, kind, di, ci, pi, now, out amount, out held)
            : CheckNew(ws, t, kind, di, ci, now);
        if (code != CreateTransferResult.Ok)
        {
            return code;
        }

        created = true;
        var stamped = t with { Timestamp = now };
        var sides = (byte)((di >= 0 ? TransferRecord.DebitSide : 0) | (ci >= 0 ? TransferRecord.CreditSide : 0));
        ref var slot = ref ws.Transfers[xi];
        slot.NewInChain = true;
        slot.Dirty = true;
        slot.Virtual = new TransferRecord
        {
            Transfer = stamped,
            Result = CreateTransferResult.Ok,
            Status = TransferRecordStatus.Final,
            Sides = sides,
            State = kind == LegKind.Pending ? PendingState.Live : PendingState.None,
            DeadlineMs = kind == LegKind.Pending && t.Timeout != 0 ? now + (t.Timeout * 1000UL) : 0,
        };
        slot.Stored = reserve
            ? slot.Virtual with { Status = TransferRecordStatus.InFlight, State = PendingState.None, DeadlineMs = 0 }
            : slot.Virtual;

        if (pi >= 0)
        {
            ref var p = ref ws.Transfers[pi];
            p.Dirty = true;
            var state = kind == LegKind.Post ? PendingState.Posted : PendingState.Voided;
            p.Virtual.State = state;
            if (reserve)
            {
                p.Stored.Locked = true;
            }
            else
            {
                p.Stored.State = state;
            }
        }

        if (di >= 0)
        {
            ApplySide(ws, di, t, TransferSide.Debit, kind, amount, held, reserve, now);
        }

        if (ci >= 0)
        {
            ApplySide(ws, ci, t, TransferSide.Credit, kind, amount, held, reserve, now);
        }

        if (!reserve && idHere)
        {
            ws.Audit.AddTransferResult(stamped, CreateTransferResult.Ok);
        }

        return CreateTransferResult.Ok;
    }

    private static void ApplySide(Workspace ws, int account, in Transfer t, TransferSide side, LegKind kind, ulong amount, ulong held, bool reserve, ulong now)
    {
        ApplyFinal(ref ws.Accounts[account].Virtual, side, kind, amount, held);
        if (!reserve)
        {
            CommitSide(ws, account, t, side, kind, amount, held, now);
        }
        else if (kind is LegKind.Plain or LegKind.Pending)
        {
            AddPending(ref ws.Accounts[account].Stored, side, amount);
            Record(ws, account, t.Id, side, TransferMovement.Reserved, amount, false, now);
        }
    }

    /// <summary>The first differing field in the order flags, pendingId, timeout, debit, credit, amount, userData, ledger, code.</summary>
    private static CreateTransferResult ExistsCode(in Transfer asked, in Transfer stored)
    {
        if (asked.Flags != stored.Flags)
        {
            return CreateTransferResult.ExistsWithDifferentFlags;
        }

        if (asked.PendingId != stored.PendingId)
        {
            return CreateTransferResult.ExistsWithDifferentPendingId;
        }

        if (asked.Timeout != stored.Timeout)
        {
            return CreateTransferResult.ExistsWithDifferentTimeout;
        }

        if (asked.DebitAccountId != stored.DebitAccountId)
        {
            return CreateTransferResult.ExistsWithDifferentDebitAccountId;
        }

        if (asked.CreditAccountId != stored.CreditAccountId)
        {
            return CreateTransferResult.ExistsWithDifferentCreditAccountId;
        }

        if (asked.Amount != stored.Amount)
        {
            return CreateTransferResult.ExistsWithDifferentAmount;
        }

        if (asked.UserData != stored.UserData)
        {
            return CreateTransferResult.ExistsWithDifferentUserData;
        }

        if (asked.Ledger != stored.Ledger)
        {
            return CreateTransferResult.ExistsWithDifferentLedger;
        }

        return asked.Code != stored.Code ? CreateTransferResult.ExistsWithDifferentCode : CreateTransferResult.Ok;
    }

    /// <summary>
    /// A plain or pending leg, in code order. Every check is against the images the checks see; the sum
    /// check also against the images to be written, so that in a Prepare the reservations themselves keep
    /// debitsPending + debitsPosted ≤ 2^64 − 1 (what makes Commit unable to overflow).
    /// </summary>
    private static CreateTransferResult CheckNew(Workspace ws, in Transfer t, LegKind kind, int di, int ci, ulong now)
    {
        var debit = di >= 0 ? ws.Accounts[di] : default;
        var credit = ci >= 0 ? ws.Accounts[ci] : default;
        var pending = kind == LegKind.Pending;
        UInt128 amount = t.Amount;
        if (di >= 0 && ci >= 0 && debit.Virtual.Ledger != credit.Virtual.Ledger)
        {
            return CreateTransferResult.AccountsMustHaveTheSameLedger;
        }

        if ((di >= 0 && debit.Virtual.Ledger != t.Ledger) || (ci >= 0 && credit.Virtual.Ledger != t.Ledger))
        {
            return CreateTransferResult.TransferMustHaveTheSameLedgerAsAccounts;
        }

        if (di >= 0 && debit.Virtual.IsClosed)
        {
            return CreateTransferResult.DebitAccountClosed;
        }

        if (ci >= 0 && credit.Virtual.IsClosed)
        {
            return CreateTransferResult.CreditAccountClosed;
        }

        if (pending && di >= 0 && debit.Virtual.DebitsPending + amount > ulong.MaxValue)
        {
            return CreateTransferResult.OverflowsDebitsPending;
        }

        if (pending && ci >= 0 && credit.Virtual.CreditsPending + amount > ulong.MaxValue)
        {
            return CreateTransferResult.OverflowsCreditsPending;
        }

        if (di >= 0 && debit.Virtual.DebitsPosted + amount > ulong.MaxValue)
        {
            return CreateTransferResult.OverflowsDebitsPosted;
        }

        if (ci >= 0 && credit.Virtual.CreditsPosted + amount > ulong.MaxValue)
        {
            return CreateTransferResult.OverflowsCreditsPosted;
        }

        if (di >= 0 && (debit.Virtual.DebitsPending + (UInt128)debit.Virtual.DebitsPosted + amount > ulong.MaxValue ||
                        debit.Stored.DebitsPending + (UInt128)debit.Stored.DebitsPosted + amount > ulong.MaxValue))
        {
            return CreateTransferResult.OverflowsDebits;
        }

        if (ci >= 0 && (credit.Virtual.CreditsPending + (UInt128)credit.Virtual.CreditsPosted + amount > ulong.MaxValue ||
                        credit.Stored.CreditsPending + (UInt128)credit.Stored.CreditsPosted + amount > ulong.MaxValue))
        {
            return CreateTransferResult.OverflowsCredits;
        }

        if (pending && now + ((UInt128)t.Timeout * 1000) > ulong.MaxValue)
        {
            return CreateTransferResult.OverflowsTimeout;
        }

        if (di >= 0 && (debit.Virtual.Flags & AccountFlags.DebitsMustNotExceedCredits) != 0 &&
            debit.Virtual.DebitsPosted + (UInt128)debit.Virtual.DebitsPending + amount > debit.Virtual.CreditsPosted)
        {
            return CreateTransferResult.ExceedsCredits;
        }

        if (ci >= 0 && (credit.Virtual.Flags & AccountFlags.CreditsMustNotExceedDebits) != 0 &&
            credit.Virtual.CreditsPosted + (UInt128)credit.Virtual.CreditsPending + amount > credit.Virtual.DebitsPosted)
        {
            return CreateTransferResult.ExceedsDebits;
        }

        return CreateTransferResult.Ok;
    }

    /// <summary>
    /// A post or void, in code order, against the pending transfer (stored here with result ok and reached
    /// through a named account that is its own on a side held here, else not found). No ledger checks on its accounts (it must name the pending transfer's accounts, ledger and
    /// code, which were checked when the hold was made) and no limit checks (posting moves at most the
    /// hold, and credits posted only grow). A locked pending transfer is being posted or voided by an
    /// unfinished chain. <paramref name="amount"/>: what gets posted (0 for a void); <paramref name="held"/>:
    /// the hold released.
    /// </summary>
    private static CreateTransferResult CheckPostOrVoid(Workspace ws, in Transfer t, LegKind kind, int di, int ci, int pi, ulong now, out ulong amount, out ulong held)
    {
        amount = 0;
        held = 0;
        ref readonly var p = ref ws.Transfers[pi];
        if (!p.Exists || p.Virtual.Status != TransferRecordStatus.Final || p.Virtual.Result != CreateTransferResult.Ok)
        {
            return CreateTransferResult.PendingTransferNotFound;
        }

        // A hold is found through the accounts the post names, by its half on a named account held here:
        // the debit half on the named debit account, the credit half on the named credit account. Naming
        // neither of its accounts finds nothing (so one shard and two shards answer alike).
        var pending = p.Virtual.Transfer;
        var sides = p.Virtual.Sides;
        if (!((di >= 0 && (sides & TransferRecord.DebitSide) != 0 && pending.DebitAccountId == t.DebitAccountId) ||
              (ci >= 0 && (sides & TransferRecord.CreditSide) != 0 && pending.CreditAccountId == t.CreditAccountId)))
        {
            return CreateTransferResult.PendingTransferNotFound;
        }

        if (!pending.IsPending || p.Virtual.State == PendingState.None)
        {
            return CreateTransferResult.PendingTransferNotPending;
        }

        if (t.DebitAccountId != pending.DebitAccountId)
        {
            return CreateTransferResult.PendingTransferHasDifferentDebitAccountId;
        }

        if (t.CreditAccountId != pending.CreditAccountId)
        {
            return CreateTransferResult.PendingTransferHasDifferentCreditAccountId;
        }

        if (t.Ledger != pending.Ledger)
        {
            return CreateTransferResult.PendingTransferHasDifferentLedger;
        }

        if (t.Code != pending.Code)
        {
            return CreateTransferResult.PendingTransferHasDifferentCode;
        }

        if (kind == LegKind.Post && t.Amount > pending.Amount)
        {
            return CreateTransferResult.ExceedsPendingTransferAmount;
        }

        if (kind == LegKind.Void && t.Amount != 0 && t.Amount != pending.Amount)
        {
            return CreateTransferResult.PendingTransferHasDifferentAmount;
        }

        switch (p.Virtual.State)
        {
            case PendingState.Posted:
                return CreateTransferResult.PendingTransferAlreadyPosted;
            case PendingState.Voided:
                return CreateTransferResult.PendingTransferAlreadyVoided;
            case PendingState.Expired:
                return CreateTransferResult.PendingTransferExpired;
        }

        // Due but not yet released by a timer run (or held past its deadline by a lock): expired all the same.
        if (p.Virtual.DeadlineMs != 0 && p.Virtual.DeadlineMs <= now)
        {
            return CreateTransferResult.PendingTransferExpired;
        }

        if (p.Virtual.Locked)
        {
            return CreateTransferResult.PendingTransferLocked;
        }

        if (di >= 0 && ws.Accounts[di].Virtual.IsClosed)
        {
            return CreateTransferResult.DebitAccountClosed;
        }

        if (ci >= 0 && ws.Accounts[ci].Virtual.IsClosed)
        {
            return CreateTransferResult.CreditAccountClosed;
        }

        held = pending.Amount;
        amount = kind == LegKind.Void ? 0 : t.Amount == 0 ? pending.Amount : t.Amount;
        if (di >= 0 && (UInt128)ws.Accounts[di].Virtual.DebitsPosted + amount > ulong.MaxValue)
        {
            return CreateTransferResult.OverflowsDebitsPosted;
        }

        if (ci >= 0 && (UInt128)ws.Accounts[ci].Virtual.CreditsPosted + amount > ulong.MaxValue)
        {
            return CreateTransferResult.OverflowsCreditsPosted;
        }

        return CreateTransferResult.Ok;
    }
}
