using Heraclius.KvStore.Storage;

namespace Heraclius.KvStore.Tests.Storage;

public sealed class FileSnapshotStoreTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void EmptyDirectory_HasNoSnapshot()
    {
        Assert.Null(new FileSnapshotStore(_directory.Path).LoadLatest());
    }

    [Fact]
    public void LoadLatest_ReturnsTheLastSaved_AfterReopen_AndOnlyItStaysOnDisk()
    {
        var store = new FileSnapshotStore(_directory.Path);
        store.Save(5, Bytes(1, 1000));
        store.Save(12, Bytes(2, 70_000));

        var latest = new FileSnapshotStore(_directory.Path).LoadLatest();

        Assert.NotNull(latest);
        Assert.Equal(12ul, latest.Value.Height);
        Assert.Equal(Bytes(2, 70_000), latest.Value.Bytes);
        Assert.Equal([FileSnapshotStore.FileNameFor(12)], SnapshotFiles());
    }

    [Fact]
    public void EmptySnapshot_RoundTrips()
    {
        var store = new FileSnapshotStore(_directory.Path);
        store.Save(1, []);

        var latest = store.LoadLatest();

        Assert.NotNull(latest);
        Assert.Equal(1ul, latest.Value.Height);
        Assert.Empty(latest.Value.Bytes);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(10)]
    [InlineData(30)]
    [InlineData(FileSnapshotStore.HeaderSize + 7)]
    public void DamagedNewest_FallsBackToAnOlderValidOne_WhenACrashKeptIt(int damagedByte)
    {
        var store = new FileSnapshotStore(_directory.Path);
        store.Save(5, Bytes(1, 100));
        var older = File.ReadAllBytes(_directory.File(FileSnapshotStore.FileNameFor(5)));
        store.Save(9, Bytes(2, 100));
        // A crash between the rename of 9 and the deletion of 5 leaves both.
        File.WriteAllBytes(_directory.File(FileSnapshotStore.FileNameFor(5)), older);
        Flip(FileSnapshotStore.FileNameFor(9), damagedByte);

        var latest = store.LoadLatest();

        Assert.NotNull(latest);
        Assert.Equal(5ul, latest.Value.Height);
        Assert.Equal(Bytes(1, 100), latest.Value.Bytes);
    }

    [Fact]
    public void DamagedOnlySnapshot_IsReported_NotMistakenForNone()
    {
        var store = new FileSnapshotStore(_directory.Path);
        store.Save(3, Bytes(1, 100));
        Flip(FileSnapshotStore.FileNameFor(3), FileSnapshotStore.HeaderSize + 50);

        Assert.Throws<SnapshotCorruptedException>(() => store.LoadLatest());
    }

    [Fact]
    public void SnapshotOfAnotherFormatVersion_IsRefused_NamingItsVersion()
    {
        var store = new FileSnapshotStore(_directory.Path);
        store.Save(3, Bytes(1, 100));
        var path = _directory.File(FileSnapshotStore.FileNameFor(3));
        var bytes = File.ReadAllBytes(path);
        // Version 1 (SHA-256 checksum): the version field follows the 4-byte magic.
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), 1);
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<SnapshotCorruptedException>(() => store.LoadLatest());

        Assert.Contains("format version 1", error.Message, StringComparison.Ordinal);
        Assert.Contains($"reads {FileSnapshotStore.FormatVersion}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SavedInParts_LoadsAsTheConcatenation_AndAFlippedByteAnywhereInTheContentIsCaught()
    {
        var store = new FileSnapshotStore(_directory.Path);
        var content = Bytes(7, 5000);
        await store.SaveAsync(4, [content.AsMemory(0, 10), content.AsMemory(10, 4000), content.AsMemory(4010)]);
        Assert.Equal(content, store.LoadLatest()!.Value.Bytes);

        foreach (var offset in new[] { 0, 2500, 4999 })
        {
            await store.SaveAsync(4, [content]);
            Flip(FileSnapshotStore.FileNameFor(4), FileSnapshotStore.HeaderSize + offset);
            Assert.Throws<SnapshotCorruptedException>(() => store.LoadLatest());
        }
    }

    [Fact]
    public void TruncatedSnapshot_IsInvalid()
    {
        var store = new FileSnapshotStore(_directory.Path);
        store.Save(3, Bytes(1, 100));
        var path = _directory.File(FileSnapshotStore.FileNameFor(3));
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..^1]);

        Assert.Throws<SnapshotCorruptedException>(() => store.LoadLatest());
    }

    [Fact]
    public void SnapshotRenamedToAnotherHeight_IsInvalid()
    {
        var store = new FileSnapshotStore(_directory.Path);
        store.Save(3, Bytes(1, 100));
        File.Move(_directory.File(FileSnapshotStore.FileNameFor(3)), _directory.File(FileSnapshotStore.FileNameFor(4)));

        Assert.Throws<SnapshotCorruptedException>(() => store.LoadLatest());
    }

    [Fact]
    public void TempLeftovers_AreIgnored_AndRemovedByTheNextSave()
    {
        var store = new FileSnapshotStore(_directory.Path);
        store.Save(3, Bytes(1, 100));
        // A complete, valid snapshot file that a crash left before its rename: never committed.
        var uncommitted = new FileSnapshotStore(_directory.File("other"));
        uncommitted.Save(8, Bytes(2, 100));
        File.Copy(_directory.File(Path.Combine("other", FileSnapshotStore.FileNameFor(8))), _directory.File(FileSnapshotStore.FileNameFor(8) + ".tmp"));

        var latest = store.LoadLatest();
        Assert.NotNull(latest);
        Assert.Equal(3ul, latest.Value.Height);

        store.Save(4, Bytes(3, 10));
        Assert.Equal([FileSnapshotStore.FileNameFor(4)], SnapshotFiles());
    }

    [Fact]
    public void UnrelatedFiles_AreLeftAlone()
    {
        File.WriteAllText(_directory.File("notes.txt"), "keep me");
        File.WriteAllText(_directory.File("snapshot-abc.bin"), "not ours");
        var store = new FileSnapshotStore(_directory.Path);

        Assert.Null(store.LoadLatest());
        store.Save(1, Bytes(1, 10));

        Assert.True(File.Exists(_directory.File("notes.txt")));
        Assert.True(File.Exists(_directory.File("snapshot-abc.bin")));
        Assert.Equal(1ul, store.LoadLatest()!.Value.Height);
    }

    [Fact]
    public void SaveThatFinishesAfterANewerOne_NeverDeletesIt()
    {
        // A background save that outlived its replica, after the restarted replica saved a newer one.
        var store = new FileSnapshotStore(_directory.Path);
        store.Save(9, Bytes(2, 100));
        new FileSnapshotStore(_directory.Path).Save(5, Bytes(1, 100));

        var latest = store.LoadLatest();

        Assert.NotNull(latest);
        Assert.Equal(9ul, latest.Value.Height);
        Assert.Contains(FileSnapshotStore.FileNameFor(9), SnapshotFiles());
    }

    [Fact]
    public async Task SaveAsync_OfManyParts_WritesTheSameFileAsOneSave_AndReplacesTheOlderSnapshot()
    {
        // More parts than one gathered write takes (IOV_MAX is 1024), some empty, some large, one larger than the slice a
        // save flushes at a time (1 MiB), ~4 MB in all: several slices, each written where the one before ended.
        var parts = Enumerable.Range(0, 2500).Select(i => (ReadOnlyMemory<byte>)Bytes(i, i == 1234 ? 2_500_000 : i % 7 == 0 ? 0 : i % 100 == 0 ? 70_000 : i % 13)).ToArray();
        var whole = parts.SelectMany(p => p.ToArray()).ToArray();
        var store = new FileSnapshotStore(_directory.Path);
        store.Save(3, Bytes(1, 100));

        await store.SaveAsync(7, parts);

        var latest = new FileSnapshotStore(_directory.Path).LoadLatest();
        Assert.NotNull(latest);
        Assert.Equal(7ul, latest.Value.Height);
        Assert.Equal(whole, latest.Value.Bytes);
        Assert.Equal([FileSnapshotStore.FileNameFor(7)], SnapshotFiles());
        var written = await File.ReadAllBytesAsync(_directory.File(FileSnapshotStore.FileNameFor(7)), TestContext.Current.CancellationToken);
        new FileSnapshotStore(_directory.File("one")).Save(7, whole);
        Assert.Equal(await File.ReadAllBytesAsync(_directory.File(Path.Combine("one", FileSnapshotStore.FileNameFor(7))), TestContext.Current.CancellationToken), written);
    }

    private static byte[] Bytes(int seed, int length)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private void Flip(string fileName, int offset)
    {
        var path = _directory.File(fileName);
        var bytes = File.ReadAllBytes(path);
        bytes[offset] ^= 0x04;
        File.WriteAllBytes(path, bytes);
    }

    private string[] SnapshotFiles() =>
        [.. Directory.GetFiles(_directory.Path, "snapshot-*").Select(Path.GetFileName).Order(StringComparer.Ordinal)!];
}
