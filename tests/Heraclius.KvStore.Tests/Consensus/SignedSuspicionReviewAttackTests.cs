using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.Storage;
using Heraclius.KvStore.Tests.Simulation;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// Review of signed suspicions (branch signed-suspicions, 411055a): helper attack tests. Each test says whether it
/// failed on 411055a (a finding) or passed there (kept as a regression test of what was found sound).
/// </summary>
public sealed class SignedSuspicionReviewAttackTests
{
    private readonly ITestOutputHelper _output;

    private static readonly int[] HonestOfSeven = [0, 1, 2, 3, 4];
    private static readonly int[] AllButTwo = [0, 1, 3, 4];
    private static readonly int[] AllButOne = [0, 2, 3, 4];
    private static readonly int[] HonestOfFour = [0, 1, 2];
    private static readonly int[] ZeroAndTwo = [0, 2];
    private static readonly int[] OneTwoThree = [1, 2, 3];

    public SignedSuspicionReviewAttackTests(ITestOutputHelper output) => _output = output;

    /// <summary>Real replicas of one 7-node cluster (f = 2), driven message by message.</summary>
    private sealed class Cluster7
    {
        public static readonly TestTopology T = new(7, 1);

        private readonly int[] _delivered = new int[7];
        private ulong _seq = 1;

        public Cluster7()
        {
            for (var i = 0; i < 7; i++)
            {
                Outboxes[i] = new RecordingOutbox();
                Replicas[i] = new Replica(T.Topology, T.ClusterId, i, T.NodeKeys[i], new KeyValueService(), new MemoryWriteAheadLog(), new MemorySnapshotStore(), Outboxes[i], Options);
                Replicas[i].Start(0);
            }

            foreach (var r in Replicas)
            {
                r.Tick(Options.ResendIntervalMs);
            }

            Pump(Options.ResendIntervalMs);
        }

        public ReplicaOptions Options { get; } = new() { BatchDelayMs = 1, ViewChangeTimeoutMs = 1000, ResendIntervalMs = 5 };

        public Replica[] Replicas { get; } = new Replica[7];

        public RecordingOutbox[] Outboxes { get; } = new RecordingOutbox[7];

        public ClientBatch Batch() =>
            ClientBatch.Create("client-0", T.ClusterId, [new ClientRequest(_seq++, KvOperation.Put("k"u8.ToArray(), "v"u8.ToArray()).ToBytes())], T.ClientKeys[0]);

        public static byte[] Sig(int member, ulong view) => T.NodeKeys[member].Sign(SuspicionStatement.Bytes(T.ClusterId, view));

        public static byte[] Suspects(int member, ulong view) => Status(member, view, Sig(member, view));

        public static byte[] Status(int member, ulong view, byte[]? signature) =>
            ReplicaFixture.StatusOf(member, view, 0, signature, suspects: signature is not null);

        public void Skip(int from) => _delivered[from] = Outboxes[from].Sent.Count;

        public void Pump(long now, Func<int, int, byte[], bool>? filter = null) => ReplicaFixture.Pump(Replicas, Outboxes, _delivered, now, filter);

        /// <summary>Byzantine 5 and 6 send each of <paramref name="nodes"/> a validly signed suspicion of view 1000 (pinning their slots before the fix).</summary>
        public void PinFarView(int[] nodes, long now)
        {
            foreach (var k in nodes)
            {
                Replicas[k].OnMessage(5, Suspects(5, 1000), now);
                Replicas[k].OnMessage(6, Suspects(6, 1000), now);
            }
        }

        /// <summary>Node 1's lone, signed suspicion of view 0 in its status to every other honest node; then 5 and 6 say "me too" to node 2 alone.</summary>
        public void LoneSuspicionAndMeTooToNodeTwo(long now)
        {
            foreach (var k in AllButOne)
            {
                Replicas[k].OnMessage(1, Suspects(1, 0), now);
            }

            Replicas[2].OnMessage(5, Suspects(5, 0), now);
            Replicas[2].OnMessage(6, Suspects(6, 0), now);
        }

