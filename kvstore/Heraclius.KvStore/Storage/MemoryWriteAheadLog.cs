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
    // Payloads live in large reused chunks rather than an array each: a replica logs every proposal
    // it decides at least once, and in a long simulation those copies were the largest share of
    // allocation (and of the CPU spent zeroing fresh pages), which the file log does not pay.
    private const int ChunkSize = 4 * 1024 * 1024;
    private const int MaxSpareChunks = 16;

    private List<Stored> _durable = [];
    private List<Stored> _pending = [];
    private List<byte[]> _chunks = [];
    private readonly Stack<byte[]> _spare = new();
    private int _used = ChunkSize;
    // The pending records' bytes as the file log frames each one, batch framing excluded.
    private long _pendingRecordBytes;
    // The rewrite in flight: its records, and the first durable record after them (those flushed since BeginRewrite).
    private List<WalRecord>? _rewriteRecords;
    private int _rewriteTailStart;

    public long FlushCount { get; private set; }

    /// <inheritdoc />
    /// <remarks>Counted as the file log lays the records out, so both report the same numbers.</remarks>
    public long BytesWritten { get; private set; }

    /// <summary>Records appended since the last flush: what a crash now would put at risk.</summary>
    public int PendingCount => _pending.Count;

    /// <inheritdoc />
    /// <remarks>What the file log would write for the same records, batch framing included, though nothing here is framed.</remarks>
    public long PendingBytes => WalFormat.FlushSize(_pending.Count, _pendingRecordBytes);

    /// <remarks>Refuses what the file log refuses, batch limit included, so the simulation meets the same limits.</remarks>
    public void Append(byte type, ReadOnlySpan<byte> payload)
    {
        WalFormat.ThrowIfReservedType(type, nameof(type));
        WalFormat.ThrowIfTooLong(payload.Length);
        var size = WalFormat.RecordOverhead + payload.Length;
        WalFormat.ThrowIfBatchFull(_pending.Count, _pendingRecordBytes, size);
        _pending.Add(Store(type, payload, _chunks));
        _pendingRecordBytes += size;
    }

    public void Flush()
    {
        if (_pending.Count == 0)
        {
            return;
        }

        BytesWritten += PendingBytes;
        _durable.AddRange(_pending);
        ClearPending();
        FlushCount++;
    }

    /// <remarks>Payloads are copies: a caller that mutates one must not change what is "on disk".</remarks>
    public IReadOnlyList<WalRecord> ReadAll()
    {
        var copy = new List<WalRecord>(_durable.Count);
        foreach (var record in _durable)
        {
            copy.Add(new WalRecord(record.Type, record.Payload.ToArray()));
        }

        return copy;
    }

    /// <remarks>Here nothing runs on another thread: the records are taken at once, and the rewrite is ready at once.</remarks>
    public void BeginRewrite(IEnumerable<WalRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        ThrowIfRewriteInFlight();
        _rewriteRecords = records.ToList();
        _rewriteTailStart = _durable.Count;
    }

    public bool RewriteInFlight => _rewriteRecords is not null;

    public bool RewriteReady => _rewriteRecords is not null;

    public bool CompleteRewrite()
    {
        if (_rewriteRecords is not { } records)
        {
            throw new InvalidOperationException("no rewrite is in flight");
        }

        _rewriteRecords = null;
        for (var i = _rewriteTailStart; i < _durable.Count; i++)
        {
            records.Add(new WalRecord(_durable[i].Type, _durable[i].Payload.ToArray()));
        }

        try
        {
            Rewrite(records);
        }
        catch (ArgumentException)
        {
            // Refused before anything changed, as the file log's background write fails: the current log stays.
            return false;
        }

        return true;
    }

    public void Rewrite(IEnumerable<WalRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        ThrowIfRewriteInFlight();
        // Validate everything first: a bad record must leave the old log, as on disk.
        var list = records.ToList();
        foreach (var record in list)
        {
            if (record.Payload is null)
            {
                throw new ArgumentException("a WAL record has a null payload", nameof(records));
            }

            WalFormat.ThrowIfReservedType(record.Type, nameof(records));
            WalFormat.ThrowIfTooLong(record.Payload.Length);
        }

        // Copy the new log and the still pending records into fresh chunks, then recycle the old ones.
        var chunks = new List<byte[]>();
        _used = ChunkSize;
        var durable = new List<Stored>(list.Count);
        var written = (long)WalFormat.FileHeaderSize;
        foreach (var record in list)
        {
            durable.Add(Store(record.Type, record.Payload, chunks));
            written += WalFormat.RecordOverhead + record.Payload.Length;
        }

        var pending = new List<Stored>(_pending.Count);
        foreach (var record in _pending)
        {
            pending.Add(Store(record.Type, record.Payload.Span, chunks));
        }

        foreach (var old in _chunks)
        {
            if (_spare.Count < MaxSpareChunks)
            {
                _spare.Push(old);
            }
        }

        _chunks = chunks;
        _durable = durable;
        _pending = pending;
        BytesWritten += written;
    }

    /// <summary>Power loss: every record not flushed is gone.</summary>
    /// <remarks>A rewrite in flight is lost with the node, as the file log's half-written new log is.</remarks>
    public void Crash()
    {
        ClearPending();
        _rewriteRecords = null;
    }

    /// <summary>
    /// Power loss during a flush: a prefix of the unflushed records, of a length drawn from
    /// <paramref name="random"/>, reached the disk, the rest did not. The file log keeps all of a flush or
    /// none of it (it frames a flush as one record), the two ends of this range: the prefixes between are
    /// crash states production does not reach, so a caller that survives them survives the file log's too.
    /// </summary>
    public void CrashTorn(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var kept = random.Next(_pending.Count + 1);
        _durable.AddRange(_pending.GetRange(0, kept));
        ClearPending();
        _rewriteRecords = null;
    }

    private void ThrowIfRewriteInFlight()
    {
        if (_rewriteRecords is not null)
        {
            throw new InvalidOperationException("a rewrite is in flight: complete it first");
        }
    }

    /// <summary>
    /// Nothing to release; the "disk" stays readable so a restarted node can reopen it. A rewrite in flight is
    /// abandoned, as the file log abandons its half-written new log.
    /// </summary>
    public void Dispose() => _rewriteRecords = null;

    private void ClearPending()
    {
        _pending.Clear();
        _pendingRecordBytes = 0;
    }

    /// <summary>Copies a payload into the last chunk of <paramref name="chunks"/> (a new one when it does not fit; a payload larger than a chunk gets its own array).</summary>
    private Stored Store(byte type, ReadOnlySpan<byte> payload, List<byte[]> chunks)
    {
        if (payload.Length > ChunkSize)
        {
            return new Stored(type, payload.ToArray());
        }

        if (chunks.Count == 0 || ChunkSize - _used < payload.Length)
        {
            chunks.Add(_spare.Count > 0 ? _spare.Pop() : GC.AllocateUninitializedArray<byte>(ChunkSize));
            _used = 0;
        }

        var chunk = chunks[^1];
        payload.CopyTo(chunk.AsSpan(_used));
        var stored = new Stored(type, chunk.AsMemory(_used, payload.Length));
        _used += payload.Length;
        return stored;
    }

    private readonly record struct Stored(byte Type, ReadOnlyMemory<byte> Payload);
}
