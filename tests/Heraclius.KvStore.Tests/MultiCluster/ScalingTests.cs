using Heraclius.KvStore.Simulation;

namespace Heraclius.KvStore.Tests.MultiCluster;

/// <summary>Sparse fan-out: the messages, bytes and signature checks of one operation do not grow with the number of clusters.</summary>
public sealed class ScalingTests
{
    private readonly ITestOutputHelper _output;

    public ScalingTests(ITestOutputHelper output)
    {
        _output = output;
    }

    [Fact]
    public void CostPerOperation_StaysFlat_From1Plus1To8Plus8()
    {
        var small = ScalingBenchmark.Run(1, 1, opsPerClient: 30);
        var large = ScalingBenchmark.Run(8, 8, opsPerClient: 30);
        _output.WriteLine(small.ToString());
        _output.WriteLine(large.ToString());
        Assert.Equal(30, small.Operations);
        Assert.Equal(240, large.Operations);
        Assert.InRange(large.MessagesPerOp / small.MessagesPerOp, 0.9, 1.1);
        Assert.InRange(large.BytesPerOp / small.BytesPerOp, 0.9, 1.1);
        Assert.InRange(large.SignatureVerifiesPerOp / small.SignatureVerifiesPerOp, 0.9, 1.1);
    }
}
