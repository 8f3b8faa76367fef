namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>Hand-written histories with known answers; ticks are small integers for readability.</summary>
public sealed class LinearizabilityCheckerTests
{
    [Fact]
    public void EmptyHistory_IsLinearizable() => LinearizabilityAssert.Linearizable(History.Of());

    [Fact]
    public void SequentialHistory_OfEveryOperationKind_IsLinearizable() =>
        LinearizabilityAssert.Linearizable(History.Of(
            Op(0, 0, 1, KvInput.Get("x"), KvOutput.NotFound),
            Op(0, 2, 3, KvInput.Put("x", "a"), KvOutput.Ok(1)),
            Op(1, 4, 5, KvInput.Get("x"), KvOutput.Ok(1, "a")),
            Op(1, 6, 7, KvInput.Cas("x", 1, "b"), KvOutput.Ok(2)),
            Op(0, 8, 9, KvInput.Cas("x", 1, "c"), KvOutput.VersionMismatch(2)),
            Op(0, 10, 11, KvInput.Get("x"), KvOutput.Ok(2, "b")),
            Op(1, 12, 13, KvInput.Delete("x"), KvOutput.Ok(2)),
            Op(0, 14, 15, KvInput.Delete("x"), KvOutput.NotFound),
            Op(0, 16, 17, KvInput.Cas("x", 1, "d"), KvOutput.VersionMismatch(0)),
            Op(1, 18, 19, KvInput.Cas("x", 0, "e"), KvOutput.Ok(1)),
            Op(1, 20, 21, KvInput.Put("x", "f"), KvOutput.Ok(2)),
            Op(0, 22, 23, KvInput.Get("x"), KvOutput.Ok(2, "f"))));

    [Fact]
    public void WriteAfterDelete_RecreatesTheKeyAtVersionOne()
    {
        var prefix = new[]
        {
            Op(0, 0, 1, KvInput.Put("x", "a"), KvOutput.Ok(1)),
            Op(0, 2, 3, KvInput.Put("x", "b"), KvOutput.Ok(2)),
            Op(0, 4, 5, KvInput.Delete("x"), KvOutput.Ok(2)),
        };

        LinearizabilityAssert.Linearizable(History.Of([.. prefix, Op(0, 6, 7, KvInput.Put("x", "c"), KvOutput.Ok(1))]));
        LinearizabilityAssert.NotLinearizable(History.Of([.. prefix, Op(0, 6, 7, KvInput.Put("x", "c"), KvOutput.Ok(3))]));
    }

    [Fact]
    public void DeleteOfAPresentKey_AnswersTheVersionItHad()
    {
        var put = Op(0, 0, 1, KvInput.Put("x", "a"), KvOutput.Ok(1));

        LinearizabilityAssert.Linearizable(History.Of(put, Op(0, 2, 3, KvInput.Delete("x"), KvOutput.Ok(1))));
        LinearizabilityAssert.NotLinearizable(History.Of(put, Op(0, 2, 3, KvInput.Delete("x"), KvOutput.Ok(2))));
        LinearizabilityAssert.NotLinearizable(History.Of(put, Op(0, 2, 3, KvInput.Delete("x"), KvOutput.NotFound)));
    }

    [Fact]
    public void FailedCas_MustReportTheCurrentVersion()
    {
        var puts = new[]
        {
            Op(0, 0, 1, KvInput.Put("x", "a"), KvOutput.Ok(1)),
            Op(0, 2, 3, KvInput.Put("x", "b"), KvOutput.Ok(2)),
        };

        LinearizabilityAssert.Linearizable(History.Of([.. puts, Op(1, 4, 5, KvInput.Cas("x", 1, "c"), KvOutput.VersionMismatch(2))]));
        LinearizabilityAssert.NotLinearizable(History.Of([.. puts, Op(1, 4, 5, KvInput.Cas("x", 1, "c"), KvOutput.VersionMismatch(1))]));
    }

