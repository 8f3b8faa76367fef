using System.Buffers.Binary;
using Heraclius.Ledger.Model;
using Heraclius.Ledger.Protocol;

namespace Heraclius.Ledger.Shard;

public sealed partial class ShardLedger
{
    /// <summary>The most legs a 2PC chain may have: a transaction record keeps per-leg bits in a u64.</summary>
    public const int MaxChainLength = 64;

    /// <summary>
    /// Phase one of a cross-shard chain from <paramref name="coordinator"/>: evaluates the parts of each
    /// leg this shard holds (the id part on the id's shard: stored or in-flight ids; the debit and credit
    /// parts on the accounts' shards), in chain order counting its earlier legs as posted, and either
    /// reserves every one (debitsPending/creditsPending += amount; a post or void locks its pending
    /// transfer) and votes Prepared, or reserves nothing and votes Refused at its first failing leg. Either
    /// way the chain's new ids it evaluated are held in flight here until Commit or Abort, so no other
    /// chain takes them first (an account shard keeps its own record of each transfer it applies, so a
    /// replayed id applies nothing there either). The
    /// ledgers reported per leg are those of the accounts held here (0 = not here or not found; 0 for a
    /// post or void too, which are not ledger-checked). A repeated Prepare of an unfinished txn returns the
    /// first vote. False, and nothing changed, for a txn this shard already finished and forgot (see
    /// <see cref="Commit"/>): a coordinator's Prepares reach a shard in increasing txn order, so a txn at or
    /// below the highest prepared from it whose record is gone is one that finished here, never a new one.
    /// </summary>
    public bool TryPrepare(string coordinator, ulong txn, IReadOnlyList<Transfer> chain, ulong timestamp, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ShardVote? vote)
    {
        ArgumentNullException.ThrowIfNull(coordinator);
        ArgumentNullException.ThrowIfNull(chain);
        if (chain.Count is 0 or > MaxChainLength)
        {
            throw new ArgumentException($"a chain has 1 to {MaxChainLength} legs, not {chain.Count}", nameof(chain));
        }

        // The watermark's key exists after a coordinator's first Prepare: read and written from the stack.
        var upToKey = StateKeys.WritePreparedUpTo(stackalloc byte[64], coordinator);
        var upTo = _state.Get(upToKey);
        if (txn <= (upTo is null ? 0 : BinaryPrimitives.ReadUInt64LittleEndian(upTo)))
        {
            // A repeat: its record while it is unfinished, nothing once it finished (it reserves nothing again).
            vote = _state.Get(StateKeys.Txn(coordinator, txn)) is { } existing ? TxnRecord.Decode(existing).Vote : null;
            return vote is not null;
        }

        var value = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(value, txn);
        _state.Put(upToKey, value);
        vote = Evaluate(StateKeys.Txn(coordinator, txn), chain, timestamp);
        return true;
    }

    /// <summary><see cref="TryPrepare"/> for a txn known not to be finished (tests); throws for a forgotten one.</summary>
    public ShardVote Prepare(string coordinator, ulong txn, IReadOnlyList<Transfer> chain, ulong timestamp) =>
        TryPrepare(coordinator, txn, chain, timestamp, out var vote)
            ? vote
            : throw new InvalidOperationException($"txn {txn} of {coordinator} finished here and was forgotten");

