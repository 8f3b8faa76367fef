namespace Heraclius.KvStore.Tests.Linearizability;

public sealed class HistoryRecorderTests
{
    [Fact]
    public void Recorder_TimesCallsWithItsClock_AndLeavesUnansweredCallsPending()
    {
        long now = 0;
        var recorder = new HistoryRecorder(() => ++now);

        var put = recorder.Invoke(1, KvInput.Put("x", "a"));
        var get = recorder.Invoke(2, KvInput.Get("x"));
        recorder.Return(put, KvOutput.Ok(1));
        var history = recorder.ToHistory();

        Assert.Equal(2, history.Count);
        Assert.Equal(HistoryOperation.Completed(1, 1, 3, KvInput.Put("x", "a"), KvOutput.Ok(1)), history.Operations[0]);
        Assert.Equal(HistoryOperation.Pending(2, 2, KvInput.Get("x")), history.Operations[1]);
        Assert.True(history.Operations[1].IsPending);
        Assert.Equal(long.MaxValue, history.Operations[1].ReturnTicks);
    }

    [Fact]
    public void ReturningACallTwice_Throws()
    {
        var recorder = new HistoryRecorder();
        var call = recorder.Invoke(1, KvInput.Delete("x"));
        recorder.Return(call, KvOutput.NotFound);

        Assert.Throws<InvalidOperationException>(() => recorder.Return(call, KvOutput.NotFound));
        Assert.Throws<ArgumentOutOfRangeException>(() => recorder.Return(new CallHandle(5), KvOutput.NotFound));
    }

    [Fact]
    public void OperationReturningBeforeItWasInvoked_IsRefused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => HistoryOperation.Completed(0, 10, 9, KvInput.Get("x"), KvOutput.NotFound));

    [Fact]
    public async Task Recorder_KeepsEveryCallFromConcurrentClients()
    {
        var recorder = new HistoryRecorder();
        var clients = Enumerable.Range(0, 4).Select(c => Task.Run(() =>
        {
            for (var i = 0; i < 1000; i++)
            {
                var call = recorder.Invoke(c, KvInput.Get($"k{c}"));
                recorder.Return(call, KvOutput.NotFound);
            }
        }, TestContext.Current.CancellationToken));
        await Task.WhenAll(clients);

        var history = recorder.ToHistory();
        Assert.Equal(4000, history.Count);
        Assert.All(history.Operations, op => Assert.False(op.IsPending));
        Assert.All(history.Operations, op => Assert.True(op.InvokeTicks <= op.ReturnTicks));
        LinearizabilityAssert.Linearizable(history);
    }
}
