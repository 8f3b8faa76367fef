using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Encoding;

namespace Heraclius.Ledger.Protocol;

/// <summary>The client request a shard's reply answers: carried through the shard so the coordinator answers without a record.</summary>
public readonly record struct ClientRef(string ClientId, ulong Seq, Hash32 RequestHash)
{
    public int EncodedSize => CanonicalWriter.StringSize(ClientId) + 8 + Hash32.Size;

    public void Write(CanonicalWriter w)
    {
        w.String(ClientId);
        w.U64(Seq);
        w.Hash(RequestHash);
    }

    public static ClientRef Read(ref CanonicalReader r) => new(r.String(256), r.U64(), r.Hash());
}
