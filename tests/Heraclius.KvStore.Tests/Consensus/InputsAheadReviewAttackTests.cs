using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.KeyValue;
using Heraclius.KvStore.StateMachine;
using Heraclius.KvStore.Storage;

using static Heraclius.KvStore.Tests.Consensus.ReplicaFixture;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// Review of "inputs ahead" (commit 4fbdcfa): attacks on the speculative execution a follower keeps open between a
/// leader's unsigned InputsAhead and its pre-prepare. Tests named Finding_* failed on 4fbdcfa and demonstrated a
/// problem, fixed in the commit that added them (an execution ahead counts as waiting work and is rolled back after a
/// timeout without its pre-prepare and at every view change; a batch is remembered as verified only when all the
/// inputs pass); tests named Sound_* passed and pin down behaviour that was checked and found correct.
/// </summary>
public sealed class InputsAheadReviewAttackTests
{

    // ---------------------------------------------------------------------------------------------------------
    // Service timers: the speculative execution hides an overdue deadline from TimersOverdue / TimerTickDue.
    // ---------------------------------------------------------------------------------------------------------

    private static readonly byte[] DeadlineKey = DeadlineService.DeadlineKey;
    private static readonly byte[] FiredKey = DeadlineService.FiredKey;

    private static byte[] U64(ulong v) => DeadlineService.U64(v);

    /// <summary>Four replicas of ReplicaFixture.T running <see cref="DeadlineService"/>, driven message by message.</summary>
    private sealed class TimerCluster
    {
        public readonly Replica[] Replicas = new Replica[4];
        public readonly RecordingOutbox[] Outboxes = new RecordingOutbox[4];
        public readonly int[] Delivered = new int[4];
        public readonly HashSet<int> Down = [];

        public TimerCluster()
        {
            var options = new ReplicaOptions
            {
                BatchDelayMs = 1, ViewChangeTimeoutMs = 400, ResendIntervalMs = 50, TimerTickMs = 100, StateBuckets = 16, SaveEveryCheckpoints = 1,
            };
            for (var i = 0; i < 4; i++)
            {
                Outboxes[i] = new RecordingOutbox();
                Replicas[i] = new Replica(ReplicaFixture.T.Topology, ReplicaFixture.T.ClusterId, i, ReplicaFixture.T.NodeKeys[i], new DeadlineService(),
                    new MemoryWriteAheadLog(), new MemorySnapshotStore(), Outboxes[i], options);
                Replicas[i].Start(0);
            }

            for (var i = 0; i < 4; i++)
            {
                Replicas[i].Tick(50);
            }

            Pump(50);
        }

        public void Pump(long now, Func<int, int, byte[], bool>? filter = null) =>
            ReplicaFixture.Pump(Replicas, Outboxes, Delivered, now,
                (from, to, m) => !Down.Contains(from) && !Down.Contains(to) && (filter is null || filter(from, to, m)));

        /// <summary>Height 1: a request setting a deadline 1,000 ms after its decision (decided at 100, due at 1,100).</summary>
        public void SetDeadline()
        {
            var batch = ClientBatch.Create("client-0", ReplicaFixture.T.ClusterId, [new ClientRequest(1, U64(1_000))], ReplicaFixture.T.ClientKeys[0]);
            Assert.True(Replicas[0].SubmitBatch(batch.Bytes, 100).Accepted);
            Replicas[0].Tick(102);
            Pump(102);
            Assert.All(Replicas, r => Assert.Equal(1UL, r.DecidedHeight));
            Assert.All(Replicas, r => Assert.NotNull(r.State.Get(DeadlineKey)));
        }

