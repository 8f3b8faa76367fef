using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.Routing;
using Heraclius.KvStore.Simulation;
using Heraclius.Testing.Cluster;

namespace Heraclius.KvStore.Tests.MultiCluster;

/// <summary>
/// A coordinator leader that holds one shard's answer waits, for at most <see cref="ReplicaOptions.InboundCoalesceMs"/>,
/// for the answers the other shards still owe it, so that one decision answers work that went to several shards.
/// </summary>
public sealed class InboundCoalescingTests
{
    private static byte[] B(string s) => System.Text.Encoding.UTF8.GetBytes(s);

    /// <summary>Two keys, the first on s0 and the second on s1.</summary>
    private static (byte[] OnS0, byte[] OnS1) KeysOnBothShards(MultiTopology t)
    {
        var router = new ShardRouter(t.Topology);
        var keys = Enumerable.Range(0, 100).Select(i => B($"key-{i}")).ToList();
        return (keys.First(k => router.ShardOf(k) == "s0"), keys.First(k => router.ShardOf(k) == "s1"));
    }

    private static InMemoryClusters Run(int coalesceMs, int s1DelayMs, out MultiTopology t)
    {
        t = new MultiTopology(1, 2);
        var options = InMemoryClusters.DefaultOptions();
        options.InboundCoalesceMs = coalesceMs;
        var h = new InMemoryClusters(t.Topology, t.NodeKeys, options);
        h.InboundDelayMs["s1"] = s1DelayMs;
        var (onS0, onS1) = KeysOnBothShards(t);

        // Let the clusters settle (first decisions, idle), so that the leader would otherwise propose at once.
        h.Run(200);
        var batch = ClientBatch.Create("client-0", "c0",
            [new ClientRequest(1, KvOperation.Put(onS0, B("zero")).ToBytes()), new ClientRequest(2, KvOperation.Put(onS1, B("one")).ToBytes())],
            t.ClientKeys[0]);
        Assert.True(h.Submit("c0", 0, batch).Accepted);
        Assert.True(h.RunUntil(() => h.ReplyTo("client-0", 1) is not null && h.ReplyTo("client-0", 2) is not null));
        Assert.Equal(KvStatus.Ok, KvResult.Parse(h.ReplyTo("client-0", 1)!.Result).Status);
        Assert.Equal(KvStatus.Ok, KvResult.Parse(h.ReplyTo("client-0", 2)!.Result).Status);
        Assert.Null(h.Converge());
        Assert.All(h.Replicas.Values.SelectMany(r => r), r => Assert.Empty(r.Rejections));
        return h;
    }

    [Fact]
    public void AShardsAnswerThatComesAFewMillisecondsLater_IsTakenByTheSameCoordinatorDecision()
    {
        var h = Run(coalesceMs: 5, s1DelayMs: 3, out _);
        Assert.Equal(h.AnsweredAt[("client-0", 1)].Height, h.AnsweredAt[("client-0", 2)].Height);
    }

    [Fact]
    public void WithoutTheWait_TheSameAnswersTakeTwoCoordinatorDecisions()
    {
        // The control for the test above: the delay of s1's answer alone separates them.
        var h = Run(coalesceMs: 0, s1DelayMs: 3, out _);
        Assert.True(h.AnsweredAt[("client-0", 1)].Height < h.AnsweredAt[("client-0", 2)].Height);
    }

    [Fact]
    public void AShardThatIsLate_HoldsTheOthersAnswersForAtMostTheWait()
    {
        var h = Run(coalesceMs: 5, s1DelayMs: 150, out _);
        var first = h.AnsweredAt[("client-0", 1)];
        var second = h.AnsweredAt[("client-0", 2)];
        Assert.True(first.Height < second.Height);
        // s0's answer went out long before s1's arrived: the wait ended after 5 ms, not at s1's answer.
        Assert.True(second.At - first.At > 100, $"s0 answered at {first.At}, s1 at {second.At}");
    }

    [Fact]
    public void TheWait_IsBoundedByTheViewChangeTimeout()
    {
        Assert.Throws<ArgumentException>(() => new ReplicaOptions { ViewChangeTimeoutMs = 100, StallThresholdMs = 0, InboundCoalesceMs = 26 }.Validate());
        Assert.Throws<ArgumentException>(() => new ReplicaOptions { InboundCoalesceMs = -1 }.Validate());
        new ReplicaOptions { ViewChangeTimeoutMs = 100, StallThresholdMs = 0, InboundCoalesceMs = 25 }.Validate();
    }
}
