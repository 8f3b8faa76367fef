using System.Collections.Concurrent;
using System.Diagnostics;
using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Routing;
using Heraclius.Ledger.Client;
using Heraclius.Ledger.Model;
using Heraclius.Ledger.Protocol;
using Heraclius.Node.Services;

namespace Heraclius.Node.Commands;

/// <summary>
/// <c>bench transfers</c>: a ledger topology in this process (real gRPC, Ed25519, fsync'd WALs), N
/// funded customer accounts, and closed-loop virtual users each creating one transfer at a time
/// between two random accounts (on different shards for the cross-shard fraction). Runs the
/// PostgreSQL baseline first, when it is there, so both lines come from one run on one machine.
/// </summary>
internal static class TransfersBench
{
    public const string Usage = """
        heraclius bench transfers [--duration 20s] [--vus 2048] [--accounts 100000] [--cross-shard 1.0]
                                  [--coordinators 1] [--shards 2] [--nodes 4] [--clients N] [--warmup 3s]
                                  [--sweep [--min-vus 128] [--max-vus 2048] [--p99-bound 100]]
                                  [--baseline ../shared/baselines/pg_transfers.sh | --no-baseline] [--log]
          virtual users each create transfers of 1..100 units between random funded accounts, one at a
          time; --cross-shard is the fraction whose two accounts live on different shards. The
          PostgreSQL baseline (pgbench, 32 clients, same duration) runs first when its script exists.
          --sweep doubles the users from --min-vus to --max-vus, each step --duration long on the same
          cluster and accounts, one line per step, and ends with the best step whose p99 is within
          --p99-bound ms (the best step overall when none is).
          Last line: transfers_per_s=<n> p50_ms=<x> p99_ms=<y> cross_shard=<f> clusters=<c>+<s> [vus=<v>]
        """;

    private const uint Ledger = 1;
    private const ushort Code = 1;
    private const ulong InitialBalance = 1_000_000_000_000;
    private static readonly TimeSpan OperationTimeout = TimeSpan.FromSeconds(30);

    public static async Task<int> RunAsync(Options o)
    {
        o.RejectUnknown("--duration", "--vus", "--accounts", "--cross-shard", "--coordinators", "--shards", "--nodes", "--clients", "--warmup", "--baseline", "--no-baseline", "--log",
            "--sweep", "--min-vus", "--max-vus", "--p99-bound");
        var shape = TopologyShape.FromOptions(o, TopologyShape.Default) with { Service = NodeServices.Ledger };
        var sweep = o.Has("--sweep");
        var vus = sweep ? o.GetInt("--max-vus", 2048) : o.GetInt("--vus", 2048);
        var minVus = sweep ? o.GetInt("--min-vus", 128) : vus;
        var bound = o.GetInt("--p99-bound", 100);
        if (minVus < 1 || minVus > vus)
        {
            return Cli.Fail("--min-vus must be at least 1 and at most --max-vus");
        }

        var accounts = o.GetInt("--accounts", 100_000);
        var crossShard = double.Parse(o.Get("--cross-shard", "1.0"), System.Globalization.CultureInfo.InvariantCulture);
        var duration = o.GetDuration("--duration", TimeSpan.FromSeconds(20));
        var warmup = o.GetDuration("--warmup", TimeSpan.FromSeconds(3));
        if (vus < 1 || accounts < 2 || crossShard is < 0 or > 1 || (crossShard > 0 && shape.Shards < 2))
        {
            return Cli.Fail("--vus ≥ 1, --accounts ≥ 2, --cross-shard in [0, 1], and cross-shard transfers need --shards ≥ 2");
        }

        if (!o.Has("--no-baseline"))
        {
            await RunBaselineAsync(o.Get("--baseline", Path.Combine("..", "shared", "baselines", "pg_transfers.sh")), duration);
        }

        // One client id per 512 users (in-flight ids stay inside the session window), and a whole number of
        // clients per coordinator: a ledger client needs one BFT client of every coordinator.
        var perLedgerClient = shape.Coordinators;
        var ledgerClients = o.GetInt("--clients", Math.Max(1, (vus + 511) / 512));
        var options = new ReplicaOptions();
        options.Validate();
        await using var cluster = await BenchCluster.StartAsync(shape, ledgerClients * perLedgerClient, options, logReplicas: o.Has("--log"));
        var bft = cluster.Clients;
        var clients = Enumerable.Range(0, ledgerClients).Select(k => new LedgerClient(cluster.Topology,
            Enumerable.Range(0, perLedgerClient).ToDictionary(j => cluster.Topology.Coordinators.ElementAt(j).Id, j => bft[(k * perLedgerClient) + j]))).ToList();
        Console.WriteLine($"bench transfers: {shape} ({cluster.Nodes.Count} nodes in this process), {bft.Count} client connections, {vus} virtual users, {accounts} accounts, cross_shard={crossShard:F2}");

        var router = new ShardRouter(cluster.Topology);
        var byShard = await SetUpAccountsAsync(clients, router, accounts);
        var load = new TransferLoad(clients, byShard, crossShard);
        var steps = new List<(int Vus, double PerSecond, double P50, double P99)>();
        for (var users = minVus; users <= vus; users *= 2)
        {
            await Warmup.RunAsync(d => load.RunAsync(users, d, measure: false), warmup);
            using var meter = await CostMeter.StartAsync(cluster);
            var sw = Stopwatch.StartNew();
            await load.RunAsync(users, duration, measure: true);
            var elapsed = sw.Elapsed.TotalSeconds;
            var all = load.Latencies.Order().ToArray();
            double P(double q) => LatencyDistribution.At(all, q);
            await meter.PrintAsync(all.Length, elapsed, $"vus={users}", verbose: !sweep);
            Console.WriteLine(LatencyDistribution.Line(all));
            Console.WriteLine($"  results: {string.Join(" ", load.Results.OrderBy(r => r.Key).Select(r => $"{r.Key}={r.Value}"))}{(load.Timeouts > 0 ? $" timeouts={load.Timeouts}" : "")} resent_after_overloaded={clients.Sum(c => c.Resent)}");
            var committed = load.Results.TryGetValue(CreateTransferResult.Ok, out var ok) ? ok : 0;
            steps.Add((users, committed / elapsed, P(0.50), P(0.99)));
            if (sweep)
            {
                Console.WriteLine(Line(steps[^1], crossShard, shape));
            }
        }

        var best = steps.Where(s => s.P99 <= bound && s.PerSecond > 0).OrderByDescending(s => s.PerSecond).FirstOrDefault();
        if (best.Vus == 0)
        {
            best = steps.MaxBy(s => s.PerSecond);
        }

        if (best.PerSecond == 0)
        {
            return Cli.Fail("no transfer committed during the measurement; see the results above");
        }

        Console.WriteLine(Line(best, crossShard, shape, withVus: sweep));
        return 0;
    }

