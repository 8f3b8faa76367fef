using Heraclius.KvStore.KeyValue;

namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>
/// Small random concurrent histories, half of them with made-up outputs, judged by the checker
/// and by the definition (<see cref="BruteForceLinearizability"/>): the verdicts must agree.
/// </summary>
public sealed class CheckerAgreesWithBruteForceTests
{
    private static readonly byte[][] Keys = [[0x0A], [0x0B]];
    private static readonly byte[][] Values = [[0x01], [0x02], [0x03]];

    [Fact]
    public void Checker_AgreesWithTheDefinition_OnSmallRandomHistories()
    {
        var random = new Random(20250101);
        int linearizable = 0, rejected = 0;
        for (var round = 0; round < 3000; round++)
        {
            var history = RandomHistory(random);
            var expected = BruteForceLinearizability.IsLinearizable(history);
            var result = LinearizabilityChecker.Check(history);

            Assert.NotEqual(LinearizabilityVerdict.Unknown, result.Verdict);
            if (expected != result.IsLinearizable)
            {
                Assert.Fail($"round {round}: the definition says {(expected ? "linearizable" : "not linearizable")}, the checker {result}{Environment.NewLine}{history}");
            }

            _ = expected ? linearizable++ : rejected++;
        }

        // Both answers must be common, or the comparison proves little.
        Assert.InRange(linearizable, 600, 2400);
        Assert.InRange(rejected, 600, 2400);
    }

    /// <summary>
    /// Up to eight operations with overlapping intervals (ties included) on two keys. Outputs come
    /// from running the operations on the engine in invocation order, then some are replaced by
    /// plausible made-up answers, and some operations are left pending.
    /// </summary>
    private static History RandomHistory(Random random)
    {
        var state = new InMemoryStateAccess();
        var count = random.Next(1, 9);
        var calls = new (long Invoke, long Return, KvOperation Op)[count];
        for (var i = 0; i < count; i++)
        {
            var invoke = (long)random.Next(20);
            calls[i] = (invoke, invoke + random.Next(8), RandomOperation(random));
        }

        Array.Sort(calls, (a, b) => a.Invoke.CompareTo(b.Invoke));
        var ops = new List<HistoryOperation>();
        var alter = random.Next(2) == 0;
        for (var i = 0; i < count; i++)
        {
            var (invoke, ret, op) = calls[i];
            var input = KvInput.From(op);
            var output = KvOutput.From(KvResult.Parse(KvEngine.Execute(state, op)), input.Kind);
            if (random.Next(8) == 0)
            {
                ops.Add(HistoryOperation.Pending(i, invoke, input));
                continue;
            }

            if (alter && random.Next(3) == 0)
            {
                output = RandomOutput(random, input.Kind);
            }

            ops.Add(HistoryOperation.Completed(i, invoke, ret, input, output));
        }

        return new History(ops);
    }

    private static KvOperation RandomOperation(Random random)
    {
        var key = Keys[random.Next(Keys.Length)];
        var value = Values[random.Next(Values.Length)];
        return random.Next(4) switch
        {
            0 => KvOperation.Get(key),
            1 => KvOperation.Put(key, value),
            2 => KvOperation.Delete(key),
            _ => KvOperation.Cas(key, (ulong)random.Next(3), value),
        };
    }

    private static KvOutput RandomOutput(Random random, KvOperationKind kind)
    {
        var version = (ulong)random.Next(4);
        return random.Next(3) switch
        {
            0 => KvOutput.NotFound,
            1 when kind == KvOperationKind.Cas => KvOutput.VersionMismatch(version),
            _ => KvOutput.Ok(version, kind == KvOperationKind.Get ? Convert.ToHexString(Values[random.Next(Values.Length)]) : null),
        };
    }
}
