using System.Collections.Concurrent;
using Heraclius.Ledger.Model;

namespace Heraclius.Ledger.Tests.WholeSystem;

/// <summary>
/// The clients' own record of every transfer they sent and the one answer they took for it (whichever
/// attempt heard it first), kept apart from the ledger so that the ledger's final state can be judged
/// against it: what every balance must be is computed from the Ok transfers here alone.
/// </summary>
public sealed class TransferBook
{
    // Transfer ids live apart from account ids, so a test can never confuse the two.
    private const ulong IdSpace = 0x7E57;

    private readonly ConcurrentDictionary<UInt128, (Transfer Transfer, CreateTransferResult Result)> _answered = new();
    private long _nextId;
    private long _retries;
    private long _chains;

    public UInt128 NextId() => new(IdSpace, (ulong)Interlocked.Increment(ref _nextId));

    /// <summary>The next id <paramref name="accept"/> takes (the ids passed over are never used).</summary>
    public UInt128 NextId(Func<UInt128, bool> accept)
    {
        while (true)
        {
            var id = NextId();
            if (accept(id))
            {
                return id;
            }
        }
    }

    /// <summary>Attempts sent again under a new request: abandoned by a client (timed out), or answered with a transient result.</summary>
    public long Retries => Interlocked.Read(ref _retries);

    /// <summary>Chains answered.</summary>
    public long Chains => Interlocked.Read(ref _chains);

    public int Count => _answered.Count;

    public IReadOnlyCollection<(Transfer Transfer, CreateTransferResult Result)> Answered => [.. _answered.Values];

    public void CountRetry() => Interlocked.Increment(ref _retries);

    public void Record(IReadOnlyList<Transfer> chain, IReadOnlyList<CreateTransferResult> results)
    {
        Assert.Equal(chain.Count, results.Count);
        for (var i = 0; i < chain.Count; i++)
        {
            // Ids are never reused by the workload, so a second record of one would be a bookkeeping bug of the test.
            Assert.True(_answered.TryAdd(chain[i].Id, (chain[i], results[i])), $"transfer {chain[i].Id} recorded twice");
        }

        Interlocked.Increment(ref _chains);
    }

    public (Transfer Transfer, CreateTransferResult Result) Get(UInt128 id) => _answered[id];

    /// <summary>
    /// Every account's four balances as the Ok transfers make them: plain ones post, pending ones hold,
    /// a post releases its pending transfer's hold and posts its own amount (0 = all of it), a void releases.
    /// Signed, so a post or void counted before its pending transfer cannot wrap.
    /// </summary>
    public Dictionary<UInt128, Balances> ExpectedBalances(IEnumerable<UInt128> accounts)
    {
        var b = accounts.ToDictionary(a => a, _ => new Balances(0, 0, 0, 0));
        foreach (var (t, result) in _answered.Values)
        {
            if (result != CreateTransferResult.Ok)
            {
                continue;
            }

            var debit = b[t.DebitAccountId];
            var credit = b[t.CreditAccountId];
            if (t.IsPending)
            {
                debit = debit with { DebitsPending = debit.DebitsPending + (long)t.Amount };
                credit = credit with { CreditsPending = credit.CreditsPending + (long)t.Amount };
            }
            else if (t.IsPost || t.IsVoid)
            {
                var held = (long)_answered[t.PendingId].Transfer.Amount;
                var posted = t.IsVoid ? 0 : t.Amount == 0 ? held : (long)t.Amount;
                debit = debit with { DebitsPending = debit.DebitsPending - held, DebitsPosted = debit.DebitsPosted + posted };
                credit = credit with { CreditsPending = credit.CreditsPending - held, CreditsPosted = credit.CreditsPosted + posted };
            }
            else
            {
                debit = debit with { DebitsPosted = debit.DebitsPosted + (long)t.Amount };
                credit = credit with { CreditsPosted = credit.CreditsPosted + (long)t.Amount };
            }

            b[t.DebitAccountId] = debit;
            b[t.CreditAccountId] = credit;
        }

        return b;
    }
}

/// <summary>An account's four balances, signed so expectations can be summed in any order.</summary>
public readonly record struct Balances(long DebitsPending, long DebitsPosted, long CreditsPending, long CreditsPosted)
{
    public static Balances Of(Account a) => new((long)a.DebitsPending, (long)a.DebitsPosted, (long)a.CreditsPending, (long)a.CreditsPosted);
}
