namespace Heraclius.KvStore.Storage;

/// <summary>What the WAL reader found at one offset.</summary>
internal enum WalRecordStatus
{
    Valid,

    /// <summary>The file ends before the record does (fewer than 5 header bytes, or the declared length runs past the end).</summary>
    Truncated,

    /// <summary>The declared payload length exceeds <see cref="WalFormat.MaxPayloadLength"/>: no writer produced it.</summary>
    ImpossibleLength,

    BadChecksum,
}
