using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.Merkle;
using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.Consensus;

// Normal operation: the pool, proposing, pre-prepare validation, prepare and commit votes, deciding.
public sealed partial class Replica
{
    private readonly Slot _slot = new();
    private readonly List<ClientBatch> _pool = [];
    private readonly Dictionary<Hash32, long> _poolArrivals = [];
    private readonly HashSet<Hash32> _verifiedBatches = [];
    private readonly List<Decision> _log = [];
    private int _poolRequests;
    private long _lastDecidedAt;

    /// <summary>Proposals this leader cut short because their outputs reached the budget (<see cref="ReplicaOptions.MaxProposalOutputBytes"/>).</summary>
    public long ProposalsTrimmed { get; private set; }

    private ulong _view;
    private bool _inViewChange;
    private ulong _decided;
    private Hash32 _lastHeaderHash;
    private DecisionHeader? _lastHeader;
    private QuorumCertificate? _lastQc;
    private Checkpoint? _checkpoint;

    /// <summary>When the oldest pending batch arrived: what the batching delay and re-forwarding count from.</summary>
    private long PoolOldestAt => _pool.Count == 0 ? _now : _poolArrivals[_pool[0].Digest];

    /// <summary>Shards of a topology with coordinators take work only from coordinators, never from clients.</summary>
    private bool TakesClientRequests => _cluster.Kind == Topology.ClusterKind.Coordinator || !_topology.Coordinators.Any();

    private bool IsCheckpointHeight(ulong height) => height % (ulong)_options.CheckpointInterval == 0;

    private SubmitOutcome Admit(ClientBatch batch)
    {
        if (batch.Cluster != _cluster.Id)
        {
            return SubmitOutcome.Refused("wrong_cluster", $"batch is for cluster {batch.Cluster}, this is {_cluster.Id}");
        }

        if (!_topology.TryGetClient(batch.ClientId, out var client))
        {
            return SubmitOutcome.Refused("unknown_client", $"client {batch.ClientId} is not registered");
        }

        if (!TakesClientRequests)
        {
            return SubmitOutcome.Refused("wrong_cluster", $"{_cluster.Id} is a shard cluster; clients talk to a coordinator");
        }

        if (_poolArrivals.ContainsKey(batch.Digest))
        {
            return SubmitOutcome.Ok;
        }

        if (_pool.Count >= _options.MaxPoolBatches)
        {
            return SubmitOutcome.Refused("overloaded", "the request pool is full; retry later");
        }

        if (!_verifiedBatches.Contains(batch.Digest))
        {
            if (!batch.VerifySignature(client.PublicKey))
            {
                return SubmitOutcome.Refused("bad_signature", "the batch signature does not verify");
            }

            _verifiedBatches.Add(batch.Digest);
        }

        _pool.Add(batch);
        _poolArrivals[batch.Digest] = _now;
        _poolRequests += batch.Requests.Count;
        return SubmitOutcome.Ok;
    }

    /// <summary>
    /// Drops pooled batches whose every request the decided state already answered (a client's late
    /// retry, or batches decided inside a snapshot we installed): they give no reason to suspect a leader.
    /// Only called when no proposal is open, so the state read is the decided state.
    /// </summary>
    private void PruneAnsweredBatches()
    {
        if (_slot.Exec is not null)
        {
            return;
        }

        for (var i = _pool.Count - 1; i >= 0; i--)
        {
            var batch = _pool[i];
            if (batch.Requests.All(r => _executor.IsAnswered(_state, batch.ClientId, r.Seq)))
            {
                _pool.RemoveAt(i);
                _poolArrivals.Remove(batch.Digest);
                _poolRequests -= batch.Requests.Count;
            }
        }
    }

    private static byte[] ForwardMessageBytes(int sender, ClientBatch batch)
    {
        var w = Envelope.Begin(MessageType.ForwardBatch, sender, Envelope.Size(MessageType.ForwardBatch, 4 + batch.Bytes.Length));
        w.Bytes(batch.Bytes.Span);
        return w.Detach();
    }

    private byte[] ForwardMessage(ClientBatch batch) => ForwardMessageBytes(_self, batch);

