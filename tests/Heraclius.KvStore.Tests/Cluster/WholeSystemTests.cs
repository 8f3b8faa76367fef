using Heraclius.KvStore.Client;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.Tests.Transport;
using Heraclius.Testing.Cluster;
using Heraclius.Testing.Faults;

namespace Heraclius.KvStore.Tests.Cluster;

/// <summary>
/// The whole store over real gRPC: two coordinator and three shard clusters of four nodes (20 in
/// this process), concurrent BFT clients on both coordinators, every answer checked against what
/// the clients wrote and the whole history against linearizability, with one faulty node in every
/// cluster or a whole shard cluster down.
/// </summary>
[Trait("Category", "Cluster")]
public sealed class WholeSystemTests
{
    private const int Coordinators = 2;
    private const int Shards = 3;
    private const int Clients = 4;
    private const int WorkersPerClient = 2;
    private const int OperationsPerWorker = 30;

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private static readonly string[] CoordinatorIds = ["c0", "c1"];

    private static byte[] B(string s) => KvWorkload.B(s);

    private static string[] ShardIds => [.. Enumerable.Range(0, Shards).Select(s => $"s{s}")];

    /// <summary>Two keys on every shard, so every shard cluster serves both coordinators.</summary>
    private static string[] SharedKeys(MultiGrpcCluster cluster) => [.. ShardIds.SelectMany(s => cluster.KeysOn(s, "shared", 2))];

    /// <summary>
    /// Two workers per client, clients 0 and 1 on c0 and 2 and 3 on c1; then every worker's own key is
    /// read back through a client of the other coordinator, and the history is checked.
    /// </summary>
    private static async Task RunWorkloadAsync(MultiGrpcCluster cluster, KvWorkload workload, BftClient[] clients, Func<Task>? whileRunning = null)
    {
        var workers = new List<Task<OwnKey>>();
        for (var c = 0; c < clients.Length; c++)
        {
            for (var j = 0; j < WorkersPerClient; j++)
            {
                var worker = (c * WorkersPerClient) + j;
                var own = cluster.KeysOn(ShardIds[worker % Shards], $"own{worker}", 1)[0];
                workers.Add(workload.WorkerAsync(clients[c], worker, own, OperationsPerWorker, seed: 1000 + worker));
            }
        }

        if (whileRunning is not null)
        {
            await whileRunning();
        }

        var owns = await Task.WhenAll(workers);
        for (var w = 0; w < owns.Length; w++)
        {
            var other = clients[((w / WorkersPerClient) + (clients.Length / 2)) % clients.Length];
            await workload.AssertReadsBackAsync(other, w, owns[w]);
        }

        workload.AssertLinearizable();
        Assert.All(clients, c => Assert.Equal(0, c.RejectedDecisions));
        TestContext.Current.TestOutputHelper?.WriteLine($"{workload.Recorder.Count} operations, linearizable");
    }

    /// <summary>Compact decisions from <paramref name="shard"/> that the running coordinator nodes refused as invalid.</summary>
    private static long RefusedFrom(MultiGrpcCluster cluster, string shard) =>
        CoordinatorIds.Sum(c => Enumerable.Range(0, MultiGrpcCluster.NodesPerCluster)
            .Select(i => cluster.Node(c, i)).Sum(n => n?.Subscriptions.GetStats(shard).Invalid ?? 0));

    private static async Task<ulong> ViewOfAsync(MultiGrpcCluster cluster, string id, int node) =>
        await cluster.Node(id, node)!.Host.QueryAsync(r => r.View);

    [Fact]
    public async Task NoFaults_ConcurrentClientsOnBothCoordinators_GetRightAnswers_TheHistoryIsLinearizable_AndEveryClusterConverges()
    {
        await using var cluster = new MultiGrpcCluster(Coordinators, Shards, Clients);
        await cluster.StartAsync();
        await using var a = await cluster.ClientAsync("c0", 1, 0);
        await using var b = await cluster.ClientAsync("c0", 2, 1);
        await using var c = await cluster.ClientAsync("c1", 0, 2);
        await using var d = await cluster.ClientAsync("c1", 3, 3);
        var workload = new KvWorkload(SharedKeys(cluster), () => cluster.DescribeAsync());

        await RunWorkloadAsync(cluster, workload, [a, b, c, d]);

        await cluster.AssertAllConvergedAsync(Bound);

        // Every member is honest, so nothing any of them sent may be refused as invalid.
        Assert.Empty(await cluster.EvidenceOfFaultsAmongHonestAsync());
    }