        public string Describe() => string.Join("; ", Replicas.Select(r => $"{r.NodeId}: view {r.View} inVC {r.InViewChange} decided {r.DecidedHeight}"));
    }

    /// <summary>
    /// Failed on 411055a, before the fix (liveness: the stranded bystander the change means to close, back for f ≥ 2).
    /// n = 7, f = 2, leader 0, byzantine 5 and 6. A member holds one suspicion per member, the highest view, so a
    /// byzantine member that once sends an honest node a status signing a suspicion of a far view (1000) pins its slot
    /// there: a later relayed suspicion of the current view, by that member, is dropped (HoldSuspicion keeps only
    /// higher views). Honest 1 suspects view 0 alone (a real, signed suspicion). Byzantine 5 and 6 poison the slots at
    /// 0, 1, 3 and 4, then tell node 2 alone "me too": node 2 holds {1, 5, 6} = f+1 and leaves, relaying exactly those.
    /// At 0, 3 and 4 the proof counts 1 and 2 (5 and 6 pinned at 1000) = 2 &lt; f+1; at 1, only 2. Nobody follows,
    /// node 2 alone is in a view change, and the other six go on deciding in view 0 (no fault left to tolerate:
    /// 5 and 6 may stop voting whenever they like). The design claims "a node that leaves on suspicions no longer leaves alone".
    /// </summary>
    [Fact]
    public void AByzantineSuspicionOfAFarView_PinsItsSlot_SoTheRelayedProofMovesNobody_AndItsSenderIsStranded()
    {
        var c = new Cluster7();
        long now = 10;
        int[] others = [0, 1, 3, 4];

        // The poison: a validly signed suspicion of view 1000, by 5 and by 6, to every honest node but 2.
        c.PinFarView(others, now);

        // Node 1's lone (honest, signed) suspicion of view 0, in its status to everyone; 5 and 6 say "me too" to node 2 alone.
        c.LoneSuspicionAndMeTooToNodeTwo(now);
        Assert.True(c.Replicas[2].InViewChange);
        var vc = ViewChangeMessage.Parse(c.Outboxes[2].OfType(MessageType.ViewChange, to: 0).First());
        Assert.Equal([1, 5, 6], vc.Suspicions!.Others.Select(s => s.Member));

        // Node 2's VIEW-CHANGE reaches every honest member (the byzantine ones drop it).
        c.Pump(now, (from, to, _) => from == 2 && to is not (5 or 6));
        _output.WriteLine(c.Describe());

        // Wanted: every honest member follows (the proof holds f+1 members, one honest, besides its sender).
        Assert.All(others, k => Assert.True(c.Replicas[k].InViewChange, $"node {k} did not follow node 2's proof"));
    }

    /// <summary>
    /// Control for the test above (passes on 411055a): the same scenario without the pinned slots moves every honest member.
    /// </summary>
    [Fact]
    public void Control_WithoutThePinnedSlots_TheSameProofMovesEveryHonestMember()
    {
        var c = new Cluster7();
        long now = 10;
        c.LoneSuspicionAndMeTooToNodeTwo(now);
        c.Pump(now, (from, to, _) => from == 2 && to is not (5 or 6));
        _output.WriteLine(c.Describe());
        Assert.All(HonestOfSeven, k => Assert.True(c.Replicas[k].InViewChange));
    }

