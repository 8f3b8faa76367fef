using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// Snapshots are saved in the background; the WAL may be compacted only down to a snapshot that is
/// durable, so a crash at any point of a save recovers the decided state.
/// </summary>
public sealed class CheckpointSaveTests
{
    private const int Interval = 4;
    private const int Slow = 2;

    [Fact]
    public void CrashWhileTheSnapshotIsBeingSaved_RecoversFromTheWal()
    {
        var (f, store) = Cluster();
        Decide(f, 0, 2 * Interval);

        // The snapshot of the first checkpoint (saved once the next one certified its root) is in flight: nothing
        // durable yet, and the WAL kept every decision.
        Assert.True(store.InFlight);
        Assert.True(f.Replicas[Slow].SnapshotSavePending);
        Assert.Null(store.LoadLatest());
        Assert.Equal([1UL, 2, 3, 4, 5, 6, 7, 8], WalDecisionHeights(f));

        var expected = f.Replicas[0].ComputeDecidedStateRoot();
        var restarted = f.Boot(Slow, 1_000);

        Assert.Equal(2UL * Interval, restarted.DecidedHeight);
        Assert.Equal(expected, restarted.ComputeDecidedStateRoot());
        Assert.Equal(f.Replicas[0].LastHeaderHash, restarted.LastHeaderHash);
    }

    [Fact]
    public void WalIsCompactedAfterTheSaveCompletes_KeepingTheDecisionsMadeMeanwhile_AndRecoversFromTheSnapshot()
    {
        var (f, store) = Cluster();
        Decide(f, 0, (2 * Interval) + 1);
        Assert.True(store.InFlight);

        store.Release();
        Assert.Equal((ulong)Interval, store.LoadLatest()!.Value.Height);
        // Compaction waits for a point between decisions, where no vote for an open height is in the WAL.
        Assert.True(f.Replicas[Slow].SnapshotSavePending);
        Decide(f, (2 * Interval) + 1, 1);
        f.SwapInCompactedWal(Slow, 200);

        Assert.False(f.Replicas[Slow].SnapshotSavePending);
        Assert.All(WalDecisionHeights(f), h => Assert.True(h > Interval));
        Assert.Equal([5UL, 6, 7, 8, 9, 10], WalDecisionHeights(f).Distinct());
        Assert.Equal(0, f.Replicas[Slow].WalCompactionsSkipped);

        var expected = f.Replicas[0].ComputeDecidedStateRoot();
        var restarted = f.Boot(Slow, 1_000);

        Assert.Equal((2UL * Interval) + 2, restarted.DecidedHeight);
        Assert.Equal(expected, restarted.ComputeDecidedStateRoot());
        Assert.Equal(f.Replicas[0].LastHeaderHash, restarted.LastHeaderHash);
    }

    /// <summary>
    /// Height 9 is decided while the snapshot of 4 (certified at 8) is saved, its decision record by reference to its
    /// PrepareSent. The compaction after the save drops that PrepareSent, so it keeps decision 9 whole.
    /// </summary>
    [Fact]
    public void CompactionDroppingThePrepareRecordADecisionReferredTo_KeepsThatDecisionWhole_AndRecovers()
    {
        var (f, store) = Cluster();
        Decide(f, 0, (2 * Interval) + 1);
        var before = WalRecordTypes(f);
        Assert.Equal(WalRecordType.DecisionRef, before[^1]);
        Assert.Contains(WalRecordType.PrepareSent, before);

        store.Release();
        Decide(f, (2 * Interval) + 1, 1);
        f.SwapInCompactedWal(Slow, 200);

        Assert.False(f.Replicas[Slow].SnapshotSavePending);
        var after = WalRecordTypes(f);
        Assert.Equal(6, after.Count(t => t == WalRecordType.Decision));
        Assert.DoesNotContain(WalRecordType.PrepareSent, after);
        Assert.DoesNotContain(WalRecordType.CommitSentRef, after);
        Assert.DoesNotContain(WalRecordType.DecisionRef, after);
        Assert.Equal([5UL, 6, 7, 8, 9, 10], WalDecisionHeights(f));

        var expected = f.Replicas[0].ComputeDecidedStateRoot();
        var restarted = f.Boot(Slow, 1_000);
        Assert.Equal((2UL * Interval) + 2, restarted.DecidedHeight);
        Assert.Equal(expected, restarted.ComputeDecidedStateRoot());
    }

