using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Client;

/// <summary>The answer to one request, as carried in the client's output group: seq, H(request), status, result.</summary>
public sealed record ClientReply(ulong Seq, Hash32 RequestHash, ReplyStatus Status, byte[] Result)
{
    public const int MaxResultBytes = 1024 * 1024;

    public void Write(CanonicalWriter w)
    {
        w.U64(Seq);
        w.Hash(RequestHash);
        w.U8((byte)Status);
        w.Bytes(Result);
    }

    public static ClientReply Read(ref CanonicalReader r) =>
        new(r.U64(), r.Hash(), (ReplyStatus)r.U8(), r.Bytes(MaxResultBytes));

    public static byte[] EncodeGroup(IReadOnlyList<ClientReply> replies)
    {
        var w = new CanonicalWriter(64 * replies.Count);
        w.U32((uint)replies.Count);
        foreach (var reply in replies)
        {
            reply.Write(w);
        }

        return w.ToArray();
    }

    public static List<ClientReply> DecodeGroup(ReadOnlySpan<byte> payload)
    {
        var r = new CanonicalReader(payload);
        var count = r.Count(ClientBatch.MaxRequests * 16);
        var replies = new List<ClientReply>(count);
        for (var i = 0; i < count; i++)
        {
            replies.Add(Read(ref r));
        }

        r.End();
        return replies;
    }
}
