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
/// Torn tail, precisely. Opening the log (and <see cref="ReadAll"/>) walks the records from the file
/// header. At the first record R, at offset p, that is not valid — fewer than 5 bytes left, a length
/// above <see cref="MaxPayloadLength"/>, a length that runs past the end of the file, or a checksum
/// mismatch — it asks whether any complete, valid record starts at any byte offset q &gt; p and ends
/// within the file. If none does, [p, end) is a torn tail, what a crash during the last write leaves:
/// the file is truncated to p (and fsync'd) so later appends follow good data. If one does, R was
/// followed by data written after it, so R had been durable and was damaged since:
/// <see cref="WalCorruptedException"/> with offset p, and the file is left untouched.
/// </para>
/// <para>
/// Consequences of that rule, all in the safe direction or unavoidable with this format: damage that
/// spares no valid record after it (say a flipped bit in the last record) is indistinguishable from
/// a torn tail and is cut. A torn record whose own partial payload happens to contain a well-formed
/// record, or a disk that persisted a later page of the last write but not an earlier one, is
/// reported as corruption: the node stops rather than guess, and an operator decides.
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
    private byte[] _buffer = new byte[InitialBufferSize];
    private int _buffered;
    private bool _failed;
    private bool _disposed;

    /// <summary>Opens (or creates) the log in <paramref name="directory"/>, cutting a torn tail.</summary>
    /// <exception cref="WalCorruptedException">The file is not a WAL, or a record before the tail is damaged.</exception>
    public FileWriteAheadLog(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        _directory = Path.GetFullPath(directory);
        _path = Path.Combine(_directory, FileName);
        Directory.CreateDirectory(_directory);
        // A leftover of a Rewrite that a crash interrupted: the rename never happened, so it is not the log.
        File.Delete(_path + TempSuffix);

        _handle = OpenLogFile();
        try
        {
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

    public void Append(byte type, ReadOnlySpan<byte> payload)
    {
        ThrowIfUnusable();
        WalFormat.ThrowIfTooLong(payload.Length);
        var size = WalFormat.RecordOverhead + payload.Length;
        EnsureCapacity(size);
        WalFormat.Encode(_buffer.AsSpan(_buffered, size), type, payload);
        _buffered += size;
    }

    public void Flush()
    {
        ThrowIfUnusable();
        if (_buffered == 0)
        {
            return;
        }

        try
        {
            RandomAccess.Write(_handle, _buffer.AsSpan(0, _buffered), _length);
            RandomAccess.FlushToDisk(_handle);
        }
        catch
        {
            _failed = true;
            throw;
        }

        _length += _buffered;
        BytesWritten += _buffered;
        _buffered = 0;
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
                // The replaced log (hundreds of megabytes after a long checkpoint interval) is freed when
                // its last handle closes: ext4 released its blocks on the replica's thread for 5-11 ms.
                _ = Task.Run(old.Dispose);
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
        _handle.Dispose();
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
            var status = WalFormat.ReadRecord(reader, offset, _length, materialize, out var record, out var next);
            if (status == WalRecordStatus.Valid)
            {
                records?.Add(record);
                offset = next;
                continue;
            }

            var later = WalRecordSearch.FindValidRecord(reader, offset + 1, _length);
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

    private void EnsureCapacity(int size)
    {
        if (_buffer.Length - _buffered >= size)
        {
            return;
        }

        var needed = (long)_buffered + size;
        if (needed > Array.MaxLength)
        {
            throw new InvalidOperationException("too many unflushed WAL bytes: flush before appending more");
        }

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
