using Heraclius.KvStore.Consensus.Messages;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// An expired timer makes a suspicion, not a VIEW-CHANGE; a member changes view when f+1 other members suspect the
/// leader. Found by NodeProcessTests: a node that had not yet reached the leader after a start timed out alone,
/// moved to view 1 for good and left the cluster deciding without it (no fault left to tolerate).
/// </summary>
public sealed class LeaderSuspicionTests
{
    /// <summary>Node 3 and the leader cannot reach each other; everything else arrives.</summary>
    private static bool LeaderUnreachableFromThree(int from, int to, byte[] m) => !(from == 0 && to == 3) && !(from == 3 && to == 0);

    [Fact]
    public void FollowerThatCannotReachTheLeader_SuspectsAlone_StaysInTheView_AndVotesThereOnceLinked()
    {
        var f = new ReplicaFixture();
        var lone = f.Replicas[3];

        // A client reached only node 3; its forwards to the leader are lost.
        lone.SubmitBatch(f.Batch().Bytes, 10);
        long now = 10;
        for (; now <= 1200; now += 5)
        {
            foreach (var r in f.Replicas)
            {
                r.Tick(now);
            }

            f.Pump(now, LeaderUnreachableFromThree);
        }

        // Node 3's timer expired: it suspects the leader and showed its request to 1 and 2, through whom the
        // leader decided it. Node 3 learnt the decision by catch-up, which withdrew the suspicion.
        Assert.Equal(1, lone.LeaderSuspicions);
        Assert.Equal(0, lone.ViewChangesStarted);
        Assert.Empty(f.Outboxes[3].OfType(MessageType.ViewChange));
        Assert.All(f.Replicas, r => Assert.Equal(0UL, r.View));
        Assert.All(f.Replicas, r => Assert.False(r.InViewChange));
        Assert.All(f.Replicas, r => Assert.Equal(1UL, r.DecidedHeight));
        Assert.False(lone.SuspectsLeader);

        // Linked now: node 3 votes in view 0 for the next height, and all four decide it.
        var prepares = f.Outboxes[3].OfType(MessageType.Prepare).Count();
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, now);
        for (var end = now + 50; now <= end; now += 5)
        {
            foreach (var r in f.Replicas)
            {
                r.Tick(now);
            }

            f.Pump(now);
        }

