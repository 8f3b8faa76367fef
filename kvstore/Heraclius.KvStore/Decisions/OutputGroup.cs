using System.Buffers.Binary;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.Merkle;

namespace Heraclius.KvStore.Decisions;

/// <summary>
/// What one decision says to one destination (a cluster, a client, or "audit"). prevHeight links
/// the groups of one source→destination chain so a receiver sees gaps; ackHeight acknowledges
/// the groups received from that destination.
/// <para>
/// The payload is memory, not an array, so a group read from a received message is a slice of it
/// rather than a copy; nothing ever writes a payload after the group is made.
/// </para>
/// </summary>
public sealed record OutputGroup(string Destination, ulong PrevHeight, ulong AckHeight, ReadOnlyMemory<byte> Payload)
{
    public const int MaxDestinationBytes = 128;
    public const int MaxPayloadBytes = 16 * 1024 * 1024;

    public void Write(CanonicalWriter w)
    {
        w.String(Destination);
        w.U64(PrevHeight);
        w.U64(AckHeight);
        w.Bytes(Payload.Span);
    }

    /// <summary>The size of <see cref="ToBytes"/>.</summary>
    public int EncodedLength => CanonicalWriter.StringSize(Destination) + 8 + 8 + 4 + Payload.Length;

    public byte[] ToBytes()
    {
        var w = new CanonicalWriter(EncodedLength);
        Write(w);
        return w.Detach();
    }

    /// <summary>Reads a group; the payload is a slice of the reader's memory when it has some (see <see cref="CanonicalReader.Over"/>).</summary>
    public static OutputGroup Read(ref CanonicalReader r) =>
        new(r.String(MaxDestinationBytes), r.U64(), r.U64(), r.BytesMemory(MaxPayloadBytes));

    /// <summary>H(0x00 ‖ group bytes), hashing the payload in place instead of re-encoding the group around it.</summary>
    public Crypto.Hash32 LeafHash()
    {
        // Everything before the payload: u32 len ‖ destination ‖ u64 prevHeight ‖ u64 ackHeight ‖ u32 payload length.
        var destinationBytes = System.Text.Encoding.UTF8.GetByteCount(Destination);
        var headSize = 4 + destinationBytes + 8 + 8 + 4;
        Span<byte> head = headSize <= 512 ? stackalloc byte[headSize] : new byte[headSize];
        BinaryPrimitives.WriteUInt32LittleEndian(head, (uint)destinationBytes);
        System.Text.Encoding.UTF8.GetBytes(Destination, head[4..]);
        var at = 4 + destinationBytes;
        BinaryPrimitives.WriteUInt64LittleEndian(head[at..], PrevHeight);
        BinaryPrimitives.WriteUInt64LittleEndian(head[(at + 8)..], AckHeight);
        BinaryPrimitives.WriteUInt32LittleEndian(head[(at + 16)..], (uint)Payload.Length);
        return MerkleTree.LeafHash(head, Payload.Span);
    }

    public bool ContentEquals(OutputGroup other) =>
        Destination == other.Destination && PrevHeight == other.PrevHeight && AckHeight == other.AckHeight
        && Payload.Span.SequenceEqual(other.Payload.Span);
}
