using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// Attacks found in review, each once a real bug: a hand-driven 4-node cluster where one member is
/// byzantine and signs whatever it likes with its own key.
/// </summary>
public sealed class ByzantineMemberTests
{
    private static readonly Heraclius.KvStore.Tests.Simulation.TestTopology T = ReplicaFixture.T;
    private static readonly int[] Honest = [0, 1, 2];
    private static readonly int[] Lagging = [2, 3];

    private static Proposal ProposalAtHeight1(ReplicaFixture f, ClientBatch batch, ulong timestamp, Hash32 prev)
    {
        var inputs = new ProposalInputs(timestamp, [batch]);
        var bytes = inputs.ToBytes();
        var exec = new Executor(new KeyValueService(), f.Options.SessionWindow, Routing.RoutingSettings.For(ReplicaFixture.T.Topology, ReplicaFixture.T.ClusterId, f.Options.OutboundWindow)).Execute(new ReplicatedState(f.Options.StateBuckets), 1, inputs, stateRoot: default);
        var header = new DecisionHeader(T.ClusterId, 1, prev, Hash32.Of(bytes), Proposal.OutputsRoot(exec.Outputs), exec.StateRoot);
        return new Proposal(header, bytes, exec.Outputs);
    }

    private static byte[] PrePrepare(int sender, ulong view, Proposal p) => PrePrepareMessage.Sign(T.ClusterId, sender, view, p, T.NodeKeys[sender]);

    private static byte[] Vote(int sender, VoteKind kind, ulong view, DecisionHeader h)
    {
        var sig = T.NodeKeys[sender].Sign(VoteStatement.Bytes(kind, T.ClusterId, view, h.Height, h.Hash));
        var w = Envelope.Begin(kind == VoteKind.Prepare ? MessageType.Prepare : MessageType.Commit, sender, 128);
        w.U64(view);
        w.U64(h.Height);
        w.Hash(h.Hash);
        w.Fixed(sig);
        return w.ToArray();
    }

    /// <summary>
    /// Height 1 is decided by node 0 in view 0; nodes 2 and 3 prepared it but missed the commits. The
    /// byzantine leader of view 1 builds a NEW-VIEW whose own VIEW-CHANGE truthfully shows that QC (so
    /// nothing is forced) and then proposes a different header for height 1. The lagging nodes must
    /// decide the certified header, never the new one.
    /// </summary>
    [Fact]
    public void ByzantineNewLeader_CannotMakeLaggingNodesDecideASecondHeaderAtADecidedHeight()
    {
        var f = new ReplicaFixture();
        var genesis = f.Replicas[2].LastHeaderHash;
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, 10);
        f.Replicas[0].Tick(12);
        f.Pump(12, (from, to, m) => !(ReplicaFixture.TypeOf(m) == MessageType.Commit && from is 0 or 1 && to is 2 or 3));
        Assert.Equal(1UL, f.Replicas[0].DecidedHeight);
        Assert.Equal(0UL, f.Replicas[2].DecidedHeight);
        var decided = f.Outboxes[0].Decisions.Single();

        // Node 1 suspects too (its status reaches 2 and 3): with each other's, f+1 others for each of them.
        f.Replicas[2].OnMessage(1, ReplicaFixture.SuspicionOf(1, 0, 1), 1500);
        f.Replicas[3].OnMessage(1, ReplicaFixture.SuspicionOf(1, 0, 1), 1500);
        f.TimeOut(1500, 2, 3);
        var vc2 = f.Outboxes[2].OfType(MessageType.ViewChange, to: 1).First();
        var vc3 = f.Outboxes[3].OfType(MessageType.ViewChange, to: 1).First();
        f.SkipAll();

        var vc1 = ViewChangeMessage.Encode(1, 1, decided.Header, decided.Qc, null, T.ClusterId, T.NodeKeys[1]);
        var vcs = new[] { vc1, vc2, vc3 }.Select(ViewChangeMessage.Parse).ToList();
        var nv = NewViewMessage.Encode(1, 1, vcs, null, T.ClusterId, T.NodeKeys[1]);
        var other = ProposalAtHeight1(f, f.Batch(), 1501, genesis);
        Assert.NotEqual(decided.Header.Hash, other.Header.Hash);
        foreach (var i in Lagging)
        {
            f.Replicas[i].OnMessage(1, nv, 1501);
            f.Replicas[i].OnMessage(1, PrePrepare(1, 1, other), 1501);
            f.Replicas[i].OnMessage(1, Vote(1, VoteKind.Prepare, 1, other.Header), 1501);
        }

        f.Pump(1502, (from, to, m) => from is 2 or 3 && to is 2 or 3);
        foreach (var i in Lagging)
        {
            f.Replicas[i].OnMessage(1, Vote(1, VoteKind.Commit, 1, other.Header), 1503);
        }

