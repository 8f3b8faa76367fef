using System.Buffers.Binary;
using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Simulation;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// Service timers: deadlines fire on an idle cluster through a timestamp-only decision, only when due
/// (an empty decision that is not due is refused, so a leader cannot fill the log), and a leader that
/// stops ticking is replaced like one that stops proposing requests.
/// </summary>
public sealed class TimerTickTests
{
    private static readonly byte[] DeadlineKey = DeadlineService.DeadlineKey;
    private static readonly byte[] FiredKey = DeadlineService.FiredKey;

    private static byte[] U64(ulong v) => DeadlineService.U64(v);

    private static (InMemoryClusters Clusters, SimulatedTopology Topology) Start()
    {
        var t = new SimulatedTopology(1, 0);
        var options = new ReplicaOptions { BatchDelayMs = 1, CheckpointInterval = 8, RetainDecisions = 24, ViewChangeTimeoutMs = 400, ResendIntervalMs = 50, StateBuckets = 16, TimerTickMs = 100 };
        return (new InMemoryClusters(t.Topology, t.NodeKeys, options, (_, _) => new DeadlineService()), t);
    }

    private static void SetDeadline(InMemoryClusters h, SimulatedTopology t, ulong seq, ulong delayMs) =>
        Assert.True(h.Submit("c0", 0, ClientBatch.Create("client-0", "c0", [new ClientRequest(seq, U64(delayMs))], t.ClientKeys[0])).Accepted);

    [Fact]
    public void AnIdleClustersDeadline_FiresThroughATimestampOnlyDecision_OnEveryReplica_AndNothingElseIsDecided()
    {
        var (h, t) = Start();
        SetDeadline(h, t, 1, 2_000);
        Assert.True(h.RunUntil(() => h.ReplyTo("client-0", 1) is not null));
        var afterRequest = h.Replicas["c0"].Min(r => r.DecidedHeight);

        // Before the deadline nothing is due: an idle cluster decides nothing.
        h.Run(1_500);
        Assert.All(h.Replicas["c0"], r => Assert.Equal(afterRequest, r.DecidedHeight));
        Assert.All(h.Replicas["c0"], r => Assert.Null(r.State.Get(FiredKey)));

        h.Run(1_500);
        Assert.Null(h.Converge());
        var fired = h.Replicas["c0"].Select(r => r.State.Get(FiredKey)).ToList();
        Assert.All(fired, f => Assert.NotNull(f));
        Assert.Single(fired.Select(f => BinaryPrimitives.ReadUInt64LittleEndian(f!)).Distinct());

        // One tick fired it; with nothing due any more the cluster is idle again.
        var afterTick = h.Replicas["c0"][0].DecidedHeight;
        Assert.InRange(afterTick - afterRequest, 1UL, 2UL);
        h.Run(2_000);
        Assert.All(h.Replicas["c0"], r => Assert.Equal(afterTick, r.DecidedHeight));
        Assert.All(h.Replicas["c0"], r => Assert.Equal(0UL, r.View));
    }

    [Fact]
    public void ALeaderThatCrashesWithADeadlinePending_IsReplaced_AndTheNewLeaderFiresIt()
    {
        var (h, t) = Start();
        SetDeadline(h, t, 1, 1_000);
        Assert.True(h.RunUntil(() => h.Replicas["c0"].All(r => r.State.Get(DeadlineKey) is not null)));
        h.Down.Add("c0-n0");

        // No request waits anywhere: only the overdue deadline makes the followers suspect the leader.
        Assert.True(h.RunUntil(() => h.Replicas["c0"].Skip(1).All(r => r.State.Get(FiredKey) is not null), maxMs: 15_000));
        Assert.All(h.Replicas["c0"].Skip(1), r => Assert.True(r.View >= 1));
    }
}
