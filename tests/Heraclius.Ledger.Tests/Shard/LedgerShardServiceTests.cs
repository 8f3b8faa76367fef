using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.StateMachine;
using Heraclius.Ledger.Model;
using Heraclius.Ledger.Protocol;
using Heraclius.Ledger.Shard;
using static Heraclius.Ledger.Tests.Shard.ShardKit;

namespace Heraclius.Ledger.Tests.Shard;

public sealed class LedgerShardServiceTests
{
    private sealed class Outputs : IServiceOutputs
    {
        public List<(string Cluster, byte[] Message)> Sent { get; } = [];

        public List<byte[]> Audit { get; } = [];

        public bool CanSend(string cluster) => true;

        public void Send(string cluster, ReadOnlySpan<byte> message) => Sent.Add((cluster, message.ToArray()));

        public void Answer(string clientId, ulong seq, Hash32 requestHash, ReadOnlySpan<byte> result) =>
            throw new InvalidOperationException("a shard answers coordinators, never clients");

        public void Refuse(string clientId, ulong seq, Hash32 requestHash) =>
            throw new InvalidOperationException("a shard answers coordinators, never clients");

        public bool HasRoom => true;

        void IServiceOutputs.Audit(ReadOnlySpan<byte> record) => Audit.Add(record.ToArray());
    }

    private readonly LedgerShardService _service = new(ShardPlacement.All);
    private readonly MemoryState _state = new();
    private ulong _height;

    private static readonly ClientRef Ref = new("client-1", 7, Hash32.Of([1, 2, 3]));

    private ShardMessage Send(byte[] message, string from = "c0", ulong timestamp = Start)
    {
        var outputs = new Outputs();
        _service.ExecuteMessage(_state, new MessageContext(from, 1, ++_height, timestamp), message, outputs);
        var reply = Assert.Single(outputs.Sent);
        Assert.Equal(from, reply.Cluster);
        Assert.True(ShardMessage.TryParse(reply.Message, out var parsed));
        return parsed;
    }

    private LedgerAnswer Forward(byte[] request)
    {
        var reply = Send(ShardMessage.Forward(Ref, request));
        Assert.Equal((ShardMessageKind.Answer, Ref), (reply.Kind, reply.Ref));
        Assert.True(LedgerAnswer.TryParse(reply.Bytes, out var answer));
        return answer;
    }

    [Fact]
    public void Forwarded_account_requests_and_lookups_are_answered_to_the_sending_coordinator()
    {
        Assert.Equal(CreateAccountResult.Ok, Forward(LedgerRequest.CreateAccount(Issuance())).AccountResult);
        Assert.Equal(CreateAccountResult.Ok, Forward(LedgerRequest.CreateAccount(Customer(5, flags: AccountFlags.History))).AccountResult);
        Assert.Equal(CreateAccountResult.Exists, Forward(LedgerRequest.CreateAccount(Customer(5, flags: AccountFlags.History))).AccountResult);
        Assert.Equal(5u, (uint)Forward(LedgerRequest.LookupAccount(5)).Account!.Value.Id);
        Assert.Null(Forward(LedgerRequest.LookupAccount(6)).Account);

        var applied = Send(ShardMessage.Apply(Ref, [T(10, 1, 5, 70)]));
        Assert.Equal((ShardMessageKind.Applied, Ref), (applied.Kind, applied.Ref));
        Assert.Equal([CreateTransferResult.Ok], applied.Results);

        var lookup = Forward(LedgerRequest.LookupTransfer(10));
        Assert.Equal((T(10, 1, 5, 70) with { Timestamp = Start }, CreateTransferResult.Ok), (lookup.Transfer!.Value, lookup.TransferResult));
        Assert.Null(Forward(LedgerRequest.LookupTransfer(11)).Transfer);
        var history = Forward(LedgerRequest.AccountHistory(5, 0, 10));
        Assert.Equal(70ul, Assert.Single(history.History!).CreditsPosted);
        Assert.Equal(CloseAccountResult.Ok, Forward(LedgerRequest.CloseAccount(5)).CloseResult);
        Assert.Equal(LedgerOperation.Malformed, Forward(LedgerRequest.CreateTransfers([T(12, 1, 5, 1)])).Operation);
        Assert.Equal(LedgerOperation.Malformed, Forward([42]).Operation);
    }

