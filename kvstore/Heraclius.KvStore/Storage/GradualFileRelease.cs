using Microsoft.Win32.SafeHandles;

namespace Heraclius.KvStore.Storage;

/// <summary>
/// Gives a large file's blocks back to the file system a few megabytes at a time, in the background, instead of all at
/// once when it is deleted or its last handle closes.
/// </summary>
/// <remarks>
/// <para>
/// Why: ext4 frees a file's blocks in one journal transaction (and, mounted with <c>discard</c> as these machines are,
/// trims them there), and every fsync waits for that transaction. Measured here (2026-11-29, 4 KB appends each fsync'd
/// every millisecond beside it): deleting a 200 MB file held one of those fsyncs for 103-131 ms; truncating the same
/// file 4 MB at a time, 20 ms apart, held none longer than 5.5 ms (8 MB steps: 8.7-11.9 ms). A node deletes its
/// previous snapshot (the whole state, tens to hundreds of megabytes) after each save and frees its replaced WAL after
/// each compaction, and its own WAL fsyncs and those of every node sharing the disk then waited in each commit's path:
/// in `bench kv` at 1,024 users the slowest operations (p99.9 230-310 ms) came from such stalls.
/// </para>
/// <para>
/// A file is unlinked (or was renamed over) before its blocks go, so its name is gone at once, exactly as a delete
/// leaves it; only the space comes back later. A crash meanwhile leaves an orphan inode the file system frees when it
/// mounts. Small files are deleted at once. On Windows an open file cannot be unlinked: files are deleted at once.
/// </para>
/// </remarks>
internal static class GradualFileRelease
{
    /// <summary>What one truncation frees.</summary>
    public const long StepBytes = 4L << 20;

    /// <summary>Between two truncations: each is one small journal transaction, not a queue of them.</summary>
    public static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// Deletes the file at <paramref name="path"/>: its name at once, its blocks in steps afterwards. The returned task
    /// completes when all are free; it never faults (a failure to truncate just closes the handle, which frees the rest).
    /// </summary>
    public static Task DeleteAsync(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            File.Delete(path);
            return Task.CompletedTask;
        }

        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (FileNotFoundException)
        {
            return Task.CompletedTask;
        }

        try
        {
            File.Delete(path);
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        if (RandomAccess.GetLength(handle) <= StepBytes)
        {
            // Freed at once when closed, as a delete always did: a few megabytes hold no fsync for long.
            handle.Dispose();
            return Task.CompletedTask;
        }

        return ReleaseAsync(handle);
    }

    /// <summary>
    /// Frees the blocks of a file no name refers to any more (unlinked, or renamed over) through its last open
    /// <paramref name="handle"/>, in steps, then closes it. Never faults.
    /// </summary>
    /// <remarks>
    /// On a thread of its own, not the pool's: a step can block in the file system for tens of milliseconds while a
    /// save writes (up to 63 ms measured), and the replicas' loops run on the pool, which on two cores keeps two threads
    /// and adds more only after it sees no progress for a while.
    /// </remarks>
    public static Task ReleaseAsync(SafeFileHandle handle) => Task.Factory.StartNew(() => Release(handle), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static void Release(SafeFileHandle handle)
    {
        using (handle)
        {
            try
            {
                var length = RandomAccess.GetLength(handle);
                while (length > StepBytes)
                {
                    length -= StepBytes;
                    RandomAccess.SetLength(handle, length);
                    Thread.Sleep(Pause);
                }
            }
            catch (IOException)
            {
                // Closing frees whatever is left, at once, as a delete always did.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}
