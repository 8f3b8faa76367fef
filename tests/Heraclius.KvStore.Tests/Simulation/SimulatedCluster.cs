using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.Testing.Faults;

namespace Heraclius.KvStore.Tests.Simulation;

/// <summary>
/// A seeded, deterministic run of one cluster of real replicas over an in-memory network and a
/// virtual clock. The network drops, duplicates, delays and reorders; nodes crash (losing unflushed
/// WAL records) and restart; one node may be byzantine. Checks safety always and liveness after
/// the faults stop. A failing seed is printed and kept as a regression test.
/// </summary>
public sealed class SimulatedCluster
{
    private const int TickMs = 5;
    private readonly PriorityQueue<Action, (long Time, long Seq)> _events = new();
    private readonly Random _random;
    private readonly SimulationSettings _settings;
    private long _seq;
    private bool _healed;

    public SimulatedCluster(int seed, SimulationSettings? settings = null, TestTopology? topology = null)
    {
        Seed = seed;
        _random = new Random(seed);
        _settings = settings ?? SimulationSettings.FromSeed(seed);
        Topology = topology ?? SharedTopology.Value;
        Nodes = [.. Enumerable.Range(0, Topology.Cluster.N).Select(i => new SimulatedNode(this, i))];
        Clients = [.. Topology.Topology.Clients.Select((c, i) => new SimulatedClient(c.Id, Topology.ClusterId, Topology.ClientKeys[i]))];
        if (_settings.ByzantineNode >= 0)
        {
            Nodes[_settings.ByzantineNode].Byzantine = new ByzantineRewriter(_settings.Byzantine, Topology.NodeKeys[_settings.ByzantineNode],
                Topology.ClusterId, _settings.ByzantineNode, new Random(seed * 31 + 7));
        }
    }

    private static readonly Lazy<TestTopology> SharedTopology = new(() => new TestTopology(4, 2));

    public int Seed { get; }

    public long Now { get; private set; }

    public TestTopology Topology { get; }

    public ReplicaOptions Options { get; } = SimulationOptions();

    /// <summary>
    /// <see cref="NewOptions"/> with checkpoints every 2 decisions and the 6 decisions (3 intervals) kept that this
    /// allows. A member points a lagging peer at its snapshot only once it pruned the decisions the peer needs, so a
    /// peer installs snapshots only when more than <see cref="ReplicaOptions.RetainDecisions"/> behind; with the root
    /// of a checkpoint certified an interval later, that is at least 3 intervals, and with 4 decisions an interval a
    /// seed's ~27 heights left no node that far behind: no snapshot was installed in seeds 1..40 (6 before the
    /// deferred root, with 4 kept). Still an interval of more than one decision: the capture of a checkpoint outlives
    /// the writes of the decision after it, and a node crashes between a checkpoint and its certifier.
    /// </summary>
    public static ReplicaOptions SimulationOptions()
    {
        var options = NewOptions();
        options.CheckpointInterval = 2;
        options.RetainDecisions = 6;
        return options;
    }

    /// <summary>Small batches, checkpoints every 4 decisions and 16 buckets, short timeouts: many heights, snapshots and view changes per seed.</summary>
    public static ReplicaOptions NewOptions() => new()
    {
        BatchRequests = 16,
        BatchDelayMs = 2,
        MaxProposalRequests = 64,
        CheckpointInterval = 4,
        RetainDecisions = 12,
        ViewChangeTimeoutMs = 300,
        MaxViewChangeTimeoutMs = 3000,
        ResendIntervalMs = 50,
        SessionWindow = 256,
        StateBuckets = 16,
        SnapshotChunksPerReply = 5,
    };

    public SimulatedNode[] Nodes { get; }

    public SimulatedClient[] Clients { get; }

    public List<string> Violations { get; } = [];

    /// <summary>What the honest replicas alive at the end saw: evidence that the faults were really exercised.</summary>
    public long ViewChanges { get; private set; }

    public long SnapshotsInstalled { get; private set; }

    public Dictionary<RejectReason, long> Rejections { get; } = [];

    /// <summary>Pre-prepares the faulty leader equivocated with (a twin header to odd members).</summary>
    public long Equivocations => Nodes.Sum(n => n.Byzantine?.Equivocations ?? 0);

    public IEnumerable<SimulatedNode> Honest => Nodes.Where(n => n.Byzantine is null);

    public override string ToString() => $"seed {Seed}: {_settings}";

    private void At(long time, Action action) => _events.Enqueue(action, (time, _seq++));

    internal void Transmit(int from, int to, byte[] message)
    {
        if (!_healed && _random.NextDouble() < _settings.DropRate)
        {
            return;
        }

        var copies = !_healed && _random.NextDouble() < _settings.DuplicateRate ? 2 : 1;
        for (var c = 0; c < copies; c++)
        {
            var delay = 1 + _random.Next(_healed ? 3 : _settings.MaxDelayMs);
            At(Now + delay, () => Nodes[to].Replica?.OnMessage(from, message, Now));
        }
    }

