namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>Assertions on checker verdicts that print the checker's explanation on failure.</summary>
public static class LinearizabilityAssert
{
    /// <summary>Passes only on Linearizable: Unknown (budget exhausted) is a failure, not a pass.</summary>
    public static void Linearizable(History history, CheckBudget? budget = null)
    {
        var result = LinearizabilityChecker.Check(history, budget);
        if (result.Verdict != LinearizabilityVerdict.Linearizable)
        {
            Assert.Fail($"{result}{Environment.NewLine}history:{Environment.NewLine}{Shorten(history)}");
        }
    }

    /// <summary>Passes only on NotLinearizable and returns the result, whose explanation the test may inspect.</summary>
    public static LinearizabilityResult NotLinearizable(History history, CheckBudget? budget = null)
    {
        var result = LinearizabilityChecker.Check(history, budget);
        if (result.Verdict != LinearizabilityVerdict.NotLinearizable)
        {
            Assert.Fail($"expected NotLinearizable, got {result}{Environment.NewLine}history:{Environment.NewLine}{Shorten(history)}");
        }

        return result;
    }

    // Thousands of operations would drown the message; the explanation names the ones that matter.
    private static string Shorten(History history) =>
        history.Count <= 50 ? history.ToString() : $"({history.Count} operations, not shown)";
}
