using Heraclius.KvStore.Consensus.Messages;
using static Heraclius.KvStore.Tests.CrashFuzz.CatchUpScenario;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>The steps the snapshot-fetch tests share: node 3 behind the others' pruned log, fetching while they go on deciding.</summary>
internal static class SnapshotFetchScenario
{
    public const int Buckets = 64;

    public static ReplicaFixture Cluster() => new(o =>
    {
        o.CheckpointInterval = 4;
        o.RetainDecisions = 12;
        o.StateBuckets = Buckets;
        o.SnapshotChunksPerReply = 16;
        // Replies held while the others decide a checkpoint interval (40 ms) must still count as answers to node 3's request.
        o.ResendIntervalMs = 50;
    });

    /// <summary>
    /// Node 3 decides 1 with the others, then misses 2..14, which the others decide and prune: they keep 12 decisions
    /// (3..14), and serve the capture of 8, whose root 12 certified.
    /// </summary>
    public static ReplicaFixture NodeThreeBehindThePrunedLog(out long now)
    {
        var f = Cluster();
        now = 10;
        Round(f, now);
        Assert.Equal(1UL, f.Replicas[3].DecidedHeight);
        now = DecideWithoutNodeThree(f, now + 10, 13);
        Assert.Equal(14UL, f.Replicas[0].DecidedHeight);
        Assert.Equal(8UL, f.Replicas[0].CheckpointHeight);
        return f;
    }

    /// <summary>Rounds 10 ms apart without node 3 until the others decided <paramref name="heights"/> more; returns the time after them.</summary>
    public static long DecideWithoutNodeThree(ReplicaFixture f, long now, int heights)
    {
        var target = f.Replicas[0].DecidedHeight + (ulong)heights;
        for (var i = 0; i < 4 * heights && f.Replicas[0].DecidedHeight < target; i++)
        {
            now = RoundsWithoutNodeThree(f, now, 1);
        }

        Assert.Equal(target, f.Replicas[0].DecidedHeight);
        return now;
    }

    public static MessageType TypeOf(byte[] m) => ReplicaFixture.TypeOf(m);

    /// <summary>A resend interval later, node 0's status reaches node 3, which then asks node 0 for the decisions it misses.</summary>
    public static int StatusFromNodeZero(ReplicaFixture f, ref long now)
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

    /// <summary>
    /// One exchange: node 3's requests since <paramref name="mark"/> reach their peers, the peers' answers are held
    /// while the others decide <paramref name="rounds"/> more heights (a checkpoint when 4), then reach node 3 through
    /// <paramref name="tamper"/>. With <paramref name="afterEach"/>, node 3 ticks after each answer at the same instant
    /// (no time passes) and it sees how many chunk requests the round had and what node 3 sent on that tick.
    /// Returns node 3's new mark.
    /// </summary>
    public static int Exchange(ReplicaFixture f, ref long now, int mark, int rounds, Func<byte[], byte[]>? tamper = null,
        Action<int, List<(int To, byte[] Message)>>? afterEach = null)
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
            if (afterEach is not null)
            {
                var before = f.Outboxes[3].Sent.Count;
                f.Replicas[3].Tick(now);
                afterEach(requests.Count(q => TypeOf(q.Message) == MessageType.FetchSnapshot), [.. f.Outboxes[3].Sent.Skip(before)]);
            }
        }

        now += 10;
        return newMark;
    }
}