    internal void OnDecided(SimulatedNode node, Decision decision)
    {
        if (node.Byzantine is not null)
        {
            return;
        }

        for (var i = 0; i < decision.Proposal.Outputs.Count; i++)
        {
            var group = decision.Proposal.Outputs[i];
            var client = Clients.FirstOrDefault(c => c.Id == group.Destination);
            if (client is null)
            {
                Violations.Add($"output group for unknown destination {group.Destination}");
                continue;
            }

            // Clients take answers only from compact decisions they verified themselves.
            var compact = CompactDecision.FromBytes(decision.Proposal.Compact(decision.Qc, i).ToBytes());
            if (compact.Verify(Topology.Topology, client.Id) != CompactDecisionCheck.Valid)
            {
                Violations.Add($"honest node {node.Index} produced an unverifiable compact decision at {decision.Height}");
                continue;
            }

            foreach (var reply in ClientReply.DecodeGroup(compact.Group.Payload.Span))
            {
                client.Accept(reply);
            }
        }
    }

    /// <summary>Runs the whole scenario and returns the violations found (empty when safe and live).</summary>
    public List<string> Run(int maxSettleMs = 30_000)
    {
        foreach (var n in Nodes)
        {
            n.Boot(0);
        }

        for (var i = 0; i < Nodes.Length; i++)
        {
            var node = Nodes[i];
            ScheduleTicks(node, i);
        }

        ScheduleWorkload();
        if (_settings.CrashRestart)
        {
            ScheduleCrashes();
        }

        At(_settings.FaultPhaseMs, Heal);
        var deadline = _settings.FaultPhaseMs + maxSettleMs;
        while (_events.Count > 0 && Now <= deadline)
        {
            _events.TryDequeue(out var action, out var at);
            Now = Math.Max(Now, at.Time);
            action!();
            if (_healed && Now % 100 == 0 && Settled())
            {
                break;
            }
        }

        CheckSafety();
        CheckLiveness();
        foreach (var r in Nodes.Where(n => n.Byzantine is null && n.Replica is not null).Select(n => n.Replica!))
        {
            ViewChanges += r.ViewChangesStarted;
            SnapshotsInstalled += r.SnapshotsInstalled;
            foreach (var (reason, count) in r.Rejections)
            {
                Rejections[reason] = Rejections.GetValueOrDefault(reason) + count;
            }
        }

        return Violations;
    }

    private void ScheduleTicks(SimulatedNode node, int offset)
    {
        void Tick()
        {
            node.Replica?.Tick(Now);
            At(Now + TickMs, Tick);
        }

        At(offset, Tick);
    }

    private void ScheduleWorkload()
    {
        for (var b = 0; b < _settings.Batches; b++)
        {
            var client = Clients[b % Clients.Length];
            var time = (long)(_random.NextDouble() * _settings.FaultPhaseMs);
            At(time, () =>
            {
                var batch = client.NewBatch(_random, _settings.RequestsPerBatch, 6);
                SubmitWithRetry(batch, client);
            });
        }
    }

    private void SubmitWithRetry(ClientBatch batch, SimulatedClient client)
    {
        var node = Nodes[_random.Next(Nodes.Length)];
        node.Replica?.SubmitBatch(batch.Bytes, Now);
        At(Now + 400, () =>
        {
            if (batch.Requests.Any(r => client.Pending.ContainsKey(r.Seq)))
            {
                SubmitWithRetry(batch, client);
            }
        });
    }

    private void ScheduleCrashes()
    {
        var time = 200L;
        while (time < _settings.FaultPhaseMs)
        {
            var victim = _settings.ByzantineNode >= 0 ? _settings.ByzantineNode : _random.Next(Nodes.Length);
            // Down up to 1.7 s: long enough, now and then, to fall more than the kept decisions behind (see SimulationOptions).
            var down = 100 + _random.Next(1600);
            var node = Nodes[victim];
            At(time, () => node.Crash(_random));
            At(time + down, () =>
            {
                if (!node.Alive)
                {
                    node.Boot(Now);
                }
            });
            time += down + 100 + _random.Next(600);
        }
    }

    private void Heal()
    {
        _healed = true;
        foreach (var n in Nodes.Where(n => !n.Alive))
        {
            n.Boot(Now);
        }
    }

    private bool Settled() => ClusterInvariants.Settled(Clients, [.. Honest.Select(n => n.Replica)]);

    private void CheckSafety() => ClusterInvariants.CheckSafety([.. Honest.Select(n => n.Decided)], Clients, Violations);

    private void CheckLiveness()
    {
        var pending = Clients.Sum(c => c.Pending.Count);
        if (pending > 0)
        {
            Violations.Add($"LIVENESS: {pending} requests unanswered {Now - _settings.FaultPhaseMs} ms after faults stopped");
        }

        var honest = Honest.Select(n => n.Replica!).ToList();
        var height = honest[0].DecidedHeight;
        if (honest.Any(r => r.DecidedHeight != height))
        {
            Violations.Add($"LIVENESS: honest nodes did not converge: heights {string.Join(",", honest.Select(r => r.DecidedHeight))}");
            foreach (var n in Nodes.Where(n => n.Replica is not null))
            {
                var r = n.Replica!;
                Violations.Add($"  node {n.Index}{(n.Byzantine is null ? "" : " (byzantine)")}: decided {r.DecidedHeight} view {r.View} inVC {r.InViewChange} pool {r.PoolBatches} checkpoint {r.CheckpointHeight} rejections {string.Join(" ", r.Rejections.Select(kv => $"{kv.Key}={kv.Value}"))}");
            }

            return;
        }

        var roots = honest.Select(r => r.ComputeDecidedStateRoot()).Distinct().ToList();
        if (roots.Count != 1)
        {
            Violations.Add($"SAFETY: honest nodes at height {height} hold {roots.Count} different states");
        }
    }
}
