using Heraclius.KvStore.KeyValue;

namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>
/// A store that is linearizable by construction: the real key-value engine over an in-memory
/// state, one operation at a time under a lock. Histories recorded against it must pass the
/// checker, which also tests that the checker's model agrees with the engine.
/// </summary>
public sealed class LockedKvStore
{
    // Serializes operations: each one takes effect atomically somewhere inside its call.
    private readonly Lock _lock = new();
    private readonly InMemoryStateAccess _state = new();

    public KvResult Execute(KvOperation operation)
    {
        lock (_lock)
        {
            return KvResult.Parse(KvEngine.Execute(_state, operation));
        }
    }
}
