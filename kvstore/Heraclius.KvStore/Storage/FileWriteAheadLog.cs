using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace Heraclius.KvStore.Storage;

/// <summary>
/// The on-disk write-ahead log: one file, <c>wal.log</c>, in the directory it is given
/// (format in <see cref="WalFormat"/>).
/// </summary>
/// <remarks>
/// <para>
/// Threading: one owner thread appends, flushes, reads and rewrites; there are no locks. The owner
/// batches appends and pays one fsync per <see cref="Flush"/>.
/// </para>
/// <para>
/// One flush, one write. A flush of two or more records writes them as the payload of one batch record
/// (type <see cref="WalFormat.BatchType"/>, its own length and CRC-32C), a flush of one record writes it
/// plain. The records are encoded into the buffer behind 5 bytes left free for the batch header, so
/// framing a flush costs one more CRC pass over it and no copy. A crash during a flush can damage any
/// page of that write, in any order; the batch makes the flush one record, so whatever the disk kept of
/// it is cut whole, and a damaged page early in the flush ahead of intact ones later in it is not
/// mistaken for damage before later data. Reading expands a valid batch into its records in order;
/// a batch whose checksum holds but whose records do not fill its payload exactly (a bad inner checksum,
/// a length past its end, trailing bytes, a batch inside it) was written so, not torn:
/// <see cref="WalCorruptedException"/> naming its offset.
/// </para>
/// <para>
/// Torn tail, precisely. Opening the log (and <see cref="ReadAll"/>) walks the records from the file
/// header. At the first record R, at offset p, that is not valid — fewer than 5 bytes left, a length
/// above <see cref="MaxPayloadLength"/>, a length that runs past the end of the file, or a checksum
/// mismatch — it asks whether a valid record written after R lies in the file, a valid record being
/// one that starts at some byte offset q &gt; p, ends within the file and passes its checksum:
/// </para>
/// <list type="number">
/// <item>If the records that parse validly back to back from p + 5 reach, after one or more of them, an
/// offset c whose 4 bytes are the checksum of a batch header for exactly [p + 5, c) — CRC-32C(u32 (c − p − 5)
/// ‖ 255 ‖ bytes [p + 5, c)) — then R is a whole batch damaged in its 5-byte header alone (a torn write
/// that lost anything else breaks the walk or the match): it ends at c + 4, and a valid record starting
/// at or after c + 4 counts.</item>
/// <item>Otherwise, if R's header is readable and claims a batch (type byte 255 at p + 4, a length L up to
/// <see cref="MaxPayloadLength"/>), a valid record lying wholly inside [p + 5, min(p + 5 + L, end)) is one
/// of R's own inner records, which a disk that persisted the pages of R's write out of order can leave
/// intact after a lost earlier page: it does not count. Any other valid record after p counts, including
/// one that starts inside R's span but reaches into R's checksum or beyond (a real inner record never
/// does). L may run past the end of the file: a batch cut short, possibly with holes, is a torn tail.</item>
/// <item>Otherwise (R is a plain record, or its header is garbage, so its extent is unknown) every valid
/// record after p counts.</item>
/// </list>
/// <para>
/// If none counts, [p, end) is a torn tail, what a crash during the last write leaves: the file is
/// truncated to p (and fsync'd) so later appends follow good data. If one does, R was followed by data
/// written after it, so R had been durable and was damaged since: <see cref="WalCorruptedException"/>
/// with offset p, and the file is left untouched.
/// </para>
/// <para>
/// Consequences of that rule, all in the safe direction or unavoidable with this format: damage that
/// spares no valid record after it (say a flipped bit in the last flush) is indistinguishable from a
/// torn tail and is cut. Reported as corruption although they may be torn: a torn record whose own
/// partial payload happens to contain a well-formed record, and a torn batch whose header the disk lost
/// while it kept a later page of the same write (step 3: nothing left on disk bounds that write); the
/// node stops rather than guess, and an operator decides. Damage to a durable batch's header alone is
/// caught by step 1, damage to its content by step 2 (what follows lies outside its span). What step 2
/// takes for a torn tail although it is not: a durable record whose header was garbled into a batch
/// header reaching past the end of the file while its content fails step 1 (a plain record whose type
/// byte became 255 and its length a value between the rest of the file and 64 MiB, or a batch damaged
/// in header and content both); every record after it is then cut too. A batch cut short by the end of
/// the file, the commonest torn write, looks the same, so this cannot be closed without refusing those.
/// </para>
/// <para>
/// If a write or fsync fails, the log refuses all further use: after a failed fsync Linux may drop
/// the dirty pages and report success on the next fsync, so retrying would lie. Reopen the log to
/// recover from what is really on disk. Dispose does not flush: unflushed appends were never durable.
/// </para>
/// </remarks>
public sealed class FileWriteAheadLog : IWriteAheadLog
{
    public const string FileName = "wal.log";
    public const int MaxPayloadLength = WalFormat.MaxPayloadLength;