    private void OnForwardedBatch(int from, ReadOnlyMemory<byte> body)
    {
        // The batch is a view of the message (the host owns received messages and never writes them).
        var r = CanonicalReader.Over(body);
        var bytes = r.BytesMemory(ClientBatch.MaxBatchBytes);
        r.End();
        var batch = ClientBatch.Parse(bytes);
        var outcome = Admit(batch);
        if (!outcome.Accepted && outcome.ErrorCode is "bad_signature" or "unknown_client" or "wrong_cluster")
        {
            Reject(RejectReason.InvalidProposal, from);
            return;
        }

        TryPropose();
    }

    /// <summary>
    /// A service deadline (a 2PC vote timeout, an expiring hold) has come and no decision passed for a
    /// tick: a timestamp-only decision moves decision time on, so deadlines fire on an idle cluster too.
    /// </summary>
    private bool TimerTickDue() =>
        _now - _lastDecidedAt >= _options.TimerTickMs && (ulong)Math.Max(_now, 0) >= _executor.NextTimerDue(_state);

    private void TryPropose()
    {
        // Abstaining, before the inputs ahead go out too: restarted, it may have proposed other inputs in this view already.
        if (!IsLeader || VotesHeld || Abstains(_view) || (_pool.Count == 0 && !HasReadyInbound && !TimerTickDue()) || _decided < _newViewMaxDecided || _snapshotFetch is not null)
        {
            return;
        }

        if (_slot.Accepted is not null && _slot.AcceptedView == _view)
        {
            return;
        }

        if (_newViewForced is not null)
        {
            return;
        }

        // The batching delay gathers requests that stream in behind the first; after an idle spell (no
        // decision for the delay) there is nothing to wait for, so the first request goes at once.
        if (_poolRequests < _options.BatchRequests && _now - Math.Min(PoolOldestAt, InboundOldestAt()) < _options.BatchDelayMs
            && _now - _lastDecidedAt < _options.BatchDelayMs)
        {
            return;
        }

        if (AwaitingOwedAnswer())
        {
            return;
        }

        // The proposal is built on the decided state: an open execution of another proposal of this height (one
        // prepared in an earlier view) has written its timestamp and cursors into it.
        DropExecution();

        // Inbound groups first (they answer work already started, and the starvation timer watches them),
        // then batches in the bytes left: a proposal stays well inside one transport message.
        var inbound = SelectInbound(out var inputBytesUsed);
        var batches = new List<ClientBatch>();
        var requests = 0;
        foreach (var b in _pool)
        {
            if (batches.Count > 0 && requests + b.Requests.Count > _options.MaxProposalRequests)
            {
                break;
            }

            if ((batches.Count > 0 || inbound.Count > 0) && inputBytesUsed + b.Bytes.Length > _options.MaxProposalInputBytes)
            {
                break;
            }

            inputBytesUsed += b.Bytes.Length;

            if (batches.Count >= ProposalInputs.MaxBatches)
            {
                break;
            }

            batches.Add(b);
            requests += b.Requests.Count;
        }

        var lastTs = Executor.LastTimestamp(_state);
        var timestamp = Math.Max((ulong)Math.Max(_now, 0), lastTs + 1);
        var inputs = new ProposalInputs(timestamp, batches, inbound);
        var inputBytes = inputs.ToBytes();
        var height = _decided + 1;
        if (_sendsInputsAhead)
        {
            Broadcast(InputsAheadMessage.Encode(_self, _view, height, _lastHeaderHash, inputBytes));
        }

        var stateRoot = StateRootFor(height);
        var exec = _executor.Execute(_state, height, inputs, stateRoot);
        var form = _sendsInputsAhead ? PrePrepareForm.HeaderOnly : PrePrepareForm.Inputs;

        // The outputs reached the budget inside batch k: the batches before it are proposed, and k on stay pooled for the
        // next proposal rather than be answered overloaded (the budget bounds a decision, not the pool). The first batch is
        // always taken, as the next proposal would start with it again; after it, none of the rest ran anyway. The prefix
        // runs again exactly as it ran the first time. Only the leader trims; followers execute what it proposes. The
        // inputs sent ahead were the untrimmed ones, so these go in the pre-prepare itself.
        var take = Math.Max(exec.FirstBatchOverBudget, 1);
        if (exec.FirstBatchOverBudget >= 0 && take < batches.Count)
        {
            exec.Transaction.Rollback();
            inputs = new ProposalInputs(timestamp, batches.GetRange(0, take), inbound);
            inputBytes = inputs.ToBytes();
            exec = _executor.Execute(_state, height, inputs, stateRoot);
            form = PrePrepareForm.Inputs;
            ProposalsTrimmed++;
        }

        // Hashed once: the header's outputs root, then every compact decision's proof, come from these leaves.
        var leaves = Proposal.LeafHashesOf(exec.Outputs);
        var header = new DecisionHeader(_cluster.Id, height, _lastHeaderHash, Hash32.Of(inputBytes), MerkleTree.Root(leaves), exec.StateRoot);
        var proposal = new Proposal(header, inputBytes, exec.Outputs, leaves);
        _slot.Exec = exec;
        _slot.ExecHash = header.Hash;
        AcceptProposal(proposal, _view, asLeader: form);
    }

