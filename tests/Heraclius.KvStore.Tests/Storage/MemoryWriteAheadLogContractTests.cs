using Heraclius.KvStore.Storage;

namespace Heraclius.KvStore.Tests.Storage;

public sealed class MemoryWriteAheadLogContractTests : WriteAheadLogContractTests
{
    private readonly MemoryWriteAheadLog _disk = new();

    protected override IWriteAheadLog OpenLog() => _disk;

    protected override IWriteAheadLog Restart(IWriteAheadLog log)
    {
        _disk.Crash();
        return _disk;
    }
}
