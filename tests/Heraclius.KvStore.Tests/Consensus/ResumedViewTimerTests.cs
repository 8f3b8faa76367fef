using Heraclius.KvStore.Consensus.Messages;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// A node restarted in a normal view resumes it as a view change and waits for a re-sent NEW-VIEW; when none
/// comes it moves on (crash fuzzer seed 428, <c>Regression_RestartLosesLowerViewChange_IsLive</c>). But while
/// the cluster still decides in that view it must stay: alone in the next view it would hand a byzantine
/// member the f+1 that pulls every honest node out of a working view (found in review).
/// </summary>
public sealed class ResumedViewTimerTests
{
    private static string Views(ReplicaFixture f) =>
        string.Join(", ", f.Replicas.Select((r, i) => $"{i}: v{r.View}{(r.InViewChange ? " changing" : "")} d{r.DecidedHeight}"));

    /// <summary>View 0's leader never gets its pre-prepare out: all four send VIEW-CHANGE(1), enter view 1 and decide there.</summary>
    private static long AllMoveToViewOne(ReplicaFixture f, long now)
    {
        var first = f.Batch();
        for (var i = 0; i < 4; i++)
        {
            f.Replicas[i].SubmitBatch(first.Bytes, now);
        }

        bool NoPrePrepareFromZero(int from, int to, byte[] m) => !(from == 0 && ReplicaFixture.TypeOf(m) == MessageType.PrePrepare);
        for (var step = 0; step < 1000 && f.Replicas.Any(r => r.View < 1 || r.InViewChange || r.DecidedHeight < 1); step++)
        {
            now += 5;
            foreach (var r in f.Replicas)
            {
                r.Tick(now);
            }

            f.Pump(now, f.Replicas.All(r => r.View >= 1) ? null : NoPrePrepareFromZero);
        }

        return now;
    }

    [Fact]
    public void RestartedNodeWhoseNewViewIsLost_StaysInTheViewTheClusterStillDecidesIn()
    {
        // Checkpoints every 16 decisions compact the WAL in view 1, so a restart resumes view 1 as a view change.
        var f = new ReplicaFixture(o =>
        {
            o.CheckpointInterval = 16;
            o.RetainDecisions = 64;
        });
        long now = 100;
        for (var i = 0; i < 4; i++)
        {
            f.Boot(i, now);
        }

        now = AllMoveToViewOne(f, now);

        Assert.All(f.Replicas, r => Assert.Equal(1UL, r.View));
        for (var step = 0; step < 200; step++)
        {
            now += 5;
            f.Replicas[1].SubmitBatch(f.Batch().Bytes, now);
            foreach (var r in f.Replicas)
            {
                r.Tick(now);
            }

            f.Pump(now);
        }

        // Node 3 restarts; for 2.1 s (past the resume timeout) every NEW-VIEW sent to it is lost, while a client
        // keeps its pool busy and the other three keep deciding in view 1.
        f.Boot(3, now);
        var restartAt = now;
        for (var step = 0; step < 2000; step++)
        {
            now += 5;
            f.Replicas[3].SubmitBatch(f.Batch().Bytes, now);
            foreach (var r in f.Replicas)
            {
                r.Tick(now);
            }

            var lossy = now - restartAt < 2100;
            f.Pump(now, (_, to, m) => !(lossy && to == 3 && ReplicaFixture.TypeOf(m) == MessageType.NewView));
            Assert.True(f.Replicas[3].View == 1, $"the restarted node left the working view at +{now - restartAt} ms: {Views(f)}");
        }

        Assert.All(f.Replicas, r => Assert.Equal(1UL, r.View));
        Assert.False(f.Replicas[3].InViewChange, Views(f));
        Assert.Equal(f.Replicas[0].DecidedHeight, f.Replicas[3].DecidedHeight);
    }

    /// <summary>
    /// Crash fuzzer seed 80: a node that entered a view by its NEW-VIEW and restarted before any compaction still
    /// has its VIEW-CHANGE of that view in the WAL. It recovered as genuinely changing to the view, with no resume
    /// timer, and two such nodes waited for good for a third VIEW-CHANGE that member never sent (it entered the
    /// view by the NEW-VIEW alone), below an honest member already in the next view. Now the view logged after the
    /// VIEW-CHANGE marks it entered, and the node resumes with the timer; a second restart during the wait too.
    /// </summary>
    [Fact]
    public void NodeThatEnteredTheViewAndRestartedBeforeAnyCompaction_MovesOnWhenNoNewViewComes()
    {
        var f = new ReplicaFixture();
        long now = 100;
        now = AllMoveToViewOne(f, now);

        Assert.All(f.Replicas, r => Assert.Equal(1UL, r.View));
        Assert.All(f.Replicas, r => Assert.False(r.InViewChange));
        Assert.Contains(f.Wals[3].ReadAll(), r => r.Type == (byte)Heraclius.KvStore.Consensus.WalRecordType.ViewChangeSent);

        // Node 3 restarts (twice, the second time during its wait). It hears the others' statuses, nothing else:
        // no NEW-VIEW, no decision. With a request waiting it moves on to view 2 after the resume timeout.
        f.SkipAll();
        f.Boot(3, now);
        Assert.True(f.Replicas[3].InViewChange);
        Assert.Equal(1UL, f.Replicas[3].View);
        f.Replicas[3].SubmitBatch(f.Batch().Bytes, now);
        var restartAt = now;
        var rebooted = false;
        for (var step = 0; step < 1000 && f.Replicas[3].View == 1; step++)
        {
            now += 5;
            if (!rebooted && now - restartAt >= 1000)
            {
                rebooted = true;
                f.Boot(3, now);
                f.Replicas[3].SubmitBatch(f.Batch().Bytes, now);
            }

            foreach (var r in f.Replicas)
            {
                r.Tick(now);
            }

            f.Pump(now, (from, to, m) => to == 3 && from != 3 && ReplicaFixture.TypeOf(m) == MessageType.Status);
        }

        Assert.True(rebooted);
        Assert.Equal(2UL, f.Replicas[3].View);
        Assert.True(f.Replicas[3].InViewChange);
        Assert.NotEmpty(f.Outboxes[3].OfType(MessageType.ViewChange));
    }
}