    /// <summary>
    /// Failed on 411055a, before the fix (liveness, the consequence of the pinned slot over time): after the scenario above node 1's
    /// suspicion is withdrawn (its request got in), byzantine 5 and 6 keep voting, and the cluster decides in view 0
    /// without node 2, which is left changing views alone.
    /// </summary>
    [Fact]
    public void AfterThePinnedSlotStrand_TheOthersKeepDecidingInViewZero_WithoutNodeTwo()
    {
        var c = new Cluster7();
        long now = 10;
        c.PinFarView(AllButTwo, now);
        c.LoneSuspicionAndMeTooToNodeTwo(now);

        // Byzantine 5 and 6 vote as honest members do, but ignore every VIEW-CHANGE (run as real replicas, they would follow node 2's proof).
        static bool Byzantine(int from, int to, byte[] m) => !(to is 5 or 6 && ReplicaFixture.TypeOf(m) == MessageType.ViewChange);
        c.Pump(now, Byzantine);

        // Node 1 no longer suspects (the real replica 1 never did: its own periodic statuses withdraw the injected one).
        for (var k = 0; k < 3; k++)
        {
            c.Replicas[0].SubmitBatch(c.Batch().Bytes, now);
            for (var end = now + 100; now <= end; now += 5)
            {
                foreach (var r in c.Replicas)
                {
                    r.Tick(now);
                }

                c.Pump(now, Byzantine);
            }
        }

        _output.WriteLine(c.Describe());
        Assert.True(c.Replicas[0].DecidedHeight >= 3, "the cluster should still decide");
        // All honest members in one view (before the fix: node 2 alone in a view change, the others deciding in view 0).
        Assert.All(HonestOfSeven, k => Assert.Equal(c.Replicas[0].View, c.Replicas[k].View));
        Assert.All(HonestOfSeven, k => Assert.Equal(c.Replicas[0].DecidedHeight, c.Replicas[k].DecidedHeight));
    }

    /// <summary>
    /// Failed on 411055a, before the fix (robustness / spec: "valid only if view = w−1"). A VIEW-CHANGE(0) has no view below it, but
    /// proof.View + 1 wraps (unchecked u64): a proof of view 2^64−1 passes and pins its sender's slot at the highest
    /// possible view for good (the pinning above, by VIEW-CHANGE instead of status). Wanted: refused as InvalidSuspicion.
    /// </summary>
    [Fact]
    public void AViewChangeToViewZero_WithAProofOfViewMaxValue_IsRefused()
    {
        var f = new ReplicaFixture();
        var vc = ReplicaFixture.ViewChangeOf(3, 0, ReplicaFixture.SuspicionSignature(3, ulong.MaxValue), [], proofView: ulong.MaxValue);
        f.Replicas[0].OnMessage(3, vc, 20);
        _output.WriteLine(string.Join(", ", f.Replicas[0].Rejections.Select(kv => $"{kv.Key}={kv.Value}")));
        Assert.Equal(1, f.Replicas[0].Rejections.GetValueOrDefault(RejectReason.InvalidSuspicion));
    }

    /// <summary>
    /// Passes on 411055a (the documented, accepted cost of signing): two honest members each suspected view 0 once and
    /// withdrew; the byzantine member replays both signatures in its VIEW-CHANGE(1) and the whole cluster leaves view 0
    /// together (never a stranded node). One stale honest signature is not enough: a proof needs f+1 members besides
    /// its sender, and the byzantine member has only its own key (see the next test).
    /// </summary>
    [Fact]
    public void TwoStaleHonestSuspicions_ReplayedByAByzantineMember_MoveTheWholeClusterOnce()
    {
        var f = new ReplicaFixture();
        long now = 20;
        foreach (var k in ZeroAndTwo)
        {
            SuspectedAndWithdrew(f.Replicas[k], 1, now);
            SuspectedAndWithdrew(f.Replicas[k], 2, now);
        }

        var vc = ReplicaFixture.ViewChangeOf(3, 1, ReplicaFixture.SuspicionSignature(3, 0),
            [new(1, ReplicaFixture.SuspicionSignature(1, 0)), new(2, ReplicaFixture.SuspicionSignature(2, 0))]);
        foreach (var k in HonestOfFour)
        {
            f.Replicas[k].OnMessage(3, vc, now);
        }

        Assert.All(HonestOfFour, k => Assert.True(f.Replicas[k].InViewChange));
        Assert.All(HonestOfFour, k => Assert.Equal(1UL, f.Replicas[k].View));
    }

