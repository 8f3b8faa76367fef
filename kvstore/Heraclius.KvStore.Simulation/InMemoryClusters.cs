using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Hosting;
using Heraclius.KvStore.Routing;
using Heraclius.KvStore.Storage;
using Heraclius.KvStore.Topology;

namespace Heraclius.KvStore.Simulation;

/// <summary>
/// Every node of every cluster as a real <see cref="Replica"/> (real Ed25519, real execution), stepped
/// on one thread with a virtual clock: consensus messages go through in-memory queues, and replica j
/// of a destination reads the decision queue of node j of every source cluster (as its subscription
/// would, moving to node j+1 when that one is down or withholding). Deterministic; faults are
/// injected by the caller (nodes down, sources withholding). Counts every message and byte.
/// </summary>
public sealed class InMemoryClusters
{
    private readonly Queue<(string Cluster, int From, int To, byte[] Message)> _messages = new();

    /// <param name="serviceFactory">The service each cluster runs; the store's key-value roles when null.</param>
    public InMemoryClusters(ClusterTopology topology, IReadOnlyDictionary<string, SigningKey[]> nodeKeys, ReplicaOptions? options = null,
        Func<ClusterTopology, ClusterInfo, StateMachine.IReplicatedService>? serviceFactory = null)
    {
        serviceFactory ??= ClusterNode.DefaultService;
        Topology = topology;
        Options = options ?? DefaultOptions();
        foreach (var cluster in topology.Clusters)
        {
            var replicas = new Replica[cluster.N];
            for (var i = 0; i < cluster.N; i++)
            {
                var outbox = new Outbox(this, cluster.Id, i);
                replicas[i] = new Replica(topology, cluster.Id, i, nodeKeys[cluster.Id][i], serviceFactory(topology, cluster),
                    new MemoryWriteAheadLog(), new MemorySnapshotStore(), outbox, Options);
                replicas[i].Start(Now);
            }

            Replicas[cluster.Id] = replicas;
        }
    }

    /// <summary>The options replicas get when none are given: short timeouts and small checkpoints, for virtual time.</summary>
    public static ReplicaOptions DefaultOptions() =>
        new() { BatchDelayMs = 1, CheckpointInterval = 8, RetainDecisions = 24, ViewChangeTimeoutMs = 400, ResendIntervalMs = 50, StateBuckets = 16 };

    public ClusterTopology Topology { get; }

    public ReplicaOptions Options { get; }

    public long Now { get; private set; } = 1_000_000;

    public Dictionary<string, Replica[]> Replicas { get; } = new(StringComparer.Ordinal);

    /// <summary>Nodes (by node id) that neither send nor receive anything: crashed or cut off.</summary>
    public HashSet<string> Down { get; } = new(StringComparer.Ordinal);

    /// <summary>Source nodes (by node id) that serve nothing from their decision queues.</summary>
    public HashSet<string> Withholding { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// A slow link (fault injection): a source cluster's groups reach every destination only this many milliseconds
    /// after the source first decided them.
    /// </summary>
    public Dictionary<string, int> InboundDelayMs { get; } = new(StringComparer.Ordinal);

    /// <summary>Where and when each client request was first answered: the deciding cluster's height and the virtual time.</summary>
    public Dictionary<(string Client, ulong Seq), (ulong Height, long At)> AnsweredAt { get; } = [];

    /// <summary>Answers decided for each client, in arrival order (every replica reports; duplicates are harmless).</summary>
    public Dictionary<string, List<ClientReply>> Replies { get; } = new(StringComparer.Ordinal);

    /// <summary>Called with each client answer as the first replica of a cluster decides it.</summary>
    public Action<string, ClientReply>? OnReply { get; set; }

    public TrafficCounters Traffic { get; } = new();

    private static string Name(string cluster, int i) => $"{cluster}-n{i}";

    /// <summary>Submits a signed batch to one node (a coordinator, unless the topology has no shards).</summary>
    public SubmitOutcome Submit(string cluster, int node, ClientBatch batch)
    {
        Traffic.ClientMessages++;
        Traffic.ClientBytes += batch.Bytes.Length;
        return Replicas[cluster][node].SubmitBatch(batch.Bytes, Now);
    }

    /// <summary>Advances virtual time by <paramref name="ms"/>, delivering everything on the way.</summary>
    public void Run(int ms)
    {
        for (var t = 0; t < ms; t++)
        {
            Now++;
            DeliverMessages();
            if (t % 2 == 0)
            {
                DeliverInbound();
            }

            foreach (var (cluster, replicas) in Replicas)
            {
                for (var i = 0; i < replicas.Length; i++)
                {
                    if (!Down.Contains(Name(cluster, i)))
                    {
                        replicas[i].Tick(Now);
                    }
                }
            }
        }
    }

    /// <summary>Runs until <paramref name="done"/> holds or <paramref name="maxMs"/> of virtual time passed.</summary>
    public bool RunUntil(Func<bool> done, int maxMs = 20_000)
    {
        for (var t = 0; t < maxMs; t += 10)
        {
            if (done())
            {
                return true;
            }

            Run(10);
        }

        return done();
    }

    private void DeliverMessages()
    {
        var n = _messages.Count;
        for (var k = 0; k < n; k++)
        {
            var (cluster, from, to, message) = _messages.Dequeue();
            if (!Down.Contains(Name(cluster, from)) && !Down.Contains(Name(cluster, to)))
            {
                Replicas[cluster][to].OnMessage(from, message, Now);
            }
        }
    }

    private void DeliverInbound()
    {
        foreach (var (destination, replicas) in Replicas)
        {
            for (var j = 0; j < replicas.Length; j++)
            {
                if (Down.Contains(Name(destination, j)))
                {
                    continue;
                }

                foreach (var source in replicas[j].PeerClusters)
                {
                    var sources = Replicas[source];
                    var served = sources[j % sources.Length];
                    if (Down.Contains(served.NodeId) || Withholding.Contains(served.NodeId))
                    {
                        served = sources[(j + 1) % sources.Length];
                        if (Down.Contains(served.NodeId) || Withholding.Contains(served.NodeId))
                        {
                            continue;
                        }
                    }

                    var delay = InboundDelayMs.GetValueOrDefault(source);
                    foreach (var e in served.Outbound.After(destination, replicas[j].ResumeAfter(source), out _))
                    {
                        // A height decided before the delay was set has no time recorded: it is not held.
                        if (delay > 0 && _decidedAt.TryGetValue((source, e.Height), out var decidedAt) && Now - decidedAt < delay)
                        {
                            break;
                        }

                        Traffic.InboundGroups++;
                        Traffic.InboundBytes += e.CompactDecision.Length;
                        replicas[j].SubmitInbound(InboundGroup.Parse(e.CompactDecision), verified: false, Now);
                    }
                }
            }
        }
    }

    private readonly Dictionary<string, ulong> _reportedHeight = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Cluster, ulong Height), long> _decidedAt = [];

