using Heraclius.Ledger.Model;
using static Heraclius.Ledger.Tests.Shard.ShardKit;

namespace Heraclius.Ledger.Tests.Shard;

public sealed class ShardApplyTests
{
    private const ulong Funded = 1000;

    /// <summary>
    /// Ledger 1: issuance 1, customers 5 (funded 1000), 6, 8 (credits_must_not_exceed_debits), 9 (closed);
    /// ledger 2: issuance 2, customer 7. Transfers: 100 pending 5→6 50 (live), 101 pending posted by 201,
    /// 102 pending voided by 202, 103 pending expired, 104 plain 5→6 1, 105 stored failure (credit not found).
    /// </summary>
    private static ShardKit Setup()
    {
        var kit = new ShardKit();
        kit.Accounts(5, 6, 9);
        Assert.Equal(CreateAccountResult.Ok, kit.Create(Issuance(2)));
        Assert.Equal(CreateAccountResult.Ok, kit.Create(Customer(7, ledger: 2)));
        Assert.Equal(CreateAccountResult.Ok, kit.Create(Customer(8, flags: AccountFlags.CreditsMustNotExceedDebits)));
        Assert.Equal(CloseAccountResult.Ok, kit.Ledger.CloseAccount(9, kit.Now));
        kit.Fund(5, Funded);
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(100, 5, 6, 50, TransferFlags.Pending)));
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(101, 5, 6, 10, TransferFlags.Pending)));
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(201, 5, 6, 0, TransferFlags.PostPending, pendingId: 101)));
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(102, 5, 6, 10, TransferFlags.Pending)));
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(202, 5, 6, 10, TransferFlags.VoidPending, pendingId: 102)));
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(103, 5, 6, 10, TransferFlags.Pending, timeout: 1)));
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(104, 5, 6, 1)));
        Assert.Equal([CreateTransferResult.CreditAccountNotFound], kit.Apply(T(105, 5, 77, 1)));
        kit.Now += 1000;
        kit.Ledger.RunTimers(kit.Now);
        return kit;
    }

    private static readonly (string Name, Transfer[] Chain, CreateTransferResult[] Expected)[] Cases =
    [
        ("ok", [T(300, 5, 6, 1)], [CreateTransferResult.Ok]),
        ("chain open", [T(301, 5, 6, 1, TransferFlags.Linked), T(302, 5, 6, 1, TransferFlags.Linked)], [CreateTransferResult.LinkedEventFailed, CreateTransferResult.LinkedEventChainOpen]),
        ("chain open before an earlier leg's own fields", [T(0, 5, 6, 1, TransferFlags.Linked), T(302, 5, 6, 1, TransferFlags.Linked)], [CreateTransferResult.LinkedEventFailed, CreateTransferResult.LinkedEventChainOpen]),
        ("reserved flag", [T(303, 5, 6, 1, (TransferFlags)16)], [CreateTransferResult.ReservedFlag]),
        ("id zero", [T(0, 5, 6, 1)], [CreateTransferResult.IdMustNotBeZero]),
        ("id max", [T(UInt128.MaxValue, 5, 6, 1)], [CreateTransferResult.IdMustNotBeIntMax]),
        ("exclusive flags", [T(304, 5, 6, 1, TransferFlags.Pending | TransferFlags.VoidPending, pendingId: 100)], [CreateTransferResult.FlagsAreMutuallyExclusive]),
        ("debit zero", [T(305, 0, 6, 1)], [CreateTransferResult.DebitAccountIdMustNotBeZero]),
        ("debit max", [T(305, UInt128.MaxValue, 6, 1)], [CreateTransferResult.DebitAccountIdMustNotBeIntMax]),
        ("credit zero", [T(305, 5, 0, 1)], [CreateTransferResult.CreditAccountIdMustNotBeZero]),
        ("credit max", [T(305, 5, UInt128.MaxValue, 1)], [CreateTransferResult.CreditAccountIdMustNotBeIntMax]),
        ("same accounts", [T(305, 5, 5, 1)], [CreateTransferResult.AccountsMustBeDifferent]),
        ("pending id on a plain transfer", [T(305, 5, 6, 1, pendingId: 100)], [CreateTransferResult.PendingIdMustBeZero]),
        ("post without pending id", [T(305, 5, 6, 0, TransferFlags.PostPending)], [CreateTransferResult.PendingIdMustNotBeZero]),
        ("post of pending id max", [T(305, 5, 6, 0, TransferFlags.PostPending, pendingId: UInt128.MaxValue)], [CreateTransferResult.PendingIdMustNotBeIntMax]),
        ("post of itself", [T(305, 5, 6, 0, TransferFlags.PostPending, pendingId: 305)], [CreateTransferResult.PendingIdMustBeDifferent]),
        ("timeout on a plain transfer", [T(305, 5, 6, 1, timeout: 3)], [CreateTransferResult.TimeoutReservedForPendingTransfer]),
        ("amount zero", [T(305, 5, 6, 0)], [CreateTransferResult.AmountMustNotBeZero]),
        ("amount too large", [T(305, 5, 6, Transfer.MaxAmount + 1)], [CreateTransferResult.AmountTooLarge]),
        ("ledger zero", [T(305, 5, 6, 1, ledger: 0)], [CreateTransferResult.LedgerMustNotBeZero]),
        ("code zero", [T(305, 5, 6, 1, code: 0)], [CreateTransferResult.CodeMustNotBeZero]),
        ("a client timestamp", [T(305, 5, 6, 1) with { Timestamp = 1 }], [CreateTransferResult.TimestampMustBeZero]),
        ("a client timestamp is the last stateless check", [T(305, 5, 6, 1, code: 0) with { Timestamp = 1 }], [CreateTransferResult.CodeMustNotBeZero]),
        ("a later leg's stateless failure wins over an earlier leg's stateful one", [T(306, 77, 6, 1, TransferFlags.Linked), T(307, 5, 6, 0)], [CreateTransferResult.LinkedEventFailed, CreateTransferResult.AmountMustNotBeZero]),
        ("exists with different flags", [T(104, 5, 6, 1, TransferFlags.Pending)], [CreateTransferResult.ExistsWithDifferentFlags]),
        ("exists with different pending id", [T(201, 5, 6, 0, TransferFlags.PostPending, pendingId: 100)], [CreateTransferResult.ExistsWithDifferentPendingId]),
        ("exists with different timeout", [T(103, 5, 6, 10, TransferFlags.Pending, timeout: 2)], [CreateTransferResult.ExistsWithDifferentTimeout]),
        ("exists with different debit", [T(104, 6, 5, 1)], [CreateTransferResult.ExistsWithDifferentDebitAccountId]),
        ("exists with different credit", [T(104, 5, 1, 1)], [CreateTransferResult.ExistsWithDifferentCreditAccountId]),
        ("exists with different amount", [T(104, 5, 6, 2, userData: 3)], [CreateTransferResult.ExistsWithDifferentAmount]),
        ("exists with different user data", [T(104, 5, 6, 1, userData: 3, ledger: 2)], [CreateTransferResult.ExistsWithDifferentUserData]),
        ("exists with different ledger", [T(104, 5, 6, 1, ledger: 2, code: 2)], [CreateTransferResult.ExistsWithDifferentLedger]),
        ("exists with different code", [T(104, 5, 6, 1, code: 2)], [CreateTransferResult.ExistsWithDifferentCode]),
        ("a repeat of an applied transfer is ok", [T(104, 5, 6, 1)], [CreateTransferResult.Ok]),
        ("a repeat of a stored failure replays it", [T(105, 5, 77, 1)], [CreateTransferResult.CreditAccountNotFound]),
        ("debit not found", [T(310, 77, 6, 1)], [CreateTransferResult.DebitAccountNotFound]),
        ("credit not found", [T(310, 5, 77, 1)], [CreateTransferResult.CreditAccountNotFound]),
        ("accounts on two ledgers", [T(310, 5, 7, 1)], [CreateTransferResult.AccountsMustHaveTheSameLedger]),
        ("transfer on another ledger", [T(310, 5, 6, 1, ledger: 2)], [CreateTransferResult.TransferMustHaveTheSameLedgerAsAccounts]),
        ("pending transfer not found", [T(310, 5, 6, 0, TransferFlags.PostPending, pendingId: 999)], [CreateTransferResult.PendingTransferNotFound]),
        ("a failed pending transfer is not found", [T(310, 5, 77, 0, TransferFlags.VoidPending, pendingId: 105)], [CreateTransferResult.CreditAccountNotFound]),
        ("a failed transfer is not found as pending", [T(310, 5, 6, 0, TransferFlags.VoidPending, pendingId: 105)], [CreateTransferResult.PendingTransferNotFound]),
        ("not pending", [T(310, 5, 6, 0, TransferFlags.PostPending, pendingId: 104)], [CreateTransferResult.PendingTransferNotPending]),
        ("post names another debit account", [T(310, 8, 6, 0, TransferFlags.PostPending, pendingId: 100)], [CreateTransferResult.PendingTransferHasDifferentDebitAccountId]),
        ("post names another credit account", [T(310, 5, 8, 0, TransferFlags.PostPending, pendingId: 100)], [CreateTransferResult.PendingTransferHasDifferentCreditAccountId]),
        ("post names neither of the hold's accounts", [T(310, 8, 1, 0, TransferFlags.PostPending, pendingId: 100)], [CreateTransferResult.PendingTransferNotFound]),
        ("void of a plain transfer through one of its accounts", [T(310, 5, 8, 0, TransferFlags.VoidPending, pendingId: 104)], [CreateTransferResult.PendingTransferNotPending]),
        ("post on another ledger", [T(310, 5, 6, 0, TransferFlags.PostPending, pendingId: 100, ledger: 2)], [CreateTransferResult.PendingTransferHasDifferentLedger]),
        ("post with another code", [T(310, 5, 6, 0, TransferFlags.PostPending, pendingId: 100, code: 2)], [CreateTransferResult.PendingTransferHasDifferentCode]),
        ("post of more than held", [T(310, 5, 6, 51, TransferFlags.PostPending, pendingId: 100)], [CreateTransferResult.ExceedsPendingTransferAmount]),
        ("void of another amount", [T(310, 5, 6, 5, TransferFlags.VoidPending, pendingId: 100)], [CreateTransferResult.PendingTransferHasDifferentAmount]),
        ("already posted", [T(310, 5, 6, 0, TransferFlags.VoidPending, pendingId: 101)], [CreateTransferResult.PendingTransferAlreadyPosted]),
        ("already voided", [T(310, 5, 6, 0, TransferFlags.PostPending, pendingId: 102)], [CreateTransferResult.PendingTransferAlreadyVoided]),
        ("expired", [T(310, 5, 6, 0, TransferFlags.PostPending, pendingId: 103)], [CreateTransferResult.PendingTransferExpired]),
        ("debit closed", [T(310, 9, 6, 1)], [CreateTransferResult.DebitAccountClosed]),
        ("credit closed", [T(310, 5, 9, 1)], [CreateTransferResult.CreditAccountClosed]),
        ("exceeds credits", [T(310, 6, 5, 12)], [CreateTransferResult.ExceedsCredits]),
        ("pending counts towards exceeds credits", [T(310, 5, 6, Funded - 50 - 10 - 1 + 1, TransferFlags.Pending)], [CreateTransferResult.ExceedsCredits]),
        ("exceeds debits", [T(310, 1, 8, 1)], [CreateTransferResult.ExceedsDebits]),
        ("a chain fails whole at its first failing leg", [T(311, 5, 6, 1, TransferFlags.Linked), T(312, 77, 6, 1, TransferFlags.Linked), T(313, 5, 77, 1)], [CreateTransferResult.LinkedEventFailed, CreateTransferResult.DebitAccountNotFound, CreateTransferResult.LinkedEventFailed]),
        ("earlier legs count for later ones", [T(311, 5, 6, 500, TransferFlags.Linked), T(312, 5, 6, 500)], [CreateTransferResult.LinkedEventFailed, CreateTransferResult.ExceedsCredits]),
    ];

    [Fact]
    public void Every_result_code_of_a_one_round_chain_and_a_failed_chain_applies_nothing()
    {
        var accounts = new UInt128[] { 1, 2, 5, 6, 7, 8, 9 };
        foreach (var (name, chain, expected) in Cases)
        {
            var kit = Setup();
            var before = accounts.Select(kit.Get).ToArray();
            var audit = kit.Audit.Count;
            var results = kit.Apply(chain);
            Assert.True(expected.SequenceEqual(results), $"{name}: [{string.Join(", ", results)}], expected [{string.Join(", ", expected)}]");
            if (expected.All(r => r == CreateTransferResult.Ok))
            {
                continue;
            }

            Assert.True(before.SequenceEqual(accounts.Select(kit.Get)), $"{name}: a failed chain changed an account");
            var failedLeg = Array.FindIndex(expected, r => r != CreateTransferResult.LinkedEventFailed);
            var stored = kit.Audit.Skip(audit).ToList();
            var freshStateful = expected[failedLeg] is >= CreateTransferResult.DebitAccountNotFound and <= CreateTransferResult.ExceedsDebits &&
                chain.All(t => t.Id != 105);
            Assert.True(stored.Count == (freshStateful ? 1 : 0), $"{name}: {stored.Count} audit records");
            for (var i = 0; i < chain.Length; i++)
            {
                var found = kit.Ledger.TryLookupTransfer(chain[i].Id, out var t, out var r);
                if (i == failedLeg && freshStateful)
                {
                    Assert.True(found && r == expected[i] && t with { Timestamp = 0 } == chain[i], $"{name}: the failed leg is stored with its code");
                }
                else if (!((UInt128[])[0, 103, 104, 105, 201]).Contains(chain[i].Id))
                {
                    Assert.False(found, $"{name}: leg {i} was stored");
                }
            }
        }
    }

    [Fact]
    public void A_repeat_changes_nothing_and_a_retried_failed_chain_answers_the_same()
    {
        var kit = Setup();
        var before = kit.State.Snapshot();
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(104, 5, 6, 1)));
        Assert.Equal([CreateTransferResult.ExistsWithDifferentAmount], kit.Apply(T(104, 5, 6, 3)));
        Assert.Equal(before, kit.State.Snapshot());

        var chain = Chain(T(400, 5, 6, 1), T(401, 77, 6, 1), T(402, 5, 6, 1));
        CreateTransferResult[] expected = [CreateTransferResult.LinkedEventFailed, CreateTransferResult.DebitAccountNotFound, CreateTransferResult.LinkedEventFailed];
        Assert.Equal(expected, kit.Apply(chain));
        Assert.Equal(expected, kit.Apply(chain));
        Assert.False(kit.Ledger.TryLookupTransfer(400, out _, out _));

        // The legs answered linked_event_failed stay free: 400 applies alone now.
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(400, 5, 6, 1)));
    }

    [Fact]
    public void A_leg_repeating_an_earlier_legs_id_is_compared_with_it()
    {
        var kit = Setup();
        var debits = kit.Get(5).DebitsPosted;
        var same = T(500, 5, 6, 7, TransferFlags.Linked);
        Assert.Equal([CreateTransferResult.Ok, CreateTransferResult.Ok, CreateTransferResult.Ok], kit.Apply(same, same, T(501, 5, 6, 1)));
        Assert.Equal(debits + 8, kit.Get(5).DebitsPosted);
        Assert.Equal(
            [CreateTransferResult.LinkedEventFailed, CreateTransferResult.ExistsWithDifferentAmount, CreateTransferResult.LinkedEventFailed],
            kit.Apply(T(502, 5, 6, 7, TransferFlags.Linked), T(502, 5, 6, 8, TransferFlags.Linked), T(503, 5, 6, 1)));
        Assert.Equal(debits + 8, kit.Get(5).DebitsPosted);
    }

    [Fact]
    public void A_chain_may_post_a_pending_transfer_it_created_and_a_post_of_less_releases_the_rest()
    {
        var kit = Setup();
        var before5 = kit.Get(5);
        var before6 = kit.Get(6);
        Assert.Equal(
            [CreateTransferResult.Ok, CreateTransferResult.Ok],
            kit.Apply(Chain(T(600, 5, 6, 30, TransferFlags.Pending, timeout: 60), T(601, 5, 6, 20, TransferFlags.PostPending, pendingId: 600))));
        var after5 = kit.Get(5);
        var after6 = kit.Get(6);
        Assert.Equal(before5.DebitsPending, after5.DebitsPending);
        Assert.Equal(before5.DebitsPosted + 20, after5.DebitsPosted);
        Assert.Equal(before6.CreditsPending, after6.CreditsPending);
        Assert.Equal(before6.CreditsPosted + 20, after6.CreditsPosted);
        Assert.False(kit.Ledger.HasTimers());
        Assert.Equal([CreateTransferResult.PendingTransferAlreadyPosted], kit.Apply(T(602, 5, 6, 0, TransferFlags.VoidPending, pendingId: 600)));

        // Amount 0 posts the whole hold.
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(603, 5, 6, 0, TransferFlags.PostPending, pendingId: 100)));
        Assert.Equal(after5.DebitsPending - 50, kit.Get(5).DebitsPending);
        Assert.Equal(after5.DebitsPosted + 50, kit.Get(5).DebitsPosted);
    }

    [Fact]
    public void The_issuance_account_may_go_negative_and_the_ledger_balances()
    {
        var kit = Setup();
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(700, 1, 6, Transfer.MaxAmount)));
        var all = new UInt128[] { 1, 5, 6, 8, 9 }.Select(kit.Get).ToArray();
        Assert.Equal(all.Aggregate(UInt128.Zero, (s, a) => s + a.DebitsPosted), all.Aggregate(UInt128.Zero, (s, a) => s + a.CreditsPosted));
        Assert.Equal(all.Aggregate(UInt128.Zero, (s, a) => s + a.DebitsPending), all.Aggregate(UInt128.Zero, (s, a) => s + a.CreditsPending));
    }

    [Fact]
    public void A_plain_transfer_costs_a_handful_of_reads_and_writes()
    {
        var kit = Setup();
        kit.State.ResetCounters();
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(800, 5, 6, 1)));
        Assert.InRange(kit.State.Gets, 1, 3);
        Assert.InRange(kit.State.Puts, 1, 5);
    }
}
