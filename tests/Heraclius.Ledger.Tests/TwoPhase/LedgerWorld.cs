using Heraclius.Ledger.Model;
using Heraclius.Ledger.Protocol;

namespace Heraclius.Ledger.Tests.TwoPhase;

/// <summary>Accounts placed on chosen shards and the typed calls tests make through a <see cref="LedgerHarness"/>.</summary>
internal sealed class LedgerWorld
{
    private readonly HashSet<uint> _ledgers = [];
    private readonly HomeCoordinator _home;
    private UInt128 _nextTransferId = 1_000_000;

    public LedgerWorld(LedgerHarness harness)
    {
        Harness = harness;
        _home = new HomeCoordinator(harness.Topology);
    }

    public LedgerHarness Harness { get; }

    /// <summary>The <paramref name="nth"/> (0-based) customer id above 100 that lives on shard index <paramref name="shard"/>.</summary>
    public UInt128 AccountOn(int shard, int nth = 0)
    {
        for (UInt128 id = 101; ; id++)
        {
            if (Harness.ShardOf(id) == Harness.Shards[shard] && nth-- == 0)
            {
                return id;
            }
        }
    }

    /// <summary>Opens the issuance account of <paramref name="ledger"/> and <paramref name="customer"/> funded with <paramref name="funds"/>.</summary>
    public void Open(UInt128 customer, uint ledger = 1, ulong funds = 0)
    {
        if (_ledgers.Add(ledger))
        {
            Assert.Equal(CreateAccountResult.Ok, CreateAccount(Account.Create(ledger, ledger, 1, 1, AccountFlags.Issuance)));
        }

        Assert.Equal(CreateAccountResult.Ok, CreateAccount(Account.Create(customer, ledger, 1, 7, AccountFlags.None)));
        if (funds > 0)
        {
            Assert.Equal([CreateTransferResult.Ok], Transfer([Plain(ledger, customer, funds, ledger)]));
        }
    }

    public CreateAccountResult CreateAccount(Account account) => Parse(Harness.Run(LedgerRequest.CreateAccount(account))).AccountResult;

    public Account? LookupAccount(UInt128 id) => Parse(Harness.Run(LedgerRequest.LookupAccount(id))).Account;

    public LedgerAnswer LookupTransfer(UInt128 id) => Parse(Harness.Run(LedgerRequest.LookupTransfer(id)));

    public CreateTransferResult[] Transfer(Transfer[] chain) => Parse(Harness.Run(LedgerRequest.CreateTransfers(chain))).TransferResults!;

    /// <summary>A fresh transfer id whose home is the harness's coordinator (and whose id shard is <paramref name="shard"/>, if given).</summary>
    public UInt128 NextTransferId(int shard = -1)
    {
        while (_home.Of(_nextTransferId) != LedgerHarness.Coordinator || (shard >= 0 && Harness.ShardOf(_nextTransferId) != Harness.Shards[shard]))
        {
            _nextTransferId++;
        }

        return _nextTransferId++;
    }

    /// <summary>A plain transfer whose id has this harness's coordinator as home.</summary>
    public Transfer Plain(UInt128 debit, UInt128 credit, ulong amount, uint ledger = 1, bool linked = false, int idShard = -1) =>
        new(NextTransferId(idShard), debit, credit, amount, 0, 0, 0, ledger, 1, linked ? TransferFlags.Linked : TransferFlags.None, 0);

    /// <summary>A linked chain of plain transfers (every leg but the last linked).</summary>
    public Transfer[] Chain(params (UInt128 Debit, UInt128 Credit, ulong Amount)[] legs) => ChainOn(-1, legs);

    /// <summary>A chain whose transfer ids all live on shard <paramref name="idShard"/> (−1: anywhere).</summary>
    public Transfer[] ChainOn(int idShard, params (UInt128 Debit, UInt128 Credit, ulong Amount)[] legs)
    {
        var chain = new Transfer[legs.Length];
        for (var i = 0; i < legs.Length; i++)
        {
            chain[i] = Plain(legs[i].Debit, legs[i].Credit, legs[i].Amount, linked: i < legs.Length - 1, idShard: idShard);
        }

        return chain;
    }

    public static LedgerAnswer Parse(byte[] answer)
    {
        Assert.True(LedgerAnswer.TryParse(answer, out var parsed), "answer does not parse");
        return parsed;
    }
}