        /// <summary>
        /// The leader's tick at 1,300 (the deadline is overdue) proposes a timestamp-only decision; the leader crashes
        /// right after its InputsAhead left, before the pre-prepare did (it broadcasts InputsAhead before it executes and
        /// logs its prepare). Only <paramref name="reached"/> got the InputsAhead.
        /// </summary>
        public void LeaderCrashesAfterInputsAhead(params int[] reached)
        {
            var mark = Outboxes[0].Sent.Count;
            Replicas[0].Tick(1_300);
            var sent = Outboxes[0].Sent.Skip(mark).ToList();
            Assert.Contains(sent, s => ReplicaFixture.TypeOf(s.Message) == MessageType.PrePrepare);
            foreach (var (to, message) in sent)
            {
                if (ReplicaFixture.TypeOf(message) == MessageType.InputsAhead && reached.Contains(to))
                {
                    Replicas[to].OnMessage(0, message, 1_300);
                }
            }

            Delivered[0] = Outboxes[0].Sent.Count;
            Down.Add(0);
        }

        /// <summary>The three live members run until <paramref name="until"/>, ticking every resend interval.</summary>
        public void RunFollowers(long from, long until)
        {
            for (var t = from; t <= until; t += 50)
            {
                foreach (var i in Followers)
                {
                    Replicas[i].Tick(t);
                }

                Pump(t);
            }
        }

        public bool FiredInDecidedState(int i)
        {
            Replicas[i].ComputeDecidedStateRoot();
            return Replicas[i].State.Get(FiredKey) is not null;
        }
    }

    /// <summary>
    /// SOUND (control, passes): a leader that crashes with a deadline overdue and its tick's pre-prepare never sent (no
    /// InputsAhead delivered either) is replaced because of the overdue deadline alone, the next leader fires it, and
    /// the view stays 1. This is what TimerTickTests.ALeaderThatCrashesWithADeadlinePending_IsReplaced promises.
    /// </summary>
    [Fact]
    public void Sound_Control_ACrashedLeadersOverdueDeadline_IsFiredByTheNextLeader_WhenNoInputsAheadArrived()
    {
        var c = new TimerCluster();
        c.SetDeadline();
        c.LeaderCrashesAfterInputsAhead();
        c.RunFollowers(1_300, 15_000);

        Assert.All(Followers, i => Assert.True(c.Replicas[i].DecidedHeight >= 2));
        Assert.All(Followers, i => Assert.True(c.FiredInDecidedState(i)));
        Assert.All(Followers, i => Assert.Equal(1UL, c.Replicas[i].View));
    }

    /// <summary>
    /// FINDING (fails on 4fbdcfa): the same crash, but the leader's timestamp-only InputsAhead reached every follower
    /// before it died. Each follower executed it ahead and keeps that execution open indefinitely (only a pre-prepare, a
    /// decision, a snapshot or the node's own proposal rolls it back; a view change or a timeout does not). CheckTimeouts
    /// reads TimersOverdue() through the open execution, whose timer run already fired the deadline, so no follower
    /// ever sees work waiting, none suspects the dead leader, and the deadline never fires in the decided state (on an
    /// idle cluster: until some client request arrives). A byzantine leader gets the same effect deliberately: one
    /// timestamp-only InputsAhead and no pre-prepare suppresses the overdue-timer detection for as long as it likes.
    /// </summary>
    [Fact]
    public void Finding_ACrashedLeadersTimerTickInputsAhead_HidesTheOverdueDeadline_SoTheDeadLeaderIsNeverReplaced()
    {
        var c = new TimerCluster();
        c.SetDeadline();
        c.LeaderCrashesAfterInputsAhead(1, 2, 3);
        // Height 1's inputs ahead, then the tick's.
        Assert.All(Followers, i => Assert.Equal(2, c.Replicas[i].InputsAheadExecuted));
        c.RunFollowers(1_300, 15_000);

        Assert.All(Followers, i => Assert.True(c.Replicas[i].DecidedHeight >= 2, $"member {i} decided only {c.Replicas[i].DecidedHeight}, view {c.Replicas[i].View}"));
        Assert.All(Followers, i => Assert.True(c.FiredInDecidedState(i)));
    }