    private void OnPrePrepare(int from, ReadOnlyMemory<byte> body)
    {
        // Inputs and output payloads are views of the message, which the host owns and never writes:
        // the proposal is kept whole in the slot and the log anyway, so copying them only doubled it.
        var prePrepare = PrePrepareMessage.Read(body);
        var (view, header, leaderPrepare) = (prePrepare.View, prePrepare.Header, prePrepare.PrepareSignature);

        // The leader's prepare signature is the message's authentication (the header it signs covers the
        // inputs and outputs, which validation checks against it): checked before anything else is believed.
        if (!VerifyVote(from, VoteKind.Prepare, view, header.Height, header.Hash, leaderPrepare))
        {
            Reject(RejectReason.BadSignature, from);
            return;
        }

        if (view < _view || (view == _view && _inViewChange))
        {
            Reject(RejectReason.OldView, from);
            return;
        }

        if (view > _view)
        {
            // We have not seen the NEW-VIEW of that view yet; the leader's retransmission or a peer's status brings it.
            return;
        }

        if (from != _cluster.LeaderOf(view))
        {
            Reject(RejectReason.WrongSender, from);
            return;
        }

        var height = header.Height;
        if (height <= _decided)
        {
            return;
        }

        if (height > _decided + 1)
        {
            RequestCatchUp(from);
            return;
        }

        if (height <= _newViewMaxDecided)
        {
            // The NEW-VIEW of this view showed a QC at this height: only that certified decision may
            // fill it. A leader proposing anything here is trying to decide a second header.
            Reject(RejectReason.InvalidProposal, from);
            RequestCatchUp(from);
            return;
        }

        if (_newViewForced is { } forced && forced.Header.Height == height && forced.Header.Hash != header.Hash)
        {
            // The NEW-VIEW of this view forces its certified proposal at this height (an honest leader proposes
            // nothing while it is pending). Usually this node has prepared it at once; one that could not yet
            // (a snapshot install not durable held its votes, and held this message with them) must not
            // prepare another header here first: a QC for the forced one may exist in an earlier view.
            Reject(RejectReason.InvalidProposal, from);
            // Holding the leader's prepare of the forced one, its signed pre-prepare of another is evidence too (review).
            TakeLeaderEquivocation(view, height, header.Hash, leaderPrepare);
            StartViewChange(_view + 1, "leader proposed another header at the NEW-VIEW's forced height");
            return;
        }

        if (_slot.Accepted is not null && _slot.AcceptedView == view)
        {
            if (_slot.Accepted.Header.Hash != header.Hash)
            {
                Reject(RejectReason.Equivocation, from);
                // With the leader's prepare of the header accepted (held unless restored from the WAL), the VIEW-CHANGE
                // shows both, and every member it reaches leaves too.
                TakeLeaderEquivocation(view, header.Height, header.Hash, leaderPrepare);
                StartViewChange(_view + 1, "leader equivocated");
                return;
            }

            // Accepted already (restored from the WAL after a crash, or from an earlier copy): the leader's prepare
            // travels only in its pre-prepare, so this re-sent one is how it is counted here.
            if (CountLeaderPrepare(view, header.Height, header.Hash, leaderPrepare))
            {
                CheckPrepared();
                TryDecide();
            }

            LeaveOnProvenEquivocation("the leader prepared two headers");
            return;
        }

        if (AbstainFrom(view))
        {
            // Restarted after a crash in this view: its lost prepare may have been of another header. The decision
            // comes from the others' commits (catch-up), and the next view counts this node again.
            return;
        }

        // The inputs' digest is checked here: those in the message as the header's (a body that is not the signed header's
        // makes the proposal invalid), those sent ahead before they are taken.
        if ((prePrepare.Inputs ?? InputsSentAhead(view, header)) is not { } inputs)
        {
            // A header-only pre-prepare whose inputs ahead never came here (dropped with a full queue, lost with a
            // connection): set aside like a lost message. The leader's retransmission is whole; catch-up also decides it.
            // Its prepare is the leader's, verified, and counted like a lone one: a leader sending headers of another
            // proposal for this height proves its equivocation so, rather than being set aside again and again (review).
            PrePreparesWithoutInputs++;
            CountLeaderPrepare(view, header.Height, header.Hash, leaderPrepare);
            LeaveOnProvenEquivocation("the leader prepared two headers");
            return;
        }

        var bodyMatches = prePrepare.Form != PrePrepareForm.Inputs || Hash32.Of(inputs.Span) == header.InputsDigest;
        if (!bodyMatches)
        {
            Reject(RejectReason.InvalidProposal, from);
        }

        if (!bodyMatches || ValidateAndExecute(header, inputs, prePrepare.Proposal, freshTimestamp: true, from) is not { } proposal)
        {
            // An invalid proposal is not relayed, but after the leader's lone prepare of another header it is also an
            // equivocation, which is (review).
            TakeLeaderEquivocation(view, header.Height, header.Hash, leaderPrepare);
            StartViewChange(_view + 1, "leader proposed an invalid proposal");
            return;
        }

        AcceptProposal(proposal, view, leaderPrepare: leaderPrepare);
    }

