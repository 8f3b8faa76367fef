namespace Heraclius.KvStore.Storage;

/// <summary>Durable storage for a node's latest state snapshot (written atomically: all or nothing).</summary>
public interface ISnapshotStore
{
    /// <summary>Saves <paramref name="snapshot"/> at <paramref name="height"/>; durable on return.</summary>
    void Save(ulong height, ReadOnlySpan<byte> snapshot);

    /// <summary>
    /// Starts saving the snapshot whose content is <paramref name="parts"/> concatenated; the task
    /// completes (or faults) once it is durable, and only then may the WAL be compacted past it.
    /// </summary>
    /// <remarks>
    /// The parts are written as they are, without being copied into one array (a state of tens of
    /// megabytes went through the large object heap at every checkpoint), so the caller must not
    /// modify them until the task completes, and starts no other save before then: saves finish in
    /// the order they were started only because they never overlap.
    /// </remarks>
    Task SaveAsync(ulong height, IReadOnlyList<ReadOnlyMemory<byte>> parts);

    /// <summary>The newest complete snapshot, or null when none was ever saved.</summary>
    (ulong Height, byte[] Bytes)? LoadLatest();
}
