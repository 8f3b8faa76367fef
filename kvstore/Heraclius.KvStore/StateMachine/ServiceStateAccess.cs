namespace Heraclius.KvStore.StateMachine;

/// <summary>Hands a service the state but keeps it out of the engine's 0x00 key space.</summary>
internal sealed class ServiceStateAccess : IStateAccess
{
    private readonly IStateAccess _inner;

    public ServiceStateAccess(IStateAccess inner)
    {
        _inner = inner;
    }

    public byte[]? Get(byte[] key) => _inner.Get(Check(key));

    public void Put(byte[] key, byte[] value) => _inner.Put(Check(key), value);

    public void Delete(byte[] key) => _inner.Delete(Check(key));

    private static byte[] Check(byte[] key) =>
        key.Length == 0 || key[0] == 0x00 || key.Length > ReplicatedState.MaxKeyBytes
            ? throw new InvalidOperationException("services may not use empty, oversized or 0x00-prefixed keys")
            : key;
}
