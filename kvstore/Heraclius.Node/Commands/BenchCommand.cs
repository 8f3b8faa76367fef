using Microsoft.Extensions.Logging;
using System.Diagnostics;
using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Hosting;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.Topology;
using Heraclius.KvStore.Transport;

namespace Heraclius.Node.Commands;

/// <summary>
/// Benchmarks a local topology (default 1 coordinator + 2 shards of 4 nodes) in this process over
/// real gRPC, Ed25519 and fsync'd WALs: virtual users issue Puts and Gets of random 32-byte keys
/// through signed client batches, spread over every node of every coordinator.
/// </summary>
internal static class BenchCommand
{
    private const string Usage = """
        heraclius bench kv [--duration 20s] [--vus 256] [--coordinators 1] [--shards 2] [--nodes 4]
                           [--clients max(coordinators x nodes, vus/512)] [--checkpoint-interval 128] [--warmup 3s]

          all clusters run in this process; --shards 0 benchmarks the single-cluster store. Client
          connection i (its own client id bench-i) submits to node (i / C) mod n of coordinator c(i mod C).
        """;

    private static readonly TimeSpan OperationTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Virtual users per client id by default: each has one request in flight, and a client's in-flight ids must stay inside its session window.</summary>
    private const int VusPerClient = 512;

