using System.Diagnostics;
using Heraclius.KvStore.Client;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.Topology;

namespace Heraclius.Node.Commands;

/// <summary>One measured run of closed-loop virtual users against a <see cref="BenchCluster"/>, and the lines it prints.</summary>
internal sealed class LoadStep
{
    /// <summary>The size of every key the virtual users read and write (random, so nearly every Put adds one).</summary>
    public const int KeyBytes = 32;

    /// <summary>How long past the run's end an operation may still be answered before it counts as a timeout.</summary>
    private static readonly TimeSpan OperationTimeout = TimeSpan.FromSeconds(30);

    private LoadStep(int vus, double opsPerSecond, double p50, double p99, double avg, long ops, double batchAvg, LoadResult result)
    {
        BatchAvg = batchAvg;
        Vus = vus;
        OpsPerSecond = opsPerSecond;
        P50 = p50;
        P99 = p99;
        Avg = avg;
        Ops = ops;
        Result = result;
    }

    public int Vus { get; }

    public double OpsPerSecond { get; }

    public double P50 { get; }

    public double P99 { get; }

    public double Avg { get; }

    public long Ops { get; }

    /// <summary>Requests per coordinator decision over the measurement.</summary>
    public double BatchAvg { get; }

    public LoadResult Result { get; }

    public string Line(TopologyShape shape) =>
        $"ops_per_s={OpsPerSecond:F0} p50_ms={P50:F2} p99_ms={P99:F2} avg_ms={Avg:F2} vus={Vus} clusters={shape.Coordinators}+{shape.Shards} nodes={shape.TotalNodes} batch_avg={BatchAvg:F1}";

    /// <summary>
    /// Warms up, then measures <paramref name="vus"/> users for <paramref name="duration"/> over the first
    /// <paramref name="clientCount"/> client connections (all when null), printing the per-op costs and per-cluster lines.
    /// </summary>
    public static async Task<LoadStep> RunAsync(BenchCluster cluster, LoadWorkload workload, int vus, TimeSpan warmup, TimeSpan duration, bool verbose, int valueBytes = KeyBytes, int? clientCount = null)
    {
        var clients = clientCount is { } n && n < cluster.Clients.Count ? cluster.Clients.GetRange(0, n) : cluster.Clients;
        await Warmup.RunAsync(d => RunLoad(clients, workload, vus, d, new LoadResult(vus), valueBytes), warmup);
        using var meter = await CostMeter.StartAsync(cluster);
        var result = new LoadResult(vus);
        var sw = Stopwatch.StartNew();
        await RunLoad(clients, workload, vus, duration, result, valueBytes);
        var elapsed = sw.Elapsed.TotalSeconds;
        var all = result.Latencies.SelectMany(l => l).Order().ToArray();
        var ops = all.Length;
        double P(double q) => LatencyDistribution.At(all, q);
        var batchAvg = await meter.PrintAsync(ops, elapsed, $"vus={vus}", verbose);
        Console.WriteLine(LatencyDistribution.Line(all));
        var step = new LoadStep(vus, ops / elapsed, P(0.50), P(0.99), all.Length == 0 ? 0 : all.Average(), ops, batchAvg, result);

        var refused = result.Refusals();
        if (refused.Length > 0 || result.Timeouts > 0)
        {
            Console.WriteLine($"  not answered as executed (not counted as ops): {string.Join(" ", refused.Select(r => $"{r.Status}={r.Count}"))}{(result.Timeouts > 0 ? $" timeouts={result.Timeouts}" : "")}");
        }

        return step;
    }

    /// <summary>
    /// Runs <paramref name="vus"/> virtual users for <paramref name="duration"/>, each issuing operations on random 32-byte
    /// keys back to back; a Put writes <paramref name="valueBytes"/> bytes (the key itself when that is its size).
    /// </summary>
    private static async Task RunLoad(List<BftClient> clients, LoadWorkload workload, int vus, TimeSpan duration, LoadResult result, int valueBytes)
    {
        using var stop = new CancellationTokenSource(duration);
        // One deadline for the run, not a timer per operation (WaitAsync): its timer and promise were 4% of the bytes
        // `bench kv` allocated, plus a timer-queue insert and removal per operation, on the cores the replicas run on.
        using var deadline = new CancellationTokenSource(duration + OperationTimeout);
        var users = Enumerable.Range(0, vus).Select(u => Task.Run(async () =>
        {
            var list = result.Latencies[u];
            // Unseeded: a seeded Random runs .NET's legacy generator, 0.7% of bench kv's CPU for 32 random bytes an op.
            var random = new Random();
            var client = clients[u % clients.Count];
            var key = new byte[KeyBytes];
            // One value per user, its first bytes the key's: values are distinct, and filling them costs nothing per op.
            var value = valueBytes == KeyBytes ? key : new byte[valueBytes];
            random.NextBytes(value);
            while (!stop.IsCancellationRequested)
            {
                random.NextBytes(key);
                if (!ReferenceEquals(value, key))
                {
                    key.AsSpan(0, Math.Min(KeyBytes, valueBytes)).CopyTo(value);
                }

                var op = workload == LoadWorkload.PutsAndGets && u % 2 == 0 ? KvOperation.Put(key, value) : KvOperation.Get(key);
                var t = Stopwatch.GetTimestamp();
                ClientReply reply;
                try
                {
                    reply = await client.SendAsync(op.ToBytes(), deadline.Token);
                }
                catch (OperationCanceledException)
                {
                    result.CountTimeout();
                    break;
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