    /// <summary>
    /// Checks a proposal for the next height the way every follower must: header fields, (of a <paramref name="whole"/>
    /// proposal) inputs digest and outputs root, timestamp, client signatures; then re-executes <paramref name="inputs"/>
    /// and compares outputs and state root with the header. On success the execution stays open in the slot, and the
    /// result is the proposal to accept: <paramref name="whole"/>, or the header with these inputs and the outputs this
    /// node computed (their root is the header's, so they are the leader's byte for byte).
    /// </summary>
    /// <param name="inputs">The whole proposal's, or inputs the caller checked against the header's digest.</param>
    private Proposal? ValidateAndExecute(DecisionHeader header, ReadOnlyMemory<byte> inputs, Proposal? whole, bool freshTimestamp, int from)
    {
        if (header.Cluster != _cluster.Id || header.Height != _decided + 1 || header.PrevHeaderHash != _lastHeaderHash
            || (whole is not null && !whole.IsSelfConsistent())
            || (!IsCheckpointHeight(header.Height) && !header.StateRoot.IsZero))
        {
            Reject(RejectReason.InvalidProposal, from);
            return null;
        }

        if (_slot.Exec is { } open && _slot.ExecHash == header.Hash)
        {
            // Executed and matched already (a proposal prepared in an earlier view, proposed again).
            return whole ?? new Proposal(header, inputs, open.Outputs);
        }

        if (TakeExecutionAhead(header, inputs, whole, freshTimestamp, from, out var taken))
        {
            return taken;
        }

        // The checks below read the decided state: an open execution of another proposal of this height
        // (one we prepared in an earlier view, an equivocating leader's twin) has written its timestamp,
        // sessions and cursors into it. Read through it, the twin's timestamp (one above) made the
        // NEW-VIEW's certified proposal look older than the last decision, so this node refused it in every view.
        DropExecution();
        ProposalInputs parsed;
        try
        {
            parsed = ProposalInputs.Parse(inputs);
        }
        catch (MalformedMessageException)
        {
            Reject(RejectReason.InvalidProposal, from);
            return null;
        }

        if (!CheckInputs(parsed, freshTimestamp, from, RejectReason.InvalidProposal))
        {
            return null;
        }

        var exec = _executor.Execute(_state, header.Height, parsed, StateRootFor(header.Height));
        if (ProposalFrom(header, inputs, whole, exec) is not { } proposal)
        {
            exec.Transaction.Rollback();
            Reject(RejectReason.WrongOutputs, from);
            return null;
        }

        _slot.Exec = exec;
        _slot.ExecHash = header.Hash;
        return proposal;
    }

