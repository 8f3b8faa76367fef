using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.KeyValue;

/// <summary>The answer to a key-value operation: u8 status ‖ u64 version ‖ bytes value (Get only).</summary>
public sealed record KvResult(KvStatus Status, ulong Version, byte[] Value)
{
    public byte[] ToBytes()
    {
        var w = new CanonicalWriter(Value.Length + 16);
        w.U8((byte)Status);
        w.U64(Version);
        w.Bytes(Value);
        return w.ToArray();
    }

    public static KvResult Parse(ReadOnlySpan<byte> bytes)
    {
        var r = new CanonicalReader(bytes);
        var result = new KvResult((KvStatus)r.U8(), r.U64(), r.Bytes(KvOperation.MaxValueBytes));
        r.End();
        return result;
    }
}
