using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Hosting;
using Heraclius.KvStore.Routing;
using Heraclius.KvStore.Storage;

namespace Heraclius.KvStore.Tests.MultiCluster;

/// <summary>
/// Every node of every cluster as a real <see cref="Replica"/>, stepped in one thread on a virtual
/// clock: consensus messages go through in-memory queues, and each replica j of a destination
/// reads the decision queue of node j of every source cluster (as its subscription would).
/// Deterministic; faults are injected by the tests (a node cut off, a source withholding).
/// </summary>
public sealed class MultiClusterHarness
{
    private readonly Queue<(string Cluster, int From, int To, byte[] Message)> _messages = new();

    public MultiClusterHarness(MultiTopology topology, ReplicaOptions? options = null)
    {
        Keys = topology;
        Options = options ?? new ReplicaOptions { BatchDelayMs = 1, CheckpointInterval = 8, RetainDecisions = 16, ViewChangeTimeoutMs = 400, ResendIntervalMs = 50, StateBuckets = 16 };
        foreach (var cluster in topology.Topology.Clusters)
        {
            var replicas = new Replica[cluster.N];
            for (var i = 0; i < cluster.N; i++)
            {
                var outbox = new Outbox(this, cluster.Id, i);
                replicas[i] = new Replica(topology.Topology, cluster.Id, i, topology.NodeKeys[cluster.Id][i], ClusterNode.DefaultService(topology.Topology, cluster),
                    new MemoryWriteAheadLog(), new MemorySnapshotStore(), outbox, Options);
                replicas[i].Start(Now);
            }

            Replicas[cluster.Id] = replicas;
        }
    }

    public MultiTopology Keys { get; }

    public ReplicaOptions Options { get; }

    public long Now { get; private set; } = 1_000_000;

    public Dictionary<string, Replica[]> Replicas { get; } = new(StringComparer.Ordinal);

    /// <summary>Nodes that neither send nor receive anything (crashed or cut off).</summary>
    public HashSet<string> Down { get; } = [];

    /// <summary>Source nodes that serve nothing from their decision queues (withholding).</summary>
    public HashSet<string> Withholding { get; } = [];

    /// <summary>Compact decisions honest replicas decided for each client, in arrival order.</summary>
    public Dictionary<string, List<ClientReply>> Replies { get; } = new(StringComparer.Ordinal);

    public long InboundDelivered { get; private set; }

    private static string Name(string cluster, int i) => $"{cluster}-n{i}";

    /// <summary>Submits a signed batch to one coordinator node.</summary>
    public SubmitOutcome Submit(string cluster, int node, ClientBatch batch) => Replicas[cluster][node].SubmitBatch(batch.Bytes, Now);

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
                        // Its subscription moved on to the next node of the source cluster.
                        served = sources[(j + 1) % sources.Length];
                        if (Down.Contains(served.NodeId) || Withholding.Contains(served.NodeId))
                        {
                            continue;
                        }
                    }

                    foreach (var e in served.Outbound.After(destination, replicas[j].ResumeAfter(source), out _))
                    {
                        InboundDelivered++;
                        replicas[j].SubmitInbound(InboundGroup.Parse(e.CompactDecision), verified: false, Now);
                    }
                }
            }
        }
    }

    private void OnDecided(string cluster, int node, Decision decision)
    {
        // One honest replica per cluster reports client answers (node 0 unless it is down; duplicates are harmless).
        var outputs = decision.Proposal.Outputs;
        for (var i = 0; i < outputs.Count; i++)
        {
            if (!Keys.Topology.TryGetClient(outputs[i].Destination, out _))
            {
                continue;
            }

            var compact = CompactDecision.FromBytes(decision.Proposal.Compact(decision.Qc, i).ToBytes());
            if (compact.Verify(Keys.Topology, outputs[i].Destination) != CompactDecisionCheck.Valid)
            {
                throw new InvalidOperationException($"{cluster}-n{node} produced an unverifiable compact decision");
            }

            if (!Replies.TryGetValue(outputs[i].Destination, out var list))
            {
                list = [];
                Replies[outputs[i].Destination] = list;
            }

            list.AddRange(ClientReply.DecodeGroup(compact.Group.Payload));
        }
    }

    /// <summary>The first answer any replica gave to a request, or null.</summary>
    public ClientReply? ReplyTo(string client, ulong seq) =>
        Replies.TryGetValue(client, out var list) ? list.FirstOrDefault(r => r.Seq == seq && r.Status != ReplyStatus.Overloaded) : null;

    /// <summary>The overloaded answers a request got.</summary>
    public int OverloadedReplies(string client, ulong seq) =>
        Replies.TryGetValue(client, out var list) ? list.Count(r => r.Seq == seq && r.Status == ReplyStatus.Overloaded) : 0;

    /// <summary>Every running replica of every cluster decided the same height with the same state.</summary>
    public void AssertConverged()
    {
        foreach (var (cluster, replicas) in Replicas)
        {
            var running = replicas.Where(r => !Down.Contains(r.NodeId)).ToList();
            Assert.True(RunUntil(() => running.Select(r => r.DecidedHeight).Distinct().Count() == 1 && running.All(r => r.PoolBatches == 0), 5_000),
                $"{cluster} heights differ: {string.Join(",", running.Select(r => r.DecidedHeight))}");
            Assert.Single(running.Select(r => r.ComputeDecidedStateRoot()).Distinct());
        }
    }

    private sealed class Outbox(MultiClusterHarness harness, string cluster, int self) : IReplicaOutbox
    {
        public void Send(int toNodeIndex, byte[] message)
        {
            if (!harness.Down.Contains(Name(cluster, self)))
            {
                harness._messages.Enqueue((cluster, self, toNodeIndex, message));
            }
        }

        public void Decided(Decision decision) => harness.OnDecided(cluster, self, decision);
    }
}
