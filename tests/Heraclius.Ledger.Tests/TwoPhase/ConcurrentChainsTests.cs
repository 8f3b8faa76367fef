using CsCheck;
using Heraclius.Ledger.Coordinator;
using Heraclius.Ledger.Model;
using Heraclius.Ledger.Protocol;
using Heraclius.Ledger.Tests.Reference;

namespace Heraclius.Ledger.Tests.TwoPhase;

/// <summary>Many chains in flight at once, delivered in a random order with time passing (so some time out): the invariants hold at quiescence.</summary>
public sealed class ConcurrentChainsTests
{
    private const int Customers = 8;
    private const ulong Funds = 100;

    private static readonly Gen<(int Seed, (int From, int To, int Amount)[][] Chains)> Scenarios =
        Gen.Select(
            Gen.Int[0, 1_000_000],
            Gen.Select(Gen.Int[0, Customers - 1], Gen.Int[0, Customers - 1], Gen.Int[1, 60]).Array[1, 4].Array[1, 60]);

    [Fact]
    public void Concurrent_chains_keep_the_ledger_balanced_and_leave_nothing_reserved() =>
        Scenarios.Sample(s => Run(s.Seed, s.Chains), iter: 60, threads: 1);

    private static void Run(int seed, (int From, int To, int Amount)[][] chains)
    {
        var h = new LedgerHarness(shards: 3, seed: seed, options: new LedgerCoordinatorOptions { PrepareTimeoutMs = 3000 });
        var w = new LedgerWorld(h);
        var accounts = new UInt128[Customers];
        for (var i = 0; i < Customers; i++)
        {
            accounts[i] = w.AccountOn(i % 3, i / 3);
            w.Open(accounts[i], funds: Funds);
        }

        var random = new Random(seed);
        var submitted = new List<((string, ulong) Id, Transfer[] Chain)>();
        foreach (var legs in chains)
        {
            var chain = new Transfer[legs.Length];
            for (var i = 0; i < legs.Length; i++)
            {
                var (from, to, amount) = legs[i];
                to = from == to ? (to + 1) % Customers : to;
                chain[i] = w.Plain(accounts[from], accounts[to], (ulong)amount, linked: i < legs.Length - 1);
            }

            submitted.Add((h.Submit(LedgerRequest.CreateTransfers(chain)), chain));

            // Now and then a retry of an earlier chain under a new request id, some deliveries, time.
            if (random.Next(5) == 0)
            {
                var earlier = submitted[random.Next(submitted.Count)].Chain;
                submitted.Add((h.Submit(LedgerRequest.CreateTransfers(earlier)), earlier));
            }

            for (var steps = random.Next(4); steps > 0 && h.Step(); steps--)
            {
            }

            if (random.Next(8) == 0)
            {
                h.Now += (ulong)random.Next(2500);
                h.Tick();
            }
        }

        while (h.Queued > 0 || h.CoordinatorService.HasTimers(h.CoordinatorState))
        {
            h.RunToQuiescence();
            h.Now += 1000;
            h.Tick();
        }

        // Every request answered once; the transfers answered ok are exactly what moved.
        Assert.Empty(h.Anomalies);
        var debits = new Dictionary<UInt128, ulong>();
        var credits = new Dictionary<UInt128, ulong>();
        var applied = new HashSet<UInt128>();
        foreach (var (id, chain) in submitted)
        {
            var answer = LedgerWorld.Parse(h.AnswerOf(id) ?? throw new InvalidOperationException($"no answer for {id}"));
            if (!answer.TransferResults!.All(r => r == CreateTransferResult.Ok))
            {
                continue;
            }

            foreach (var t in chain)
            {
                if (applied.Add(t.Id))
                {
                    debits[t.DebitAccountId] = debits.GetValueOrDefault(t.DebitAccountId) + t.Amount;
                    credits[t.CreditAccountId] = credits.GetValueOrDefault(t.CreditAccountId) + t.Amount;
                }
            }
        }

        var all = new List<Account>();
        foreach (var id in (UInt128[])[1, .. accounts])
        {
            var account = w.LookupAccount(id)!.Value;
            all.Add(account);
            Assert.Equal((0UL, 0UL), (account.DebitsPending, account.CreditsPending));
            if (id != 1)
            {
                Assert.Equal(debits.GetValueOrDefault(id), account.DebitsPosted);
                Assert.Equal(Funds + credits.GetValueOrDefault(id), account.CreditsPosted);
            }
        }

        Assert.Empty(ReferenceLedger.BalanceViolations(all));
        Assert.Empty(h.CoordinatorState.KeysWithPrefix((byte)'X'));
        Assert.Empty(h.CoordinatorState.KeysWithPrefix((byte)'I'));
    }
}
