using Heraclius.KvStore.Storage;

namespace Heraclius.KvStore.Tests.Storage;

/// <summary>
/// The behaviour every <see cref="IWriteAheadLog"/> owes consensus, run against the file log and
/// the simulation's memory log so the simulation cannot drift from production.
/// </summary>
public abstract class WriteAheadLogContractTests : IDisposable
{
    // The log a test holds last (after any restarts): closed when the test ends, however it ends.
    private IWriteAheadLog? _current;

    /// <summary>Opens the log as a freshly started node would (closed when the test ends).</summary>
    protected IWriteAheadLog Open() => _current = OpenLog();

    /// <summary>Loses power and restarts: everything not flushed is gone; returns the reopened log (closed when the test ends).</summary>
    protected IWriteAheadLog CrashAndRestart(IWriteAheadLog log) => _current = Restart(log);

    /// <summary>Opens the log on this test's storage.</summary>
    protected abstract IWriteAheadLog OpenLog();

    /// <summary>Loses power and reopens: see <see cref="CrashAndRestart"/>.</summary>
    protected abstract IWriteAheadLog Restart(IWriteAheadLog log);

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Closes the test's last log; an override releases its storage after that.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            _current?.Dispose();
        }
    }

    [Fact]
    public void FlushedRecordsOfRandomSizes_SurviveRestartInOrder()
    {
        var random = new Random(7);
        var written = new List<WalRecord>();
        var log = Open();
        for (var i = 0; i < 150; i++)
        {
            var length = (i % 50) switch
            {
                0 => 0,
                1 => (1024 * 1024) + random.Next(100),
                _ => random.Next(0, 3000),
            };
            var record = WalAssert.RandomRecord(random, length);
            log.Append(record.Type, record.Payload);
            written.Add(record);
            if (random.Next(4) == 0)
            {
                log.Flush();
            }
        }

        log.Flush();
        WalAssert.SameRecords(written, log.ReadAll());

        log = CrashAndRestart(log);
        WalAssert.SameRecords(written, log.ReadAll());
    }

    [Fact]
    public void UnflushedAppends_AreNotRead_AndAreLostOnCrash()
    {
        var log = Open();
        log.Append(1, [10]);
        log.Flush();
        log.Append(2, [20]);

        WalAssert.SameRecords([new(1, [10])], log.ReadAll());
        log = CrashAndRestart(log);
        WalAssert.SameRecords([new(1, [10])], log.ReadAll());

        log.Append(3, [30]);
        log.Flush();
        WalAssert.SameRecords([new(1, [10]), new(3, [30])], log.ReadAll());
    }

    [Fact]
    public void Rewrite_KeepsExactlyTheGivenRecords_AndLaterAppendsFollowThem_AcrossRestart()
    {
        var log = OpenWithTenFlushedRecords();
        var kept = ThreeKeptRecords(new Random(11));
        log.Rewrite(kept);
        WalAssert.SameRecords(kept, log.ReadAll());

        log = CrashAndRestart(log);
        WalAssert.SameRecords(kept, log.ReadAll());

        log.Append(42, [4, 2]);
        log.Flush();
        log = CrashAndRestart(log);
        WalAssert.SameRecords([.. kept, new(42, [4, 2])], log.ReadAll());
    }

    [Fact]
    public void Rewrite_ToNothing_LeavesAnEmptyLogThatStillAppends()
    {
        var log = Open();
        log.Append(1, [1]);
        log.Flush();
        log.Rewrite([]);
        Assert.Empty(log.ReadAll());
        log.Append(2, [2]);
        log.Flush();
        log = CrashAndRestart(log);
        WalAssert.SameRecords([new(2, [2])], log.ReadAll());
    }

    [Fact]
    public void Rewrite_LeavesUnflushedAppendsPending_ForTheNextFlush()
    {
        var log = Open();
        log.Append(1, [1]);
        log.Flush();
        log.Append(9, [9]);
        log.Rewrite([new(5, [5])]);

        WalAssert.SameRecords([new(5, [5])], log.ReadAll());
        log.Flush();
        WalAssert.SameRecords([new(5, [5]), new(9, [9])], log.ReadAll());
    }

    [Fact]
    public void Rewrite_WithAnInvalidRecord_Throws_AndKeepsTheOldLog()
    {
        var log = Open();
        log.Append(1, [1]);
        log.Flush();

        Assert.Throws<ArgumentException>(() => log.Rewrite([new(2, [2]), new(3, null!)]));

        WalAssert.SameRecords([new(1, [1])], log.ReadAll());
        log = CrashAndRestart(log);
        WalAssert.SameRecords([new(1, [1])], log.ReadAll());
    }

    [Fact]
    public void FlushCount_CountsFlushesThatHadSomethingToMakeDurable()
    {
        var log = Open();
        Assert.Equal(0, log.FlushCount);

        log.Flush();
        Assert.Equal(0, log.FlushCount);

        log.Append(1, [1]);
        log.Flush();
        Assert.Equal(1, log.FlushCount);

        log.Flush();
        Assert.Equal(1, log.FlushCount);

        log.Append(2, [2]);
        log.Append(3, []);
        log.Flush();
        Assert.Equal(2, log.FlushCount);

        log.Rewrite([new(4, [4])]);
        Assert.Equal(2, log.FlushCount);
    }

    [Fact]
    public void BytesWritten_CountsFlushedRecordsAndRewrittenLogs_FramingIncluded()
    {
        // A record costs its payload plus 9 bytes of framing (length, type, checksum); a flush of several
        // records adds 9 for the batch record around them; a rewritten log adds the 8-byte file header.
        var log = Open();
        log.Append(1, new byte[10]);
        Assert.Equal(0, log.BytesWritten);

        log.Flush();
        Assert.Equal(19, log.BytesWritten);

        log.Append(2, []);
        log.Append(3, new byte[100]);
        log.Flush();
        Assert.Equal(19 + 9 + 9 + 109, log.BytesWritten);

        log.Append(5, [5]);
        log.Rewrite([new(4, new byte[20])]);
        Assert.Equal(146 + 8 + 29, log.BytesWritten);

        // The record still pending across the rewrite is counted when it is flushed.
        log.Flush();
        Assert.Equal(183 + 10, log.BytesWritten);
    }

    [Fact]
    public void PendingBytes_IsWhatTheNextFlushWrites_AndZeroAfterIt()
    {
        var log = Open();
        Assert.Equal(0, log.PendingBytes);

        log.Append(1, new byte[10]);
        Assert.Equal(19, log.PendingBytes);

        // A second record makes the flush a batch: 9 bytes of its own framing and 9 around both.
        log.Append(2, []);
        Assert.Equal(19 + 9 + 9, log.PendingBytes);
        log.Append(3, new byte[100]);
        Assert.Equal(37 + 109, log.PendingBytes);

        var before = log.BytesWritten;
        log.Flush();
        Assert.Equal(0, log.PendingBytes);
        Assert.Equal(before + 146, log.BytesWritten);

        log.Append(4, [4]);
        log.Rewrite([new(5, [5])]);
        Assert.Equal(10, log.PendingBytes);

        log = CrashAndRestart(log);
        Assert.Equal(0, log.PendingBytes);
    }

    [Fact]
    public void ReservedType_IsRefused_AndChangesNothing()
    {
        var log = Open();
        log.Append(1, [1]);
        log.Flush();
        log.Append(2, [2]);
        var pending = log.PendingBytes;

        Assert.Throws<ArgumentException>(() => log.Append(255, [3]));
        Assert.Throws<ArgumentException>(() => log.Rewrite([new(4, [4]), new(255, [5])]));

        Assert.Equal(pending, log.PendingBytes);
        WalAssert.SameRecords([new(1, [1])], log.ReadAll());
        log.Flush();
        WalAssert.SameRecords([new(1, [1]), new(2, [2])], log.ReadAll());
        log = CrashAndRestart(log);
        WalAssert.SameRecords([new(1, [1]), new(2, [2])], log.ReadAll());
    }

    [Fact]
    public void RecordThatWouldOverfillTheFlush_IsRefusedUntilAFlush_AndChangesNothing()
    {
        var log = Open();
        var large = new byte[FileWriteAheadLog.MaxPayloadLength - 100];
        large[^1] = 0xAB;
        log.Append(1, large);
        var pending = log.PendingBytes;

        var error = Assert.Throws<InvalidOperationException>(() => log.Append(2, new byte[100]));
        Assert.Contains("flush before appending", error.Message, StringComparison.Ordinal);
        Assert.Equal(pending, log.PendingBytes);

        log.Flush();
        log.Append(2, new byte[100]);
        log.Flush();
        log = CrashAndRestart(log);
        WalAssert.SameRecords([new(1, large), new(2, new byte[100])], log.ReadAll());
    }

    [Fact]
    public void PayloadAboveTheLimit_IsRefused()
    {
        var log = Open();
        var tooLong = new byte[FileWriteAheadLog.MaxPayloadLength + 1];

        Assert.Throws<ArgumentException>(() => log.Append(1, tooLong));

        log.Flush();
        Assert.Empty(log.ReadAll());
    }

    [Fact]
    public void BeginRewrite_RecordsFlushedBeforeCompleteFollowTheKeptOnes_PendingOnesStayPending_AndAllSurviveARestart()
    {
        var log = OpenWithTenFlushedRecords();
        var kept = ThreeKeptRecords(new Random(13));
        log.BeginRewrite(kept);
        Assert.True(log.RewriteInFlight);

        // The current log goes on meanwhile: one flush of one record, one of two, and one record left pending.
        log.Append(40, [4, 0]);
        log.Flush();
        log.Append(41, new byte[3000]);
        log.Append(42, [4, 2]);
        log.Flush();
        log.Append(43, [4, 3]);
        List<WalRecord> meanwhile = [new(40, [4, 0]), new(41, new byte[3000]), new(42, [4, 2])];

        Assert.True(log.CompleteRewrite());
        Assert.False(log.RewriteInFlight);
        WalAssert.SameRecords([.. kept, .. meanwhile], log.ReadAll());
        log.Flush();
        WalAssert.SameRecords([.. kept, .. meanwhile, new(43, [4, 3])], log.ReadAll());

        log = CrashAndRestart(log);
        WalAssert.SameRecords([.. kept, .. meanwhile, new(43, [4, 3])], log.ReadAll());
    }

    [Fact]
    public void ACrashBeforeCompleteRewrite_LeavesTheCurrentLogWithEverythingFlushed_AndALaterRewriteWorks()
    {
        var log = Open();
        log.Append(1, [1]);
        log.Flush();
        log.BeginRewrite([new(9, [9])]);
        log.Append(2, [2]);
        log.Flush();

        log = CrashAndRestart(log);
        Assert.False(log.RewriteInFlight);
        WalAssert.SameRecords([new(1, [1]), new(2, [2])], log.ReadAll());

        log.BeginRewrite([new(9, [9])]);
        log.Append(3, [3]);
        log.Flush();
        Assert.True(log.CompleteRewrite());
        log = CrashAndRestart(log);
        WalAssert.SameRecords([new(9, [9]), new(3, [3])], log.ReadAll());
    }

    [Fact]
    public void ARewriteWithARefusedRecord_CompletesAsFalse_AndTheCurrentLogStaysWhole()
    {
        var log = Open();
        log.Append(1, [1]);
        log.Flush();
        log.BeginRewrite([new(4, [4]), new(255, [5])]);
        log.Append(2, [2]);
        log.Flush();

        Assert.False(log.CompleteRewrite());
        Assert.False(log.RewriteInFlight);
        WalAssert.SameRecords([new(1, [1]), new(2, [2])], log.ReadAll());
        log.Append(3, [3]);
        log.Flush();
        log = CrashAndRestart(log);
        WalAssert.SameRecords([new(1, [1]), new(2, [2]), new(3, [3])], log.ReadAll());
    }

    [Fact]
    public void OneRewriteAtATime_AndCompleteNeedsOneBegun()
    {
        var log = Open();
        Assert.Throws<InvalidOperationException>(() => log.CompleteRewrite());
        log.BeginRewrite([new(4, [4])]);
        Assert.Throws<InvalidOperationException>(() => log.BeginRewrite([new(5, [5])]));
        Assert.Throws<InvalidOperationException>(() => log.Rewrite([new(5, [5])]));
        Assert.True(log.CompleteRewrite());
        WalAssert.SameRecords([new(4, [4])], log.ReadAll());
    }

    /// <summary>A log opened afresh with ten one-record flushes in it, the start of the rewrite tests.</summary>
    private IWriteAheadLog OpenWithTenFlushedRecords()
    {
        var log = Open();
        for (var i = 0; i < 10; i++)
        {
            log.Append((byte)i, [(byte)i, 0xEE]);
        }

        log.Flush();
        return log;
    }

    /// <summary>What a rewrite keeps: an empty record, a large one and a small one.</summary>
    private static List<WalRecord> ThreeKeptRecords(Random random) =>
        [WalAssert.RandomRecord(random, 0), WalAssert.RandomRecord(random, 5000), WalAssert.RandomRecord(random, 3)];
}
