using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.Storage;
using Heraclius.KvStore.Tests.Simulation;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>Real replicas of one 4-node cluster, each with in-memory storage that survives a restart, driven message by message.</summary>
internal sealed class ReplicaFixture
{
    public static readonly TestTopology T = new(4, 1);

    /// <param name="configure">Changes the options before any replica starts.</param>
    /// <param name="snapshots">The snapshot store of each node (default: in memory, durable at once).</param>
    public ReplicaFixture(Action<ReplicaOptions>? configure = null, Func<int, ISnapshotStore>? snapshots = null)
    {
        configure?.Invoke(Options);
        Snapshots = [.. Enumerable.Range(0, 4).Select(i => snapshots?.Invoke(i) ?? new MemorySnapshotStore())];
        for (var i = 0; i < 4; i++)
        {
            Boot(i, 0);
        }

        // Let every member hear from the others once (status gossip), as running nodes do within a
        // resend interval; a node that has not heard from a quorum never suspects its leader.
        for (var i = 0; i < 4; i++)
        {
            Replicas[i].Tick(Options.ResendIntervalMs);
        }

        Pump(Options.ResendIntervalMs);
    }

    private readonly int[] _delivered = new int[4];

    public ReplicaOptions Options { get; } = new() { BatchDelayMs = 1, ViewChangeTimeoutMs = 1000, ResendIntervalMs = 5 };

    public Replica[] Replicas { get; } = new Replica[4];

    public RecordingOutbox[] Outboxes { get; } = new RecordingOutbox[4];

    public MemoryWriteAheadLog[] Wals { get; } = [.. Enumerable.Range(0, 4).Select(_ => new MemoryWriteAheadLog())];

    public ISnapshotStore[] Snapshots { get; }

    /// <summary>Starts (or restarts, after a crash) node <paramref name="i"/> from its storage.</summary>
    public Replica Boot(int i, long now)
    {
        Outboxes[i] = new RecordingOutbox();
        _delivered[i] = 0;
        Replicas[i] = new Replica(T.Topology, T.ClusterId, i, T.NodeKeys[i], new KeyValueService(), Wals[i], Snapshots[i], Outboxes[i], Options);
        Replicas[i].Start(now);
        return Replicas[i];
    }

    private ulong _seq = 1;

    public ClientBatch Batch() =>
        ClientBatch.Create("client-0", T.ClusterId, [new ClientRequest(_seq++, KvOperation.Put("k"u8.ToArray(), "v"u8.ToArray()).ToBytes())], T.ClientKeys[0]);

    /// <summary>Forgets what node <paramref name="from"/> sent so far: it is never delivered.</summary>
    public void Skip(int from) => _delivered[from] = Outboxes[from].Sent.Count;

    public void SkipAll()
    {
        for (var i = 0; i < 4; i++)
        {
            Skip(i);
        }
    }

    /// <summary>Delivers everything not yet delivered, through <paramref name="filter"/> (a lossy network) or all of it, until nothing more is sent.</summary>
    public void Pump(long now, Func<int, int, byte[], bool>? filter = null)
    {
        var delivered = _delivered;
        bool progress;
        do
        {
            progress = false;
            for (var from = 0; from < 4; from++)
            {
                var sent = Outboxes[from].Sent;
                for (; delivered[from] < sent.Count; delivered[from]++)
                {
                    var (to, message) = sent[delivered[from]];
                    if (filter is null || filter(from, to, message))
                    {
                        Replicas[to].OnMessage(from, message, now);
                    }

                    progress = true;
                }
            }
        }
        while (progress);
    }
}
