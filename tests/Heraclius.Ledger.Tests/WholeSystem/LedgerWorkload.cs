using Heraclius.Ledger.Client;
using Heraclius.Ledger.Model;
using Heraclius.Ledger.Protocol;

namespace Heraclius.Ledger.Tests.WholeSystem;

/// <summary>
/// Random transfer chains between the customers of one ledger, as concurrent workers send them: mostly
/// cross-shard, some same-shard, linked chains of two or three legs, pending transfers later posted
/// (in whole or in part) or voided, and requests that must fail with a known code. Each answer is
/// checked at once against what the worker knows; whether a funded debit succeeds depends on the other
/// workers, so there both Ok and exceeds_credits are right and the final audit settles the sums. Some
/// first attempts are abandoned at once, so retries of every kind of chain happen whatever the timing.
/// </summary>
public sealed class LedgerWorkload
{
    /// <summary>More than a whole ledger's supply: a debit of it can never be covered.</summary>
    public const ulong Unaffordable = 1_000_000_000_000;

    private const int MaxAmount = 400;

    private readonly LedgerSystem _system;
    private readonly LedgerAccounts _accounts;
    private readonly TransferBook _book;
    private readonly HomeCoordinator _home;
    private readonly Dictionary<string, int> _homeIndex;
    private readonly long[] _crossShardInFlight;

