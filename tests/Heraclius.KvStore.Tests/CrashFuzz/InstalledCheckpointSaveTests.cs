using Heraclius.KvStore.Tests.Consensus;
using static Heraclius.KvStore.Tests.CrashFuzz.CatchUpScenario;

namespace Heraclius.KvStore.Tests.CrashFuzz;

/// <summary>
/// A node that installs the capture of a checkpoint h (certified at h + I) then takes the decisions after it from
/// peers, and those always reach h + I, which certifies the capture it installed once more.
/// </summary>
public sealed class InstalledCheckpointSaveTests
{
    /// <summary>
    /// Node 3 installs node 0's snapshot of 8 (certified at 12; its save stays in flight), then takes 9..14. At 12 it
    /// used to save the snapshot of 8 a second time (the whole state again), after waiting on the replica's thread for
    /// the install's own save. The install's save is the only one of 8; the next checkpoint (12, certified at 16) is saved.
    /// </summary>
    [Fact]
    public void AnInstalledSnapshot_CertifiedAgainByTheDecisionsAfterIt_IsNotSavedTwice_NorWaitedFor()
    {
        var store = new ScriptedSnapshotStore(true);
        var f = WithNodeThreeStore(store);
        long now = 10;
        Round(f, now);
        now = RoundsWithoutNodeThree(f, now + 10, 13);
        Assert.Equal(14UL, f.Replicas[0].DecidedHeight);

        now += 100;
        CatchUpFromNodeZero(f, now);
        Assert.Equal(1, f.Replicas[3].SnapshotsInstalled);
        Assert.Equal(8UL, f.Replicas[3].CheckpointHeight);
        ServeDecisions(f, 0, f.Replicas[3].DecidedHeight + 1, now);
        Assert.Equal(14UL, f.Replicas[3].DecidedHeight);

        // 12 was decided without waiting for the install's save, and saved nothing.
        Assert.True(store.InFlight);
        Assert.Empty(store.Durable);
        Assert.True(f.Replicas[3].VotesHeld);

        store.Release();
        f.Replicas[3].Tick(now + 1);
        Assert.False(f.Replicas[3].VotesHeld);
        Assert.Equal([8UL], store.Durable);

        // With the others again to 16, which certifies node 3's own capture of 12: that one is saved.
        Round(f, now + 10);
        Round(f, now + 20);
        Assert.All(f.Replicas, r => Assert.Equal(16UL, r.DecidedHeight));
        Assert.Equal(12UL, f.Replicas[3].CheckpointHeight);
        Assert.Equal([8UL, 12UL], store.Durable);
    }
}