    /// <summary>
    /// A save that is durable at once compacts the WAL right after the checkpoint's own decision, whose
    /// record (by reference) is still buffered: it must not land after the new log and name a
    /// PrepareSent the rewrite dropped. The heights decided after the rewrite refer to their own records.
    /// </summary>
    [Fact]
    public void CompactionRightAfterTheCheckpointDecision_LeavesNoReferenceToADroppedRecord()
    {
        var f = new ReplicaFixture(o => o.CheckpointInterval = Interval);
        Decide(f, 0, 2 * Interval);
        f.SwapInCompactedWal(Slow, 200);

        Assert.Equal((ulong)Interval, f.Snapshots[Slow].LoadLatest()!.Value.Height);
        var compacted = WalRecordTypes(f);
        Assert.DoesNotContain(WalRecordType.PrepareSent, compacted);
        Assert.DoesNotContain(WalRecordType.DecisionRef, compacted);
        Assert.Equal(2UL * Interval, f.StopAndBoot(Slow, 1_000).DecidedHeight);

        Decide(f, 2 * Interval, 1);
        Assert.Equal(
            [WalRecordType.PrepareSent, WalRecordType.CommitSentRef, WalRecordType.DecisionRef],
            WalRecordTypes(f).Skip(compacted.Count));
        var expected = f.Replicas[0].ComputeDecidedStateRoot();
        var restarted = f.Boot(Slow, 2_000);
        Assert.Equal((2UL * Interval) + 1, restarted.DecidedHeight);
        Assert.Equal(expected, restarted.ComputeDecidedStateRoot());
    }

    /// <summary>
    /// The compacted log is written off the replica's thread and swapped in after a later decision: what that decision
    /// logged meanwhile (its PrepareSent, and the records that refer to it) follows the compacted records, none of which
    /// is a PrepareSent, and a restart recovers both.
    /// </summary>
    [Fact]
    public void RecordsLoggedWhileTheCompactedLogIsWritten_FollowIt_AndARestartRecoversThem()
    {
        var f = new ReplicaFixture(o => o.CheckpointInterval = Interval);
        Decide(f, 0, 2 * Interval);
        Assert.True(f.Wals[Slow].RewriteInFlight);
        var whole = WalRecordTypes(f);
        Assert.Contains(WalRecordType.PrepareSent, whole);

        // The next decision is logged into the current log, then swaps the compacted one in with it at the end.
        Decide(f, 2 * Interval, 1);
        Assert.False(f.Wals[Slow].RewriteInFlight);
        var after = WalRecordTypes(f);
        Assert.Equal(
            [WalRecordType.PrepareSent, WalRecordType.CommitSentRef, WalRecordType.DecisionRef],
            after.SkipWhile(t => t != WalRecordType.PrepareSent));
        Assert.Equal(1, after.Count(t => t == WalRecordType.PrepareSent));
        Assert.True(after.Count < whole.Count + 3);
        Assert.Equal([5UL, 6, 7, 8, 9], WalDecisionHeights(f));

        var expected = f.Replicas[0].ComputeDecidedStateRoot();
        var restarted = f.Boot(Slow, 1_000);
        Assert.Equal((2UL * Interval) + 1, restarted.DecidedHeight);
        Assert.Equal(expected, restarted.ComputeDecidedStateRoot());
    }

    [Fact]
    public void NextCheckpoint_WaitsForTheSaveStillInFlight_AndNeverCompactsPastAFailedOne()
    {
        var (f, store) = Cluster();
        Decide(f, 0, 2 * Interval);
        store.Fail();

        // The failure surfaces on the replica's thread at its next decision, as a synchronous save's did.
        Assert.ThrowsAny<IOException>(() => Decide(f, 2 * Interval, 1));
        Assert.Null(store.LoadLatest());
        Assert.Contains(1UL, WalDecisionHeights(f));
    }

