using Heraclius.KvStore.StateMachine;

namespace Heraclius.Ledger.Tests.Shard;

/// <summary>A shard's replicated state in a dictionary, refusing the store's own 0x00 keys as the real access does.</summary>
internal sealed class MemoryState : IStateAccess
{
    private readonly Dictionary<string, byte[]> _values = new(StringComparer.Ordinal);

    public int Gets { get; private set; }

    public int Puts { get; private set; }

    public byte[]? Get(byte[] key)
    {
        Gets++;
        return _values.TryGetValue(Key(key), out var v) ? v : null;
    }

    public void Put(byte[] key, byte[] value)
    {
        Puts++;
        _values[Key(key)] = value;
    }

    public void Delete(byte[] key) => _values.Remove(Key(key));

    /// <summary>Every key and value in hex, in key order: two snapshots are equal iff the states are.</summary>
    public string Snapshot() =>
        string.Join("\n", _values.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + Convert.ToHexString(kv.Value)));

    public List<(byte[] Key, byte[] Value)> WithPrefix(byte prefix) =>
        [.. _values.Where(kv => Convert.FromHexString(kv.Key)[0] == prefix).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (Convert.FromHexString(kv.Key), kv.Value))];

    public void ResetCounters()
    {
        Gets = 0;
        Puts = 0;
    }

    private static string Key(byte[] key) =>
        key.Length == 0 || key[0] == 0x00 ? throw new InvalidOperationException("services may not use empty or 0x00-prefixed keys") : Convert.ToHexString(key);
}
