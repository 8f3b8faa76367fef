namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>
/// How much work a check may do before it answers Unknown: linearizability checking is
/// NP-complete, so a pathological history must end in a verdict a test can fail on rather than
/// in a hung test run. A step is one attempt to linearize one operation.
/// </summary>
public sealed record CheckBudget(long MaxSteps, TimeSpan MaxTime)
{
    /// <summary>Generous: ordinary histories of thousands of operations need well under a million steps.</summary>
    public static CheckBudget Default { get; } = new(50_000_000, TimeSpan.FromSeconds(30));
}
