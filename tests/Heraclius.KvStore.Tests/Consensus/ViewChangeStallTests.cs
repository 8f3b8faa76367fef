using Heraclius.KvStore.Consensus.Messages;

namespace Heraclius.KvStore.Tests.Consensus;

/// <summary>
/// Found by the WAL crash fuzzer (seeds ≡ 0 mod 4, a byzantine member with lying VIEW-CHANGEs, e.g.
/// FUZZ_LOAD=10 seeds 124, 168, 188): the honest members split across two views for good. Here node 0
/// (the leader of view 0) is faulty and silent. Nodes 1, 2 and 3 time out and move to view 1; node 3
/// collects all three VIEW-CHANGE(1)s, but its own is lost on the way to 1 and 2 (a partition while it
/// lasts). Node 3's NEW-VIEW timer expires and it moves to view 2; from then on it re-sends only
/// VIEW-CHANGE(2). Nodes 1 (the leader of view 1) and 2 hold two VIEW-CHANGE(1)s each: fewer than a
/// quorum, so no NEW-VIEW(1) and no NEW-VIEW timer (PBFT's rule), and one member in a higher view is
/// fewer than the f+1 that make them join it. Nobody moved again, though the network was whole. Now a
/// member keeps its recent VIEW-CHANGEs and re-sends the one a peer's status shows it still changing to.
/// </summary>
public sealed class ViewChangeStallTests
{
    private readonly ITestOutputHelper _output;

    public ViewChangeStallTests(ITestOutputHelper output) => _output = output;

    private static readonly int[] Honest = [1, 2, 3];

    /// <summary>Node 0 is silent; node 3's VIEW-CHANGE(1) never reaches 1 and 2; everything else among 1, 2, 3 arrives.</summary>
    private static bool Network(int from, int to, byte[] m) =>
        from != 0 && to != 0 && !(from == 3 && to is 1 or 2 && ReplicaFixture.TypeOf(m) == MessageType.ViewChange && ViewChangeMessage.Parse(m).NewView == 1);

    /// <summary>Once the partition heals, every message among 1, 2 and 3 arrives (node 0 stays silent).</summary>
    private static bool Healed(int from, int to, byte[] m) => from != 0 && to != 0;

    [Fact]
    public void ViewChangeLostToPeersOfALowerView_IsSentAgainOnceThePartitionHeals_AndTheHonestMembersDecide()
    {
        var f = new ReplicaFixture();
        long now = 100;

        // A request the faulty leader of view 0 never proposes: 1, 2 and 3 time out and move to view 1.
        var batch = f.Batch();
        foreach (var i in Honest)
        {
            f.Replicas[i].SubmitBatch(batch.Bytes, now);
        }

        f.SkipAll();
        now += f.Options.ViewChangeTimeoutMs + 10;
        f.TimeOut(now, Honest);
        foreach (var i in Honest)
        {
            Assert.True(f.Replicas[i].InViewChange);
            Assert.Equal(1UL, f.Replicas[i].View);
        }

        f.Pump(now, Network);
        Assert.True(f.Replicas[1].InViewChange);

        // Time passes; node 3, which saw a quorum in view 1, gives up on its leader and moves to view 2.
        for (var step = 0; step < 6000; step++)
        {
            now += 5;
            foreach (var i in Honest)
            {
                f.Replicas[i].Tick(now);
            }

            // The partition lasts until node 3 has given up on view 1; then the network is whole.
            f.Pump(now, f.Replicas[3].View >= 2 && step > 400 ? Healed : Network);
        }

        var views = string.Join(", ", Honest.Select(i => $"node {i}: view {f.Replicas[i].View}{(f.Replicas[i].InViewChange ? " (changing)" : "")}, decided {f.Replicas[i].DecidedHeight}"));
        _output.WriteLine(views);
        Assert.True(Honest.All(i => f.Replicas[i].DecidedHeight >= 1), $"no decision after {now} ms: {views}");
    }
}
