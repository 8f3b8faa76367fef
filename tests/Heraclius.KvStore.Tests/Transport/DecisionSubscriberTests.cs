using System.Diagnostics;
using Heraclius.KvStore.Topology;
using Heraclius.KvStore.Transport;

namespace Heraclius.KvStore.Tests.Transport;

/// <summary>
/// One node's subscription to a 4-node source cluster over real gRPC on loopback, against source
/// nodes that are honest, dead, or serve garbage, nothing, or only old groups. The sink verifies
/// real QCs and Merkle proofs, so what it takes is what a replica would take.
/// </summary>
public sealed class DecisionSubscriberTests : IAsyncLifetime
{
    private const int Count = 10;
    private const int SelfIndex = 1;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly SubscriptionTestbed _bed = SubscriptionTestbed.Create();
    private readonly ClusterInfo _source;
    private readonly NodeInfo _self;
    private readonly IReadOnlyList<(ulong Height, byte[] Bytes)> _items;
    private readonly VerifyingInboundSink _sink;
    private readonly InboundMetrics _metrics;
    private readonly InboundMetricRecorder _recorder;
    private DecisionSubscriber? _subscriber;

    public DecisionSubscriberTests()
    {
        _source = _bed.Shard();
        _self = _bed.Coordinator().Nodes[SelfIndex];
        _items = _bed.Decisions(_source, _self.ClusterId, Count);
        _sink = new VerifyingInboundSink(_bed.Topology, _self.ClusterId);
        _recorder = new InboundMetricRecorder(_self.Id);
        _metrics = new InboundMetrics(_self.Id);
    }

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_subscriber is not null)
        {
            await _subscriber.DisposeAsync();
        }

        await _bed.DisposeAsync();
        _metrics.Dispose();
        _recorder.Dispose();
    }

    [Fact]
    public async Task HonestNode_DeliversEveryDecisionInOrder_FromResumeAfter_ThenResumesFromTheNewHeight()
    {
        var feeds = await _bed.StartClusterAsync(_source, _self.ClusterId, _items);
        _sink.SetCursor(_source.Id, 3);

        var subscriber = Subscribe();
        await WaitForAll(from: 4);

        Assert.Equal([4UL, 5, 6, 7, 8, 9, 10], _sink.Accepted(_source.Id));
        Assert.True(feeds[SelfIndex].Requests.TryPeek(out var first));
        Assert.Equal((_self.ClusterId, 3UL), first);
        Assert.Equal(0, subscriber.Stats.Invalid);
        Assert.Equal(0, subscriber.Stats.Failures);

        // Nothing new arrives, so the subscription moves on at the stall timeout, asking the next
        // node only for what it does not hold.
        await Eventually.WaitUntil(() => feeds[(SelfIndex + 1) % 4].Requests.Contains((_self.ClusterId, 10UL)), "a resubscription to the next node after height 10", Patience);
        Assert.Equal(Count - 3, subscriber.Stats.Accepted);
        Assert.Equal(Count - 3, _recorder.Sum("heraclius.inbound.decisions.accepted", ("source", _source.Id)));
    }

    [Fact]
    public async Task GarbageAtFirstNode_RotatesToTheNext_CountsTheInvalid_AndReceivesEverything()
    {
        var feeds = await _bed.StartClusterAsync(_source, _self.ClusterId, _items, FeedBehaviour.Honest, FeedBehaviour.Garbage);

        // A stall timeout far beyond the test: the garbage node must be left for serving garbage.
        var subscriber = Subscribe(SubscriptionTestbed.FastOptions(stallTimeoutMs: 60_000));
        await WaitForAll();

        Assert.Equal(Range(1, Count), _sink.Accepted(_source.Id));
        Assert.NotEmpty(feeds[SelfIndex].Requests);
        Assert.NotEmpty(feeds[SelfIndex + 1].Requests);
        var stats = subscriber.Stats;
        Assert.True(stats.Invalid >= 1, stats.ToString());
        Assert.Equal(stats.Invalid, stats.Rotations);
        Assert.True(_recorder.Sum("heraclius.inbound.decisions.invalid", ("source", _source.Id)) >= 1);
        Assert.True(_recorder.Sum("heraclius.inbound.rotations", ("source", _source.Id), ("reason", "invalid")) >= 1);
    }

    [Fact]
    public async Task WithholdingFirstNode_IsLeftAfterTheStallTimeout_AndEverythingArrives()
    {
        var feeds = await _bed.StartClusterAsync(_source, _self.ClusterId, _items, FeedBehaviour.Honest, FeedBehaviour.Withholding);

        var subscriber = Subscribe();
        await WaitForAll();

        Assert.Equal(Range(1, Count), _sink.Accepted(_source.Id));
        Assert.NotEmpty(feeds[SelfIndex].Requests);
        Assert.True(subscriber.Stats.Rotations >= 1);
        Assert.Equal(0, subscriber.Stats.Invalid);
        Assert.True(_recorder.Sum("heraclius.inbound.rotations", ("source", _source.Id), ("reason", "stalled")) >= 1);
    }

    [Fact]
    public async Task NodeServingOnlyOldGroups_IsLeftAfterTheStallTimeout_AndEverythingArrives()
    {
        _sink.SetCursor(_source.Id, 2);
        await _bed.StartClusterAsync(_source, _self.ClusterId, _items, FeedBehaviour.Honest, FeedBehaviour.Stale);

        var subscriber = Subscribe();
        await WaitForAll(from: 3);

        Assert.Equal(Range(3, Count), _sink.Accepted(_source.Id));
        Assert.True(subscriber.Stats.Stale >= 1);
        Assert.True(subscriber.Stats.Rotations >= 1);
        Assert.True(_recorder.Sum("heraclius.inbound.decisions.stale", ("source", _source.Id)) >= 1);
    }

    [Fact]
    public async Task EveryNodeDead_KeepsRetryingWithoutThrowing_AndRecoversWhenOneComesBack()
    {
        // Connections are refused at once, so only the stall timeout could move the subscription
        // off the node that comes back; keep it out of the way.
        var subscriber = Subscribe(SubscriptionTestbed.FastOptions(stallTimeoutMs: 60_000));

        // Two full rounds of refused connections: the loop is alive and backing off, not stopped.
        await Eventually.WaitUntil(() => subscriber.Stats.Failures >= 2 * _source.N, "two rounds of failed subscriptions", Patience);
        Assert.NotNull(subscriber.Stats.LastFailure);
        Assert.Empty(_sink.Accepted(_source.Id));

        var back = (SelfIndex + 2) % _source.N;
        var feed = new ScriptedDecisionFeed(_self.ClusterId, _items);
        await _bed.StartNodeAsync(_source, back, feed);
        await WaitForAll();

        Assert.Equal(Range(1, Count), _sink.Accepted(_source.Id));
        Assert.Equal(back, subscriber.Stats.NodeIndex);
        Assert.True(_recorder.Sum("heraclius.inbound.failures", ("source", _source.Id)) >= 2 * _source.N);
    }

    [Fact]
    public async Task Overloaded_PausesAndResubscribesToTheSameNode_FromResumeAfter()
    {
        var feeds = await _bed.StartClusterAsync(_source, _self.ClusterId, _items);
        _sink.OverloadFirst = 3;

        // A stall timeout far beyond the test, so any move to another node would be a bug.
        var subscriber = Subscribe(SubscriptionTestbed.FastOptions(stallTimeoutMs: 60_000));
        await WaitForAll();

        Assert.Equal(Range(1, Count), _sink.Accepted(_source.Id));
        var stats = subscriber.Stats;
        Assert.Equal(3, stats.Overloaded);
        Assert.Equal(0, stats.Rotations);
        Assert.Equal(SelfIndex, stats.NodeIndex);
        Assert.True(feeds[SelfIndex].Requests.Count >= 4);
        Assert.All(feeds[SelfIndex].Requests, r => Assert.Equal((_self.ClusterId, 0UL), r));
        Assert.All(feeds.Where((_, i) => i != SelfIndex), f => Assert.Empty(f.Requests));
    }

    [Fact]
    public async Task Dispose_StopsPromptly_EndsTheCall_AndTheGaugeReturnsToZero()
    {
        var feeds = await _bed.StartClusterAsync(_source, _self.ClusterId, _items, FeedBehaviour.Withholding, FeedBehaviour.Withholding);
        var subscriber = Subscribe(SubscriptionTestbed.FastOptions(stallTimeoutMs: 60_000));
        await Eventually.WaitUntil(() => feeds[SelfIndex].Active == 1 && subscriber.Stats.Subscribed, "an open subscription", Patience);
        Assert.Equal(1, _recorder.Gauge("heraclius.inbound.subscriptions.active"));

        var clock = Stopwatch.StartNew();
        await subscriber.DisposeAsync();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"dispose took {clock.Elapsed}");

        await Eventually.WaitUntil(() => feeds[SelfIndex].Active == 0, "the source node to see the call end", Patience);
        Assert.False(subscriber.Stats.Subscribed);
        Assert.Equal(0, _recorder.Gauge("heraclius.inbound.subscriptions.active"));
    }

    [Fact]
    public async Task Dispose_WhileBackingOffFromDeadNodes_StopsPromptly()
    {
        var subscriber = Subscribe(new InboundSubscriptionOptions { StallTimeoutMs = 300, RetryBackoffMs = 2000, MaxBackoffMs = 60_000 });
        await Eventually.WaitUntil(() => subscriber.Stats.Failures >= 1, "a failed subscription", Patience);

        var clock = Stopwatch.StartNew();
        await subscriber.DisposeAsync();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"dispose took {clock.Elapsed}");
    }

    private static ulong[] Range(int from, int to) => [.. Enumerable.Range(from, to - from + 1).Select(i => (ulong)i)];

    private DecisionSubscriber Subscribe(InboundSubscriptionOptions? options = null) =>
        _subscriber = new DecisionSubscriber(_self, _source, _sink, options ?? SubscriptionTestbed.FastOptions(), _metrics);

    private Task WaitForAll(int from = 1) =>
        Eventually.WaitUntil(() => _sink.Accepted(_source.Id).Length == Count - from + 1, $"decisions {from}..{Count} from {_source.Id}", Patience);
}
