using System.Buffers.Binary;
using Heraclius.KvStore.Routing;
using Heraclius.KvStore.StateMachine;
using Heraclius.KvStore.Topology;
using Heraclius.Ledger.Coordinator.Checks;
using Heraclius.Ledger.Coordinator.State;
using Heraclius.Ledger.Coordinator.TwoPhase;
using Heraclius.Ledger.Model;
using Heraclius.Ledger.Protocol;
using ExecutionContext = Heraclius.KvStore.StateMachine.ExecutionContext;

namespace Heraclius.Ledger.Coordinator;

/// <summary>
/// The ledger on a coordinator cluster (docs/design.md "Ledger as built"): routes account operations to
/// their account's shard and transfer lookups to the id's shard, makes the stateless transfer checks,
/// applies one-shard chains in one shard round and runs two-phase commit for the others. Deterministic:
/// the decision timestamp is its only time, and it iterates only over arrays in a fixed order.
/// </summary>
public sealed class LedgerCoordinatorService : IReplicatedService
{
    private readonly string _clusterId;
    private readonly HomeCoordinator _home;
    private readonly ShardRouter _router;
    private readonly Dictionary<string, int> _shardIndex;
    private readonly ulong _prepareTimeoutMs;
    private readonly int _maxWaiting;

    public LedgerCoordinatorService(ClusterTopology topology, string clusterId, LedgerCoordinatorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(topology);
        options ??= new LedgerCoordinatorOptions();
        ArgumentOutOfRangeException.ThrowIfZero(options.PrepareTimeoutMs);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxWaitingClients, 1);
        _home = new HomeCoordinator(topology);
        if (!_home.Coordinators.Contains(clusterId, StringComparer.Ordinal))
        {
            throw new ArgumentException($"{clusterId} is not a coordinator cluster of the topology", nameof(clusterId));
        }

        _router = new ShardRouter(topology);
        if (_router.Shards.Count == 0 || _router.Shards.Count > ushort.MaxValue)
        {
            throw new ArgumentException("a ledger needs 1 to 65535 shard clusters", nameof(topology));
        }

