using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.Simulation;

namespace Heraclius.Node.Commands;

/// <summary>
/// Benchmarks: <c>kv</c> and <c>get</c> start a local topology in this process over real gRPC,
/// Ed25519 and fsync'd WALs and drive it with closed-loop virtual users; <c>scaling</c> counts the
/// messages, bytes and signature checks per operation as clusters are added, on the simulation's
/// in-memory network with the real replica code.
/// </summary>
internal static class BenchCommand
{
    private const string Usage = """
        heraclius bench kv      [--duration 20s] [--vus 256] [--coordinators 1] [--shards 0] [--nodes 4]
                                [--clients N] [--checkpoint-interval 128] [--value-bytes 32] [--warmup 3s] [--log]
          half Puts, half Gets of random 32-byte keys. By default the single-cluster store; --shards N puts N shard clusters behind the coordinators.
          --value-bytes sets the size of each Put's value (1 to 65536; default 32, the key's size): a larger state
          sooner, for what checkpoints cost as the state grows.

        heraclius bench get     [--coordinators 1] [--shards 1] [--nodes 4] [--vus 256 | --sweep]
                                [--min-vus 16] [--max-vus 4096] [--step 10s] [--warmup 2s] [--p99-bound 100] [--log]
                                [--clients N] [--checkpoint-interval 128]
          blocking GETs of random 32-byte keys (the paper's workload). --sweep doubles the virtual users
          per step from --min-vus to --max-vus, one line per step; the last line is the best step: the
          highest throughput whose p99 stays within --p99-bound ms (or the highest, if none does).

        heraclius bench scaling [--max 64] [--ops 40]
          C = S = 1, 2, 4, ... --max clusters of 4 nodes on the in-memory network (the real replica
          code), a fixed uniform load; prints messages, bytes and signature checks per operation.

          kv and get run every cluster in this process. Client connection i (its own client id bench-i)
          submits to node (i / C) mod n of coordinator c(i mod C).
          Every measurement (kv, get and transfers, each sweep step) follows a warm-up of at least --warmup that goes
          on in one-second slices until a slice compiled under 25 ms of methods (at most 30 s): tiered compilation
          otherwise re-compiles hot methods during the first ~12 s under load. jit_ms is what compiled while measuring;
          --warmup 0s measures at once.
        """;

    /// <summary>Virtual users per client id by default: each has one request in flight, and a client's in-flight ids must stay inside its session window.</summary>
    private const int VusPerClient = 512;

    public static async Task<int> RunAsync(string[] args)
    {
        var o = new Options(args, "--sweep", "--no-baseline", "--log");
        var kind = o.Positional.Count == 1 ? o.Positional[0] : "";
        if (o.Help || kind is not ("kv" or "get" or "transfers" or "scaling"))
        {
            Console.WriteLine(Usage);
            Console.WriteLine(TransfersBench.Usage);
            return o.Help ? 0 : 2;
        }

        try
        {
            return kind switch
            {
                "kv" => await KvAsync(o),
                "get" => await GetAsync(o),
                "transfers" => await TransfersBench.RunAsync(o),
                _ => Scaling(o),
            };
        }
        catch (ArgumentException e)
        {
            return Cli.Fail(e.Message);
        }
    }

    private static async Task<int> KvAsync(Options o)
    {
        o.RejectUnknown("--duration", "--vus", "--coordinators", "--shards", "--nodes", "--clients", "--checkpoint-interval", "--value-bytes", "--warmup", "--log");
        // The store's own benchmark: one cluster, as issue and README give it (--shards N for the sharded store).
        var shape = TopologyShape.FromOptions(o, new TopologyShape(1, 0, TopologyShape.DefaultNodes));
        var vus = o.GetInt("--vus", 256);
        var valueBytes = o.GetInt("--value-bytes", LoadStep.KeyBytes);
        if (valueBytes is < 1 or > KvOperation.MaxValueBytes)
        {
            return Cli.Fail($"--value-bytes must be 1 to {KvOperation.MaxValueBytes}");
        }

        await using var cluster = await StartAsync(o, shape, vus);
        Console.WriteLine($"bench kv: {shape} ({cluster.Nodes.Count} nodes in this process), {cluster.Clients.Count} client connections, {vus} virtual users, {valueBytes}-byte values");
        var step = await LoadStep.RunAsync(cluster, LoadWorkload.PutsAndGets, vus, o.GetDuration("--warmup", TimeSpan.FromSeconds(3)), o.GetDuration("--duration", TimeSpan.FromSeconds(20)), verbose: true, valueBytes);
        if (step.Ops == 0)
        {
            return Cli.Fail("no operation was executed during the measurement; see the answers counted above");
        }

        Console.WriteLine(step.Line(shape));
        return 0;
    }

