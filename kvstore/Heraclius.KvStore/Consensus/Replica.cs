using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.StateMachine;
using Heraclius.KvStore.Storage;
using Heraclius.KvStore.Topology;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Heraclius.KvStore.Consensus;

/// <summary>
/// One member of a BFT cluster (PBFT/SmartBFT family, execute-then-vote). Deterministic and
/// single-threaded: every input (a peer message, a client batch, a clock tick) arrives through a
/// method with the current time, and every effect leaves through the outbox, the WAL and the
/// snapshot store. The same code runs over gRPC and in the seeded simulation.
/// </summary>
public sealed partial class Replica
{
    private readonly ClusterInfo _cluster;
    private readonly ClusterTopology _topology;
    private readonly int _self;
    private readonly SigningKey _key;
    private readonly ReplicaOptions _options;
    private readonly Executor _executor;
    private readonly IWriteAheadLog _wal;
    private readonly ISnapshotStore _snapshots;
    private readonly IReplicaOutbox _outbox;
    private readonly ILogger _logger;
    private readonly Dictionary<RejectReason, long> _rejections = [];
    private readonly Dictionary<RejectReason, long> _lastRejectionLog = [];

    private ReplicatedState _state;
    private long _now;
    private bool _started;

    public Replica(
        ClusterTopology topology,
        string clusterId,
        int selfIndex,
        SigningKey key,
        IReplicatedService service,
        IWriteAheadLog wal,
        ISnapshotStore snapshots,
        IReplicaOutbox outbox,
        ReplicaOptions? options = null,
        ILogger? logger = null)
    {
        _options = options ?? new ReplicaOptions();
        _options.Validate();
        _topology = topology;
        _cluster = topology.Cluster(clusterId);
        if (selfIndex < 0 || selfIndex >= _cluster.N)
        {
            throw new ArgumentOutOfRangeException(nameof(selfIndex));
        }

        if (!_cluster.Nodes[selfIndex].PublicKey.Equals(key.PublicKey))
        {
            throw new ArgumentException("the signing key does not match this node's public key in the topology", nameof(key));
        }

        _self = selfIndex;
        _key = key;
        _executor = new Executor(service, _options.SessionWindow, Routing.RoutingSettings.For(topology, clusterId, _options.OutboundWindow), _options.MaxProposalOutputBytes);
        _wal = wal;
        _snapshots = snapshots;
        _outbox = outbox;
        _logger = logger ?? NullLogger.Instance;
        _state = new ReplicatedState(_options.StateBuckets);
        _sendsInputsAhead = _options.SendInputsAhead && !(_cluster.Kind == ClusterKind.Coordinator && topology.Shards.Any());
    }

    public string ClusterId => _cluster.Id;

    public string NodeId => _cluster.Nodes[_self].Id;

    public int Index => _self;

    public ulong View => _view;

    public bool InViewChange => _inViewChange;

    public ulong DecidedHeight => _decided;

    public Hash32 LastHeaderHash => _lastHeaderHash;

    public bool IsLeader => _cluster.LeaderOf(_view) == _self && !_inViewChange;

    public int LeaderIndex => _cluster.LeaderOf(_view);

    public int PoolBatches => _pool.Count;

    public int PoolRequests => _poolRequests;

    public ulong CheckpointHeight => _checkpoint?.Height ?? 0;

    public long ViewChangesStarted { get; private set; }

    public long DecisionsApplied { get; private set; }

    public long SnapshotsInstalled { get; private set; }

    /// <summary>Saved snapshots after which the WAL was kept whole, because the decisions since the snapshot were no longer all in memory (should stay 0).</summary>
    public long WalCompactionsSkipped { get; private set; }

    /// <summary>Compacted logs that could not be written on their own thread (whatever failed there): the current log was kept whole (should stay 0).</summary>
    public long WalCompactionsFailed { get; private set; }

    public long RequestsDecided { get; private set; }

    public IReadOnlyDictionary<RejectReason, long> Rejections => _rejections;

    /// <summary>The state as of <see cref="DecidedHeight"/> plus any open speculative execution; tests compare roots only when idle.</summary>
    internal ReplicatedState State => _state;

    /// <summary>The proposal this node prepared for the undecided height (tests: a leader's lean pre-prepare carries only part of it).</summary>
    internal Proposal? AcceptedProposal => _slot.Accepted;

    /// <summary>The proposal this node holds a prepared certificate for (what its VIEW-CHANGE would carry), or null; for tests.</summary>
    internal Proposal? PreparedProposal => _slot.Prepared?.Proposal;

    /// <summary>Computes the state root of the decided state (rolls nothing back; call when no proposal is open, or compare at equal heights).</summary>
    public Hash32 ComputeDecidedStateRoot()
    {
        DropExecution();
        return _state.ComputeRoot();
    }

    /// <summary>Headers decided and still held in memory, oldest first.</summary>
    public IEnumerable<DecisionHeader> RetainedHeaders => _log.Select(d => d.Header);

    /// <summary>Recovers from the snapshot store and the WAL. Call once, before any other input.</summary>
    public void Start(long now)
    {
        if (_started)
        {
            throw new InvalidOperationException("already started");
        }

        _started = true;
        _now = now;
        Recover();
        _progressSince = now;
        _viewEnteredAt = now;
        _lastResend = now;
    }

    /// <summary>A message from peer <paramref name="from"/> (the transport authenticated the sender).</summary>
    public void OnMessage(int from, ReadOnlyMemory<byte> message, long now)
    {
        Advance(now);
        if (from < 0 || from >= _cluster.N || from == _self)
        {
            Reject(RejectReason.NonMember, from);
            return;
        }

        ResumeVotesWhenInstallDurable();
        try
        {
            Dispatch(from, message);
        }
        catch (Exception e) when (IsMalformed(e))
        {
            Reject(RejectReason.Malformed, from);
        }
    }