    [Fact]
    public void SnapshotWrittenInParts_DecodesToTheSameStateAndRoot()
    {
        var f = new ReplicaFixture(o => o.CheckpointInterval = Interval);
        Decide(f, 0, Interval);
        var rootAtInterval = f.Replicas[1].ComputeDecidedStateRoot();
        var headerAtInterval = f.Replicas[1].LastHeaderHash;
        Decide(f, Interval, Interval);

        // The state of the first checkpoint, saved once the header an interval later certified its root.
        var saved = f.Snapshots[1].LoadLatest()!.Value;
        var (checkpoint, state, capture) = Checkpoint.Decode(saved.Bytes, f.Options.StateBuckets);

        Assert.Equal((ulong)Interval, saved.Height);
        Assert.Equal(headerAtInterval, checkpoint.At.Hash);
        Assert.Equal(f.Replicas[1].LastHeaderHash, checkpoint.Certifier.Hash);
        Assert.True(Checkpoint.IsValidPair(ReplicaFixture.T.Cluster, Interval, checkpoint.At, checkpoint.AtQc, checkpoint.Certifier, checkpoint.CertifierQc));
        Assert.Equal(checkpoint.CertifiedRoot, state.ComputeRoot());
        Assert.Equal(rootAtInterval, state.ComputeRoot());
        Assert.Equal(rootAtInterval, capture.Root());
        Assert.Equal(saved.Bytes, checkpoint.Encode());
    }

    /// <summary>
    /// With <see cref="ReplicaOptions.SaveStaggerDecisions"/> 2 and an interval of 16, the checkpoint of 16 is certified
    /// at 32; member 2 starts saving it only at 36 (its WAL keeps every decision until then, and a crash meanwhile
    /// recovers them all), member 3 at 38 (6 decisions, under half the interval too), member 0 at once.
    /// </summary>
    [Fact]
    public void StaggeredSave_StartsIndexTimesStaggerDecisionsAfterTheCheckpoint_AndACrashBeforeItLosesNothing()
    {
        var f = Staggered(interval: 16, stagger: 2);
        Decide(f, 0, 35);

        Assert.Equal(16UL, f.Snapshots[0].LoadLatest()!.Value.Height);
        Assert.Null(f.Snapshots[Slow].LoadLatest());
        Assert.False(f.Replicas[Slow].SnapshotSavePending);
        Assert.Equal(Enumerable.Range(1, 35).Select(h => (ulong)h), WalDecisionHeights(f).Distinct());

        Decide(f, 35, 2);
        Assert.Equal(16UL, f.Snapshots[Slow].LoadLatest()!.Value.Height);
        Assert.All(WalDecisionHeights(f), h => Assert.True(h > 16));
        Assert.Null(f.Snapshots[3].LoadLatest());
        Assert.Equal(37UL, f.Boot(Slow, 2_000).DecidedHeight);

        Decide(f, 37, 1);
        Assert.Equal(16UL, f.Snapshots[3].LoadLatest()!.Value.Height);

        // A crash before the save began: the WAL holds every decision. (The restarted node saves again at the
        // next checkpoint; replaying its WAL takes no checkpoint, as after a crash during a save.)
        var g = Staggered(interval: 16, stagger: 2);
        Decide(g, 0, 35);
        Assert.Null(g.Snapshots[Slow].LoadLatest());
        // The last decision's record made durable (it is buffered until the next flush; without it the node recovers 18 and catches up).
        g.Wals[Slow].Flush();
        var expected = g.Replicas[0].ComputeDecidedStateRoot();
        var restarted = g.Boot(Slow, 1_000);
        Assert.Equal(35UL, restarted.DecidedHeight);
        Assert.Equal(expected, restarted.ComputeDecidedStateRoot());
    }

