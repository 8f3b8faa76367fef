using Heraclius.KvStore.Consensus.Messages;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// Since the leader's PrepareSent is durable before its pre-prepare leaves, a crash in between leaves a
/// proposal the leader's WAL holds (it may never sign another header at that (view, height)) but no peer
/// ever saw. The restarted leader signs that proposal's pre-prepare again (the same message) for its
/// retransmission. These check the height is decided, with the request held by every member and by the leader alone.
/// </summary>
public sealed class LeaderCrashBeforePrePrepareLeavesTests
{
    private readonly ITestOutputHelper _output;

    public LeaderCrashBeforePrePrepareLeavesTests(ITestOutputHelper output) => _output = output;

    private long CrashLeaderBetweenPrepareSentAndPrePrepare(ReplicaFixture f, bool everyoneHoldsRequest, bool clientRetriesToLeader)
    {
        long now = 10;
        var batch = f.Batch();
        for (var i = 0; i < 4; i++)
        {
            if (i == 0 || everyoneHoldsRequest)
            {
                f.Replicas[i].SubmitBatch(batch.Bytes, now);
            }
        }

        f.Replicas[0].Tick(now + 2);
        Assert.Contains(f.Outboxes[0].Sent, s => (MessageType)s.Message[0] == MessageType.PrePrepare);

        // The crash: nothing node 0 sent since (pre-prepare, prepare) leaves the node. Its PrepareSent, appended
        // without an fsync of its own (one fsync per decision), reached the disk here: a leader that lost it abstains
        // in view 0, and only the others' copies or a client's retry bring the request back.
        f.SkipAll();
        f.Wals[0].Flush();
        f.Wals[0].Crash();
        f.Boot(0, now + 3);
        if (clientRetriesToLeader)
        {
            f.Replicas[0].SubmitBatch(batch.Bytes, now + 4);
        }

        var start = now;
        now = f.RunUntil(now, () => f.Replicas.All(r => r.DecidedHeight >= 1));
        var state = f.Describe();
        _output.WriteLine($"after {now - start} ms: {state}");
        Assert.True(f.Replicas.All(r => r.DecidedHeight >= 1), $"not decided after {now - start} ms: {state}");
        return now - start;
    }

    [Fact]
    public void RequestHeldByEveryMember_IsDecidedAfterOneViewChange()
    {
        var f = new ReplicaFixture();
        var took = CrashLeaderBetweenPrepareSentAndPrePrepare(f, everyoneHoldsRequest: true, clientRetriesToLeader: false);
        Assert.True(took <= 3 * f.Options.ViewChangeTimeoutMs, $"took {took} ms");
    }

    [Fact]
    public void RequestHeldByTheLeaderAlone_ClientRetriesToIt_IsDecided()
    {
        var f = new ReplicaFixture();
        var took = CrashLeaderBetweenPrepareSentAndPrePrepare(f, everyoneHoldsRequest: false, clientRetriesToLeader: true);
        Assert.True(took <= 3 * f.Options.ViewChangeTimeoutMs, $"took {took} ms");
    }

    /// <summary>The request lives only in the leader's logged proposal: the restarted leader re-sends that proposal's pre-prepare (it used to keep none, time out alone and wait in VIEW-CHANGE(1) for good).</summary>
    [Fact]
    public void RequestHeldByTheLeaderAlone_NoClientRetry_IsDecided()
    {
        var f = new ReplicaFixture();
        var took = CrashLeaderBetweenPrepareSentAndPrePrepare(f, everyoneHoldsRequest: false, clientRetriesToLeader: false);
        Assert.True(took <= 3 * f.Options.ViewChangeTimeoutMs, $"took {took} ms");
    }
}