    private static string Line((int Vus, double PerSecond, double P50, double P99) step, double crossShard, TopologyShape shape, bool withVus = true) =>
        $"transfers_per_s={step.PerSecond:F0} p50_ms={step.P50:F2} p99_ms={step.P99:F2} cross_shard={crossShard:F1} clusters={shape.Coordinators}+{shape.Shards}" + (withVus ? $" vus={step.Vus}" : "");

    /// <summary>Creates the ledger's issuance account and the customer accounts, funds each from issuance, and returns the account ids by shard.</summary>
    private static async Task<List<UInt128>[]> SetUpAccountsAsync(List<LedgerClient> clients, ShardRouter router, int accounts)
    {
        var sw = Stopwatch.StartNew();
        var issuance = Account.Create(Ledger, Ledger, Code, 0, AccountFlags.Issuance);
        var created = await clients[0].CreateAccountAsync(issuance);
        if (created is not (CreateAccountResult.Ok or CreateAccountResult.Exists))
        {
            throw new InvalidOperationException($"issuance account: {created}");
        }

        var ids = Enumerable.Range(0, accounts).Select(i => (UInt128)(1_000_000UL + (ulong)i)).ToArray();
        await ParallelAsync(ids, clients, async (client, id) =>
        {
            var r = await client.CreateAccountAsync(Account.Create(id, Ledger, Code, 1, AccountFlags.DebitsMustNotExceedCredits));
            if (r is not (CreateAccountResult.Ok or CreateAccountResult.Exists))
            {
                throw new InvalidOperationException($"account {id}: {r}");
            }
        });
        var salt = (UInt128)(ulong)DateTime.UtcNow.Ticks << 64;
        await ParallelAsync(ids, clients, async (client, id) =>
        {
            var funding = new Transfer(salt | id, Ledger, id, InitialBalance, 0, 0, 0, Ledger, Code, TransferFlags.None, 0);
            // Every funding debits the one issuance account; on a loaded machine a prepare can time out. The
            // transient codes are retried with the same id, as a bank must (a new id could pay twice).
            var r = await client.CreateTransfersAsync([funding]);
            while (r[0] is CreateTransferResult.PrepareTimedOut or CreateTransferResult.Exists)
            {
                r = await client.CreateTransfersAsync([funding]);
            }

            if (r[0] != CreateTransferResult.Ok)
            {
                throw new InvalidOperationException($"funding {id}: {r[0]}");
            }
        });
        Console.WriteLine($"  set up {accounts} accounts and their funding in {sw.Elapsed.TotalSeconds:F1} s");
        var byShard = router.Shards.Select(_ => new List<UInt128>()).ToArray();
        var shardIndex = router.Shards.Select((s, i) => (s, i)).ToDictionary(x => x.s, x => x.i, StringComparer.Ordinal);
        foreach (var id in ids)
        {
            byShard[shardIndex[router.ShardOf(LedgerCodec.IdBytes(id))]].Add(id);
        }

        return byShard;
    }