    /// <summary>
    /// FINDING (fails on 4fbdcfa): the crashed leader's tick InputsAhead reached only member 1, the next view's leader.
    /// Members 2 and 3 see the deadline overdue, suspect, and pull member 1 along (f+1 others), so view 1 starts. But
    /// member 1, an honest leader, still holds the execution ahead of view 0: TryPropose reads TimerTickDue() through
    /// it (nothing due), returns before its DropExecution, and never proposes the tick. Members 2 and 3 time out again
    /// and the honest leader of view 1 is replaced (view 2), a view change triggered by an honest leader.
    /// </summary>
    [Fact]
    public void Finding_AnHonestNewLeaderHoldingTheOldLeadersTickAhead_NeverTicks_AndIsReplaced()
    {
        var c = new TimerCluster();
        c.SetDeadline();
        c.LeaderCrashesAfterInputsAhead(1);
        Assert.Equal(2, c.Replicas[1].InputsAheadExecuted);
        c.RunFollowers(1_300, 15_000);

        // The root cause first: member 1 reached view 1 as its leader and never proposed in it.
        Assert.True(c.Replicas[1].ViewChangesStarted >= 1);
        var proposedInView1 = c.Outboxes[1].OfType(MessageType.PrePrepare).Any(m => PrePrepareMessage.Read(Envelope.Open(m).Body).View == 1);
        Assert.True(proposedInView1, $"member 1 led view 1 and never proposed the overdue tick; views now {string.Join(",", Followers.Select(i => c.Replicas[i].View))}");
        Assert.All(Followers, i => Assert.True(c.Replicas[i].DecidedHeight >= 2));
        Assert.All(Followers, i => Assert.True(c.FiredInDecidedState(i)));
        Assert.All(Followers, i => Assert.Equal(1UL, c.Replicas[i].View));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Memory: verified client-batch digests accumulate without a decision.
    // ---------------------------------------------------------------------------------------------------------

    /// <summary>
    /// FINDING (fails on 4fbdcfa): CheckInputs records every client batch whose signature it verified in
    /// _verifiedBatches before it reaches a batch that fails; an InputsAhead that fails costs the leader nothing (no
    /// view change, only a counter), and nothing but a decision (ApplyDecided: cleared past 4 x MaxPoolBatches) ever
    /// trims the set. A byzantine leader (replaying old genuine batches, or with a colluding client) appends N fresh
    /// valid batches and one of an unknown client to each InputsAhead and repeats: every follower's set grows without
    /// bound for as long as nothing is decided (an idle cluster does not suspect a leader that proposes nothing). Before
    /// the change the same set grew only through the bounded pool, or through one pre-prepare per view.
    /// </summary>
    [Fact]
    public void Finding_FailingInputsAhead_GrowTheVerifiedBatchSetWithoutBound()
    {
        var f = new ReplicaFixture(o => { o.SendInputsAhead = true; o.MaxPoolBatches = 8; });
        var follower = f.Replicas[1];
        var prev = follower.LastHeaderHash;
        using var mallory = SigningKey.Generate();
        ulong seq = 1000;
        for (var m = 0; m < 25; m++)
        {
            var batches = new List<ClientBatch>();
            for (var k = 0; k < 20; k++)
            {
                batches.Add(ClientBatch.Create("client-0", ReplicaFixture.T.ClusterId,
                    [new ClientRequest(seq++, KvOperation.Put("k"u8.ToArray(), "v"u8.ToArray()).ToBytes())], ReplicaFixture.T.ClientKeys[0]));
            }

            batches.Add(ClientBatch.Create("mallory", ReplicaFixture.T.ClusterId,
                [new ClientRequest(1, KvOperation.Put("k"u8.ToArray(), "v"u8.ToArray()).ToBytes())], mallory));
            var inputs = new ProposalInputs(20, batches).ToBytes();
            follower.OnMessage(0, InputsAheadMessage.Encode(0, 0, 1, prev, inputs), 20);
        }

        Assert.Equal(25, Rejected(follower, RejectReason.InvalidInputsAhead));
        Assert.Equal(0, follower.InputsAheadExecuted);
        Assert.Equal(0, follower.ViewChangesStarted);
        Assert.True(follower.VerifiedBatchesHeld <= 4 * f.Options.MaxPoolBatches, $"{follower.VerifiedBatchesHeld} verified digests held with nothing pooled or decided");
    }

    // ---------------------------------------------------------------------------------------------------------
    // View change: the execution ahead of the old view is not rolled back.
    // ---------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Leader 0 proposes <paramref name="batch"/>; its InputsAhead reach members 1-3, then it crashes before the
    /// pre-prepare leaves; the others hold the batch, suspect, and move to view 1 (member 1 leads).
    /// </summary>
    private static void CrashAfterInputsAheadThenViewChange(ReplicaFixture f, ClientBatch batch)
    {
        foreach (var i in Followers)
        {
            f.Replicas[i].SubmitBatch(batch.Bytes, 10);
        }

        f.Replicas[0].SubmitBatch(batch.Bytes, 10);
        f.Replicas[0].Tick(12);
        var down = new HashSet<int> { 0 };
        f.Pump(12, (from, to, m) => from == 0 && to != 0 && ReplicaFixture.TypeOf(m) == MessageType.InputsAhead);
        Assert.All(Followers, i => Assert.Equal(1, f.Replicas[i].InputsAheadExecuted));

        f.TimeOut(3_000, 1, 2, 3);
        f.Pump(3_000, (from, to, m) => from != 0 && to != 0);
        Assert.All(Followers, i => Assert.Equal(1UL, f.Replicas[i].View));
        Assert.All(Followers, i => Assert.False(f.Replicas[i].InViewChange));
    }

    /// <summary>
    /// FINDING (fails on 4fbdcfa; performance and a design.md mismatch, not safety): design.md says a view change rolls
    /// the execution ahead back. It does not: StartViewChange / EnterView leave _slot.Exec open, so in view 1 members 2
    /// and 3 still hold view 0's execution, and ExecuteAhead refuses the new leader's InputsAhead ("_slot.Exec is not
    /// null"). The first height of every view after a leader failure thus gets no execution ahead (and, meanwhile, every
    /// read of the state by CheckTimeouts/TryPropose goes through a dead leader's speculative writes; see the timer findings).
    /// </summary>
    [Fact]
    public void Finding_AViewChangeDoesNotRollBackTheExecutionAhead_SoTheNewLeadersInputsAheadAreRefused()
    {
        var f = new ReplicaFixture(o => o.SendInputsAhead = true);
        var batch = f.Batch();
        CrashAfterInputsAheadThenViewChange(f, batch);
        Assert.All(Followers, i => Assert.Equal(1UL, f.Replicas[i].DecidedHeight));

        // The new leader sent its own InputsAhead for height 1 in view 1 before its pre-prepare.
        var fresh = f.Outboxes[1].OfType(MessageType.InputsAhead, to: 2).Select(ReplicaFixture.InputsAheadOf).ToList();
        Assert.Contains(fresh, a => a.View == 1 && a.Height == 1);

        foreach (var i in new[] { 2, 3 })
        {
            Assert.Equal(2, f.Replicas[i].InputsAheadExecuted);
            Assert.Equal(1, f.Replicas[i].InputsAheadUsed);
        }
    }

    /// <summary>
    /// SOUND (passes): after the view change above, the old leader's InputsAhead of view 0 replayed (by itself, the only
    /// sender the transport lets send as it) is ignored: its view is not the current one. It counts nothing, executes
    /// nothing, and the decided states agree.
    /// </summary>
    [Fact]
    public void Sound_AnOldViewsInputsAhead_ReplayedAfterTheViewChange_AreIgnored()
    {
        var f = new ReplicaFixture(o => o.SendInputsAhead = true);
        var batch = f.Batch();
        CrashAfterInputsAheadThenViewChange(f, batch);
        var old = f.Outboxes[0].OfType(MessageType.InputsAhead, to: 2).First();
        var executed = f.Replicas[2].InputsAheadExecuted;

        f.Replicas[2].OnMessage(0, old, 3_100);

        Assert.Equal(executed, f.Replicas[2].InputsAheadExecuted);
        Assert.Equal(0, Rejected(f.Replicas[2], RejectReason.InvalidInputsAhead));
        var roots = Followers.Select(i => f.Replicas[i].ComputeDecidedStateRoot()).Distinct().ToList();
        Assert.Single(roots);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Catch-up, held inputs, checkpoints: paths that move the decided state with an execution ahead open.
    // ---------------------------------------------------------------------------------------------------------

    /// <summary>
    /// SOUND (passes): member 1 executes valid inputs the leader never proposes, then is cut off; the others decide three
    /// heights; member 1 catches up through DecisionBatch. Decide rolls the execution ahead back (DropExecution) before it
    /// executes the certified decision: no exception, no divergence, the execution counted as wasted.
    /// </summary>
    [Fact]
    public void Sound_CatchUpPastAnOpenExecutionAhead_RollsItBackAndConverges()
    {
        var f = new ReplicaFixture(o => o.SendInputsAhead = true);
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, 10);
        f.Replicas[0].Tick(12);
        var genuine = ReplicaFixture.InputsAheadOf(f.Outboxes[0].OfType(MessageType.InputsAhead, to: 1).Single());
        var inputs = ProposalInputs.Parse(genuine.Inputs);
        var other = new ProposalInputs(inputs.Timestamp + 1, inputs.Batches).ToBytes();
        f.Replicas[1].OnMessage(0, InputsAheadMessage.Encode(0, genuine.View, genuine.Height, genuine.PreviousHeader, other), 12);
        Assert.Equal(1, f.Replicas[1].InputsAheadExecuted);

        f.Pump(12, (from, to, m) => from != 1 && to != 1);
        for (var h = 1; h < 3; h++)
        {
            var now = 20 + (h * 10);
            f.Replicas[0].SubmitBatch(f.Batch().Bytes, now);
            f.Replicas[0].Tick(now + 2);
            f.Pump(now + 2, (from, to, m) => from != 1 && to != 1);
        }

        Assert.Equal(3UL, f.Replicas[0].DecidedHeight);
        Assert.Equal(0UL, f.Replicas[1].DecidedHeight);

        // Statuses tell member 1 it is behind; it fetches the decisions.
        f.Replicas[0].Tick(200);
        f.Replicas[1].Tick(200);
        f.Pump(200);

        Assert.Equal(3UL, f.Replicas[1].DecidedHeight);
        Assert.Equal(1, f.Replicas[1].InputsAheadWasted);
        var roots = f.Replicas.Select(r => r.ComputeDecidedStateRoot()).Distinct().ToList();
        Assert.Single(roots);
    }

    /// <summary>
    /// SOUND (passes): inputs ahead held for decided+2 that name a previous header other than the one this node then
    /// decides (the leader lied, or the height was decided with another header) are dropped at the decision, not executed
    /// on a state they do not extend; the genuine pre-prepare is executed afresh and decided.
    /// </summary>
    [Fact]
    public void Sound_HeldInputsAheadNamingAnotherPreviousHeader_AreNotExecuted()
    {
        var f = new ReplicaFixture(o => o.SendInputsAhead = true);
        var commitsTo1 = new List<(int From, byte[] Message)>();
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, 10);
        f.Replicas[0].Tick(12);
        f.Pump(12, (from, to, m) =>
        {
            if (to == 1 && ReplicaFixture.TypeOf(m) == MessageType.Commit)
            {
                commitsTo1.Add((from, m));
                return false;
            }

            return true;
        });
        Assert.Equal(0UL, f.Replicas[1].DecidedHeight);

        f.Replicas[0].SubmitBatch(f.Batch().Bytes, 20);
        f.Replicas[0].Tick(22);
        var genuine = ReplicaFixture.InputsAheadOf(f.Outboxes[0].OfType(MessageType.InputsAhead, to: 1).Last());
        Assert.Equal(2UL, genuine.Height);
        f.Replicas[1].OnMessage(0, InputsAheadMessage.Encode(0, genuine.View, genuine.Height, Hash32.Of("not the header"u8), genuine.Inputs.Span), 22);
        foreach (var (from, m) in commitsTo1)
        {
            f.Replicas[1].OnMessage(from, m, 22);
        }

        Assert.Equal(1UL, f.Replicas[1].DecidedHeight);
        Assert.Equal(1, f.Replicas[1].InputsAheadExecuted);

        f.Pump(22, (from, to, m) => !(ReplicaFixture.TypeOf(m) == MessageType.InputsAhead && to == 1));
        Assert.All(f.Replicas, r => Assert.Equal(2UL, r.DecidedHeight));
        Assert.Equal(1, f.Replicas[1].InputsAheadUsed);
        Assert.Equal(0, f.Replicas[1].ViewChangesStarted);
        var roots = f.Replicas.Select(r => r.ComputeDecidedStateRoot()).Distinct().ToList();
        Assert.Single(roots);
    }