    [Fact]
    public async Task OneCrashedNodePerCluster_IncludingLeaders_ClientsGetRightAnswers_AndHonestNodesConverge()
    {
        await using var cluster = new MultiGrpcCluster(Coordinators, Shards, Clients);

        // Never started: c0's leader of view 0 and a follower elsewhere. s2's leader of view 0 dies under load below.
        cluster.Crashed.UnionWith([("c0", 0), ("c1", 1), ("s0", 2), ("s1", 3)]);
        await cluster.StartAsync();
        await using var a = await cluster.ClientAsync("c0", 1, 0);
        await using var b = await cluster.ClientAsync("c0", 3, 1);
        await using var c = await cluster.ClientAsync("c1", 0, 2);
        await using var d = await cluster.ClientAsync("c1", 2, 3);
        var workload = new KvWorkload(SharedKeys(cluster), () => cluster.DescribeAsync());

        await RunWorkloadAsync(cluster, workload, [a, b, c, d], async () =>
        {
            await Eventually.WaitUntil(() => workload.Recorder.Count >= 40, "40 operations before s2's leader crashes", Bound);
            await cluster.StopNodeAsync("s2", 0);
        });

        await cluster.AssertAllConvergedAsync(Bound);

        // The leaders of view 0 are gone, so those clusters can only have made progress in a later view.
        Assert.True(await ViewOfAsync(cluster, "c0", 1) > 0, "c0 never left view 0, whose leader never started");
        Assert.True(await ViewOfAsync(cluster, "s2", 1) > 0, "s2 never left view 0, whose leader was stopped");

        // A crashed node sends nothing, so the running ones must have refused nothing as invalid.
        Assert.Empty(await cluster.EvidenceOfFaultsAmongHonestAsync());
    }

    [Fact]
    public async Task OneNodePerClusterLyingInConsensus_ShardOnesAlsoServingGarbageFeeds_ClientsGetRightAnswers_AndHonestNodesConverge()
    {
        await using var cluster = new MultiGrpcCluster(Coordinators, Shards, Clients);
        cluster.Lying[("c0", 0)] = ByzantineMode.WrongOutputs;
        cluster.Lying[("c1", 3)] = ByzantineMode.LyingVotes | ByzantineMode.LyingViewChanges | ByzantineMode.Replay;
        cluster.Lying[("s0", 0)] = ByzantineMode.Equivocate | ByzantineMode.Garbage;
        cluster.Lying[("s1", 1)] = ByzantineMode.LyingVotes | ByzantineMode.Replay;
        cluster.Lying[("s2", 2)] = ByzantineMode.WrongOutputs | ByzantineMode.LyingViewChanges;
        (string Shard, int Node, DecisionFeedFault Fault)[] feeds =
            [("s0", 0, DecisionFeedFault.RandomBytes), ("s1", 1, DecisionFeedFault.FlippedPayload), ("s2", 2, DecisionFeedFault.RandomBytes)];
        foreach (var (shard, node, fault) in feeds)
        {
            cluster.FeedFaults[(shard, node)] = fault;
        }

        await cluster.StartAsync();
        await using var a = await cluster.ClientAsync("c0", 1, 0);
        await using var b = await cluster.ClientAsync("c0", 2, 1);
        await using var c = await cluster.ClientAsync("c1", 0, 2);
        await using var d = await cluster.ClientAsync("c1", 2, 3);
        var workload = new KvWorkload(SharedKeys(cluster), () => cluster.DescribeAsync());

        await RunWorkloadAsync(cluster, workload, [a, b, c, d]);

        await cluster.AssertAllConvergedAsync(Bound);

        // c0's leader of view 0 alters outputs, so every decision of c0 came from a later view.
        Assert.True(await ViewOfAsync(cluster, "c0", 1) > 0, "c0 never replaced its lying leader");

        // An idle subscription moves on every StallTimeout, so whatever the traffic did, each coordinator
        // replica reaches every shard node in turn, and random bytes are served the moment it subscribes.
        // A flipped payload needs a real decision to flip, so only the traffic decides whether a subscription met it.
        foreach (var (shard, node, _) in feeds.Where(f => f.Fault == DecisionFeedFault.RandomBytes))
        {
            await Eventually.WaitUntil(
                () => cluster.Feed(shard, node)!.CorruptedFrames > 0 && RefusedFrom(cluster, shard) > 0,
                $"a coordinator to meet and refuse {shard}-n{node}'s garbage", Bound);
        }

        TestContext.Current.TestOutputHelper?.WriteLine(string.Join(", ", feeds.Select(f =>
            $"{f.Shard}-n{f.Node} ({f.Fault}): {cluster.Feed(f.Shard, f.Node)!.CorruptedFrames} corrupted frames served, {RefusedFrom(cluster, f.Shard)} refused")));
        TestContext.Current.TestOutputHelper?.WriteLine(await cluster.DescribeAsync());
    }

