using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.Merkle;

namespace Heraclius.KvStore.Decisions;

/// <summary>
/// What one decision says to one destination (a cluster, a client, or "audit"). prevHeight links
/// the groups of one source→destination chain so a receiver sees gaps; ackHeight acknowledges
/// the groups received from that destination.
/// </summary>
public sealed record OutputGroup(string Destination, ulong PrevHeight, ulong AckHeight, byte[] Payload)
{
    public const int MaxDestinationBytes = 128;
    public const int MaxPayloadBytes = 16 * 1024 * 1024;

    public void Write(CanonicalWriter w)
    {
        w.String(Destination);
        w.U64(PrevHeight);
        w.U64(AckHeight);
        w.Bytes(Payload);
    }

    public byte[] ToBytes()
    {
        var w = new CanonicalWriter(Payload.Length + 64);
        Write(w);
        return w.ToArray();
    }

    public static OutputGroup Read(ref CanonicalReader r) =>
        new(r.String(MaxDestinationBytes), r.U64(), r.U64(), r.Bytes(MaxPayloadBytes));

    public Crypto.Hash32 LeafHash() => MerkleTree.LeafHash(ToBytes());

    public bool ContentEquals(OutputGroup other) =>
        Destination == other.Destination && PrevHeight == other.PrevHeight && AckHeight == other.AckHeight
        && Payload.AsSpan().SequenceEqual(other.Payload);
}
