using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.Storage;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// With <see cref="ReplicaOptions.SaveEveryCheckpoints"/> 4, member i saves the snapshot of checkpoint c only when
/// (c + i) mod 4 = 0; every checkpoint is still captured and served. Until its next save a member's WAL keeps every
/// decision since its last one, so a crash at any point recovers the decided state.
/// </summary>
public sealed class SaveRotationTests
{
    private const int Interval = 4;

    [Fact]
    public void EachMemberSavesOneCheckpointInFour_ItsOwn_AndEveryCheckpointIsServed()
    {
        var (f, saves) = Cluster();
        Decide(f, 0, 6 * Interval);

        // Checkpoints 1..5 are heights 4, 8, 12, 16, 20, each saved (and served) once the header an interval later
        // certified its root: 20 at 24.
        Assert.Equal([16UL], saves[0]);
        Assert.Equal([12UL], saves[1]);
        Assert.Equal([8UL], saves[2]);
        Assert.Equal([4UL, 20UL], saves[3]);
        Assert.All(f.Replicas, r => Assert.Equal(5UL * Interval, r.CheckpointHeight));
    }

    [Fact]
    public void WalKeepsEveryDecisionSinceTheLastSave_AndARestartRecoversFromThatOlderSnapshot()
    {
        var (f, saves) = Cluster();
        Decide(f, 0, (3 * Interval) + 2);

        // Member 2 saved checkpoint 2 (height 8) and not 3 (height 12): its WAL holds 9..14 and its snapshot is of 8.
        Assert.Equal([8UL], saves[2]);
        Assert.Equal(8UL, f.Snapshots[2].LoadLatest()!.Value.Height);
        Assert.Equal([9UL, 10, 11, 12, 13, 14], f.WalDecisionHeights(2));

        var expected = f.Replicas[0].ComputeDecidedStateRoot();
        var restarted = f.StopAndBoot(2, 1_000);
        Assert.Equal((3UL * Interval) + 2, restarted.DecidedHeight);
        Assert.Equal(expected, restarted.ComputeDecidedStateRoot());
        Assert.Equal(f.Replicas[0].LastHeaderHash, restarted.LastHeaderHash);

        // The restarted member keeps deciding, and saves its next turn (checkpoint 6, height 24, certified at 28),
        // compacting its WAL down to the decisions after it.
        Decide(f, (3 * Interval) + 2, (4 * Interval) - 2);
        f.SwapInCompactedWal(2, 2_000);
        Assert.Equal(24UL, f.Snapshots[2].LoadLatest()!.Value.Height);
        Assert.Equal([25UL, 26, 27, 28], f.WalDecisionHeights(2));
    }

    [Fact]
    public void MemberThatHasNotSavedYet_RecoversFromTheWholeWal()
    {
        var (f, saves) = Cluster();
        Decide(f, 0, (2 * Interval) + 3);

        // Member 1 saves checkpoint 3 first (height 12): nothing durable yet, and the WAL holds every decision.
        Assert.Empty(saves[1]);
        Assert.Null(f.Snapshots[1].LoadLatest());
        Assert.Equal(Enumerable.Range(1, (2 * Interval) + 3).Select(h => (ulong)h), f.WalDecisionHeights(1));
        var expected = f.Replicas[0].ComputeDecidedStateRoot();
        var restarted = f.Boot(1, 1_000);
        Assert.Equal((2UL * Interval) + 3, restarted.DecidedHeight);
        Assert.Equal(expected, restarted.ComputeDecidedStateRoot());
    }

    private static (ReplicaFixture Fixture, List<ulong>[] Saves) Cluster()
    {
        var saves = Enumerable.Range(0, 4).Select(_ => new List<ulong>()).ToArray();
        var f = new ReplicaFixture(
            o =>
            {
                o.CheckpointInterval = Interval;
                o.SaveEveryCheckpoints = 4;
            },
            i => new RecordingSnapshotStore(saves[i]));
        return (f, saves);
    }

    /// <summary>Decides <paramref name="count"/> more heights, one client batch each, after <paramref name="done"/> already decided.</summary>
    private static void Decide(ReplicaFixture f, int done, int count) => f.DecideBatches(done, count, 0, 1, 2, 3);

    /// <summary>An in-memory store, durable at once, that records the height of every save.</summary>
    private sealed class RecordingSnapshotStore(List<ulong> saves) : ISnapshotStore
    {
        private readonly MemorySnapshotStore _inner = new();

        public void Save(ulong height, ReadOnlySpan<byte> snapshot)
        {
            saves.Add(height);
            _inner.Save(height, snapshot);
        }

        public Task SaveAsync(ulong height, IReadOnlyList<ReadOnlyMemory<byte>> parts)
        {
            saves.Add(height);
            return _inner.SaveAsync(height, parts);
        }

        public (ulong Height, byte[] Bytes)? LoadLatest() => _inner.LoadLatest();
    }
}
