namespace Heraclius.KvStore.Storage;

/// <summary>
/// The write-ahead log of the deterministic simulation: the instance stands for the disk, so it
/// outlives the node that owns it, and <see cref="Crash"/> / <see cref="CrashTorn"/> model power loss.
/// </summary>
/// <remarks>
/// Same contract as <see cref="FileWriteAheadLog"/> (unflushed appends are not in
/// <see cref="ReadAll"/>, Rewrite keeps them pending, FlushCount counts flushes that had data),
/// so the simulation exercises what production does. No clock, no randomness but the caller's.
/// Single owner thread, like the file log.
/// </remarks>
public sealed class MemoryWriteAheadLog : IWriteAheadLog
{
    private readonly List<WalRecord> _durable = [];
    private readonly List<WalRecord> _pending = [];

    public long FlushCount { get; private set; }

    /// <summary>Records appended since the last flush: what a crash now would put at risk.</summary>
    public int PendingCount => _pending.Count;

    public void Append(byte type, ReadOnlySpan<byte> payload)
    {
        WalFormat.ThrowIfTooLong(payload.Length);
        _pending.Add(new WalRecord(type, payload.ToArray()));
    }

    public void Flush()
    {
        if (_pending.Count == 0)
        {
            return;
        }

        _durable.AddRange(_pending);
        _pending.Clear();
        FlushCount++;
    }

    /// <remarks>Payloads are copies: a caller that mutates one must not change what is "on disk".</remarks>
    public IReadOnlyList<WalRecord> ReadAll()
    {
        var copy = new List<WalRecord>(_durable.Count);
        foreach (var record in _durable)
        {
            copy.Add(Copy(record));
        }

        return copy;
    }

    public void Rewrite(IEnumerable<WalRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        // Copy and validate everything first: a bad record must leave the old log, as on disk.
        var replacement = new List<WalRecord>();
        foreach (var record in records)
        {
            if (record.Payload is null)
            {
                throw new ArgumentException("a WAL record has a null payload", nameof(records));
            }

            WalFormat.ThrowIfTooLong(record.Payload.Length);
            replacement.Add(Copy(record));
        }

        _durable.Clear();
        _durable.AddRange(replacement);
    }

    /// <summary>Power loss: every record not flushed is gone.</summary>
    public void Crash() => _pending.Clear();

    /// <summary>
    /// Power loss during a flush: a prefix of the unflushed records, of a length drawn from
    /// <paramref name="random"/>, reached the disk, the rest did not — what the file log keeps after
    /// cutting a torn tail at a record boundary.
    /// </summary>
    public void CrashTorn(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var kept = random.Next(_pending.Count + 1);
        _durable.AddRange(_pending.GetRange(0, kept));
        _pending.Clear();
    }

    /// <summary>Nothing to release; the "disk" stays readable so a restarted node can reopen it.</summary>
    public void Dispose()
    {
    }

    private static WalRecord Copy(WalRecord record) => record with { Payload = (byte[])record.Payload.Clone() };
}
