using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.Tests.CrashFuzz;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// Review of suspicion before a view change (helper attack on its first version, 017b840): each test failed there.
/// A byzantine follower that says it suspects only to a lone suspect no longer strands it: suspicions are signed and the
/// VIEW-CHANGE relays them (<see cref="SignedSuspicionTests"/>).
/// </summary>
public sealed class SuspicionReviewAttackTests
{
    private readonly ITestOutputHelper _output;

    public SuspicionReviewAttackTests(ITestOutputHelper output) => _output = output;

    /// <summary>A batch of client-0 with a sequence far above the ones <see cref="ReplicaFixture.Batch"/> makes, so decisions of those never answer it.</summary>
    private static ClientBatch Censored() =>
        ClientBatch.Create("client-0", ReplicaFixture.T.ClusterId,
            [new ClientRequest(1_000_000, KvOperation.Put("x"u8.ToArray(), "censored"u8.ToArray()).ToBytes())], ReplicaFixture.T.ClientKeys[0]);

    /// <summary>The leader never receives a forwarded batch: it "censors" every batch that does not reach it directly.</summary>
    private static bool LeaderNeverSeesForwards(int from, int to, byte[] m) => !(to == 0 && ReplicaFixture.TypeOf(m) == MessageType.ForwardBatch);

    /// <summary>A 100 ms timeout; the censored batch in every follower's pool, shown to each other, never to the leader.</summary>
    private static ReplicaFixture EveryFollowerHoldsACensoredBatch()
    {
        var f = new ReplicaFixture(o => { o.ViewChangeTimeoutMs = 100; o.StallThresholdMs = 0; });
        var x = Censored();
        for (var i = 1; i < 4; i++)
        {
            f.Replicas[i].SubmitBatch(x.Bytes, 10);
        }

        f.Pump(10, LeaderNeverSeesForwards);
        return f;
    }

    /// <summary>
    /// The durable-install hold (Replica.DurableInstall.cs): "a node signs nothing (prepare, commit, pre-prepare,
    /// VIEW-CHANGE, NEW-VIEW) between installing a snapshot and the moment it is durable". CheckTimeouts respects
    /// it and VIEW-CHANGE messages are held, but a Status is not held (LeadsToSigning), and OnStatus now calls
    /// ChangeViewOnSuspicionOfFPlusOne, which called StartViewChange: two suspicious statuses made node 3 sign
    /// and WAL-log a VIEW-CHANGE while held. Now suspicions count only once the hold is over.
    /// </summary>
    [Fact]
    public void SuspicionStatusesDuringAnInstallHold_SignNothing()
    {
        var store = new ScriptedSnapshotStore(true);
        var f = CatchUpScenario.InstallSnapshotEight(store, out var now);
        var node = f.Replicas[3];
        Assert.True(node.VotesHeld);
        var before = f.Outboxes[3].Sent.Count;

        node.OnMessage(1, ReplicaFixture.SuspicionOf(1, 0, 14), now + 1);
        node.OnMessage(2, ReplicaFixture.SuspicionOf(2, 0, 14), now + 2);

        Assert.True(node.VotesHeld);
        var signed = f.Outboxes[3].Sent.Skip(before).Select(s => ReplicaFixture.TypeOf(s.Message))
            .Where(t => t is MessageType.PrePrepare or MessageType.Prepare or MessageType.Commit or MessageType.ViewChange or MessageType.NewView)
            .ToList();
        _output.WriteLine($"signed while held: {string.Join(", ", signed)}; view {node.View}, in view change {node.InViewChange}");
        Assert.Empty(signed);
    }