    private void OnDecided(string cluster, Decision decision)
    {
        // The first replica of a cluster to decide a height reports its client answers, as the node a
        // client subscribes to would serve them: one client message per group.
        if (_reportedHeight.GetValueOrDefault(cluster) >= decision.Height)
        {
            return;
        }

        _reportedHeight[cluster] = decision.Height;
        if (InboundDelayMs.Count > 0)
        {
            _decidedAt[(cluster, decision.Height)] = Now;
        }

        var outputs = decision.Proposal.Outputs;
        for (var i = 0; i < outputs.Count; i++)
        {
            if (!Topology.TryGetClient(outputs[i].Destination, out _))
            {
                continue;
            }

            var bytes = decision.Proposal.Compact(decision.Qc, i).ToBytes();
            Traffic.ClientMessages++;
            Traffic.ClientBytes += bytes.Length;
            var compact = CompactDecision.FromBytes(bytes);
            if (compact.Verify(Topology, outputs[i].Destination) != CompactDecisionCheck.Valid)
            {
                throw new InvalidOperationException($"{cluster} produced an unverifiable compact decision at {decision.Height}");
            }

            if (!Replies.TryGetValue(outputs[i].Destination, out var list))
            {
                list = [];
                Replies[outputs[i].Destination] = list;
            }

            foreach (var reply in ClientReply.DecodeGroup(compact.Group.Payload.Span))
            {
                list.Add(reply);
                if (reply.Status is not (ReplyStatus.Overloaded or ReplyStatus.WindowFull))
                {
                    AnsweredAt.TryAdd((outputs[i].Destination, reply.Seq), (decision.Height, Now));
                }

                OnReply?.Invoke(outputs[i].Destination, reply);
            }
        }
    }

    /// <summary>The first answer a request got (other than overloaded or window-full), or null.</summary>
    public ClientReply? ReplyTo(string client, ulong seq) =>
        Replies.TryGetValue(client, out var list) ? list.FirstOrDefault(r => r.Seq == seq && r.Status is not (ReplyStatus.Overloaded or ReplyStatus.WindowFull)) : null;

    /// <summary>The overloaded answers a request got.</summary>
    public int OverloadedReplies(string client, ulong seq) =>
        Replies.TryGetValue(client, out var list) ? list.Count(r => r.Seq == seq && r.Status == ReplyStatus.Overloaded) : 0;

    /// <summary>
    /// Runs until every running replica of each cluster decided the same height with an empty pool,
    /// then compares their states; returns why not, or null when all agree.
    /// </summary>
    public string? Converge(int maxMs = 5_000)
    {
        foreach (var (cluster, replicas) in Replicas)
        {
            var running = replicas.Where(r => !Down.Contains(r.NodeId)).ToList();
            if (!RunUntil(() => running.Select(r => r.DecidedHeight).Distinct().Count() == 1 && running.All(r => r.PoolBatches == 0), maxMs))
            {
                return $"{cluster} heights differ: {string.Join(",", running.Select(r => r.DecidedHeight))}";
            }

            if (running.Select(r => r.ComputeDecidedStateRoot()).Distinct().Count() != 1)
            {
                return $"{cluster} replicas at height {running[0].DecidedHeight} hold different states";
            }
        }

        return null;
    }

    private sealed class Outbox(InMemoryClusters clusters, string cluster, int self) : IReplicaOutbox
    {
        public void Send(int toNodeIndex, byte[] message)
        {
            if (!clusters.Down.Contains(Name(cluster, self)))
            {
                clusters.Traffic.ConsensusMessages++;
                clusters.Traffic.ConsensusBytes += message.Length;
                clusters._messages.Enqueue((cluster, self, toNodeIndex, message));
            }
        }

        public void Decided(Decision decision) => clusters.OnDecided(cluster, decision);
    }
}