    /// <summary>
    /// The proposal <paramref name="exec"/> (of <paramref name="inputs"/>) makes of <paramref name="header"/>, or null when its
    /// outputs or state root are not the header's. A whole proposal's outputs hash to the header's root (checked before), so
    /// equal bytes mean an equal root: compared, not hashed a second time. Otherwise this node's outputs are hashed (their
    /// leaves are kept for the compact decisions) and their root compared.
    /// </summary>
    private static Proposal? ProposalFrom(DecisionHeader header, ReadOnlyMemory<byte> inputs, Proposal? whole, ExecutionResult exec)
    {
        if (exec.StateRoot != header.StateRoot)
        {
            return null;
        }

        if (whole is not null)
        {
            return whole.HasOutputs(exec.Outputs) ? whole : null;
        }

        var leaves = Proposal.LeafHashesOf(exec.Outputs);
        return MerkleTree.Root(leaves) == header.OutputsRoot ? new Proposal(header, inputs, exec.Outputs, leaves) : null;
    }

    /// <summary>
    /// The checks a proposal's parsed inputs must pass against the decided state before they are executed: a timestamp
    /// after the last decision's (and, when <paramref name="freshTimestamp"/>, near our clock), no empty proposal before a
    /// timer is due, client batches only where clients submit, inbound groups that continue their chains, and every
    /// client batch signed by its client. A failure is counted under <paramref name="reason"/> (inbound groups under their own).
    /// </summary>
    private bool CheckInputs(ProposalInputs inputs, bool freshTimestamp, int from, RejectReason reason)
    {
        var lastTs = Executor.LastTimestamp(_state);
        if (inputs.Timestamp <= lastTs
            || (freshTimestamp && !WithinTolerance(inputs.Timestamp))
            || (inputs.IsEmpty && inputs.Timestamp < _executor.NextTimerDue(_state))
            || (inputs.Batches.Count > 0 && !TakesClientRequests))
        {
            Reject(reason, from);
            return false;
        }

        if (!ValidateInbound(inputs.Inbound, from))
        {
            return false;
        }

        // Remembered as verified only when every batch passes: inputs that fail bind nobody and cost no view change, so
        // a leader sending them again and again must not grow the set, which only a decision trims (review of inputs ahead).
        List<Hash32>? verified = null;
        foreach (var batch in inputs.Batches)
        {
            if (batch.Cluster != _cluster.Id || !_topology.TryGetClient(batch.ClientId, out var client))
            {
                Reject(reason, from);
                return false;
            }

            if (!_verifiedBatches.Contains(batch.Digest))
            {
                if (!batch.VerifySignature(client.PublicKey))
                {
                    Reject(reason, from);
                    return false;
                }

                (verified ??= []).Add(batch.Digest);
            }
        }

        if (verified is not null)
        {
            _verifiedBatches.UnionWith(verified);
        }

        return true;
    }

    /// <summary>
    /// now − lag ≤ timestamp ≤ now + Δ, computed without a signed conversion a hostile timestamp could
    /// overflow. Asymmetric: a timestamp ahead fires deadlines early, so Δ is tight; one behind is what
    /// an honest leader's proposal looks like after it queued behind a loaded follower's other work,
    /// so the lag bound is loose (it only keeps a faulty leader from stopping decision time).
    /// </summary>
    private bool WithinTolerance(ulong timestamp)
    {
        var now = (ulong)Math.Max(_now, 0);
        return timestamp > now
            ? timestamp - now <= (ulong)_options.TimestampToleranceMs
            : now - timestamp <= (ulong)_options.TimestampLagToleranceMs;
    }

    private void DropExecution()
    {
        if (_slot.Exec is not null)
        {
            if (_slot.ExecAheadInputs is not null)
            {
                InputsAheadWasted++;
            }

            _slot.Exec.Transaction.Rollback();
            _slot.Exec = null;
            _slot.ExecHash = default;
            _slot.ExecAheadInputs = null;
        }
    }

