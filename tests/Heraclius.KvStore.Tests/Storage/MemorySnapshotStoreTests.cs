using Heraclius.KvStore.Storage;

namespace Heraclius.KvStore.Tests.Storage;

public sealed class MemorySnapshotStoreTests
{
    [Fact]
    public void LoadLatest_IsNullUntilSaved_ThenTheLastSaved()
    {
        var store = new MemorySnapshotStore();
        Assert.Null(store.LoadLatest());

        store.Save(1, [1]);
        store.Save(2, [2, 2]);

        var latest = store.LoadLatest();
        Assert.NotNull(latest);
        Assert.Equal(2ul, latest.Value.Height);
        Assert.Equal([2, 2], latest.Value.Bytes);
    }

    [Fact]
    public void StoredBytes_AreIsolatedFromTheCaller()
    {
        var store = new MemorySnapshotStore();
        byte[] snapshot = [1, 2, 3];
        store.Save(1, snapshot);
        snapshot[0] = 9;
        store.LoadLatest()!.Value.Bytes[1] = 9;

        Assert.Equal([1, 2, 3], store.LoadLatest()!.Value.Bytes);
    }
}
