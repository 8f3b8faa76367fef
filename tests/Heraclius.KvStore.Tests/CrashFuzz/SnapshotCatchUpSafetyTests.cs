using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Tests.Consensus;
using static Heraclius.KvStore.Tests.CrashFuzz.CatchUpScenario;

namespace Heraclius.KvStore.Tests.CrashFuzz;

public sealed class SnapshotCatchUpSafetyTests
{
    private readonly ITestOutputHelper _output;

    public SnapshotCatchUpSafetyTests(ITestOutputHelper output) => _output = output;

    /// <summary>
    /// A snapshot fetch started at height 5 for snapshot 8 (certified at 12) completes after the node reached 13 by
    /// decision batches from another peer: it must not be installed (the chain would move back).
    /// </summary>
    [Fact]
    public void SnapshotOvertakenByDecisions_DoesNotMoveTheChainBack()
    {
        long now = 10;
        var (f, fetches) = OvertakenSnapshotFetch(ref now);

        // The snapshot chunks arrive.
        DeliverSnapshotChunks(f, fetches, now);
        _output.WriteLine($"node 3 decided height after the install: {f.Replicas[3].DecidedHeight}, snapshots installed {f.Replicas[3].SnapshotsInstalled}");
        Assert.True(f.Replicas[3].DecidedHeight >= 13, $"decided height went back to {f.Replicas[3].DecidedHeight}");
    }

    /// <summary>
    /// The same overtaken fetch, with a prepare for height 14 made before it completes: had it been
    /// installed, the slot for 14 would be empty again and an equivocating leader would get a second prepare in view 0.
    /// </summary>
    [Fact]
    public void SnapshotOvertakenByDecisions_IsNotInstalled_SoNoSecondProposalIsPreparedInTheSameView()
    {
        long now = 10;
        var (f, fetches) = OvertakenSnapshotFetch(ref now);

        // Leader 0 proposes height 14; only node 3 sees the pre-prepare, and prepares it.
        now += 10;
        var prePrepare = LeaderProposes(f, now);
        f.Replicas[3].OnMessage(0, prePrepare, now + 2);
        var prepares14 = Prepares(f, 3, 14);
        Assert.Single(prepares14);

        // The snapshot of 8 completes: decisions overtook it, so it is not installed (it used to take the node back to its height).
        DeliverSnapshotChunks(f, fetches, now + 3);
        Assert.Equal(13UL, f.Replicas[3].DecidedHeight);

        // Still 13 by a decision batch, then the (equivocating) leader's other proposal for 14 in view 0.
        f.SkipAll();
        f.Replicas[2].OnMessage(3, FetchDecisions(3, 13), now + 4);
        f.Pump(now + 4, (from, to, m) => from == 2 && to == 3 && ReplicaFixture.TypeOf(m) == MessageType.DecisionBatch);
        Assert.Equal(13UL, f.Replicas[3].DecidedHeight);
        var other = Equivocation(prePrepare);
        Assert.NotEqual(prePrepare, other);
        f.Replicas[3].OnMessage(0, other, now + 5);
        var after = Prepares(f, 3, 14);
        _output.WriteLine($"node 3 view {f.Replicas[3].View}; its prepares for height 14: {string.Join(", ", after.Select(p => $"view {p.View} {p.Hash.Short}"))}");
        Assert.True(after.Select(p => p.Hash).Distinct().Count() == 1, "node 3 signed prepares for two proposals at height 14 in view 0");
    }