    /// <summary>
    /// Prepares <paramref name="proposal"/> in <paramref name="view"/>: persist, then vote. The leader of a fresh
    /// proposal votes with its pre-prepare (which carries its prepare); a follower counts the prepare that
    /// came in the leader's pre-prepare, <paramref name="leaderPrepare"/>, already verified.
    /// </summary>
    private void AcceptProposal(Proposal proposal, ulong view, PrePrepareForm? asLeader = null, byte[]? leaderPrepare = null)
    {
        if (Abstains(view))
        {
            // Every path here checks first; reaching this would sign a possibly second header in this view.
            throw new InvalidOperationException($"{NodeId} abstains in view {view} after a crash and must not prepare in it");
        }

        var hash = proposal.Header.Hash;
        _slot.Accepted = proposal;
        _slot.AcceptedView = view;
        _slot.Known[hash] = proposal;

        // Appended, not fsync'd: the commit's fsync makes it durable. A node that crashes before then abstains in
        // this view after its restart (Replica.Abstain.cs), so it never signs another header for this (view, height).
        LogPrepareSent(view, proposal);
        var signature = SignVote(VoteKind.Prepare, view, proposal.Header.Height, hash);
        _slot.Prepares.Add(view, _self, hash, signature, out _);
        if (asLeader is { } form)
        {
            // Lean the first time (see PrePrepareForm); what a retransmission sends is whole, built then.
            _slot.OwnPrePrepareSignature = signature;
            Broadcast(PrePrepareMessage.Encode(_self, view, proposal, form, signature));
        }
        else
        {
            Broadcast(VoteEnvelope(VoteKind.Prepare, view, proposal.Header.Height, hash, signature));
        }

        if (leaderPrepare is not null)
        {
            CountLeaderPrepare(view, proposal.Header.Height, hash, leaderPrepare);
        }

        CheckPrepared();
        TryDecide();
        LeaveOnProvenEquivocation("the leader prepared two headers");
    }

    /// <summary>
    /// This leader's pre-prepare of the proposal it accepted in the current view, for a retransmission (built at the first
    /// one): header and inputs, never the outputs, so it is no larger than the inputs allow whatever the proposal answers;
    /// null when it has none.
    /// </summary>
    private byte[]? ResentPrePrepare() =>
        _slot.PrePrepareMessage ??= _slot.OwnPrePrepareSignature is { } signature && _slot.Accepted is { } accepted && _slot.AcceptedView == _view
            ? PrePrepareMessage.Encode(_self, _slot.AcceptedView, accepted, PrePrepareForm.Inputs, signature)
            : null;

    /// <summary>Counts the prepare a leader's pre-prepare carried (verified); false when the leader had already voted in that view.</summary>
    private bool CountLeaderPrepare(ulong view, ulong height, Hash32 hash, byte[] signature)
    {
        var leader = _cluster.LeaderOf(view);
        var added = _slot.Prepares.Add(view, leader, hash, signature, out var equivocation);
        if (equivocation)
        {
            // A prepare of another header from the leader in this view came first, on its own: both verified, so
            // proof. The caller leaves the view with it once done with this message (LeaveOnProvenEquivocation).
            Reject(RejectReason.Equivocation, leader);
            TakeLeaderEquivocation(view, height, hash, signature);
        }

        return added;
    }

    private (byte[] Message, byte[] Signature) VoteMessage(VoteKind kind, ulong view, ulong height, Hash32 hash)
    {
        var signature = SignVote(kind, view, height, hash);
        return (VoteEnvelope(kind, view, height, hash, signature), signature);
    }

    /// <summary>This node's vote signature (Ed25519 is deterministic: the same statement always gives the same signature).</summary>
    private byte[] SignVote(VoteKind kind, ulong view, ulong height, Hash32 hash) =>
        _key.Sign(VoteStatement.Bytes(kind, _cluster.Id, view, height, hash));

    private byte[] VoteEnvelope(VoteKind kind, ulong view, ulong height, Hash32 hash, byte[] signature)
    {
        var type = kind == VoteKind.Prepare ? MessageType.Prepare : MessageType.Commit;
        var w = Envelope.Begin(type, _self, Envelope.Size(type, 8 + 8 + Hash32.Size + SigningKey.SignatureSize));
        w.U64(view);
        w.U64(height);
        w.Hash(hash);
        w.Fixed(signature);
        return w.Detach();
    }

    /// <summary>True when <paramref name="signature"/> is member <paramref name="signer"/>'s vote of that kind, view, height and header.</summary>
    private bool VerifyVote(int signer, VoteKind kind, ulong view, ulong height, Hash32 hash, ReadOnlySpan<byte> signature)
    {
        // The statement is built on the stack (a cluster id is at most 64 bytes, so it stays small).
        var statementSize = VoteStatement.Size(_cluster.Id);
        var statement = statementSize <= 256 ? stackalloc byte[statementSize] : new byte[statementSize];
        VoteStatement.Write(statement, kind, _cluster.Id, view, height, hash);
        return _cluster.Nodes[signer].PublicKey.Verify(statement, signature);
    }

