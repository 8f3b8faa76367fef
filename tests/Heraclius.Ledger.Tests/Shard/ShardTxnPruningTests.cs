using Heraclius.KvStore.StateMachine;
using Heraclius.Ledger.Model;
using Heraclius.Ledger.Protocol;
using Heraclius.Ledger.Shard;
using static Heraclius.Ledger.Tests.Shard.ShardKit;

namespace Heraclius.Ledger.Tests.Shard;

/// <summary>
/// A shard forgets a 2PC txn once it committed or aborted it (docs/design.md "Shard state"). These attack
/// that: every message of a finished txn, repeated or late, must change nothing, above all a repeated
/// Prepare must not reserve again.
/// </summary>
public sealed class ShardTxnPruningTests
{
    private const byte TxnPrefix = 0x14;
    private const byte PreparedUpToPrefix = 0x18;

    [Fact]
    public void A_repeated_Prepare_after_commit_reserves_nothing_and_late_decisions_apply_nothing()
    {
        var kit = Funded();
        var chain = new[] { T(10, 5, 6, 30) };
        Assert.True(kit.Ledger.Prepare("c0", 1, chain, kit.Now).Prepared);
        Assert.True(kit.Ledger.Commit("c0", 1, kit.Now));
        Assert.Empty(kit.State.WithPrefix(TxnPrefix));
        var committed = kit.State.Snapshot();

        Assert.False(kit.Ledger.TryPrepare("c0", 1, chain, kit.Now, out var vote));
        Assert.Null(vote);
        Assert.False(kit.Ledger.Commit("c0", 1, kit.Now + 1));
        Assert.False(kit.Ledger.Abort("c0", 1, [CreateTransferResult.ExceedsCredits], kit.Now + 1));
        Assert.False(kit.Ledger.TryPrepare("c0", 1, chain, kit.Now, out _));
        Assert.Equal(committed, kit.State.Snapshot());
        Assert.Equal((0ul, 30ul), (kit.Get(5).DebitsPending, kit.Get(5).DebitsPosted));
    }

    [Fact]
    public void A_repeated_Prepare_after_an_abort_that_freed_the_ids_does_not_reserve_them_again()
    {
        // The dangerous case: the abort deleted the in-flight id (linked_event_failed), so evaluating the
        // repeat afresh would pass and reserve 30 that no Commit or Abort would ever release.
        var kit = Funded();
        var chain = Chain(T(10, 5, 6, 30), T(11, 5, 7, 20));
        Assert.True(kit.Ledger.Prepare("c0", 1, chain, kit.Now).Prepared);
        Assert.True(kit.Ledger.Abort("c0", 1, [CreateTransferResult.LinkedEventFailed, CreateTransferResult.ExceedsDebits], kit.Now));
        Assert.False(kit.Ledger.TryLookupTransfer(10, out _, out _));
        Assert.Empty(kit.State.WithPrefix(TxnPrefix));
        var aborted = kit.State.Snapshot();

        Assert.False(kit.Ledger.TryPrepare("c0", 1, chain, kit.Now, out _));
        Assert.False(kit.Ledger.TryPrepare("c0", 1, [T(10, 5, 6, 30)], kit.Now, out _));
        Assert.False(kit.Ledger.Commit("c0", 1, kit.Now));
        Assert.False(kit.Ledger.Abort("c0", 1, [CreateTransferResult.LinkedEventFailed, CreateTransferResult.ExceedsDebits], kit.Now));
        Assert.Equal(aborted, kit.State.Snapshot());
        Assert.Equal(0ul, kit.Get(5).DebitsPending);
    }

    [Fact]
    public void A_late_Abort_after_commit_and_a_late_Commit_after_abort_change_nothing()
    {
        var kit = Funded();
        Assert.True(kit.Ledger.Prepare("c0", 1, [T(10, 5, 6, 30)], kit.Now).Prepared);
        Assert.True(kit.Ledger.Prepare("c0", 2, [T(11, 5, 7, 20)], kit.Now).Prepared);
        Assert.True(kit.Ledger.Commit("c0", 1, kit.Now));
        Assert.True(kit.Ledger.Abort("c0", 2, [CreateTransferResult.PrepareTimedOut], kit.Now));
        var done = kit.State.Snapshot();

        Assert.False(kit.Ledger.Abort("c0", 1, [CreateTransferResult.PrepareTimedOut], kit.Now));
        Assert.False(kit.Ledger.Commit("c0", 2, kit.Now));
        Assert.False(kit.Ledger.Commit("c0", 1, kit.Now));
        Assert.Equal(done, kit.State.Snapshot());
        Assert.Equal((0ul, 30ul), (kit.Get(5).DebitsPending, kit.Get(5).DebitsPosted));
        Assert.Equal(0ul, kit.Get(7).CreditsPosted);
    }

