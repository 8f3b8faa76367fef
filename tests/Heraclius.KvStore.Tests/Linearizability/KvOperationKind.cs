namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>The key-value operations a history records; the same four the store executes.</summary>
public enum KvOperationKind
{
    Get,
    Put,
    Delete,
    Cas,
}
