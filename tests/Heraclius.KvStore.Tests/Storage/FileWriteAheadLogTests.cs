using System.Buffers.Binary;
using Heraclius.KvStore.Storage;

namespace Heraclius.KvStore.Tests.Storage;

/// <summary>Crash and damage behaviour of the on-disk log: torn tails are cut, anything else is corruption.</summary>
public sealed class FileWriteAheadLogTests : IDisposable
{
    private const int FileHeaderSize = 8;
    private const int RecordOverhead = 9;

    private readonly TempDirectory _directory = new();

    private string LogPath => _directory.File(FileWriteAheadLog.FileName);

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void TornTail_AtEveryCutInsideTheLastRecord_KeepsEarlierRecords_AndLaterAppendsFollowThem()
    {
        var records = SampleRecords(count: 5, seed: 1, lastPayloadLength: 40);
        var (image, offsets) = WriteImage(records);
        var lastStart = offsets[^1];
        var earlier = records[..^1];
        var appended = new WalRecord(77, [7, 7, 7]);

        for (var cut = lastStart; cut < image.Length; cut++)
        {
            File.WriteAllBytes(LogPath, image[..(int)cut]);

            using (var log = new FileWriteAheadLog(_directory.Path))
            {
                WalAssert.SameRecords(earlier, log.ReadAll());
                Assert.Equal(lastStart, new FileInfo(LogPath).Length);
                log.Append(appended.Type, appended.Payload);
                log.Flush();
            }

            using (var reopened = new FileWriteAheadLog(_directory.Path))
            {
                WalAssert.SameRecords([.. earlier, appended], reopened.ReadAll());
            }
        }
    }

    [Fact]
    public void FlippedByteAnywhereInTheLastRecord_IsCutAsTornTail()
    {
        var records = SampleRecords(count: 4, seed: 2, lastPayloadLength: 30);
        var (image, offsets) = WriteImage(records);

        for (var at = offsets[^1]; at < image.Length; at++)
        {
            var damaged = (byte[])image.Clone();
            damaged[at] ^= 0x10;
            File.WriteAllBytes(LogPath, damaged);

            using var log = new FileWriteAheadLog(_directory.Path);
            WalAssert.SameRecords(records[..^1], log.ReadAll());
            Assert.Equal(offsets[^1], new FileInfo(LogPath).Length);
        }
    }

    [Fact]
    public void FlippedByteAnywhereInAMiddleRecord_IsCorruption_ReportingItsOffset_AndTouchesNothing()
    {
        var records = SampleRecords(count: 5, seed: 3, lastPayloadLength: 20);
        var (image, offsets) = WriteImage(records);
        var middle = offsets[2];

        for (var at = middle; at < offsets[3]; at++)
        {
            var damaged = (byte[])image.Clone();
            damaged[at] ^= 0x01;
            File.WriteAllBytes(LogPath, damaged);

            var error = Assert.Throws<WalCorruptedException>(() => new FileWriteAheadLog(_directory.Path));
            Assert.Contains($"byte offset {middle} ", error.Message, StringComparison.Ordinal);
            Assert.Equal(damaged, File.ReadAllBytes(LogPath));
        }
    }

