using System.Diagnostics;
using Heraclius.Ledger.Client;
using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Tests.WholeSystem;

/// <summary>
/// One hot account on s0 with counterparties on s1 and s2, so that every transfer touching it is a
/// two-phase commit: many debits out of it and credits into it at once, funded for only some of the
/// debits. The ledger reserves instead of locking the account, so the debits that fit must all
/// succeed, none beyond, the balance never goes below zero, and the two-phase commits on the account
/// overlap rather than run one after another (many of its debits are reserved at once).
/// </summary>
[Trait("Category", "Cluster")]
[Collection(ClusterCollection.Name)]
public sealed class HotAccountTests
{
    private const int Clients = 4;
    private const ulong Amount = 100;

    /// <summary>The hot account's funding covers exactly this many debits.</summary>
    private const int Affordable = 50;

    private const int Debits = 160;
    private const int Credits = 30;
    private const int SequentialRounds = 5;

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private static void Log(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    [Fact]
    public async Task ManyConcurrentTransfersOutOfAndIntoOneAccount_SucceedExactlyAsFarAsItsFundsGo_AndTheirTwoPhaseCommitsOverlap()
    {
        await using var system = new LedgerSystem(Clients);
        await system.StartAsync();
        var clients = new LedgerClient[Clients];
        for (var i = 0; i < Clients; i++)
        {
            clients[i] = await system.ClientAsync(i, (i + 1) % 4, (i + 2) % 4);
        }

        var accounts = new LedgerAccounts(system, perShard: 20);
        var hot = accounts.AddOwn(1, "s0", AccountFlags.DebitsMustNotExceedCredits | AccountFlags.History);
        var book = new TransferBook();
        await accounts.CreateAsync(system, clients);
        await accounts.FundAsync(system, clients, book, 100_000);
        var funding = Transfers.Plain(book.NextId(), LedgerAccounts.Issuance(1), hot, Affordable * Amount, 1);
        Assert.Equal(CreateTransferResult.Ok, (await system.SendChainAsync(clients[0], [funding], book))[0]);
        var others = accounts.CustomersOn(1, "s1").Concat(accounts.CustomersOn(1, "s2")).ToArray();

        // One cross-shard transfer at a time, away from the hot account: what a two-phase commit takes here, now.
        var round = TimeSpan.MaxValue;
        for (var i = 0; i < SequentialRounds; i++)
        {
            var t = Transfers.Plain(book.NextId(), others[i], others[^(i + 1)], 1, 1);
            var clock = Stopwatch.StartNew();
            Assert.Equal(CreateTransferResult.Ok, (await system.SendChainAsync(clients[i % Clients], [t], book))[0]);
            round = TimeSpan.FromTicks(Math.Min(round.Ticks, clock.Elapsed.Ticks));
        }

        // All at once, interleaved, so credits land while debits are being decided.
        var chains = Enumerable.Range(0, Debits + Credits).Select(i =>
        {
            var other = others[i % others.Length];
            return i % 6 == 5 && i / 6 < Credits
                ? Transfers.Plain(book.NextId(), other, hot, Amount, 1)
                : Transfers.Plain(book.NextId(), hot, other, Amount, 1);
        }).ToArray();
        Assert.Equal(Credits, chains.Count(t => t.CreditAccountId == hot));
        var burst = Stopwatch.StartNew();
        var results = await Task.WhenAll(chains.Select((t, i) => system.SendChainAsync(clients[i % Clients], [t], book)));
        burst.Stop();

        var debitResults = chains.Zip(results, (t, r) => (t, r[0])).Where(x => x.t.DebitAccountId == hot).Select(x => x.Item2).ToList();
        var creditResults = chains.Zip(results, (t, r) => (t, r[0])).Where(x => x.t.CreditAccountId == hot).Select(x => x.Item2).ToList();
        Assert.All(creditResults, r => Assert.Equal(CreateTransferResult.Ok, r));
        Assert.All(debitResults, r => Assert.True(r is CreateTransferResult.Ok or CreateTransferResult.ExceedsCredits, $"a debit answered {r}"));
        var succeeded = debitResults.Count(r => r == CreateTransferResult.Ok);
        Log($"{Debits} debits and {Credits} credits at once in {burst.Elapsed.TotalMilliseconds:0} ms ({Clients} clients); one 2PC alone took {round.TotalMilliseconds:0} ms; "
            + $"{succeeded} debits succeeded, {book.Retries} attempts given up and sent again");

        // A debit is refused only while the reserved and posted debits leave less than its amount, and every reservation
        // here commits (the counterparties take any credit): so once one was refused, at least the funding's worth succeeded.
        // And never more than funding and credits cover.
        Assert.True(succeeded < Debits, "every debit succeeded, more than the funds could cover");
        Assert.InRange(succeeded, Affordable, Affordable + Credits);
        var account = await system.UntilAnsweredAsync(ct => clients[0].LookupAccountAsync(hot, ct), () => "lookup of the hot account");
        Assert.NotNull(account);
        var a = account.Value;
        Assert.Equal((0UL, 0UL), (a.DebitsPending, a.CreditsPending));
        Assert.Equal((Affordable + Credits) * Amount, a.CreditsPosted);
        Assert.Equal((ulong)succeeded * Amount, a.DebitsPosted);

        // What is left is spent to the last whole amount, one debit at a time: each succeeds exactly while the balance covers it.
        var left = a.CreditsPosted - a.DebitsPosted;
        var spent = 0UL;
        while (true)
        {
            var t = Transfers.Plain(book.NextId(), hot, others[(int)(spent % (ulong)others.Length)], Amount, 1);
            var r = (await system.SendChainAsync(clients[0], [t], book))[0];
            if (r != CreateTransferResult.Ok)
            {
                Assert.Equal(CreateTransferResult.ExceedsCredits, r);
                break;
            }

            spent += Amount;
            Assert.True(spent <= left, $"a debit succeeded with {left - spent + Amount} left");
        }

        Assert.True(left - spent < Amount, $"a debit was refused with {left - spent} left");

        // Reservations on the hot account overlapped: its history shows how many debits were pending at once (a lock per
        // transfer would show one) ...
        var history = await LedgerAudit.HistoryAsync(system, clients[0], hot);
        var mostPending = history.Max(e => e.DebitsPending);
        Log($"at most {mostPending / Amount} debits of the hot account were reserved at once");
        Assert.True(mostPending >= 8 * Amount, $"at most {mostPending / Amount} debits of the hot account were ever reserved at once");

        // The burst's time against one 2PC's is only logged (above), not asserted: on a machine busy with other work the
        // clients time out and send again (a run beside a build took 5.3 s with 190 resends, one 2PC alone 78 ms), while
        // the reservations held at once show the overlap whatever the machine does.

        await system.Cluster.AssertAllConvergedAsync(Bound);
        await LedgerAudit.AssertConsistentAsync(system, accounts, book, clients);
    }
}