    /// <summary>
    /// A snapshot installed by catch-up (8, certified at 12, then decisions 9..14 from a peer) is not durable yet when
    /// the leader proposes the next height (15).
    /// Had node 3 prepared it, a crash losing the save would bring it back below the snapshot, where
    /// recovery ignores that PrepareSent, and after catching up again it would prepare the equivocating
    /// leader's other proposal in the same view. It signs nothing until the snapshot is durable instead.
    /// </summary>
    [Fact]
    public void InstalledSnapshotNotDurableYet_NoVoteIsSigned_SoACrashForgetsNone()
    {
        var (f, held) = NodeThreeInstallsSnapshotEightAndKeepsItsSaveInFlight(out var now);
        Assert.True(f.Replicas[3].VotesHeld);

        // Leader 0 proposes 15; only node 3 sees it, while its snapshot is still being saved.
        now += 10;
        var prePrepare = LeaderProposes(f, now);
        f.Replicas[3].OnMessage(0, prePrepare, now + 2);
        f.Replicas[3].Tick(now + 3);
        Assert.Empty(Prepares(f, 3, 15));

        // Power loss: the save in flight is lost; the WAL keeps what was flushed.
        held.Fail();
        f.Wals[3].Crash();
        var restarted = f.Boot(3, now + 50);
        Assert.True(restarted.DecidedHeight < 8, $"the lost snapshot came back: {restarted.DecidedHeight}");
        now += 200;
        now = CatchUpFromNodeZero(f, now);
        Assert.Equal(1, f.Replicas[3].SnapshotsInstalled); // the restarted replica's own count
        ServeDecisions(f, 0, f.Replicas[3].DecidedHeight + 1, now);
        Assert.Equal(14UL, f.Replicas[3].DecidedHeight);

        // The equivocating leader's other proposal for 15 in view 0: restarted after a crash in view 0, node 3 prepares
        // nothing there (one fsync per decision: a prepare it sent before the crash may not have reached its disk).
        Assert.Equal(0UL, restarted.AbstainsThroughView);
        var other = Equivocation(prePrepare);
        Assert.NotEqual(prePrepare, other);
        f.Replicas[3].OnMessage(0, other, now + 1);
        Assert.Empty(Prepares(f, 3, 15));
        held.Release();
        f.Replicas[3].Tick(now + 2);
        Assert.False(f.Replicas[3].VotesHeld);
        var prepares = Prepares(f, 3, 15);
        _output.WriteLine($"node 3 prepares for height 15: {string.Join(", ", prepares.Select(p => $"view {p.View} {p.Hash.Short}"))}");
        Assert.Empty(prepares);
    }

    /// <summary>What waited for the installed snapshot to be durable is handled once it is: the node prepares, and the WAL is compacted to the snapshot.</summary>
    [Fact]
    public void InstalledSnapshotBecomesDurable_TheProposalThatWaitedIsPrepared_AndTheWalCompacted()
    {
        var (f, held) = NodeThreeInstallsSnapshotEightAndKeepsItsSaveInFlight(out var now);
        now += 10;
        var prePrepare = LeaderProposes(f, now);
        f.Replicas[3].OnMessage(0, prePrepare, now + 2);
        Assert.Empty(Prepares(f, 3, 15));

        held.Release();
        Assert.NotEqual((byte)WalRecordType.View, f.Wals[3].ReadAll()[0].Type);
        f.Replicas[3].Tick(now + 3);
        Assert.False(f.Replicas[3].VotesHeld);
        Assert.Single(Prepares(f, 3, 15));
        // A compacted log starts with the view; the records of height 1 from before the install are gone, the
        // decisions after the snapshot (9..14) kept. It is written off the replica's thread and swapped in at a later tick.
        f.SwapInCompactedWal(3, now + 4);
        Assert.Equal((byte)WalRecordType.View, f.Wals[3].ReadAll()[0].Type);
        Assert.Equal([9UL, 10, 11, 12, 13, 14], f.WalDecisionHeights(3));

        // And the cluster, node 3 included, decides 15 (the leader re-sends its proposal to the others, who missed it).
        f.Replicas[0].Tick(now + 20);
        f.Pump(now + 20);
        Assert.All(f.Replicas, r => Assert.Equal(15UL, r.DecidedHeight));
    }

