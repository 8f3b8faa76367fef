using System.Text;

namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>
/// Decides whether a key-value history is linearizable: whether the operations can be put in one
/// order that respects real time (an operation that returned before another was invoked comes
/// first) and in which every output is what the store's sequential semantics answer. Keys are
/// checked one by one; see <see cref="PartitionSearch"/> for the search.
/// </summary>
public static class LinearizabilityChecker
{
    // An explanation shows the end of the longest prefix, where the trouble is, not all of it.
    private const int PrefixShown = 8;

    public static LinearizabilityResult Check(History history, CheckBudget? budget = null)
    {
        ArgumentNullException.ThrowIfNull(history);
        var meter = new SearchBudget(budget ?? CheckBudget.Default);
        var partitions = KeyPartition.Split(history);
        LinearizabilityResult? unknown = null;
        foreach (var partition in partitions)
        {
            var outcome = PartitionSearch.Run(partition, meter);
            if (outcome.Verdict == LinearizabilityVerdict.NotLinearizable)
            {
                return Explain(history, partition, outcome, meter);
            }

            if (outcome.Verdict == LinearizabilityVerdict.Unknown)
            {
                // A later key may still prove the history wrong, which is the more useful answer,
                // but the budget is spent, so there is nothing left to search it with.
                unknown ??= Explain(history, partition, outcome, meter);
                break;
            }
        }

        return unknown ?? new LinearizabilityResult(
            LinearizabilityVerdict.Linearizable,
            $"{history.Count} operations on {partitions.Count} keys are linearizable ({meter.Steps} steps, {meter.Elapsed.TotalMilliseconds:F0} ms)",
            null,
            [],
            [],
            meter.Steps);
    }

    private static LinearizabilityResult Explain(History history, KeyPartition partition, PartitionOutcome outcome, SearchBudget meter)
    {
        var ops = partition.Operations;
        var prefix = outcome.LongestPrefix.Select(i => ops[i].HistoryIndex).ToArray();
        var stuck = outcome.NextCandidates.Select(i => ops[i].HistoryIndex).ToArray();
        var text = new StringBuilder();
        if (outcome.Verdict == LinearizabilityVerdict.Unknown)
        {
            text.Append($"budget exhausted after {meter.Steps} steps and {meter.Elapsed.TotalMilliseconds:F0} ms on key \"{partition.Key}\" ({ops.Count} operations); ");
            text.Append($"deepest linearizable prefix so far: {prefix.Length} operations");
        }
        else
        {
            text.Append($"key \"{partition.Key}\": no linearization of its {ops.Count} operations. ");
            text.Append($"A longest linearizable prefix has {prefix.Length}");
        }

        text.AppendLine(prefix.Length > PrefixShown ? $", ending with:" : ":");
        foreach (var index in prefix.Skip(Math.Max(0, prefix.Length - PrefixShown)))
        {
            text.AppendLine($"  #{index} {history.Operations[index]}");
        }

        var state = outcome.StateAfterPrefix;
        text.AppendLine(state.IsAbsent
            ? "after which the key is absent"
            : $"after which the key holds \"{partition.ValueName(state.ValueId)}\" at v{state.Version}");
        if (outcome.Verdict == LinearizabilityVerdict.NotLinearizable)
        {
            text.AppendLine("and none of the operations that could come next fits:");
            foreach (var candidate in outcome.NextCandidates)
            {
                var op = ops[candidate];
                KvRegisterModel.Apply(state, op, out var status, out var version, out var valueId);
                var expected = status == KvOutputStatus.Ok && op.Kind == KvOperationKind.Get
                    ? KvOutput.Ok(version, partition.ValueName(valueId))
                    : status == KvOutputStatus.Ok ? KvOutput.Ok(version)
                    : status == KvOutputStatus.NotFound ? KvOutput.NotFound
                    : KvOutput.VersionMismatch(version);
                text.AppendLine($"  #{op.HistoryIndex} {history.Operations[op.HistoryIndex]} (here it would answer {expected})");
            }
        }

        return new LinearizabilityResult(outcome.Verdict, text.ToString().TrimEnd(), partition.Key, prefix, stuck, meter.Steps);
    }
}
