using Microsoft.Extensions.Logging;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Hosting;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.Transport;

namespace Heraclius.Node.Commands;

/// <summary>
/// Benchmarks one 4-node cluster in this process over real gRPC, Ed25519 and fsync'd WALs:
/// virtual users issue Puts and Gets of random 32-byte keys through signed client batches.
/// </summary>
internal static class BenchCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var o = new Options(args);
        if (o.Help || o.Positional.Count == 0 || o.Positional[0] != "kv")
        {
            Console.WriteLine("heraclius bench kv [--duration 20s] [--vus 256] [--clients 4] [--checkpoint-interval 128] [--warmup 3s]");
            return o.Help ? 0 : 2;
        }

        var duration = o.GetDuration("--duration", TimeSpan.FromSeconds(20));
        var vus = o.GetInt("--vus", 256);
        var clientCount = o.GetInt("--clients", 4);
        var root = Path.Combine(Path.GetTempPath(), "heraclius-bench-" + Guid.NewGuid().ToString("N"));
        var dir = new DataDirectory(root);
        var ports = Enumerable.Range(0, 4).Select(_ => FreePort()).ToArray();
        var topology = KeygenCommand.Generate(dir, 4, ports[0], "c0");
        if (ports.Distinct().Count() < 4 || Enumerable.Range(0, 4).Any(i => !PortFree(ports[0] + i)))
        {
            return Cli.Fail("could not find 4 consecutive free ports; try again");
        }

        var options = new ReplicaOptions();
        options.CheckpointInterval = o.GetInt("--checkpoint-interval", options.CheckpointInterval);
        options.RetainDecisions = Math.Max(options.RetainDecisions, options.CheckpointInterval);
        var nodes = new List<ClusterNode>();
        try
        {
            foreach (var n in topology.Clusters[0].Nodes)
            {
                nodes.Add(await ClusterNode.StartAsync(topology, n.Id, dir.LoadKey(n.Id), dir.NodeDataPath(n.Id), options,
                    configureBuilder: b => b.Logging.ClearProviders()));
            }

            using var benchKey = dir.LoadKey(KeygenCommand.BenchClientId);
            var clients = new List<(BftClient Client, GrpcNodeClient Grpc)>();
            for (var i = 0; i < clientCount; i++)
            {
                // One client id, disjoint sequence ranges: a client process with several connections.
                var grpc = new GrpcNodeClient(new Uri(topology.Clusters[0].Nodes[i % 4].Endpoint));
                var c = new BftClient(topology, "c0", KeygenCommand.BenchClientId, benchKey, grpc,
                    new BftClientOptions { FirstSeq = (ulong)(i + 1) << 40, MaxBatch = 2048 });
                await c.StartAsync();
                clients.Add((c, grpc));
            }

            // Warm up (JIT, connections, first checkpoint) under the same load before measuring.
            var warmup = o.GetDuration("--warmup", TimeSpan.FromSeconds(3));
            await RunLoad(clients.Select(c => c.Client).ToList(), vus, warmup, null);

            var fsyncs0 = nodes.Sum(n => n.WalFsyncs);
            var verifies0 = CryptoCounters.Verifies;
            var decided0 = await nodes[0].Host.QueryAsync(r => (r.DecisionsApplied, r.RequestsDecided));
            var viewChanges0 = await nodes[0].Host.QueryAsync(r => r.ViewChangesStarted);
            var latencies = new List<double>[vus];
            var sw = Stopwatch.StartNew();
            await RunLoad(clients.Select(c => c.Client).ToList(), vus, duration, latencies);
            var elapsed = sw.Elapsed.TotalSeconds;
            var all = latencies.SelectMany(l => l).Order().ToArray();
            var decided1 = await nodes[0].Host.QueryAsync(r => (r.DecisionsApplied, r.RequestsDecided));
            var viewChanges = await nodes[0].Host.QueryAsync(r => r.ViewChangesStarted) - viewChanges0;
            var decisions = decided1.DecisionsApplied - decided0.DecisionsApplied;
            var requests = decided1.RequestsDecided - decided0.RequestsDecided;
            var ops = all.Length;
            double P(double q) => all.Length == 0 ? 0 : all[Math.Min(all.Length - 1, (int)(q * all.Length))];
            Console.WriteLine($"fsyncs_per_op={(nodes.Sum(n => n.WalFsyncs) - fsyncs0) / (double)Math.Max(ops, 1):F4} sig_verifies_per_op={(CryptoCounters.Verifies - verifies0) / (double)Math.Max(ops, 1):F4} decisions={decisions} view_changes={viewChanges} vus={vus}");
            Console.WriteLine($"ops_per_s={ops / elapsed:F0} p50_ms={P(0.50):F2} p99_ms={P(0.99):F2} nodes=4 batch_avg={(decisions == 0 ? 0 : requests / (double)decisions):F1}");
            foreach (var (c, g) in clients)
            {
                await c.DisposeAsync();
                g.Dispose();
            }

            return 0;
        }
        finally
        {
            foreach (var n in nodes)
            {
                await n.DisposeAsync();
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

    /// <summary>Runs <paramref name="vus"/> virtual users for <paramref name="duration"/>, each issuing Puts (even users) or Gets of random 32-byte keys back to back.</summary>
    private static async Task RunLoad(List<BftClient> clients, int vus, TimeSpan duration, List<double>[]? latencies)
    {
        using var stop = new CancellationTokenSource(duration);
        var users = Enumerable.Range(0, vus).Select(u => Task.Run(async () =>
        {
            var list = new List<double>();
            if (latencies is not null)
            {
                latencies[u] = list;
            }

            var random = new Random(u);
            var client = clients[u % clients.Count];
            var key = new byte[32];
            while (!stop.IsCancellationRequested)
            {
                random.NextBytes(key);
                var op = u % 2 == 0 ? KvOperation.Put(key, key) : KvOperation.Get(key);
                var t = Stopwatch.GetTimestamp();
                try
                {
                    await client.SendAsync(op.ToBytes()).WaitAsync(TimeSpan.FromSeconds(30));
                }
                catch (TimeoutException)
                {
                    continue;
                }

                list.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            }
        })).ToArray();
        await Task.WhenAll(users);
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static bool PortFree(int port)
    {
        try
        {
            using var l = new TcpListener(IPAddress.Loopback, port);
            l.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
