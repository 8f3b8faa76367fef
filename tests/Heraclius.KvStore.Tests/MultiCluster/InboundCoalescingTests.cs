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

    private static InMemoryClusters Run(int coalesceMs, int s1DelayMs, out long submittedAt)
    {
        var t = new MultiTopology(1, 2);
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
        submittedAt = h.Now;
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
        var h = Run(coalesceMs: 5, s1DelayMs: 3, out var submitted);
        Assert.Equal(h.AnsweredAt[("client-0", 1)].Height, h.AnsweredAt[("client-0", 2)].Height);

        // And sooner than the two decisions it replaces.
        var without = Run(coalesceMs: 0, s1DelayMs: 3, out var submittedWithout);
        Assert.True(h.AnsweredAt[("client-0", 2)].At - submitted < without.AnsweredAt[("client-0", 2)].At - submittedWithout);
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
        var h = Run(coalesceMs: 5, s1DelayMs: 150, out var submitted);
        var baseline = Run(coalesceMs: 0, s1DelayMs: 150, out var submittedBaseline);
        var first = h.AnsweredAt[("client-0", 1)];
        var second = h.AnsweredAt[("client-0", 2)];
        Assert.True(first.Height < second.Height);
        // s0's answer went out long before s1's arrived: the wait ended after 5 ms (plus a tick), not at s1's answer.
        var waited = (first.At - submitted) - (baseline.AnsweredAt[("client-0", 1)].At - submittedBaseline);
        Assert.InRange(waited, 0, 6);
    }

    /// <summary>Per-request latency at c1 after c0 asked the shard once and then went quiet.</summary>
    private static List<long> LatenciesThroughSecondCoordinator(int coalesceMs)
    {
        var t = new MultiTopology(2, 1);
        var options = InMemoryClusters.DefaultOptions();
        options.InboundCoalesceMs = coalesceMs;
        var h = new InMemoryClusters(t.Topology, t.NodeKeys, options);
        h.Run(200);
        Assert.True(h.Submit("c0", 0, ClientBatch.Create("client-0", "c0", [new ClientRequest(1, KvOperation.Put(B("k"), B("x")).ToBytes())], t.ClientKeys[0])).Accepted);
        Assert.True(h.RunUntil(() => h.ReplyTo("client-0", 1) is not null));
        h.Run(100);
        var latencies = new List<long>();
        for (ulong seq = 1; seq <= 6; seq++)
        {
            var start = h.Now;
            Assert.True(h.Submit("c1", 0, ClientBatch.Create("client-1", "c1", [new ClientRequest(seq, KvOperation.Put(B("k"), B($"y{seq}")).ToBytes())], t.ClientKeys[1])).Accepted);
            Assert.True(h.RunUntil(() => h.ReplyTo("client-1", seq) is not null));
            latencies.Add(h.AnsweredAt[("client-1", seq)].At - start);
            h.Run(50);
        }

        return latencies;
    }

    [Fact]
    public void AShard_DoesNotWaitForACoordinatorItAnswered()
    {
        // The shard's answer to c0 is unacknowledged for good (c0 has nothing more for it), but coordinators never
        // answer answers: c1's requests must not wait for c0.
        Assert.Equal(LatenciesThroughSecondCoordinator(0), LatenciesThroughSecondCoordinator(5));
    }

    [Fact]
    public void TheWait_IsBoundedByTheViewChangeTimeout()
    {
        Assert.Throws<ArgumentException>(() => new ReplicaOptions { ViewChangeTimeoutMs = 100, StallThresholdMs = 0, InboundCoalesceMs = 26 }.Validate());
        Assert.Throws<ArgumentException>(() => new ReplicaOptions { InboundCoalesceMs = -1 }.Validate());
        new ReplicaOptions { ViewChangeTimeoutMs = 100, StallThresholdMs = 0, InboundCoalesceMs = 25 }.Validate();
    }
}
