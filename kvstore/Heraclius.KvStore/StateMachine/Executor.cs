using System.Buffers.Binary;
using Heraclius.KvStore.Client;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.Routing;

namespace Heraclius.KvStore.StateMachine;

/// <summary>
/// Deterministic execution of a proposal's inputs on the state: inbound groups of other clusters
/// (cursor, acknowledgement, messages), exactly-once client sessions (a window of W answers per
/// client, in replicated state; answers may come in a later decision), the service, and the output
/// groups with their prevHeight/ackHeight links. Reads no clock and no randomness; iterates only in
/// input order or sorted order.
/// </summary>
public sealed class Executor
{
    /// <summary>
    /// The default output budget of one proposal (see <see cref="MaxOutputBytes"/>). 6 MiB, not the 12 that the 4 MiB input
    /// bound leaves in a 16 MiB message: the refusals past the budget are not budgeted (a batch holds at most 65,536
    /// requests, whose refusals of 45 bytes add up to 2.9 MiB), and a client's group must still fit one message.
    /// </summary>
    public const int DefaultMaxOutputBytes = 6 * 1024 * 1024;

    private readonly IReplicatedService _service;
    private readonly ulong _sessionWindow;
    private readonly RoutingSettings _routing;
    private readonly int _maxOutputBytes;

    // Group payloads are built in writers kept from one execution to the next: a busy decision's groups
    // are hundreds of kilobytes, and building them afresh (each message its own array first) was the
    // largest allocation of execution. Each payload is copied out exact, so nothing here is retained.
    private readonly Stack<GroupBuilder> _spareBuilders = new();

    // Every request reads and writes its session slot, on every replica: read in place and written from
    // this buffer (kept across proposals, so a large answer grows it once), they cost no array each (their
    // copies were a seventh of the bytes bench kv allocated).
    private byte[] _slotBuffer = new byte[256];