    private const string TempSuffix = ".tmp";
    private const int InitialBufferSize = 64 * 1024;
    // A burst of large records may grow the buffer; past this it is not kept between flushes.
    private const int RetainedBufferSize = 4 * 1024 * 1024;
    private const int RewriteChunkSize = 1024 * 1024;

    private readonly string _directory;
    private readonly string _path;
    private SafeFileHandle _handle;
    // Durable end of the file: the header plus every valid, flushed record; appends are written here.
    private long _length;
    // Records appended since the last flush, encoded at [RecordHeaderSize, _buffered): the bytes before them
    // are left for the batch header and ChecksumSize bytes after them are kept free for its checksum.
    private byte[] _buffer = new byte[InitialBufferSize];
    private int _buffered = WalFormat.RecordHeaderSize;
    private int _pendingRecords;
    private bool _failed;
    private bool _disposed;
    // The rewrite in flight (BeginRewrite): its new log being written on a pool thread, and where the records flushed
    // since, which CompleteRewrite copies after the new log's own, begin in the current one.
    private Task<long>? _rewriteWrite;
    private long _rewriteTailStart;

    /// <summary>Opens (or creates) the log in <paramref name="directory"/>, cutting a torn tail.</summary>
    /// <exception cref="WalCorruptedException">The file is not a WAL, or a record before the tail is damaged.</exception>
    public FileWriteAheadLog(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        _directory = Path.GetFullPath(directory);
        _path = Path.Combine(_directory, FileName);
        Directory.CreateDirectory(_directory);
        _handle = OpenLogFile();
        try
        {
            // A leftover of a rewrite that a crash interrupted: the rename never happened, so it is not the log. Deleted
            // only once this instance holds the log's lock: a second instance started by mistake on the same directory
            // fails at the lock above instead of deleting the running one's new log.
            File.Delete(_path + TempSuffix);
            _length = RandomAccess.GetLength(_handle);
            CheckFileHeader();
            _ = Scan(materialize: false);
        }
        catch
        {
            _handle.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    /// <remarks>Counts fsyncs made by <see cref="Flush"/>; the few made by recovery and Rewrite are off the commit path and not counted.</remarks>
    public long FlushCount { get; private set; }

    /// <inheritdoc />
    public long BytesWritten { get; private set; }

    /// <summary>Bytes on disk that hold the header and durable records.</summary>
    public long DurableLength => _length;

    /// <inheritdoc />
    /// <remarks>Exactly what the next flush writes.</remarks>
    public long PendingBytes => WalFormat.FlushSize(_pendingRecords, _buffered - WalFormat.RecordHeaderSize);

    public void Append(byte type, ReadOnlySpan<byte> payload)
    {
        ThrowIfUnusable();
        WalFormat.ThrowIfReservedType(type, nameof(type));
        WalFormat.ThrowIfTooLong(payload.Length);
        var size = WalFormat.RecordOverhead + payload.Length;
        WalFormat.ThrowIfBatchFull(_pendingRecords, _buffered - WalFormat.RecordHeaderSize, size);
        EnsureCapacity(size + WalFormat.ChecksumSize);
        WalFormat.Encode(_buffer.AsSpan(_buffered, size), type, payload);
        _buffered += size;
        _pendingRecords++;
    }

    public void Flush()
    {
        ThrowIfUnusable();
        if (_pendingRecords == 0)
        {
            return;
        }

        ReadOnlySpan<byte> write = _pendingRecords == 1
            ? _buffer.AsSpan(WalFormat.RecordHeaderSize, _buffered - WalFormat.RecordHeaderSize)
            : _buffer.AsSpan(0, WalFormat.FrameBatch(_buffer, _buffered));
        try
        {
            RandomAccess.Write(_handle, write, _length);
            RandomAccess.FlushToDisk(_handle);
        }
        catch
        {
            _failed = true;
            throw;
        }

        _length += write.Length;
        BytesWritten += write.Length;
        _buffered = WalFormat.RecordHeaderSize;
        _pendingRecords = 0;
        FlushCount++;
        if (_buffer.Length > RetainedBufferSize)
        {
            _buffer = new byte[InitialBufferSize];
        }
    }

    /// <inheritdoc />
    /// <remarks>Appends not yet flushed are not durable and are not returned.</remarks>
    public IReadOnlyList<WalRecord> ReadAll()
    {
        ThrowIfUnusable();
        return Scan(materialize: true)!;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Writes <c>wal.log.tmp</c>, fsyncs it, renames it over <c>wal.log</c> and fsyncs the directory.
    /// Appends not yet flushed stay buffered and land after the new records at the next Flush.
    /// </remarks>
    public void Rewrite(IEnumerable<WalRecord> records)
    {
        ThrowIfUnusable();
        ArgumentNullException.ThrowIfNull(records);
        ThrowIfRewriteInFlight();
        var tempPath = _path + TempSuffix;
        long newLength;
        try
        {
            newLength = WriteLogFile(tempPath, records);
        }
        catch
        {
            // The old log is untouched and stays usable.
            File.Delete(tempPath);
            throw;
        }

        SwapIn(tempPath, newLength);
    }

    /// <inheritdoc />
    /// <remarks>
    /// The new log is written to <c>wal.log.tmp</c> and fsync'd on a pool thread; <see cref="CompleteRewrite"/> copies
    /// the records flushed since this call (whole records and batches, which hold no offsets, so their bytes are the
    /// same anywhere in a log) after it, fsyncs it again, and renames it over <c>wal.log</c> as <see cref="Rewrite"/> does.
    /// </remarks>
    public void BeginRewrite(IEnumerable<WalRecord> records)
    {
        ThrowIfUnusable();
        ArgumentNullException.ThrowIfNull(records);
        ThrowIfRewriteInFlight();
        var tempPath = _path + TempSuffix;
        _rewriteTailStart = _length;
        // A thread of its own, not the pool's: writing and fsyncing megabytes blocks it for tens of milliseconds, and the
        // replicas' loops run on the pool (two threads on two cores, more only once it sees no progress for a while).
        _rewriteWrite = Task.Factory.StartNew(() => WriteLogFile(tempPath, records), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>Why the last rewrite completed as false (or failed after it was abandoned), for the logs; null when none did.</summary>
    public Exception? LastRewriteFailure { get; private set; }

    /// <inheritdoc />
    public bool RewriteInFlight => _rewriteWrite is not null;

    /// <inheritdoc />
    public bool RewriteReady => _rewriteWrite is { IsCompleted: true };

    /// <inheritdoc />
    public bool CompleteRewrite()
    {
        ThrowIfUnusable();
        if (_rewriteWrite is not { } write)
        {
            throw new InvalidOperationException("no rewrite is in flight");
        }

        _rewriteWrite = null;
        var tempPath = _path + TempSuffix;
        long newLength;
        try
        {
            newLength = write.GetAwaiter().GetResult();
            using var temp = File.OpenHandle(tempPath, FileMode.Open, FileAccess.Write, FileShare.None);
            newLength += CopyRange(_handle, _rewriteTailStart, _length, temp, newLength);
            RandomAccess.FlushToDisk(temp);
        }
        catch (Exception e)
        {
            // Nothing was renamed, whatever failed (the disk, a refused record, the enumeration itself): the current log
            // is whole and stays, and so does every record flushed since.
            LastRewriteFailure = e;
            File.Delete(tempPath);
            return false;
        }

        SwapIn(tempPath, newLength);
        return true;
    }

    /// <summary>Renames the new log at <paramref name="tempPath"/> (durable, <paramref name="newLength"/> bytes) over the current one.</summary>
    private void SwapIn(string tempPath, long newLength)
    {
        try
        {
            var old = _handle;
            if (OperatingSystem.IsWindows())
            {
                // Windows cannot rename over an open file.
                old.Dispose();
            }

            File.Move(tempPath, _path, overwrite: true);
            DirectorySync.Flush(_directory);
            _handle = OpenLogFile();
            if (!OperatingSystem.IsWindows())
            {
                // The replaced log (hundreds of megabytes after a long checkpoint interval) is freed when its last
                // handle closes: ext4 released its blocks on the replica's thread for 5-11 ms, and all at once they held
                // every fsync on the disk (GradualFileRelease); they go back a few megabytes at a time.
                _ = GradualFileRelease.ReleaseAsync(old);
            }
            _length = newLength;
            BytesWritten += newLength;
        }
        catch
        {
            _failed = true;
            throw;
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            if (_rewriteWrite is { } write)
            {
                // Abandoned: the current log holds every durable record; the half-written new one is not the log.
                _rewriteWrite = null;
                try
                {
                    write.GetAwaiter().GetResult();
                }
                catch (Exception e)
                {
                    // It failed on its own: nothing more to undo than the file.
                    LastRewriteFailure = e;
                }

                File.Delete(_path + TempSuffix);
            }
        }
        finally
        {
            _handle.Dispose();
        }
    }

    private SafeFileHandle OpenLogFile() =>
        // FileShare.None takes an exclusive lock, so a second process (or instance) on the same log fails fast.
        File.OpenHandle(_path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);

    private void CheckFileHeader()
    {
        Span<byte> expected = stackalloc byte[WalFormat.FileHeaderSize];
        WalFormat.WriteFileHeader(expected);
        Span<byte> actual = stackalloc byte[WalFormat.FileHeaderSize];
        var read = RandomAccess.Read(_handle, actual, 0);
        actual = actual[..read];
        if (actual.SequenceEqual(expected))
        {
            return;
        }

        if (_length <= WalFormat.FileHeaderSize && (expected.StartsWith(actual) || !actual.ContainsAnyExcept((byte)0)))
        {
            // New, or a crash interrupted its creation (a prefix of the header, or zeros where the
            // size reached the disk before the data). It holds no record, so start it afresh.
            RandomAccess.Write(_handle, expected, 0);
            RandomAccess.SetLength(_handle, WalFormat.FileHeaderSize);
            RandomAccess.FlushToDisk(_handle);
            DirectorySync.Flush(_directory);
            _length = WalFormat.FileHeaderSize;
            return;
        }

        if (read < WalFormat.FileHeaderSize || !actual[..WalFormat.Magic.Length].SequenceEqual(WalFormat.Magic))
        {
            throw new WalCorruptedException($"'{_path}' is not a Heraclius write-ahead log (bad magic at byte offset 0)");
        }

        throw new WalCorruptedException(
            $"'{_path}' has WAL format version {BinaryPrimitives.ReadUInt32LittleEndian(actual[WalFormat.Magic.Length..])}, expected {WalFormat.Version} (byte offset 4); a data directory from an earlier build is not read (docs/design.md, \"Upgrading across a format change\")");
    }

    /// <summary>Validates every record up to the durable end, cutting a torn tail (rule in the type's remarks).</summary>
    private List<WalRecord>? Scan(bool materialize)
    {
        var records = materialize ? new List<WalRecord>() : null;
        var reader = new PositionalReader(_handle, _length);
        var offset = (long)WalFormat.FileHeaderSize;
        while (offset < _length)
        {
            // A batch's payload is read again record by record, so it is checked in place rather than copied.
            var batch = _length - offset >= WalFormat.RecordHeaderSize && reader.Peek(offset + 4, 1)[0] == WalFormat.BatchType;
            var status = WalFormat.ReadRecord(reader, offset, _length, materialize && !batch, out var record, out var next);
            if (status == WalRecordStatus.Valid)
            {
                if (!batch)
                {
                    records?.Add(record);
                }
                else if (WalFormat.ReadBatch(reader, offset, next, records) is { } problem)
                {
                    throw new WalCorruptedException(
                        $"WAL '{_path}': batch record at byte offset {offset} has a valid checksum but {problem}");
                }

                offset = next;
                continue;
            }

            var later = WalRecordSearch.FindWrittenAfter(reader, offset, _length);
            if (later >= 0)
            {
                throw new WalCorruptedException(
                    $"WAL '{_path}': record at byte offset {offset} is damaged ({status}) but a valid record follows at byte offset {later}");
            }

            CutTail(offset);
        }

        return records;
    }

    private void CutTail(long offset)
    {
        try
        {
            RandomAccess.SetLength(_handle, offset);
            // Durable before anything is appended, so stale torn bytes can never reappear behind new records.
            RandomAccess.FlushToDisk(_handle);
        }
        catch
        {
            _failed = true;
            throw;
        }

        _length = offset;
    }

    private static long WriteLogFile(string path, IEnumerable<WalRecord> records)
    {
        using var handle = File.OpenHandle(path, FileMode.Create, FileAccess.Write, FileShare.None);
        var chunk = new byte[RewriteChunkSize];
        WalFormat.WriteFileHeader(chunk);
        var used = WalFormat.FileHeaderSize;
        long written = 0;
        foreach (var record in records)
        {
            if (record.Payload is null)
            {
                throw new ArgumentException("a WAL record has a null payload", nameof(records));
            }

            WalFormat.ThrowIfReservedType(record.Type, nameof(records));
            WalFormat.ThrowIfTooLong(record.Payload.Length);
            var size = WalFormat.RecordOverhead + record.Payload.Length;
            if (used + size > chunk.Length)
            {
                RandomAccess.Write(handle, chunk.AsSpan(0, used), written);
                written += used;
                used = 0;
                if (size > chunk.Length)
                {
                    chunk = new byte[size];
                }
            }

            WalFormat.Encode(chunk.AsSpan(used, size), record.Type, record.Payload);
            used += size;
        }

        RandomAccess.Write(handle, chunk.AsSpan(0, used), written);
        RandomAccess.FlushToDisk(handle);
        return written + used;
    }

    /// <summary>Copies bytes [<paramref name="from"/>, <paramref name="to"/>) of <paramref name="source"/> to <paramref name="target"/> at <paramref name="at"/>; returns how many.</summary>
    private static long CopyRange(SafeFileHandle source, long from, long to, SafeFileHandle target, long at)
    {
        var chunk = new byte[(int)Math.Min(RewriteChunkSize, Math.Max(1, to - from))];
        for (var offset = from; offset < to;)
        {
            var read = RandomAccess.Read(source, chunk.AsSpan(0, (int)Math.Min(chunk.Length, to - offset)), offset);
            if (read <= 0)
            {
                throw new IOException($"the log ended at {offset} while {to} bytes were durable");
            }

            RandomAccess.Write(target, chunk.AsSpan(0, read), at + (offset - from));
            offset += read;
        }

        return to - from;
    }

    private void ThrowIfRewriteInFlight()
    {
        if (_rewriteWrite is not null)
        {
            throw new InvalidOperationException("a rewrite is in flight: complete it first");
        }
    }

    private void EnsureCapacity(int size)
    {
        if (_buffer.Length - _buffered >= size)
        {
            return;
        }

        // A flush holds at most MaxPayloadLength bytes of records plus framing, far below Array.MaxLength.
        var needed = _buffered + size;
        Array.Resize(ref _buffer, (int)Math.Min(Array.MaxLength, Math.Max(needed, 2L * _buffer.Length)));
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_failed)
        {
            throw new InvalidOperationException(
                $"an earlier write or fsync of '{_path}' failed, so what is durable is unknown: reopen the log to recover from disk");
        }
    }
}
