namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>
/// The checker's answer. For NotLinearizable it names the key, the longest prefix of that key's
/// operations that has a legal order (history indices, in that order) and the operations none of
/// which can come next; for Unknown the same, as far as the search got.
/// </summary>
public sealed class LinearizabilityResult
{
    public LinearizabilityResult(
        LinearizabilityVerdict verdict,
        string explanation,
        string? key,
        IReadOnlyList<int> longestPrefix,
        IReadOnlyList<int> stuckOperations,
        long steps)
    {
        Verdict = verdict;
        Explanation = explanation;
        Key = key;
        LongestPrefix = longestPrefix;
        StuckOperations = stuckOperations;
        Steps = steps;
    }

    public LinearizabilityVerdict Verdict { get; }

    public bool IsLinearizable => Verdict == LinearizabilityVerdict.Linearizable;

    /// <summary>Readable enough to be a test's failure message on its own.</summary>
    public string Explanation { get; }

    /// <summary>The key whose operations could not be linearized (or whose search ran out of budget).</summary>
    public string? Key { get; }

    public IReadOnlyList<int> LongestPrefix { get; }

    public IReadOnlyList<int> StuckOperations { get; }

    /// <summary>Linearization attempts made, over all keys.</summary>
    public long Steps { get; }

    public override string ToString() => $"{Verdict}: {Explanation}";
}
