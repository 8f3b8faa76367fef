using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Tests.Consensus;
using static Heraclius.KvStore.Tests.CrashFuzz.CatchUpScenario;

namespace Heraclius.KvStore.Tests.CrashFuzz;

/// <summary>
/// The hold after a snapshot install (no signature until the snapshot is durable) against what can
/// happen while it lasts: a second install, a checkpoint whose save waits for the install's, decisions
/// from peers past the snapshot, a crash at each of those points, a view change around it.
/// Node 3 is the laggard throughout; its saves are scripted.
/// </summary>
public sealed class DurableInstallHoldTests
{
    private readonly ITestOutputHelper _output;

    public DurableInstallHoldTests(ITestOutputHelper output) => _output = output;

    /// <summary>Every message node 3 signed since <paramref name="fromIndex"/> in its outbox (a vote, a pre-prepare, a VIEW-CHANGE or a NEW-VIEW).</summary>
    private static List<MessageType> SignedSince(ReplicaFixture f, int fromIndex) =>
        f.Outboxes[3].Sent.Skip(fromIndex).Select(s => ReplicaFixture.TypeOf(s.Message))
            .Where(t => t is MessageType.PrePrepare or MessageType.Prepare or MessageType.Commit or MessageType.ViewChange or MessageType.NewView)
            .ToList();

    /// <summary>
    /// A second install while the first is still being saved, its own save complete at once (its wait
    /// for the first save finished that one too). The hold must end as any hold does: with what waited
    /// handled. Here the leader's pre-prepare of 21, which arrived during the first hold, must be prepared
    /// once node 3 is at 20; it used to stay queued (the second install cleared VotesHeld without
    /// handling the queue), so node 3 never voted for 21 until the leader happened to re-send it.
    /// </summary>
    /// <remarks>
    /// A node installs a checkpoint an interval or more below the cluster's height (its root is certified an interval
    /// after it), so what waited is handled at the snapshot's height: the pre-prepare that waited is the one of the
    /// height after the second snapshot (which the others decided meanwhile), not the cluster's next one, which
    /// a node still behind drops (it is re-sent).
    /// </remarks>
    [Fact]
    public void SecondInstallWhileHeld_ItsSaveCompletingAtOnce_StillHandlesWhatWaited()
    {
        var store = new ScriptedSnapshotStore(true, false);
        var f = InstallSnapshotEight(store, out var now);
        Assert.True(f.Replicas[3].VotesHeld);
        Assert.True(store.InFlight);

        // The others decide 15..20 without node 3; leader 0 proposes 21, and node 3 gets the pre-prepare while still
        // held: it waits.
        now = RoundsWithoutNodeThree(f, now, 6);
        Assert.Equal(20UL, f.Replicas[0].DecidedHeight);
        var prePrepare = LeaderProposes(f, now);
        f.Replicas[3].OnMessage(0, prePrepare, now + 2);
        Assert.True(f.Replicas[3].VotesHeld);
        Assert.Empty(Prepares(f, 3, 21));

        // The others decide 21 (the leader re-sends its proposal, decided with the first round's) to 27: node 0's log now starts at 16, its checkpoint
        // is 20 (certified at 24).
        now = RoundsWithoutNodeThree(f, now + 10, 6);
        Assert.Equal(27UL, f.Replicas[0].DecidedHeight);
        Assert.Equal(20UL, f.Replicas[0].CheckpointHeight);

        // Node 3 catches up by node 0's snapshot of 20: installing it waits for the save of 8, and its own save completes at once.
        now += 10;
        now = CatchUpFromNodeZero(f, now);
        Assert.Equal(2, f.Replicas[3].SnapshotsInstalled);
        Assert.Equal([8UL, 20UL], store.Durable);

        f.Replicas[3].Tick(now + 1);
        Assert.False(f.Replicas[3].VotesHeld);
        var prepares = Prepares(f, 3, 21);
        _output.WriteLine($"node 3 prepares for 21 after the second install: {prepares.Count}");
        Assert.Single(prepares);
        Assert.Equal(PrePrepareMessage.Read(Envelope.Open(prePrepare).Body).Header.Hash, prepares[0].Hash);
    }

