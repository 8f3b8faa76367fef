using System.Collections.Concurrent;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.Routing;
using Heraclius.KvStore.StateMachine;
using Heraclius.KvStore.Transport;

namespace Heraclius.KvStore.Consensus;

// Between clusters: the pool of inbound compact decisions, their checks in proposals, the decided
// cursors and acknowledgements, and the queues of our own decided groups for other clusters.
public sealed partial class Replica
{
    private readonly Dictionary<string, SortedList<ulong, InboundGroup>> _inbound = new(StringComparer.Ordinal);
    private readonly Dictionary<Hash32, long> _inboundArrivals = [];
    private readonly HashSet<Hash32> _verifiedInbound = [];
    private readonly Dictionary<string, ulong> _decidedCursors = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ulong> _resumeAfter = new(StringComparer.Ordinal);
    private readonly OutboundQueues _outboundQueues = new();
    private readonly Dictionary<string, (ulong Cursor, long Since)> _inboundReadySince = new(StringComparer.Ordinal);
    private readonly HashSet<Hash32> _inboundForwarded = [];
    private ulong _inboundForwardedView = ulong.MaxValue;
    private int _inboundRoundRobin;
    // The host's memory of the groups its subscriptions verified, which this replica adds to and reads (none in
    // the simulation, which has no host).
    private VerifiedGroupCache? _nodeVerified;
    private long _inboundVerifications;

    /// <summary>This node's decision queues towards other clusters (served to their subscriptions).</summary>
    public OutboundQueues Outbound => _outboundQueues;

    /// <summary>Clusters this one exchanges groups with.</summary>
    public IReadOnlyCollection<string> PeerClusters => _executor.Routing.PeerClusters;

    /// <summary>Inbound groups whose QC and proof this replica checked itself (in proposals and peers' forwards).</summary>
    public long InboundVerifications => Interlocked.Read(ref _inboundVerifications);

    /// <summary>Inbound groups pooled, all sources.</summary>
    public int InboundPooled => _inboundArrivals.Count;

    /// <summary>The decided cursor: height of the last group from <paramref name="source"/> this cluster processed.</summary>
    public ulong InboundCursor(string source) => _decidedCursors.GetValueOrDefault(source);

    /// <summary>
    /// The height after which groups of <paramref name="source"/> are still wanted: the decided cursor, or
    /// the end of the chain already pooled. Thread-safe (read by subscription threads).
    /// </summary>
    public ulong ResumeAfter(string source) => _resumeAfter.GetValueOrDefault(source);

    /// <summary>
    /// Shares the node's cache of verified groups: a group the leader proposed (or a peer forwarded) before this
    /// node's subscription delivered it is then verified once on this node, not once here and once by the host.
    /// Safe for determinism: a digest is over the group's exact bytes, whose verdict never changes.
    /// </summary>
    internal void ShareVerifiedGroups(VerifiedGroupCache cache) => _nodeVerified = cache;

    /// <summary>
    /// A compact decision of another cluster for this one, from this node's subscription (the host
    /// verified it on its own thread) or forwarded by a peer (verified here).
    /// </summary>
    public InboundVerdict SubmitInbound(InboundGroup group, bool verified, long now)
    {
        Advance(now);
        var verdict = AdmitInbound(group, verified, -1);
        if (verdict == InboundVerdict.Accepted)
        {
            TryPropose();
        }

        return verdict;
    }

    private InboundVerdict AdmitInbound(InboundGroup group, bool verified, int from)
    {
        var source = group.Source;
        if (!_executor.Routing.IsPeer(source) || group.Decision.Group.Destination != _cluster.Id || group.Height <= group.PrevHeight)
        {
            Reject(RejectReason.InvalidInbound, from);
            return InboundVerdict.Invalid;
        }

        if (group.Height <= InboundCursor(source))
        {
            return InboundVerdict.Stale;
        }

        if (!_inbound.TryGetValue(source, out var pool))
        {
            pool = [];
            _inbound.Add(source, pool);
        }

        if (pool.ContainsKey(group.Height))
        {
            return InboundVerdict.Stale;
        }

        if (!verified && !IsVerifiedInbound(group) && !VerifyInbound(group))
        {
            Reject(RejectReason.InvalidInbound, from);
            return InboundVerdict.Invalid;
        }

        if (pool.Count >= _options.MaxInboundPooledPerSource)
        {
            // Full of later groups while an earlier one is missing: keep the lower heights, which unblock the chain.
            var highest = pool.Keys[^1];
            if (highest < group.Height)
            {
                return InboundVerdict.Overloaded;
            }

            _inboundArrivals.Remove(pool.Values[^1].Digest);
            pool.RemoveAt(pool.Count - 1);
        }

        _verifiedInbound.Add(group.Digest);
        pool.Add(group.Height, group);
        _inboundArrivals[group.Digest] = _now;
        PublishResume(source);
        return InboundVerdict.Accepted;
    }

