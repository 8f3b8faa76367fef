using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using static Heraclius.KvStore.Tests.Consensus.SnapshotFetchScenario;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// A lagging node fetching a snapshot while the cluster keeps deciding: many replies it gets are from a checkpoint
/// newer than the one it asked for. It used to start over with nothing each time, so a fetch slower than the
/// checkpoint interval never ended (a node process stayed behind for good while the others went on); now it keeps
/// every chunk the newer checkpoint did not change, proved by the newer checkpoint's leaf hashes.
/// </summary>
public sealed class SnapshotFetchAcrossCheckpointsTests
{
    [Fact]
    public void AFetchOvertakenByACheckpointAtEveryReply_StillInstallsASnapshot_ThenCatchesUpWithTheCluster()
    {
        var f = NodeThreeBehindThePrunedLog(out var now);
        var mark = StatusFromNodeZero(f, ref now);
        Assert.Contains(f.Outboxes[3].Sent.Skip(mark), s => TypeOf(s.Message) == MessageType.FetchDecisions);

        // Every other exchange spans a checkpoint interval, so half the answers come from a newer checkpoint than the
        // one asked for: a fetch that starts over each time gets at most two rounds of 16 of the 64 chunks in a row.
        // Each interval rewrites a few buckets (the key, the client's session slots, the executor's own keys).
        var exchanges = 0;
        for (; exchanges < 20 && f.Replicas[3].SnapshotsInstalled == 0; exchanges++)
        {
            mark = Exchange(f, ref now, mark, rounds: exchanges % 2 == 0 ? 4 : 0);
        }

        Assert.Equal(1, f.Replicas[3].SnapshotsInstalled);
        Assert.True(exchanges > 3, $"installed after {exchanges} exchanges: the fetch was not overtaken");
        Assert.Equal(0, f.Replicas[3].Rejections.GetValueOrDefault(RejectReason.InvalidSnapshot));

        // The cluster stops: node 3 fetches the decisions after its snapshot and reaches the others' state.
        for (var i = 0; i < 10 && f.Replicas[3].DecidedHeight < f.Replicas[0].DecidedHeight; i++)
        {
            mark = StatusFromNodeZero(f, ref now);
            mark = Exchange(f, ref now, mark, rounds: 0);
            for (var j = 0; j < 4; j++)
            {
                mark = Exchange(f, ref now, mark, rounds: 0);
            }
        }

        Assert.Equal(f.Replicas[0].DecidedHeight, f.Replicas[3].DecidedHeight);
        Assert.Equal(f.Replicas[0].LastHeaderHash, f.Replicas[3].LastHeaderHash);
        Assert.Equal(f.Replicas[0].ComputeDecidedStateRoot(), f.Replicas[3].ComputeDecidedStateRoot());
    }

    [Fact]
    public void ANewerCheckpointsLeafHashesThatDoNotRebuildItsCertifiedRoot_AreCountedAndEndTheFetch_NothingInstalled()
    {
        var f = NodeThreeBehindThePrunedLog(out var now);
        var mark = StatusFromNodeZero(f, ref now);

        // The last 32 bytes of a reply from a newer checkpoint are its last leaf hash: a lying peer alters it.
        static byte[] AlterLastLeaf(byte[] message)
        {
            var altered = (byte[])message.Clone();
            altered[^1] ^= 0x01;
            return altered;
        }

        for (var i = 0; i < 6; i++)
        {
            mark = Exchange(f, ref now, mark, rounds: 4, AlterLastLeaf);
        }

        Assert.True(f.Replicas[3].Rejections.GetValueOrDefault(RejectReason.InvalidSnapshot) >= 1);
        Assert.Equal(0, f.Replicas[3].SnapshotsInstalled);
        Assert.Equal(1UL, f.Replicas[3].DecidedHeight);
    }
}
