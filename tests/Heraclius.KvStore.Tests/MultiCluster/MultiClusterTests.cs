using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.Routing;

using Heraclius.KvStore.Simulation;
using Heraclius.Testing.Cluster;

namespace Heraclius.KvStore.Tests.MultiCluster;

/// <summary>
/// Coordinator and shard clusters of real replicas exchanging real compact decisions: operations take
/// three rounds, each group is processed once in order, acknowledgements prune the queues, and a full
/// window answers "overloaded" instead of queueing without bound.
/// </summary>
public sealed class MultiClusterTests
{
    private static byte[] B(string s) => System.Text.Encoding.UTF8.GetBytes(s);

    private static ClientBatch Batch(MultiTopology t, int client, string cluster, ulong firstSeq, params KvOperation[] ops) =>
        ClientBatch.Create($"client-{client}", cluster, [.. ops.Select((op, i) => new ClientRequest(firstSeq + (ulong)i, op.ToBytes()))], t.ClientKeys[client]);

    private static KvResult Result(InMemoryClusters h, int client, ulong seq)
    {
        var reply = h.ReplyTo($"client-{client}", seq);
        Assert.NotNull(reply);
        Assert.Equal(ReplyStatus.Executed, reply.Status);
        return KvResult.Parse(reply.Result);
    }

    [Fact]
    public void PutsAndGets_GoThroughTheKeysShard_AndEveryClusterAgrees()
    {
        var t = new MultiTopology(1, 2);
        var h = new InMemoryClusters(t.Topology, t.NodeKeys);
        var puts = Enumerable.Range(0, 40).Select(i => KvOperation.Put(B($"key-{i}"), B($"value-{i}"))).ToArray();
        Assert.True(h.Submit("c0", 1, Batch(t, 0, "c0", 1, puts)).Accepted);
        Assert.True(h.RunUntil(() => Enumerable.Range(1, 40).All(s => h.ReplyTo("client-0", (ulong)s) is not null)));

        var gets = Enumerable.Range(0, 40).Select(i => KvOperation.Get(B($"key-{i}"))).Append(KvOperation.Get(B("absent"))).ToArray();
        Assert.True(h.Submit("c0", 2, Batch(t, 0, "c0", 41, gets)).Accepted);
        Assert.True(h.RunUntil(() => Enumerable.Range(41, 41).All(s => h.ReplyTo("client-0", (ulong)s) is not null)));
        for (var i = 0; i < 40; i++)
        {
            var r = Result(h, 0, (ulong)(41 + i));
            Assert.Equal(KvStatus.Ok, r.Status);
            Assert.Equal(1UL, r.Version);
            Assert.Equal($"value-{i}", System.Text.Encoding.UTF8.GetString(r.Value));
        }

        Assert.Equal(KvStatus.NotFound, Result(h, 0, 81).Status);

        // Each key lives on exactly the shard the router names, and nowhere else.
        var router = new ShardRouter(t.Topology);
        var byShard = Enumerable.Range(0, 40).GroupBy(i => router.ShardOf(B($"key-{i}"))).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(2, byShard.Count);
        Assert.Null(h.Converge());
        foreach (var shard in router.Shards)
        {
            Assert.Equal(byShard[shard], h.Replicas[shard][0].State.CountWithPrefix(0x01));
        }

        Assert.Equal(0, h.Replicas["c0"][0].State.CountWithPrefix(0x01));
        Assert.All(h.Replicas.Values.SelectMany(r => r), r => Assert.Empty(r.Rejections));
    }