    private void OnVote(int from, VoteKind kind, ReadOnlyMemory<byte> body)
    {
        var r = new CanonicalReader(body.Span);
        var view = r.U64();
        var height = r.U64();
        var hash = r.Hash();
        var signature = r.Fixed(SigningKey.SignatureSize);
        r.End();
        if (height == _decided)
        {
            // A slower peer finishing the round we just decided (most last prepares and commits arrive so):
            // it can change nothing, so it is dropped before paying for its signature, a quarter of the
            // signature checks per decision. Our commit lets that peer decide; lagging further, its status shows it.
            return;
        }

        if (kind == VoteKind.Prepare && height == _decided + 1 && view == _view && _slot.CommitSentView == _view)
        {
            // This member holds its prepared certificate for the height in this view and has committed: one more
            // prepare of that view (the last of four members' usually arrives so) can change nothing either.
            return;
        }

        // Check the signature first: an unverified vote must not steer catch-up or help requests.
        if (!VerifyVote(from, kind, view, height, hash, signature))
        {
            Reject(RejectReason.BadSignature, from);
            return;
        }

        if (height <= _decided)
        {
            // The sender lags behind (the height we just decided returned above: sending a slower peer of the
            // same round the whole decision would double every decision's bytes to the slowest member): help
            // it with the decision it is missing.
            HelpLaggingPeer(from, height);
            return;
        }

        if (height > _decided + 1)
        {
            RequestCatchUp(from);
            return;
        }

        var votes = kind == VoteKind.Prepare ? _slot.Prepares : _slot.Commits;
        if (kind == VoteKind.Prepare ? view != _view : view > _view + 64)
        {
            Reject(RejectReason.OldView, from);
            return;
        }

        if (votes.Has(view, from))
        {
            if (kind == VoteKind.Prepare && from == _cluster.LeaderOf(view) && TakeLeaderEquivocation(view, height, hash, signature.ToArray()))
            {
                // The leader's prepare of another header than the one it prepared (in its pre-prepare or alone): both verified.
                Reject(RejectReason.Equivocation, from);
                LeaveOnProvenEquivocation("the leader prepared two headers");
                return;
            }

            Reject(RejectReason.Duplicate, from);
            return;
        }

        // Copied only now: most votes that arrive after the decision are dropped above, and this copy is kept in the certificate.
        votes.Add(view, from, hash, signature.ToArray(), out var equivocation);
        if (equivocation)
        {
            Reject(RejectReason.Equivocation, from);
        }

        if (kind == VoteKind.Prepare)
        {
            CheckPrepared();
        }

        TryDecide();
    }

    /// <summary>2f+1 prepares for the accepted proposal in the current view: persist the certificate, then commit.</summary>
    private void CheckPrepared()
    {
        var accepted = _slot.Accepted;
        if (accepted is null || _slot.AcceptedView != _view || _inViewChange || _slot.CommitSentView == _view)
        {
            return;
        }

        var sigs = _slot.Prepares.Quorum(_view, accepted.Header.Hash, _cluster.Quorum);
        if (sigs is null)
        {
            return;
        }

        var cert = new PreparedCertificate(_view, accepted, sigs);
        LogCommitSent(cert);
        _slot.Prepared = cert;
        _slot.CommitSentView = _view;
        var vote = VoteMessage(VoteKind.Commit, _view, accepted.Header.Height, accepted.Header.Hash);
        _slot.Commits.Add(_view, _self, accepted.Header.Hash, vote.Signature, out _);
        Broadcast(vote.Message);
    }

    /// <summary>Decides as soon as commits of one view form a QC for a proposal we hold.</summary>
    private void TryDecide()
    {
        if (_slot.Commits.Quorums(_cluster.Quorum) is not { } quorums)
        {
            return;
        }

        foreach (var (view, hash) in quorums)
        {
            var sigs = _slot.Commits.Quorum(view, hash, _cluster.Quorum)!;
            if (_slot.Known.TryGetValue(hash, out var proposal))
            {
                Decide(proposal, new QuorumCertificate(view, sigs));
                return;
            }

            // A QC for a proposal we never received: fetch the decision from a peer that committed it.
            RequestCatchUp(sigs[0].Signer == _self ? sigs[1].Signer : sigs[0].Signer);
        }
    }

