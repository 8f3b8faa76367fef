using Heraclius.KvStore.KeyValue;

namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>
/// Linearizability straight from its definition, as an oracle for the checker on small histories:
/// try every order of all operations that respects real time, running each on the real engine
/// and comparing outputs. Shares no code with the checker's search or model; exponential.
/// </summary>
public static class BruteForceLinearizability
{
    public static bool IsLinearizable(History history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var done = new bool[history.Count];
        return Extend(history, done, history.Count, new InMemoryStateAccess());
    }

    private static bool Extend(History history, bool[] done, int left, InMemoryStateAccess state)
    {
        if (left == 0)
        {
            return true;
        }

        var ops = history.Operations;
        for (var i = 0; i < ops.Count; i++)
        {
            if (done[i] || !MayGoNext(ops, done, i))
            {
                continue;
            }

            var next = state.Snapshot();
            var result = KvResult.Parse(KvEngine.Execute(next, ToOperation(ops[i].Input)));
            if (ops[i].Output is { } recorded && KvOutput.From(result, ops[i].Input.Kind) != recorded)
            {
                continue;
            }

            done[i] = true;
            var found = Extend(history, done, left - 1, next);
            done[i] = false;
            if (found)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether every operation that returned before <paramref name="i"/> was invoked is already placed.</summary>
    private static bool MayGoNext(IReadOnlyList<HistoryOperation> ops, bool[] done, int i)
    {
        for (var j = 0; j < ops.Count; j++)
        {
            if (!done[j] && j != i && ops[j].ReturnTicks < ops[i].InvokeTicks)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The engine's operation for an input whose key and value are hex, as <see cref="KvInput.From"/> records them.</summary>
    private static KvOperation ToOperation(KvInput input) => input.Kind switch
    {
        KvOperationKind.Get => KvOperation.Get(Convert.FromHexString(input.Key)),
        KvOperationKind.Put => KvOperation.Put(Convert.FromHexString(input.Key), Convert.FromHexString(input.Value!)),
        KvOperationKind.Delete => KvOperation.Delete(Convert.FromHexString(input.Key)),
        _ => KvOperation.Cas(Convert.FromHexString(input.Key), input.ExpectedVersion, Convert.FromHexString(input.Value!)),
    };
}
