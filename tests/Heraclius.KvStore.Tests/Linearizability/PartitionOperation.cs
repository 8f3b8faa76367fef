namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>
/// One operation of a key's partition in the form the search needs: values interned to ids,
/// the output unpacked, and the index of the operation in the whole history for explanations.
/// </summary>
internal readonly record struct PartitionOperation(
    int HistoryIndex,
    KvOperationKind Kind,
    int InputValueId,
    ulong ExpectedVersion,
    bool IsPending,
    KvOutputStatus OutputStatus,
    ulong OutputVersion,
    int OutputValueId,
    long InvokeTicks,
    long ReturnTicks);
