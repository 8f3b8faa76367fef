using Heraclius.KvStore.Storage;

namespace Heraclius.KvStore.Tests.Storage;

/// <summary>
/// A large file's name goes at once and its blocks a step at a time (what ext4 frees in one transaction held every fsync
/// on the disk); a small or missing file is simply deleted. Watched through a second handle, which keeps the unlinked
/// inode open and shows its length shrink.
/// </summary>
public sealed class GradualFileReleaseTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task DeletingALargeFile_RemovesItsNameAtOnce_AndItsBlocksInSteps()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "an open file cannot be unlinked on Windows: it is deleted at once");
        var path = _directory.File("snapshot-old.bin");
        var size = 5 * GradualFileRelease.StepBytes;
        WriteFile(path, size);
        using var watcher = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

        var release = GradualFileRelease.DeleteAsync(path);

        Assert.False(File.Exists(path));
        var lengths = new HashSet<long>();
        while (!release.IsCompleted)
        {
            lengths.Add(RandomAccess.GetLength(watcher));
            await Task.Delay(2, TestContext.Current.CancellationToken);
        }

        await release;
        Assert.Contains(lengths, l => l < size && l > GradualFileRelease.StepBytes);
        Assert.True(RandomAccess.GetLength(watcher) <= GradualFileRelease.StepBytes);
    }

    [Fact]
    public async Task ReleasingTheLastHandleOfARenamedOverFile_TruncatesItInStepsThenClosesIt()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "Windows cannot rename over an open file");
        var path = _directory.File("wal.log");
        var size = 3 * GradualFileRelease.StepBytes + 12345;
        WriteFile(path, size);
        var old = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        using var watcher = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        WriteFile(path + ".tmp", 10);
        File.Move(path + ".tmp", path, overwrite: true);

        await GradualFileRelease.ReleaseAsync(old);

        Assert.True(old.IsClosed);
        Assert.Equal(12345, RandomAccess.GetLength(watcher));
        Assert.Equal(10, new FileInfo(path).Length);
    }

    [Fact]
    public async Task ASmallFileIsDeletedAtOnce_AndAMissingOneIsNoError()
    {
        var small = _directory.File("small.bin");
        WriteFile(small, 1000);

        var release = GradualFileRelease.DeleteAsync(small);

        Assert.True(release.IsCompleted);
        Assert.False(File.Exists(small));
        await GradualFileRelease.DeleteAsync(_directory.File("never-written.bin"));
    }

    private static void WriteFile(string path, long size)
    {
        using var handle = File.OpenHandle(path, FileMode.Create, FileAccess.Write);
        var block = new byte[1 << 20];
        Array.Fill(block, (byte)7);
        for (long at = 0; at < size; at += block.Length)
        {
            RandomAccess.Write(handle, block.AsSpan(0, (int)Math.Min(block.Length, size - at)), at);
        }
    }
}
