using Heraclius.KvStore.StateMachine;

namespace Heraclius.Ledger.Tests.TwoPhase;

/// <summary>A cluster's replicated state in memory, refusing the engine's 0x00 keys like the real service access does.</summary>
internal sealed class DictionaryState : IStateAccess
{
    private readonly Dictionary<byte[], byte[]> _values = new(ByteArrayComparer.Instance);

    public int Count => _values.Count;

    public byte[]? Get(byte[] key) => _values.TryGetValue(Check(key), out var v) ? v : null;

    public void Put(byte[] key, byte[] value) => _values[Check(key)] = value;

    public void Delete(byte[] key) => _values.Remove(Check(key));

    /// <summary>Keys starting with <paramref name="prefix"/>, for tests that look at what a service left behind.</summary>
    public List<byte[]> KeysWithPrefix(byte prefix)
    {
        var keys = new List<byte[]>();
        foreach (var key in _values.Keys)
        {
            if (key[0] == prefix)
            {
                keys.Add(key);
            }
        }

        return keys;
    }

    private static byte[] Check(byte[] key) =>
        key.Length == 0 || key[0] == 0x00 ? throw new InvalidOperationException("services may not use empty or 0x00-prefixed keys") : key;
}
