using Heraclius.KvStore.Client;
using Heraclius.KvStore.Consensus.Messages;
using Heraclius.KvStore.KeyValue;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// A byzantine leader that censors the batch only node 3 holds and sends node 3 each proposal one round late, so that
/// node 3 keeps hearing from the honest members of heights it lacks. A review of the f+1-others rule reasoned that a
/// node whose peers are ahead counts as catching up and suspects nobody, so such a follower might never suspect nor
/// show its batch to the others; in this schedule it does, and the cluster leaves the leader.
/// </summary>
public sealed class CensoredLaggingFollowerTests
{
    private static ClientBatch Censored() =>
        ClientBatch.Create("client-0", ReplicaFixture.T.ClusterId,
            [new ClientRequest(1_000_000, KvOperation.Put("x"u8.ToArray(), "censored"u8.ToArray()).ToBytes())], ReplicaFixture.T.ClientKeys[0]);

    [Fact]
    public void AFollowerKeptOneHeightBehind_SuspectsTheLeaderThatCensorsItsBatch_AndTheClusterLeavesThatLeader()
    {
        var f = new ReplicaFixture(o => { o.ViewChangeTimeoutMs = 100; o.StallThresholdMs = 0; });
        f.Replicas[3].SubmitBatch(Censored().Bytes, 10);
        var held = new List<(int From, byte[] Message)>();

        // What the leader sends node 3 waits a round (the honest members' votes and statuses arrive at once); the
        // leader never sees a forwarded batch.
        bool Network(int from, int to, byte[] m)
        {
            if (from == 0 && to == 3)
            {
                held.Add((from, m));
                return false;
            }

            return !(to == 0 && ReplicaFixture.TypeOf(m) == MessageType.ForwardBatch);
        }

        var lagSeen = 0UL;
        long now = 20;
        for (; now < 8000 && !f.Replicas.Skip(1).All(r => r.View > 0); now += 10)
        {
            var late = held.ToList();
            held.Clear();
            if (f.Replicas[0].View == 0 && !f.Replicas[0].InViewChange)
            {
                f.Replicas[0].SubmitBatch(f.Batch().Bytes, now);
            }

            foreach (var r in f.Replicas)
            {
                r.Tick(now);
            }

            f.Pump(now, Network);
            foreach (var (from, m) in late)
            {
                f.Replicas[3].OnMessage(from, m, now + 5);
            }

            f.Pump(now + 5, Network);
            if (f.Replicas[0].View == 0)
            {
                lagSeen = Math.Max(lagSeen, f.Replicas[1].DecidedHeight - f.Replicas[3].DecidedHeight);
            }
        }

        Assert.True(f.Replicas[1].DecidedHeight > 20, "the leader kept deciding");
        Assert.True(lagSeen >= 1, "node 3 was never behind");
        Assert.All(f.Replicas.Skip(1), r => Assert.True(r.View > 0, $"still in view {r.View} at {now} ms"));
    }
}
