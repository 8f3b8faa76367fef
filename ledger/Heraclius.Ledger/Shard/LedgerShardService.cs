using Heraclius.KvStore.Routing;
using Heraclius.KvStore.StateMachine;
using Heraclius.KvStore.Topology;
using Heraclius.Ledger.Protocol;

namespace Heraclius.Ledger.Shard;

/// <summary>
/// The ledger on a shard cluster: executes what coordinators send (forwarded account requests and
/// lookups, one-round chains, 2PC prepare/commit/abort) on a <see cref="ShardLedger"/> over the
/// replicated state, answers the sending coordinator, and emits the audit records of every change.
/// Clients never talk to a shard directly. A message that does not parse is skipped: an honest
/// coordinator never sends one, and skipping is the same on every replica.
/// </summary>
public sealed class LedgerShardService : IReplicatedService
{
    private readonly ShardPlacement _placement;

    public LedgerShardService(ClusterTopology topology, string clusterId)
    {
        ArgumentNullException.ThrowIfNull(topology);
        ArgumentNullException.ThrowIfNull(clusterId);
        var router = new ShardRouter(topology);
        if (!router.Shards.Contains(clusterId, StringComparer.Ordinal))
        {
            throw new ArgumentException($"{clusterId} is not a shard cluster of the topology", nameof(clusterId));
        }

        _placement = ShardPlacement.ForShard(router, clusterId);
    }

    /// <summary>A service whose accounts are placed by <paramref name="placement"/> (tests).</summary>
    public LedgerShardService(ShardPlacement placement)
    {
        ArgumentNullException.ThrowIfNull(placement);
        _placement = placement;
    }

    public RequestOutcome ExecuteRequest(IStateAccess state, in Heraclius.KvStore.StateMachine.ExecutionContext context, ReadOnlySpan<byte> operation, IServiceOutputs outputs) =>
        RequestOutcome.Answered(LedgerAnswer.Malformed("a shard cluster takes no client requests: send them to a coordinator"));

    public void ExecuteMessage(IStateAccess state, in MessageContext context, ReadOnlySpan<byte> message, IServiceOutputs outputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        var chain = ChainScratch.Rent();
        if (ShardMessage.TryParse(message, out var m, chain))
        {
            var ledger = ShardLedger.Rent(state, _placement, outputs);
            Dispatch(ledger, m, context.SourceCluster, context.Timestamp, outputs);
            ledger.Return();
        }

        ChainScratch.Return(chain);
    }

    private static void Dispatch(ShardLedger ledger, in ShardMessage m, string source, ulong now, IServiceOutputs outputs)
    {
        switch (m.Kind)
        {
            case ShardMessageKind.Forward:
                outputs.Send(source, ShardMessage.Answer(m.Ref, Execute(ledger, m.Bytes!, now)));
                break;
            case ShardMessageKind.Apply:
                var applied = ledger.Apply(m.Chain!, now);
                var w = MessageScratch.Take();
                ShardMessage.WriteApplied(w, m.Ref, applied);
                outputs.Send(source, w.WrittenSpan);
                break;
            case ShardMessageKind.Prepare:
                // A Prepare of a txn finished here gets no vote: the coordinator has decided it already.
                if (ledger.TryPrepare(source, m.Txn, m.Chain!, now, out var vote))
                {
                    var v = MessageScratch.Take();
                    ShardMessage.WriteVote(v, m.Txn, vote);
                    outputs.Send(source, v.WrittenSpan);
                }

                break;
            case ShardMessageKind.Commit:
                // Both halves of a cross-shard transfer take the coordinator's decision time (0: none sent).
                if (ledger.Commit(source, m.Txn, m.Timestamp != 0 ? m.Timestamp : now))
                {
                    SendAck(outputs, source, m.Txn);
                }

                break;
            case ShardMessageKind.Abort:
                if (ledger.Abort(source, m.Txn, m.Results!, now))
                {
                    SendAck(outputs, source, m.Txn);
                }

                break;
            default:
                // Shard-to-coordinator kinds: another shard never sends us those, and we answer nothing.
                break;
        }
    }

    public void ExecuteTimers(IStateAccess state, in TimerContext context, IServiceOutputs outputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        var ledger = ShardLedger.Rent(state, _placement, outputs);
        ledger.RunTimers(context.Timestamp);
        ledger.Return();
    }

    public bool HasTimers(IStateAccess state) => new ShardLedger(state, _placement).HasTimers();

    public ulong NextTimerDue(IStateAccess state) => new ShardLedger(state, _placement).NextTimerDue();

    private static void SendAck(IServiceOutputs outputs, string coordinator, ulong txn)
    {
        var w = MessageScratch.Take();
        ShardMessage.WriteAck(w, txn);
        outputs.Send(coordinator, w.WrittenSpan);
    }

    /// <summary>A forwarded one-shard client request; its answer is what the coordinator gives the client.</summary>
    private static byte[] Execute(ShardLedger ledger, byte[] request, ulong now)
    {
        if (!LedgerRequest.TryParse(request, out var r, out var error))
        {
            return LedgerAnswer.Malformed(error);
        }

        switch (r.Operation)
        {
            case LedgerOperation.CreateAccount:
                return LedgerAnswer.CreateAccount(ledger.CreateAccount(r.Account, now));
            case LedgerOperation.CloseAccount:
                return LedgerAnswer.CloseAccount(ledger.CloseAccount(r.Id, now));
            case LedgerOperation.LookupAccount:
                return LedgerAnswer.LookupAccount(ledger.LookupAccount(r.Id));
            case LedgerOperation.LookupTransfer:
                return ledger.TryLookupTransfer(r.Id, out var transfer, out var result)
                    ? LedgerAnswer.LookupTransfer(transfer, result)
                    : LedgerAnswer.LookupTransfer(null, Model.CreateTransferResult.Ok);
            case LedgerOperation.AccountHistory:
                var entries = ledger.AccountHistory(r.Id, r.After, r.Limit, out var next);
                return LedgerAnswer.AccountHistory(entries, next);
            default:
                return LedgerAnswer.Malformed("transfers reach a shard as Apply or Prepare, not forwarded");
        }
    }
}
