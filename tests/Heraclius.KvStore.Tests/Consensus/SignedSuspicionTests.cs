using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;

using static Heraclius.KvStore.Tests.Consensus.ReplicaFixture;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// Suspicions are signed, and a member that changes view because f+1 other members suspect the leader sends their
/// signatures in its VIEW-CHANGE, so every member still in the view follows. Before, statuses were unsigned and point to
/// point: a byzantine member's "me too" to one honest node beside one honest lone suspicion took that node alone out
/// of a view the others kept deciding in (a stranded bystander, and no fault left to tolerate).
/// </summary>
public sealed class SignedSuspicionTests
{
    private readonly ITestOutputHelper _output;

    public SignedSuspicionTests(ITestOutputHelper output) => _output = output;

    /// <summary>The leader never receives node 1's forwards: node 1's request reaches it only through the others.</summary>
    private static bool LeaderMissesForwardsOfOne(int from, int to, byte[] m) =>
        !(from == 1 && to == 0 && ReplicaFixture.TypeOf(m) == MessageType.ForwardBatch);


    private static void Run(ReplicaFixture f, ref long now, long until, Func<int, int, byte[], bool>? filter = null, Action<long>? each = null)
    {
        for (; now <= until; now += 5)
        {
            each?.Invoke(now);
            foreach (var r in f.Replicas)
            {
                r.Tick(now);
            }

            f.Pump(now, filter);
        }
    }

    /// <summary>
    /// Node 1's request reaches the leader only through the others, so node 1 alone suspects the leader for a few ms
    /// (until the decision withdraws it). Byzantine node 3 tells node 2 alone "me too" meanwhile: node 2 sees f+1 others
    /// and changes view, and its VIEW-CHANGE reaches the others only after node 1 withdrew (the network is slower than
    /// the decision). Before, nodes 0, 1 and 3 saw one member leave, went on deciding in view 0, and node 2 stayed in
    /// view 1 for good. Now node 2's VIEW-CHANGE carries node 1's and node 3's signed suspicions: nodes 0 and 1 follow,
    /// and the cluster decides again in view 1 with every honest member.
    /// </summary>
    [Fact]
    public void AByzantineMeTooToABystander_PullsEveryHonestMemberAlong_NoneIsStranded()
    {
        var f = new ReplicaFixture();
        f.Replicas[1].SubmitBatch(f.Batch().Bytes, 10);
        long now = 10;
        var lied = false;

        // Node 2's VIEW-CHANGE is lost while node 1 still suspects; its re-sends arrive after.
        bool Network(int from, int to, byte[] m) =>
            LeaderMissesForwardsOfOne(from, to, m) && !(from == 2 && ReplicaFixture.TypeOf(m) == MessageType.ViewChange && f.Replicas[1].SuspectsLeader);
        Run(f, ref now, 1500, Network, _ =>
        {
            if (!lied && f.Replicas[1].SuspectsLeader)
            {
                // Node 2 has node 1's suspecting status (broadcast when it suspected); node 3 says "me too" to it alone.
                lied = true;
                f.Replicas[2].OnMessage(3, ReplicaFixture.SuspicionOf(3, 0, f.Replicas[2].DecidedHeight), now);
            }
        });

        Assert.True(lied);
        Assert.False(f.Replicas[1].SuspectsLeader);
        Assert.Equal(1UL, f.Replicas[0].DecidedHeight);
        var vc = ViewChangeMessage.Parse(f.Outboxes[2].OfType(MessageType.ViewChange, to: 0).First());
        Assert.Equal(1UL, vc.NewView);
        Assert.NotNull(vc.Suspicions);
        Assert.Equal([1, 3], vc.Suspicions.Others.Select(s => s.Member));

        // The cluster goes on deciding, all honest members in one view.
        for (var k = 0; k < 3; k++)
        {
            f.Replicas[0].SubmitBatch(f.Batch().Bytes, now);
            Run(f, ref now, now + 100, LeaderMissesForwardsOfOne);
        }

        int[] honest = [0, 1, 2];
        _output.WriteLine(string.Join("; ", f.Replicas.Select(r => $"{r.NodeId}: view {r.View} inVC {r.InViewChange} decided {r.DecidedHeight}")));
        Assert.All(honest, i => Assert.Equal(1UL, f.Replicas[i].View));
        Assert.All(honest, i => Assert.False(f.Replicas[i].InViewChange));
        Assert.All(honest, i => Assert.Equal(4UL, f.Replicas[i].DecidedHeight));
        Assert.Equal(f.Replicas[0].LastHeaderHash, f.Replicas[2].LastHeaderHash);
    }