    [Fact]
    public async Task WithholdingFeedsAtTheNodesReceiversReadFirst_SubscriptionsMoveOn_ClientsGetRightAnswers_AndAllNodesConverge()
    {
        await using var cluster = new MultiGrpcCluster(Coordinators, Shards, Clients);

        // Receiver replica i reads source node i first: every cluster's leader of view 0 (replica 0)
        // starts on a withholding node for c0, s0 and s2, and replicas 1 and 2 for c1 and s1.
        (string Cluster, int Index)[] withholding = [("c0", 0), ("c1", 1), ("s0", 0), ("s1", 2), ("s2", 0)];
        foreach (var node in withholding)
        {
            cluster.FeedFaults[node] = DecisionFeedFault.Withhold;
        }

        await cluster.StartAsync();
        await using var a = await cluster.ClientAsync("c0", 0, 0);
        await using var b = await cluster.ClientAsync("c0", 2, 1);
        await using var c = await cluster.ClientAsync("c1", 1, 2);
        await using var d = await cluster.ClientAsync("c1", 3, 3);
        var workload = new KvWorkload(SharedKeys(cluster), () => cluster.DescribeAsync());

        await RunWorkloadAsync(cluster, workload, [a, b, c, d]);

        // Withholding is a fault of the feed only: those nodes are honest in consensus, must converge too, and
        // nothing they send each other (groups shown to the leader included) may be refused as invalid.
        await cluster.AssertAllConvergedAsync(Bound);
        Assert.Empty(await cluster.EvidenceOfFaultsAmongHonestAsync());
        foreach (var (source, index) in withholding)
        {
            // Receiver replica `index` subscribed there first, or, if it started before the source did, comes round to it
            // within n stall timeouts of an idle source; either way it must leave it again.
            var receivers = cluster.Topology.Clusters.Where(k => k.Kind != cluster.Topology.Cluster(source).Kind).Select(k => cluster.Node(k.Id, index)!).ToList();
            await Eventually.WaitUntil(() => cluster.Feed(source, index)!.FaultySubscriptions > 0, $"a subscription to {source}-n{index}", Bound);
            await Eventually.WaitUntil(() => receivers.All(r => r.Subscriptions.GetStats(source).Rotations > 0),
                $"replicas {index} to move off {source}-n{index}", Bound);
        }

        TestContext.Current.TestOutputHelper?.WriteLine(await cluster.DescribeAsync());
    }