    [Fact]
    public void AWriteThroughOneCoordinator_IsSeenThroughAnother_AndCasIsExactlyOnce()
    {
        var t = new MultiTopology(2, 3);
        var h = new InMemoryClusters(t.Topology, t.NodeKeys);
        Assert.True(h.Submit("c0", 0, Batch(t, 0, "c0", 1, KvOperation.Put(B("shared"), B("one")))).Accepted);
        Assert.True(h.RunUntil(() => h.ReplyTo("client-0", 1) is not null));

        Assert.True(h.Submit("c1", 3, Batch(t, 1, "c1", 1, KvOperation.Get(B("shared")), KvOperation.Cas(B("shared"), 1, B("two")))).Accepted);
        Assert.True(h.RunUntil(() => h.ReplyTo("client-1", 2) is not null));
        Assert.Equal("one", System.Text.Encoding.UTF8.GetString(Result(h, 1, 1).Value));
        Assert.Equal(2UL, Result(h, 1, 2).Version);

        // The same batch again, at another node: answered from the session, not executed a second time.
        Assert.True(h.Submit("c1", 1, Batch(t, 1, "c1", 1, KvOperation.Get(B("shared")), KvOperation.Cas(B("shared"), 1, B("two")))).Accepted);
        h.Run(500);
        Assert.True(h.Submit("c0", 2, Batch(t, 0, "c0", 2, KvOperation.Get(B("shared")))).Accepted);
        Assert.True(h.RunUntil(() => h.ReplyTo("client-0", 2) is not null));
        var read = Result(h, 0, 2);
        Assert.Equal("two", System.Text.Encoding.UTF8.GetString(read.Value));
        Assert.Equal(2UL, read.Version);
        Assert.Null(h.Converge());
    }

    [Fact]
    public void ARepeatWhileTheShardWorks_ProducesNoSecondExecution()
    {
        var t = new MultiTopology(1, 1);
        var h = new InMemoryClusters(t.Topology, t.NodeKeys);
        var batch = Batch(t, 0, "c0", 1, KvOperation.Cas(B("k"), 0, B("first")));

        // The shard is away, so the request stays pending at the coordinator while the client retries.
        foreach (var n in h.Replicas["s0"])
        {
            h.Down.Add(n.NodeId);
        }

        Assert.True(h.Submit("c0", 0, batch).Accepted);
        h.Run(300);
        Assert.True(h.Submit("c0", 1, batch).Accepted);
        h.Run(300);
        Assert.Null(h.ReplyTo("client-0", 1));

        h.Down.Clear();
        Assert.True(h.RunUntil(() => h.ReplyTo("client-0", 1) is not null));
        var first = Result(h, 0, 1);
        Assert.Equal(KvStatus.Ok, first.Status);
        Assert.Equal(1UL, first.Version);
        Assert.All(h.Replies["client-0"].Where(r => r.Seq == 1), r => Assert.Equal(first, KvResult.Parse(r.Result)));
        Assert.Null(h.Converge());
    }

