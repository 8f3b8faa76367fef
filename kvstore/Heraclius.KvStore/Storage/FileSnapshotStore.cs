using System.Buffers.Binary;
using System.Globalization;
using Microsoft.Win32.SafeHandles;

namespace Heraclius.KvStore.Storage;

/// <summary>
/// Snapshots as files <c>snapshot-{height:D20}.bin</c> in one directory, each with a header:
/// "HSNP" (4 bytes) ‖ format version (u32 LE) ‖ height (u64 LE) ‖ content length (u64 LE) ‖
/// XXH128 of the content (16 bytes, big-endian as System.IO.Hashing writes it), then the content.
/// The checksum only detects damage on disk (a loaded state is checked against its certified root,
/// a cryptographic hash): SHA-256 of the whole state had cost the saving thread ~40 ms per 60 MB.
/// </summary>
/// <remarks>
/// <para>
/// Save writes <c>….bin.tmp</c>, fsyncs it, renames it to <c>….bin</c> and fsyncs the directory;
/// only then does it delete every older snapshot, so a crash at any point leaves the previous
/// snapshot or the new one, never neither. The store therefore keeps one snapshot, the last saved
/// (heights are expected to increase). An older one survives only if a crash came between the
/// rename and the deletion.
/// </para>
/// <para>
/// LoadLatest tries snapshots from the highest height down and returns the first that validates:
/// a damaged newest file does not hide a valid older one. <c>.tmp</c> files are never read. If
/// snapshot files exist but none validates it throws <see cref="SnapshotCorruptedException"/>
/// rather than return null, because null means "never saved" and the WAL may have been compacted.
/// </para>
/// <para>
/// Single owner thread, except that a SaveAsync runs on a thread of its own; its owner starts no
/// other save, and does not load, until it completes.
/// </para>
/// </remarks>
public sealed class FileSnapshotStore : ISnapshotStore
{
    public const uint FormatVersion = 3;
    public const int HeaderSize = 4 + 4 + 8 + 8 + ChecksumSize;
    private const int ChecksumSize = 16;

    /// <summary>
    /// A save flushes to disk after about this many bytes. The node's WAL shares the disk, and one fsync of the whole
    /// state put tens of megabytes in the device's queue ahead of the WAL's fsyncs. In `bench kv` (1,024 users, ~30 MB of
    /// state per replica), while a save ran the WAL's fsyncs took 1.70-1.97 ms on average against 1.16-1.30 ms
    /// otherwise, and decisions came 35-38 ms apart at the 90th percentile against 25-26; flushed a slice at a time,
    /// 1.52-1.76 against 1.29-1.45 ms, and 27-34 ms apart (two runs each). The WAL's fsyncs then wait behind one slice
    /// at most; the save's own extra fsyncs (about 30) cost it a few milliseconds.
    /// </summary>
    private const int SyncSliceBytes = 1 << 20;

    private const string Prefix = "snapshot-";
    private const string Extension = ".bin";
    private const string TempSuffix = ".tmp";
    private const int HeightDigits = 20;

    private readonly string _directory;

    public FileSnapshotStore(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        _directory = Path.GetFullPath(directory);
        Directory.CreateDirectory(_directory);
    }

    private static ReadOnlySpan<byte> Magic => "HSNP"u8;

    /// <summary>The file name of the snapshot at <paramref name="height"/>.</summary>
    public static string FileNameFor(ulong height) =>
        Prefix + height.ToString("D" + HeightDigits, CultureInfo.InvariantCulture) + Extension;

    /// <remarks>One write path for both saves (its slices, checksum and publication): the snapshot is copied into one part.</remarks>
    public void Save(ulong height, ReadOnlySpan<byte> snapshot) => SaveParts(height, [snapshot.ToArray()]);

    /// <remarks>
    /// Runs on a thread of its own: writing and fsyncing a state of tens of megabytes on the
    /// replica's thread stalled its consensus for as long. The content is hashed as it is written.
    /// </remarks>
    public Task SaveAsync(ulong height, IReadOnlyList<ReadOnlyMemory<byte>> parts) =>
        Task.Factory.StartNew(() => SaveParts(height, parts), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void SaveParts(ulong height, IReadOnlyList<ReadOnlyMemory<byte>> parts)
    {
        var tempPath = PathFor(height) + TempSuffix;
        Span<byte> header = stackalloc byte[HeaderSize];
        using (var handle = File.OpenHandle(tempPath, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            var checksum = new System.IO.Hashing.XxHash128();
            long length = 0;
            var slice = new List<ReadOnlyMemory<byte>>();
            long sliceLength = 0;
            for (var i = 0; i < parts.Count; i++)
            {
                checksum.Append(parts[i].Span);
                slice.Add(parts[i]);
                sliceLength += parts[i].Length;
                if (sliceLength >= SyncSliceBytes || i == parts.Count - 1)
                {
                    // Gathered writes (pwritev; a snapshot is a thousand chunks, each after a 4-byte length), each slice
                    // made durable before the next is written.
                    RandomAccess.Write(handle, slice, HeaderSize + length);
                    RandomAccess.FlushToDisk(handle);
                    length += sliceLength;
                    slice.Clear();
                    sliceLength = 0;
                }
            }

            WriteHeader(header, height, (ulong)length);
            checksum.GetHashAndReset(header[24..]);
            RandomAccess.Write(handle, header, 0);
            RandomAccess.FlushToDisk(handle);
        }

        Publish(height);
    }

    private static void WriteHeader(Span<byte> header, ulong height, ulong length)
    {
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], FormatVersion);
        BinaryPrimitives.WriteUInt64LittleEndian(header[8..], height);
        BinaryPrimitives.WriteUInt64LittleEndian(header[16..], length);
    }

