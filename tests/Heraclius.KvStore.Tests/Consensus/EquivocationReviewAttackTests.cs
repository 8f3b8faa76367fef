using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;

using static Heraclius.KvStore.Tests.Consensus.ReplicaFixture;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// Review of relayed equivocation evidence (c9ebe8c): attack tests. Each says whether it failed on c9ebe8c (a finding)
/// or passed (what was found sound).
/// </summary>
public sealed class EquivocationReviewAttackTests
{
    private static readonly int[] ZeroAndThree = [0, 3];


    /// <summary>Every member is shown two others' signed suspicions of view 0, so all four change to view 1 (as their timers would make them).</summary>
    private static void AllChangeToView1(ReplicaFixture f, long now)
    {
        for (var k = 0; k < 4; k++)
        {
            var others = Enumerable.Range(0, 4).Where(j => j != k).Take(2);
            foreach (var j in others)
            {
                f.Replicas[k].OnMessage(j, ReplicaFixture.SuspicionOf(j, 0), now);
            }
        }

        Assert.All(f.Replicas, r => Assert.True(r.InViewChange && r.View == 1));
    }

    /// <summary>
    /// FINDING (fails on c9ebe8c). Byzantine leader 1 of view 1 delivers its NEW-VIEW(1) to member 2 first and at once
    /// equivocates to it; member 2 leaves with evidence, and its VIEW-CHANGE(2) reaches members 0 and 3 while they are
    /// still changing to view 1 (the relay only acts on a member already in view 1). Then the leader's NEW-VIEW reaches
    /// them: they enter view 1 holding checked evidence that its leader equivocated, and stay, deciding with the
    /// byzantine leader while member 2 sits alone in view 2: "a follower shown an equivocation alone leaves alone" again.
    /// </summary>
    [Fact]
    public void EvidenceReceivedBeforeEnteringTheView_IsActedOnWhenTheViewIsEntered()
    {
        var f = new ReplicaFixture();
        long now = 20;
        AllChangeToView1(f, now);

        // The VIEW-CHANGEs flow; the NEW-VIEW (from the leader, or re-sent by member 2) reaches member 2 only.
        f.Pump(now, (from, to, m) => ReplicaFixture.TypeOf(m) != MessageType.NewView || to == 2);
        Assert.False(f.Replicas[2].InViewChange);
        Assert.Equal(1UL, f.Replicas[2].View);
        Assert.True(f.Replicas[0].InViewChange);
        Assert.True(f.Replicas[3].InViewChange);
        var newView = f.Outboxes[1].OfType(MessageType.NewView, to: 0).First();

        // The leader proposes; member 2 also gets a twin of it.
        f.Replicas[1].SubmitBatch(f.Batch().Bytes, now + 1);
        f.Replicas[1].Tick(now + 3);
        var genuine = f.Outboxes[1].OfType(MessageType.PrePrepare, to: 2).First();
        var (_, proposal) = f.ProposalOf(genuine);
        var (twin, _) = ReplicaFixture.TwinOf(proposal, 1, 1);
        f.Replicas[2].OnMessage(1, genuine, now + 4);
        f.Replicas[2].OnMessage(1, twin, now + 4);
        Assert.True(f.Replicas[2].InViewChange);
        Assert.Equal(2UL, f.Replicas[2].View);

        // Member 2's VIEW-CHANGE(2), evidence included, reaches 0 and 3 while they still change to view 1...
        foreach (var to in ZeroAndThree)
        {
            var vc = f.Outboxes[2].OfType(MessageType.ViewChange, to: to).Last();
            Assert.NotNull(ViewChangeMessage.Parse(vc).Equivocation);
            f.Replicas[to].OnMessage(2, vc, now + 5);
            Assert.Equal(0, Rejected(f.Replicas[to], RejectReason.InvalidEquivocation));
        }

        // ...then the leader's NEW-VIEW(1).
        f.Replicas[0].OnMessage(1, newView, now + 6);
        f.Replicas[3].OnMessage(1, newView, now + 6);

        // Everything else flows, well inside the view-change timeout; the byzantine leader (a real replica here) only
        // never relays the evidence against itself: it ignores member 2.
        for (now += 10; now < 400; now += 5)
        {
            foreach (var r in f.Replicas)
            {
                r.Tick(now);
            }

            f.Pump(now, (from, to, m) => !(from == 2 && to == 1));
        }

        Assert.True(f.Replicas[0].DecidedHeight == 0 || f.Replicas[0].View >= 2,
            $"member 0 decided {f.Replicas[0].DecidedHeight} in view {f.Replicas[0].View} with the leader it holds proof against; member 2 alone in view {f.Replicas[2].View}");
        Assert.All(ZeroAndThree, i => Assert.True(f.Replicas[i].View >= 2,
            $"member {i} stayed in view {f.Replicas[i].View} (decided {f.Replicas[i].DecidedHeight}) with the leader it holds proof against; member 2 in view {f.Replicas[2].View}"));
    }

