using Heraclius.KvStore.StateMachine;
using Heraclius.Ledger.Coordinator;
using Heraclius.Ledger.Model;
using Heraclius.Ledger.Protocol;

namespace Heraclius.Ledger.Tests.TwoPhase;

public sealed class CoordinatorTests
{
    private const string C0 = LedgerHarness.Coordinator;

    [Fact]
    public void Malformed_request_is_answered_at_once()
    {
        var h = new LedgerHarness();
        var id = h.Submit([42, 1, 2]);
        Assert.Equal(RequestOutcomeKind.Answered, h.OutcomeOf(id));
        Assert.Equal(LedgerOperation.Malformed, LedgerWorld.Parse(h.AnswerOf(id)!).Operation);
        Assert.Equal(0, h.Queued);
    }

    [Fact]
    public void Account_operations_go_to_the_accounts_shard_and_its_answer_comes_back_unchanged()
    {
        var h = new LedgerHarness();
        var w = new LedgerWorld(h);
        var account = w.AccountOn(2);
        var id = h.Submit(LedgerRequest.CreateAccount(Account.Create(account, 1, 1, 7, AccountFlags.None)));
        Assert.Equal(RequestOutcomeKind.Deferred, h.OutcomeOf(id));
        var forwarded = Assert.Single(h.QueuedBetween(C0, h.Shards[2]));
        Assert.True(ShardMessage.TryParse(forwarded, out var m));
        Assert.Equal(ShardMessageKind.Forward, m.Kind);
        Assert.Equal(id.Seq, m.Ref.Seq);
        Assert.Equal(1, h.Queued);

        h.RunToQuiescence();
        Assert.Equal(LedgerAnswer.CreateAccount(CreateAccountResult.Ok), h.AnswerOf(id));
        Assert.Equal(account, w.LookupAccount(account)!.Value.Id);
        Assert.Null(w.LookupAccount(w.AccountOn(2, 1)));
        Assert.Equal(0, h.CoordinatorState.Count);
        Assert.Empty(h.Anomalies);
    }

    [Fact]
    public void Forward_to_a_full_window_is_overloaded_and_sends_nothing()
    {
        var h = new LedgerHarness();
        var w = new LedgerWorld(h);
        var account = w.AccountOn(1);
        h.Blocked.Add(h.Shards[1]);
        var id = h.Submit(LedgerRequest.LookupAccount(account));
        Assert.Equal(RequestOutcomeKind.Overloaded, h.OutcomeOf(id));
        Assert.Equal(0, h.Queued);
    }

    [Fact]
    public void Stateless_failures_are_answered_at_once_with_the_first_failing_leg()
    {
        var h = new LedgerHarness();
        var w = new LedgerWorld(h);
        var (a, b) = (w.AccountOn(0), w.AccountOn(1));
        var chain = w.Chain((a, b, 5), (a, b, 0), (a, a, 5));
        var id = h.Submit(LedgerRequest.CreateTransfers(chain));
        Assert.Equal(RequestOutcomeKind.Answered, h.OutcomeOf(id));
        Assert.Equal(
            [CreateTransferResult.LinkedEventFailed, CreateTransferResult.AmountMustNotBeZero, CreateTransferResult.LinkedEventFailed],
            LedgerWorld.Parse(h.AnswerOf(id)!).TransferResults);

        // An open chain is refused as a whole, whatever its earlier legs hold.
        var open = w.Chain((a, b, 0), (a, b, 5));
        open[1] = open[1] with { Flags = TransferFlags.Linked };
        Assert.Equal([CreateTransferResult.LinkedEventFailed, CreateTransferResult.LinkedEventChainOpen], w.Transfer(open));

        // The smallest failing code of the leg: reserved flag (3) before amount (17).
        var odd = w.Plain(a, b, 0) with { Flags = (TransferFlags)0x100 };
        Assert.Equal([CreateTransferResult.ReservedFlag], w.Transfer([odd]));
        Assert.Equal(0, h.Queued);
        Assert.Equal(0, h.CoordinatorState.Count);
    }

