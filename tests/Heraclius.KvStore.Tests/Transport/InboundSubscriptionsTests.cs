using Heraclius.KvStore.Topology;
using Heraclius.KvStore.Transport;

namespace Heraclius.KvStore.Tests.Transport;

/// <summary>Which clusters a node subscribes to, and a coordinator receiving from two shard clusters over real gRPC.</summary>
public sealed class InboundSubscriptionsTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task CoordinatorsReceiveFromEveryShard_ShardsFromEveryCoordinator()
    {
        await using var bed = SubscriptionTestbed.Create(coordinators: 2, shards: 3);
        var coordinator = bed.Coordinator(1).Nodes[2];
        var shard = bed.Shard(2).Nodes[0];

        await using (var subs = new InboundSubscriptions(bed.Topology, coordinator, new VerifyingInboundSink(bed.Topology, coordinator.ClusterId)))
        {
            Assert.Equal([.. bed.Topology.Shards.Select(s => s.Id)], subs.Sources);
            Assert.Equal(subs.Sources, subs.GetStats().Select(s => s.SourceCluster));
        }

        await using (var subs = new InboundSubscriptions(bed.Topology, shard, new VerifyingInboundSink(bed.Topology, shard.ClusterId)))
        {
            Assert.Equal([.. bed.Topology.Coordinators.Select(s => s.Id)], subs.Sources);
            Assert.Equal(bed.Coordinator(0).Id, subs.GetStats(bed.Coordinator(0).Id).SourceCluster);
            Assert.Throws<KeyNotFoundException>(() => subs.GetStats(bed.Shard(0).Id));
        }
    }

    [Fact]
    public async Task TopologyWithoutTheOtherKind_SubscribesToNothing()
    {
        await using var bed = SubscriptionTestbed.Create(coordinators: 2, shards: 0);
        var node = bed.Coordinator(0).Nodes[0];

        await using var subs = new InboundSubscriptions(bed.Topology, node, new VerifyingInboundSink(bed.Topology, node.ClusterId));

        Assert.Empty(subs.Sources);
        Assert.Empty(subs.GetStats());
    }

    [Fact]
    public async Task NodeOutsideTheTopology_OrBadOptions_AreRefused()
    {
        await using var bed = SubscriptionTestbed.Create();
        var node = bed.Coordinator().Nodes[0];
        var sink = new VerifyingInboundSink(bed.Topology, node.ClusterId);

        Assert.Throws<ArgumentException>(() => new InboundSubscriptions(bed.Topology, node with { Id = "stranger" }, sink));
        Assert.Throws<ArgumentException>(() => new InboundSubscriptions(bed.Topology, node, sink, new InboundSubscriptionOptions { MaxBackoffMs = 1, RetryBackoffMs = 10 }));
        Assert.False(new InboundSubscriptionOptionsValidator().Validate(null, new InboundSubscriptionOptions { StallTimeoutMs = 0 }).Succeeded);
        Assert.True(new InboundSubscriptionOptionsValidator().Validate(null, new InboundSubscriptionOptions()).Succeeded);
    }

    [Fact]
    public async Task Coordinator_ReceivesEveryShardsChain_PastAFaultyShardNode()
    {
        await using var bed = SubscriptionTestbed.Create(coordinators: 1, shards: 2);
        var self = bed.Coordinator().Nodes[3];
        var sink = new VerifyingInboundSink(bed.Topology, self.ClusterId);
        var s0 = bed.Shard(0);
        var s1 = bed.Shard(1);
        await bed.StartClusterAsync(s0, self.ClusterId, bed.Decisions(s0, self.ClusterId, 5));
        await bed.StartClusterAsync(s1, self.ClusterId, bed.Decisions(s1, self.ClusterId, 7), FeedBehaviour.Honest, FeedBehaviour.Honest, FeedBehaviour.Honest, FeedBehaviour.Garbage);
        using var recorder = new InboundMetricRecorder(self.Id);

        // A stall timeout far beyond the test: the garbage node must be left for serving garbage.
        await using var subs = new InboundSubscriptions(bed.Topology, self, sink, SubscriptionTestbed.FastOptions(stallTimeoutMs: 60_000));
        await Eventually.WaitUntil(
            () => sink.Accepted(s0.Id).Length == 5 && sink.Accepted(s1.Id).Length == 7,
            "both shards' chains",
            Patience);

        Assert.Equal([1UL, 2, 3, 4, 5], sink.Accepted(s0.Id));
        Assert.Equal([1UL, 2, 3, 4, 5, 6, 7], sink.Accepted(s1.Id));
        Assert.Equal(0, subs.GetStats(s0.Id).Invalid);
        Assert.True(subs.GetStats(s1.Id).Invalid >= 1, subs.GetStats(s1.Id).ToString());
        Assert.Equal(5, recorder.Sum("heraclius.inbound.decisions.accepted", ("source", s0.Id)));
        Assert.Equal(7, recorder.Sum("heraclius.inbound.decisions.accepted", ("source", s1.Id)));
    }
}