    private bool IsVerifiedInbound(InboundGroup group) =>
        _verifiedInbound.Contains(group.Digest) || (_nodeVerified?.Contains(group.Digest) ?? false);

    /// <summary>Checks a group's QC and proof (three signatures or more); a valid one is remembered for the node's subscriptions.</summary>
    private bool VerifyInbound(InboundGroup group)
    {
        bool Check()
        {
            Interlocked.Increment(ref _inboundVerifications);
            return group.Decision.Verify(_topology, _cluster.Id, _nodeVerified?.Signatures) == CompactDecisionCheck.Valid;
        }

        // Through the node's cache when it has one: a subscription checking the same group this moment gives its verdict.
        return _nodeVerified is { } cache ? cache.Verify(group.Digest, Check) : Check();
    }

    private void OnForwardedInbound(int from, ReadOnlyMemory<byte> body)
    {
        // A view of the message, which the host owns and never writes.
        var r = CanonicalReader.Over(body);
        var bytes = r.BytesMemory(InboundGroup.MaxBytes);
        r.End();
        if (AdmitInbound(InboundGroup.Parse(bytes), verified: false, from) == InboundVerdict.Accepted)
        {
            TryPropose();
        }
    }

    private byte[] ForwardInboundMessage(InboundGroup group)
    {
        var w = Envelope.Begin(MessageType.ForwardInbound, _self, Envelope.Size(MessageType.ForwardInbound, 4 + group.Bytes.Length));
        w.Bytes(group.Bytes.Span);
        return w.Detach();
    }

    /// <summary>The pooled group that continues <paramref name="source"/>'s chain at the decided cursor, if any.</summary>
    private InboundGroup? ReadyHead(string source) =>
        _inbound.TryGetValue(source, out var pool) && pool.Count > 0 && pool.Values[0].PrevHeight == InboundCursor(source)
            ? pool.Values[0]
            : null;

    private IEnumerable<InboundGroup> ReadyHeads()
    {
        foreach (var source in _inbound.Keys)
        {
            if (ReadyHead(source) is { } head)
            {
                yield return head;
            }
        }
    }

    private bool HasReadyInbound => _inboundArrivals.Count > 0 && ReadyHeads().Any();