    [Fact]
    public void A_request_that_is_not_one_chain_is_malformed()
    {
        var h = new LedgerHarness();
        var w = new LedgerWorld(h);
        var (a, b) = (w.AccountOn(0), w.AccountOn(1));
        var id = h.Submit(LedgerRequest.CreateTransfers([w.Plain(a, b, 1), w.Plain(a, b, 1)]));
        Assert.Equal(LedgerOperation.Malformed, LedgerWorld.Parse(h.AnswerOf(id)!).Operation);
    }

    [Fact]
    public void A_chain_whose_first_id_has_another_home_is_wrong_coordinator_on_every_leg()
    {
        var h = new LedgerHarness(coordinators: 2);
        var w = new LedgerWorld(h);
        var home = new HomeCoordinator(h.Topology);
        var (a, b) = (w.AccountOn(0), w.AccountOn(1));
        UInt128 elsewhere = 1;
        while (home.Of(elsewhere) == C0)
        {
            elsewhere++;
        }

        var chain = w.Chain((a, b, 5), (b, a, 5));
        chain[0] = chain[0] with { Id = elsewhere };
        Assert.Equal([CreateTransferResult.WrongCoordinator, CreateTransferResult.WrongCoordinator], w.Transfer(chain));

        // A stateless failure is the client's error wherever it is sent.
        chain[1] = chain[1] with { Amount = 0 };
        Assert.Equal([CreateTransferResult.LinkedEventFailed, CreateTransferResult.AmountMustNotBeZero], w.Transfer(chain));
        Assert.Equal(0, h.Queued);
    }

    [Fact]
    public void A_one_shard_chain_is_applied_in_one_shard_round_without_a_record()
    {
        var h = new LedgerHarness();
        var w = new LedgerWorld(h);
        var (a, b) = (w.AccountOn(1), w.AccountOn(1, 1));
        w.Open(a, funds: 100);
        w.Open(b);
        var before = h.CoordinatorState.Count;
        var id = h.Submit(LedgerRequest.CreateTransfers(w.ChainOn(1, (a, b, 30), (b, a, 10))));
        var apply = Assert.Single(h.QueuedBetween(C0, h.Shards[1]));
        Assert.True(ShardMessage.TryParse(apply, out var m));
        Assert.Equal(ShardMessageKind.Apply, m.Kind);
        Assert.Equal(before, h.CoordinatorState.Count);

        h.RunToQuiescence();
        Assert.Equal(LedgerAnswer.CreateTransfers([CreateTransferResult.Ok, CreateTransferResult.Ok]), h.AnswerOf(id));
        Assert.Equal(80UL, w.LookupAccount(a)!.Value.CreditsPosted - w.LookupAccount(a)!.Value.DebitsPosted + 0);
    }

    [Fact]
    public void A_cross_shard_chain_commits_through_two_phases_and_leaves_no_record()
    {
        var h = new LedgerHarness();
        var w = new LedgerWorld(h);
        var (a, b, c) = (w.AccountOn(0), w.AccountOn(1), w.AccountOn(2));
        w.Open(a, funds: 100);
        w.Open(b);
        w.Open(c);

        var id = h.Submit(LedgerRequest.CreateTransfers(w.Chain((a, b, 30), (a, c, 20))));
        Assert.Equal(RequestOutcomeKind.Deferred, h.OutcomeOf(id));
        Assert.True(h.CoordinatorService.HasTimers(h.CoordinatorState));
        foreach (var shard in h.Shards)
        {
            Assert.True(ShardMessage.TryParse(Assert.Single(h.QueuedBetween(C0, shard)), out var prepare));
            Assert.Equal(ShardMessageKind.Prepare, prepare.Kind);
        }

        h.RunToQuiescence();
        Assert.Equal(LedgerAnswer.CreateTransfers([CreateTransferResult.Ok, CreateTransferResult.Ok]), h.AnswerOf(id));
        Assert.False(h.CoordinatorService.HasTimers(h.CoordinatorState));
        Assert.Equal(50UL, Balance(w.LookupAccount(a)!.Value));
        Assert.Equal(30UL, w.LookupAccount(b)!.Value.CreditsPosted);
        Assert.Equal(20UL, w.LookupAccount(c)!.Value.CreditsPosted);
        AssertNoPending(w, a, b, c);
        AssertOnlyWheelLeft(h);
        Assert.Empty(h.Anomalies);
    }