    public static async Task<int> RunAsync(string[] args)
    {
        var o = new Options(args);
        if (o.Help || o.Positional.Count != 1 || o.Positional[0] != "kv")
        {
            Console.WriteLine(Usage);
            return o.Help ? 0 : 2;
        }

        o.RejectUnknown("--duration", "--vus", "--coordinators", "--shards", "--nodes", "--clients", "--checkpoint-interval", "--warmup");
        var duration = o.GetDuration("--duration", TimeSpan.FromSeconds(20));
        var warmup = o.GetDuration("--warmup", TimeSpan.FromSeconds(3));
        var vus = o.GetInt("--vus", 256);
        var shape = TopologyShape.FromOptions(o, TopologyShape.Default);
        // Each client id keeps its in-flight requests well inside the session window (1024 by default).
        var clientCount = o.GetInt("--clients", Math.Max(shape.Coordinators * shape.NodesPerCluster, (vus + VusPerClient - 1) / VusPerClient));
        if (vus < 1 || clientCount < 1)
        {
            return Cli.Fail("--vus and --clients must be at least 1");
        }

        var options = new ReplicaOptions();
        options.CheckpointInterval = o.GetInt("--checkpoint-interval", options.CheckpointInterval);
        options.RetainDecisions = Math.Max(options.RetainDecisions, options.CheckpointInterval);
        options.Validate();

        var basePort = LoopbackPorts.PickRange(shape.TotalNodes);
        shape.Validate(basePort);
        var root = Path.Combine(Path.GetTempPath(), "heraclius-bench-" + Guid.NewGuid().ToString("N"));
        var dir = new DataDirectory(root);

        // A client id per connection: sessions are per client id, and one id spread over connections with
        // disjoint sequence ranges would make every range but the highest "too old" at the cluster.
        var clientIds = Enumerable.Range(0, clientCount).Select(i => $"{KeygenCommand.BenchClientId}-{i}").ToList();
        var topology = KeygenCommand.Generate(dir, shape, basePort, clientIds, replace: false);
        var nodes = new List<ClusterNode>();
        var clients = new List<(BftClient Client, GrpcNodeClient Grpc, SigningKey Key)>();
        var nodeKeys = new List<SigningKey>();
        try
        {
            foreach (var n in topology.Clusters.SelectMany(c => c.Nodes))
            {
                var key = dir.LoadKey(n.Id);
                nodeKeys.Add(key);
                nodes.Add(await ClusterNode.StartAsync(topology, n.Id, key, dir.NodeDataPath(n.Id), options,
                    configureBuilder: b => b.Logging.ClearProviders()));
            }

            var coordinators = topology.Coordinators.ToList();
            for (var i = 0; i < clientCount; i++)
            {
                var cluster = coordinators[i % coordinators.Count];
                var key = dir.LoadKey(clientIds[i]);
                var grpc = new GrpcNodeClient(new Uri(cluster.Nodes[(i / coordinators.Count) % cluster.N].Endpoint));
                var c = new BftClient(topology, cluster.Id, clientIds[i], key, grpc, new BftClientOptions { MaxBatch = 2048 });
                clients.Add((c, grpc, key));
                await c.StartAsync();
            }

            Console.WriteLine($"bench kv: {shape} ({nodes.Count} nodes in this process), {clientCount} client connections over {string.Join(", ", coordinators.Select(c => c.Id))}, {vus} virtual users");

            // Warm up (JIT, connections, first checkpoint) under the same load before measuring.
            var load = clients.Select(c => c.Client).ToList();
            await RunLoad(load, vus, warmup, new LoadResult(vus));

            var before = await CountersAsync(topology, nodes);
            var verifies0 = CryptoCounters.Verifies;
            var result = new LoadResult(vus);
            var sw = Stopwatch.StartNew();
            await RunLoad(load, vus, duration, result);
            var elapsed = sw.Elapsed.TotalSeconds;
            var after = await CountersAsync(topology, nodes);
            var verifies = CryptoCounters.Verifies - verifies0; // counted per process, so over every cluster together

            var all = result.Latencies.SelectMany(l => l).Order().ToArray();
            var ops = all.Length;
            double PerOp(long n) => n / (double)Math.Max(ops, 1);
            double P(double q) => all.Length == 0 ? 0 : all[Math.Min(all.Length - 1, (int)(q * all.Length))];
            var delta = topology.Clusters.Select((c, i) => (Cluster: c, D: after[i] - before[i])).ToList();
            var decisions = delta.Sum(d => d.D.Decisions);
            var fsyncs = delta.Sum(d => d.D.Fsyncs);
            var viewChanges = delta.Sum(d => d.D.ViewChanges);
            var coordinatorDecisions = delta.Where(d => d.Cluster.Kind == ClusterKind.Coordinator).Sum(d => d.D.Decisions);
            var coordinatorRequests = delta.Where(d => d.Cluster.Kind == ClusterKind.Coordinator).Sum(d => d.D.Requests);
            Console.WriteLine($"fsyncs_per_op={PerOp(fsyncs):F4} sig_verifies_per_op={PerOp(verifies):F4} decisions={decisions} view_changes={viewChanges} vus={vus}");
            Console.WriteLine($"ops_per_s={ops / elapsed:F0} p50_ms={P(0.50):F2} p99_ms={P(0.99):F2} nodes={nodes.Count} batch_avg={(coordinatorDecisions == 0 ? 0 : coordinatorRequests / (double)coordinatorDecisions):F1}");
            foreach (var (cluster, d) in delta)
            {
                Console.WriteLine($"  cluster={cluster.Id} kind={KeygenCommand.Kind(cluster.Kind)} decisions={d.Decisions} view_changes={d.ViewChanges} fsyncs_per_op={PerOp(d.Fsyncs):F4}"
                                  + (cluster.Kind == ClusterKind.Coordinator ? $" batch_avg={(d.Decisions == 0 ? 0 : d.Requests / (double)d.Decisions):F1}" : ""));
            }

            var refused = result.Refusals();
            if (refused.Length > 0 || result.Timeouts > 0)
            {
                Console.WriteLine($"  not answered as executed (not counted as ops): {string.Join(" ", refused.Select(r => $"{r.Status}={r.Count}"))}{(result.Timeouts > 0 ? $" timeouts={result.Timeouts}" : "")}");
            }

            if (ops == 0)
            {
                return Cli.Fail("no operation was executed during the measurement (per-op figures above are totals); see the answers counted above");
            }

            return 0;
        }
        finally
        {
            foreach (var (c, g, k) in clients)
            {
                await c.DisposeAsync();
                g.Dispose();
                k.Dispose();
            }

            foreach (var n in nodes)
            {
                await n.DisposeAsync();
            }

            foreach (var k in nodeKeys)
            {
                k.Dispose();
            }

            try
            {
                Directory.Delete(root, true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>Per cluster, in topology order: fsyncs of all its nodes, and decisions, requests and view changes seen by its node 0.</summary>
    private static async Task<ClusterCounters[]> CountersAsync(ClusterTopology topology, List<ClusterNode> nodes)
    {
        var result = new ClusterCounters[topology.Clusters.Count];
        for (var i = 0; i < result.Length; i++)
        {
            var id = topology.Clusters[i].Id;
            var members = nodes.Where(n => n.Node.ClusterId == id).ToList();
            var (decisions, requests, viewChanges) = await members[0].Host.QueryAsync(r => (r.DecisionsApplied, r.RequestsDecided, r.ViewChangesStarted));
            result[i] = new ClusterCounters(members.Sum(n => n.WalFsyncs), decisions, requests, viewChanges);
        }

        return result;
    }

    /// <summary>Runs <paramref name="vus"/> virtual users for <paramref name="duration"/>, each issuing Puts (even users) or Gets of random 32-byte keys back to back.</summary>
    private static async Task RunLoad(List<BftClient> clients, int vus, TimeSpan duration, LoadResult result)
    {
        using var stop = new CancellationTokenSource(duration);
        var users = Enumerable.Range(0, vus).Select(u => Task.Run(async () =>
        {
            var list = result.Latencies[u];
            var random = new Random(u);
            var client = clients[u % clients.Count];
            var key = new byte[32];
            while (!stop.IsCancellationRequested)
            {
                random.NextBytes(key);
                var op = u % 2 == 0 ? KvOperation.Put(key, key) : KvOperation.Get(key);
                var t = Stopwatch.GetTimestamp();
                ClientReply reply;
                try
                {
                    reply = await client.SendAsync(op.ToBytes()).WaitAsync(OperationTimeout);
                }
                catch (TimeoutException)
                {
                    result.CountTimeout();
                    continue;
                }

                if (reply.Status == ReplyStatus.Executed)
                {
                    list.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
                }
                else
                {
                    // Overloaded (a saturated shard; final for that id): back off a little, then a new operation.
                    result.CountRefusal(reply.Status);
                    await Task.Delay(10);
                }
            }
        })).ToArray();
        await Task.WhenAll(users);
    }
}
