using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Routing;
using Heraclius.KvStore.StateMachine;
using Heraclius.KvStore.Transport;

using Heraclius.KvStore.Simulation;
using Heraclius.Testing.Cluster;

namespace Heraclius.KvStore.Tests.MultiCluster;

/// <summary>
/// A shard replica offered compact decisions that claim to come from the coordinator: every forgery
/// is refused and counted, and nothing changes; a replay is stale; a gap is never processed, and a
/// leader that proposes one is replaced.
/// </summary>
public sealed class ByzantineInboundTests
{
    private static readonly MultiTopology T = new(1, 2);
    private static readonly int[] TwoSigners = [0, 1];
    private static readonly int[] DuplicateSigner = [0, 0, 1];

    private static OutputGroup ToS0(ulong prev = 0) => CertifiedGroups.Group("s0", prev, CertifiedGroups.PutMessage("k", "v"));

    private static OutputGroup ToS1() => CertifiedGroups.Group("s1", 0, CertifiedGroups.PutMessage("other", "v"));

    public static TheoryData<string> Forgeries() =>
        ["qc-from-wrong-cluster", "too-few-signers", "duplicate-signers", "proof-for-another-group", "altered-payload", "another-destination", "unknown-source", "same-kind-source"];

    private static InboundGroup Forge(string kind)
    {
        OutputGroup[] groups = [ToS0(), ToS1()];
        switch (kind)
        {
            case "qc-from-wrong-cluster":
                return CertifiedGroups.Inbound(CertifiedGroups.Compact(T, "c0", 1, groups, 0, signingCluster: "s1"));
            case "too-few-signers":
                return CertifiedGroups.Inbound(CertifiedGroups.Compact(T, "c0", 1, groups, 0, TwoSigners));
            case "duplicate-signers":
                return CertifiedGroups.Inbound(CertifiedGroups.Compact(T, "c0", 1, groups, 0, DuplicateSigner));
            case "proof-for-another-group":
            {
                var honest = CertifiedGroups.Compact(T, "c0", 1, groups, 0);
                var other = CertifiedGroups.Compact(T, "c0", 1, groups, 1);
                return CertifiedGroups.Inbound(new CompactDecision(honest.Header, honest.Qc, honest.Group, other.Proof));
            }

            case "altered-payload":
            {
                var honest = CertifiedGroups.Compact(T, "c0", 1, groups, 0);
                var altered = honest.Group with { Payload = CertifiedGroups.Group("s0", 0, CertifiedGroups.PutMessage("k", "forged")).Payload };
                return CertifiedGroups.Inbound(new CompactDecision(honest.Header, honest.Qc, altered, honest.Proof));
            }

            case "another-destination":
                return CertifiedGroups.Inbound(CertifiedGroups.Compact(T, "c0", 1, groups, 1));
            case "unknown-source":
                return CertifiedGroups.Inbound(CertifiedGroups.Compact(T, "c9", 1, groups, 0, signingCluster: "c0"));
            case "same-kind-source":
                // Shards never send each other groups, however well signed.
                return CertifiedGroups.Inbound(CertifiedGroups.Compact(T, "s1", 1, groups, 0));
            default:
                throw new ArgumentOutOfRangeException(nameof(kind));
        }
    }

    [Theory]
    [MemberData(nameof(Forgeries))]
    public void AForgedGroup_IsRefusedAndCounted_AndChangesNothing(string kind)
    {
        var h = new InMemoryClusters(T.Topology, T.NodeKeys);
        var shard = h.Replicas["s0"][1];
        var root = shard.ComputeDecidedStateRoot();

        Assert.Equal(InboundVerdict.Invalid, shard.SubmitInbound(Forge(kind), verified: false, h.Now));
        Assert.Equal(1, shard.Rejections.GetValueOrDefault(RejectReason.InvalidInbound));
        h.Run(300);
        Assert.All(h.Replicas["s0"], r => Assert.Equal(0UL, r.DecidedHeight));
        Assert.Equal(root, shard.ComputeDecidedStateRoot());
        Assert.Equal(0UL, shard.InboundCursor("c0"));
    }

