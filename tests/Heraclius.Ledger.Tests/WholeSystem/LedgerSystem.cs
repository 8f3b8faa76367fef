using System.Diagnostics;
using Heraclius.KvStore.Client;
using Heraclius.KvStore.StateMachine;
using Heraclius.KvStore.Topology;
using Heraclius.Ledger.Client;
using Heraclius.Ledger.Coordinator;
using Heraclius.Ledger.Model;
using Heraclius.Ledger.Protocol;
using Heraclius.Ledger.Shard;
using Heraclius.Testing.Cluster;

namespace Heraclius.Ledger.Tests.WholeSystem;

/// <summary>
/// The whole ledger in this process: two coordinator and three shard clusters of four real nodes over
/// gRPC and Ed25519, each running the ledger service of its kind, and typed ledger clients that each
/// hold one BFT client per coordinator. Faults are chosen on <see cref="Cluster"/> before <see cref="StartAsync"/>.
/// </summary>
public sealed class LedgerSystem : IAsyncDisposable
{
    public const int Coordinators = 2;
    public const int ShardCount = 3;

    /// <summary>A request unanswered this long is given up by its client and sent again (same transfer ids, new request).</summary>
    public static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(4);

    /// <summary>No operation may stay unanswered, across all its attempts, longer than this.</summary>
    public static readonly TimeSpan AnswerBound = TimeSpan.FromSeconds(30);

    private readonly List<BftClient> _bftClients = [];

    /// <param name="clients">Ledger clients the test will open (each takes one client key per coordinator).</param>
    public LedgerSystem(int clients)
    {
        Cluster = new MultiGrpcCluster(Coordinators, ShardCount, clients * Coordinators, "ledger", CreateService);
    }

    public MultiGrpcCluster Cluster { get; }

    public static string[] ShardIds => [.. Enumerable.Range(0, ShardCount).Select(s => $"s{s}")];

    /// <summary>What the node process runs for a ledger topology.</summary>
    public static IReplicatedService CreateService(ClusterTopology topology, ClusterInfo cluster) =>
        cluster.Kind == ClusterKind.Coordinator ? new LedgerCoordinatorService(topology, cluster.Id) : new LedgerShardService(topology, cluster.Id);

    public Task StartAsync() => Cluster.StartAsync();

    public string ShardOf(UInt128 accountId) => Cluster.Router.ShardOf(LedgerCodec.IdBytes(accountId));

    /// <summary>Ledger client number <paramref name="index"/>, talking to node <paramref name="c0Node"/> of c0 and <paramref name="c1Node"/> of c1.</summary>
    public async Task<LedgerClient> ClientAsync(int index, int c0Node, int c1Node)
    {
        var c0 = await Cluster.ClientAsync("c0", c0Node, Coordinators * index);
        _bftClients.Add(c0);
        var c1 = await Cluster.ClientAsync("c1", c1Node, (Coordinators * index) + 1);
        _bftClients.Add(c1);
        return new LedgerClient(Cluster.Topology, new Dictionary<string, BftClient>(StringComparer.Ordinal) { ["c0"] = c0, ["c1"] = c1 });
    }

    /// <summary>Compact decisions the clients refused because their QC, proof or destination did not verify.</summary>
    public long RejectedDecisions => _bftClients.Sum(c => c.RejectedDecisions);

    /// <summary>
    /// Calls <paramref name="call"/> until it is answered, each attempt abandoned after <paramref name="firstAttempt"/>
    /// (the first) or <see cref="AttemptTimeout"/> (the others), as a client that cannot tell a slow answer from a lost
    /// one does; every operation of the ledger is safe to repeat (transfer ids are the idempotency keys).
    /// </summary>
    public async Task<T> UntilAnsweredAsync<T>(Func<CancellationToken, Task<T>> call, Func<string> what, TransferBook? book = null, TimeSpan? firstAttempt = null)
    {
        var test = TestContext.Current.CancellationToken;
        var clock = Stopwatch.StartNew();
        var timeout = firstAttempt ?? AttemptTimeout;
        while (true)
        {
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(test);
            attempt.CancelAfter(timeout);
            try
            {
                return await call(attempt.Token);
            }
            catch (OperationCanceledException) when (!test.IsCancellationRequested)
            {
                book?.CountRetry();
                timeout = AttemptTimeout;
                if (clock.Elapsed > AnswerBound)
                {
                    Assert.Fail($"{what()} unanswered after {clock.Elapsed.TotalSeconds:0} s\n{await Cluster.DescribeAsync()}");
                }
            }
        }
    }

    /// <summary>Results the ledger does not store: the chain ran nowhere, and the same ids are to be sent again.</summary>
    public static bool IsTransient(CreateTransferResult r) =>
        r is CreateTransferResult.PrepareTimedOut or CreateTransferResult.Exists or CreateTransferResult.PendingTransferLocked;

    /// <summary>Sends one chain until it has a final answer, records that answer, and returns it.</summary>
    public async Task<CreateTransferResult[]> SendChainAsync(LedgerClient client, Transfer[] chain, TransferBook book, TimeSpan? firstAttempt = null)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var results = await UntilAnsweredAsync(ct => client.CreateTransfersAsync(chain, ct), () => $"chain {chain[0].Id} ({chain.Length} legs)", book, firstAttempt);
            if (!results.Any(IsTransient))
            {
                book.Record(chain, results);
                return results;
            }

            book.CountRetry();
            firstAttempt = null;
            Assert.True(clock.Elapsed < AnswerBound, $"chain {chain[0].Id} still answered {string.Join(", ", results)} after {clock.Elapsed.TotalSeconds:0} s");
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var c in _bftClients)
        {
            await c.DisposeAsync();
        }

        await Cluster.DisposeAsync();
    }
}
