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

    private static MessageType TypeOf(byte[] m) => (MessageType)m[0];

    /// <summary>Root cause: Replica.ViewChange.cs OnViewChange's f+1 rule (the `view == _view && !_inViewChange` case counts our own view's kept VIEW-CHANGEs). Counting only higher views fixes this test and FUZZ_LIVENESS seed 124 but lets byzantine seeds 8, 100, 108, 192 (FUZZ_LOAD=10) run views away, so it is not the fix.</summary>
    [Fact(Skip = "liveness bug: an idle member in a normal view never joins the higher view of f+1 members while it keeps their VIEW-CHANGEs of its own view")]
    public void IdleMemberInANormalView_JoinsTheHigherViewOfFPlusOne_AndTheRequestIsDecided()
    {
        var f = new ReplicaFixture();
        long now = 100;

        // Leader 0 silent: 1, 2, 3 time out with a request and enter view 1 (node 1 leads); it is decided there.
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

        var decidedBefore = f.Replicas[1].DecidedHeight;

        // A request only 2 and 3 hold; nothing of it reaches node 1, which stays idle in view 1.
        var second = f.Batch();
        f.Replicas[2].SubmitBatch(second.Bytes, now);
        f.Replicas[3].SubmitBatch(second.Bytes, now);
        bool NoRequestsToOne(int from, int to, byte[] m) =>
            from != 0 && to != 0 && !(to == 1 && TypeOf(m) is MessageType.ForwardBatch or MessageType.ForwardInbound);

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
}