    /// <summary>
    /// The leader suspects nothing; node 3's VIEW-CHANGE(1) carries nodes 1 and 2's signed suspicions of view 0: f+1
    /// members other than the leader (one of them honest) want view 0 left, so it changes view, and its own
    /// VIEW-CHANGE relays f+1 of them on. Node 1, itself in the proof, counts node 2 and node 3: f+1 others too.
    /// </summary>
    [Fact]
    public void AVIEWCHANGECarryingFPlusOneSignedSuspicions_MovesMembersStillInTheView_AndIsRelayed()
    {
        var f = new ReplicaFixture();
        var vc = ReplicaFixture.ViewChangeOf(3, 1, ReplicaFixture.SuspicionSignature(3, 0),
            [new(1, ReplicaFixture.SuspicionSignature(1, 0)), new(2, ReplicaFixture.SuspicionSignature(2, 0))]);

        f.Replicas[0].OnMessage(3, vc, 20);
        Assert.True(f.Replicas[0].InViewChange);
        Assert.Equal(1UL, f.Replicas[0].View);
        var relayed = ViewChangeMessage.Parse(f.Outboxes[0].OfType(MessageType.ViewChange, to: 2).Single());
        Assert.Equal(0UL, relayed.Suspicions!.View);
        Assert.Equal(2, relayed.Suspicions.Others.Count);
        Assert.DoesNotContain(relayed.Suspicions.Others, s => s.Member == 0);

        f.Replicas[1].OnMessage(3, vc, 20);
        Assert.True(f.Replicas[1].InViewChange);
        Assert.Equal(1UL, f.Replicas[1].View);
    }

    /// <summary>
    /// Every bad proof is refused whole and counted (InvalidSuspicion), and moves nobody: nor does the refused VIEW-CHANGE
    /// count afterwards as its sender's suspicion (with node 2's suspicion it would make f+1 for the leader).
    /// </summary>
    [Theory]
    [InlineData("forged")]
    [InlineData("duplicate")]
    [InlineData("wrong view")]
    [InlineData("wrong cluster")]
    [InlineData("too small")]
    [InlineData("sender counted twice")]
    [InlineData("sender's own forged")]
    [InlineData("non-member")]
    public void ABadSuspicionProof_IsRejected_AndMovesNobody(string kind)
    {
        var f = new ReplicaFixture();
        var leader = f.Replicas[0];
        byte[] Sig(int member, ulong view = 0) => ReplicaFixture.SuspicionSignature(member, view);
        var own = kind == "sender's own forged" ? ReplicaFixture.T.NodeKeys[1].Sign(SuspicionStatement.Bytes(ReplicaFixture.T.ClusterId, 0)) : Sig(3);
        SignedSuspicion[] others = kind switch
        {
            "forged" => [new(1, Sig(1)), new(2, ReplicaFixture.T.NodeKeys[3].Sign(SuspicionStatement.Bytes(ReplicaFixture.T.ClusterId, 0)))],
            "duplicate" => [new(1, Sig(1)), new(1, Sig(1))],
            "wrong view" => [new(1, Sig(1, 1)), new(2, Sig(2, 1))],
            "wrong cluster" => [new(1, ReplicaFixture.SuspicionSignature(1, 0, "other-cluster")), new(2, ReplicaFixture.SuspicionSignature(2, 0, "other-cluster"))],
            "too small" => [new(1, Sig(1))],
            "sender counted twice" => [new(1, Sig(1)), new(3, Sig(3))],
            "non-member" => [new(1, Sig(1)), new(7, Sig(2))],
            _ => [new(1, Sig(1)), new(2, Sig(2))],
        };

        // "wrong view": every signature valid, of view 1, in a VIEW-CHANGE(1) (which may only carry suspicions of view 0).
        var vc = kind == "wrong view"
            ? ReplicaFixture.ViewChangeOf(3, 1, Sig(3, 1), others, proofView: 1)
            : ReplicaFixture.ViewChangeOf(3, 1, own, others);
        leader.OnMessage(3, vc, 20);

        Assert.Equal(1, Rejected(leader, RejectReason.InvalidSuspicion));
        Assert.False(leader.InViewChange);
        Assert.Equal(0UL, leader.View);

        leader.OnMessage(2, ReplicaFixture.SuspicionOf(2, 0), 21);
        Assert.False(leader.InViewChange);
        Assert.Empty(f.Outboxes[0].OfType(MessageType.ViewChange));

        // Control: the honest proof of the same members moves it.
        leader.OnMessage(3, ReplicaFixture.ViewChangeOf(3, 1, Sig(3), [new(1, Sig(1)), new(2, Sig(2))]), 22);
        Assert.True(leader.InViewChange);
    }