    /// <summary>Applies a decided proposal (validated by its QC) at the next height.</summary>
    private void Decide(Proposal proposal, QuorumCertificate qc)
    {
        var header = proposal.Header;
        if (header.Height != _decided + 1 || header.PrevHeaderHash != _lastHeaderHash)
        {
            throw new InvalidOperationException($"decision {header} does not extend height {_decided}");
        }

        ExecutionResult exec;
        if (_slot.Exec is not null && _slot.ExecHash == header.Hash)
        {
            exec = _slot.Exec;
        }
        else
        {
            DropExecution();
            exec = ExecuteCertified(proposal);
        }

        exec.Transaction.Complete();
        var decision = new Decision(proposal, qc);
        LogDecision(decision);
        QueueOutbound(decision);
        ApplyDecided(decision, exec.Inputs);
        _outbox.Decided(decision);
    }

    /// <summary>
    /// Decides a certified decision learned as its header and inputs (catch-up): the outputs are this node's execution of
    /// them, whose root the header certifies, so the decision kept and served is the quorum's byte for byte.
    /// </summary>
    private void DecideFromInputs(DecisionHeader header, ReadOnlyMemory<byte> inputs, QuorumCertificate qc)
    {
        if (_slot.Known.TryGetValue(header.Hash, out var known))
        {
            Decide(known, qc);
            return;
        }

        if (_slot.Exec is not { } exec || _slot.ExecHash != header.Hash)
        {
            DropExecution();
            exec = ExecuteCertified(header, inputs);
            _slot.Exec = exec;
            _slot.ExecHash = header.Hash;
        }

        Decide(new Proposal(header, inputs, exec.Outputs), qc);
    }

    private ExecutionResult ExecuteCertified(Proposal proposal) => ExecuteCertified(proposal.Header, proposal.Inputs);

    /// <summary>
    /// Executes inputs whose header a quorum certified. Outputs that differ from the header mean this node's
    /// state or code diverged from the quorum's: a broken invariant, not a message to drop.
    /// </summary>
    private ExecutionResult ExecuteCertified(DecisionHeader header, ReadOnlyMemory<byte> inputs)
    {
        var exec = _executor.Execute(_state, header.Height, ProposalInputs.Parse(inputs), StateRootFor(header.Height));
        if (Proposal.OutputsRoot(exec.Outputs) != header.OutputsRoot || exec.StateRoot != header.StateRoot)
        {
            exec.Transaction.Rollback();
            throw new InvalidOperationException($"{NodeId}: execution of certified decision {header} diverges from its header");
        }

        return exec;
    }

    /// <summary>Moves the chain head to <paramref name="decision"/> and keeps it in the bounded log.</summary>
    private void AdvanceChain(Decision decision)
    {
        _decided = decision.Height;
        _lastHeader = decision.Header;
        _lastHeaderHash = decision.Header.Hash;
        _lastQc = decision.Qc;
        _log.Add(decision);
        if (_log.Count > _options.RetainDecisions)
        {
            _log.RemoveRange(0, _log.Count - _options.RetainDecisions);
        }

        if (_snapshotFetch is { } fetch && fetch.Height <= _decided)
        {
            // Decisions overtook the snapshot being fetched: it can only move the chain back.
            _snapshotFetch = null;
        }
    }

    /// <summary>Bookkeeping after the state reflects <paramref name="decision"/>.</summary>
    private void ApplyDecided(Decision decision, ProposalInputs inputs)
    {
        var header = decision.Header;
        AdvanceChain(decision);
        DecisionsApplied++;
        _slot.Reset();
        _backoff = 0;
        _progressSince = _now;
        _lastDecidedAt = _now;
        WithdrawSuspicion(decided: true);

        foreach (var b in inputs.Batches)
        {
            RequestsDecided += b.Requests.Count;
            _verifiedBatches.Remove(b.Digest);
            if (_poolArrivals.Remove(b.Digest))
            {
                var i = _pool.FindIndex(p => p.Digest == b.Digest);
                _poolRequests -= _pool[i].Requests.Count;
                _pool.RemoveAt(i);
            }
        }

        if (_verifiedBatches.Count > _options.MaxPoolBatches * 4)
        {
            _verifiedBatches.Clear();
            foreach (var b in _pool)
            {
                _verifiedBatches.Add(b.Digest);
            }
        }

        RefreshFlow();
        CheckpointAfterDecision(decision);

        if (_newViewForced is not null && _newViewForced.Header.Height <= _decided)
        {
            _newViewForced = null;
        }

        ProcessForcedProposal();
        ExecuteInputsAheadHeld();
        TryPropose();
    }

    private static byte[] U64Bytes(ulong value)
    {
        var bytes = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        return bytes;
    }
}
