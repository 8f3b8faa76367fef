namespace Heraclius.KvStore.StateMachine;

/// <summary>What a replicated service may do to the replicated state while it executes a request.</summary>
/// <remarks>
/// The engine's state copies the keys and values it is given and returns copies; services should still treat
/// both as owned by the state once handed over, as the in-memory states of the tests keep them.
/// </remarks>
public interface IStateAccess
{
    byte[]? Get(byte[] key);

    /// <summary>The value under a key given as bytes anywhere (a buffer the caller reuses); null when absent.</summary>
    byte[]? Get(ReadOnlySpan<byte> key) => Get(key, out _);

    /// <summary>
    /// The value under a key without a copy where the state can give one: <paramref name="value"/> is valid only
    /// until the next write, so decode it at once. False when absent.
    /// </summary>
    bool TryRead(ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value)
    {
        var bytes = Get(key);
        value = bytes;
        return bytes is not null;
    }

    void Put(byte[] key, byte[] value);

    void Delete(byte[] key);

    /// <summary>
    /// The value under a key given as bytes anywhere (a buffer the caller reuses), and
    /// <paramref name="storedKey"/>: an array holding the key that may be passed to <see cref="Put(byte[], byte[])"/>
    /// or <see cref="Delete"/>, null when the key is absent.
    /// </summary>
    byte[]? Get(ReadOnlySpan<byte> key, out byte[]? storedKey)
    {
        var owned = key.ToArray();
        var value = Get(owned);
        storedKey = value is null ? null : owned;
        return value;
    }

    /// <summary>Sets a key given as bytes anywhere (the engine's state makes no array of it).</summary>
    void Put(ReadOnlySpan<byte> key, byte[] value)
    {
        _ = Get(key, out var stored);
        Put(stored ?? key.ToArray(), value);
    }
}
