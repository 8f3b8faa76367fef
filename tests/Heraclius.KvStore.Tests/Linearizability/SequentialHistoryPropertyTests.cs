using CsCheck;
using Heraclius.KvStore.KeyValue;

namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>
/// Random sequential histories produced by the real key-value engine. A sequential history has
/// exactly one order that respects real time, so the checker must accept it exactly when every
/// output is the engine's: it accepts the recorded ones (which also proves its model agrees with
/// the engine) and rejects any with one read's output changed.
/// </summary>
public sealed class SequentialHistoryPropertyTests
{
    private static readonly string[] Keys = ["a", "b", "c"];
    private static readonly string[] Values = ["x", "y", "z"];

    // (kind 0..3, key, value, expected version 0..3): few keys, values and versions so that Cas
    // succeeds, Delete finds keys and the same value recurs.
    private static readonly Gen<(int Kind, int Key, int Value, int Expected)[]> Operations =
        Gen.Select(Gen.Int[0, 3], Gen.Int[0, Keys.Length - 1], Gen.Int[0, Values.Length - 1], Gen.Int[0, 3]).Array[1, 80];

    [Fact]
    public void SequentialHistoriesOfTheRealEngine_AreLinearizable() =>
        Operations.Sample(ops => LinearizabilityAssert.Linearizable(Record(ops)), iter: 300);

    [Fact]
    public void SequentialHistoryWithOneReadAltered_IsRejected() =>
        Gen.Select(Operations, Gen.Int[0, 1000], Gen.Int[0, 2]).Sample((ops, pick, mutation) =>
        {
            var history = Record(ops);
            var reads = Enumerable.Range(0, history.Count).Where(i => history.Operations[i].Input.Kind == KvOperationKind.Get).ToArray();
            if (reads.Length == 0)
            {
                return;
            }

            var index = reads[pick % reads.Length];
            var read = history.Operations[index];
            var operations = history.Operations.ToArray();
            operations[index] = HistoryOperation.Completed(read.ClientId, read.InvokeTicks, read.ReturnTicks, read.Input, Alter(read.Output!, mutation));

            var result = LinearizabilityAssert.NotLinearizable(new History(operations));
            Assert.Equal(read.Input.Key, result.Key);
        }, iter: 300);

    /// <summary>Runs the operations one after another on the real engine, each in its own two ticks.</summary>
    private static History Record((int Kind, int Key, int Value, int Expected)[] ops)
    {
        var store = new LockedKvStore();
        long now = 0;
        var recorder = new HistoryRecorder(() => now++);
        foreach (var (kind, key, value, expected) in ops)
        {
            var keyBytes = System.Text.Encoding.UTF8.GetBytes(Keys[key]);
            var valueBytes = System.Text.Encoding.UTF8.GetBytes(Values[value]);
            var operation = kind switch
            {
                0 => KvOperation.Get(keyBytes),
                1 => KvOperation.Put(keyBytes, valueBytes),
                2 => KvOperation.Delete(keyBytes),
                _ => KvOperation.Cas(keyBytes, (ulong)expected, valueBytes),
            };
            var input = KvInput.From(operation);
            var call = recorder.Invoke(0, input);
            recorder.Return(call, KvOutput.From(store.Execute(operation), input.Kind));
        }

        return recorder.ToHistory();
    }

    /// <summary>A different answer to a read: another version, another value, or found where absent and back.</summary>
    private static KvOutput Alter(KvOutput output, int mutation) => (output.Status, mutation) switch
    {
        (KvOutputStatus.NotFound, _) => KvOutput.Ok(1, Convert.ToHexString("x"u8)),
        (_, 0) => KvOutput.Ok(output.Version + 1, output.Value),
        (_, 1) => KvOutput.Ok(output.Version, Convert.ToHexString("never written"u8)),
        _ => KvOutput.NotFound,
    };
}
