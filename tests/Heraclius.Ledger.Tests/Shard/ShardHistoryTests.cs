using Heraclius.Ledger.Model;
using static Heraclius.Ledger.Tests.Shard.ShardKit;

namespace Heraclius.Ledger.Tests.Shard;

public sealed class ShardHistoryTests
{
    [Fact]
    public void History_pages_by_cursor_in_commit_order_with_balances_only_for_history_accounts()
    {
        var kit = new ShardKit();
        kit.Accounts(6);
        Assert.Equal(CreateAccountResult.Ok, kit.Create(Customer(5, flags: AccountFlags.History)));
        kit.Fund(5, 1000);
        for (uint i = 0; i < 24; i++)
        {
            kit.Now += 10;
            Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(100 + i, 5, 6, i + 1)));
        }

        var all = new List<HistoryEntry>();
        ulong after = 0;
        var pages = 0;
        do
        {
            var page = kit.Ledger.AccountHistory(5, after, 10, out var next);
            all.AddRange(page);
            pages++;
            Assert.Equal(next == 0 ? page[^1].Sequence : next, page[^1].Sequence);
            after = next;
        }
        while (after != 0);

        Assert.Equal(3, pages);
        Assert.Equal(Enumerable.Range(1, 25).Select(i => (ulong)i), all.Select(e => e.Sequence));
        Assert.Equal(new HistoryEntry(1, 1_000_000, TransferSide.Credit, TransferMovement.Posted, 1000, 0, 0, 0, 1000, Start), all[0]);
        var last = all[^1];
        Assert.Equal((123u, TransferSide.Debit, TransferMovement.Posted, 24ul), ((uint)last.TransferId, last.Side, last.Movement, last.Amount));
        Assert.Equal(kit.Get(5).DebitsPosted, last.DebitsPosted);
        Assert.Equal(1000ul, last.CreditsPosted);
        Assert.Equal(kit.Now, last.Timestamp);

        var other = kit.Ledger.AccountHistory(6, 0, 1000, out var end);
        Assert.Equal(0ul, end);
        Assert.Equal(24, other.Length);
        Assert.All(other, e => Assert.Equal((0ul, 0ul, 0ul, 0ul), (e.DebitsPending, e.DebitsPosted, e.CreditsPending, e.CreditsPosted)));

        Assert.Empty(kit.Ledger.AccountHistory(5, 25, 10, out end));
        Assert.Equal(0ul, end);
        Assert.Empty(kit.Ledger.AccountHistory(77, 0, 10, out end));
    }

    [Fact]
    public void Reservations_are_not_history_and_every_committed_movement_is()
    {
        var kit = new ShardKit();
        kit.Accounts(6);
        Assert.Equal(CreateAccountResult.Ok, kit.Create(Customer(5, flags: AccountFlags.History)));
        kit.Fund(5, 1000);
        Assert.True(kit.Ledger.Prepare("c0", 1, [T(10, 5, 6, 100, TransferFlags.Pending, timeout: 1)], kit.Now).Prepared);
        Assert.True(kit.Ledger.Prepare("c0", 2, [T(11, 5, 6, 100)], kit.Now).Prepared);
        Assert.Single(kit.Ledger.AccountHistory(5, 0, 100, out _));
        Assert.True(kit.Ledger.Abort("c0", 2, [CreateTransferResult.PrepareTimedOut], kit.Now));
        Assert.True(kit.Ledger.Commit("c0", 1, kit.Now));
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(12, 5, 6, 40, TransferFlags.Pending)));
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(13, 5, 6, 15, TransferFlags.PostPending, pendingId: 12)));
        kit.Ledger.RunTimers(kit.Now + 1000);
        var moves = kit.Ledger.AccountHistory(5, 0, 100, out _).Select(e => ((uint)e.TransferId, e.Movement, e.Amount, e.DebitsPending, e.DebitsPosted)).ToArray();
        Assert.Equal(
            [
                (1_000_000u, TransferMovement.Posted, 1000ul, 0ul, 0ul),
                (10u, TransferMovement.PendingHold, 100ul, 100ul, 0ul),
                (12u, TransferMovement.PendingHold, 40ul, 140ul, 0ul),
                (13u, TransferMovement.PendingPosted, 15ul, 100ul, 15ul),
                (10u, TransferMovement.PendingExpired, 100ul, 0ul, 15ul),
            ],
            moves);
    }
}