    [Fact]
    public void Prepare_votes_commit_and_abort_are_acknowledged_and_only_the_preparing_coordinator_is_heard()
    {
        Forward(LedgerRequest.CreateAccount(Issuance()));
        Forward(LedgerRequest.CreateAccount(Customer(5)));
        var vote = Send(ShardMessage.Prepare(9, [T(10, 1, 5, 70)]));
        Assert.Equal((ShardMessageKind.Vote, 9ul, true), (vote.Kind, vote.Txn, vote.Vote!.Prepared));

        var outputs = new Outputs();
        _service.ExecuteMessage(_state, new MessageContext("c1", 1, ++_height, Start), ShardMessage.Commit(9), outputs);
        Assert.Empty(outputs.Sent);

        var ack = Send(ShardMessage.Commit(9));
        Assert.Equal((ShardMessageKind.Ack, 9ul), (ack.Kind, ack.Txn));

        // Finished here and forgotten: a repeated Commit is not acked again (the coordinator took the first).
        var repeat = new Outputs();
        _service.ExecuteMessage(_state, new MessageContext("c0", 1, ++_height, Start), ShardMessage.Commit(9), repeat);
        Assert.Empty(repeat.Sent);

        var refused = Send(ShardMessage.Prepare(10, [T(11, 5, 1, 71)]));
        Assert.Equal((false, CreateTransferResult.ExceedsCredits), (refused.Vote!.Prepared, refused.Vote.Code));
        Assert.Equal(ShardMessageKind.Ack, Send(ShardMessage.Abort(10, [CreateTransferResult.ExceedsCredits])).Kind);
        Assert.Equal(CreateTransferResult.ExceedsCredits, Forward(LedgerRequest.LookupTransfer(11)).TransferResult);
    }

    [Fact]
    public void Malformed_messages_replies_and_client_requests_change_nothing()
    {
        var outputs = new Outputs();
        byte[][] junk = [[], [3, 1], [99], ShardMessage.Ack(1), ShardMessage.Applied(Ref, [CreateTransferResult.Ok]), [.. ShardMessage.Commit(1), 0]];
        foreach (var message in junk)
        {
            _service.ExecuteMessage(_state, new MessageContext("c0", 1, ++_height, Start), message, outputs);
        }

        Assert.Empty(outputs.Sent);
        Assert.Empty(outputs.Audit);
        Assert.Empty(_state.Snapshot());

        var outcome = _service.ExecuteRequest(_state, new Heraclius.KvStore.StateMachine.ExecutionContext("x", 1, default, 1, Start), LedgerRequest.LookupAccount(5), outputs);
        Assert.Equal(RequestOutcomeKind.Answered, outcome.Kind);
        Assert.True(LedgerAnswer.TryParse(outcome.Result, out var answer));
        Assert.Equal(LedgerOperation.Malformed, answer.Operation);
        Assert.Empty(_state.Snapshot());
    }

    [Fact]
    public void Timers_expire_holds_and_audit_every_change()
    {
        Forward(LedgerRequest.CreateAccount(Issuance()));
        Forward(LedgerRequest.CreateAccount(Customer(5)));
        Assert.False(_service.HasTimers(_state));
        Send(ShardMessage.Apply(Ref, [T(10, 1, 5, 70, TransferFlags.Pending, timeout: 1)]));
        Assert.True(_service.HasTimers(_state));
        var outputs = new Outputs();
        _service.ExecuteTimers(_state, new TimerContext(++_height, Start + 1000), outputs);
        Assert.False(_service.HasTimers(_state));
        Assert.Equal(2, outputs.Audit.Count);
        Assert.All(outputs.Audit, r => Assert.True(AuditRecord.TryParse(r, out var a) && a.Posting.Movement == TransferMovement.PendingExpired));
    }
}