    [Fact]
    public void A_repeated_Prepare_of_an_unfinished_txn_behind_a_finished_one_still_answers_its_first_vote()
    {
        var kit = Funded();
        var first = kit.Ledger.Prepare("c0", 1, [T(10, 5, 6, 30)], kit.Now);
        Assert.True(kit.Ledger.Prepare("c0", 2, [T(11, 5, 7, 20)], kit.Now).Prepared);
        Assert.True(kit.Ledger.Commit("c0", 2, kit.Now));
        var before = kit.State.Snapshot();

        Assert.True(kit.Ledger.TryPrepare("c0", 1, [T(10, 5, 6, 30)], kit.Now, out var again));
        Assert.Equal(first.Prepared, again.Prepared);
        Assert.Equal(first.Ledgers, again.Ledgers);
        Assert.False(kit.Ledger.TryPrepare("c0", 2, [T(11, 5, 7, 20)], kit.Now, out _));
        Assert.Equal(before, kit.State.Snapshot());
        Assert.Equal(30ul, kit.Get(5).DebitsPending);

        Assert.True(kit.Ledger.Commit("c0", 1, kit.Now));
        Assert.Equal((0ul, 50ul), (kit.Get(5).DebitsPending, kit.Get(5).DebitsPosted));
        Assert.Empty(kit.State.WithPrefix(TxnPrefix));
    }

    [Fact]
    public void The_watermark_is_per_coordinator_so_another_coordinators_txn_of_the_same_number_is_new()
    {
        var kit = Funded();
        Assert.True(kit.Ledger.Prepare("c0", 5, [T(10, 5, 6, 30)], kit.Now).Prepared);
        Assert.True(kit.Ledger.Commit("c0", 5, kit.Now));
        Assert.True(kit.Ledger.TryPrepare("c1", 5, [T(11, 5, 6, 20)], kit.Now, out var vote));
        Assert.True(vote.Prepared);
        Assert.True(kit.Ledger.Commit("c1", 5, kit.Now));
        Assert.Equal(50ul, kit.Get(5).DebitsPosted);
        Assert.Equal(2, kit.State.WithPrefix(PreparedUpToPrefix).Count);
    }

    [Fact]
    public void Finished_txns_leave_no_record_only_one_watermark_per_coordinator()
    {
        var kit = Funded(10_000);
        for (ulong txn = 1; txn <= 50; txn++)
        {
            Assert.True(kit.Ledger.Prepare("c0", txn, [T(100 + txn, 5, 6 + (txn % 2), 10)], kit.Now).Prepared);
            Assert.True(txn % 5 == 0
                ? kit.Ledger.Abort("c0", txn, [CreateTransferResult.PrepareTimedOut], kit.Now)
                : kit.Ledger.Commit("c0", txn, kit.Now));
        }

        Assert.Empty(kit.State.WithPrefix(TxnPrefix));
        var watermark = Assert.Single(kit.State.WithPrefix(PreparedUpToPrefix));
        Assert.Equal(50ul, BitConverter.ToUInt64(watermark.Value));
        Assert.Equal((0ul, 400ul), (kit.Get(5).DebitsPending, kit.Get(5).DebitsPosted));
    }

    [Fact]
    public void The_service_sends_no_vote_for_a_repeated_Prepare_of_a_finished_txn_and_no_ack_for_a_late_decision()
    {
        var placement = ShardPlacement.All;
        var service = new LedgerShardService(placement);
        var state = new MemoryState();
        var ledger = new ShardLedger(state, placement);
        Assert.Equal(CreateAccountResult.Ok, ledger.CreateAccount(Issuance(), Start));
        Assert.Equal(CreateAccountResult.Ok, ledger.CreateAccount(Customer(5), Start));
        Assert.Equal([CreateTransferResult.Ok], ledger.Apply([T(1_000, 1, 5, 100)], Start));
        var outputs = new RecordingOutputs();
        var context = new MessageContext("c0", 1, 1, Start);
        var prepare = ShardMessage.Prepare(1, [T(10, 5, 1, 30)]);

        service.ExecuteMessage(state, context, prepare, outputs);
        service.ExecuteMessage(state, context, ShardMessage.Commit(1, Start), outputs);
        Assert.Equal([ShardMessageKind.Vote, ShardMessageKind.Ack], outputs.Kinds);
        var committed = state.Snapshot();

        service.ExecuteMessage(state, context, prepare, outputs);
        service.ExecuteMessage(state, context, ShardMessage.Commit(1, Start), outputs);
        service.ExecuteMessage(state, context, ShardMessage.Abort(1, [CreateTransferResult.PrepareTimedOut]), outputs);
        Assert.Equal([ShardMessageKind.Vote, ShardMessageKind.Ack], outputs.Kinds);
        Assert.Equal(committed, state.Snapshot());
        var account = new ShardLedger(state).LookupAccount(5)!.Value;
        Assert.Equal((0ul, 30ul), (account.DebitsPending, account.DebitsPosted));
    }

    private sealed class RecordingOutputs : IServiceOutputs
    {
        public List<ShardMessageKind> Kinds { get; } = [];

        public bool CanSend(string cluster) => true;

        public void Send(string cluster, ReadOnlySpan<byte> message) => Kinds.Add((ShardMessageKind)message[0]);

        public void Answer(string clientId, ulong seq, Heraclius.KvStore.Crypto.Hash32 requestHash, ReadOnlySpan<byte> result)
        {
        }

        public void Refuse(string clientId, ulong seq, Heraclius.KvStore.Crypto.Hash32 requestHash)
        {
        }

        public bool HasRoom => true;

        public void Audit(ReadOnlySpan<byte> record)
        {
        }
    }
}
