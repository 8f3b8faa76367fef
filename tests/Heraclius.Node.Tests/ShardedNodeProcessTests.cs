using System.Diagnostics;
using System.IO.Hashing;
using System.Text.Json.Nodes;
using Heraclius.KvStore.Client;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.Transport;

namespace Heraclius.Node.Tests;

/// <summary>A coordinator and two shard clusters as 12 node processes made by keygen; clients only talk to the coordinator.</summary>
[Trait("Category", "Process")]
public sealed class ShardedNodeProcessTests(ITestOutputHelper output)
{
    /// <summary>Bound for one operation (three rounds: coordinator, shard, coordinator), or a cluster's processes to start.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private const int Shards = 2;

    private static byte[] B(string s) => System.Text.Encoding.UTF8.GetBytes(s);

    private static string S(byte[] b) => System.Text.Encoding.UTF8.GetString(b);

    /// <summary>The shard a key lives on, as docs/design.md fixes it: XXH64(key, seed 0) mod S, shards in id order.</summary>
    private static int ShardOf(string key) => (int)(XxHash64.HashToUInt64(B(key)) % Shards);

    private static async Task<KvResult> Run(BftClient client, KvOperation op)
    {
        var reply = await client.SendAsync(op.ToBytes()).WaitAsync(Bound);
        Assert.Equal(ReplyStatus.Executed, reply.Status);
        return KvResult.Parse(reply.Result);
    }

    [Fact]
    public async Task OneCoordinatorTwoShards_TwelveProcesses_KvThroughTheCoordinatorReachesBothShards_StatusListsEveryNode()
    {
        var total = Stopwatch.StartNew();
        await using var cluster = await NodeProcessCluster.StartAsync(new JsonObject(), output, Bound, coordinators: 1, shards: Shards);
        output.WriteLine($"[{total.Elapsed.TotalSeconds:F1}s] {cluster.Count} processes up on ports {cluster.BasePort}..{cluster.BasePort + cluster.Count - 1} in {cluster.Root}");
        try
        {
            Assert.Equal(12, cluster.Count);
            Assert.Equal(["c0", "s0", "s1"], cluster.Topology.Clusters.Select(c => c.Id));
            var all = Enumerable.Range(0, cluster.Count).ToArray();
            var up = await cluster.WaitUntilAsync(all, s => s.All(x => x.Lag == 0), Bound, "all 12 serving");
            Assert.Equal(12, up.Select(s => s!.ProcessId).Distinct().Count());
            for (var i = 0; i < cluster.Count; i++)
            {
                Assert.Equal(cluster.NodeId(i), up[i]!.NodeId);
                Assert.Equal(cluster.Nodes[i].ClusterId, up[i]!.ClusterId);
                Assert.Equal(cluster.ProcessOf(i)!.Id, up[i]!.ProcessId);
            }

            // Keys on each shard, so both must take part.
            var keys = Enumerable.Range(0, 100).Select(i => $"key-{i}").ToList();
            var chosen = Enumerable.Range(0, Shards).SelectMany(s => keys.Where(k => ShardOf(k) == s).Take(3)).ToList();
            Assert.Equal(6, chosen.Count);

            // 1. Through a BFT client of the coordinator c0 (node 1): puts in parallel, then reads, CAS and delete.
            await using var client = await cluster.ClientAsync(1);
            var puts = await Task.WhenAll(chosen.Select(k => Run(client, KvOperation.Put(B(k), B("v-" + k)))));
            Assert.All(puts, r => Assert.Equal((KvStatus.Ok, 1UL), (r.Status, r.Version)));
            output.WriteLine($"[{total.Elapsed.TotalSeconds:F1}s] {chosen.Count} puts answered by c0 (keys on s0: {string.Join(",", chosen.Where(k => ShardOf(k) == 0))}; s1: {string.Join(",", chosen.Where(k => ShardOf(k) == 1))})");
            foreach (var k in chosen)
            {
                var r = await Run(client, KvOperation.Get(B(k)));
                Assert.Equal(KvStatus.Ok, r.Status);
                Assert.Equal("v-" + k, S(r.Value));
                Assert.Equal(1UL, r.Version);
            }

            Assert.Equal(KvStatus.VersionMismatch, (await Run(client, KvOperation.Cas(B(chosen[0]), 7, B("x")))).Status);
            var cas = await Run(client, KvOperation.Cas(B(chosen[0]), 1, B("cas")));
            Assert.Equal((KvStatus.Ok, 2UL), (cas.Status, cas.Version));
            Assert.Equal(KvStatus.Ok, (await Run(client, KvOperation.Delete(B(chosen[^1])))).Status);
            Assert.Equal(KvStatus.NotFound, (await Run(client, KvOperation.Get(B(chosen[^1])))).Status);
            Assert.Equal(0, client.RejectedDecisions);

            // Each shard decided: the operations were routed there, not executed by the coordinator alone.
            foreach (var shard in new[] { "s0", "s1" })
            {
                await cluster.WaitUntilAsync(
                    cluster.IndicesOf(shard),
                    s => s.All(x => x.DecidedHeight >= 1) && s.Select(x => x.DecidedHeight).Distinct().Count() == 1,
                    Bound,
                    $"{shard} decided the routed operations");
            }

            // 2. Through the CLI (client "cli"), submitting to another coordinator node; a shard is refused as an entry point.
            var put = await cluster.RunCliAsync(Bound, "kv", "put", "cli-key", "cli-value", "--dir", cluster.Root, "--coordinator", "c0", "--node", "2");
            Assert.Equal(0, put.ExitCode);
            Assert.Equal("ok version=1", put.Stdout.Trim());
            var get = await cluster.RunCliAsync(Bound, "kv", "get", chosen[0], "--dir", cluster.Root, "--node", "3");
            Assert.Equal(0, get.ExitCode);
            Assert.Equal("cas", get.Stdout.Trim());
            var missing = await cluster.RunCliAsync(Bound, "kv", "get", chosen[^1], "--dir", cluster.Root);
            Assert.Equal(1, missing.ExitCode);
            var viaShard = await cluster.RunCliAsync(Bound, "kv", "get", "cli-key", "--dir", cluster.Root, "--coordinator", "s0");
            Assert.Equal(2, viaShard.ExitCode);
            Assert.Contains("shard", viaShard.Stderr, StringComparison.Ordinal);

            // 3. status lists the 12 nodes, one line each, grouped by cluster in topology order, none down.
            var status = await cluster.RunCliAsync(Bound, "status", "--dir", cluster.Root);
            Assert.Equal(0, status.ExitCode);
            var lines = status.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Skip(1).ToList();
            Assert.Equal(12, lines.Count);
            for (var i = 0; i < cluster.Count; i++)
            {
                var columns = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                Assert.Equal(cluster.Nodes[i].ClusterId, columns[0]);
                Assert.Equal(cluster.NodeId(i), columns[2]);
                Assert.Equal(cluster.ProcessOf(i)!.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), columns[3]);
                Assert.DoesNotContain("down", lines[i], StringComparison.Ordinal);
            }

            output.WriteLine($"[{total.Elapsed.TotalSeconds:F1}s] done");
        }
        catch (Exception)
        {
            output.WriteLine($"statuses at failure: {cluster.Describe(await cluster.StatusesAsync(Enumerable.Range(0, cluster.Count)))}");
            output.WriteLine(cluster.LogTails(40));
            throw;
        }
    }
}
