using CsCheck;
using Heraclius.Ledger.Tests.Reference;

namespace Heraclius.Ledger.Tests.TwoPhase;

/// <summary>The coordinator with three real shards answers like the reference model, one operation at a time.</summary>
public sealed class ModelConformanceTests
{
    [Fact]
    public void Random_scenarios_through_three_shards_answer_like_the_model() =>
        LedgerScenarioGen.Scenarios.Sample(
            ops => ModelConformance.Run(new HarnessLedger(new LedgerHarness(shards: 3, seed: ops.Count)), ops),
            iter: 250,
            threads: 1);
}
