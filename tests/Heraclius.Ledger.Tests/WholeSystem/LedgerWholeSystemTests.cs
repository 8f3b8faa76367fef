using System.Diagnostics;
using Heraclius.Ledger.Client;
using Heraclius.Testing.Faults;

namespace Heraclius.Ledger.Tests.WholeSystem;

/// <summary>
/// The whole ledger over real gRPC: two coordinator and three shard clusters of four nodes (20 in this
/// process), a few hundred accounts on two ledgers, and thousands of random transfer chains from several
/// clients on both coordinators, which give up on slow answers and send the same transfers again. Then
/// the ledger is audited through the clients: per ledger credits equal debits and nothing is left
/// pending, no customer is below its limit, every balance is what the Ok transfers the clients were told
/// make it, every transfer is stored with the result its client got, an Ok one moved each of its accounts
/// once and a refused one none, and the honest replicas of every cluster converge.
/// </summary>
[Trait("Category", "Cluster")]
[Collection(ClusterCollection.Name)]
public sealed class LedgerWholeSystemTests
{
    private const int Clients = 4;
    private const int WorkersPerClient = 8;
    private const int ChainsPerWorker = 36;
    private const int CustomersPerShard = 40;
    private const ulong Funding = 10_000;

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private static void Log(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    /// <summary>Opens ledger client i on nodes <paramref name="nodes"/>[i], then creates and funds the accounts.</summary>
    private static async Task<(LedgerClient[] Clients, LedgerAccounts Accounts, TransferBook Book)> SetUpAsync(LedgerSystem system, (int C0, int C1)[] nodes)
    {
        var clients = new LedgerClient[Clients];
        for (var i = 0; i < Clients; i++)
        {
            clients[i] = await system.ClientAsync(i, nodes[i % nodes.Length].C0, nodes[i % nodes.Length].C1);
        }

        var clock = Stopwatch.StartNew();
        var accounts = new LedgerAccounts(system, CustomersPerShard);
        var book = new TransferBook();
        await accounts.CreateAsync(system, clients);
        await accounts.FundAsync(system, clients, book, Funding);
        Log($"set-up: {accounts.All.Count()} accounts created and funded in {clock.Elapsed.TotalSeconds:0.0} s");
        return (clients, accounts, book);
    }

    /// <summary>Every worker's chains (seeded 1000 + worker number), with <paramref name="whileRunning"/> run beside them.</summary>
    private static async Task RunAsync(LedgerSystem system, LedgerClient[] clients, LedgerAccounts accounts, TransferBook book, Func<LedgerWorkload, Task>? whileRunning = null)
    {
        var workload = new LedgerWorkload(system, accounts, book);
        var clock = Stopwatch.StartNew();
        var before = book.Chains;
        var workers = Enumerable.Range(0, Clients * WorkersPerClient)
            .Select(w => workload.WorkerAsync(clients[w % Clients], seed: 1000 + w, ChainsPerWorker)).ToList();
        if (whileRunning is not null)
        {
            await whileRunning(workload);
        }

        await Task.WhenAll(workers);
        var (oneShard, twoPhase) = workload.Shapes;
        Log($"workload: {book.Chains - before} chains ({oneShard} on one shard, {twoPhase} two-phase; {book.Count} transfers in all) in {clock.Elapsed.TotalSeconds:0.0} s, "
            + $"{book.Retries} attempts sent again, {clients.Sum(c => c.Resent)} resent after overloaded");
    }

    /// <summary>
    /// Convergence and the clients' own checks first, the ledger audit last: it is the one check that may skip the
    /// test (see <see cref="LedgerAudit"/>), and everything else must have held by then.
    /// </summary>
    private static async Task ConvergedAsync(LedgerSystem system, TransferBook book)
    {
        var clock = Stopwatch.StartNew();
        await system.Cluster.AssertAllConvergedAsync(Bound);
        Log($"convergence: {clock.Elapsed.TotalSeconds:0.0} s");

        // Some first attempts are abandoned on purpose, so the retry path must have been taken.
        Assert.True(book.Retries > 0, "no client ever retried");
        Assert.Equal(0, system.RejectedDecisions);
    }

    private static async Task AuditAsync(LedgerSystem system, LedgerClient[] clients, LedgerAccounts accounts, TransferBook book)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            await LedgerAudit.AssertConsistentAsync(system, accounts, book, clients);
        }
        finally
        {
            Log($"audit: {clock.Elapsed.TotalSeconds:0.0} s");
        }
    }

    [Fact]
    public async Task NoFaults_ConcurrentRandomTransfersOnBothCoordinators_BalanceToTheClientsRecords_AndEveryClusterConverges()
    {
        await using var system = new LedgerSystem(Clients);
        await system.StartAsync();
        var (clients, accounts, book) = await SetUpAsync(system, [(1, 2), (2, 3), (3, 0), (0, 1)]);

        await RunAsync(system, clients, accounts, book);

        await ConvergedAsync(system, book);
        Assert.Empty(await system.Cluster.EvidenceOfFaultsAmongHonestAsync());
        await AuditAsync(system, clients, accounts, book);
    }

    [Fact]
    public async Task OneCrashedNodePerCluster_AndCoordinatorLeaderStoppedWhile2PCsAreInFlight_TransfersCompleteOnce_AndTheLedgerBalances()
    {
        await using var system = new LedgerSystem(Clients);
        var cluster = system.Cluster;

        // Never started: the view-0 leaders of c1 and s1, followers of s0 and s2. c0's fault is its leader, stopped under load below.
        cluster.Crashed.UnionWith([("c1", 0), ("s0", 2), ("s1", 0), ("s2", 3)]);
        await system.StartAsync();
        var view = await cluster.StableViewAsync("c0", Bound);
        var leader = cluster.Topology.Cluster("c0").LeaderOf(view);
        (int, int)[] nodes = [.. Enumerable.Range(1, 3).Select(k => ((leader + k) % 4, k))];
        var (clients, accounts, book) = await SetUpAsync(system, nodes);
        var stoppedWith = 0L;

        await RunAsync(system, clients, accounts, book, async workload =>
        {
            // Stopped a quarter of the way in, at a moment c0 is running two-phase commits.
            var quarter = book.Chains + (Clients * WorkersPerClient * ChainsPerWorker / 4);
            var deadline = Stopwatch.StartNew();
            while (book.Chains < quarter || workload.CrossShardInFlight("c0") < 4)
            {
                Assert.True(deadline.Elapsed < LedgerSystem.AnswerBound, $"the workload never reached a quarter with 2PCs in flight on c0\n{await cluster.DescribeAsync("c0")}");
                await Task.Delay(5, TestContext.Current.CancellationToken);
            }

            stoppedWith = workload.CrossShardInFlight("c0");
            await cluster.StopNodeAsync("c0", leader);
            Log($"stopped c0-n{leader} (leader of view {view}) after {book.Chains} chains, with {stoppedWith} cross-shard chains in flight on c0");
        });

        await ConvergedAsync(system, book);
        var after = await cluster.StableViewAsync("c0", Bound);
        Assert.True(after > view, $"c0 is still in view {after}, whose leader was stopped");
        Assert.Empty(await cluster.EvidenceOfFaultsAmongHonestAsync());
        await AuditAsync(system, clients, accounts, book);
    }

    [Fact]
    public async Task OneNodePerClusterLyingInConsensus_SomeServingGarbageFeeds_TransfersCompleteOnce_AndTheLedgerBalances()
    {
        await using var system = new LedgerSystem(Clients);
        var cluster = system.Cluster;
        cluster.Lying[("c0", 0)] = ByzantineMode.WrongOutputs;
        cluster.Lying[("c1", 3)] = ByzantineMode.LyingVotes | ByzantineMode.LyingViewChanges | ByzantineMode.Replay;
        cluster.Lying[("s0", 0)] = ByzantineMode.Equivocate | ByzantineMode.Garbage;
        cluster.Lying[("s1", 1)] = ByzantineMode.LyingVotes | ByzantineMode.Replay;
        cluster.Lying[("s2", 2)] = ByzantineMode.WrongOutputs | ByzantineMode.LyingViewChanges;
        cluster.FeedFaults[("c1", 3)] = DecisionFeedFault.RandomBytes;
        cluster.FeedFaults[("s0", 0)] = DecisionFeedFault.RandomBytes;
        cluster.FeedFaults[("s1", 1)] = DecisionFeedFault.FlippedPayload;
        await system.StartAsync();

        // Clients talk to honest nodes: a BFT client trusts only certificates, but it hears only the node it asks.
        var (clients, accounts, book) = await SetUpAsync(system, [(1, 0), (2, 1), (3, 2)]);

        await RunAsync(system, clients, accounts, book);

        await ConvergedAsync(system, book);

        // c0's leader of view 0 alters outputs, so c0 can only have made progress in a later view.
        Assert.True(await cluster.Node("c0", 1)!.Host.QueryAsync(r => r.View) > 0, "c0 never replaced its lying leader");
        Log(await cluster.DescribeAsync());
        await AuditAsync(system, clients, accounts, book);
    }
}
