using Heraclius.KvStore.KeyValue;

namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>
/// Thousands of operations from concurrent clients: stores that are atomic by construction must
/// pass, stores with a planted bug must fail, and the checker must finish either way (no timing
/// assertion, but Unknown fails the test).
/// </summary>
public sealed class ConcurrentHistoryTests
{
    private const int Keys = 5;

    private readonly ITestOutputHelper _output;

    public ConcurrentHistoryTests(ITestOutputHelper output)
    {
        _output = output;
    }

    [Fact]
    public async Task ThreadsAgainstALockedStore_RecordALinearizableHistory()
    {
        var store = new LockedKvStore();
        var recorder = new HistoryRecorder();
        using var start = new Barrier(4);
        var threads = Enumerable.Range(0, 4).Select(client => Task.Factory.StartNew(
            () =>
            {
                // Without a common start the first thread may finish before the last begins.
                start.SignalAndWait(TestContext.Current.CancellationToken);
                RunClient(client, 500, store, recorder);
            },
            TestContext.Current.CancellationToken,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default));
        await Task.WhenAll(threads);

        var history = recorder.ToHistory();
        Assert.Equal(2000, history.Count);
        LinearizabilityAssert.Linearizable(history);
        _output.WriteLine($"{Overlapping(history)} of 2000 operations overlapped another");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void SimulatedClientsAgainstALockedStore_RecordALinearizableHistory(int seed)
    {
        var store = new LockedKvStore();
        var history = new SimulatedKvClients(seed, clients: 12, keys: Keys, pendingRate: 0.02).Run(2000, store.Execute);

        Assert.Equal(2000, history.Count);
        Assert.Contains(history.Operations, op => op.IsPending);
        LinearizabilityAssert.Linearizable(history);
    }

    [Fact]
    public void ManyClientsOnOneHotKey_RecordALinearizableHistory()
    {
        // Thirty clients on one key overlap dozens deep, with timeouts: the hard case for the search.
        var store = new LockedKvStore();
        var history = new SimulatedKvClients(seed: 1, clients: 30, keys: 1, pendingRate: 0.02).Run(2000, store.Execute);

        LinearizabilityAssert.Linearizable(history);
    }

    [Fact]
    public void SimulatedClientsAgainstAStoreWithLaggingReads_AreCaught()
    {
        var store = new LaggingReadKvStore(refreshEvery: 10);
        var history = new SimulatedKvClients(seed: 7, clients: 12, keys: Keys, pendingRate: 0.02).Run(2000, store.Execute);

        var result = LinearizabilityAssert.NotLinearizable(history);
        Assert.Contains(result.StuckOperations, i => history.Operations[i].Input.Kind == KvOperationKind.Get);
    }

    [Fact]
    public void SimulatedClientsAgainstAStoreThatAcknowledgesLostWrites_AreCaught()
    {
        var store = new LockedKvStore();
        var random = new Random(11);

        // One Put in fifty is acknowledged with the version it would have had, and dropped.
        KvResult Lossy(KvOperation op) =>
            op.Op == KvOpCode.Put && random.Next(50) == 0
                ? new KvResult(KvStatus.Ok, store.Execute(KvOperation.Get(op.Key)).Version + 1, [])
                : store.Execute(op);

        var history = new SimulatedKvClients(seed: 5, clients: 12, keys: Keys, pendingRate: 0.02).Run(2000, Lossy);

        LinearizabilityAssert.NotLinearizable(history);
    }

    /// <summary>One client thread: random operations, a Cas on the version it last saw, and a rare pause to shuffle interleavings.</summary>
    private static void RunClient(int client, int operations, LockedKvStore store, HistoryRecorder recorder)
    {
        var random = new Random(client);
        var lastSeen = new ulong[Keys];
        for (var i = 0; i < operations; i++)
        {
            var k = random.Next(Keys);
            var key = System.Text.Encoding.UTF8.GetBytes($"k{k}");
            var value = System.Text.Encoding.UTF8.GetBytes($"c{client}-{i}");
            var op = random.Next(10) switch
            {
                < 4 => KvOperation.Get(key),
                < 6 => KvOperation.Put(key, value),
                < 9 => KvOperation.Cas(key, lastSeen[k], value),
                _ => KvOperation.Delete(key),
            };
            var input = KvInput.From(op);
            var call = recorder.Invoke(client, input);

            // Request and answer take a while, as on a network, so other clients' operations overlap this one.
            Thread.SpinWait(random.Next(2000));
            var output = KvOutput.From(store.Execute(op), input.Kind);
            Thread.SpinWait(random.Next(2000));
            recorder.Return(call, output);
            lastSeen[k] = op.Op == KvOpCode.Delete ? 0 : output.Version;
        }
    }

    private static int Overlapping(History history)
    {
        var byInvoke = history.Operations.OrderBy(op => op.InvokeTicks).ToArray();
        var overlapping = 0;
        var latestReturn = long.MinValue;
        for (var i = 0; i < byInvoke.Length; i++)
        {
            var overlapsEarlier = byInvoke[i].InvokeTicks <= latestReturn;
            var overlapsLater = i + 1 < byInvoke.Length && byInvoke[i + 1].InvokeTicks <= byInvoke[i].ReturnTicks;
            overlapping += overlapsEarlier || overlapsLater ? 1 : 0;
            latestReturn = Math.Max(latestReturn, byInvoke[i].ReturnTicks);
        }

        return overlapping;
    }
}