    /// <summary>A proof whose count claims more entries than its bytes hold is malformed: refused before anything is allocated.</summary>
    [Fact]
    public void ATruncatedSuspicionProof_IsMalformed()
    {
        var f = new ReplicaFixture();
        var vc = ReplicaFixture.ViewChangeOf(3, 1, ReplicaFixture.SuspicionSignature(3, 0),
            [new(1, ReplicaFixture.SuspicionSignature(1, 0)), new(2, ReplicaFixture.SuspicionSignature(2, 0))]);

        // Re-sign a body whose entry count says 200: the envelope signature is valid, the proof is not.
        var body = ReplicaFixture.Unsigned(vc);
        var countAt = body.Length - (2 * 68) - 4;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(countAt), 200);
        var forged = ReplicaFixture.Resigned(3, body);

        f.Replicas[0].OnMessage(3, forged, 20);
        Assert.Equal(1, Rejected(f.Replicas[0], RejectReason.Malformed));
        Assert.False(f.Replicas[0].InViewChange);
    }

    /// <summary>
    /// A status whose suspicion signature is not its sender's for that view is refused (InvalidSuspicion) and suspects
    /// nothing; a suspecting status without a signature (a node of the version before) reads as not suspecting.
    /// </summary>
    [Fact]
    public void AStatusWithABadSuspicionSignature_DoesNotCount()
    {
        var f = new ReplicaFixture();
        var r = f.Replicas[2];
        var keyOfThree = ReplicaFixture.T.NodeKeys[3];

        r.OnMessage(3, ReplicaFixture.SuspicionOf(3, 0), 20);
        r.OnMessage(1, ReplicaFixture.StatusOf(1, 0, 0, keyOfThree.Sign(SuspicionStatement.Bytes(ReplicaFixture.T.ClusterId, 0))), 21);
        r.OnMessage(1, ReplicaFixture.StatusOf(1, 0, 0, ReplicaFixture.SuspicionSignature(1, 1)), 22);
        r.OnMessage(1, ReplicaFixture.StatusOf(1, 0, 0, ReplicaFixture.SuspicionSignature(1, 0, "other-cluster")), 23);
        Assert.Equal(3, Rejected(r, RejectReason.InvalidSuspicion));

        r.OnMessage(1, ReplicaFixture.StatusOf(1, 0, 0, null), 24);
        Assert.False(r.InViewChange);
        Assert.Equal(0UL, r.View);

        // Control: node 1's signed suspicion makes f+1 with node 3's.
        r.OnMessage(1, ReplicaFixture.SuspicionOf(1, 0), 25);
        Assert.True(r.InViewChange);
    }

    /// <summary>
    /// The proof is part of the VIEW-CHANGE's bytes, logged before they are sent: a node that changed view on f+1
    /// suspicions and crashed before its VIEW-CHANGE left re-sends it after the restart, proof included, and pulls the
    /// leader (which suspects nothing) along.
    /// </summary>
    [Fact]
    public void TheProofSurvivesARestart_InTheLoggedVIEWCHANGE()
    {
        var f = new ReplicaFixture();
        f.Replicas[2].OnMessage(1, ReplicaFixture.SuspicionOf(1, 0), 20);
        f.Replicas[2].OnMessage(3, ReplicaFixture.SuspicionOf(3, 0), 20);
        Assert.True(f.Replicas[2].InViewChange);
        f.Skip(2);

        f.Boot(2, 30);
        long now = 30;
        Run(f, ref now, 60, (from, to, _) => from == 2 && to == 0);

        Assert.True(f.Replicas[2].InViewChange);
        Assert.Equal(1UL, f.Replicas[0].View);
        Assert.True(f.Replicas[0].InViewChange);
        var resent = ViewChangeMessage.Parse(f.Outboxes[2].OfType(MessageType.ViewChange, to: 0).First());
        Assert.Equal([1, 3], resent.Suspicions!.Others.Select(s => s.Member));
    }
}
