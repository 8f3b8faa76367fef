using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.KeyValue;

/// <summary>
/// A KV operation travelling between a coordinator and a shard:
/// u8 kind (1 request, 2 response, 3 refused) ‖ clientId ‖ u64 seq ‖ H(request) ‖ bytes (op, result, or empty).
/// The client's identity rides along so the coordinator can answer from the shard's reply alone.
/// </summary>
public sealed record KvRouteMessage(KvRouteKind Kind, string ClientId, ulong Seq, Hash32 RequestHash, byte[] Body)
{
    public const int MaxClientIdBytes = 256;
    public const int MaxBodyBytes = KvOperation.MaxValueBytes + KvOperation.MaxKeyBytes + 64;

    public byte[] ToBytes()
    {
        return Encode(Kind, ClientId, Seq, RequestHash, Body);
    }

    /// <summary>The message's bytes straight from its fields: routing a request need not copy the operation into a record first.</summary>
    public static byte[] Encode(KvRouteKind kind, string clientId, ulong seq, Hash32 requestHash, ReadOnlySpan<byte> body)
    {
        var bytes = new byte[1 + CanonicalWriter.StringSize(clientId) + 8 + Hash32.Size + 4 + body.Length];
        var w = new SpanWriter(bytes);
        w.U8((byte)kind);
        w.String(clientId);
        w.U64(seq);
        w.Hash(requestHash);
        w.Bytes(body);
        w.End();
        return bytes;
    }

    /// <summary>The same bytes with the client id given as its UTF-8 encoding (a shard echoes the id it received).</summary>
    public static byte[] Encode(KvRouteKind kind, ReadOnlySpan<byte> clientIdUtf8, ulong seq, Hash32 requestHash, ReadOnlySpan<byte> body)
    {
        var bytes = new byte[1 + 4 + clientIdUtf8.Length + 8 + Hash32.Size + 4 + body.Length];
        var w = new SpanWriter(bytes);
        w.U8((byte)kind);
        w.Bytes(clientIdUtf8);
        w.U64(seq);
        w.Hash(requestHash);
        w.Bytes(body);
        w.End();
        return bytes;
    }

    /// <summary>Null for bytes no honest cluster produces (they are skipped deterministically).</summary>
    public static KvRouteMessage? TryParse(ReadOnlySpan<byte> bytes) =>
        KvRouteView.TryParse(bytes, out var view)
            ? new KvRouteMessage(view.Kind, view.ClientId, view.Seq, view.RequestHash, view.Body.ToArray())
            : null;
}
