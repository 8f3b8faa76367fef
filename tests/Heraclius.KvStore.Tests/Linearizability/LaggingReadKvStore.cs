using Heraclius.KvStore.KeyValue;

namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>
/// A deliberately wrong store for the checker to catch: writes go to the state, but reads are
/// served from a snapshot refreshed only every few writes, like a follower answering reads
/// without checking it is up to date. Single-threaded (the simulation calls it).
/// </summary>
public sealed class LaggingReadKvStore
{
    private readonly int _refreshEvery;
    private readonly InMemoryStateAccess _state = new();
    private InMemoryStateAccess _snapshot = new();
    private int _writesSinceRefresh;

    public LaggingReadKvStore(int refreshEvery)
    {
        _refreshEvery = refreshEvery;
    }

    public KvResult Execute(KvOperation operation)
    {
        if (operation.Op == KvOpCode.Get)
        {
            return KvResult.Parse(KvEngine.Execute(_snapshot, operation));
        }

        var result = KvResult.Parse(KvEngine.Execute(_state, operation));
        if (++_writesSinceRefresh == _refreshEvery)
        {
            _snapshot = _state.Snapshot();
            _writesSinceRefresh = 0;
        }

        return result;
    }
}
