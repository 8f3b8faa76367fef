using Heraclius.KvStore.Storage;

namespace Heraclius.KvStore.Tests.Storage;

public sealed class FileWriteAheadLogContractTests : WriteAheadLogContractTests, IDisposable
{
    private readonly TempDirectory _directory = new();

    protected override IWriteAheadLog Open() => new FileWriteAheadLog(_directory.Path);

    protected override IWriteAheadLog CrashAndRestart(IWriteAheadLog log)
    {
        // Dispose does not flush, so closing the file is a crash as far as unflushed records go.
        log.Dispose();
        return Open();
    }

    public void Dispose() => _directory.Dispose();
}