    public LedgerWorkload(LedgerSystem system, LedgerAccounts accounts, TransferBook book)
    {
        _system = system;
        _accounts = accounts;
        _book = book;
        _home = new HomeCoordinator(system.Cluster.Topology);
        _homeIndex = _home.Coordinators.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i, StringComparer.Ordinal);
        _crossShardInFlight = new long[_home.Coordinators.Count];
    }

    /// <summary>Chains with one participant shard (one shard round), and with more (two-phase commit).</summary>
    public (long OneShard, long TwoPhase) Shapes => (Interlocked.Read(ref _oneShard), Interlocked.Read(ref _twoPhase));

    private long _oneShard;
    private long _twoPhase;

    /// <summary>Cross-shard chains (two-phase commits) sent to <paramref name="coordinator"/> and not answered yet.</summary>
    public long CrossShardInFlight(string coordinator) => Interlocked.Read(ref _crossShardInFlight[_homeIndex[coordinator]]);

    public async Task WorkerAsync(LedgerClient client, int seed, int chains)
    {
        var r = new Random(seed);
        for (var i = 0; i < chains; i++)
        {
            var ledger = LedgerAccounts.Ledgers[r.Next(LedgerAccounts.Ledgers.Length)];
            var roll = r.Next(100);
            if (roll < 50)
            {
                await PlainAsync(client, r, ledger, crossShard: true);
            }
            else if (roll < 65)
            {
                await PlainAsync(client, r, ledger, crossShard: false);
            }
            else if (roll < 77)
            {
                await LinkedAsync(client, r, ledger);
            }
            else if (roll < 90)
            {
                await PendingAsync(client, r, ledger);
            }
            else
            {
                await MustFailAsync(client, r, ledger);
            }
        }
    }

    private async Task<CreateTransferResult[]> SendAsync(LedgerClient client, Random r, params Transfer[] chain)
    {
        // The participants of a chain are the shards of its ids and of its accounts.
        var crossShard = chain.SelectMany(t => new[] { t.Id, t.DebitAccountId, t.CreditAccountId }).Select(_system.ShardOf).Distinct().Count() > 1;
        var home = _homeIndex[_home.Of(chain[0].Id)];
        Interlocked.Increment(ref crossShard ? ref _twoPhase : ref _oneShard);
        if (crossShard)
        {
            Interlocked.Increment(ref _crossShardInFlight[home]);
        }

        try
        {
            // One chain in twenty is given up almost at once: the retry then meets the first request at every stage.
            TimeSpan? abandon = r.Next(20) == 0 ? TimeSpan.FromMilliseconds(r.Next(1, 40)) : null;
            return await _system.SendChainAsync(client, chain, _book, abandon);
        }
        finally
        {
            if (crossShard)
            {
                Interlocked.Decrement(ref _crossShardInFlight[home]);
            }
        }
    }

    private static UInt128 Pick(Random r, UInt128[] from) => from[r.Next(from.Length)];

    private (UInt128 Debit, UInt128 Credit) Pair(Random r, uint ledger, bool crossShard)
    {
        var shards = _accounts.Shards;
        var d = r.Next(shards.Length);
        var c = crossShard ? (d + 1 + r.Next(shards.Length - 1)) % shards.Length : d;
        var debit = Pick(r, _accounts.CustomersOn(ledger, shards[d]));
        UInt128 credit;
        do
        {
            credit = Pick(r, _accounts.CustomersOn(ledger, shards[c]));
        }
        while (credit == debit);
        return (debit, credit);
    }

    private static ulong Amount(Random r) => (ulong)r.Next(1, MaxAmount);

    /// <summary>An id whose record lives on <paramref name="account"/>'s shard, so a chain between accounts of one shard runs in one shard round.</summary>
    private UInt128 IdBeside(UInt128 account)
    {
        var shard = _accounts.ShardOf(account);
        return _book.NextId(id => _system.ShardOf(id) == shard);
    }

    private async Task PlainAsync(LedgerClient client, Random r, uint ledger, bool crossShard)
    {
        var (debit, credit) = Pair(r, ledger, crossShard);
        var t = Transfers.Plain(crossShard ? _book.NextId() : IdBeside(debit), debit, credit, Amount(r), ledger);
        var result = (await SendAsync(client, r, t))[0];
        Assert.True(result is CreateTransferResult.Ok or CreateTransferResult.ExceedsCredits, $"{t}: {result}");
    }

    private async Task LinkedAsync(LedgerClient client, Random r, uint ledger)
    {
        var legs = r.Next(2, 4);
        var customers = _accounts.Customers(ledger).ToArray();
        var path = new List<UInt128> { Pick(r, customers) };
        while (path.Count <= legs)
        {
            var next = Pick(r, customers);
            if (next != path[^1])
            {
                path.Add(next);
            }
        }

        // One chain in three has a leg that can never be covered, so the whole chain must fail.
        var failAt = r.Next(3) == 0 ? r.Next(legs) : -1;
        var chain = Transfers.Linked([.. Enumerable.Range(0, legs).Select(i =>
            Transfers.Plain(_book.NextId(), path[i], path[i + 1], i == failAt ? Unaffordable : Amount(r), ledger))]);
        var results = await SendAsync(client, r, chain);
        var failed = results.Select((code, i) => (code, i)).Where(x => x.code != CreateTransferResult.LinkedEventFailed).ToList();
        var shown = string.Join(", ", results);
        if (failAt < 0 && results.All(x => x == CreateTransferResult.Ok))
        {
            return;
        }

        // A chain fails as one: its failed leg (the first, in chain order) carries the code, every other leg linked_event_failed.
        Assert.True(failed.Count == 1 && failed[0].code == CreateTransferResult.ExceedsCredits && (failAt < 0 || failed[0].i <= failAt),
            $"chain {chain[0].Id} of {legs} legs, unaffordable leg {failAt}: {shown}");
    }

    private async Task PendingAsync(LedgerClient client, Random r, uint ledger)
    {
        var crossShard = r.Next(5) != 0;
        var (debit, credit) = Pair(r, ledger, crossShard);
        UInt128 Id() => crossShard ? _book.NextId() : IdBeside(debit);
        var pending = Transfers.Pending(Id(), debit, credit, Amount(r), ledger);
        var held = (await SendAsync(client, r, pending))[0];
        Assert.True(held is CreateTransferResult.Ok or CreateTransferResult.ExceedsCredits, $"{pending}: {held}");
        if (held != CreateTransferResult.Ok)
        {
            return;
        }

        if (r.Next(4) == 0)
        {
            var tooMuch = Transfers.Post(Id(), pending, pending.Amount + 1);
            Expect(CreateTransferResult.ExceedsPendingTransferAmount, tooMuch, await SendAsync(client, r, tooMuch));
        }

        var post = r.Next(2) == 0;
        var end = post
            ? Transfers.Post(Id(), pending, r.Next(2) == 0 ? 0 : (ulong)r.Next(1, (int)pending.Amount + 1))
            : Transfers.Void(Id(), pending);
        Expect(CreateTransferResult.Ok, end, await SendAsync(client, r, end));

        if (r.Next(4) == 0)
        {
            var again = r.Next(2) == 0 ? Transfers.Post(Id(), pending, 0) : Transfers.Void(Id(), pending);
            var expected = post ? CreateTransferResult.PendingTransferAlreadyPosted : CreateTransferResult.PendingTransferAlreadyVoided;
            Expect(expected, again, await SendAsync(client, r, again));
        }
    }

    private async Task MustFailAsync(LedgerClient client, Random r, uint ledger)
    {
        var (debit, credit) = Pair(r, ledger, crossShard: r.Next(4) != 0);
        var id = _book.NextId();
        var (t, expected) = r.Next(4) switch
        {
            0 => (Transfers.Plain(id, debit, credit, Unaffordable, ledger), CreateTransferResult.ExceedsCredits),
            1 => (Transfers.Plain(id, debit, Pick(r, _accounts.Customers(LedgerAccounts.Ledgers.First(l => l != ledger)).ToArray()), Amount(r), ledger),
                CreateTransferResult.AccountsMustHaveTheSameLedger),
            2 => (Transfers.Plain(id, debit, Pick(r, _accounts.Unknown), Amount(r), ledger), CreateTransferResult.CreditAccountNotFound),
            _ => (Transfers.Post(id, Transfers.Pending(_book.NextId(), debit, credit, Amount(r), ledger), 0), CreateTransferResult.PendingTransferNotFound),
        };
        Expect(expected, t, await SendAsync(client, r, t));
    }

    private static void Expect(CreateTransferResult expected, Transfer t, CreateTransferResult[] results) =>
        Assert.True(results[0] == expected, $"{t}: {results[0]}, expected {expected}");
}
