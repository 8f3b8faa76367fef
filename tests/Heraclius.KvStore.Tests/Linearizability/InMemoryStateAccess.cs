using Heraclius.KvStore.StateMachine;

namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>The replicated state reduced to a dictionary, so the real key-value engine can run without a cluster.</summary>
public sealed class InMemoryStateAccess : IStateAccess
{
    private readonly Dictionary<byte[], byte[]> _entries;

    public InMemoryStateAccess()
        : this(new Dictionary<byte[], byte[]>(ByteArrayComparer.Instance))
    {
    }

    private InMemoryStateAccess(Dictionary<byte[], byte[]> entries)
    {
        _entries = entries;
    }

    public byte[]? Get(byte[] key) => _entries.GetValueOrDefault(key);

    public void Put(byte[] key, byte[] value) => _entries[key] = value;

    public void Delete(byte[] key) => _entries.Remove(key);

    /// <summary>A copy that later writes to this state do not change (values are never mutated in place).</summary>
    public InMemoryStateAccess Snapshot() => new(new Dictionary<byte[], byte[]>(_entries, ByteArrayComparer.Instance));
}