        _shardIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < _router.Shards.Count; i++)
        {
            _shardIndex.Add(_router.Shards[i], i);
        }

        _clusterId = clusterId;
        _prepareTimeoutMs = options.PrepareTimeoutMs;
        _maxWaiting = options.MaxWaitingClients;
    }

    /// <summary>The shard clusters in routing order; a participant's index is its position here.</summary>
    public IReadOnlyList<string> Shards => _router.Shards;

    public RequestOutcome ExecuteRequest(IStateAccess state, in ExecutionContext context, ReadOnlySpan<byte> operation, IServiceOutputs outputs)
    {
        var chain = ChainScratch.Rent();
        var outcome = Execute(state, context, operation, outputs, chain);
        ChainScratch.Return(chain);
        return outcome;
    }

    private RequestOutcome Execute(IStateAccess state, in ExecutionContext context, ReadOnlySpan<byte> operation, IServiceOutputs outputs, Transfer[] chainBuffer)
    {
        if (!LedgerRequest.TryParse(operation, out var request, out var error, chainBuffer))
        {
            return RequestOutcome.Answered(LedgerAnswer.Malformed(error));
        }

        var reference = new ClientRef(context.ClientId, context.Seq, context.RequestHash);
        return request.Operation switch
        {
            LedgerOperation.CreateAccount => Forward(ShardOf(request.Account.Id), reference, operation, outputs),
            LedgerOperation.LookupAccount or LedgerOperation.AccountHistory or LedgerOperation.CloseAccount or LedgerOperation.LookupTransfer =>
                Forward(ShardOf(request.Id), reference, operation, outputs),
            LedgerOperation.CreateTransfers => CreateTransfers(state, context.Timestamp, reference, request.Chain!, outputs),
            _ => RequestOutcome.Answered(LedgerAnswer.Malformed("unknown ledger operation")),
        };
    }

    public void ExecuteMessage(IStateAccess state, in MessageContext context, ReadOnlySpan<byte> message, IServiceOutputs outputs)
    {
        // Only shards write to a coordinator; anything else is ignored without a trace.
        if (!_shardIndex.TryGetValue(context.SourceCluster, out var shard) || !ShardMessage.TryParse(message, out var m))
        {
            return;
        }

        switch (m.Kind)
        {
            case ShardMessageKind.Answer:
                outputs.Answer(m.Ref.ClientId, m.Ref.Seq, m.Ref.RequestHash, m.Bytes!);
                break;
            case ShardMessageKind.Applied:
                var w = MessageScratch.Take();
                LedgerAnswer.WriteCreateTransfers(w, m.Results!);
                outputs.Answer(m.Ref.ClientId, m.Ref.Seq, m.Ref.RequestHash, w.WrittenSpan);
                break;
            case ShardMessageKind.Vote:
                OnVote(state, shard, m.Txn, m.Vote!, context.Timestamp, outputs);
                break;
            case ShardMessageKind.Ack:
                OnAck(state, shard, m.Txn, outputs);
                break;
        }
    }

    public void ExecuteTimers(IStateAccess state, in TimerContext context, IServiceOutputs outputs)
    {
        var nowSecond = context.Timestamp / 1000;
        if (nowSecond == 0)
        {
            return;
        }

        // A bucket is processed once its whole second is past, so a deadline fires within a second after it.
        var done = nowSecond - 1;
        var meta = CoordinatorMeta.Read(state, context.Timestamp, out var exists);
        if (!exists || meta.WheelCursor >= done)
        {
            return;
        }

        // Buckets exist only up to MaxBucket, so an idle spell costs nothing to walk past.
        var last = Math.Min(done, meta.MaxBucket);
        for (var second = meta.WheelCursor + 1; second <= last; second++)
        {
            ExpireBucket(state, second, ref meta, outputs);
        }

        meta.WheelCursor = done;
        meta.Write(state);
    }

    public bool HasTimers(IStateAccess state) => CoordinatorMeta.HasPreparing(state);

    /// <summary>
    /// While any record prepares: the end of the first second after the cursor that has a bucket (a lower
    /// bound: the bucket may hold only finished txns). A handful of reads, at most one per second of the timeout.
    /// </summary>
    ulong IReplicatedService.NextTimerDue(IStateAccess state)
    {
        var meta = CoordinatorMeta.Read(state, 0, out var exists);
        if (!exists || meta.Preparing == 0)
        {
            return ulong.MaxValue;
        }

        for (var second = meta.WheelCursor + 1; second <= meta.MaxBucket; second++)
        {
            if (state.Get(CoordinatorKeys.Bucket(second)) is not null)
            {
                return (second + 1) * 1000;
            }
        }

        return (meta.WheelCursor + 2) * 1000;
    }

    private RequestOutcome Forward(int shard, in ClientRef reference, ReadOnlySpan<byte> operation, IServiceOutputs outputs)
    {
        var destination = _router.Shards[shard];
        if (!outputs.CanSend(destination))
        {
            return RequestOutcome.Overloaded;
        }

        outputs.Send(destination, ShardMessage.Forward(reference, operation));
        return RequestOutcome.Deferred;
    }

    private RequestOutcome CreateTransfers(IStateAccess state, ulong now, in ClientRef reference, Transfer[] chain, IServiceOutputs outputs)
    {
        if (!TransferChecks.IsOneChain(chain))
        {
            return RequestOutcome.Answered(LedgerAnswer.Malformed("a request is one chain: every leg but the last must be linked"));
        }

        var failedLeg = TransferValidation.CheckChain(chain, out var code);
        if (failedLeg >= 0)
        {
            return RequestOutcome.Answered(LedgerAnswer.CreateTransfers(ChainResults.Failed(chain.Length, failedLeg, code)));
        }

        if (!string.Equals(_home.Of(chain[0].Id), _clusterId, StringComparison.Ordinal))
        {
            return RequestOutcome.Answered(LedgerAnswer.CreateTransfers(ChainResults.All(chain.Length, CreateTransferResult.WrongCoordinator)));
        }

        Span<int> participants = stackalloc int[3 * chain.Length];
        var count = Participants(chain, participants);
        participants = participants[..count];
        if (count == 1)
        {
            var shard = _router.Shards[participants[0]];
            if (!outputs.CanSend(shard))
            {
                return RequestOutcome.Overloaded;
            }

            var apply = MessageScratch.Take();
            ShardMessage.WriteApply(apply, reference, chain);
            outputs.Send(shard, apply.WrittenSpan);
            return RequestOutcome.Deferred;
        }

        // A retry of a chain in flight (same first id, same fields) waits for the same outcome.
        var indexKey = CoordinatorKeys.Index(chain[0].Id);
        var indexed = state.Get(indexKey);
        var ownsIndex = true;
        if (indexed is { Length: 8 })
        {
            var txnKey = CoordinatorKeys.Txn(BinaryPrimitives.ReadUInt64LittleEndian(indexed));
            var record = state.Get(txnKey);
            if (record is not null)
            {
                if (TxnRecord.ChainEquals(record, chain))
                {
                    if (TxnRecord.WaiterCount(record) >= _maxWaiting)
                    {
                        return RequestOutcome.Overloaded;
                    }

                    state.Put(txnKey, TxnRecord.AddWaiter(record, reference));
                    return RequestOutcome.Deferred;
                }

                // Another chain under the same first id: the shards hold that id and answer for it.
                ownsIndex = false;
            }
        }

        foreach (var p in participants)
        {
            if (!outputs.CanSend(_router.Shards[p]))
            {
                return RequestOutcome.Overloaded;
            }
        }

        var meta = CoordinatorMeta.Read(state, now, out _);
        var txn = ++meta.LastTxn;
        meta.Preparing++;
        var deadline = now + _prepareTimeoutMs;
        AddToBucket(state, deadline / 1000, txn, ref meta);
        meta.Write(state);
        state.Put(CoordinatorKeys.Txn(txn), TxnRecord.Create(deadline, ownsIndex, participants, chain, reference));
        if (ownsIndex)
        {
            var value = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(value, txn);
            state.Put(indexKey, value);
        }

        var prepare = MessageScratch.Take();
        ShardMessage.WritePrepare(prepare, txn, chain);
        foreach (var p in participants)
        {
            outputs.Send(_router.Shards[p], prepare.WrittenSpan);
        }

        return RequestOutcome.Deferred;
    }

    private void OnVote(IStateAccess state, int shard, ulong txn, ShardVote vote, ulong now, IServiceOutputs outputs)
    {
        // The record exists while its txn runs. Read in place (valid until the next write) and copied once, to be
        // marked: a copied read and a clone of it were 4% of `bench transfers`' allocations.
        var key = CoordinatorKeys.WriteTxn(stackalloc byte[CoordinatorKeys.TxnKeySize], txn);
        if (!state.TryRead(key, out var stored) || TxnRecord.Phase(stored) != TxnPhase.Preparing)
        {
            return;
        }

        var slot = TxnRecord.FindParticipant(stored, shard);
        if (slot < 0 || (TxnRecord.ParticipantState(stored, slot) & TxnRecord.Voted) != 0 || !IsWellFormed(vote, TxnRecord.Legs(stored)))
        {
            return;
        }

        var record = stored.ToArray();
        TxnRecord.MarkParticipant(record, slot, TxnRecord.Voted);
        TxnRecord.MergeLedgers(record, vote.Ledgers);
        if (!vote.Prepared)
        {
            var leg = TxnRecord.FailedLeg(record);
            if (leg < 0 || vote.FailedLeg < leg || (vote.FailedLeg == leg && Rank(vote.Code) < Rank(TxnRecord.Code(record))))
            {
                TxnRecord.SetFailure(record, vote.FailedLeg, vote.Code);
            }
        }

        if (TxnRecord.All(record, TxnRecord.Voted))
        {
            Decide(txn, record, now, outputs);
            var meta = CoordinatorMeta.Read(state, 0, out _);
            meta.Preparing--;
            meta.Write(state);
        }

        state.Put(key, record);
    }

    /// <summary>All votes are in: commit iff every participant prepared, otherwise abort with the combined code.</summary>
    private void Decide(ulong txn, byte[] record, ulong now, IServiceOutputs outputs)
    {
        var leg = TxnRecord.FailedLeg(record);
        if (leg < 0)
        {
            TxnRecord.SetPhase(record, TxnPhase.Committing);
            var commit = MessageScratch.Take();
            ShardMessage.WriteCommit(commit, txn, now);
            SendToParticipants(record, commit.WrittenSpan, outputs);
            return;
        }

        // Each shard saw one side of the leg; only here are both ledgers known. A post or void takes its
        // accounts from the pending transfer, whose ledgers were checked when it was made.
        var code = TxnRecord.Code(record);
        var ledgers = TxnRecord.Ledgers(record, leg);
        if ((TxnRecord.LegFlags(record, leg) & (TransferFlags.PostPending | TransferFlags.VoidPending)) == 0
            && ledgers.Debit != 0 && ledgers.Credit != 0 && ledgers.Debit != ledgers.Credit && code > CreateTransferResult.AccountsMustHaveTheSameLedger)
        {
            code = CreateTransferResult.AccountsMustHaveTheSameLedger;
        }

        Abort(txn, record, leg, code, outputs);
    }

    private void Abort(ulong txn, byte[] record, int leg, CreateTransferResult code, IServiceOutputs outputs)
    {
        TxnRecord.SetFailure(record, leg, code);
        TxnRecord.SetPhase(record, TxnPhase.Aborting);
        var abort = MessageScratch.Take();
        ShardMessage.WriteAbort(abort, txn, ChainResults.Failed(TxnRecord.Legs(record), leg, code));
        SendToParticipants(record, abort.WrittenSpan, outputs);
    }

    private static void OnAck(IStateAccess state, int shard, ulong txn, IServiceOutputs outputs)
    {
        // Read in place (valid until the next write): the last ack, which most are, answers from the stored bytes
        // and deletes them without a copy. A copied read was 4% of `bench transfers`' allocations.
        var key = CoordinatorKeys.WriteTxn(stackalloc byte[CoordinatorKeys.TxnKeySize], txn);
        if (!state.TryRead(key, out var stored) || TxnRecord.Phase(stored) == TxnPhase.Preparing)
        {
            return;
        }

        var slot = TxnRecord.FindParticipant(stored, shard);
        if (slot < 0 || (TxnRecord.ParticipantState(stored, slot) & TxnRecord.Acked) != 0)
        {
            return;
        }

        if (!TxnRecord.AllBut(stored, slot, TxnRecord.Acked))
        {
            // Stored values are never changed in place (the transaction's undo log holds them): a copy is marked.
            var marked = stored.ToArray();
            TxnRecord.MarkParticipant(marked, slot, TxnRecord.Acked);
            state.Put(key, marked);
            return;
        }

        // Every shard applied or released: a read after the answer sees the outcome, and the record goes
        // (read as stored: the last ack's mark would be deleted with it, so no copy is made for it).
        // Everything is read from the view before the first answer or delete, which may move the stored bytes.
        var record = stored;
        var legs = TxnRecord.Legs(record);
        var results = TxnRecord.Phase(record) == TxnPhase.Committing
            ? ChainResults.Ok(legs)
            : ChainResults.Failed(legs, TxnRecord.FailedLeg(record), TxnRecord.Code(record));
        var waiters = TxnRecord.Waiters(record);
        UInt128? indexed = TxnRecord.IndexOwner(record) ? TxnRecord.FirstTransferId(record) : null;
        var answer = MessageScratch.Take();
        LedgerAnswer.WriteCreateTransfers(answer, results);
        foreach (var waiter in waiters)
        {
            outputs.Answer(waiter.ClientId, waiter.Seq, waiter.RequestHash, answer.WrittenSpan);
        }

        state.Delete(key.ToArray());
        if (indexed is { } firstId)
        {
            state.Delete(CoordinatorKeys.Index(firstId));
        }
    }

    /// <summary>
    /// Txns are numbered in start order and decision time only grows, so with one timeout the deadline
    /// seconds of successive txns never decrease: a bucket needs only its first txn (u64), and its txns run
    /// up to the next bucket's first. It is written once, by the first txn whose deadline second is past
    /// the newest bucket; every other txn joins the newest bucket and costs no state access here (a lowered
    /// timeout makes such a txn fire up to the difference late). Never behind the cursor: a bucket there
    /// would not be walked again. Each record's own deadline is checked when its bucket runs.
    /// </summary>
    private static void AddToBucket(IStateAccess state, ulong second, ulong txn, ref CoordinatorMeta meta)
    {
        second = Math.Max(second, meta.WheelCursor + 1);
        if (second <= meta.MaxBucket)
        {
            // The newest bucket is not processed yet (its second is after the cursor), so it exists and its range takes this txn.
            return;
        }

        var value = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(value, txn);
        state.Put(CoordinatorKeys.Bucket(second), value);
        meta.MaxBucket = second;
    }

    private void ExpireBucket(IStateAccess state, ulong second, ref CoordinatorMeta meta, IServiceOutputs outputs)
    {
        var bucketKey = CoordinatorKeys.Bucket(second);
        var bucket = state.Get(bucketKey);
        if (bucket is null)
        {
            return;
        }

        state.Delete(bucketKey);
        if (bucket.Length != 8)
        {
            return;
        }

        // The range ends before the next bucket's first txn, or at the last txn started when no later bucket exists.
        var first = BinaryPrimitives.ReadUInt64LittleEndian(bucket);
        var last = meta.LastTxn;
        for (var next = second + 1; next <= meta.MaxBucket; next++)
        {
            if (state.Get(CoordinatorKeys.Bucket(next)) is { Length: 8 } following)
            {
                last = BinaryPrimitives.ReadUInt64LittleEndian(following) - 1;
                break;
            }
        }

        for (var txn = first; txn <= last && txn != 0; txn++)
        {
            var key = CoordinatorKeys.Txn(txn);
            var stored = state.Get(key);
            if (stored is null || TxnRecord.Phase(stored) != TxnPhase.Preparing || TxnRecord.Deadline(stored) / 1000 > second)
            {
                continue;
            }

            var record = (byte[])stored.Clone();
            Abort(txn, record, 0, CreateTransferResult.PrepareTimedOut, outputs);
            state.Put(key, record);
            meta.Preparing--;
        }
    }

    private void SendToParticipants(byte[] record, ReadOnlySpan<byte> message, IServiceOutputs outputs)
    {
        var p = TxnRecord.Participants(record);
        for (var i = 0; i < p; i++)
        {
            outputs.Send(_router.Shards[TxnRecord.ParticipantShard(record, i)], message);
        }
    }

    /// <summary>The sorted distinct shard indices of every leg's id shard and account shards; returns how many.</summary>
    private int Participants(Transfer[] chain, Span<int> shards)
    {
        for (var i = 0; i < chain.Length; i++)
        {
            shards[3 * i] = ShardOf(chain[i].Id);
            shards[(3 * i) + 1] = ShardOf(chain[i].DebitAccountId);
            shards[(3 * i) + 2] = ShardOf(chain[i].CreditAccountId);
        }

        shards.Sort();
        var count = 1;
        for (var i = 1; i < shards.Length; i++)
        {
            if (shards[i] != shards[count - 1])
            {
                shards[count++] = shards[i];
            }
        }

        return count;
    }

    /// <summary>The shard of an account id or of a transfer id (its id shard): one function of the 16 bytes.</summary>
    private int ShardOf(UInt128 id)
    {
        Span<byte> bytes = stackalloc byte[16];
        LedgerCodec.WriteIdTo(bytes, id);
        return _shardIndex[_router.ShardOf(bytes)];
    }

    /// <summary>
    /// Precedence of a leg's codes across votes: the numeric order, except that pending_transfer_not_found
    /// yields to the codes only a shard holding the pending transfer can give (not_pending .. locked). A
    /// post or void is evaluated on the shards of the accounts it names; one of them that lacks the pending
    /// transfer reports not_found, yet the transfer exists if another shard judged it.
    /// </summary>
    private static int Rank(CreateTransferResult code) =>
        code == CreateTransferResult.PendingTransferNotFound ? (2 * (int)CreateTransferResult.PendingTransferLocked) + 1 : 2 * (int)code;

    private static bool IsWellFormed(ShardVote vote, int legs) =>
        vote.Ledgers.Length <= legs
        && (vote.Prepared
            ? vote.FailedLeg == -1
            : vote.FailedLeg >= 0 && vote.FailedLeg < legs && vote.Code != CreateTransferResult.Ok);
}