    /// <summary>
    /// True, on a coordinator's leader, while it holds a proposable group from one shard that newly acknowledges our
    /// groups up to some height, and another shard has not answered a group we sent it within the same heights; for
    /// at most <see cref="ReplicaOptions.InboundCoalesceMs"/> after the oldest proposable group arrived.
    /// </summary>
    /// <remarks>
    /// A coordinator's decision that starts work on two shards gets their answers a few milliseconds apart; proposing
    /// at the first alone takes a second decision for the other, which costs a whole consensus round (CPU and the
    /// users' latency). Waiting for the second turns two decisions into one. Only answers to the decisions the held
    /// group answers are waited for: a shard that owes only for later groups is not about to answer (under load every
    /// shard owes something). Shards never wait: what they send coordinators are answers, which coordinators do not
    /// answer. Only the leader's timing changes: what it proposes is as valid as ever, and the wait is bounded.
    /// </remarks>
    private bool AwaitingOwedAnswer()
    {
        if (_options.InboundCoalesceMs <= 0 || _inboundArrivals.Count == 0 || _cluster.Kind != Topology.ClusterKind.Coordinator
            || _poolRequests >= _options.BatchRequests)
        {
            return false;
        }

        // The decisions of ours each proposable group acknowledges for the first time: (acknowledged before, its ack].
        List<(ulong After, ulong UpTo)>? answered = null;
        foreach (var head in ReadyHeads())
        {
            (answered ??= []).Add((Executor.AckedHeight(_state, head.Source), head.Decision.Group.AckHeight));
        }

        if (answered is null || _now - InboundOldestAt() >= _options.InboundCoalesceMs)
        {
            return false;
        }

        foreach (var source in PeerClusters)
        {
            if (ReadyHead(source) is null && _executor.OldestUnackedHeight(_state, source) is > 0 and var owed
                && answered.Exists(range => range.After < owed && owed <= range.UpTo))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>When the oldest group that could be proposed now arrived (the batching delay counts from it).</summary>
    private long InboundOldestAt()
    {
        var oldest = _now;
        foreach (var head in ReadyHeads())
        {
            oldest = Math.Min(oldest, _inboundArrivals[head.Digest]);
        }

        return oldest;
    }

    /// <summary>Inbound groups for the next proposal: chains continued from the decided cursors, round-robin across sources.</summary>
    private List<InboundGroup> SelectInbound(out long bytes)
    {
        bytes = 0;
        var selected = new List<InboundGroup>();
        if (_inboundArrivals.Count == 0)
        {
            return selected;
        }

        var sources = _inbound.Keys.Order(StringComparer.Ordinal).ToList();
        var start = _inboundRoundRobin++ % sources.Count;
        var cursors = new Dictionary<string, ulong>(StringComparer.Ordinal);
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var s in sources)
        {
            cursors[s] = InboundCursor(s);
            index[s] = 0;
        }

        var progress = true;
        while (progress && selected.Count < _options.MaxInboundPerProposal)
        {
            progress = false;
            for (var k = 0; k < sources.Count && selected.Count < _options.MaxInboundPerProposal; k++)
            {
                var source = sources[(start + k) % sources.Count];
                var pool = _inbound[source];
                var i = index[source];
                if (i < pool.Count && pool.Values[i].PrevHeight == cursors[source])
                {
                    if (selected.Count > 0 && bytes + pool.Values[i].Bytes.Length > _options.MaxProposalInputBytes)
                    {
                        return selected;
                    }

                    bytes += pool.Values[i].Bytes.Length;
                    selected.Add(pool.Values[i]);
                    cursors[source] = pool.Values[i].Height;
                    index[source] = i + 1;
                    progress = true;
                }
            }
        }

        return selected;
    }

    /// <summary>
    /// The checks every follower makes on a proposal's inbound groups: a peer cluster's group for us,
    /// certified by its QC with a valid proof, continuing the chain from our decided cursor (as advanced
    /// by the earlier groups of the same proposal).
    /// </summary>
    private bool ValidateInbound(IReadOnlyList<InboundGroup> inbound, int from)
    {
        if (inbound.Count == 0)
        {
            return true;
        }

        var cursors = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (var group in inbound)
        {
            var source = group.Source;
            if (!cursors.TryGetValue(source, out var cursor))
            {
                cursor = InboundCursor(source);
            }

            if (!_executor.Routing.IsPeer(source) || group.Decision.Group.Destination != _cluster.Id
                || group.PrevHeight != cursor || group.Height <= cursor)
            {
                Reject(RejectReason.InvalidInbound, from);
                return false;
            }

            if (!IsVerifiedInbound(group))
            {
                if (!VerifyInbound(group))
                {
                    Reject(RejectReason.InvalidInbound, from);
                    return false;
                }

                _verifiedInbound.Add(group.Digest);
            }

            cursors[source] = group.Height;
        }

        return true;
    }

    /// <summary>Queues our decided groups for other clusters, so their subscriptions can fetch them from this node.</summary>
    private void QueueOutbound(Decision decision)
    {
        var outputs = decision.Proposal.Outputs;
        for (var i = 0; i < outputs.Count; i++)
        {
            if (_executor.Routing.IsPeer(outputs[i].Destination))
            {
                _outboundQueues.Add(outputs[i].Destination, decision.Height, decision.Proposal.Compact(decision.Qc, i).ToBytes());
            }
        }
    }

    /// <summary>
    /// After the decided state moved (a decision, a snapshot, recovery): re-read cursors and
    /// acknowledgements, drop inbound groups already processed, prune acknowledged queue entries.
    /// </summary>
    private void RefreshFlow()
    {
        foreach (var peer in _executor.Routing.PeerClusters)
        {
            var cursor = Executor.InboundCursor(_state, peer);
            _decidedCursors[peer] = cursor;
            if (_inbound.TryGetValue(peer, out var pool))
            {
                while (pool.Count > 0 && pool.Keys[0] <= cursor)
                {
                    _inboundArrivals.Remove(pool.Values[0].Digest);
                    _verifiedInbound.Remove(pool.Values[0].Digest);
                    pool.RemoveAt(0);
                }
            }

            PublishResume(peer);
            _outboundQueues.PruneThrough(peer, Executor.AckedHeight(_state, peer));
        }

        if (_verifiedInbound.Count > 4 * (_inboundArrivals.Count + _options.MaxInboundPerProposal))
        {
            _verifiedInbound.Clear();
            foreach (var pool in _inbound.Values)
            {
                foreach (var g in pool.Values)
                {
                    _verifiedInbound.Add(g.Digest);
                }
            }
        }
    }

    private void PublishResume(string source)
    {
        var end = InboundCursor(source);
        if (_inbound.TryGetValue(source, out var pool))
        {
            foreach (var g in pool.Values)
            {
                if (g.PrevHeight != end)
                {
                    break;
                }

                end = g.Height;
            }
        }

        _resumeAfter[source] = end;
    }

    private void RecoverOutbound(byte[] payload)
    {
        var compact = CompactDecision.FromBytes(payload);
        _outboundQueues.Add(compact.Group.Destination, compact.Header.Height, payload);
    }

    private IEnumerable<Storage.WalRecord> OutboundWalRecords() =>
        _outboundQueues.All().Select(e => new Storage.WalRecord((byte)WalRecordType.Outbound, e.Entry.CompactDecision));
}
