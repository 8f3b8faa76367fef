using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.KeyValue;

/// <summary>
/// A key-value operation: u8 op ‖ bytes key ‖ (Put, Cas: bytes value) ‖ (Cas: u64 expectedVersion).
/// Cas with expected version 0 creates the key only if it is absent.
/// </summary>
public sealed record KvOperation(KvOpCode Op, byte[] Key, byte[]? Value = null, ulong ExpectedVersion = 0)
{
    public const int MaxKeyBytes = 1024;
    public const int MaxValueBytes = 64 * 1024;

    public static KvOperation Get(byte[] key) => new(KvOpCode.Get, key);

    public static KvOperation Put(byte[] key, byte[] value) => new(KvOpCode.Put, key, value);

    public static KvOperation Delete(byte[] key) => new(KvOpCode.Delete, key);

    public static KvOperation Cas(byte[] key, ulong expectedVersion, byte[] value) => new(KvOpCode.Cas, key, value, expectedVersion);

    public byte[] ToBytes()
    {
        var w = new CanonicalWriter(Key.Length + (Value?.Length ?? 0) + 32);
        w.U8((byte)Op);
        w.Bytes(Key);
        if (Op is KvOpCode.Put or KvOpCode.Cas)
        {
            w.Bytes(Value ?? []);
        }

        if (Op == KvOpCode.Cas)
        {
            w.U64(ExpectedVersion);
        }

        return w.ToArray();
    }

    /// <summary>Parses an operation; null when it is malformed (a business outcome the service answers, not a crash).</summary>
    public static KvOperation? TryParse(ReadOnlySpan<byte> bytes)
    {
        if (!KvOperationView.TryParse(bytes, out var view))
        {
            return null;
        }

        var key = view.Key.ToArray();
        return view.Op switch
        {
            KvOpCode.Get => Get(key),
            KvOpCode.Delete => Delete(key),
            KvOpCode.Put => Put(key, view.Value.ToArray()),
            _ => Cas(key, view.ExpectedVersion, view.Value.ToArray()),
        };
    }
}
