namespace Heraclius.KvStore.Storage;

/// <summary>
/// A node's write-ahead log: checksummed records appended in order. A record is durable only
/// after <see cref="Flush"/> returns; consensus flushes before it sends any vote or VIEW-CHANGE.
/// </summary>
public interface IWriteAheadLog : IDisposable
{
    /// <summary>Appends one record (buffered until <see cref="Flush"/>).</summary>
    /// <exception cref="ArgumentException">The payload is longer than <see cref="FileWriteAheadLog.MaxPayloadLength"/>, or the type is 255 (reserved by the log for the record that frames a flush).</exception>
    /// <exception cref="InvalidOperationException">
    /// Records are pending and this one would take them past <see cref="FileWriteAheadLog.MaxPayloadLength"/>
    /// bytes, more than one flush can hold: flush first (watch <see cref="PendingBytes"/>). Nothing is appended.
    /// </exception>
    void Append(byte type, ReadOnlySpan<byte> payload);

    /// <summary>
    /// Makes every appended record durable (fsync on disk), as one unit: after a crash during the flush the
    /// file log holds all of its records or none of them, or refuses to open in the cases it documents; the
    /// simulation's log may also keep a prefix of them.
    /// </summary>
    void Flush();

    /// <summary>
    /// Bytes appended and not yet flushed, framing included: what the next <see cref="Flush"/> writes. An
    /// owner that appends without flushing for a while flushes when this passes a threshold of its own, well
    /// below the limit <see cref="Append"/> enforces.
    /// </summary>
    long PendingBytes { get; }

    /// <summary>
    /// Every durable record in append order. A torn tail (a partial or checksum-failing record at
    /// the very end, as a crash mid-write leaves) is cut off; corruption anywhere before the tail
    /// throws <see cref="WalCorruptedException"/>.
    /// </summary>
    IReadOnlyList<WalRecord> ReadAll();

    /// <summary>
    /// Replaces the whole log with <paramref name="records"/> atomically (a crash leaves either the
    /// old log or the new one), durable on return. Used for compaction after a snapshot.
    /// </summary>
    /// <exception cref="InvalidOperationException">A rewrite begun with <see cref="BeginRewrite"/> is in flight.</exception>
    void Rewrite(IEnumerable<WalRecord> records);

    /// <summary>
    /// Starts a <see cref="Rewrite"/> that does not hold up the caller: <paramref name="records"/> are enumerated, written
    /// and made durable as a new log on another thread, while <see cref="Append"/> and <see cref="Flush"/> go on into
    /// the current one. <see cref="CompleteRewrite"/> then puts every record flushed since this call after them and
    /// replaces the log with the result atomically. A crash before that leaves the current log, which holds everything
    /// durable; after, the new one. The enumeration runs on another thread: it must read only what nothing changes.
    /// </summary>
    /// <exception cref="InvalidOperationException">A rewrite is in flight already.</exception>
    void BeginRewrite(IEnumerable<WalRecord> records);

    /// <summary>Whether a rewrite begun is not completed yet.</summary>
    bool RewriteInFlight { get; }

    /// <summary>Whether the rewrite in flight has done what it does on its own thread: <see cref="CompleteRewrite"/> then waits for nothing.</summary>
    bool RewriteReady { get; }

    /// <summary>
    /// Finishes the rewrite in flight, waiting for its own thread if it must: true when the new log (its records, then
    /// every record flushed since <see cref="BeginRewrite"/>) replaced the current one, durable on return; false when
    /// writing it failed or a record was refused (null payload, reserved type, too long), and the current log stays.
    /// Records appended and not flushed stay pending either way.
    /// </summary>
    /// <exception cref="InvalidOperationException">No rewrite is in flight.</exception>
    bool CompleteRewrite();

    /// <summary>Fsyncs performed so far, for benchmarks.</summary>
    long FlushCount { get; }

    /// <summary>
    /// Bytes written to the log so far, for benchmarks: every record made durable by <see cref="Flush"/>
    /// (its framing included) and every log written by <see cref="Rewrite"/> (file header included).
    /// What the log costs a disk, which grows with bytes as well as with fsyncs.
    /// </summary>
    long BytesWritten { get; }
}
