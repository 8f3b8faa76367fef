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
