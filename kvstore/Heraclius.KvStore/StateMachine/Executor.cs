using System.Buffers.Binary;
using Heraclius.KvStore.Client;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.StateMachine;

/// <summary>
/// Deterministic execution of a proposal's inputs on the state: exactly-once client sessions
/// (a window of W answers per client, in replicated state), the service, and the output groups.
/// Reads no clock and no randomness; iterates only in input order or sorted order.
/// </summary>
public sealed class Executor
{
    private readonly IReplicatedService _service;
    private readonly ulong _sessionWindow;

    public Executor(IReplicatedService service, int sessionWindow)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sessionWindow, 1);
        _service = service;
        _sessionWindow = (ulong)sessionWindow;
    }

    public static ulong LastTimestamp(ReplicatedState state)
    {
        var v = state.Get(EngineKeys.LastTimestamp);
        return v is null ? 0 : BinaryPrimitives.ReadUInt64LittleEndian(v);
    }

    /// <summary>
    /// True when the decided state already answered request <paramref name="seq"/> of the client, or it
    /// fell out of the client's window: proposing it again would change nothing but repeat the answer.
    /// </summary>
    public bool IsAnswered(ReplicatedState state, string clientId, ulong seq)
    {
        var maxBytes = state.Get(EngineKeys.ClientMaxSeq(clientId));
        if (maxBytes is not null && seq + _sessionWindow <= BinaryPrimitives.ReadUInt64LittleEndian(maxBytes))
        {
            return true;
        }

        var slot = state.Get(EngineKeys.ClientSlot(clientId, seq % _sessionWindow));
        return slot is not null && BinaryPrimitives.ReadUInt64LittleEndian(slot) >= seq;
    }

    public ExecutionResult Execute(ReplicatedState state, ulong height, ProposalInputs inputs, bool checkpoint)
    {
        var tx = new StateTransaction(state);
        var serviceAccess = new ServiceStateAccess(tx);
        var ts = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(ts, inputs.Timestamp);
        tx.Put(EngineKeys.LastTimestamp, ts);

        // Sorted by destination so the output order never depends on hash order.
        var replies = new SortedDictionary<string, List<ClientReply>>(StringComparer.Ordinal);
        foreach (var batch in inputs.Batches)
        {
            if (!replies.TryGetValue(batch.ClientId, out var list))
            {
                list = [];
                replies.Add(batch.ClientId, list);
            }

            foreach (var request in batch.Requests)
            {
                list.Add(ExecuteOne(tx, serviceAccess, batch.ClientId, request, height, inputs.Timestamp));
            }
        }

        var outputs = new List<OutputGroup>(replies.Count);
        foreach (var (destination, list) in replies)
        {
            outputs.Add(new OutputGroup(destination, NextGroupHeight(tx, destination, height), 0, ClientReply.EncodeGroup(list)));
        }

        var root = checkpoint ? state.ComputeRoot() : Hash32.Zero;
        return new ExecutionResult(inputs, outputs, root, tx);
    }

    private static ulong NextGroupHeight(StateTransaction tx, string destination, ulong height)
    {
        var key = EngineKeys.LastGroupHeight(destination);
        var prev = tx.Get(key);
        var value = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(value, height);
        tx.Put(key, value);
        return prev is null ? 0 : BinaryPrimitives.ReadUInt64LittleEndian(prev);
    }

    private ClientReply ExecuteOne(StateTransaction tx, ServiceStateAccess access, string clientId, ClientRequest request, ulong height, ulong timestamp)
    {
        var requestHash = request.Hash(clientId);
        var maxKey = EngineKeys.ClientMaxSeq(clientId);
        var maxBytes = tx.Get(maxKey);
        var maxSeq = maxBytes is null ? 0 : BinaryPrimitives.ReadUInt64LittleEndian(maxBytes);
        var hasMax = maxBytes is not null;
        if (hasMax && request.Seq + _sessionWindow <= maxSeq)
        {
            return new ClientReply(request.Seq, requestHash, ReplyStatus.RequestTooOld, []);
        }

        // The answer of seq s lives in slot s mod W; a slot holding a newer seq means s fell out of the window.
        var slotKey = EngineKeys.ClientSlot(clientId, request.Seq % _sessionWindow);
        var slot = tx.Get(slotKey);
        if (slot is not null)
        {
            var r = new CanonicalReader(slot);
            var seq = r.U64();
            var hash = r.Hash();
            if (seq == request.Seq)
            {
                return hash == requestHash
                    ? new ClientReply(request.Seq, requestHash, ReplyStatus.Executed, r.Bytes(ReplicatedState.MaxValueBytes))
                    : new ClientReply(request.Seq, requestHash, ReplyStatus.RequestIdReused, []);
            }

            if (seq > request.Seq)
            {
                return new ClientReply(request.Seq, requestHash, ReplyStatus.RequestTooOld, []);
            }
        }

        var result = _service.Execute(access, new ExecutionContext(clientId, request.Seq, height, timestamp), request.Operation);
        var w = new CanonicalWriter(result.Length + 48);
        w.U64(request.Seq);
        w.Hash(requestHash);
        w.Bytes(result);
        tx.Put(slotKey, w.ToArray());
        if (!hasMax || request.Seq > maxSeq)
        {
            var m = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(m, request.Seq);
            tx.Put(maxKey, m);
        }

        return new ClientReply(request.Seq, requestHash, ReplyStatus.Executed, result);
    }
}
