namespace Heraclius.KvStore.Storage;

/// <summary>A record before the WAL's tail failed its checksum: the disk lied, and the node must not guess.</summary>
public sealed class WalCorruptedException : Exception
{
    public WalCorruptedException() : base("write-ahead log corrupted")
    {
    }

    public WalCorruptedException(string message) : base(message)
    {
    }

    public WalCorruptedException(string message, Exception inner) : base(message, inner)
    {
    }
}