    /// <summary>A stagger that would reach half the interval is not applied: the save starts at the checkpoint.</summary>
    [Fact]
    public void StaggerOfHalfTheIntervalOrMore_SavesAtOnce()
    {
        var f = Staggered(interval: 8, stagger: 2);
        Decide(f, 0, 16);

        // Members 2 and 3 would wait 4 and 6 decisions, half the interval or more: they saved the checkpoint of 8 when
        // 16 certified it; member 1 waits 2.
        Assert.Equal(8UL, f.Snapshots[Slow].LoadLatest()!.Value.Height);
        Assert.Equal(8UL, f.Snapshots[3].LoadLatest()!.Value.Height);
        Assert.Null(f.Snapshots[1].LoadLatest());
        Decide(f, 16, 2);
        Assert.Equal(8UL, f.Snapshots[1].LoadLatest()!.Value.Height);
    }

    /// <summary>
    /// The slow member saves the checkpoint of 8 (certified at 12) and the save stays in flight while the checkpoints
    /// of 12, 16 and 20 are captured, served and dropped (the member saves none of them): their captures encode
    /// into the buffers of captures they retire, never into the chunks the save is still writing.
    /// </summary>
    [Fact]
    public void ASaveInFlightAcrossLaterCheckpoints_WritesTheStateOfItsOwnCheckpoint()
    {
        // One checkpoint in four saved: member 2 saves those of 8 and 24.
        var store = new HeldSnapshotStore();
        var f = new ReplicaFixture(
            o =>
            {
                o.CheckpointInterval = Interval;
                o.SaveEveryCheckpoints = 4;
            },
            i => i == Slow ? store : new KvStore.Storage.MemorySnapshotStore());
        Decide(f, 0, 3 * Interval);
        Assert.True(store.InFlight);

        // Up to 27: at 28 the member would save the checkpoint of 24 and wait for this one first.
        Decide(f, 3 * Interval, (4 * Interval) - 1);
        Assert.True(store.InFlight);
        Assert.True(f.Replicas[Slow].State.RecycledChunkBuffers > 0, "no capture encoded into a retired capture's buffers");
        store.Release();

        var saved = store.LoadLatest()!.Value;
        var (checkpoint, _, capture) = Checkpoint.Decode(saved.Bytes, f.Options.StateBuckets);
        Assert.Equal(2UL * Interval, saved.Height);
        Assert.Equal(checkpoint.CertifiedRoot, capture.Root());

        // A restart rebuilds the state from it and the WAL (the last decision made durable first: it is flushed with
        // the member's next vote).
        f.Wals[Slow].Flush();
        var restarted = f.Boot(Slow, 10_000);
        Assert.Equal(f.Replicas[0].DecidedHeight, restarted.DecidedHeight);
        Assert.Equal(f.Replicas[0].ComputeDecidedStateRoot(), restarted.ComputeDecidedStateRoot());
    }

    private static ReplicaFixture Staggered(int interval, int stagger) => new(o =>
    {
        o.CheckpointInterval = interval;
        o.SaveStaggerDecisions = stagger;
    });

    private static (ReplicaFixture Fixture, HeldSnapshotStore Store) Cluster()
    {
        var store = new HeldSnapshotStore();
        var f = new ReplicaFixture(o => o.CheckpointInterval = Interval, i => i == Slow ? store : new KvStore.Storage.MemorySnapshotStore());
        return (f, store);
    }

    /// <summary>Decides <paramref name="count"/> more heights, one client batch each, after <paramref name="done"/> already decided.</summary>
    private static void Decide(ReplicaFixture f, int done, int count) => f.DecideBatches(done, count, Slow);

    /// <summary>The types of the slow node's WAL records, after making its buffered records durable.</summary>
    private static List<WalRecordType> WalRecordTypes(ReplicaFixture f) => f.RecordTypes(Slow);

    /// <summary>The heights of the decisions in the slow node's WAL, after making its buffered records durable.</summary>
    private static List<ulong> WalDecisionHeights(ReplicaFixture f) => f.WalDecisionHeights(Slow);
}
