using System.Diagnostics;
using System.Text.Json.Nodes;
using Heraclius.KvStore.Client;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.Transport;

namespace Heraclius.Node.Tests;

/// <summary>Four node processes started from the built CLI, crashed with SIGKILL and restarted from their data directories.</summary>
[Trait("Category", "Process")]
public sealed class NodeProcessTests(ITestOutputHelper output)
{
    /// <summary>Bound for one operation, a restart to converge, or a leader change.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private const int CheckpointInterval = 8;
    private const int RetainDecisions = 24;

    /// <summary>Sequential writes while a follower is down: several checkpoints, and more than the others retain.</summary>
    private const int WritesWhileDown = (3 * CheckpointInterval) + RetainDecisions;

    private static JsonObject Replica(int? viewChangeTimeoutMs = null)
    {
        var replica = new JsonObject { ["checkpointInterval"] = CheckpointInterval, ["retainDecisions"] = RetainDecisions };
        if (viewChangeTimeoutMs is { } t)
        {
            replica["viewChangeTimeoutMs"] = t;
        }

        return replica;
    }

    private static byte[] B(string s) => System.Text.Encoding.UTF8.GetBytes(s);

    private static string S(byte[] b) => System.Text.Encoding.UTF8.GetString(b);

    private static async Task<KvResult> Run(BftClient client, KvOperation op)
    {
        var reply = await client.SendAsync(op.ToBytes()).WaitAsync(Bound);
        Assert.Equal(ReplyStatus.Executed, reply.Status);
        return KvResult.Parse(reply.Result);
    }

    private static async Task Put(BftClient client, string key, string value, ulong expectedVersion)
    {
        var r = await Run(client, KvOperation.Put(B(key), B(value)));
        Assert.Equal(KvStatus.Ok, r.Status);
        Assert.Equal(expectedVersion, r.Version);
    }

    private static async Task AssertGet(BftClient client, string key, string value, ulong version)
    {
        var r = await Run(client, KvOperation.Get(B(key)));
        Assert.Equal(KvStatus.Ok, r.Status);
        Assert.Equal(value, S(r.Value));
        Assert.Equal(version, r.Version);
    }

    private static bool SameHeight(NodeStatus[] s, ulong atLeast) =>
        s.Select(x => x.DecidedHeight).Distinct().Count() == 1 && s[0].DecidedHeight >= atLeast;

    /// <summary>
    /// Runs <paramref name="scenario"/> on a fresh 4-process cluster; on failure (or always, with HERACLIUS_TEST_LOG
    /// set) the statuses and the tail of every node's log go to the test output.
    /// </summary>
    private async Task WithCluster(JsonObject replica, Func<NodeProcessCluster, Stopwatch, Task> scenario)
    {
        var total = Stopwatch.StartNew();
        await using var cluster = await NodeProcessCluster.StartAsync(replica, output, Bound);
        output.WriteLine($"[{total.Elapsed.TotalSeconds:F1}s] 4 processes up on ports {cluster.BasePort}..{cluster.BasePort + 3} in {cluster.Root}");
        try
        {
            await scenario(cluster, total);
            if (Environment.GetEnvironmentVariable("HERACLIUS_TEST_LOG") is not null)
            {
                output.WriteLine(cluster.LogTails(200));
            }
        }
        catch (Exception)
        {
            output.WriteLine($"statuses at failure: {cluster.Describe(await cluster.StatusesAsync(Enumerable.Range(0, cluster.Count)))}");
            output.WriteLine(cluster.LogTails(80));
            throw;
        }
    }

    /// <summary>All 4 processes are up, separate, and agree on one view and its leader; returns the leader's index.</summary>
    private static async Task<int> AssertFourSeparateProcessesAsync(NodeProcessCluster cluster)
    {
        var all = Enumerable.Range(0, cluster.Count).ToArray();
        var up = await cluster.WaitUntilAsync(all, s => s.Select(x => (x.View, x.LeaderIndex)).Distinct().Count() == 1 && s.Count(x => x.IsLeader) == 1, Bound, "one view and leader");
        for (var i = 0; i < cluster.Count; i++)
        {
            Assert.Equal(cluster.NodeId(i), up[i]!.NodeId);
            Assert.Equal(cluster.ProcessOf(i)!.Id, up[i]!.ProcessId);
        }

        Assert.Equal(4, up.Select(s => s!.ProcessId).Distinct().Count());
        var leader = up[0]!.LeaderIndex;
        Assert.True(up[leader]!.IsLeader);
        return leader;
    }