    /// <summary>
    /// A second install while the first is still being saved, and its save in flight too: the hold goes
    /// on until the second is durable. A crash before that recovers the first snapshot (which the second
    /// install's wait made durable), and nothing was signed in between to be forgotten.
    /// </summary>
    [Fact]
    public void SecondInstallWhileHeld_BothInFlight_HoldsUntilTheSecondIsDurable_AndACrashForgetsNothing()
    {
        var store = new ScriptedSnapshotStore(true, true);
        var f = InstallSnapshotEight(store, out var now);
        // The others decide 15..27: node 0's log starts at 16, its checkpoint is 20 (certified at 24).
        now = RoundsWithoutNodeThree(f, now, 13);
        Assert.Equal(20UL, f.Replicas[0].CheckpointHeight);

        var sentBefore = f.Outboxes[3].Sent.Count;
        now += 10;
        now = CatchUpFromNodeZero(f, now);
        Assert.Equal(2, f.Replicas[3].SnapshotsInstalled);
        ServeDecisions(f, 0, f.Replicas[3].DecidedHeight + 1, now);
        Assert.Equal(27UL, f.Replicas[3].DecidedHeight);
        Assert.Equal([8UL], store.Durable);
        Assert.True(f.Replicas[3].VotesHeld);

        // The leader proposes 28; only node 3 sees it; nothing is signed.
        now += 10;
        var prePrepare = LeaderProposes(f, now);
        f.Replicas[3].OnMessage(0, prePrepare, now + 2);
        f.Replicas[3].Tick(now + 3);
        Assert.Empty(SignedSince(f, sentBefore));

        // Power loss: the save of 20 is lost; node 3 comes back from the snapshot of 8 (and the decisions after it its
        // WAL kept) and catches up again.
        store.Crash();
        f.Wals[3].Crash();
        var restarted = f.Boot(3, now + 50);
        _output.WriteLine($"node 3 recovered at {restarted.DecidedHeight}, checkpoint {restarted.CheckpointHeight}");
        Assert.Equal(8UL, restarted.CheckpointHeight);
        Assert.Equal(8UL, restarted.DecidedHeight);
        now += 200;
        now = CatchUpFromNodeZero(f, now);
        ServeDecisions(f, 0, f.Replicas[3].DecidedHeight + 1, now);
        Assert.Equal(27UL, f.Replicas[3].DecidedHeight);

        // The equivocating leader's other proposal for 28 in view 0: restarted after a crash in view 0, node 3 prepares
        // nothing there (one fsync per decision: a prepare it sent before the crash may not have reached its disk).
        Assert.Equal(0UL, restarted.AbstainsThroughView);
        f.Replicas[3].OnMessage(0, Equivocation(prePrepare), now + 1);
        store.Release();
        f.Replicas[3].Tick(now + 2);
        Assert.False(f.Replicas[3].VotesHeld);
        Assert.Empty(Prepares(f, 3, 28));
    }

    /// <summary>
    /// Decisions from peers during the hold take node 3 past the installed snapshot's certifier (12, which certifies
    /// the capture installed and saves nothing) to the next checkpoint (16, certifying node 3's own capture of 12),
    /// whose save waits for the install's and stays in flight itself: the hold ends with the snapshot of 8 durable,
    /// without a WAL compaction, and node 3 prepares 17. A crash that loses the save of 12 recovers 8 plus the
    /// WAL's decisions 9..16 and the prepare of 17, so the equivocating leader's other 17 gets no vote.
    /// </summary>
    [Fact]
    public void CheckpointDuringHold_EndsItWithoutCompaction_AndACrashLosingThatSaveKeepsTheVoteAfterIt()
    {
        var store = new ScriptedSnapshotStore(true, true);
        var f = InstallSnapshotEight(store, out var now);
        Assert.Empty(store.Durable);
        now = RoundsWithoutNodeThree(f, now, 2);

        Assert.Equal(16UL, f.Replicas[1].DecidedHeight);
        ServeDecisions(f, 1, 15, now);
        Assert.Equal(16UL, f.Replicas[3].DecidedHeight);
        Assert.Equal(12UL, f.Replicas[3].CheckpointHeight);
        Assert.Equal([8UL], store.Durable);
        Assert.True(store.InFlight);

        // The leader proposes 17; node 3 prepares it once the hold ends (at its next step).
        now += 10;
        var prePrepare = LeaderProposes(f, now);
        f.Replicas[3].OnMessage(0, prePrepare, now + 2);
        f.Replicas[3].Tick(now + 3);
        Assert.False(f.Replicas[3].VotesHeld);
        var before = Prepares(f, 3, 17);
        Assert.Single(before);

        // Power loss: the save of 12 is lost; the prepare's record (and the decisions before it) reached the disk,
        // which a prepare's record does only with a later fsync or by luck (one fsync per decision).
        f.Wals[3].Flush();
        store.Crash();
        f.Wals[3].Crash();
        var restarted = f.Boot(3, now + 50);
        _output.WriteLine($"node 3 recovered at {restarted.DecidedHeight}, view {restarted.View}, in view change {restarted.InViewChange}");
        Assert.Equal(16UL, restarted.DecidedHeight);
        restarted.OnMessage(0, Equivocation(prePrepare), now + 51);
        restarted.Tick(now + 52);
        var all = before.Concat(Prepares(f, 3, 17)).Distinct().ToList();
        _output.WriteLine($"node 3 prepares for 17: {string.Join(", ", all.Select(p => $"view {p.View} {p.Hash.Short}"))}");
        Assert.Single(all);
    }