    /// <summary>Puts every member in view 1 with the view-0 proposal forced there, prepared by all, decided by none; member 2 holds leader 1's prepare of it.</summary>
    private static Proposal ForcedProposalInView1(ReplicaFixture f)
    {
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, 10);
        f.Replicas[0].Tick(12);
        f.Pump(12, (_, _, m) => ReplicaFixture.TypeOf(m) != MessageType.Commit);
        Assert.All(f.Replicas, r => Assert.Equal(0UL, r.DecidedHeight));
        var pp = f.Outboxes[0].OfType(MessageType.PrePrepare, to: 1).First();
        var (_, forced) = f.ProposalOf(pp);

        AllChangeToView1(f, 20);
        // Commits dropped (nobody decides); member 2 gets only the leader's prepare in view 1, so it stays unprepared there.
        f.Pump(20, (from, to, m) => ReplicaFixture.TypeOf(m) != MessageType.Commit
                                    && !(ReplicaFixture.TypeOf(m) == MessageType.Prepare && to == 2 && from != 1));
        Assert.All(f.Replicas, r => Assert.True(!r.InViewChange && r.View == 1 && r.DecidedHeight == 0));
        return forced;
    }

    /// <summary>
    /// FINDING (fails on c9ebe8c). The NEW-VIEW(1) forces the view-0 proposal F; leader 1's (lone) prepare of F reached
    /// member 2. Leader 1 then pre-prepares another header G at that height to member 2: two verified prepares of the
    /// leader for (1, 1), but the forced-height branch of OnPrePrepare leaves before TakeLeaderEquivocation, without evidence.
    /// </summary>
    [Fact]
    public void ASecondHeaderAtTheForcedHeight_AfterTheLeadersPrepareOfTheForcedOne_IsRelayedAsEvidence()
    {
        var f = new ReplicaFixture();
        var forced = ForcedProposalInView1(f);
        var (twin, _) = ReplicaFixture.TwinOf(forced, 1, 1);
        f.Replicas[2].OnMessage(1, twin, 30);

        Assert.True(f.Replicas[2].InViewChange);
        Assert.Equal(2UL, f.Replicas[2].View);
        var vc = ViewChangeMessage.Parse(f.Outboxes[2].OfType(MessageType.ViewChange, to: 0).Last());
        Assert.Equal(2UL, vc.NewView);
        Assert.NotNull(vc.Equivocation);
    }

    /// <summary>
    /// FINDING, minor (fails on c9ebe8c). The leader's lone prepare of header A, then its pre-prepare of an invalid header B
    /// (signed, so verified): the member leaves as for an invalid proposal, without the two prepares it holds.
    /// </summary>
    [Fact]
    public void TheLeadersLonePrepare_ThenAnInvalidPrePrepare_IsRelayedAsEvidence()
    {
        var f = new ReplicaFixture();
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, 10);
        f.Replicas[0].Tick(12);
        var genuine = f.Outboxes[0].OfType(MessageType.PrePrepare, to: 1).First();
        var (_, proposal) = f.ProposalOf(genuine);
        var (invalidTwin, _) = ReplicaFixture.TwinOf(proposal, 0, 0);   // non-zero state root off a checkpoint height: invalid
        f.Replicas[1].OnMessage(0, ReplicaFixture.LonePrepare(0, 0, 1, proposal.Header.Hash), 13);
        f.Replicas[1].OnMessage(0, invalidTwin, 14);

        Assert.True(f.Replicas[1].InViewChange);
        var vc = ViewChangeMessage.Parse(f.Outboxes[1].OfType(MessageType.ViewChange, to: 2).Last());
        Assert.NotNull(vc.Equivocation);
    }

    /// <summary>DEFENDED. Real evidence against the leader of view 0, replayed by byzantine 3 in a VIEW-CHANGE(2) to members in view 1: refused, nobody moves.</summary>
    [Fact]
    public void EvidenceOfAnOldView_Replayed_MovesNobody()
    {
        var f = new ReplicaFixture();
        AllChangeToView1(f, 20);
        f.Pump(20);
        Assert.All(f.Replicas, r => Assert.True(!r.InViewChange && r.View == 1));
        var a = Hash32.Of("a"u8);
        var b = Hash32.Of("b"u8);
        var old = EquivocationEvidence.Of(0, 1, a, ReplicaFixture.VoteSignature(0, 0, 1, a), b, ReplicaFixture.VoteSignature(0, 0, 1, b));

        f.Replicas[2].OnMessage(3, ReplicaFixture.ViewChangeWithEvidence(3, 2, old), 30);
        Assert.Equal(1, Rejected(f.Replicas[2], RejectReason.InvalidEquivocation));
        Assert.False(f.Replicas[2].InViewChange);

        // Its own (view 1) prepares of leader 1 at a decided or far height prove a real equivocation of leader 1: that one moves.
        var now1 = EquivocationEvidence.Of(1, 99, a, ReplicaFixture.VoteSignature(1, 1, 99, a), b, ReplicaFixture.VoteSignature(1, 1, 99, b));
        f.Replicas[2].OnMessage(0, ReplicaFixture.ViewChangeWithEvidence(0, 2, now1), 31);
        Assert.True(f.Replicas[2].InViewChange);
    }

    /// <summary>DEFENDED. Evidence followed by one byte, a duplicated evidence block, or a NEW-VIEW carrying a truncated one: Malformed, no exception out of OnMessage.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(EquivocationEvidence.EncodedLength)]
    [InlineData(-1)]
    public void OversizedOrTruncatedEvidence_IsMalformed(int extra)
    {
        var f = new ReplicaFixture();
        var a = Hash32.Of("a"u8);
        var b = Hash32.Of("b"u8);
        var vc = ReplicaFixture.ViewChangeWithEvidence(3, 1, EquivocationEvidence.Of(0, 1, a, ReplicaFixture.VoteSignature(0, 0, 1, a), b, ReplicaFixture.VoteSignature(0, 0, 1, b)));
        var body = ReplicaFixture.Unsigned(vc);
        byte[] altered = extra switch
        {
            < 0 => body[..^1],
            1 => [.. body, 0],
            _ => [.. body, .. body.AsSpan(body.Length - EquivocationEvidence.EncodedLength)],
        };
        var bad = ReplicaFixture.Resigned(3, altered);
        f.Replicas[1].OnMessage(3, bad, 20);
        Assert.Equal(1, Rejected(f.Replicas[1], RejectReason.Malformed));
        Assert.False(f.Replicas[1].InViewChange);
    }

    /// <summary>
    /// DEFENDED. A member that relayed evidence crashes and restarts: its logged VIEW-CHANGE (evidence included) parses,
    /// it resumes changing to view 1, never signs in view 0, and what it re-sends carries the same evidence.
    /// </summary>
    [Fact]
    public void ARestartAfterRelaying_ResumesWithTheSameViewChange()
    {
        var f = new ReplicaFixture();
        var a = Hash32.Of("a"u8);
        var b = Hash32.Of("b"u8);
        var e = EquivocationEvidence.Of(0, 1, a, ReplicaFixture.VoteSignature(0, 0, 1, a), b, ReplicaFixture.VoteSignature(0, 0, 1, b));
        f.Replicas[1].OnMessage(3, ReplicaFixture.ViewChangeWithEvidence(3, 1, e), 20);
        Assert.True(f.Replicas[1].InViewChange);
        var sent = f.Outboxes[1].OfType(MessageType.ViewChange, to: 2).Single();

        var r = f.Boot(1, 30);
        Assert.True(r.InViewChange);
        Assert.Equal(1UL, r.View);
        for (long now = 30; now < 80; now += 5)
        {
            r.Tick(now);
            r.OnMessage(2, ReplicaFixture.StatusOf(2, 0, 0, null, suspects: false), now);
        }

        // Nothing of view 0 signed after the restart; any VIEW-CHANGE re-sent is the logged one, evidence included.
        Assert.Empty(f.Outboxes[1].OfType(MessageType.Prepare));
        Assert.Empty(f.Outboxes[1].OfType(MessageType.PrePrepare));
        foreach (var resent in f.Outboxes[1].OfType(MessageType.ViewChange))
        {
            Assert.Equal(sent, resent);
        }
    }

    /// <summary>
    /// DEFENDED. A non-leader cannot make evidence: its own two prepares, or the leader's prepare paired with a commit,
    /// or the leader's one prepare twice with a malleated signature copy: all refused. (Forged leader signatures: see EquivocationEvidenceTests.)
    /// </summary>
    [Fact]
    public void TheLeadersOnePrepare_WithAMalleatedCopy_ProvesNothing()
    {
        var f = new ReplicaFixture();
        var a = Hash32.Of("a"u8);
        var sig = ReplicaFixture.VoteSignature(0, 0, 1, a);
        var mal = (byte[])sig.Clone();
        // S + L (the group order) in the upper half: a non-canonical encoding of the same signature.
        var l = new byte[] { 0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10 };
        var carry = 0;
        for (var i = 0; i < 32; i++)
        {
            var s = mal[32 + i] + l[i] + carry;
            mal[32 + i] = (byte)s;
            carry = s >> 8;
        }

        // Two headers are needed (canonical order is strict), so one statement signed twice never qualifies.
        var e = EquivocationEvidence.Of(0, 1, a, sig, a, mal);
        f.Replicas[1].OnMessage(3, ReplicaFixture.ViewChangeWithEvidence(3, 1, e), 20);
        Assert.Equal(1, Rejected(f.Replicas[1], RejectReason.InvalidEquivocation));
        Assert.False(f.Replicas[1].InViewChange);
    }
}
