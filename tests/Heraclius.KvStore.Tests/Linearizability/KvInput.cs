using Heraclius.KvStore.KeyValue;

namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>
/// What a client asked for. Keys and values are strings so that hand-written histories read
/// well; bytes from the real store are recorded as upper-case hex (the overloads taking byte[]),
/// and a history must use one encoding consistently.
/// </summary>
public sealed record KvInput
{
    private KvInput(KvOperationKind kind, string key, string? value, ulong expectedVersion)
    {
        ArgumentNullException.ThrowIfNull(key);
        Kind = kind;
        Key = key;
        Value = value;
        ExpectedVersion = expectedVersion;
    }

    public KvOperationKind Kind { get; }

    public string Key { get; }

    /// <summary>The value written by Put and Cas; null for Get and Delete.</summary>
    public string? Value { get; }

    /// <summary>The version Cas expects (0 = the key is absent); 0 for the other kinds.</summary>
    public ulong ExpectedVersion { get; }

    public static KvInput Get(string key) => new(KvOperationKind.Get, key, null, 0);

    public static KvInput Put(string key, string value) =>
        new(KvOperationKind.Put, key, value ?? throw new ArgumentNullException(nameof(value)), 0);

    public static KvInput Delete(string key) => new(KvOperationKind.Delete, key, null, 0);

    public static KvInput Cas(string key, ulong expectedVersion, string value) =>
        new(KvOperationKind.Cas, key, value ?? throw new ArgumentNullException(nameof(value)), expectedVersion);

    public static KvInput Get(byte[] key) => Get(Convert.ToHexString(key));

    public static KvInput Put(byte[] key, byte[] value) => Put(Convert.ToHexString(key), Convert.ToHexString(value));

    public static KvInput Delete(byte[] key) => Delete(Convert.ToHexString(key));

    public static KvInput Cas(byte[] key, ulong expectedVersion, byte[] value) =>
        Cas(Convert.ToHexString(key), expectedVersion, Convert.ToHexString(value));

    /// <summary>The input of an operation sent to the real store, keys and values as hex.</summary>
    public static KvInput From(KvOperation operation)
    {
        ArgumentNullException.ThrowIfNull(operation);
        return operation.Op switch
        {
            KvOpCode.Get => Get(operation.Key),
            KvOpCode.Put => Put(operation.Key, operation.Value ?? []),
            KvOpCode.Delete => Delete(operation.Key),
            KvOpCode.Cas => Cas(operation.Key, operation.ExpectedVersion, operation.Value ?? []),
            _ => throw new ArgumentException($"unknown op {operation.Op}", nameof(operation)),
        };
    }

    public override string ToString() => Kind switch
    {
        KvOperationKind.Put => $"Put({Key}, \"{Value}\")",
        KvOperationKind.Cas => $"Cas({Key}, expect v{ExpectedVersion}, \"{Value}\")",
        _ => $"{Kind}({Key})",
    };
}
