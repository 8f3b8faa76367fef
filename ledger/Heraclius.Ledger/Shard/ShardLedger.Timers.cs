using System.Buffers.Binary;
using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Shard;

public sealed partial class ShardLedger
{
    /// <summary>
    /// The most wheel seconds one timer run walks: after a long stop the cursor catches up over several
    /// runs instead of one decision doing a day of reads.
    /// </summary>
    public const ulong MaxSecondsPerRun = 86_400;

    private ulong? _timerCount;
    private ulong? _cursor;
    private ulong? _nextDue;
    private bool _nextDueDirty;
    private bool _timerCountDirty;
    private bool _cursorDirty;

    /// <summary>Whether any pending transfer with a timeout waits in the expiry wheel: one read, no writes.</summary>
    public bool HasTimers() => ReadU64(StateKeys.TimerCount) != 0;

    /// <summary>
    /// A lower bound of the next deadline in the wheel (ms), <see cref="ulong.MaxValue"/> when it is empty:
    /// the earliest deadline added since the last timer run, or after a run the end of the second it
    /// reached (the wheel does not know its next non-empty second, so a run a second at most finds it).
    /// Two reads, no writes.
    /// </summary>
    public ulong NextTimerDue() => ReadU64(StateKeys.TimerCount) == 0 ? ulong.MaxValue : ReadU64(StateKeys.TimerNextDue);

    /// <summary>
    /// Expires every pending transfer in the wheel whose deadline is at or before <paramref name="timestamp"/>:
    /// its hold is released on the sides held here (movement PendingExpired). Seconds are walked from the
    /// cursor, at most <see cref="MaxSecondsPerRun"/>; the current second's bucket is looked at too, for
    /// deadlines earlier in it. A locked hold (a post or void of it is prepared) leaves the wheel instead and
    /// comes back when the lock is lifted.
    /// </summary>
    public void RunTimers(ulong timestamp)
    {
        if (TimerCount == 0)
        {
            EndTimerOperation();
            return;
        }

        var cursor = Cursor;
        var nowSecond = timestamp / 1000;
        var end = cursor;
        if (nowSecond > cursor)
        {
            end = nowSecond - cursor > MaxSecondsPerRun ? cursor + MaxSecondsPerRun : nowSecond;
        }

        for (var second = cursor + 1; second <= end && TimerCount != 0; second++)
        {
            _ = ProcessBucket(second, timestamp);
        }

        if (end > cursor)
        {
            Cursor = end;
        }

        // The second after the cursor holds deadlines up to a second ahead: those at or before now are due too.
        var next = 0UL;
        if (end >= nowSecond && TimerCount != 0)
        {
            next = Math.Min(ProcessBucket(end + 1, timestamp), ((end + 1) * 1000) + 1);
        }

        if (TimerCount != 0)
        {
            NextDue = next;
        }

        EndTimerOperation();
    }

    private ulong TimerCount
    {
        get => _timerCount ??= ReadU64(StateKeys.TimerCount);
        set
        {
            _timerCount = value;
            _timerCountDirty = true;
        }
    }

    private ulong NextDue
    {
        get => _nextDue ??= ReadU64(StateKeys.TimerNextDue);
        set
        {
            _nextDue = value;
            _nextDueDirty = true;
        }
    }

    private ulong Cursor
    {
        get => _cursor ??= ReadU64(StateKeys.TimerCursor);
        set
        {
            _cursor = value;
            _cursorDirty = true;
        }
    }

    /// <summary>Drops the cached counters unwritten: a reused ledger starts its operation as a new one does.</summary>
    private void ForgetTimerCounters()
    {
        _timerCount = null;
        _cursor = null;
        _nextDue = null;
        _timerCountDirty = false;
        _cursorDirty = false;
        _nextDueDirty = false;
    }

    /// <summary>Writes the cached counters and forgets them: the next operation may run over a state rolled back since.</summary>
    private void EndTimerOperation()
    {
        if (_timerCountDirty)
        {
            WriteU64(StateKeys.TimerCount, _timerCount!.Value);
        }

        if (_cursorDirty)
        {
            WriteU64(StateKeys.TimerCursor, _cursor!.Value);
        }

        if (_nextDueDirty)
        {
            WriteU64(StateKeys.TimerNextDue, _nextDue!.Value);
        }

        ForgetTimerCounters();
    }

    /// <summary>Puts a live hold with a deadline into the wheel, or takes a finished or locked one out, as its record now says.</summary>
    private void FixWheel(ref TransferRecord record, UInt128 id, ulong now)
    {
        if (record.WheelSecond != 0 && record.State != PendingState.Live)
        {
            WheelRemove(ref record);
        }

        if (record.State == PendingState.Live && record.DeadlineMs != 0 && record.WheelSecond == 0 &&
            !record.Locked && record.Status == TransferRecordStatus.Final)
        {
            WheelAdd(ref record, id, now);
        }
    }