    /// <param name="maxOutputBytes">
    /// The output budget of one proposal (see <see cref="MaxOutputBytes"/>); like <paramref name="sessionWindow"/>, part of
    /// the replicated configuration: it changes what execution answers, so every member of a cluster must use the same value.
    /// </param>
    public Executor(IReplicatedService service, int sessionWindow, RoutingSettings routing, int maxOutputBytes = DefaultMaxOutputBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sessionWindow, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxOutputBytes, 1);
        _service = service;
        _sessionWindow = (ulong)sessionWindow;
        _routing = routing;
        _maxOutputBytes = maxOutputBytes;
    }

    public RoutingSettings Routing => _routing;

    /// <summary>
    /// Output bytes (encoded output groups) after which a proposal starts no more client requests: those left are answered
    /// <see cref="ReplyStatus.Overloaded"/>. Inputs are bounded, but a request's answer is not bounded by its size (a Get of
    /// a 64 KiB value is a few dozen bytes), and a decision's outputs must fit one transport message wherever they travel
    /// (pre-prepares, catch-up, a client's compact decision). Inbound groups and timers answer work already started and
    /// are never refused, so a proposal may pass the budget by their outputs and by the last request it started.
    /// </summary>
    public int MaxOutputBytes => _maxOutputBytes;

    public static ulong LastTimestamp(ReplicatedState state) => U64OrZero(state, EngineKeys.LastTimestamp);

    /// <summary>The height of the last group processed from <paramref name="source"/> in <paramref name="state"/>.</summary>
    public static ulong InboundCursor(ReplicatedState state, string source) => U64OrZero(state, EngineKeys.InboundCursor(source));

    /// <summary>The height up to which <paramref name="destination"/> acknowledged our groups in <paramref name="state"/>.</summary>
    public static ulong AckedHeight(ReplicatedState state, string destination) => U64OrZero(state, EngineKeys.Acked(destination));

    /// <summary>
    /// The height of the oldest group with messages we sent <paramref name="destination"/> that it has not acknowledged
    /// in <paramref name="state"/> (a group it will answer or acknowledge), or 0 when there is none or it is no longer
    /// known (more unacknowledged than the ring of sent heights holds).
    /// </summary>
    public ulong OldestUnackedHeight(ReplicatedState state, string destination)
    {
        var sent = U64OrZero(state, EngineKeys.SentCount(destination));
        var acked = state.TryRead(EngineKeys.Acked(destination), out var v) ? BinaryPrimitives.ReadUInt64LittleEndian(v[8..]) : 0;
        var ring = (ulong)_routing.RingSize;
        return sent <= acked || sent - acked > ring ? 0 : U64OrZero(state, EngineKeys.SentRing(destination, (acked + 1) % ring));
    }

    private static ulong U64OrZero(ReplicatedState state, ReadOnlySpan<byte> key) =>
        state.TryRead(key, out var v) ? BinaryPrimitives.ReadUInt64LittleEndian(v) : 0;

    /// <summary>
    /// True when the decided state already answered request <paramref name="seq"/> of the client, holds
    /// it pending an answer from another cluster, or it fell out of the client's window: proposing it
    /// again would change nothing.
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

    /// <summary>
    /// Executes <paramref name="inputs"/> at <paramref name="height"/> in a transaction on <paramref name="state"/>; the
    /// result carries <paramref name="stateRoot"/> for the header (at a checkpoint height the root of the state an
    /// interval before, which nothing this height does can change; zero elsewhere).
    /// </summary>
    public ExecutionResult Execute(ReplicatedState state, ulong height, ProposalInputs inputs, Hash32 stateRoot)
    {
        var tx = new StateTransaction(state);
        var run = new Run(this, tx, height, inputs.Timestamp);
        var ts = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(ts, inputs.Timestamp);
        tx.Put(EngineKeys.LastTimestamp, ts);

        foreach (var group in inputs.Inbound)
        {
            run.Process(group);
        }

        for (var i = 0; i < inputs.Batches.Count; i++)
        {
            run.Execute(inputs.Batches[i], i);
        }

        run.RunTimers();
        var outputs = run.Finish();
        return new ExecutionResult(inputs, outputs, stateRoot, tx) { FirstBatchOverBudget = run.FirstBatchOverBudget };
    }

    /// <summary>The decision timestamp from which the service's timers have work in <paramref name="state"/> (read between decisions); <see cref="ulong.MaxValue"/> for none.</summary>
    public ulong NextTimerDue(ReplicatedState state) => _service.NextTimerDue(new ServiceStateAccess(new ReadOnlyStateAccess(state)));

    private GroupBuilder RentBuilder()
    {
        lock (_spareBuilders)
        {
            if (_spareBuilders.TryPop(out var builder))
            {
                builder.Reset();
                return builder;
            }
        }

        var fresh = new GroupBuilder();
        fresh.Reset();
        return fresh;
    }

    private void ReturnBuilder(GroupBuilder builder)
    {
        // One oversized group is not worth keeping, nor more builders than a decision with many destinations used.
        if (builder.Capacity > GroupBuilder.MaxKeptBytes)
        {
            return;
        }

        lock (_spareBuilders)
        {
            if (_spareBuilders.Count < GroupBuilder.MaxKept)
            {
                _spareBuilders.Push(builder);
            }
        }
    }

    /// <summary>
    /// One output group's payload being written: u32 n ‖ item*, the count patched when it is taken. Items
    /// are written straight in, so a message or reply is never an array of its own first.
    /// </summary>
    private sealed class GroupBuilder
    {
        public const int MaxKeptBytes = 4 << 20;
        public const int MaxKept = 64;

        private readonly CanonicalWriter _writer = new(1024);

        public int Count { get; private set; }

        public int Capacity => _writer.Capacity;

        public void Reset()
        {
            _writer.Clear();
            _writer.U32(0);
            Count = 0;
        }

        /// <summary>Appends a length-prefixed item (a cluster message or an audit record).</summary>
        public void AddBytes(ReadOnlySpan<byte> item)
        {
            _writer.Bytes(item);
            Count++;
        }

        /// <summary>Appends a client reply as <see cref="ClientReply.Write"/> encodes it: u64 seq ‖ H(request) ‖ u8 status ‖ bytes result.</summary>
        public void AddReply(ulong seq, Hash32 requestHash, ReplyStatus status, ReadOnlySpan<byte> result)
        {
            _writer.U64(seq);
            _writer.Hash(requestHash);
            _writer.U8((byte)status);
            _writer.Bytes(result);
            Count++;
        }

        /// <summary>The payload as an array of its own (the builder is reused; the group keeps this).</summary>
        public byte[] ToPayload()
        {
            _writer.PatchU32(0, (uint)Count);
            return _writer.ToArray();
        }
    }

    /// <summary>What a client's answer slot holds (u8 after the request hash).</summary>
    private enum SlotState : byte
    {
        Answered = 0,
        Pending = 1,
        Overloaded = 2,
    }

    /// <summary>One proposal's execution: the open transaction and the outputs collected so far.</summary>
    private sealed class Run : IServiceOutputs
    {
        // u64 seq ‖ H(request) ‖ u8 state, before the stored result.
        private const int SlotHeaderSize = 8 + Hash32.Size + 1;

        private readonly Executor _executor;
        private readonly StateTransaction _tx;
        private readonly ServiceStateAccess _access;
        private readonly FlowControl _flow;
        private readonly EngineKeys.Scratch _keys = new();
        private readonly ulong _height;
        private readonly ulong _timestamp;

        // Sorted by destination so the output order never depends on hash order.
        private readonly SortedDictionary<string, GroupBuilder> _replies = new(StringComparer.Ordinal);
        private readonly SortedDictionary<string, GroupBuilder> _messages = new(StringComparer.Ordinal);
        private readonly SortedSet<string> _receivedFrom = new(StringComparer.Ordinal);
        private GroupBuilder? _audit;

        // The encoded size of the output groups written so far (framing and items), measured against the budget.
        private long _outputBytes;
        private int _batchIndex = -1;

        public Run(Executor executor, StateTransaction tx, ulong height, ulong timestamp)
        {
            _executor = executor;
            _tx = tx;
            _access = new ServiceStateAccess(tx);
            _flow = new FlowControl(tx, executor._routing);
            _height = height;
            _timestamp = timestamp;
        }

        private RoutingSettings Routing => _executor._routing;

        /// <summary>The index of the first client batch in which the budget refused a request or withheld a stored answer; -1 when none.</summary>
        public int FirstBatchOverBudget { get; private set; } = -1;

        private bool OverBudget()
        {
            if (_outputBytes < _executor._maxOutputBytes)
            {
                return false;
            }

            if (FirstBatchOverBudget < 0)
            {
                FirstBatchOverBudget = _batchIndex;
            }

            return true;
        }

        /// <summary>Processes one inbound group; its validity (source, destination, QC, proof, chain) was checked before execution.</summary>
        public void Process(InboundGroup group)
        {
            var source = group.Source;
            var g = group.Decision.Group;
            if (!Routing.IsPeer(source) || g.Destination != Routing.ClusterId || g.PrevHeight != _flow.Cursor(source) || group.Height <= g.PrevHeight)
            {
                throw new InvalidOperationException($"inbound group {source}@{group.Height} does not continue its chain; validate before executing");
            }

            _flow.SetCursor(source, group.Height);
            _flow.Acknowledge(source, g.AckHeight);
            var payload = g.Payload.Span;
            int count;
            try
            {
                // The whole payload is checked before any message runs, as one that is malformed runs none.
                count = ClusterPayload.Validate(payload);
            }
            catch (MalformedMessageException)
            {
                // A certified group an honest cluster never produces; skipping it is deterministic.
                return;
            }

            if (count == 0)
            {
                return;
            }

            _flow.CountReceived(source);
            _receivedFrom.Add(source);
            var context = new MessageContext(source, group.Height, _height, _timestamp);
            foreach (var m in ClusterPayload.Messages(payload))
            {
                _executor._service.ExecuteMessage(_access, context, m, this);
            }
        }

        /// <summary>
        /// Executes a batch's requests in order. The client's max seq is read once and written once
        /// per batch, not per request: only this loop reads it (services cannot see 0x00 keys), so the
        /// state after the batch is the same and a batch of thousands of requests saves as many writes.
        /// </summary>
        public void Execute(ClientBatch batch, int index)
        {
            _batchIndex = index;
            var clientId = batch.ClientId;
            var maxKey = EngineKeys.ClientMaxSeq(clientId);
            var maxBytes = _tx.Get(maxKey);
            var hasMax = maxBytes is not null;
            var maxSeq = maxBytes is null ? 0 : BinaryPrimitives.ReadUInt64LittleEndian(maxBytes);
            var before = (hasMax, maxSeq);
            foreach (var request in batch.Requests)
            {
                Execute(clientId, request, ref hasMax, ref maxSeq);
            }

            if ((hasMax, maxSeq) != before)
            {
                var m = new byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(m, maxSeq);
                _tx.Put(maxKey, m);
            }
        }

        private void Execute(string clientId, ClientRequest request, ref bool hasMax, ref ulong maxSeq)
        {
            var requestHash = request.Hash(clientId);
            var window = _executor._sessionWindow;
            if (hasMax && request.Seq + window <= maxSeq)
            {
                Reply(clientId, request.Seq, requestHash, ReplyStatus.RequestTooOld, []);
                return;
            }

            // The answer of seq s lives in slot s mod W; a slot holding a newer seq means s fell out of the window.
            var slot = ReadSlot(clientId, request.Seq % window);
            if (slot is { } s)
            {
                if (s.Seq == request.Seq)
                {
                    if (s.Hash != requestHash)
                    {
                        Reply(clientId, request.Seq, requestHash, ReplyStatus.RequestIdReused, []);
                    }
                    else if (s.State == SlotState.Answered)
                    {
                        // A stored answer may be as large as a fresh one, and a batch may repeat one id thousands of times:
                        // past the budget it is withheld, not refused (it ran; Overloaded would invite a second execution
                        // under a new id). The answer stays stored, and the client's retry of the batch brings it.
                        if (!OverBudget())
                        {
                            Reply(clientId, request.Seq, requestHash, ReplyStatus.Executed, SlotResult(clientId, request.Seq % window));
                        }
                    }
                    else if (s.State == SlotState.Overloaded)
                    {
                        Reply(clientId, request.Seq, requestHash, ReplyStatus.Overloaded, []);
                    }

                    // A repeat of a pending request adds nothing: its answer comes when the other cluster replies.
                    return;
                }

                if (s.Seq > request.Seq)
                {
                    Reply(clientId, request.Seq, requestHash, ReplyStatus.RequestTooOld, []);
                    return;
                }

                if (s.State == SlotState.Pending)
                {
                    // Evicting a request still waiting for another cluster would lose its answer.
                    Reply(clientId, request.Seq, requestHash, ReplyStatus.WindowFull, []);
                    return;
                }
            }

            // Checked only here, after the answers from the session (small ones, and stored ones checked above): a request
            // the budget refuses is stored Overloaded like one the service refused, final for its id.
            var outcome = OverBudget()
                ? RequestOutcome.Overloaded
                : _executor._service.ExecuteRequest(_access, new ExecutionContext(clientId, request.Seq, requestHash, _height, _timestamp), request.Operation.Span, this);

            // Overloaded is stored like an answer: a late copy of the batch must never run a request the client gave up on.
            var state = outcome.Kind switch
            {
                RequestOutcomeKind.Deferred => SlotState.Pending,
                RequestOutcomeKind.Overloaded => SlotState.Overloaded,
                _ => SlotState.Answered,
            };
            WriteSlot(clientId, request.Seq % window, request.Seq, requestHash, state, outcome.Result);
            if (!hasMax || request.Seq > maxSeq)
            {
                hasMax = true;
                maxSeq = request.Seq;
            }

            if (state != SlotState.Pending)
            {
                Reply(clientId, request.Seq, requestHash, state == SlotState.Overloaded ? ReplyStatus.Overloaded : ReplyStatus.Executed, outcome.Result);
            }
        }

        // Only the window counts, not whether this decision already carries a group there: answers to
        // work received (2PC votes and commits) put a group to a peer in nearly every busy decision, and
        // letting new work ride along would switch back-pressure off exactly when it is needed (review).
        public bool CanSend(string cluster) => _flow.Unacked(cluster) < (ulong)Routing.OutboundWindow;

        public void Send(string cluster, ReadOnlySpan<byte> message)
        {
            if (!Routing.IsPeer(cluster))
            {
                throw new InvalidOperationException($"cluster {Routing.ClusterId} does not exchange groups with {cluster}");
            }

            Builder(_messages, cluster).AddBytes(message);
            _outputBytes += 4 + message.Length;
        }

        public void Answer(string clientId, ulong seq, Hash32 requestHash, ReadOnlySpan<byte> result) =>
            Settle(clientId, seq, requestHash, SlotState.Answered, ReplyStatus.Executed, result);

        public void Refuse(string clientId, ulong seq, Hash32 requestHash) =>
            Settle(clientId, seq, requestHash, SlotState.Overloaded, ReplyStatus.Overloaded, []);

        /// <summary>Settles a deferred request: its pending slot takes <paramref name="state"/>, and the client gets the reply.</summary>
        private void Settle(string clientId, ulong seq, Hash32 requestHash, SlotState state, ReplyStatus status, ReadOnlySpan<byte> result)
        {
            if (ReadSlot(clientId, seq % _executor._sessionWindow) is { State: SlotState.Pending } s && s.Seq == seq && s.Hash == requestHash)
            {
                WriteSlot(clientId, seq % _executor._sessionWindow, seq, requestHash, state, result);
            }

            // Sent even when the slot moved on (the client ran more than W requests ahead): it may still wait for it.
            Reply(clientId, seq, requestHash, status, result);
        }

        public bool HasRoom => _outputBytes < _executor._maxOutputBytes;

        public void RunTimers() =>
            _executor._service.ExecuteTimers(_access, new TimerContext(_height, _timestamp), this);

        public void Audit(ReadOnlySpan<byte> record)
        {
            if (_audit is null)
            {
                _audit = _executor.RentBuilder();
                _outputBytes += GroupFraming(IServiceOutputs.AuditDestination);
            }

            _audit.AddBytes(record);
            _outputBytes += 4 + record.Length;
        }

        private GroupBuilder Builder(SortedDictionary<string, GroupBuilder> groups, string destination)
        {
            if (!groups.TryGetValue(destination, out var builder))
            {
                builder = _executor.RentBuilder();
                groups.Add(destination, builder);
                _outputBytes += GroupFraming(destination);
            }

            return builder;
        }

        /// <summary>What a group costs besides its items: destination ‖ u64 prevHeight ‖ u64 ackHeight ‖ payload length ‖ u32 n.</summary>
        private static int GroupFraming(string destination) => CanonicalWriter.StringSize(destination) + 8 + 8 + 4 + 4;

        public List<OutputGroup> Finish()
        {
            // Ack-only groups: a peer that keeps sending us work we have no reason to answer must still learn
            // that it arrived, or its window fills. Empty groups never count, so acks do not ping-pong.
            foreach (var source in _receivedFrom)
            {
                if (!_messages.ContainsKey(source) && _flow.SinceReply(source) >= (ulong)Routing.AckOnlyAfter)
                {
                    _messages.Add(source, _executor.RentBuilder());
                }
            }

            var outputs = new List<OutputGroup>(_replies.Count + _messages.Count);
            using var clients = _replies.GetEnumerator();
            using var clusters = _messages.GetEnumerator();
            var hasClient = clients.MoveNext();
            var hasCluster = clusters.MoveNext();
            while (hasClient || hasCluster)
            {
                if (hasCluster && (!hasClient || string.CompareOrdinal(clusters.Current.Key, clients.Current.Key) < 0))
                {
                    var destination = clusters.Current.Key;
                    var prev = NextGroupHeight(destination);
                    var ack = _flow.Cursor(destination);
                    _flow.RecordSent(destination, _height, counted: clusters.Current.Value.Count > 0);
                    outputs.Add(new OutputGroup(destination, prev, ack, clusters.Current.Value.ToPayload()));
                    hasCluster = clusters.MoveNext();
                }
                else
                {
                    if (hasCluster && clusters.Current.Key == clients.Current.Key)
                    {
                        throw new InvalidOperationException($"{clients.Current.Key} is both a client and a cluster");
                    }

                    outputs.Add(new OutputGroup(clients.Current.Key, NextGroupHeight(clients.Current.Key), 0, clients.Current.Value.ToPayload()));
                    hasClient = clients.MoveNext();
                }
            }

            if (_audit is not null)
            {
                // Clients and clusters never take the audit id (the topology refuses it), so the slot is free.
                const string audit = IServiceOutputs.AuditDestination;
                var at = 0;
                while (at < outputs.Count && string.CompareOrdinal(outputs[at].Destination, audit) < 0)
                {
                    at++;
                }

                if (at < outputs.Count && outputs[at].Destination == audit)
                {
                    throw new InvalidOperationException("the audit destination is also a client or a cluster");
                }

                outputs.Insert(at, new OutputGroup(audit, NextGroupHeight(audit), 0, _audit.ToPayload()));
            }

            ReturnBuilders();
            return outputs;
        }

        /// <summary>Every payload was copied out: the builders go back for the next execution.</summary>
        private void ReturnBuilders()
        {
            foreach (var builder in _replies.Values)
            {
                _executor.ReturnBuilder(builder);
            }

            foreach (var builder in _messages.Values)
            {
                _executor.ReturnBuilder(builder);
            }

            if (_audit is not null)
            {
                _executor.ReturnBuilder(_audit);
            }

            _replies.Clear();
            _messages.Clear();
            _audit = null;
        }

        private void Reply(string clientId, ulong seq, Hash32 requestHash, ReplyStatus status, ReadOnlySpan<byte> result)
        {
            Builder(_replies, clientId).AddReply(seq, requestHash, status, result);
            _outputBytes += 8 + Hash32.Size + 1 + 4 + result.Length;
        }

        private ulong NextGroupHeight(string destination)
        {
            var key = _keys.LastGroupHeight(destination);
            var prev = _tx.TryRead(key, out var stored) ? BinaryPrimitives.ReadUInt64LittleEndian(stored) : 0;
            var value = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(value, _height);
            _tx.Put(key, value);
            return prev;
        }

        /// <summary>A client's answer slot: its seq, request hash and state, read in place; the stored result is read again (<see cref="SlotResult"/>) only when a repeat needs it.</summary>
        private (ulong Seq, Hash32 Hash, SlotState State)? ReadSlot(string clientId, ulong slot)
        {
            if (!_tx.TryRead(_keys.ClientSlot(clientId, slot), out var bytes))
            {
                return null;
            }

            var r = new CanonicalReader(bytes);
            return (r.U64(), r.Hash(), (SlotState)r.U8());
        }

        /// <summary>The stored answer of a slot that holds one, as a view into the state (valid until the next write).</summary>
        private ReadOnlySpan<byte> SlotResult(string clientId, ulong slot)
        {
            _tx.TryRead(_keys.ClientSlot(clientId, slot), out var bytes);
            var r = new CanonicalReader(bytes[SlotHeaderSize..]);
            return r.BytesSpan(ReplicatedState.MaxValueBytes);
        }

        private void WriteSlot(string clientId, ulong slot, ulong seq, Hash32 hash, SlotState state, ReadOnlySpan<byte> result)
        {
            var size = SlotHeaderSize + 4 + result.Length;
            if (_executor._slotBuffer.Length < size)
            {
                _executor._slotBuffer = new byte[Math.Max(size, _executor._slotBuffer.Length * 2)];
            }

            var buffer = _executor._slotBuffer.AsSpan(0, size);
            var w = new SpanWriter(buffer);
            w.U64(seq);
            w.Hash(hash);
            w.U8((byte)state);
            w.Bytes(result);
            w.End();
            _tx.PutSpan(_keys.ClientSlot(clientId, slot), buffer);
        }
    }
}
