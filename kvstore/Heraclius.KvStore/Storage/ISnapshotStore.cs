namespace Heraclius.KvStore.Storage;

/// <summary>Durable storage for a node's latest state snapshot (written atomically: all or nothing).</summary>
public interface ISnapshotStore
{
    void Save(ulong height, ReadOnlySpan<byte> snapshot);

    /// <summary>The newest complete snapshot, or null when none was ever saved.</summary>
    (ulong Height, byte[] Bytes)? LoadLatest();
}
