using Heraclius.KvStore.Storage;

namespace Heraclius.KvStore.Tests.Storage;

public sealed class MemoryWriteAheadLogTests
{
    [Fact]
    public void Crash_DropsEveryUnflushedRecord_AndKeepsFlushedOnes()
    {
        var log = new MemoryWriteAheadLog();
        log.Append(1, [1]);
        log.Append(2, [2]);
        log.Flush();
        log.Append(3, [3]);
        log.Append(4, [4]);
        Assert.Equal(2, log.PendingCount);
        Assert.Equal(10 + 10 + 9, log.PendingBytes);

        log.Crash();

        Assert.Equal(0, log.PendingCount);
        Assert.Equal(0, log.PendingBytes);
        WalAssert.SameRecords([new(1, [1]), new(2, [2])], log.ReadAll());
        log.Flush();
        WalAssert.SameRecords([new(1, [1]), new(2, [2])], log.ReadAll());
    }

    [Fact]
    public void CrashTorn_KeepsAPrefixOfTheUnflushedRecords_ChosenOnlyByTheSeed()
    {
        var keptCounts = new HashSet<int>();
        for (var seed = 0; seed < 64; seed++)
        {
            var first = TornOutcome(seed);
            var second = TornOutcome(seed);
            WalAssert.SameRecords(first, second);

            // Flushed record, then a prefix of the five unflushed ones in order.
            Assert.Equal(100, first[0].Type);
            for (var i = 1; i < first.Count; i++)
            {
                Assert.Equal(i - 1, first[i].Type);
            }

            keptCounts.Add(first.Count - 1);
        }

        Assert.Equal(Enumerable.Range(0, 6).ToHashSet(), keptCounts);
    }

    [Fact]
    public void ReadAll_ReturnsCopies_SoCallersCannotChangeWhatIsDurable()
    {
        var log = new MemoryWriteAheadLog();
        byte[] payload = [1, 2, 3];
        log.Append(1, payload);
        log.Flush();
        payload[0] = 99;

        log.ReadAll()[0].Payload[1] = 99;

        WalAssert.SameRecords([new(1, [1, 2, 3])], log.ReadAll());
    }

    [Fact]
    public void RewritesAndAppendsAcrossManyChunks_KeepEveryPayloadIntact()
    {
        // Payloads share large chunks that a rewrite recycles: nothing may alias a recycled chunk.
        var log = new MemoryWriteAheadLog();
        var random = new Random(3);
        var expected = new List<WalRecord>();
        for (var round = 0; round < 6; round++)
        {
            for (var i = 0; i < 12; i++)
            {
                var payload = new byte[random.Next(0, 1_500_000)];
                random.NextBytes(payload);
                log.Append((byte)i, payload);
                expected.Add(new WalRecord((byte)i, payload));
            }

            log.Flush();
            var pending = new byte[1000];
            random.NextBytes(pending);
            log.Append(200, pending);
            WalAssert.SameRecords(expected, log.ReadAll());

            var kept = expected.Skip(expected.Count - 3).ToList();
            log.Rewrite(kept);
            log.Flush();
            expected = [.. kept, new WalRecord(200, pending)];
            WalAssert.SameRecords(expected, log.ReadAll());
        }

        var huge = new byte[5 * 1024 * 1024];
        random.NextBytes(huge);
        log.Append(7, huge);
        log.Flush();
        WalAssert.SameRecords([.. expected, new WalRecord(7, huge)], log.ReadAll());
    }

    [Fact]
    public void Dispose_KeepsTheDiskReadable_ForTheRestartedNode()
    {
        var log = new MemoryWriteAheadLog();
        log.Append(1, [1]);
        log.Flush();

        log.Dispose();

        WalAssert.SameRecords([new(1, [1])], log.ReadAll());
    }

    private static IReadOnlyList<WalRecord> TornOutcome(int seed)
    {
        var log = new MemoryWriteAheadLog();
        log.Append(100, [100]);
        log.Flush();
        for (var i = 0; i < 5; i++)
        {
            log.Append((byte)i, [(byte)i]);
        }

        log.CrashTorn(new Random(seed));
        Assert.Equal(0, log.PendingCount);
        Assert.Equal(0, log.PendingBytes);
        return log.ReadAll();
    }
}