    private string PathFor(ulong height) => Path.Combine(_directory, FileNameFor(height));

    /// <summary>Renames the fsync'd temporary file into place, makes the rename durable, then removes every other snapshot.</summary>
    private void Publish(ulong height)
    {
        var path = PathFor(height);
        File.Move(path + TempSuffix, path, overwrite: true);
        DirectorySync.Flush(_directory);

        // The new snapshot is durable; older snapshots and crash leftovers can go. Not a newer
        // snapshot: a save that outlived its replica (a restart in the same process) must not delete
        // what the next replica saved. Not fsync'd: a deletion the crash undoes leaves a file
        // LoadLatest ranks or ignores correctly. The name goes at once, the blocks a few megabytes at a time
        // (GradualFileRelease): freed at once, the whole state's blocks held every fsync on the disk for ~100 ms.
        foreach (var file in Directory.EnumerateFiles(_directory, Prefix + "*"))
        {
            var isOther = !string.Equals(file, path, StringComparison.Ordinal);
            if (isOther && ((TryParseHeight(Path.GetFileName(file), out var other) && other < height)
                || file.EndsWith(Extension + TempSuffix, StringComparison.Ordinal)))
            {
                _ = GradualFileRelease.DeleteAsync(file);
            }
        }
    }

    public (ulong Height, byte[] Bytes)? LoadLatest()
    {
        var candidates = new List<(ulong Height, string Path)>();
        foreach (var file in Directory.EnumerateFiles(_directory, Prefix + "*" + Extension))
        {
            if (TryParseHeight(Path.GetFileName(file), out var height))
            {
                candidates.Add((height, file));
            }
        }

        candidates.Sort((a, b) => b.Height.CompareTo(a.Height));
        foreach (var (height, path) in candidates)
        {
            if (TryLoad(path, height) is { } bytes)
            {
                return (height, bytes);
            }
        }

        if (candidates.Count > 0)
        {
            var version = VersionOf(candidates[0].Path);
            var hint = version is { } v && v != FormatVersion
                ? $"; it has format version {v}, this node reads {FormatVersion} (version 1 checksummed with SHA-256; version 2 certified a checkpoint's root in its own header, not an interval later): a data directory from an earlier build is not read (docs/design.md, \"Upgrading across a format change\")"
                : string.Empty;
            throw new SnapshotCorruptedException(
                $"{candidates.Count} snapshot file(s) in '{_directory}', none valid (newest: {Path.GetFileName(candidates[0].Path)}{hint})");
        }

        return null;
    }

    /// <summary>The format version a snapshot file's header names, when it has the magic; null otherwise.</summary>
    private static uint? VersionOf(string path)
    {
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            Span<byte> header = stackalloc byte[8];
            return ReadFully(handle, header, 0) == header.Length && header[..4].SequenceEqual(Magic)
                ? BinaryPrimitives.ReadUInt32LittleEndian(header[4..])
                : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static byte[]? TryLoad(string path, ulong expectedHeight)
    {
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            var fileLength = RandomAccess.GetLength(handle);
            if (fileLength < HeaderSize)
            {
                return null;
            }

            Span<byte> header = stackalloc byte[HeaderSize];
            if (ReadFully(handle, header, 0) < HeaderSize
                || !header[..4].SequenceEqual(Magic)
                || BinaryPrimitives.ReadUInt32LittleEndian(header[4..]) != FormatVersion
                || BinaryPrimitives.ReadUInt64LittleEndian(header[8..]) != expectedHeight)
            {
                return null;
            }

            // Checked against the real file size before allocating, so a damaged length allocates nothing.
            var length = BinaryPrimitives.ReadUInt64LittleEndian(header[16..]);
            if (length != (ulong)(fileLength - HeaderSize) || length > (ulong)Array.MaxLength)
            {
                return null;
            }

            var content = new byte[length];
            if (ReadFully(handle, content, HeaderSize) < content.Length)
            {
                return null;
            }

            Span<byte> hash = stackalloc byte[ChecksumSize];
            System.IO.Hashing.XxHash128.Hash(content, hash);
            return hash.SequenceEqual(header[24..]) ? content : null;
        }
        catch (IOException)
        {
            // Unreadable counts as invalid: an older snapshot may still serve.
            return null;
        }
    }

    private static bool TryParseHeight(string fileName, out ulong height)
    {
        height = 0;
        return fileName.Length == Prefix.Length + HeightDigits + Extension.Length
            && fileName.StartsWith(Prefix, StringComparison.Ordinal)
            && fileName.EndsWith(Extension, StringComparison.Ordinal)
            && ulong.TryParse(fileName.AsSpan(Prefix.Length, HeightDigits), NumberStyles.None, CultureInfo.InvariantCulture, out height);
    }

    private static int ReadFully(SafeFileHandle handle, Span<byte> destination, long offset)
    {
        var total = 0;
        while (total < destination.Length)
        {
            var read = RandomAccess.Read(handle, destination[total..], offset + total);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }
}