    [Fact]
    public void A_refused_vote_aborts_with_the_failed_leg_and_releases_every_reservation()
    {
        var h = new LedgerHarness();
        var w = new LedgerWorld(h);
        var (a, b, c) = (w.AccountOn(0), w.AccountOn(1), w.AccountOn(2));
        w.Open(a, funds: 100);
        w.Open(b, funds: 10);
        w.Open(c);

        // Leg 1 debits b beyond its credits: s1 refuses leg 1; s0 and s2 reserve.
        var results = w.Transfer(w.Chain((a, c, 50), (b, c, 20), (a, b, 5)));
        Assert.Equal([CreateTransferResult.LinkedEventFailed, CreateTransferResult.ExceedsCredits, CreateTransferResult.LinkedEventFailed], results);
        Assert.Equal(100UL, Balance(w.LookupAccount(a)!.Value));
        Assert.Equal(0UL, w.LookupAccount(c)!.Value.CreditsPosted);
        AssertNoPending(w, a, b, c);
        AssertOnlyWheelLeft(h);
    }

    [Fact]
    public void Different_ledgers_on_two_shards_combine_into_accounts_must_have_the_same_ledger()
    {
        var h = new LedgerHarness();
        var w = new LedgerWorld(h);
        var (a, b) = (w.AccountOn(0), w.AccountOn(1));
        w.Open(a, ledger: 1, funds: 100);
        w.Open(b, ledger: 2);

        // s1 alone sees transfer_must_have_the_same_ledger_as_accounts (35); with both halves it is 34.
        Assert.Equal([CreateTransferResult.AccountsMustHaveTheSameLedger], w.Transfer([w.Plain(a, b, 5)]));
        AssertNoPending(w, a, b);
    }

    [Fact]
    public void Votes_combine_to_the_smallest_refused_leg_and_its_smallest_code()
    {
        var h = new LedgerHarness();
        var w = new LedgerWorld(h);
        var (a, b, c) = (w.AccountOn(0), w.AccountOn(1), w.AccountOn(2));
        var id = h.Submit(LedgerRequest.CreateTransfers(w.Chain((a, b, 1), (b, c, 1), (c, a, 1))));
        var txn = PreparedTxn(h);
        foreach (var shard in h.Shards)
        {
            h.Drop(C0, shard);
        }

        // s0 and s2 refuse leg 2 (57 and 33); s1 refuses leg 1 with 57 but its ledgers say the sides of leg 1 differ.
        h.Enqueue(h.Shards[2], C0, ShardMessage.VoteMessage(txn, ShardVote.No(2, CreateTransferResult.ExceedsCredits, [new(0, 0), new(0, 3), new(0, 0)])));
        h.Enqueue(h.Shards[0], C0, ShardMessage.VoteMessage(txn, ShardVote.No(2, CreateTransferResult.CreditAccountNotFound, [new(1, 0), new(0, 0), new(0, 1)])));
        h.DeliverAll(h.Shards[2], C0);
        h.DeliverAll(h.Shards[0], C0);
        Assert.Equal(0, h.Queued);
        h.Enqueue(h.Shards[1], C0, ShardMessage.VoteMessage(txn, ShardVote.No(1, CreateTransferResult.ExceedsCredits, [new(0, 1), new(2, 0)])));
        h.DeliverAll(h.Shards[1], C0);

        var expected = ShardMessage.Abort(txn, [CreateTransferResult.LinkedEventFailed, CreateTransferResult.AccountsMustHaveTheSameLedger, CreateTransferResult.LinkedEventFailed]);
        foreach (var shard in h.Shards)
        {
            Assert.Equal(expected, Assert.Single(h.QueuedBetween(C0, shard)));
            h.Drop(C0, shard);
        }

        Assert.False(h.CoordinatorService.HasTimers(h.CoordinatorState));
        foreach (var shard in h.Shards)
        {
            Assert.Null(h.AnswerOf(id));
            h.Enqueue(shard, C0, ShardMessage.Ack(txn));
            h.DeliverAll(shard, C0);
        }

        Assert.Equal(
            [CreateTransferResult.LinkedEventFailed, CreateTransferResult.AccountsMustHaveTheSameLedger, CreateTransferResult.LinkedEventFailed],
            LedgerWorld.Parse(h.AnswerOf(id)!).TransferResults);
    }

