namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>
/// The business outcomes a well-formed operation can have. Malformed is absent on purpose: a
/// history records only well-formed operations, so the store answering Malformed is a bug.
/// </summary>
public enum KvOutputStatus
{
    Ok,
    NotFound,
    VersionMismatch,
}