    private static async Task ParallelAsync(UInt128[] ids, List<LedgerClient> clients, Func<LedgerClient, UInt128, Task> action)
    {
        var next = -1;
        // 256 in flight per client id keeps every request well inside its session window.
        var workers = Enumerable.Range(0, Math.Min(256 * clients.Count, ids.Length)).Select(w => Task.Run(async () =>
        {
            var client = clients[w % clients.Count];
            int i;
            while ((i = Interlocked.Increment(ref next)) < ids.Length)
            {
                await action(client, ids[i]).WaitAsync(OperationTimeout);
            }
        }));
        await Task.WhenAll(workers);
    }

    private static async Task RunBaselineAsync(string script, TimeSpan duration)
    {
        if (!File.Exists(script))
        {
            Console.WriteLine($"  (no PostgreSQL baseline: {script} not found)");
            return;
        }

        Console.WriteLine($"baseline: {script} (CLIENTS=32 DURATION={(int)duration.TotalSeconds})");
        var psi = new ProcessStartInfo("bash", [script]) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["CLIENTS"] = "32";
        psi.Environment["DURATION"] = ((int)Math.Max(1, duration.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string? line;
        while ((line = await p.StandardOutput.ReadLineAsync()) is not null)
        {
            Console.WriteLine($"  {line}");
        }

        await p.WaitForExitAsync();
        if (p.ExitCode != 0)
        {
            Console.WriteLine($"  (baseline exited {p.ExitCode}: {(await stderr).Trim()})");
        }
    }

    /// <summary>The virtual users: each creates one transfer at a time and records its latency.</summary>
    private sealed class TransferLoad
    {
        private readonly List<LedgerClient> _clients;
        private readonly List<UInt128>[] _byShard;
        private readonly double _crossShard;
        private long _nextId;
        private long _timeouts;

        public TransferLoad(List<LedgerClient> clients, List<UInt128>[] byShard, double crossShard)
        {
            _clients = clients;
            _byShard = byShard;
            _crossShard = crossShard;
            _nextId = DateTime.UtcNow.Ticks;
        }

        public ConcurrentBag<double> Latencies { get; private set; } = [];

        public ConcurrentDictionary<CreateTransferResult, long> Results { get; } = new();

        public long Timeouts => Interlocked.Read(ref _timeouts);

        public async Task RunAsync(int vus, TimeSpan duration, bool measure)
        {
            Latencies = [];
            Results.Clear();
            Interlocked.Exchange(ref _timeouts, 0);
            using var stop = new CancellationTokenSource(duration);
            // One deadline for the run, not a timer per transfer (see LoadStep).
            using var deadline = new CancellationTokenSource(duration + OperationTimeout);
            var users = Enumerable.Range(0, vus).Select(u => Task.Run(async () =>
            {
                var random = new Random(u + (measure ? 1_000_000 : 0));
                var client = _clients[u % _clients.Count];
                var latencies = new List<double>();
                while (!stop.IsCancellationRequested)
                {
                    var debitShard = random.Next(_byShard.Length);
                    var creditShard = _byShard.Length > 1 && random.NextDouble() < _crossShard
                        ? (debitShard + 1 + random.Next(_byShard.Length - 1)) % _byShard.Length
                        : debitShard;
                    var debit = _byShard[debitShard][random.Next(_byShard[debitShard].Count)];
                    UInt128 credit;
                    do
                    {
                        credit = _byShard[creditShard][random.Next(_byShard[creditShard].Count)];
                    }
                    while (credit == debit);

                    var id = (UInt128)(ulong)Interlocked.Increment(ref _nextId) << 32 | (uint)u;
                    var transfer = new Transfer(id, debit, credit, (ulong)random.Next(1, 101), 0, 0, 0, Ledger, Code, TransferFlags.None, 0);
                    var t = Stopwatch.GetTimestamp();
                    CreateTransferResult[] r;
                    try
                    {
                        r = await client.CreateTransfersAsync([transfer], deadline.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        Interlocked.Increment(ref _timeouts);
                        break;
                    }

                    latencies.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
                    Results.AddOrUpdate(r[0], 1, (_, n) => n + 1);
                }

                foreach (var l in latencies)
                {
                    Latencies.Add(l);
                }
            })).ToArray();
            await Task.WhenAll(users);
        }
    }
}