    [Fact]
    public void A_smaller_code_than_the_ledger_mismatch_is_kept()
    {
        var h = new LedgerHarness(shards: 2);
        var w = new LedgerWorld(h);
        var (a, b) = (w.AccountOn(0), w.AccountOn(1));
        var id = h.Submit(LedgerRequest.CreateTransfers([w.Plain(a, b, 1)]));
        var txn = PreparedTxn(h);
        h.Drop(C0, h.Shards[0]);
        h.Drop(C0, h.Shards[1]);
        h.Enqueue(h.Shards[0], C0, ShardMessage.VoteMessage(txn, ShardVote.No(0, CreateTransferResult.ExistsWithDifferentAmount, [new(1, 0)])));
        h.Enqueue(h.Shards[1], C0, ShardMessage.VoteMessage(txn, ShardVote.Yes([new(0, 2)])));
        h.DeliverAll(h.Shards[0], C0);
        h.DeliverAll(h.Shards[1], C0);
        Assert.Equal(ShardMessage.Abort(txn, [CreateTransferResult.ExistsWithDifferentAmount]), Assert.Single(h.QueuedBetween(C0, h.Shards[1])));
        Assert.Null(h.AnswerOf(id));
    }

    [Fact]
    public void Missing_votes_time_out_into_an_abort_and_late_votes_change_nothing()
    {
        var options = new LedgerCoordinatorOptions { PrepareTimeoutMs = 5000 };
        var h = new LedgerHarness(shards: 2, options: options);
        var w = new LedgerWorld(h);
        var (a, b) = (w.AccountOn(0), w.AccountOn(1));
        w.Open(a, funds: 100);
        w.Open(b);
        var start = h.Now;
        var id = h.Submit(LedgerRequest.CreateTransfers(w.Chain((a, b, 10), (a, b, 20))));
        var txn = PreparedTxn(h);

        // s0 prepares and votes; s1's Prepare is held up on the way.
        h.DeliverAll(C0, h.Shards[0]);
        Assert.True(ShardMessage.TryParse(Assert.Single(h.QueuedBetween(h.Shards[0], C0)), out var vote));
        Assert.True(vote.Vote!.Prepared);
        h.DeliverAll(h.Shards[0], C0);

        h.Now = start + options.PrepareTimeoutMs - 1;
        h.Tick();
        Assert.Equal(1, h.Queued);
        Assert.True(h.CoordinatorService.HasTimers(h.CoordinatorState));

        // The wheel's resolution is a second: the deadline fires once its second is over.
        h.Now = ((start + options.PrepareTimeoutMs) / 1000 * 1000) + 1000;
        h.Tick();
        Assert.False(h.CoordinatorService.HasTimers(h.CoordinatorState));
        var abort = ShardMessage.Abort(txn, [CreateTransferResult.PrepareTimedOut, CreateTransferResult.PrepareTimedOut]);
        Assert.Equal(abort, Assert.Single(h.QueuedBetween(C0, h.Shards[0])));
        Assert.Equal(abort, h.QueuedBetween(C0, h.Shards[1])[1]);

        // s1 gets its Prepare at last, then the Abort: it votes yes, then releases and acks. The vote is too late.
        h.Now += 10;
        h.DeliverAll(C0, h.Shards[1]);
        var back = h.QueuedBetween(h.Shards[1], C0);
        Assert.Equal(2, back.Count);
        Assert.True(ShardMessage.TryParse(back[0], out var late));
        Assert.Equal(ShardMessageKind.Vote, late.Kind);
        var before = Snapshot(h);
        h.DeliverOne(h.Shards[1], C0);
        Assert.Equal(before, Snapshot(h));
        Assert.Equal(abort, Assert.Single(h.QueuedBetween(C0, h.Shards[0])));
        Assert.Null(h.AnswerOf(id));

        h.RunToQuiescence();
        Assert.Equal(LedgerAnswer.CreateTransfers([CreateTransferResult.PrepareTimedOut, CreateTransferResult.PrepareTimedOut]), h.AnswerOf(id));
        AssertNoPending(w, a, b);
        Assert.Equal(100UL, Balance(w.LookupAccount(a)!.Value));
        h.Now += 10_000;
        h.Tick();
        Assert.Equal(0, h.CoordinatorState.Count - 1);
    }