    /// <summary>More messages than the hold keeps: the oldest are dropped, so the latest pre-prepare still gets its prepare.</summary>
    [Fact]
    public void HeldMessagesOverflow_TheOldestAreDropped()
    {
        var (f, held) = NodeThreeInstallsSnapshotEightAndKeepsItsSaveInFlight(out var now);
        now += 10;
        var prePrepare = LeaderProposes(f, now);
        var vote = f.Outboxes[1].OfType(MessageType.Prepare, to: 3).Last();

        // A flood of (duplicate) votes, then the pre-prepare: the first flood entries make room for it.
        for (var i = 0; i < 4096; i++)
        {
            f.Replicas[3].OnMessage(1, vote, now + 2);
        }

        f.Replicas[3].OnMessage(0, prePrepare, now + 2);
        Assert.Equal(1, f.Replicas[3].HeldMessagesDropped);
        held.Release();
        f.Replicas[3].Tick(now + 3);
        Assert.Single(Prepares(f, 3, 15));
    }

    /// <summary>Node 3 decides 1 with the others, misses 2..14, installs node 0's snapshot of 8, whose save stays in flight, and takes 9..14.</summary>
    private static (ReplicaFixture F, HeldSnapshotStore Held) NodeThreeInstallsSnapshotEightAndKeepsItsSaveInFlight(out long now)
    {
        var held = new HeldSnapshotStore();
        var f = InstallSnapshotEight(held, out now);
        Assert.True(held.InFlight);
        return (f, held);
    }

    /// <summary>
    /// Node 3 decides 1..5 with the others, misses 6..13, and asks node 0 (restarted, so its log starts
    /// after its snapshot of 8, whose root 12 certified: its checkpoint, and the one it saved) which answers with
    /// the snapshot pointer; while node 3 fetches it, node 2 serves decisions 6..13. Returns the fixture and node 3's
    /// FetchSnapshot requests.
    /// </summary>
    private static (ReplicaFixture F, List<byte[]> Fetches) OvertakenSnapshotFetch(ref long now)
    {
        var f = new ReplicaFixture(o => { o.CheckpointInterval = 4; o.RetainDecisions = 12; });
        for (var i = 0; i < 5; i++, now += 10)
        {
            Round(f, now);
        }

        Assert.Equal(5UL, f.Replicas[3].DecidedHeight);
        for (var i = 0; i < 8; i++, now += 10)
        {
            Round(f, now, (from, to, m) => from != 3 && to != 3);
        }

        Assert.Equal(13UL, f.Replicas[2].DecidedHeight);
        Assert.Equal(8UL, f.Replicas[0].CheckpointHeight);
        f.StopAndBoot(0, now);
        Assert.Equal(13UL, f.Replicas[0].DecidedHeight);
        Assert.Equal(8UL, f.Replicas[0].CheckpointHeight);
        f.SkipAll();
        now += 100;
        f.Replicas[0].Tick(now);
        var at = now;
        f.Pump(at, (from, to, m) =>
            (from == 0 && to == 3 && ReplicaFixture.TypeOf(m) is MessageType.Status or MessageType.DecisionBatch)
            || (from == 3 && to == 0 && ReplicaFixture.TypeOf(m) == MessageType.FetchDecisions));
        var fetches = f.Outboxes[3].OfType(MessageType.FetchSnapshot, to: 0).ToList();
        Assert.NotEmpty(fetches);
        f.Replicas[2].OnMessage(3, FetchDecisions(3, 6), at);
        f.Pump(at, (from, to, m) => from == 2 && to == 3 && ReplicaFixture.TypeOf(m) == MessageType.DecisionBatch);
        Assert.Equal(13UL, f.Replicas[3].DecidedHeight);
        return (f, fetches);
    }

    /// <summary>Node 0 answers node 3's snapshot requests, chunk reply and follow-up request in turn.</summary>
    private static void DeliverSnapshotChunks(ReplicaFixture f, List<byte[]> fetches, long now)
    {
        foreach (var m in fetches)
        {
            f.Replicas[0].OnMessage(3, m, now);
        }

        f.Pump(now, (from, to, m) => (from == 0 && to == 3 && ReplicaFixture.TypeOf(m) == MessageType.SnapshotChunks)
            || (from == 3 && to == 0 && ReplicaFixture.TypeOf(m) == MessageType.FetchSnapshot));
    }
}
