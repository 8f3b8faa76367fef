using Heraclius.KvStore.Consensus;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Tests.Consensus;

namespace Heraclius.KvStore.Tests.CrashFuzz;

/// <summary>The steps the catch-up safety tests share: rounds led by node 0, node 3 fed by hand, and what it signed.</summary>
internal static class CatchUpScenario
{
    public static bool NotNodeThree(int from, int to, byte[] m) => from != 3 && to != 3;

    /// <summary>Node 0 (the leader of view 0) proposes one client batch, and the messages <paramref name="filter"/> lets through are delivered.</summary>
    public static void Round(ReplicaFixture f, long now, Func<int, int, byte[], bool>? filter = null)
    {
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, now);
        f.Replicas[0].Tick(now + 2);
        f.Pump(now + 2, filter);
    }

    /// <summary>Leader 0 proposes the next height and nobody receives it; returns its pre-prepare to node 3.</summary>
    public static byte[] LeaderProposes(ReplicaFixture f, long now)
    {
        f.SkipAll();
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, now);
        f.Replicas[0].Tick(now + 2);
        var prePrepare = f.Outboxes[0].OfType(MessageType.PrePrepare, to: 3).Last();
        f.SkipAll();
        return prePrepare;
    }

    /// <summary><paramref name="count"/> rounds 10 ms apart that node 3 takes no part in; returns the time after them.</summary>
    public static long RoundsWithoutNodeThree(ReplicaFixture f, long now, int count)
    {
        for (var i = 0; i < count; i++, now += 10)
        {
            Round(f, now, NotNodeThree);
        }

        return now;
    }

    public static byte[] FetchDecisions(int sender, ulong fromHeight)
    {
        var w = Envelope.Begin(MessageType.FetchDecisions, sender, 32);
        w.U64(fromHeight);
        w.U32(64);
        return w.ToArray();
    }

    /// <summary>Node <paramref name="peer"/> serves node 3 the decisions from <paramref name="fromHeight"/> (only those).</summary>
    public static void ServeDecisions(ReplicaFixture f, int peer, ulong fromHeight, long now)
    {
        f.SkipAll();
        f.Replicas[peer].OnMessage(3, FetchDecisions(3, fromHeight), now);
        f.Pump(now, (from, to, m) => from == peer && to == 3 && ReplicaFixture.TypeOf(m) == MessageType.DecisionBatch);
    }

    /// <summary>
    /// Node 3 catches up from node 0 only: status, decisions or the snapshot pointer, and chunks. Node 3 asks the peer
    /// whose status says it is ahead only every other time (else the next peer in turn, whose answer is not delivered
    /// here): when its request went elsewhere, node 0's status a resend interval later makes it ask node 0. Returns
    /// the time it ended at.
    /// </summary>
    public static long CatchUpFromNodeZero(ReplicaFixture f, long now)
    {
        for (var attempt = 0; ; attempt++, now += f.Options.ResendIntervalMs)
        {
            f.SkipAll();
            var mark = f.Outboxes[3].Sent.Count;
            f.Replicas[0].Tick(now);
            f.Pump(now, (from, to, m) =>
                (from == 0 && to == 3 && ReplicaFixture.TypeOf(m) is MessageType.Status or MessageType.DecisionBatch or MessageType.SnapshotChunks)
                || (from == 3 && to == 0 && ReplicaFixture.TypeOf(m) is MessageType.FetchDecisions or MessageType.FetchSnapshot));
            var asked = f.Outboxes[3].Sent.Skip(mark).Where(s => ReplicaFixture.TypeOf(s.Message) == MessageType.FetchDecisions).ToList();
            if (attempt == 1 || asked.Count == 0 || asked.Any(s => s.To == 0))
            {
                return now;
            }
        }
    }

    /// <summary>The distinct (view, header hash) pairs of <paramref name="node"/>'s votes of one kind for <paramref name="height"/>.</summary>
    public static List<(ulong View, Hash32 Hash)> Votes(ReplicaFixture f, int node, MessageType type, ulong height)
    {
        var list = new List<(ulong, Hash32)>();
        foreach (var m in f.Outboxes[node].OfType(type))
        {
            var r = new Heraclius.KvStore.Encoding.CanonicalReader(Envelope.Open(m).Body.Span);
            var view = r.U64();
            var h = r.U64();
            var hash = r.Hash();
            if (h == height)
            {
                list.Add((view, hash));
            }
        }

        return list.Distinct().ToList();
    }

    public static List<(ulong View, Hash32 Hash)> Prepares(ReplicaFixture f, int node, ulong height) =>
        Votes(f, node, MessageType.Prepare, height);

    /// <summary>The equivocating leader's other proposal for the same (view, height) as <paramref name="prePrepare"/>, addressed to node 3.</summary>
    public static byte[] Equivocation(byte[] prePrepare) =>
        new Heraclius.Testing.Faults.ByzantineRewriter(Heraclius.Testing.Faults.ByzantineMode.Equivocate, ReplicaFixture.T.NodeKeys[0],
            ReplicaFixture.T.ClusterId, 0, new Random(1)).Rewrite(3, prePrepare).Single();

    /// <summary>A cluster checkpointing every 4 decisions whose node 3 saves its snapshots to <paramref name="store"/>.</summary>
    public static ReplicaFixture WithNodeThreeStore(Heraclius.KvStore.Storage.ISnapshotStore store, int retain = 12) =>
        new(o => { o.CheckpointInterval = 4; o.RetainDecisions = retain; },
            i => i == 3 ? store : new Heraclius.KvStore.Storage.MemorySnapshotStore());

    /// <summary>
    /// Node 3 decides 1 with the others and misses 2..14, which the others decide. A checkpoint's root is certified an
    /// interval after it, and a member keeps its last <see cref="ReplicaOptions.RetainDecisions"/> (12 = 3 intervals)
    /// decisions: only from 14 on has node 0 pruned decision 2 (its log holds 3..14) while the checkpoint it serves is
    /// the capture of 8, which the header at 12 certified (the capture of 12 is served once 16 is decided).
    /// </summary>
    public static ReplicaFixture NodeThreeMissesTwoToFourteen(Heraclius.KvStore.Storage.ISnapshotStore store, out long now, int retain = 12)
    {
        var f = WithNodeThreeStore(store, retain);
        now = 10;
        Round(f, now);
        now += 10;
        Assert.Equal(1UL, f.Replicas[3].DecidedHeight);
        now = RoundsWithoutNodeThree(f, now, 13);

        Assert.Equal(14UL, f.Replicas[0].DecidedHeight);
        Assert.Equal(8UL, f.Replicas[0].CheckpointHeight);
        return f;
    }

    /// <summary>
    /// Node 3 decides 1 with the others, misses 2..14, installs node 0's snapshot of 8 (certified at 12), saving it to
    /// <paramref name="store"/>, and takes 9..14 from node 0: it is at the cluster's height, with its votes held for as
    /// long as that save is in flight (decisions from peers are taken meanwhile; 12 certifies the installed capture
    /// again, which is not saved a second time).
    /// </summary>
    public static ReplicaFixture InstallSnapshotEight(Heraclius.KvStore.Storage.ISnapshotStore store, out long now, int retain = 12)
    {
        var f = NodeThreeMissesTwoToFourteen(store, out now, retain);
        now += 100;
        now = CatchUpFromNodeZero(f, now);
        Assert.Equal(1, f.Replicas[3].SnapshotsInstalled);
        Assert.Equal(8UL, f.Replicas[3].CheckpointHeight);
        ServeDecisions(f, 0, f.Replicas[3].DecidedHeight + 1, now);
        Assert.Equal(14UL, f.Replicas[3].DecidedHeight);
        return f;
    }
}