    [Fact]
    public void Txns_of_one_deadline_second_share_one_bucket_and_each_second_times_out_on_its_own()
    {
        var options = new LedgerCoordinatorOptions { PrepareTimeoutMs = 5000 };
        var h = new LedgerHarness(shards: 2, options: options);
        var w = new LedgerWorld(h);
        var (a, b) = (w.AccountOn(0), w.AccountOn(1));
        w.Open(a, funds: 100);
        w.Open(b);
        h.Now += 10_000;
        h.Tick();
        Assert.Empty(h.CoordinatorState.KeysWithPrefix((byte)'T'));
        var second = (h.Now / 1000) + 1;
        var ids = new List<(string Client, ulong Seq)>();
        foreach (var at in new ulong[] { 100, 200, 300, 1100, 1200, 1300 })
        {
            h.Now = (second * 1000) + at;
            ids.Add(h.Submit(LedgerRequest.CreateTransfers([w.Plain(a, b, 1)])));
        }

        // No shard has seen a Prepare yet: nothing votes, so every txn waits for its deadline.
        Assert.Equal(2, h.CoordinatorState.KeysWithPrefix((byte)'T').Count);
        int Aborts() => h.QueuedBetween(C0, h.Shards[0]).Count(m => m[0] == (byte)ShardMessageKind.Abort);
        h.Now = ((second + 6) * 1000) - 1;
        h.Tick();
        Assert.Equal(0, Aborts());
        h.Now = (second + 6) * 1000;
        h.Tick();
        Assert.Equal(3, Aborts());
        Assert.Single(h.CoordinatorState.KeysWithPrefix((byte)'T'));
        h.Now = (second + 7) * 1000;
        h.Tick();
        Assert.Equal(6, Aborts());
        Assert.Empty(h.CoordinatorState.KeysWithPrefix((byte)'T'));

        h.RunToQuiescence();
        Assert.All(ids, id => Assert.Equal(LedgerAnswer.CreateTransfers([CreateTransferResult.PrepareTimedOut]), h.AnswerOf(id)));
        AssertNoPending(w, a, b);
        Assert.False(h.CoordinatorService.HasTimers(h.CoordinatorState));
    }

