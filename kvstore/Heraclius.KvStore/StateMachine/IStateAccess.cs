namespace Heraclius.KvStore.StateMachine;

/// <summary>What a replicated service may do to the replicated state while it executes a request.</summary>
/// <remarks>
/// The state keeps the key arrays given to <see cref="Put(byte[], byte[])"/> and <see cref="Delete"/> (and an
/// open transaction's undo log does too), as it keeps values: neither may be changed after.
/// </remarks>
public interface IStateAccess
{
    byte[]? Get(byte[] key);

    void Put(byte[] key, byte[] value);

    void Delete(byte[] key);

    /// <summary>
    /// The value under a key given as bytes anywhere (a buffer the caller reuses), and
    /// <paramref name="storedKey"/>: an array holding the key that may be passed to <see cref="Put(byte[], byte[])"/>
    /// or <see cref="Delete"/>, null when the key is absent. The engine's state returns its own array of the
    /// key, so reading and then writing an existing key allocates no key at all.
    /// </summary>
    byte[]? Get(ReadOnlySpan<byte> key, out byte[]? storedKey)
    {
        var owned = key.ToArray();
        var value = Get(owned);
        storedKey = value is null ? null : owned;
        return value;
    }

    /// <summary>Sets a key given as bytes anywhere: an array of it is made only when the key is new.</summary>
    void Put(ReadOnlySpan<byte> key, byte[] value)
    {
        _ = Get(key, out var stored);
        Put(stored ?? key.ToArray(), value);
    }
}
