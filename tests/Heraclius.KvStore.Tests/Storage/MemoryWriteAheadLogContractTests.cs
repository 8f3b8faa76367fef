using Heraclius.KvStore.Storage;

namespace Heraclius.KvStore.Tests.Storage;

public sealed class MemoryWriteAheadLogContractTests : WriteAheadLogContractTests, IDisposable
{
    private readonly MemoryWriteAheadLog _disk = new();

    protected override IWriteAheadLog Open() => _disk;

    protected override IWriteAheadLog CrashAndRestart(IWriteAheadLog log)
    {
        _disk.Crash();
        return _disk;
    }

    public void Dispose() => _disk.Dispose();
}
