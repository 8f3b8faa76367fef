using Heraclius.Ledger.Model;
using Heraclius.Ledger.Protocol;
using static Heraclius.Ledger.Tests.Shard.ShardKit;

namespace Heraclius.Ledger.Tests.Shard;

public sealed class ShardTwoPhaseTests
{
    [Fact]
    public void Prepare_reserves_commit_applies_and_repeats_change_nothing()
    {
        var kit = Funded();
        var vote = kit.Ledger.Prepare("c0", 1, [T(10, 5, 6, 30)], kit.Now);
        Assert.True(vote.Prepared);
        Assert.Equal([new LegLedgers(1, 1)], vote.Ledgers);
        Assert.Equal((30ul, 0ul), (kit.Get(5).DebitsPending, kit.Get(5).DebitsPosted));
        Assert.Equal(30ul, kit.Get(6).CreditsPending);
        Assert.False(kit.Ledger.TryLookupTransfer(10, out _, out _));

        var prepared = kit.State.Snapshot();
        var again = kit.Ledger.Prepare("c0", 1, [T(10, 5, 6, 30)], kit.Now + 5);
        Assert.Equal(vote.Prepared, again.Prepared);
        Assert.Equal(vote.Ledgers, again.Ledgers);
        Assert.Equal(prepared, kit.State.Snapshot());

        kit.Now += 7;
        Assert.True(kit.Ledger.Commit("c0", 1, kit.Now));
        Assert.Equal((0ul, 30ul), (kit.Get(5).DebitsPending, kit.Get(5).DebitsPosted));
        Assert.Equal((0ul, 30ul), (kit.Get(6).CreditsPending, kit.Get(6).CreditsPosted));
        Assert.True(kit.Ledger.TryLookupTransfer(10, out var t, out var r));
        Assert.Equal((T(10, 5, 6, 30) with { Timestamp = kit.Now }, CreateTransferResult.Ok), (t, r));

        // Finished and forgotten: a late decision or Prepare of the txn finds nothing to do.
        var committed = kit.State.Snapshot();
        Assert.False(kit.Ledger.Commit("c0", 1, kit.Now));
        Assert.False(kit.Ledger.Abort("c0", 1, [CreateTransferResult.ExceedsCredits], kit.Now));
        Assert.False(kit.Ledger.TryPrepare("c0", 1, [T(10, 5, 6, 30)], kit.Now, out _));
        Assert.Equal(committed, kit.State.Snapshot());

        // The id is stored: a new chain with it is a replay.
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(10, 5, 6, 30)));
        Assert.Equal(30ul, kit.Get(5).DebitsPosted);
    }

    [Fact]
    public void Commit_or_abort_from_another_coordinator_or_an_unknown_txn_changes_nothing()
    {
        var kit = Funded();
        Assert.True(kit.Ledger.Prepare("c0", 1, [T(10, 5, 6, 30)], kit.Now).Prepared);
        var before = kit.State.Snapshot();
        Assert.False(kit.Ledger.Commit("c1", 1, kit.Now));
        Assert.False(kit.Ledger.Abort("c1", 1, [CreateTransferResult.LinkedEventFailed], kit.Now));
        Assert.False(kit.Ledger.Commit("c0", 2, kit.Now));
        Assert.False(kit.Ledger.Abort("c0", 2, [CreateTransferResult.LinkedEventFailed], kit.Now));
        Assert.Equal(before, kit.State.Snapshot());
    }

    [Fact]
    public void Abort_releases_and_stores_only_codes_other_than_linked_event_failed()
    {
        var kit = Funded();
        var chain = Chain(T(10, 5, 6, 30), T(11, 5, 7, 20));
        Assert.True(kit.Ledger.Prepare("c0", 1, chain, kit.Now).Prepared);
        Assert.Equal(50ul, kit.Get(5).DebitsPending);
        Assert.True(kit.Ledger.Abort("c0", 1, [CreateTransferResult.LinkedEventFailed, CreateTransferResult.CreditAccountClosed], kit.Now));
        Assert.Equal((0ul, 0ul), (kit.Get(5).DebitsPending, kit.Get(5).DebitsPosted));
        Assert.Equal(0ul, kit.Get(6).CreditsPending);
        Assert.Equal(0ul, kit.Get(7).CreditsPending);
        Assert.False(kit.Ledger.TryLookupTransfer(10, out _, out _));
        Assert.True(kit.Ledger.TryLookupTransfer(11, out _, out var r));
        Assert.Equal(CreateTransferResult.CreditAccountClosed, r);

        var aborted = kit.State.Snapshot();
        Assert.False(kit.Ledger.Abort("c0", 1, [CreateTransferResult.Ok, CreateTransferResult.Ok], kit.Now));
        Assert.False(kit.Ledger.Commit("c0", 1, kit.Now));
        Assert.Equal(aborted, kit.State.Snapshot());
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(10, 5, 6, 30)));
    }

    [Fact]
    public void An_abort_result_of_ok_or_a_missing_one_never_stores_a_success()
    {
        var kit = Funded();
        Assert.True(kit.Ledger.Prepare("c0", 1, Chain(T(10, 5, 6, 30), T(11, 5, 7, 20)), kit.Now).Prepared);
        Assert.True(kit.Ledger.Abort("c0", 1, [CreateTransferResult.Ok], kit.Now));
        Assert.False(kit.Ledger.TryLookupTransfer(10, out _, out _));
        Assert.False(kit.Ledger.TryLookupTransfer(11, out _, out _));
        Assert.Equal(0ul, kit.Get(5).DebitsPending);
    }

    [Fact]
    public void An_id_held_by_an_unfinished_chain_answers_exists_or_the_differing_field()
    {
        var kit = Funded();
        Assert.True(kit.Ledger.Prepare("c0", 1, [T(10, 5, 6, 30)], kit.Now).Prepared);
        Assert.Equal([CreateTransferResult.Exists], kit.Apply(T(10, 5, 6, 30)));
        Assert.Equal([CreateTransferResult.ExistsWithDifferentAmount], kit.Apply(T(10, 5, 6, 31)));
        var other = kit.Ledger.Prepare("c1", 1, [T(10, 5, 6, 30)], kit.Now);
        Assert.Equal((false, 0, CreateTransferResult.Exists), (other.Prepared, other.FailedLeg, other.Code));
        Assert.True(kit.Ledger.Abort("c1", 1, [CreateTransferResult.Exists], kit.Now));
        Assert.True(kit.Ledger.Prepare("c1", 2, [T(11, 5, 6, 1)], kit.Now).Prepared);
        Assert.True(kit.Ledger.Abort("c1", 2, [CreateTransferResult.PrepareTimedOut], kit.Now));
        Assert.False(kit.Ledger.TryLookupTransfer(11, out _, out _));
        Assert.True(kit.Ledger.Prepare("c1", 3, [T(11, 5, 6, 1)], kit.Now).Prepared);
        Assert.True(kit.Ledger.Commit("c1", 3, kit.Now));
        Assert.True(kit.Ledger.Commit("c0", 1, kit.Now));
        Assert.True(kit.Ledger.TryLookupTransfer(10, out _, out var r));
        Assert.Equal(CreateTransferResult.Ok, r);
        Assert.Equal(31ul, kit.Get(5).DebitsPosted);
    }

    [Fact]
    public void A_refused_vote_reserves_nothing_holds_the_new_ids_it_evaluated_and_reports_their_ledgers()
    {
        var kit = Funded();
        var before5 = kit.Get(5);
        var chain = Chain(T(20, 5, 6, 10), T(21, 77, 6, 1), T(22, 5, 7, 1));
        var vote = kit.Ledger.Prepare("c0", 1, chain, kit.Now);
        Assert.Equal((false, 1, CreateTransferResult.DebitAccountNotFound), (vote.Prepared, vote.FailedLeg, vote.Code));
        Assert.Equal([new LegLedgers(1, 1), new LegLedgers(0, 1)], vote.Ledgers);
        Assert.Equal(before5, kit.Get(5));
        Assert.Equal([CreateTransferResult.Exists, CreateTransferResult.LinkedEventFailed], kit.Apply(chain[0], T(23, 5, 6, 1)));
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(22, 5, 7, 1)));
        Assert.True(kit.Ledger.Abort("c0", 1, [CreateTransferResult.LinkedEventFailed, CreateTransferResult.DebitAccountNotFound, CreateTransferResult.LinkedEventFailed], kit.Now));
        Assert.False(kit.Ledger.TryLookupTransfer(20, out _, out _));
        Assert.True(kit.Ledger.TryLookupTransfer(21, out _, out var r));
        Assert.Equal(CreateTransferResult.DebitAccountNotFound, r);
    }

    [Fact]
    public void A_stateless_refusal_is_voted_and_acknowledged_but_never_stored()
    {
        var kit = Funded();
        var vote = kit.Ledger.Prepare("c0", 1, [T(20, 5, 6, 0)], kit.Now);
        Assert.Equal((false, 0, CreateTransferResult.AmountMustNotBeZero), (vote.Prepared, vote.FailedLeg, vote.Code));
        Assert.True(kit.Ledger.Abort("c0", 1, [CreateTransferResult.AmountMustNotBeZero], kit.Now));
        Assert.False(kit.Ledger.TryLookupTransfer(20, out _, out _));
    }

    [Fact]
    public void A_prepared_post_locks_its_pending_transfer_until_the_decision()
    {
        var kit = Funded();
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(30, 5, 6, 50, TransferFlags.Pending)));
        var post = T(31, 5, 6, 20, TransferFlags.PostPending, pendingId: 30);
        var vote = kit.Ledger.Prepare("c0", 1, [post], kit.Now);
        Assert.True(vote.Prepared);
        Assert.Equal([default(LegLedgers)], vote.Ledgers);
        Assert.Equal(50ul, kit.Get(5).DebitsPending);
        Assert.Equal([CreateTransferResult.PendingTransferLocked], kit.Apply(T(32, 5, 6, 0, TransferFlags.VoidPending, pendingId: 30)));
        Assert.False(kit.Ledger.TryLookupTransfer(32, out _, out _));
        var other = kit.Ledger.Prepare("c0", 2, [T(33, 5, 6, 0, TransferFlags.PostPending, pendingId: 30)], kit.Now);
        Assert.Equal((false, CreateTransferResult.PendingTransferLocked), (other.Prepared, other.Code));

        Assert.True(kit.Ledger.Commit("c0", 1, kit.Now));
        Assert.Equal((0ul, 20ul), (kit.Get(5).DebitsPending, kit.Get(5).DebitsPosted));
        Assert.Equal((0ul, 20ul), (kit.Get(6).CreditsPending, kit.Get(6).CreditsPosted));
        Assert.Equal([CreateTransferResult.PendingTransferAlreadyPosted], kit.Apply(T(34, 5, 6, 0, TransferFlags.VoidPending, pendingId: 30)));
    }

    [Fact]
    public void An_aborted_void_unlocks_its_pending_transfer()
    {
        var kit = Funded();
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(30, 5, 6, 50, TransferFlags.Pending)));
        Assert.True(kit.Ledger.Prepare("c0", 1, [T(31, 5, 6, 0, TransferFlags.VoidPending, pendingId: 30)], kit.Now).Prepared);
        Assert.True(kit.Ledger.Abort("c0", 1, [CreateTransferResult.CreditAccountNotFound], kit.Now));
        Assert.Equal(50ul, kit.Get(5).DebitsPending);
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(32, 5, 6, 0, TransferFlags.VoidPending, pendingId: 30)));
        Assert.Equal(0ul, kit.Get(5).DebitsPending);
    }

    [Fact]
    public void A_committed_pending_transfer_holds_from_the_commit_and_expires_from_it()
    {
        var kit = Funded();
        Assert.True(kit.Ledger.Prepare("c0", 1, [T(40, 5, 6, 25, TransferFlags.Pending, timeout: 2)], kit.Now).Prepared);
        Assert.False(kit.Ledger.HasTimers());
        kit.Now += 1500;
        Assert.True(kit.Ledger.Commit("c0", 1, kit.Now));
        Assert.True(kit.Ledger.HasTimers());
        Assert.Equal((25ul, 0ul), (kit.Get(5).DebitsPending, kit.Get(5).DebitsPosted));
        kit.Ledger.RunTimers(kit.Now + 1999);
        Assert.Equal(25ul, kit.Get(5).DebitsPending);
        kit.Ledger.RunTimers(kit.Now + 2000);
        Assert.Equal(0ul, kit.Get(5).DebitsPending);
        Assert.Equal(0ul, kit.Get(6).CreditsPending);
        Assert.False(kit.Ledger.HasTimers());
    }

    [Fact]
    public void A_hot_account_under_many_concurrent_reservations_never_exceeds_its_limit()
    {
        var kit = Funded(1000);
        var prepared = new List<ulong>();
        for (ulong txn = 1; txn <= 100; txn++)
        {
            var vote = kit.Ledger.Prepare("c0", txn, [T(1000 + txn, 5, 6 + (txn % 2), 15)], kit.Now);
            if (vote.Prepared)
            {
                prepared.Add(txn);
            }
            else
            {
                Assert.Equal(CreateTransferResult.ExceedsCredits, vote.Code);
            }

            var a = kit.Get(5);
            Assert.True(a.DebitsPosted + a.DebitsPending <= a.CreditsPosted);
        }

        Assert.Equal(66, prepared.Count);
        foreach (var txn in prepared)
        {
            if (txn % 3 == 0)
            {
                Assert.True(kit.Ledger.Abort("c0", txn, [CreateTransferResult.PrepareTimedOut], kit.Now));
            }
            else
            {
                Assert.True(kit.Ledger.Commit("c0", txn, kit.Now));
            }

            var a = kit.Get(5);
            Assert.True(a.DebitsPosted + a.DebitsPending <= a.CreditsPosted);
        }

        var committed = (ulong)prepared.Count(t => t % 3 != 0);
        Assert.Equal((0ul, committed * 15), (kit.Get(5).DebitsPending, kit.Get(5).DebitsPosted));
        Assert.Equal(committed * 15, kit.Get(6).CreditsPosted + kit.Get(7).CreditsPosted);
        Assert.Equal(0ul, kit.Get(6).CreditsPending + kit.Get(7).CreditsPending);
        Assert.False(kit.Ledger.TryLookupTransfer(1003, out _, out _));
        Assert.True(kit.Ledger.TryLookupTransfer(1001, out _, out var committedResult));
        Assert.Equal(CreateTransferResult.Ok, committedResult);
    }

    [Fact]
    public void Each_shard_evaluates_and_reserves_only_the_sides_it_holds_counting_its_earlier_legs()
    {
        var debitShard = new ShardKit(Heraclius.Ledger.Shard.ShardPlacement.Where(id => id == 1 || id == 5));
        var creditShard = new ShardKit(Heraclius.Ledger.Shard.ShardPlacement.Where(id => id == 6 || id == 7));
        debitShard.Accounts(5);
        Assert.Equal(CreateAccountResult.Ok, creditShard.Create(Customer(6)));
        Assert.Equal(CreateAccountResult.Ok, creditShard.Create(Customer(7, flags: AccountFlags.CreditsMustNotExceedDebits)));
        debitShard.Fund(5, 100);

        var chain = Chain(T(50, 5, 6, 60), T(51, 5, 7, 60));
        var debitVote = debitShard.Ledger.Prepare("c0", 1, chain, debitShard.Now);
        var creditVote = creditShard.Ledger.Prepare("c0", 1, chain, creditShard.Now);
        Assert.Equal((false, 1, CreateTransferResult.ExceedsCredits), (debitVote.Prepared, debitVote.FailedLeg, debitVote.Code));
        Assert.Equal([new LegLedgers(1, 0), new LegLedgers(1, 0)], debitVote.Ledgers);
        Assert.Equal((false, 1, CreateTransferResult.ExceedsDebits), (creditVote.Prepared, creditVote.FailedLeg, creditVote.Code));
        Assert.Equal(0ul, debitShard.Get(5).DebitsPending);
        Assert.Equal(0ul, creditShard.Get(6).CreditsPending);

        var ok = Chain(T(52, 5, 6, 60), T(53, 5, 6, 40));
        Assert.True(debitShard.Ledger.Prepare("c0", 2, ok, debitShard.Now).Prepared);
        Assert.True(creditShard.Ledger.Prepare("c0", 2, ok, creditShard.Now).Prepared);
        Assert.Equal(100ul, debitShard.Get(5).DebitsPending);
        Assert.Equal(100ul, creditShard.Get(6).CreditsPending);
        Assert.True(debitShard.Ledger.Commit("c0", 2, debitShard.Now));
        Assert.True(creditShard.Ledger.Commit("c0", 2, creditShard.Now));
        Assert.Equal(100ul, debitShard.Get(5).DebitsPosted);
        Assert.Equal(100ul, creditShard.Get(6).CreditsPosted);
        Assert.True(debitShard.Ledger.TryLookupTransfer(53, out _, out _));
        Assert.True(creditShard.Ledger.TryLookupTransfer(53, out _, out _));
    }
}
