using Heraclius.KvStore.Storage;

namespace Heraclius.KvStore.Tests.Storage;

public sealed class FileWriteAheadLogContractTests : WriteAheadLogContractTests
{
    private readonly TempDirectory _directory = new();

    protected override IWriteAheadLog OpenLog() => new FileWriteAheadLog(_directory.Path);

    protected override IWriteAheadLog Restart(IWriteAheadLog log)
    {
        // Dispose does not flush, so closing the file is a crash as far as unflushed records go.
        log.Dispose();
        return OpenLog();
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            _directory.Dispose();
        }
    }
}
