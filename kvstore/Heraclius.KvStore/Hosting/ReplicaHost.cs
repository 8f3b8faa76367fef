using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.Routing;
using Heraclius.KvStore.Topology;
using Heraclius.KvStore.Transport;

namespace Heraclius.KvStore.Hosting;

/// <summary>
/// Runs one deterministic <see cref="Replica"/> on its own thread and connects it to the world:
/// peer messages and client batches arrive through a bounded inbox, the clock ticks in, messages
/// leave through the peer network, and decided compact decisions are served to subscribers.
/// Client signatures are verified on the caller's thread, so they use every core.
/// </summary>
public sealed class ReplicaHost : IPeerMessageHandler, IClientGateway, IDecisionFeed, IInboundSink, INodeStatusSource, IReplicaOutbox, IAsyncDisposable
{
    private readonly Channel<HostEvent> _inbox;
    private readonly ReplicaHostOptions _options;
    private readonly ClusterTopology _topology;
    private readonly string _clusterId;
    private readonly TimeProvider _time;
    private readonly object _feedLock = new();
    private readonly LinkedList<Decision> _history = new();
    private readonly Dictionary<string, List<Channel<ReadOnlyMemory<byte>>>> _subscribers = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly VerifiedGroupCache _verifiedGroups = new();
    private Replica? _replica;
    private IPeerNetwork? _network;
    private Task? _loop;
    private Task? _ticker;
    private volatile ReplicaSnapshot? _snapshot;
    private long _ticks;
    private volatile int _poolBatches;
    private int _maxPool = int.MaxValue;