    [Fact]
    public void ConcurrentWrites_MayTakeEffectInEitherOrder()
    {
        // Both writes span [0, 100]; the versions they answered say b went first.
        var writes = new[]
        {
            Op(0, 0, 100, KvInput.Put("x", "a"), KvOutput.Ok(2)),
            Op(1, 0, 100, KvInput.Put("x", "b"), KvOutput.Ok(1)),
        };

        LinearizabilityAssert.Linearizable(History.Of([
            .. writes,
            Op(2, 10, 20, KvInput.Get("x"), KvOutput.NotFound),
            Op(2, 30, 40, KvInput.Get("x"), KvOutput.Ok(1, "b")),
            Op(2, 50, 60, KvInput.Get("x"), KvOutput.Ok(2, "a")),
        ]));
        LinearizabilityAssert.NotLinearizable(History.Of([
            .. writes,
            Op(2, 30, 40, KvInput.Get("x"), KvOutput.Ok(2, "a")),
            Op(2, 50, 60, KvInput.Get("x"), KvOutput.Ok(1, "b")),
        ]));
    }

    [Fact]
    public void ReadsConcurrentWithWrites_MaySeeAnyOfTheirValues()
    {
        var history = History.Of(
            Op(0, 0, 100, KvInput.Put("x", "a"), KvOutput.Ok(1)),
            Op(1, 10, 110, KvInput.Put("x", "b"), KvOutput.Ok(2)),
            Op(2, 5, 50, KvInput.Get("x"), KvOutput.NotFound),
            Op(3, 5, 50, KvInput.Get("x"), KvOutput.Ok(1, "a")),
            Op(4, 5, 50, KvInput.Get("x"), KvOutput.Ok(2, "b")),
            Op(5, 60, 105, KvInput.Get("x"), KvOutput.Ok(2, "b")));

        LinearizabilityAssert.Linearizable(history);
    }

