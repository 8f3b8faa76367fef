namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>
/// A finished record of concurrent key-value operations, the checker's input. An operation is
/// named by its index here (#i in explanations).
/// </summary>
public sealed class History
{
    public History(IEnumerable<HistoryOperation> operations)
    {
        ArgumentNullException.ThrowIfNull(operations);
        Operations = [.. operations];
        foreach (var op in Operations)
        {
            ArgumentNullException.ThrowIfNull(op, nameof(operations));
        }
    }

    public IReadOnlyList<HistoryOperation> Operations { get; }

    public int Count => Operations.Count;

    public static History Of(params HistoryOperation[] operations) => new(operations);

    public override string ToString() =>
        string.Join(Environment.NewLine, Operations.Select((op, i) => $"#{i} {op}"));
}