    [Theory]
    [InlineData(0xFFFF_FFF0u)]
    [InlineData((uint)FileWriteAheadLog.MaxPayloadLength + 1)]
    [InlineData(60u * 1024 * 1024)] // Plausible but running past the end: must not hide the records after it.
    public void DamagedLengthInAMiddleRecord_IsCorruption_WithoutAllocatingIt(uint length)
    {
        var records = SampleRecords(count: 6, seed: 4, lastPayloadLength: 100);
        var (image, offsets) = WriteImage(records);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan((int)offsets[1]), length);
        File.WriteAllBytes(LogPath, image);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<WalCorruptedException>(() => new FileWriteAheadLog(_directory.Path));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Contains($"byte offset {offsets[1]} ", error.Message, StringComparison.Ordinal);
        Assert.True(allocated < 4 * 1024 * 1024, $"allocated {allocated} bytes");
        Assert.Equal(image, File.ReadAllBytes(LogPath));
    }

    [Fact]
    public void DamagedLengthInTheLastRecord_IsCutAsTornTail()
    {
        var records = SampleRecords(count: 3, seed: 5, lastPayloadLength: 100);
        var (image, offsets) = WriteImage(records);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan((int)offsets[^1]), 0xFFFF_FFF0u);
        File.WriteAllBytes(LogPath, image);

        using var log = new FileWriteAheadLog(_directory.Path);
        WalAssert.SameRecords(records[..^1], log.ReadAll());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(4096)]
    public void ZerosAfterTheLastRecord_AreCut(int zeros)
    {
        // What a crash leaves when the file size reached the disk but the data did not.
        var records = SampleRecords(count: 3, seed: 6, lastPayloadLength: 10);
        var (image, _) = WriteImage(records);
        File.WriteAllBytes(LogPath, [.. image, .. new byte[zeros]]);

        using var log = new FileWriteAheadLog(_directory.Path);
        WalAssert.SameRecords(records, log.ReadAll());
        Assert.Equal(image.Length, new FileInfo(LogPath).Length);
    }

    [Fact]
    public void GarbageShorterThanARecordHeader_IsCut()
    {
        var records = SampleRecords(count: 2, seed: 7, lastPayloadLength: 10);
        var (image, _) = WriteImage(records);
        File.WriteAllBytes(LogPath, [.. image, 0xAB, 0xCD, 0xEF]);

        using var log = new FileWriteAheadLog(_directory.Path);
        WalAssert.SameRecords(records, log.ReadAll());
        Assert.Equal(image.Length, new FileInfo(LogPath).Length);
    }

    [Fact]
    public void TornRecordOfManyMegabytes_IsCutInLinearTime()
    {
        // Random bytes hold a plausible length at about one offset in 256 here; checking each of
        // them directly would hash gigabytes, the linear search hashes the region once.
        var records = SampleRecords(count: 2, seed: 8, lastPayloadLength: 16 * 1024 * 1024);
        var (image, offsets) = WriteImage(records);
        File.WriteAllBytes(LogPath, image[..^1000]);

        var started = System.Diagnostics.Stopwatch.StartNew();
        using var log = new FileWriteAheadLog(_directory.Path);
        WalAssert.SameRecords(records[..^1], log.ReadAll());
        Assert.Equal(offsets[^1], new FileInfo(LogPath).Length);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(60), $"recovery took {started.Elapsed}");
    }

    [Fact]
    public void LastWritePersistedOutOfOrder_IsReportedAsCorruption()
    {
        // Pages of the last write persisted out of order look exactly like damage to a durable
        // record; the log stops rather than guess (documented on FileWriteAheadLog).
        var records = SampleRecords(count: 4, seed: 9, lastPayloadLength: 10);
        var (image, offsets) = WriteImage(records);
        image.AsSpan((int)offsets[2], (int)(offsets[3] - offsets[2])).Clear();
        File.WriteAllBytes(LogPath, image);

        Assert.Throws<WalCorruptedException>(() => new FileWriteAheadLog(_directory.Path));
    }

    [Fact]
    public void FileThatIsNotAWal_IsRefused()
    {
        File.WriteAllBytes(LogPath, "this is not a write-ahead log"u8.ToArray());

        var error = Assert.Throws<WalCorruptedException>(() => new FileWriteAheadLog(_directory.Path));
        Assert.Contains("offset 0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownFormatVersion_IsRefused()
    {
        var (image, _) = WriteImage(SampleRecords(count: 1, seed: 10, lastPayloadLength: 1));
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(4), 99);
        File.WriteAllBytes(LogPath, image);

        var error = Assert.Throws<WalCorruptedException>(() => new FileWriteAheadLog(_directory.Path));
        Assert.Contains("version 99", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { (byte)'H', (byte)'W' })]
    [InlineData(new byte[] { 0, 0, 0, 0, 0, 0, 0, 0 })]
    public void FileWhoseCreationACrashInterrupted_StartsEmpty(byte[] content)
    {
        File.WriteAllBytes(LogPath, content);

        using (var log = new FileWriteAheadLog(_directory.Path))
        {
            Assert.Empty(log.ReadAll());
            log.Append(1, [1]);
            log.Flush();
        }

        using (var reopened = new FileWriteAheadLog(_directory.Path))
        {
            WalAssert.SameRecords([new(1, [1])], reopened.ReadAll());
        }

        Assert.Equal("HWAL"u8.ToArray(), File.ReadAllBytes(LogPath)[..4]);
    }

    [Fact]
    public void LeftoverOfAnInterruptedRewrite_IsIgnoredAndRemoved()
    {
        var records = SampleRecords(count: 3, seed: 11, lastPayloadLength: 10);
        var (image, _) = WriteImage(records);
        File.WriteAllBytes(LogPath, image);
        var tempPath = LogPath + ".tmp";
        File.WriteAllBytes(tempPath, image[..^3]);

        using var log = new FileWriteAheadLog(_directory.Path);
        WalAssert.SameRecords(records, log.ReadAll());
        Assert.False(File.Exists(tempPath));
    }

    [Fact]
    public void Rewrite_ReplacesTheFileAtomically_LeavingNoTempFile()
    {
        using var log = new FileWriteAheadLog(_directory.Path);
        log.Append(1, new byte[1000]);
        log.Flush();

        log.Rewrite([new(2, [2])]);

        Assert.False(File.Exists(LogPath + ".tmp"));
        Assert.Equal(FileHeaderSize + RecordOverhead + 1, new FileInfo(LogPath).Length);
        Assert.Equal(FileHeaderSize + RecordOverhead + 1, log.DurableLength);
    }

    [Fact]
    public void SecondOpenOfTheSameLog_FailsWhileTheFirstIsOpen()
    {
        using var log = new FileWriteAheadLog(_directory.Path);

        Assert.ThrowsAny<IOException>(() => new FileWriteAheadLog(_directory.Path));
    }

    [Fact]
    public void OnDiskFormat_IsTheDocumentedOne()
    {
        using (var log = new FileWriteAheadLog(_directory.Path))
        {
            log.Append(0x07, "abc"u8);
            log.Flush();
        }

        var bytes = File.ReadAllBytes(LogPath);
        byte[] expectedRecordBody = [3, 0, 0, 0, 0x07, (byte)'a', (byte)'b', (byte)'c'];
        Assert.Equal("HWAL"u8.ToArray(), bytes[..4]);
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4)));
        Assert.Equal(expectedRecordBody, bytes[8..16]);
        Assert.Equal(Crc32CTests.Reference(expectedRecordBody), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(16)));
        Assert.Equal(20, bytes.Length);
    }

    [Fact]
    public void Dispose_DoesNotFlush_AndUseAfterDisposeThrows()
    {
        var log = new FileWriteAheadLog(_directory.Path);
        log.Append(1, [1]);
        log.Dispose();

        Assert.Throws<ObjectDisposedException>(() => log.Append(2, [2]));
        using var reopened = new FileWriteAheadLog(_directory.Path);
        Assert.Empty(reopened.ReadAll());
    }

    private static WalRecord[] SampleRecords(int count, int seed, int lastPayloadLength)
    {
        var random = new Random(seed);
        var records = new WalRecord[count];
        for (var i = 0; i < count - 1; i++)
        {
            records[i] = WalAssert.RandomRecord(random, random.Next(0, 200));
        }

        records[^1] = WalAssert.RandomRecord(random, lastPayloadLength);
        return records;
    }

    /// <summary>Writes <paramref name="records"/> through the log and returns the file bytes and each record's offset.</summary>
    private (byte[] Image, long[] Offsets) WriteImage(WalRecord[] records)
    {
        using (var log = new FileWriteAheadLog(_directory.Path))
        {
            foreach (var record in records)
            {
                log.Append(record.Type, record.Payload);
            }

            log.Flush();
        }

        var offsets = new long[records.Length];
        long offset = FileHeaderSize;
        for (var i = 0; i < records.Length; i++)
        {
            offsets[i] = offset;
            offset += RecordOverhead + records[i].Payload.Length;
        }

        var image = File.ReadAllBytes(LogPath);
        Assert.Equal(offset, image.Length);
        File.Delete(LogPath);
        return (image, offsets);
    }
}
