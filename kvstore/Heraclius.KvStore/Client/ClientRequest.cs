using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Client;

/// <summary>One operation of a client: its sequence number (unique per client, never reused) and opaque operation bytes.</summary>
public sealed record ClientRequest(ulong Seq, byte[] Operation)
{
    public const int MaxOperationBytes = 128 * 1024;

    /// <summary>H(clientId ‖ seq ‖ operation): echoed in the answer so an old decision can never answer a new request.</summary>
    public Hash32 Hash(string clientId)
    {
        var w = new CanonicalWriter(Operation.Length + 64);
        w.String(clientId);
        w.U64(Seq);
        w.Bytes(Operation);
        return Hash32.Of(w.WrittenSpan);
    }
}
