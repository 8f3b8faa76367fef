using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.Decisions;
using Heraclius.KvStore.Storage;
using Heraclius.KvStore.Tests.Consensus;

namespace Heraclius.KvStore.Tests.CrashFuzz;

/// <summary>
/// Found by the WAL crash fuzzer with FUZZ_STRICT_PREPREPARE=1 (seeds 2, 25, 29): the leader broadcasts its
/// signed pre-prepare before its own PrepareSent is durable (Replica.Normal.cs, TryPropose: "the pre-prepare
/// needs no WAL record", a deliberate latency trade). A crash in between, and the restarted leader of view 0
/// (nothing in its WAL says it proposed) signs a second, different pre-prepare for the same (view, height),
/// against design.md's "after a restart it never signs ... a second header for one (view, height)".
/// Followers vote once per view, so no second header can be prepared; the cost is that a follower that
/// sees both suspects an honest leader of equivocation and changes view. Pre-existing, not the hold.
/// </summary>
public sealed class RestartedLeaderPrePrepareTests
{
    private static Hash32Of HeaderOf(byte[] prePrepare)
    {
        var r = new Heraclius.KvStore.Encoding.CanonicalReader(Envelope.Open(prePrepare).Body.Span);
        var view = r.U64();
        var proposal = Proposal.Read(ref r);
        return new Hash32Of(view, proposal.Header.Height, proposal.Header.Hash);
    }

    private readonly record struct Hash32Of(ulong View, ulong Height, Heraclius.KvStore.Crypto.Hash32 Hash);

    [Fact(Skip = "pre-existing (not the durable-install hold): the pre-prepare goes out before the leader's PrepareSent is durable; see the class summary")]
    public void LeaderCrashesBeforeItsPrepareIsDurable_AndAfterRestartSignsAnotherHeaderForTheSameViewAndHeight()
    {
        var f = new ReplicaFixture();
        long now = 10;
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, now);
        f.Replicas[0].Tick(now + 2);
        f.Pump(now + 2);
        Assert.All(f.Replicas, r => Assert.Equal(1UL, r.DecidedHeight));

        // The disk as it is before the leader proposes 2 (decision 1 included).
        f.Wals[0].Flush();
        var disk = new MemoryWriteAheadLog();
        disk.Rewrite(f.Wals[0].ReadAll());

        now += 10;
        f.SkipAll();
        f.Replicas[0].SubmitBatch(f.Batch().Bytes, now);
        f.Replicas[0].Tick(now + 2);
        var first = f.Outboxes[0].OfType(MessageType.PrePrepare).Last();

        // Power loss after the broadcast, before the PrepareSent reached the disk.
        f.Wals[0] = disk;
        var restarted = f.Boot(0, now + 50);
        Assert.False(restarted.InViewChange);
        restarted.SubmitBatch(f.Batch().Bytes, now + 60);
        restarted.Tick(now + 62);
        Assert.Equal(1UL, restarted.DecidedHeight);
        var second = f.Outboxes[0].OfType(MessageType.PrePrepare).First();

        var a = HeaderOf(first);
        var b = HeaderOf(second);
        Assert.Equal((a.View, a.Height), (b.View, b.Height));
        Assert.Equal(a.Hash, b.Hash);
    }
}