    /// <summary>
    /// Passes on 411055a: one stale honest suspicion (node 1's, withdrawn) and the byzantine member's own move nobody:
    /// it cannot relay node 1's alone (a proof's others part is empty or f+1), and a status carries only its sender's.
    /// </summary>
    [Fact]
    public void OneStaleHonestSuspicion_AndAByzantineMember_MoveNobody()
    {
        var f = new ReplicaFixture();
        long now = 20;
        foreach (var k in ZeroAndTwo)
        {
            SuspectedAndWithdrew(f.Replicas[k], 1, now);
            f.Replicas[k].OnMessage(3, ReplicaFixture.SuspicionOf(3, 0), now);
            f.Replicas[k].OnMessage(3, ReplicaFixture.ViewChangeOf(3, 1, ReplicaFixture.SuspicionSignature(3, 0), []), now);
            f.Replicas[k].OnMessage(3, ReplicaFixture.ViewChangeOf(3, 1, ReplicaFixture.SuspicionSignature(3, 0),
                [new(1, ReplicaFixture.SuspicionSignature(1, 0))]), now);
        }

        Assert.All(ZeroAndTwo, k => Assert.False(f.Replicas[k].InViewChange));
    }

    /// <summary>
    /// Passes on 411055a (safety: NEW-VIEW validation does not depend on proofs). A NEW-VIEW(1) whose VIEW-CHANGEs carry
    /// a bad proof (a forged suspicion) is still entered by a follower: proofs change nothing there, and the forced
    /// proposal is derived from the certificates alone.
    /// </summary>
    [Fact]
    public void ANewViewIsJudgedWithoutItsProofs()
    {
        var f = new ReplicaFixture();
        var forged = ReplicaFixture.T.NodeKeys[3].Sign(SuspicionStatement.Bytes(ReplicaFixture.T.ClusterId, 0));
        var vcs = OneTwoThree
            .Select(i => ViewChangeMessage.Parse(ReplicaFixture.ViewChangeOf(i, 1, ReplicaFixture.SuspicionSignature(i, 0),
                i == 3 ? [new(0, forged), new(1, forged)] : [])))
            .ToList();
        var nv = NewViewMessage.Encode(1, 1, vcs, null, ReplicaFixture.T.ClusterId, ReplicaFixture.T.NodeKeys[1]);
        f.Replicas[0].OnMessage(1, nv, 20);
        Assert.Equal(1UL, f.Replicas[0].View);
        Assert.False(f.Replicas[0].InViewChange);
    }

    /// <summary>Passes on 411055a: a proof count of 2^32−1 is malformed before anything is allocated or verified.</summary>
    [Fact]
    public void AProofCountOfUintMax_IsMalformed()
    {
        var f = new ReplicaFixture();
        var vc = ReplicaFixture.ViewChangeOf(3, 1, ReplicaFixture.SuspicionSignature(3, 0), []);
        var body = vc.AsSpan(0, vc.Length - 64).ToArray();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(body.Length - 4), uint.MaxValue);
        var w = new Heraclius.KvStore.Encoding.CanonicalWriter(body.Length + 64);
        w.Fixed(body);
        var bad = Envelope.Finish(w, ReplicaFixture.T.ClusterId, ReplicaFixture.T.NodeKeys[3]);
        f.Replicas[0].OnMessage(3, bad, 20);
        Assert.Equal(1, f.Replicas[0].Rejections.GetValueOrDefault(RejectReason.Malformed));
    }

    /// <summary>A status of member <paramref name="peer"/> in normal view <paramref name="view"/> that does not suspect.</summary>
    /// <summary>Member <paramref name="peer"/>'s statuses to <paramref name="r"/>: suspecting the leader of view 0, then no longer.</summary>
    private static void SuspectedAndWithdrew(Replica r, int peer, long now)
    {
        r.OnMessage(peer, ReplicaFixture.SuspicionOf(peer, 0), now);
        r.OnMessage(peer, Withdrawn(peer, 0), now);
    }

    private static byte[] Withdrawn(int peer, ulong view)
    {
        var w = Envelope.Begin(MessageType.Status, peer, 33);
        w.U64(view);
        w.Bool(false);
        w.U64(0);
        w.Bool(false);
        return w.ToArray();
    }
}
