using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;

using static Heraclius.KvStore.Tests.Consensus.ReplicaFixture;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// A member that holds two prepares of its leader for one height and different headers leaves the view with both
/// signatures in its VIEW-CHANGE, and every member that checks them leaves too, relaying them. Before, a follower shown
/// an equivocation alone left alone, and the others went on deciding with the byzantine leader, one fault short.
/// </summary>
public sealed class EquivocationEvidenceTests
{
    private static readonly string Cluster = ReplicaFixture.T.ClusterId;


    /// <summary>The leader of view 0 (member 0)'s prepare of <paramref name="hash"/> at height 1, unless the arguments say otherwise.</summary>
    private static byte[] PrepareSignature(Hash32 hash, ulong height = 1, ulong view = 0, int signer = 0, VoteKind kind = VoteKind.Prepare) =>
        ReplicaFixture.VoteSignature(signer, view, height, hash, kind);

    /// <summary>Member 3's VIEW-CHANGE(<paramref name="newView"/>) with its own suspicion and <paramref name="evidence"/>.</summary>
    private static byte[] ViewChangeWith(EquivocationEvidence evidence, ulong newView = 1) =>
        ReplicaFixture.ViewChangeWithEvidence(3, newView, evidence);

    /// <summary>The leader's genuine pre-prepare of height 1 to <paramref name="to"/>, and another header for it signed with the leader's key.</summary>
    private static (byte[] Genuine, byte[] Other, Hash32 GenuineHash, Hash32 OtherHash) Equivocate(ReplicaFixture f, int to)
    {
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, 10);
        f.Replicas[0].Tick(12);
        var genuine = f.Outboxes[0].OfType(MessageType.PrePrepare, to: to).First();
        var (view, proposal) = f.ProposalOf(genuine);
        var (other, otherHash) = ReplicaFixture.TwinOf(proposal, view, 0);
        return (genuine, other, proposal.Header.Hash, otherHash);
    }

    /// <summary>
    /// Byzantine leader 0 shows member 2 alone a second pre-prepare for height 1. Member 2 leaves view 0 with both
    /// prepares; members 1 and 3 check them and leave too (relaying them), so the view change completes in view 1 with
    /// every honest member, and the cluster decides on under member 1.
    /// </summary>
    [Fact]
    public void AFollowerShownTheLeadersEquivocationAlone_TakesEveryHonestMemberAlong()
    {
        var f = new ReplicaFixture();
        var (genuine, other, genuineHash, otherHash) = Equivocate(f, to: 2);
        f.Replicas[2].OnMessage(0, genuine, 13);
        f.Replicas[2].OnMessage(0, other, 14);

        Assert.True(f.Replicas[2].InViewChange);
        Assert.Equal(1, Rejected(f.Replicas[2], RejectReason.Equivocation));
        var sent = ViewChangeMessage.Parse(f.Outboxes[2].OfType(MessageType.ViewChange, to: 1).Single());
        var evidence = Assert.IsType<EquivocationEvidence>(sent.Equivocation);
        Assert.Equal((0UL, 1UL), (evidence.View, evidence.Height));
        Assert.Equal(new[] { genuineHash, otherHash }.Order(HashOrder.Instance), [evidence.First, evidence.Second]);

        // Everything else arrives: members 1 and 3 get the genuine pre-prepare, then member 2's VIEW-CHANGE.
        long now = 15;
        for (; now < 200; now += 5)
        {
            foreach (var r in f.Replicas)
            {
                r.Tick(now);
            }

            f.Pump(now);
        }

        int[] honest = [1, 2, 3];
        Assert.All(honest, i => Assert.Equal(1UL, f.Replicas[i].View));
        Assert.All(honest, i => Assert.False(f.Replicas[i].InViewChange));
        foreach (var i in new[] { 1, 3 })
        {
            var relayed = ViewChangeMessage.Parse(f.Outboxes[i].OfType(MessageType.ViewChange).First());
            Assert.NotNull(relayed.Equivocation);
            Assert.Equal(evidence.First, relayed.Equivocation.First);
        }

        // The cluster decides on, every honest member in view 1, one history.
        for (var k = 0; k < 2; k++)
        {
            f.Replicas[1].SubmitBatch(f.Batch().Bytes, now);
            for (var until = now + 100; now <= until; now += 5)
            {
                foreach (var r in f.Replicas)
                {
                    r.Tick(now);
                }

                f.Pump(now);
            }
        }

        Assert.All(honest, i => Assert.True(f.Replicas[i].DecidedHeight >= 2, $"member {i} decided {f.Replicas[i].DecidedHeight}"));
        Assert.All(honest, i => Assert.Equal(f.Replicas[1].LastHeaderHash, f.Replicas[i].LastHeaderHash));
    }

    /// <summary>
    /// The leader's prepare of another header, sent on its own, before or after its pre-prepare: two verified prepares,
    /// so the member leaves with them (before, the one after was only counted and the member stayed).
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TheLeadersLonePrepareOfAnotherHeader_IsEvidence_BeforeOrAfterItsPrePrepare(bool loneFirst)
    {
        var f = new ReplicaFixture();
        var (genuine, _, _, otherHash) = Equivocate(f, to: 1);
        var lone = ReplicaFixture.LonePrepare(0, 0, 1, otherHash);
        var r = f.Replicas[1];
        r.OnMessage(0, loneFirst ? lone : genuine, 13);
        r.OnMessage(0, loneFirst ? genuine : lone, 14);

        Assert.True(r.InViewChange);
        Assert.Equal(1UL, r.View);
        Assert.Equal(1, Rejected(r, RejectReason.Equivocation));
        var sent = ViewChangeMessage.Parse(f.Outboxes[1].OfType(MessageType.ViewChange, to: 2).Single());
        Assert.NotNull(sent.Equivocation);
        Assert.Equal(1UL, sent.Equivocation.Height);
    }

    /// <summary>
    /// Evidence that proves nothing is refused whole and counted (InvalidEquivocation): the member stays in the view,
    /// nor does the refused VIEW-CHANGE count for anything. The same VIEW-CHANGE with sound evidence moves it.
    /// </summary>
    [Theory]
    [InlineData("one header twice")]
    [InlineData("not the leader's")]
    [InlineData("of another view")]
    [InlineData("signed for another height")]
    [InlineData("commits, not prepares")]
    [InlineData("forged signature")]
    public void EvidenceThatProvesNothing_IsRejected_AndMovesNobody(string kind)
    {
        var f = new ReplicaFixture();
        var r = f.Replicas[1];
        var a = Hash32.Of("header a"u8);
        var b = Hash32.Of("header b"u8);
        var evidence = kind switch
        {
            "one header twice" => EquivocationEvidence.Of(0, 1, a, PrepareSignature(a), a, PrepareSignature(a)),
            "not the leader's" => EquivocationEvidence.Of(0, 1, a, PrepareSignature(a, signer: 2), b, PrepareSignature(b, signer: 2)),
            "of another view" => EquivocationEvidence.Of(1, 1, a, PrepareSignature(a, view: 1, signer: 1), b, PrepareSignature(b, view: 1, signer: 1)),
            "signed for another height" => EquivocationEvidence.Of(0, 1, a, PrepareSignature(a, height: 2), b, PrepareSignature(b, height: 2)),
            "commits, not prepares" => EquivocationEvidence.Of(0, 1, a, PrepareSignature(a, kind: VoteKind.Commit), b, PrepareSignature(b, kind: VoteKind.Commit)),
            _ => EquivocationEvidence.Of(0, 1, a, PrepareSignature(a), b, PrepareSignature(a)),
        };

        r.OnMessage(3, ViewChangeWith(evidence), 20);
        Assert.Equal(1, Rejected(r, RejectReason.InvalidEquivocation));
        Assert.False(r.InViewChange);
        Assert.Equal(0UL, r.View);
        Assert.Empty(f.Outboxes[1].OfType(MessageType.ViewChange));

        // Control: the leader's two prepares move it, and its VIEW-CHANGE relays them.
        var sound = EquivocationEvidence.Of(0, 1, a, PrepareSignature(a), b, PrepareSignature(b));
        r.OnMessage(3, ViewChangeWith(sound), 21);
        Assert.True(r.InViewChange);
        Assert.Equal(1UL, r.View);
        var relayed = ViewChangeMessage.Parse(f.Outboxes[1].OfType(MessageType.ViewChange, to: 2).Single());
        Assert.Equal(sound.First, relayed.Equivocation!.First);
        Assert.Equal(sound.SecondSignature, relayed.Equivocation.SecondSignature);
    }

    /// <summary>Evidence in a VIEW-CHANGE that carries no suspicion proof cannot be written: a reader would take it for the proof.</summary>
    [Fact]
    public void EvidenceWithoutASuspicionProof_CannotBeEncoded()
    {
        var a = Hash32.Of("a"u8);
        var b = Hash32.Of("b"u8);
        var evidence = EquivocationEvidence.Of(0, 1, a, PrepareSignature(a), b, PrepareSignature(b));
        Assert.Throws<ArgumentException>(() =>
            ViewChangeMessage.Encode(3, 1, null, null, null, Cluster, ReplicaFixture.T.NodeKeys[3], null, evidence));
    }

    /// <summary>A VIEW-CHANGE cut inside its evidence is malformed: refused, and moves nobody.</summary>
    [Fact]
    public void ATruncatedEvidence_IsMalformed()
    {
        var f = new ReplicaFixture();
        var a = Hash32.Of("a"u8);
        var b = Hash32.Of("b"u8);
        var vc = ViewChangeWith(EquivocationEvidence.Of(0, 1, a, PrepareSignature(a), b, PrepareSignature(b)));

        // Re-sign the body without the evidence's last 10 bytes: the envelope signature is valid, the evidence is not.
        var body = ReplicaFixture.Unsigned(vc);
        var cut = ReplicaFixture.Resigned(3, body.AsSpan(0, body.Length - 10));

        f.Replicas[1].OnMessage(3, cut, 20);
        Assert.Equal(1, Rejected(f.Replicas[1], RejectReason.Malformed));
        Assert.False(f.Replicas[1].InViewChange);
    }

    private sealed class HashOrder : IComparer<Hash32>
    {
        public static readonly HashOrder Instance = new();

        public int Compare(Hash32 x, Hash32 y) => x.ToArray().AsSpan().SequenceCompareTo(y.ToArray());
    }
}
