using Heraclius.KvStore.Consensus.Messages;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// The f+1 rule seen from a member in a normal view: node 0 is silent; 1, 2 and 3 change to view 1 and
/// node 1 (its leader) builds NEW-VIEW(1). Then 2 and 3 alone hold a request (node 1 never sees it),
/// time out and change to view 2. Node 1 is idle, so its own timer never runs: it can only join view 2
/// through f+1 (= 2) VIEW-CHANGE(2)s, and view 2 has no quorum without it. Node 1 still keeps the
/// VIEW-CHANGE(1)s of 2 and 3 from its own view change; counted as "wanting view 1" they hid the
/// VIEW-CHANGE(2)s and node 1 stayed in view 1 for good (FUZZ_LIVENESS seed 124's shape).
/// </summary>
public sealed class JoinHigherViewFromNormalViewTests
{
    private readonly ITestOutputHelper _output;

    public JoinHigherViewFromNormalViewTests(ITestOutputHelper output) => _output = output;

    private static readonly int[] Honest = [1, 2, 3];

    [Fact]
    public void IdleMemberInANormalView_JoinsTheHigherViewOfFPlusOne_AndTheRequestIsDecided()
    {
        var f = new ReplicaFixture();
        var now = EnterViewOneWithoutNodeZero(f);

        var decidedBefore = f.Replicas[1].DecidedHeight;

        // A request only 2 and 3 hold; nothing of it reaches node 1, which stays idle in view 1.
        var second = f.Batch();
        f.Replicas[2].SubmitBatch(second.Bytes, now);
        f.Replicas[3].SubmitBatch(second.Bytes, now);
        bool NoRequestsToOne(int from, int to, byte[] m) =>
            from != 0 && to != 0 && !(to == 1 && ReplicaFixture.TypeOf(m) is MessageType.ForwardBatch or MessageType.ForwardInbound);

        for (var step = 0; step < 2000; step++)
        {
            now += 5;
            foreach (var i in Honest)
            {
                f.Replicas[i].Tick(now);
            }

            f.Pump(now, NoRequestsToOne);
        }

        var views = string.Join(", ", Honest.Select(i => $"node {i}: view {f.Replicas[i].View}{(f.Replicas[i].InViewChange ? " (changing)" : "")}, decided {f.Replicas[i].DecidedHeight}"));
        _output.WriteLine(views);
        Assert.True(f.Replicas[2].View >= 2 && f.Replicas[3].View >= 2, views);
        Assert.True(f.Replicas[1].View >= 2, $"node 1 never joined the view f+1 members changed to: {views}");
        Assert.True(Honest.All(i => f.Replicas[i].DecidedHeight > decidedBefore), $"no decision of the second request: {views}");
    }

    /// <summary>Leader 0 silent: 1, 2, 3 time out with a request and enter view 1 (node 1 leads), keeping each other's VIEW-CHANGE(1)s.</summary>
    private static long EnterViewOneWithoutNodeZero(ReplicaFixture f)
    {
        long now = 100;
        var first = f.Batch();
        foreach (var i in Honest)
        {
            f.Replicas[i].SubmitBatch(first.Bytes, now);
        }

        f.SkipAll();
        now += f.Options.ViewChangeTimeoutMs + 10;
        for (var step = 0; step < 400; step++)
        {
            now += 5;
            foreach (var i in Honest)
            {
                f.Replicas[i].Tick(now);
            }

            f.Pump(now, (from, to, _) => from != 0 && to != 0);
        }

        foreach (var i in Honest)
        {
            Assert.Equal(1UL, f.Replicas[i].View);
            Assert.False(f.Replicas[i].InViewChange);
        }

        return now;
    }

    /// <summary>
    /// The other side of the rule, from the same normal view: one member alone (f = 1), whatever views it
    /// names, moves no one, while the VIEW-CHANGE(1)s kept of the others no longer count with it. A second
    /// member's VIEW-CHANGE above ours does, and the view joined is the highest f+1 of them reached.
    /// </summary>
    [Fact]
    public void MemberInANormalView_IsMovedOnlyByFPlusOne_ToTheHighestViewFPlusOneReached()
    {
        var f = new ReplicaFixture();
        var now = EnterViewOneWithoutNodeZero(f);
        var one = f.Replicas[1];
        now += 5;
        // Node 3 alone, first a view just above ours, then one far above (kept instead: its highest).
        one.OnMessage(3, ViewChangeMessage.Encode(3, 2, null, null, null, ReplicaFixture.T.ClusterId, ReplicaFixture.T.NodeKeys[3]), now);
        one.OnMessage(3, ViewChangeMessage.Encode(3, 9, null, null, null, ReplicaFixture.T.ClusterId, ReplicaFixture.T.NodeKeys[3]), now);
        Assert.Equal(1UL, one.View);
        Assert.False(one.InViewChange);

        one.OnMessage(2, ViewChangeMessage.Encode(2, 5, null, null, null, ReplicaFixture.T.ClusterId, ReplicaFixture.T.NodeKeys[2]), now);
        Assert.True(one.InViewChange);
        Assert.Equal(5UL, one.View);
    }
}