    [Fact]
    public void StaleRead_AfterANewerWriteCompleted_IsRejected()
    {
        var result = LinearizabilityAssert.NotLinearizable(History.Of(
            Op(0, 0, 10, KvInput.Put("x", "a"), KvOutput.Ok(1)),
            Op(0, 20, 30, KvInput.Put("x", "b"), KvOutput.Ok(2)),
            Op(1, 40, 50, KvInput.Get("x"), KvOutput.Ok(1, "a"))));

        Assert.Equal("x", result.Key);
        Assert.Equal([0, 1], result.LongestPrefix);
        Assert.Equal([2], result.StuckOperations);
        Assert.Contains("#2", result.Explanation, StringComparison.Ordinal);
        Assert.Contains("would answer Ok \"b\" v2", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadOfAValueNeverWritten_IsRejected() =>
        LinearizabilityAssert.NotLinearizable(History.Of(
            Op(0, 0, 10, KvInput.Put("x", "a"), KvOutput.Ok(1)),
            Op(1, 5, 50, KvInput.Get("x"), KvOutput.Ok(1, "z"))));

    [Fact]
    public void ReadOfARightValueAtAWrongVersion_IsRejected() =>
        LinearizabilityAssert.NotLinearizable(History.Of(
            Op(0, 0, 10, KvInput.Put("x", "a"), KvOutput.Ok(1)),
            Op(1, 5, 50, KvInput.Get("x"), KvOutput.Ok(2, "a"))));

    [Fact]
    public void NewThenOldRead_OfConcurrentWrites_IsRejected()
    {
        // The writes overlap each other and both reads; the second read starts after the first returned.
        var history = History.Of(
            Op(0, 0, 100, KvInput.Put("x", "v1"), KvOutput.Ok(1)),
            Op(1, 0, 100, KvInput.Put("x", "v2"), KvOutput.Ok(2)),
            Op(2, 10, 20, KvInput.Get("x"), KvOutput.Ok(2, "v2")),
            Op(3, 30, 40, KvInput.Get("x"), KvOutput.Ok(1, "v1")));

        LinearizabilityAssert.NotLinearizable(history);
    }

    [Fact]
    public void TwoReadersObservingConcurrentWritesInOppositeOrders_AreRejected()
    {
        // The writers timed out, so nothing but the reads fixes the order of the writes, and each
        // reader's versions agree with the order it saw: only the combination is impossible.
        var writes = new[]
        {
            HistoryOperation.Pending(0, 0, KvInput.Put("x", "v1")),
            HistoryOperation.Pending(1, 0, KvInput.Put("x", "v2")),
        };
        var readerA = new[]
        {
            Op(2, 10, 20, KvInput.Get("x"), KvOutput.Ok(1, "v1")),
            Op(2, 30, 40, KvInput.Get("x"), KvOutput.Ok(2, "v2")),
        };

        LinearizabilityAssert.Linearizable(History.Of([.. writes, .. readerA,
            Op(3, 10, 20, KvInput.Get("x"), KvOutput.Ok(1, "v1")),
            Op(3, 30, 40, KvInput.Get("x"), KvOutput.Ok(2, "v2"))]));
        LinearizabilityAssert.NotLinearizable(History.Of([.. writes, .. readerA,
            Op(3, 10, 20, KvInput.Get("x"), KvOutput.Ok(1, "v2")),
            Op(3, 30, 40, KvInput.Get("x"), KvOutput.Ok(2, "v1"))]));
    }

    [Fact]
    public void CasSucceedingTwiceOnTheSameExpectedVersion_IsRejected() =>
        LinearizabilityAssert.NotLinearizable(History.Of(
            Op(0, 0, 10, KvInput.Put("x", "a"), KvOutput.Ok(1)),
            Op(1, 20, 40, KvInput.Cas("x", 1, "b"), KvOutput.Ok(2)),
            Op(2, 20, 40, KvInput.Cas("x", 1, "c"), KvOutput.Ok(2))));

    [Fact]
    public void CreateIfAbsentSucceedingTwice_IsRejected()
    {
        var first = Op(0, 0, 40, KvInput.Cas("x", 0, "a"), KvOutput.Ok(1));

        LinearizabilityAssert.Linearizable(History.Of(first, Op(1, 0, 40, KvInput.Cas("x", 0, "b"), KvOutput.VersionMismatch(1))));
        LinearizabilityAssert.NotLinearizable(History.Of(first, Op(1, 0, 40, KvInput.Cas("x", 0, "b"), KvOutput.Ok(1))));
    }

    [Fact]
    public void OperationsMeetingAtOneTick_CountAsConcurrent()
    {
        // The clock cannot order a return and an invocation at the same tick, so neither may the checker.
        var put = Op(0, 0, 10, KvInput.Put("x", "a"), KvOutput.Ok(1));

        LinearizabilityAssert.Linearizable(History.Of(put, Op(1, 10, 20, KvInput.Get("x"), KvOutput.NotFound)));
        LinearizabilityAssert.NotLinearizable(History.Of(put, Op(1, 11, 20, KvInput.Get("x"), KvOutput.NotFound)));
    }

    [Fact]
    public void Keys_AreCheckedIndependently_AndTheBrokenOneIsNamed()
    {
        var result = LinearizabilityAssert.NotLinearizable(History.Of(
            Op(0, 0, 10, KvInput.Put("x", "a"), KvOutput.Ok(1)),
            Op(1, 0, 10, KvInput.Put("y", "a"), KvOutput.Ok(1)),
            Op(0, 20, 30, KvInput.Get("x"), KvOutput.Ok(1, "a")),
            Op(1, 20, 30, KvInput.Get("y"), KvOutput.NotFound)));

        Assert.Equal("y", result.Key);
        Assert.Equal([3], result.StuckOperations);
    }

    [Fact]
    public void KeysFromBytes_AreRecordedAsHex()
    {
        byte[] key = [0xCA, 0xFE];
        byte[] value = [0x01];

        var result = LinearizabilityAssert.NotLinearizable(History.Of(
            Op(0, 0, 10, KvInput.Put(key, value), KvOutput.Ok(1)),
            Op(0, 20, 30, KvInput.Get(key), KvOutput.NotFound)));

        Assert.Equal("CAFE", result.Key);
    }

    [Fact]
    public void ExhaustedBudget_AnswersUnknown_WhichIsNotLinearizable()
    {
        var history = History.Of(
            Op(0, 0, 10, KvInput.Put("x", "a"), KvOutput.Ok(1)),
            Op(1, 0, 10, KvInput.Put("x", "b"), KvOutput.Ok(2)),
            Op(2, 20, 30, KvInput.Get("x"), KvOutput.Ok(2, "b")));

        var result = LinearizabilityChecker.Check(history, new CheckBudget(1, TimeSpan.FromMinutes(1)));

        Assert.Equal(LinearizabilityVerdict.Unknown, result.Verdict);
        Assert.False(result.IsLinearizable);
        Assert.Equal("x", result.Key);
    }

    private static HistoryOperation Op(int client, long invoke, long @return, KvInput input, KvOutput output) =>
        HistoryOperation.Completed(client, invoke, @return, input, output);
}
