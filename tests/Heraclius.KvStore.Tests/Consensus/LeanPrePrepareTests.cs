using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;
using Heraclius.Testing.Faults;

using Heraclius.KvStore.Storage;

using static Heraclius.KvStore.Tests.Consensus.ReplicaFixture;
using static Heraclius.KvStore.Tests.CrashFuzz.CatchUpScenario;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// A leader's first pre-prepare carries no outputs (each follower computes them and checks their root against the
/// header) and, after inputs sent ahead, not the inputs either; what it retransmits is the header and the inputs.
/// </summary>
public sealed class LeanPrePrepareTests
{
    private static PrePrepare Read(byte[] prePrepare) => PrePrepareMessage.Read(Envelope.Open(prePrepare).Body);

    private static (ReplicaFixture F, byte[] PrePrepare) LeaderProposes(bool inputsAhead)
    {
        var f = new ReplicaFixture(o => o.SendInputsAhead = inputsAhead);
        f.SkipAll();
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, 10);
        f.Replicas[0].Tick(12);
        // The first: the leader's tick may already resend it (no decision for a resend interval since the fixture began).
        return (f, f.Outboxes[0].OfType(MessageType.PrePrepare, to: 1).First());
    }

    /// <summary>The leader's pre-prepare of <paramref name="header"/> in view 0 with another body, signed by the leader.</summary>
    private static byte[] SignedByTheLeader(DecisionHeader header, ReadOnlyMemory<byte> inputs, PrePrepareForm form) =>
        PrePrepareMessage.Sign(T.ClusterId, 0, 0, new Proposal(header, inputs, []), T.NodeKeys[0], form);

    [Fact]
    public void WithoutInputsAhead_ThePrePrepareCarriesTheInputsButNoOutputs_AndEveryMemberDecidesTheLeadersProposal()
    {
        var (f, prePrepare) = LeaderProposes(inputsAhead: false);
        var leaders = f.Replicas[0].AcceptedProposal!;
        var read = Read(prePrepare);

        Assert.Equal(PrePrepareForm.Inputs, read.Form);
        Assert.Null(read.Proposal);
        Assert.Equal(leaders.Header.Hash, read.Header.Hash);
        Assert.True(read.Inputs!.Value.Span.SequenceEqual(leaders.Inputs.Span));
        Assert.NotEmpty(leaders.Outputs);
        Assert.True(prePrepare.Length < PrePrepareMessage.Encode(0, 0, leaders, read.PrepareSignature).Length);

        f.Pump(13);
        Assert.All(f.Replicas, r => Assert.Equal(1UL, r.DecidedHeight));
        Assert.All(f.Replicas, r => Assert.Equal(leaders.Header.Hash, r.LastHeaderHash));
        Assert.All(f.Replicas, r => Assert.Empty(r.Rejections));
        Assert.Single(f.Replicas.Select(r => r.ComputeDecidedStateRoot()).Distinct());
    }

    [Fact]
    public void AfterInputsAhead_ThePrePrepareIsTheHeaderAlone_AndFollowersTakeTheInputsSentAhead()
    {
        var (f, prePrepare) = LeaderProposes(inputsAhead: true);
        var read = Read(prePrepare);
        Assert.Equal(PrePrepareForm.HeaderOnly, read.Form);
        Assert.Null(read.Inputs);
        Assert.True(prePrepare.Length < PrePrepareMessage.Encode(0, 0, f.Replicas[0].AcceptedProposal!, PrePrepareForm.Inputs, read.PrepareSignature).Length);

        f.Pump(13);
        Assert.All(f.Replicas, r => Assert.Equal(1UL, r.DecidedHeight));
        Assert.All(Followers, i => Assert.Equal(1, f.Replicas[i].InputsAheadUsed));
        Assert.All(f.Replicas, r => Assert.Equal(0, r.PrePreparesWithoutInputs));
        Assert.Single(f.Replicas.Select(r => r.ComputeDecidedStateRoot()).Distinct());
    }

    [Fact]
    public void AHeaderOnlyPrePrepareWhoseInputsNeverCame_IsSetAsideUnblamed_AndTheRetransmissionWithInputsIsPrepared()
    {
        var (f, prePrepare) = LeaderProposes(inputsAhead: true);
        var r = f.Replicas[1];

        // The inputs ahead to member 1 were lost; the header alone cannot be validated, nor is it the leader's fault.
        r.OnMessage(0, prePrepare, 13);
        Assert.Equal(1, r.PrePreparesWithoutInputs);
        Assert.Empty(r.Rejections);
        Assert.False(r.InViewChange);
        Assert.Empty(f.Outboxes[1].OfType(MessageType.Prepare));

        // No progress for a resend interval: the leader sends its header again with the inputs (never the outputs, which
        // have no bound of their own), and member 1 prepares it.
        f.SkipAll();
        f.Replicas[0].Tick(13 + f.Options.ResendIntervalMs);
        var resent = f.Outboxes[0].OfType(MessageType.PrePrepare, to: 1).Last();
        var again = Read(resent);
        Assert.Equal(PrePrepareForm.Inputs, again.Form);
        Assert.Equal(Read(prePrepare).Header.Hash, again.Header.Hash);
        Assert.Equal(Read(prePrepare).PrepareSignature, again.PrepareSignature);
        Assert.True(again.Inputs!.Value.Span.SequenceEqual(f.Replicas[0].AcceptedProposal!.Inputs.Span));

        r.OnMessage(0, resent, 14 + f.Options.ResendIntervalMs);
        Assert.Single(f.Outboxes[1].OfType(MessageType.Prepare, to: 0));
        Assert.Empty(r.Rejections);
    }

    [Fact]
    public void AWholePrePrepare_AsALeaderOfTheVersionBeforeSendsIt_IsStillPrepared()
    {
        var (f, prePrepare) = LeaderProposes(inputsAhead: true);
        var whole = PrePrepareMessage.Encode(0, 0, f.Replicas[0].AcceptedProposal!, PrePrepareForm.Whole, Read(prePrepare).PrepareSignature);
        Assert.Equal(PrePrepareForm.Whole, Read(whole).Form);

        f.Replicas[1].OnMessage(0, whole, 13);
        Assert.Single(f.Outboxes[1].OfType(MessageType.Prepare, to: 0));
        Assert.Empty(f.Replicas[1].Rejections);
        Assert.Equal(f.Replicas[0].AcceptedProposal!.Bytes, f.Replicas[1].AcceptedProposal!.Bytes);
    }

    [Fact]
    public void AHeaderOnlyPrePrepareAfterOtherInputsAhead_IsSetAside_NotHeldAgainstTheLeader()
    {
        var (f, prePrepare) = LeaderProposes(inputsAhead: true);
        var genuine = InputsAheadOf(f.Outboxes[0].OfType(MessageType.InputsAhead, to: 1).Single());
        var other = genuine.Inputs.Span[..(genuine.Inputs.Length - 1)].ToArray();
        var r = f.Replicas[1];

        r.OnMessage(0, InputsAheadMessage.Encode(0, genuine.View, genuine.Height, genuine.PreviousHeader, other), 13);
        r.OnMessage(0, prePrepare, 13);

        Assert.Equal(1, r.PrePreparesWithoutInputs);
        Assert.Equal(0, Rejected(r, RejectReason.InvalidProposal) + Rejected(r, RejectReason.WrongOutputs));
        Assert.False(r.InViewChange);
        Assert.Empty(f.Outboxes[1].OfType(MessageType.Prepare));
    }

    [Fact]
    public void ALeanPrePrepareWhoseOutputsRootNoExecutionGives_IsWrongOutputs_AndTheLeaderIsReplaced()
    {
        var (f, prePrepare) = LeaderProposes(inputsAhead: false);
        var read = Read(prePrepare);
        var h = read.Header;
        var root = h.OutputsRoot.ToArray();
        root[0] ^= 0xFF;
        var wrong = new DecisionHeader(h.Cluster, h.Height, h.PrevHeaderHash, h.InputsDigest, Hash32.Parse(root), h.StateRoot);

        var r = f.Replicas[1];
        r.OnMessage(0, SignedByTheLeader(wrong, read.Inputs!.Value, PrePrepareForm.Inputs), 13);

        Assert.Equal(1, r.Rejections[RejectReason.WrongOutputs]);
        Assert.Empty(f.Outboxes[1].OfType(MessageType.Prepare));
        Assert.True(r.InViewChange);
        Assert.Equal(0UL, r.DecidedHeight);
    }

    [Fact]
    public void InputsInAPrePrepareThatAreNotTheSignedHeaders_AreAnInvalidProposal_AndTheLeaderIsReplaced()
    {
        var (f, prePrepare) = LeaderProposes(inputsAhead: false);
        var read = Read(prePrepare);
        var twin = ByzantineRewriter.Twin(f.Replicas[0].AcceptedProposal!);

        // The genuine header and the leader's genuine signature over it, with the twin's inputs as the body.
        var r = f.Replicas[1];
        r.OnMessage(0, PrePrepareMessage.Encode(0, 0, new Proposal(read.Header, twin.Inputs, []), PrePrepareForm.Inputs, read.PrepareSignature), 13);

        Assert.Equal(1, r.Rejections[RejectReason.InvalidProposal]);
        Assert.Empty(f.Outboxes[1].OfType(MessageType.Prepare));
        Assert.True(r.InViewChange);
    }

    [Fact]
    public void APrePrepareOfAnUnknownForm_IsMalformed_AndChangesNothing()
    {
        var (f, prePrepare) = LeaderProposes(inputsAhead: false);
        var bytes = (byte[])prePrepare.Clone();
        // The form byte follows the envelope and the u64 view.
        var formAt = bytes.Length - Envelope.Open(bytes).Body.Length + 8;
        bytes[formAt] = 3;

        var r = f.Replicas[1];
        r.OnMessage(0, bytes, 13);

        Assert.Equal(1, r.Rejections[RejectReason.Malformed]);
        Assert.Empty(f.Outboxes[1].OfType(MessageType.Prepare));
        Assert.False(r.InViewChange);

        r.OnMessage(0, prePrepare, 14);
        Assert.Single(f.Outboxes[1].OfType(MessageType.Prepare, to: 0));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheProposalAFollowerBuildsFromALeanPrePrepare_IsTheLeadersByteForByte(bool inputsAhead)
    {
        var (f, _) = LeaderProposes(inputsAhead);
        var leaders = f.Replicas[0].AcceptedProposal!.Bytes;

        // Only the leader's inputs ahead and lean pre-prepares: nobody decides, so every slot still holds its proposal.
        f.Pump(13, (from, _, m) => from == 0 && (TypeOf(m) == MessageType.InputsAhead
                                                 || (TypeOf(m) == MessageType.PrePrepare && Read(m).Form != PrePrepareForm.Whole)));
        foreach (var i in Followers)
        {
            Assert.Equal(leaders, f.Replicas[i].AcceptedProposal!.Bytes);
        }
    }

    [Fact]
    public void HeaderOnlyPrePreparesOfTwoHeadersForOneHeight_ProveTheLeadersEquivocation()
    {
        var (f, prePrepare) = LeaderProposes(inputsAhead: true);
        var r = f.Replicas[1];
        r.OnMessage(0, f.Outboxes[0].OfType(MessageType.InputsAhead, to: 1).Single(), 13);
        var genuine = Read(prePrepare).Header;

        // Headers naming inputs nobody sent ahead: each is set aside, but the leader signed a prepare of each.
        for (var i = 0; i < 2; i++)
        {
            var digest = new byte[32];
            digest[0] = (byte)(i + 1);
            var h = new DecisionHeader(genuine.Cluster, genuine.Height, genuine.PrevHeaderHash, Hash32.Parse(digest), genuine.OutputsRoot, genuine.StateRoot);
            r.OnMessage(0, SignedByTheLeader(h, ReadOnlyMemory<byte>.Empty, PrePrepareForm.HeaderOnly), 14 + i);
        }

        Assert.Empty(f.Outboxes[1].OfType(MessageType.Prepare));
        Assert.Equal(1, Rejected(r, RejectReason.Equivocation));
        Assert.True(r.InViewChange);
    }

    [Fact]
    public void AHeaderOnlyPrePrepareHeldByAnInstall_IsPreparedWhenTheHoldEnds_EvenAfterTheNextHeightsInputsAhead()
    {
        var store = new ScriptedSnapshotStore(true);
        var f = new ReplicaFixture(o => { o.CheckpointInterval = 4; o.RetainDecisions = 12; o.SendInputsAhead = true; },
            i => i == 3 ? store : new MemorySnapshotStore());
        var now = 10L;
        Round(f, now);
        now += 10;
        now = RoundsWithoutNodeThree(f, now, 13);
        now += 100;
        now = CatchUpFromNodeZero(f, now);
        ServeDecisions(f, 0, f.Replicas[3].DecidedHeight + 1, now);
        Assert.Equal(14UL, f.Replicas[3].DecidedHeight);
        Assert.True(f.Replicas[3].VotesHeld);

        // Leader 0 proposes 15; node 3 gets its inputs ahead and its header-only pre-prepare, both held.
        now += 10;
        f.SkipAll();
        var sentBefore = f.Outboxes[0].Sent.Count;
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, now);
        f.Replicas[0].Tick(now + 2);
        var prePrepare = f.Outboxes[0].Sent.Skip(sentBefore).First(m => m.To == 3 && TypeOf(m.Message) == MessageType.PrePrepare).Message;
        Assert.Equal(PrePrepareForm.HeaderOnly, Read(prePrepare).Form);
        f.Replicas[3].OnMessage(0, f.Outboxes[0].OfType(MessageType.InputsAhead, to: 3).Last(), now + 2);
        f.Replicas[3].OnMessage(0, prePrepare, now + 2);
        f.SkipAll();
        Assert.True(f.Replicas[3].VotesHeld);

        // The others decide 15, and the leader's inputs ahead of 16 reach node 3 too.
        now = RoundsWithoutNodeThree(f, now + 10, 1);
        Assert.True(f.Replicas[0].DecidedHeight >= 15);
        var ahead16 = f.Outboxes[0].OfType(MessageType.InputsAhead, to: 3).Last();
        Assert.Equal(16UL, InputsAheadOf(ahead16).Height);
        f.Replicas[3].OnMessage(0, ahead16, now);

        store.Release();
        f.Replicas[3].Tick(now + 1);
        Assert.False(f.Replicas[3].VotesHeld);
        Assert.Equal(0, f.Replicas[3].PrePreparesWithoutInputs);
        Assert.Single(Prepares(f, 3, 15));
    }
}
