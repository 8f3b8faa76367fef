using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.KeyValue;

/// <summary>
/// A KV operation travelling between a coordinator and a shard:
/// u8 kind (1 request, 2 response) ‖ clientId ‖ u64 seq ‖ H(request) ‖ bytes (op or result).
/// The client's identity rides along so the coordinator can answer from the shard's reply alone.
/// </summary>
public sealed record KvRouteMessage(KvRouteKind Kind, string ClientId, ulong Seq, Hash32 RequestHash, byte[] Body)
{
    public const int MaxClientIdBytes = 256;
    public const int MaxBodyBytes = KvOperation.MaxValueBytes + KvOperation.MaxKeyBytes + 64;

    public byte[] ToBytes()
    {
        var w = new CanonicalWriter(Body.Length + ClientId.Length + 64);
        w.U8((byte)Kind);
        w.String(ClientId);
        w.U64(Seq);
        w.Hash(RequestHash);
        w.Bytes(Body);
        return w.ToArray();
    }

    /// <summary>Null for bytes no honest cluster produces (they are skipped deterministically).</summary>
    public static KvRouteMessage? TryParse(ReadOnlySpan<byte> bytes)
    {
        try
        {
            var r = new CanonicalReader(bytes);
            var kind = (KvRouteKind)r.U8();
            var message = new KvRouteMessage(kind, r.String(MaxClientIdBytes), r.U64(), r.Hash(), r.Bytes(MaxBodyBytes));
            r.End();
            return kind is KvRouteKind.Request or KvRouteKind.Response ? message : null;
        }
        catch (MalformedMessageException)
        {
            return null;
        }
    }
}
