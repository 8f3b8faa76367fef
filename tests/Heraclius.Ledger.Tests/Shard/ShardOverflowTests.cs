using Heraclius.Ledger.Model;
using static Heraclius.Ledger.Tests.Shard.ShardKit;

namespace Heraclius.Ledger.Tests.Shard;

public sealed class ShardOverflowTests
{
    private const ulong Max = Transfer.MaxAmount;

    /// <summary>Issuance 1; customers 6, 7 (default limit, only credited here); 8, 9 credit-limited, so debitable without funds once credited... used as debit sources with no debit limit.</summary>
    private static ShardKit Kit()
    {
        var kit = new ShardKit();
        kit.Accounts(6, 7);
        Assert.Equal(CreateAccountResult.Ok, kit.Create(Account.Create(8, 1, 1, 1, AccountFlags.CreditsMustNotExceedDebits)));
        Assert.Equal(CreateAccountResult.Ok, kit.Create(Account.Create(9, 1, 1, 1, AccountFlags.CreditsMustNotExceedDebits)));
        return kit;
    }

    public static TheoryData<int> Codes => new() { 50, 51, 52, 53, 54, 55 };

    [Theory]
    [MemberData(nameof(Codes))]
    public void Sums_above_two_to_the_64_minus_one_are_refused_with_their_own_code(int expected)
    {
        var kit = Kit();
        var p = TransferFlags.Pending;
        Transfer[] setup, probe;
        switch ((CreateTransferResult)expected)
        {
            case CreateTransferResult.OverflowsDebitsPending:
                setup = [T(10, 1, 6, Max, p), T(11, 1, 7, Max, p)];
                probe = [T(12, 1, 6, 2, p)];
                break;
            case CreateTransferResult.OverflowsCreditsPending:
                setup = [T(10, 1, 6, Max, p), T(11, 8, 6, Max, p)];
                probe = [T(12, 9, 6, 2, p)];
                break;
            case CreateTransferResult.OverflowsDebitsPosted:
                setup = [T(10, 1, 6, Max), T(11, 1, 7, Max)];
                probe = [T(12, 1, 6, 2)];
                break;
            case CreateTransferResult.OverflowsCreditsPosted:
                setup = [T(10, 1, 6, Max), T(11, 8, 6, Max)];
                probe = [T(12, 9, 6, 2)];
                break;
            case CreateTransferResult.OverflowsDebits:
                setup = [T(10, 1, 6, Max, p), T(11, 1, 7, Max)];
                probe = [T(12, 1, 6, 2)];
                break;
            default:
                setup = [T(10, 1, 6, Max, p), T(11, 8, 6, Max)];
                probe = [T(12, 9, 6, 2)];
                break;
        }

        foreach (var t in setup)
        {
            Assert.Equal([CreateTransferResult.Ok], kit.Apply(t));
        }

        Assert.Equal([(CreateTransferResult)expected], kit.Apply(probe));
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(probe[0] with { Id = 13, Amount = 1 }));
    }

    [Fact]
    public void A_pending_transfer_whose_expiry_would_pass_two_to_the_64_ms_is_refused()
    {
        var kit = Kit();
        Assert.Equal([CreateTransferResult.OverflowsTimeout], kit.Ledger.Apply([T(10, 1, 6, 1, TransferFlags.Pending, timeout: 1)], ulong.MaxValue - 999));
        Assert.Equal([CreateTransferResult.Ok], kit.Ledger.Apply([T(11, 1, 6, 1, TransferFlags.Pending, timeout: 1)], ulong.MaxValue - 1000));
    }

    [Fact]
    public void Reservations_count_in_the_sum_so_a_commit_cannot_overflow()
    {
        var kit = Kit();
        Assert.True(kit.Ledger.Prepare("c0", 1, [T(10, 1, 6, Max)], kit.Now).Prepared);
        Assert.True(kit.Ledger.Prepare("c0", 2, [T(11, 1, 7, Max)], kit.Now).Prepared);
        var third = kit.Ledger.Prepare("c0", 3, [T(12, 1, 6, 2)], kit.Now);
        Assert.Equal(CreateTransferResult.OverflowsDebits, third.Code);
        Assert.True(kit.Ledger.Commit("c0", 1, kit.Now));
        Assert.True(kit.Ledger.Commit("c0", 2, kit.Now));
        Assert.Equal((0ul, ulong.MaxValue - 1), (kit.Get(1).DebitsPending, kit.Get(1).DebitsPosted));
    }
}