    private void WheelAdd(ref TransferRecord record, UInt128 id, ulong now)
    {
        if (TimerCount == 0 && Cursor < now / 1000)
        {
            // An empty wheel has nothing behind the cursor, so it may jump to now instead of walking the idle time.
            Cursor = now / 1000;
        }

        var deadline = record.DeadlineMs;
        var second = Math.Max((deadline / 1000) + (deadline % 1000 == 0 ? 0UL : 1UL), Cursor + 1);
        var bucketKey = StateKeys.Bucket(second);
        var bucket = _state.Get(bucketKey) is { } stored
            ? WheelBucket.Decode(stored)
            : new WheelBucket { Sorted = true, MinDeadline = ulong.MaxValue };
        var slot = bucket.Next++;
        bucket.Sorted &= bucket.Live == 0 || deadline >= bucket.LastDeadline;
        bucket.MinDeadline = bucket.Live == 0 ? deadline : Math.Min(bucket.MinDeadline, deadline);
        bucket.LastDeadline = deadline;
        bucket.Live++;
        _state.Put(bucketKey, bucket.Encode());

        var entry = new byte[24];
        ShardCodec.WriteId(entry, id);
        BinaryPrimitives.WriteUInt64LittleEndian(entry.AsSpan(16), deadline);
        _state.Put(StateKeys.WheelEntry(second, slot), entry);

        record.WheelSecond = second;
        record.WheelSlot = slot;
        NextDue = TimerCount == 0 ? deadline : Math.Min(NextDue, deadline);
        TimerCount++;
    }

    private void WheelRemove(ref TransferRecord record)
    {
        _state.Delete(StateKeys.WheelEntry(record.WheelSecond, record.WheelSlot));
        var bucketKey = StateKeys.Bucket(record.WheelSecond);
        if (_state.Get(bucketKey) is { } stored)
        {
            var bucket = WheelBucket.Decode(stored);
            bucket.Live--;
            if (bucket.Live == 0)
            {
                _state.Delete(bucketKey);
            }
            else
            {
                _state.Put(bucketKey, bucket.Encode());
            }
        }

        record.WheelSecond = 0;
        record.WheelSlot = 0;
        TimerCount--;
    }

    /// <summary>
    /// Expires the due entries of one wheel second; the rest stay (only the current second has any).
    /// Returns a lower bound of the deadlines left in it, <see cref="ulong.MaxValue"/> for none.
    /// </summary>
    private ulong ProcessBucket(ulong second, ulong now)
    {
        var bucketKey = StateKeys.Bucket(second);
        if (_state.Get(bucketKey) is not { } stored)
        {
            return ulong.MaxValue;
        }

        var bucket = WheelBucket.Decode(stored);
        if (bucket.MinDeadline > now)
        {
            return bucket.MinDeadline;
        }

        var contiguous = true;
        var min = ulong.MaxValue;
        for (var slot = bucket.First; slot < bucket.Next; slot++)
        {
            var entryKey = StateKeys.WheelEntry(second, slot);
            if (_state.Get(entryKey) is not { } entry)
            {
                if (contiguous)
                {
                    bucket.First = slot + 1;
                }

                continue;
            }

            var deadline = BinaryPrimitives.ReadUInt64LittleEndian(entry.AsSpan(16));
            if (deadline > now)
            {
                contiguous = false;
                min = Math.Min(min, deadline);
                if (bucket.Sorted)
                {
                    break;
                }

                continue;
            }

            _state.Delete(entryKey);
            bucket.Live--;
            TimerCount--;
            if (contiguous)
            {
                bucket.First = slot + 1;
            }

            Expire(ShardCodec.ReadId(entry), now);
        }

        if (bucket.Live == 0)
        {
            _state.Delete(bucketKey);
            return ulong.MaxValue;
        }

        bucket.MinDeadline = min;
        _state.Put(bucketKey, bucket.Encode());
        return min;
    }

    /// <summary>Releases a due hold on the sides held here, or, while it is locked, just takes it out of the wheel.</summary>
    private void Expire(UInt128 id, ulong now)
    {
        var key = StateKeys.Transfer(id);
        if (_state.Get(key) is not { } stored)
        {
            return;
        }

        var record = TransferRecord.Decode(stored);
        record.WheelSecond = 0;
        record.WheelSlot = 0;
        if (record.State == PendingState.Live && !record.Locked)
        {
            var t = record.Transfer;
            if ((record.Sides & TransferRecord.DebitSide) != 0)
            {
                ExpireSide(t.DebitAccountId, t, TransferSide.Debit, now);
            }

            if ((record.Sides & TransferRecord.CreditSide) != 0)
            {
                ExpireSide(t.CreditAccountId, t, TransferSide.Credit, now);
            }

            record.State = PendingState.Expired;
        }

        _state.Put(key, record.Encode());
    }

    private void ExpireSide(UInt128 accountId, in Transfer t, TransferSide side, ulong now)
    {
        var key = StateKeys.Account(accountId);
        var account = AccountState.Decode(_state.Get(key) ?? throw new InvalidOperationException($"account {accountId} of pending transfer {t.Id} is missing"));
        ReleasePending(ref account, side, t.Amount);
        var (posting, entry) = Movement(ref account, t.Id, side, TransferMovement.PendingExpired, t.Amount, true, now);
        _state.Put(key, account.Encode());
        _state.Put(StateKeys.History(accountId, entry!.Value.Sequence), EncodeHistory(entry.Value));
        Span<byte> record = stackalloc byte[AuditRecord.PostingSize];
        AuditRecord.WritePosting(record, posting);
        EmitAudit(record);
    }

    private ulong ReadU64(byte[] key) => _state.Get(key) is { } b ? BinaryPrimitives.ReadUInt64LittleEndian(b) : 0;

    private void WriteU64(byte[] key, ulong value)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        _state.Put(key, b);
    }
}