    private ShardVote Evaluate(byte[] key, IReadOnlyList<Transfer> chain, ulong timestamp)
    {
        var failed = TransferValidation.CheckChain(chain, out var stateless);
        if (failed >= 0)
        {
            var refusal = ShardVote.No(failed, stateless, new LegLedgers[failed + 1]);
            _state.Put(key, new TxnRecord { Status = TxnStatus.Refused, Vote = refusal, Chain = [] }.Encode());
            return refusal;
        }

        var ws = Workspace.Rent(_state, chain.Count);
        var ledgers = new LegLedgers[chain.Count];
        ulong owned = 0, debitSides = 0, creditSides = 0;
        for (var i = 0; i < chain.Count; i++)
        {
            var t = chain[i];
            var idHere = _placement.Holds(t.Id);
            var debitHere = _placement.Holds(t.DebitAccountId);
            var creditHere = _placement.Holds(t.CreditAccountId);
            if (!idHere && !debitHere && !creditHere)
            {
                continue;
            }

            ledgers[i] = LedgersHere(ws, t, debitHere, creditHere);
            var code = EvaluateLeg(ws, t, idHere, debitHere, creditHere, true, timestamp, out var fresh, out var created);
            var bit = 1UL << i;
            if (code != CreateTransferResult.Ok)
            {
                // Nothing reserved: only the ids of legs 0..i that were new here are held.
                if (fresh)
                {
                    owned |= bit;
                }

                for (var j = 0; j <= i; j++)
                {
                    if ((owned & (1UL << j)) != 0)
                    {
                        var hold = new TransferRecord { Transfer = chain[j], Status = TransferRecordStatus.InFlight };
                        _state.Put(StateKeys.Transfer(chain[j].Id), hold.Encode());
                    }
                }

                var vote = ShardVote.No(i, code, ledgers[..(i + 1)]);
                _state.Put(key, new TxnRecord { Status = TxnStatus.Refused, Owned = owned, Vote = vote, Chain = chain as Transfer[] ?? [.. chain] }.Encode());
                EndTimerOperation();
                ws.Return();
                return vote;
            }

            if (created)
            {
                owned |= bit;
                debitSides |= debitHere ? bit : 0;
                creditSides |= creditHere ? bit : 0;
            }
        }

        Flush(ws, timestamp);
        ws.Return();
        var yes = ShardVote.Yes(ledgers);
        _state.Put(key, new TxnRecord
        {
            Status = TxnStatus.Prepared,
            Owned = owned,
            DebitSides = debitSides,
            CreditSides = creditSides,
            Vote = yes,
            Chain = chain as Transfer[] ?? [.. chain],
        }.Encode());
        return yes;
    }