    /// <summary>What parsing a peer's bytes throws when they are not a valid message: the sender's fault, not ours.</summary>
    private static bool IsMalformed(Exception e) => e is MalformedMessageException or ArgumentException or OverflowException;

    private void Dispatch(int from, ReadOnlyMemory<byte> message)
    {
        var (type, sender, body) = Envelope.Open(message);
        // A NEW-VIEW is self-certifying (the leader's signature and 2f+1 VIEW-CHANGEs), so any member
        // may relay it to a peer that missed it; every other message must come from its signer.
        if ((sender != from && type != MessageType.NewView) || sender >= _cluster.N)
        {
            Reject(RejectReason.WrongSender, from);
            return;
        }

        // A VIEW-CHANGE's signature covers it without its certificate's inputs (ViewChangeMessage.Forwarded).
        var viewChange = type == MessageType.ViewChange ? ViewChangeMessage.Parse(message.ToArray()) : null;
        var signed = viewChange?.Forwarded ?? message;
        if (Envelope.IsSigned(type) && !Envelope.VerifySignature(signed.Span, _cluster.Id, _cluster.Nodes[sender].PublicKey))
        {
            Reject(RejectReason.BadSignature, from);
            return;
        }

        var inbound = new InboundMessage(from, type, sender, message, body, viewChange);
        if (!HoldForDurableInstall(inbound))
        {
            Handle(inbound);
        }
    }

    /// <summary>A message whose envelope and signature were checked.</summary>
    private void Handle(in InboundMessage m)
    {
        var (from, type, sender, message, body, _) = m;
        switch (type)
        {
            case MessageType.PrePrepare:
                OnPrePrepare(from, body);
                break;
            case MessageType.Prepare:
            case MessageType.Commit:
                OnVote(from, type == MessageType.Prepare ? VoteKind.Prepare : VoteKind.Commit, body);
                break;
            case MessageType.ViewChange:
                OnViewChange(from, m.ViewChange ?? ViewChangeMessage.Parse(message.ToArray()));
                break;
            case MessageType.NewView:
                OnNewView(from, sender, NewViewMessage.Parse(message.ToArray()));
                break;
            case MessageType.FetchDecisions:
                OnFetchDecisions(from, body);
                break;
            case MessageType.DecisionBatch:
                OnDecisionBatch(from, body);
                break;
            case MessageType.FetchSnapshot:
                OnFetchSnapshot(from, body);
                break;
            case MessageType.SnapshotChunks:
                OnSnapshotChunks(from, body);
                break;
            case MessageType.ForwardBatch:
                OnForwardedBatch(from, body);
                break;
            case MessageType.Status:
                OnStatus(from, body);
                break;
            case MessageType.ForwardInbound:
                OnForwardedInbound(from, body);
                break;
            case MessageType.InputsAhead:
                OnInputsAhead(from, body);
                break;
            default:
                Reject(RejectReason.Malformed, from);
                break;
        }
    }

    /// <summary>A client's signed batch, from a client connection or forwarded by a peer; kept as a view of <paramref name="batchBytes"/>, which must never change.</summary>
    public SubmitOutcome SubmitBatch(ReadOnlyMemory<byte> batchBytes, long now)
    {
        Advance(now);
        ClientBatch batch;
        try
        {
            batch = ClientBatch.Parse(batchBytes);
        }
        catch (MalformedMessageException e)
        {
            return SubmitOutcome.Refused("malformed", e.Message);
        }

        return SubmitBatch(batch, signatureVerified: false, now);
    }

    /// <summary>
    /// A parsed batch. A host that already verified the client signature on another thread says so,
    /// which keeps signature checks off the single consensus thread.
    /// </summary>
    public SubmitOutcome SubmitBatch(ClientBatch batch, bool signatureVerified, long now)
    {
        Advance(now);
        if (signatureVerified)
        {
            _verifiedBatches.Add(batch.Digest);
        }

        var verdict = Admit(batch);
        if (verdict.Accepted && !IsLeader)
        {
            Send(_cluster.LeaderOf(_view), ForwardMessage(batch));
        }

        if (verdict.Accepted)
        {
            TryPropose();
        }

        return verdict;
    }

    /// <summary>Lets time pass: batching, timeouts, retransmission, catch-up.</summary>
    public void Tick(long now)
    {
        Advance(now);
        FinishWalRewriteIfReady();
        ResumeVotesWhenInstallDurable();
        TryPropose();
        CheckTimeouts();
        if (_now - _lastResend >= _options.ResendIntervalMs)
        {
            _lastResend = _now;
            Retransmit();
        }
    }

    private void Advance(long now)
    {
        if (!_started)
        {
            throw new InvalidOperationException("Start the replica first");
        }

        if (now > _now)
        {
            _now = now;
        }
    }

    private void Send(int to, byte[] message)
    {
        if (to != _self)
        {
            _outbox.Send(to, message);
        }
    }

    private void Broadcast(byte[] message)
    {
        for (var i = 0; i < _cluster.N; i++)
        {
            if (i != _self)
            {
                _outbox.Send(i, message);
            }
        }
    }

    private void Reject(RejectReason reason, int from)
    {
        _rejections[reason] = _rejections.GetValueOrDefault(reason) + 1;
        var last = _lastRejectionLog.GetValueOrDefault(reason, -(1L << 40));
        if (_now - last >= 1000)
        {
            _lastRejectionLog[reason] = _now;
            ReplicaLog.MessageRejected(_logger, NodeId, reason, from, _rejections[reason]);
        }
    }
}