    [Fact]
    public void A_retry_under_a_new_request_id_joins_the_chain_in_flight()
    {
        var h = new LedgerHarness();
        var w = new LedgerWorld(h);
        var (a, b) = (w.AccountOn(0), w.AccountOn(1));
        w.Open(a, funds: 100);
        w.Open(b);
        var chain = new[] { w.Plain(a, b, 10) };
        var first = h.Submit(LedgerRequest.CreateTransfers(chain));
        var queued = h.Queued;
        var retry = h.Submit(LedgerRequest.CreateTransfers(chain));
        Assert.Equal(RequestOutcomeKind.Deferred, h.OutcomeOf(retry));
        Assert.Equal(queued, h.Queued);

        h.RunToQuiescence();
        var ok = LedgerAnswer.CreateTransfers([CreateTransferResult.Ok]);
        Assert.Equal(ok, h.AnswerOf(first));
        Assert.Equal(ok, h.AnswerOf(retry));
        Assert.Equal(10UL, w.LookupAccount(b)!.Value.CreditsPosted);
        AssertOnlyWheelLeft(h);
        Assert.Empty(h.Anomalies);
    }

    [Fact]
    public void Another_chain_under_an_in_flight_first_id_runs_on_its_own_and_the_shards_answer_for_the_id()
    {
        var h = new LedgerHarness(shards: 2);
        var w = new LedgerWorld(h);
        var (a, b) = (w.AccountOn(0), w.AccountOn(1));
        w.Open(a, funds: 100);
        w.Open(b);
        var t = w.Plain(a, b, 10);
        var first = h.Submit(LedgerRequest.CreateTransfers([t]));
        var other = h.Submit(LedgerRequest.CreateTransfers([t with { Amount = 11 }]));
        Assert.Equal(RequestOutcomeKind.Deferred, h.OutcomeOf(other));
        Assert.Equal(4, h.Queued);

        h.RunToQuiescence();
        Assert.Equal(LedgerAnswer.CreateTransfers([CreateTransferResult.Ok]), h.AnswerOf(first));
        // The id shard compares the other chain with the in-flight one: different fields are a conflict
        // whatever the first chain's outcome (not stored: the first chain may still abort).
        Assert.Equal([CreateTransferResult.ExistsWithDifferentAmount], LedgerWorld.Parse(h.AnswerOf(other)!).TransferResults);
        Assert.Equal(10UL, w.LookupAccount(b)!.Value.CreditsPosted);
        AssertOnlyWheelLeft(h);
    }

    [Fact]
    public void Duplicate_unknown_and_foreign_votes_and_acks_change_nothing()
    {
        var h = new LedgerHarness(shards: 2);
        var w = new LedgerWorld(h);
        var (a, b) = (w.AccountOn(0), w.AccountOn(1));
        w.Open(a, funds: 100);
        w.Open(b);
        var id = h.Submit(LedgerRequest.CreateTransfers([w.Plain(a, b, 10)]));
        var txn = PreparedTxn(h);
        h.DeliverAll(C0, h.Shards[0]);
        h.DeliverAll(C0, h.Shards[1]);
        var vote0 = Assert.Single(h.QueuedBetween(h.Shards[0], C0));
        h.DeliverAll(h.Shards[0], C0);

        var snapshot = Snapshot(h);
        h.Enqueue(h.Shards[0], C0, vote0);
        h.Enqueue(h.Shards[0], C0, ShardMessage.VoteMessage(txn + 7, ShardVote.Yes([new(1, 0)])));
        h.Enqueue(h.Shards[0], C0, ShardMessage.Ack(txn));
        h.Enqueue(h.Shards[0], C0, ShardMessage.Ack(txn + 7));
        h.Enqueue("c9", C0, ShardMessage.VoteMessage(txn, ShardVote.No(0, CreateTransferResult.ExceedsCredits, [new(1, 1)])));
        h.Enqueue(h.Shards[0], C0, [0xEE, 1, 2]);
        h.DeliverAll(h.Shards[0], C0);
        h.DeliverAll("c9", C0);
        Assert.Equal(snapshot, Snapshot(h));
        Assert.Equal(1, h.Queued);

        h.DeliverAll(h.Shards[1], C0);
        var afterDecision = Snapshot(h);
        var commits = h.Queued;
        h.Enqueue(h.Shards[1], C0, ShardMessage.VoteMessage(txn, ShardVote.Yes([new(0, 1)])));
        h.DeliverAll(h.Shards[1], C0);
        Assert.Equal(afterDecision, Snapshot(h));
        Assert.Equal(commits, h.Queued);

        h.DeliverAll(C0, h.Shards[0]);
        h.DeliverAll(h.Shards[0], C0);
        var halfAcked = Snapshot(h);
        h.Enqueue(h.Shards[0], C0, ShardMessage.Ack(txn));
        h.DeliverAll(h.Shards[0], C0);
        Assert.Equal(halfAcked, Snapshot(h));
        Assert.Null(h.AnswerOf(id));

        h.RunToQuiescence();
        Assert.Equal(LedgerAnswer.CreateTransfers([CreateTransferResult.Ok]), h.AnswerOf(id));
        h.Enqueue(h.Shards[1], C0, ShardMessage.Ack(txn));
        h.DeliverAll(h.Shards[1], C0);
        Assert.Equal(1, h.AnswerCount(id));
        Assert.Empty(h.Anomalies);
    }