    /// <summary>Node <paramref name="i"/>'s Prometheus exposition, from its metrics listener (base port + 1000 + i).</summary>
    private static async Task<string> MetricsOf(NodeProcessCluster cluster, int i)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        return await http.GetStringAsync(new Uri($"http://127.0.0.1:{cluster.BasePort + 1000 + i}/metrics"), TestContext.Current.CancellationToken);
    }

    [Fact]
    public Task FourProcesses_PutGet_FollowerKilledAndRestartedCatchesUp_LeaderKilledNewLeaderCommits() => WithCluster(Replica(), async (cluster, total) =>
    {
        var all = Enumerable.Range(0, cluster.Count).ToArray();
        var leader = await AssertFourSeparateProcessesAsync(cluster);

        // The follower to crash leads the next view, so after the leader crash the restarted process must lead.
        var follower = (leader + 1) % 4;
        var via = (leader + 2) % 4;

        // 1. Put/Get through the BFT client "cli" (key from keys/cli.key), submitting to a node that is never killed.
        await using var client = await cluster.ClientAsync(via);
        await Task.WhenAll(Enumerable.Range(0, 5).Select(i => Put(client, $"k{i}", $"v{i}", 1)));
        for (var i = 0; i < 5; i++)
        {
            await AssertGet(client, $"k{i}", $"v{i}", 1);
        }

        await Put(client, "k0", "v0'", 2);
        await AssertGet(client, "k0", "v0'", 2);
        Assert.Equal(KvStatus.VersionMismatch, (await Run(client, KvOperation.Cas(B("k1"), 7, B("x")))).Status);
        Assert.Equal(KvStatus.Ok, (await Run(client, KvOperation.Cas(B("k1"), 1, B("v1'")))).Status);
        await AssertGet(client, "k1", "v1'", 2);
        Assert.Equal(KvStatus.Ok, (await Run(client, KvOperation.Delete(B("k2")))).Status);
        Assert.Equal(KvStatus.NotFound, (await Run(client, KvOperation.Get(B("k2")))).Status);
        Assert.Equal(KvStatus.NotFound, (await Run(client, KvOperation.Get(B("missing")))).Status);
        var before = await cluster.WaitUntilAsync(
            all,
            s => SameHeight(s, 1) && s.Select(x => (x.View, x.LeaderIndex)).Distinct().Count() == 1 && s.Count(x => x.IsLeader) == 1,
            Bound,
            "all 4 at one height in one view before the crash");
        var heightAtCrash = before[follower]!.DecidedHeight;
        output.WriteLine($"[{total.Elapsed.TotalSeconds:F1}s] phase 1 done at height {heightAtCrash}");

        // The node process exports its replica's metrics for Prometheus: decisions made, and the WAL's compaction health.
        var exposition = await MetricsOf(cluster, via);
        var node = cluster.NodeId(via);
        Assert.Matches($@"heraclius_consensus_decisions\{{node=""{node}""\}} [1-9]", exposition);
        Assert.Contains($"heraclius_storage_wal_compactions_failed{{node=\"{node}\"}} 0", exposition, StringComparison.Ordinal);
        Assert.Contains($"heraclius_storage_wal_compactions_skipped{{node=\"{node}\"}} 0", exposition, StringComparison.Ordinal);

        // 2. Crash a follower (SIGKILL), keep writing past several checkpoints, restart it from the same data directory.
        cluster.Kill(follower);
        var others = all.Where(i => i != follower).ToArray();
        for (var i = 0; i < WritesWhileDown; i++)
        {
            await Put(client, $"down-{i}", $"x{i}", 1);
        }

        var whileDown = await cluster.WaitUntilAsync(others, s => SameHeight(s, heightAtCrash + WritesWhileDown), Bound, "the 3 others decided every write");
        var target = whileDown[via]!.DecidedHeight;
        Assert.All(others, i => Assert.True(whileDown[i]!.LastCheckpointHeight > heightAtCrash + RetainDecisions,
            $"{cluster.NodeId(i)} checkpoint {whileDown[i]!.LastCheckpointHeight} should be past the crashed node's height {heightAtCrash} + retained {RetainDecisions}"));
        output.WriteLine($"[{total.Elapsed.TotalSeconds:F1}s] wrote {WritesWhileDown} with {cluster.NodeId(follower)} down; others at {target}");

        cluster.Start(follower);
        var restarted = Stopwatch.StartNew();
        var caughtUp = await cluster.WaitUntilAsync(
            all,
            s => SameHeight(s, target) && s[follower].LastCheckpointHeight > heightAtCrash && s[follower].Lag == 0,
            Bound,
            "restarted follower caught up (same height, a checkpoint past its crash height)");
        Assert.Equal(cluster.ProcessOf(follower)!.Id, caughtUp[follower]!.ProcessId);
        Assert.True(caughtUp[follower]!.LastCheckpointHeight > 0);
        output.WriteLine($"[{total.Elapsed.TotalSeconds:F1}s] {cluster.NodeId(follower)} caught up in {restarted.Elapsed.TotalSeconds:F1}s");

        // 3. Crash the current leader (the one a quorum follows); writes still complete within the bound and a new leader is reported.
        var pre = await cluster.WaitUntilAsync(
            all,
            s => s.Count(x => x.IsLeader) == 1 && s.Count(x => x.View == s.First(y => y.IsLeader).View) >= cluster.Cluster.Quorum,
            Bound,
            "one leader followed by a quorum before the leader crash");
        var oldLeader = Array.FindIndex(pre, s => s!.IsLeader);
        var viewBefore = pre[oldLeader]!.View;

        // Normally the leader is unchanged and the client's node survives; after an unexpected view change, submit elsewhere.
        await using var spare = oldLeader == via ? await cluster.ClientAsync((oldLeader + 2) % 4) : null;
        var writer = spare ?? client;
        cluster.Kill(oldLeader);
        var failover = Stopwatch.StartNew();
        await Put(writer, "after-leader-crash", "z", 1);
        Assert.True(failover.Elapsed < Bound, $"write after the leader crash took {failover.Elapsed}");
        output.WriteLine($"[{total.Elapsed.TotalSeconds:F1}s] first write after the leader crash took {failover.Elapsed.TotalSeconds:F1}s");
        await AssertGet(writer, "after-leader-crash", "z", 1);
        await AssertGet(writer, "k1", "v1'", 2);
        var survivors = all.Where(i => i != oldLeader).ToArray();
        var after = await cluster.WaitUntilAsync(
            survivors,
            s => s.Select(x => (x.View, x.LeaderIndex, x.DecidedHeight)).Distinct().Count() == 1 && s[0].View > viewBefore
                 && s[0].LeaderIndex != oldLeader && s.Count(x => x.IsLeader) == 1,
            Bound,
            "the 3 survivors agree on a new view and leader");
        var newLeader = after[survivors[0]]!.LeaderIndex;
        Assert.NotEqual(oldLeader, newLeader);
        Assert.True(after[newLeader]!.IsLeader);
        Assert.Equal(0, writer.RejectedDecisions);

        // The restarted process serves verified answers itself: a second client ("bench") submitting through it.
        await using (var throughRestarted = await cluster.ClientAsync(follower, NodeProcessCluster.SecondClientId))
        {
            await AssertGet(throughRestarted, $"down-{WritesWhileDown - 1}", $"x{WritesWhileDown - 1}", 1);
            await AssertGet(throughRestarted, "after-leader-crash", "z", 1);
            await Put(throughRestarted, "via-restarted", "y", 1);
            Assert.Equal(0, throughRestarted.RejectedDecisions);
        }

        output.WriteLine($"[{total.Elapsed.TotalSeconds:F1}s] new leader {cluster.NodeId(newLeader)} in view {after[newLeader]!.View} (was {cluster.NodeId(oldLeader)} in view {viewBefore}); done");
    });

    [Fact]
    public Task FollowerKilledMidWrite_RestartedBehindASnapshot_RejoinsTheClusterView_AndAnswersClientsThroughItself() => WithCluster(Replica(viewChangeTimeoutMs: null), async (cluster, total) =>
    {
        // Regression: a follower stopped with a prepared, undecided proposal used to start a view change alone
        // right after restarting (its progress timer ran before it heard from any peer), then stayed stranded in
        // that view change with the client's requests. Now the timer waits until the node hears from a quorum,
        // and a node alone in a view change still shows its pool to the peers that are making progress.
        var all = Enumerable.Range(0, cluster.Count).ToArray();
        var leader = await AssertFourSeparateProcessesAsync(cluster);
        var follower = (leader + 3) % 4;
        var via = (leader + 2) % 4;
        await using var client = await cluster.ClientAsync(via);

        // Several writes in flight, so the follower has a prepared, undecided proposal when it dies; they go on
        // until the others have compacted their logs past the follower's height.
        using var stop = new CancellationTokenSource();
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                await Put(client, $"w{w}-{i}", "x", 1);
            }
        })).ToArray();
        var flowing = await cluster.WaitUntilAsync(all, s => s.All(x => x.DecidedHeight >= 10), Bound, "writes flowing");
        cluster.Kill(follower);
        var others = all.Where(i => i != follower).ToArray();
        var killedAt = flowing[follower]!.DecidedHeight;
        await cluster.WaitUntilAsync(others, s => s.All(x => x.LastCheckpointHeight > killedAt + RetainDecisions + CheckpointInterval), Bound, "others compacted past the follower");
        await stop.CancelAsync();
        await Task.WhenAll(writers);
        output.WriteLine($"[{total.Elapsed.TotalSeconds:F1}s] killed {cluster.NodeId(follower)} mid-write near height {killedAt}");

        cluster.Start(follower);
        await cluster.WaitUntilAsync(
            all,
            s => s.Select(x => (x.View, x.LeaderIndex, x.DecidedHeight)).Distinct().Count() == 1 && s.Count(x => x.IsLeader) == 1 && s[follower].Lag == 0,
            Bound,
            "restarted follower in the cluster's view at the cluster's height");
        await using var throughRestarted = await cluster.ClientAsync(follower, NodeProcessCluster.SecondClientId);
        await AssertGet(throughRestarted, "w0-0", "x", 1);
        await Put(throughRestarted, "via-restarted", "y", 1);
        output.WriteLine($"[{total.Elapsed.TotalSeconds:F1}s] done");
    });
}