    /// <summary>
    /// Starvation path, leader-chosen phase. The leader decides its own traffic and never proposes batch X,
    /// which every follower holds. A decision withdraws each follower's suspicion and its next tick re-raises
    /// it, so a follower suspects only from its tick to the next decision. A leader that lets a decision land
    /// right after each follower's tick (here 3 decisions per follower tick period) keeps the three suspicion
    /// windows disjoint: at every tick the others' last status says "not suspecting", and when a "suspecting"
    /// status arrives the receiver has already withdrawn. f+1 is never seen; X is censored for good.
    /// Before 017b840 each follower sent VIEW-CHANGE(1) at its first starved tick. Now a decision does not withdraw
    /// a starvation suspicion; only the input getting in does.
    /// </summary>
    [Fact]
    public void CensoringLeader_DecidingRightAfterEachFollowersTick_IsStillLeft()
    {
        var f = EveryFollowerHoldsACensoredBatch();
        long now = 20;
        for (; now < 4000 && !f.Replicas.Skip(1).Any(r => r.InViewChange || r.View > 0); now += 6)
        {
            for (var i = 1; i < 4; i++)
            {
                // Follower i ticks (it suspects and says so; its statuses arrive)...
                f.Replicas[i].Tick(now + 2 * (i - 1));
                f.Pump(now + 2 * (i - 1), LeaderNeverSeesForwards);

                // ...and the leader's next decision lands just after.
                var t = now + 2 * (i - 1) + 1;
                f.Replicas[0].SubmitBatch(f.Batch().Bytes, t);
                f.Replicas[0].Tick(t);
                f.Pump(t, LeaderNeverSeesForwards);
            }
        }

        _output.WriteLine($"at {now}: height {f.Replicas[1].DecidedHeight}, suspicions {string.Join(",", f.Replicas.Select(r => r.LeaderSuspicions))}, "
                          + $"views {string.Join(",", f.Replicas.Select(r => r.View))}, X still pooled at 1: {f.Replicas[1].PoolBatches}");
        Assert.True(f.Replicas.Skip(1).Any(r => r.InViewChange || r.View > 0), "the censoring leader was never left");
    }

    /// <summary>Control: the same censoring leader, decisions every 5 ms, every follower ticking each ms: f+1 is reached.</summary>
    [Fact]
    public void CensoringLeader_OrdinaryPhases_IsLeft()
    {
        var f = EveryFollowerHoldsACensoredBatch();
        long now = 20;
        for (; now < 4000 && !f.Replicas.Skip(1).All(r => r.View > 0); now++)
        {
            if (now % 5 == 0 && f.Replicas[0].View == 0 && !f.Replicas[0].InViewChange)
            {
                f.Replicas[0].SubmitBatch(f.Batch().Bytes, now);
            }

            foreach (var r in f.Replicas)
            {
                r.Tick(now);
            }

            f.Pump(now, LeaderNeverSeesForwards);
        }

        _output.WriteLine($"left view 0 by {now}; suspicions {string.Join(",", f.Replicas.Select(r => r.LeaderSuspicions))}");
        Assert.All(f.Replicas.Skip(1), r => Assert.True(r.View > 0));
    }

    /// <summary>
    /// Cost of the toggle: "shows its waiting requests and groups to every peer once" and LeaderSuspicions "at most
    /// once per view". Under starvation each decision withdrew the suspicion, so each next tick counted a new
    /// suspicion, logs it (Information) and re-broadcasts up to 64 batches and 64 inbound groups to every peer.
    /// Here only node 1 holds X for the first 4 timeouts (the others learn it from node 1's first showing and starve
    /// 4 timeouts later); decisions every 5 ms.
    /// </summary>
    [Fact]
    public void StarvedFollower_SuspectsAndShowsItsPoolOncePerView_NotOncePerDecision()
    {
        var f = new ReplicaFixture(o => { o.ViewChangeTimeoutMs = 100; o.StallThresholdMs = 0; });
        var x = Censored();
        f.Replicas[1].SubmitBatch(x.Bytes, 10);
        f.Pump(10, LeaderNeverSeesForwards);
        var forwardsBefore = f.Outboxes[1].OfType(MessageType.ForwardBatch, to: 2).Count();
        for (long now = 20; now < 780; now++)
        {
            if (now % 5 == 0)
            {
                f.Replicas[0].SubmitBatch(f.Batch().Bytes, now);
            }

            foreach (var r in f.Replicas)
            {
                r.Tick(now);
            }

            f.Pump(now, LeaderNeverSeesForwards);
        }

        var forwards = f.Outboxes[1].OfType(MessageType.ForwardBatch, to: 2).Count() - forwardsBefore;
        _output.WriteLine($"height {f.Replicas[1].DecidedHeight}, node 1 suspicions {f.Replicas[1].LeaderSuspicions}, forwards of its pool to node 2: {forwards}, views {string.Join(",", f.Replicas.Select(r => r.View))}");
        Assert.Equal(0UL, f.Replicas[1].View);
        Assert.True(f.Replicas[1].LeaderSuspicions <= 1, $"{f.Replicas[1].LeaderSuspicions} suspicions of one view");
        Assert.True(forwards <= 2, $"{forwards} re-broadcasts of the pool");
    }
}
