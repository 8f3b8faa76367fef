using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.KeyValue;

/// <summary>The answer to a key-value operation: u8 status ‖ u64 version ‖ bytes value (Get only).</summary>
public sealed record KvResult(KvStatus Status, ulong Version, byte[] Value)
{
    public byte[] ToBytes() => Encode(Status, Version, Value);

    /// <summary>The bytes of a result straight from its fields (a Get answers from the stored value without copying it out first).</summary>
    public static byte[] Encode(KvStatus status, ulong version, ReadOnlySpan<byte> value)
    {
        var bytes = new byte[1 + 8 + 4 + value.Length];
        var w = new SpanWriter(bytes);
        w.U8((byte)status);
        w.U64(version);
        w.Bytes(value);
        w.End();
        return bytes;
    }

    public static KvResult Parse(ReadOnlySpan<byte> bytes)
    {
        var r = new CanonicalReader(bytes);
        var result = new KvResult((KvStatus)r.U8(), r.U64(), r.Bytes(KvOperation.MaxValueBytes));
        r.End();
        return result;
    }
}
