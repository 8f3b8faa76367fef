using Heraclius.Ledger.Model;
using static Heraclius.Ledger.Tests.Shard.ShardKit;

namespace Heraclius.Ledger.Tests.Shard;

public sealed class ShardExpiryTests
{
    private static ShardKit Funded()
    {
        var kit = new ShardKit();
        kit.Accounts(5, 6);
        kit.Fund(5, 1000);
        return kit;
    }

    [Fact]
    public void A_pending_transfer_expires_at_its_deadline_to_the_millisecond()
    {
        var kit = Funded();
        kit.Now += 123;
        Assert.False(kit.Ledger.HasTimers());
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(10, 5, 6, 40, TransferFlags.Pending, timeout: 2)));
        Assert.True(kit.Ledger.HasTimers());
        var deadline = kit.Now + 2000;
        kit.Ledger.RunTimers(deadline - 1);
        Assert.Equal(40ul, kit.Get(5).DebitsPending);

        // Due but not yet released: a post is refused as expired all the same.
        Assert.Equal([CreateTransferResult.PendingTransferExpired], kit.Ledger.Apply([T(11, 5, 6, 0, TransferFlags.PostPending, pendingId: 10)], deadline));
        kit.Ledger.RunTimers(deadline);
        Assert.Equal(0ul, kit.Get(5).DebitsPending);
        Assert.Equal(0ul, kit.Get(6).CreditsPending);
        Assert.False(kit.Ledger.HasTimers());
        Assert.Equal([CreateTransferResult.PendingTransferExpired], kit.Ledger.Apply([T(12, 5, 6, 0, TransferFlags.VoidPending, pendingId: 10)], deadline));
        Assert.True(kit.Ledger.TryLookupTransfer(10, out _, out var r));
        Assert.Equal(CreateTransferResult.Ok, r);
    }

    [Fact]
    public void Posted_and_voided_transfers_leave_the_wheel_and_never_expire()
    {
        var kit = Funded();
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(10, 5, 6, 40, TransferFlags.Pending, timeout: 1)));
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(11, 5, 6, 40, TransferFlags.Pending, timeout: 1)));
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(12, 5, 6, 10, TransferFlags.PostPending, pendingId: 10)));
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(13, 5, 6, 0, TransferFlags.VoidPending, pendingId: 11)));
        Assert.False(kit.Ledger.HasTimers());
        var before = kit.Get(5);
        kit.Ledger.RunTimers(kit.Now + 5000);
        Assert.Equal(before, kit.Get(5));
        Assert.Empty(kit.State.WithPrefix(0x16));
        Assert.Empty(kit.State.WithPrefix(0x17));
    }

    [Fact]
    public void Many_deadlines_in_one_second_in_any_order_expire_each_at_its_own_time()
    {
        var kit = Funded();
        var timeouts = new uint[] { 3, 1, 2, 1, 3, 2, 1 };
        for (var i = 0; i < timeouts.Length; i++)
        {
            kit.Now += 100;
            Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(100 + (uint)i, 5, 6, 1, TransferFlags.Pending, timeout: timeouts[i])));
        }

        var start = Start;
        for (var t = start + 700; t <= start + 5000; t += 50)
        {
            kit.Ledger.RunTimers(t);
            var due = 0ul;
            for (var i = 0; i < timeouts.Length; i++)
            {
                if (start + (ulong)(100 * (i + 1)) + (timeouts[i] * 1000UL) > t)
                {
                    due++;
                }
            }

            Assert.Equal(due, kit.Get(5).DebitsPending);
        }

        Assert.False(kit.Ledger.HasTimers());
    }

    [Fact]
    public void A_locked_pending_transfer_does_not_expire_and_expires_at_the_next_run_after_an_abort()
    {
        var kit = Funded();
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(10, 5, 6, 40, TransferFlags.Pending, timeout: 1)));
        Assert.True(kit.Ledger.Prepare("c0", 1, [T(11, 5, 6, 0, TransferFlags.VoidPending, pendingId: 10)], kit.Now + 500).Prepared);
        kit.Ledger.RunTimers(kit.Now + 1500);
        Assert.Equal(40ul, kit.Get(5).DebitsPending);
        Assert.False(kit.Ledger.HasTimers());

        Assert.True(kit.Ledger.Abort("c0", 1, [CreateTransferResult.CreditAccountNotFound], kit.Now + 1600));
        Assert.True(kit.Ledger.HasTimers());
        kit.Ledger.RunTimers(kit.Now + 1600);
        Assert.Equal(0ul, kit.Get(5).DebitsPending);
        Assert.False(kit.Ledger.HasTimers());
    }

    [Fact]
    public void A_locked_pending_transfer_past_its_deadline_is_still_posted_by_the_commit()
    {
        var kit = Funded();
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(10, 5, 6, 40, TransferFlags.Pending, timeout: 1)));
        Assert.True(kit.Ledger.Prepare("c0", 1, [T(11, 5, 6, 0, TransferFlags.PostPending, pendingId: 10)], kit.Now + 500).Prepared);
        kit.Ledger.RunTimers(kit.Now + 3000);
        Assert.Equal([CreateTransferResult.PendingTransferExpired], kit.Ledger.Apply([T(12, 5, 6, 0, TransferFlags.VoidPending, pendingId: 10)], kit.Now + 3000));
        Assert.True(kit.Ledger.Commit("c0", 1, kit.Now + 3000));
        Assert.Equal((0ul, 40ul), (kit.Get(5).DebitsPending, kit.Get(5).DebitsPosted));
        kit.Ledger.RunTimers(kit.Now + 9000);
        Assert.Equal((0ul, 40ul), (kit.Get(5).DebitsPending, kit.Get(5).DebitsPosted));
    }

    [Fact]
    public void After_a_long_idle_spell_the_cursor_jumps_and_a_long_gap_is_walked_over_several_runs()
    {
        var kit = Funded();
        kit.Now += 30UL * 24 * 3600 * 1000;
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(10, 5, 6, 40, TransferFlags.Pending, timeout: 1)));
        kit.State.ResetCounters();
        kit.Ledger.RunTimers(kit.Now + 500);
        Assert.True(kit.State.Gets < 10);

        // Three days later the first hold is released at once; a second one, due in two days, waits
        // until the cursor has walked that far, a day per run.
        kit.Now += 3UL * 24 * 3600 * 1000;
        kit.Ledger.RunTimers(kit.Now);
        Assert.Equal(0ul, kit.Get(5).DebitsPending);
        Assert.Equal([CreateTransferResult.Ok], kit.Apply(T(11, 5, 6, 40, TransferFlags.Pending, timeout: 2 * 24 * 3600)));
        var runAt = kit.Now + (3UL * 24 * 3600 * 1000);
        kit.Ledger.RunTimers(runAt);
        Assert.Equal(40ul, kit.Get(5).DebitsPending);
        kit.Ledger.RunTimers(runAt);
        Assert.Equal(0ul, kit.Get(5).DebitsPending);
    }
}
