namespace Heraclius.KvStore.KeyValue;

/// <summary>Stable result codes of key-value operations (business outcomes, not failures).</summary>
public enum KvStatus : byte
{
    Ok = 0,
    NotFound = 1,
    VersionMismatch = 2,
    Malformed = 3,
}
