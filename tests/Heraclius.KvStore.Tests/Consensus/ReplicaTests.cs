using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Decisions;
using static Heraclius.KvStore.Tests.Decisions.CertifiedDecisionFactory;

namespace Heraclius.KvStore.Tests.Consensus;

public sealed class ReplicaTests
{
    private static readonly Heraclius.KvStore.Tests.Simulation.TestTopology T = ReplicaFixture.T;

    [Fact]
    public void NormalRound_AllReplicasDecideTheSameHeaderAndState()
    {
        var f = new ReplicaFixture();
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, 10);
        f.Replicas[0].Tick(12);
        f.Pump(12);
        Assert.All(f.Replicas, r => Assert.Equal(1UL, r.DecidedHeight));
        Assert.Single(f.Replicas.Select(r => r.LastHeaderHash).Distinct());
        Assert.Single(f.Replicas.Select(r => r.ComputeDecidedStateRoot()).Distinct());
    }

    [Fact]
    public void NodeRestartedAfterSendingViewChange_NeverVotesInTheOlderView()
    {
        var f = new ReplicaFixture();
        var batch = f.Batch();
        f.Replicas[1].SubmitBatch(batch.Bytes, 10);
        f.Replicas[1].OnMessage(2, ReplicaFixture.SuspicionOf(2, 0), 10);
        f.Replicas[1].OnMessage(3, ReplicaFixture.SuspicionOf(3, 0), 10);
        f.Replicas[1].Tick(2000);
        Assert.NotEmpty(f.Outboxes[1].OfType(MessageType.ViewChange, to: 2));

        f.Wals[1].Crash();
        var restarted = f.Boot(1, 2100);
        Assert.Equal(1UL, restarted.View);
        Assert.True(restarted.InViewChange);

        // The old leader, still in view 0, proposes the batch; the restarted node must not prepare it.
        f.Replicas[0].SubmitBatch(batch.Bytes, 2100);
        f.Replicas[0].Tick(2105);
        var prePrepare = f.Outboxes[0].OfType(MessageType.PrePrepare, to: 1).First();
        restarted.OnMessage(0, prePrepare, 2106);
        Assert.Empty(f.Outboxes[1].OfType(MessageType.Prepare));
        Assert.Empty(f.Outboxes[1].OfType(MessageType.Commit));
        Assert.Equal(1, restarted.Rejections[RejectReason.OldView]);
        Assert.Equal(0UL, restarted.DecidedHeight);
    }

    [Fact]
    public void PauseReportedByTheHost_DoesNotCountTowardsTheProgressTimer_UpToOneTimeout()
    {
        var f = new ReplicaFixture();
        var follower = f.Replicas[1];

        // The follower holds a request the leader never proposes (nothing is delivered to the leader): its own
        // timer makes it suspect the leader.
        follower.SubmitBatch(f.Batch().Bytes, 10);
        for (var t = 20L; t <= 600; t += 10)
        {
            follower.Tick(t);
        }

        // The process was paused for 700 ms: not counted.
        follower.OnPaused(700, 1300);
        follower.Tick(1300);
        Assert.False(follower.SuspectsLeader);
        Assert.Empty(f.Outboxes[1].OfType(MessageType.ViewChange, to: 2));
        Assert.Equal(1, follower.Stalls);
        Assert.Equal(700, follower.StalledMs);

        // A longer pause is credited only up to one timeout (1000 ms) in all, so the view change is late by
        // at most that: 300 more ms of credit, and the timer runs out (without the cap it would not have).
        // Before 4 timeouts from the request's arrival, so it is the progress timer, not starvation.
        follower.OnPaused(2000, 3700);
        Assert.Equal(1000, follower.StalledMs);
        follower.Tick(3700);
        Assert.True(follower.SuspectsLeader);
    }

    [Fact]
    public void PauseBelowTheThreshold_CountsAsUsual()
    {
        var f = new ReplicaFixture();
        var follower = f.Replicas[1];
        follower.SubmitBatch(f.Batch().Bytes, 10);
        follower.OnPaused(follower.StallThresholdMs, 1100);
        follower.Tick(1100);
        Assert.Equal(0, follower.Stalls);
        Assert.True(follower.SuspectsLeader);
    }

    [Fact]
    public void StallThresholdNotBelowTheTimeout_IsRefused()
    {
        // A threshold at or above the timeout would let pauses hide a dead leader's whole timeout.
        Assert.Throws<ArgumentException>(() => new ReplicaOptions { ViewChangeTimeoutMs = 1000, StallThresholdMs = 1000 }.Validate());
        Assert.Throws<ArgumentException>(() => new ReplicaOptions { StallThresholdMs = -1 }.Validate());
        new ReplicaOptions { ViewChangeTimeoutMs = 1000, StallThresholdMs = 0 }.Validate();
        new ReplicaOptions { ViewChangeTimeoutMs = 1000, StallThresholdMs = 999 }.Validate();
    }

    private static byte[] ViewChangeWithCertificate(int sender, ulong certView, ulong[] signatureViews)
    {
        var p = Proposal(T, height: 1);
        var sigs = signatureViews.Select((v, i) => Sign(T, i, VoteKind.Prepare, v, p.Header)).ToList();
        return ViewChangeMessage.Encode(sender, certView + 1, null, null, new PreparedCertificate(certView, p, sigs), T.ClusterId, T.NodeKeys[sender]);
    }

    [Fact]
    public void ViewChangeWhosePreparedCertificateMixesViews_IsRefused()
    {
        var f = new ReplicaFixture();
        var r = f.Replicas[1];
        r.OnMessage(2, ViewChangeWithCertificate(2, 0, [0, 0, 1]), 10);
        Assert.Equal(1, r.Rejections.GetValueOrDefault(RejectReason.InvalidViewChange));

        // The same certificate with all signatures of its view is accepted.
        r.OnMessage(3, ViewChangeWithCertificate(3, 0, [0, 0, 0]), 11);
        Assert.Equal(1, r.Rejections.GetValueOrDefault(RejectReason.InvalidViewChange));
    }

    [Fact]
    public void NewViewMixingViewChangesOfDifferentViews_IsRefused()
    {
        var f = new ReplicaFixture();
        var vcs = new[]
        {
            ViewChangeMessage.Parse(ViewChangeMessage.Encode(1, 1, null, null, null, T.ClusterId, T.NodeKeys[1])),
            ViewChangeMessage.Parse(ViewChangeMessage.Encode(2, 1, null, null, null, T.ClusterId, T.NodeKeys[2])),
            ViewChangeMessage.Parse(ViewChangeMessage.Encode(3, 2, null, null, null, T.ClusterId, T.NodeKeys[3])),
        };
        var nv = NewViewMessage.Encode(1, 1, vcs, null, T.ClusterId, T.NodeKeys[1]);
        f.Replicas[2].OnMessage(1, nv, 10);
        Assert.Equal(1, f.Replicas[2].Rejections.GetValueOrDefault(RejectReason.InvalidNewView));
        Assert.Equal(0UL, f.Replicas[2].View);
    }

    [Fact]
    public void BadInput_IsCountedAndChangesNothing()
    {
        var f = new ReplicaFixture();
        var r = f.Replicas[1];
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, 10);
        f.Replicas[0].Tick(12);
        var prePrepare = f.Outboxes[0].OfType(MessageType.PrePrepare, to: 1).First();

        r.OnMessage(0, new byte[] { 1, 2, 3 }, 13);
        r.OnMessage(0, new byte[] { 99, 0, 0, 0, 0, 1 }, 13);
        var badSignature = (byte[])prePrepare.Clone();
        badSignature[^1] ^= 1;
        r.OnMessage(0, badSignature, 13);
        r.OnMessage(2, prePrepare, 13);
        r.OnMessage(7, prePrepare, 13);
        var truncated = prePrepare[..(prePrepare.Length / 2)];
        r.OnMessage(0, truncated, 13);

        // A truncated pre-prepare does not parse; one with a flipped bit in its leader's prepare signature does not verify.
        Assert.Equal(3, r.Rejections[RejectReason.Malformed]);
        Assert.Equal(1, r.Rejections[RejectReason.BadSignature]);
        Assert.Equal(1, r.Rejections[RejectReason.WrongSender]);
        Assert.Equal(1, r.Rejections[RejectReason.NonMember]);
        Assert.Empty(f.Outboxes[1].OfType(MessageType.Prepare));
        Assert.Equal(0UL, r.View);
        Assert.False(r.InViewChange);

        // The genuine message still works afterwards.
        r.OnMessage(0, prePrepare, 14);
        Assert.Single(f.Outboxes[1].OfType(MessageType.Prepare, to: 0));
    }

    [Fact]
    public void ReplayedVotes_AreCountedAsDuplicatesAndChangeNothing()
    {
        var f = new ReplicaFixture();
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, 10);
        f.Replicas[0].Tick(12);
        var prePrepare = f.Outboxes[0].OfType(MessageType.PrePrepare, to: 3).First();
        f.Replicas[3].OnMessage(0, prePrepare, 13);
        var prepare = f.Outboxes[3].OfType(MessageType.Prepare, to: 1).First();

        // Before member 1 has the proposal (with it and the leader's prepare in it, member 3's would complete
        // its certificate, and a replay after that is dropped unexamined).
        f.Replicas[1].OnMessage(3, prepare, 14);
        f.Replicas[1].OnMessage(3, prepare, 14);
        Assert.Equal(1, f.Replicas[1].Rejections[RejectReason.Duplicate]);
        f.Replicas[1].OnMessage(0, prePrepare, 15);
        Assert.NotEmpty(f.Outboxes[1].OfType(MessageType.Commit, to: 0));
    }

    [Fact]
    public void APrepareAfterThisMemberCommitted_IsDroppedUnexamined_AndTheHeightStillDecides()
    {
        var f = new ReplicaFixture();
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, 10);
        f.Replicas[0].Tick(12);
        foreach (var i in new[] { 1, 2, 3 })
        {
            f.Replicas[i].OnMessage(0, f.Outboxes[0].OfType(MessageType.PrePrepare, to: i).First(), 13);
        }

        // Member 1 prepared with the leader's prepare (in its pre-prepare), member 3's and its own: it has committed.
        f.Replicas[1].OnMessage(3, f.Outboxes[3].OfType(MessageType.Prepare, to: 1).First(), 14);
        Assert.NotEmpty(f.Outboxes[1].OfType(MessageType.Commit, to: 0));

        // Member 2's prepare, even replayed, can change nothing now: not checked, so not counted either
        // (before the commit, the replay was a counted duplicate: ReplayedVotes_AreCountedAsDuplicatesAndChangeNothing).
        var late = f.Outboxes[2].OfType(MessageType.Prepare, to: 1).First();
        f.Replicas[1].OnMessage(2, late, 15);
        f.Replicas[1].OnMessage(2, late, 15);
        Assert.Equal(0, f.Replicas[1].Rejections.GetValueOrDefault(RejectReason.Duplicate));
        Assert.Equal(0UL, f.Replicas[1].DecidedHeight);

        f.Pump(16);
        Assert.All(f.Replicas, r => Assert.Equal(1UL, r.DecidedHeight));
    }

    [Fact]
    public void RestartFromWal_ReplaysToTheSameState()
    {
        var f = new ReplicaFixture();
        for (var i = 0; i < 5; i++)
        {
            f.Replicas[0].SubmitBatch(f.Batch().Bytes, 10 + (i * 10));
            f.Replicas[0].Tick(12 + (i * 10));
            f.Pump(12 + (i * 10));
        }

        var before = f.Replicas[2].ComputeDecidedStateRoot();
        var height = f.Replicas[2].DecidedHeight;
        Assert.Equal(5UL, height);
        f.Wals[2].Flush();
        var restarted = f.Boot(2, 100);
        Assert.Equal(height, restarted.DecidedHeight);
        Assert.Equal(before, restarted.ComputeDecidedStateRoot());
        Assert.Equal(f.Replicas[0].LastHeaderHash, restarted.LastHeaderHash);
    }

    [Fact]
    public void ExecutionIsDeterministic_SameInputsGiveSameOutputsAndRoot()
    {
        var f = new ReplicaFixture();
        var inputs = new StateMachine.ProposalInputs(1234, [f.Batch(), f.Batch(), f.Batch()]);
        var stateA = new StateMachine.ReplicatedState(64);
        var stateB = new StateMachine.ReplicatedState(64);
        var a = new StateMachine.Executor(new KeyValue.KeyValueService(), 64, Routing.RoutingSettings.For(ReplicaFixture.T.Topology, ReplicaFixture.T.ClusterId, 64)).Execute(stateA, 1, inputs, stateRoot: default);
        var b = new StateMachine.Executor(new KeyValue.KeyValueService(), 64, Routing.RoutingSettings.For(ReplicaFixture.T.Topology, ReplicaFixture.T.ClusterId, 64)).Execute(stateB, 1, StateMachine.ProposalInputs.Parse(inputs.ToBytes()), stateRoot: default);
        Assert.Equal(stateA.ComputeRoot(), stateB.ComputeRoot());
        Assert.Equal(KvStore.Decisions.Proposal.OutputsRoot(a.Outputs), KvStore.Decisions.Proposal.OutputsRoot(b.Outputs));
        Assert.NotEqual(new StateMachine.ReplicatedState(64).ComputeRoot(), stateA.ComputeRoot());
    }
}
