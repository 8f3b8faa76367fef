namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>
/// Operations whose client timed out: they may have taken effect at any point after their
/// invocation, or never, and their output is unknown.
/// </summary>
public sealed class PendingOperationTests
{
    private static readonly HistoryOperation PendingPut = HistoryOperation.Pending(0, 0, KvInput.Put("x", "a"));

    [Fact]
    public void PendingWrite_MayHaveTakenEffect()
    {
        LinearizabilityAssert.Linearizable(History.Of(PendingPut, Op(1, 10, 20, KvInput.Get("x"), KvOutput.Ok(1, "a"))));
        LinearizabilityAssert.Linearizable(History.Of(PendingPut, Op(1, 10, 20, KvInput.Put("x", "b"), KvOutput.Ok(2))));
    }

    [Fact]
    public void PendingWrite_MayNeverHaveTakenEffect()
    {
        LinearizabilityAssert.Linearizable(History.Of(PendingPut, Op(1, 10, 20, KvInput.Get("x"), KvOutput.NotFound)));
        LinearizabilityAssert.Linearizable(History.Of(PendingPut, Op(1, 10, 20, KvInput.Put("x", "b"), KvOutput.Ok(1))));
    }

    [Fact]
    public void PendingWrite_OnceSeen_StaysSeen() =>
        LinearizabilityAssert.NotLinearizable(History.Of(
            PendingPut,
            Op(1, 10, 20, KvInput.Get("x"), KvOutput.Ok(1, "a")),
            Op(1, 30, 40, KvInput.Get("x"), KvOutput.NotFound)));

    [Fact]
    public void PendingWrite_CannotTakeEffectBeforeItsInvocation() =>
        LinearizabilityAssert.NotLinearizable(History.Of(
            Op(1, 0, 10, KvInput.Get("x"), KvOutput.Ok(1, "a")),
            HistoryOperation.Pending(0, 20, KvInput.Put("x", "a"))));

    [Fact]
    public void PendingCas_MayHaveSucceededOrNot()
    {
        var prefix = new[]
        {
            Op(0, 0, 10, KvInput.Put("x", "a"), KvOutput.Ok(1)),
            HistoryOperation.Pending(1, 20, KvInput.Cas("x", 1, "b")),
        };

        LinearizabilityAssert.Linearizable(History.Of([.. prefix, Op(2, 30, 40, KvInput.Get("x"), KvOutput.Ok(2, "b"))]));
        LinearizabilityAssert.Linearizable(History.Of([.. prefix, Op(2, 30, 40, KvInput.Get("x"), KvOutput.Ok(1, "a"))]));
        LinearizabilityAssert.Linearizable(History.Of([.. prefix, Op(2, 30, 40, KvInput.Put("x", "c"), KvOutput.Ok(3))]));
        LinearizabilityAssert.Linearizable(History.Of([.. prefix, Op(2, 30, 40, KvInput.Put("x", "c"), KvOutput.Ok(2))]));

        // Had it succeeded after the Put to "c" (version 2), its expected version 1 would not have matched.
        LinearizabilityAssert.NotLinearizable(History.Of([.. prefix,
            Op(2, 30, 40, KvInput.Put("x", "c"), KvOutput.Ok(2)),
            Op(2, 50, 60, KvInput.Get("x"), KvOutput.Ok(3, "b"))]));
    }

    [Fact]
    public void PendingDelete_MayHaveTakenEffectOrNot()
    {
        var prefix = new[]
        {
            Op(0, 0, 10, KvInput.Put("x", "a"), KvOutput.Ok(1)),
            HistoryOperation.Pending(1, 20, KvInput.Delete("x")),
        };

        LinearizabilityAssert.Linearizable(History.Of([.. prefix, Op(2, 30, 40, KvInput.Get("x"), KvOutput.NotFound)]));
        LinearizabilityAssert.Linearizable(History.Of([.. prefix, Op(2, 30, 40, KvInput.Get("x"), KvOutput.Ok(1, "a"))]));
    }

    [Fact]
    public void PendingRead_ConstrainsNothing() =>
        LinearizabilityAssert.Linearizable(History.Of(
            HistoryOperation.Pending(0, 0, KvInput.Get("x")),
            Op(1, 10, 20, KvInput.Put("x", "a"), KvOutput.Ok(1))));

    [Fact]
    public void ManyPendingWrites_MustStillBeSeenInOneOrder()
    {
        var writes = Enumerable.Range(1, 6).Select(i => HistoryOperation.Pending(i, 0, KvInput.Put("x", $"v{i}"))).ToArray();

        LinearizabilityAssert.Linearizable(History.Of([.. writes,
            Op(0, 10, 20, KvInput.Get("x"), KvOutput.Ok(2, "v4")),
            Op(0, 30, 40, KvInput.Get("x"), KvOutput.Ok(3, "v1")),
            Op(0, 50, 60, KvInput.Get("x"), KvOutput.Ok(6, "v6"))]));
        LinearizabilityAssert.NotLinearizable(History.Of([.. writes,
            Op(0, 10, 20, KvInput.Get("x"), KvOutput.Ok(2, "v4")),
            Op(0, 30, 40, KvInput.Get("x"), KvOutput.Ok(3, "v1")),
            Op(0, 50, 60, KvInput.Get("x"), KvOutput.Ok(4, "v4"))]));
    }

    private static HistoryOperation Op(int client, long invoke, long @return, KvInput input, KvOutput output) =>
        HistoryOperation.Completed(client, invoke, @return, input, output);
}
