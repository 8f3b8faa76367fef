using Heraclius.KvStore.Consensus;

namespace Heraclius.KvStore.Tests.Simulation;

[Trait("Category", "Simulation")]
public sealed class SimulationTests
{
    private readonly ITestOutputHelper _output;

    public SimulationTests(ITestOutputHelper output)
    {
        _output = output;
    }

    public static TheoryData<int> Seeds(int from, int count)
    {
        var data = new TheoryData<int>();
        foreach (var s in Enumerable.Range(from, count))
        {
            data.Add(s);
        }

        return data;
    }

    public static TheoryData<int> CiSeeds => Seeds(1, 200);

    [Theory]
    [MemberData(nameof(CiSeeds))]
    public void SeededRun_IsSafeAndLive(int seed) => RunSeed(seed);

    /// <summary>Seed 6 found the catch-up request timer overflowing (a node never caught up again).</summary>
    [Fact]
    public void Regression_Seed6_LaggingNodeCatchesUpAfterSnapshot() => RunSeed(6);

    /// <summary>Seed 137 found view-change timers chasing each other through views without a quorum in any.</summary>
    [Fact]
    public void Regression_Seed137_ViewChangeTimersDoNotDriftApart() => RunSeed(137);

    /// <summary>Seeds 289 and 701 found a lost snapshot-chunk request never re-sent while the node was in a view change.</summary>
    [Theory]
    [InlineData(289)]
    [InlineData(701)]
    public void Regression_SnapshotFetchIsRetriedDuringViewChange(int seed) => RunSeed(seed);

    /// <summary>
    /// Seeds whose faulty node leads a view in Equivocate mode and sends twin pre-prepares (the 40 seeds below have
    /// none): the cluster stays safe and live, with no member able to see both twins.
    /// </summary>
    [Theory]
    [InlineData(66)]
    [InlineData(83)]
    public void EquivocatingLeader_TwinPrePreparesAreSentAndChangeNothing(int seed)
    {
        var sim = new SimulatedCluster(seed);
        Assert.Empty(sim.Run());
        Assert.True(sim.Equivocations > 0, $"seed {seed} sent no twin pre-prepare");
    }

    [Fact]
    public void Simulation_ReallyInjectsTheFaultsItClaims()
    {
        long viewChanges = 0, snapshots = 0, equivocations = 0;
        var rejections = new Dictionary<RejectReason, long>();
        foreach (var seed in Enumerable.Range(1, 40))
        {
            var sim = new SimulatedCluster(seed);
            Assert.Empty(sim.Run());
            viewChanges += sim.ViewChanges;
            snapshots += sim.SnapshotsInstalled;
            equivocations += sim.Equivocations;
            foreach (var (reason, count) in sim.Rejections)
            {
                rejections[reason] = rejections.GetValueOrDefault(reason) + count;
            }
        }

        _output.WriteLine($"view changes {viewChanges}, snapshots installed {snapshots}, equivocations {equivocations}, rejections {string.Join(" ", rejections.Select(kv => $"{kv.Key}={kv.Value}"))}");
        Assert.True(viewChanges > 0);
        Assert.True(snapshots > 0);

        // Not Equivocation: an equivocating leader's twin pre-prepares go to disjoint members, each carrying the
        // leader's only prepare there, so no honest member sees both (PrePrepareAuthenticationTests.TwinPrePrepares_* covers it);
        // and in these seeds the faulty node is never a leader in Equivocate mode (EquivocatingLeader_* has two that are).
        foreach (var reason in new[] { RejectReason.WrongOutputs, RejectReason.InvalidViewChange, RejectReason.BadSignature, RejectReason.Malformed })
        {
            Assert.True(rejections.GetValueOrDefault(reason) > 0, $"no {reason} rejection in 40 seeds");
        }
    }

    internal void RunSeed(int seed)
    {
        var sim = new SimulatedCluster(seed);
        var violations = sim.Run();
        if (violations.Count > 0)
        {
            _output.WriteLine(sim.ToString());
        }

        Assert.True(violations.Count == 0, $"{sim}\n" + string.Join("\n", violations));
    }
}