    [Fact]
    public async Task AShardClusterDown_ItsKeysAnswerOverloadedOnceTheWindowFills_OtherShardsKeepWorking_AndAfterARestartFromItsWalItCatchesUp()
    {
        await using var cluster = new MultiGrpcCluster(Coordinators, Shards, 2);

        // A small window fills after a few groups, so "overloaded" comes within a handful of requests.
        cluster.Options.OutboundWindow = 4;
        await cluster.StartAsync();
        await using var c0 = await cluster.ClientAsync("c0", 1, 0);
        await using var c1 = await cluster.ClientAsync("c1", 2, 1);
        BftClient[] clients = [c0, c1];
        var workload = new KvWorkload([], () => cluster.DescribeAsync());
        var up = cluster.KeysOn("s0", "up", 2).Concat(cluster.KeysOn("s1", "up", 2)).ToArray();
        var down = cluster.KeysOn("s2", "down", 2 * 40);

        // Before: a key on every shard, written through each coordinator; s2's must survive its restart.
        var before = new[] { cluster.KeysOn("s2", "before", 2), cluster.KeysOn("s0", "before", 2) };
        for (var w = 0; w < 2; w++)
        {
            Assert.Equal(1UL, (await workload.RunAsync(clients[w], w, KvOperation.Put(B(before[0][w]), B($"kept-{w}")))).Version);
            Assert.Equal(1UL, (await workload.RunAsync(clients[w], w, KvOperation.Put(B(before[1][w]), B($"kept-{w}")))).Version);
        }

        await cluster.StopClusterAsync("s2");

        // Each coordinator routes to s2 until W groups wait unacknowledged; then s2's keys answer overloaded
        // while the other shards' keys, asked in between, keep working.
        var deferred = new List<(int Worker, string Key, Task<ClientReply> Reply)>();
        var upVersions = new ulong[up.Length];
        for (var w = 0; w < 2; w++)
        {
            var overloaded = false;
            for (var i = 0; i < 40 && !overloaded; i++)
            {
                var key = down[(w * 40) + i];
                deferred.Add((w, key, workload.CallAsync(clients[w], w, KvOperation.Put(B(key), B($"late-{w}-{i}")), TimeSpan.FromSeconds(60))));

                // Sent after it, so by the time this is answered three rounds later, an "overloaded" (one round) has arrived.
                var u = (w + i) % up.Length;
                var put = await workload.RunAsync(clients[w], w, KvOperation.Put(B(up[u]), B($"up-{w}-{i}")));
                Assert.Equal(++upVersions[u], put.Version);
                overloaded = deferred[^1].Reply.IsCompletedSuccessfully && (await deferred[^1].Reply).Status == ReplyStatus.Overloaded;
            }

            Assert.True(overloaded, $"c{w} never answered overloaded for the down shard\n{await cluster.DescribeAsync($"c{w}")}");
        }

        // While s2 stays down its window stays full: a new id for its keys is refused at once, other keys work.
        for (var w = 0; w < 2; w++)
        {
            var again = await workload.CallAsync(clients[w], w, KvOperation.Put(B(down[w * 40]), B("refused")));
            Assert.Equal(ReplyStatus.Overloaded, again.Status);
            var get = await workload.RunAsync(clients[w], w, KvOperation.Get(B(up[w])));
            Assert.Equal(upVersions[w], get.Version);
        }

        var stillWaiting = deferred.Count(x => !x.Reply.IsCompleted);
        Assert.True(stillWaiting > 0, "no request was left waiting for the down shard");

        await cluster.StartClusterAsync("s2");

        // Requests routed before the window filled were kept in the coordinators' queues and now run.
        var answers = await Task.WhenAll(deferred.Select(x => x.Reply));

        // New ids for s2's keys are admitted again once s2 has acknowledged the queued groups (until then a
        // coordinator may still refuse them); each is read back through the other coordinator.
        var after = cluster.KeysOn("s2", "after", 2);
        for (var w = 0; w < 2; w++)
        {
            var put = await workload.RunAdmittedAsync(clients[w], w, KvOperation.Put(B(after[w]), B($"after-{w}")), Bound);
            Assert.Equal(1UL, put.Version);
            var get = await workload.RunAdmittedAsync(clients[1 - w], 1 - w, KvOperation.Get(B(after[w])), Bound);
            Assert.Equal($"after-{w}", System.Text.Encoding.UTF8.GetString(get.Value));

            // Written before s2 went down: recovered from s2's WAL.
            var kept = await workload.RunAdmittedAsync(clients[1 - w], 1 - w, KvOperation.Get(B(before[0][w])), Bound);
            Assert.Equal($"kept-{w}", System.Text.Encoding.UTF8.GetString(kept.Value));
        }

        // A request that waited for s2 ran exactly once; one answered overloaded never ran.
        for (var i = 0; i < deferred.Count; i++)
        {
            var (worker, key, _) = deferred[i];
            var get = await workload.RunAdmittedAsync(clients[1 - worker], 1 - worker, KvOperation.Get(B(key)), Bound);
            if (answers[i].Status == ReplyStatus.Executed)
            {
                Assert.Equal(1UL, KvResult.Parse(answers[i].Result).Version);
                Assert.Equal((KvStatus.Ok, 1UL), (get.Status, get.Version));
            }
            else
            {
                Assert.Equal(KvStatus.NotFound, get.Status);
            }
        }

        workload.AssertLinearizable();
        Assert.True(workload.NeverExecuted >= 4, $"{workload.NeverExecuted} overloaded answers");
        await cluster.AssertAllConvergedAsync(Bound);
        TestContext.Current.TestOutputHelper?.WriteLine($"{deferred.Count} requests sent while s2 was down, {stillWaiting} waited for it; {workload.NeverExecuted} overloaded");
    }
}