    /// <summary>
    /// Decisions past the snapshot (9..14, up to the cluster's height) reach the WAL during the hold (the disk
    /// kept them), then a crash loses the install's save: recovery comes back below the snapshot with decisions
    /// above it in the log, and still restores the prepare it had made before the install; the node then catches
    /// up and keeps voting once per (view, height).
    /// </summary>
    [Fact]
    public void CrashDuringHold_WithDecisionsAboveTheLostSnapshotInTheWal_RecoversTheOlderStateAndItsVote()
    {
        var store = new ScriptedSnapshotStore(true);
        var f = WithNodeThreeStore(store);
        long now = 10;
        Round(f, now);
        now += 10;

        // Height 2: node 3 prepares it (so its WAL holds a PrepareSent for 2) and misses the rest.
        f.SkipAll();
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, now);
        f.Replicas[0].Tick(now + 2);
        var prePrepare2 = f.Outboxes[0].OfType(MessageType.PrePrepare, to: 3).Last();
        f.Pump(now + 2, (from, to, m) => to != 3 || ReplicaFixture.TypeOf(m) == MessageType.PrePrepare);
        var prepared2 = Prepares(f, 3, 2);
        Assert.Single(prepared2);
        Assert.Equal(1UL, f.Replicas[3].DecidedHeight);
        now += 10;
        now = RoundsWithoutNodeThree(f, now, 12);

        // Node 0's log starts at 3 and its checkpoint is 8 (certified at 12): node 3 installs it.
        Assert.Equal(14UL, f.Replicas[0].DecidedHeight);
        now += 100;
        now = CatchUpFromNodeZero(f, now);
        Assert.Equal(1, f.Replicas[3].SnapshotsInstalled);
        Assert.Equal(8UL, f.Replicas[3].DecidedHeight);
        Assert.True(f.Replicas[3].VotesHeld);

        // 9..14 during the hold, and the disk happens to keep them.
        ServeDecisions(f, 1, 9, now);
        Assert.Equal(14UL, f.Replicas[3].DecidedHeight);
        Assert.True(f.Replicas[3].VotesHeld);
        f.Wals[3].Flush();

        store.Crash();
        f.Wals[3].Crash();
        var restarted = f.Boot(3, now + 50);
        _output.WriteLine($"node 3 recovered at {restarted.DecidedHeight}, view {restarted.View}, in view change {restarted.InViewChange}");
        Assert.Equal(1UL, restarted.DecidedHeight);

        // Its prepare of 2 is back: the equivocating leader's other proposal for 2 in view 0 gets none.
        now += 100;
        restarted.OnMessage(0, Equivocation(prePrepare2), now);
        restarted.Tick(now);
        Assert.Single(prepared2.Concat(Prepares(f, 3, 2)).Distinct());