    /// <summary>
    /// Applies a prepared chain at <paramref name="timestamp"/> (the coordinator's decision time, the same on
    /// every shard of the chain): each reservation is released and replaced by its final movement (a
    /// pending transfer's hold, its expiry counted from that timestamp; a post moves the posted
    /// amount and releases the rest of the hold; a void releases it), and the chain's new ids are stored
    /// with ok (the id shard emits its TransferResult). It cannot fail: a reservation kept debitsPending + debitsPosted ≤ 2^64 − 1 with the amount
    /// in it, so moving it to posted fits; a locked hold is still whole; limits were checked with the
    /// reservations counted, and credits posted only grow. True when it applied the txn now (the shard acks);
    /// false, and nothing changed, for a txn this shard did not prepare from this coordinator, or refused,
    /// or already finished: a finished txn's record is deleted, so a late or repeated Commit or Abort finds
    /// nothing and is ignored (the coordinator took the first ack), and a repeated Prepare is refused by
    /// <see cref="TryPrepare"/>'s watermark. Records written before records were deleted (status
    /// committed or aborted) still answer as they did.
    /// </summary>
    public bool Commit(string coordinator, ulong txn, ulong timestamp)
    {
        ArgumentNullException.ThrowIfNull(coordinator);

        // The record is there when this does anything. Read in place (no write comes before the flush, and every leg
        // is read before it): a copied read was 5% of `bench transfers`' allocations.
        var key = StateKeys.WriteTxn(stackalloc byte[64], coordinator, txn);
        if (!_state.TryRead(key, out var bytes))
        {
            return false;
        }

        var record = new TxnRecordView(bytes);
        if (record.Status != TxnStatus.Prepared)
        {
            return record.Status == TxnStatus.Committed;
        }

        var (owned, debitSides, creditSides) = (record.Owned, record.DebitSides, record.CreditSides);
        var ws = Workspace.Rent(_state, record.Count);
        for (var i = 0; i < record.Count; i++)
        {
            var bit = 1UL << i;
            var debitHere = (debitSides & bit) != 0;
            var creditHere = (creditSides & bit) != 0;
            if ((owned & bit) == 0)
            {
                continue;
            }

            var t = record.Leg(i);
            var kind = LegKinds.Of(t);

            // The id's record here is this txn's in-flight hold, replaced whole below: no need to read it.
            var xi = ws.TransferToReplace(t.Id);
            var di = debitHere ? ws.Account(t.DebitAccountId) : -1;
            var ci = creditHere ? ws.Account(t.CreditAccountId) : -1;
            var pi = (debitHere || creditHere) && kind is LegKind.Post or LegKind.Void ? ws.Transfer(t.PendingId) : -1;
            ulong amount = t.Amount, held = 0;
            if (pi >= 0)
            {
                ref var p = ref ws.Transfers[pi];
                p.Dirty = true;
                p.Stored.Locked = false;
                p.Stored.State = kind == LegKind.Post ? PendingState.Posted : PendingState.Voided;
                held = p.Stored.Transfer.Amount;
                amount = kind == LegKind.Void ? 0 : t.Amount == 0 ? held : t.Amount;
            }

            if (di >= 0)
            {
                CommitReservedSide(ws, di, t, TransferSide.Debit, kind, amount, held, timestamp);
            }

            if (ci >= 0)
            {
                CommitReservedSide(ws, ci, t, TransferSide.Credit, kind, amount, held, timestamp);
            }

            var stamped = t with { Timestamp = timestamp };
            ref var x = ref ws.Transfers[xi];
            x.Dirty = true;
            x.Stored = new TransferRecord
            {
                Transfer = stamped,
                Result = CreateTransferResult.Ok,
                Status = TransferRecordStatus.Final,
                Sides = (byte)((debitHere ? TransferRecord.DebitSide : 0) | (creditHere ? TransferRecord.CreditSide : 0)),
                State = kind == LegKind.Pending && (debitHere || creditHere) ? PendingState.Live : PendingState.None,
                DeadlineMs = kind == LegKind.Pending && (debitHere || creditHere) && t.Timeout != 0 ? SaturatingAdd(timestamp, t.Timeout * 1000UL) : 0,
            };
            if (_placement.Holds(t.Id))
            {
                ws.Audit.AddTransferResult(stamped, CreateTransferResult.Ok);
            }
        }

        Flush(ws, timestamp);
        ws.Return();

        // Finished: the record goes (docs/design.md "Shard state": why a late Prepare or decision is still harmless).
        _state.Delete(key.ToArray());
        return true;
    }

