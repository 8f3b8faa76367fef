namespace Heraclius.KvStore.Storage;

/// <summary>
/// A node's write-ahead log: checksummed records appended in order. A record is durable only
/// after <see cref="Flush"/> returns; consensus flushes before it sends any vote or VIEW-CHANGE.
/// </summary>
public interface IWriteAheadLog : IDisposable
{
    /// <summary>Appends one record (buffered until <see cref="Flush"/>).</summary>
    void Append(byte type, ReadOnlySpan<byte> payload);

    /// <summary>Makes every appended record durable (fsync on disk).</summary>
    void Flush();

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
    void Rewrite(IEnumerable<WalRecord> records);

    /// <summary>Fsyncs performed so far, for benchmarks.</summary>
    long FlushCount { get; }

    /// <summary>
    /// Bytes written to the log so far, for benchmarks: every record made durable by <see cref="Flush"/>
    /// (its framing included) and every log written by <see cref="Rewrite"/> (file header included).
    /// What the log costs a disk, which grows with bytes as well as with fsyncs.
    /// </summary>
    long BytesWritten { get; }
}