    /// <summary>
    /// SOUND (passes): with a checkpoint every 4 heights, executions ahead at checkpoint heights carry the capture's root
    /// (StateRootFor at decided+1 reads the capture of the checkpoint an interval before), are taken by the pre-prepares,
    /// and every header and state agrees across nine heights (checkpoints at 4 and 8, BeginCapture never sees one open).
    /// </summary>
    [Fact]
    public void Sound_ExecutionsAheadAtCheckpointHeights_AreTakenAndAgree()
    {
        var f = new ReplicaFixture(o =>
        {
            o.SendInputsAhead = true;
            o.CheckpointInterval = 4;
            o.RetainDecisions = 12;
            o.StateBuckets = 16;
        });
        f.DecideBatches(0, 9, All);

        foreach (var i in Followers)
        {
            Assert.Equal(9, f.Replicas[i].InputsAheadUsed);
            Assert.Equal(0, f.Replicas[i].InputsAheadWasted);
        }

        // Served: the capture of 4, which the header of 8 certified.
        Assert.All(f.Replicas, r => Assert.Equal(4UL, r.CheckpointHeight));
        var roots = f.Replicas.Select(r => r.ComputeDecidedStateRoot()).Distinct().ToList();
        Assert.Single(roots);
        Assert.All(f.Replicas, r => Assert.Equal(f.Replicas[0].LastHeaderHash, r.LastHeaderHash));
    }

