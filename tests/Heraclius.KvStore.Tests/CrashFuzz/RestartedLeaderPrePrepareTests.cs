using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Storage;
using Heraclius.KvStore.Tests.Consensus;

namespace Heraclius.KvStore.Tests.CrashFuzz;

/// <summary>
/// Found by the WAL crash fuzzer with FUZZ_STRICT_PREPREPARE=1 (seeds 2, 25, 29): the leader broadcast its
/// signed pre-prepare before its own PrepareSent was durable, and after a crash in between the restarted leader
/// of view 0 (nothing in its WAL said it proposed) signed a second, different pre-prepare for the same (view,
/// height). That was fixed by fsyncing the PrepareSent first; with one fsync per decision it is not fsync'd any
/// more, and rule R keeps the promise instead: a leader restarted after a crash proposes nothing in the views it
/// had entered (docs/design.md, "Rule R").
/// </summary>
public sealed class RestartedLeaderPrePrepareTests
{
    private static Hash32Of HeaderOf(byte[] prePrepare)
    {
        var read = PrePrepareMessage.Read(Envelope.Open(prePrepare).Body);
        return new Hash32Of(read.View, read.Header.Height, read.Header.Hash);
    }

    private readonly record struct Hash32Of(ulong View, ulong Height, Heraclius.KvStore.Crypto.Hash32 Hash);

    /// <summary>
    /// The leader's pre-prepare leaves before its PrepareSent is durable; it crashes with the record lost and restarts.
    /// It signs no second pre-prepare in view 0 whatever it is given to propose; the cluster changes view and decides
    /// one header at height 1 (the first batch lived only in the lost record and member 1's unprepared copy: only a
    /// client's retry brings it back).
    /// </summary>
    [Fact]
    public void LeaderCrashedWithItsPrepareRecordLost_ProposesNothingMoreInThatView_AndOneHeaderIsDecided()
    {
        var f = new ReplicaFixture();
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, 10);
        f.Replicas[0].Tick(12);
        var first = f.Outboxes[0].OfType(MessageType.PrePrepare, to: 1).First();
        Assert.Equal(0, f.Wals[0].ReadAll().Count(r => r.Type == (byte)Heraclius.KvStore.Consensus.WalRecordType.PrepareSent));

        // Only member 1 got the pre-prepare; the leader loses its unflushed record in the crash.
        f.Replicas[1].OnMessage(0, first, 13);
        f.SkipAll();
        var restarted = f.Boot(0, 14);
        Assert.Equal(0UL, restarted.AbstainsThroughView);

        var sentBefore = f.Outboxes[0].Sent.Count;
        var batch = f.Batch();
        for (var i = 0; i < 4; i++)
        {
            f.Replicas[i].SubmitBatch(batch.Bytes, 15);
        }

        f.RunUntil(11, () => f.Replicas.All(r => r.DecidedHeight >= 1));

        var prePrepares = f.Outboxes[0].Sent.Skip(sentBefore).Where(s => (MessageType)s.Message[0] == MessageType.PrePrepare).Select(s => HeaderOf(s.Message)).ToList();
        Assert.DoesNotContain(prePrepares, p => p.View == 0);
        Assert.All(f.Replicas, r => Assert.True(r.DecidedHeight >= 1, $"node {r.Index} decided {r.DecidedHeight}"));
        Assert.Single(f.Replicas.Select(r => r.LastHeaderHash).Distinct());
        Assert.All(f.Replicas, r => Assert.True(r.View >= 1));
        Assert.Single(f.Replicas.Select(r => r.ComputeDecidedStateRoot()).Distinct());
    }

    /// <summary>A graceful stop makes every record durable and says so: the restarted leader proposes again in its view at once.</summary>
    [Fact]
    public void LeaderStoppedGracefully_DoesNotAbstain_AndProposesInItsViewAgain()
    {
        var f = new ReplicaFixture();
        f.DecideBatches(0, 1, 0, 1, 2, 3);

        var restarted = f.StopAndBoot(0, 20);
        Assert.Null(restarted.AbstainsThroughView);
        var sentBefore = f.Outboxes[0].Sent.Count;
        restarted.SubmitBatch(f.Batch().Bytes, 21);
        restarted.Tick(23);
        f.Pump(23);
        Assert.Contains(f.Outboxes[0].Sent.Skip(sentBefore), s => (MessageType)s.Message[0] == MessageType.PrePrepare);
        Assert.All(f.Replicas, r => Assert.Equal(2UL, r.DecidedHeight));
        Assert.All(f.Replicas, r => Assert.Equal(0UL, r.View));

        // A crash after that restart is not taken for the clean stop before it.
        Assert.Equal(0UL, f.Boot(0, 30).AbstainsThroughView);
    }
}
