using System.Buffers.Binary;
using Heraclius.KvStore.StateMachine;
using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Shard;

/// <summary>
/// The ledger of the accounts one shard cluster holds: a deterministic engine over the replicated state
/// (no clock, no randomness, no iteration over hash order: time is the decision's timestamp in ms).
/// Build one per operation over the state the store gives; it emits audit records through
/// <c>audit</c> (the service passes <see cref="IServiceOutputs.Audit"/>).
/// </summary>
/// <remarks>
/// State layout (every value fixed-size binary, little-endian; docs/design.md "State layout"):
/// <list type="bullet">
/// <item><c>0x11 ‖ account id</c> → account (80 bytes as on the wire) ‖ u64 history count.</item>
/// <item><c>0x12 ‖ transfer id</c> → <see cref="TransferRecord"/>: the transfer, its result, whether it is
/// final or held by an unfinished 2PC, and for a pending transfer its state, lock and wheel slot. On the
/// id's shard it is the id's record (idempotency, lookups, the one TransferResult); on an account shard
/// the transfer's half (a repeat applies nothing there; a post or void finds the hold through it).</item>
/// <item><c>0x13 ‖ account id ‖ u64 sequence</c> → history entry (transfer id, side, movement, amount,
/// balances after, timestamp).</item>
/// <item><c>0x14 ‖ u64 txn ‖ coordinator id (utf-8)</c> → <see cref="TxnRecord"/>, while the txn is unfinished here.</item>
/// <item><c>0x18 ‖ coordinator id (utf-8)</c> → u64 highest txn prepared from that coordinator.</item>
/// <item><c>0x15 01</c> → u64 live entries in the expiry wheel (what <see cref="HasTimers"/> reads);
/// <c>0x15 02</c> → u64 cursor, the last wheel second processed in full; <c>0x15 03</c> → u64 lower
/// bound of the next deadline (<see cref="NextTimerDue"/>).</item>
/// <item><c>0x16 ‖ u64 second</c> → <see cref="WheelBucket"/>; <c>0x17 ‖ u64 second ‖ u32 slot</c> →
/// pending transfer id ‖ u64 deadline ms. A pending transfer with deadline d (ms) sits in second ⌈d/1000⌉.</item>
/// </list>
/// </remarks>
public sealed partial class ShardLedger
{
    private const AccountFlags LimitFlags = AccountFlags.DebitsMustNotExceedCredits | AccountFlags.CreditsMustNotExceedDebits;

    // One cached per thread for the service's per-message ledgers (see Rent): a ledger per message was
    // a measurable share of what a cross-shard transfer allocated on the shards.
    [ThreadStatic]
    private static ShardLedger? s_cached;

    private readonly Action<byte[]>? _audit;
    private IStateAccess _state;
    private ShardPlacement _placement;
    private IServiceOutputs? _outputs;

    public ShardLedger(IStateAccess state, ShardPlacement? placement = null, Action<byte[]>? audit = null)
    {
        ArgumentNullException.ThrowIfNull(state);
        _state = state;
        _placement = placement ?? ShardPlacement.All;
        _audit = audit;
    }