        // It catches up to 14 again (snapshot 8, then 9..14), then votes with the others.
        now = CatchUpFromNodeZero(f, now);
        ServeDecisions(f, 1, 9, now + 1);
        Assert.Equal(14UL, f.Replicas[3].DecidedHeight);
        now += 10;
        f.Replicas[3].Tick(now);
        Assert.False(f.Replicas[3].VotesHeld);
        Round(f, now + 10);
        Assert.All(f.Replicas, r => Assert.Equal(15UL, r.DecidedHeight));
    }

    /// <summary>
    /// Node 3 is in a view change (its VIEW-CHANGE(1) logged) when it installs a snapshot; the NEW-VIEW(1)
    /// arrives during the hold and waits. Once the snapshot is durable the compacted WAL still holds the
    /// VIEW-CHANGE, and the NEW-VIEW is handled: node 3 is in view 1 and votes there.
    /// </summary>
    [Fact]
    public void InstallDuringViewChange_NewViewWaitsForTheHold_ThenIsEntered()
    {
        var store = new ScriptedSnapshotStore(true);
        var f = NodeThreeMissesTwoToFourteen(store, out var now);

        // Everyone but the leader times out on a request the leader never proposes: VIEW-CHANGE(1) from 1, 2, 3.
        f.SkipAll();
        var batch = f.Batch();
        for (var i = 1; i < 4; i++)
        {
            f.Replicas[i].SubmitBatch(batch.Bytes, now);
        }

        f.SkipAll();
        // Each hears the two others' suspicions, with the height it holds itself (node 3's catch-up is scripted from node 0).
        now += f.Options.ViewChangeTimeoutMs + 10;
        for (var i = 1; i < 4; i++)
        {
            foreach (var peer in Enumerable.Range(1, 3).Where(p => p != i))
            {
                f.Replicas[i].OnMessage(peer, ReplicaFixture.SuspicionOf(peer, 0, f.Replicas[i].DecidedHeight), now);
            }

            f.Replicas[i].Tick(now);
        }

        Assert.True(f.Replicas[3].InViewChange);
        Assert.Equal(1UL, f.Replicas[3].View);

        // Node 3 installs the snapshot of 8 (its save stays in flight) and takes 9..14, then 2 and 3's VIEW-CHANGEs
        // reach node 1, which sends NEW-VIEW(1).
        var vcs = Enumerable.Range(1, 3).SelectMany(i => f.Outboxes[i].OfType(MessageType.ViewChange)).ToList();
        now = CatchUpFromNodeZero(f, now);
        Assert.Equal(1, f.Replicas[3].SnapshotsInstalled);
        ServeDecisions(f, 0, f.Replicas[3].DecidedHeight + 1, now);
        Assert.Equal(14UL, f.Replicas[3].DecidedHeight);
        Assert.True(f.Replicas[3].VotesHeld);
        f.SkipAll();
        foreach (var vc in f.Outboxes[2].OfType(MessageType.ViewChange, to: 1).Concat(f.Outboxes[3].OfType(MessageType.ViewChange, to: 1)).ToList())
        {
            f.Replicas[1].OnMessage(Envelope.Open(vc).Sender, vc, now + 1);
        }

        Assert.False(f.Replicas[1].InViewChange);
        var newView = f.Outboxes[1].OfType(MessageType.NewView, to: 3).Last();
        f.SkipAll();
        f.Replicas[3].OnMessage(1, newView, now + 2);
        Assert.True(f.Replicas[3].InViewChange);

        // Durable: compacted, the VIEW-CHANGE kept, the NEW-VIEW handled.
        store.Release();
        f.Replicas[3].Tick(now + 3);
        Assert.False(f.Replicas[3].VotesHeld);
        Assert.Contains(f.Wals[3].ReadAll(), r => r.Type == (byte)WalRecordType.ViewChangeSent);
        Assert.False(f.Replicas[3].InViewChange);
        Assert.Equal(1UL, f.Replicas[3].View);
        _output.WriteLine($"{vcs.Count} VIEW-CHANGEs; node 3 in view {f.Replicas[3].View}");
    }

    /// <summary>A save that fails leaves the node holding: it never votes on a state a crash would not bring back.</summary>
    [Fact]
    public void InstalledSnapshotSaveFails_TheNodeNeverResumesVoting()
    {
        var held = new HeldSnapshotStore();
        var f = InstallSnapshotEight(held, out var now);
        Assert.True(f.Replicas[3].VotesHeld);
        held.Fail();
        Assert.Throws<IOException>(() => f.Replicas[3].Tick(now + 1));
        Assert.True(f.Replicas[3].VotesHeld);
    }
}
