namespace Heraclius.Ledger.Tests.WholeSystem;

/// <summary>
/// Twenty real nodes with millisecond timers per test: beside other CPU-heavy tests on a 2-core machine
/// their timers starve, so these tests run alone, one after another.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterCollection
{
    public const string Name = "Ledger clusters";
}
