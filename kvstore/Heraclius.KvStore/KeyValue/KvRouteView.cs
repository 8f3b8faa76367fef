using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.KeyValue;

/// <summary>
/// A parsed <see cref="KvRouteMessage"/> that points into the group payload it was read from:
/// a shard executes the operation and echoes the client id back without copying either.
/// </summary>
public readonly ref struct KvRouteView
{
    private KvRouteView(KvRouteKind kind, ReadOnlySpan<byte> clientIdUtf8, ulong seq, Hash32 requestHash, ReadOnlySpan<byte> body)
    {
        Kind = kind;
        ClientIdUtf8 = clientIdUtf8;
        Seq = seq;
        RequestHash = requestHash;
        Body = body;
    }

    public KvRouteKind Kind { get; }

    /// <summary>The client id's UTF-8 bytes (validated), as they travel.</summary>
    public ReadOnlySpan<byte> ClientIdUtf8 { get; }

    public ulong Seq { get; }

    public Hash32 RequestHash { get; }

    public ReadOnlySpan<byte> Body { get; }

    public string ClientId => System.Text.Encoding.UTF8.GetString(ClientIdUtf8);

    /// <summary>False for bytes no honest cluster produces, exactly when <see cref="KvRouteMessage.TryParse"/> gives null.</summary>
    public static bool TryParse(ReadOnlySpan<byte> bytes, out KvRouteView view)
    {
        view = default;
        try
        {
            var r = new CanonicalReader(bytes);
            var kind = (KvRouteKind)r.U8();
            var clientId = r.BytesSpan(KvRouteMessage.MaxClientIdBytes);
            if (!System.Text.Unicode.Utf8.IsValid(clientId))
            {
                return false;
            }

            var seq = r.U64();
            var hash = r.Hash();
            var body = r.BytesSpan(KvRouteMessage.MaxBodyBytes);
            r.End();
            if (kind is not (KvRouteKind.Request or KvRouteKind.Response or KvRouteKind.Refused))
            {
                return false;
            }

            view = new KvRouteView(kind, clientId, seq, hash, body);
            return true;
        }
        catch (MalformedMessageException)
        {
            view = default;
            return false;
        }
    }
}
