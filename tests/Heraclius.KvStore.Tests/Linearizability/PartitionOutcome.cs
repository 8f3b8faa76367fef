namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>
/// What the search found on one key. For a history that is not linearizable: the longest prefix
/// it could linearize (partition indices, in order), the state after it, and the operations that
/// could have come next, none of which fits that state.
/// </summary>
internal sealed record PartitionOutcome(
    LinearizabilityVerdict Verdict,
    IReadOnlyList<int> LongestPrefix,
    KvKeyState StateAfterPrefix,
    IReadOnlyList<int> NextCandidates);