    private static async Task<int> GetAsync(Options o)
    {
        o.RejectUnknown("--coordinators", "--shards", "--nodes", "--vus", "--sweep", "--min-vus", "--max-vus", "--step", "--warmup", "--p99-bound", "--clients", "--checkpoint-interval", "--log");
        var shape = TopologyShape.FromOptions(o, new TopologyShape(1, 1, TopologyShape.DefaultNodes));
        var sweep = o.Has("--sweep");
        var minVus = o.GetInt("--min-vus", 16);
        var maxVus = sweep ? o.GetInt("--max-vus", 4096) : o.GetInt("--vus", 256);
        var bound = o.GetInt("--p99-bound", 100);
        var stepDuration = o.GetDuration("--step", TimeSpan.FromSeconds(10));
        var warmup = o.GetDuration("--warmup", TimeSpan.FromSeconds(2));
        if (minVus < 1 || maxVus < minVus && sweep)
        {
            return Cli.Fail("--min-vus must be at least 1 and at most --max-vus");
        }

        await using var cluster = await StartAsync(o, shape, maxVus);
        Console.WriteLine($"bench get: {shape} ({cluster.Nodes.Count} nodes in this process), {cluster.Clients.Count} client connections, {(sweep ? $"{minVus} to {maxVus}" : maxVus)} virtual users");
        var steps = new List<LoadStep>();
        for (var vus = sweep ? minVus : maxVus; vus <= maxVus; vus *= 2)
        {
            // Each step over the connections `bench get --vus <step>` would open: connections sized for the largest step
            // split the small steps into many small batches (256 users over 8 connections: 3.7k GET/s at 449 µs of CPU
            // each, against 10.6k over one).
            var step = await LoadStep.RunAsync(cluster, LoadWorkload.Gets, vus, warmup, stepDuration, verbose: !sweep,
                clientCount: o.Has("--clients") ? null : ClientsFor(shape, vus));
            Console.WriteLine(step.Line(shape));
            steps.Add(step);
        }

        var best = steps.Where(s => s.P99 <= bound && s.Ops > 0).MaxBy(s => s.OpsPerSecond) ?? steps.MaxBy(s => s.OpsPerSecond)!;
        if (best.Ops == 0)
        {
            return Cli.Fail("no operation was executed; see the answers counted above");
        }

        Console.WriteLine(best.Line(shape));
        return 0;
    }

    /// <summary>The client connections a run of <paramref name="vus"/> users opens by default.</summary>
    private static int ClientsFor(TopologyShape shape, int vus) => Math.Max(shape.Coordinators, (vus + VusPerClient - 1) / VusPerClient);

    private static async Task<BenchCluster> StartAsync(Options o, TopologyShape shape, int vus)
    {
        // One client per coordinator cluster, as a gateway has (a LedgerClient holds one BFT client per coordinator),
        // and more only so that each client id keeps its in-flight requests well inside the session window (1024 by
        // default). Not one per coordinator node, as before: every connection adds its batches, each verified by every
        // replica, and its compact decisions to every decision; at 256 users one connection instead of four took
        // 97-106 instead of 134-143 µs of CPU per operation.
        var clientCount = o.GetInt("--clients", ClientsFor(shape, vus));
        if (vus < 1 || clientCount < 1)
        {
            throw new ArgumentException("--vus and --clients must be at least 1");
        }

        var options = new ReplicaOptions();
        options.CheckpointInterval = o.GetInt("--checkpoint-interval", options.CheckpointInterval);
        options.RetainDecisions = (int)Math.Min(int.MaxValue, Math.Max(options.RetainDecisions, 3L * options.CheckpointInterval));
        options.Validate();
        return await BenchCluster.StartAsync(shape, clientCount, options, logReplicas: o.Has("--log"));
    }

    private static int Scaling(Options o)
    {
        o.RejectUnknown("--max", "--ops");
        var max = o.GetInt("--max", 64);
        var ops = o.GetInt("--ops", 40);
        if (max < 1 || ops < 1)
        {
            return Cli.Fail("--max and --ops must be at least 1");
        }

        Console.WriteLine($"bench scaling: C = S = 1 .. {max}, 4 nodes each, in-memory network, real replicas; one operation in flight per coordinator and per shard, {ops} per client after a warm-up");
        var results = new List<ScalingResult>();
        for (var c = 1; c <= max; c *= 2)
        {
            var r = ScalingBenchmark.Run(c, c, ops);
            results.Add(r);
            Console.WriteLine(r);
        }

        double Spread(Func<ScalingResult, double> f) => (results.Max(f) - results.Min(f)) / f(results[0]) * 100;
        Console.WriteLine($"spread from 1+1 to {max}+{max}: msgs {Spread(r => r.MessagesPerOp):F1}% bytes {Spread(r => r.BytesPerOp):F1}% sig_verifies {Spread(r => r.SignatureVerifiesPerOp):F1}%");
        return 0;
    }
}