    [Fact]
    public void Shards_ignore_commit_and_abort_from_a_coordinator_that_did_not_prepare()
    {
        var h = new LedgerHarness(shards: 2, coordinators: 2);
        var w = new LedgerWorld(h);
        var (a, b) = (w.AccountOn(0), w.AccountOn(1));
        w.Open(a, funds: 100);
        w.Open(b);
        var id = h.Submit(LedgerRequest.CreateTransfers([w.Plain(a, b, 10)]));
        var txn = PreparedTxn(h);
        h.DeliverAll(C0, h.Shards[0]);
        h.DeliverAll(C0, h.Shards[1]);

        h.Enqueue("c1", h.Shards[0], ShardMessage.Commit(txn));
        h.Enqueue("c1", h.Shards[1], ShardMessage.Abort(txn, [CreateTransferResult.ExceedsCredits]));
        h.DeliverAll("c1", h.Shards[0]);
        h.DeliverAll("c1", h.Shards[1]);
        Assert.Empty(h.QueuedBetween(h.Shards[0], "c1"));
        Assert.Empty(h.QueuedBetween(h.Shards[1], "c1"));

        h.RunToQuiescence();
        Assert.Equal(LedgerAnswer.CreateTransfers([CreateTransferResult.Ok]), h.AnswerOf(id));
        Assert.Equal(90UL, Balance(w.LookupAccount(a)!.Value));
        Assert.Equal(10UL, w.LookupAccount(b)!.Value.CreditsPosted);
        AssertNoPending(w, a, b);
    }

    [Fact]
    public void A_new_chain_needs_every_participant_to_take_work_and_stores_nothing_otherwise()
    {
        var h = new LedgerHarness();
        var w = new LedgerWorld(h);
        var (a, b, c) = (w.AccountOn(0), w.AccountOn(1), w.AccountOn(2));
        var count = h.CoordinatorState.Count;
        h.Blocked.Add(h.Shards[2]);
        var id = h.Submit(LedgerRequest.CreateTransfers(w.Chain((a, b, 1), (b, c, 1))));
        Assert.Equal(RequestOutcomeKind.Overloaded, h.OutcomeOf(id));
        Assert.Equal(count, h.CoordinatorState.Count);
        Assert.Equal(0, h.Queued);

        // Chains that do not touch the full destination still run.
        var other = h.Submit(LedgerRequest.CreateTransfers(w.ChainOn(0, (a, b, 1))));
        Assert.Equal(RequestOutcomeKind.Deferred, h.OutcomeOf(other));
    }

