namespace Heraclius.KvStore.Storage;

/// <summary>
/// Snapshots exist on disk but none validates. Returning null would tell the node it never had
/// one, and it would replay a compacted WAL from genesis; it must stop (or fetch state from peers) instead.
/// </summary>
public sealed class SnapshotCorruptedException : Exception
{
    public SnapshotCorruptedException() : base("no stored snapshot validates")
    {
    }

    public SnapshotCorruptedException(string message) : base(message)
    {
    }

    public SnapshotCorruptedException(string message, Exception inner) : base(message, inner)
    {
    }
}
