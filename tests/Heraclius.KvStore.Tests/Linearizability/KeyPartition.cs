namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>
/// The operations of a history on one key. Checking keys one by one is sound because each key
/// is an independent register and linearizability is local (Herlihy and Wing): a history is
/// linearizable exactly when its restriction to every key is.
/// </summary>
internal sealed class KeyPartition
{
    private readonly Dictionary<string, int> _valueIds = new(StringComparer.Ordinal);
    private readonly List<string> _values = [];
    private readonly List<PartitionOperation> _operations = [];

    private KeyPartition(string key)
    {
        Key = key;
    }

    public string Key { get; }

    public IReadOnlyList<PartitionOperation> Operations => _operations;

    /// <summary>Splits a history by key, keys in ordinal order so that results are reproducible.</summary>
    public static List<KeyPartition> Split(History history)
    {
        var byKey = new Dictionary<string, KeyPartition>(StringComparer.Ordinal);
        for (var i = 0; i < history.Count; i++)
        {
            var op = history.Operations[i];
            if (op.IsPending && op.Input.Kind == KvOperationKind.Get)
            {
                // A read nobody saw the answer of neither constrains nor changes anything.
                continue;
            }

            if (!byKey.TryGetValue(op.Input.Key, out var partition))
            {
                partition = new KeyPartition(op.Input.Key);
                byKey.Add(op.Input.Key, partition);
            }

            partition.Add(i, op);
        }

        var partitions = byKey.Values.ToList();
        partitions.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return partitions;
    }

    public string ValueName(int valueId) => valueId < 0 ? "(none)" : _values[valueId];

    private void Add(int historyIndex, HistoryOperation op)
    {
        var output = op.Output;
        var outputValueId = output is { Status: KvOutputStatus.Ok, Value: not null } && op.Input.Kind == KvOperationKind.Get
            ? Intern(output.Value)
            : KvKeyState.NoValue;
        _operations.Add(new PartitionOperation(
            historyIndex,
            op.Input.Kind,
            op.Input.Value is null ? KvKeyState.NoValue : Intern(op.Input.Value),
            op.Input.ExpectedVersion,
            op.IsPending,
            output?.Status ?? KvOutputStatus.Ok,
            output?.Version ?? 0,
            outputValueId,
            op.InvokeTicks,
            op.ReturnTicks));
    }

    private int Intern(string value)
    {
        if (!_valueIds.TryGetValue(value, out var id))
        {
            id = _values.Count;
            _values.Add(value);
            _valueIds.Add(value, id);
        }

        return id;
    }
}