    /// <summary>
    /// Releases a prepared (or refused) chain: reservations released, locks lifted (a lifted hold that is due
    /// expires at the next timer run), and each held id stored with its final result (audited by the id's
    /// shard) from
    /// <paramref name="finalResults"/>, except linked_event_failed (the id is free again, as in a one-shard
    /// chain), the exists codes (the id is another transfer's, stored on another shard) and the transient
    /// codes. A missing or ok result counts as linked_event_failed: an aborted leg never applied. Same
    /// return as <see cref="Commit"/>.
    /// </summary>
    public bool Abort(string coordinator, ulong txn, IReadOnlyList<CreateTransferResult> finalResults, ulong timestamp)
    {
        ArgumentNullException.ThrowIfNull(coordinator);
        ArgumentNullException.ThrowIfNull(finalResults);
        // Read in place, as in Commit.
        var key = StateKeys.WriteTxn(stackalloc byte[64], coordinator, txn);
        if (!_state.TryRead(key, out var bytes))
        {
            return false;
        }

        var record = new TxnRecordView(bytes);
        if (record.Status is TxnStatus.Committed or TxnStatus.Aborted)
        {
            return record.Status == TxnStatus.Aborted;
        }

        var (owned, debitSides, creditSides) = (record.Owned, record.DebitSides, record.CreditSides);
        var ws = Workspace.Rent(_state, record.Count);
        for (var i = 0; i < record.Count; i++)
        {
            var bit = 1UL << i;
            var debitHere = (debitSides & bit) != 0;
            var creditHere = (creditSides & bit) != 0;
            if (!debitHere && !creditHere)
            {
                continue;
            }

            var t = record.Leg(i);
            var kind = LegKinds.Of(t);
            if (kind is LegKind.Post or LegKind.Void)
            {
                var pi = ws.Transfer(t.PendingId);
                ws.Transfers[pi].Dirty = true;
                ws.Transfers[pi].Stored.Locked = false;
                continue;
            }

            if (debitHere)
            {
                Release(ws, ws.Account(t.DebitAccountId), t, TransferSide.Debit, timestamp);
            }

            if (creditHere)
            {
                Release(ws, ws.Account(t.CreditAccountId), t, TransferSide.Credit, timestamp);
            }
        }

        for (var i = 0; i < record.Count; i++)
        {
            if ((owned & (1UL << i)) == 0)
            {
                continue;
            }

            var t = record.Leg(i);
            var result = i < finalResults.Count ? finalResults[i] : CreateTransferResult.LinkedEventFailed;
            var xi = ws.TransferToReplace(t.Id);
            ref var x = ref ws.Transfers[xi];
            x.Dirty = true;
            if (!IsStoredOnAbort(result))
            {
                x.Deleted = true;
                continue;
            }

            // Every shard that held the id keeps the failure, not only the id shard: a retry is then
            // answered from the stored result on each of them, and no account shard evaluates it afresh
            // into a code that would win over the replay. The id shard alone audits it.
            var stamped = t with { Timestamp = timestamp };
            x.Stored = new TransferRecord { Transfer = stamped, Result = result, Status = TransferRecordStatus.Final };
            if (_placement.Holds(t.Id))
            {
                ws.Audit.AddTransferResult(stamped, result);
            }
        }

        Flush(ws, timestamp);
        ws.Return();
        _state.Delete(key.ToArray());
        return true;
    }

    private static void CommitReservedSide(Workspace ws, int account, in Transfer t, TransferSide side, LegKind kind, ulong amount, ulong held, ulong now)
    {
        if (kind is LegKind.Plain or LegKind.Pending)
        {
            ReleasePending(ref ws.Accounts[account].Stored, side, t.Amount);
            Record(ws, account, t.Id, side, TransferMovement.Released, t.Amount, false, now);
        }

        CommitSide(ws, account, t, side, kind, amount, held, now);
    }

    private static void Release(Workspace ws, int account, in Transfer t, TransferSide side, ulong now)
    {
        ReleasePending(ref ws.Accounts[account].Stored, side, t.Amount);
        Record(ws, account, t.Id, side, TransferMovement.Released, t.Amount, false, now);
    }

    private static LegLedgers LedgersHere(Workspace ws, in Transfer t, bool debitHere, bool creditHere)
    {
        if (t.IsPost || t.IsVoid)
        {
            return default;
        }

        uint debit = 0, credit = 0;
        if (debitHere)
        {
            var di = ws.Account(t.DebitAccountId);
            debit = ws.Accounts[di].Found ? ws.Accounts[di].Virtual.Ledger : 0;
        }

        if (creditHere)
        {
            var ci = ws.Account(t.CreditAccountId);
            credit = ws.Accounts[ci].Found ? ws.Accounts[ci].Virtual.Ledger : 0;
        }

        return new LegLedgers(debit, credit);
    }

    /// <summary>
    /// Whether an aborted chain's final code is stored for a held id. Not linked_event_failed, as in a
    /// one-shard chain; not the exists codes, which say some shard holds the id for another transfer (a
    /// record here would be a second, conflicting one); not the transient codes (an in-flight id, a locked
    /// hold, a prepare timeout), which a retry with the same ids may get past.
    /// </summary>
    private static bool IsStoredOnAbort(CreateTransferResult code) =>
        code is not (CreateTransferResult.Ok or CreateTransferResult.LinkedEventFailed or CreateTransferResult.PendingTransferLocked or CreateTransferResult.PrepareTimedOut) &&
        code is not (>= CreateTransferResult.ExistsWithDifferentFlags and <= CreateTransferResult.Exists);

    private static ulong SaturatingAdd(ulong a, ulong b) => a > ulong.MaxValue - b ? ulong.MaxValue : a + b;
}