    /// <summary>A ledger that emits its audit records to <paramref name="outputs"/> (the service, per message: no delegate to allocate).</summary>
    internal ShardLedger(IStateAccess state, ShardPlacement placement, IServiceOutputs outputs)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(outputs);
        _state = state;
        _placement = placement;
        _outputs = outputs;
    }

    /// <summary>
    /// A ledger over <paramref name="state"/> emitting to <paramref name="outputs"/>: this thread's cached one
    /// if it is free (execution is synchronous), else a new one. Give it back with <see cref="Return"/> once the
    /// operation is done; one not given back (an exception) is simply left to the GC.
    /// </summary>
    internal static ShardLedger Rent(IStateAccess state, ShardPlacement placement, IServiceOutputs outputs)
    {
        var ledger = s_cached;
        if (ledger is null)
        {
            return new ShardLedger(state, placement, outputs);
        }

        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(outputs);
        s_cached = null;
        ledger._state = state;
        ledger._placement = placement;
        ledger._outputs = outputs;
        ledger.ForgetTimerCounters();
        return ledger;
    }

    /// <summary>Keeps a ledger from <see cref="Rent"/> for the next one on this thread; the caller must not use it after.</summary>
    internal void Return()
    {
        _state = null!;
        _outputs = null;
        s_cached = this;
    }

    private void EmitAudit(ReadOnlySpan<byte> record)
    {
        if (_outputs is not null)
        {
            _outputs.Audit(record);
        }
        else
        {
            _audit?.Invoke(record.ToArray());
        }
    }

    /// <summary>
    /// Creates an account. A customer account (not issuance) without a limit flag is stored with
    /// <see cref="AccountFlags.DebitsMustNotExceedCredits"/>; a repeat compares with the stored flags after
    /// that default and without <see cref="AccountFlags.Closed"/>, so the same request again answers Exists.
    /// </summary>
    public CreateAccountResult CreateAccount(in Account account, ulong timestamp)
    {
        var code = TransferValidation.CheckAccount(account);
        if (code != CreateAccountResult.Ok)
        {
            return code;
        }

        var flags = (account.Flags & (AccountFlags.Issuance | LimitFlags)) == 0
            ? account.Flags | AccountFlags.DebitsMustNotExceedCredits
            : account.Flags;
        var key = StateKeys.Account(account.Id);
        var stored = _state.Get(key);
        if (stored is not null)
        {
            var existing = AccountState.Decode(stored);
            if ((existing.Flags & ~AccountFlags.Closed) != flags)
            {
                return CreateAccountResult.ExistsWithDifferentFlags;
            }

            if (existing.Owner != account.Owner)
            {
                return CreateAccountResult.ExistsWithDifferentOwner;
            }

            if (existing.Ledger != account.Ledger)
            {
                return CreateAccountResult.ExistsWithDifferentLedger;
            }

            return existing.Code != account.Code ? CreateAccountResult.ExistsWithDifferentCode : CreateAccountResult.Exists;
        }

        var created = account with { Flags = flags, Timestamp = timestamp };
        _state.Put(key, AccountState.From(created).Encode());
        EmitAudit(AuditRecord.EncodeAccountCreated(created));
        return CreateAccountResult.Ok;
    }

    /// <summary>Closes an account: refused while it has pending debits or credits (holds or 2PC reservations).</summary>
    public CloseAccountResult CloseAccount(UInt128 id, ulong timestamp)
    {
        var key = StateKeys.Account(id);
        var stored = _state.Get(key);
        if (stored is null)
        {
            return CloseAccountResult.AccountNotFound;
        }

        var account = AccountState.Decode(stored);
        if (account.DebitsPending != 0 || account.CreditsPending != 0)
        {
            return CloseAccountResult.AccountHasPending;
        }

        if (account.IsClosed)
        {
            return CloseAccountResult.AlreadyClosed;
        }

        account.Flags |= AccountFlags.Closed;
        _state.Put(key, account.Encode());
        EmitAudit(AuditRecord.EncodeAccountClosed(id, timestamp));
        return CloseAccountResult.Ok;
    }

    public Account? LookupAccount(UInt128 id)
    {
        var stored = _state.Get(StateKeys.Account(id));
        return stored is null ? null : AccountState.Decode(stored).ToAccount();
    }

    /// <summary>A transfer whose result is final here (as requested, stamped with the time it became final), and that result.</summary>
    public bool TryLookupTransfer(UInt128 id, out Transfer transfer, out CreateTransferResult result)
    {
        var stored = _state.Get(StateKeys.Transfer(id));
        if (stored is not null)
        {
            var record = TransferRecord.Decode(stored);
            if (record.Status == TransferRecordStatus.Final)
            {
                transfer = record.Transfer;
                result = record.Result;
                return true;
            }
        }

        transfer = default;
        result = CreateTransferResult.Ok;
        return false;
    }

    /// <summary>
    /// The account's movements with sequence after <paramref name="after"/>, at most <paramref name="limit"/>,
    /// in commit order; <paramref name="next"/> is the last sequence returned when more follow, else 0.
    /// </summary>
    public HistoryEntry[] AccountHistory(UInt128 accountId, ulong after, uint limit, out ulong next)
    {
        next = 0;
        var stored = _state.Get(StateKeys.Account(accountId));
        if (stored is null)
        {
            return [];
        }

        var last = AccountState.Decode(stored).HistoryCount;
        if (after >= last || limit == 0)
        {
            return [];
        }

        var count = (int)Math.Min(limit, last - after);
        var entries = new HistoryEntry[count];
        for (var i = 0; i < count; i++)
        {
            var sequence = after + 1 + (ulong)i;
            var bytes = _state.Get(StateKeys.History(accountId, sequence))
                ?? throw new InvalidOperationException($"history entry {sequence} of account {accountId} is missing");
            entries[i] = DecodeHistory(sequence, bytes);
        }

        var lastReturned = after + (ulong)count;
        next = lastReturned < last ? lastReturned : 0;
        return entries;
    }

    private const int HistoryValueSize = 16 + 1 + 1 + (6 * 8);

    private static byte[] EncodeHistory(in HistoryEntry e)
    {
        var b = new byte[HistoryValueSize];
        var s = b.AsSpan();
        ShardCodec.WriteId(s, e.TransferId);
        s[16] = (byte)e.Side;
        s[17] = (byte)e.Movement;
        BinaryPrimitives.WriteUInt64LittleEndian(s[18..], e.Amount);
        BinaryPrimitives.WriteUInt64LittleEndian(s[26..], e.DebitsPending);
        BinaryPrimitives.WriteUInt64LittleEndian(s[34..], e.DebitsPosted);
        BinaryPrimitives.WriteUInt64LittleEndian(s[42..], e.CreditsPending);
        BinaryPrimitives.WriteUInt64LittleEndian(s[50..], e.CreditsPosted);
        BinaryPrimitives.WriteUInt64LittleEndian(s[58..], e.Timestamp);
        return b;
    }

    private static HistoryEntry DecodeHistory(ulong sequence, ReadOnlySpan<byte> s) => new(
        sequence,
        ShardCodec.ReadId(s),
        (TransferSide)s[16],
        (TransferMovement)s[17],
        BinaryPrimitives.ReadUInt64LittleEndian(s[18..]),
        BinaryPrimitives.ReadUInt64LittleEndian(s[26..]),
        BinaryPrimitives.ReadUInt64LittleEndian(s[34..]),
        BinaryPrimitives.ReadUInt64LittleEndian(s[42..]),
        BinaryPrimitives.ReadUInt64LittleEndian(s[50..]),
        BinaryPrimitives.ReadUInt64LittleEndian(s[58..]));

    /// <summary>
    /// Records one movement of <paramref name="a"/> (whose balances already moved): an audit posting, and
    /// for a committed movement a history entry with the next sequence (balances only with the History flag).
    /// </summary>
    private static (AuditPosting Audit, HistoryEntry? Entry) Movement(ref AccountState a, UInt128 transferId, TransferSide side, TransferMovement movement, ulong amount, bool history, ulong now)
    {
        var audit = new AuditPosting(transferId, a.Id, side, movement, amount, a.DebitsPending, a.DebitsPosted, a.CreditsPending, a.CreditsPosted, now);
        if (!history)
        {
            return (audit, null);
        }

        a.HistoryCount++;
        var balances = (a.Flags & AccountFlags.History) != 0;
        var entry = new HistoryEntry(
            a.HistoryCount,
            transferId,
            side,
            movement,
            amount,
            balances ? a.DebitsPending : 0,
            balances ? a.DebitsPosted : 0,
            balances ? a.CreditsPending : 0,
            balances ? a.CreditsPosted : 0,
            now);
        return (audit, entry);
    }

    private static void Record(Workspace ws, int account, UInt128 transferId, TransferSide side, TransferMovement movement, ulong amount, bool history, ulong now, bool audit = true)
    {
        ref var slot = ref ws.Accounts[account];
        slot.Dirty = true;
        var (posting, entry) = Movement(ref slot.Stored, transferId, side, movement, amount, history, now);
        if (audit)
        {
            ws.Audit.AddPosting(posting);
        }

        if (entry is { } e)
        {
            ws.History.Add((slot.Id, e));
        }
    }

    /// <summary>A leg's final effect on one side's balances (checked: the checks made before must make it fit).</summary>
    private static void ApplyFinal(ref AccountState a, TransferSide side, LegKind kind, ulong amount, ulong held)
    {
        checked
        {
            if (side == TransferSide.Debit)
            {
                switch (kind)
                {
                    case LegKind.Plain:
                        a.DebitsPosted += amount;
                        break;
                    case LegKind.Pending:
                        a.DebitsPending += amount;
                        break;
                    case LegKind.Post:
                        a.DebitsPending -= held;
                        a.DebitsPosted += amount;
                        break;
                    case LegKind.Void:
                        a.DebitsPending -= held;
                        break;
                }
            }
            else
            {
                switch (kind)
                {
                    case LegKind.Plain:
                        a.CreditsPosted += amount;
                        break;
                    case LegKind.Pending:
                        a.CreditsPending += amount;
                        break;
                    case LegKind.Post:
                        a.CreditsPending -= held;
                        a.CreditsPosted += amount;
                        break;
                    case LegKind.Void:
                        a.CreditsPending -= held;
                        break;
                }
            }
        }
    }

    private static void AddPending(ref AccountState a, TransferSide side, ulong amount)
    {
        checked
        {
            if (side == TransferSide.Debit)
            {
                a.DebitsPending += amount;
            }
            else
            {
                a.CreditsPending += amount;
            }
        }
    }

    private static void ReleasePending(ref AccountState a, TransferSide side, ulong amount)
    {
        checked
        {
            if (side == TransferSide.Debit)
            {
                a.DebitsPending -= amount;
            }
            else
            {
                a.CreditsPending -= amount;
            }
        }
    }

    /// <summary>
    /// Applies a leg's committed movement to one side and records it: the amount posted or held, or for a
    /// post/void the hold released (<paramref name="held"/>) and the amount posted.
    /// </summary>
    private static void CommitSide(Workspace ws, int account, in Transfer t, TransferSide side, LegKind kind, ulong amount, ulong held, ulong now)
    {
        if (kind == LegKind.Post)
        {
            // Audit deltas stay one movement each, every record with the balances after its own delta:
            // the posted part, then the rest of the hold released. History keeps one entry per leg and
            // side, as the reference ledger does.
            ApplyFinal(ref ws.Accounts[account].Stored, side, LegKind.Post, amount, amount);
            if (held == amount)
            {
                Record(ws, account, t.Id, side, TransferMovement.PendingPosted, amount, true, now);
                return;
            }

            Record(ws, account, t.Id, side, TransferMovement.PendingPosted, amount, false, now);
            ReleasePending(ref ws.Accounts[account].Stored, side, held - amount);
            Record(ws, account, t.Id, side, TransferMovement.PendingVoided, held - amount, false, now);
            Record(ws, account, t.Id, side, TransferMovement.PendingPosted, amount, true, now, audit: false);
            return;
        }

        ApplyFinal(ref ws.Accounts[account].Stored, side, kind, amount, held);
        switch (kind)
        {
            case LegKind.Plain:
                Record(ws, account, t.Id, side, TransferMovement.Posted, amount, true, now);
                break;
            case LegKind.Pending:
                Record(ws, account, t.Id, side, TransferMovement.PendingHold, amount, true, now);
                break;
            case LegKind.Void:
                Record(ws, account, t.Id, side, TransferMovement.PendingVoided, held, true, now);
                break;
        }
    }

    /// <summary>Writes what an operation changed: accounts, transfer records (fixing their wheel entries), history, then the audit records in order.</summary>
    private void Flush(Workspace ws, ulong now)
    {
        for (var i = 0; i < ws.AccountCount; i++)
        {
            ref var slot = ref ws.Accounts[i];
            if (slot.Dirty)
            {
                _state.Put(slot.Key, slot.Stored.Encode());
            }
        }

        for (var i = 0; i < ws.TransferCount; i++)
        {
            ref var slot = ref ws.Transfers[i];
            if (!slot.Dirty)
            {
                continue;
            }

            if (slot.Deleted)
            {
                _state.Delete(slot.Key);
                continue;
            }

            FixWheel(ref slot.Stored, slot.Id, now);
            _state.Put(slot.Key, slot.Stored.Encode());
        }

        foreach (var (accountId, entry) in ws.History)
        {
            _state.Put(StateKeys.History(accountId, entry.Sequence), EncodeHistory(entry));
        }

        if (_audit is not null || _outputs is not null)
        {
            for (var i = 0; i < ws.Audit.Count; i++)
            {
                EmitAudit(ws.Audit[i]);
            }
        }

        EndTimerOperation();
    }

    /// <summary>Stores a final result straight away (a failed leg evaluated afresh, or an aborted chain's failed leg).</summary>
    private void StoreFinal(in Transfer t, CreateTransferResult result, ulong now)
    {
        var stamped = t with { Timestamp = now };
        var record = new TransferRecord { Transfer = stamped, Result = result, Status = TransferRecordStatus.Final };
        _state.Put(StateKeys.Transfer(t.Id), record.Encode());
        EmitAudit(AuditRecord.EncodeTransferResult(stamped, result));
    }

    private static CreateTransferResult[] FailChain(int count, int failedLeg, CreateTransferResult code)
    {
        var results = new CreateTransferResult[count];
        Array.Fill(results, CreateTransferResult.LinkedEventFailed);
        results[failedLeg] = code;
        return results;
    }
}
