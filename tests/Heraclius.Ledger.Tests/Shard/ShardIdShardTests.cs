using Heraclius.Ledger.Model;
using Heraclius.Ledger.Shard;
using static Heraclius.Ledger.Tests.Shard.ShardKit;

namespace Heraclius.Ledger.Tests.Shard;

/// <summary>Three shards: the transfer ids' (ids ≥ 100), the debit accounts' (1, 5) and the credit accounts' (6, 7).</summary>
public sealed class ShardIdShardTests
{
    private readonly ShardKit _ids = new(ShardPlacement.Where(id => id >= 100));
    private readonly ShardKit _debits = new(ShardPlacement.Where(id => id > 0 && id < 6));
    private readonly ShardKit _credits = new(ShardPlacement.Where(id => id >= 6 && id < 100));

    public ShardIdShardTests()
    {
        _debits.Accounts(5);
        Assert.Equal(CreateAccountResult.Ok, _credits.Create(Customer(6)));
        _debits.Ledger.Apply([T(1_000, 1, 5, 100)], Start);
    }

    private ShardKit[] All => [_ids, _debits, _credits];

    private bool Run(ulong txn, Transfer[] chain, out CreateTransferResult[] results)
    {
        var votes = All.Select(k => k.Ledger.Prepare("c0", txn, chain, Start)).ToArray();
        if (votes.All(v => v.Prepared))
        {
            Assert.All(All, k => Assert.True(k.Ledger.Commit("c0", txn, Start + 5)));
            results = new CreateTransferResult[chain.Length];
            return true;
        }

        var leg = votes.Where(v => !v.Prepared).Min(v => v.FailedLeg);
        results = Enumerable.Repeat(CreateTransferResult.LinkedEventFailed, chain.Length).ToArray();
        results[leg] = votes.Where(v => !v.Prepared && v.FailedLeg == leg).Min(v => v.Code);
        var final = results;
        Assert.All(All, k => Assert.True(k.Ledger.Abort("c0", txn, final, Start + 5)));
        return false;
    }

    private static int TransferResults(ShardKit kit) =>
        kit.Audit.Count(b => AuditRecord.TryParse(b, out var r) && r.Kind == AuditRecordKind.TransferResult);

    [Fact]
    public void The_id_shard_stores_and_audits_the_result_and_a_replay_applies_nothing_on_the_account_shards()
    {
        var before = TransferResults(_debits);
        Assert.True(Run(1, [T(200, 5, 6, 30)], out _));
        Assert.True(_ids.Ledger.TryLookupTransfer(200, out var t, out var r));
        Assert.Equal((Start + 5, CreateTransferResult.Ok), (t.Timestamp, r));
        Assert.Equal(1, TransferResults(_ids));
        Assert.Equal(before, TransferResults(_debits));
        Assert.Equal(0, TransferResults(_credits));
        Assert.Equal(30ul, _debits.Get(5).DebitsPosted);

        Assert.True(Run(2, [T(200, 5, 6, 30)], out _));
        Assert.Equal(30ul, _debits.Get(5).DebitsPosted);
        Assert.Equal(30ul, _credits.Get(6).CreditsPosted);
        Assert.Equal(1, TransferResults(_ids));

        Assert.False(Run(3, [T(200, 5, 6, 31)], out var different));
        Assert.Equal([CreateTransferResult.ExistsWithDifferentAmount], different);
    }

    [Fact]
    public void Only_the_id_shard_audits_a_failure_every_participant_replays_it_and_an_id_in_flight_there_refuses_another_chain()
    {
        var audited = TransferResults(_debits);
        Assert.False(Run(1, [T(201, 5, 6, 500)], out var results));
        Assert.Equal([CreateTransferResult.ExceedsCredits], results);
        Assert.True(_ids.Ledger.TryLookupTransfer(201, out _, out var r));
        Assert.Equal(CreateTransferResult.ExceedsCredits, r);
        Assert.Equal(1, TransferResults(_ids));
        Assert.Equal(audited, TransferResults(_debits));
        Assert.Equal(0, TransferResults(_credits));

        // Funds arrive; the same transfer is still answered with its first result, on every shard.
        _debits.Ledger.Apply([T(1_001, 1, 5, 1000)], Start);
        Assert.False(Run(9, [T(201, 5, 6, 500)], out results));
        Assert.Equal([CreateTransferResult.ExceedsCredits], results);
        Assert.All(All, k => Assert.Equal(CreateTransferResult.ExceedsCredits, k.Ledger.Prepare("c0", 10, [T(201, 5, 6, 500)], Start).Code));

        // The id shard alone knows 202 is in flight; the other chain is refused there.
        Assert.True(_ids.Ledger.Prepare("c0", 11, [T(202, 5, 6, 10)], Start).Prepared);
        var other = _ids.Ledger.Prepare("c1", 1, [T(202, 5, 6, 10)], Start);
        Assert.Equal((false, CreateTransferResult.Exists), (other.Prepared, other.Code));
        Assert.True(_ids.Ledger.Abort("c1", 1, [CreateTransferResult.Exists], Start));
        Assert.True(_ids.Ledger.Abort("c0", 11, [CreateTransferResult.PrepareTimedOut], Start));
        Assert.False(_ids.Ledger.TryLookupTransfer(202, out _, out _));
        Assert.True(Run(12, [T(202, 5, 6, 10)], out _));
    }

    [Fact]
    public void A_hold_expires_from_the_coordinators_commit_time_on_both_account_shards()
    {
        Assert.True(Run(1, [T(203, 5, 6, 40, TransferFlags.Pending, timeout: 1)], out _));
        Assert.Equal(Start + 5 + 1000, _debits.Ledger.NextTimerDue());
        Assert.Equal(Start + 5 + 1000, _credits.Ledger.NextTimerDue());
        Assert.Equal(ulong.MaxValue, _ids.Ledger.NextTimerDue());
        _debits.Ledger.RunTimers(Start + 1004);
        _credits.Ledger.RunTimers(Start + 1005);
        Assert.Equal(40ul, _debits.Get(5).DebitsPending);
        Assert.Equal(0ul, _credits.Get(6).CreditsPending);
        Assert.True(_debits.Ledger.NextTimerDue() <= Start + 1005);
        _debits.Ledger.RunTimers(Start + 1005);
        Assert.Equal(0ul, _debits.Get(5).DebitsPending);
        Assert.Equal(ulong.MaxValue, _debits.Ledger.NextTimerDue());
    }

    [Fact]
    public void A_post_finds_the_hold_through_its_named_account_on_each_shard()
    {
        Assert.True(Run(1, [T(204, 5, 6, 40, TransferFlags.Pending)], out _));
        var wrongCredit = T(205, 5, 7, 0, TransferFlags.PostPending, pendingId: 204);
        var debitVote = _debits.Ledger.Prepare("c0", 2, [wrongCredit], Start);
        var creditVote = _credits.Ledger.Prepare("c0", 2, [wrongCredit], Start);
        Assert.Equal(CreateTransferResult.PendingTransferHasDifferentCreditAccountId, debitVote.Code);
        Assert.Equal(CreateTransferResult.CreditAccountNotFound, creditVote.Code);
        Assert.True(Run(3, [T(206, 5, 6, 0, TransferFlags.PostPending, pendingId: 204)], out _));
        Assert.Equal((0ul, 40ul), (_debits.Get(5).DebitsPending, _debits.Get(5).DebitsPosted));
        Assert.Equal((0ul, 40ul), (_credits.Get(6).CreditsPending, _credits.Get(6).CreditsPosted));
    }
}