    [Fact]
    public void AFullWindow_AnswersOverloaded_FinallyForThatId_AndANewIdRunsOnceTheShardAcknowledges()
    {
        var t = new MultiTopology(1, 1);
        var options = new ReplicaOptions { BatchDelayMs = 1, CheckpointInterval = 8, RetainDecisions = 24, ViewChangeTimeoutMs = 400, ResendIntervalMs = 50, StateBuckets = 16, OutboundWindow = 2 };
        var h = new InMemoryClusters(t.Topology, t.NodeKeys, options);
        foreach (var n in h.Replicas["s0"])
        {
            h.Down.Add(n.NodeId);
        }

        // Two groups fill the window; the third request gets "overloaded", not a place in an unbounded queue.
        for (ulong seq = 1; seq <= 3; seq++)
        {
            Assert.True(h.Submit("c0", 0, Batch(t, 0, "c0", seq, KvOperation.Put(B($"k{seq}"), B("v")))).Accepted);
            h.Run(100);
        }

        Assert.True(h.OverloadedReplies("client-0", 3) > 0);
        Assert.Null(h.ReplyTo("client-0", 1));
        Assert.Equal(2, h.Replicas["c0"][0].Outbound.Count("s0"));

        h.Down.Clear();
        Assert.True(h.RunUntil(() => h.ReplyTo("client-0", 2) is not null));

        // "Overloaded" is final for its id: a late copy of that batch never runs, so the client may retry under a new id.
        var overloadedBefore = h.OverloadedReplies("client-0", 3);
        Assert.True(h.Submit("c0", 0, Batch(t, 0, "c0", 3, KvOperation.Put(B("k3"), B("v")))).Accepted);
        Assert.True(h.RunUntil(() => h.OverloadedReplies("client-0", 3) > overloadedBefore));
        Assert.Null(h.ReplyTo("client-0", 3));
        Assert.True(h.Submit("c0", 0, Batch(t, 0, "c0", 4, KvOperation.Put(B("k3"), B("v")))).Accepted);
        Assert.True(h.RunUntil(() => h.ReplyTo("client-0", 4) is not null), string.Join("\n", h.Replicas.Values.SelectMany(r => r).Select(r => $"{r.NodeId} h={r.DecidedHeight} v={r.View} vc={r.InViewChange} pool={r.PoolBatches} inb={r.InboundPooled} q={r.Outbound.Count("s0")} rej={string.Join(",", r.Rejections.Select(kv => kv.Key + "=" + kv.Value))}")));
        Assert.Equal(1UL, Result(h, 0, 4).Version);

        // Acknowledged groups leave the queues of every coordinator node.
        Assert.True(h.RunUntil(() => h.Replicas["c0"].All(r => r.Outbound.Count("s0") <= 1)));
        Assert.Null(h.Converge());
    }
    /// <summary>
    /// A coordinator's group of routed Gets runs whole at the shard (it cannot wait for a later decision), and each answer
    /// may be 64 KiB though each request is a few dozen bytes: past the shard's output budget the Gets do not run there,
    /// the coordinator answers them overloaded (final for their ids), and the same Gets under new ids get their values.
    /// </summary>
    [Fact]
    public void RoutedGetsPastTheShardsOutputBudget_AreRefusedOverloaded_AndSucceedUnderNewIds()
    {
        var t = new MultiTopology(1, 1);
        var options = InMemoryClusters.DefaultOptions();
        options.MaxProposalOutputBytes = 256 * 1024;
        var h = new InMemoryClusters(t.Topology, t.NodeKeys, options);
        var value = Enumerable.Repeat((byte)7, KvOperation.MaxValueBytes).ToArray();
        Assert.True(h.Submit("c0", 1, Batch(t, 0, "c0", 1, KvOperation.Put(B("big"), value))).Accepted);
        Assert.True(h.RunUntil(() => h.ReplyTo("client-0", 1) is not null));

        // 12 Gets of one 64 KiB value: 768 KiB of answers against a 256 KiB budget, routed to the shard in one group.
        const int gets = 12;
        Assert.True(h.Submit("c0", 1, Batch(t, 0, "c0", 2, [.. Enumerable.Repeat(KvOperation.Get(B("big")), gets)])).Accepted);
        var ids = Enumerable.Range(2, gets).Select(i => (ulong)i).ToList();
        Assert.True(h.RunUntil(() => ids.All(s => h.ReplyTo("client-0", s) is not null || h.OverloadedReplies("client-0", s) > 0)));
        var executed = ids.Where(s => h.ReplyTo("client-0", s) is not null).ToList();
        var refused = ids.Where(s => h.OverloadedReplies("client-0", s) > 0).ToList();
        Assert.Empty(executed.Intersect(refused));
        Assert.InRange(executed.Count, 1, gets - 1);
        Assert.Equal(gets, executed.Count + refused.Count);
        Assert.All(executed, s => Assert.Equal(value, Result(h, 0, s).Value));

        // Final for its id: the same batch again is answered from the session, the refused ones overloaded again, never run.
        Assert.True(h.Submit("c0", 2, Batch(t, 0, "c0", 2, [.. Enumerable.Repeat(KvOperation.Get(B("big")), gets)])).Accepted);
        Assert.True(h.RunUntil(() => refused.All(s => h.OverloadedReplies("client-0", s) > 1)));
        Assert.All(refused, s => Assert.Null(h.ReplyTo("client-0", s)));

        // Under new ids, one by one, every refused Get gets the value.
        var seq = 2UL + gets;
        foreach (var _ in refused)
        {
            Assert.True(h.Submit("c0", 1, Batch(t, 0, "c0", seq, KvOperation.Get(B("big")))).Accepted);
            Assert.True(h.RunUntil(() => h.ReplyTo("client-0", seq) is not null));
            Assert.Equal(value, Result(h, 0, seq).Value);
            seq++;
        }

        Assert.Null(h.Converge());
        Assert.All(h.Replicas.Values.SelectMany(r => r), r => Assert.Empty(r.Rejections));
    }
}