    /// <summary>
    /// SOUND (passes): an execution ahead whose inputs were fresh on arrival but are past the lag tolerance when the
    /// pre-prepare carrying them arrives is judged as a fresh execution would be (TakeExecutionAhead re-checks the clock):
    /// refused, rolled back, a view change, and the decided state untouched by the speculative writes.
    /// </summary>
    [Fact]
    public void Sound_ATakenExecutionAhead_IsRejudgedByTheClockWhenThePrePrepareComes()
    {
        var f = new ReplicaFixture(o => { o.SendInputsAhead = true; o.TimestampLagToleranceMs = 100; });
        var before = f.Replicas[1].ComputeDecidedStateRoot();
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, 10);
        f.Replicas[0].Tick(12);
        var ahead = f.Outboxes[0].OfType(MessageType.InputsAhead, to: 1).Single();
        var prePrepare = f.Outboxes[0].OfType(MessageType.PrePrepare, to: 1).First();
        f.SkipAll();
        f.Replicas[1].OnMessage(0, ahead, 12);
        Assert.Equal(1, f.Replicas[1].InputsAheadExecuted);

        f.Replicas[1].OnMessage(0, prePrepare, 500);

        Assert.Equal(0, f.Replicas[1].InputsAheadUsed);
        Assert.Equal(1, f.Replicas[1].InputsAheadWasted);
        Assert.Equal(1, Rejected(f.Replicas[1], RejectReason.InvalidProposal));
        Assert.True(f.Replicas[1].InViewChange);
        Assert.Equal(before, f.Replicas[1].ComputeDecidedStateRoot());
    }
}