        f.Pump(1503, (from, to, m) => from is 2 or 3 && to is 2 or 3);
        foreach (var i in Lagging)
        {
            Assert.Equal(1UL, f.Replicas[i].DecidedHeight);
            Assert.Equal(decided.Header.Hash, f.Replicas[i].LastHeaderHash);
            Assert.DoesNotContain(f.Outboxes[i].OfType(MessageType.Prepare), m => m.AsSpan(21, 32).SequenceEqual(other.Header.Hash.ToArray()));
        }
    }

    /// <summary>
    /// Only the byzantine member holds the QC of height 1 (honest commits were lost to a partition) and its
    /// VIEW-CHANGEs keep claiming that decision. Honest nodes hold the proposal; seeing the QC must be
    /// enough for them to decide, and the cluster must go on.
    /// </summary>
    [Fact]
    public void ViewChangeShowingAQcOnlyTheByzantineMemberHolds_DoesNotStallTheCluster()
    {
        var f = new ReplicaFixture();
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, 10);
        f.Replicas[0].Tick(12);
        bool Partition(int from, int to, byte[] m) => from != 3 && !(ReplicaFixture.TypeOf(m) == MessageType.Commit && to != 3);
        f.Pump(12, Partition);
        Assert.Equal(1UL, f.Replicas[3].DecidedHeight);
        var decided = f.Outboxes[3].Decisions.Single();
        Assert.All(Honest, i => Assert.Equal(0UL, f.Replicas[i].DecidedHeight));

        for (ulong v = 1; v <= 200; v++)
        {
            var vc = ViewChangeMessage.Encode(3, v, decided.Header, decided.Qc, null, T.ClusterId, T.NodeKeys[3]);
            foreach (var i in Honest)
            {
                f.Replicas[i].OnMessage(3, vc, 12);
            }
        }

        f.Skip(0);
        f.Skip(1);
        f.Skip(2);
        f.Replicas[1].SubmitBatch(f.Batch().Bytes, 20);
        for (var t = 20L; t < 60_000; t += 50)
        {
            foreach (var i in Honest)
            {
                f.Replicas[i].Tick(t);
            }

            f.Pump(t, (from, to, m) => from != 3 && to != 3);
        }

        Assert.All(Honest, i => Assert.True(f.Replicas[i].DecidedHeight >= 2, $"node {i} at {f.Replicas[i].DecidedHeight}"));
        Assert.All(Honest, i => Assert.Equal(decided.Header.Hash, f.Outboxes[i].Decisions.First().Header.Hash));
    }

    /// <summary>An unsolicited DecisionBatch pointing at a made-up snapshot must not park honest nodes in a fetch.</summary>
    [Fact]
    public void UnsolicitedSnapshotPointer_IsIgnored()
    {
        var f = new ReplicaFixture();
        var w = Envelope.Begin(MessageType.DecisionBatch, 3, 32);
        w.U64(1_000_000);
        w.U32(0);
        var lure = w.ToArray();
        foreach (var i in Honest)
        {
            f.Replicas[i].OnMessage(3, lure, 5);
        }

        f.SkipAll();
        var batch = f.Batch();
        foreach (var i in Honest)
        {
            f.Replicas[i].SubmitBatch(batch.Bytes, 10);
        }

        for (var t = 10L; t < 5_000; t += 50)
        {
            foreach (var i in Honest)
            {
                f.Replicas[i].Tick(t);
            }

            f.Pump(t, (from, to, m) => from != 3 && to != 3);
        }

        Assert.All(Honest, i => Assert.Equal(1UL, f.Replicas[i].DecidedHeight));
    }

    /// <summary>A timestamp of 2^63 + now once overflowed the tolerance check and killed the follower's loop.</summary>
    [Fact]
    public void PrePrepareWithHostileTimestamp_IsRefusedWithoutCrashing()
    {
        var f = new ReplicaFixture();
        const long now = 1000;
        var p = ProposalAtHeight1(f, f.Batch(), (1UL << 63) + now, f.Replicas[1].LastHeaderHash);
        f.Replicas[1].OnMessage(0, PrePrepare(0, 0, p), now);
        Assert.Equal(1, f.Replicas[1].Rejections[RejectReason.InvalidProposal]);
        Assert.Empty(f.Outboxes[1].OfType(MessageType.Prepare));
    }

    /// <summary>One member's VIEW-CHANGEs for many future views are kept as one, its highest.</summary>
    [Fact]
    public void FutureViewChangesOfOneMember_AreKeptOnlyOnce()
    {
        var f = new ReplicaFixture();
        for (ulong v = 1; v <= 50; v++)
        {
            f.Replicas[0].OnMessage(3, ViewChangeMessage.Encode(3, v, null, null, null, T.ClusterId, T.NodeKeys[3]), 10);
        }

        // A single member cannot drag anyone into a view change: f+1 are needed.
        Assert.Equal(0UL, f.Replicas[0].View);
        Assert.False(f.Replicas[0].InViewChange);
        f.Replicas[0].OnMessage(2, ViewChangeMessage.Encode(2, 3, null, null, null, T.ClusterId, T.NodeKeys[2]), 11);
        Assert.True(f.Replicas[0].InViewChange);
        Assert.Equal(3UL, f.Replicas[0].View);
    }
}
