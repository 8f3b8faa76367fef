using Heraclius.Ledger.Model;
using static Heraclius.Ledger.Tests.Shard.ShardKit;

namespace Heraclius.Ledger.Tests.Shard;

public sealed class ShardAccountTests
{
    [Fact]
    public void A_customer_account_without_a_limit_gets_debits_must_not_exceed_credits_and_the_decision_time()
    {
        var kit = new ShardKit();
        Assert.Equal(CreateAccountResult.Ok, kit.Create(Customer(5, flags: AccountFlags.History)));
        var a = kit.Get(5);
        Assert.Equal(AccountFlags.History | AccountFlags.DebitsMustNotExceedCredits, a.Flags);
        Assert.Equal(Start, a.Timestamp);
        Assert.Equal(CreateAccountResult.Ok, kit.Create(Customer(6, flags: AccountFlags.CreditsMustNotExceedDebits)));
        Assert.Equal(AccountFlags.CreditsMustNotExceedDebits, kit.Get(6).Flags);
        Assert.Equal(CreateAccountResult.Ok, kit.Create(Issuance(3)));
        Assert.Equal(AccountFlags.Issuance, kit.Get(3).Flags);
    }

    public static TheoryData<Account, CreateAccountResult> Refusals => new()
    {
        { Customer(5, flags: (AccountFlags)64), CreateAccountResult.ReservedFlag },
        { Customer(5, flags: AccountFlags.Closed), CreateAccountResult.ReservedFlag },
        { Customer(5) with { CreditsPosted = 1 }, CreateAccountResult.BalancesMustBeZero },
        { Customer(5) with { Timestamp = 1 }, CreateAccountResult.BalancesMustBeZero },
        { Customer(0), CreateAccountResult.IdMustNotBeZero },
        { Customer(UInt128.MaxValue), CreateAccountResult.IdMustNotBeIntMax },
        { Customer(5, flags: AccountFlags.DebitsMustNotExceedCredits | AccountFlags.CreditsMustNotExceedDebits), CreateAccountResult.FlagsAreMutuallyExclusive },
        { Customer(5, ledger: 0), CreateAccountResult.LedgerMustNotBeZero },
        { Customer(5) with { Code = 0 }, CreateAccountResult.CodeMustNotBeZero },
        { Account.Create(5, 1, 1, 1, AccountFlags.Issuance), CreateAccountResult.IssuanceIdMustEqualLedger },
        { Account.Create(1, 1, 1, 1, AccountFlags.Issuance | AccountFlags.DebitsMustNotExceedCredits), CreateAccountResult.IssuanceMustNotHaveLimits },

        // Precedence: the smallest code wins.
        { Customer(0, ledger: 0, flags: (AccountFlags)64), CreateAccountResult.ReservedFlag },
        { Customer(0, ledger: 0), CreateAccountResult.IdMustNotBeZero },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void Stateless_refusals_store_nothing(Account account, CreateAccountResult expected)
    {
        var kit = new ShardKit();
        Assert.Equal(expected, kit.Create(account));
        Assert.Empty(kit.State.Snapshot());
        Assert.Empty(kit.Audit);
    }

    [Fact]
    public void A_repeat_answers_exists_or_the_first_differing_field()
    {
        var kit = new ShardKit();
        Assert.Equal(CreateAccountResult.Ok, kit.Create(Customer(5)));
        var before = kit.State.Snapshot();
        Assert.Equal(CreateAccountResult.Exists, kit.Create(Customer(5)));
        Assert.Equal(CreateAccountResult.Exists, kit.Create(Customer(5, flags: AccountFlags.DebitsMustNotExceedCredits)));
        Assert.Equal(CreateAccountResult.ExistsWithDifferentFlags, kit.Create(Customer(5, flags: AccountFlags.History) with { Owner = 1 }));
        Assert.Equal(CreateAccountResult.ExistsWithDifferentOwner, kit.Create(Customer(5) with { Owner = 1, Ledger = 2 }));
        Assert.Equal(CreateAccountResult.ExistsWithDifferentLedger, kit.Create(Customer(5) with { Ledger = 2, Code = 3 }));
        Assert.Equal(CreateAccountResult.ExistsWithDifferentCode, kit.Create(Customer(5) with { Code = 3 }));
        Assert.Equal(before, kit.State.Snapshot());
    }

    [Fact]
    public void Closing_is_refused_while_anything_is_pending_then_closes_once_and_a_repeat_create_still_answers_exists()
    {
        var kit = new ShardKit();
        kit.Accounts(5, 6);
        kit.Fund(5, 100);
        Assert.Equal(CloseAccountResult.AccountNotFound, kit.Ledger.CloseAccount(77, kit.Now));
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(10, 5, 6, 40, TransferFlags.Pending)));
        Assert.Equal(CloseAccountResult.AccountHasPending, kit.Ledger.CloseAccount(5, kit.Now));
        Assert.Equal(CloseAccountResult.AccountHasPending, kit.Ledger.CloseAccount(6, kit.Now));
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(11, 5, 6, 0, TransferFlags.VoidPending, pendingId: 10)));
        Assert.Equal(CloseAccountResult.Ok, kit.Ledger.CloseAccount(5, kit.Now));
        Assert.True(kit.Get(5).IsClosed);
        Assert.Equal(CloseAccountResult.AlreadyClosed, kit.Ledger.CloseAccount(5, kit.Now));
        Assert.Equal(CreateAccountResult.Exists, kit.Create(Customer(5)));
        Assert.Equal([CreateTransferResult.DebitAccountClosed], kit.Apply(T(12, 5, 6, 1)));
        Assert.Equal([CreateTransferResult.CreditAccountClosed], kit.Apply(T(13, 1, 5, 1)));
    }

    [Fact]
    public void A_pending_hold_and_a_reservation_both_block_a_close_even_with_an_already_closed_account()
    {
        var kit = new ShardKit();
        kit.Accounts(5, 6);
        kit.Fund(5, 100);
        Assert.True(kit.Ledger.Prepare("c0", 1, [T(10, 5, 6, 30)], kit.Now).Prepared);
        Assert.Equal(CloseAccountResult.AccountHasPending, kit.Ledger.CloseAccount(5, kit.Now));
        Assert.Equal(CloseAccountResult.AccountHasPending, kit.Ledger.CloseAccount(6, kit.Now));
        Assert.True(kit.Ledger.Commit("c0", 1, kit.Now));
        Assert.Equal(CloseAccountResult.Ok, kit.Ledger.CloseAccount(6, kit.Now));
    }
}