    [Fact]
    public void TheHonestGroup_IsProcessedOnce_AndItsReplayIsStale()
    {
        var h = new InMemoryClusters(T.Topology, T.NodeKeys);
        var honest = CertifiedGroups.Inbound(CertifiedGroups.Compact(T, "c0", 1, [ToS0(), ToS1()], 0));
        foreach (var r in h.Replicas["s0"])
        {
            Assert.Equal(InboundVerdict.Accepted, r.SubmitInbound(honest, verified: false, h.Now));
        }

        Assert.True(h.RunUntil(() => h.Replicas["s0"].All(r => r.InboundCursor("c0") == 1)));
        var height = h.Replicas["s0"][0].DecidedHeight;
        var root = h.Replicas["s0"][0].ComputeDecidedStateRoot();
        Assert.Equal(1, h.Replicas["s0"][0].State.CountWithPrefix(0x01));

        foreach (var r in h.Replicas["s0"])
        {
            Assert.Equal(InboundVerdict.Stale, r.SubmitInbound(honest, verified: false, h.Now));
        }

        h.Run(500);
        Assert.All(h.Replicas["s0"], r => Assert.Equal(height, r.DecidedHeight));
        Assert.Equal(root, h.Replicas["s0"][0].ComputeDecidedStateRoot());
    }

    [Fact]
    public void AGroupAfterAGap_WaitsInThePool_AndIsNeverProcessed()
    {
        var h = new InMemoryClusters(T.Topology, T.NodeKeys);
        var afterGap = CertifiedGroups.Inbound(CertifiedGroups.Compact(T, "c0", 9, [ToS0(prev: 5), ToS1()], 0));
        foreach (var r in h.Replicas["s0"])
        {
            Assert.Equal(InboundVerdict.Accepted, r.SubmitInbound(afterGap, verified: false, h.Now));
        }

        h.Run(2_000);
        Assert.All(h.Replicas["s0"], r => Assert.Equal(0UL, r.DecidedHeight));
        Assert.All(h.Replicas["s0"], r => Assert.Equal(0UL, r.InboundCursor("c0")));
        Assert.All(h.Replicas["s0"], r => Assert.Equal(0L, r.ViewChangesStarted));
        Assert.Equal(0UL, h.Replicas["s0"][0].ResumeAfter("c0"));
    }

    [Fact]
    public void ALeaderProposingAGapOrAForgery_IsRefusedByFollowers_AndReplaced()
    {
        var h = new InMemoryClusters(T.Topology, T.NodeKeys);
        var leader = h.Replicas["s0"][0];
        var afterGap = CertifiedGroups.Inbound(CertifiedGroups.Compact(T, "c0", 9, [ToS0(prev: 5), ToS1()], 0));
        var inputs = new ProposalInputs((ulong)h.Now, [], [afterGap]).ToBytes();
        OutputGroup[] outputs = [];
        var header = new DecisionHeader("s0", 1, leader.LastHeaderHash, Hash32.Of(inputs), Proposal.OutputsRoot(outputs), Hash32.Zero);
        var prePrepare = PrePrepareMessage.Sign("s0", 0, 0, new Proposal(header, inputs, outputs), T.NodeKeys["s0"][0]);

        for (var i = 1; i < 4; i++)
        {
            h.Replicas["s0"][i].OnMessage(0, prePrepare, h.Now);
            Assert.Equal(1, h.Replicas["s0"][i].Rejections.GetValueOrDefault(RejectReason.InvalidInbound));
            Assert.True(h.Replicas["s0"][i].InViewChange);
        }

        Assert.True(h.RunUntil(() => h.Replicas["s0"].Skip(1).All(r => r.View >= 1 && !r.InViewChange)));
        Assert.All(h.Replicas["s0"], r => Assert.Equal(0UL, r.DecidedHeight));
    }
}
