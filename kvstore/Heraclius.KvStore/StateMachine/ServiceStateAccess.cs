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

    public byte[]? Get(ReadOnlySpan<byte> key)
    {
        Check(key);
        return _inner.Get(key);
    }

    public bool TryRead(ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value)
    {
        Check(key);
        return _inner.TryRead(key, out value);
    }

    public byte[]? Get(ReadOnlySpan<byte> key, out byte[]? storedKey)
    {
        Check(key);
        return _inner.Get(key, out storedKey);
    }

    public void Put(ReadOnlySpan<byte> key, byte[] value)
    {
        Check(key);
        _inner.Put(key, value);
    }

    private static byte[] Check(byte[] key)
    {
        Check(key.AsSpan());
        return key;
    }

    private static void Check(ReadOnlySpan<byte> key)
    {
        if (key.Length == 0 || key[0] == 0x00 || key.Length > ReplicatedState.MaxKeyBytes)
        {
            throw new InvalidOperationException("services may not use empty, oversized or 0x00-prefixed keys");
        }
    }
}
