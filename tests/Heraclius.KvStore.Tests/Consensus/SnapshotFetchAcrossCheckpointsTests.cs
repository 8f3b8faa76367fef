using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using static Heraclius.KvStore.Tests.CrashFuzz.CatchUpScenario;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// A lagging node fetching a snapshot while the cluster keeps deciding: every reply it gets is from a checkpoint
/// newer than the one it asked for. It used to start over with nothing each time, so a fetch slower than the
/// checkpoint interval never ended (a node process stayed behind for good while the others went on); now it keeps
/// every chunk the newer checkpoint did not change, proved by the newer checkpoint's leaf hashes.
/// </summary>
public sealed class SnapshotFetchAcrossCheckpointsTests
{
    private const int Buckets = 64;

    private static ReplicaFixture Cluster() => new(o =>
    {
        o.CheckpointInterval = 4;
        o.RetainDecisions = 4;
        o.StateBuckets = Buckets;
        o.SnapshotChunksPerReply = 16;
        // Replies held while the others decide a checkpoint interval (40 ms) must still count as answers to node 3's request.
        o.ResendIntervalMs = 50;
    });

    /// <summary>Node 3 decides 1 with the others, then misses 2..12, which the others decide and prune.</summary>
    private static ReplicaFixture NodeThreeBehindThePrunedLog(out long now)
    {
        var f = Cluster();
        now = 10;
        Round(f, now);
        Assert.Equal(1UL, f.Replicas[3].DecidedHeight);
        now = DecideWithoutNodeThree(f, now + 10, 11);
        Assert.Equal(12UL, f.Replicas[0].DecidedHeight);
        return f;
    }

    /// <summary>Rounds 10 ms apart without node 3 until the others decided <paramref name="heights"/> more; returns the time after them.</summary>
    private static long DecideWithoutNodeThree(ReplicaFixture f, long now, int heights)
    {
        var target = f.Replicas[0].DecidedHeight + (ulong)heights;
        for (var i = 0; i < 4 * heights && f.Replicas[0].DecidedHeight < target; i++)
        {
            now = RoundsWithoutNodeThree(f, now, 1);
        }

        Assert.Equal(target, f.Replicas[0].DecidedHeight);
        return now;
    }

    /// <summary>
    /// One exchange: node 3's requests since <paramref name="mark"/> reach their peers, the peers' answers are held
    /// while the others decide <paramref name="rounds"/> more heights (a checkpoint when 4), then reach node 3 through
    /// <paramref name="tamper"/>. Returns node 3's new mark.
    /// </summary>
    private static int Exchange(ReplicaFixture f, ref long now, int mark, int rounds, Func<byte[], byte[]>? tamper = null)
    {
        var requests = f.Outboxes[3].Sent.Skip(mark).Where(s => TypeOf(s.Message) is MessageType.FetchDecisions or MessageType.FetchSnapshot).ToList();
        var marks = Enumerable.Range(0, 4).Select(i => f.Outboxes[i].Sent.Count).ToArray();
        foreach (var (to, message) in requests)
        {
            f.Replicas[to].OnMessage(3, message, now);
        }

        var answers = Enumerable.Range(0, 3)
            .SelectMany(p => f.Outboxes[p].Sent.Skip(marks[p]).Where(s => s.To == 3).Select(s => (From: p, s.Message)))
            .Where(a => TypeOf(a.Message) is MessageType.DecisionBatch or MessageType.SnapshotChunks)
            .ToList();
        now = DecideWithoutNodeThree(f, now, rounds);
        var newMark = f.Outboxes[3].Sent.Count;
        foreach (var (from, message) in answers)
        {
            f.Replicas[3].OnMessage(from, tamper is not null && TypeOf(message) == MessageType.SnapshotChunks ? tamper(message) : message, now);
        }

        now += 10;
        return newMark;
    }

    private static MessageType TypeOf(byte[] m) => ReplicaFixture.TypeOf(m);

    /// <summary>A resend interval later, node 0's status reaches node 3, which then asks node 0 for the decisions it misses.</summary>
    private static int StatusFromNodeZero(ReplicaFixture f, ref long now)
    {
        now += 60;
        var mark = f.Outboxes[3].Sent.Count;
        var from0 = f.Outboxes[0].Sent.Count;
        f.Replicas[0].Tick(now);
        foreach (var (to, message) in f.Outboxes[0].Sent.Skip(from0).ToList())
        {
            if (to == 3 && TypeOf(message) == MessageType.Status)
            {
                f.Replicas[3].OnMessage(0, message, now);
            }
        }

        return mark;
    }

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
