using Heraclius.Ledger.Model;
using Heraclius.Ledger.Shard;

namespace Heraclius.Ledger.Tests.Shard;

/// <summary>One shard's state, its audit output and its time, with builders for accounts and transfers.</summary>
internal sealed class ShardKit
{
    public const ulong Start = 1_700_000_000_000;
    public const uint Ledger1 = 1;

    public ShardKit(ShardPlacement? placement = null)
    {
        Placement = placement ?? ShardPlacement.All;
    }

    public MemoryState State { get; } = new();

    public List<byte[]> Audit { get; } = [];

    public ShardPlacement Placement { get; }

    public ulong Now { get; set; } = Start;

    public ShardLedger Ledger => new(State, Placement, Audit.Add);

    public static Account Customer(UInt128 id, uint ledger = Ledger1, AccountFlags flags = AccountFlags.None) =>
        Account.Create(id, ledger, 7, 99, flags);

    public static Account Issuance(uint ledger = Ledger1) => Account.Create(ledger, ledger, 1, 1, AccountFlags.Issuance);

    public static Transfer T(
        UInt128 id,
        UInt128 debit,
        UInt128 credit,
        ulong amount,
        TransferFlags flags = TransferFlags.None,
        UInt128 pendingId = default,
        uint timeout = 0,
        uint ledger = Ledger1,
        ushort code = 1,
        UInt128 userData = default) =>
        new(id, debit, credit, amount, pendingId, userData, timeout, ledger, code, flags, 0);

    public CreateAccountResult Create(Account a) => Ledger.CreateAccount(a, Now);

    /// <summary>Customers 5, 6 and 7, and <paramref name="amount"/> funded to 5: where the two-phase tests start.</summary>
    public static ShardKit Funded(ulong amount = 100)
    {
        var kit = new ShardKit();
        kit.Accounts(5, 6, 7);
        kit.Fund(5, amount);
        return kit;
    }

    /// <summary>The issuance account of ledger 1 and customers with the given ids (default limit).</summary>
    public void Accounts(params UInt128[] customers)
    {
        Assert.Equal(CreateAccountResult.Ok, Create(Issuance()));
        foreach (var id in customers)
        {
            Assert.Equal(CreateAccountResult.Ok, Create(Customer(id)));
        }
    }

    private ulong _nextFundingId = 1_000_000;

    /// <summary>Credits <paramref name="account"/> from the issuance account of ledger 1.</summary>
    public void Fund(UInt128 account, ulong amount) =>
        Assert.Equal([CreateTransferResult.Ok], Apply(T(_nextFundingId++, Ledger1, account, amount)));

    public CreateTransferResult[] Apply(params Transfer[] chain) => Ledger.Apply(chain, Now);

    public Account Get(UInt128 id) => Ledger.LookupAccount(id) ?? throw new InvalidOperationException($"no account {id}");

    public static Transfer[] Chain(params Transfer[] legs)
    {
        for (var i = 0; i < legs.Length - 1; i++)
        {
            legs[i] = legs[i] with { Flags = legs[i].Flags | TransferFlags.Linked };
        }

        return legs;
    }
}