    public ReplicaHost(ClusterTopology topology, string clusterId, ReplicaHostOptions? options = null, TimeProvider? time = null)
    {
        _options = options ?? new ReplicaHostOptions();
        _topology = topology;
        _clusterId = clusterId;
        _time = time ?? TimeProvider.System;
        _inbox = Channel.CreateBounded<HostEvent>(new BoundedChannelOptions(_options.InboxCapacity)
        {
            SingleReader = true,

            // Wait mode makes TryWrite report a full inbox (DropWrite would drop silently and say yes).
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    private long _droppedInbound;

    public long DroppedInbound => Interlocked.Read(ref _droppedInbound);

    private long _inboundVerifications;

    /// <summary>
    /// Inbound compact decisions this node verified (QC and proof), valid or not: on its subscriptions' threads and
    /// in its replica (proposals and peers' forwards). A copy already verified on this node is not counted again.
    /// </summary>
    public long InboundVerifications => Interlocked.Read(ref _inboundVerifications) + (_replica?.InboundVerifications ?? 0);

    /// <summary>Commit signatures of inbound QCs this node had verified before (in another copy's QC), so not again.</summary>
    public long InboundSignaturesRemembered => _verifiedGroups.Signatures.Hits;

    public Replica Replica => _replica ?? throw new InvalidOperationException("not started");

    /// <summary>After <see cref="DisposeAsync"/> (the replica handles nothing more): see <see cref="Replica.RecordCleanStop"/>.</summary>
    internal void RecordCleanStop() => _replica?.RecordCleanStop();

    private long Now => _time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Binds the replica (constructed with this host as its outbox) and the network, recovers, and starts the thread.</summary>
    public void Start(Replica replica, IPeerNetwork network, int maxPoolBatches)
    {
        // An idle replica steps once per tick; ticks as far apart as the stall threshold would read as pauses
        // and stop its timers.
        if (replica.StallThresholdMs > 0 && 4L * _options.TickIntervalMs > replica.StallThresholdMs)
        {
            throw new ArgumentException($"the tick interval ({_options.TickIntervalMs} ms) must be at most a quarter of the replica's stall threshold ({replica.StallThresholdMs} ms)");
        }

        _replica = replica;
        replica.ShareVerifiedGroups(_verifiedGroups);
        _network = network;
        _maxPool = maxPoolBatches;
        replica.Start(Now);
        PublishStatus();
        _loop = Task.Factory.StartNew(RunLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
        _ticker = Task.Run(TickLoop);
    }

    private async Task TickLoop()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(_options.TickIntervalMs), _time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                _inbox.Writer.TryWrite(new HostEvent.Tick());
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task RunLoop()
    {
        var reader = _inbox.Reader;
        var replica = Replica;
        var lastStepEnd = Now;
        var gcPausedInLastStep = 0L;
        try
        {
            while (await reader.WaitToReadAsync(_stop.Token))
            {
                while (reader.TryRead(out var e))
                {
                    // How long the replica did not run before this step: the gap since its last step ended
                    // (ticks come every ms, so a longer gap means this thread or the process was not running)
                    // and the GC pauses that stopped the last step. Never the steps' own running time.
                    var start = Now;
                    var paused = start - lastStepEnd + gcPausedInLastStep;
                    if (paused > replica.StallThresholdMs && replica.StallThresholdMs > 0)
                    {
                        replica.OnPaused(paused, start);
                    }

                    var gcBefore = GC.GetTotalPauseDuration();
                    switch (e)
                    {
                        case HostEvent.PeerMessage m:
                            replica.OnMessage(m.From, m.Bytes, Now);
                            break;
                        case HostEvent.Batch b:
                            replica.SubmitBatch(b.Value, signatureVerified: true, Now);
                            break;
                        case HostEvent.Inbound i:
                            replica.SubmitInbound(i.Group, verified: true, Now);
                            break;
                        case HostEvent.Tick:
                            replica.Tick(Now);
                            _poolBatches = replica.PoolBatches;
                            if (++_ticks % PublishEveryTicks == 0)
                            {
                                PublishStatus();
                            }

                            break;
                        case HostEvent.Query q:
                            q.Action(replica);
                            break;
                        case HostEvent.Stop:
                            return;
                    }

                    lastStepEnd = Now;
                    gcPausedInLastStep = (long)(GC.GetTotalPauseDuration() - gcBefore).TotalMilliseconds;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private int PublishEveryTicks => Math.Max(1, 20 / _options.TickIntervalMs);

    /// <summary>The replica's latest published counters (about every 20 ms); null before start.</summary>
    public ReplicaSnapshot? Snapshot => _snapshot;

    private void PublishStatus()
    {
        var r = Replica;
        _poolBatches = r.PoolBatches;
        var status = new NodeStatus(r.NodeId, r.ClusterId, Environment.ProcessId, r.View, r.DecidedHeight, r.LeaderIndex, r.IsLeader,
            r.CheckpointHeight, r.PoolRequests, r.Lag);
        _snapshot = new ReplicaSnapshot(status, r.InViewChange, r.DecisionsApplied, r.RequestsDecided, r.ViewChangesStarted, r.LeaderSuspicions, r.SnapshotsInstalled,
            (long?)r.AbstainsThroughView, r.ProposalsAbstained, r.WalCompactionsSkipped, r.WalCompactionsFailed,
            new Dictionary<RejectReason, long>(r.Rejections), Now);
    }

    public void OnPeerMessage(int fromNodeIndex, ReadOnlyMemory<byte> message)
    {
        if (!_inbox.Writer.TryWrite(new HostEvent.PeerMessage(fromNodeIndex, message)))
        {
            Interlocked.Increment(ref _droppedInbound);
        }
    }

    public SubmitResult Submit(ReadOnlyMemory<byte> batch)
    {
        ClientBatch parsed;
        try
        {
            // No copy: the gateway's buffer may be kept (protobuf copied it out of the transport's buffer once).
            parsed = ClientBatch.Parse(batch);
        }
        catch (MalformedMessageException e)
        {
            return SubmitResult.Rejected(SubmitErrorCodes.Malformed, e.Message);
        }

        if (parsed.Cluster != _clusterId)
        {
            return SubmitResult.Rejected("wrong_cluster", $"this node belongs to cluster {_clusterId}");
        }

        if (!_topology.TryGetClient(parsed.ClientId, out var client))
        {
            return SubmitResult.Rejected(SubmitErrorCodes.UnknownClient, $"client {parsed.ClientId} is not registered");
        }

        if (!parsed.VerifySignature(client.PublicKey))
        {
            return SubmitResult.Rejected(SubmitErrorCodes.BadSignature, "the batch signature does not verify");
        }

        if (_poolBatches >= _maxPool || !_inbox.Writer.TryWrite(new HostEvent.Batch(parsed)))
        {
            return SubmitResult.Rejected(SubmitErrorCodes.Overloaded, "the node is at capacity; retry later");
        }

        return SubmitResult.Ok;
    }

    public ulong ResumeAfter(string sourceCluster) => Replica.ResumeAfter(sourceCluster);

    public InboundVerdict Offer(string sourceCluster, ReadOnlyMemory<byte> compactDecision)
    {
        InboundGroup group;
        try
        {
            // No copy: the frame's bytes are the sink's to keep (protobuf copied them out of the transport's buffer once).
            group = InboundGroup.Parse(compactDecision);
        }
        catch (MalformedMessageException)
        {
            return InboundVerdict.Invalid;
        }

        if (group.Source != sourceCluster || !Replica.PeerClusters.Contains(sourceCluster))
        {
            return InboundVerdict.Invalid;
        }

        if (group.Height <= Replica.ResumeAfter(sourceCluster))
        {
            return InboundVerdict.Stale;
        }

        // Verified here, on the subscription's thread, so the consensus thread only checks the chain; once per
        // node, though f+1 (or more) subscriptions deliver each group.
        if (!_verifiedGroups.Contains(group.Digest) && !_verifiedGroups.Verify(group.Digest, () =>
            {
                Interlocked.Increment(ref _inboundVerifications);
                return group.Decision.Verify(_topology, _clusterId, _verifiedGroups.Signatures) == CompactDecisionCheck.Valid;
            }))
        {
            return InboundVerdict.Invalid;
        }

        var continues = group.PrevHeight == Replica.ResumeAfter(sourceCluster);
        if (!_inbox.Writer.TryWrite(new HostEvent.Inbound(group)))
        {
            return InboundVerdict.Overloaded;
        }

        return continues ? InboundVerdict.Accepted : InboundVerdict.Ahead;
    }

    /// <summary>Runs <paramref name="query"/> on the replica's thread (for tests and diagnostics).</summary>
    public async Task<T> QueryAsync<T>(Func<Replica, T> query)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        await _inbox.Writer.WriteAsync(new HostEvent.Query(r =>
        {
            try
            {
                done.SetResult(query(r));
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }));
        return await done.Task;
    }

    public NodeStatus GetStatus() => _snapshot?.Status ?? throw new InvalidOperationException("not started");

    void IReplicaOutbox.Send(int toNodeIndex, byte[] message) => _network!.Send(toNodeIndex, message);

    void IReplicaOutbox.Decided(Decision decision)
    {
        lock (_feedLock)
        {
            _history.AddLast(decision);
            if (_history.Count > _options.FeedHistory)
            {
                _history.RemoveFirst();
            }

            var outputs = decision.Proposal.Outputs;
            for (var i = 0; i < outputs.Count; i++)
            {
                if (_subscribers.TryGetValue(outputs[i].Destination, out var subs) && subs.Count > 0)
                {
                    ReadOnlyMemory<byte> bytes = decision.Proposal.Compact(decision.Qc, i).ToBytes();
                    foreach (var s in subs)
                    {
                        if (!s.Writer.TryWrite(bytes))
                        {
                            s.Writer.TryComplete(new InvalidOperationException("subscriber too slow"));
                        }
                    }
                }
            }
        }
    }

    public IAsyncEnumerable<ReadOnlyMemory<byte>> Subscribe(string destination, ulong afterHeight, CancellationToken ct) =>
        Replica.PeerClusters.Contains(destination) ? SubscribeQueue(destination, afterHeight, ct) : SubscribeFeed(destination, afterHeight, ct);

    /// <summary>Another cluster's subscription: served from the queue of unacknowledged groups, then live.</summary>
    private async IAsyncEnumerable<ReadOnlyMemory<byte>> SubscribeQueue(string destination, ulong afterHeight, [EnumeratorCancellation] CancellationToken ct)
    {
        var queues = Replica.Outbound;
        var last = afterHeight;
        while (!ct.IsCancellationRequested)
        {
            var entries = queues.After(destination, last, out var changed);
            foreach (var e in entries)
            {
                yield return e.CompactDecision;
                last = e.Height;
            }

            if (entries.Count == 0)
            {
                await changed.WaitAsync(ct);
            }
        }
    }

    /// <summary>A client's subscription: recent decisions from memory, then live.</summary>
    private async IAsyncEnumerable<ReadOnlyMemory<byte>> SubscribeFeed(string destination, ulong afterHeight, [EnumeratorCancellation] CancellationToken ct)
    {
        var channel = Channel.CreateBounded<ReadOnlyMemory<byte>>(new BoundedChannelOptions(_options.SubscriberBuffer) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        lock (_feedLock)
        {
            foreach (var d in _history)
            {
                if (d.Height <= afterHeight)
                {
                    continue;
                }

                var outputs = d.Proposal.Outputs;
                for (var i = 0; i < outputs.Count; i++)
                {
                    if (outputs[i].Destination == destination)
                    {
                        channel.Writer.TryWrite(d.Proposal.Compact(d.Qc, i).ToBytes());
                    }
                }
            }

            if (!_subscribers.TryGetValue(destination, out var subs))
            {
                subs = [];
                _subscribers[destination] = subs;
            }

            subs.Add(channel);
        }

        try
        {
            await foreach (var item in channel.Reader.ReadAllAsync(ct))
            {
                yield return item;
            }
        }
        finally
        {
            lock (_feedLock)
            {
                _subscribers[destination].Remove(channel);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _inbox.Writer.TryWrite(new HostEvent.Stop());
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            await _loop;
        }

        if (_ticker is not null)
        {
            await _ticker;
        }

        _stop.Dispose();
    }
}