        Assert.All(f.Replicas, r => Assert.Equal(2UL, r.DecidedHeight));
        Assert.True(f.Outboxes[3].OfType(MessageType.Prepare).Count() > prepares);
    }

    [Fact]
    public void FMembersSuspecting_MoveNobody()
    {
        var f = new ReplicaFixture();
        var r = f.Replicas[2];
        for (long now = 10; now < 5000; now += 100)
        {
            // A byzantine member says so as often as it likes, for this view and for others.
            r.OnMessage(3, ReplicaFixture.SuspicionOf(3, 0), now);
            r.OnMessage(1, ReplicaFixture.SuspicionOf(1, 7), now);
            r.Tick(now);
        }

        Assert.Equal(0UL, r.View);
        Assert.False(r.InViewChange);
        Assert.Empty(f.Outboxes[2].OfType(MessageType.ViewChange));
    }

    [Fact]
    public void FPlusOneMembersSuspecting_MoveAMemberWhoseOwnTimerDidNotExpire()
    {
        var f = new ReplicaFixture();
        var r = f.Replicas[2];
        r.OnMessage(1, ReplicaFixture.SuspicionOf(1, 0), 10);
        Assert.False(r.InViewChange);
        r.OnMessage(3, ReplicaFixture.SuspicionOf(3, 0), 11);
        Assert.True(r.InViewChange);
        Assert.Equal(1UL, r.View);
        Assert.NotEmpty(f.Outboxes[2].OfType(MessageType.ViewChange, to: 1));
    }

    [Fact]
    public void OwnSuspicionAndAnotherMembersVIEWCHANGE_MoveNobody_ASecondOtherMemberDoes()
    {
        var f = new ReplicaFixture();
        var batch = f.Batch();
        f.Replicas[1].SubmitBatch(batch.Bytes, 10);
        f.Replicas[3].SubmitBatch(batch.Bytes, 10);
        f.Replicas[1].Tick(1100);
        Assert.True(f.Replicas[1].SuspectsLeader);
        Assert.False(f.Replicas[1].InViewChange);

        // Node 3 left view 0 for a cause of its own (an equivocation shown to it alone): its VIEW-CHANGE carries its
        // own suspicion and no one else's. (One that changed view on two others' suspicions carries theirs, and moves
        // node 1 at once: SignedSuspicionTests.)
        var vc = ReplicaFixture.ViewChangeOf(3, 1, ReplicaFixture.SuspicionSignature(3, 0), []);

        // Its VIEW-CHANGE and node 1's own suspicion are one other member: f, not f+1 (it could be a lie).
        f.Replicas[1].OnMessage(3, vc, 1101);
        Assert.False(f.Replicas[1].InViewChange);
        Assert.Equal(0UL, f.Replicas[1].View);

        f.Replicas[1].OnMessage(2, ReplicaFixture.SuspicionOf(2, 0), 1102);
        Assert.True(f.Replicas[1].InViewChange);
        Assert.Equal(1UL, f.Replicas[1].View);
    }

    /// <summary>
    /// Node 1 alone cannot reach the leader and suspects it; the others decide with the leader. A byzantine member
    /// tells node 1 only that it suspects too (a status, then even its signed VIEW-CHANGE): before, node 1 counted
    /// itself and left the view alone, and the cluster went on deciding without it (no fault left to tolerate).
    /// </summary>
    [Fact]
    public void AByzantineMemberTellingOnlyALoneSuspectItSuspects_DoesNotTakeItOutOfTheView()
    {
        var f = new ReplicaFixture();
        var lone = f.Replicas[1];
        lone.SubmitBatch(f.Batch().Bytes, 10);
        lone.Tick(1100);
        Assert.True(lone.SuspectsLeader);

        lone.OnMessage(3, ReplicaFixture.SuspicionOf(3, 0), 1101);
        Assert.False(lone.InViewChange);

        // The byzantine member's own VIEW-CHANGE(1), sent to node 1 alone, is still one member: it holds no other
        // member's signed suspicion than node 1's own (which counts nowhere as f+1 with its own), and can forge none.
        var vc = ReplicaFixture.ViewChangeOf(3, 1, ReplicaFixture.SuspicionSignature(3, 0), []);
        lone.OnMessage(3, vc, 1102);
        for (long now = 1103; now < 5000; now += 100)
        {
            lone.OnMessage(3, ReplicaFixture.SuspicionOf(3, 0), now);
            lone.Tick(now);
        }

        Assert.False(lone.InViewChange);
        Assert.Equal(0UL, lone.View);
        Assert.Empty(f.Outboxes[1].OfType(MessageType.ViewChange));
    }

    [Fact]
    public void ADecision_WithdrawsTheSuspicion_SoALaterLoneSuspicionMovesNobody()
    {
        var f = new ReplicaFixture();
        var follower = f.Replicas[1];
        var batch = f.Batch();
        follower.SubmitBatch(batch.Bytes, 10);
        foreach (var i in new[] { 0, 2, 3 })
        {
            // The others idle meanwhile (nothing waits there, so their timers do not run).
            f.Replicas[i].Tick(1100);
        }

        f.SkipAll();
        follower.Tick(1100);
        Assert.True(follower.SuspectsLeader);
        var suspecting = f.Outboxes[1].OfType(MessageType.Status, to: 2).Last();
        Assert.True(ReplicaFixture.StatusSuspects(suspecting));

        // The leader was only slow: it proposes, and the height is decided.
        f.SkipAll();
        f.Replicas[0].SubmitBatch(batch.Bytes, 1101);
        f.Replicas[0].Tick(1103);
        f.Pump(1103);
        Assert.Equal(1UL, follower.DecidedHeight);
        Assert.False(follower.SuspectsLeader);
        Assert.False(ReplicaFixture.StatusSuspects(f.Outboxes[1].OfType(MessageType.Status, to: 2).Last()));

        // Another member's suspicion now is one, not f+1.
        follower.OnMessage(2, ReplicaFixture.SuspicionOf(2, 0, follower.DecidedHeight), 1104);
        Assert.False(follower.InViewChange);
        Assert.Equal(0UL, follower.View);
    }

    [Fact]
    public void CrashedLeader_EveryHonestMemberSuspects_AndTheyDecideInTheNextView()
    {
        var f = new ReplicaFixture();
        var batch = f.Batch();
        for (var i = 1; i < 4; i++)
        {
            f.Replicas[i].SubmitBatch(batch.Bytes, 10);
        }

        f.SkipAll();
        for (long now = 20; now < 3000; now += 5)
        {
            for (var i = 1; i < 4; i++)
            {
                f.Replicas[i].Tick(now);
            }

            f.Pump(now, (from, to, _) => from != 0 && to != 0);
        }

        for (var i = 1; i < 4; i++)
        {
            Assert.Equal(1UL, f.Replicas[i].View);
            Assert.False(f.Replicas[i].InViewChange);
            Assert.Equal(1UL, f.Replicas[i].DecidedHeight);
        }
    }
}
