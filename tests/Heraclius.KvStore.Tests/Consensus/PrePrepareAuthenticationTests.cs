using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Decisions;
using Heraclius.Testing.Faults;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// A pre-prepare is authenticated by the leader's prepare it carries (over the header, whose digests cover
/// the inputs and outputs), not by an envelope signature; followers count that prepare as the leader's.
/// </summary>
public sealed class PrePrepareAuthenticationTests
{
    private static readonly Simulation.TestTopology T = ReplicaFixture.T;

    private static (ReplicaFixture F, byte[] PrePrepare) LeaderProposes()
    {
        var f = new ReplicaFixture();
        f.SkipAll();
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, 10);
        f.Replicas[0].Tick(12);
        return (f, f.Outboxes[0].OfType(MessageType.PrePrepare, to: 1).First());
    }

    private static (ulong View, Proposal Proposal, byte[] Signature) Read(ReplicaFixture f, byte[] prePrepare)
    {
        var (view, proposal) = f.ProposalOf(prePrepare);
        return (view, proposal, PrePrepareMessage.Read(Envelope.Open(prePrepare).Body).PrepareSignature);
    }

    private static Proposal Twin(Proposal p) => ByzantineRewriter.Twin(p);

    [Fact]
    public void TheLeaderSendsNoSeparatePrepare_AndAFollowerCountsTheOneInThePrePrepare()
    {
        var (f, prePrepare) = LeaderProposes();
        Assert.Equal([1, 2, 3], f.Outboxes[0].Sent.Where(s => ReplicaFixture.TypeOf(s.Message) == MessageType.PrePrepare).Select(s => s.To).Distinct().Order());
        Assert.Empty(f.Outboxes[0].OfType(MessageType.Prepare));

        // The leader's prepare (in the pre-prepare), member 1's own and member 2's: a prepared certificate.
        f.Replicas[2].OnMessage(0, f.Outboxes[0].OfType(MessageType.PrePrepare, to: 2).First(), 13);
        f.Replicas[1].OnMessage(0, prePrepare, 13);
        Assert.Empty(f.Outboxes[1].OfType(MessageType.Commit));
        f.Replicas[1].OnMessage(2, f.Outboxes[2].OfType(MessageType.Prepare, to: 1).First(), 14);
        Assert.Equal(3, f.Outboxes[1].OfType(MessageType.Commit).Count());

        f.Pump(15);
        Assert.All(f.Replicas, r => Assert.Equal(1UL, r.DecidedHeight));
        Assert.All(f.Replicas, r => Assert.Empty(r.Rejections));
    }

    [Fact]
    public void APrePrepareWhoseSignatureIsNotTheLeadersPrepareOfItsHeader_IsRefused_AndChangesNothing()
    {
        var (f, prePrepare) = LeaderProposes();
        var (view, proposal, signature) = Read(f, prePrepare);
        byte[][] forged =
        [
            // Another header under the leader's signature of this one.
            PrePrepareMessage.Encode(0, view, Twin(proposal), signature),
            // Another view: the view is part of the signed statement.
            PrePrepareMessage.Encode(0, view + 1, proposal, signature),
            // Signed by member 2, sent as the leader's.
            PrePrepareMessage.Sign(T.ClusterId, 0, view, proposal, T.NodeKeys[2]),
            // The leader's commit signature, not its prepare.
            PrePrepareMessage.Encode(0, view, proposal, T.NodeKeys[0].Sign(VoteStatement.Bytes(VoteKind.Commit, T.ClusterId, view, proposal.Header.Height, proposal.Header.Hash))),
        ];

        var r = f.Replicas[1];
        foreach (var m in forged)
        {
            r.OnMessage(0, m, 13);
        }

        Assert.Equal(forged.Length, r.Rejections[RejectReason.BadSignature]);
        Assert.DoesNotContain(f.Outboxes[1].Sent, s => ReplicaFixture.TypeOf(s.Message) is MessageType.Prepare or MessageType.Commit);
        Assert.False(r.InViewChange);

        r.OnMessage(0, prePrepare, 14);
        Assert.Equal(3, f.Outboxes[1].OfType(MessageType.Prepare).Count());
    }

    [Fact]
    public void ABodyThatDoesNotMatchTheSignedHeader_IsAnInvalidProposal_AndTheLeaderIsReplaced()
    {
        var (f, prePrepare) = LeaderProposes();
        var (view, proposal, signature) = Read(f, prePrepare);
        var twin = Twin(proposal);

        // The header the leader signed, with the twin's inputs: the signature holds, the inputs digest does not.
        var mismatched = PrePrepareMessage.Encode(0, view, new Proposal(proposal.Header, twin.Inputs, proposal.Outputs), signature);
        f.Replicas[1].OnMessage(0, mismatched, 13);
        Assert.Equal(1, f.Replicas[1].Rejections[RejectReason.InvalidProposal]);
        Assert.Empty(f.Outboxes[1].OfType(MessageType.Prepare));
        Assert.True(f.Replicas[1].InViewChange);
    }

    [Fact]
    public void TwinPrePrepares_TheClusterDecidesOneHeader_AndTheMemberGivenTheTwinCatchesUpToIt()
    {
        var (f, _) = LeaderProposes();
        var (view, proposal, _) = Read(f, f.Outboxes[0].OfType(MessageType.PrePrepare, to: 3).First());
        var twin = PrePrepareMessage.Sign(T.ClusterId, 0, view, Twin(proposal), T.NodeKeys[0]);
        f.Replicas[3].OnMessage(0, twin, 13);
        Assert.Single(f.Outboxes[3].OfType(MessageType.Prepare, to: 1));

        // Members 1 and 2 get the leader's real pre-prepare; member 3 got only the twin.
        f.Pump(14, (from, to, m) => !(from == 0 && to == 3 && ReplicaFixture.TypeOf(m) == MessageType.PrePrepare));
        Assert.All(f.Replicas, r => Assert.Equal(1UL, r.DecidedHeight));
        Assert.All(f.Replicas, r => Assert.Equal(proposal.Header.Hash, r.LastHeaderHash));
        Assert.Single(f.Replicas.Select(r => r.ComputeDecidedStateRoot()).Distinct());
    }

    /// <summary>
    /// A member that accepted the proposal and crashed before its prepare left restores it from its WAL. Member 1's
    /// prepares never reach it, so its certificate needs its own prepare (restored with the proposal) and the
    /// leader's, which now reaches it only in the re-sent pre-prepare (found in review: that copy was dropped as a
    /// duplicate proposal, and the restarted member never prepared).
    /// </summary>
    [Fact]
    public void AMemberRestartedWithTheProposal_CountsItsOwnPrepareAndTheLeadersFromTheResentPrePrepare()
    {
        var (f, _) = LeaderProposes();
        for (var i = 1; i < 4; i++)
        {
            f.Replicas[i].OnMessage(0, f.Outboxes[0].OfType(MessageType.PrePrepare, to: i).First(), 13);
        }

        f.Skip(3);
        // Its PrepareSent reached the disk (one fsync per decision: a prepare's record waits for the commit's fsync,
        // so here the disk kept it anyway); restarted after a crash in view 0, it prepares nothing new there.
        f.Wals[3].Flush();
        Assert.Equal(0UL, f.Boot(3, 14).AbstainsThroughView);
        for (long now = 15; now < 600; now += 5)
        {
            foreach (var r in f.Replicas)
            {
                r.Tick(now);
            }

            f.Pump(now, (from, to, _) => !(from == 1 && to == 3));
        }

        Assert.NotEmpty(f.Outboxes[3].OfType(MessageType.Commit));
        Assert.All(f.Replicas, r => Assert.Equal(0UL, r.View));
        Assert.All(f.Replicas, r => Assert.Equal(1UL, r.DecidedHeight));
    }
}
