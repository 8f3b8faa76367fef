using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Crypto;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// A helper's attack review of rule R (one fsync per decision; a node restarted after a crash abstains in the views it
/// had entered). Finding: a graceful stop of a node still abstaining wrote the clean-stop mark, and the start after it
/// forgot v*, so a prepare lost in the crash before could be followed by a second header in the same view (the first
/// two tests, which failed before the fix in <c>Replica.RecordCleanStop</c>). The last checks liveness: a whole cluster
/// abstaining still decides, after a view change.
/// </summary>
public sealed class RuleRReviewAttackTests
{
    private static List<(ulong View, ulong Height, Hash32 Hash)> PrePreparesOf(ReplicaFixture f, int node) =>
        f.Outboxes[node].Sent.Where(s => (MessageType)s.Message[0] == MessageType.PrePrepare)
            .Select(s => PrePrepareMessage.Read(Envelope.Open(s.Message).Body))
            .Select(p => (p.View, p.Header.Height, p.Header.Hash)).Distinct().ToList();

    private static List<(ulong View, ulong Height, Hash32 Hash)> PreparesOf(ReplicaFixture f, int node) =>
        f.Outboxes[node].Sent.Where(s => (MessageType)s.Message[0] == MessageType.Prepare)
            .Select(s => { var r = new Heraclius.KvStore.Encoding.CanonicalReader(Envelope.Open(s.Message).Body.Span); return (r.U64(), r.U64(), r.Hash()); })
            .Distinct().ToList();

    /// <summary>A valid pre-prepare of another proposal for view 0, height 1, signed with leader 0's key (a byzantine leader's twin).</summary>
    internal static byte[] TwinPrePrepare(ReplicaFixture f, long now)
    {
        var outbox = new RecordingOutbox();
        var clone = new Heraclius.KvStore.Consensus.Replica(ReplicaFixture.T.Topology, ReplicaFixture.T.ClusterId, 0, ReplicaFixture.T.NodeKeys[0],
            new Heraclius.KvStore.KeyValue.KeyValueService(), new Heraclius.KvStore.Storage.MemoryWriteAheadLog(), new Heraclius.KvStore.Storage.MemorySnapshotStore(), outbox, f.Options);
        clone.Start(now);
        clone.SubmitBatch(f.Batch().Bytes, now);
        clone.Tick(now + 2);
        return outbox.Sent.First(s => (MessageType)s.Message[0] == MessageType.PrePrepare).Message;
    }

    /// <summary>
    /// Node <paramref name="i"/> crashes (its unflushed PrepareSent lost) and restarts abstaining in view 0; that incarnation
    /// is stopped gracefully (ClusterNode.DisposeAsync) before leaving view 0 and started again, at <paramref name="now"/>
    /// and 1 ms later. Returns the third incarnation, which must still abstain.
    /// </summary>
    private static Heraclius.KvStore.Consensus.Replica CrashThenCleanRestart(ReplicaFixture f, int i, long now)
    {
        f.Wals[i].Crash();
        var second = f.Boot(i, now);
        Assert.Equal(0UL, second.AbstainsThroughView);
        second.RecordCleanStop();
        var third = f.Boot(i, now + 1);
        Assert.Equal(0UL, third.AbstainsThroughView);
        return third;
    }

    /// <summary>Crash (abstains), then a graceful stop of the abstaining incarnation: the next one forgets v*.</summary>
    [Fact]
    public void Leader_CrashThenCleanRestart_SignsASecondPrePrepareForOneViewAndHeight()
    {
        var f = new ReplicaFixture();
        long now = 10;
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, now);
        f.Replicas[0].Tick(now + 2);
        var first = PrePreparesOf(f, 0);
        Assert.Single(first);
        f.SkipAll();

        var inc3 = CrashThenCleanRestart(f, 0, now + 3);

        inc3.SubmitBatch(f.Batch().Bytes, now + 5);
        inc3.Tick(now + 7);
        var second = PrePreparesOf(f, 0);
        Assert.DoesNotContain(second, p => p.View == first[0].View && p.Height == first[0].Height && p.Hash != first[0].Hash);
    }

    /// <summary>The review's byzantine sequence with a graceful restart in the middle: a follower prepares a twin.</summary>
    [Fact]
    public void Follower_CrashThenCleanRestart_PreparesASecondHeaderInOneView()
    {
        var f = new ReplicaFixture();
        long now = 10;
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, now);
        f.Replicas[0].Tick(now + 2);
        var prePrepare = f.Outboxes[0].Sent.First(s => (MessageType)s.Message[0] == MessageType.PrePrepare && s.To == 3).Message;
        f.SkipAll();
        f.Replicas[3].OnMessage(0, prePrepare, now + 3);
        var firstPrepare = Assert.Single(PreparesOf(f, 3));
        f.Skip(3);

        var inc3 = CrashThenCleanRestart(f, 3, now + 4);

        // Leader 0 (byzantine here) sends a twin of its proposal for the same (view, height).
        var twin = TwinPrePrepare(f, now + 6);
        Assert.NotEqual(PrePrepareMessage.Read(Envelope.Open(prePrepare).Body).Header.Hash, PrePrepareMessage.Read(Envelope.Open(twin).Body).Header.Hash);
        inc3.OnMessage(0, twin, now + 6);
        var prepares = PreparesOf(f, 3);
        Assert.DoesNotContain(prepares, p => p.View == firstPrepare.Item1 && p.Height == firstPrepare.Item2 && p.Hash != firstPrepare.Item3);
    }

    /// <summary>Every member crashes with height 1 prepared but not committed: all abstain in view 0; the cluster must still decide.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WholeClusterCrash_AllAbstain_StillDecides(bool oneMemberStaysDown)
    {
        var f = new ReplicaFixture();
        long now = 10;
        var batch = f.Batch();
        for (var i = 0; i < 4; i++)
        {
            f.Replicas[i].SubmitBatch(batch.Bytes, now);
        }

        f.Replicas[0].Tick(now + 2);
        // The pre-prepare reaches everyone, the prepares go nowhere.
        f.Pump(now + 2, (from, to, m) => (MessageType)m[0] == MessageType.PrePrepare);
        f.SkipAll();
        for (var i = 0; i < 4; i++)
        {
            f.Wals[i].Crash();
            f.Boot(i, now + 3);
            Assert.Equal(0UL, f.Replicas[i].AbstainsThroughView);
        }

        for (var i = 0; i < 4; i++)
        {
            f.Replicas[i].SubmitBatch(batch.Bytes, now + 4);
        }

        var down = oneMemberStaysDown ? 2 : -1;
        bool Decided() => Enumerable.Range(0, 4).Where(i => i != down).All(i => f.Replicas[i].DecidedHeight >= 1);
        var end = f.RunUntil(now, Decided, down);
        Assert.True(Decided(), $"not decided after {end - now} ms: {f.Describe()}");
    }
}