    [Fact]
    public void Lookup_transfer_asks_the_id_shard()
    {
        var h = new LedgerHarness();
        var w = new LedgerWorld(h);
        var (a, b) = (w.AccountOn(0), w.AccountOn(1));
        w.Open(a, funds: 100);
        w.Open(b);
        var t = w.Plain(a, b, 10, idShard: 2);
        Assert.Equal([CreateTransferResult.Ok], w.Transfer([t]));

        var id = h.Submit(LedgerRequest.LookupTransfer(t.Id));
        Assert.True(ShardMessage.TryParse(Assert.Single(h.QueuedBetween(C0, h.Shards[2])), out var forward));
        Assert.Equal(ShardMessageKind.Forward, forward.Kind);
        Assert.Equal(1, h.Queued);
        h.RunToQuiescence();
        var found = LedgerWorld.Parse(h.AnswerOf(id)!);
        Assert.Equal((t.Id, CreateTransferResult.Ok), (found.Transfer!.Value.Id, found.TransferResult));
        Assert.Null(w.LookupTransfer(t.Id + 12345).Transfer);
        Assert.Empty(h.Anomalies);
    }

    [Fact]
    public void The_deadline_wheel_is_emptied_as_time_passes()
    {
        var h = new LedgerHarness(seed: 3);
        var w = new LedgerWorld(h);
        var (a, b) = (w.AccountOn(0), w.AccountOn(1));
        w.Open(a, funds: 1000);
        w.Open(b);
        for (var i = 0; i < 50; i++)
        {
            h.Now += 137;
            h.Submit(LedgerRequest.CreateTransfers([w.Plain(a, b, 1)]));
            if (i % 7 == 0)
            {
                h.RunToQuiescence();
            }
        }

        h.RunToQuiescence();
        Assert.NotEmpty(h.CoordinatorState.KeysWithPrefix((byte)'T'));
        h.Now += 7000;
        h.Tick();
        Assert.Empty(h.CoordinatorState.KeysWithPrefix((byte)'T'));
        Assert.Empty(h.CoordinatorState.KeysWithPrefix((byte)'X'));
        Assert.Empty(h.CoordinatorState.KeysWithPrefix((byte)'I'));
        Assert.Equal(50UL, w.LookupAccount(b)!.Value.CreditsPosted);
    }

    private static ulong Balance(Account account) => account.CreditsPosted - account.DebitsPosted;

    private static void AssertNoPending(LedgerWorld w, params UInt128[] accounts)
    {
        foreach (var id in accounts)
        {
            var account = w.LookupAccount(id)!.Value;
            Assert.Equal((0UL, 0UL), (account.DebitsPending, account.CreditsPending));
        }
    }

    /// <summary>After a chain finished only its deadline bucket (cleared when its second passes) and the counters remain.</summary>
    private static void AssertOnlyWheelLeft(LedgerHarness h)
    {
        Assert.Empty(h.CoordinatorState.KeysWithPrefix((byte)'X'));
        Assert.Empty(h.CoordinatorState.KeysWithPrefix((byte)'I'));
    }

    private static ulong PreparedTxn(LedgerHarness h)
    {
        foreach (var shard in h.Shards)
        {
            foreach (var message in h.QueuedBetween(C0, shard))
            {
                if (ShardMessage.TryParse(message, out var m) && m.Kind == ShardMessageKind.Prepare)
                {
                    return m.Txn;
                }
            }
        }

        throw new InvalidOperationException("no Prepare queued");
    }

    private static string Snapshot(LedgerHarness h)
    {
        var parts = new List<string>();
        foreach (var prefix in "NXIT")
        {
            foreach (var key in h.CoordinatorState.KeysWithPrefix((byte)prefix))
            {
                parts.Add(Convert.ToHexString(key) + "=" + Convert.ToHexString(h.CoordinatorState.Get(key)!));
            }
        }

        parts.Sort(StringComparer.Ordinal);
        return string.Join(";", parts);
    }
}
