using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.Storage;
using Heraclius.Testing.Faults;

namespace Heraclius.KvStore.Tests.Simulation;

/// <summary>One simulated member: the real replica over in-memory storage that survives its crashes.</summary>
public sealed class SimulatedNode : IReplicaOutbox
{
    private readonly SimulatedCluster _sim;

    public SimulatedNode(SimulatedCluster sim, int index)
    {
        _sim = sim;
        Index = index;
    }

    public int Index { get; }

    public MemoryWriteAheadLog Wal { get; } = new();

    public MemorySnapshotStore Snapshots { get; } = new();

    public Replica? Replica { get; private set; }

    public bool Alive => Replica is not null;

    public ByzantineRewriter? Byzantine { get; set; }

    /// <summary>Every header this node ever decided, by height, across restarts.</summary>
    public Dictionary<ulong, Hash32> Decided { get; } = [];

    public void Boot(long now)
    {
        Replica = new Replica(_sim.Topology.Topology, _sim.Topology.ClusterId, Index, _sim.Topology.NodeKeys[Index],
            new KeyValueService(), Wal, Snapshots, this, _sim.Options);
        Replica.Start(now);
    }

    public void Crash(Random random)
    {
        Replica = null;
        if (random.NextDouble() < 0.5)
        {
            Wal.Crash();
        }
        else
        {
            Wal.CrashTorn(random);
        }
    }

    void IReplicaOutbox.Send(int toNodeIndex, byte[] message)
    {
        if (Byzantine is null)
        {
            _sim.Transmit(Index, toNodeIndex, message);
            return;
        }

        foreach (var m in Byzantine.Rewrite(toNodeIndex, message))
        {
            _sim.Transmit(Index, toNodeIndex, m);
        }
    }

    void IReplicaOutbox.Decided(Decision decision)
    {
        if (Decided.TryGetValue(decision.Height, out var previous) && previous != decision.Header.Hash)
        {
            _sim.Violations.Add($"node {Index} decided two headers at height {decision.Height}");
        }

        Decided[decision.Height] = decision.Header.Hash;
        _sim.OnDecided(this, decision);
    }
}
